//! A laid-out [`TextBlock`] → coverage masks (fill, stroke, shadow) blended
//! onto the canvas. The fill is clipped to the layer's box grown by the
//! effects' reach, so text never paints outside the area the safe-zone
//! check measured.

use ab_glyph::{point, Font, FontArc};
use image::{GrayImage, RgbImage};
use imageproc::morphology::{grayscale_dilate, Mask};

use super::compose::blend_mask;
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

/// Coverage of the glyphs on a mask of `mw`×`mh`, the box's origin at `origin`.
pub fn glyph_mask(
    block: &TextBlock,
    font: &FontArc,
    rect: PxRect,
    align: HAlign,
    valign: VAlign,
    origin: (f32, f32),
    size: (u32, u32),
) -> GrayImage {
    let (mw, mh) = size;
    let mut mask = GrayImage::new(mw, mh);
    let buf: &mut [u8] = mask.as_mut();
    for (line, (lx, baseline)) in block
        .lines
        .iter()
        .zip(line_origins(block, rect.w, rect.h, align, valign))
    {
        for g in &line.glyphs {
            let glyph = g.id.with_scale_and_position(
                block.scale,
                point(origin.0 + lx + g.x, origin.1 + baseline),
            );
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            let (bx, by) = (b.min.x as i32, b.min.y as i32);
            outline.draw(|x, y, c| {
                let px = bx + x as i32;
                let py = by + y as i32;
                if px < 0 || py < 0 || px >= mw as i32 || py >= mh as i32 {
                    return;
                }
                let i = py as usize * mw as usize + px as usize;
                let v = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
                buf[i] = buf[i].max(v);
            });
        }
    }
    mask
}

/// Draws a text layer (shadow, then stroke, then fill) into its box.
pub fn draw_text(canvas: &mut RgbImage, block: &TextBlock, layer: &TextLayer, rect: PxRect) {
    let [l, t, r, b] = layer.effect_reach();
    let area = rect.grow(l, t, r, b);
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
