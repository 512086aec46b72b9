//! Which rows of a job entry a run publishes, when the entry says more
//! than "every row": `only_new` (items never seen), `until` (rows whose
//! date has not passed), `per_day` (a rotation), `max_per_run` (a cap).
//! Asked once per entry, before anything is drawn, from the feed's keys
//! and the ledger; the entry then runs with those rows, so `run --job`,
//! `daily` and `tick` all behave the same. An entry with `until` or
//! `per_day` publishes once a day: its Stories are named by the day.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};

use super::{only_new, rotation, Job};
use crate::daily::column;
use crate::delivery::identity::{Base, Identity, RowKey};
use crate::feed::{keys, Feed, FeedRow};
use crate::ledger::{Asset, Ledger, State};
use crate::template::vars::{parse_date, Pattern, TODAY};

/// One keyed row of an entry's feed.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    /// 1-based row number.
    pub index: usize,
    /// The row's key, as identities store it (`id=…`).
    pub key: String,
    /// Its `datetime`, else `date`, when it has one.
    pub date: Option<NaiveDateTime>,
}

/// What the run knows when choosing.
pub(super) struct Picking<'a> {
    pub ledger: &'a Ledger,
    pub account: &'a str,
    pub known: &'a HashMap<String, Asset>,
    pub base: &'a Base,
    pub today: NaiveDate,
    pub scope: Option<&'a str>,
    pub dry_run: bool,
}

/// An entry as this run takes it.
#[derive(Debug, Default)]
pub(super) struct Chosen {
    /// The rows to publish (`None`: as the entry says).
    pub rows: Option<Vec<usize>>,
    /// The entry's own scope (`day:…`), when it has one.
    pub scope: Option<String>,
    /// Rows that could not be chosen: (source, why).
    pub failures: Vec<(String, String)>,
    /// What the report says about the choice.
    pub notes: Vec<String>,
    /// Rows left for the next run by `max_per_run`.
    pub waiting: usize,
}

/// The new keys' rules, checked when the job file is read.
pub(super) fn check(job: &Job) -> Result<(), String> {
    let picks = applies(job) || job.backfill.is_some();
    if picks && (job.template.is_none() || job.feed.is_none()) {
        return Err(
            "`only_new`, `backfill`, `max_per_run`, `until` and `per_day` go with a `template` and a `feed`"
                .into(),
        );
    }
    if job.backfill.is_some() && !job.only_new {
        return Err("`backfill` goes with `only_new: true`".into());
    }
    if job.only_new && job.per_day.is_some() {
        return Err(
            "`only_new` publishes each item once and `per_day` cycles through them: choose one"
                .into(),
        );
    }
    if job.max_per_run == Some(0) || job.per_day == Some(0) {
        return Err("`max_per_run` and `per_day` are at least 1".into());
    }
    if let Some(u) = &job.until {
        Pattern::parse(u).map_err(|e| format!("until: `{u}`: {e}"))?;
    }
    Ok(())
}

/// Whether the entry chooses its rows here.
pub(super) fn applies(job: &Job) -> bool {
    job.only_new || job.max_per_run.is_some() || job.until.is_some() || job.per_day.is_some()
}

/// Newest first: by date when every row has one, else feed order (feeds
/// and APIs list their newest items first).
pub(super) fn newest_first(rows: &[Candidate]) -> Vec<&Candidate> {
    let mut out: Vec<&Candidate> = rows.iter().collect();
    if out.iter().all(|r| r.date.is_some()) {
        out.sort_by_key(|r| std::cmp::Reverse(r.date));
    }
    out
}

/// Where an identity of this entry is, once its scope is set aside.
struct EntryNames {
    /// `template:T` (a template file, or the folder of the entry's templates).
    template: String,
    /// `|feed:F|key:`.
    feed: String,
    /// `template:T|feed:F`: the entry's name for its baseline.
    entry: String,
}

impl EntryNames {
    fn new(job: &Job, base: &Base) -> Option<EntryNames> {
        let (t, f) = (job.template.as_ref()?, job.feed.as_ref()?);
        let once = Identity::template(None, base, t, Some(&f.location), RowKey::Once).encode();
        let entry = once.strip_suffix("|key:once")?.to_string();
        let at = entry.find("|feed:")?;
        Some(EntryNames {
            template: entry[..at].to_string(),
            feed: format!("{}|key:", &entry[at..]),
            entry,
        })
    }

    /// The scope and key of `identity` when it is one of this entry's Stories.
    fn split<'a>(&self, identity: &'a str) -> Option<(&'a str, &'a str)> {
        let start = if identity.starts_with("template:") {
            0
        } else {
            identity.find("|template:")? + 1
        };
        let (scope, subject) = identity.split_at(start);
        let rest = subject.strip_prefix(&self.template)?;
        if !(rest.starts_with('|') || rest.starts_with('/')) {
            return None;
        }
        let at = rest.find(&self.feed)?;
        Some((scope.trim_end_matches('|'), &rest[at + self.feed.len()..]))
    }
}

/// The day a scope names (`day:2026-12-03`, alone or after another scope).
fn scope_day(scope: &str) -> Option<NaiveDate> {
    scope
        .split('|')
        .find_map(|p| p.strip_prefix("day:"))
        .and_then(|d| d.parse().ok())
}

/// The entries of this run, each with the rows it publishes and its own
/// scope; what could not be chosen goes into `report` as failed items.
pub(super) fn entries(
    jobs: &[&Job],
    p: &Picking,
    report: &mut super::RunReport,
) -> Vec<(Job, Option<String>)> {
    jobs.iter()
        .map(|job| {
            if !applies(job) {
                return ((*job).clone(), None);
            }
            let chosen = choose(job, p);
            for (source, why) in chosen.failures {
                let item = crate::delivery::Item {
                    source,
                    ..crate::delivery::Item::default()
                }
                .failed(why, false);
                report.count(&item);
                report.items.push(item);
            }
            for n in &chosen.notes {
                tracing::info!("{n}");
            }
            report.notes.extend(chosen.notes);
            report.waiting += chosen.waiting;
            let mut job = (*job).clone();
            if chosen.rows.is_some() {
                job.rows = chosen.rows;
            }
            (job, chosen.scope)
        })
        .collect()
}

/// The rows `job` publishes in this run.
pub(super) fn choose(job: &Job, p: &Picking) -> Chosen {
    let mut out = Chosen::default();
    let daily = job.until.is_some() || job.per_day.is_some();
    let day_tag = format!("day:{}", p.today);
    if daily {
        out.scope = Some(match p.scope {
            Some(s) if s.split('|').any(|x| x == day_tag) => s.to_string(),
            Some(s) if !s.is_empty() => format!("{s}|{day_tag}"),
            _ => day_tag.clone(),
        });
    }
    let (Some(template), Some(source), Some(names)) =
        (&job.template, &job.feed, EntryNames::new(job, p.base))
    else {
        return out;
    };
    let shown = template.display().to_string();
    let fail = |out: &mut Chosen, why: String| {
        out.failures.push((shown.clone(), why));
        out.rows = Some(Vec::new());
    };
    let rows: Vec<FeedRow> = match Feed::open_source(source).and_then(|f| f.rows()) {
        Ok(rows) => rows.flatten().collect(),
        Err(e) => {
            fail(&mut out, e.to_string());
            return out;
        }
    };
    let row_keys = keys::row_keys(
        &source.path().display().to_string(),
        rows.clone(),
        job.key.as_deref(),
    );
    let until = match job.until.as_deref().map(Pattern::parse).transpose() {
        Ok(u) => u,
        Err(e) => {
            fail(&mut out, format!("until: {e}"));
            return out;
        }
    };
    let mut ended = 0;
    let mut candidates = Vec::new();
    let mut unkeyed = Vec::new();
    for row in &rows {
        if job.rows.as_ref().is_some_and(|w| !w.contains(&row.index)) {
            continue;
        }
        // A row without a key is drawn anyway: the render names the problem.
        let Ok(key) = row_keys.get(row.index) else {
            unkeyed.push(row.index);
            continue;
        };
        if let Some(u) = &until {
            let mut vars = row.vars.clone();
            vars.entry(TODAY.into())
                .or_insert_with(|| p.today.format("%Y-%m-%d").to_string());
            let last = u.fill(&vars).map_err(|e| e.to_string()).and_then(|v| {
                parse_date(&v)
                    .map(|d| d.date())
                    .ok_or(format!("gave `{v}`, not a date (write YYYY-MM-DD)"))
            });
            match last {
                Ok(last) if last < p.today => {
                    ended += 1;
                    continue;
                }
                Ok(_) => {}
                Err(why) => {
                    out.failures.push((
                        format!("{shown} row {}", row.index),
                        format!(
                            "{}: until `{}`: {why}",
                            row.describe(),
                            job.until.as_deref().unwrap_or("")
                        ),
                    ));
                    continue;
                }
            }
        }
        let date = column(row, "datetime")
            .or_else(|| column(row, "date"))
            .and_then(parse_date);
        candidates.push(Candidate {
            index: row.index,
            key: key.encode(),
            date,
        });
    }
    if ended > 0 {
        out.notes.push(format!(
            "{shown}: {ended} row(s) past their `until` date, not published"
        ));
    }
    // This entry's Stories in the ledger: (scope, key, row).
    let history: Vec<(&str, &str, &Asset)> = p
        .known
        .iter()
        .filter_map(|(id, a)| names.split(id).map(|(s, k)| (s, k, a)))
        .collect();
    let mut picked: Vec<usize> = candidates.iter().map(|c| c.index).collect();
    if job.only_new {
        let (first, seen) = match (
            p.ledger.baseline_taken(p.account, &names.entry),
            p.ledger.seen_keys(p.account, &names.entry),
        ) {
            (Ok(taken), Ok(seen)) => (!taken, seen),
            (Err(e), _) | (_, Err(e)) => {
                fail(&mut out, e.to_string());
                return out;
            }
        };
        let published: HashSet<&str> = history
            .iter()
            .filter(|(_, _, a)| a.state == State::Published)
            .map(|(_, k, _)| *k)
            .collect();
        let mut plan = only_new::plan(
            &candidates,
            |k| seen.contains(k) || published.contains(k),
            first,
            job.backfill.unwrap_or(1),
        );
        // The baseline is first come: a run that finds it taken since it
        // looked (another process's first run) goes on as a later run.
        let first = first
            && match (
                p.dry_run,
                p.ledger
                    .record_baseline(p.account, &names.entry, &plan.baseline),
            ) {
                (true, _) => true,
                (false, Ok(took)) => took,
                (false, Err(e)) => {
                    fail(&mut out, e.to_string());
                    return out;
                }
            };
        if !first && !plan.baseline.is_empty() {
            let seen = match p.ledger.seen_keys(p.account, &names.entry) {
                Ok(s) => s,
                Err(e) => {
                    fail(&mut out, e.to_string());
                    return out;
                }
            };
            plan = only_new::plan(
                &candidates,
                |k| seen.contains(k) || published.contains(k),
                false,
                job.backfill.unwrap_or(1),
            );
        }
        if first {
            out.notes.push(format!(
                "{shown}: first run: {} item(s) recorded as seen{}, {} published (`backfill`)",
                plan.baseline.len(),
                if p.dry_run {
                    " (not recorded: dry run)"
                } else {
                    ""
                },
                plan.publish.len()
            ));
        }
        picked = plan.publish;
    }
    if let Some(n) = job.per_day {
        let today: HashSet<String> = history
            .iter()
            .filter(|(s, _, _)| scope_day(s) == Some(p.today))
            .map(|(_, k, _)| k.to_string())
            .collect();
        let mut last: HashMap<String, NaiveDate> = HashMap::new();
        for (s, k, a) in &history {
            // A row whose Story failed for good (bad media, a refused
            // mention) took its turn too: one bad row never stalls the cycle.
            let day = match a.state {
                State::Published => scope_day(s),
                State::Failed => Some(scope_day(s).unwrap_or(p.today)),
                _ => continue,
            };
            let day = day.or_else(|| {
                a.published_at
                    .as_deref()
                    .and_then(crate::ledger::parse_time)
                    .map(|t| t.date_naive())
            });
            if let Some(d) = day {
                let e = last.entry(k.to_string()).or_insert(d);
                *e = (*e).max(d);
            }
        }
        picked = rotation::pick(&candidates, &today, &last, n);
    }
    if let Some(cap) = job.max_per_run {
        let chosen: Vec<Candidate> = candidates
            .iter()
            .filter(|c| picked.contains(&c.index))
            .cloned()
            .collect();
        if chosen.len() > cap {
            // Oldest first: the newest wait.
            let mut order = newest_first(&chosen);
            order.reverse();
            picked = order.iter().take(cap).map(|c| c.index).collect();
            out.waiting = chosen.len() - cap;
            out.notes.push(format!(
                "{shown}: {} more item(s) wait for the next run (`max_per_run: {cap}`)",
                out.waiting
            ));
        }
    }
    picked.extend(unkeyed);
    picked.sort_unstable();
    out.rows = Some(picked);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn cand(index: usize, key: &str, date: Option<&str>) -> Candidate {
        Candidate {
            index,
            key: key.into(),
            date: date.and_then(parse_date),
        }
    }

    #[test]
    fn identities_of_the_entry_are_told_apart_from_others() {
        let names = EntryNames {
            template: "template:t.yaml".into(),
            feed: "|feed:f.xml|key:".into(),
            entry: "template:t.yaml|feed:f.xml".into(),
        };
        assert_eq!(
            names.split("template:t.yaml|feed:f.xml|key:id=1"),
            Some(("", "id=1"))
        );
        assert_eq!(
            names.split("schedule:7|day:2026-12-03|template:t.yaml|feed:f.xml|key:id=2"),
            Some(("schedule:7|day:2026-12-03", "id=2"))
        );
        assert_eq!(names.split("template:t.yaml2|feed:f.xml|key:id=1"), None);
        assert_eq!(names.split("template:t.yaml|feed:g.xml|key:id=1"), None);
        assert_eq!(names.split("file:t.yaml"), None);
        assert_eq!(
            scope_day("schedule:7|day:2026-12-03"),
            NaiveDate::from_ymd_opt(2026, 12, 3)
        );
        assert_eq!(scope_day(""), None);
    }

    #[test]
    fn a_row_that_failed_for_good_takes_its_turn() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("menu.csv"), "id,dish\na,A\nb,B\nc,C\n").unwrap();
        let ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        let base = Base::new(dir.path());
        let job = Job {
            template: Some(dir.path().join("t.yaml")),
            feed: Some(dir.path().join("menu.csv").into()),
            per_day: Some(1),
            ..Job::default()
        };
        let names = EntryNames::new(&job, &base).unwrap();
        let story = |day: &str, key: &str, state| {
            let id = format!("day:{day}|{}|key:id={key}", names.entry);
            (id.clone(), crate::ledger::test_asset(1, &id, state))
        };
        // Day 1 showed `a`; day 2's `b` failed for good.
        let known: HashMap<String, Asset> = [
            story("2026-12-01", "a", State::Published),
            story("2026-12-02", "b", State::Failed),
        ]
        .into();
        let pick = |today: u32| {
            choose(
                &job,
                &Picking {
                    ledger: &ledger,
                    account: "a",
                    known: &known,
                    base: &base,
                    today: NaiveDate::from_ymd_opt(2026, 12, today).unwrap(),
                    scope: None,
                    dry_run: false,
                },
            )
        };
        // The same day, the failed pick is the day's pick (tried again)…
        let day2 = pick(2);
        assert_eq!(day2.rows, Some(vec![2]));
        assert_eq!(day2.scope.as_deref(), Some("day:2026-12-02"));
        // …the next day the rotation moves on to `c`, not `b` again.
        assert_eq!(pick(3).rows, Some(vec![3]));
    }

    #[test]
    fn the_new_keys_are_checked() {
        let with = |f: &dyn Fn(&mut Job)| {
            let mut j = Job {
                template: Some("t.yaml".into()),
                feed: Some(std::path::PathBuf::from("f.csv").into()),
                ..Job::default()
            };
            f(&mut j);
            check(&j)
        };
        assert!(with(&|j| j.only_new = true).is_ok());
        assert!(with(&|j| j.backfill = Some(2)).is_err());
        assert!(with(&|j| {
            j.only_new = true;
            j.per_day = Some(1);
        })
        .is_err());
        assert!(with(&|j| j.per_day = Some(0)).is_err());
        assert!(with(&|j| j.until = Some("{{event".into())).is_err());
        assert!(with(&|j| j.feed = None).is_ok());
        assert!(with(&|j| {
            j.feed = None;
            j.per_day = Some(2);
        })
        .is_err());
    }
}
