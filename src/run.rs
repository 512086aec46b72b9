//! A job file → published Stories: templates × feeds are rendered and
//! videos transcoded on rayon while, on tokio, each finished output goes
//! through the one delivery step ([`crate::delivery`]) as soon as it
//! exists; the two sides are joined once. Every item ends in the report
//! (`report.json`, `report.html`), one bad item never stops the rest, and
//! identities already published are neither rendered nor transcoded again.

mod entries;
mod forward;
mod only_new;
mod report;
mod rotation;
mod select;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::delivery::identity;
use crate::delivery::{self, Item, ItemStatus};
use crate::feed::FeedSource;
use crate::util::yaml::{located, yaml_problem, SourcePos};
pub use entries::run_entries;

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
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
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
    /// the first of `id`, `guid`, `sku`, `slug`, `link`, `url` the feed
    /// has, else the row's values; never its position]. A row whose key
    /// is published is never published again by accident, wherever it
    /// moves in the feed.
    #[serde(default)]
    pub key: Option<String>,
    /// Usernames to tag on each Story of a `template` entry (`@` optional,
    /// placeholders such as `"{{guest}}"` filled per row), sent as the
    /// container's `user_tags` [default: none].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// When a published row's values or its template changed: `report`
    /// (say so) or `publish` (publish the new version once) [default: report].
    #[serde(default)]
    pub on_change: Option<OnChange>,
    /// Publish only feed items never seen before: the first run records
    /// the items present as seen (publishing only the `backfill` newest),
    /// later runs publish the new ones [default: false].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub only_new: bool,
    /// With `only_new`: how many of the newest items the first run
    /// publishes (by `datetime`/`date`, else feed order) [default: 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<usize>,
    /// At most this many Stories from the entry in one run, oldest first;
    /// the rest wait for the next run [default: no cap].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_run: Option<usize>,
    /// A date expression over the row (`"{{event_date}}"`): after that day
    /// (in the account's zone) the row is not published. The entry then
    /// publishes each row once a day [default: none].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Rows a day, least recently published first, each once per cycle;
    /// the day's picks are kept for the day [default: none, every row].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<usize>,
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
        job.base = Some(if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.to_path_buf()
        });
        Ok(job)
    }
}

impl Job {
    /// Whether the entry chooses its own rows in each run (`only_new`,
    /// `max_per_run`, `until`, `per_day`), the day's included.
    pub fn chooses_rows(&self) -> bool {
        select::applies(self)
    }

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
        select::check(self)
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
    /// Every item, in the order it was made (Stories are published side
    /// by side, each account in its own lane).
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
    /// Items an entry's `max_per_run` left for the next run.
    #[serde(skip_serializing_if = "is_zero")]
    pub waiting: usize,
    /// What entries chose and why (`only_new`'s baseline, rows past
    /// `until`, items waiting for the next run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
        if self.waiting > 0 {
            parts.push(format!("{} waiting for the next run", self.waiting));
        }
        if self.unsure > 0 {
            parts.push(format!("{} unsure (see `storyforge ledger`)", self.unsure));
        }
        parts.push(format!("{} failed", self.failed));
        format!("{}; ledger {}", parts.join(", "), self.ledger)
    }
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
    run_entries(&[(job, opts.clone())], settings, on_item)?
        .pop()
        .unwrap_or_else(|| Ok(RunReport::default()))
}
