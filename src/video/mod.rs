//! The video stage (feature `video`, FFmpeg through ffmpeg-next). So far:
//! [`probe`], a file → the [`MediaFacts`] later stages plan and validate
//! from. Transcoding lands with its own issue.

use std::path::Path;

use serde::Serialize;

/// What a media file is, as FFmpeg's demuxer and decoders see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaFacts {
    /// Container format names, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    /// Duration in seconds, when known.
    pub duration: Option<f64>,
    /// The best video stream, if any.
    pub video: Option<VideoStream>,
    /// The best audio stream, if any.
    pub audio: Option<AudioStream>,
}

/// Facts of a video stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoStream {
    /// Codec name, e.g. `h264`.
    pub codec: String,
    /// Coded width in px.
    pub width: u32,
    /// Coded height in px.
    pub height: u32,
    /// Average frame rate, when known.
    pub fps: Option<f64>,
    /// Pixel format name, e.g. `yuv420p`.
    pub pixel_format: Option<String>,
}

/// Facts of an audio stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AudioStream {
    /// Codec name, e.g. `aac`.
    pub codec: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
}

/// Why a file could not be probed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: not a readable media file ({reason}); check the file is complete and is a video")]
pub struct ProbeError {
    /// The file.
    pub path: String,
    /// What FFmpeg said.
    pub reason: String,
}

/// Opens `path` with FFmpeg and reads its stream facts (headers only).
pub fn probe(path: &Path) -> Result<MediaFacts, ProbeError> {
    let fail = |reason: String| ProbeError {
        path: path.display().to_string(),
        reason,
    };
    ffmpeg_next::init().map_err(|e| fail(e.to_string()))?;
    ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    let ctx = ffmpeg_next::format::input(path).map_err(|e| fail(e.to_string()))?;
    let duration = (ctx.duration() > 0)
        .then(|| ctx.duration() as f64 / f64::from(ffmpeg_next::ffi::AV_TIME_BASE));
    let video = ctx
        .streams()
        .best(ffmpeg_next::media::Type::Video)
        .and_then(|s| {
            let params = s.parameters();
            let dec = ffmpeg_next::codec::context::Context::from_parameters(params)
                .ok()?
                .decoder()
                .video()
                .ok()?;
            let rate = s.avg_frame_rate();
            Some(VideoStream {
                codec: dec.id().name().to_string(),
                width: dec.width(),
                height: dec.height(),
                fps: (rate.denominator() != 0 && rate.numerator() > 0).then(|| f64::from(rate)),
                pixel_format: dec.format().descriptor().map(|d| d.name().to_string()),
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
    Ok(MediaFacts {
        container: ctx.format().name().to_string(),
        duration,
        video,
        audio,
    })
}
