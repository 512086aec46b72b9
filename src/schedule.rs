//! `tick`: the ledger's schedule and clock → what is due now is done once:
//! scheduled Stories are made and published (containers are created only
//! then), insights of Stories about 22–24 h old are collected, and tokens
//! near expiry are refreshed. A lock file keeps two ticks from overlapping;
//! every step is idempotent through the ledger, so ticks can run as often
//! as cron likes.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Settings;
use crate::ledger::{parse_time, Ledger, Scheduled};
use crate::publish::{self, insights, tokens};
use crate::run::{self, Job, JobFile, RunOptions};

/// What a tick did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickReport {
    /// False when another tick held the lock (nothing was done).
    pub ran: bool,
    /// Scheduled entries handled: (id, state, result).
    pub scheduled: Vec<(i64, String, String)>,
    /// Stories whose insights were collected.
    pub insights: usize,
    /// Accounts whose token was refreshed.
    pub refreshed: Vec<String>,
    /// Problems that did not stop the tick.
    pub errors: Vec<String>,
}

/// Why a tick could not run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TickError(pub String);

/// The lock file beside the ledger.
fn lock_path(ledger: &Path) -> PathBuf {
    let mut p = ledger.as_os_str().to_owned();
    p.push(".tick.lock");
    PathBuf::from(p)
}

/// Runs one tick at `now`; `out` is where scheduled Stories are written.
pub fn tick(
    settings: &Settings,
    out: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<TickReport, TickError> {
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(&settings.ledger))
        .map_err(|e| {
            TickError(format!(
                "{}: cannot open the tick lock: {e}",
                settings.ledger.display()
            ))
        })?;
    if lock_file.try_lock().is_err() {
        return Ok(TickReport::default());
    }
    let mut report = TickReport {
        ran: true,
        ..TickReport::default()
    };
    let ledger = Ledger::open(&settings.ledger).map_err(|e| TickError(e.to_string()))?;
    let due: Vec<Scheduled> = ledger
        .schedule()
        .map_err(|e| TickError(e.to_string()))?
        .into_iter()
        .filter(|s| s.state == "pending" && parse_time(&s.at).is_some_and(|at| at <= now))
        .collect();
    for s in due {
        let job = JobFile {
            account: s.account.clone(),
            out: Some(out.to_path_buf()),
            jobs: vec![Job {
                template: s.template.as_ref().map(PathBuf::from),
                feed: s.feed.as_ref().map(PathBuf::from),
                videos: None,
                rows: s.row.map(|r| vec![r]),
                file: s.file.as_ref().map(PathBuf::from),
            }],
        };
        let (state, result) = match run::run(&job, settings.clone(), &RunOptions::default()) {
            Ok(r) if r.failed > 0 => (
                "failed",
                r.items
                    .iter()
                    .filter_map(|i| i.error.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Ok(r) if r.deferred > 0 => ("pending", "deferred: quota or rate limit".to_string()),
            Ok(r) => (
                "done",
                r.items
                    .iter()
                    .map(|i| format!("{} {}", i.status, i.media_id.clone().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Err(e) => ("failed", e.to_string()),
        };
        if let Err(e) = ledger.set_schedule_state(s.id, state, &result) {
            report.errors.push(e.to_string());
        }
        report.scheduled.push((s.id, state.into(), result));
    }
    if settings.graph.base_url == run::SANDBOX {
        // The built-in sandbox lives only as long as one run: nothing to ask.
        return Ok(report);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TickError(e.to_string()))?;
    let client = publish::graph::GraphClient::new(
        &settings.graph.base_url,
        &settings.graph.version,
        publish::secs(settings.graph.timeout),
    )
    .map_err(|e| TickError(e.to_string()))?;
    for a in &settings.accounts {
        let account = match a.load() {
            Ok(acc) => acc,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        match tokens::status(&ledger, &account, now) {
            Ok(st) if st.refresh_due => {
                match rt.block_on(tokens::refresh(&client, &ledger, &account)) {
                    Ok(_) => report.refreshed.push(a.name.clone()),
                    Err(e) => report.errors.push(e.to_string()),
                }
            }
            Ok(_) => {}
            Err(e) => report.errors.push(e.to_string()),
        }
        match rt.block_on(insights::collect(&client, &ledger, &account, now, false)) {
            Ok(got) => {
                report.insights += got.iter().filter(|c| c.result.is_ok()).count();
                report.errors.extend(got.iter().filter_map(|c| {
                    c.result
                        .as_ref()
                        .err()
                        .map(|e| format!("insights of {}: {e}", c.media_id))
                }));
            }
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    Ok(report)
}
