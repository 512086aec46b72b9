//! Text → lines of positioned glyphs that fit a box: kerning, letter
//! spacing, greedy word wrap (a word is broken only when it cannot fit on a
//! line alone), max lines with an ellipsis, and auto-fit (the largest size
//! that fits). Pure: font and text in, [`TextBlock`] out.

use ab_glyph::{Font, FontArc, GlyphId, PxScale, ScaleFont};

/// A glyph on a line, `x` px from the line's start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedGlyph {
    /// The glyph.
    pub id: GlyphId,
    /// Pen position from the start of the line, px.
    pub x: f32,
}

/// One laid-out line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The text of the line.
    pub text: String,
    /// Glyphs with positions.
    pub glyphs: Vec<PlacedGlyph>,
    /// Advance width, px.
    pub width: f32,
}

/// Text laid out at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBlock {
    /// Lines, top to bottom.
    pub lines: Vec<Line>,
    /// Font size (em) in px.
    pub px: f32,
    /// The ab_glyph scale for that size.
    pub scale: PxScale,
    /// Distance between baselines, px.
    pub line_advance: f32,
    /// Ascent above the baseline, px.
    pub ascent: f32,
    /// Descent below the baseline (negative), px.
    pub descent: f32,
    /// True when lines were dropped and the last ends in an ellipsis.
    pub truncated: bool,
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
    /// Extra px between letters.
    pub letter_spacing: f32,
    /// Most lines, if limited.
    pub max_lines: Option<u32>,
}

/// Why text could not be laid out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayoutError {
    /// Too much text for the box even at the smallest size allowed.
    /// Far more text than any Story can show (and too much to lay out fast).
    #[error("text is {0} characters long; a Story shows at most {MAX_CHARS}")]
    TooLong(usize),
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

/// Letter spacing never pulls a glyph back past the previous one.
fn spacing(set: &TextSetting, px: f32) -> f32 {
    set.letter_spacing.max(-0.3 * px)
}

fn in_lines(max: Option<u32>) -> String {
    match max {
        Some(1) => " in 1 line".into(),
        Some(m) => format!(" in {m} lines"),
        None => String::new(),
    }
}

/// The scale at which one em is `px` pixels (CSS and Pillow sizes are em sizes).
pub fn em_scale(font: &FontArc, px: f32) -> PxScale {
    let upem = font.units_per_em().unwrap_or(1000.0);
    PxScale::from(px * font.height_unscaled() / upem)
}

struct Shaper<'a> {
    font: &'a FontArc,
    scale: PxScale,
    spacing: f32,
}

impl Shaper<'_> {
    fn line(&self, text: &str) -> Line {
        let sf = self.font.as_scaled(self.scale);
        let mut glyphs = Vec::with_capacity(text.len());
        let mut x = 0.0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = sf.glyph_id(c);
            if let Some(p) = prev {
                x += sf.kern(p, id) + self.spacing;
            }
            glyphs.push(PlacedGlyph { id, x });
            x += sf.h_advance(id);
            prev = Some(id);
        }
        Line {
            text: text.to_string(),
            glyphs,
            width: x,
        }
    }

    fn width(&self, text: &str) -> f32 {
        let sf = self.font.as_scaled(self.scale);
        let mut x = 0.0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = sf.glyph_id(c);
            if let Some(p) = prev {
                x += sf.kern(p, id) + self.spacing;
            }
            x += sf.h_advance(id);
            prev = Some(id);
        }
        x
    }

    /// Greedy wrap; returns lines and whether a word had to be broken.
    fn wrap(&self, text: &str, max_width: f32) -> (Vec<String>, bool) {
        let mut lines = Vec::new();
        let mut broke = false;
        for paragraph in text.split('\n') {
            let mut current = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if current.is_empty() {
                    word.to_string()
                } else {
                    format!("{current} {word}")
                };
                if self.width(&candidate) <= max_width {
                    current = candidate;
                    continue;
                }
                if !current.is_empty() {
                    lines.push(std::mem::take(&mut current));
                }
                if self.width(word) <= max_width {
                    current = word.to_string();
                    continue;
                }
                broke = true;
                for c in word.chars() {
                    let mut next = current.clone();
                    next.push(c);
                    if self.width(&next) > max_width && !current.is_empty() {
                        lines.push(std::mem::take(&mut current));
                        current.push(c);
                    } else {
                        current = next;
                    }
                }
            }
            lines.push(current);
        }
        while lines.len() > 1 && lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        (lines, broke)
    }

    fn ellipsize(&self, line: &str, max_width: f32) -> String {
        let sf = self.font.as_scaled(self.scale);
        let mark = if sf.glyph_id('…').0 != 0 {
            "…"
        } else {
            "..."
        };
        let mut base: String = line.trim_end().to_string();
        loop {
            let candidate = format!("{base}{mark}");
            if self.width(&candidate) <= max_width || base.is_empty() {
                return candidate;
            }
            base.pop();
            base = base.trim_end().to_string();
        }
    }
}

fn block(
    font: &FontArc,
    px: f32,
    set: &TextSetting,
    lines: Vec<String>,
    truncated: bool,
) -> TextBlock {
    let scale = em_scale(font, px);
    let shaper = Shaper {
        font,
        scale,
        spacing: spacing(set, px),
    };
    let sf = font.as_scaled(scale);
    TextBlock {
        lines: lines.iter().map(|l| shaper.line(l)).collect(),
        px,
        scale,
        line_advance: px * set.line_height,
        ascent: sf.ascent(),
        descent: sf.descent(),
        truncated,
    }
}

/// Lays `text` out at `px` in a `w`×`h` box; lines past `max_lines` or the
/// box height are dropped and the last one kept ends in an ellipsis.
pub fn layout_fixed(
    font: &FontArc,
    text: &str,
    px: f32,
    set: &TextSetting,
    w: u32,
    h: u32,
) -> Result<TextBlock, LayoutError> {
    check_length(text)?;
    let shaper = Shaper {
        font,
        scale: em_scale(font, px),
        spacing: spacing(set, px),
    };
    let (mut lines, _) = shaper.wrap(text, w as f32);
    if lines.iter().any(|l| shaper.width(l) > w as f32) {
        // Only a single glyph wider than the whole box gets here.
        return Err(LayoutError::DoesNotFit {
            w,
            h,
            px,
            max_lines: set.max_lines,
        });
    }
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
    let truncated = lines.len() > allowed;
    if truncated {
        lines.truncate(allowed);
        if let Some(last) = lines.last_mut() {
            *last = shaper.ellipsize(last, w as f32);
        }
    }
    Ok(block(font, px, set, lines, truncated))
}

/// Lays `text` out at the largest whole px size in `min..=max` that fits the
/// box in at most `max_lines`, preferring sizes that break no word.
pub fn layout_fit(
    font: &FontArc,
    text: &str,
    min: f32,
    max: f32,
    set: &TextSetting,
    w: u32,
    h: u32,
) -> Result<TextBlock, LayoutError> {
    check_length(text)?;
    let attempt = |px: f32| {
        let shaper = Shaper {
            font,
            scale: em_scale(font, px),
            spacing: spacing(set, px),
        };
        let (lines, broke) = shaper.wrap(text, w as f32);
        let fits_lines = set.max_lines.is_none_or(|m| lines.len() <= m as usize)
            && lines.iter().all(|l| shaper.width(l) <= w as f32);
        let fits_height = lines.len() as f32 * px * set.line_height <= h as f32 + 1e-3;
        (fits_lines && fits_height, broke, lines)
    };
    // Largest size that fits without breaking words, then with.
    for allow_broken in [false, true] {
        let ok = |px: f32| {
            let (fits, broke, _) = attempt(px);
            fits && (allow_broken || !broke)
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
        let (_, _, lines) = attempt(best);
        return Ok(block(font, best, set, lines, false));
    }
    Err(LayoutError::DoesNotFit {
        w,
        h,
        px: min,
        max_lines: set.max_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::FontBook;

    fn lato() -> FontArc {
        FontBook::bundled().get("Lato", 400).unwrap().font.clone()
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
}
