//! Story templates: YAML → a checked [`Template`] whose fonts, colours,
//! lengths, placeholders and literal asset paths are all resolved, and whose
//! layers lie inside the safe zone. Every problem is a [`TemplateError`]
//! naming `file:line:column`.

mod check;
pub mod color;
pub mod schema;
pub mod timing;
pub mod variants;
pub mod vars;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::text::{layout_fit, layout_fixed, LayoutError, TextBlock, TextSetting};
pub use check::{load, parse};
pub use color::Color;
pub use schema::{EmojiStyle, Fit, HAlign, MissingGlyphs, TextSize, VAlign};
use storyforge_base::util::yaml::located;
pub use storyforge_base::util::yaml::SourcePos;
pub use vars::{Pattern, Variables};

/// A rectangle in whole canvas pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PxRect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl PxRect {
    /// Right edge (exclusive).
    pub fn right(&self) -> i32 {
        self.x + self.w as i32
    }
    /// Bottom edge (exclusive).
    pub fn bottom(&self) -> i32 {
        self.y + self.h as i32
    }
    /// The rectangle grown by the given px on each side.
    pub fn grow(&self, left: u32, top: u32, right: u32, bottom: u32) -> PxRect {
        PxRect {
            x: self.x - left as i32,
            y: self.y - top as i32,
            w: self.w + left + right,
            h: self.h + top + bottom,
        }
    }
}

/// The part of the canvas not covered by Instagram's UI, in px.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafeZone {
    /// Excluded band at the top.
    pub top: u32,
    /// Excluded band at the bottom.
    pub bottom: u32,
    /// Excluded margin left and right.
    pub side: u32,
}

impl SafeZone {
    /// The safe rectangle on a canvas of `width`×`height`.
    pub fn rect(&self, width: u32, height: u32) -> PxRect {
        PxRect {
            x: self.side as i32,
            y: self.top as i32,
            w: width.saturating_sub(2 * self.side),
            h: height.saturating_sub(self.top + self.bottom),
        }
    }
}

/// A checked template, ready to render.
#[derive(Clone)]
pub struct Template {
    /// Name for messages and default output names.
    pub name: String,
    /// The YAML file it came from.
    pub path: PathBuf,
    /// The directory literal asset paths resolve in (canonical).
    pub dir: PathBuf,
    /// Output file name pattern, if the template sets one.
    pub output: Option<Pattern>,
    /// Canvas width in px.
    pub width: u32,
    /// Canvas height in px.
    pub height: u32,
    /// The safe zone.
    pub safe_zone: SafeZone,
    /// JPEG quality.
    pub quality: u8,
    /// Default variable values.
    pub variables: Variables,
    /// What fills the canvas first.
    pub background: Background,
    /// Layers, back to front.
    pub layers: Vec<Layer>,
    /// Named versions of it to compare (`variants:`), each checked.
    pub variants: Vec<variants::Variant>,
    /// Usernames it tags (`mentions:`), placeholders filled per row.
    pub mentions: Vec<Pattern>,
    /// Time: set for a video template (docs/video-templates.md), `None` for a still.
    pub video: Option<timing::VideoSpec>,
}

impl Template {
    /// The variables a Story of this template reads, in layer order, then
    /// the other defaults it sets: what a form for one Story asks for. The
    /// built-ins (`today`, `row`, `template`) are left out.
    pub fn placeholders(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let used = self.layers.iter().flat_map(|l| match &l.kind {
            LayerKind::Text(t) => t.content.variables(),
            LayerKind::Image(i) => i.src.variables(),
            LayerKind::Rect(_) => Vec::new(),
        });
        for name in used
            .map(str::to_string)
            .chain(self.variables.keys().cloned())
        {
            if !matches!(name.as_str(), vars::TODAY | "row" | "template") && !names.contains(&name)
            {
                names.push(name);
            }
        }
        names
    }
}

/// A checked background.
#[derive(Debug, Clone)]
pub enum Background {
    /// One colour.
    Solid(Color),
    /// A linear gradient.
    Gradient(Gradient),
    /// A photo.
    Image(BackgroundImage),
}

/// A linear gradient with sorted stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient {
    /// CSS angle in degrees: 180 = top → bottom.
    pub angle: f32,
    /// (position 0–1, colour), sorted by position; at least two.
    pub stops: Vec<(f32, Color)>,
}

/// A background photo.
#[derive(Debug, Clone)]
pub struct BackgroundImage {
    /// Where the photo is.
    pub src: Pattern,
    /// Cover or contain.
    pub fit: Fit,
    /// Focus point in 0–1.
    pub focus: [f32; 2],
    /// Blur radius in px.
    pub blur: f32,
    /// 0–1 towards black.
    pub darken: f32,
    /// Colour shown around a `contain` photo.
    pub color: Color,
}

/// A checked layer.
#[derive(Clone)]
pub struct Layer {
    /// Name for messages.
    pub name: String,
    /// Where it is in the template file.
    pub pos: SourcePos,
    /// Its box on the canvas.
    pub rect: PxRect,
    /// May leave the safe zone.
    pub bleed: bool,
    /// What it draws.
    pub kind: LayerKind,
    /// When and how it shows in a video template (default: all the time, still).
    pub motion: timing::Motion,
}

/// What a layer draws.
#[derive(Clone)]
pub enum LayerKind {
    /// Text.
    Text(TextLayer),
    /// An image.
    Image(ImageLayer),
    /// A rectangle.
    Rect(RectLayer),
}

impl LayerKind {
    /// `text`, `image` or `rect`.
    pub fn label(&self) -> &'static str {
        match self {
            LayerKind::Text(_) => "text",
            LayerKind::Image(_) => "image",
            LayerKind::Rect(_) => "rect",
        }
    }
}

/// A checked text layer.
#[derive(Clone)]
pub struct TextLayer {
    /// The text with placeholders.
    pub content: Pattern,
    /// The resolved font (and the fallback chain behind it).
    pub font: crate::fonts::FontChoice,
    /// "Lato 700", for messages.
    pub font_name: String,
    /// Fixed or auto-fit size.
    pub size: TextSize,
    /// Horizontal alignment.
    pub align: HAlign,
    /// Vertical alignment.
    pub valign: VAlign,
    /// Fill colour.
    pub color: Color,
    /// 0–1.
    pub opacity: f32,
    /// Line height as a multiple of the size.
    pub line_height: f32,
    /// Extra px between letters.
    pub letter_spacing: f32,
    /// Most lines.
    pub max_lines: Option<u32>,
    /// Outline.
    pub stroke: Option<Stroke>,
    /// Drop shadow.
    pub shadow: Option<Shadow>,
    /// Emoji in colour or in the text colour.
    pub emoji: EmojiStyle,
    /// Characters no font can draw are allowed (left out) rather than an error.
    pub allow_missing_glyphs: bool,
}

impl TextLayer {
    /// How far stroke and shadow reach outside the text box: left, top, right, bottom px.
    pub fn effect_reach(&self) -> [u32; 4] {
        let s = self.stroke.as_ref().map_or(0.0, |s| s.width);
        let mut reach = [s; 4];
        if let Some(sh) = &self.shadow {
            let spread = s + 2.0 * sh.blur;
            reach[0] = reach[0].max(spread - sh.dx);
            reach[1] = reach[1].max(spread - sh.dy);
            reach[2] = reach[2].max(spread + sh.dx);
            reach[3] = reach[3].max(spread + sh.dy);
        }
        reach.map(|r| r.max(0.0).ceil() as u32)
    }

    /// Lays `text` out in `rect` with this layer's font, size and setting
    /// (measurement only; the renderer draws the block).
    pub fn layout(&self, text: &str, rect: PxRect) -> Result<TextBlock, LayoutError> {
        let set = TextSetting {
            line_height: self.line_height,
            letter_spacing: self.letter_spacing,
            max_lines: self.max_lines,
        };
        match self.size {
            TextSize::Fixed(px) => layout_fixed(&self.font, text, px, &set, rect.w, rect.h),
            TextSize::Fit { min, max } => {
                layout_fit(&self.font, text, min, max, &set, rect.w, rect.h)
            }
        }
    }
}

/// Text outline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stroke {
    /// Width in px.
    pub width: f32,
    /// Colour.
    pub color: Color,
}

/// Drop shadow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shadow {
    /// Offset right, px.
    pub dx: f32,
    /// Offset down, px.
    pub dy: f32,
    /// Blur radius, px.
    pub blur: f32,
    /// Colour.
    pub color: Color,
}

/// A checked image layer.
#[derive(Debug, Clone)]
pub struct ImageLayer {
    /// Where the image is.
    pub src: Pattern,
    /// How it fills the box.
    pub fit: Fit,
    /// Focus point in 0–1 for cover.
    pub focus: [f32; 2],
    /// 0–1.
    pub opacity: f32,
    /// Corner radius, px.
    pub radius: f32,
}

/// A checked rectangle layer.
#[derive(Debug, Clone, Copy)]
pub struct RectLayer {
    /// Fill.
    pub color: Color,
    /// 0–1.
    pub opacity: f32,
    /// Corner radius, px.
    pub radius: f32,
}

/// A template that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("{path}: cannot read template: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The YAML, the schema or a check failed at a place in the file.
    #[error("{}", located(path, *pos, message))]
    Invalid {
        /// The file.
        path: String,
        /// Where.
        pos: SourcePos,
        /// Which kind of problem it is.
        problem: Problem,
        /// What is wrong and what to do.
        message: String,
    },
}

/// The kinds of template problem (the validator reports each under its own rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Problem {
    /// YAML syntax, unknown keys, wrong types or values out of range.
    #[default]
    Schema,
    /// A layer leaves the safe zone.
    SafeZone,
    /// A font family or weight that is not there.
    Font,
    /// An image the template names is missing or outside its directory.
    Asset,
    /// Fixed text does not fit its box.
    TextFit,
    /// Fixed text has a character no bundled font can draw.
    Glyph,
}

/// `*.yaml` / `*.yml` files in `dir`, sorted; or `[path]` when it is a file.
pub fn discover(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    found.sort();
    Ok(found)
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("layers", &self.layers.len())
            .finish()
    }
}

/// The JSON Schema of the template format, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(schema::RawTemplate);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
