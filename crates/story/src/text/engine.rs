//! A [`FontLibrary`] → the shaping engine of this thread (cosmic-text: harfrust
//! shaping, Unicode bidi, UAX #14 line breaking, font fallback) and its glyph
//! rasteriser (swash, colour emoji included), with the bundled fallback chain
//! per script. Engines are per thread and live for the run, so shaped words
//! (cosmic-text's shape-run cache, keyed by the word, its font attributes
//! and letter spacing; shaping is in em units, so one entry serves every
//! size) and glyph bitmaps are cached across the Stories of a batch.

use std::cell::RefCell;

use cosmic_text::{FontSystem, SwashCache};
use unicode_script::Script;

use crate::fonts::{chain, FontLibrary};

/// The fallback chain: which bundled family draws what a layer's face lacks.
struct Chain;

impl cosmic_text::Fallback for Chain {
    fn common_fallback(&self) -> &[&'static str] {
        // Punctuation, symbols and emoji (script Common): Latin first, then
        // emoji in colour, then the script faces (CJK punctuation, ٪ …).
        &[
            chain::LATIN,
            chain::EMOJI,
            chain::CJK,
            chain::ARABIC,
            chain::DEVANAGARI,
            chain::HEBREW,
            chain::THAI,
        ]
    }

    fn forbidden_fallback(&self) -> &[&'static str] {
        &[]
    }

    fn script_fallback(&self, script: Script, _locale: &str) -> &[&'static str] {
        match script {
            Script::Greek | Script::Cyrillic => &[chain::LATIN],
            Script::Arabic => &[chain::ARABIC],
            Script::Hebrew => &[chain::HEBREW],
            Script::Devanagari => &[chain::DEVANAGARI],
            Script::Thai => &[chain::THAI],
            Script::Han
            | Script::Hiragana
            | Script::Katakana
            | Script::Hangul
            | Script::Bopomofo => &[chain::CJK],
            _ => &[],
        }
    }
}

/// Glyph bitmaps kept per thread before the cache is emptied.
const GLYPH_CACHE_LIMIT: usize = 8192;

/// Every this many uses of an engine, shaped words not used since the
/// previous `SHAPE_CACHE_KEEP` such rounds are dropped, so memory stays flat
/// over a feed of any length while a batch's recurring words stay cached.
const SHAPE_CACHE_ROUND: u32 = 256;
const SHAPE_CACHE_KEEP: u64 = 4;

struct Engine {
    library: u64,
    fonts: FontSystem,
    glyphs: SwashCache,
    uses: u32,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's engine for `library` (built on first use).
pub fn with_engine<R>(
    library: &FontLibrary,
    f: impl FnOnce(&mut FontSystem, &mut SwashCache) -> R,
) -> R {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_some_and(|e| e.library != library.id) {
            *slot = None;
        }
        let engine = slot.get_or_insert_with(|| Engine {
            library: library.id,
            fonts: FontSystem::new_with_locale_and_db_and_fallback(
                "en-US".to_string(),
                library.db.clone(),
                Chain,
            ),
            glyphs: SwashCache::new(),
            uses: 0,
        });
        if engine.glyphs.image_cache.len() > GLYPH_CACHE_LIMIT {
            engine.glyphs.image_cache.clear();
        }
        engine.uses = engine.uses.wrapping_add(1);
        if engine.uses % SHAPE_CACHE_ROUND == 0 {
            engine.fonts.shape_run_cache.trim(SHAPE_CACHE_KEEP);
        }
        f(&mut engine.fonts, &mut engine.glyphs)
    })
}
