//! The ledger's other tables: Stories scheduled for later (with their
//! retry state), token lifetimes (never the tokens) and collected insights.

use super::db::{params, Value};
use serde::Serialize;

use super::{now, stamp, Ledger, LedgerError};

/// Where a scheduled entry is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleState {
    /// Not yet done (due, waiting for its time, or waiting to retry).
    #[default]
    Pending,
    /// Published (or found already published).
    Done,
    /// Failed for a reason that needs the user, or out of retries.
    Failed,
    /// Cancelled by the user before it was done.
    Cancelled,
    /// Being made and published by a run now (its owner in the ledger);
    /// neither cancelled nor moved meanwhile.
    Running,
}

impl ScheduleState {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleState::Pending => "pending",
            ScheduleState::Done => "done",
            ScheduleState::Failed => "failed",
            ScheduleState::Cancelled => "cancelled",
            ScheduleState::Running => "running",
        }
    }

    /// A stored name; one this binary does not know (a newer one wrote
    /// it) is failed, never pending: nothing unknown is published.
    fn parse(s: &str) -> ScheduleState {
        match s {
            "pending" => ScheduleState::Pending,
            "done" => ScheduleState::Done,
            "cancelled" => ScheduleState::Cancelled,
            "running" => ScheduleState::Running,
            _ => ScheduleState::Failed,
        }
    }
}

impl std::fmt::Display for ScheduleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Story scheduled for later: a file, or a template with a feed row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scheduled {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// Account name [default: the first].
    pub account: Option<String>,
    /// A ready Story file.
    pub file: Option<String>,
    /// Or a template…
    pub template: Option<String>,
    /// …with a feed…
    pub feed: Option<String>,
    /// …and its row (1-based).
    pub row: Option<usize>,
    /// When it is due (RFC 3339, UTC).
    pub at: String,
    /// Where it is.
    pub state: ScheduleState,
    /// What the last attempt did, or why it waits.
    pub result: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When a waiting entry is tried again (RFC 3339, UTC).
    pub next_try: Option<String>,
    /// Publish even if the same bytes went out within 24 h.
    pub republish: bool,
}

impl Scheduled {
    /// Pending, its time come and not waiting to be tried again, at `now`.
    pub fn is_due(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.state == ScheduleState::Pending
            && super::parse_time(&self.at).is_some_and(|at| at <= now)
            && self
                .next_try
                .as_deref()
                .and_then(super::parse_time)
                .is_none_or(|t| t <= now)
    }

    /// What it publishes, for people: the file, or `TEMPLATE × FEED row N`.
    pub fn describe(&self) -> String {
        use crate::util::redact::redact_url;
        self.file.as_deref().map(redact_url).unwrap_or_else(|| {
            format!(
                "{}{} row {}",
                self.template.clone().unwrap_or_default(),
                self.feed
                    .as_deref()
                    .map(|f| format!(" × {}", redact_url(f)))
                    .unwrap_or_default(),
                self.row.map_or("-".into(), |r| r.to_string())
            )
        })
    }
}

/// A Story's collected metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredInsights {
    /// The metrics, flattened, as JSON.
    pub metrics: String,
    /// When they were collected (RFC 3339).
    pub collected_at: String,
}

/// A token's recorded lifetime.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TokenRecord {
    /// When the current token was issued (or first seen).
    pub issued_at: Option<String>,
    /// When it expires, when known.
    pub expires_at: Option<String>,
    /// When storyforge last refreshed it.
    pub refreshed_at: Option<String>,
}

impl Ledger {
    /// The recorded lifetime of `account`'s token.
    pub fn token(&self, account: &str) -> Result<TokenRecord, LedgerError> {
        self.row(
            "SELECT issued_at, expires_at, refreshed_at FROM tokens WHERE account = ?1",
            params![account],
            |r| {
                Ok(TokenRecord {
                    issued_at: r.get(0)?,
                    expires_at: r.get(1)?,
                    refreshed_at: r.get(2)?,
                })
            },
        )
        .map(Option::unwrap_or_default)
    }

    /// Records a token's lifetime (never the token).
    pub fn set_token(&self, account: &str, rec: &TokenRecord) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO tokens (account, issued_at, expires_at, refreshed_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account) DO UPDATE SET issued_at = ?2, expires_at = ?3, refreshed_at = ?4",
            params![account, rec.issued_at, rec.expires_at, rec.refreshed_at],
        )
        .map(|_| ())
    }

    /// Stores a Story's metrics (JSON), replacing older ones.
    pub fn set_insights(
        &self,
        media: &str,
        account: &str,
        metrics: &str,
    ) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO insights (media_id, account, collected_at, metrics) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (media_id) DO UPDATE SET collected_at = ?3, metrics = ?4",
            params![media, account, now(), metrics],
        )
        .map(|_| ())
    }

    /// The stored metrics of `media` and when they were collected, if ever.
    pub fn insights(&self, media: &str) -> Result<Option<StoredInsights>, LedgerError> {
        self.row(
            "SELECT metrics, collected_at FROM insights WHERE media_id = ?1",
            params![media],
            |r| {
                Ok(StoredInsights {
                    metrics: r.get(0)?,
                    collected_at: r.get(1)?,
                })
            },
        )
    }

    /// Stores a scheduled Story (the media, or how to make it; never a container).
    pub fn add_schedule(&self, entry: &Scheduled) -> Result<i64, LedgerError> {
        self.row(
            "INSERT INTO schedule (account, file, template, feed, row, at, state, created_at, republish) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8) RETURNING id",
            params![entry.account, entry.file, entry.template, entry.feed, entry.row.map(|r| r as i64), entry.at, now(), entry.republish],
            |r| r.get(0),
        )?
        .ok_or_else(|| self.refused("the schedule entry was not stored".into()))
    }

    /// Every scheduled entry, soonest first.
    pub fn schedule(&self) -> Result<Vec<Scheduled>, LedgerError> {
        self.select_schedule("ORDER BY at, id", &[])
    }

    /// One scheduled entry.
    pub fn schedule_entry(&self, id: i64) -> Result<Option<Scheduled>, LedgerError> {
        Ok(self.select_schedule("WHERE id = ?1", params![id])?.pop())
    }

    fn select_schedule(&self, tail: &str, params: &[Value]) -> Result<Vec<Scheduled>, LedgerError> {
        self.rows(
            &format!("SELECT id, account, file, template, feed, row, at, state, result, attempts, next_try, republish FROM schedule {tail}"),
            params,
            |r| {
                Ok(Scheduled {
                    id: r.get(0)?,
                    account: r.get(1)?,
                    file: r.get(2)?,
                    template: r.get(3)?,
                    feed: r.get(4)?,
                    row: r.get::<Option<i64>>(5)?.map(|v| v.max(0) as usize),
                    at: r.get(6)?,
                    state: ScheduleState::parse(&r.get::<String>(7)?),
                    result: r.get(8)?,
                    attempts: r.get::<i64>(9)?.clamp(0, u32::MAX as i64) as u32,
                    next_try: r.get(10)?,
                    republish: r.get(11)?,
                })
            },
        )
    }

    /// Takes entry `id` for a run by `owner` when it is due at `now`, in
    /// one immediate transaction, and returns it as it now stands; `None`
    /// when it is not due any more (another run has it, or it was done,
    /// moved or cancelled since it was listed).
    pub fn start_schedule(
        &self,
        id: i64,
        owner: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Scheduled>, LedgerError> {
        let tx = self.begin()?;
        let Some(mut entry) = self.schedule_entry(id)?.filter(|e| e.is_due(now)) else {
            return Ok(None);
        };
        // Only the run whose update took the entry has it (on Postgres
        // another may have taken it between the read and the update).
        let took = self.exec(
            "UPDATE schedule SET state = 'running', owner = ?2, running_since = ?3 WHERE id = ?1 AND state = 'pending'",
            params![id, owner, stamp(now)],
        )?;
        tx.commit().map_err(|e| self.fail(e))?;
        if took != 1 {
            return Ok(None);
        }
        entry.state = ScheduleState::Running;
        Ok(Some(entry))
    }

    /// Entries left `running` by a run that has gone (see
    /// [`Ledger::gone_runs`]) become pending again: running them again is
    /// safe, the Stories' claims and identities keep each to one publish.
    /// Returns how many.
    pub fn recover_schedule(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
    ) -> Result<usize, LedgerError> {
        let mut recovered = 0;
        for (id, owner) in self.gone_runs("schedule", now, lease)? {
            recovered += self.exec(
                "UPDATE schedule SET state = 'pending', owner = NULL, running_since = NULL WHERE id = ?1 AND state = 'running' AND owner IS NOT DISTINCT FROM ?2",
                params![id, owner],
            )?;
        }
        Ok(recovered)
    }

    /// Rows of `table` (`schedule`, `automations`) left `running` by a run
    /// that has gone at `now`: a run of this process that ended, or one
    /// whose process's heartbeat ([`super::Heartbeat`]) is older than
    /// `lease`, on any host; a run whose process never wrote one (an
    /// earlier release) after an hour. Their ids and owners.
    pub(super) fn gone_runs(
        &self,
        table: &str,
        now: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
    ) -> Result<Vec<(i64, Option<String>)>, LedgerError> {
        let stale = stamp(now - chrono::Duration::hours(1));
        let running: Vec<(i64, Option<String>, Option<String>)> = self.rows(
            &format!("SELECT id, owner, running_since FROM {table} WHERE state = 'running'"),
            &[],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut gone = Vec::new();
        for (id, owner, since) in running {
            let is_gone = match owner.as_deref() {
                None => true,
                Some(o) if !super::stories::owner_alive(o) => true,
                Some(o) if super::stories::is_this_process(o) => false,
                Some(o) => match self.alive_at(o.split_once('/').map_or(o, |(p, _)| p))? {
                    Some(alive) => alive < now - lease,
                    None => since.as_ref().is_none_or(|t| *t < stale),
                },
            };
            if is_gone {
                gone.push((id, owner));
            }
        }
        Ok(gone)
    }

    /// Cancels a pending entry; false when it is not pending (running now,
    /// done, failed, already cancelled, or unknown).
    pub fn cancel_schedule(&self, id: i64) -> Result<bool, LedgerError> {
        self.exec(
            "UPDATE schedule SET state = 'cancelled', result = 'cancelled by the user', next_try = NULL WHERE id = ?1 AND state = 'pending'",
            params![id],
        )
        .map(|n| n == 1)
    }

    /// Moves a pending or failed entry to `at` (RFC 3339, UTC), pending
    /// again with its attempts reset; false when it is done, cancelled or
    /// unknown.
    pub fn reschedule(&self, id: i64, at: &str) -> Result<bool, LedgerError> {
        self.exec(
            "UPDATE schedule SET at = ?2, state = 'pending', attempts = 0, next_try = NULL, result = NULL WHERE id = ?1 AND state IN ('pending', 'failed')",
            params![id, at],
        )
        .map(|n| n == 1)
    }

    /// Records how `owner`'s run of an entry went: its state, what
    /// happened, the attempts so far and when to try again (for a waiting
    /// entry). False when the run no longer holds the entry.
    pub fn finish_schedule(
        &self,
        id: i64,
        owner: &str,
        state: ScheduleState,
        result: &str,
        attempts: u32,
        next_try: Option<&str>,
    ) -> Result<bool, LedgerError> {
        self.exec(
            "UPDATE schedule SET state = ?3, result = ?4, attempts = ?5, next_try = ?6, owner = NULL, running_since = NULL WHERE id = ?1 AND owner = ?2 AND state = 'running'",
            params![id, owner, state.as_str(), crate::util::redact::redact(result), attempts, next_try],
        )
        .map(|n| n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(l: &Ledger) -> i64 {
        l.add_schedule(&Scheduled {
            file: Some("/s.jpg".into()),
            at: "2026-12-01T09:00:00Z".into(),
            ..Scheduled::default()
        })
        .expect("add")
    }

    #[test]
    fn a_running_entry_is_neither_cancelled_nor_moved_nor_started_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = Ledger::open(&dir.path().join("l.db")).expect("open");
        let id = entry(&l);
        let owner = crate::ledger::owner_id();
        let now = chrono::Utc::now();
        assert!(l.start_schedule(id, &owner, now).expect("start").is_some());
        assert!(l
            .start_schedule(id, "other/1/x", now)
            .expect("start")
            .is_none());
        assert!(!l.cancel_schedule(id).expect("cancel"));
        assert!(!l.reschedule(id, "2030-01-01T00:00:00Z").expect("move"));
        assert!(!l
            .finish_schedule(id, "other/1/x", ScheduleState::Done, "x", 1, None)
            .expect("finish"));
        assert!(l
            .finish_schedule(id, &owner, ScheduleState::Done, "published", 1, None)
            .expect("finish"));
        let e = l.schedule_entry(id).expect("read").expect("there");
        assert_eq!(
            (e.state, e.result.as_deref()),
            (ScheduleState::Done, Some("published"))
        );
        crate::ledger::owner_done(&owner);
    }

    #[test]
    fn an_entry_moved_later_after_it_was_listed_is_not_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = Ledger::open(&dir.path().join("l.db")).expect("open");
        let id = entry(&l);
        // A tick listed it as due; meanwhile the user moved it to tomorrow.
        let now = chrono::Utc::now();
        let tomorrow = (now + chrono::Duration::days(1)).to_rfc3339();
        assert!(l.reschedule(id, &tomorrow).expect("move"));
        let owner = crate::ledger::owner_id();
        assert!(l.start_schedule(id, &owner, now).expect("start").is_none());
        let e = l.schedule_entry(id).expect("read").expect("there");
        assert_eq!(e.state, ScheduleState::Pending);
        crate::ledger::owner_done(&owner);
    }

    #[test]
    fn an_entry_left_running_by_a_gone_run_is_pending_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = Ledger::open(&dir.path().join("l.db")).expect("open");
        let (gone, live) = (entry(&l), entry(&l));
        let ended = crate::ledger::owner_id();
        crate::ledger::owner_done(&ended);
        let running = crate::ledger::owner_id();
        let now = chrono::Utc::now();
        assert!(l
            .start_schedule(gone, &ended, now)
            .expect("start")
            .is_some());
        assert!(l
            .start_schedule(live, &running, now)
            .expect("start")
            .is_some());
        let lease = chrono::Duration::seconds(60);
        assert_eq!(
            l.recover_schedule(chrono::Utc::now(), lease)
                .expect("recover"),
            1
        );
        let state = |id| l.schedule_entry(id).expect("read").expect("there").state;
        assert_eq!(state(gone), ScheduleState::Pending);
        assert_eq!(state(live), ScheduleState::Running);
        // A live run of this process keeps its entry, however long it runs.
        let later = chrono::Utc::now() + chrono::Duration::minutes(61);
        assert_eq!(l.recover_schedule(later, lease).expect("recover"), 0);
        crate::ledger::owner_done(&running);
    }

    #[test]
    fn another_process_s_run_is_gone_once_its_heartbeat_is_a_lease_old() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = Ledger::open(&dir.path().join("l.db")).expect("open");
        let (beating, silent) = (entry(&l), entry(&l));
        let now = chrono::Utc::now();
        let lease = chrono::Duration::seconds(60);
        // Two other processes (any host): one beats, one never wrote a heartbeat.
        assert!(l
            .start_schedule(beating, "p-beating/1", now)
            .expect("start")
            .is_some());
        assert!(l
            .start_schedule(silent, "p-silent/1", now)
            .expect("start")
            .is_some());
        l.beat("p-beating").expect("beat");
        let state = |id| l.schedule_entry(id).expect("read").expect("there").state;
        assert_eq!(l.recover_schedule(now, lease).expect("recover"), 0);
        // Half a lease without a beat: still alive.
        let half = now + chrono::Duration::seconds(30);
        assert_eq!(l.recover_schedule(half, lease).expect("recover"), 0);
        // Its heartbeat a lease old: gone, its entry pending again.
        let after = now + chrono::Duration::seconds(61);
        assert_eq!(l.recover_schedule(after, lease).expect("recover"), 1);
        assert_eq!(state(beating), ScheduleState::Pending);
        // Without any heartbeat (an earlier release) only after an hour.
        assert_eq!(state(silent), ScheduleState::Running);
        let hour = now + chrono::Duration::minutes(61);
        assert_eq!(l.recover_schedule(hour, lease).expect("recover"), 1);
        assert_eq!(state(silent), ScheduleState::Pending);
    }

    #[test]
    fn a_state_this_binary_does_not_know_is_never_pending() {
        assert_eq!(ScheduleState::parse("paused"), ScheduleState::Failed);
        assert_eq!(ScheduleState::parse("pending"), ScheduleState::Pending);
    }
}
