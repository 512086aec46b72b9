//! The S3 store: a [`MediaFile`] → an object in an S3-compatible bucket
//! (aws-sdk-s3, standard credential and region chain), HEAD first so the
//! same bytes are never sent twice, multipart above a threshold, and a
//! public-base or presigned GET URL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{
    Credentials, ProvideCredentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration,
};
use aws_sdk_s3::Client;

use super::config::{public_url, UrlStrategy};
use super::{MediaFile, StorageConfig, Store, StoreError, Uploaded};

/// An S3-compatible bucket. Cheap to clone (the client is shared).
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    bucket: String,
    region: String,
    prefix: String,
    urls: UrlStrategy,
    multipart_threshold: u64,
    part_size: u64,
    concurrency: usize,
    cache_control: String,
    /// Set once HeadBucket found the bucket (or could not tell: 403).
    bucket_seen: tokio::sync::OnceCell<()>,
}

impl fmt::Debug for S3Store {
    // By hand: the client's configuration is not ours to print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.inner.bucket)
            .field("region", &self.inner.region)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Connects to the bucket `config` names. Credentials come from
    /// `credentials` when given, else from the standard AWS chain
    /// (environment, shared profile, SSO, instance metadata); they are
    /// resolved once here so a missing one is reported before any upload.
    pub async fn connect(
        config: &StorageConfig,
        credentials: Option<Credentials>,
    ) -> Result<S3Store, StoreError> {
        config.check()?;
        let bucket = config.bucket.clone().unwrap_or_default();
        let retry = RetryConfig::standard()
            .with_max_attempts(config.max_attempts)
            .with_initial_backoff(Duration::from_millis(config.initial_backoff_ms))
            .with_max_backoff(Duration::from_secs(20));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(config.connect_timeout_seconds))
            .operation_attempt_timeout(Duration::from_secs(config.timeout_seconds))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(r) = &config.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(c) = credentials {
            loader = loader.credentials_provider(c);
        }
        let shared = loader.load().await;
        let no_creds = |source| StoreError::NoCredentials {
            bucket: bucket.clone(),
            source,
        };
        let provider = shared
            .credentials_provider()
            .ok_or_else(|| no_creds("no credential provider configured".into()))?;
        provider
            .provide_credentials()
            .await
            .map_err(|e| no_creds(Box::new(e)))?;
        let region = shared
            .region()
            .cloned()
            .unwrap_or_else(|| Region::new("us-east-1"));
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .region(region.clone())
            .force_path_style(config.path_style)
            // Every S3-compatible store (Garage, R2, MinIO…) accepts these.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(e) = &config.endpoint {
            builder = builder.endpoint_url(e);
        }
        Ok(S3Store {
            inner: Arc::new(Inner {
                client: Client::from_conf(builder.build()),
                bucket,
                region: region.to_string(),
                prefix: config.prefix.clone(),
                urls: config.url_strategy()?,
                multipart_threshold: config.multipart_threshold,
                part_size: config.part_size,
                concurrency: config.concurrency,
                cache_control: config.cache_control.clone(),
                bucket_seen: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// Creates the bucket unless it exists; true when it was created.
    pub async fn ensure_bucket(&self) -> Result<bool, StoreError> {
        let s = &self.inner;
        match s.client.head_bucket().bucket(&s.bucket).send().await {
            Ok(_) => return Ok(false),
            Err(e) if status_of(&e) == Some(404) => {}
            Err(e) => return Err(classify(e, s, "", "checking the bucket for")),
        }
        let mut create = s.client.create_bucket().bucket(&s.bucket);
        if s.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(s.region.as_str()))
                    .build(),
            );
        }
        create
            .send()
            .await
            .map_err(|e| classify(e, s, "", "creating the bucket for"))?;
        Ok(true)
    }

    /// Fails with [`StoreError::NoBucket`] when the bucket is missing; asks
    /// once per store. Some stores would otherwise create it on the first
    /// PUT; a 403 (no s3:ListBucket) passes, the PUT gives the real error.
    async fn check_bucket(&self, key: &str) -> Result<(), StoreError> {
        let s = &self.inner;
        s.bucket_seen
            .get_or_try_init(|| async {
                match s.client.head_bucket().bucket(&s.bucket).send().await {
                    Ok(_) => Ok(()),
                    Err(e) if status_of(&e) == Some(403) => Ok(()),
                    Err(e) if status_of(&e) == Some(404) => Err(StoreError::NoBucket {
                        bucket: s.bucket.clone(),
                        key: key.to_string(),
                        op: "uploading",
                        code: "NoSuchBucket".into(),
                    }),
                    Err(e) => Err(classify(e, s, key, "checking the bucket for")),
                }
            })
            .await
            .map(|_| ())
    }

    /// The object's size when the bucket holds `key`, `None` when it does
    /// not (or HEAD is forbidden: stores answer 403 for a missing key when
    /// listing is not allowed, and the PUT that follows gives the real error).
    pub async fn head(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let s = &self.inner;
        match s
            .client
            .head_object()
            .bucket(&s.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(Some(o.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) if matches!(status_of(&e), Some(404 | 403)) => Ok(None),
            Err(e) => Err(classify(e, s, key, "checking")),
        }
    }

    /// Removes `key` (a missing key is not an error: S3 answers 204 alike).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let s = &self.inner;
        s.client
            .delete_object()
            .bucket(&s.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, s, key, "deleting"))
    }

    /// The URL serving `key`: the public base with `{key}` replaced, or a
    /// presigned GET (computed locally, no request).
    pub async fn url(&self, key: &str) -> Result<String, StoreError> {
        let s = &self.inner;
        match &s.urls {
            UrlStrategy::PublicBase(base) => Ok(public_url(base, key)),
            UrlStrategy::Presign(lifetime) => {
                let presign = PresigningConfig::expires_in(*lifetime)
                    .map_err(|e| StoreError::Config(format!("presign_seconds: {e}")))?;
                let req = s
                    .client
                    .get_object()
                    .bucket(&s.bucket)
                    .key(key)
                    .presigned(presign)
                    .await
                    .map_err(|e| classify(e, s, key, "presigning"))?;
                Ok(req.uri().to_string())
            }
        }
    }

    async fn put_single(&self, media: &MediaFile, key: &str) -> Result<(), StoreError> {
        let s = &self.inner;
        let body = ByteStream::from_path(&media.path)
            .await
            .map_err(|e| read_error(media, e))?;
        s.client
            .put_object()
            .bucket(&s.bucket)
            .key(key)
            .body(body)
            .content_length(media.bytes as i64)
            .content_type(media.kind.content_type())
            .cache_control(&s.cache_control)
            .metadata("sha256", &media.sha256)
            .send()
            .await
            .map_err(|e| classify(e, s, key, "uploading"))?;
        Ok(())
    }

    async fn put_multipart(&self, media: &MediaFile, key: &str) -> Result<(), StoreError> {
        let s = &self.inner;
        let created = s
            .client
            .create_multipart_upload()
            .bucket(&s.bucket)
            .key(key)
            .content_type(media.kind.content_type())
            .cache_control(&s.cache_control)
            .metadata("sha256", &media.sha256)
            .send()
            .await
            .map_err(|e| classify(e, s, key, "starting the multipart upload of"))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        match self.put_parts(media, key, &upload_id).await {
            Ok(parts) => s
                .client
                .complete_multipart_upload()
                .bucket(&s.bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, s, key, "completing the multipart upload of")),
            Err(e) => {
                // Best effort: an unaborted upload only costs storage until
                // the bucket's lifecycle rule removes it.
                if let Err(abort) = s
                    .client
                    .abort_multipart_upload()
                    .bucket(&s.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await
                {
                    tracing::warn!("could not abort the multipart upload of {key}: {abort}");
                }
                Err(e)
            }
        }
    }

    /// Uploads the parts, `concurrency` at a time; returns them in order.
    async fn put_parts(
        &self,
        media: &MediaFile,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, StoreError> {
        let s = &self.inner;
        let count = media.bytes.div_ceil(s.part_size).max(1);
        let permits = Arc::new(tokio::sync::Semaphore::new(s.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 1..=count {
            let offset = (n - 1) * s.part_size;
            let length = s.part_size.min(media.bytes - offset);
            let (store, media, key, upload_id, permits) = (
                self.clone(),
                media.clone(),
                key.to_string(),
                upload_id.to_string(),
                permits.clone(),
            );
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.ok();
                let s = &store.inner;
                let body = ByteStream::read_from()
                    .path(&media.path)
                    .offset(offset)
                    .length(Length::Exact(length))
                    .build()
                    .await
                    .map_err(|e| read_error(&media, e))?;
                let part = s
                    .client
                    .upload_part()
                    .bucket(&s.bucket)
                    .key(&key)
                    .upload_id(&upload_id)
                    .part_number(n as i32)
                    .content_length(length as i64)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| classify(e, s, &key, "uploading a part of"))?;
                Ok::<_, StoreError>(
                    CompletedPart::builder()
                        .part_number(n as i32)
                        .set_e_tag(part.e_tag().map(str::to_string))
                        .build(),
                )
            });
        }
        let mut parts = Vec::with_capacity(count as usize);
        while let Some(joined) = tasks.join_next().await {
            let part = joined.map_err(|e| read_error(media, e))??;
            parts.push(part);
        }
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }
}

impl Store for S3Store {
    async fn put(&self, media: &MediaFile) -> Result<Uploaded, StoreError> {
        let key = media.key(&self.inner.prefix);
        self.check_bucket(&key).await?;
        let present = self.head(&key).await? == Some(media.bytes);
        if !present {
            if media.bytes > self.inner.multipart_threshold {
                self.put_multipart(media, &key).await?;
            } else {
                self.put_single(media, &key).await?;
            }
        }
        Ok(Uploaded {
            url: self.url(&key).await?,
            key,
            bytes: media.bytes,
            sha256: media.sha256.clone(),
            content_type: media.kind.content_type().to_string(),
            reused: present,
        })
    }

    fn key_prefix(&self) -> &str {
        &self.inner.prefix
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.inner.bucket, self.inner.prefix)
    }
}

fn read_error(media: &MediaFile, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Read {
        path: media.path.display().to_string(),
        source: std::io::Error::other(e),
    }
}

fn status_of<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// An SDK error → the [`StoreError`] that says what to do about it.
fn classify<E>(err: SdkError<E, HttpResponse>, s: &Inner, key: &str, op: &'static str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (bucket, key) = (s.bucket.clone(), key.to_string());
    let transport = |what: &'static str, err: SdkError<E, HttpResponse>| StoreError::Transport {
        bucket: bucket.clone(),
        key: key.clone(),
        op,
        what,
        source: Box::new(err),
    };
    match &err {
        SdkError::TimeoutError(_) => return transport("timed out", err),
        SdkError::DispatchFailure(d) => {
            let what = if d.is_timeout() {
                "timed out"
            } else if d.is_io() {
                "connection failed"
            } else {
                "request could not be sent"
            };
            return transport(what, err);
        }
        SdkError::ResponseError(_) => return transport("unreadable answer", err),
        _ => {}
    }
    let status = status_of(&err).unwrap_or(0);
    let code = err.code().unwrap_or("").to_string();
    match code.as_str() {
        "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "InvalidToken"
        | "TokenRefreshRequired"
        | "AuthorizationHeaderMalformed"
        | "InvalidSecurity"
        | "Unauthorized" => StoreError::Auth {
            bucket,
            key,
            op,
            code,
        },
        "NoSuchBucket" => StoreError::NoBucket {
            bucket,
            key,
            op,
            code,
        },
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => StoreError::Denied {
            bucket,
            key,
            op,
            code,
        },
        "" if status == 401 => StoreError::Auth {
            bucket,
            key,
            op,
            code: "HTTP 401".into(),
        },
        "" if status == 403 => StoreError::Denied {
            bucket,
            key,
            op,
            code: "HTTP 403: access denied or credentials rejected".into(),
        },
        _ => StoreError::Service {
            bucket,
            key,
            op,
            status,
            code: if code.is_empty() {
                "unknown error".into()
            } else {
                code
            },
            source: Box::new(err),
        },
    }
}
