//! Looking inside a finished Story MP4: the picture at a second (RGB, for
//! the dashboard's poster frame and the tests) and the loudness of its
//! sound over a window (RMS of the decoded samples).

use std::path::Path;
use std::time::Instant;

use ff::{codec, format, frame, media};
use ffmpeg_next as ff;
use image::RgbImage;

use super::overlay::planes_to_rgb;
use super::probe::{open_input, PROBE_DEADLINE};
use super::VideoError;

fn fail<'a>(path: &'a Path, stage: &'static str) -> impl Fn(ff::Error) -> VideoError + 'a {
    move |e| VideoError::Ffmpeg {
        path: path.display().to_string(),
        stage,
        reason: e.to_string(),
    }
}

fn open(path: &Path) -> Result<format::context::Input, VideoError> {
    ff::init().map_err(fail(path, "init"))?;
    open_input(path, Instant::now() + PROBE_DEADLINE).map_err(|reason| VideoError::Ffmpeg {
        path: path.display().to_string(),
        stage: "open",
        reason,
    })
}

/// The first decoded `yuv420p` picture at or after second `t`, as RGB.
pub fn frame_at(path: &Path, t: f64) -> Result<RgbImage, VideoError> {
    let mut input = open(path)?;
    let stream = input
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| VideoError::Unusable {
            path: path.display().to_string(),
            message: "no video stream".into(),
        })?;
    let (index, tb) = (stream.index(), f64::from(stream.time_base()));
    let mut dec = codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(fail(path, "video decoder"))?;
    let mut decoded = frame::Video::empty();
    let mut take = |dec: &mut ff::decoder::Video| -> Option<RgbImage> {
        while dec.receive_frame(&mut decoded).is_ok() {
            let at = decoded.timestamp().unwrap_or(0) as f64 * tb;
            if at + 1e-3 >= t && decoded.format() == format::Pixel::YUV420P {
                let f = &decoded;
                return Some(planes_to_rgb(
                    f.data(0),
                    f.data(1),
                    f.data(2),
                    [f.stride(0), f.stride(1), f.stride(2)],
                    f.width(),
                    f.height(),
                ));
            }
        }
        None
    };
    for (s, packet) in input.packets() {
        if s.index() == index && dec.send_packet(&packet).is_ok() {
            if let Some(img) = take(&mut dec) {
                return Ok(img);
            }
        }
    }
    let _ = dec.send_eof();
    take(&mut dec).ok_or_else(|| VideoError::Unusable {
        path: path.display().to_string(),
        message: format!("no yuv420p picture at or after {t:.2} s"),
    })
}

/// The RMS level (0–1) of the sound between seconds `from` and `to`, all
/// channels together; `None` when the file has no audio track.
pub fn audio_rms(path: &Path, from: f64, to: f64) -> Result<Option<f64>, VideoError> {
    let mut input = open(path)?;
    let Some(stream) = input.streams().best(media::Type::Audio) else {
        return Ok(None);
    };
    let (index, tb) = (stream.index(), f64::from(stream.time_base()));
    let mut dec = codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().audio())
        .map_err(fail(path, "audio decoder"))?;
    let (mut sum, mut count) = (0.0f64, 0u64);
    let mut decoded = frame::Audio::empty();
    let mut add = |dec: &mut ff::decoder::Audio| {
        while dec.receive_frame(&mut decoded).is_ok() {
            let start = decoded.timestamp().unwrap_or(0) as f64 * tb;
            let rate = f64::from(decoded.rate().max(1));
            // Planar float is what the Story encoder writes (AAC fltp).
            if decoded.format() != format::Sample::F32(format::sample::Type::Planar) {
                continue;
            }
            for ch in 0..decoded.channels() as usize {
                let samples: &[f32] = decoded.plane(ch);
                for (i, s) in samples.iter().enumerate() {
                    let at = start + i as f64 / rate;
                    if at >= from && at < to {
                        sum += f64::from(*s) * f64::from(*s);
                        count += 1;
                    }
                }
            }
        }
    };
    for (s, packet) in input.packets() {
        if s.index() == index && dec.send_packet(&packet).is_ok() {
            add(&mut dec);
        }
    }
    let _ = dec.send_eof();
    add(&mut dec);
    Ok(Some(if count == 0 {
        0.0
    } else {
        (sum / count as f64).sqrt()
    }))
}
