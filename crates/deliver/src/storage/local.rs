//! The local store (the embedded default): a [`MediaFile`] → a copy under
//! its content-addressed key in a directory the sandbox serves over
//! loopback HTTP, and the URL `base_url + key`.

use std::path::{Path, PathBuf};

use super::media::check_prefix;
use super::{MediaFile, StorageConfig, Store, StoreError, Uploaded};

/// A directory of media served at `base_url` (the sandbox's `GET /media/{*key}`).
#[derive(Debug, Clone)]
pub struct LocalStore {
    dir: PathBuf,
    base_url: String,
    prefix: String,
}

impl LocalStore {
    /// A store writing into `dir` (created when missing) whose files are
    /// served at `base_url`, which ends in `/` (`http://127.0.0.1:PORT/media/`).
    pub fn new(
        dir: impl Into<PathBuf>,
        base_url: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Result<LocalStore, StoreError> {
        let (dir, base_url, prefix) = (dir.into(), base_url.into(), prefix.into());
        check_prefix(&prefix).map_err(StoreError::Config)?;
        if !base_url.ends_with('/') {
            return Err(StoreError::Config(format!(
                "base_url `{base_url}` must end with `/`"
            )));
        }
        Ok(LocalStore {
            dir,
            base_url,
            prefix,
        })
    }

    /// The store `storage:` describes (`dir`, `base_url`, `prefix`).
    pub fn from_config(config: &StorageConfig) -> Result<LocalStore, StoreError> {
        LocalStore::new(&config.dir, &config.base_url, &config.prefix)
    }

    /// The directory the sandbox must serve.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes `key` from the directory; a missing file is not an error.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.dir.join(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Local {
                dir: self.dir.display().to_string(),
                key: key.to_string(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    fn write(&self, media: &MediaFile, key: &str) -> Result<bool, std::io::Error> {
        let target = self.dir.join(key);
        if let Ok(meta) = std::fs::metadata(&target) {
            if meta.is_file() && meta.len() == media.bytes {
                return Ok(false);
            }
        }
        let parent = target.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent)?;
        // Copy to a unique temporary name beside the target, fsync, then
        // rename: readers never see a partial file, a crash never leaves
        // one under the key, and concurrent writers of the same bytes both
        // end with the same complete file.
        let tmp = storyforge_base::util::atomic::temp_path(&target);
        let copied = std::fs::copy(&media.path, &tmp).and_then(|n| {
            if n == media.bytes {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "{} changed while being stored ({n} bytes, expected {})",
                    media.path.display(),
                    media.bytes
                )))
            }
        });
        if let Err(e) = copied.and_then(|()| storyforge_base::util::atomic::persist(&tmp, &target))
        {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(true)
    }
}

impl Store for LocalStore {
    async fn put(&self, media: &MediaFile) -> Result<Uploaded, StoreError> {
        let key = media.key(&self.prefix);
        let (store, owned, k) = (self.clone(), media.clone(), key.clone());
        let written = tokio::task::spawn_blocking(move || store.write(&owned, &k))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|source| StoreError::Local {
                dir: self.dir.display().to_string(),
                key: key.clone(),
                source,
            })?;
        Ok(Uploaded {
            url: format!("{}{key}", self.base_url),
            key,
            bytes: media.bytes,
            sha256: media.sha256.clone(),
            content_type: media.kind.content_type().to_string(),
            reused: !written,
        })
    }

    fn key_prefix(&self) -> &str {
        &self.prefix
    }

    fn describe(&self) -> String {
        format!("local store {}", self.dir.display())
    }
}
