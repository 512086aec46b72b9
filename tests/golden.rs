//! Golden-image tests: each shipped template, rendered with the first row of
//! its fixture feed and the bundled fonts, against tests/golden/NAME.png
//! (pixels before JPEG). A pixel differs when any channel is off by more
//! than TOLERANCE; up to MAX_DIFFERENT_FRACTION of pixels may differ (SIMD
//! paths of the resizer vary slightly between CPUs). On failure,
//! target/golden-failures/NAME.png shows expected | diff | actual.
//!
//! Regenerate the references after an intended change:
//!     STORYFORGE_BLESS=1 cargo test --test golden

mod common;

use image::{Rgb, RgbImage};

const TOLERANCE: u8 = 3;
const MAX_DIFFERENT_FRACTION: f64 = 0.001;

fn compare(name: &str, actual: &RgbImage) -> Result<(), String> {
    let golden = common::root()
        .join("tests/golden")
        .join(format!("{name}.png"));
    if std::env::var_os("STORYFORGE_BLESS").is_some() {
        actual.save(&golden).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = image::open(&golden)
        .map_err(|e| {
            format!(
                "{}: {e} (run STORYFORGE_BLESS=1 cargo test --test golden)",
                golden.display()
            )
        })?
        .into_rgb8();
    if expected.dimensions() != actual.dimensions() {
        return Err(format!(
            "{name}: size {:?} != golden {:?}",
            actual.dimensions(),
            expected.dimensions()
        ));
    }
    let (w, h) = actual.dimensions();
    let mut diff = RgbImage::new(w, h);
    let mut different = 0usize;
    let mut worst = 0u8;
    for (x, y, a) in actual.enumerate_pixels() {
        let e = expected.get_pixel(x, y);
        let d = (0..3).map(|i| a[i].abs_diff(e[i])).max().unwrap_or(0);
        worst = worst.max(d);
        if d > TOLERANCE {
            different += 1;
            diff.put_pixel(x, y, Rgb([255, 0, 255]));
        } else {
            let g = a[0] / 4;
            diff.put_pixel(x, y, Rgb([g, g, g]));
        }
    }
    let fraction = different as f64 / (w as f64 * h as f64);
    if fraction <= MAX_DIFFERENT_FRACTION {
        return Ok(());
    }
    let out_dir = common::root().join("target/golden-failures");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let mut sheet = RgbImage::new(w * 3, h);
    image::imageops::replace(&mut sheet, &expected, 0, 0);
    image::imageops::replace(&mut sheet, &diff, w as i64, 0);
    image::imageops::replace(&mut sheet, actual, 2 * w as i64, 0);
    let path = out_dir.join(format!("{name}.png"));
    sheet.save(&path).map_err(|e| e.to_string())?;
    Err(format!(
        "{name}: {different} pixels ({:.3}%) differ by more than {TOLERANCE} (worst {worst}); see {}",
        fraction * 100.0,
        path.display()
    ))
}

#[test]
fn shipped_templates_match_their_golden_images() {
    let templates = common::shipped_templates();
    assert!(
        templates.len() >= 5,
        "templates/ ships at least five templates"
    );
    let failures: Vec<String> = templates
        .iter()
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            let (_, _, img) = common::render_shipped(p);
            compare(&name, &img).err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn shared_base_draws_the_same_pixels() {
    for p in common::shipped_templates() {
        let (t, scene, full) = common::render_shipped(&p);
        if let Some(base) = storyforge::render::Base::new(&t, &scene) {
            assert!(
                base.draw(&scene) == full,
                "{}: base + layers differs from a full draw",
                p.display()
            );
        }
    }
}

#[test]
fn a_changed_pixel_region_is_caught() {
    // The comparison itself must be able to fail.
    let p = &common::shipped_templates()[0];
    let name = p
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    if std::env::var_os("STORYFORGE_BLESS").is_some() {
        return;
    }
    let (_, _, mut img) = common::render_shipped(p);
    for y in 900..1000 {
        for x in 100..300 {
            img.put_pixel(x, y, Rgb([0, 255, 0]));
        }
    }
    assert!(compare(&name, &img).is_err());
}
