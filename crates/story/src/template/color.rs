//! Colours as templates write them (`#rgb`, `#rrggbb`, `#rrggbbaa`, a few
//! names) → an sRGB [`Color`] with straight alpha.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// An sRGB colour with straight (non-premultiplied) alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    /// Red, 0–255.
    pub r: u8,
    /// Green, 0–255.
    pub g: u8,
    /// Blue, 0–255.
    pub b: u8,
    /// Alpha, 0 (transparent) – 255 (opaque).
    pub a: u8,
}

impl Color {
    /// Opaque black.
    pub const BLACK: Color = Color::rgb(0, 0, 0);
    /// Opaque white.
    pub const WHITE: Color = Color::rgb(255, 255, 255);

    /// An opaque colour.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Color { r, g, b, a: 255 }
    }

    /// The colour as `[r, g, b]`.
    pub fn channels(self) -> [u8; 3] {
        [self.r, self.g, self.b]
    }
}

const NAMED: &[(&str, Color)] = &[
    ("black", Color::BLACK),
    ("white", Color::WHITE),
    ("red", Color::rgb(255, 0, 0)),
    ("green", Color::rgb(0, 128, 0)),
    ("blue", Color::rgb(0, 0, 255)),
    ("yellow", Color::rgb(255, 255, 0)),
    ("gray", Color::rgb(128, 128, 128)),
    ("grey", Color::rgb(128, 128, 128)),
    (
        "transparent",
        Color {
            r: 0,
            g: 0,
            b: 0,
            a: 0,
        },
    ),
];

/// Why a colour string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a colour: use #rgb, #rrggbb, #rrggbbaa or a name (black, white, transparent…)"
)]
pub struct ColorError(pub String);

impl FromStr for Color {
    type Err = ColorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Some((_, c)) = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(t)) {
            return Ok(*c);
        }
        let err = || ColorError(s.to_string());
        let hex = t.strip_prefix('#').ok_or_else(err)?;
        if !hex.is_ascii() {
            return Err(err());
        }
        let nib = |i: usize| u8::from_str_radix(&hex[i..=i], 16).map_err(|_| err());
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| err());
        match hex.len() {
            3 | 4 => {
                let a = if hex.len() == 4 { nib(3)? * 17 } else { 255 };
                Ok(Color {
                    r: nib(0)? * 17,
                    g: nib(1)? * 17,
                    b: nib(2)? * 17,
                    a,
                })
            }
            6 | 8 => {
                let a = if hex.len() == 8 { byte(6)? } else { 255 };
                Ok(Color {
                    r: byte(0)?,
                    g: byte(2)?,
                    b: byte(4)?,
                    a,
                })
            }
            _ => Err(err()),
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)?;
        if self.a != 255 {
            write!(f, "{:02x}", self.a)?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Color;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a colour such as \"#1a2b3c\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Color, E> {
                v.parse().map_err(|e: ColorError| E::custom(e))
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Color {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Color".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "#rgb, #rgba, #rrggbb, #rrggbbaa or black, white, red, green, blue, yellow, gray, transparent",
            "pattern": "^(#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|[a-zA-Z]+)$"
        })
    }
}

/// `["#fff", "#000 80%"]` → sorted (position, colour) stops.
pub(super) fn parse_stops(stops: &[String]) -> Result<Vec<(f32, Color)>, String> {
    if stops.len() < 2 {
        return Err("a gradient needs at least two `stops`".into());
    }
    let last = (stops.len() - 1) as f32;
    let mut out = Vec::with_capacity(stops.len());
    for (i, s) in stops.iter().enumerate() {
        let mut parts = s.split_whitespace();
        let color: Color = parts
            .next()
            .unwrap_or("")
            .parse()
            .map_err(|e: ColorError| format!("stop {}: {e}", i + 1))?;
        let at = match parts.next() {
            None => i as f32 / last,
            Some(p) => {
                let v: f32 = p.trim_end_matches('%').parse().map_err(|_| {
                    format!(
                        "stop {}: position `{p}` is not a percentage like 40%",
                        i + 1
                    )
                })?;
                stop_position(v)? / 100.0
            }
        };
        out.push((at, color));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out)
}

fn stop_position(v: f32) -> Result<f32, String> {
    if v.is_finite() && (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "`stop position` is {v}; it must be between 0 and 100"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_names() {
        assert_eq!("#fff".parse::<Color>(), Ok(Color::WHITE));
        assert_eq!("#10203040".parse::<Color>().map(|c| c.a), Ok(0x40));
        assert_eq!("Transparent".parse::<Color>().map(|c| c.a), Ok(0));
        assert!("#12345".parse::<Color>().is_err());
        assert!("#ééé".parse::<Color>().is_err());
        assert!("blu".parse::<Color>().is_err());
    }
}
