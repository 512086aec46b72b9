//! The rule table and the pure checks: probed facts → [`Finding`]s.
//!
//! Every rule has a stable id (`SF1xx` images, `SF2xx` videos, `SF3xx`
//! templates, `SF0xx` files), a severity and a one-line fix hint. Limits
//! come from [`storyforge_base::spec`]; nothing here reads files.

use serde::Serialize;

use super::facts::ImageFacts;
use storyforge_base::spec;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a run.
    Note,
    /// Instagram will crop, convert or show it wrongly; fails with `--strict`.
    Warning,
    /// Instagram will reject it.
    Error,
}

impl Severity {
    /// `error`, `warning` or `note`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One rule of the table.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `SF101`.
    pub id: &'static str,
    /// Stable short name, e.g. `image-not-jpeg`.
    pub name: &'static str,
    /// How bad breaking it is.
    pub severity: Severity,
    /// What to do about it.
    pub hint: &'static str,
}

macro_rules! rules {
    ($($konst:ident = $id:literal $name:literal $sev:ident $hint:literal;)*) => {
        $(
            #[doc = concat!("`", $id, " ", $name, "`: ", $hint)]
            pub const $konst: &Rule = &Rule { id: $id, name: $name, severity: Severity::$sev, hint: $hint };
        )*
        /// Every rule, in id order.
        pub const RULES: &[&Rule] = &[$($konst),*];
    };
}

rules! {
    UNREADABLE = "SF001" "unreadable" Error "check the path exists and is readable";
    UNKNOWN_TYPE = "SF002" "unknown-type" Error "give a JPEG, an MP4/MOV video or a YAML template";

    IMAGE_NOT_JPEG = "SF101" "image-not-jpeg" Error "export it as an sRGB JPEG, or place it on a Story with `storyforge render templates/photo-story.yaml`";
    IMAGE_MPO = "SF102" "image-mpo" Error "save it again as a single-picture JPEG (MPO/3D captures are refused)";
    IMAGE_TOO_LARGE = "SF103" "image-too-large" Error "re-encode it at a lower quality; `storyforge render` steps quality down to stay under 8 MiB";
    IMAGE_CORRUPT = "SF104" "image-corrupt" Error "the file is truncated or damaged: export or download it again";
    IMAGE_TOO_SMALL = "SF105" "image-too-small" Error "use an image at least 320 px wide (1080×1920 is best)";
    IMAGE_LOW_RES = "SF106" "image-low-resolution" Warning "use a 1080×1920 image; Instagram upscales narrower ones and they look soft";
    IMAGE_ASPECT = "SF107" "image-aspect-ratio" Warning "make it 9:16 (1080×1920) or Instagram crops it; `storyforge render` always does";
    IMAGE_NOT_SRGB = "SF108" "image-not-srgb" Warning "convert it to sRGB; Instagram converts other colour spaces, often badly";
    IMAGE_ORIENTATION = "SF109" "image-exif-orientation" Warning "apply the rotation to the pixels and drop the EXIF tag (`storyforge render` does)";

    VIDEO_CONTAINER = "SF201" "video-container" Error "transcode it to MP4: `storyforge transcode FILE`";
    VIDEO_NOT_FASTSTART = "SF202" "video-not-faststart" Error "move the index to the front: `storyforge transcode FILE` writes faststart MP4s";
    VIDEO_CODEC = "SF203" "video-codec" Error "re-encode to H.264: `storyforge transcode FILE`";
    VIDEO_PIXEL_FORMAT = "SF204" "video-pixel-format" Error "re-encode to 8-bit 4:2:0: `storyforge transcode FILE`";
    VIDEO_INTERLACED = "SF205" "video-interlaced" Error "deinterlace it: `storyforge transcode FILE`";
    VIDEO_FRAME_RATE = "SF206" "video-frame-rate" Error "use 23–60 fps: `storyforge transcode FILE` picks a compliant rate";
    VIDEO_TOO_WIDE = "SF207" "video-too-wide" Error "scale it to 1080×1920: `storyforge transcode FILE`";
    VIDEO_TOO_SHORT = "SF208" "video-too-short" Error "use a clip of at least 3 s, or `storyforge transcode --pad-short FILE`";
    VIDEO_TOO_LONG = "SF209" "video-too-long" Error "split it into ≤ 60 s parts: `storyforge transcode FILE` does";
    VIDEO_TOO_LARGE = "SF210" "video-too-large" Error "re-encode under the budget: `storyforge transcode --max-bytes N FILE`";
    VIDEO_BITRATE = "SF211" "video-bitrate" Error "re-encode at ≤ 25 Mbps: `storyforge transcode FILE`";
    AUDIO_CODEC = "SF212" "audio-codec" Error "re-encode the audio to AAC: `storyforge transcode FILE`";
    AUDIO_SAMPLE_RATE = "SF213" "audio-sample-rate" Error "resample to 48 kHz or less: `storyforge transcode FILE`";
    AUDIO_CHANNELS = "SF214" "audio-channels" Error "mix down to stereo: `storyforge transcode FILE`";
    VIDEO_ROTATION = "SF215" "video-rotation" Note "the display matrix rotates it; `storyforge transcode` applies the rotation to the pixels";
    VIDEO_NO_PICTURE = "SF216" "video-no-picture" Error "give a file with a video track";
    VIDEO_CORRUPT = "SF217" "video-corrupt" Error "the file is truncated or damaged: export or download it again";
    VIDEO_HDR = "SF218" "video-hdr" Warning "tone-map it to SDR: `storyforge transcode FILE` does";
    VIDEO_VARIABLE_RATE = "SF219" "video-variable-frame-rate" Warning "make the frame rate constant: `storyforge transcode FILE` does";
    VIDEO_ASPECT = "SF220" "video-aspect-ratio" Warning "make it 9:16 or Instagram crops it: `storyforge transcode --fit blur FILE`";

    TEMPLATE_INVALID = "SF301" "template-invalid" Error "fix the template at the line shown (`storyforge schema` prints the format)";
    TEMPLATE_SAFE_ZONE = "SF302" "template-safe-zone" Error "move the layer inside the safe zone, or set `bleed: true` if it is decoration";
    TEMPLATE_FONT = "SF303" "template-font" Error "use a bundled font family and weight (the message lists them)";
    TEMPLATE_ASSET = "SF304" "template-asset" Error "put the image beside the template (or the feed) and check the name";
    TEMPLATE_VARIABLE = "SF305" "template-variable" Error "add the column to the feed, or give the variable a default in `variables:`";
    TEMPLATE_NO_DEFAULT = "SF306" "template-variable-no-default" Warning "give it a default in `variables:` or check with `--data FEED`";
    TEMPLATE_TEXT_FIT = "SF307" "template-text-overflow" Error "shorten the text, widen the box or lower the minimum size";
    TEMPLATE_CANVAS = "SF308" "template-canvas" Warning "use the 1080×1920 Story canvas (the default)";
    TEMPLATE_GLYPH = "SF309" "glyph-missing" Error "replace the character, add a font that has it (--fonts DIR), or set `missing_glyphs: allow` on the layer";
}

/// Looks a rule up by id (`SF101`) or name (`image-not-jpeg`).
pub fn find(key: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == key || r.name == key)
}

/// One broken rule in one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule.
    pub rule: &'static Rule,
    /// What is wrong, with the numbers.
    pub message: String,
    /// Where in the file: `line:column`, a layer, a feed row or a frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// Where a finding is, inside its file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Location {
    /// 1-based line in a template, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based column in a template, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// 1-based feed row (data row, the header not counted), when a row is at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
}

impl Finding {
    /// A finding of `rule` saying `message`.
    pub fn new(rule: &'static Rule, message: impl Into<String>) -> Self {
        Finding {
            rule,
            message: message.into(),
            location: None,
        }
    }

    /// The same finding at `location`.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// True when `w`×`h` is 9:16 within [`spec::ASPECT_TOLERANCE`].
pub fn is_story_shape(w: u32, h: u32) -> bool {
    if w == 0 || h == 0 {
        return false;
    }
    let want = f64::from(spec::STORY_WIDTH) / f64::from(spec::STORY_HEIGHT);
    let got = f64::from(w) / f64::from(h);
    ((got - want) / want).abs() <= spec::ASPECT_TOLERANCE
}

/// The image rules over a JPEG's header facts and its size in bytes.
pub fn image_findings(f: &ImageFacts, bytes: u64) -> Vec<Finding> {
    let mut out = Vec::new();
    if f.truncated {
        out.push(Finding::new(
            IMAGE_CORRUPT,
            "the file ends before the End Of Image marker (truncated)",
        ));
    }
    if f.multi_picture {
        out.push(Finding::new(
            IMAGE_MPO,
            "an MPO (multi-picture) JPEG; Instagram refuses MPO files",
        ));
    }
    if bytes > spec::MAX_IMAGE_BYTES {
        out.push(Finding::new(
            IMAGE_TOO_LARGE,
            format!("{} is over the 8 MiB limit", mib(bytes)),
        ));
    }
    let (w, h) = f.shown_size();
    if w < spec::MIN_IMAGE_WIDTH {
        out.push(Finding::new(
            IMAGE_TOO_SMALL,
            format!(
                "{w}×{h} is under the {} px minimum width",
                spec::MIN_IMAGE_WIDTH
            ),
        ));
    } else if w < spec::STORY_WIDTH {
        out.push(Finding::new(
            IMAGE_LOW_RES,
            format!("{w}×{h} is narrower than {} px", spec::STORY_WIDTH),
        ));
    }
    if !is_story_shape(w, h) {
        out.push(Finding::new(
            IMAGE_ASPECT,
            format!("{w}×{h} is not 9:16 (shown after EXIF orientation)"),
        ));
    }
    if f.components == 4 {
        out.push(Finding::new(IMAGE_NOT_SRGB, "CMYK colour (4 components)"));
    } else if let Some(icc) = f.icc.as_ref().filter(|p| !p.srgb) {
        out.push(Finding::new(
            IMAGE_NOT_SRGB,
            format!(
                "an embedded `{}` ICC profile that is not sRGB",
                icc.space.trim()
            ),
        ));
    }
    if f.orientation != 1 {
        out.push(Finding::new(
            IMAGE_ORIENTATION,
            format!(
                "EXIF orientation {} (stored {}×{})",
                f.orientation, f.width, f.height
            ),
        ));
    }
    out
}

/// What the video rules look at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoFacts {
    /// The container by content: `None` for MP4/MOV, else its name.
    pub other_container: Option<&'static str>,
    /// `moov` before `mdat`; `None` when not an MP4/MOV.
    pub faststart: Option<bool>,
    /// File size in bytes.
    pub bytes: u64,
    /// Duration in seconds, when known.
    pub duration: Option<f64>,
    /// The video track.
    pub video: Option<storyforge_video::VideoStream>,
    /// The audio track.
    pub audio: Option<storyforge_video::AudioStream>,
}

/// The video rules over probed facts; `max_bytes` is the size budget.
pub fn video_findings(f: &VideoFacts, max_bytes: u64) -> Vec<Finding> {
    let mut out = Vec::new();
    let push = |out: &mut Vec<Finding>, rule, msg: String| out.push(Finding::new(rule, msg));
    if let Some(name) = f.other_container {
        push(
            &mut out,
            VIDEO_CONTAINER,
            format!("the container is {name}; Stories take MP4 or MOV"),
        );
    }
    if f.faststart == Some(false) {
        push(
            &mut out,
            VIDEO_NOT_FASTSTART,
            "the `moov` index comes after the media data (not faststart)".into(),
        );
    }
    if f.bytes > max_bytes {
        push(
            &mut out,
            VIDEO_TOO_LARGE,
            format!("{} bytes is over the {max_bytes}-byte budget", f.bytes),
        );
    }
    match f.duration {
        Some(d) if d < spec::MIN_VIDEO_SECONDS - 0.05 => push(
            &mut out,
            VIDEO_TOO_SHORT,
            format!(
                "{d:.2} s is under the {} s minimum",
                spec::MIN_VIDEO_SECONDS
            ),
        ),
        Some(d) if d > spec::MAX_VIDEO_SECONDS + 0.05 => push(
            &mut out,
            VIDEO_TOO_LONG,
            format!("{d:.2} s is over the {} s maximum", spec::MAX_VIDEO_SECONDS),
        ),
        _ => {}
    }
    match &f.video {
        None => push(&mut out, VIDEO_NO_PICTURE, "no video track".into()),
        Some(v) => picture_findings(&mut out, v),
    }
    if let Some(a) = &f.audio {
        if a.codec != "aac" {
            push(
                &mut out,
                AUDIO_CODEC,
                format!("audio is {}, not AAC", a.codec),
            );
        }
        if a.sample_rate > spec::MAX_AUDIO_RATE {
            push(
                &mut out,
                AUDIO_SAMPLE_RATE,
                format!(
                    "audio at {} Hz is over {} Hz",
                    a.sample_rate,
                    spec::MAX_AUDIO_RATE
                ),
            );
        }
        if a.channels > spec::MAX_AUDIO_CHANNELS {
            push(
                &mut out,
                AUDIO_CHANNELS,
                format!("{} audio channels; Stories take mono or stereo", a.channels),
            );
        }
    }
    out
}

fn picture_findings(out: &mut Vec<Finding>, v: &storyforge_video::VideoStream) {
    let mut push = |rule, msg: String| out.push(Finding::new(rule, msg));
    if !matches!(v.codec.as_str(), "h264" | "hevc") {
        push(
            VIDEO_CODEC,
            format!("video is {}, not H.264 or HEVC", v.codec),
        );
    }
    let pix = v.pixel_format.as_deref().unwrap_or("unknown");
    let is_420 = pix.starts_with("yuv420p") || pix.starts_with("yuvj420p") || pix == "nv12";
    if !is_420 || v.bit_depth != 8 {
        push(
            VIDEO_PIXEL_FORMAT,
            format!(
                "pixel format {pix} ({}-bit); Stories take 8-bit 4:2:0",
                v.bit_depth
            ),
        );
    }
    if v.interlaced {
        push(VIDEO_INTERLACED, "the picture is interlaced".into());
    }
    match v.fps {
        Some(fps) if (spec::MIN_FPS - 0.01..=spec::MAX_FPS + 0.01).contains(&fps) => {}
        Some(fps) => push(
            VIDEO_FRAME_RATE,
            format!(
                "{fps:.3} fps is outside {}–{} fps",
                spec::MIN_FPS,
                spec::MAX_FPS
            ),
        ),
        None => push(VIDEO_FRAME_RATE, "the frame rate is unknown".into()),
    }
    let (w, h) = if v.rotation % 180 == 90 {
        (v.height, v.width)
    } else {
        (v.width, v.height)
    };
    if w > spec::MAX_VIDEO_WIDTH {
        push(
            VIDEO_TOO_WIDE,
            format!("{w}×{h} is wider than {} px", spec::MAX_VIDEO_WIDTH),
        );
    }
    if !is_story_shape(w, h) {
        push(VIDEO_ASPECT, format!("{w}×{h} is not 9:16"));
    }
    if let Some(bps) = v.bit_rate.filter(|&b| b > spec::MAX_VIDEO_BITS_PER_SECOND) {
        push(
            VIDEO_BITRATE,
            format!("{:.1} Mbps is over 25 Mbps", bps as f64 / 1e6),
        );
    }
    if v.rotation != 0 {
        push(
            VIDEO_ROTATION,
            format!("displayed rotated {}° clockwise", v.rotation),
        );
    }
    if v.hdr {
        push(VIDEO_HDR, "HDR transfer (PQ/HLG)".into());
    }
    if !v.constant_rate {
        push(VIDEO_VARIABLE_RATE, "the frame rate varies".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_ordered() {
        for pair in RULES.windows(2) {
            assert!(
                pair[0].id < pair[1].id,
                "{} before {}",
                pair[0].id,
                pair[1].id
            );
        }
        let mut names: Vec<_> = RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len());
        assert_eq!(find("image-not-jpeg"), Some(IMAGE_NOT_JPEG));
        assert_eq!(find("SF210"), Some(VIDEO_TOO_LARGE));
    }

    #[test]
    fn story_shape_tolerance() {
        assert!(is_story_shape(1080, 1920));
        assert!(is_story_shape(720, 1280));
        assert!(!is_story_shape(1080, 1350));
        assert!(!is_story_shape(0, 1920));
    }

    #[test]
    fn a_compliant_image_has_no_findings() {
        let f = ImageFacts {
            width: 1080,
            height: 1920,
            orientation: 1,
            components: 3,
            ..ImageFacts::default()
        };
        assert!(image_findings(&f, 500_000).is_empty());
        let rotated = ImageFacts {
            width: 1920,
            height: 1080,
            orientation: 6,
            ..f.clone()
        };
        let ids: Vec<_> = image_findings(&rotated, 1)
            .iter()
            .map(|x| x.rule.id)
            .collect();
        assert_eq!(ids, ["SF109"]);
    }
}
