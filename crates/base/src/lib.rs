//! storyforge's base layer: what every other layer may use and which uses
//! none of them. [`spec`] holds every Instagram number (limits, codes,
//! metrics), [`media`] the one media kind and content sniffer, [`util`] the
//! small shared helpers (atomic writes, HTTP, YAML positions, redaction,
//! time zones). See docs/architecture.md for the crate graph.

#![warn(missing_docs)]

pub mod media;
pub mod spec;
pub mod util;
