//! A file on disk → a [`MediaFile`]: its size, sha256, the [`MediaKind`]
//! its first bytes show, and the content-addressed key it is stored under.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::StoreError;
use storyforge_base::media::MediaKind;

/// A file ready to store: identified by the sha256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Lowercase hex sha256 of the bytes.
    pub sha256: String,
    /// Image (JPEG) or video (MP4/MOV), by content.
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
        let mut head = Vec::with_capacity(storyforge_base::media::SNIFF_LEN);
        let mut bytes = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(read_err)?;
            if n == 0 {
                break;
            }
            if head.len() < storyforge_base::media::SNIFF_LEN {
                let take = (storyforge_base::media::SNIFF_LEN - head.len()).min(n);
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
    fn prefixes() {
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("stories/2025/").is_ok());
        assert!(check_prefix("stories").is_err());
        assert!(check_prefix("/stories/").is_err());
        assert!(check_prefix("a b/").is_err());
        assert!(check_prefix("a/../").is_err());
    }
}
