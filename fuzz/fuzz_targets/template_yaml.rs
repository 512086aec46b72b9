//! Any bytes as template YAML → the whole template loader (YAML, schema,
//! placeholders, fonts, safe zone), then every placeholder filled from the
//! same text: none may panic, loop or allocate without bound.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use storyforge::fonts::FontBook;
use storyforge::template::{self, Pattern};

static FONTS: OnceLock<FontBook> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fonts = FONTS.get_or_init(FontBook::bundled);
    // A directory that does not exist: asset checks fail cleanly.
    let _ = template::parse(
        text,
        Path::new("/nonexistent-storyforge-fuzz/t.yaml"),
        fonts,
    );
    if let Ok(p) = Pattern::parse(text) {
        let vars = [("today".to_string(), "2026-12-03".to_string())]
            .into_iter()
            .collect();
        let _ = p.fill(&vars);
    }
});
