//! The dashboard's moving preview of a video template: the whole Story at
//! a low resolution and frame rate (360×640, 10 fps), with its sound, made
//! by the same compositor and encoders as the Story itself; frames are
//! composed at full size and scaled down once each. It is a preview, not
//! a Story: no byte budget or contract check.

use std::path::Path;
use std::time::Instant;

use ff::{format, frame, software::scaling};
use ffmpeg_next as ff;

use super::encode::Ctx;
use super::plan::{OUT_H, OUT_W};
use super::story::{encode_once, plan_story_at, row_story};
use super::{TranscodeOptions, VideoError};
use storyforge_story::render::Scene;
use storyforge_story::template::Template;

/// The preview's width and height.
pub const PREVIEW_SIZE: (u32, u32) = (360, 640);
/// The preview's frame rate.
pub const PREVIEW_FPS: (i32, i32) = (10, 1);
/// The preview's video bitrate ceiling (bits per second).
const PREVIEW_BPS: u64 = 800_000;

/// Scales composed full-size frames down to `ctx.size`.
pub(super) struct Scaler {
    ctx: scaling::Context,
    size: (u32, u32),
}

impl Scaler {
    /// None when `ctx.size` is the full size.
    pub(super) fn new(ctx: &Ctx<'_>) -> Result<Option<Scaler>, VideoError> {
        if ctx.size == (OUT_W, OUT_H) {
            return Ok(None);
        }
        let pix = format::Pixel::YUV420P;
        let (w, h) = ctx.size;
        let s = scaling::Context::get(pix, OUT_W, OUT_H, pix, w, h, scaling::Flags::AREA)
            .map_err(ctx.ff("preview scaler"))?;
        Ok(Some(Scaler {
            ctx: s,
            size: ctx.size,
        }))
    }

    /// `f` at the smaller size.
    pub(super) fn scale(
        &mut self,
        f: &frame::Video,
        ctx: &Ctx<'_>,
    ) -> Result<frame::Video, VideoError> {
        let mut out = frame::Video::new(format::Pixel::YUV420P, self.size.0, self.size.1);
        self.ctx.run(f, &mut out).map_err(ctx.ff("preview scale"))?;
        Ok(out)
    }
}

/// The preview MP4 of one feed row of video template `t` (its clip and
/// music found as the Story's are), as bytes.
pub fn preview_row(
    t: &Template,
    scene: &Scene,
    vars: &storyforge_story::template::Variables,
    feed_dir: Option<&Path>,
) -> Result<Vec<u8>, String> {
    let story = row_story(t, scene, vars, feed_dir)?;
    let opts = TranscodeOptions::default();
    let p = plan_story_at(&story, &opts, Some(PREVIEW_FPS)).map_err(|e| e.to_string())?;
    ff::init().map_err(|e| e.to_string())?;
    let out = storyforge_base::util::atomic::temp_path(
        &std::env::temp_dir().join("storyforge-preview.mp4"),
    );
    let ctx = Ctx {
        input: &t.path,
        shown: format!("{} (preview)", t.path.display()),
        opts: &opts,
        started: Instant::now(),
        size: PREVIEW_SIZE,
    };
    let made = encode_once(&ctx, &story, &p, PREVIEW_BPS, &out)
        .map_err(|e| e.to_string())
        .and_then(|()| std::fs::read(&out).map_err(|e| format!("preview: {e}")));
    let _ = std::fs::remove_file(&out);
    made
}

/// What a preview is made from, as one hash: the template file, the
/// values, and the clip and music files (path, size, modification time).
pub fn preview_key(
    t: &Template,
    scene: &Scene,
    vars: &storyforge_story::template::Variables,
    feed_dir: Option<&Path>,
) -> Result<String, String> {
    use sha2::Digest;
    let story = row_story(t, scene, vars, feed_dir)?;
    let mut h = sha2::Sha256::new();
    h.update(std::fs::read(&t.path).map_err(|e| format!("{}: {e}", t.path.display()))?);
    let mut pairs: Vec<_> = vars.iter().collect();
    pairs.sort();
    for (k, v) in pairs {
        h.update(format!("{}:{k}={}:{v}\n", k.len(), v.len()));
    }
    for file in [&story.clip, &story.music].into_iter().flatten() {
        let meta = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        h.update(format!("{}\n{}\n{modified}\n", file.display(), meta.len()));
    }
    Ok(hex::encode(h.finalize()))
}
