//! A video template's layers over moving pictures: a prepared [`Scene`] →
//! sprites drawn by the renderer (each run of layers that never change is
//! drawn once into one sprite; a moving layer once at rest, and again only
//! for the frames where it scales or types), then blended onto each frame
//! at the pose its [`Motion`] gives for that second. Pure: frames come in
//! as planes.

use image::{RgbImage, RgbaImage};

use super::overlay::{Planes, Sprite};
use storyforge_story::render::{self, Paint, Scene, SceneBackground, SceneLayer};
use storyforge_story::template::timing::{Motion, Pose};
use storyforge_story::template::{Color, PxRect, Template};

/// Draws `layers` (canvas coordinates) into a premultiplied RGBA picture of
/// the canvas part `area`: drawn once over black and once over white, the
/// difference is the coverage, so every paint of the renderer (text with
/// stroke and shadow, rounded images, rects) comes out exactly as in a still.
pub fn draw_rgba(layers: &[SceneLayer], area: PxRect) -> RgbaImage {
    let shifted: Vec<SceneLayer> = layers
        .iter()
        .map(|l| SceneLayer {
            rect: PxRect {
                x: l.rect.x - area.x,
                y: l.rect.y - area.y,
                ..l.rect
            },
            ..l.clone()
        })
        .collect();
    let over = |c: Color| {
        render::draw(&Scene {
            width: area.w,
            height: area.h,
            safe: PxRect {
                x: 0,
                y: 0,
                w: area.w,
                h: area.h,
            },
            background: SceneBackground::Solid(c),
            layers: shifted.clone(),
        })
    };
    let black = over(Color::BLACK);
    let white = over(Color::WHITE);
    RgbaImage::from_fn(area.w, area.h, |x, y| {
        let b = black.get_pixel(x, y).0;
        let w = white.get_pixel(x, y).0;
        let spread: u32 = (0..3).map(|c| u32::from(w[c].saturating_sub(b[c]))).sum();
        let a = 255 - ((spread + 1) / 3).min(255) as u8;
        let clamp = |c: u8| c.min(a);
        image::Rgba([clamp(b[0]), clamp(b[1]), clamp(b[2]), a])
    })
}

/// Where a layer can paint: its box, grown by a text's stroke and shadow.
fn extent(layer: &SceneLayer) -> PxRect {
    match &layer.paint {
        Paint::Text { style, .. } => {
            let [l, t, r, b] = style.effect_reach();
            layer.rect.grow(l, t, r, b)
        }
        _ => layer.rect,
    }
}

fn union(a: PxRect, b: PxRect) -> PxRect {
    let (x, y) = (a.x.min(b.x), a.y.min(b.y));
    let (r, bt) = (a.right().max(b.right()), a.bottom().max(b.bottom()));
    PxRect {
        x,
        y,
        w: (r - x) as u32,
        h: (bt - y) as u32,
    }
}

fn sprite_of(layers: &[SceneLayer]) -> Option<Sprite> {
    let area = layers.iter().map(extent).reduce(union)?;
    Sprite::from_premultiplied(&draw_rgba(layers, area), area.x, area.y)
}

/// The first `n` glyphs of a text layer in reading order (right to left on
/// a right-to-left line), the rest left out: the typewriter's frame.
fn typed(layer: &SceneLayer, n: usize) -> SceneLayer {
    let mut out = layer.clone();
    if let Paint::Text { block, .. } = &mut out.paint {
        let mut left = n;
        for line in &mut block.lines {
            let keep = left.min(line.glyphs.len());
            left -= keep;
            if line.rtl {
                let drop = line.glyphs.len() - keep;
                line.glyphs.drain(..drop);
            } else {
                line.glyphs.truncate(keep);
            }
        }
    }
    out
}

fn glyph_count(layer: &SceneLayer) -> usize {
    match &layer.paint {
        Paint::Text { block, .. } => block.lines.iter().map(|l| l.glyphs.len()).sum(),
        _ => 0,
    }
}

/// A layer that moves: its sprite at rest, and the last re-drawn frame.
struct Moving {
    layer: SceneLayer,
    motion: Motion,
    rest: Option<Sprite>,
    /// (scale in 1/1000, glyphs shown) → the sprite drawn for it.
    last: Option<((u32, usize), Option<Sprite>)>,
    /// The layer drawn at rest over its extent, for scaling (drawn once).
    rest_rgba: Option<(PxRect, RgbaImage)>,
}

impl Moving {
    fn sprite_for(&mut self, pose: &Pose) -> Option<&Sprite> {
        let glyphs = glyph_count(&self.layer);
        let shown = if glyphs > 0 {
            (pose.reveal * glyphs as f32).ceil() as usize
        } else {
            0
        };
        let scale = (pose.scale * 1000.0).round() as u32;
        if scale == 1000 && shown == glyphs {
            return self.rest.as_ref();
        }
        let key = (scale, shown);
        if self.last.as_ref().map(|(k, _)| *k) != Some(key) {
            let base = typed(&self.layer, shown);
            let sprite = if scale == 1000 {
                sprite_of(std::slice::from_ref(&base))
            } else if shown == glyphs {
                let (area, full) = self.rest_rgba.get_or_insert_with(|| {
                    let area = extent(&self.layer);
                    (area, draw_rgba(std::slice::from_ref(&self.layer), area))
                });
                scaled(*area, full, pose.scale)
            } else {
                let area = extent(&base);
                scaled(
                    area,
                    &draw_rgba(std::slice::from_ref(&base), area),
                    pose.scale,
                )
            };
            self.last = Some((key, sprite));
        }
        self.last.as_ref().and_then(|(_, s)| s.as_ref())
    }
}

/// A layer's picture over `area`, resized about its centre.
fn scaled(area: PxRect, full: &RgbaImage, scale: f32) -> Option<Sprite> {
    let w = ((area.w as f32 * scale).round() as u32).max(1);
    let h = ((area.h as f32 * scale).round() as u32).max(1);
    let (small, _) = render::compose::fit_image(
        full,
        w,
        h,
        storyforge_story::template::Fit::Fill,
        [0.5, 0.5],
    );
    let x = area.x + (area.w as i32 - w as i32) / 2;
    let y = area.y + (area.h as i32 - h as i32) / 2;
    Sprite::from_premultiplied(&small, x, y)
}

enum Item {
    Still(Option<Sprite>),
    Moving(Box<Moving>),
}

/// The layers of one video Story, ready to put on frames.
pub struct Compositor {
    items: Vec<Item>,
    duration: f64,
    width: u32,
    height: u32,
}

impl Compositor {
    /// Draws the sprites of `scene` (prepared from `template`) for a Story
    /// of `duration` seconds. The scene's background is not drawn: the
    /// frames are the background.
    pub fn new(template: &Template, scene: &Scene, duration: f64) -> Compositor {
        let mut items = Vec::new();
        let mut run: Vec<SceneLayer> = Vec::new();
        for (layer, checked) in scene.layers.iter().zip(&template.layers) {
            if checked.motion.is_animated() {
                if !run.is_empty() {
                    items.push(Item::Still(sprite_of(&run)));
                    run.clear();
                }
                items.push(Item::Moving(Box::new(Moving {
                    rest: sprite_of(std::slice::from_ref(layer)),
                    layer: layer.clone(),
                    motion: checked.motion,
                    last: None,
                    rest_rgba: None,
                })));
            } else {
                run.push(layer.clone());
            }
        }
        if !run.is_empty() {
            items.push(Item::Still(sprite_of(&run)));
        }
        Compositor {
            items,
            duration,
            width: scene.width,
            height: scene.height,
        }
    }

    /// Blends every layer as it is at second `t` onto a frame.
    pub fn apply(&mut self, t: f64, planes: &mut Planes<'_>) {
        let size = (planes.width, planes.height);
        self.apply_plane(t, 0, planes.y, planes.strides[0], size);
        self.apply_plane(t, 1, planes.u, planes.strides[1], size);
        self.apply_plane(t, 2, planes.v, planes.strides[2], size);
    }

    /// [`Compositor::apply`] for one plane (0 Y, 1 Cb, 2 Cr) of a `size`
    /// frame whose rows are `stride` bytes apart.
    pub fn apply_plane(
        &mut self,
        t: f64,
        plane: usize,
        data: &mut [u8],
        stride: usize,
        size: (u32, u32),
    ) {
        let (w, h, d) = (self.width, self.height, self.duration);
        for item in &mut self.items {
            match item {
                Item::Still(Some(s)) => s.blend_plane(plane, data, stride, size, (0.0, 0.0), 1.0),
                Item::Still(None) => {}
                Item::Moving(m) => {
                    let pose = m.motion.pose(t, d, w, h);
                    if pose.alpha <= 0.0 {
                        continue;
                    }
                    if let Some(s) = m.sprite_for(&pose) {
                        s.blend_plane(plane, data, stride, size, (pose.dx, pose.dy), pose.alpha);
                    }
                }
            }
        }
    }
}

/// A still background over the Story: the renderer's background, zoomed
/// from `from` to `to` about its centre over `duration` seconds.
pub struct StillBackground {
    canvas: RgbImage,
    zoom: (f32, f32),
    duration: f64,
}

impl StillBackground {
    /// The background of `scene`, drawn once.
    pub fn new(scene: &Scene, zoom: Option<(f32, f32)>, duration: f64) -> StillBackground {
        let bare = Scene {
            layers: Vec::new(),
            ..scene.clone()
        };
        StillBackground {
            canvas: render::draw(&bare),
            zoom: zoom.unwrap_or((1.0, 1.0)),
            duration,
        }
    }

    /// True when every frame is the same picture.
    pub fn is_fixed(&self) -> bool {
        (self.zoom.0 - self.zoom.1).abs() < 1e-6 && (self.zoom.0 - 1.0).abs() < 1e-6
    }

    /// The picture at second `t`.
    pub fn frame(&self, t: f64) -> RgbImage {
        if self.is_fixed() {
            return self.canvas.clone();
        }
        let p = (t / self.duration.max(1e-6)).clamp(0.0, 1.0) as f32;
        let z = self.zoom.0 + (self.zoom.1 - self.zoom.0) * p;
        let (w, h) = self.canvas.dimensions();
        let (cw, ch) = (f64::from(w) / f64::from(z), f64::from(h) / f64::from(z));
        let (left, top) = ((f64::from(w) - cw) / 2.0, (f64::from(h) - ch) / 2.0);
        let mut dst = RgbImage::new(w, h);
        let opts = fast_image_resize::ResizeOptions::new()
            .resize_alg(fast_image_resize::ResizeAlg::Convolution(
                fast_image_resize::FilterType::Bilinear,
            ))
            .crop(left, top, cw, ch);
        // Sizes are non-zero and the pixel types match, so this cannot fail;
        // a failure would show the unzoomed picture.
        if fast_image_resize::Resizer::new()
            .resize(&self.canvas, &mut dst, &opts)
            .is_err()
        {
            return self.canvas.clone();
        }
        dst
    }
}
