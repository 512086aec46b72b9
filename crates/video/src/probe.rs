//! A media file → the [`MediaFacts`] the planner and the validator work
//! from, read by FFmpeg's demuxer from headers; only the first video frame
//! is decoded, to learn whether the picture is interlaced.

use std::path::Path;
use std::time::{Duration, Instant};

use super::facts::{rotation_from_matrix, AudioStream, MediaFacts, ProbeError, VideoStream};

/// How long one probe may take (open, headers, the first frame and the
/// duration scan), so a file that stalls FFmpeg cannot hang the caller.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(60);

/// Opens a local media file for demuxing, safely: regular files only (a
/// FIFO or a device would block the open forever), the `file` protocol only
/// (`protocol_whitelist=file`: a crafted playlist cannot reach the network
/// or other protocols), and an interrupt callback that makes FFmpeg give up
/// on every open and read once `deadline` has passed. The error is FFmpeg's
/// reason, or why the path is not a file.
pub(crate) fn open_input(
    path: &Path,
    deadline: Instant,
) -> Result<ffmpeg_next::format::context::Input, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(format!(
            "not a regular file ({}); give a video file",
            storyforge_base::media::file_type_name(&meta)
        ));
    }
    let mut options = ffmpeg_next::Dictionary::new();
    options.set("protocol_whitelist", "file");
    // `file:` keeps a name with a colon (`a:b.mp4`) from reading as a protocol.
    let url = match path.to_str() {
        Some(p) => std::path::PathBuf::from(format!("file:{p}")),
        None => path.to_path_buf(),
    };
    ffmpeg_next::format::input_with_interrupt_and_dictionary(
        &url,
        move || Instant::now() > deadline,
        options,
    )
    .map_err(|e| {
        if Instant::now() > deadline {
            "gave up: FFmpeg took longer than its deadline".to_string()
        } else {
            e.to_string()
        }
    })
}

/// Opens `path` with FFmpeg and reads its stream facts (headers only).
pub fn probe(path: &Path) -> Result<MediaFacts, ProbeError> {
    let fail = |reason: String| ProbeError {
        path: path.display().to_string(),
        reason,
    };
    ffmpeg_next::init().map_err(|e| fail(e.to_string()))?;
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    let deadline = Instant::now() + PROBE_DEADLINE;
    let mut ctx = open_input(path, deadline).map_err(fail)?;
    let header_duration = (ctx.duration() > 0)
        .then(|| ctx.duration() as f64 / f64::from(ffmpeg_next::ffi::AV_TIME_BASE));
    let video = ctx
        .streams()
        .best(ffmpeg_next::media::Type::Video)
        .and_then(|s| {
            let params = s.parameters();
            let params_rate = params.bit_rate();
            let dec = ffmpeg_next::codec::context::Context::from_parameters(params)
                .ok()?
                .decoder()
                .video()
                .ok()?;
            let avg = s.avg_frame_rate();
            let base = s.rate();
            let valid = |r: ffmpeg_next::Rational| r.denominator() > 0 && r.numerator() > 0;
            let rate = if valid(avg) { avg } else { base };
            let desc = dec.format().descriptor();
            let bit_rate = u64::try_from(params_rate).ok().filter(|&b| b > 0);
            let transfer = dec.color_transfer_characteristic();
            use ffmpeg_next::color::TransferCharacteristic as T;
            Some(VideoStream {
                codec: dec.id().name().to_string(),
                width: dec.width(),
                height: dec.height(),
                fps: valid(rate).then(|| f64::from(rate)),
                pixel_format: desc.map(|d| d.name().to_string()),
                bit_depth: bit_depth(dec.format()),
                rotation: rotation(&s),
                hdr: matches!(transfer, T::SMPTE2084 | T::ARIB_STD_B67),
                constant_rate: valid(avg)
                    && valid(base)
                    && (f64::from(avg) - f64::from(base)).abs() < 0.01,
                rate: valid(rate).then(|| (rate.numerator(), rate.denominator())),
                profile: profile_name(&dec),
                interlaced: false,
                bit_rate,
            })
        });
    let audio = ctx
        .streams()
        .best(ffmpeg_next::media::Type::Audio)
        .and_then(|s| {
            let dec = ffmpeg_next::codec::context::Context::from_parameters(s.parameters())
                .ok()?
                .decoder()
                .audio()
                .ok()?;
            Some(AudioStream {
                codec: dec.id().name().to_string(),
                sample_rate: dec.rate(),
                channels: dec.channels(),
            })
        });
    let container = ctx.format().name().to_string();
    let video = video.map(|mut v| {
        v.interlaced = first_frame_interlaced(path, deadline).unwrap_or(false);
        v
    });
    // Browser recordings (MediaRecorder WebM) and live captures carry no
    // duration: read it off the packet timestamps (demuxing only).
    let duration = header_duration.or_else(|| scan_duration(&mut ctx));
    if Instant::now() > deadline {
        return Err(fail(format!(
            "gave up after {} s: FFmpeg is stalled on it",
            PROBE_DEADLINE.as_secs()
        )));
    }
    Ok(MediaFacts {
        container,
        duration,
        video,
        audio,
    })
}

/// Decodes the first video frame of `path` (reading at most a few hundred
/// packets) and says whether it is interlaced. FFmpeg's parameters carry no
/// field order, so one frame is the reliable source.
fn first_frame_interlaced(path: &Path, deadline: Instant) -> Option<bool> {
    let mut ctx = open_input(path, deadline).ok()?;
    let stream = ctx.streams().best(ffmpeg_next::media::Type::Video)?;
    let index = stream.index();
    let mut dec = ffmpeg_next::codec::context::Context::from_parameters(stream.parameters())
        .ok()?
        .decoder()
        .video()
        .ok()?;
    let mut frame = ffmpeg_next::frame::Video::empty();
    for (s, packet) in ctx.packets().take(600) {
        if s.index() != index {
            continue;
        }
        if dec.send_packet(&packet).is_err() {
            continue;
        }
        if dec.receive_frame(&mut frame).is_ok() {
            return Some(frame.is_interlaced());
        }
    }
    dec.send_eof().ok()?;
    dec.receive_frame(&mut frame).ok()?;
    Some(frame.is_interlaced())
}

/// Span of packet timestamps over all streams, in seconds (bounded scan).
fn scan_duration(ctx: &mut ffmpeg_next::format::context::Input) -> Option<f64> {
    let (mut start, mut end) = (f64::INFINITY, f64::NEG_INFINITY);
    for (stream, packet) in ctx.packets().take(10_000_000) {
        let tb = f64::from(stream.time_base());
        if let Some(ts) = packet.pts().or(packet.dts()) {
            let t = ts as f64 * tb;
            start = start.min(t);
            end = end.max(t + packet.duration().max(0) as f64 * tb);
        }
    }
    (end.is_finite() && start.is_finite() && end > start).then_some(end - start)
}

/// Bits per component of a pixel format (8 when unknown).
pub(crate) fn bit_depth(format: ffmpeg_next::format::Pixel) -> u8 {
    let name = format
        .descriptor()
        .map(|d| d.name().to_string())
        .unwrap_or_default();
    for (tag, depth) in [("16", 16), ("14", 14), ("12", 12), ("10", 10), ("9", 9)] {
        if name.contains(&format!("p{tag}"))
            || name.ends_with(&format!("{tag}le"))
            || name.ends_with(&format!("{tag}be"))
        {
            return depth;
        }
    }
    8
}

fn profile_name(dec: &ffmpeg_next::decoder::Video) -> Option<String> {
    use ffmpeg_next::codec::profile::{Profile, H264};
    match dec.profile() {
        Profile::H264(H264::High) => Some("High".into()),
        Profile::H264(H264::Main) => Some("Main".into()),
        Profile::H264(H264::Baseline | H264::Constrained | H264::ConstrainedBaseline) => {
            Some("Baseline".into())
        }
        Profile::H264(other) => Some(format!("{other:?}")),
        Profile::Unknown => None,
        other => Some(format!("{other:?}")),
    }
}

/// Clockwise display rotation from the stream's display matrix, normalised
/// to 0/90/180/270 the way the ffmpeg tool does.
fn rotation(stream: &ffmpeg_next::format::stream::Stream) -> u16 {
    use ffmpeg_next::codec::packet::side_data::Type;
    let Some(sd) = stream
        .side_data()
        .find(|sd| sd.kind() == Type::DisplayMatrix)
    else {
        return 0;
    };
    let d = sd.data();
    if d.len() < 36 {
        return 0;
    }
    let m: Vec<f64> = d[..36]
        .chunks_exact(4)
        .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    rotation_from_matrix(&m)
}
