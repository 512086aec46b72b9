//! A laid-out [`TextBlock`] → coverage masks (fill, stroke, shadow) blended
//! onto the canvas. The fill is clipped to the layer's box grown by the
//! effects' reach, so text never paints outside the area the safe-zone
//! check measured.

use std::collections::HashMap;
use std::rc::Rc;

use ab_glyph::{point, Font, FontArc, GlyphId, PxScale};
use image::{GrayImage, RgbImage};
use imageproc::morphology::{grayscale_dilate, Mask};

use super::compose::{blend_mask, mix};
use super::layout::TextBlock;
use crate::template::{HAlign, PxRect, TextLayer, VAlign};

/// Where a line's glyphs start and its baseline, relative to the box.
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
    let glyph_h = block.ascent - block.descent;
    block
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let x = match align {
                HAlign::Left => 0.0,
                HAlign::Center => (w as f32 - line.width) / 2.0,
                HAlign::Right => w as f32 - line.width,
            };
            let top = y0 + i as f32 * block.line_advance;
            let baseline = top + (block.line_advance - glyph_h) / 2.0 + block.ascent;
            (x, baseline)
        })
        .collect()
}

/// A rasterised glyph: coverage 0–255 and its offset from the pen position.
struct GlyphBitmap {
    dx: i32,
    dy: i32,
    w: usize,
    h: usize,
    coverage: Vec<u8>,
}

/// Glyph bitmaps by (font, glyph, scale, quarter-pixel phase). Kept per
/// thread and bounded; a cache hit gives the same pixels as a fresh raster.
type GlyphKey = (usize, u16, u32, u32, u8, u8);

const GLYPH_CACHE_LIMIT: usize = 8192;
const GLYPH_CACHE_BYTES: usize = 32 << 20;

thread_local! {
    static GLYPH_BYTES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    static GLYPHS: std::cell::RefCell<HashMap<GlyphKey, Option<Rc<GlyphBitmap>>>> =
        std::cell::RefCell::new(HashMap::new());
}

fn rasterize(font: &FontArc, id: GlyphId, scale: PxScale, fx: f32, fy: f32) -> Option<GlyphBitmap> {
    let outline = font.outline_glyph(id.with_scale_and_position(scale, point(fx, fy)))?;
    let b = outline.px_bounds();
    let (w, h) = (b.width() as usize, b.height() as usize);
    let mut coverage = vec![0u8; w * h];
    outline.draw(|x, y, c| {
        if let Some(v) = coverage.get_mut(y as usize * w + x as usize) {
            *v = (c.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        }
    });
    Some(GlyphBitmap {
        dx: b.min.x as i32,
        dy: b.min.y as i32,
        w,
        h,
        coverage,
    })
}

/// Whole pixel and quarter-pixel phase (0–3) of a position.
fn quarter(v: f32) -> (f32, u8) {
    let q = (v * 4.0).round();
    let whole = (q / 4.0).floor();
    (whole, (q - whole * 4.0).clamp(0.0, 3.0) as u8)
}

/// Calls `put(x, y, coverage_row)` for each row of each glyph of `block`,
/// with the box's origin at `origin` (whole px, in the caller's space).
fn for_each_glyph_row(
    block: &TextBlock,
    font: &FontArc,
    rect: PxRect,
    align: HAlign,
    valign: VAlign,
    origin: (f32, f32),
    mut put: impl FnMut(i32, i32, &[u8]),
) {
    let font_id = font.font_data().as_ptr() as usize;
    let (sx, sy) = (block.scale.x.to_bits(), block.scale.y.to_bits());
    GLYPHS.with(|cache| {
        let mut cache = cache.borrow_mut();
        // Bounded by count and by bytes (huge auto-fit sizes make big bitmaps).
        if cache.len() > GLYPH_CACHE_LIMIT || GLYPH_BYTES.get() > GLYPH_CACHE_BYTES {
            cache.clear();
            GLYPH_BYTES.set(0);
        }
        for (line, (lx, baseline)) in block
            .lines
            .iter()
            .zip(line_origins(block, rect.w, rect.h, align, valign))
        {
            for g in &line.glyphs {
                let (x, y) = (origin.0 + lx + g.x, origin.1 + baseline);
                // Quarter-pixel phases; 3.5–4 quarters rounds to the next pixel.
                let (ix, qx) = quarter(x);
                let (iy, qy) = quarter(y);
                let key = (font_id, g.id.0, sx, sy, qx, qy);
                let bitmap = cache
                    .entry(key)
                    .or_insert_with(|| {
                        let bm =
                            rasterize(font, g.id, block.scale, qx as f32 / 4.0, qy as f32 / 4.0);
                        let size = bm.as_ref().map_or(0, |b| b.coverage.len());
                        GLYPH_BYTES.set(GLYPH_BYTES.get() + size);
                        bm.map(Rc::new)
                    })
                    .clone();
                let Some(bm) = bitmap else { continue };
                for row in 0..bm.h {
                    put(
                        ix as i32 + bm.dx,
                        iy as i32 + bm.dy + row as i32,
                        &bm.coverage[row * bm.w..(row + 1) * bm.w],
                    );
                }
            }
        }
    });
}

/// Coverage of the glyphs on a mask of `size`, the box's origin at `origin`.
pub fn glyph_mask(
    block: &TextBlock,
    font: &FontArc,
    rect: PxRect,
    align: HAlign,
    valign: VAlign,
    origin: (f32, f32),
    size: (u32, u32),
) -> GrayImage {
    let (mw, mh) = (size.0 as i32, size.1 as i32);
    let mut mask = GrayImage::new(size.0, size.1);
    let buf: &mut [u8] = mask.as_mut();
    for_each_glyph_row(block, font, rect, align, valign, origin, |x, y, row| {
        if y < 0 || y >= mh {
            return;
        }
        let start = x.max(0);
        let end = (x + row.len() as i32).min(mw);
        for px in start..end {
            let i = (y * mw + px) as usize;
            buf[i] = buf[i].max(row[(px - x) as usize]);
        }
    });
    mask
}

/// Blends the glyphs straight onto the canvas, clipped to `area` (no effects).
fn blend_glyphs(
    canvas: &mut RgbImage,
    block: &TextBlock,
    layer: &TextLayer,
    rect: PxRect,
    area: PxRect,
) {
    let alpha = (layer.color.a as f32 * layer.opacity.clamp(0.0, 1.0)).round() as u32;
    if alpha == 0 {
        return;
    }
    let (cw, ch) = canvas.dimensions();
    let x0 = area.x.max(0);
    let y0 = area.y.max(0);
    let x1 = area.right().min(cw as i32);
    let y1 = area.bottom().min(ch as i32);
    let src = layer.color.channels();
    let stride = cw as usize * 3;
    let buf = canvas.as_mut();
    let origin = (rect.x as f32, rect.y as f32);
    for_each_glyph_row(
        block,
        &layer.font,
        rect,
        layer.align,
        layer.valign,
        origin,
        |x, y, row| {
            if y < y0 || y >= y1 {
                return;
            }
            let start = x.max(x0);
            let end = (x + row.len() as i32).min(x1);
            for px in start..end {
                let m = row[(px - x) as usize] as u32;
                if m == 0 {
                    continue;
                }
                let i = y as usize * stride + px as usize * 3;
                let a = m * alpha;
                for c in 0..3 {
                    buf[i + c] = mix(buf[i + c], src[c], a);
                }
            }
        },
    );
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
    blend_mask(canvas, &fill, (area.x, area.y), layer.color, layer.opacity);
}
