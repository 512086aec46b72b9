//! Text measurement, below both the template checker and the renderer: a
//! string + a [`FontChoice`](crate::fonts::FontChoice) + a box → a
//! [`TextBlock`] of shaped, placed glyphs (cosmic-text: harfrust shaping,
//! Unicode bidi, UAX #14 line breaking, bundled fallback), or why it does
//! not fit. Nothing here draws; [`crate::render`] paints the glyphs.

pub mod engine;
pub mod layout;
mod shape;

pub use layout::{
    layout_fit, layout_fixed, LayoutError, Line, PlacedGlyph, TextBlock, TextSetting, MAX_CHARS,
};

/// "no bundled font can draw '🫠' (U+1FAE0)…": the message of a missing glyph.
pub fn missing_message(chars: &[char]) -> String {
    let named: Vec<String> = chars
        .iter()
        .take(8)
        .map(|c| format!("'{c}' (U+{:04X})", *c as u32))
        .collect();
    let more = match chars.len() {
        n if n > 8 => format!(" and {} more", n - 8),
        _ => String::new(),
    };
    format!(
        "no bundled font can draw {}{more}; remove or replace the character, add a font that has it with --fonts DIR, or set `missing_glyphs: allow` on the layer to leave it out",
        named.join(", ")
    )
}
