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
use crate::delivery::{
    self, identity, Context, Delivery, DeliveryOptions, Item, ItemStatus, Media,
};
use crate::feed::FeedSource;
use crate::fonts::FontBook;
use crate::ledger::{Asset, State};
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
}

/// One job: a template (file or directory) with an optional feed, or videos
/// (a file or a folder of them). Paths are relative to the job file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// A template file or a directory of templates.
    #[serde(default)]
    pub template: Option<PathBuf>,
    /// The feed its rows come from: a path or URL, or `{url, headers}`
    /// (header values may hold `${ENV}`; they are never stored or shown).
    #[serde(default)]
    pub feed: Option<FeedSource>,
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
    /// the row's position]. A row whose key is published is never
    /// published again by accident, wherever it moves in the feed.
    #[serde(default)]
    pub key: Option<String>,
    /// Usernames to tag on each Story of a `template` entry (`@` optional,
    /// placeholders such as `"{{guest}}"` filled per row), sent as the
    /// container's `user_tags` [default: none].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
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
            let feed = j.feed.as_mut().map(|f| &mut f.location);
            for p in [
                j.template.as_mut(),
                feed,
                j.videos.as_mut(),
                j.file.as_mut(),
            ]
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
        if !self.mentions.is_empty() && self.template.is_none() {
            return Err("`mentions` go with a `template` entry".into());
        }
        for m in &self.mentions {
            crate::template::Pattern::parse(m).map_err(|e| format!("mentions: `{m}`: {e}"))?;
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
    /// The `today` variable [default: today in the account's `timezone:`].
    pub today: Option<chrono::NaiveDate>,
    /// x264 preset for videos [default: medium].
    pub preset: Option<String>,
    /// Publish again what was already published (a new generation of each
    /// identity), and bytes that went out under another identity.
    pub republish: bool,
    /// In front of every identity: `day:2026-12-03` for `daily`,
    /// `schedule:7` for `tick` [default: none].
    pub scope: Option<String>,
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
}

impl RunReport {
    fn count(&mut self, item: &Item) {
        match item.status {
            ItemStatus::Published => self.published += 1,
            ItemStatus::AlreadyPublished | ItemStatus::SameContent => self.already += 1,
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
    /// A Story to deliver, with the template and variant it was made from.
    Story {
        delivery: Box<Delivery>,
        made: Option<(String, Option<String>)>,
    },
    /// Nothing to deliver: a render or transcode failed, or the identity
    /// is published and was skipped.
    Done(Box<Item>),
}

/// The CPU side's view of one job entry: how to name its Stories, and what
/// the ledger already holds.
struct Forward<'a> {
    tx: mpsc::UnboundedSender<Produced>,
    scope: Option<&'a str>,
    account: Option<&'a str>,
    republish: bool,
    known: &'a HashMap<String, Asset>,
    /// Identity → the variant it was made with (a rerun keeps it).
    variants: HashMap<String, String>,
    /// Template → its published Stories that carry a variant.
    variant_counts: HashMap<String, u64>,
    /// The feed of the job entry being rendered (entries go one by one).
    feed: std::sync::Mutex<Option<PathBuf>>,
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
    fn published(&self, identity: &str) -> Option<&Asset> {
        self.known
            .get(identity)
            .filter(|r| r.state == State::Published && !self.republish)
    }

    fn deliver(&self, identity: String, input_hash: Option<String>, source: String, path: PathBuf) {
        self.deliver_made(identity, input_hash, source, path, None, Vec::new());
    }

    /// [`Forward::deliver`] with the template and variant it was made from,
    /// and usernames to tag.
    fn deliver_made(
        &self,
        identity: String,
        input_hash: Option<String>,
        source: String,
        path: PathBuf,
        made: Option<(String, Option<String>)>,
        mentions: Vec<String>,
    ) {
        self.send(Produced::Story {
            delivery: Box::new(Delivery {
                account: self.account.map(str::to_string),
                identity,
                input_hash,
                source,
                media: Media::File(path),
                republish: self.republish,
                mentions,
            }),
            made,
        });
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
        let feed = self.feed();
        let id = identity::template(self.scope, story.template, feed.as_deref(), story.row_key);
        let Some(row) = self.published(&id) else {
            return false;
        };
        let changed = row
            .input_hash
            .as_deref()
            .is_some_and(|h| h != story.input_hash);
        let item = Item {
            source: row_source(&story.template.display().to_string(), story.row),
            output: row.output_path.clone(),
            kind: Some(row.kind),
            ..Item::default()
        }
        .already(row, changed);
        self.send(Produced::Done(Box::new(item)));
        true
    }

    /// The variant a Story keeps from an earlier run, else the next in
    /// turn after the template's published Stories (by row position).
    fn variant(&self, story: &StoryKey<'_>, template: &str, names: &[&str]) -> Option<usize> {
        let feed = self.feed();
        let id = identity::template(self.scope, story.template, feed.as_deref(), story.row_key);
        if let Some(i) = self
            .variants
            .get(&id)
            .and_then(|v| names.iter().position(|n| n == v))
        {
            return Some(i);
        }
        let published = self.variant_counts.get(template).copied().unwrap_or(0);
        let order = story.row.unwrap_or(1).saturating_sub(1) as u64;
        Some(crate::template::variants::pick(
            names.len(),
            published,
            order,
        ))
    }

    fn finished(&self, o: &StoryOutcome) {
        let mut source = row_source(&o.template, o.row);
        if let Some(v) = &o.variant {
            source.push_str(&format!(" · variant {v}"));
        }
        match (&o.output, &o.row_key, &o.error) {
            (Some(out), Some(key), None) => {
                let feed = self.feed();
                let id =
                    identity::template(self.scope, Path::new(&o.template), feed.as_deref(), key);
                let made = o.template_name.clone().map(|t| (t, o.variant.clone()));
                self.deliver_made(
                    id,
                    o.input_hash.clone(),
                    source,
                    out.clone(),
                    made,
                    o.mentions.clone(),
                );
            }
            (_, _, e) => self.failed(source, e.clone().unwrap_or_else(|| "no output".into())),
        }
    }
}

impl Forward<'_> {
    /// The feed of the job entry being rendered.
    fn feed(&self) -> Option<PathBuf> {
        self.feed.lock().map(|f| f.clone()).unwrap_or_default()
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
            let id = identity::video(self.scope, &o.input, part, parts);
            let source = format!("{source} part {part}/{parts}");
            match self.published(&id) {
                Some(row) => {
                    let item = Item {
                        source,
                        output: Some(out.path.display().to_string()),
                        kind: Some(MediaKind::Video),
                        ..Item::default()
                    }
                    .already(row, false);
                    self.send(Produced::Done(Box::new(item)));
                }
                None => self.deliver(id, None, source, out.path.clone()),
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
            // Checked when the job file was read.
            settings.mentions = job
                .mentions
                .iter()
                .filter_map(|m| crate::template::Pattern::parse(m).ok())
                .collect();
            settings.feed_headers = job
                .feed
                .as_ref()
                .map(|f| f.headers.clone())
                .unwrap_or_default();
            if let Ok(mut f) = tx.feed.lock() {
                *f = job.feed.as_ref().map(|f| f.location.clone());
            }
            if let Err(e) = pipeline::render_batch(
                std::slice::from_ref(t),
                job.feed.as_ref().map(FeedSource::path),
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
            let id = identity::file(tx.scope, f);
            match tx.published(&id) {
                Some(row) => {
                    let changed = std::fs::read(f)
                        .map(|b| sha(&b) != row.content_hash)
                        .unwrap_or(false);
                    let item = Item {
                        source: f.display().to_string(),
                        output: Some(f.display().to_string()),
                        kind: Some(row.kind),
                        ..Item::default()
                    }
                    .already(row, changed);
                    tx.send(Produced::Done(Box::new(item)));
                }
                None => tx.deliver(id, None, f.display().to_string(), f.clone()),
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
    let prefix = identity::video_prefix(tx.scope, input);
    let parts: Vec<&Asset> = tx
        .known
        .iter()
        .filter(|(id, _)| id.starts_with(&prefix))
        .map(|(_, r)| r)
        .collect();
    let count = parts
        .first()?
        .identity
        .rsplit('/')
        .next()
        .and_then(|n| n.parse::<usize>().ok())?;
    let all = parts.len() == count && parts.iter().all(|r| tx.published(&r.identity).is_some());
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
                    .already(row, false);
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
    // "Today" is the account's day, wherever the host is.
    let opts = &RunOptions {
        today: Some(
            opts.today
                .unwrap_or_else(|| ctx.settings().account_today(&account)),
        ),
        ..opts.clone()
    };
    let known = ctx.known(&account, "");
    let fonts = FontBook::bundled();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut report = RunReport {
        graph: ctx.settings().graph.base_url.clone(),
        ledger: ctx.ledger().path().to_string(),
        ..RunReport::default()
    };
    let forward = Forward {
        tx,
        scope: opts.scope.as_deref(),
        account: Some(account.as_str()),
        republish: opts.republish,
        known: &known,
        variants: ctx
            .ledger()
            .recorded_variants(&account)
            .map_err(delivery::SetupError::from)?,
        variant_counts: ctx
            .ledger()
            .variant_counts(&account)
            .map_err(delivery::SetupError::from)?,
        feed: std::sync::Mutex::new(None),
    };
    std::thread::scope(|scope| {
        let (out_dir, fonts_ref) = (&out, &fonts);
        let cpu = scope.spawn(move || produce(&jobs, out_dir, fonts_ref, opts, &forward));
        rt.block_on(async {
            while let Some(p) = rx.recv().await {
                let item = match p {
                    Produced::Story { delivery, made } => {
                        let item = ctx.deliver(&delivery).await;
                        if let Some((template, variant)) = made {
                            // Kept beside the Story for the insights report.
                            if let Err(e) = ctx.ledger().record_variant(
                                &account,
                                &delivery.identity,
                                &template,
                                variant.as_deref(),
                            ) {
                                tracing::warn!("{}: {e}", delivery.source);
                            }
                        }
                        item
                    }
                    Produced::Done(item) => *item,
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
    let mut events: Vec<_> = report
        .items
        .iter()
        .filter_map(|i| i.event(&account))
        .collect();
    // A tick's entries are told by the tick's own summary.
    if !opts
        .scope
        .as_deref()
        .is_some_and(|s| s.starts_with("schedule:"))
    {
        events.push(crate::notify::Event::finished(report.summary()));
    }
    crate::notify::send(&ctx.settings().notify, Some(ctx.ledger()), &events);
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
