//! storyforge: templates, feeds and media files in → Instagram Stories
//! rendered, transcoded, validated, uploaded and published exactly once.
//!
//! This crate is the jobs layer and the `storyforge` binary (a thin CLI over
//! it); the layers below are crates of their own in `crates/`, each using
//! only those below it (docs/architecture.md; `tests/it/layers.rs` checks
//! the graph):
//!
//! - jobs (here): [`config`] reads storyforge.yaml, [`pipeline`] renders
//!   batches in parallel, [`delivery`] is the one step from a Story file to
//!   a published Story, [`run`] (job files), [`schedule`] (tick),
//!   [`doctor`], [`serve`] (the web dashboard);
//! - deliver (`storyforge-deliver`): [`validate`], [`ledger`], [`notify`],
//!   [`storage`], [`publish`], [`auth`];
//! - video (`storyforge-video`): [`video`] (facts and plans; FFmpeg with the
//!   `video` feature);
//! - story (`storyforge-story`): [`fonts`], [`text`], [`assets`],
//!   [`template`], [`feed`], [`render`], [`story`], [`daily`];
//! - base (`storyforge-base`): [`spec`] (Instagram's limits), [`media`],
//!   [`util`].
//!
//! The lower layers are re-exported under their old paths, so
//! `storyforge::template::…` and `crate::spec::…` name what they always did.
//! [`sandbox`] (`storyforge-sandbox`) emulates the Graph API for tests and
//! demos; nothing in the library uses it.

#![warn(missing_docs)]

pub mod config;
pub mod delivery;
pub mod doctor;
pub mod pipeline;
pub mod run;
pub mod schedule;
pub mod serve;

pub use storyforge_base::{media, spec, util};
pub use storyforge_deliver::{auth, ledger, notify, publish, storage, validate};
pub use storyforge_sandbox as sandbox;
pub use storyforge_story::{assets, daily, feed, fonts, render, story, template, text};
pub use storyforge_video as video;
