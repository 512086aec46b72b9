//! Property: wrapped text never leaves its box, whatever the words, sizes
//! and alignment; and no word is broken when it fits on a line alone. The
//! same for shaped text mixing scripts (Arabic, Hebrew, Devanagari, Thai,
//! CJK, Cyrillic, emoji), right to left included.

use crate::common;

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
                let font = storyforge::fonts::FontBook::bundled().choose("Lato", 400).expect("Lato");
                let set = storyforge::text::TextSetting { line_height: 1.2, letter_spacing: 0.0, max_lines: None };
                let glyph_too_wide = text.chars().any(|c| {
                    storyforge::text::layout_fixed(&font, &c.to_string(), size as f32, &set, 100_000, 100_000)
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
            // (Between punctuation such as "%%" UAX #14 allows a break: only
            // words of letters are checked.)
            if !block.truncated {
                let tokens: Vec<&str> = block.lines.iter().flat_map(|l| l.text.split_whitespace()).collect();
                let font = storyforge::fonts::FontBook::bundled().choose("Lato", 400).expect("Lato");
                let set = storyforge::text::TextSetting { line_height: 1.2, letter_spacing: 0.0, max_lines: None };
                for wd in words.iter().filter(|wd| wd.chars().all(|c| c.is_ascii_alphabetic())) {
                    if !tokens.contains(&wd.as_str()) {
                        let too_wide = storyforge::text::layout_fixed(&font, wd, size as f32, &set, 100_000, 100_000)
                            .map(|b| b.width() > w as f32)
                            .unwrap_or(true);
                        prop_assert!(too_wide, "{:?} was broken although it fits alone: {:?}", wd, tokens);
                    }
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

/// Words of several scripts, and emoji.
fn script_words() -> impl Strategy<Value = Vec<String>> {
    let word = prop_oneof![
        "[a-zA-Z]{1,10}",
        "[\u{0627}-\u{063A}\u{0641}-\u{064A}]{1,9}",
        "[\u{05D0}-\u{05EA}]{1,7}",
        "[\u{0915}-\u{0939}][\u{093E}-\u{094C}]?[\u{0915}-\u{0939}]{0,3}",
        "[\u{0E01}-\u{0E2E}]{1,6}",
        "[的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年]{1,12}",
        "[あいうえおかきくけこさしすせそ]{1,6}",
        "[а-яА-Я]{1,10}",
        "[0-9٪%]{1,4}",
        "[🎉🔥😀❤🍕☕]{1,3}",
    ];
    prop::collection::vec(word, 1..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn shaped_text_stays_in_its_box(
        words in script_words(),
        x in 0u32..400,
        y in 240u32..900,
        w in 80u32..680,
        h in 80u32..700,
        size in 14u32..110,
        fit in any::<bool>(),
        max_lines in prop::option::of(1u32..5),
        align in prop::sample::select(vec!["left", "center", "right", "start", "end"]),
        valign in prop::sample::select(vec!["top", "middle", "bottom"]),
        spacing in prop::sample::select(vec![0, 3]),
    ) {
        let dir = tempfile::tempdir().expect("dir");
        let text = words.join(" ");
        let size_yaml = if fit { format!("{{min: 10, max: {size}}}") } else { size.to_string() };
        let lines_yaml = max_lines.map(|m| format!("      max_lines: {m}\n")).unwrap_or_default();
        let yaml = format!(
            "background: {{color: \"#000000\"}}\nlayers:\n  - text:\n      content: \"{{{{t}}}}\"\n      size: {size_yaml}\n{lines_yaml}      align: {align}\n      valign: {valign}\n      letter_spacing: {spacing}\n      missing_glyphs: allow\n      box: {{x: {x}, y: {y}, w: {w}, h: {h}}}\n      color: \"#ffffff\"\n"
        );
        let t = common::load_yaml(dir.path(), "p.yaml", &yaml).expect("loads");
        let row = storyforge::feed::FeedRow { index: 1, line: None, vars: [("t".to_string(), text.clone())].into() };
        let Ok(scene) = common::scene(&t, Some(&row), None) else {
            // Refused (does not fit even at the smallest size): nothing drawn.
            return Ok(());
        };
        if let storyforge::render::Paint::Text { block, .. } = &scene.layers[0].paint {
            for line in &block.lines {
                prop_assert!(line.width <= w as f32 + 0.01, "line {:?} is {} px in a {} px box", line.text, line.width, w);
            }
            prop_assert!(block.height() <= h as f32 + 0.01);
            if let Some(m) = max_lines {
                prop_assert!(block.lines.len() <= m as usize);
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
