//! Text → lines of shaped glyphs that fit a box. Shaping (harfrust: Arabic
//! joining, Indic conjuncts, kerning, ligatures), the Unicode bidi
//! algorithm, UAX #14 line breaking (CJK between characters, Latin at
//! words; a word is broken only when it cannot fit a line alone) and font
//! fallback come from cosmic-text; on top: letter spacing (never inside a
//! joined script), max lines with an ellipsis at the logical end, auto-fit
//! (the largest size that fits), and the characters no font could draw.
//! Pure: font and text in, [`TextBlock`] out.

use cosmic_text::{fontdb, Wrap};

use super::engine::with_engine;
use super::shape::{ellipsized, Shaped};
use crate::fonts::FontChoice;

/// A glyph on a line: `x` px from the line's start, `y` px below the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedGlyph {
    /// The font it comes from (the layer's face or a fallback).
    pub font: fontdb::ID,
    /// The glyph in that font.
    pub id: u16,
    /// Pen position from the visual start (left) of the line, px.
    pub x: f32,
    /// Offset below the baseline, px (marks, Indic vowel signs).
    pub y: f32,
}

/// One laid-out line, glyphs in visual order (left to right).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The text of the line, in logical order.
    pub text: String,
    /// Glyphs with positions.
    pub glyphs: Vec<PlacedGlyph>,
    /// Advance width, px.
    pub width: f32,
    /// The paragraph runs right to left.
    pub rtl: bool,
    /// The baseline, px below the top of the line.
    pub baseline: f32,
}

/// Text laid out at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBlock {
    /// Lines, top to bottom.
    pub lines: Vec<Line>,
    /// Font size (em) in px.
    pub px: f32,
    /// Distance between baselines, px.
    pub line_advance: f32,
    /// True when lines were dropped and the last ends in an ellipsis.
    pub truncated: bool,
    /// Characters no bundled font can draw, once each, in text order (they
    /// are left out of the drawing, never drawn as boxes).
    pub missing: Vec<char>,
}

impl TextBlock {
    /// Height of all lines, px.
    pub fn height(&self) -> f32 {
        self.lines.len() as f32 * self.line_advance
    }
    /// Widest line, px.
    pub fn width(&self) -> f32 {
        self.lines.iter().map(|l| l.width).fold(0.0, f32::max)
    }
}

/// How the text is set.
#[derive(Debug, Clone, Copy)]
pub struct TextSetting {
    /// Line height as a multiple of the size.
    pub line_height: f32,
    /// Extra px between letters (not inside joined scripts).
    pub letter_spacing: f32,
    /// Most lines, if limited.
    pub max_lines: Option<u32>,
}

/// Why text could not be laid out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    /// Far more text than any Story can show (and too much to lay out
    /// fast): the character count.
    #[error("text is {0} characters long; a Story shows at most {MAX_CHARS}")]
    TooLong(usize),
    /// Too much text for the box even at the smallest size allowed.
    #[error("text does not fit a {w}×{h} px box at {px} px{}", in_lines(*max_lines))]
    DoesNotFit {
        /// Box width.
        w: u32,
        /// Box height.
        h: u32,
        /// The (smallest) size tried.
        px: f32,
        /// The line limit, if any.
        max_lines: Option<u32>,
    },
}

/// Longest text laid out; more is an error, not a slow render.
pub const MAX_CHARS: usize = 5000;

fn check_length(text: &str) -> Result<(), LayoutError> {
    let n = text.chars().count();
    if n > MAX_CHARS {
        return Err(LayoutError::TooLong(n));
    }
    Ok(())
}

fn in_lines(max: Option<u32>) -> String {
    match max {
        Some(1) => " in 1 line".into(),
        Some(m) => format!(" in {m} lines"),
        None => String::new(),
    }
}

/// Lays `text` out at `px` in a `w`×`h` box; lines past `max_lines` or the
/// box height are dropped and the last one kept ends in an ellipsis.
pub fn layout_fixed(
    font: &FontChoice,
    text: &str,
    px: f32,
    set: &TextSetting,
    w: u32,
    h: u32,
) -> Result<TextBlock, LayoutError> {
    check_length(text)?;
    let by_height = (h as f32 / (px * set.line_height) + 1e-3).floor() as usize;
    let allowed = set
        .max_lines
        .map_or(by_height, |m| (m as usize).min(by_height));
    if allowed == 0 {
        return Err(LayoutError::DoesNotFit {
            w,
            h,
            px,
            max_lines: None,
        });
    }
    with_engine(&font.library, |fs, _| {
        let mut shaped = Shaped::new(fs, font, text, set, px);
        shaped.relayout(fs, px, Some(w as f32), Wrap::WordOrGlyph);
        let mut missing = Vec::new();
        let mut lines = shaped.lines(&mut missing);
        if lines.iter().any(|l| l.width > w as f32 + 0.01) {
            // Only a single glyph wider than the whole box gets here.
            return Err(LayoutError::DoesNotFit {
                w,
                h,
                px,
                max_lines: set.max_lines,
            });
        }
        let truncated = lines.len() > allowed;
        if truncated {
            lines.truncate(allowed);
            if let Some(last) = lines.last_mut() {
                *last = ellipsized(fs, font, set, px, last, w as f32, &mut missing);
            }
        }
        Ok(TextBlock {
            lines,
            px,
            line_advance: px * set.line_height,
            truncated,
            missing,
        })
    })
}

/// Lays `text` out at the largest whole px size in `min..=max` that fits the
/// box in at most `max_lines`, preferring sizes that break no word.
pub fn layout_fit(
    font: &FontChoice,
    text: &str,
    min: f32,
    max: f32,
    set: &TextSetting,
    w: u32,
    h: u32,
) -> Result<TextBlock, LayoutError> {
    check_length(text)?;
    with_engine(&font.library, |fs, _| {
        let mut shaped = Shaped::new(fs, font, text, set, max);
        // Word wrap lets a word too long for a line overflow it: fitting with
        // it means fitting without breaking a word.
        for wrap in [Wrap::Word, Wrap::WordOrGlyph] {
            let mut ok = |px: f32| {
                shaped.relayout(fs, px, Some(w as f32), wrap);
                let (n, widest) = shaped.measure();
                set.max_lines.is_none_or(|m| n <= m as usize)
                    && widest <= w as f32 + 0.01
                    && n as f32 * px * set.line_height <= h as f32 + 1e-3
            };
            if !ok(min) {
                continue;
            }
            let (mut lo, mut hi) = (min.ceil().max(min), max.floor());
            let best = if ok(max) {
                max
            } else {
                let mut best = min;
                while lo <= hi {
                    let mid = ((lo + hi) / 2.0).floor();
                    if ok(mid) {
                        best = best.max(mid);
                        lo = mid + 1.0;
                    } else {
                        hi = mid - 1.0;
                    }
                }
                best
            };
            shaped.relayout(fs, best, Some(w as f32), wrap);
            let mut missing = Vec::new();
            let lines = shaped.lines(&mut missing);
            return Ok(TextBlock {
                lines,
                px: best,
                line_advance: best * set.line_height,
                truncated: false,
                missing,
            });
        }
        Err(LayoutError::DoesNotFit {
            w,
            h,
            px: min,
            max_lines: set.max_lines,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::FontBook;

    fn lato() -> FontChoice {
        FontBook::bundled().choose("Lato", 400).unwrap()
    }

    const SET: TextSetting = TextSetting {
        line_height: 1.2,
        letter_spacing: 0.0,
        max_lines: None,
    };

    #[test]
    fn wraps_at_word_boundaries() {
        let b = layout_fixed(
            &lato(),
            "the quick brown fox jumps over the lazy dog",
            48.0,
            &SET,
            400,
            1000,
        )
        .unwrap();
        assert!(b.lines.len() > 1);
        for l in &b.lines {
            assert!(l.width <= 400.0, "{l:?}");
            assert!(!l.text.starts_with(' ') && !l.text.ends_with(' '));
        }
        let joined: Vec<String> = b.lines.iter().map(|l| l.text.clone()).collect();
        assert_eq!(
            joined.join(" "),
            "the quick brown fox jumps over the lazy dog"
        );
    }

    #[test]
    fn breaks_only_words_that_cannot_fit() {
        let b = layout_fixed(
            &lato(),
            "a supercalifragilisticexpialidocious word",
            48.0,
            &SET,
            300,
            1000,
        )
        .unwrap();
        assert_eq!(b.lines[0].text, "a");
        assert!(b.lines.iter().all(|l| l.width <= 300.0));
    }

    #[test]
    fn max_lines_adds_an_ellipsis() {
        let set = TextSetting {
            max_lines: Some(2),
            ..SET
        };
        let b = layout_fixed(
            &lato(),
            "one two three four five six seven eight nine ten",
            48.0,
            &set,
            250,
            1000,
        )
        .unwrap();
        assert_eq!(b.lines.len(), 2);
        assert!(b.truncated);
        assert!(b.lines[1].text.ends_with('…'));
        assert!(b.lines[1].width <= 250.0);
    }

    #[test]
    fn fit_picks_the_largest_size_that_fits() {
        let set = TextSetting {
            max_lines: Some(2),
            ..SET
        };
        let b = layout_fit(&lato(), "Autumn menu is here", 20.0, 200.0, &set, 800, 400).unwrap();
        assert!(b.lines.len() <= 2);
        assert!(b.px > 60.0 && b.px < 200.0, "{}", b.px);
        let bigger =
            layout_fixed(&lato(), "Autumn menu is here", b.px + 1.0, &set, 800, 400).unwrap();
        assert!(
            bigger.truncated
                || bigger.height() > 400.0
                || bigger.lines.iter().any(|l| l.width > 800.0)
        );
    }

    #[test]
    fn fit_fails_below_minimum() {
        let set = TextSetting {
            max_lines: Some(1),
            ..SET
        };
        let e = layout_fit(
            &lato(),
            "far too much text for one short line",
            40.0,
            80.0,
            &set,
            200,
            100,
        );
        assert!(matches!(e, Err(LayoutError::DoesNotFit { .. })));
    }

    #[test]
    fn arabic_is_right_to_left_and_joined() {
        let b = layout_fixed(&lato(), "قائمة الشتاء هنا", 48.0, &SET, 900, 200).unwrap();
        assert_eq!(b.lines.len(), 1);
        assert!(b.lines[0].rtl);
        assert!(b.missing.is_empty(), "{:?}", b.missing);
        // Joined forms: the shaped word is narrower than its letters set apart,
        // and every glyph comes from the Arabic fallback (not Lato's notdef).
        assert!(b.lines[0].glyphs.len() >= 10);
    }

    #[test]
    fn rtl_ellipsis_is_at_the_logical_end() {
        let set = TextSetting {
            max_lines: Some(1),
            ..SET
        };
        let text = "وصلت قائمة الشتاء الجديدة إلى مقهانا اليوم مع مشروبات ساخنة";
        let b = layout_fixed(&lato(), text, 48.0, &set, 400, 200).unwrap();
        assert!(b.truncated);
        let line = &b.lines[0];
        assert!(line.rtl);
        assert!(line.text.ends_with('…'), "{:?}", line.text);
        assert!(text.starts_with(line.text.trim_end_matches('…').trim()));
        assert!(line.width <= 400.0);
    }

    #[test]
    fn cjk_breaks_between_characters_and_latin_at_words() {
        let b = layout_fixed(
            &lato(),
            "冬季菜单来了冬季菜单来了冬季菜单来了",
            48.0,
            &SET,
            300,
            1000,
        )
        .unwrap();
        assert!(b.lines.len() >= 3);
        assert!(b.lines.iter().all(|l| l.width <= 300.0));
        assert!(b.missing.is_empty());
        let set = TextSetting {
            max_lines: Some(2),
            ..SET
        };
        let fit = layout_fit(&lato(), "menu of winter", 10.0, 200.0, &set, 300, 400).unwrap();
        assert!(fit
            .lines
            .iter()
            .all(|l| !l.text.contains("nter") || l.text.contains("winter")));
    }

    #[test]
    fn characters_no_font_has_are_listed_not_drawn() {
        let b = layout_fixed(&lato(), "King 𓀀 and 🎉", 48.0, &SET, 900, 200).unwrap();
        assert_eq!(b.missing, vec!['𓀀']);
        let plain = layout_fixed(&lato(), "King and 🎉", 48.0, &SET, 900, 200).unwrap();
        assert!(plain.missing.is_empty());
    }
}
