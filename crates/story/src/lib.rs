//! storyforge's story layer: from a template, a feed row and the bundled
//! fonts to a finished still Story, with no network client but the asset and
//! feed fetches, and none of the AWS SDK, FFmpeg, the web server or the
//! ledger's databases (docs/architecture.md).
//!
//! Modules use only those listed before them and the base crate:
//! [`fonts`], [`text`] (shaping and layout), [`assets`], [`template`],
//! [`feed`], [`render`], [`story`] (one Story's variables and scene),
//! [`daily`] (which row a day picks).

#![warn(missing_docs)]

pub mod assets;
pub mod daily;
pub mod feed;
pub mod fonts;
pub mod render;
pub mod story;
pub mod template;
pub mod text;
