//! Story image bytes → accepted (width, height) or the reason Instagram
//! refuses them: not a JPEG (PNG, WebP, GIF, HEIC, MPO by magic bytes), over
//! 8 MiB, or an aspect ratio outside what the sandbox accepts. Pure.
//!
//! Aspect ratio rule (the sandbox's choice; Instagram crops or pads most
//! Story shapes but refuses extreme ones, as the recorded 36003 shows for
//! 720/360): width / height must lie within 1:2 (0.5, taller than 9:16) and
//! 1.91:1 (the widest feed image). Both ends are inclusive.

/// Largest accepted image, bytes (8 MiB).
pub const MAX_IMAGE_BYTES: u64 = 8 * 1024 * 1024;
/// Narrowest accepted width / height.
pub const MIN_ASPECT: f64 = 0.5;
/// Widest accepted width / height.
pub const MAX_ASPECT: f64 = 1.91;

/// Why an image is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageProblem {
    /// Not a (single-frame) JPEG; names what it is.
    Format(&'static str),
    /// Too many bytes.
    TooLarge(u64),
    /// Width and height out of the accepted ratio range.
    AspectRatio(u32, u32),
}

/// Checks `bytes` as a Story image, in Instagram's order: format, size,
/// aspect ratio.
pub fn check_story_image(bytes: &[u8]) -> Result<(u32, u32), ImageProblem> {
    let kind = sniff(bytes);
    if kind != "JPEG" {
        return Err(ImageProblem::Format(kind));
    }
    let (width, height, mpo) = jpeg_facts(bytes).ok_or(ImageProblem::Format("damaged JPEG"))?;
    if mpo {
        return Err(ImageProblem::Format("MPO"));
    }
    let len = bytes.len() as u64;
    if len > MAX_IMAGE_BYTES {
        return Err(ImageProblem::TooLarge(len));
    }
    if width == 0 || height == 0 {
        return Err(ImageProblem::Format("damaged JPEG"));
    }
    let ratio = f64::from(width) / f64::from(height);
    if !(MIN_ASPECT..=MAX_ASPECT).contains(&ratio) {
        return Err(ImageProblem::AspectRatio(width, height));
    }
    Ok((width, height))
}

/// What the magic bytes say the file is.
pub fn sniff(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => "JPEG",
        [0x89, b'P', b'N', b'G', ..] => "PNG",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "WebP",
        [b'G', b'I', b'F', b'8', ..] => "GIF",
        [_, _, _, _, b'f', b't', b'y', b'p', b'h', b'e', b'i', ..]
        | [_, _, _, _, b'f', b't', b'y', b'p', b'm', b'i', b'f', b'1', ..] => "HEIC",
        [b'B', b'M', ..] => "BMP",
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => "TIFF",
        _ => "unknown",
    }
}

/// Walks JPEG marker segments up to the first frame header: (width, height,
/// has an MPF APP2 segment, i.e. is an MPO). None when damaged.
fn jpeg_facts(bytes: &[u8]) -> Option<(u32, u32, bool)> {
    let mut pos = 2usize;
    let mut mpo = false;
    loop {
        // Skip fill bytes before a marker.
        while *bytes.get(pos)? == 0xFF && *bytes.get(pos + 1)? == 0xFF {
            pos += 1;
        }
        if *bytes.get(pos)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(pos + 1)?;
        pos += 2;
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            continue;
        }
        if marker == 0xD9 || marker == 0xDA {
            return None; // image data or end before a frame header
        }
        let len = usize::from(u16::from_be_bytes([*bytes.get(pos)?, *bytes.get(pos + 1)?]));
        if len < 2 {
            return None;
        }
        let body = bytes.get(pos + 2..pos + len)?;
        if marker == 0xE2 && body.starts_with(b"MPF\0") {
            mpo = true;
        }
        let is_sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let height = u16::from_be_bytes([*body.get(1)?, *body.get(2)?]);
            let width = u16::from_be_bytes([*body.get(3)?, *body.get(4)?]);
            return Some((u32::from(width), u32::from(height), mpo));
        }
        pos += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::new(w, h);
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn story_jpeg_passes() {
        assert_eq!(check_story_image(&jpeg(108, 192)), Ok((108, 192)));
    }

    #[test]
    fn wide_and_tall_are_refused() {
        assert_eq!(
            check_story_image(&jpeg(72, 36)),
            Err(ImageProblem::AspectRatio(72, 36))
        );
        assert_eq!(
            check_story_image(&jpeg(30, 100)),
            Err(ImageProblem::AspectRatio(30, 100))
        );
        assert!(check_story_image(&jpeg(191, 100)).is_ok());
        assert!(check_story_image(&jpeg(50, 100)).is_ok());
    }

    #[test]
    fn other_formats_by_magic() {
        let img = image::RgbImage::new(10, 10);
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png).unwrap();
        assert_eq!(
            check_story_image(png.get_ref()),
            Err(ImageProblem::Format("PNG"))
        );
        let webp = b"RIFF\0\0\0\0WEBPVP8 ".to_vec();
        assert_eq!(check_story_image(&webp), Err(ImageProblem::Format("WebP")));
        assert_eq!(
            check_story_image(b"hello"),
            Err(ImageProblem::Format("unknown"))
        );
    }

    #[test]
    fn mpo_is_refused() {
        let mut bytes = jpeg(108, 192);
        // Insert an APP2 MPF segment right after SOI.
        let seg = [0xFF, 0xE2, 0x00, 0x08, b'M', b'P', b'F', 0, 0, 0];
        bytes.splice(2..2, seg);
        assert_eq!(check_story_image(&bytes), Err(ImageProblem::Format("MPO")));
    }

    #[test]
    fn too_large_after_format() {
        let mut bytes = jpeg(108, 192);
        bytes.resize(MAX_IMAGE_BYTES as usize + 1, 0);
        assert!(matches!(
            check_story_image(&bytes),
            Err(ImageProblem::TooLarge(_))
        ));
    }

    #[test]
    fn truncated_jpeg_is_damaged() {
        assert_eq!(
            check_story_image(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]),
            Err(ImageProblem::Format("damaged JPEG"))
        );
    }
}
