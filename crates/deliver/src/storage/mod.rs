//! The upload stage: Story files → public URLs Instagram can fetch. A
//! [`Store`] (S3-compatible bucket or a local directory served by the
//! sandbox) puts each file under a content-addressed key; [`url_check`]
//! then fetches the URL the way Instagram does, and only a URL that passed
//! comes out of [`upload_file`] / [`upload_all`].

mod config;
mod error;
pub mod local;
pub mod media;
pub mod s3;
pub mod url_check;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

pub use config::{StorageConfig, StoreKind, DEFAULT_LOCAL_BASE_URL, DEFAULT_PRESIGN_SECONDS};
pub use error::StoreError;
pub use local::LocalStore;
pub use media::MediaFile;
pub use s3::S3Store;
pub use url_check::{is_loopback_host, UrlCheck};

/// A file that is in the store, and the URL that serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uploaded {
    /// The content-addressed key: prefix + sha256 + extension.
    pub key: String,
    /// Where Instagram fetches it (HTTPS, or plain HTTP on loopback for the sandbox).
    pub url: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lowercase hex sha256 of the bytes.
    pub sha256: String,
    /// `image/jpeg` or `video/mp4`.
    pub content_type: String,
    /// The store already held these bytes: nothing was written.
    pub reused: bool,
}

/// Somewhere Story files can be put and fetched back by URL.
pub trait Store: Send + Sync {
    /// Stores `media` under `key_prefix() + sha256 + ext` unless the store
    /// already holds it, and returns the URL to fetch it from (not yet checked).
    fn put(&self, media: &MediaFile) -> impl Future<Output = Result<Uploaded, StoreError>> + Send;

    /// The prefix in front of every key (empty or ending in `/`).
    fn key_prefix(&self) -> &str;

    /// Where the store is, for messages: `s3://bucket/prefix` or a directory.
    fn describe(&self) -> String;
}

/// A store picked at run time from [`StorageConfig::kind`].
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// A directory served over loopback HTTP by the sandbox.
    Local(LocalStore),
    /// An S3-compatible bucket.
    S3(S3Store),
}

impl AnyStore {
    /// Opens the store `config` describes. For S3 this loads the standard AWS
    /// credential and region chain (environment, profile, instance metadata).
    pub async fn open(config: &StorageConfig) -> Result<AnyStore, StoreError> {
        config.check()?;
        Ok(match config.kind {
            StoreKind::Local => AnyStore::Local(LocalStore::from_config(config)?),
            StoreKind::S3 => AnyStore::S3(S3Store::connect(config, None).await?),
        })
    }

    /// Removes `key` from the store (a missing key is not an error).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            AnyStore::Local(s) => s.delete(key),
            AnyStore::S3(s) => s.delete(key).await,
        }
    }

    /// True for the local store, whose URLs are plain HTTP on loopback.
    pub fn is_local(&self) -> bool {
        matches!(self, AnyStore::Local(_))
    }
}

impl Store for AnyStore {
    async fn put(&self, media: &MediaFile) -> Result<Uploaded, StoreError> {
        match self {
            AnyStore::Local(s) => s.put(media).await,
            AnyStore::S3(s) => s.put(media).await,
        }
    }

    fn key_prefix(&self) -> &str {
        match self {
            AnyStore::Local(s) => s.key_prefix(),
            AnyStore::S3(s) => s.key_prefix(),
        }
    }

    fn describe(&self) -> String {
        match self {
            AnyStore::Local(s) => s.describe(),
            AnyStore::S3(s) => s.describe(),
        }
    }
}

/// What happened to one file of a batch.
#[derive(Debug)]
pub struct UploadOutcome {
    /// The file.
    pub file: PathBuf,
    /// Its checked URL, or why there is none.
    pub result: Result<Uploaded, StoreError>,
}

/// Reads `path`, stores it, and fetches the URL back with `check`. An `Ok`
/// URL is safe to hand to the publish stage.
pub async fn upload_file<S: Store>(
    store: &S,
    path: &Path,
    check: &UrlCheck,
) -> Result<Uploaded, StoreError> {
    let media = MediaFile::read(path).await?;
    let uploaded = store.put(&media).await?;
    check.verify(&uploaded).await?;
    tracing::info!(
        "{}: {} {}",
        path.display(),
        if uploaded.reused {
            "already in"
        } else {
            "uploaded to"
        },
        store.describe()
    );
    Ok(uploaded)
}

/// Uploads and checks every file, `concurrency` at a time (at least one).
/// One result per file, in the order given; one bad file never stops the
/// batch.
pub async fn upload_all<S: Store + Clone + 'static>(
    store: &S,
    files: &[PathBuf],
    concurrency: usize,
    check: &UrlCheck,
) -> Vec<UploadOutcome> {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, file) in files.iter().enumerate() {
        let (store, check, file, permits) =
            (store.clone(), check.clone(), file.clone(), permits.clone());
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring cannot fail.
            let _permit = permits.acquire_owned().await.ok();
            let result = upload_file(&store, &file, &check).await;
            (i, UploadOutcome { file, result })
        });
    }
    let mut outcomes: Vec<Option<UploadOutcome>> = files.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, outcome)) => outcomes[i] = Some(outcome),
            Err(e) => tracing::error!("an upload task failed: {e}"),
        }
    }
    outcomes
        .into_iter()
        .zip(files)
        .map(|(o, file)| {
            o.unwrap_or_else(|| UploadOutcome {
                file: file.clone(),
                result: Err(StoreError::Read {
                    path: file.display().to_string(),
                    source: std::io::Error::other("the upload task stopped unexpectedly"),
                }),
            })
        })
        .collect()
}
