//! Pixel operations on the RGB canvas: fills, dithered gradients, masks and
//! RGBA images blended with opacity and rounded corners, image fitting
//! (cover/contain/fill via fast_image_resize), blur and darkening.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{GrayImage, Luma, RgbImage, RgbaImage};

use crate::template::{Color, Fit, Gradient, PxRect};

/// 4×4 Bayer matrix, centred on zero, in 1/16 steps: ordered dither that
/// hides 8-bit banding in smooth gradients.
const BAYER: [[f32; 4]; 4] = [
    [-0.46875, 0.03125, -0.34375, 0.15625],
    [0.28125, -0.21875, 0.40625, -0.09375],
    [-0.28125, 0.21875, -0.40625, 0.09375],
    [0.46875, -0.03125, 0.34375, -0.15625],
];

/// Fills the canvas with one colour (its alpha ignored).
pub fn fill(canvas: &mut RgbImage, color: Color) {
    let px = color.channels();
    for chunk in canvas.as_mut().chunks_exact_mut(3) {
        chunk.copy_from_slice(&px);
    }
}

/// Colour along a gradient at `t` in 0–1, as f32 channels.
fn sample(stops: &[(f32, Color)], t: f32) -> [f32; 3] {
    let f = |c: Color| [c.r as f32, c.g as f32, c.b as f32];
    let Some(first) = stops.first() else {
        return [0.0; 3];
    };
    if t <= first.0 {
        return f(first.1);
    }
    for pair in stops.windows(2) {
        let ((a, ca), (b, cb)) = (pair[0], pair[1]);
        if t <= b {
            let k = if b > a { (t - a) / (b - a) } else { 1.0 };
            let (ca, cb) = (f(ca), f(cb));
            return [0, 1, 2].map(|i| ca[i] + (cb[i] - ca[i]) * k);
        }
    }
    stops.last().map_or([0.0; 3], |s| f(s.1))
}

/// Paints a CSS-style linear gradient over the whole canvas, dithered.
pub fn gradient(canvas: &mut RgbImage, g: &Gradient) {
    const LUT: usize = 1024;
    let lut: Vec<[f32; 3]> = (0..LUT)
        .map(|i| sample(&g.stops, i as f32 / (LUT - 1) as f32))
        .collect();
    let (w, h) = canvas.dimensions();
    let a = g.angle.to_radians();
    let (dx, dy) = (a.sin(), -a.cos());
    let len = (w as f32 * dx.abs() + h as f32 * dy.abs()).max(1.0);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let stride = w as usize * 3;
    for (y, row) in canvas.as_mut().chunks_exact_mut(stride).enumerate() {
        let bayer = &BAYER[y % 4];
        let t_row = ((y as f32 + 0.5 - cy) * dy) / len + 0.5;
        let dt = dx / len;
        if dx.abs() < 1e-6 {
            // Rows are one colour: dither four variants and repeat them.
            let c = lut[((t_row.clamp(0.0, 1.0)) * (LUT - 1) as f32) as usize];
            let variants: [[u8; 3]; 4] =
                std::array::from_fn(|k| c.map(|v| (v + bayer[k]).round().clamp(0.0, 255.0) as u8));
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                px.copy_from_slice(&variants[x % 4]);
            }
            continue;
        }
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let t = (t_row + (x as f32 + 0.5 - cx) * dt).clamp(0.0, 1.0);
            let c = lut[(t * (LUT - 1) as f32) as usize];
            let d = bayer[x % 4];
            for i in 0..3 {
                px[i] = (c[i] + d).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// `dst` moved towards `src` by `a` / 65025 (a = coverage × alpha).
#[inline]
pub fn mix(dst: u8, src: u8, a: u32) -> u8 {
    // a in 0..=65025 (255²)
    ((dst as u32 * (65025 - a) + src as u32 * a + 32512) / 65025) as u8
}

fn clip(canvas: &RgbImage, at: (i32, i32), w: u32, h: u32) -> Option<(u32, u32, u32, u32)> {
    let (cw, ch) = canvas.dimensions();
    let x0 = at.0.max(0);
    let y0 = at.1.max(0);
    let x1 = (at.0 + w as i32).min(cw as i32);
    let y1 = (at.1 + h as i32).min(ch as i32);
    (x1 > x0 && y1 > y0).then_some((x0 as u32, y0 as u32, x1 as u32, y1 as u32))
}

/// Blends `color` through coverage `mask` placed at `at`, times `opacity`.
pub fn blend_mask(
    canvas: &mut RgbImage,
    mask: &GrayImage,
    at: (i32, i32),
    color: Color,
    opacity: f32,
) {
    let alpha = (color.a as f32 * opacity.clamp(0.0, 1.0)).round() as u32;
    if alpha == 0 {
        return;
    }
    let Some((x0, y0, x1, y1)) = clip(canvas, at, mask.width(), mask.height()) else {
        return;
    };
    let src = color.channels();
    let cw = canvas.width() as usize;
    let mw = mask.width() as usize;
    let (mx0, span) = ((x0 as i32 - at.0) as usize, (x1 - x0) as usize);
    let dst = canvas.as_mut();
    let mbuf = mask.as_raw();
    for y in y0..y1 {
        let my = (y as i32 - at.1) as usize;
        let mrow = &mbuf[my * mw + mx0..my * mw + mx0 + span];
        let start = (y as usize * cw + x0 as usize) * 3;
        let drow = &mut dst[start..start + span * 3];
        for (m, px) in mrow.iter().zip(drow.chunks_exact_mut(3)) {
            if *m == 0 {
                continue;
            }
            let a = *m as u32 * alpha;
            for i in 0..3 {
                px[i] = mix(px[i], src[i], a);
            }
        }
    }
}

/// Antialiased coverage of a `w`×`h` rectangle with corners of `radius` px.
pub fn rounded_rect(w: u32, h: u32, radius: f32) -> GrayImage {
    let r = radius.min(w as f32 / 2.0).min(h as f32 / 2.0).max(0.0);
    GrayImage::from_fn(w, h, |x, y| {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let cx = px.clamp(r, w as f32 - r);
        let cy = py.clamp(r, h as f32 - r);
        let (dx, dy) = (px - cx, py - cy);
        if dx == 0.0 || dy == 0.0 {
            return Luma([255]);
        }
        let d = (dx * dx + dy * dy).sqrt();
        Luma([((r - d + 0.5).clamp(0.0, 1.0) * 255.0).round() as u8])
    })
}

/// A filled rectangle with optional rounded corners.
pub fn fill_rect(canvas: &mut RgbImage, rect: PxRect, color: Color, opacity: f32, radius: f32) {
    let mask = if radius > 0.0 {
        rounded_rect(rect.w, rect.h, radius)
    } else {
        GrayImage::from_pixel(rect.w, rect.h, Luma([255]))
    };
    blend_mask(canvas, &mask, (rect.x, rect.y), color, opacity);
}

/// Blends a straight-alpha RGBA image at `at`, times `opacity` and an
/// optional coverage mask of the same size (rounded corners).
pub fn blend_image(
    canvas: &mut RgbImage,
    img: &RgbaImage,
    at: (i32, i32),
    opacity: f32,
    mask: Option<&GrayImage>,
) {
    let op = (opacity.clamp(0.0, 1.0) * 255.0).round() as u32;
    let Some((x0, y0, x1, y1)) = clip(canvas, at, img.width(), img.height()) else {
        return;
    };
    for y in y0..y1 {
        let sy = (y as i32 - at.1) as u32;
        for x in x0..x1 {
            let sx = (x as i32 - at.0) as u32;
            let s = img.get_pixel(sx, sy);
            let m = mask.map_or(255, |m| m.get_pixel(sx, sy)[0] as u32);
            let a = s[3] as u32 * op * m / 255;
            if a == 0 {
                continue;
            }
            let px = canvas.get_pixel_mut(x, y);
            for i in 0..3 {
                px[i] = mix(px[i], s[i], a);
            }
        }
    }
}

/// Scales `src` for a `w`×`h` box. Returns the scaled image and its offset
/// inside the box (non-zero only for `contain`).
pub fn fit_image(
    src: &RgbaImage,
    w: u32,
    h: u32,
    fit: Fit,
    focus: [f32; 2],
) -> (RgbaImage, (i32, i32)) {
    let (sw, sh) = (src.width() as f64, src.height() as f64);
    let (bw, bh) = (w as f64, h as f64);
    match fit {
        Fit::Fill => (resize(src, w, h, None), (0, 0)),
        Fit::Cover => {
            let scale = (bw / sw).max(bh / sh);
            let (cw, ch) = ((bw / scale).min(sw), (bh / scale).min(sh));
            let left = (focus[0] as f64 * sw - cw / 2.0).clamp(0.0, sw - cw);
            let top = (focus[1] as f64 * sh - ch / 2.0).clamp(0.0, sh - ch);
            (resize(src, w, h, Some((left, top, cw, ch))), (0, 0))
        }
        Fit::Contain => {
            let scale = (bw / sw).min(bh / sh);
            let dw = ((sw * scale).round() as u32).clamp(1, w);
            let dh = ((sh * scale).round() as u32).clamp(1, h);
            let off = (((w - dw) / 2) as i32, ((h - dh) / 2) as i32);
            (resize(src, dw, dh, None), off)
        }
    }
}

fn resize(src: &RgbaImage, w: u32, h: u32, crop: Option<(f64, f64, f64, f64)>) -> RgbaImage {
    if crop.is_none() && src.dimensions() == (w, h) {
        return src.clone();
    }
    let mut dst = RgbaImage::new(w, h);
    let mut opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    if let Some((l, t, cw, ch)) = crop {
        opts = opts.crop(l, t, cw, ch);
    }
    // Sizes are non-zero and the pixel types match, so this cannot fail; a
    // failure would leave a transparent image rather than abort a batch.
    let _ = Resizer::new().resize(src, &mut dst, &opts);
    dst
}

/// Gaussian blur of roughly `radius` px, done at reduced size for speed.
pub fn blur_rgba(img: &RgbaImage, radius: f32) -> RgbaImage {
    if radius < 0.5 {
        return img.clone();
    }
    let (w, h) = img.dimensions();
    let k = (radius / 4.0).clamp(1.0, 16.0);
    let sw = ((w as f32 / k).round() as u32).max(1);
    let sh = ((h as f32 / k).round() as u32).max(1);
    let small = resize(img, sw, sh, None);
    let blurred = imageproc::filter::gaussian_blur_f32(&small, (radius / k / 2.0).max(0.5));
    resize(&blurred, w, h, None)
}

/// Moves every pixel `amount` (0–1) of the way to black.
pub fn darken(img: &mut RgbaImage, amount: f32) {
    let keep = ((1.0 - amount.clamp(0.0, 1.0)) * 256.0).round() as u32;
    for px in img.pixels_mut() {
        for c in &mut px.0[..3] {
            *c = ((*c as u32 * keep) >> 8) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertical_gradient_runs_top_to_bottom() {
        let mut c = RgbImage::new(8, 256);
        let g = Gradient {
            angle: 180.0,
            stops: vec![(0.0, Color::BLACK), (1.0, Color::WHITE)],
        };
        gradient(&mut c, &g);
        assert!(c.get_pixel(0, 0)[0] < 3);
        assert!(c.get_pixel(0, 255)[0] > 252);
        assert!(c.get_pixel(3, 128)[0].abs_diff(128) <= 2);
    }

    #[test]
    fn mask_blend_respects_opacity() {
        let mut c = RgbImage::new(4, 4);
        let m = GrayImage::from_pixel(2, 2, Luma([255]));
        blend_mask(&mut c, &m, (1, 1), Color::WHITE, 0.5);
        assert_eq!(c.get_pixel(0, 0)[0], 0);
        assert!(c.get_pixel(1, 1)[0].abs_diff(128) <= 1);
        blend_mask(&mut c, &m, (-5, -5), Color::WHITE, 1.0);
    }

    #[test]
    fn contain_keeps_aspect_and_centres() {
        let src = RgbaImage::new(200, 100);
        let (img, off) = fit_image(&src, 100, 100, Fit::Contain, [0.5, 0.5]);
        assert_eq!(img.dimensions(), (100, 50));
        assert_eq!(off, (0, 25));
        let (cov, _) = fit_image(&src, 100, 100, Fit::Cover, [0.0, 0.5]);
        assert_eq!(cov.dimensions(), (100, 100));
    }

    #[test]
    fn rounded_corners_are_transparent() {
        let m = rounded_rect(40, 40, 10.0);
        assert_eq!(m.get_pixel(0, 0)[0], 0);
        assert_eq!(m.get_pixel(20, 20)[0], 255);
        assert_eq!(m.get_pixel(20, 0)[0], 255);
    }
}
