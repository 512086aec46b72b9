//! Each process's heartbeat: while a process runs schedule entries or
//! automation occurrences it writes `heartbeats.alive_at` every quarter
//! lease, from a thread with a connection of its own. Any process on any
//! host then tells a run that went away (killed, its host lost) from a slow
//! one: its process's heartbeat is older than a lease. Owners are
//! `process/run` (see [`super::owner_id`]), so one row serves every run
//! of a process.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::db::params;
use super::{now, parse_time, stamp, Ledger, LedgerError};

impl Ledger {
    /// Writes that `process` is alive now.
    pub fn beat(&self, process: &str) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO heartbeats (process, alive_at) VALUES (?1, ?2)
             ON CONFLICT (process) DO UPDATE SET alive_at = ?2",
            params![process, now()],
        )
        .map(|_| ())
    }

    /// Forgets processes silent for a day (their runs were long taken back).
    fn forget_silent_processes(&self) -> Result<(), LedgerError> {
        self.exec(
            "DELETE FROM heartbeats WHERE alive_at < ?1",
            params![stamp(Utc::now() - chrono::Duration::days(1))],
        )
        .map(|_| ())
    }

    /// Takes the tick lock of a shared (Postgres) ledger: one tick at a
    /// time over every host, held until this connection closes (a killed
    /// tick's with it); false when another tick holds it. A SQLite ledger
    /// uses a file beside it instead (always true here).
    pub fn try_tick_lock(&self) -> Result<bool, LedgerError> {
        if self.db.dialect() != super::db::Dialect::Postgres {
            return Ok(true);
        }
        Ok(self
            .row(
                "SELECT pg_try_advisory_lock(hashtext('storyforge tick'))::int",
                &[],
                |r| r.get::<i64>(0),
            )?
            .is_some_and(|held| held == 1))
    }

    /// When `process` last said it was alive, if it ever did.
    pub(super) fn alive_at(&self, process: &str) -> Result<Option<DateTime<Utc>>, LedgerError> {
        Ok(self
            .row(
                "SELECT alive_at FROM heartbeats WHERE process = ?1",
                params![process],
                |r| r.get::<String>(0),
            )?
            .as_deref()
            .and_then(parse_time))
    }
}

/// This process's heartbeat, kept while the value lives.
pub struct Heartbeat {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    /// Writes this process's heartbeat into `ledger` now, then every
    /// `every` from a thread with its own connection to the ledger at
    /// `path`, until dropped. A heartbeat that cannot be written is
    /// warned about: other processes then see this one as gone after a
    /// lease and may run its entries again (the Stories' claims still keep
    /// each to one publish).
    pub fn start(ledger: &Ledger, path: &Path, every: Duration) -> Heartbeat {
        let process = super::owners::process_id();
        if let Err(e) = ledger
            .forget_silent_processes()
            .and_then(|()| ledger.beat(process))
        {
            tracing::warn!("the heartbeat could not be written: {e}");
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("ledger-heartbeat".into())
            .spawn(move || {
                let ledger = match Ledger::open(&path) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!("the heartbeat could not open the ledger: {e}");
                        return;
                    }
                };
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if let Err(e) = ledger.beat(process) {
                        tracing::warn!("the heartbeat could not be written: {e}");
                    }
                }
            })
            .ok();
        Heartbeat {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
