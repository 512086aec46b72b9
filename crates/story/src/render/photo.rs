//! Any photo (decoded RGBA) + a fit → a 1080×1920 Story canvas, the way the
//! renderer fits a background image and the transcoder fits a frame: over a
//! blurred copy of itself, padded in black, cropped around the centre, or
//! cropped around a focal point. Pure.

use image::{Rgb, RgbImage, RgbaImage};

use super::compose::{blend_image, blur_rgba, darken, fit_image};
use crate::template::Fit;
use storyforge_base::spec::{STORY_HEIGHT, STORY_WIDTH};

/// How a photo fills the 9:16 Story.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub enum PhotoFit {
    /// All of the photo, over a blurred and darkened copy that fills the frame.
    #[default]
    Blur,
    /// All of the photo, on black.
    Pad,
    /// Fills the frame, cropped around the centre.
    Crop,
    /// Fills the frame, cropped around a focal point (0–1 of width and height).
    Cover {
        /// The point kept in view, `[x, y]` from the top left, 0–1.
        focus: [f32; 2],
    },
}

impl PhotoFit {
    /// `blur`, `pad`, `crop` or `cover` (with its focus), as the dashboard
    /// and the transcoder name them; `None` for another name.
    pub fn parse(name: &str, focus: [f32; 2]) -> Option<PhotoFit> {
        let clamp = |v: f32| {
            if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                0.5
            }
        };
        match name {
            "blur" => Some(PhotoFit::Blur),
            "pad" => Some(PhotoFit::Pad),
            "crop" => Some(PhotoFit::Crop),
            "cover" => Some(PhotoFit::Cover {
                focus: [clamp(focus[0]), clamp(focus[1])],
            }),
            _ => None,
        }
    }
}

/// `photo` fitted to a Story canvas.
pub fn fit_photo(photo: &RgbaImage, fit: PhotoFit) -> RgbImage {
    let (w, h) = (STORY_WIDTH, STORY_HEIGHT);
    let mut canvas = RgbImage::from_pixel(w, h, Rgb([0, 0, 0]));
    let cover = |focus| fit_image(photo, w, h, Fit::Cover, focus).0;
    match fit {
        PhotoFit::Crop => blend_image(&mut canvas, &cover([0.5, 0.5]), (0, 0), 1.0, None),
        PhotoFit::Cover { focus } => blend_image(&mut canvas, &cover(focus), (0, 0), 1.0, None),
        PhotoFit::Pad | PhotoFit::Blur => {
            if fit == PhotoFit::Blur {
                let mut back = blur_rgba(&cover([0.5, 0.5]), 40.0);
                darken(&mut back, 0.35);
                blend_image(&mut canvas, &back, (0, 0), 1.0, None);
            }
            let (front, at) = fit_image(photo, w, h, Fit::Contain, [0.5, 0.5]);
            blend_image(&mut canvas, &front, at, 1.0, None);
        }
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    /// A landscape photo: left half red, right half blue.
    fn landscape() -> RgbaImage {
        RgbaImage::from_fn(400, 200, |x, _| {
            if x < 200 {
                Rgba([255, 0, 0, 255])
            } else {
                Rgba([0, 0, 255, 255])
            }
        })
    }

    #[test]
    fn every_fit_makes_a_story_canvas() {
        for fit in [
            PhotoFit::Blur,
            PhotoFit::Pad,
            PhotoFit::Crop,
            PhotoFit::Cover { focus: [0.0, 0.5] },
        ] {
            assert_eq!(fit_photo(&landscape(), fit).dimensions(), (1080, 1920));
        }
    }

    #[test]
    fn pad_leaves_black_bars_and_blur_fills_them() {
        let pad = fit_photo(&landscape(), PhotoFit::Pad);
        assert_eq!(pad.get_pixel(540, 10), &Rgb([0, 0, 0]));
        assert_eq!(pad.get_pixel(100, 960)[0], 255);
        let blur = fit_photo(&landscape(), PhotoFit::Blur);
        assert_ne!(blur.get_pixel(540, 10), &Rgb([0, 0, 0]));
    }

    #[test]
    fn the_focal_point_chooses_what_stays_in_view() {
        let left = fit_photo(&landscape(), PhotoFit::Cover { focus: [0.0, 0.5] });
        let right = fit_photo(&landscape(), PhotoFit::Cover { focus: [1.0, 0.5] });
        assert_eq!(left.get_pixel(540, 960)[0], 255);
        assert_eq!(right.get_pixel(540, 960)[2], 255);
    }

    #[test]
    fn names_parse_and_focus_is_clamped() {
        assert_eq!(
            PhotoFit::parse("cover", [3.0, f32::NAN]),
            Some(PhotoFit::Cover { focus: [1.0, 0.5] })
        );
        assert_eq!(PhotoFit::parse("stretch", [0.5, 0.5]), None);
    }
}
