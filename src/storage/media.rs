//! A file on disk → a [`MediaFile`]: its size, sha256, the Content-Type its
//! magic bytes show, and the content-addressed key it is stored under.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::StoreError;

/// The two kinds of file a Story can be made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// A JPEG image (`FF D8 FF`).
    Jpeg,
    /// An ISO-BMFF video: MP4 or MOV (`ftyp` at byte 4).
    Mp4,
}

impl MediaKind {
    /// What the first bytes of a file show it is, if either kind.
    pub fn sniff(head: &[u8]) -> Option<MediaKind> {
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(MediaKind::Jpeg)
        } else if head.len() >= 8 && &head[4..8] == b"ftyp" {
            Some(MediaKind::Mp4)
        } else {
            None
        }
    }

    /// The Content-Type Instagram expects.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaKind::Jpeg => "image/jpeg",
            MediaKind::Mp4 => "video/mp4",
        }
    }

    /// The key's extension.
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Jpeg => "jpg",
            MediaKind::Mp4 => "mp4",
        }
    }
}

/// A file ready to store: identified by the sha256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Lowercase hex sha256 of the bytes.
    pub sha256: String,
    /// JPEG or MP4.
    pub kind: MediaKind,
}

impl MediaFile {
    /// Reads and hashes `path` (blocking; see [`MediaFile::read`]). Anything
    /// but a JPEG or an MP4/MOV is refused.
    pub fn read_blocking(path: &Path) -> Result<MediaFile, StoreError> {
        let read_err = |source| StoreError::Read {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read_err)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut head = Vec::with_capacity(16);
        let mut bytes = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(read_err)?;
            if n == 0 {
                break;
            }
            if head.len() < 16 {
                let take = (16 - head.len()).min(n);
                head.extend_from_slice(&buf[..take]);
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
        }
        let kind = MediaKind::sniff(&head).ok_or_else(|| StoreError::NotMedia {
            path: path.display().to_string(),
        })?;
        Ok(MediaFile {
            path: path.to_path_buf(),
            bytes,
            sha256: hex::encode(hasher.finalize()),
            kind,
        })
    }

    /// Reads and hashes `path` off the async runtime's threads.
    pub async fn read(path: &Path) -> Result<MediaFile, StoreError> {
        let owned = path.to_path_buf();
        match tokio::task::spawn_blocking(move || MediaFile::read_blocking(&owned)).await {
            Ok(result) => result,
            Err(e) => Err(StoreError::Read {
                path: path.display().to_string(),
                source: std::io::Error::other(e),
            }),
        }
    }

    /// The content-addressed key: `prefix` + sha256 + `.jpg`/`.mp4`.
    pub fn key(&self, prefix: &str) -> String {
        format!("{prefix}{}.{}", self.sha256, self.kind.extension())
    }
}

/// Checks a key prefix: empty, or URL-safe characters ending in `/`
/// (`stories/`), so keys need no escaping in URLs.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Ok(());
    }
    if !prefix.ends_with('/') || prefix.starts_with('/') || prefix.contains("//") {
        return Err(format!(
            "prefix `{prefix}` must end with `/` and not start with one (e.g. `stories/`)"
        ));
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.')))
    {
        return Err(format!(
            "prefix `{prefix}` contains `{c}`; use letters, digits, `/`, `-`, `_` and `.`"
        ));
    }
    if prefix.split('/').any(|part| part == "." || part == "..") {
        return Err(format!(
            "prefix `{prefix}` must not contain `.` or `..` parts"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_jpeg_and_mp4_only() {
        assert_eq!(
            MediaKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(MediaKind::Jpeg)
        );
        assert_eq!(
            MediaKind::sniff(b"\0\0\0\x20ftypisom"),
            Some(MediaKind::Mp4)
        );
        assert_eq!(
            MediaKind::sniff(b"\0\0\0\x14ftypqt  "),
            Some(MediaKind::Mp4)
        );
        assert_eq!(MediaKind::sniff(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(MediaKind::sniff(b""), None);
    }

    #[test]
    fn prefixes() {
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("stories/2025/").is_ok());
        assert!(check_prefix("stories").is_err());
        assert!(check_prefix("/stories/").is_err());
        assert!(check_prefix("a b/").is_err());
        assert!(check_prefix("a/../").is_err());
    }
}
