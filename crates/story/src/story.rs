//! One Story from its parts, shared by the batch runner and the validator: a
//! checked template + a feed row + the day → its variables, then those
//! variables + the asset cache → a [`render::Scene`] ready to draw (template
//! images resolve beside the template, images a feed names beside the feed,
//! `http(s)://` images are downloaded).

use std::path::Path;

use crate::assets::{remote, AssetCache};
use crate::feed::FeedRow;
use crate::render::{self, AssetOrigin};
use crate::template::{vars, Template, Variables};

/// The variables of one Story: the template's defaults, then the feed row,
/// then `row`, `today` and `template` unless the row sets them.
pub fn variables(t: &Template, row: Option<&FeedRow>, today: chrono::NaiveDate) -> Variables {
    let mut v = t.variables.clone();
    if let Some(r) = row {
        v.extend(r.vars.iter().map(|(k, val)| (k.clone(), val.clone())));
        v.entry("row".into()).or_insert_with(|| r.index.to_string());
    }
    v.entry(vars::TODAY.into())
        .or_insert_with(|| today.format("%Y-%m-%d").to_string());
    v.entry("template".into()).or_insert_with(|| t.name.clone());
    // A default may itself refer to other variables (`date: "{{today}}"`);
    // feed values are data and are never expanded.
    vars::expand_defaults(&t.variables, &mut v);
    v
}

/// Prepares one Story: images from the template resolve beside it, images
/// named by variables beside the feed (`feed_dir`) when there is one.
pub fn prepare(
    t: &Template,
    vars: &Variables,
    feed_dir: Option<&Path>,
    assets: &AssetCache,
) -> Result<render::Scene, render::RenderError> {
    // Template images (logos) are shared by every row and cached; images
    // named by feed values are decoded per Story so memory stays flat.
    let load = |src: &str, origin: AssetOrigin| match (origin, feed_dir) {
        // A URL is downloaded (cached on disk with its validators).
        (AssetOrigin::Template, _) if remote::is_remote(src) => assets.load_remote(src.trim()),
        (AssetOrigin::Variable, _) if remote::is_remote(src) => {
            remote::load(src, &remote::RemoteLimits::from_env()).map(std::sync::Arc::new)
        }
        (AssetOrigin::Variable, Some(dir)) => crate::assets::resolve(dir, src)
            .and_then(|p| crate::assets::decode_file(&p))
            .map(std::sync::Arc::new),
        (AssetOrigin::Variable, None) => crate::assets::resolve(&t.dir, src)
            .and_then(|p| crate::assets::decode_file(&p))
            .map(std::sync::Arc::new),
        (AssetOrigin::Template, _) => assets.load(&t.dir, src),
    };
    render::prepare(t, vars, &load)
}

/// The file a media `src` of `t` (a clip, music) names for one Story:
/// literal paths beside the template, paths from variables beside the feed
/// (`feed_dir`) when there is one; always inside that directory.
pub fn media_path(
    t: &Template,
    src: &crate::template::Pattern,
    vars: &Variables,
    feed_dir: Option<&Path>,
) -> Result<std::path::PathBuf, String> {
    let filled = src.fill(vars).map_err(|e| e.to_string())?;
    let dir = match (src.is_dynamic(), feed_dir) {
        (true, Some(dir)) => dir,
        _ => &t.dir,
    };
    crate::assets::resolve(dir, &filled).map_err(|e| e.to_string())
}
