//! A laid-out [`TextBlock`] → glyph images (swash: outlines, colour emoji
//! bitmaps) blended onto the canvas: fill, stroke and shadow masks. The
//! fill is clipped to the layer's box grown by the effects' reach, so text
//! never paints outside the area the safe-zone check measured.

use cosmic_text::{fontdb, CacheKey, CacheKeyFlags, SwashContent, SwashImage};
use image::{GrayImage, RgbImage};
use imageproc::morphology::{grayscale_dilate, Mask};

use super::compose::{blend_mask, mix};
use crate::fonts::FontChoice;
use crate::template::{EmojiStyle, HAlign, PxRect, TextLayer, VAlign};
use crate::text::engine::with_engine;
use crate::text::TextBlock;

/// Where a line's glyphs start and its baseline, relative to the box.
/// `start` and `end` follow each paragraph's direction.
pub fn line_origins(
    block: &TextBlock,
    w: u32,
    h: u32,
    align: HAlign,
    valign: VAlign,
) -> Vec<(f32, f32)> {
    let y0 = match valign {
        VAlign::Top => 0.0,
        VAlign::Middle => (h as f32 - block.height()) / 2.0,
        VAlign::Bottom => h as f32 - block.height(),
    };
    block
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let right = match align {
                HAlign::Left => Some(false),
                HAlign::Right => Some(true),
                HAlign::Center => None,
                HAlign::Start => Some(line.rtl),
                HAlign::End => Some(!line.rtl),
            };
            let x = match right {
                Some(false) => 0.0,
                Some(true) => w as f32 - line.width,
                None => (w as f32 - line.width) / 2.0,
            };
            let top = y0 + i as f32 * block.line_advance;
            (x, top + line.baseline)
        })
        .collect()
}

/// Calls `put(x, y, image)` for each glyph image of `block` (its top-left
/// corner at x, y), with the box's origin at `origin` in the caller's space.
fn for_each_glyph(
    block: &TextBlock,
    font: &FontChoice,
    rect: PxRect,
    align: HAlign,
    valign: VAlign,
    origin: (f32, f32),
    mut put: impl FnMut(i32, i32, &SwashImage),
) {
    let weight = fontdb::Weight(font.weight);
    with_engine(&font.library, |fs, cache| {
        for (line, (lx, baseline)) in block
            .lines
            .iter()
            .zip(line_origins(block, rect.w, rect.h, align, valign))
        {
            for g in &line.glyphs {
                let pos = (origin.0 + lx + g.x, origin.1 + baseline + g.y);
                let (key, ix, iy) = CacheKey::new(
                    g.font,
                    g.id,
                    block.px,
                    pos,
                    weight,
                    CacheKeyFlags::DISABLE_HINTING,
                );
                if let Some(img) = cache.get_image(fs, key) {
                    if img.placement.width > 0 && img.placement.height > 0 {
                        put(ix + img.placement.left, iy - img.placement.top, img);
                    }
                }
            }
        }
    });
}

/// Coverage of one pixel of a glyph image (alpha, for colour glyphs).
#[inline]
fn coverage(img: &SwashImage, i: usize) -> u8 {
    match img.content {
        SwashContent::Color => img.data.get(i * 4 + 3).copied().unwrap_or(0),
        SwashContent::Mask => img.data.get(i).copied().unwrap_or(0),
        SwashContent::SubpixelMask => img.data.get(i * 4).copied().unwrap_or(0),
    }
}

/// Coverage of the glyphs on a mask of `size`, the box's origin at `origin`.
pub fn glyph_mask(
    block: &TextBlock,
    font: &FontChoice,
    rect: PxRect,
    align: HAlign,
    valign: VAlign,
    origin: (f32, f32),
    size: (u32, u32),
) -> GrayImage {
    let (mw, mh) = (size.0 as i32, size.1 as i32);
    let mut mask = GrayImage::new(size.0, size.1);
    let buf: &mut [u8] = mask.as_mut();
    for_each_glyph(block, font, rect, align, valign, origin, |x, y, img| {
        let (w, h) = (img.placement.width as i32, img.placement.height as i32);
        for row in 0..h {
            let py = y + row;
            if py < 0 || py >= mh {
                continue;
            }
            for col in x.max(0)..(x + w).min(mw) {
                let c = coverage(img, (row * w + col - x) as usize);
                let i = (py * mw + col) as usize;
                buf[i] = buf[i].max(c);
            }
        }
    });
    mask
}

/// Blends the glyphs straight onto the canvas, clipped to `area`: outlines in
/// the layer's colour, colour emoji in their own colours (or, with
/// `emoji: mono`, their shape in the layer's colour).
fn blend_glyphs(
    canvas: &mut RgbImage,
    block: &TextBlock,
    layer: &TextLayer,
    rect: PxRect,
    area: PxRect,
) {
    let opacity = layer.opacity.clamp(0.0, 1.0);
    let alpha = (layer.color.a as f32 * opacity).round() as u32;
    let color_alpha = (255.0 * opacity).round() as u32;
    let (cw, ch) = canvas.dimensions();
    let x0 = area.x.max(0);
    let y0 = area.y.max(0);
    let x1 = area.right().min(cw as i32);
    let y1 = area.bottom().min(ch as i32);
    let src_colour = layer.color.channels();
    let stride = cw as usize * 3;
    let buf = canvas.as_mut();
    let origin = (rect.x as f32, rect.y as f32);
    let in_colour = layer.emoji == EmojiStyle::Color;
    for_each_glyph(
        block,
        &layer.font,
        rect,
        layer.align,
        layer.valign,
        origin,
        |x, y, img| {
            let (w, h) = (img.placement.width as i32, img.placement.height as i32);
            // Bytes per glyph pixel and where its coverage is.
            let (step, at) = match img.content {
                SwashContent::Mask => (1, 0),
                SwashContent::Color => (4, 3),
                SwashContent::SubpixelMask => (4, 0),
            };
            let own = in_colour && img.content == SwashContent::Color;
            let a = if own { color_alpha } else { alpha };
            let (c0, c1) = (x.max(x0), (x + w).min(x1));
            if c0 >= c1 {
                return;
            }
            for row in (y0 - y).max(0)..(y1 - y).min(h) {
                let line = (y + row) as usize * stride;
                let k = (row * w + c0 - x) as usize * step;
                let n = (c1 - c0) as usize;
                let dst = &mut buf[line + c0 as usize * 3..line + c1 as usize * 3];
                if let Some(src) = img.data.get(k..k + n * step) {
                    blend_row(dst, src, step, at, a, (!own).then_some(src_colour));
                }
            }
        },
    );
}

/// Blends one row of a glyph image (`step` bytes a pixel, coverage at byte
/// `at`) onto a row of RGB pixels, in `paint` or, when `None`, in the
/// glyph's own colours. Slices, not indexing: this is the hot loop of text.
#[inline]
fn blend_row(
    dst: &mut [u8],
    src: &[u8],
    step: usize,
    at: usize,
    alpha: u32,
    paint: Option<[u8; 3]>,
) {
    for (d, p) in dst.chunks_exact_mut(3).zip(src.chunks_exact(step)) {
        let a = p[at] as u32 * alpha;
        if a == 0 {
            continue;
        }
        let colour = paint.unwrap_or_else(|| [p[0], p[1], p[2]]);
        for c in 0..3 {
            d[c] = mix(d[c], colour[c], a);
        }
    }
}

/// Draws a text layer (shadow, then stroke, then fill) into its box.
pub fn draw_text(canvas: &mut RgbImage, block: &TextBlock, layer: &TextLayer, rect: PxRect) {
    let [l, t, r, b] = layer.effect_reach();
    let area = rect.grow(l, t, r, b);
    if layer.stroke.is_none() && layer.shadow.is_none() {
        blend_glyphs(canvas, block, layer, rect, area);
        return;
    }
    let fill = glyph_mask(
        block,
        &layer.font,
        rect,
        layer.align,
        layer.valign,
        (l as f32, t as f32),
        (area.w, area.h),
    );
    let outline = layer.stroke.filter(|s| s.width >= 0.5).map(|s| {
        let radius = s.width.round().clamp(1.0, 255.0) as u8;
        (grayscale_dilate(&fill, &Mask::disk(radius)), s.color)
    });
    if let Some(sh) = layer.shadow {
        let base = outline.as_ref().map_or(&fill, |(m, _)| m);
        let soft = if sh.blur >= 0.5 {
            imageproc::filter::gaussian_blur_f32(base, sh.blur / 2.0)
        } else {
            base.clone()
        };
        let at = (area.x + sh.dx.round() as i32, area.y + sh.dy.round() as i32);
        blend_mask(canvas, &soft, at, sh.color, layer.opacity);
    }
    if let Some((mask, color)) = &outline {
        blend_mask(canvas, mask, (area.x, area.y), *color, layer.opacity);
    }
    blend_glyphs(canvas, block, layer, rect, area);
}
