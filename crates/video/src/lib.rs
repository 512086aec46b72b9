//! The video stage: any input video → Story-compliant H.264/AAC MP4s under
//! a byte budget, never cut short. The pure parts build without FFmpeg:
//! [`facts`] (what a file is), [`plan`] (facts and options → an encode
//! plan) and [`mp4`] (box order). With the `ffmpeg` feature (FFmpeg through
//! ffmpeg-next), `probe` reads a file's facts, `transcode` runs a plan and
//! `batch` runs many files in parallel within a thread budget.
//!
//! A crate of its own above the story crate (it composes rendered frames)
//! and below delivery (the validator probes videos): docs/architecture.md.

#![warn(missing_docs)]

#[cfg(feature = "ffmpeg")]
pub mod batch;
pub mod compositor;
#[cfg(feature = "ffmpeg")]
mod encode;
pub mod facts;
#[cfg(feature = "ffmpeg")]
pub mod frames;
pub mod mp4;
pub mod overlay;
pub mod plan;
#[cfg(feature = "ffmpeg")]
pub mod preview;
#[cfg(feature = "ffmpeg")]
mod probe;
#[cfg(feature = "ffmpeg")]
pub mod story;
#[cfg(feature = "ffmpeg")]
pub mod transcode;

pub use facts::{AudioStream, MediaFacts, ProbeError, VideoStream};
#[cfg(feature = "ffmpeg")]
pub use probe::probe;

/// How the picture fills the 9:16 frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum FitMode {
    /// The frame scaled to fit over a blurred, scaled-to-fill copy of itself.
    #[default]
    Blur,
    /// Letterboxed in black.
    Pad,
    /// Cropped around the centre.
    Crop,
}

/// What a transcode aims for. `Default`: 8,000,000-byte budget, blur fit,
/// short clips refused.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeOptions {
    /// Largest output file in bytes. Default: 8,000,000.
    pub max_bytes: u64,
    /// 9:16 fit. Default: blur.
    pub fit: FitMode,
    /// Pad clips under 3 s to 3 s by holding the last frame. Default: false (refuse).
    pub pad_short: bool,
    /// Encoder threads for this file. Default: 0 (x264 decides).
    pub threads: usize,
    /// x264 preset: speed against quality per byte. Default: `medium`.
    pub preset: String,
    /// Give up on a file after this long. Default: 10 min.
    pub deadline: std::time::Duration,
}

impl Default for TranscodeOptions {
    fn default() -> Self {
        TranscodeOptions {
            max_bytes: storyforge_base::spec::DEFAULT_VIDEO_MAX_BYTES,
            fit: FitMode::Blur,
            pad_short: false,
            threads: 0,
            preset: "medium".into(),
            deadline: std::time::Duration::from_secs(600),
        }
    }
}

/// Why a video could not be made into Stories.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// Not a readable video.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// Fine as a file, but not usable as a Story (too short, no video…).
    #[error("{path}: {message}")]
    Unusable {
        /// The input.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// FFmpeg failed while decoding, filtering, encoding or writing.
    #[error("{path}: {stage} failed: {reason}; the file may be damaged or use a codec this FFmpeg build cannot handle")]
    Ffmpeg {
        /// The input.
        path: String,
        /// Which step.
        stage: &'static str,
        /// What FFmpeg said.
        reason: String,
    },
    /// The input took longer than the deadline.
    #[error("{path}: gave up after {seconds} s (decode deadline); the file may be damaged")]
    Deadline {
        /// The input.
        path: String,
        /// The deadline.
        seconds: u64,
    },
    /// The finished file broke the output contract.
    #[error("{path}: output check failed: {message}")]
    Contract {
        /// The output.
        path: String,
        /// What is off.
        message: String,
    },
    /// Output could not be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The output.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}
