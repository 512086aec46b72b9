//! Raw YAML structs → a checked [`Template`]: every value resolved and range
//! checked, fonts looked up, literal assets found, the safe zone enforced.

use std::cell::Cell;
use std::path::Path;

use serde_saphyr::Spanned;

use super::schema::{
    Length, MissingGlyphs, RawBackground, RawBox, RawImage, RawLayer, RawRect, RawTemplate,
    RawText, TextSize,
};
use super::timing::{self, ClipBackground, Motion, Music, VideoSpec};
use super::vars::Pattern;
use super::{
    Background, BackgroundImage, Color, Fit, Gradient, HAlign, ImageLayer, Layer, LayerKind,
    Problem, PxRect, RectLayer, SafeZone, Shadow, SourcePos, Stroke, Template, TemplateError,
    TextLayer, VAlign,
};
use crate::fonts::{weight_from_name, FontBook, DEFAULT_FAMILY};
use storyforge_base::spec;
use storyforge_base::util::yaml::yaml_problem;

/// Reads and checks the template at `path`.
pub fn load(path: &Path, fonts: &FontBook) -> Result<Template, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, path, fonts)
}

/// Checks template `text` as if read from `path` (assets resolve beside it).
pub fn parse(text: &str, path: &Path, fonts: &FontBook) -> Result<Template, TemplateError> {
    let shown = path.display().to_string();
    let mut raw: RawTemplate = serde_saphyr::from_str(text).map_err(|e| yaml_error(&shown, &e))?;
    let variants = std::mem::take(&mut raw.variants);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = dir.canonicalize().map_err(|source| TemplateError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut template = Checker {
        path: &shown,
        dir: &dir,
        fonts,
        problem: Cell::default(),
    }
    .template(raw, path)?;
    template.variants = super::variants::expand(text, &variants, path, fonts)?;
    Ok(template)
}

fn yaml_error(path: &str, e: &serde_saphyr::Error) -> TemplateError {
    let (pos, message) = yaml_problem(e);
    TemplateError::Invalid {
        path: path.to_string(),
        pos,
        problem: Problem::Schema,
        message,
    }
}

struct Checker<'a> {
    path: &'a str,
    dir: &'a Path,
    fonts: &'a FontBook,
    /// The kind of the problem a helper returning a plain message noted.
    problem: Cell<Problem>,
}

fn pos_of<T>(s: &Spanned<T>) -> SourcePos {
    SourcePos {
        line: s.referenced.line(),
        column: s.referenced.column(),
    }
}

fn in_range(what: &str, v: f32, lo: f32, hi: f32) -> Result<f32, String> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(format!("`{what}` is {v}; it must be between {lo} and {hi}"))
    }
}

fn focus_of(f: Option<[f32; 2]>) -> Result<[f32; 2], String> {
    let [x, y] = f.unwrap_or([0.5, 0.5]);
    Ok([
        in_range("focus[0]", x, 0.0, 1.0)?,
        in_range("focus[1]", y, 0.0, 1.0)?,
    ])
}

impl Checker<'_> {
    /// A problem at `pos`; its kind is the one noted by the check that
    /// failed ([`Checker::problem`]), else [`Problem::Schema`].
    fn err(&self, pos: SourcePos, message: impl Into<String>) -> TemplateError {
        TemplateError::Invalid {
            path: self.path.to_string(),
            pos,
            problem: self.problem.take(),
            message: message.into(),
        }
    }

    /// Notes the kind of the problem about to be returned as a plain message.
    fn noting<T, E>(&self, problem: Problem, r: Result<T, E>) -> Result<T, E> {
        if r.is_err() {
            self.problem.set(problem);
        }
        r
    }

    fn template(&self, raw: RawTemplate, path: &Path) -> Result<Template, TemplateError> {
        let top = SourcePos::default();
        let name = raw.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("story")
                .to_string()
        });
        let (width, height) = match &raw.canvas {
            Some(c) => (c.width, c.height),
            None => (spec::STORY_WIDTH, spec::STORY_HEIGHT),
        };
        if !(16..=4096).contains(&width) || !(16..=4096).contains(&height) {
            return Err(self.err(
                top,
                format!("canvas {width}×{height} is out of range: use 16–4096 px a side (Stories are 1080×1920)"),
            ));
        }
        let safe_zone = self
            .safe_zone(&raw, width, height)
            .map_err(|m| self.err(top, m))?;
        let quality = raw.quality.unwrap_or(spec::DEFAULT_JPEG_QUALITY);
        if !(1..=100).contains(&quality) {
            return Err(self.err(top, format!("`quality` is {quality}; use 1–100")));
        }
        let output = raw
            .output
            .as_deref()
            .map(Pattern::parse)
            .transpose()
            .map_err(|e| self.err(top, format!("`output`: {e}")))?;
        let variables = raw
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let background = match &raw.background {
            None => Background::Solid(Color::BLACK),
            Some(bg) => self
                .background(&bg.value)
                .map_err(|m| self.err(pos_of(bg), format!("background: {m}")))?,
        };
        let mut video = self.video_spec(&raw)?;
        let safe = safe_zone.rect(width, height);
        let mut layers = Vec::with_capacity(raw.layers.len());
        for (i, spanned) in raw.layers.iter().enumerate() {
            let pos = pos_of(spanned);
            let mut layer = self.layer(&spanned.value, i + 1, pos, width, height)?;
            let (at, enter, exit) = match &spanned.value {
                RawLayer::Text(t) => (t.at, t.enter, t.exit),
                RawLayer::Image(i) => (i.at, i.enter, i.exit),
                RawLayer::Rect(r) => (r.at, r.enter, r.exit),
            };
            let duration = video.as_ref().and_then(|v| v.duration);
            layer.motion = timing::motion(at, enter, exit, duration).map_err(|m| {
                self.err(
                    pos,
                    format!("layer '{}' ({}): {m}", layer.name, layer.kind.label()),
                )
            })?;
            if layer.motion.is_animated() && video.is_none() {
                video = Some(VideoSpec::default());
            }
            if !layer.bleed {
                self.check_safe(&layer, safe, None)?;
                for (which, effect, (dx, dy)) in layer.motion.extremes(width, height) {
                    let moved = PxRect {
                        x: layer.rect.x + dx.round() as i32,
                        y: layer.rect.y + dy.round() as i32,
                        ..layer.rect
                    };
                    let shifted = Layer {
                        rect: moved,
                        ..layer.clone()
                    };
                    let when = format!("at the far end of its {} `{which}`", effect.name());
                    self.check_safe(&shifted, safe, Some(&when))?;
                }
            }
            layers.push(layer);
        }
        if video
            .as_ref()
            .is_some_and(|v| v.clip.is_none() && v.duration.is_none())
        {
            return Err(self.err(
                top,
                "a video template without a `background.video` clip needs `duration` (3–60 s)",
            ));
        }
        let mentions = raw
            .mentions
            .iter()
            .map(|m| Pattern::parse(m).map_err(|e| self.err(top, format!("mentions: `{m}`: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Template {
            name,
            path: path.to_path_buf(),
            dir: self.dir.to_path_buf(),
            output,
            width,
            height,
            safe_zone,
            quality,
            variables,
            background,
            layers,
            variants: Vec::new(),
            mentions,
            video,
        })
    }

    /// The video keys (`duration`, `background.video`, `zoom`, `audio`):
    /// `Some` when any is set.
    fn video_spec(&self, raw: &RawTemplate) -> Result<Option<VideoSpec>, TemplateError> {
        let duration = raw
            .duration
            .as_ref()
            .map(|d| {
                timing::seconds(
                    "duration",
                    d.value,
                    spec::MIN_VIDEO_SECONDS,
                    spec::MAX_VIDEO_SECONDS,
                )
                .map_err(|m| self.err(pos_of(d), format!("{m} (Instagram's limits for a Story)")))
            })
            .transpose()?;
        let mut clip = None;
        let mut zoom = None;
        if let Some(bg) = &raw.background {
            let fail = |m: String| self.err(pos_of(bg), format!("background: {m}"));
            match &bg.value {
                RawBackground::Video(v) => {
                    let src = self.asset_pattern(&v.src).map_err(fail)?;
                    let fit = match v.fit.unwrap_or(Fit::Cover) {
                        Fit::Fill => return Err(fail("a video `fit` is cover or contain".into())),
                        f => f,
                    };
                    let start = timing::seconds("start", v.start.unwrap_or(0.0), 0.0, 86_400.0)
                        .map_err(fail)?;
                    clip = Some(ClipBackground {
                        src,
                        fit,
                        start,
                        looped: v.looped.unwrap_or(false),
                        muted: v.muted.unwrap_or(false),
                    });
                }
                RawBackground::Image(img) => {
                    if let Some(z) = img.zoom {
                        let from =
                            in_range("zoom.from", z.from.unwrap_or(1.0), 1.0, 4.0).map_err(fail)?;
                        let to = in_range("zoom.to", z.to, 1.0, 4.0).map_err(fail)?;
                        zoom = Some((from, to));
                    }
                }
                _ => {}
            }
        }
        let audio = raw
            .audio
            .as_ref()
            .map(|a| {
                let fail = |m: String| self.err(pos_of(a), format!("audio: {m}"));
                let limit = duration.unwrap_or(spec::MAX_VIDEO_SECONDS);
                let raw = &a.value;
                Ok::<_, TemplateError>(Music {
                    src: self.asset_pattern(&raw.src).map_err(fail)?,
                    volume: in_range("volume", raw.volume.unwrap_or(1.0), 0.0, 2.0)
                        .map_err(fail)?,
                    fade_in: timing::seconds("fade_in", raw.fade_in.unwrap_or(0.0), 0.0, limit)
                        .map_err(fail)?,
                    fade_out: timing::seconds("fade_out", raw.fade_out.unwrap_or(0.0), 0.0, limit)
                        .map_err(fail)?,
                })
            })
            .transpose()?;
        let any = duration.is_some() || clip.is_some() || zoom.is_some() || audio.is_some();
        Ok(any.then_some(VideoSpec {
            duration,
            clip,
            zoom,
            audio,
        }))
    }

    fn safe_zone(&self, raw: &RawTemplate, width: u32, height: u32) -> Result<SafeZone, String> {
        let sz = raw.safe_zone.as_ref();
        let get = |l: Option<Length>, default: f32, full: u32, what: &str| {
            let v = l.map_or(default, |l| l.px(full));
            in_range(what, v, 0.0, full as f32 / 2.0).map(|v| v.round() as u32)
        };
        let scale = height as f32 / spec::STORY_HEIGHT as f32;
        Ok(SafeZone {
            top: get(
                sz.and_then(|s| s.top),
                spec::SAFE_TOP as f32 * scale,
                height,
                "safe_zone.top",
            )?,
            bottom: get(
                sz.and_then(|s| s.bottom),
                spec::SAFE_BOTTOM as f32 * scale,
                height,
                "safe_zone.bottom",
            )?,
            side: get(sz.and_then(|s| s.side), 0.0, width, "safe_zone.side")?,
        })
    }

    fn background(&self, raw: &RawBackground) -> Result<Background, String> {
        Ok(match raw {
            RawBackground::Color(c) => Background::Solid(*c),
            RawBackground::Gradient(g) => {
                let angle = g.angle.unwrap_or(180.0);
                if !angle.is_finite() {
                    return Err("gradient `angle` must be a number of degrees".into());
                }
                Background::Gradient(Gradient {
                    angle,
                    stops: super::color::parse_stops(&g.stops)?,
                })
            }
            RawBackground::Image(img) => {
                let src = self.asset_pattern(&img.src)?;
                Background::Image(BackgroundImage {
                    src,
                    fit: match img.fit.unwrap_or(Fit::Cover) {
                        Fit::Fill => return Err("a background `fit` is cover or contain".into()),
                        f => f,
                    },
                    focus: focus_of(img.focus)?,
                    blur: in_range("blur", img.blur.unwrap_or(0.0), 0.0, 200.0)?,
                    darken: in_range("darken", img.darken.unwrap_or(0.0), 0.0, 1.0)?,
                    color: img.color.unwrap_or(Color::BLACK),
                })
            }
            // The clip is the picture; what shows until it is decoded is black.
            RawBackground::Video(_) => Background::Solid(Color::BLACK),
        })
    }

    /// Parses an asset `src`; a literal path must exist inside the template directory.
    fn asset_pattern(&self, src: &str) -> Result<Pattern, String> {
        let pattern = Pattern::parse(src).map_err(|e| format!("`src`: {e}"))?;
        if !pattern.is_dynamic() && !crate::assets::remote::is_remote(src) {
            self.noting(Problem::Asset, crate::assets::resolve(self.dir, src))
                .map_err(|e| e.to_string())?;
        }
        Ok(pattern)
    }

    fn rect(&self, b: &RawBox, width: u32, height: u32) -> Result<PxRect, String> {
        let w = b.w.px(width).round();
        let h = b.h.px(height).round();
        if !(w >= 1.0 && h >= 1.0) {
            return Err(format!(
                "`box` is {w}×{h} px; width and height must be at least 1 px"
            ));
        }
        let x = b.x.px(width).round();
        let y = b.y.px(height).round();
        let limit = 2.0 * width.max(height) as f32;
        let finite = [x, y, w, h].iter().all(|v| v.is_finite());
        if !finite || x.abs() > limit || y.abs() > limit || w > limit || h > limit {
            return Err(format!(
                "`box` is far outside the canvas: keep x, y within ±{limit} and w, h up to {limit} px"
            ));
        }
        Ok(PxRect {
            x: x as i32,
            y: y as i32,
            w: w as u32,
            h: h as u32,
        })
    }

    fn layer(
        &self,
        raw: &RawLayer,
        index: usize,
        pos: SourcePos,
        width: u32,
        height: u32,
    ) -> Result<Layer, TemplateError> {
        let (name, bbox, bleed) = match raw {
            RawLayer::Text(t) => (&t.name, &t.bbox, t.bleed),
            RawLayer::Image(i) => (&i.name, &i.bbox, i.bleed),
            RawLayer::Rect(r) => (&r.name, &r.bbox, r.bleed),
        };
        let name = name.clone().unwrap_or_else(|| format!("layer {index}"));
        let label = match raw {
            RawLayer::Text(_) => "text",
            RawLayer::Image(_) => "image",
            RawLayer::Rect(_) => "rect",
        };
        let fail = |m: String| self.err(pos, format!("layer '{name}' ({label}): {m}"));
        let rect = self.rect(bbox, width, height).map_err(fail)?;
        let kind = match raw {
            RawLayer::Text(t) => {
                let text = self.text(t).map_err(fail)?;
                if !text.content.is_dynamic() {
                    // Fixed text can be checked once, here, instead of per row.
                    let content = text.content.fill(&Default::default()).unwrap_or_default();
                    let block = self
                        .noting(Problem::TextFit, text.layout(&content, rect))
                        .map_err(|e| {
                            fail(format!("{e}; shorten it, widen the box or lower the size"))
                        })?;
                    if !text.allow_missing_glyphs && !block.missing.is_empty() {
                        self.problem.set(Problem::Glyph);
                        return Err(fail(crate::text::missing_message(&block.missing)));
                    }
                }
                LayerKind::Text(text)
            }
            RawLayer::Image(i) => LayerKind::Image(self.image(i).map_err(fail)?),
            RawLayer::Rect(r) => LayerKind::Rect(rect_layer(r).map_err(fail)?),
        };
        Ok(Layer {
            name,
            pos,
            rect,
            bleed: bleed.unwrap_or(false),
            kind,
            motion: Motion::default(),
        })
    }

    fn text(&self, t: &RawText) -> Result<TextLayer, String> {
        let content = Pattern::parse(&t.content).map_err(|e| format!("`content`: {e}"))?;
        let family = t
            .font
            .as_ref()
            .and_then(|f| f.family.clone())
            .unwrap_or_else(|| DEFAULT_FAMILY.to_string());
        let weight = match t.font.as_ref().and_then(|f| f.weight.clone()) {
            None => 400,
            Some(super::schema::Weight::Number(n)) => n,
            Some(super::schema::Weight::Name(s)) => self
                .noting(Problem::Font, weight_from_name(&s))
                .map_err(|e| e.to_string())?,
        };
        let face = self
            .noting(Problem::Font, self.fonts.get(&family, weight))
            .map_err(|e| e.to_string())?;
        let font_name = format!("{} {}", face.family, face.weight);
        let font = self
            .noting(Problem::Font, self.fonts.choose(&family, weight))
            .map_err(|e| e.to_string())?;
        let size = match t.size {
            TextSize::Fixed(px) => TextSize::Fixed(in_range("size", px, 1.0, 1000.0)?),
            TextSize::Fit { min, max } => {
                let min = in_range("size.min", min, 1.0, 1000.0)?;
                let max = in_range("size.max", max, 1.0, 1000.0)?;
                if min > max {
                    return Err(format!("`size.min` {min} is above `size.max` {max}"));
                }
                TextSize::Fit { min, max }
            }
        };
        let stroke = t
            .stroke
            .as_ref()
            .map(|s| {
                Ok::<_, String>(Stroke {
                    width: in_range("stroke.width", s.width, 0.0, 40.0)?,
                    color: s.color.unwrap_or(Color::BLACK),
                })
            })
            .transpose()?;
        let shadow = t
            .shadow
            .as_ref()
            .map(|s| {
                Ok::<_, String>(Shadow {
                    dx: in_range("shadow.dx", s.dx.unwrap_or(0.0), -100.0, 100.0)?,
                    dy: in_range("shadow.dy", s.dy.unwrap_or(4.0), -100.0, 100.0)?,
                    blur: in_range("shadow.blur", s.blur.unwrap_or(8.0), 0.0, 50.0)?,
                    color: s.color.unwrap_or(Color {
                        r: 0,
                        g: 0,
                        b: 0,
                        a: 0x99,
                    }),
                })
            })
            .transpose()?;
        if t.max_lines == Some(0) {
            return Err("`max_lines` must be at least 1".into());
        }
        Ok(TextLayer {
            content,
            font,
            font_name,
            size,
            align: t.align.unwrap_or(HAlign::Start),
            valign: t.valign.unwrap_or(VAlign::Top),
            color: t.color.unwrap_or(Color::WHITE),
            opacity: in_range("opacity", t.opacity.unwrap_or(1.0), 0.0, 1.0)?,
            line_height: in_range("line_height", t.line_height.unwrap_or(1.2), 0.5, 5.0)?,
            letter_spacing: in_range(
                "letter_spacing",
                t.letter_spacing.unwrap_or(0.0),
                -50.0,
                200.0,
            )?,
            max_lines: t.max_lines,
            stroke,
            shadow,
            emoji: t.emoji.unwrap_or_default(),
            allow_missing_glyphs: t.missing_glyphs == Some(MissingGlyphs::Allow),
        })
    }

    fn image(&self, i: &RawImage) -> Result<ImageLayer, String> {
        Ok(ImageLayer {
            src: self.asset_pattern(&i.src)?,
            fit: i.fit.unwrap_or(Fit::Contain),
            focus: focus_of(i.focus)?,
            opacity: in_range("opacity", i.opacity.unwrap_or(1.0), 0.0, 1.0)?,
            radius: in_range("radius", i.radius.unwrap_or(0.0), 0.0, 4096.0)?,
        })
    }

    fn check_safe(
        &self,
        layer: &Layer,
        safe: PxRect,
        when: Option<&str>,
    ) -> Result<(), TemplateError> {
        let extent = match &layer.kind {
            LayerKind::Text(t) => {
                let [l, tp, r, b] = t.effect_reach();
                layer.rect.grow(l, tp, r, b)
            }
            _ => layer.rect,
        };
        let mut over = Vec::new();
        let mut side = |amount: i32, where_: &str| {
            if amount > 0 {
                over.push(format!("{amount} px at the {where_}"));
            }
        };
        side(safe.y - extent.y, "top");
        side(extent.bottom() - safe.bottom(), "bottom");
        side(safe.x - extent.x, "left");
        side(extent.right() - safe.right(), "right");
        if over.is_empty() {
            return Ok(());
        }
        self.problem.set(Problem::SafeZone);
        Err(self.err(
            layer.pos,
            format!(
                "layer '{}' ({}) leaves the safe zone{} by {} (safe area x {}–{}, y {}–{}); move or shrink it, or set `bleed: true`",
                layer.name,
                layer.kind.label(),
                when.map(|w| format!(" {w}")).unwrap_or_default(),
                over.join(", "),
                safe.x,
                safe.right(),
                safe.y,
                safe.bottom()
            ),
        ))
    }
}

fn rect_layer(r: &RawRect) -> Result<RectLayer, String> {
    Ok(RectLayer {
        color: r.color,
        opacity: in_range("opacity", r.opacity.unwrap_or(1.0), 0.0, 1.0)?,
        radius: in_range("radius", r.radius.unwrap_or(0.0), 0.0, 4096.0)?,
    })
}
