//! Font families and weights → a [`FontBook`]: the faces templates name
//! (bundled Lato and DejaVu Serif, plus `--fonts DIR`) and, behind every
//! one of them, the bundled fallback chain (Noto) for the scripts and emoji
//! those faces lack, all in one font database the text engine shapes from.
//!
//! Every font is compiled into the binary, so renders are the same on every
//! machine: nothing is ever read from the host's font directories. A file
//! named `Family-Style.ttf` (or `.otf`) is family `Family` at the weight its
//! style names (`Lato-Bold.ttf` → Lato 700). Family names match ignoring
//! case and spaces, so `DejaVu Serif` finds `DejaVuSerif.ttf`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use cosmic_text::fontdb;

/// One face: a family at a weight.
#[derive(Clone)]
pub struct Face {
    /// Family as named by its file.
    pub family: String,
    /// CSS weight, 100–900.
    pub weight: u16,
    /// The unique family name it has in the font database.
    key: String,
}

/// The font database every text layer shapes from: the named faces and the
/// fallback chain. Shared (read-only) by all threads; each thread shapes
/// with its own engine built from it (see `text::engine`).
pub struct FontLibrary {
    /// Tells libraries apart (a thread's engine is rebuilt when it changes).
    pub(crate) id: u64,
    /// The faces, under their unique family names.
    pub(crate) db: fontdb::Database,
}

/// A resolved face to set text in, with the library it lives in.
#[derive(Clone)]
pub struct FontChoice {
    /// The library (the face and every fallback).
    pub library: Arc<FontLibrary>,
    /// The face's unique family name in the library.
    pub key: String,
    /// Its weight.
    pub weight: u16,
}

impl std::fmt::Debug for FontChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FontChoice({} {})", self.key, self.weight)
    }
}

/// The bytes of a font file, shared.
type FontData = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// The fonts templates can use.
#[derive(Clone)]
pub struct FontBook {
    faces: Vec<Face>,
    /// Font files of the named faces, in load order (later wins).
    files: Vec<(String, u16, FontData)>,
    library: Arc<FontLibrary>,
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
        &[$(($file, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fonts/", $file)) as &[u8])),*]
    };
}

const BUNDLED: &[(&str, &[u8])] = bundled!(
    "Lato-Regular.ttf",
    "Lato-Bold.ttf",
    "Lato-Black.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf"
);

/// Fallback families, in the database under these names.
pub(crate) mod chain {
    /// Latin, Greek, Cyrillic (Noto Sans).
    pub const LATIN: &str = "storyforge fallback latin";
    /// Arabic (Noto Sans Arabic).
    pub const ARABIC: &str = "storyforge fallback arabic";
    /// Hebrew (Noto Sans Hebrew).
    pub const HEBREW: &str = "storyforge fallback hebrew";
    /// Devanagari (Noto Sans Devanagari).
    pub const DEVANAGARI: &str = "storyforge fallback devanagari";
    /// Thai (Noto Sans Thai).
    pub const THAI: &str = "storyforge fallback thai";
    /// Chinese, Japanese, Korean (a subset of Noto Sans CJK SC).
    pub const CJK: &str = "storyforge fallback cjk";
    /// Emoji in colour (Noto Color Emoji).
    pub const EMOJI: &str = "storyforge fallback emoji";
}

/// The fallback chain: family, regular file, bold file (`None`: one weight).
#[allow(clippy::type_complexity)]
const FALLBACKS: &[(&str, &[u8], Option<&[u8]>)] = &[
    (
        chain::LATIN,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSans-Regular.ttf"
        )),
        Some(include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSans-Bold.ttf"
        ))),
    ),
    (
        chain::ARABIC,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSansArabic-Regular.ttf"
        )),
        Some(include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSansArabic-Bold.ttf"
        ))),
    ),
    (
        chain::HEBREW,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSansHebrew-Regular.ttf"
        )),
        Some(include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSansHebrew-Bold.ttf"
        ))),
    ),
    (
        chain::DEVANAGARI,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSansDevanagari-Regular.ttf"
        )),
        Some(include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSansDevanagari-Bold.ttf"
        ))),
    ),
    (
        chain::THAI,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSansThai-Regular.ttf"
        )),
        Some(include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSansThai-Bold.ttf"
        ))),
    ),
    (
        chain::CJK,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoSansCJKsc-Subset.otf"
        )),
        None,
    ),
    (
        chain::EMOJI,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fonts/NotoColorEmoji.ttf"
        )),
        None,
    ),
];

/// The weights a fallback face is registered at, so that it matches a
/// layer of any weight exactly (the engine only falls back to exact weights).
const ALL_WEIGHTS: [u16; 9] = [100, 200, 300, 400, 500, 600, 700, 800, 900];

static LIBRARY_IDS: AtomicU64 = AtomicU64::new(1);

/// Loads `data` into `db` as `family` at each of `weights`; the ids added.
fn register(
    db: &mut fontdb::Database,
    data: FontData,
    family: &str,
    weights: impl Iterator<Item = u16> + Clone,
) -> usize {
    let ids = db.load_font_source(fontdb::Source::Binary(data));
    let mut added = 0;
    for id in ids {
        let Some(info) = db.face(id).cloned() else {
            continue;
        };
        db.remove_face(id);
        for w in weights.clone() {
            let mut face = info.clone();
            face.families = vec![(family.to_string(), fontdb::Language::English_UnitedStates)];
            face.weight = fontdb::Weight(w);
            face.style = fontdb::Style::Normal;
            db.push_face_info(face);
            added += 1;
        }
    }
    added
}

/// The fallback faces, parsed once per process.
fn fallback_db() -> &'static fontdb::Database {
    static DB: OnceLock<fontdb::Database> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = fontdb::Database::new();
        for (family, regular, bold) in FALLBACKS {
            match bold {
                Some(bold) => {
                    let r = ALL_WEIGHTS.iter().copied().filter(|w| *w < 600);
                    register(&mut db, Arc::new(*regular), family, r);
                    let b = ALL_WEIGHTS.iter().copied().filter(|w| *w >= 600);
                    register(&mut db, Arc::new(*bold), family, b);
                }
                None => {
                    register(
                        &mut db,
                        Arc::new(*regular),
                        family,
                        ALL_WEIGHTS.iter().copied(),
                    );
                }
            }
        }
        db
    })
}

/// Whether `bytes` read as a font file (its error message when not).
fn ttf_check(bytes: &[u8]) -> Result<(), String> {
    cosmic_text::skrifa::FontRef::from_index(bytes, 0)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl FontBook {
    /// The fonts compiled into storyforge (parsed once per process).
    pub fn bundled() -> FontBook {
        static BOOK: OnceLock<FontBook> = OnceLock::new();
        BOOK.get_or_init(|| {
            let mut book = FontBook {
                faces: Vec::new(),
                files: Vec::new(),
                library: Arc::new(FontLibrary {
                    id: 0,
                    db: fontdb::Database::new(),
                }),
            };
            for (file, bytes) in BUNDLED {
                let (family, weight) = face_name(file.trim_end_matches(".ttf"));
                book.files.push((family, weight, Arc::new(*bytes)));
            }
            book.rebuild();
            book
        })
        .clone()
    }

    /// Rebuilds the faces and the library from `files` (later files win).
    fn rebuild(&mut self) {
        let mut db = fallback_db().clone();
        self.faces.clear();
        for (n, (family, weight, data)) in self.files.iter().enumerate().rev() {
            let key = format!("storyforge face {n}");
            if register(&mut db, data.clone(), &key, std::iter::once(*weight)) > 0 {
                self.faces.push(Face {
                    family: family.clone(),
                    weight: *weight,
                    key,
                });
            }
        }
        self.library = Arc::new(FontLibrary {
            id: LIBRARY_IDS.fetch_add(1, Ordering::Relaxed),
            db,
        });
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
            if let Err(e) = ttf_check(&bytes) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    FontError::BadFile {
                        path: path.display().to_string(),
                        reason: e,
                    },
                ));
            }
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let lower = stem.to_ascii_lowercase();
            if lower.contains("italic") || lower.contains("oblique") {
                // Upright text only: a BoldItalic file must not stand in for Bold.
                continue;
            }
            let (family, weight) = face_name(stem);
            self.files.push((family, weight, Arc::new(bytes)));
            added += 1;
        }
        if added > 0 {
            self.rebuild();
        }
        Ok(added)
    }

    /// The face of `family` at exactly `weight`, ready to set text in.
    pub fn choose(&self, family: &str, weight: u16) -> Result<FontChoice, FontError> {
        let face = self.get(family, weight)?;
        Ok(FontChoice {
            library: self.library.clone(),
            key: face.key.clone(),
            weight: face.weight,
        })
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
                hint: storyforge_base::util::suggest::did_you_mean(
                    family,
                    families.iter().map(String::as_str),
                ),
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
    fn every_face_has_a_library_entry() {
        let book = FontBook::bundled();
        let choice = book.choose("Lato", 900).expect("Lato Black");
        assert!(choice
            .library
            .db
            .faces()
            .any(|f| f.families.iter().any(|(n, _)| *n == choice.key)));
        for family in [chain::ARABIC, chain::CJK, chain::EMOJI] {
            let weights: Vec<u16> = choice
                .library
                .db
                .faces()
                .filter(|f| f.families.iter().any(|(n, _)| n == family))
                .map(|f| f.weight.0)
                .collect();
            assert_eq!(weights.len(), ALL_WEIGHTS.len(), "{family}");
        }
    }

    #[test]
    fn weights_by_name() {
        assert_eq!(weight_from_name("Bold"), Ok(700));
        assert_eq!(weight_from_name("semi-bold"), Ok(600));
        assert_eq!(weight_from_name("900"), Ok(900));
        assert!(weight_from_name("chunky").is_err());
    }
}
