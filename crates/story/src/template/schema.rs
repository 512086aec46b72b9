//! The template file format as written in YAML: raw serde structs (unknown
//! keys refused) that also generate the JSON Schema `storyforge schema`
//! prints. Nothing here is checked beyond its type; see `check.rs`.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::color::Color;

/// A Story template.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    /// Editors' schema reference; ignored by storyforge.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// Name used in messages and the default output name. Default: the file stem.
    pub name: Option<String>,
    /// Free text for people.
    pub description: Option<String>,
    /// Output file name pattern, e.g. `"{{date}}-{{title | slug}}.jpg"`.
    /// Default: `"{{template}}-{{row}}.jpg"` with a feed, `"{{template}}.jpg"` without.
    pub output: Option<String>,
    /// Canvas size in px. Default: 1080×1920.
    pub canvas: Option<RawCanvas>,
    /// Area kept clear of Instagram's UI. Default: top 240, bottom 240, side 0 (px).
    pub safe_zone: Option<RawSafeZone>,
    /// JPEG quality 1–100. Default: 90.
    pub quality: Option<u8>,
    /// Default variable values; feed rows override them.
    #[serde(default)]
    pub variables: BTreeMap<String, Scalar>,
    /// What fills the canvas first. Default: black.
    #[schemars(with = "Option<RawBackground>")]
    pub background: Option<Spanned<RawBackground>>,
    /// Layers drawn in order, first at the back.
    #[serde(default)]
    #[schemars(with = "Vec<RawLayer>")]
    pub layers: Vec<Spanned<RawLayer>>,
    /// Named versions to compare (see `variants.rs`). Default: none.
    #[serde(default)]
    pub variants: Vec<super::variants::RawVariant>,
    /// Usernames to tag on every Story of this template (`@` optional,
    /// placeholders such as `"{{guest}}"` filled per row), merged with the
    /// job entry's `mentions`. Default: none.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// Length of a video Story in seconds, 3–60; setting it makes a video
    /// template (docs/video-templates.md). Default: the background clip's own, at most 60.
    #[schemars(with = "Option<f64>")]
    pub duration: Option<Spanned<f64>>,
    /// Music mixed with the clip's own sound (makes a video template).
    #[schemars(with = "Option<super::timing::RawAudio>")]
    pub audio: Option<Spanned<super::timing::RawAudio>>,
}

/// Canvas size.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCanvas {
    /// Width in px. Default: 1080.
    pub width: u32,
    /// Height in px. Default: 1920.
    pub height: u32,
}

/// The safe zone: every layer must lie inside it unless it says `bleed: true`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSafeZone {
    /// Excluded band at the top. Default: 240 px.
    pub top: Option<Length>,
    /// Excluded band at the bottom. Default: 240 px.
    pub bottom: Option<Length>,
    /// Excluded margin on the left and right. Default: 0 px.
    pub side: Option<Length>,
}

/// A variable value: any YAML scalar, used as text.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// true / false.
    Bool(bool),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(s) => f.write_str(s),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The canvas background: exactly one of `color`, `gradient`, `image`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RawBackground {
    /// A solid colour.
    Color(Color),
    /// A linear gradient.
    Gradient(RawGradient),
    /// A photo filling the canvas.
    Image(RawBackgroundImage),
    /// A video clip under the layers (makes a video template).
    Video(super::timing::RawBackgroundVideo),
}

/// A linear gradient.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGradient {
    /// Direction in degrees, CSS style: 180 runs top → bottom, 90 left → right. Default: 180.
    pub angle: Option<f32>,
    /// Colour stops, `"#ff5f6d"` or `"#ff5f6d 40%"`; stops without a position are spread evenly.
    pub stops: Vec<String>,
}

/// A background photo.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackgroundImage {
    /// Path relative to the template, or a `{{variable}}` holding one.
    pub src: String,
    /// `cover` (fill, cropping) or `contain` (fit, showing `color` around). Default: cover.
    pub fit: Option<Fit>,
    /// Point kept in view when cropping, `[x, y]` in 0–1. Default: [0.5, 0.5].
    pub focus: Option<[f32; 2]>,
    /// Gaussian blur radius in px. Default: 0.
    pub blur: Option<f32>,
    /// Darkening 0–1 (0.4 = 40 % towards black). Default: 0.
    pub darken: Option<f32>,
    /// Colour around a `contain` photo. Default: black.
    pub color: Option<Color>,
    /// A slow zoom over the Story (makes a video template). Default: none.
    pub zoom: Option<super::timing::RawZoom>,
}

/// How an image fills its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Fill the box, cropping around the focus point.
    Cover,
    /// Fit inside the box, keeping all of the image.
    Contain,
    /// Stretch to the box.
    Fill,
}

/// A layer: exactly one of `text`, `image`, `rect`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RawLayer {
    /// Text in a box.
    Text(RawText),
    /// A logo or photo in a box.
    Image(RawImage),
    /// A filled rectangle (panels, text backdrops).
    Rect(RawRect),
}

/// A box on the canvas: px (`120`, `"120px"`) or percent of the canvas (`"50%"`).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBox {
    /// Left edge.
    pub x: Length,
    /// Top edge.
    pub y: Length,
    /// Width.
    pub w: Length,
    /// Height.
    pub h: Length,
}

/// A text layer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawText {
    /// Name used in messages. Default: `layer N`.
    pub name: Option<String>,
    /// The text, with `{{variable | filter}}` placeholders; `\n` starts a new line.
    pub content: String,
    /// Font family and weight. Default: Lato regular.
    pub font: Option<RawFont>,
    /// Size in px (`64`), or an auto-fit range (`{min: 40, max: 120}`): the largest size that fits.
    pub size: TextSize,
    /// Where the text goes.
    #[serde(rename = "box")]
    pub bbox: RawBox,
    /// Horizontal alignment; `start` and `end` follow the paragraph's direction
    /// (`start` is the right edge of Arabic or Hebrew text). Default: start.
    pub align: Option<HAlign>,
    /// Vertical alignment in the box. Default: top.
    pub valign: Option<VAlign>,
    /// Text colour. Default: white.
    pub color: Option<Color>,
    /// Line height as a multiple of the size. Default: 1.2.
    pub line_height: Option<f32>,
    /// Extra px between letters (may be negative). Default: 0.
    pub letter_spacing: Option<f32>,
    /// Most lines; longer text ends in "…" (fixed size) or shrinks (auto-fit). Default: as many as fit.
    pub max_lines: Option<u32>,
    /// Outline around the letters.
    pub stroke: Option<RawStroke>,
    /// Drop shadow.
    pub shadow: Option<RawShadow>,
    /// Opacity 0–1. Default: 1.
    pub opacity: Option<f32>,
    /// Allow the layer outside the safe zone. Default: false.
    pub bleed: Option<bool>,
    /// When a layer of a video template shows, in seconds. Default: all the time.
    pub at: Option<super::timing::RawAt>,
    /// How it comes in (video templates). Default: it just appears.
    pub enter: Option<super::timing::RawTransition>,
    /// How it goes out (video templates). Default: it just disappears.
    pub exit: Option<super::timing::RawTransition>,
    /// Emoji in their own colours, or drawn in the text colour. Default: color.
    pub emoji: Option<EmojiStyle>,
    /// A character no bundled font can draw: an error (SF309), or `allow` to
    /// leave it out silently. Default: error.
    pub missing_glyphs: Option<MissingGlyphs>,
}

/// How a text layer draws emoji.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EmojiStyle {
    /// In colour (Noto Color Emoji).
    #[default]
    Color,
    /// Their shape in the layer's colour.
    Mono,
}

/// What a character that no bundled font has means for a text layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MissingGlyphs {
    /// An error naming the character (SF309 glyph-missing).
    #[default]
    Error,
    /// Left out of the drawing without a word.
    Allow,
}

/// A font family and weight from `fonts/` (or `--fonts DIR`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFont {
    /// Family name, e.g. `Lato`, `DejaVu Serif`. Default: Lato.
    pub family: Option<String>,
    /// Weight: 100–900 or thin, light, regular, medium, semibold, bold, heavy, black. Default: regular.
    pub weight: Option<Weight>,
}

/// A font weight by number or name.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Weight {
    /// 100–900.
    Number(u16),
    /// thin, light, regular, medium, semibold, bold, heavy, black.
    Name(String),
}

/// Text outline.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStroke {
    /// Width in px (1–40).
    pub width: f32,
    /// Colour. Default: black.
    pub color: Option<Color>,
}

/// Drop shadow.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawShadow {
    /// Offset right in px. Default: 0.
    pub dx: Option<f32>,
    /// Offset down in px. Default: 4.
    pub dy: Option<f32>,
    /// Blur radius in px. Default: 8.
    pub blur: Option<f32>,
    /// Colour. Default: `#00000099`.
    pub color: Option<Color>,
}

/// Horizontal alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HAlign {
    /// Flush left.
    Left,
    /// Centred.
    Center,
    /// Flush right.
    Right,
    /// Flush with where the paragraph starts: left for left-to-right text, right for right-to-left.
    Start,
    /// Flush with where the paragraph ends: right for left-to-right text, left for right-to-left.
    End,
}

/// Vertical alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VAlign {
    /// At the top of the box.
    Top,
    /// Centred in the box.
    Middle,
    /// At the bottom of the box.
    Bottom,
}

/// An image layer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    /// Name used in messages. Default: `layer N`.
    pub name: Option<String>,
    /// Path relative to the template (or feed, for a `{{variable}}`); JPEG, PNG or WebP.
    pub src: String,
    /// Where the image goes.
    #[serde(rename = "box")]
    pub bbox: RawBox,
    /// How it fills the box. Default: contain.
    pub fit: Option<Fit>,
    /// Point kept in view with `cover`, `[x, y]` in 0–1. Default: [0.5, 0.5].
    pub focus: Option<[f32; 2]>,
    /// Opacity 0–1. Default: 1.
    pub opacity: Option<f32>,
    /// Corner radius in px. Default: 0.
    pub radius: Option<f32>,
    /// Allow the layer outside the safe zone. Default: false.
    pub bleed: Option<bool>,
    /// When a layer of a video template shows, in seconds. Default: all the time.
    pub at: Option<super::timing::RawAt>,
    /// How it comes in (video templates). Default: it just appears.
    pub enter: Option<super::timing::RawTransition>,
    /// How it goes out (video templates). Default: it just disappears.
    pub exit: Option<super::timing::RawTransition>,
}

/// A rectangle layer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRect {
    /// Name used in messages. Default: `layer N`.
    pub name: Option<String>,
    /// Where the rectangle goes.
    #[serde(rename = "box")]
    pub bbox: RawBox,
    /// Fill colour (its alpha multiplies `opacity`).
    pub color: Color,
    /// Opacity 0–1. Default: 1.
    pub opacity: Option<f32>,
    /// Corner radius in px. Default: 0.
    pub radius: Option<f32>,
    /// Allow the layer outside the safe zone. Default: false.
    pub bleed: Option<bool>,
    /// When a layer of a video template shows, in seconds. Default: all the time.
    pub at: Option<super::timing::RawAt>,
    /// How it comes in (video templates). Default: it just appears.
    pub enter: Option<super::timing::RawTransition>,
    /// How it goes out (video templates). Default: it just disappears.
    pub exit: Option<super::timing::RawTransition>,
}

/// A length: px, or percent of the canvas side it runs along.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Length {
    /// Pixels.
    Px(f32),
    /// Percent of the canvas width (x, w) or height (y, h).
    Percent(f32),
}

impl Length {
    /// Pixels along a side of `full` px.
    pub fn px(self, full: u32) -> f32 {
        match self {
            Length::Px(v) => v,
            Length::Percent(p) => p / 100.0 * full as f32,
        }
    }
}

impl<'de> Deserialize<'de> for Length {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Length;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a length: px (120 or \"120px\") or percent (\"50%\")")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Length, E> {
                Ok(Length::Px(v as f32))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Length, E> {
                Ok(Length::Px(v as f32))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Length, E> {
                if !v.is_finite() {
                    return Err(E::custom(format!("`{v}` is not a finite length")));
                }
                Ok(Length::Px(v as f32))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Length, E> {
                let t = v.trim();
                let (num, pct) = if let Some(n) = t.strip_suffix('%') {
                    (n, true)
                } else {
                    (t.strip_suffix("px").unwrap_or(t), false)
                };
                let n: f32 = num.trim().parse().map_err(|_| {
                    E::custom(format!(
                        "`{v}` is not a length: write px (120, \"120px\") or percent (\"50%\")"
                    ))
                })?;
                if !n.is_finite() {
                    return Err(E::custom(format!("`{v}` is not a finite length")));
                }
                Ok(if pct {
                    Length::Percent(n)
                } else {
                    Length::Px(n)
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Length {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Length".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "px (120 or \"120px\") or percent of the canvas (\"50%\")",
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": "^\\s*-?[0-9.]+\\s*(px|%)?\\s*$"}
            ]
        })
    }
}

/// A text size: fixed px, or an auto-fit range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TextSize {
    /// This size, always.
    Fixed(f32),
    /// The largest size in `min..=max` that fits the box.
    Fit {
        /// Smallest size tried; text that does not fit at it is an error.
        min: f32,
        /// Largest size tried.
        max: f32,
    },
}

impl<'de> Deserialize<'de> for TextSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TextSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size in px (64) or an auto-fit range ({min: 40, max: 120})")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TextSize, E> {
                Ok(TextSize::Fixed(v as f32))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TextSize, E> {
                Ok(TextSize::Fixed(v as f32))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TextSize, E> {
                Ok(TextSize::Fixed(v as f32))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TextSize, A::Error> {
                let (mut min, mut max) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "min" => min = Some(map.next_value::<f32>()?),
                        "max" => max = Some(map.next_value::<f32>()?),
                        other => {
                            return Err(de::Error::unknown_field(other, &["min", "max"]));
                        }
                    }
                }
                match (min, max) {
                    (Some(min), Some(max)) => Ok(TextSize::Fit { min, max }),
                    _ => Err(de::Error::custom(
                        "an auto-fit size needs both `min` and `max`, e.g. {min: 40, max: 120}",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for TextSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TextSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "px, or {min, max} to auto-fit the largest size that fits the box",
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["min", "max"],
                    "properties": {"min": {"type": "number"}, "max": {"type": "number"}}
                }
            ]
        })
    }
}
