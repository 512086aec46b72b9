//! A Story with its safe zone and layer boxes drawn over it, for people
//! checking a template (`storyforge render --preview`).

use image::{Rgb, RgbImage};
use imageproc::drawing::draw_hollow_rect_mut;
use imageproc::rect::Rect;

use super::compose::{blend_mask, fill_rect};
use super::glyphs::glyph_mask;
use super::{Paint, Scene};
use crate::fonts::{FontBook, FontChoice, DEFAULT_FAMILY};
use crate::template::{Color, HAlign, PxRect, VAlign};
use crate::text::{layout_fixed, TextSetting};

const SHADE: Color = Color {
    r: 255,
    g: 0,
    b: 64,
    a: 90,
};

fn outline(canvas: &mut RgbImage, r: PxRect, color: Rgb<u8>) {
    for grow in 0..3 {
        let g = r.grow(grow, grow, grow, grow);
        draw_hollow_rect_mut(
            canvas,
            Rect::at(g.x, g.y).of_size(g.w.max(1), g.h.max(1)),
            color,
        );
    }
}

/// Draws the unsafe bands tinted, the safe area's edge, and each layer's box
/// (text cyan, image yellow, rect magenta) over a rendered Story.
pub fn annotate(canvas: &mut RgbImage, scene: &Scene) {
    let (w, h) = canvas.dimensions();
    let s = scene.safe;
    let bands = [
        PxRect {
            x: 0,
            y: 0,
            w,
            h: s.y.max(0) as u32,
        },
        PxRect {
            x: 0,
            y: s.bottom(),
            w,
            h: (h as i32 - s.bottom()).max(0) as u32,
        },
        PxRect {
            x: 0,
            y: s.y,
            w: s.x.max(0) as u32,
            h: s.h,
        },
        PxRect {
            x: s.right(),
            y: s.y,
            w: (w as i32 - s.right()).max(0) as u32,
            h: s.h,
        },
    ];
    for band in bands.iter().filter(|b| b.w > 0 && b.h > 0) {
        fill_rect(canvas, *band, SHADE, 1.0, 0.0);
    }
    outline(canvas, s, Rgb([255, 0, 64]));
    // The label font is parsed once per process, not once per preview.
    static LABEL_FONT: std::sync::OnceLock<Option<FontChoice>> = std::sync::OnceLock::new();
    let font = LABEL_FONT.get_or_init(|| FontBook::bundled().choose(DEFAULT_FAMILY, 700).ok());
    for layer in &scene.layers {
        let color = match layer.paint {
            Paint::Text { .. } => Rgb([0, 230, 255]),
            Paint::Image { .. } => Rgb([255, 220, 0]),
            Paint::Rect(_) => Rgb([255, 0, 255]),
        };
        outline(canvas, layer.rect, color);
        if let Some(font) = &font {
            label(canvas, layer.rect, &layer.name, font);
        }
    }
}

/// Writes `label` in small type just inside the top-left of `r`.
fn label(canvas: &mut RgbImage, r: PxRect, text: &str, font: &FontChoice) {
    let set = TextSetting {
        line_height: 1.2,
        letter_spacing: 0.0,
        max_lines: Some(1),
    };
    let Ok(block) = layout_fixed(font, text, 22.0, &set, r.w.max(40), 40) else {
        return;
    };
    let w = (block.width().ceil() as u32 + 12).min(r.w.max(1));
    let tag = PxRect {
        x: r.x,
        y: r.y,
        w,
        h: 30,
    };
    fill_rect(
        canvas,
        tag,
        Color {
            r: 0,
            g: 0,
            b: 0,
            a: 170,
        },
        1.0,
        0.0,
    );
    let inner = PxRect {
        x: r.x + 6,
        y: r.y,
        w: w.saturating_sub(6).max(1),
        h: 30,
    };
    let mask = glyph_mask(
        &block,
        font,
        inner,
        HAlign::Left,
        VAlign::Middle,
        (0.0, 0.0),
        (inner.w, inner.h),
    );
    blend_mask(canvas, &mask, (inner.x, inner.y), Color::WHITE, 1.0);
}
