//! One text and a face → cosmic-text's shaped, wrapped lines ([`Shaped`]),
//! re-laid out at any size and width without shaping again, and turned into
//! [`Line`]s of placed glyphs (characters no font has noted, not drawn);
//! plus the ellipsized last line of truncated text.

use cosmic_text::{
    Align, Attrs, Buffer, CacheKeyFlags, Family, FontSystem, LayoutRun, Metrics, Shaping, Weight,
    Wrap,
};
use unicode_script::{Script, UnicodeScript};

use super::layout::{Line, PlacedGlyph, TextSetting};
use crate::fonts::FontChoice;

/// Letter spacing never pulls a glyph back past the previous one.
pub(super) fn spacing(set: &TextSetting, px: f32) -> f32 {
    set.letter_spacing.max(-0.3 * px)
}

/// Scripts whose letters join or stack: letter spacing would tear them apart.
fn keeps_together(c: char) -> bool {
    matches!(
        c.script(),
        Script::Arabic
            | Script::Syriac
            | Script::Nko
            | Script::Mongolian
            | Script::Devanagari
            | Script::Bengali
            | Script::Gurmukhi
            | Script::Gujarati
            | Script::Oriya
            | Script::Tamil
            | Script::Telugu
            | Script::Kannada
            | Script::Malayalam
            | Script::Sinhala
            | Script::Thai
            | Script::Lao
            | Script::Khmer
            | Script::Myanmar
            | Script::Tibetan
    ) || c.script() == Script::Inherited
}

/// A character that is drawn (not a space, control or invisible format mark).
fn drawable(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{E0000}'..='\u{E0FFF}'))
}

const RLM: char = '\u{200F}';
const LRM: char = '\u{200E}';

/// One text shaped for one face: re-laid out at other sizes and widths
/// without shaping again (shaping is in em units).
pub(super) struct Shaped<'a> {
    font: &'a FontChoice,
    text: &'a str,
    set: &'a TextSetting,
    buffer: Buffer,
    /// The px size the letter spacing was shaped for (spacing is per em).
    spaced_at: f32,
}

impl<'a> Shaped<'a> {
    pub(super) fn new(
        fs: &mut FontSystem,
        font: &'a FontChoice,
        text: &'a str,
        set: &'a TextSetting,
        px: f32,
    ) -> Self {
        let mut buffer = Buffer::new(fs, Metrics::new(px, px * set.line_height));
        buffer.set_wrap(Wrap::WordOrGlyph);
        let mut shaped = Shaped {
            font,
            text,
            set,
            buffer,
            spaced_at: f32::NAN,
        };
        shaped.set_text(px);
        shaped
    }

    fn attrs(&self) -> Attrs<'a> {
        Attrs::new()
            .family(Family::Name(&self.font.key))
            .weight(Weight(self.font.weight))
            .cache_key_flags(CacheKeyFlags::DISABLE_HINTING)
    }

    fn set_text(&mut self, px: f32) {
        let spacing = spacing(self.set, px);
        let attrs = self.attrs();
        if spacing == 0.0 {
            if self.spaced_at.is_nan() {
                self.buffer
                    .set_text(self.text, &attrs, Shaping::Advanced, Some(Align::Left));
            }
            self.spaced_at = 0.0;
            return;
        }
        if self.spaced_at == px {
            return;
        }
        let spaced = attrs.clone().letter_spacing(spacing / px);
        // Spans of letters that take spacing and of joined scripts that don't.
        let mut spans: Vec<(&str, Attrs<'_>)> = Vec::new();
        let mut start = 0;
        let mut current: Option<bool> = None;
        for (i, c) in self.text.char_indices() {
            let together = keeps_together(c);
            if current.is_some_and(|t| t != together) {
                let a = if current == Some(true) {
                    &attrs
                } else {
                    &spaced
                };
                spans.push((&self.text[start..i], a.clone()));
                start = i;
            }
            current = Some(together);
        }
        let a = if current == Some(true) {
            &attrs
        } else {
            &spaced
        };
        spans.push((&self.text[start..], a.clone()));
        self.buffer
            .set_rich_text(spans, &attrs, Shaping::Advanced, Some(Align::Left));
        self.spaced_at = px;
    }

    /// Lays the text out at `px` in lines of at most `width` px.
    pub(super) fn relayout(
        &mut self,
        fs: &mut FontSystem,
        px: f32,
        width: Option<f32>,
        wrap: Wrap,
    ) {
        self.set_text(px);
        self.buffer
            .set_metrics(Metrics::new(px, px * self.set.line_height));
        self.buffer.set_wrap(wrap);
        self.buffer.set_size(width, None);
        self.buffer.shape_until_scroll(fs, false);
    }

    /// (lines, widest line) of the current layout.
    pub(super) fn measure(&self) -> (usize, f32) {
        self.buffer
            .layout_runs()
            .fold((0, 0.0f32), |(n, w), run| (n + 1, w.max(run.line_w)))
    }

    pub(super) fn lines(&self, missing: &mut Vec<char>) -> Vec<Line> {
        self.buffer
            .layout_runs()
            .map(|run| line_of(&run, missing))
            .collect()
    }
}

/// A cosmic-text layout run → a [`Line`] starting at x = 0; glyphs no font
/// has are left out and their characters noted in `missing`.
fn line_of(run: &LayoutRun<'_>, missing: &mut Vec<char>) -> Line {
    let mut glyphs = Vec::with_capacity(run.glyphs.len());
    let (mut start, mut end) = (usize::MAX, 0);
    let (mut left, mut right) = (f32::MAX, f32::MIN);
    for g in run.glyphs {
        start = start.min(g.start);
        end = end.max(g.end);
        let cluster = run.text.get(g.start..g.end).unwrap_or("");
        if !cluster.chars().any(drawable) {
            continue;
        }
        left = left.min(g.x);
        right = right.max(g.x + g.w);
        if g.glyph_id == 0 {
            for c in cluster.chars().filter(|c| drawable(*c)) {
                if !missing.contains(&c) {
                    missing.push(c);
                }
            }
            continue;
        }
        glyphs.push(PlacedGlyph {
            font: g.font_id,
            id: g.glyph_id,
            x: g.x + g.font_size * g.x_offset,
            y: g.y - g.font_size * g.y_offset,
        });
    }
    if left > right {
        (left, right) = (0.0, 0.0);
    }
    for g in &mut glyphs {
        g.x -= left;
    }
    let text = run
        .text
        .get(start.min(end)..end)
        .unwrap_or("")
        .trim()
        .trim_start_matches([RLM, LRM])
        .to_string();
    Line {
        text,
        glyphs,
        width: right - left,
        rtl: run.rtl,
        baseline: run.line_y - run.line_top,
    }
}

/// The part of the last kept line's paragraph that stays, with "…" at its
/// logical end (the left end of right-to-left text), shortened until it fits.
pub(super) fn ellipsized(
    fs: &mut FontSystem,
    font: &FontChoice,
    set: &TextSetting,
    px: f32,
    last: &Line,
    max_width: f32,
    missing: &mut Vec<char>,
) -> Line {
    let mark = if last.rtl { RLM } else { LRM };
    let mut base: Vec<char> = last.text.trim_end().chars().collect();
    loop {
        let candidate: String = std::iter::once(mark)
            .chain(base.iter().copied())
            .chain(std::iter::once('…'))
            .collect();
        let mut shaped = Shaped::new(fs, font, &candidate, set, px);
        shaped.relayout(fs, px, None, Wrap::None);
        let mut found = Vec::new();
        let line = shaped.lines(&mut found).into_iter().next();
        if let Some(line) = line {
            if line.width <= max_width || base.is_empty() {
                for c in found {
                    if !missing.contains(&c) {
                        missing.push(c);
                    }
                }
                return Line {
                    baseline: last.baseline,
                    ..line
                };
            }
        } else if base.is_empty() {
            return last.clone();
        }
        base.pop();
        while base.last().is_some_and(|c| c.is_whitespace()) {
            base.pop();
        }
    }
}
