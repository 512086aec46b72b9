//! One Story of a render batch: its variables, its scene drawn (or its
//! video made), and its files named; the batch in [`super`] runs these jobs
//! on rayon and writes what they return.

use super::inputs;
use super::naming::sanitize_name;
use super::{failure, Batch, Drawn, Fields, Job, StoryKey, StoryOutcome};
use crate::feed::keys::RowKey;
use crate::feed::FeedRow;
use crate::render;
use crate::story;
use crate::template::{self, Template, Variables};
use crate::util::durable::FileSet;

impl Batch<'_> {
    fn where_(&self, t: &Template, pos: template::SourcePos, row: Option<&FeedRow>) -> String {
        let mut s = t.path.display().to_string();
        if pos.line > 0 {
            s.push_str(&format!(":{}:{}", pos.line, pos.column));
        }
        if let (Some(r), Some(feed)) = (row, &self.feed_name) {
            s.push_str(&format!(": {feed} {}", r.describe()));
        }
        s
    }

    /// The row's key (see [`crate::feed::keys`]).
    fn row_key(&self, row: Option<&FeedRow>) -> Result<RowKey, String> {
        match (row, &self.keys) {
            (Some(r), Some(k)) => k.get(r.index),
            _ => Ok(RowKey::Once),
        }
    }

    pub(super) fn run(&self, job: &Job) -> Option<Drawn> {
        let t = &job.template.template;
        let row = job.row.as_ref();
        let shown = t.path.display().to_string();
        let vars = story::variables(t, row, self.settings.today);
        let row_no = row.map(|r| r.index);
        let fail = |msg: String| failure(&shown, row_no, msg);
        let row_key = match self.row_key(row) {
            Ok(k) => k,
            Err(e) => return Some(Drawn::Failed(fail(format!("{shown}: {e}")))),
        };
        let input_hash = inputs::input_hash(&job.template.source, &vars);
        let fields = inputs::fields(t, &job.template.source, &vars);
        let row_pos = row_no.unwrap_or(1).saturating_sub(1);
        let batch_order = match &self.settings.rows {
            Some(asked) => asked
                .iter()
                .position(|r| Some(*r) == row_no)
                .unwrap_or(row_pos),
            None => row_pos,
        } as u64;
        let key = StoryKey {
            template: &t.path,
            feed: self.feed_path.as_deref(),
            row_key: &row_key,
            row: row_no,
            batch_order,
            input_hash: &input_hash,
            fields: &fields,
        };
        if self.observer.skip(&key) {
            return None;
        }
        let names: Vec<&str> = t.variants.iter().map(|v| v.name.as_str()).collect();
        let count = names.len();
        let variant = (count > 0).then(|| {
            self.observer
                .variant(&key, &t.name, &names)
                .filter(|i| *i < count)
                .unwrap_or_else(|| template::variants::pick(count, 0, key.batch_order))
        });
        Some(self.draw(job, vars, (row_key, input_hash, fields), variant))
    }

    fn draw(
        &self,
        job: &Job,
        vars: Variables,
        named: (RowKey, String, Fields),
        variant: Option<usize>,
    ) -> Drawn {
        let (row_key, input_hash, fields) = named;
        let base_template = &job.template.template;
        let chosen = variant.and_then(|i| base_template.variants.get(i));
        let t = chosen.map_or(base_template, |v| &v.template);
        // A variant's variables sit under the feed row's, as the template's do.
        let vars = match chosen {
            Some(_) => story::variables(t, job.row.as_ref(), self.settings.today),
            None => vars,
        };
        let row = job.row.as_ref();
        let shown = t.path.display().to_string();
        let row_no = row.map(|r| r.index);
        let fail = |msg: String| {
            Drawn::Failed(StoryOutcome {
                row_key: Some(row_key.clone()),
                input_hash: Some(input_hash.clone()),
                fields: Some(fields.clone()),
                ..failure(&shown, row_no, msg)
            })
        };
        let filled: Result<Vec<String>, String> = self
            .settings
            .mentions
            .iter()
            .chain(&t.mentions)
            .map(|m| m.fill(&vars).map_err(|e| format!("`mentions`: {e}")))
            .collect();
        let mentions = match filled.and_then(|m| crate::validate::mentions::check(&m)) {
            Ok(m) => m,
            Err(e) => return fail(format!("{}: {e}", self.where_(t, Default::default(), row))),
        };
        let scene = match story::prepare(t, &vars, self.feed_dir.as_deref(), &self.assets) {
            Ok(s) => s,
            Err(e) => return fail(format!("{}: {e}", self.where_(t, e.pos(), row))),
        };
        let mut warnings = Vec::new();
        for layer in &scene.layers {
            if let render::Paint::Text { block, .. } = &layer.paint {
                if block.truncated {
                    warnings.push(format!(
                        "{}: layer '{}': text shortened with an ellipsis to fit its box",
                        self.where_(t, template::SourcePos::default(), row),
                        layer.name
                    ));
                }
            }
        }
        if t.video.is_some() {
            let made = StoryOutcome {
                row_key: Some(row_key.clone()),
                input_hash: Some(input_hash.clone()),
                fields: Some(fields.clone()),
                template_name: Some(base_template.name.clone()),
                variant: chosen.map(|v| v.name.clone()),
                mentions: mentions.clone(),
                ..failure(&shown, row_no, String::new())
            };
            return self.draw_video(t, &scene, &vars, row, warnings, made);
        }
        // A variant may change what the shared base holds: drawn whole.
        let base = match chosen {
            Some(_) => None,
            None => job
                .template
                .base
                .get_or_init(|| render::Base::new(t, &scene))
                .as_ref(),
        };
        let canvas = match base {
            Some(base) => base.draw(&scene),
            None => render::draw(&scene),
        };
        let quality = self.settings.quality.unwrap_or(t.quality);
        let jpeg = match render::encode_jpeg(&canvas, quality) {
            Ok(j) => j,
            Err(e) => return fail(format!("{}: {e}", self.where_(t, Default::default(), row))),
        };
        let name = match self.output_name(t, &vars, row, &mut warnings) {
            Ok(n) => n,
            Err(e) => return fail(format!("{}: {e}", self.where_(t, Default::default(), row))),
        };
        let out = self.settings.out_dir.join(&name);
        let bytes = jpeg.bytes.len() as u64;
        let mut files: FileSet = vec![(out.clone(), jpeg.bytes)];
        let preview = if self.settings.preview {
            let mut annotated = canvas;
            render::preview::annotate(&mut annotated, &scene);
            let p = out.with_extension("preview.png");
            match render::encode_png(&annotated) {
                Ok(png) => files.push((p.clone(), png)),
                Err(e) => return fail(format!("{}: cannot write preview: {e}", p.display())),
            }
            Some(p)
        } else {
            None
        };
        let outcome = StoryOutcome {
            template: shown,
            row: row_no,
            output: Some(out),
            preview,
            bytes: Some(bytes),
            quality: Some(jpeg.quality),
            error: None,
            warnings,
            row_key: Some(row_key),
            input_hash: Some(input_hash),
            template_name: Some(base_template.name.clone()),
            variant: chosen.map(|v| v.name.clone()),
            mentions,
            fields: Some(fields),
        };
        Drawn::Write(files, outcome)
    }

    /// A video template's Story: encoded to its MP4 here, on this worker.
    fn draw_video(
        &self,
        t: &Template,
        scene: &render::Scene,
        vars: &Variables,
        row: Option<&FeedRow>,
        mut warnings: Vec<String>,
        outcome: StoryOutcome,
    ) -> Drawn {
        let at = self.where_(t, Default::default(), row);
        let fail = |e: String| {
            Drawn::Failed(StoryOutcome {
                error: Some(format!("{at}: {e}")),
                ..outcome.clone()
            })
        };
        let name = match self.output_name(t, vars, row, &mut warnings) {
            Ok(n) => {
                n.trim_end_matches(".jpg")
                    .trim_end_matches(".mp4")
                    .to_string()
                    + ".mp4"
            }
            Err(e) => return fail(e),
        };
        let out = self.settings.out_dir.join(name);
        let mut opts = self.settings.video.clone();
        let at_once = self
            .settings
            .jobs
            .unwrap_or_else(rayon::current_num_threads);
        if opts.threads == 0 && at_once > 1 {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            opts.threads = (cores / at_once).max(1);
        }
        #[cfg(feature = "video")]
        let made =
            crate::video::story::render_row(t, scene, vars, self.feed_dir.as_deref(), &out, &opts);
        #[cfg(not(feature = "video"))]
        let made: Result<(), String> = {
            let _ = (scene, &opts);
            Err("a video template needs the `video` feature (FFmpeg)".into())
        };
        match made {
            Ok(_) => Drawn::Done(StoryOutcome {
                bytes: std::fs::metadata(&out).ok().map(|m| m.len()),
                output: Some(out),
                warnings,
                error: None,
                ..outcome.clone()
            }),
            Err(e) => fail(e),
        }
    }

    fn output_name(
        &self,
        t: &Template,
        vars: &Variables,
        row: Option<&FeedRow>,
        warnings: &mut Vec<String>,
    ) -> Result<String, String> {
        let raw = match &t.output {
            Some(p) => p.fill(vars).map_err(|e| format!("`output`: {e}"))?,
            None => match row {
                Some(r) => format!("{}-{}.jpg", t.name, r.index),
                None => format!("{}.jpg", t.name),
            },
        };
        let mut name = sanitize_name(&raw).ok_or_else(|| {
            format!("`output` gives an empty file name ({raw:?}); check its variables")
        })?;
        let dir = &self.settings.out_dir;
        let mut written = self
            .settings
            .written
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if written.contains(&dir.join(&name)) {
            let stem = name.trim_end_matches(".jpg").to_string();
            let mut n = row.map_or(2, |r| r.index);
            while written.contains(&dir.join(format!("{stem}-{n}.jpg"))) {
                n += 1;
            }
            let renamed = format!("{stem}-{n}.jpg");
            warnings.push(format!(
                "{}: output {name} is already used in this run; wrote {renamed} (make `output` unique, e.g. add {{{{row}}}} or the feed's name)",
                t.path.display()
            ));
            name = renamed;
        }
        written.insert(dir.join(&name));
        Ok(name)
    }
}
