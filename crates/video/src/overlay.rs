//! Pixels between the renderer and the encoder: premultiplied RGBA sprites
//! → BT.709 limited-range YUVA 4:2:0 sprites, blended onto `yuv420p` planes
//! with an extra opacity and an offset; RGB canvases ↔ `yuv420p`. Pure, no
//! FFmpeg: the frame pipeline hands its planes in as slices.

use image::{RgbImage, RgbaImage};

/// The three planes of a `yuv420p` picture (even width and height).
pub struct Planes<'a> {
    /// Luma, `strides[0]` bytes a row.
    pub y: &'a mut [u8],
    /// Cb, half size.
    pub u: &'a mut [u8],
    /// Cr, half size.
    pub v: &'a mut [u8],
    /// Bytes per row of y, u, v.
    pub strides: [usize; 3],
    /// Width in px.
    pub width: u32,
    /// Height in px.
    pub height: u32,
}

/// BT.709 limited range: RGB → (Y, Cb, Cr).
pub fn rgb_to_ycbcr(r: u8, g: u8, b: u8) -> (u8, u8, u8) {
    let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
    let y = 16.0 + (46.559 * r + 156.629 * g + 15.812 * b) / 255.0;
    let u = 128.0 + (-25.664 * r - 86.336 * g + 112.0 * b) / 255.0;
    let v = 128.0 + (112.0 * r - 101.730 * g - 10.270 * b) / 255.0;
    (y.round() as u8, u.round() as u8, v.round() as u8)
}

/// BT.709 limited range: (Y, Cb, Cr) → RGB.
pub fn ycbcr_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let y = (f32::from(y) - 16.0) * 255.0 / 219.0;
    let u = (f32::from(u) - 128.0) * 255.0 / 224.0;
    let v = (f32::from(v) - 128.0) * 255.0 / 224.0;
    let r = y + 1.5748 * v;
    let g = y - 0.1873 * u - 0.4681 * v;
    let b = y + 1.8556 * u;
    [r, g, b].map(|c| c.round().clamp(0.0, 255.0) as u8)
}

/// An RGB canvas (even width and height) → packed `yuv420p` planes (rows
/// `width` and `width / 2` bytes long), BT.709 limited range in 16.16 fixed
/// point (the still background's per-frame step: kept tight).
pub fn rgb_to_yuv420(rgb: &RgbImage) -> [Vec<u8>; 3] {
    const fn k(c: f64) -> i32 {
        (c * 65536.0 / 255.0) as i32
    }
    const KY: [i32; 3] = [k(46.559), k(156.629), k(15.812)];
    const KU: [i32; 3] = [k(-25.664), k(-86.336), k(112.0)];
    const KV: [i32; 3] = [k(112.0), k(-101.730), k(-10.270)];
    let dot = |k: &[i32; 3], p: &[u8]| {
        k[0] * i32::from(p[0]) + k[1] * i32::from(p[1]) + k[2] * i32::from(p[2])
    };
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let raw = rgb.as_raw();
    let mut out = [vec![0u8; w * h], vec![0u8; w * h / 4], vec![0u8; w * h / 4]];
    let [ys, us, vs] = &mut out;
    for row in 0..h / 2 {
        let top = &raw[2 * row * w * 3..(2 * row + 1) * w * 3];
        let bottom = &raw[(2 * row + 1) * w * 3..(2 * row + 2) * w * 3];
        let (y0, y1) = ys[2 * row * w..(2 * row + 2) * w].split_at_mut(w);
        let urow = &mut us[row * (w / 2)..(row + 1) * (w / 2)];
        let vrow = &mut vs[row * (w / 2)..(row + 1) * (w / 2)];
        for col in 0..w / 2 {
            let px = [
                &top[6 * col..6 * col + 3],
                &top[6 * col + 3..6 * col + 6],
                &bottom[6 * col..6 * col + 3],
                &bottom[6 * col + 3..6 * col + 6],
            ];
            let luma = |p: &[u8]| ((16 << 16) + dot(&KY, p) + (1 << 15)) >> 16;
            y0[2 * col] = luma(px[0]) as u8;
            y0[2 * col + 1] = luma(px[1]) as u8;
            y1[2 * col] = luma(px[2]) as u8;
            y1[2 * col + 1] = luma(px[3]) as u8;
            let (mut su, mut sv) = (0i32, 0i32);
            for p in px {
                su += dot(&KU, p);
                sv += dot(&KV, p);
            }
            urow[col] = (((128 << 18) + su + (1 << 17)) >> 18).clamp(0, 255) as u8;
            vrow[col] = (((128 << 18) + sv + (1 << 17)) >> 18).clamp(0, 255) as u8;
        }
    }
    out
}

/// Reads `yuv420p` planes back into an RGB canvas (previews and tests).
pub fn planes_to_rgb(
    y: &[u8],
    u: &[u8],
    v: &[u8],
    strides: [usize; 3],
    w: u32,
    h: u32,
) -> RgbImage {
    RgbImage::from_fn(w, h, |x, row| {
        let (x, row) = (x as usize, row as usize);
        image::Rgb(ycbcr_to_rgb(
            y[row * strides[0] + x],
            u[(row / 2) * strides[1] + x / 2],
            v[(row / 2) * strides[2] + x / 2],
        ))
    })
}

/// A picture with transparency in YUVA 4:2:0, placed at an even position.
#[derive(Debug, Clone)]
pub struct Sprite {
    /// Left edge on the canvas (even).
    pub x: i32,
    /// Top edge on the canvas (even).
    pub y: i32,
    w: usize,
    h: usize,
    luma: Vec<u8>,
    alpha: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
    calpha: Vec<u8>,
}

fn mul255(a: u32, b: u32) -> u32 {
    let x = a * b + 128;
    (x + (x >> 8)) >> 8
}

impl Sprite {
    /// A premultiplied RGBA picture whose top-left corner is at (`x`, `y`) →
    /// the sprite of its visible part; `None` when nothing of it is visible.
    pub fn from_premultiplied(rgba: &RgbaImage, x: i32, y: i32) -> Option<Sprite> {
        let (iw, ih) = (rgba.width() as i32, rgba.height() as i32);
        let (mut x0, mut y0, mut x1, mut y1) = (iw, ih, -1, -1);
        for (px, py, p) in rgba.enumerate_pixels() {
            if p.0[3] > 0 {
                x0 = x0.min(px as i32);
                y0 = y0.min(py as i32);
                x1 = x1.max(px as i32);
                y1 = y1.max(py as i32);
            }
        }
        if x1 < 0 {
            return None;
        }
        // Grow to even canvas coordinates so 2×2 chroma blocks line up.
        let left = (x + x0).div_euclid(2) * 2;
        let top = (y + y0).div_euclid(2) * 2;
        let right = (x + x1 + 2).div_euclid(2) * 2;
        let bottom = (y + y1 + 2).div_euclid(2) * 2;
        let (w, h) = ((right - left) as usize, (bottom - top) as usize);
        let mut s = Sprite {
            x: left,
            y: top,
            w,
            h,
            luma: vec![0; w * h],
            alpha: vec![0; w * h],
            cb: vec![128; w * h / 4],
            cr: vec![128; w * h / 4],
            calpha: vec![0; w * h / 4],
        };
        let pixel = |cx: i32, cy: i32| {
            let (ix, iy) = (cx - x, cy - y);
            if ix < 0 || iy < 0 || ix >= iw || iy >= ih {
                [0u8; 4]
            } else {
                rgba.get_pixel(ix as u32, iy as u32).0
            }
        };
        for by in 0..h / 2 {
            for bx in 0..w / 2 {
                let (mut sa, mut su, mut sv) = (0u32, 0u32, 0u32);
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let (sx, sy) = (2 * bx + dx, 2 * by + dy);
                    let p = pixel(left + sx as i32, top + sy as i32);
                    let a = u32::from(p[3]);
                    if a == 0 {
                        continue;
                    }
                    let un = |c: u8| ((u32::from(c) * 255 + a / 2) / a).min(255) as u8;
                    let (yy, u, v) = rgb_to_ycbcr(un(p[0]), un(p[1]), un(p[2]));
                    s.luma[sy * w + sx] = yy;
                    s.alpha[sy * w + sx] = p[3];
                    sa += a;
                    su += u32::from(u) * a;
                    sv += u32::from(v) * a;
                }
                let c = by * (w / 2) + bx;
                if let (Some(u), Some(v)) =
                    ((su + sa / 2).checked_div(sa), (sv + sa / 2).checked_div(sa))
                {
                    s.cb[c] = u as u8;
                    s.cr[c] = v as u8;
                    s.calpha[c] = ((sa + 2) / 4) as u8;
                }
            }
        }
        Some(s)
    }

    /// Its width and height in px.
    pub fn size(&self) -> (usize, usize) {
        (self.w, self.h)
    }

    /// Blends the sprite onto `p`, moved by (`dx`, `dy`) px (rounded to even)
    /// with its opacity multiplied by `opacity` (0–1); parts off the picture
    /// are left out.
    pub fn blend(&self, p: &mut Planes<'_>, dx: f32, dy: f32, opacity: f32) {
        let (w, h) = (p.width, p.height);
        self.blend_plane(0, p.y, p.strides[0], (w, h), (dx, dy), opacity);
        self.blend_plane(1, p.u, p.strides[1], (w, h), (dx, dy), opacity);
        self.blend_plane(2, p.v, p.strides[2], (w, h), (dx, dy), opacity);
    }

    /// [`Sprite::blend`] for one plane (0 Y, 1 Cb, 2 Cr) of a `size` picture
    /// whose rows are `stride` bytes apart.
    pub fn blend_plane(
        &self,
        plane: usize,
        data: &mut [u8],
        stride: usize,
        size: (u32, u32),
        (dx, dy): (f32, f32),
        opacity: f32,
    ) {
        let m = (opacity.clamp(0.0, 1.0) * 255.0).round() as u32;
        if m == 0 {
            return;
        }
        let even = |d: f32| ((d / 2.0).round() as i32) * 2;
        let (mut ox, mut oy) = (self.x + even(dx), self.y + even(dy));
        let (mut fw, mut fh, mut sw, mut sh) = (size.0 as i32, size.1 as i32, self.w, self.h);
        let (src, alpha) = match plane {
            0 => (&self.luma, &self.alpha),
            1 => (&self.cb, &self.calpha),
            _ => (&self.cr, &self.calpha),
        };
        if plane > 0 {
            (ox, oy, fw, fh, sw, sh) = (ox / 2, oy / 2, fw / 2, fh / 2, sw / 2, sh / 2);
        }
        let x0 = ox.max(0);
        let y0 = oy.max(0);
        let x1 = (ox + sw as i32).min(fw);
        let y1 = (oy + sh as i32).min(fh);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        for cy in y0..y1 {
            let srow = (cy - oy) as usize * sw;
            let drow = cy as usize * stride;
            let dst = &mut data[drow + x0 as usize..drow + x1 as usize];
            let from = srow + (x0 - ox) as usize;
            let s = &src[from..from + dst.len()];
            let a = &alpha[from..from + dst.len()];
            for ((d, &s), &a) in dst.iter_mut().zip(s).zip(a) {
                let a = if m == 255 {
                    u32::from(a)
                } else {
                    mul255(u32::from(a), m)
                };
                if a == 0 {
                    continue;
                }
                *d = (mul255(u32::from(s), a) + mul255(u32::from(*d), 255 - a)) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planes(buf: &mut [Vec<u8>; 3], w: u32, h: u32) -> Planes<'_> {
        let [y, u, v] = buf;
        Planes {
            y,
            u,
            v,
            strides: [w as usize, w as usize / 2, w as usize / 2],
            width: w,
            height: h,
        }
    }

    #[test]
    fn canvas_converts_like_single_pixels() {
        let rgb = RgbImage::from_fn(4, 2, |x, y| {
            image::Rgb([(x * 60) as u8, (y * 200) as u8, 90])
        });
        let [y, u, v] = rgb_to_yuv420(&rgb);
        for (x, row) in [(0u32, 0u32), (3, 1)] {
            let p = rgb.get_pixel(x, row).0;
            let (yy, _, _) = rgb_to_ycbcr(p[0], p[1], p[2]);
            let got = y[(row * 4 + x) as usize];
            assert!(got.abs_diff(yy) <= 1, "{got} vs {yy}");
        }
        let (_, u0, v0) = rgb_to_ycbcr(30, 100, 90);
        assert!(
            u[0].abs_diff(u0) <= 1 && v[0].abs_diff(v0) <= 1,
            "{} {}",
            u[0],
            v[0]
        );
    }

    #[test]
    fn colours_round_trip() {
        for rgb in [[0, 0, 0], [255, 255, 255], [200, 40, 90], [10, 200, 30]] {
            let (y, u, v) = rgb_to_ycbcr(rgb[0], rgb[1], rgb[2]);
            let back = ycbcr_to_rgb(y, u, v);
            for c in 0..3 {
                assert!(
                    (i32::from(back[c]) - i32::from(rgb[c])).abs() <= 2,
                    "{rgb:?} {back:?}"
                );
            }
        }
    }

    #[test]
    fn blends_with_opacity_and_offset() {
        let (w, h) = (16u32, 8u32);
        let mut buf = [
            vec![16u8; (w * h) as usize],
            vec![128u8; (w * h / 4) as usize],
            vec![128u8; (w * h / 4) as usize],
        ];
        // A white, fully opaque 4×4 square at (2, 2).
        let square = RgbaImage::from_pixel(4, 4, image::Rgba([255, 255, 255, 255]));
        let s = Sprite::from_premultiplied(&square, 2, 2).unwrap();
        assert_eq!((s.x, s.y, s.size()), (2, 2, (4, 4)));
        s.blend(&mut planes(&mut buf, w, h), 0.0, 0.0, 1.0);
        assert_eq!(buf[0][2 * 16 + 2], 235);
        assert_eq!(buf[0][2 * 16 + 6], 16);
        // Half opacity, moved 8 px right: half-way between black and white.
        s.blend(&mut planes(&mut buf, w, h), 8.0, 0.0, 0.5);
        let y = buf[0][3 * 16 + 11];
        assert!((120..=130).contains(&y), "{y}");
        // Off the picture: nothing happens, nothing panics.
        s.blend(&mut planes(&mut buf, w, h), 100.0, -50.0, 1.0);
    }
}
