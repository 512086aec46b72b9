//! Input images as people have them: EXIF-rotated phone photos, CMYK print
//! JPEGs, greyscale, 16-bit and transparent PNGs, and decompression bombs.

use crate::common;

use image::{ImageBuffer, Luma, Rgb, Rgba};
use storyforge::assets::{decode_bytes, decode_file, AssetError};

fn jpeg_rgb(img: &image::RgbImage) -> Vec<u8> {
    storyforge::render::encode_jpeg(img, 95)
        .expect("encode")
        .bytes
}

/// A 40×20 JPEG, red on the left, blue on the right, with EXIF orientation `o`.
fn oriented_jpeg(o: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(40, 20, |x, _| {
        if x < 20 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    let jpeg = jpeg_rgb(&img);
    let tiff: Vec<u8> = [
        &b"MM\x00\x2a\x00\x00\x00\x08"[..],
        &[0, 1],
        &[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, o, 0, 0],
        &[0, 0, 0, 0],
    ]
    .concat();
    let len = (2 + 6 + tiff.len()) as u16;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn is_red(p: &Rgba<u8>) -> bool {
    p[0] > 200 && p[1] < 60 && p[2] < 60
}

fn is_blue(p: &Rgba<u8>) -> bool {
    p[2] > 200 && p[0] < 60 && p[1] < 60
}

#[test]
fn exif_orientation_is_applied() {
    let img = decode_bytes(&oriented_jpeg(6), "phone.jpg").expect("decodes");
    // Orientation 6: rotate 90° clockwise, so left (red) becomes the top.
    assert_eq!(img.dimensions(), (20, 40));
    assert!(is_red(img.get_pixel(10, 5)), "{:?}", img.get_pixel(10, 5));
    assert!(
        is_blue(img.get_pixel(10, 35)),
        "{:?}",
        img.get_pixel(10, 35)
    );
    let plain = decode_bytes(&oriented_jpeg(1), "plain.jpg").expect("decodes");
    assert_eq!(plain.dimensions(), (40, 20));
}

#[test]
fn cmyk_jpeg_becomes_rgb() {
    // Red ink (C=0 M=100% Y=100% K=0), stored inverted as Photoshop and
    // every Adobe-marked CMYK JPEG stores it (255 = no ink).
    let cmyk: Vec<u8> = std::iter::repeat_n([255u8, 0, 0, 255], 32 * 32)
        .flatten()
        .collect();
    let mut c = turbojpeg::Compressor::new().expect("compressor");
    c.set_quality(95);
    c.set_subsamp(turbojpeg::Subsamp::None);
    let jpeg = c
        .compress_to_vec(turbojpeg::Image {
            pixels: cmyk.as_slice(),
            width: 32,
            pitch: 32 * 4,
            height: 32,
            format: turbojpeg::PixelFormat::CMYK,
        })
        .expect("cmyk jpeg");
    let img = decode_bytes(&jpeg, "print.jpg").expect("CMYK decodes");
    let p = img.get_pixel(16, 16);
    assert!(
        p[0] > 180 && p[1] < 90 && p[2] < 90 && p[3] == 255,
        "red ink should look red: {p:?}"
    );
}

#[test]
fn grey_sixteen_bit_and_alpha_pngs() {
    let d = tempfile::tempdir().expect("dir");
    let grey = ImageBuffer::from_pixel(8, 8, Luma([128u8]));
    grey.save(d.path().join("grey.png")).expect("save");
    let g = decode_file(&d.path().join("grey.png")).expect("grey");
    assert_eq!(g.get_pixel(0, 0), &Rgba([128, 128, 128, 255]));

    let deep: ImageBuffer<Rgba<u16>, Vec<u16>> =
        ImageBuffer::from_pixel(8, 8, Rgba([65535, 0, 32768, 32768]));
    deep.save(d.path().join("deep.png")).expect("save");
    let p = *decode_file(&d.path().join("deep.png"))
        .expect("16-bit")
        .get_pixel(3, 3);
    assert_eq!(p[0], 255);
    assert!(p[2].abs_diff(128) <= 1 && p[3].abs_diff(128) <= 1, "{p:?}");
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG header claiming 20000×20000 pixels and no pixel data at all.
pub fn bomb_png() -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&20000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    for (kind, data) in [
        (&b"IDAT"[..], &b"\x78\x9c\x01\x00\x00\xff\xff"[..]),
        (&b"IEND"[..], &b""[..]),
    ] {
        let chunk = [kind, data].concat();
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

#[test]
fn decompression_bomb_is_refused_before_decoding() {
    let png = bomb_png();
    let e = decode_bytes(&png, "bomb.png").expect_err("refused");
    assert!(
        matches!(
            e,
            AssetError::TooLarge {
                width: 20000,
                height: 20000,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("bomb.png") && e.to_string().contains("50 megapixel"),
        "{e}"
    );
}

#[test]
fn transparent_logo_composites_over_the_background() {
    let d = tempfile::tempdir().expect("dir");
    // Left half opaque white, right half fully transparent.
    let logo = image::RgbaImage::from_fn(100, 100, |x, _| {
        if x < 50 {
            Rgba([255, 255, 255, 255])
        } else {
            Rgba([255, 255, 255, 0])
        }
    });
    logo.save(d.path().join("logo.png")).expect("save");
    let yaml = "background: {color: \"#000080\"}\nlayers:\n  - image:\n      src: logo.png\n      fit: fill\n      box: {x: 100, y: 400, w: 200, h: 200}\n";
    let t = common::load_yaml(d.path(), "t.yaml", yaml).expect("loads");
    let img = storyforge::render::draw(&common::scene(&t, None, None).expect("scene"));
    assert_eq!(img.get_pixel(150, 500), &Rgb([255, 255, 255]));
    assert_eq!(img.get_pixel(250, 500), &Rgb([0, 0, 128]));
    assert_eq!(img.get_pixel(50, 500), &Rgb([0, 0, 128]));
}

fn tagged_jpeg(profile: &str, px: [u8; 3]) -> Vec<u8> {
    use image::ImageEncoder;
    let icc = std::fs::read(common::root().join("fixtures/icc").join(profile)).expect("profile");
    let img = image::RgbImage::from_pixel(16, 16, Rgb(px));
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
    enc.set_icc_profile(icc).expect("profile accepted");
    enc.write_image(img.as_raw(), 16, 16, image::ExtendedColorType::Rgb8)
        .expect("encode");
    out
}

#[test]
fn icc_tagged_photos_are_converted_to_srgb() {
    // A profile whose red primary is green: red pixels must come out green.
    let swapped = decode_bytes(
        &tagged_jpeg("SwappedRedAndGreen.icc", [255, 0, 0]),
        "odd.jpg",
    )
    .expect("decodes");
    let p = swapped.get_pixel(8, 8);
    assert!(
        p[1] > 200 && p[0] < 60,
        "swapped-profile red should display green: {p:?}"
    );
    // Adobe RGB's saturated green is outside sRGB: converted, it changes.
    let adobe =
        decode_bytes(&tagged_jpeg("AdobeRGB1998.icc", [0, 200, 0]), "camera.jpg").expect("decodes");
    let q = adobe.get_pixel(8, 8);
    assert!(q[0] < 60 && q[1] > 200, "{q:?}");
    assert!(
        q[1] != 200 || q[0] != 0,
        "Adobe RGB pixels were not converted: {q:?}"
    );
}
