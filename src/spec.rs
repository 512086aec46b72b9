//! Every Instagram Story limit storyforge honours, in one place.
//!
//! Source: `shared/reference/instagram-story-spec.md` (Meta's Instagram
//! Platform reference as of API v25.0, and the seed article where it is
//! stricter). Other modules read these constants; none repeats a number.

/// Story canvas width in pixels (9:16, the recommended size).
pub const STORY_WIDTH: u32 = 1080;
/// Story canvas height in pixels.
pub const STORY_HEIGHT: u32 = 1920;

/// Pixels at the top of a 1920 px Story covered by Instagram's UI
/// (profile picture, progress bar). Keep text and logos below this.
pub const SAFE_TOP: u32 = 240;
/// Pixels at the bottom of a 1920 px Story covered by the reply bar.
pub const SAFE_BOTTOM: u32 = 240;

/// Largest Story image Instagram accepts: 8 MiB.
pub const MAX_IMAGE_BYTES: u64 = 8 * 1024 * 1024;

/// Default JPEG quality of rendered Stories (1–100).
pub const DEFAULT_JPEG_QUALITY: u8 = 90;
/// Lowest quality the encoder steps down to when a Story would exceed
/// [`MAX_IMAGE_BYTES`].
pub const MIN_JPEG_QUALITY: u8 = 50;

/// Input images above this many pixels are refused before decoding
/// (decompression bombs).
pub const MAX_INPUT_PIXELS: u64 = 50_000_000;

/// Story video duration limits in seconds.
pub const MIN_VIDEO_SECONDS: f64 = 3.0;
/// Longest Story video; longer clips are split into parts.
pub const MAX_VIDEO_SECONDS: f64 = 60.0;
/// The project's default video byte budget (the seed article's cap;
/// Instagram's own is 100 MB).
pub const DEFAULT_VIDEO_MAX_BYTES: u64 = 8_000_000;
