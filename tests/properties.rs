//! Property: wrapped text never leaves its box, whatever the words, sizes
//! and alignment; and no word is broken when it fits on a line alone.

mod common;

use image::Rgb;
use proptest::prelude::*;

fn words() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-zA-Z]{1,14}|[A-Z]{20,30}|[0-9€%!?,.]{1,4}", 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn wrapped_text_stays_in_its_box(
        words in words(),
        x in 0u32..400,
        y in 240u32..900,
        w in 60u32..680,
        h in 60u32..700,
        size in 14u32..120,
        align in prop::sample::select(vec!["left", "center", "right"]),
        valign in prop::sample::select(vec!["top", "middle", "bottom"]),
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let text = words.join(" ");
        let yaml = format!(
            "background: {{color: \"#000000\"}}\nlayers:\n  - text:\n      content: \"{{{{t}}}}\"\n      size: {size}\n      align: {align}\n      valign: {valign}\n      box: {{x: {x}, y: {y}, w: {w}, h: {h}}}\n      color: \"#ffffff\"\n"
        );
        let t = common::load_yaml(dir.path(), "p.yaml", &yaml).expect("loads");
        let row = storyforge::feed::FeedRow { index: 1, line: None, vars: [("t".to_string(), text.clone())].into() };
        let scene = match common::scene(&t, Some(&row), None) {
            Ok(s) => s,
            // Refused, not drawn: the box is shorter than one line, or one
            // glyph alone is wider than the box.
            Err(e) => {
                let font = storyforge::fonts::FontBook::bundled().get("Lato", 400).expect("Lato").font.clone();
                let set = storyforge::render::layout::TextSetting { line_height: 1.2, letter_spacing: 0.0, max_lines: None };
                let glyph_too_wide = text.chars().any(|c| {
                    storyforge::render::layout::layout_fixed(&font, &c.to_string(), size as f32, &set, 100_000, 100_000)
                        .map(|b| b.width() > w as f32)
                        .unwrap_or(true)
                });
                prop_assert!((h as f32) < size as f32 * 1.2 || glyph_too_wide, "{}", e);
                return Ok(());
            }
        };
        if let storyforge::render::Paint::Text { block, .. } = &scene.layers[0].paint {
            for line in &block.lines {
                prop_assert!(line.width <= w as f32 + 0.01, "line {:?} is {} px in a {} px box", line.text, line.width, w);
            }
            prop_assert!(block.height() <= h as f32 + 0.01);
            // A word is broken only when it is wider than the box on its own.
            if !block.truncated {
                let joined: Vec<&str> = block.lines.iter().map(|l| l.text.as_str()).collect();
                if joined.join(" ") != text {
                    let font = storyforge::fonts::FontBook::bundled().get("Lato", 400).expect("Lato").font.clone();
                    let set = storyforge::render::layout::TextSetting { line_height: 1.2, letter_spacing: 0.0, max_lines: None };
                    let too_wide = words.iter().any(|wd| {
                        storyforge::render::layout::layout_fixed(&font, wd, size as f32, &set, 100_000, 100_000)
                            .map(|b| b.width() > w as f32)
                            .unwrap_or(true)
                    });
                    prop_assert!(too_wide, "a word was broken although every word fits alone: {:?}", joined);
                }
            }
        }
        let img = storyforge::render::draw(&scene);
        for (px, py, p) in img.enumerate_pixels() {
            let inside = px >= x && px < x + w && py >= y && py < y + h;
            if !inside {
                prop_assert_eq!(*p, Rgb([0, 0, 0]), "pixel ({}, {}) outside the box was painted", px, py);
            }
        }
    }
}
