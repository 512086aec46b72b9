//! Recurring automations: what an occurrence runs, what it would publish
//! (the preview `schedule list` and the dashboard show), and running the
//! due ones in `tick`.
//!
//! An occurrence runs its job file as `run` does, with `today` = the
//! occurrence's date in the account's zone. An entry whose feed has a
//! `date` or `weekday` column is day-based: it takes that day's rows only
//! and its Stories are scoped to the day (`day:2026-12-08`, as `daily`
//! does), so the same row is a new Story the next day it comes up, and a
//! `daily` run the same day does not publish it again. Other entries
//! publish each row once ever, as `run` does (a cross-post of new items).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::every::Rule;
use crate::config::Settings;
use crate::daily::{rows_for, Selection};
use crate::delivery::identity::Base;
use crate::feed::{keys, Feed};
use crate::ledger::{Automation, Ledger};
use crate::run::{self, Job, JobFile, RunOptions};

/// The folder stored job paths are relative to: the settings file's.
fn base(settings: &Settings) -> PathBuf {
    settings.dir.clone().unwrap_or_else(|| PathBuf::from("."))
}

/// How the ledger names the job file `path`: relative to the settings
/// file's folder (symlinks resolved), as Story identities are.
pub fn stored_job(settings: &Settings, path: &Path) -> String {
    Base::new(&base(settings)).locate(path)
}

/// The job file a stored name stands for.
pub fn job_path(settings: &Settings, stored: &str) -> PathBuf {
    base(settings).join(stored)
}

/// An automation's rule, account and zone, checked.
pub struct Resolved {
    /// The rule.
    pub rule: Rule,
    /// The account it publishes for.
    pub account: String,
    /// That account's zone.
    pub zone: chrono_tz::Tz,
    /// The job file, loaded.
    pub job: JobFile,
}

/// Reads automation `a`'s rule and job file; a one-line reason when either is wrong.
pub fn resolve(settings: &Settings, a: &Automation) -> Result<Resolved, String> {
    let rule: Rule = a.rule.parse()?;
    let job = JobFile::load(&job_path(settings, &a.job)).map_err(|e| e.to_string())?;
    let account = settings.account_name(a.account.as_deref().or(job.account.as_deref()))?;
    Ok(Resolved {
        zone: settings.account_zone(&account),
        rule,
        account,
        job,
    })
}

/// What one job entry would publish on a day.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// The template (its file name), or the file or videos.
    pub what: String,
    /// The rows it takes, by key and title (at most 5 named).
    pub rows: Vec<String>,
    /// How the rows were picked: `date`, `weekday`, or `all` (each row once ever).
    pub picked: String,
}

/// An occurrence's work: the day-based entries narrowed to the day's rows,
/// the others as they are, and what they would publish.
pub struct Occurrence {
    /// Entries scoped to the day.
    pub day_based: Vec<Job>,
    /// Entries that publish each row once ever.
    pub rest: Vec<Job>,
    /// What it would publish.
    pub preview: Vec<Preview>,
}

fn name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn label(row: &crate::feed::FeedRow, key: Result<keys::RowKey, String>) -> String {
    let title = ["title", "name"].iter().find_map(|c| {
        row.vars
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(c) && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
    });
    let key = key.map_or_else(|_| format!("row {}", row.index), |k| k.to_string());
    match title {
        Some(t) => format!("{key} “{t}”"),
        None => key,
    }
}

/// What `job` does on `day`: reads each entry's feed (no rendering, no
/// publishing, no ledger writes) to pick the day's rows.
pub fn plan(job: &JobFile, day: NaiveDate) -> Result<Occurrence, String> {
    let mut occ = Occurrence {
        day_based: Vec::new(),
        rest: Vec::new(),
        preview: Vec::new(),
    };
    for entry in &job.jobs {
        let what = entry
            .template
            .as_deref()
            .or(entry.file.as_deref())
            .or(entry.videos.as_deref())
            .map(name)
            .unwrap_or_default();
        let Some(source) = entry.feed.as_ref().filter(|_| !entry.chooses_rows()) else {
            occ.preview.push(Preview {
                what,
                rows: Vec::new(),
                // `only_new`, `per_day`, `until`: chosen by the run itself.
                picked: if entry.chooses_rows() {
                    "chosen by the run"
                } else {
                    "all"
                }
                .into(),
            });
            occ.rest.push(entry.clone());
            continue;
        };
        let feed = Feed::open_source(source).map_err(|e| e.to_string())?;
        let rows = feed
            .rows()
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .map_err(|e| e.to_string())?;
        let (picked, how) = rows_for(&rows, day);
        let day_based = entry.rows.is_none() && how != Selection::Rotation;
        let chosen: Vec<usize> = match (&entry.rows, day_based) {
            (Some(r), _) => r.clone(),
            (None, true) => picked,
            (None, false) => rows.iter().map(|r| r.index).collect(),
        };
        let keys = keys::row_keys(&feed.shown(), rows.iter().cloned(), entry.key.as_deref());
        let mut shown: Vec<String> = rows
            .iter()
            .filter(|r| chosen.contains(&r.index))
            .take(5)
            .map(|r| label(r, keys.get(r.index)))
            .collect();
        if chosen.len() > 5 {
            shown.push(format!("and {} more", chosen.len() - 5));
        }
        occ.preview.push(Preview {
            what,
            rows: shown,
            picked: match (day_based, how) {
                (true, Selection::Date) => "date",
                (true, _) => "weekday",
                (false, _) if entry.rows.is_some() => "rows",
                _ => "all",
            }
            .into(),
        });
        if day_based {
            if !chosen.is_empty() {
                occ.day_based.push(Job {
                    rows: Some(chosen),
                    ..entry.clone()
                });
            }
        } else {
            occ.rest.push(entry.clone());
        }
    }
    Ok(occ)
}

/// One automation's run in a tick.
#[derive(Debug, Clone, Serialize)]
pub struct AutomationRun {
    /// The automation (`A<id>`).
    pub id: i64,
    /// The occurrence run (RFC 3339, UTC).
    pub occurrence: String,
    /// The occurrence in the account's zone, for people.
    pub local: String,
    /// Earlier occurrences missed while nothing ticked (not run).
    pub skipped: usize,
    /// True when the job could not run or a Story failed.
    pub failed: bool,
    /// True when every failure was a Story's, each already told on its
    /// own (with its account and row) by the run.
    pub told: bool,
    /// What happened.
    pub result: String,
}

/// `t` in `zone` as `2026-12-08 09:00 CET (+01:00)`.
pub fn local(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    t.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %Z (%:z)")
        .to_string()
}

/// Runs one occurrence: whether it failed, whether its failures were all
/// Stories' (each told by its run), and what happened.
fn run_occurrence(
    settings: &Settings,
    a: &Automation,
    r: &Resolved,
    day: NaiveDate,
    occurrence: &str,
) -> (bool, bool, String) {
    let occ = match plan(&r.job, day) {
        Ok(o) => o,
        Err(e) => return (true, false, e),
    };
    if occ.day_based.is_empty() && occ.rest.is_empty() {
        return (false, false, format!("nothing for {day}"));
    }
    let (mut published, mut already, mut deferred, mut failed) = (0, 0, 0, 0);
    let mut ran = true;
    let mut errors = Vec::new();
    for (jobs, scope) in [
        (occ.day_based, Some(format!("day:{day}"))),
        (occ.rest, None),
    ] {
        if jobs.is_empty() {
            continue;
        }
        let job = JobFile {
            account: Some(r.account.clone()),
            jobs,
            ..r.job.clone()
        };
        let opts = RunOptions {
            today: Some(day),
            scope,
            asked_by: Some(format!("every:A{}@{occurrence}", a.id)),
            ..RunOptions::default()
        };
        match run::run(&job, settings.clone(), &opts) {
            Ok(rep) => {
                published += rep.published;
                already += rep.already;
                deferred += rep.deferred + rep.busy + rep.unsure;
                failed += rep.failed;
                errors.extend(rep.items.iter().filter_map(|i| i.error.clone()).take(3));
            }
            Err(e) => {
                failed += 1;
                ran = false;
                errors.push(e.to_string());
            }
        }
    }
    let mut text = format!(
        "{published} published, {already} already published, {deferred} waiting, {failed} failed"
    );
    if !errors.is_empty() {
        text = format!("{text}: {}", errors.join("; "));
    }
    (failed > 0, ran, text)
}

/// Runs every active automation whose latest occurrence at `now` has not
/// run: each claimed first (so two ticks run it once), a failure told and
/// the rest going on. After downtime only the latest missed occurrence runs.
pub fn run_due(
    settings: &Settings,
    ledger: &Ledger,
    now: DateTime<Utc>,
) -> Result<Vec<AutomationRun>, crate::ledger::LedgerError> {
    ledger.recover_automations(settings.lease())?;
    // Written before the first claim, kept until the last run ends.
    let mut alive = None;
    let mut runs = Vec::new();
    for a in ledger.automations()?.into_iter().filter(|a| !a.paused) {
        let r = match resolve(settings, &a) {
            Ok(r) => r,
            Err(e) => {
                // Told once per due occurrence, never stopping the others.
                if let Ok(rule) = a.rule.parse::<Rule>() {
                    let zone = settings.account_zone(a.account.as_deref().unwrap_or_default());
                    if let Some(occ) = rule.latest(zone, now) {
                        let owner = crate::ledger::owner_id();
                        alive.get_or_insert_with(|| super::heartbeat(settings, ledger));
                        if ledger.claim_occurrence(a.id, occ, &owner)?.is_some() {
                            ledger.finish_occurrence(a.id, &owner, true, &e)?;
                            runs.push(AutomationRun {
                                id: a.id,
                                occurrence: occ.to_rfc3339(),
                                local: local(occ, zone),
                                skipped: 0,
                                failed: true,
                                told: false,
                                result: e,
                            });
                        }
                        crate::ledger::owner_done(&owner);
                    }
                }
                continue;
            }
        };
        let Some(occ) = r.rule.latest(r.zone, now) else {
            continue;
        };
        let owner = crate::ledger::owner_id();
        alive.get_or_insert_with(|| super::heartbeat(settings, ledger));
        let Some(before) = ledger.claim_occurrence(a.id, occ, &owner)? else {
            crate::ledger::owner_done(&owner);
            continue;
        };
        // Missed since the later of the last occurrence run and when it
        // was added or resumed.
        let since = [
            before.occurrence.as_deref(),
            Some(before.created_at.as_str()),
        ]
        .into_iter()
        .flatten()
        .filter_map(crate::ledger::parse_time)
        .max();
        let skipped = since.map_or(0, |s| r.rule.between(r.zone, s, occ, 10_000));
        let day = occ.with_timezone(&r.zone).date_naive();
        let stamp = occ.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (failed, told, mut result) = run_occurrence(settings, &a, &r, day, &stamp);
        if skipped > 0 {
            result = format!(
                "{result} (caught up: {skipped} earlier occurrence{} missed while nothing ticked were not run)",
                if skipped == 1 { "" } else { "s" }
            );
        }
        let finished = ledger.finish_occurrence(a.id, &owner, failed, &result);
        crate::ledger::owner_done(&owner);
        finished?;
        runs.push(AutomationRun {
            id: a.id,
            occurrence: stamp,
            local: local(occ, r.zone),
            skipped,
            failed,
            told,
            result,
        });
    }
    Ok(runs)
}

/// An automation as `schedule list` and the dashboard show it.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// The stored automation.
    #[serde(flatten)]
    pub automation: Automation,
    /// The account's zone.
    pub zone: String,
    /// The next occurrences in that zone, with the UTC offset.
    pub next: Vec<String>,
    /// The same, RFC 3339 UTC.
    pub next_utc: Vec<String>,
    /// The last occurrence run, in the zone.
    pub last_local: Option<String>,
    /// The day the preview is for (the next occurrence's).
    pub preview_day: Option<NaiveDate>,
    /// What the next occurrence would publish.
    pub preview: Vec<Preview>,
    /// Why it cannot run or be previewed, when something is wrong.
    pub problem: Option<String>,
}

/// Automation `a` at `now`: its next `n` occurrences and a preview of the
/// next one (feeds read; nothing rendered, published or written).
pub fn listing(settings: &Settings, a: &Automation, now: DateTime<Utc>, n: usize) -> Listing {
    let mut out = Listing {
        automation: a.clone(),
        zone: String::new(),
        next: Vec::new(),
        next_utc: Vec::new(),
        last_local: None,
        preview_day: None,
        preview: Vec::new(),
        problem: None,
    };
    let r = match resolve(settings, a) {
        Ok(r) => r,
        Err(e) => {
            out.problem = Some(e);
            return out;
        }
    };
    out.zone = r.zone.name().to_string();
    let next = r.rule.next(r.zone, now, n);
    out.next = next.iter().map(|t| local(*t, r.zone)).collect();
    out.next_utc = next.iter().map(|t| t.to_rfc3339()).collect();
    out.last_local = a
        .occurrence
        .as_deref()
        .and_then(crate::ledger::parse_time)
        .map(|t| local(t, r.zone));
    if let Some(first) = next.first() {
        let day = first.with_timezone(&r.zone).date_naive();
        out.preview_day = Some(day);
        match plan(&r.job, day) {
            Ok(o) => out.preview = o.preview,
            Err(e) => out.problem = Some(e),
        }
    }
    out
}

impl Preview {
    /// `menu.yaml: sku A1 “Flat white”, sku B2 (date)`.
    pub fn line(&self) -> String {
        if self.rows.is_empty() {
            return match self.picked.as_str() {
                "all" => format!("{}: its Story", self.what),
                _ => format!("{}: no rows that day", self.what),
            };
        }
        let how = match self.picked.as_str() {
            "date" => "rows dated that day",
            "weekday" => "rows for that weekday",
            "rows" => "the job's rows",
            _ => "each row once ever; rows already out are skipped",
        };
        format!("{}: {} ({how})", self.what, self.rows.join(", "))
    }
}
