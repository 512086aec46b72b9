//! The CPU side of a run: each job entry rendered or transcoded on rayon,
//! every output named by its [`Identity`] (and the one an earlier release
//! gave it) and sent to the delivery side, or reported at once when the
//! ledger already has it published.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::{Job, OnChange, RunOptions};
use crate::delivery::identity::{legacy, Base, Identity, RowKey};
use crate::delivery::{Delivery, Item, Media};
use crate::fonts::FontBook;
use crate::ledger::{Asset, Legacy, State};
use crate::media::MediaKind;
use crate::pipeline::{self, BatchObserver, RenderSettings, StoryKey, StoryOutcome};

/// A finished output (or a failure) from the CPU side, with what it is.
pub(super) enum Produced {
    /// A Story to deliver, with the template and variant it was made from.
    Story {
        delivery: Box<Delivery>,
        made: Option<(String, Option<String>)>,
    },
    /// Nothing to deliver: a render or transcode failed, or the identity
    /// is published and was skipped.
    Done(Box<Item>),
    /// Something about a whole feed or entry.
    Warning(String),
}

/// The CPU side's view of one job entry: how to name its Stories, and what
/// the ledger already holds.
pub(super) struct Forward<'a> {
    pub(super) tx: mpsc::UnboundedSender<(usize, Produced)>,
    /// Which of the run's entries this is (items are reported per entry).
    pub(super) index: usize,
    pub(super) scope: Option<&'a str>,
    pub(super) base: Base,
    pub(super) account: Option<&'a str>,
    pub(super) republish: bool,
    pub(super) publish_changed: bool,
    pub(super) asked_by: Option<&'a str>,
    pub(super) known: &'a HashMap<String, Asset>,
    /// Identity → the variant it was made with (a rerun keeps it).
    pub(super) variants: HashMap<String, String>,
    /// Template → its published Stories that carry a variant.
    pub(super) variant_counts: HashMap<String, u64>,
    /// The job entry being rendered (entries go one by one).
    pub(super) entry: std::sync::Mutex<Option<Job>>,
    /// Its own scope (`day:…` for an entry with `until` or `per_day`),
    /// in place of the run's.
    pub(super) entry_scope: std::sync::Mutex<Option<String>>,
}

/// A Story on its way to [`Forward::deliver`]: what it is and what it is
/// made from.
struct Made {
    identity: Identity,
    legacy: Option<Legacy>,
    input_hash: Option<String>,
    fields: Option<pipeline::Fields>,
    source: String,
    /// The template and variant it was drawn from.
    made: Option<(String, Option<String>)>,
    /// Usernames to tag.
    mentions: Vec<String>,
}

impl Forward<'_> {
    fn send(&self, p: Produced) {
        let _ = self.tx.send((self.index, p));
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
                j.feed.map(|f| f.location),
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
        d.mentions = made.mentions;
        self.send(Produced::Story {
            delivery: Box::new(d),
            made: made.made,
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
        let own = self.entry_scope.lock().ok().and_then(|s| s.clone());
        let scope = own.as_deref().or(self.scope);
        let id = Identity::template(scope, &self.base, template, feed.as_deref(), key.clone());
        let old_key = legacy::row_key(key, job_key, row);
        let old = Legacy {
            identity: legacy::template(scope, template, feed.as_deref(), &old_key),
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

    /// The variant a Story keeps from an earlier run, else the next in
    /// turn after the template's published Stories (by row position).
    fn variant(&self, story: &StoryKey<'_>, template: &str, names: &[&str]) -> Option<usize> {
        let (id, _, _) = self.template_identity(story.template, story.row_key, story.row);
        if let Some(i) = self
            .variants
            .get(&id.encode())
            .and_then(|v| names.iter().position(|n| n == v))
        {
            return Some(i);
        }
        let published = self.variant_counts.get(template).copied().unwrap_or(0);
        Some(crate::template::variants::pick(
            names.len(),
            published,
            story.batch_order,
        ))
    }

    fn finished(&self, o: &StoryOutcome) {
        let mut source = row_source(&o.template, o.row);
        if let Some(v) = &o.variant {
            source.push_str(&format!(" · variant {v}"));
        }
        // What the renderer had to change (a renamed output, shrunk text):
        // in the run's warnings, not only in a render report.
        for w in &o.warnings {
            self.warning(w);
        }
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
                    made: o.template_name.clone().map(|t| (t, o.variant.clone())),
                    mentions: o.mentions.clone(),
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
                        made: None,
                        mentions: Vec::new(),
                    };
                    self.deliver(made, out.path.clone(), self.publish_changed);
                }
            }
        }
    }
}

/// Renders and transcodes every job of this shard, sending outputs on.
/// `written`: the output files of the whole run, so no entry writes over
/// another's.
pub(super) fn produce(
    jobs: &[(Job, Option<String>)],
    out: &Path,
    fonts: &FontBook,
    opts: &RunOptions,
    tx: &Forward,
    written: &pipeline::WrittenNames,
) {
    let mut settings = RenderSettings {
        out_dir: out.to_path_buf(),
        written: written.clone(),
        ..RenderSettings::default()
    };
    if let Some(d) = opts.today {
        settings.today = d;
    }
    for (job, scope) in jobs {
        if let Ok(mut s) = tx.entry_scope.lock() {
            s.clone_from(scope);
        }
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
            if let Ok(mut e) = tx.entry.lock() {
                *e = Some(job.clone());
            }
            if let Err(e) = pipeline::render_batch(
                std::slice::from_ref(t),
                job.feed.as_ref().map(crate::feed::FeedSource::path),
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
                        made: None,
                        mentions: Vec::new(),
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
    // Parts an earlier release recorded are not looked for here: they are
    // transcoded once more and adopted when delivered (see `ledger::adopt`).
    let parts = with(&prefix);
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
