//! `tick`: the ledger's schedule and clock → what is due now is done once:
//! scheduled Stories are made and published (containers are created only
//! then), insights of Stories about 22–24 h old are collected, and tokens
//! near expiry are refreshed. A Story that fails for a passing reason is
//! tried again on later ticks with backoff (attempts and next try kept in
//! the ledger). A lock file keeps two ticks from overlapping, but only to
//! save work: the ledger's claims keep any number of ticks, runs and
//! publishes from publishing a Story twice.

pub mod automation;
pub mod every;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Settings;
use crate::delivery::{Item, ItemStatus};
use crate::ledger::{Ledger, LedgerError, ScheduleState, Scheduled};
use crate::notify;
use crate::publish::{self, insights, tokens};
use crate::run::{self, Job, JobFile, RunOptions};

/// What a tick did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickReport {
    /// False when another tick held the lock (nothing was done).
    pub ran: bool,
    /// Scheduled entries handled: (id, state, what happened).
    pub scheduled: Vec<(i64, ScheduleState, String)>,
    /// Recurring automations run (`schedule add --every`).
    pub automations: Vec<automation::AutomationRun>,
    /// Stories whose insights were collected.
    pub insights: usize,
    /// Stories whose insights have no data yet (fewer than 5 viewers).
    pub no_data_yet: usize,
    /// Accounts whose token was refreshed.
    pub refreshed: Vec<String>,
    /// Problems that did not stop the tick.
    pub errors: Vec<String>,
    /// Accounts whose token expires within [`notify::TOKEN_WARN_DAYS`]
    /// and was not refreshed: (account, days left, expiry).
    pub expiring: Vec<(String, f64, String)>,
}

impl TickReport {
    /// What the tick tells the webhooks: expiring tokens, problems, and
    /// its summary when it did anything.
    fn events(&self) -> Vec<notify::Event> {
        let mut events: Vec<notify::Event> = self
            .expiring
            .iter()
            .map(|(account, days, expires)| notify::Event {
                kind: notify::EventKind::TokenExpiring,
                account: Some(account.clone()),
                source: format!("account '{account}'"),
                message: format!(
                    "the access token expires in {days:.1} days ({expires}) and was not refreshed; run `storyforge auth login` or set `token_file` so tick can refresh it"
                ),
                key: Some(format!("token|{account}|{expires}")),
            })
            .collect();
        events.extend(self.errors.iter().map(|e| notify::Event {
            kind: notify::EventKind::Failed,
            account: None,
            source: "tick".into(),
            message: e.clone(),
            key: Some(format!("tick|{e}")),
        }));
        events.extend(
            self.automations
                .iter()
                // A Story's failure was told by its run, with its row.
                .filter(|a| a.failed && !a.told)
                .map(|a| notify::Event {
                    kind: notify::EventKind::Failed,
                    account: None,
                    source: format!("automation A{} ({})", a.id, a.local),
                    message: a.result.clone(),
                    key: Some(format!("every|{}|{}", a.id, a.occurrence)),
                }),
        );
        if !self.scheduled.is_empty() || !self.automations.is_empty() || !self.errors.is_empty() {
            events.push(notify::Event::finished(format!(
                "tick: {} scheduled handled, {} automations run, {} insights collected, {} tokens refreshed, {} problems",
                self.scheduled.len(),
                self.automations.len(),
                self.insights,
                self.refreshed.len(),
                self.errors.len()
            )));
        }
        events
    }
}

/// Why a tick could not run.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    /// The lock file could not be opened or locked (other than being held).
    #[error("{path}: cannot use the tick lock: {source}")]
    Lock {
        /// The lock file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The async runtime could not be made.
    #[error("the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The Graph client could not be made.
    #[error(transparent)]
    Graph(#[from] publish::graph::CallError),
}

/// The lock file beside the ledger.
fn lock_path(ledger: &Path) -> PathBuf {
    let mut p = ledger.as_os_str().to_owned();
    p.push(".tick.lock");
    PathBuf::from(p)
}

/// The file lock beside a SQLite ledger (`LEDGER.tick.lock`), held until
/// the file is dropped; `None` when another tick holds it.
fn tick_file_lock(ledger: &Path) -> Result<Option<std::fs::File>, TickError> {
    let lock = lock_path(ledger);
    let lock_error = |source| TickError::Lock {
        path: lock.display().to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(lock_error)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(lock_error(e)),
    }
}

/// Tries of a scheduled Story that keeps failing for a passing reason.
pub const MAX_ATTEMPTS: u32 = 8;

/// The wait before try `attempts + 1`: 1 min doubling, at most 2 h.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let minutes = 1i64 << attempts.saturating_sub(1).min(7);
    chrono::Duration::minutes(minutes.min(120))
}

/// A run's items → the schedule entry's next state and what to show.
fn settle_entry(
    s: &Scheduled,
    result: Result<run::RunReport, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> (ScheduleState, String, u32, Option<String>) {
    let report = match result {
        Ok(r) => r,
        Err(e) => return (ScheduleState::Failed, e, s.attempts + 1, None),
    };
    let lines = |pick: &dyn Fn(&Item) -> bool| {
        report
            .items
            .iter()
            .filter(|i| pick(i))
            .map(|i| match (&i.error, &i.media_id) {
                (Some(e), _) => format!("{}: {e}", i.status),
                (None, Some(m)) => format!("{} media {m}", i.status),
                (None, None) => i.status.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let waiting = |i: &Item| {
        matches!(
            i.status,
            ItemStatus::Deferred | ItemStatus::Busy | ItemStatus::Unsure
        ) || (i.status == ItemStatus::Failed && i.transient)
    };
    if report.items.is_empty() {
        return (
            ScheduleState::Failed,
            "the entry made no Story (check its template, feed and row)".into(),
            s.attempts + 1,
            None,
        );
    }
    if report
        .items
        .iter()
        .any(|i| i.status == ItemStatus::Failed && !i.transient)
    {
        let bad = |i: &Item| i.status == ItemStatus::Failed && !i.transient;
        return (ScheduleState::Failed, lines(&bad), s.attempts + 1, None);
    }
    if report.items.iter().any(waiting) {
        // Deferred Stories wait for a window, not for luck: no attempt spent.
        let spent = report
            .items
            .iter()
            .any(|i| i.status != ItemStatus::Deferred && waiting(i));
        let attempts = s.attempts + u32::from(spent);
        if attempts >= MAX_ATTEMPTS {
            return (
                ScheduleState::Failed,
                format!("gave up after {attempts} attempts: {}", lines(&waiting)),
                attempts,
                None,
            );
        }
        let next = now + backoff(attempts.max(1));
        let next = next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        return (
            ScheduleState::Pending,
            format!(
                "waiting (attempt {attempts}, next try {next}): {}",
                lines(&waiting)
            ),
            attempts,
            Some(next),
        );
    }
    (ScheduleState::Done, lines(&|_| true), s.attempts + 1, None)
}

/// Makes and publishes one scheduled entry that is due at `now`, as a tick
/// does (and `serve`'s "publish now", which moves it to now first), and
/// records how it went. The entry is taken first (`running`, so it is
/// neither cancelled nor moved under the run, and no other runner starts
/// it); `None` when it is not due any more. The Stories' claims keep each to one publish whoever runs it.
pub fn run_entry(
    settings: &Settings,
    ledger: &Ledger,
    s: &Scheduled,
    out: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<(ScheduleState, String)>, LedgerError> {
    run_due(settings, ledger, std::slice::from_ref(s), out, now)
        .pop()
        .map_or(Ok(None), |(_, r)| r)
}

/// This process's heartbeat while it runs entries or automations: every
/// quarter lease, so another process sees it gone within a lease.
pub(crate) fn heartbeat(settings: &Settings, ledger: &Ledger) -> crate::ledger::Heartbeat {
    let every = (settings.lease() / 4)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(15));
    crate::ledger::Heartbeat::start(ledger, &settings.ledger, every)
}

/// The job a scheduled entry makes, and how it runs.
fn entry_job(settings: &Settings, s: &Scheduled, out: &Path) -> (JobFile, RunOptions) {
    let job = JobFile {
        account: s.account.clone(),
        out: Some(out.to_path_buf()),
        jobs: vec![Job {
            template: s.template.as_ref().map(PathBuf::from),
            feed: s.feed.as_ref().map(|f| PathBuf::from(f).into()),
            videos: None,
            rows: s.row.map(|r| vec![r]),
            file: s.file.as_ref().map(PathBuf::from),
            key: None,
            mentions: Vec::new(),
            on_change: None,
            ..Job::default()
        }],
        base: settings.dir.clone(),
    };
    let opts = RunOptions {
        scope: Some(format!("schedule:{}", s.id)),
        // However often the entry runs (a crash before it was marked done,
        // a retry), it makes one generation of its Story at most.
        asked_by: Some(format!("schedule:{}", s.id)),
        republish: s.republish,
        ..RunOptions::default()
    };
    (job, opts)
}

/// What became of one due entry: `None` when it was not due any more.
type EntryResult = Result<Option<(ScheduleState, String)>, LedgerError>;

/// Takes every entry of `due` that is still due and makes and publishes
/// them in one run ([`run::run_entries`]: accounts side by side, each
/// account's Stories spaced and pipelined), then records how each went.
/// Results are in `due`'s order.
fn run_due(
    settings: &Settings,
    ledger: &Ledger,
    due: &[Scheduled],
    out: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(i64, EntryResult)> {
    let owner = crate::ledger::owner_id();
    // Other processes tell this run from a gone one by it.
    let _alive = (!due.is_empty()).then(|| heartbeat(settings, ledger));
    let mut results: Vec<(i64, Option<EntryResult>)> = Vec::new();
    let mut taken = Vec::new();
    for s in due {
        // Taken as it stands now, not as it was listed: it may have moved.
        match ledger.start_schedule(s.id, &owner, now) {
            Ok(Some(fresh)) => {
                results.push((s.id, None));
                taken.push(fresh);
            }
            Ok(None) => results.push((s.id, Some(Ok(None)))),
            Err(e) => results.push((s.id, Some(Err(e)))),
        }
    }
    let jobs: Vec<(JobFile, RunOptions)> =
        taken.iter().map(|s| entry_job(settings, s, out)).collect();
    let entries: Vec<(&JobFile, RunOptions)> = jobs.iter().map(|(j, o)| (j, o.clone())).collect();
    let ran: Vec<Result<run::RunReport, String>> = if entries.is_empty() {
        Vec::new()
    } else {
        match run::run_entries(&entries, settings.clone(), &|_| {}) {
            Ok(all) => all
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect(),
            Err(e) => vec![Err(e.to_string()); entries.len()],
        }
    };
    for (s, result) in taken.iter().zip(ran) {
        let (state, text, attempts, next) = settle_entry(s, result, now);
        let finished =
            ledger.finish_schedule(s.id, &owner, state, &text, attempts, next.as_deref());
        if let Some(slot) = results.iter_mut().find(|(id, _)| *id == s.id) {
            slot.1 = Some(finished.map(|_| Some((state, text))));
        }
    }
    crate::ledger::owner_done(&owner);
    results
        .into_iter()
        .map(|(id, r)| (id, r.unwrap_or(Ok(None))))
        .collect()
}

/// Runs one tick at `now`; `out` is where scheduled Stories are written.
/// The webhooks under `notify:` hear what it did (never failing it).
pub fn tick(
    settings: &Settings,
    out: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<TickReport, TickError> {
    tick_due_at(settings, out, now, now)
}

/// [`tick`] with scheduled entries and automations due at `due` (`tick
/// --now`, for tests and backfills) while tokens and insights go by `clock`.
pub fn tick_due_at(
    settings: &Settings,
    out: &Path,
    due: chrono::DateTime<chrono::Utc>,
    clock: chrono::DateTime<chrono::Utc>,
) -> Result<TickReport, TickError> {
    let report = tick_once(settings, out, due, clock)?;
    if report.ran && !settings.notify.is_empty() {
        let ledger = Ledger::open(&settings.ledger).ok();
        notify::send(&settings.notify, ledger.as_ref(), &report.events());
    }
    Ok(report)
}

fn tick_once(
    settings: &Settings,
    out: &Path,
    now: chrono::DateTime<chrono::Utc>,
    clock: chrono::DateTime<chrono::Utc>,
) -> Result<TickReport, TickError> {
    // Only an optimisation: the ledger's claims keep overlapping ticks
    // (and runs) from publishing twice.
    let (ledger, _lock) = match crate::ledger::is_server_url(&settings.ledger) {
        // A shared ledger: one tick at a time over every host, held by the
        // connection (a killed tick's goes with it).
        true => {
            let ledger = Ledger::open(&settings.ledger)?;
            if !ledger.try_tick_lock()? {
                return Ok(TickReport::default());
            }
            (ledger, None)
        }
        false => {
            let Some(lock) = tick_file_lock(&settings.ledger)? else {
                return Ok(TickReport::default());
            };
            (Ledger::open(&settings.ledger)?, Some(lock))
        }
    };
    let mut report = TickReport {
        ran: true,
        ..TickReport::default()
    };
    ledger.recover_schedule(clock, settings.lease())?;
    let due: Vec<Scheduled> = ledger
        .schedule()?
        .into_iter()
        .filter(|s| s.is_due(now))
        .collect();
    // Every due entry in one run: accounts side by side.
    for (id, result) in run_due(settings, &ledger, &due, out, now) {
        // `None`: cancelled, moved or taken by another runner since it was listed.
        match result {
            Ok(Some((state, text))) => report.scheduled.push((id, state, text)),
            Ok(None) => {}
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    match automation::run_due(settings, &ledger, now) {
        Ok(runs) => report.automations = runs,
        Err(e) => report.errors.push(e.to_string()),
    }
    if settings.in_process.is_some() {
        // The built-in sandbox lives only as long as this process: nothing to ask.
        return Ok(report);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(TickError::Runtime)?;
    let client = publish::graph::GraphClient::new(
        &settings.graph.base_url,
        &settings.graph.version,
        publish::secs(settings.graph.timeout),
    )?;
    for a in &settings.accounts {
        let account = match a.load() {
            Ok(acc) => acc,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        match tokens::status(&ledger, &account, clock) {
            Ok(st) => {
                let refreshed = st.refresh_due
                    && match rt.block_on(tokens::refresh(&client, &ledger, &account)) {
                        Ok(_) => {
                            report.refreshed.push(a.name.clone());
                            true
                        }
                        Err(e) => {
                            report.errors.push(e.to_string());
                            false
                        }
                    };
                if let (false, Some(days)) = (refreshed, st.days_left) {
                    if days < notify::TOKEN_WARN_DAYS {
                        report.expiring.push((
                            a.name.clone(),
                            days,
                            st.expires_at.unwrap_or_default(),
                        ));
                    }
                }
            }
            Err(e) => report.errors.push(e.to_string()),
        }
        match rt.block_on(insights::collect(&client, &ledger, &account, clock, false)) {
            Ok(got) => {
                let mut tally = insights::Tally::default();
                tally.add(&got);
                report.insights += tally.collected;
                report.no_data_yet += tally.no_data_yet;
                report.errors.extend(tally.errors);
            }
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    Ok(report)
}
