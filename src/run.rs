//! A job file → published Stories: templates × feeds are rendered and
//! videos transcoded on rayon while, on tokio, each finished output goes
//! through the one delivery step ([`crate::delivery`]) as soon as it
//! exists; the two sides are joined once. Every item ends in the report
//! (`report.json`, `report.html`), one bad item never stops the rest, and
//! identities already published are neither rendered nor transcoded again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::delivery::identity::{self, legacy, Base, Identity, RowKey};
use crate::delivery::{self, Context, Delivery, DeliveryOptions, Item, ItemStatus, Media};
use crate::fonts::FontBook;
use crate::ledger::{Asset, Legacy, State};
use crate::media::MediaKind;
use crate::pipeline::{self, BatchObserver, RenderSettings, StoryKey, StoryOutcome};
use crate::util::yaml::{located, yaml_problem, SourcePos};

/// A job file: what to make, and for which account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// The account (a name under `accounts:`) [default: the first].
    #[serde(default)]
    pub account: Option<String>,
    /// Output directory, relative to the job file [default: `out`].
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// The jobs, in order.
    pub jobs: Vec<Job>,
    /// The folder identities' paths are relative to: the job file's
    /// [default: the settings file's folder, else the working directory].
    #[serde(skip)]
    pub base: Option<PathBuf>,
}

/// What a run does with a published Story whose inputs changed since.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnChange {
    /// Say so in the summary and the reports ("changed since published",
    /// with the fields), publish nothing.
    #[default]
    Report,
    /// Publish the new version, once per version.
    Publish,
}

/// One job: a template (file or directory) with an optional feed, or videos
/// (a file or a folder of them). Paths are relative to the job file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// A template file or a directory of templates.
    #[serde(default)]
    pub template: Option<PathBuf>,
    /// The feed its rows come from.
    #[serde(default)]
    pub feed: Option<PathBuf>,
    /// A video file or a folder of videos.
    #[serde(default)]
    pub videos: Option<PathBuf>,
    /// Only these feed rows (1-based) [default: all].
    #[serde(default)]
    pub rows: Option<Vec<usize>>,
    /// A ready Story file (JPEG or MP4), published as it is.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The feed column that names a row (`sku`, an id, a date) [default:
    /// the first of `id`, `guid`, `sku`, `slug`, `link`, `url` the feed
    /// has, else the row's values; never its position]. A row whose key
    /// is published is never published again by accident, wherever it
    /// moves in the feed.
    #[serde(default)]
    pub key: Option<String>,
    /// When a published row's values or its template changed: `report`
    /// (say so) or `publish` (publish the new version once) [default: report].
    #[serde(default)]
    pub on_change: Option<OnChange>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The job file could not be read.
    #[error("{path}: cannot read the job file: {source}")]
    JobRead {
        /// The job file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The job file is wrong at a place in it.
    #[error("{}", located(path, *pos, message))]
    Job {
        /// The job file.
        path: String,
        /// Where (0:0 when the place is not known).
        pos: SourcePos,
        /// What is wrong and what to do.
        message: String,
    },
    /// The delivery context could not be built.
    #[error(transparent)]
    Setup(#[from] delivery::SetupError),
    /// The output directory or the async runtime could not be made.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

impl JobFile {
    /// Reads and checks a job file; paths become relative to its folder.
    pub fn load(path: &Path) -> Result<JobFile, RunError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RunError::JobRead {
            path: shown.clone(),
            source,
        })?;
        let mut job: JobFile = serde_saphyr::from_str(&text).map_err(|e| {
            let (pos, message) = yaml_problem(&e);
            RunError::Job {
                path: shown.clone(),
                pos,
                message,
            }
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for (i, j) in job.jobs.iter_mut().enumerate() {
            if let Err(e) = j.check() {
                return Err(RunError::Job {
                    path: shown,
                    pos: SourcePos::default(),
                    message: format!("jobs[{i}]: {e}"),
                });
            }
            for p in [&mut j.template, &mut j.feed, &mut j.videos, &mut j.file]
                .into_iter()
                .flatten()
            {
                if !identity::is_url(&p.to_string_lossy()) {
                    *p = beside(dir, p);
                }
            }
        }
        job.out = Some(beside(
            dir,
            &job.out.clone().unwrap_or_else(|| PathBuf::from("out")),
        ));
        job.base = Some(if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.to_path_buf()
        });
        Ok(job)
    }
}

impl Job {
    /// One of `template` (with an optional `feed` and `rows`), `videos` or `file`.
    pub fn check(&self) -> Result<(), String> {
        let kinds = usize::from(self.template.is_some())
            + usize::from(self.videos.is_some())
            + usize::from(self.file.is_some());
        if kinds != 1
            || ((self.feed.is_some() || self.rows.is_some() || self.key.is_some())
                && self.template.is_none())
        {
            return Err(
                "give either `template` (with an optional `feed`, `rows` and `key`), `videos` or `file`"
                    .into(),
            );
        }
        Ok(())
    }
}

/// `p` relative to `dir` (absolute paths kept), with `..` steps folded in
/// so reports show `templates/x.yaml`, not `demo/../templates/x.yaml`.
fn beside(dir: &Path, p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in dir.join(p).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `INDEX/COUNT`: this process takes jobs whose position % COUNT == INDEX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, c) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}`: write INDEX/COUNT, e.g. 0/4"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: INDEX is not a number"))?;
        let count: usize = c
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: COUNT is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("`{s}`: need 0 ≤ INDEX < COUNT"));
        }
        Ok(Shard { index, count })
    }
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stop before publishing (render, validate, upload only).
    pub dry_run: bool,
    /// This process's slice of the jobs.
    pub shard: Option<Shard>,
    /// The `today` variable [default: the local date].
    pub today: Option<chrono::NaiveDate>,
    /// x264 preset for videos [default: medium].
    pub preset: Option<String>,
    /// Publish again what was already published (a new generation of each
    /// identity), and bytes that went out under another identity.
    pub republish: bool,
    /// In front of every identity: `day:2026-12-03` for `daily`,
    /// `schedule:7` for `tick` [default: none].
    pub scope: Option<String>,
    /// Publish the new version of every Story whose inputs changed since
    /// it was published (as `on_change: publish` on every entry).
    pub publish_changed: bool,
    /// What asks for this run's Stories (`schedule:7`) [default: the run
    /// itself]: it makes at most one generation of each.
    pub asked_by: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Every item, in the order they finished.
    pub items: Vec<Item>,
    /// Items published now.
    pub published: usize,
    /// Items published earlier (by identity, or the same bytes within 24 h).
    pub already: usize,
    /// Of those, items whose inputs changed since they were published
    /// (each item names the fields).
    pub changed: usize,
    /// Items another run is publishing right now.
    pub busy: usize,
    /// Items waiting for quota, rate limits or the container cap.
    pub deferred: usize,
    /// Items that may have been published: they wait for the container or
    /// `storyforge ledger settle`.
    pub unsure: usize,
    /// Items that failed.
    pub failed: usize,
    /// The Graph API used (`sandbox` when built in).
    pub graph: String,
    /// The ledger file.
    pub ledger: String,
    /// Warnings about whole feeds or entries (no key column, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl RunReport {
    fn count(&mut self, item: &Item) {
        match item.status {
            ItemStatus::Published => self.published += 1,
            ItemStatus::AlreadyPublished | ItemStatus::SameContent => {
                self.already += 1;
                self.changed += usize::from(!item.changed.is_empty());
            }
            ItemStatus::Busy => self.busy += 1,
            ItemStatus::Deferred => self.deferred += 1,
            ItemStatus::Unsure => self.unsure += 1,
            ItemStatus::Failed => self.failed += 1,
            ItemStatus::DryRun => {}
        }
    }

    /// The one-line summary every command prints.
    pub fn summary(&self) -> String {
        let mut parts = vec![
            format!("{} published", self.published),
            format!("{} already published", self.already),
        ];
        if self.changed > 0 {
            parts.push(format!(
                "{} changed since published (not published; see the report)",
                self.changed
            ));
        }
        if self.busy > 0 {
            parts.push(format!("{} in progress in another run", self.busy));
        }
        parts.push(format!("{} deferred", self.deferred));
        if self.unsure > 0 {
            parts.push(format!("{} unsure (see `storyforge ledger`)", self.unsure));
        }
        parts.push(format!("{} failed", self.failed));
        format!("{}; ledger {}", parts.join(", "), self.ledger)
    }
}

/// A finished output (or a failure) from the CPU side, with what it is.
enum Produced {
    /// A Story to deliver.
    Story { delivery: Box<Delivery> },
    /// Nothing to deliver: a render or transcode failed, or the identity
    /// is published and was skipped.
    Done(Box<Item>),
    /// Something about a whole feed or entry.
    Warning(String),
}

/// The CPU side's view of one job entry: how to name its Stories, and what
/// the ledger already holds.
struct Forward<'a> {
    tx: mpsc::UnboundedSender<Produced>,
    scope: Option<&'a str>,
    base: Base,
    account: Option<&'a str>,
    republish: bool,
    publish_changed: bool,
    asked_by: Option<&'a str>,
    known: &'a HashMap<String, Asset>,
    /// The job entry being rendered (entries go one by one).
    entry: std::sync::Mutex<Option<Job>>,
}

/// A Story on its way to [`Forward::deliver`]: what it is and what it is
/// made from.
struct Made {
    identity: Identity,
    legacy: Option<Legacy>,
    input_hash: Option<String>,
    fields: Option<pipeline::Fields>,
    source: String,
}

impl Forward<'_> {
    fn send(&self, p: Produced) {
        let _ = self.tx.send(p);
    }

    fn failed(&self, source: String, error: String) {
        self.send(Produced::Done(Box::new(
            Item {
                source,
                ..Item::default()
            }
            .failed(error, false),
        )));
    }

    /// The published row of `identity`, unless `--republish`.
    fn published(&self, identity: &Identity) -> Option<&Asset> {
        self.known
            .get(&identity.encode())
            .filter(|r| r.state == State::Published && !self.republish)
    }

    /// The entry being rendered: its feed, whether it names its key
    /// column, and whether a changed Story is published.
    fn entry(&self) -> (Option<PathBuf>, bool, bool) {
        let entry = self.entry.lock().map(|e| e.clone()).unwrap_or_default();
        match entry {
            Some(j) => (
                j.feed,
                j.key.is_some(),
                self.publish_changed || j.on_change == Some(OnChange::Publish),
            ),
            None => (None, false, self.publish_changed),
        }
    }

    fn deliver(&self, made: Made, path: PathBuf, publish_changed: bool) {
        let mut d = Delivery::new(made.identity, made.source, Media::File(path));
        d.account = self.account.map(str::to_string);
        d.legacy = made.legacy;
        d.input_hash = made.input_hash;
        d.fields = made.fields;
        d.republish = self.republish;
        d.publish_changed = publish_changed;
        d.asked_by = self.asked_by.map(str::to_string);
        self.send(Produced::Story {
            delivery: Box::new(d),
        });
    }

    /// A template Story's identity and the one earlier releases gave it.
    fn template_identity(
        &self,
        template: &Path,
        key: &RowKey,
        row: Option<usize>,
    ) -> (Identity, Legacy, bool) {
        let (feed, job_key, publish_changed) = self.entry();
        let id = Identity::template(
            self.scope,
            &self.base,
            template,
            feed.as_deref(),
            key.clone(),
        );
        let old_key = legacy::row_key(key, job_key, row);
        let old = Legacy {
            identity: legacy::template(self.scope, template, feed.as_deref(), &old_key),
            by_position: old_key.starts_with("row:"),
        };
        (id, old, publish_changed)
    }
}

fn row_source(template: &str, row: Option<usize>) -> String {
    match row {
        Some(r) if r > 0 => format!("{template} row {r}"),
        _ => template.to_string(),
    }
}

impl BatchObserver for Forward<'_> {
    fn skip(&self, story: &StoryKey<'_>) -> bool {
        let (id, _, publish_changed) =
            self.template_identity(story.template, story.row_key, story.row);
        let Some(row) = self.published(&id) else {
            return false;
        };
        let fields = serde_json::to_string(story.fields).ok();
        let (changed, names) =
            crate::ledger::changed_since(row, None, Some(story.input_hash), fields.as_deref());
        if changed && publish_changed {
            // A new version: made, then published once.
            return false;
        }
        let item = Item {
            source: row_source(&story.template.display().to_string(), story.row),
            output: row.output_path.clone(),
            kind: Some(row.kind),
            ..Item::default()
        }
        .already(row, &names);
        self.send(Produced::Done(Box::new(item)));
        true
    }

    fn finished(&self, o: &StoryOutcome) {
        let source = row_source(&o.template, o.row);
        match (&o.output, &o.row_key, &o.error) {
            (Some(out), Some(key), None) => {
                let (identity, old, publish_changed) =
                    self.template_identity(Path::new(&o.template), key, o.row);
                let made = Made {
                    identity,
                    legacy: Some(old),
                    input_hash: o.input_hash.clone(),
                    fields: o.fields.clone(),
                    source,
                };
                self.deliver(made, out.clone(), publish_changed);
            }
            (_, _, e) => self.failed(source, e.clone().unwrap_or_else(|| "no output".into())),
        }
    }

    fn warning(&self, message: &str) {
        self.send(Produced::Warning(message.to_string()));
    }
}

#[cfg(feature = "video")]
impl crate::video::batch::VideoObserver for Forward<'_> {
    fn finished(&self, o: &crate::video::batch::VideoOutcome) {
        let source = o.input.display().to_string();
        if let Some(e) = &o.error {
            self.failed(source, e.clone());
            return;
        }
        for out in &o.outputs {
            let (part, parts) = (out.part.0 as u32, out.part.1 as u32);
            let id = Identity::video(self.scope, &self.base, &o.input, part, parts);
            let source = format!("{source} part {part}/{parts}");
            match self.published(&id) {
                Some(row) => {
                    let item = Item {
                        source,
                        output: Some(out.path.display().to_string()),
                        kind: Some(MediaKind::Video),
                        ..Item::default()
                    }
                    .already(row, &[]);
                    self.send(Produced::Done(Box::new(item)));
                }
                None => {
                    let made = Made {
                        identity: id,
                        legacy: Some(Legacy {
                            identity: legacy::video(self.scope, &o.input, part, parts),
                            by_position: false,
                        }),
                        input_hash: None,
                        fields: None,
                        source,
                    };
                    self.deliver(made, out.path.clone(), self.publish_changed);
                }
            }
        }
    }
}

/// Renders and transcodes every job of this shard, sending outputs on.
fn produce(jobs: &[&Job], out: &Path, fonts: &FontBook, opts: &RunOptions, tx: &Forward) {
    let mut settings = RenderSettings {
        out_dir: out.to_path_buf(),
        ..RenderSettings::default()
    };
    if let Some(d) = opts.today {
        settings.today = d;
    }
    for job in jobs {
        if let Some(t) = &job.template {
            settings.rows = job.rows.clone();
            settings.key = job.key.clone();
            if let Ok(mut e) = tx.entry.lock() {
                *e = Some((*job).clone());
            }
            if let Err(e) = pipeline::render_batch(
                std::slice::from_ref(t),
                job.feed.as_deref(),
                fonts,
                &settings,
                tx,
            ) {
                tx.failed(t.display().to_string(), e.to_string());
            }
        }
        if let Some(v) = &job.videos {
            produce_videos(v, out, opts, tx);
        }
        if let Some(f) = &job.file {
            let id = Identity::file(tx.scope, &tx.base, f);
            let publish_changed = tx.publish_changed || job.on_change == Some(OnChange::Publish);
            let published = tx.published(&id).map(|row| {
                let bytes = std::fs::read(f).map(|b| sha(&b)).ok();
                let (changed, names) =
                    crate::ledger::changed_since(row, bytes.as_deref(), None, None);
                (row, changed, names)
            });
            match published {
                Some((row, changed, names)) if !(changed && publish_changed) => {
                    let item = Item {
                        source: f.display().to_string(),
                        output: Some(f.display().to_string()),
                        kind: Some(row.kind),
                        ..Item::default()
                    }
                    .already(row, &names);
                    tx.send(Produced::Done(Box::new(item)));
                }
                _ => {
                    let made = Made {
                        identity: id,
                        legacy: Some(Legacy {
                            identity: legacy::file(tx.scope, f),
                            by_position: false,
                        }),
                        input_hash: None,
                        fields: None,
                        source: f.display().to_string(),
                    };
                    tx.deliver(made, f.clone(), publish_changed);
                }
            }
        }
    }
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The video inputs of a `videos:` entry (a file, or a folder's files).
fn video_inputs(path: &Path) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    } else {
        vec![path.to_path_buf()]
    }
}

/// Every part of `input` is published (as recorded): no need to transcode it.
fn all_parts_published<'a>(tx: &'a Forward, input: &Path) -> Option<Vec<&'a Asset>> {
    let prefix = Identity::video_prefix(tx.scope, &tx.base, input);
    let with = |prefix: &str| -> Vec<&'a Asset> {
        tx.known
            .iter()
            .filter(|(id, _)| id.starts_with(prefix))
            .map(|(_, r)| r)
            .collect()
    };
    let mut parts = with(&prefix);
    if parts.is_empty() {
        // Parts an earlier release recorded (adopted when next delivered).
        let old = legacy::video(tx.scope, input, 0, 0);
        parts = with(old.trim_end_matches("0/0"));
    }
    let count = parts
        .first()?
        .identity
        .rsplit('/')
        .next()
        .and_then(|n| n.parse::<usize>().ok())?;
    let all = parts.len() == count
        && parts
            .iter()
            .all(|r| r.state == State::Published && !tx.republish);
    all.then_some(parts)
}

/// Transcodes the inputs of a `videos:` entry whose parts are not all
/// published yet (the others are reported as they are).
fn produce_videos(path: &Path, out: &Path, opts: &RunOptions, tx: &Forward) {
    let mut inputs = Vec::new();
    for input in video_inputs(path) {
        match all_parts_published(tx, &input) {
            Some(mut parts) => {
                parts.sort_by(|a, b| a.identity.cmp(&b.identity));
                for row in parts {
                    let part = row.identity.rsplit("part:").next().unwrap_or("");
                    let item = Item {
                        source: format!("{} part {part}", input.display()),
                        output: row.output_path.clone(),
                        kind: Some(MediaKind::Video),
                        ..Item::default()
                    }
                    .already(row, &[]);
                    tx.send(Produced::Done(Box::new(item)));
                }
            }
            None => inputs.push(input),
        }
    }
    if !inputs.is_empty() {
        transcode(&inputs, path, out, opts, tx);
    }
}

#[cfg(feature = "video")]
fn transcode(inputs: &[PathBuf], entry: &Path, out: &Path, opts: &RunOptions, tx: &Forward) {
    let mut topts = crate::video::TranscodeOptions::default();
    if let Some(p) = &opts.preset {
        topts.preset = p.clone();
    }
    if let Err(e) = crate::video::batch::transcode_all(inputs, out, &topts, None, tx) {
        tx.failed(
            entry.display().to_string(),
            format!("{}: {e}", out.display()),
        );
    }
}

#[cfg(not(feature = "video"))]
fn transcode(_: &[PathBuf], entry: &Path, _: &Path, _: &RunOptions, tx: &Forward) {
    tx.failed(
        entry.display().to_string(),
        "this storyforge was built without the `video` feature".into(),
    );
}

/// Runs `job` with `settings`: renders and transcodes, then delivers each
/// output as it appears.
pub fn run(job: &JobFile, settings: Settings, opts: &RunOptions) -> Result<RunReport, RunError> {
    run_with(job, settings, opts, &|_| {})
}

/// [`run`], calling `on_item` as each item finishes (the CLI's progress view).
pub fn run_with(
    job: &JobFile,
    settings: Settings,
    opts: &RunOptions,
    on_item: &dyn Fn(&Item),
) -> Result<RunReport, RunError> {
    let out = job.out.clone().unwrap_or_else(|| PathBuf::from("out"));
    std::fs::create_dir_all(&out).map_err(|source| RunError::Io {
        what: out.display().to_string(),
        source,
    })?;
    let jobs: Vec<&Job> = job
        .jobs
        .iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|s| i % s.count == s.index))
        .map(|(_, j)| j)
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::Io {
            what: "the async runtime".into(),
            source,
        })?;
    let mut ctx = rt.block_on(Context::open(
        settings,
        DeliveryOptions {
            dry_run: opts.dry_run,
        },
    ))?;
    let account = ctx.account_name(job.account.as_deref())?;
    let known = ctx.known(&account, "");
    let fonts = FontBook::bundled();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut report = RunReport {
        graph: ctx.settings().graph.base_url.clone(),
        ledger: ctx.ledger().path().to_string(),
        ..RunReport::default()
    };
    let base = job
        .base
        .clone()
        .or_else(|| ctx.settings().dir.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let forward = Forward {
        tx,
        scope: opts.scope.as_deref(),
        base: Base::new(&base),
        account: Some(account.as_str()),
        republish: opts.republish,
        publish_changed: opts.publish_changed,
        asked_by: opts.asked_by.as_deref(),
        known: &known,
        entry: std::sync::Mutex::new(None),
    };
    std::thread::scope(|scope| {
        let (out_dir, fonts_ref) = (&out, &fonts);
        let cpu = scope.spawn(move || produce(&jobs, out_dir, fonts_ref, opts, &forward));
        rt.block_on(async {
            while let Some(p) = rx.recv().await {
                let item = match p {
                    Produced::Story { delivery } => ctx.deliver(&delivery).await,
                    Produced::Done(item) => *item,
                    Produced::Warning(w) => {
                        tracing::warn!("{w}");
                        report.warnings.push(w);
                        continue;
                    }
                };
                report.count(&item);
                tracing::info!("{}: {}", item.source, item.status);
                on_item(&item);
                report.items.push(item);
            }
        });
        let _ = cpu.join();
    });
    write_reports(&out, &report).map_err(|source| RunError::Io {
        what: format!("{}: cannot write the report", out.display()),
        source,
    })?;
    Ok(report)
}

/// Both reports, each written atomically (a crash never leaves half a report).
fn write_reports(out: &Path, report: &RunReport) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    crate::util::write_atomic(&out.join("report.json"), json.as_bytes())?;
    crate::util::write_atomic(&out.join("report.html"), html(out, report).as_bytes())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The contact sheet: every Story as a thumbnail (videos as posters),
/// with its findings, URL, media id and error.
fn html(out: &Path, r: &RunReport) -> String {
    let mut cards = String::new();
    for i in &r.items {
        let media = match (&i.output, i.kind) {
            (Some(o), Some(MediaKind::Video)) => {
                let rel = relative(out, Path::new(o));
                format!(
                    "<video src=\"{}\" preload=\"metadata\" muted controls></video>",
                    esc(&rel)
                )
            }
            (Some(o), _) => format!(
                "<img src=\"{}\" loading=\"lazy\" alt=\"\">",
                esc(&relative(out, Path::new(o)))
            ),
            (None, _) => "<div class=\"none\">no output</div>".into(),
        };
        let mut lines = vec![format!(
            "<b class=\"{}\">{}</b>",
            esc(&i.status.label().replace(' ', "-")),
            esc(i.status.label())
        )];
        lines.push(format!("<span>{}</span>", esc(&i.source)));
        if let Some(m) = &i.media_id {
            lines.push(format!("media <code>{}</code>", esc(m)));
        }
        if let Some(u) = &i.url {
            lines.push(format!("<a href=\"{}\">URL</a>", esc(u)));
        }
        for f in &i.findings {
            lines.push(format!("<small>{}</small>", esc(f)));
        }
        if let Some(e) = &i.error {
            lines.push(format!("<small class=\"err\">{}</small>", esc(e)));
        }
        cards.push_str(&format!(
            "<figure>{media}<figcaption>{}</figcaption></figure>\n",
            lines.join("<br>")
        ));
    }
    format!(
        "<!doctype html><meta charset=\"utf-8\"><title>storyforge report</title>\n<style>body{{font:14px system-ui;margin:24px}}main{{display:flex;flex-wrap:wrap;gap:16px}}figure{{width:180px;margin:0}}img,video,.none{{width:180px;height:320px;object-fit:cover;background:#eee;border-radius:8px}}.published{{color:#2a7}}.failed,.err{{color:#c33}}.deferred{{color:#c80}}code{{font-size:11px}}small{{display:block;color:#555}}</style>\n<h1>storyforge run</h1><p>{} — Graph API: {}</p>\n<main>\n{cards}</main>\n",
        esc(&r.summary()),
        esc(&r.graph)
    )
}

fn relative(base: &Path, p: &Path) -> String {
    let (Ok(b), Ok(f)) = (base.canonicalize(), p.canonicalize()) else {
        return p.display().to_string();
    };
    f.strip_prefix(&b)
        .map_or_else(|_| f.display().to_string(), |r| r.display().to_string())
}
