//! [`StoreError`]: why a file has no usable URL. Messages name the file,
//! bucket and key, never the credentials.

/// A boxed cause (an SDK or HTTP error) kept as the error's source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a file could not be stored or its URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Neither a JPEG nor an MP4/MOV.
    #[error("{path}: not a JPEG or MP4 file; Stories take image/jpeg or video/mp4")]
    NotMedia {
        /// The file.
        path: String,
    },
    /// The storage settings are wrong.
    #[error("storage settings: {0}")]
    Config(String),
    /// No credentials anywhere in the AWS chain.
    #[error("s3 bucket `{bucket}`: no AWS credentials found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws/credentials, or instance metadata)")]
    NoCredentials {
        /// The bucket.
        bucket: String,
        /// What the chain said.
        #[source]
        source: BoxError,
    },
    /// The store refused the credentials.
    #[error("s3 bucket `{bucket}`: the store rejected the credentials ({code}) while {op} `{key}`; check the access key id, the secret key, the region and the endpoint")]
    Auth {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// What was being done.
        op: &'static str,
        /// The store's error code.
        code: String,
    },
    /// The bucket does not exist at this endpoint.
    #[error("s3 bucket `{bucket}` does not exist at this endpoint/region ({code}) while {op} `{key}`; create it or fix `bucket`")]
    NoBucket {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// What was being done.
        op: &'static str,
        /// The store's error code.
        code: String,
    },
    /// The credentials are valid but not allowed to do this.
    #[error("s3 bucket `{bucket}`: permission denied ({code}) while {op} `{key}`; the credentials need s3:PutObject, s3:GetObject and s3:ListBucket on it")]
    Denied {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// What was being done.
        op: &'static str,
        /// The store's error code.
        code: String,
    },
    /// The store answered with another error (after retries when transient).
    #[error("s3 bucket `{bucket}`: {op} `{key}` failed: {code} (HTTP {status})")]
    Service {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// What was being done.
        op: &'static str,
        /// HTTP status; 0 when none.
        status: u16,
        /// The store's error code, or "unknown".
        code: String,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// The store could not be reached or timed out (after retries).
    #[error("s3 bucket `{bucket}`: {op} `{key}`: the store did not answer ({what})")]
    Transport {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// What was being done.
        op: &'static str,
        /// "timeout", "connection failed"…
        what: &'static str,
        /// The SDK error.
        #[source]
        source: BoxError,
    },
    /// The local store's directory could not be written.
    #[error("{dir}: cannot store `{key}`: {source}")]
    Local {
        /// The store's directory.
        dir: String,
        /// The object key.
        key: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The URL does not serve the file the way Instagram needs (it would answer 9004).
    #[error("{url}: {problem}; Instagram could not fetch `{key}` from it (error 9004)")]
    Url {
        /// The URL without its query string (which may hold a signature).
        url: String,
        /// The object key.
        key: String,
        /// What is wrong.
        problem: String,
        /// Whether trying again later may help (5xx, timeout, connection refused).
        transient: bool,
        /// The HTTP error, when there was one.
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    /// Bad input or settings: fix them, retrying will not help.
    pub fn is_user_fault(&self) -> bool {
        match self {
            StoreError::Read { .. }
            | StoreError::NotMedia { .. }
            | StoreError::Config(_)
            | StoreError::NoCredentials { .. }
            | StoreError::Auth { .. }
            | StoreError::NoBucket { .. }
            | StoreError::Denied { .. } => true,
            StoreError::Service { status, .. } => (400..500).contains(status) && *status != 429,
            StoreError::Url { transient, .. } => !transient,
            StoreError::Transport { .. } | StoreError::Local { .. } => false,
        }
    }

    /// Trying again later may succeed (5xx, throttling, timeouts, network).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Transport { .. } => true,
            StoreError::Service { status, .. } => *status >= 500 || *status == 429,
            StoreError::Url { transient, .. } => *transient,
            _ => false,
        }
    }

    /// Whether the message already names the file (else callers put it in front).
    pub fn names_file(&self) -> bool {
        matches!(self, StoreError::Read { .. } | StoreError::NotMedia { .. })
    }
}
