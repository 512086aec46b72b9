//! Font families and weights → loaded fonts.
//!
//! The bundled families (Lato, DejaVu Serif; see `fonts/`) are compiled into
//! the binary so templates render the same everywhere. More directories can
//! be added; a file named `Family-Style.ttf` (or `.otf`) is family `Family`
//! at the weight its style names (`Lato-Bold.ttf` → Lato 700). Family names
//! match ignoring case and spaces, so `DejaVu Serif` finds `DejaVuSerif.ttf`.

use std::path::Path;

use ab_glyph::FontArc;

/// One face: a family at a weight.
#[derive(Clone)]
pub struct Face {
    /// Family as named by its file.
    pub family: String,
    /// CSS weight, 100–900.
    pub weight: u16,
    /// The font.
    pub font: FontArc,
}

/// The fonts templates can use.
#[derive(Clone)]
pub struct FontBook {
    faces: Vec<Face>,
}

/// Why a font could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FontError {
    /// No face of that family.
    #[error("font family `{family}` is not installed{hint}; families: {available}")]
    NoFamily {
        /// Family asked for.
        family: String,
        /// " (did you mean …)" or empty.
        hint: String,
        /// Families there are.
        available: String,
    },
    /// The family exists, not at that weight.
    #[error("font `{family}` has no weight {weight}; weights: {available}")]
    NoWeight {
        /// Family asked for.
        family: String,
        /// Weight asked for.
        weight: u16,
        /// Weights there are.
        available: String,
    },
    /// A weight name that means nothing.
    #[error("`{0}` is not a font weight: use 100–900 or thin, light, regular, medium, semibold, bold, heavy, black")]
    BadWeight(String),
    /// A font file that would not load.
    #[error("{path}: not a usable font file ({reason}); remove it or replace it with a TrueType/OpenType font")]
    BadFile {
        /// The file.
        path: String,
        /// What the parser said.
        reason: String,
    },
}

/// The family every template gets when it names none.
pub const DEFAULT_FAMILY: &str = "Lato";

const WEIGHT_NAMES: &[(&str, u16)] = &[
    ("thin", 100),
    ("hairline", 100),
    ("extralight", 200),
    ("light", 300),
    ("regular", 400),
    ("normal", 400),
    ("book", 400),
    ("medium", 500),
    ("semibold", 600),
    ("demibold", 600),
    ("bold", 700),
    ("extrabold", 800),
    ("heavy", 800),
    ("black", 900),
];

/// A weight name (`bold`) or number (`700`) → CSS weight.
pub fn weight_from_name(name: &str) -> Result<u16, FontError> {
    let key = name
        .trim()
        .to_ascii_lowercase()
        .replace(['-', '_', ' '], "");
    if let Ok(n) = key.parse::<u16>() {
        if (1..=1000).contains(&n) {
            return Ok(n);
        }
    }
    WEIGHT_NAMES
        .iter()
        .find(|(n, _)| *n == key)
        .map(|(_, w)| *w)
        .ok_or_else(|| FontError::BadWeight(name.to_string()))
}

fn family_key(family: &str) -> String {
    family
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `Lato-Bold` → ("Lato", 700); `DejaVuSerif` → ("DejaVuSerif", 400).
fn face_name(stem: &str) -> (String, u16) {
    match stem.rsplit_once('-') {
        Some((family, style)) => {
            let weight = weight_from_name(style)
                .or_else(|_| weight_from_name(style.trim_end_matches("Italic")))
                .unwrap_or(400);
            (family.to_string(), weight)
        }
        None => (stem.to_string(), 400),
    }
}

macro_rules! bundled {
    ($($file:literal),*) => {
        &[$(($file, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/fonts/", $file)) as &[u8])),*]
    };
}

const BUNDLED: &[(&str, &[u8])] = bundled!(
    "Lato-Regular.ttf",
    "Lato-Bold.ttf",
    "Lato-Black.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf"
);

impl FontBook {
    /// The fonts compiled into storyforge.
    pub fn bundled() -> FontBook {
        let faces = BUNDLED
            .iter()
            .filter_map(|(file, bytes)| {
                let font = FontArc::try_from_slice(bytes).ok()?;
                let (family, weight) = face_name(file.trim_end_matches(".ttf"));
                Some(Face {
                    family,
                    weight,
                    font,
                })
            })
            .collect();
        FontBook { faces }
    }

    /// Adds every `.ttf`/`.otf` in `dir` (not recursive). Faces added later
    /// win over earlier ones of the same family and weight.
    pub fn add_dir(&mut self, dir: &Path) -> Result<usize, std::io::Error> {
        let mut added = 0;
        let mut entries: Vec<_> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if !matches!(ext.as_deref(), Some("ttf" | "otf")) {
                continue;
            }
            let bytes = std::fs::read(&path)?;
            let font = FontArc::try_from_vec(bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    FontError::BadFile {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    },
                )
            })?;
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let lower = stem.to_ascii_lowercase();
            if lower.contains("italic") || lower.contains("oblique") {
                // Upright text only: a BoldItalic file must not stand in for Bold.
                continue;
            }
            let (family, weight) = face_name(stem);
            self.faces.insert(
                0,
                Face {
                    family,
                    weight,
                    font,
                },
            );
            added += 1;
        }
        Ok(added)
    }

    /// The face of `family` at exactly `weight`.
    pub fn get(&self, family: &str, weight: u16) -> Result<&Face, FontError> {
        let key = family_key(family);
        let of_family: Vec<&Face> = self
            .faces
            .iter()
            .filter(|f| family_key(&f.family) == key)
            .collect();
        if of_family.is_empty() {
            let families = self.families();
            return Err(FontError::NoFamily {
                family: family.to_string(),
                hint: crate::template::did_you_mean(family, families.iter().map(String::as_str)),
                available: families.join(", "),
            });
        }
        of_family
            .iter()
            .find(|f| f.weight == weight)
            .copied()
            .ok_or_else(|| {
                let mut weights: Vec<u16> = of_family.iter().map(|f| f.weight).collect();
                weights.sort_unstable();
                weights.dedup();
                FontError::NoWeight {
                    family: family.to_string(),
                    weight,
                    available: weights
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })
    }

    /// Family names, sorted, once each.
    pub fn families(&self) -> Vec<String> {
        let mut v: Vec<String> = self.faces.iter().map(|f| f.family.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_families_resolve() {
        let book = FontBook::bundled();
        assert_eq!(book.get("lato", 700).map(|f| f.weight), Ok(700));
        assert!(book.get("DejaVu Serif", 400).is_ok());
        assert!(matches!(
            book.get("Lato", 300),
            Err(FontError::NoWeight { .. })
        ));
        let e = book.get("Latto", 400).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("did you mean `Lato`"));
    }

    #[test]
    fn weights_by_name() {
        assert_eq!(weight_from_name("Bold"), Ok(700));
        assert_eq!(weight_from_name("semi-bold"), Ok(600));
        assert_eq!(weight_from_name("900"), Ok(900));
        assert!(weight_from_name("chunky").is_err());
    }
}
