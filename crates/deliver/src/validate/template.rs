//! A template file (and optionally a feed) → findings: the template is
//! loaded and checked, then rendered in memory (once with its defaults, or
//! once per feed row) and each Story is encoded and held to the image rules.

use std::path::Path;

use rayon::prelude::*;

use super::facts;
use super::rules::{self, Finding, Location};
use storyforge_base::spec;
use storyforge_story::feed::{Feed, FeedRow};
use storyforge_story::fonts::FontBook;
use storyforge_story::render::{self, RenderError};
use storyforge_story::template::vars::FillError;
use storyforge_story::template::{self, Problem, SourcePos, Template, TemplateError};
use storyforge_story::{assets, story};

/// Feed rows held in memory for checking (a validation feed is a sample).
pub struct FeedSample {
    /// The feed.
    pub feed: Feed,
    /// Its rows (unreadable rows are findings of the feed, reported apart).
    pub rows: Vec<FeedRow>,
}

fn at(pos: SourcePos) -> Location {
    Location {
        line: (pos.line > 0).then_some(pos.line),
        column: (pos.line > 0).then_some(pos.column),
        row: None,
    }
}

/// Checks the template at `path` (with `data` rows when given); `today`
/// fills `{{today}}`.
pub fn check(
    path: &Path,
    fonts: &FontBook,
    data: Option<&FeedSample>,
    today: chrono::NaiveDate,
) -> Vec<Finding> {
    let t = match template::load(path, fonts) {
        Ok(t) => t,
        Err(e) => return vec![load_finding(&e)],
    };
    let mut out = Vec::new();
    if (t.width, t.height) != (spec::STORY_WIDTH, spec::STORY_HEIGHT) {
        out.push(Finding::new(
            rules::TEMPLATE_CANVAS,
            format!("canvas is {}×{}", t.width, t.height),
        ));
    }
    let cache = assets::AssetCache::new();
    match data {
        None => {
            let vars = story::variables(&t, None, today);
            out.extend(render_checked(&t, &vars, None, &cache, None).findings);
        }
        Some(sample) => {
            let per_row: Vec<Vec<Finding>> = sample
                .rows
                .par_iter()
                .map(|row| {
                    let vars = story::variables(&t, Some(row), today);
                    render_checked(&t, &vars, Some(sample.feed.dir()), &cache, Some(row)).findings
                })
                .collect();
            out.extend(per_row.into_iter().flatten());
        }
    }
    out
}

/// The finding for a template that did not load.
fn load_finding(e: &TemplateError) -> Finding {
    match e {
        TemplateError::Read { source, .. } => {
            Finding::new(rules::UNREADABLE, format!("cannot read it: {source}"))
        }
        TemplateError::Invalid {
            pos,
            problem,
            message,
            ..
        } => {
            let rule = match problem {
                Problem::Schema => rules::TEMPLATE_INVALID,
                Problem::SafeZone => rules::TEMPLATE_SAFE_ZONE,
                Problem::Font => rules::TEMPLATE_FONT,
                Problem::Asset => rules::TEMPLATE_ASSET,
                Problem::TextFit => rules::TEMPLATE_TEXT_FIT,
                Problem::Glyph => rules::TEMPLATE_GLYPH,
            };
            Finding::new(rule, message.clone()).at(at(*pos))
        }
    }
}

/// One Story rendered in memory and checked.
pub struct Checked {
    /// The JPEG, when it could be rendered and encoded.
    pub jpeg: Option<Vec<u8>>,
    /// What is wrong with it (empty when nothing is).
    pub findings: Vec<Finding>,
}

/// Renders one Story of `t` with `vars` in memory and holds it to the image
/// rules; `row` is the feed row, if any (the same findings as `validate
/// --data`, and the bytes for a preview).
pub fn render_checked(
    t: &Template,
    vars: &template::Variables,
    feed_dir: Option<&Path>,
    cache: &assets::AssetCache,
    row: Option<&FeedRow>,
) -> Checked {
    let refused = |findings| Checked {
        jpeg: None,
        findings,
    };
    let located = |f: Finding, pos: Option<SourcePos>| {
        let mut loc = pos.map(at).unwrap_or_default();
        loc.row = row.map(|r| r.index);
        if loc == Location::default() {
            f
        } else {
            f.at(loc)
        }
    };
    let scene = match story::prepare(t, vars, feed_dir, cache) {
        Ok(scene) => scene,
        Err(e) => {
            let finding = match &e {
                RenderError::Variable {
                    layer,
                    source: FillError::Missing { var },
                    ..
                } if row.is_none() => Finding::new(
                    rules::TEMPLATE_NO_DEFAULT,
                    format!("layer '{layer}' reads `{var}`, which has no default"),
                ),
                RenderError::Variable { .. } => {
                    Finding::new(rules::TEMPLATE_VARIABLE, e.to_string())
                }
                RenderError::Text { .. } => Finding::new(rules::TEMPLATE_TEXT_FIT, e.to_string()),
                RenderError::MissingGlyph { .. } => {
                    Finding::new(rules::TEMPLATE_GLYPH, e.to_string())
                }
                RenderError::Asset { .. } => Finding::new(rules::TEMPLATE_ASSET, e.to_string()),
            };
            return refused(vec![located(finding, Some(e.pos()))]);
        }
    };
    #[cfg(feature = "ffmpeg")]
    if t.video.is_some() {
        // A video template's clip and music must be readable media, and its
        // length known and within Instagram's limits.
        let planned = storyforge_video::story::plan_row(t, &scene, vars, feed_dir);
        if let Err(e) = planned {
            return refused(vec![located(Finding::new(rules::TEMPLATE_ASSET, e), None)]);
        }
    }
    let canvas = render::draw(&scene);
    let jpeg = match render::encode::encode_jpeg(&canvas, t.quality) {
        Ok(j) => j,
        Err(e) => {
            return refused(vec![located(
                Finding::new(rules::IMAGE_TOO_LARGE, format!("the rendered Story: {e}")),
                None,
            )])
        }
    };
    let bytes = &jpeg.bytes;
    let findings = match facts::jpeg_facts(bytes, bytes, |_| true) {
        Ok(f) => rules::image_findings(&f, bytes.len() as u64)
            .into_iter()
            // The canvas itself is SF308's business.
            .filter(|f| f.rule != rules::IMAGE_ASPECT && f.rule != rules::IMAGE_LOW_RES)
            .map(|f| {
                let message = format!("the rendered Story: {}", f.message);
                located(Finding { message, ..f }, None)
            })
            .collect(),
        Err(e) => vec![located(
            Finding::new(rules::IMAGE_CORRUPT, format!("the rendered Story: {e}")),
            None,
        )],
    };
    Checked {
        jpeg: Some(jpeg.bytes),
        findings,
    }
}
