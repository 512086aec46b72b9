//! Image files on disk → decoded, upright RGBA images for the renderer.
//!
//! Paths are confined to a root directory (a template's or a feed's), sizes
//! are read from the header and anything over
//! [`spec::MAX_INPUT_PIXELS`](storyforge_base::spec::MAX_INPUT_PIXELS) is refused before
//! decoding; EXIF orientation is applied; CMYK, greyscale, 16-bit and alpha
//! inputs all become 8-bit RGBA. Decoded images are cached per path, so a
//! logo used by 10,000 rows is decoded once. An `http(s)://` source is
//! downloaded instead ([`remote`]: capped, cached with its validators).

pub mod remote;

use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use image::{DynamicImage, ImageDecoder, ImageReader, RgbaImage};

use storyforge_base::spec;

/// Why an asset could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssetError {
    /// Absolute paths and `..` that leave the root are refused.
    #[error(
        "asset `{path}` is outside {root}: asset paths are relative and stay inside that directory"
    )]
    Escapes {
        /// The path as written.
        path: String,
        /// The directory it must stay in.
        root: String,
    },
    /// Nothing there.
    #[error("asset `{path}` not found in {root}")]
    Missing {
        /// The path as written.
        path: String,
        /// The directory searched.
        root: String,
    },
    /// Too many pixels to decode safely.
    #[error("{path}: {width}×{height} is over the {limit} megapixel limit; downscale it first")]
    TooLarge {
        /// The file.
        path: String,
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The limit in megapixels.
        limit: u64,
    },
    /// An `http(s)://` image that could not be downloaded.
    #[error("image {url}: {reason}")]
    Remote {
        /// The URL, redacted.
        url: String,
        /// What went wrong and what to do.
        reason: String,
    },
    /// Unreadable, unsupported or corrupt.
    #[error("{path}: cannot decode image ({reason}); use a JPEG, PNG or WebP file")]
    Decode {
        /// The file.
        path: String,
        /// What the decoder said.
        reason: String,
    },
}

/// Resolves `rel` inside `root`, refusing absolute paths and escapes.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, AssetError> {
    let escapes = || AssetError::Escapes {
        path: rel.to_string(),
        root: root.display().to_string(),
    };
    let p = Path::new(rel);
    if rel.trim().is_empty()
        || p.components()
            .any(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
    {
        return Err(escapes());
    }
    let joined = root.join(p);
    let real = joined.canonicalize().map_err(|_| AssetError::Missing {
        path: rel.to_string(),
        root: root.display().to_string(),
    })?;
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    if !real.starts_with(&real_root) {
        return Err(escapes());
    }
    if !real.is_file() {
        return Err(AssetError::Missing {
            path: rel.to_string(),
            root: root.display().to_string(),
        });
    }
    Ok(real)
}

/// Decodes an image file: size checked first, EXIF orientation applied, RGBA8 out.
pub fn decode_file(path: &Path) -> Result<RgbaImage, AssetError> {
    let shown = path.display().to_string();
    let fail = |reason: String| AssetError::Decode {
        path: shown.clone(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| fail(e.to_string()))?;
    decode_reader(reader, &shown)
}

/// Decodes image bytes the same way as [`decode_file`]; `name` is used in errors.
pub fn decode_bytes(bytes: &[u8], name: &str) -> Result<RgbaImage, AssetError> {
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| AssetError::Decode {
            path: name.to_string(),
            reason: e.to_string(),
        })?;
    decode_reader(reader, name)
}

fn decode_reader<R: std::io::BufRead + std::io::Seek>(
    mut reader: ImageReader<R>,
    name: &str,
) -> Result<RgbaImage, AssetError> {
    let fail = |reason: String| AssetError::Decode {
        path: name.to_string(),
        reason,
    };
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(spec::MAX_INPUT_PIXELS * 8 + (64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| fail(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > spec::MAX_INPUT_PIXELS {
        return Err(AssetError::TooLarge {
            path: name.to_string(),
            width,
            height,
            limit: spec::MAX_INPUT_PIXELS / 1_000_000,
        });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| fail(e.to_string()))?;
    img.apply_orientation(orientation);
    let mut rgba = img.into_rgba8();
    if let Some(profile) = icc {
        to_srgb(&mut rgba, &profile);
    }
    Ok(rgba)
}

/// Converts pixels tagged with an RGB ICC profile (Display P3 from phones,
/// Adobe RGB from cameras…) to sRGB, the only space Instagram shows right.
/// Profiles that are sRGB already, not RGB, or unreadable leave the pixels
/// as they are.
fn to_srgb(img: &mut RgbaImage, icc: &[u8]) {
    // Only RGB profiles describe these (RGBA) pixels; grey and CMYK
    // profiles were already accounted for by the decoder's conversion.
    if icc.get(16..20) != Some(b"RGB ".as_slice()) {
        return;
    }
    let Some(src) = qcms::Profile::new_from_slice(icc, false) else {
        return;
    };
    if src.is_sRGB() {
        return;
    }
    let dst = qcms::Profile::new_sRGB();
    if let Some(t) =
        qcms::Transform::new(&src, &dst, qcms::DataType::RGBA8, qcms::Intent::Perceptual)
    {
        t.apply(img.as_mut());
    }
}

/// Decoded images by canonical path, shared by every row of a batch.
#[derive(Default)]
pub struct AssetCache {
    images: Mutex<HashMap<PathBuf, Arc<RgbaImage>>>,
}

impl AssetCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves `rel` in `root` and decodes it, once per file.
    pub fn load(&self, root: &Path, rel: &str) -> Result<Arc<RgbaImage>, AssetError> {
        let path = resolve(root, rel)?;
        if let Some(img) = self.lock().get(&path) {
            return Ok(img.clone());
        }
        let img = Arc::new(decode_file(&path)?);
        self.lock().insert(path, img.clone());
        Ok(img)
    }

    /// Downloads (or revalidates) the image at `url` and decodes it, once
    /// per URL for the batch (a template's remote logo).
    pub fn load_remote(&self, url: &str) -> Result<Arc<RgbaImage>, AssetError> {
        let key = PathBuf::from(url);
        if let Some(img) = self.lock().get(&key) {
            return Ok(img.clone());
        }
        let img = Arc::new(remote::load(url, &remote::RemoteLimits::from_env())?);
        self.lock().insert(key, img.clone());
        Ok(img)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<RgbaImage>>> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.images.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("secret.png"), b"x").unwrap();
        std::fs::write(root.join("logo.png"), b"x").unwrap();
        assert!(resolve(&root, "logo.png").is_ok());
        assert!(matches!(
            resolve(&root, "../secret.png"),
            Err(AssetError::Escapes { .. })
        ));
        assert!(matches!(
            resolve(&root, "/etc/passwd"),
            Err(AssetError::Escapes { .. })
        ));
        assert!(matches!(
            resolve(&root, "nope.png"),
            Err(AssetError::Missing { .. })
        ));
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let e = decode_bytes(b"not an image at all", "x.jpg").unwrap_err();
        assert!(matches!(e, AssetError::Decode { .. }), "{e}");
    }
}
