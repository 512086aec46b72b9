//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod s3;

use std::path::{Path, PathBuf};

use image::RgbImage;
use storyforge::assets::AssetCache;
use storyforge::feed::{Feed, FeedRow};
use storyforge::fonts::FontBook;
use storyforge::render::{self, RenderError, Scene};
use storyforge::story;
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
    let vars = story::variables(t, row, today());
    story::prepare(t, &vars, feed_dir, &AssetCache::new())
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

/// Runs the `storyforge` binary with `args` and `--config config`.
pub fn cli(args: &[&str], config: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_storyforge"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run storyforge")
}

/// Starts the `storyforge` binary with `args` and `--config config`,
/// output captured.
pub fn spawn(args: &[&str], config: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_storyforge"))
        .args(args)
        .arg("--config")
        .arg(config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start storyforge")
}

/// stdout and stderr of a finished command, as text.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A valid JPEG Story made distinct by a comment segment after SOI.
pub fn jpeg_variant(i: usize) -> Vec<u8> {
    let base = std::fs::read(root().join("fixtures/bad/ok-story.jpg")).expect("ok-story.jpg");
    let text = format!("story {i}");
    let mut seg = vec![0xFF, 0xFE];
    seg.extend_from_slice(&((text.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(text.as_bytes());
    [&base[..2], &seg, &base[2..]].concat()
}

/// [`sandbox_settings`] with fast retries and waits (tests only wait
/// milliseconds), and `extra` appended (top-level YAML).
pub fn fast_settings(work: &Path, media: &Path, base: &str, extra: &str) -> PathBuf {
    let config = sandbox_settings(work, media, base);
    let text = std::fs::read_to_string(&config).expect("read settings");
    let text = text.replace(
        "graph:\n",
        "graph:\n  retry_base: 0.02\n  not_ready_wait: 0.02\n  gone_wait: 0.02\n  slow_down_max: 0\n  rate_limit_base: 0.05\n",
    );
    std::fs::write(&config, format!("{text}{extra}")).expect("write settings");
    config
}
