//! One video Story: a video template's prepared scene + its clip (or still
//! background) + its music → one Story MP4 through the transcoder's plan
//! and encoders. Background frames come out of a libavfilter graph (the
//! clip read, seeked and looped by `movie`, then the plan's fit/CFR chain),
//! or are drawn from the still background (zoomed in Rust); the layers are
//! blended onto each frame by the [`Compositor`]; the clip's sound and the
//! music are mixed by `amix`. Nothing is written but the MP4.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ff::{filter, format, frame, Rational, Rescale};
use ffmpeg_next as ff;

use super::compositor::{Compositor, StillBackground};
use super::encode::{audio_graph, drain, encode_fitting, fps_f64, open_output, Ctx};
use super::overlay::rgb_to_yuv420;
use super::plan::{self, Part, Plan, AUDIO_RATE, OUT_H, OUT_W};
use super::transcode::Output;
use super::{probe, FitMode, MediaFacts, TranscodeOptions, VideoError};
use storyforge_base::spec;
use storyforge_story::render::Scene;
use storyforge_story::template::{Fit, Template};

mod graph;
use graph::video_source_graph;
pub use graph::{audio_chain, clip_chain};

/// What one video Story is made of, files resolved.
pub struct VideoStory<'a> {
    /// The checked template (its `video` is set).
    pub template: &'a Template,
    /// The row's prepared scene.
    pub scene: &'a Scene,
    /// The background clip, when the template has one.
    pub clip: Option<PathBuf>,
    /// The music, when the template has some.
    pub music: Option<PathBuf>,
}

/// The planned Story: length, frame rate, the clip's facts.
#[derive(Debug, Clone)]
pub struct StoryPlan {
    /// The plan the encoders and the contract check follow (one part).
    pub plan: Plan,
    /// Seconds.
    pub duration: f64,
    /// The clip as probed.
    pub clip: Option<MediaFacts>,
}

/// Frame rate of a Story without a clip.
pub const STILL_FPS: (i32, i32) = (30, 1);

/// Containers a clip or music file may be in: plain media files, never
/// playlists (`hls`, `concat`) that could point elsewhere.
const MEDIA_CONTAINERS: &[&str] = &[
    "mov", "matroska", "avi", "mpegts", "mp3", "wav", "ogg", "flac", "aac", "flv", "mpeg",
];

fn unusable(path: &Path, message: String) -> VideoError {
    VideoError::Unusable {
        path: path.display().to_string(),
        message,
    }
}

/// Probes a clip or music file and refuses playlists.
fn probe_media(path: &Path, what: &str) -> Result<MediaFacts, VideoError> {
    let facts = probe(path)?;
    if !MEDIA_CONTAINERS
        .iter()
        .any(|c| facts.container.split(',').any(|n| n == *c))
    {
        return Err(unusable(
            path,
            format!(
                "the {what} is a `{}` file; give a plain media file (MP4, MOV, WebM, M4A, MP3, WAV…)",
                facts.container
            ),
        ));
    }
    Ok(facts)
}

/// Probes the music (the template's `audio`): it must have a sound track.
pub fn check_music(path: &Path) -> Result<MediaFacts, VideoError> {
    let facts = probe_media(path, "audio")?;
    if facts.audio.is_none() {
        return Err(unusable(
            path,
            "has no audio stream; `audio.src` must be a sound file (M4A, MP3, WAV…)".into(),
        ));
    }
    Ok(facts)
}

/// Plans a Story of `story`: its length (the template's, else the clip's
/// after `start`, at most 60 s), frame rate (the clip's when usable, else
/// 30) and the fit chain of the clip.
pub fn plan_story(
    story: &VideoStory<'_>,
    opts: &TranscodeOptions,
) -> Result<StoryPlan, VideoError> {
    plan_story_at(story, opts, None)
}

/// [`plan_story`] at the frame rate `fps` when given (a preview's).
pub(super) fn plan_story_at(
    story: &VideoStory<'_>,
    opts: &TranscodeOptions,
    fps: Option<(i32, i32)>,
) -> Result<StoryPlan, VideoError> {
    let t = story.template;
    let spec = t.video.clone().unwrap_or_default();
    let shown = Path::new(&t.path);
    let clip = match (&spec.clip, &story.clip) {
        (Some(_), Some(path)) => Some(probe_media(path, "background video")?),
        _ => None,
    };
    if let Some(music) = &story.music {
        check_music(music)?;
    }
    let duration = spec
        .resolve_duration(clip.as_ref().and_then(|c| c.duration))
        .ok_or_else(|| {
            unusable(
                shown,
                "the Story's length is unknown: set `duration` (3–60 s), or give a clip longer than `start`".into(),
            )
        })?;
    if duration < spec::MIN_VIDEO_SECONDS - 1e-9 {
        return Err(unusable(
            shown,
            format!("the clip leaves {duration:.2} s after `start`, under Instagram's 3 s; set `duration` and `loop: true`, or start earlier"),
        ));
    }
    let fail = |e: plan::PlanError| unusable(shown, e.to_string());
    plan::video_bitrate(opts.max_bytes, duration).map_err(fail)?;
    let (fps, video_filter, has_audio) = match &clip {
        Some(facts) => {
            let fit = match spec.clip.as_ref().map(|c| c.fit) {
                Some(Fit::Contain) => FitMode::Pad,
                _ => FitMode::Crop,
            };
            let tonemap = filter::find("zscale").is_some() && filter::find("tonemap").is_some();
            let fps = fps.unwrap_or_else(|| plan::output_fps(facts));
            (
                fps,
                plan::video_filter(facts, fit, fps, tonemap),
                facts.audio.is_some(),
            )
        }
        None => (fps.unwrap_or(STILL_FPS), String::new(), false),
    };
    Ok(StoryPlan {
        plan: Plan {
            fps,
            parts: vec![Part {
                index: 1,
                count: 1,
                start: spec.clip.as_ref().map_or(0.0, |c| c.start),
                duration,
                out_duration: duration,
            }],
            video_filter,
            has_audio,
        },
        duration,
        clip,
    })
}

/// Where background frames come from.
enum Backdrop {
    Clip(filter::Graph),
    Still {
        picture: StillBackground,
        fixed: Option<[Vec<u8>; 3]>,
    },
}

impl Backdrop {
    /// The background at frame `i` (second `t`) as a fresh, writable frame;
    /// `None` when the clip's graph has ended.
    fn frame(&mut self, t: f64, ctx: &Ctx<'_>) -> Result<Option<frame::Video>, VideoError> {
        let mut out = frame::Video::new(format::Pixel::YUV420P, OUT_W, OUT_H);
        match self {
            Backdrop::Clip(g) => {
                let Some(mut sink) = g.get("out") else {
                    return Ok(None);
                };
                let mut f = frame::Video::empty();
                if sink.sink().frame(&mut f).is_err() {
                    return Ok(None);
                }
                if (f.width(), f.height()) != (OUT_W, OUT_H) {
                    return Err(VideoError::Ffmpeg {
                        path: ctx.shown.clone(),
                        stage: "video filter",
                        reason: format!(
                            "frame is {}×{}, not {OUT_W}×{OUT_H}",
                            f.width(),
                            f.height()
                        ),
                    });
                }
                for plane in 0..3 {
                    let (w, h) = plane_size(plane);
                    copy_plane(f.data(plane), f.stride(plane), &mut out, plane, w, h);
                }
            }
            Backdrop::Still { picture, fixed } => {
                let planes = match fixed {
                    Some(p) => std::borrow::Cow::Borrowed(&*p),
                    None => std::borrow::Cow::Owned(rgb_to_yuv420(&picture.frame(t))),
                };
                for (plane, data) in planes.iter().enumerate() {
                    let (w, h) = plane_size(plane);
                    copy_plane(data, w, &mut out, plane, w, h);
                }
            }
        }
        Ok(Some(out))
    }
}

fn plane_size(plane: usize) -> (usize, usize) {
    if plane == 0 {
        (OUT_W as usize, OUT_H as usize)
    } else {
        (OUT_W as usize / 2, OUT_H as usize / 2)
    }
}

fn copy_plane(
    src: &[u8],
    src_stride: usize,
    dst: &mut frame::Video,
    plane: usize,
    w: usize,
    h: usize,
) {
    let stride = dst.stride(plane);
    let data = dst.data_mut(plane);
    for row in 0..h {
        data[row * stride..row * stride + w]
            .copy_from_slice(&src[row * src_stride..row * src_stride + w]);
    }
}

/// One feed row of a video template with the clip and music files it
/// names (beside the template, or beside the feed for values from it).
pub(super) fn row_story<'a>(
    t: &'a Template,
    scene: &'a Scene,
    vars: &storyforge_story::template::Variables,
    feed_dir: Option<&Path>,
) -> Result<VideoStory<'a>, String> {
    let spec = t.video.clone().unwrap_or_default();
    let path_of = |what: &str, src: &storyforge_story::template::Pattern| {
        storyforge_story::story::media_path(t, src, vars, feed_dir)
            .map_err(|e| format!("{what}: {e}"))
    };
    let clip = spec
        .clip
        .as_ref()
        .map(|c| path_of("background video", &c.src))
        .transpose()?;
    let music = spec
        .audio
        .as_ref()
        .map(|m| path_of("audio", &m.src))
        .transpose()?;
    Ok(VideoStory {
        template: t,
        scene,
        clip,
        music,
    })
}

/// Plans one feed row of a video template without encoding: its files are
/// found and probed, its length known (what `validate --data` checks).
pub fn plan_row(
    t: &Template,
    scene: &Scene,
    vars: &storyforge_story::template::Variables,
    feed_dir: Option<&Path>,
) -> Result<StoryPlan, String> {
    let story = row_story(t, scene, vars, feed_dir)?;
    plan_story(&story, &TranscodeOptions::default()).map_err(|e| e.to_string())
}

/// The poster frame of one feed row of a video template at second `at`:
/// the background there (the clip's picture, fitted, or the zoomed still)
/// with every layer as it is at that moment (the dashboard's preview).
pub fn poster_row(
    t: &Template,
    scene: &Scene,
    vars: &storyforge_story::template::Variables,
    feed_dir: Option<&Path>,
    at: f64,
) -> Result<image::RgbImage, String> {
    let story = row_story(t, scene, vars, feed_dir)?;
    let p = plan_story(&story, &TranscodeOptions::default()).map_err(|e| e.to_string())?;
    let clip = story.clip;
    let spec = t.video.clone().unwrap_or_default();
    let at = at.clamp(0.0, p.duration);
    let background = match (clip, spec.clip.as_ref()) {
        (Some(path), Some(c)) => {
            let length = p.clip.as_ref().and_then(|f| f.duration).unwrap_or(0.0);
            let mut from = c.start + at;
            if c.looped && length > c.start {
                from = c.start + at % (length - c.start);
            }
            let picture = super::frames::frame_at(&path, from.min(length.max(0.0)))
                .map_err(|e| e.to_string())?;
            let rgba = image::DynamicImage::ImageRgb8(picture).to_rgba8();
            let fit = if c.fit == Fit::Contain {
                Fit::Contain
            } else {
                Fit::Cover
            };
            let (fitted, off) =
                storyforge_story::render::compose::fit_image(&rgba, OUT_W, OUT_H, fit, [0.5, 0.5]);
            let mut canvas = image::RgbImage::new(OUT_W, OUT_H);
            storyforge_story::render::compose::blend_image(&mut canvas, &fitted, off, 1.0, None);
            canvas
        }
        _ => StillBackground::new(scene, spec.zoom, p.duration).frame(at),
    };
    let [mut y, mut u, mut v] = rgb_to_yuv420(&background);
    let mut planes = super::overlay::Planes {
        y: &mut y,
        u: &mut u,
        v: &mut v,
        strides: [OUT_W as usize, OUT_W as usize / 2, OUT_W as usize / 2],
        width: OUT_W,
        height: OUT_H,
    };
    Compositor::new(t, scene, p.duration).apply(at, &mut planes);
    Ok(super::overlay::planes_to_rgb(
        &y,
        &u,
        &v,
        [OUT_W as usize, OUT_W as usize / 2, OUT_W as usize / 2],
        OUT_W,
        OUT_H,
    ))
}

/// One feed row of a video template → its MP4 at `out`: the clip and music
/// the row names are found, then [`render_story`].
pub fn render_row(
    t: &Template,
    scene: &Scene,
    vars: &storyforge_story::template::Variables,
    feed_dir: Option<&Path>,
    out: &Path,
    opts: &TranscodeOptions,
) -> Result<Output, String> {
    let story = row_story(t, scene, vars, feed_dir)?;
    render_story(&story, out, opts).map_err(|e| e.to_string())
}

/// Renders `story` into the MP4 `out` (written whole or not at all).
pub fn render_story(
    story: &VideoStory<'_>,
    out: &Path,
    opts: &TranscodeOptions,
) -> Result<Output, VideoError> {
    ff::init().map_err(|e| VideoError::Ffmpeg {
        path: story.template.path.display().to_string(),
        stage: "init",
        reason: e.to_string(),
    })?;
    ff::util::log::set_level(ff::util::log::Level::Fatal);
    let p = plan_story(story, opts)?;
    let ctx = Ctx {
        input: &story.template.path,
        shown: format!("{} → {}", story.template.path.display(), out.display()),
        opts,
        started: Instant::now(),
        size: (OUT_W, OUT_H),
    };
    let part = p.plan.parts[0].clone();
    let mut encode = |bps: u64, tmp: &Path| encode_once(&ctx, story, &p, bps, tmp);
    encode_fitting(&ctx, &p.plan, &part, out, &mut encode)
}

/// Encodes `story` once at `bps` into `tmp`, at `ctx.size` (frames are
/// composed at full size, then scaled down for a preview).
pub(super) fn encode_once(
    ctx: &Ctx<'_>,
    story: &VideoStory<'_>,
    p: &StoryPlan,
    bps: u64,
    tmp: &Path,
) -> Result<(), VideoError> {
    let spec = story.template.video.clone().unwrap_or_default();
    let clip = story.clip.as_deref().filter(|_| spec.clip.is_some());
    let mut backdrop = match clip {
        Some(path) => Backdrop::Clip(
            video_source_graph(&clip_chain(path, &spec, p))
                .map_err(ctx.ff("video filter setup"))?,
        ),
        None => {
            let picture = StillBackground::new(story.scene, spec.zoom, p.duration);
            let fixed = picture
                .is_fixed()
                .then(|| rgb_to_yuv420(&picture.frame(0.0)));
            Backdrop::Still { picture, fixed }
        }
    };
    let (mut octx, mut vout, mut aout) = open_output(tmp, p.plan.fps, bps, ctx)?;
    let chain = audio_chain(clip, &spec, p, story.music.as_deref());
    let mut sound = audio_graph(None, Rational::new(1, AUDIO_RATE as i32), &chain)
        .map_err(ctx.ff("audio filter setup"))?;
    let mut layers = Compositor::new(story.template, story.scene, p.duration);
    let mut smaller = super::preview::Scaler::new(ctx)?;
    let fps = fps_f64(p.plan.fps);
    let frames = (p.duration * fps).round() as i64;
    let mut audio_until = 0.0f64;
    let mut audio_done = false;
    for i in 0..frames {
        ctx.check_deadline()?;
        let t = i as f64 / fps;
        // The graph holds the clip's last frame to the end, so it cannot
        // run dry before the Story does; if it did, that is an error, not a
        // shorter Story.
        let Some(mut f) = backdrop.frame(t, ctx)? else {
            return Err(VideoError::Unusable {
                path: ctx.shown.clone(),
                message: format!(
                    "the background clip gave no picture for second {t:.2}; the file may be damaged"
                ),
            });
        };
        for plane in 0..3 {
            let stride = f.stride(plane);
            layers.apply_plane(t, plane, f.data_mut(plane), stride, (OUT_W, OUT_H));
        }
        if let Some(s) = smaller.as_mut() {
            f = s.scale(&f, ctx)?;
        }
        f.set_pts(Some(i));
        f.set_kind(ff::picture::Type::None);
        vout.enc.send_frame(&f).map_err(ctx.ff("video encode"))?;
        drain(&mut vout.enc, vout.index, vout.tb, &mut octx, ctx)?;
        // Keep the sound about a second ahead of the picture, for interleaving.
        while !audio_done && audio_until < t + 1.0 {
            audio_done = !pull_one_audio(&mut sound, &mut aout, &mut octx, ctx, &mut audio_until)?;
        }
    }
    vout.enc.send_eof().map_err(ctx.ff("video encode"))?;
    drain(&mut vout.enc, vout.index, vout.tb, &mut octx, ctx)?;
    while !audio_done {
        audio_done = !pull_one_audio(&mut sound, &mut aout, &mut octx, ctx, &mut audio_until)?;
    }
    aout.enc.send_eof().map_err(ctx.ff("audio encode"))?;
    drain(&mut aout.enc, aout.index, aout.tb, &mut octx, ctx)?;
    octx.write_trailer().map_err(ctx.ff("write trailer"))?;
    Ok(())
}

/// Encodes the next audio frame of the graph; false when the graph has ended.
fn pull_one_audio(
    graph: &mut filter::Graph,
    aout: &mut super::encode::AudioOut,
    octx: &mut format::context::Output,
    ctx: &Ctx<'_>,
    until: &mut f64,
) -> Result<bool, VideoError> {
    let Some(mut sink) = graph.get("out") else {
        return Ok(false);
    };
    let tb = sink.sink().time_base();
    let mut f = frame::Audio::empty();
    if sink.sink().frame(&mut f).is_err() {
        return Ok(false);
    }
    if let Some(pts) = f.pts() {
        let pts = pts.rescale(tb, aout.tb);
        f.set_pts(Some(pts));
        *until = (pts + f.samples() as i64) as f64 * f64::from(aout.tb);
    }
    aout.enc.send_frame(&f).map_err(ctx.ff("audio encode"))?;
    drain(&mut aout.enc, aout.index, aout.tb, octx, ctx)?;
    Ok(true)
}
