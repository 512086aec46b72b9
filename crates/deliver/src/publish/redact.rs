//! Redaction for the publish stage: the one implementation lives in
//! [`storyforge_base::util::redact`]; this module keeps the old paths working
//! (`publish::redact::{redact, Secret}`).

pub use storyforge_base::util::redact::{redact, redact_url, Secret};
