//! Time in templates: the YAML keys of video templates (`duration`, a
//! `video` background, `zoom`, `audio`, a layer's `at`/`enter`/`exit`), their
//! checked forms, and the pure answer to "where is this layer, how opaque and
//! how much of it, at second t" that the compositor and the safe-zone check
//! both use.

use schemars::JsonSchema;
use serde::Deserialize;

use super::schema::Fit;
use super::vars::Pattern;
use storyforge_base::spec;

/// A background clip.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackgroundVideo {
    /// Path relative to the template, or a `{{variable}}` holding one.
    pub src: String,
    /// `cover` (fill, cropping) or `contain` (fit, black around). Default: cover.
    pub fit: Option<Fit>,
    /// Second of the clip the Story starts at. Default: 0.
    pub start: Option<f64>,
    /// Play the clip again from `start` when it ends before the Story. Default: false (hold the last frame).
    #[serde(rename = "loop")]
    pub looped: Option<bool>,
    /// Leave the clip's own sound out. Default: false.
    pub muted: Option<bool>,
}

/// A zoom over the Story's length, as scale factors.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawZoom {
    /// Scale at the start, 1–4. Default: 1.
    pub from: Option<f32>,
    /// Scale at the end, 1–4.
    pub to: f32,
}

/// Music under the Story.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAudio {
    /// Path relative to the template, or a `{{variable}}` holding one (any format FFmpeg reads).
    pub src: String,
    /// Gain 0–2. Default: 1.
    pub volume: Option<f32>,
    /// Fade in over this many seconds. Default: 0.
    pub fade_in: Option<f64>,
    /// Fade out over the last this many seconds. Default: 0.
    pub fade_out: Option<f64>,
}

/// When a layer shows, seconds from the Story's start.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAt {
    /// It appears. Default: 0.
    pub from: Option<f64>,
    /// It is gone. Default: the end of the Story.
    pub to: Option<f64>,
}

/// An entrance or exit.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTransition {
    /// What moves.
    pub effect: Effect,
    /// Seconds it takes. Default: 0.5.
    pub duration: Option<f64>,
}

/// How a layer enters or leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Opacity 0 → 1.
    Fade,
    /// Rises into place from 10 % of the canvas height below.
    SlideUp,
    /// Drops into place from 10 % of the canvas height above.
    SlideDown,
    /// Moves left into place from 10 % of the canvas width to the right.
    SlideLeft,
    /// Moves right into place from 10 % of the canvas width to the left.
    SlideRight,
    /// Grows from half size about its centre while fading in.
    Scale,
    /// Text appears glyph by glyph (other layers: a fade).
    Typewriter,
}

impl Effect {
    /// The YAML name.
    pub fn name(self) -> &'static str {
        match self {
            Effect::Fade => "fade",
            Effect::SlideUp => "slide-up",
            Effect::SlideDown => "slide-down",
            Effect::SlideLeft => "slide-left",
            Effect::SlideRight => "slide-right",
            Effect::Scale => "scale",
            Effect::Typewriter => "typewriter",
        }
    }

    /// Offset in px (dx, dy) of a slide at its far end, on a canvas `w`×`h`.
    fn far_offset(self, w: u32, h: u32) -> (f32, f32) {
        let (dx, dy) = (w as f32 * SLIDE, h as f32 * SLIDE);
        match self {
            Effect::SlideUp => (0.0, dy),
            Effect::SlideDown => (0.0, -dy),
            Effect::SlideLeft => (dx, 0.0),
            Effect::SlideRight => (-dx, 0.0),
            _ => (0.0, 0.0),
        }
    }
}

/// How far a slide travels, as a fraction of the canvas side.
pub const SLIDE: f32 = 0.10;
/// Scale at the far end of a `scale` effect.
pub const SCALE_FROM: f32 = 0.5;
/// Default transition length, seconds.
pub const DEFAULT_TRANSITION: f64 = 0.5;

/// A checked entrance or exit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// What moves.
    pub effect: Effect,
    /// Seconds.
    pub duration: f64,
}

/// When and how a layer of a video template shows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Motion {
    /// Appears at, seconds.
    pub from: f64,
    /// Gone at, seconds (`None`: the end of the Story).
    pub to: Option<f64>,
    /// Entrance.
    pub enter: Option<Transition>,
    /// Exit.
    pub exit: Option<Transition>,
}

/// A layer's state at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// 0 (invisible) – 1, multiplying the layer's own opacity.
    pub alpha: f32,
    /// Offset right, px.
    pub dx: f32,
    /// Offset down, px.
    pub dy: f32,
    /// Size about the centre, 1 = as drawn.
    pub scale: f32,
    /// Share of the text's glyphs shown, 0–1.
    pub reveal: f32,
}

impl Pose {
    /// The layer as drawn in a still Story.
    pub const REST: Pose = Pose {
        alpha: 1.0,
        dx: 0.0,
        dy: 0.0,
        scale: 1.0,
        reveal: 1.0,
    };
    /// Not shown.
    pub const HIDDEN: Pose = Pose {
        alpha: 0.0,
        ..Pose::REST
    };
}

fn smooth(p: f64) -> f32 {
    let p = p.clamp(0.0, 1.0);
    (p * p * (3.0 - 2.0 * p)) as f32
}

/// The pose of a transition `effect` at progress `shown` (0 = away, 1 =
/// in place); an exit slides on the way it names (a `slide-up` exit leaves upwards).
fn transition_pose(effect: Effect, shown: f32, w: u32, h: u32, exit: bool) -> Pose {
    let (mut fx, mut fy) = effect.far_offset(w, h);
    if exit {
        (fx, fy) = (-fx, -fy);
    }
    let away = 1.0 - shown;
    match effect {
        Effect::Fade => Pose {
            alpha: shown,
            ..Pose::REST
        },
        Effect::SlideUp | Effect::SlideDown | Effect::SlideLeft | Effect::SlideRight => Pose {
            dx: fx * away,
            dy: fy * away,
            ..Pose::REST
        },
        Effect::Scale => Pose {
            alpha: shown,
            scale: SCALE_FROM + (1.0 - SCALE_FROM) * shown,
            ..Pose::REST
        },
        Effect::Typewriter => Pose {
            reveal: shown,
            ..Pose::REST
        },
    }
}

impl Motion {
    /// True when the layer changes over time (not shown all the time, or moving).
    pub fn is_animated(&self) -> bool {
        self.from > 0.0 || self.to.is_some() || self.enter.is_some() || self.exit.is_some()
    }

    /// The end of the layer for a Story of `duration` seconds.
    pub fn end(&self, duration: f64) -> f64 {
        self.to.unwrap_or(duration).min(duration)
    }

    /// The pose at second `t` of a `duration`-second Story on a `w`×`h` canvas.
    pub fn pose(&self, t: f64, duration: f64, w: u32, h: u32) -> Pose {
        let end = self.end(duration);
        if t < self.from || t >= end {
            return Pose::HIDDEN;
        }
        if let Some(e) = self.enter {
            if t < self.from + e.duration {
                return transition_pose(
                    e.effect,
                    smooth((t - self.from) / e.duration),
                    w,
                    h,
                    false,
                );
            }
        }
        if let Some(x) = self.exit {
            if t > end - x.duration {
                return transition_pose(x.effect, smooth((end - t) / x.duration), w, h, true);
            }
        }
        Pose::REST
    }

    /// True when the pose may differ between `t0` and `t1` (inside a transition, or at an edge).
    pub fn moving(&self, t: f64, duration: f64) -> bool {
        let end = self.end(duration);
        let in_enter = self
            .enter
            .is_some_and(|e| t >= self.from && t < self.from + e.duration);
        let in_exit = self.exit.is_some_and(|x| t > end - x.duration && t < end);
        in_enter || in_exit
    }

    /// The offsets (dx, dy) at the far ends of its slides: with (0, 0),
    /// every place the layer is at some moment lies between these.
    pub fn extremes(&self, w: u32, h: u32) -> Vec<(&'static str, Effect, (f32, f32))> {
        let mut out = Vec::new();
        if let Some(e) = self.enter {
            out.push(("enter", e.effect, e.effect.far_offset(w, h)));
        }
        if let Some(x) = self.exit {
            let (dx, dy) = x.effect.far_offset(w, h);
            out.push(("exit", x.effect, (-dx, -dy)));
        }
        out
    }
}

/// The clip under a video template.
#[derive(Debug, Clone)]
pub struct ClipBackground {
    /// Where the clip is.
    pub src: Pattern,
    /// Cover or contain.
    pub fit: Fit,
    /// Second of the clip the Story starts at.
    pub start: f64,
    /// Play again from `start` when it ends.
    pub looped: bool,
    /// Leave its sound out.
    pub muted: bool,
}

/// Music under a video template.
#[derive(Debug, Clone)]
pub struct Music {
    /// Where the music is.
    pub src: Pattern,
    /// Gain.
    pub volume: f32,
    /// Fade-in seconds.
    pub fade_in: f64,
    /// Fade-out seconds.
    pub fade_out: f64,
}

/// What makes a template a video template.
#[derive(Debug, Clone, Default)]
pub struct VideoSpec {
    /// Seconds; `None`: the clip's own, at most 60.
    pub duration: Option<f64>,
    /// The background clip, if any (else the still background is the picture).
    pub clip: Option<ClipBackground>,
    /// Zoom of a still background (from, to).
    pub zoom: Option<(f32, f32)>,
    /// Music.
    pub audio: Option<Music>,
}

impl VideoSpec {
    /// The Story's length once the clip's (if any) is known: the template's
    /// `duration`, else what is left of the clip after `start` (all of it
    /// again and again when looped), at most 60 s.
    pub fn resolve_duration(&self, clip_seconds: Option<f64>) -> Option<f64> {
        if let Some(d) = self.duration {
            return Some(d);
        }
        let clip = self.clip.as_ref()?;
        let left = clip_seconds? - clip.start;
        (left > 0.0).then(|| left.min(spec::MAX_VIDEO_SECONDS))
    }
}

/// Checks a range of seconds.
pub fn seconds(what: &str, v: f64, lo: f64, hi: f64) -> Result<f64, String> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(format!(
            "`{what}` is {v} s; it must be between {lo} and {hi} s"
        ))
    }
}

/// Raw `at`/`enter`/`exit` → a checked [`Motion`] (`duration` when known).
pub fn motion(
    at: Option<RawAt>,
    enter: Option<RawTransition>,
    exit: Option<RawTransition>,
    duration: Option<f64>,
) -> Result<Motion, String> {
    let limit = duration.unwrap_or(spec::MAX_VIDEO_SECONDS);
    let from = seconds(
        "at.from",
        at.and_then(|a| a.from).unwrap_or(0.0),
        0.0,
        limit,
    )?;
    let to = at
        .and_then(|a| a.to)
        .map(|to| seconds("at.to", to, 0.0, limit))
        .transpose()?;
    if let Some(to) = to {
        if to <= from {
            return Err(format!(
                "`at.to` {to} s is not after `at.from` {from} s; the layer would never show"
            ));
        }
    }
    let transition = |what: &str, t: Option<RawTransition>| {
        t.map(|t| {
            Ok::<_, String>(Transition {
                effect: t.effect,
                duration: seconds(
                    &format!("{what}.duration"),
                    t.duration.unwrap_or(DEFAULT_TRANSITION),
                    0.04,
                    10.0,
                )?,
            })
        })
        .transpose()
    };
    let enter = transition("enter", enter)?;
    let exit = transition("exit", exit)?;
    let shown = to.unwrap_or(limit) - from;
    let moving = enter.map_or(0.0, |e| e.duration) + exit.map_or(0.0, |x| x.duration);
    if moving > shown + 1e-9 {
        return Err(format!(
            "`enter` and `exit` take {moving} s but the layer shows for only {shown} s; shorten them or widen `at`"
        ));
    }
    Ok(Motion {
        from,
        to,
        enter,
        exit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fade_in_out() -> Motion {
        Motion {
            from: 1.0,
            to: Some(5.0),
            enter: Some(Transition {
                effect: Effect::Fade,
                duration: 0.5,
            }),
            exit: Some(Transition {
                effect: Effect::SlideUp,
                duration: 1.0,
            }),
        }
    }

    #[test]
    fn poses_follow_the_timeline() {
        let m = fade_in_out();
        assert_eq!(m.pose(0.5, 8.0, 1080, 1920), Pose::HIDDEN);
        let mid = m.pose(1.25, 8.0, 1080, 1920);
        assert!((mid.alpha - 0.5).abs() < 1e-6, "{mid:?}");
        assert_eq!(m.pose(3.0, 8.0, 1080, 1920), Pose::REST);
        // Half-way through a slide-up exit it has risen half the distance.
        let out = m.pose(4.5, 8.0, 1080, 1920);
        assert!((out.dy + 96.0).abs() < 0.5, "{out:?}");
        assert_eq!(m.pose(5.0, 8.0, 1080, 1920), Pose::HIDDEN);
        assert!(m.moving(1.1, 8.0) && !m.moving(3.0, 8.0));
    }

    #[test]
    fn bad_timings_are_refused() {
        let at = |from, to| Some(RawAt { from, to });
        assert!(motion(at(Some(3.0), Some(2.0)), None, None, Some(8.0)).is_err());
        assert!(motion(at(None, Some(9.0)), None, None, Some(8.0)).is_err());
        let long = Some(RawTransition {
            effect: Effect::Fade,
            duration: Some(2.0),
        });
        let e = motion(at(Some(1.0), Some(3.0)), long, long, Some(8.0)).unwrap_err();
        assert!(e.contains("shows for only 2 s"), "{e}");
        assert!(motion(at(Some(1.0), None), long, None, None).is_ok());
    }

    #[test]
    fn duration_defaults_to_the_clip() {
        let spec = VideoSpec {
            clip: Some(ClipBackground {
                src: Pattern::parse("a.mp4").unwrap(),
                fit: Fit::Cover,
                start: 2.0,
                looped: false,
                muted: false,
            }),
            ..Default::default()
        };
        assert_eq!(spec.resolve_duration(Some(10.0)), Some(8.0));
        assert_eq!(spec.resolve_duration(Some(100.0)), Some(60.0));
        assert_eq!(spec.resolve_duration(Some(1.0)), None);
    }
}
