//! The renderer: a checked [`Template`] + variables + loaded images → an RGB
//! canvas → JPEG bytes. Pure: images come in through a loader the caller
//! supplies, nothing here reads files, the clock or the environment.
//!
//! Two steps, resvg style: [`prepare`] fills placeholders, lays text out and
//! fetches images into a [`Scene`] (this is where bad input fails), then
//! [`draw`] paints the scene and cannot fail.

pub mod compose;
pub mod encode;
pub mod glyphs;
pub mod photo;
pub mod preview;

use std::sync::Arc;

use image::RgbImage;

use crate::assets::AssetError;
use crate::template::vars::FillError;
use crate::template::{
    Background, Color, Fit, Gradient, ImageLayer, LayerKind, Pattern, PxRect, RectLayer, SourcePos,
    Template, TextLayer, Variables,
};
use crate::text::{missing_message, LayoutError, TextBlock};

pub use encode::{encode_jpeg, encode_png, EncodeError, Jpeg};

/// Where an image `src` came from, which decides the directory it resolves in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetOrigin {
    /// Written in the template: resolves beside the template.
    Template,
    /// Filled from a variable (a feed value): resolves beside the feed.
    Variable,
}

/// Fetches a decoded image for a filled `src`.
pub type ImageLoader<'a> =
    dyn Fn(&str, AssetOrigin) -> Result<Arc<image::RgbaImage>, AssetError> + 'a;

/// Why a Story could not be prepared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// A placeholder could not be filled.
    #[error("layer '{layer}': {source}")]
    Variable {
        /// Layer name ("background", "output" or a layer's name).
        layer: String,
        /// Where the layer is in the template.
        pos: SourcePos,
        /// What was missing.
        #[source]
        source: FillError,
    },
    /// Text does not fit.
    #[error("layer '{layer}': {source} (font {font}; variables: {variables}); shorten it, widen the box or lower the minimum size")]
    Text {
        /// Layer name.
        layer: String,
        /// Where the layer is in the template.
        pos: SourcePos,
        /// The font used.
        font: String,
        /// Variables the text reads, comma-separated (or "none").
        variables: String,
        /// The error underneath, kept as the source.
        #[source]
        source: LayoutError,
    },
    /// Text with characters that no bundled font can draw.
    #[error("layer '{layer}': {}", missing_message(chars))]
    MissingGlyph {
        /// Layer name.
        layer: String,
        /// Where the layer is in the template.
        pos: SourcePos,
        /// The characters, once each, in text order.
        chars: Vec<char>,
    },
    /// An image could not be loaded.
    #[error("layer '{layer}': {source}")]
    Asset {
        /// Layer name.
        layer: String,
        /// Where the layer is in the template.
        pos: SourcePos,
        /// The error underneath, kept as the source.
        #[source]
        source: AssetError,
    },
}

impl RenderError {
    /// Where in the template the failing part is.
    pub fn pos(&self) -> SourcePos {
        match self {
            RenderError::Variable { pos, .. }
            | RenderError::Text { pos, .. }
            | RenderError::MissingGlyph { pos, .. }
            | RenderError::Asset { pos, .. } => *pos,
        }
    }
}

/// A Story ready to paint.
#[derive(Clone)]
pub struct Scene {
    /// Canvas width.
    pub width: u32,
    /// Canvas height.
    pub height: u32,
    /// The safe area.
    pub safe: PxRect,
    /// What fills the canvas first.
    pub background: SceneBackground,
    /// Layers, back to front.
    pub layers: Vec<SceneLayer>,
}

/// A resolved background.
#[derive(Clone)]
pub enum SceneBackground {
    /// One colour.
    Solid(Color),
    /// A gradient.
    Gradient(Gradient),
    /// A photo.
    Image {
        /// The photo.
        image: Arc<image::RgbaImage>,
        /// Cover or contain.
        fit: Fit,
        /// Focus point 0–1.
        focus: [f32; 2],
        /// Blur radius px.
        blur: f32,
        /// Darkening 0–1.
        darken: f32,
        /// Colour around a contained photo.
        color: Color,
    },
}

/// A resolved layer.
#[derive(Clone)]
pub struct SceneLayer {
    /// Name for previews.
    pub name: String,
    /// Its box.
    pub rect: PxRect,
    /// What to paint.
    pub paint: Paint,
}

/// What a resolved layer paints.
#[derive(Clone)]
pub enum Paint {
    /// Laid-out text.
    Text {
        /// The lines.
        block: TextBlock,
        /// Style.
        style: TextLayer,
    },
    /// An image.
    Image {
        /// The decoded image.
        image: Arc<image::RgbaImage>,
        /// Style.
        style: ImageLayer,
    },
    /// A rectangle.
    Rect(RectLayer),
}

fn fill(
    pattern: &Pattern,
    vars: &Variables,
    layer: &str,
    pos: SourcePos,
) -> Result<String, RenderError> {
    pattern.fill(vars).map_err(|source| RenderError::Variable {
        layer: layer.to_string(),
        pos,
        source,
    })
}

fn load_src(
    src: &Pattern,
    vars: &Variables,
    layer: &str,
    pos: SourcePos,
    load: &ImageLoader<'_>,
) -> Result<Arc<image::RgbaImage>, RenderError> {
    let path = fill(src, vars, layer, pos)?;
    let origin = if src.is_dynamic() {
        AssetOrigin::Variable
    } else {
        AssetOrigin::Template
    };
    load(&path, origin).map_err(|source| RenderError::Asset {
        layer: layer.to_string(),
        pos,
        source,
    })
}

/// Fills placeholders, lays out text and loads images: template → [`Scene`].
pub fn prepare(
    template: &Template,
    vars: &Variables,
    load: &ImageLoader<'_>,
) -> Result<Scene, RenderError> {
    let background = match &template.background {
        Background::Solid(c) => SceneBackground::Solid(*c),
        Background::Gradient(g) => SceneBackground::Gradient(g.clone()),
        Background::Image(bg) => SceneBackground::Image {
            image: load_src(&bg.src, vars, "background", SourcePos::default(), load)?,
            fit: bg.fit,
            focus: bg.focus,
            blur: bg.blur,
            darken: bg.darken,
            color: bg.color,
        },
    };
    let mut layers = Vec::with_capacity(template.layers.len());
    for layer in &template.layers {
        let paint = match &layer.kind {
            LayerKind::Text(t) => {
                let text = fill(&t.content, vars, &layer.name, layer.pos)?;
                let block = t
                    .layout(&text, layer.rect)
                    .map_err(|source| RenderError::Text {
                        layer: layer.name.clone(),
                        pos: layer.pos,
                        font: t.font_name.clone(),
                        variables: match t.content.variables() {
                            v if v.is_empty() => "none".to_string(),
                            v => v.join(", "),
                        },
                        source,
                    })?;
                if !t.allow_missing_glyphs && !block.missing.is_empty() {
                    return Err(RenderError::MissingGlyph {
                        layer: layer.name.clone(),
                        pos: layer.pos,
                        chars: block.missing,
                    });
                }
                Paint::Text {
                    block,
                    style: t.clone(),
                }
            }
            LayerKind::Image(i) => Paint::Image {
                image: load_src(&i.src, vars, &layer.name, layer.pos, load)?,
                style: i.clone(),
            },
            LayerKind::Rect(r) => Paint::Rect(*r),
        };
        layers.push(SceneLayer {
            name: layer.name.clone(),
            rect: layer.rect,
            paint,
        });
    }
    Ok(Scene {
        width: template.width,
        height: template.height,
        safe: template.safe_zone.rect(template.width, template.height),
        background,
        layers,
    })
}

/// Paints a scene. Cannot fail.
pub fn draw(scene: &Scene) -> RgbImage {
    let mut canvas = RgbImage::new(scene.width, scene.height);
    paint_background(&mut canvas, scene);
    for layer in &scene.layers {
        paint_layer(&mut canvas, layer);
    }
    canvas
}

/// The part of a template that every row shares: the background and the
/// leading layers that read no variables, painted once and copied per Story.
pub struct Base {
    canvas: RgbImage,
    layers: usize,
}

/// How many leading layers of `template` (after a static background) read no
/// variables; `None` when the background itself depends on a variable.
pub fn static_prefix(template: &Template) -> Option<usize> {
    if let Background::Image(bg) = &template.background {
        if bg.src.is_dynamic() {
            return None;
        }
    }
    Some(
        template
            .layers
            .iter()
            .take_while(|l| match &l.kind {
                LayerKind::Text(t) => !t.content.is_dynamic(),
                LayerKind::Image(i) => !i.src.is_dynamic(),
                LayerKind::Rect(_) => true,
            })
            .count(),
    )
}

impl Base {
    /// Paints the shared part of `scene` (a scene of `template`).
    pub fn new(template: &Template, scene: &Scene) -> Option<Base> {
        let layers = static_prefix(template)?;
        let mut canvas = RgbImage::new(scene.width, scene.height);
        paint_background(&mut canvas, scene);
        for layer in scene.layers.iter().take(layers) {
            paint_layer(&mut canvas, layer);
        }
        Some(Base { canvas, layers })
    }

    /// Paints `scene` (of the same template) over a copy of the base: the
    /// same pixels as [`draw`], without redoing the shared part.
    pub fn draw(&self, scene: &Scene) -> RgbImage {
        let mut canvas = self.canvas.clone();
        for layer in scene.layers.iter().skip(self.layers) {
            paint_layer(&mut canvas, layer);
        }
        canvas
    }
}

fn paint_background(canvas: &mut RgbImage, scene: &Scene) {
    match &scene.background {
        SceneBackground::Solid(c) => compose::fill(canvas, *c),
        SceneBackground::Gradient(g) => compose::gradient(canvas, g),
        SceneBackground::Image {
            image,
            fit,
            focus,
            blur,
            darken,
            color,
        } => {
            compose::fill(canvas, *color);
            let (mut img, off) = compose::fit_image(image, scene.width, scene.height, *fit, *focus);
            if *blur > 0.0 {
                img = compose::blur_rgba(&img, *blur);
            }
            if *darken > 0.0 {
                compose::darken(&mut img, *darken);
            }
            compose::blend_image(canvas, &img, off, 1.0, None);
        }
    }
}

fn paint_layer(canvas: &mut RgbImage, layer: &SceneLayer) {
    let r = layer.rect;
    match &layer.paint {
        Paint::Rect(rect) => compose::fill_rect(canvas, r, rect.color, rect.opacity, rect.radius),
        Paint::Image { image, style } => {
            let (img, off) = compose::fit_image(image, r.w, r.h, style.fit, style.focus);
            let mask = (style.radius > 0.0)
                .then(|| compose::rounded_rect(img.width(), img.height(), style.radius));
            compose::blend_image(
                canvas,
                &img,
                (r.x + off.0, r.y + off.1),
                style.opacity,
                mask.as_ref(),
            );
        }
        Paint::Text { block, style } => glyphs::draw_text(canvas, block, style, r),
    }
}

/// [`prepare`] then [`draw`].
pub fn render(
    template: &Template,
    vars: &Variables,
    load: &ImageLoader<'_>,
) -> Result<RgbImage, RenderError> {
    Ok(draw(&prepare(template, vars, load)?))
}
