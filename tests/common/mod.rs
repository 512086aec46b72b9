//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod s3;

use std::path::{Path, PathBuf};

use image::RgbImage;
use storyforge::assets::AssetCache;
use storyforge::feed::{Feed, FeedRow};
use storyforge::fonts::FontBook;
use storyforge::pipeline::{prepare_story, story_variables};
use storyforge::render::{self, RenderError, Scene};
use storyforge::template::{self, Template, TemplateError};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The date every test renders on.
pub fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 29).expect("valid date")
}

/// Writes `yaml` as `name` in `dir` and loads it with the bundled fonts.
pub fn load_yaml(dir: &Path, name: &str, yaml: &str) -> Result<Template, TemplateError> {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write template");
    template::load(&path, &FontBook::bundled())
}

/// The error text of loading `yaml`, which must fail.
pub fn load_error(dir: &Path, yaml: &str) -> String {
    match load_yaml(dir, "t.yaml", yaml) {
        Ok(_) => panic!("template loaded but should not have:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

/// The feed file shipped for a template, if any.
pub fn feed_for(template: &Path) -> Option<PathBuf> {
    let stem = template.file_stem()?.to_str()?;
    ["csv", "json", "yaml", "yml"]
        .iter()
        .map(|ext| root().join("fixtures/feeds").join(format!("{stem}.{ext}")))
        .find(|p| p.exists())
}

/// Prepares one Story of `t` with `row` (images from variables resolve in `feed_dir`).
pub fn scene(
    t: &Template,
    row: Option<&FeedRow>,
    feed_dir: Option<&Path>,
) -> Result<Scene, RenderError> {
    let vars = story_variables(t, row, today());
    prepare_story(t, &vars, feed_dir, &AssetCache::new())
}

/// Renders the first row of a shipped template's feed.
pub fn render_shipped(template_path: &Path) -> (Template, Scene, RgbImage) {
    let t = template::load(template_path, &FontBook::bundled()).expect("shipped template loads");
    let feed = feed_for(template_path).map(|p| Feed::open(&p).expect("feed opens"));
    let row = feed
        .as_ref()
        .and_then(|f| f.rows().expect("rows").next())
        .map(|r| r.expect("first row parses"));
    let s =
        scene(&t, row.as_ref(), feed.as_ref().map(|f| f.dir())).expect("shipped template renders");
    let img = render::draw(&s);
    (t, s, img)
}

/// Every shipped template file.
pub fn shipped_templates() -> Vec<PathBuf> {
    template::discover(&root().join("templates")).expect("templates dir")
}

/// Writes `work/storyforge.yaml` for the local store in `media` served by
/// the sandbox at `base`, ledger `work/l.db`, and the demo account whose
/// token is in `work/demo.token`; returns the settings file.
pub fn sandbox_settings(work: &Path, media: &Path, base: &str) -> PathBuf {
    let token = work.join("demo.token");
    std::fs::write(&token, "sandbox-token-demo").expect("write token");
    let config = work.join("storyforge.yaml");
    std::fs::write(
        &config,
        format!(
            "ledger: {db}\nstorage:\n  kind: local\n  dir: {media}\n  base_url: {base}/media/\ngraph:\n  base_url: {base}\n  publish_spacing: 0\n  image_poll: 0.05\naccounts:\n  - name: demo\n    ig_user_id: \"17841400000000001\"\n    token_file: {token}\n",
            db = work.join("l.db").display(),
            media = media.display(),
            token = token.display()
        ),
    )
    .expect("write settings");
    config
}
