//! storyforge: templates, feeds and media files in → Instagram Stories
//! rendered, transcoded, validated, uploaded and published exactly once.
//!
//! The library is the whole tool; the `storyforge` binary is a thin CLI over
//! it. Modules sit in layers and only use those below (README, "Layout";
//! checked by `tests/it/layers.rs`):
//!
//! - jobs: [`config`] reads storyforge.yaml, [`pipeline`] renders batches in
//!   parallel, [`delivery`] is the one step from a Story file to a published
//!   Story, [`daily`], [`run`] (job files), [`schedule`] (tick), [`doctor`],
//!   [`serve`] (the web dashboard);
//! - deliver: [`validate`] holds any file to Instagram's rules, [`ledger`]
//!   records every Story, [`notify`] tells webhooks what happened, [`storage`] puts files at public URLs, [`publish`]
//!   talks to the Graph API, [`auth`] logs accounts in;
//! - story: [`fonts`], [`text`] (shaping and layout), [`assets`],
//!   [`template`], [`feed`], [`render`], [`story`] (one Story's variables and
//!   scene), [`video`];
//! - base: [`spec`] (Instagram's limits), [`media`] (the one media kind and
//!   content sniffer), [`util`].
//!
//! [`sandbox`] emulates the Graph API for tests and demos; nothing in the
//! library uses it.

#![warn(missing_docs)]

pub mod assets;
pub mod auth;
pub mod config;
pub mod daily;
pub mod delivery;
pub mod doctor;
pub mod feed;
pub mod fonts;
pub mod ledger;
pub mod media;
pub mod notify;
pub mod pipeline;
pub mod publish;
pub mod render;
pub mod run;
pub mod sandbox;
pub mod schedule;
pub mod serve;
pub mod spec;
pub mod storage;
pub mod story;
pub mod template;
pub mod text;
pub mod util;
pub mod validate;
pub mod video;
