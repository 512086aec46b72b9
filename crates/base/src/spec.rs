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

/// Story images narrower than this are refused by Instagram.
pub const MIN_IMAGE_WIDTH: u32 = 320;
/// How far (as a fraction) an image's shape may be from 9:16 before
/// Instagram crops or pads it.
pub const ASPECT_TOLERANCE: f64 = 0.01;

/// Story video frame-rate range in frames per second.
pub const MIN_FPS: f64 = 23.0;
/// Highest Story frame rate.
pub const MAX_FPS: f64 = 60.0;
/// Widest Story video in pixels.
pub const MAX_VIDEO_WIDTH: u32 = 1920;
/// Highest Story video bit rate (VBR peak), bits per second.
pub const MAX_VIDEO_BITS_PER_SECOND: u64 = 25_000_000;
/// Highest audio sample rate in Hz.
pub const MAX_AUDIO_RATE: u32 = 48_000;
/// Most audio channels (mono or stereo).
pub const MAX_AUDIO_CHANNELS: u16 = 2;
/// Instagram's own video file-size cap (the project's default budget,
/// [`DEFAULT_VIDEO_MAX_BYTES`], is lower).
pub const INSTAGRAM_MAX_VIDEO_BYTES: u64 = 100_000_000;

/// Containers an account may create per rolling 24 h.
pub const MAX_CONTAINERS_PER_DAY: usize = 400;
/// A Story's life (and a container's), hours: it cannot be deleted before.
pub const STORY_LIFETIME_HOURS: i64 = 24;

/// The Story insight metrics asked for in one call: Meta's current Story
/// list (API v25.0) without `navigation`, which needs its breakdown and so
/// its own call. `impressions` (v22), `exits` and `taps_*` (v18) are gone;
/// `link_clicks` and `reposts` are not Story metrics.
pub const STORY_METRICS: &[&str] = &[
    "views",
    "reach",
    "replies",
    "shares",
    "total_interactions",
    "follows",
    "profile_visits",
    "profile_activity",
];
/// The navigation metric, asked for on its own with
/// [`STORY_NAVIGATION_BREAKDOWN`].
pub const STORY_NAVIGATION: &str = "navigation";
/// The breakdown of [`STORY_NAVIGATION`]: `tap_forward`, `tap_back`,
/// `tap_exit`, `swipe_forward`.
pub const STORY_NAVIGATION_BREAKDOWN: &str = "story_navigation_action_type";
/// The error code of Story insights under 5 viewers ("not enough viewers").
pub const INSIGHTS_NOT_ENOUGH_VIEWERS: i64 = 10;
/// The error code of a refused parameter, such as a retired metric
/// (`(#100) metric[N] must be one of the following values: …`).
pub const INVALID_PARAMETER: i64 = 100;
/// Most accounts tagged (`user_tags`) on one piece of media: Meta's
/// ig-user/media reference allows 20 tags per post; Stories take
/// `user_tags` since the July 2025 changelog, with `x`/`y` optional.
pub const MAX_USER_TAGS: usize = 20;
/// Longest Instagram username, in characters.
pub const MAX_USERNAME_CHARS: usize = 30;

/// Why `name` is not an Instagram username (1–30 characters of letters,
/// digits, `.` and `_`; no `.` first, last or twice in a row), or `None`
/// when it is one.
pub fn username_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.chars().count() > MAX_USERNAME_CHARS {
        return Some("a username is 1 to 30 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    {
        return Some("a username has only letters, digits, `.` and `_`");
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Some("a username does not start or end with `.` nor have `..`");
    }
    None
}
