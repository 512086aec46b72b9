//! A job file → published Stories: templates × feeds are rendered and
//! videos transcoded on rayon while, on tokio, each finished output is
//! validated, uploaded and published as soon as it exists; the two sides
//! are joined once. Every item ends in the report (`report.json`,
//! `report.html`), one bad item never stops the rest, and the ledger makes
//! reruns no-ops.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::fonts::FontBook;
use crate::ledger::Ledger;
use crate::pipeline::{self, BatchObserver, RenderSettings, StoryOutcome};
use crate::publish::{self, Account, MediaKind, Outcome, Publisher, StoryMedia};
use crate::storage::{self, AnyStore, UrlCheck};
use crate::template::{located, yaml_problem, SourcePos};
use crate::validate;

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
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The job file is unreadable or wrong.
    #[error("{0}")]
    Job(String),
    /// Anything else that stops the run before it starts.
    #[error("{0}")]
    Setup(String),
}

impl JobFile {
    /// Reads and checks a job file; paths become relative to its folder.
    pub fn load(path: &Path) -> Result<JobFile, RunError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| RunError::Job(format!("{shown}: cannot read the job file: {e}")))?;
        let mut job: JobFile = serde_saphyr::from_str(&text).map_err(|e| {
            let (pos, message) = yaml_problem(&e);
            RunError::Job(located(&shown, pos, &message))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for (i, j) in job.jobs.iter_mut().enumerate() {
            let kinds = usize::from(j.template.is_some()) + usize::from(j.videos.is_some());
            if kinds != 1 || (j.feed.is_some() && j.template.is_none()) {
                return Err(RunError::Job(located(
                    &shown,
                    SourcePos::default(),
                    &format!(
                        "jobs[{i}]: give either `template` (with an optional `feed`) or `videos`"
                    ),
                )));
            }
            for p in [&mut j.template, &mut j.feed, &mut j.videos]
                .into_iter()
                .flatten()
            {
                *p = beside(dir, p);
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
        if kinds != 1 || ((self.feed.is_some() || self.rows.is_some()) && self.template.is_none()) {
            return Err(
                "give either `template` (with an optional `feed` and `rows`), `videos` or `file`"
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
}

/// One item of the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Item {
    /// Where it came from: `template.yaml row 3` or a video file.
    pub source: String,
    /// The Story file.
    pub output: Option<String>,
    /// `image` or `video`.
    pub kind: Option<String>,
    /// Validation findings (`SF… name: message`).
    pub findings: Vec<String>,
    /// The public URL.
    pub url: Option<String>,
    /// The published media id.
    pub media_id: Option<String>,
    /// `published`, `already published`, `deferred`, `dry run`, `failed`.
    pub status: String,
    /// What went wrong, or why it waits.
    pub error: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Every item, in the order they finished.
    pub items: Vec<Item>,
    /// Items published now.
    pub published: usize,
    /// Items published by an earlier run.
    pub already: usize,
    /// Items waiting for quota or rate limits.
    pub deferred: usize,
    /// Items that failed.
    pub failed: usize,
    /// The Graph API used (`sandbox` when built in).
    pub graph: String,
}

/// A finished output (or a failure) from the CPU side.
struct Produced {
    source: String,
    output: Option<PathBuf>,
    kind: MediaKind,
    error: Option<String>,
}

struct Forward(mpsc::UnboundedSender<Produced>);

impl BatchObserver for Forward {
    fn finished(&self, o: &StoryOutcome) {
        let _ = self.0.send(Produced {
            source: match o.row {
                Some(r) => format!("{} row {r}", o.template),
                None => o.template.clone(),
            },
            output: o.output.clone(),
            kind: MediaKind::Image,
            error: o.error.clone(),
        });
    }
}

#[cfg(feature = "video")]
impl crate::video::batch::VideoObserver for Forward {
    fn finished(&self, o: &crate::video::batch::VideoOutcome) {
        let source = o.input.display().to_string();
        if let Some(e) = &o.error {
            let _ = self.0.send(Produced {
                source,
                output: None,
                kind: MediaKind::Video,
                error: Some(e.clone()),
            });
            return;
        }
        for out in &o.outputs {
            let _ = self.0.send(Produced {
                source: format!("{source} part {}/{}", out.part.0, out.part.1),
                output: Some(out.path.clone()),
                kind: MediaKind::Video,
                error: None,
            });
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
            if let Err(e) = pipeline::render_batch(
                std::slice::from_ref(t),
                job.feed.as_deref(),
                fonts,
                &settings,
                tx,
            ) {
                let _ = tx.0.send(Produced {
                    source: t.display().to_string(),
                    output: None,
                    kind: MediaKind::Image,
                    error: Some(e.to_string()),
                });
            }
        }
        if let Some(v) = &job.videos {
            produce_videos(v, out, opts, tx);
        }
        if let Some(f) = &job.file {
            let _ = tx.0.send(Produced {
                source: f.display().to_string(),
                output: Some(f.clone()),
                kind: MediaKind::from_name(&f.to_string_lossy()),
                error: None,
            });
        }
    }
}

#[cfg(feature = "video")]
fn produce_videos(path: &Path, out: &Path, opts: &RunOptions, tx: &Forward) {
    let inputs: Vec<PathBuf> = if path.is_dir() {
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
    };
    let mut topts = crate::video::TranscodeOptions::default();
    if let Some(p) = &opts.preset {
        topts.preset = p.clone();
    }
    if let Err(e) = crate::video::batch::transcode_all(&inputs, out, &topts, None, tx) {
        let _ = tx.0.send(Produced {
            source: path.display().to_string(),
            output: None,
            kind: MediaKind::Video,
            error: Some(format!("{}: {e}", out.display())),
        });
    }
}

#[cfg(not(feature = "video"))]
fn produce_videos(path: &Path, _: &Path, _: &RunOptions, tx: &Forward) {
    let _ = tx.0.send(Produced {
        source: path.display().to_string(),
        output: None,
        kind: MediaKind::Video,
        error: Some("this storyforge was built without the `video` feature".into()),
    });
}

/// The I/O side: validate, upload and publish each output as it arrives.
struct Sink<'a> {
    store: AnyStore,
    check: UrlCheck,
    publisher: Option<Publisher<'a>>,
    account: Option<Account>,
    fonts: &'a FontBook,
}

impl Sink<'_> {
    async fn handle(&mut self, p: Produced) -> Item {
        let mut item = Item {
            source: p.source,
            output: p.output.as_ref().map(|o| o.display().to_string()),
            kind: Some(p.kind.as_str().into()),
            ..Item::default()
        };
        let fail = |mut item: Item, e: String| {
            item.status = "failed".into();
            item.error = Some(e);
            item
        };
        let Some(path) = p.output else {
            return fail(item, p.error.unwrap_or_else(|| "no output".into()));
        };
        let report = validate::check_file(&path, self.fonts, None, &validate::Options::default());
        item.findings = report
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} {} {}: {}",
                    f.rule.severity.label(),
                    f.rule.id,
                    f.rule.name,
                    f.message
                )
            })
            .collect();
        if report.fails(false) {
            return fail(item, "validation failed: not uploaded".into());
        }
        let up = match storage::upload_file(&self.store, &path, &self.check).await {
            Ok(u) => u,
            Err(e) => return fail(item, e.to_string()),
        };
        item.url = Some(up.url.clone());
        let (Some(publisher), Some(account)) = (self.publisher.as_mut(), self.account.as_ref())
        else {
            item.status = "dry run".into();
            return item;
        };
        let media = StoryMedia {
            url: up.url,
            kind: p.kind,
            content_hash: up.sha256,
            source: item.source.clone(),
            output_path: item.output.clone(),
        };
        match publisher.publish(account, &media).await {
            Ok(Outcome::Published { media_id, already }) => {
                item.media_id = media_id;
                item.status = if already {
                    "already published"
                } else {
                    "published"
                }
                .into();
            }
            Ok(Outcome::Deferred { reason }) => {
                item.status = "deferred".into();
                item.error = Some(reason);
            }
            Ok(Outcome::Failed { message, .. }) => return fail(item, message),
            Err(e) => return fail(item, e.to_string()),
        }
        item
    }
}

/// Runs `job` with `settings`; `None` for the graph base means the built-in
/// sandbox (`graph.base_url: sandbox`), started here for the run.
pub fn run(job: &JobFile, settings: Settings, opts: &RunOptions) -> Result<RunReport, RunError> {
    run_with(job, settings, opts, &|_| {})
}

/// [`run`], calling `on_item` as each item finishes (the CLI's progress view).
pub fn run_with(
    job: &JobFile,
    mut settings: Settings,
    opts: &RunOptions,
    on_item: &dyn Fn(&Item),
) -> Result<RunReport, RunError> {
    let setup = |e: &dyn std::fmt::Display| RunError::Setup(e.to_string());
    let out = job.out.clone().unwrap_or_else(|| PathBuf::from("out"));
    std::fs::create_dir_all(&out)
        .map_err(|e| RunError::Setup(format!("{}: {e}", out.display())))?;
    let (_sandbox, builtin) = start_builtin_sandbox(&mut settings)?;
    let ledger = Ledger::open(&settings.ledger).map_err(|e| setup(&e))?;
    let jobs: Vec<&Job> = job
        .jobs
        .iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|s| i % s.count == s.index))
        .map(|(_, j)| j)
        .collect();
    let fonts = FontBook::bundled();
    let account = match (opts.dry_run, builtin) {
        (true, _) => None,
        (false, Some(demo)) if settings.accounts.is_empty() => Some(demo),
        (false, _) => Some(pick_account(&settings, job.account.as_deref())?),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| setup(&e))?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut report = RunReport {
        graph: settings.graph.base_url.clone(),
        ..RunReport::default()
    };
    std::thread::scope(|scope| -> Result<(), RunError> {
        let (out_dir, fonts_ref) = (&out, &fonts);
        let cpu = scope.spawn(move || produce(&jobs, out_dir, fonts_ref, opts, &Forward(tx)));
        let sink_result = rt.block_on(async {
            let store = AnyStore::open(&settings.storage)
                .await
                .map_err(|e| setup(&e))?;
            let host = reqwest::Url::parse(&settings.graph.base_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default();
            let check = UrlCheck::new(
                storage::is_loopback_host(&host) || store.is_local(),
                publish::secs(settings.graph.timeout),
            )
            .map_err(|e| setup(&e))?;
            let publisher = match &account {
                Some(_) => {
                    Some(Publisher::new(settings.graph.clone(), &ledger).map_err(|e| setup(&e))?)
                }
                None => None,
            };
            let mut sink = Sink {
                store,
                check,
                publisher,
                account: account.clone(),
                fonts: &fonts,
            };
            while let Some(p) = rx.recv().await {
                let item = sink.handle(p).await;
                match item.status.as_str() {
                    "published" => report.published += 1,
                    "already published" => report.already += 1,
                    "deferred" => report.deferred += 1,
                    "failed" => report.failed += 1,
                    _ => {}
                }
                tracing::info!("{}: {}", item.source, item.status);
                on_item(&item);
                report.items.push(item);
            }
            Ok::<(), RunError>(())
        });
        let _ = cpu.join();
        sink_result
    })?;
    write_reports(&out, &report)
        .map_err(|e| RunError::Setup(format!("{}: cannot write the report: {e}", out.display())))?;
    Ok(report)
}

fn pick_account(settings: &Settings, name: Option<&str>) -> Result<Account, RunError> {
    let chosen = match name {
        Some(n) => settings.accounts.iter().find(|a| a.name == n),
        None => settings.accounts.first(),
    };
    let a = chosen.ok_or_else(|| {
        RunError::Setup(match name {
            Some(n) => format!("no account named '{n}' in the settings"),
            None => "no accounts in the settings; add `accounts:` to storyforge.yaml".into(),
        })
    })?;
    a.load().map_err(|e| RunError::Setup(e.to_string()))
}

/// With `graph.base_url: sandbox`, starts the built-in sandbox serving the
/// local store, points the settings at it, and gives its demo account.
fn start_builtin_sandbox(
    settings: &mut Settings,
) -> Result<(Option<crate::sandbox::Sandbox>, Option<Account>), RunError> {
    if settings.graph.base_url != SANDBOX {
        return Ok((None, None));
    }
    std::fs::create_dir_all(&settings.storage.dir)
        .map_err(|e| RunError::Setup(format!("{}: {e}", settings.storage.dir.display())))?;
    let config = crate::sandbox::SandboxConfig {
        media_dir: Some(settings.storage.dir.clone()),
        image_processing_ms: 200,
        video_processing_ms: 1000,
        ..crate::sandbox::SandboxConfig::default()
    };
    let sandbox =
        crate::sandbox::Sandbox::start(config).map_err(|e| RunError::Setup(e.to_string()))?;
    settings.graph.base_url = sandbox.base_url();
    settings.storage.base_url = format!("{}/media/", sandbox.base_url());
    let demo = Account {
        settings: publish::AccountSettings {
            name: "demo".into(),
            ig_user_id: crate::sandbox::DEMO_ACCOUNT_ID.into(),
            token_env: None,
            token_file: None,
        },
        token: publish::Secret::new(crate::sandbox::DEMO_TOKEN),
    };
    Ok((Some(sandbox), Some(demo)))
}

/// The `graph.base_url` that means "the built-in sandbox".
pub const SANDBOX: &str = "sandbox";

fn write_reports(out: &Path, report: &RunReport) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(out.join("report.json"), json)?;
    std::fs::write(out.join("report.html"), html(out, report))
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
        let media = match (&i.output, i.kind.as_deref()) {
            (Some(o), Some("video")) => {
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
            esc(&i.status.replace(' ', "-")),
            esc(&i.status)
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
        "<!doctype html><meta charset=\"utf-8\"><title>storyforge report</title>\n<style>body{{font:14px system-ui;margin:24px}}main{{display:flex;flex-wrap:wrap;gap:16px}}figure{{width:180px;margin:0}}img,video,.none{{width:180px;height:320px;object-fit:cover;background:#eee;border-radius:8px}}.published{{color:#2a7}}.failed,.err{{color:#c33}}.deferred{{color:#c80}}code{{font-size:11px}}small{{display:block;color:#555}}</style>\n<h1>storyforge run</h1><p>{} published, {} already published, {} deferred, {} failed — Graph API: {}</p>\n<main>\n{cards}</main>\n",
        r.published,
        r.already,
        r.deferred,
        r.failed,
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
