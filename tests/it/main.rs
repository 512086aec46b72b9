//! The one integration test binary (as ripgrep's tests/tests.rs): one
//! module per area, all sharing the harness in [`common`] (a CLI runner,
//! sandbox and S3 rigs, a settings writer), so the crate is linked once.

mod auth;
mod automations;
mod automations_every;
mod cli;
mod common;
mod cookbook;
mod crash;
mod dashboard;
mod docs;
mod doctor;
mod e2e;
mod errors;
mod exactly_once;
mod feeds_remote;
mod golden;
mod identity;
mod init;
mod inputs;
mod insights;
mod lanes;
mod layers;
mod postgres;
mod properties;
mod publish;
mod publish_cli;
mod remote_images;
mod sandbox;
mod schedule;
mod storage;
mod upgrade;
mod validate;
#[cfg(feature = "video")]
mod video;
#[cfg(feature = "video")]
mod video_templates;
