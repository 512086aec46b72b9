//! storyforge: render, transcode, validate, upload and publish Instagram
//! Stories.
//!
//! The library is the whole tool; the `storyforge` binary is a thin CLI over
//! it. Stages (see `DESIGN.md`): [`template`] parses and checks YAML
//! templates, [`render`] draws them (pure), [`assets`] loads images from disk,
//! [`feed`] turns data feeds into variables, [`pipeline`] runs batches of
//! Stories in parallel, [`delivery`] is the one step from a Story file to a
//! published Story, [`validate`] holds any file to Instagram's rules,
//! [`storage`] puts outputs at URLs Instagram can fetch, [`publish`] talks
//! to the Graph API exactly once per Story with the [`ledger`] as its
//! record, [`auth`] logs accounts in and [`doctor`] checks a set-up, [`sandbox`] emulates the Graph API locally for tests and demos,
//! [`config`] reads storyforge.yaml, and [`util`] holds redaction and
//! atomic writes.

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
pub mod pipeline;
pub mod publish;
pub mod render;
pub mod run;
pub mod sandbox;
pub mod schedule;
pub mod spec;
pub mod storage;
pub mod story;
pub mod template;
pub mod text;
pub mod util;
pub mod validate;
pub mod video;
