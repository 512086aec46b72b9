//! storyforge: render, transcode, validate, upload and publish Instagram
//! Stories.
//!
//! The library is the whole tool; the `storyforge` binary is a thin CLI over
//! it. Stages (see `DESIGN.md`): [`template`] parses and checks YAML
//! templates, [`render`] draws them (pure), [`assets`] loads images from disk,
//! [`feed`] turns data feeds into variables, [`pipeline`] runs batches of
//! Stories in parallel, [`storage`] puts outputs at URLs Instagram can fetch,
//! and [`config`] reads storyforge.yaml.

pub mod assets;
pub mod config;
pub mod feed;
pub mod fonts;
pub mod pipeline;
pub mod render;
pub mod spec;
pub mod storage;
pub mod template;
#[cfg(feature = "video")]
pub mod video;
