//! Redaction for the publish stage: the one implementation lives in
//! [`crate::util::redact`]; this module keeps the old paths working
//! (`publish::redact::{redact, Secret}`).

pub use crate::util::redact::{redact, redact_url, Secret};
