//! Jobs → stages. Today: templates × feed rows → rendered Story JPEGs,
//! rendered in parallel on rayon, streamed (each Story is handed to a few
//! I/O threads as soon as it is encoded and written durably there, so memory
//! stays flat however long the feed and no CPU waits for an fsync), one bad
//! template or row never stopping the rest.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::Serialize;

mod inputs;

use crate::assets::AssetCache;
use crate::feed::keys::{self, RowKey, RowKeys};
use crate::feed::{Feed, FeedError, FeedRow, FeedSource};
use crate::fonts::FontBook;
use crate::render;
use crate::story;
use crate::template::{self, vars, Template, Variables};
use crate::util::durable::{with_writers, FileSet, SetFailed};

mod naming;
use naming::sanitize_name;

/// How a render batch runs. `Default` gives: out dir `out`, all cores, no
/// preview, each template's own quality, today's date.
#[derive(Debug, Clone)]
pub struct RenderSettings {
    /// Where Stories are written. Default: `out`.
    pub out_dir: PathBuf,
    /// Stories rendered at once. Default: the number of cores.
    pub jobs: Option<usize>,
    /// Also write `NAME.preview.png` with the safe zone and boxes. Default: false.
    pub preview: bool,
    /// JPEG quality for every Story, overriding templates. Default: none.
    pub quality: Option<u8>,
    /// The `today` variable (`YYYY-MM-DD`). Default: the local date.
    pub today: chrono::NaiveDate,
    /// Only these feed rows (1-based). Default: every row.
    pub rows: Option<Vec<usize>>,
    /// The feed column whose value names a row (`sku`, an id, a date).
    /// Default: none, the first of [`keys::KEY_COLUMNS`] the feed has,
    /// else the row's values (never its position).
    pub key: Option<String>,
    /// HTTP headers sent with a feed URL (values may hold `${ENV}`).
    /// Default: none.
    pub feed_headers: std::collections::BTreeMap<String, String>,
    /// Usernames to tag on each Story (placeholders filled per row).
    /// Default: none.
    pub mentions: Vec<vars::Pattern>,
    /// How video templates are encoded (`threads` 0: the cores shared
    /// between the Stories encoded at once). Default: the transcoder's.
    pub video: crate::video::TranscodeOptions,
    /// The output files already written by this run: shared by the
    /// batches of one run (a job file's entries, a tick's), so a second
    /// entry never writes over the first's Story of the same name.
    /// Default: a set of its own.
    pub written: WrittenNames,
}

/// The output paths a run has written, shared between its batches.
#[derive(Debug, Clone, Default)]
pub struct WrittenNames(Arc<Mutex<HashSet<PathBuf>>>);

/// Hears about a batch as it runs (the CLI draws progress with it).
pub trait BatchObserver: Sync {
    /// The batch will produce about `total` Stories.
    fn started(&self, _total: u64) {}
    /// One Story (or failed template or row) is done.
    fn finished(&self, _outcome: &StoryOutcome) {}
    /// Called before a Story is rendered: true skips it (already
    /// published, say); the observer reports it itself.
    fn skip(&self, _story: &StoryKey<'_>) -> bool {
        false
    }
    /// Which of the variants `names` of the template named `template` a
    /// Story not skipped gets; `None` alternates by row position.
    fn variant(&self, _story: &StoryKey<'_>, _template: &str, _names: &[&str]) -> Option<usize> {
        None
    }
    /// Something about the whole batch to tell the user (once).
    fn warning(&self, _message: &str) {}
}

/// What a Story reads, each with a short hash of its value: `template`
/// (the template file) and every variable its layers use. Two versions of
/// a Story differ in the fields whose hashes differ.
pub type Fields = std::collections::BTreeMap<String, String>;

/// What names one Story of a batch before it is drawn.
#[derive(Debug, Clone, Copy)]
pub struct StoryKey<'a> {
    /// The template file.
    pub template: &'a Path,
    /// The feed, when there is one.
    pub feed: Option<&'a Path>,
    /// The row's key (a column's value, or [`RowKey::Once`] without a feed).
    pub row_key: &'a RowKey,
    /// The row, when there is one.
    pub row: Option<usize>,
    /// Its place in the batch, from 0: among the rows asked for (`rows`),
    /// else the row's own position. A variant is counted on by it.
    pub batch_order: u64,
    /// sha256 of what the Story is drawn from (template file, variables).
    pub input_hash: &'a str,
    /// What it reads, field by field.
    pub fields: &'a Fields,
}

/// An observer that ignores everything.
pub struct Quiet;
impl BatchObserver for Quiet {}

impl Default for RenderSettings {
    fn default() -> Self {
        RenderSettings {
            out_dir: PathBuf::from("out"),
            jobs: None,
            preview: false,
            quality: None,
            today: chrono::Local::now().date_naive(),
            rows: None,
            key: None,
            feed_headers: Default::default(),
            mentions: Vec::new(),
            video: crate::video::TranscodeOptions::default(),
            written: WrittenNames::default(),
        }
    }
}

/// What happened to one Story.
#[derive(Debug, Clone, Serialize)]
pub struct StoryOutcome {
    /// Template file.
    pub template: String,
    /// Feed row (1-based), if any.
    pub row: Option<usize>,
    /// The JPEG written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<PathBuf>,
    /// The preview written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<PathBuf>,
    /// JPEG size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// JPEG quality used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<u8>,
    /// One-line error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// One-line warnings (text shortened, output renamed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The row's key, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_key: Option<RowKey>,
    /// sha256 of what the Story was drawn from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_hash: Option<String>,
    /// The template's name (its `name:`, else the file stem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
    /// The variant drawn, when the template has variants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The usernames it tags (`mentions`, filled and checked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// What it reads, field by field.
    #[serde(skip)]
    pub fields: Option<Fields>,
}

/// Everything a batch did.
#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    /// Stories written.
    pub rendered: usize,
    /// Stories (or templates, or rows) that failed.
    pub failed: usize,
    /// Each Story, in template-then-row order.
    pub stories: Vec<StoryOutcome>,
}

/// A batch that could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The output directory is not usable.
    #[error("{path}: cannot create the output directory: {source}")]
    OutDir {
        /// The directory.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The feed cannot be read at all.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// No worker threads.
    #[error("cannot start {0} worker threads")]
    Threads(usize),
}

fn failure(template: &str, row: Option<usize>, error: String) -> StoryOutcome {
    StoryOutcome {
        template: template.to_string(),
        row,
        output: None,
        preview: None,
        bytes: None,
        quality: None,
        error: Some(error),
        warnings: Vec::new(),
        row_key: None,
        input_hash: None,
        template_name: None,
        variant: None,
        mentions: Vec::new(),
        fields: None,
    }
}

/// A loaded template and, once its first Story is prepared, its shared base.
struct Loaded {
    template: Template,
    base: std::sync::OnceLock<Option<render::Base>>,
    /// The template file's bytes, for the input hash.
    source: Vec<u8>,
}

/// One job's result: a failure to report, or files to write durably (on the
/// I/O threads) and the outcome to report once they are written.
enum Drawn {
    Failed(StoryOutcome),
    /// Written already (a video Story's MP4 is written by its encoder).
    Done(StoryOutcome),
    Write(FileSet, StoryOutcome),
}

/// I/O threads writing Stories: fsyncs overlap, so four hide a disk that
/// takes milliseconds per fsync (see `util::durable`).
const WRITERS: usize = 4;

struct Job {
    template: Arc<Loaded>,
    order: usize,
    row: Option<FeedRow>,
}

struct Batch<'a> {
    settings: &'a RenderSettings,
    feed_dir: Option<PathBuf>,
    feed_name: Option<String>,
    assets: AssetCache,
    feed_path: Option<PathBuf>,
    keys: Option<RowKeys>,
    observer: &'a dyn BatchObserver,
}

/// Renders every template in `templates` (files or directories of `*.yaml`)
/// once per row of `feed` (or once, with their own variables, without one).
pub fn render_batch(
    templates: &[PathBuf],
    feed: Option<&Path>,
    fonts: &FontBook,
    settings: &RenderSettings,
    observer: &dyn BatchObserver,
) -> Result<BatchReport, SetupError> {
    std::fs::create_dir_all(&settings.out_dir).map_err(|source| SetupError::OutDir {
        path: settings.out_dir.display().to_string(),
        source,
    })?;
    let mut outcomes = Vec::new();
    let mut loaded = Vec::new();
    let mut files = Vec::new();
    for t in templates {
        match template::discover(t) {
            Ok(found) if found.is_empty() => outcomes.push(failure(
                &t.display().to_string(),
                None,
                format!("{}: no *.yaml templates in this directory", t.display()),
            )),
            Ok(found) => files.extend(found),
            Err(e) => outcomes.push(failure(
                &t.display().to_string(),
                None,
                format!("{}: cannot list templates: {e}", t.display()),
            )),
        }
    }
    for (order, file) in files.iter().enumerate() {
        match template::load(file, fonts) {
            Ok(template) => loaded.push((
                order,
                Arc::new(Loaded {
                    template,
                    base: std::sync::OnceLock::new(),
                    source: std::fs::read(file).unwrap_or_default(),
                }),
            )),
            Err(e) => outcomes.push(failure(&file.display().to_string(), None, e.to_string())),
        }
    }
    let feed = feed
        .map(|f| {
            Feed::open_source(&FeedSource {
                location: f.to_path_buf(),
                headers: settings.feed_headers.clone(),
            })
        })
        .transpose()?;
    let wanted = settings.rows.clone();
    let keep = move |r: &Result<FeedRow, FeedError>| match (r, &wanted) {
        (Ok(row), Some(w)) => w.contains(&row.index),
        _ => true,
    };
    let rows: Box<dyn Iterator<Item = Result<FeedRow, FeedError>> + Send> = match &feed {
        Some(f) => Box::new(f.rows()?.filter(keep.clone())),
        None => Box::new(std::iter::once(Ok(FeedRow {
            index: 0,
            line: None,
            vars: Variables::new(),
        }))),
    };
    let per_row = loaded.len().max(1) as u64;
    let total = match &feed {
        Some(f) => f.rows()?.filter(keep).count() as u64 * per_row,
        None => loaded.len() as u64,
    };
    // Keys are read over the whole feed first: a duplicate is found
    // whatever order rows are rendered in.
    let row_keys = match &feed {
        Some(f) => {
            let k = keys::row_keys(&f.shown(), f.rows()?.flatten(), settings.key.as_deref());
            if let Some(w) = &k.warning {
                observer.warning(w);
            }
            Some(k)
        }
        None => None,
    };
    for o in &outcomes {
        observer.finished(o);
    }
    observer.started(total);
    let batch = Batch {
        settings,
        feed_dir: feed.as_ref().map(|f| f.dir().to_path_buf()),
        feed_name: feed.as_ref().map(Feed::shown),
        feed_path: feed.as_ref().map(|f| f.path().to_path_buf()),
        keys: row_keys,
        observer,
        assets: AssetCache::new(),
    };
    let has_feed = feed.is_some();
    let jobs = rows.flat_map(|row| {
        let row = row.map(|r| if has_feed { Some(r) } else { None });
        let expanded: Vec<Result<Job, FeedError>> = match row {
            Err(e) => vec![Err(e)],
            Ok(row) => loaded
                .iter()
                .map(|(order, t)| {
                    Ok(Job {
                        template: t.clone(),
                        order: *order,
                        row: row.clone(),
                    })
                })
                .collect(),
        };
        expanded
    });
    let threads = settings
        .jobs
        .unwrap_or_else(rayon::current_num_threads)
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|_| SetupError::Threads(threads))?;
    // Each Story is reported once done: a failure at once, a Story by the
    // I/O thread that wrote it.
    let reported = Mutex::new(Vec::new());
    let report = |(row, order, outcome): (usize, usize, StoryOutcome), r: Result<(), SetFailed>| {
        let outcome = match r {
            Ok(()) => outcome,
            Err(e) => StoryOutcome {
                error: Some(match e.index {
                    0 => format!("{}: cannot write: {}", e.path.display(), e.source),
                    _ => format!("{}: cannot write preview: {}", e.path.display(), e.source),
                }),
                output: None,
                preview: None,
                bytes: None,
                quality: None,
                warnings: Vec::new(),
                ..outcome
            },
        };
        observer.finished(&outcome);
        let mut all = reported.lock().unwrap_or_else(|p| p.into_inner());
        all.push((row, order, outcome));
    };
    with_writers(WRITERS, &report, |writers| {
        pool.install(|| {
            jobs.par_bridge().for_each(|job| {
                let (row, order, drawn) = match job {
                    Err(e) => (usize::MAX, usize::MAX, Some(Drawn::Failed(failure("", None, e.to_string())))),
                    Ok(job) => {
                        let row = job.row.as_ref().map_or(0, |r| r.index);
                        // A bug must cost one Story, not the batch.
                        let run = std::panic::AssertUnwindSafe(|| batch.run(&job));
                        let drawn = std::panic::catch_unwind(run).unwrap_or_else(|_| {
                            Some(Drawn::Failed(failure(
                                &job.template.template.path.display().to_string(),
                                job.row.as_ref().map(|r| r.index),
                                format!(
                                    "{}: internal error while rendering this Story (please report it with the template and row)",
                                    job.template.template.path.display()
                                ),
                            )))
                        });
                        (row, job.order, drawn)
                    }
                };
                match drawn {
                    None => {}
                    Some(Drawn::Failed(outcome) | Drawn::Done(outcome)) => report((row, order, outcome), Ok(())),
                    Some(Drawn::Write(files, outcome)) => writers.write(files, (row, order, outcome)),
                }
            })
        })
    });
    let mut done = reported.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(row, order, _)| (*order, *row));
    outcomes.extend(done.into_iter().map(|(_, _, o)| o));
    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    Ok(BatchReport {
        rendered: outcomes.len() - failed,
        failed,
        stories: outcomes,
    })
}

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

    /// The row's key (see [`keys`]).
    fn row_key(&self, row: Option<&FeedRow>) -> Result<RowKey, String> {
        match (row, &self.keys) {
            (Some(r), Some(k)) => k.get(r.index),
            _ => Ok(RowKey::Once),
        }
    }

    fn run(&self, job: &Job) -> Option<Drawn> {
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
