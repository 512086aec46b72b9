//! Recurring automations (`schedule add --every`): a job file, an account
//! and a rule, with the last occurrence claimed and how its run went. An
//! occurrence is claimed in one immediate transaction before its job
//! runs, so any number of ticks run it once; a run that dies leaves it
//! `interrupted`, and the next tick runs the same occurrence again (the
//! Stories' claims keep each to one publish).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::db::{params, Value};
use super::{parse_time, stamp, Ledger, LedgerError};

/// A recurring automation as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Automation {
    /// Row id (0 before it is stored); shown as `A<id>`.
    pub id: i64,
    /// Account name [default: the job file's, else the first].
    pub account: Option<String>,
    /// The job file, relative to the settings file's folder (absolute
    /// when it shares no folder with it), so a moved project keeps it.
    pub job: String,
    /// The `--every` rule as written.
    pub rule: String,
    /// Paused automations are listed but not run.
    pub paused: bool,
    /// When it was added or last resumed (RFC 3339, UTC): occurrences
    /// before are not run.
    pub created_at: String,
    /// The last occurrence claimed (RFC 3339, UTC).
    pub occurrence: Option<String>,
    /// How that occurrence's run stands: `running`, `done`, `failed`, or
    /// `interrupted` (its run went away; the next tick runs it again).
    pub state: Option<String>,
    /// What the run did (redacted).
    pub result: Option<String>,
    /// When the run finished (RFC 3339, UTC).
    pub ran_at: Option<String>,
}

const COLUMNS: &str =
    "id, account, job, rule, paused, created_at, occurrence, state, result, ran_at";

impl Ledger {
    /// Stores an automation; returns its id.
    pub fn add_automation(&self, a: &Automation) -> Result<i64, LedgerError> {
        let id = self.row(
            "INSERT INTO automations (account, job, rule, paused, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            params![a.account, a.job, a.rule, a.paused, a.created_at],
            |r| r.get::<i64>(0),
        )?;
        id.ok_or_else(|| self.fail(super::DbError::Conversion("no id returned".into())))
    }

    /// Every automation, oldest first.
    pub fn automations(&self) -> Result<Vec<Automation>, LedgerError> {
        self.select_automations("ORDER BY id", &[])
    }

    /// One automation.
    pub fn automation(&self, id: i64) -> Result<Option<Automation>, LedgerError> {
        Ok(self.select_automations("WHERE id = ?1", params![id])?.pop())
    }

    fn select_automations(&self, tail: &str, p: &[Value]) -> Result<Vec<Automation>, LedgerError> {
        self.rows(
            &format!("SELECT {COLUMNS} FROM automations {tail}"),
            p,
            |r| {
                Ok(Automation {
                    id: r.get(0)?,
                    account: r.get(1)?,
                    job: r.get(2)?,
                    rule: r.get(3)?,
                    paused: r.get(4)?,
                    created_at: r.get(5)?,
                    occurrence: r.get(6)?,
                    state: r.get(7)?,
                    result: r.get(8)?,
                    ran_at: r.get(9)?,
                })
            },
        )
    }

    /// Pauses automation `id`, or resumes it at `now`: occurrences that
    /// fell while it was paused are not run. False when there is none.
    pub fn pause_automation(
        &self,
        id: i64,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, LedgerError> {
        if paused {
            self.exec(
                "UPDATE automations SET paused = 1 WHERE id = ?1",
                params![id],
            )
        } else {
            self.exec(
                "UPDATE automations SET paused = 0, created_at = ?2 WHERE id = ?1 AND paused = 1",
                params![id, stamp(now)],
            )
        }
        .map(|n| n == 1)
    }

    /// Removes automation `id`; false when there is none or its job is
    /// running now (remove it after the run).
    pub fn remove_automation(&self, id: i64) -> Result<bool, LedgerError> {
        self.exec(
            "DELETE FROM automations WHERE id = ?1 AND state IS DISTINCT FROM 'running'",
            params![id],
        )
        .map(|n| n == 1)
    }

    /// Claims `occurrence` of automation `id` for `owner`, in one
    /// immediate transaction: only when it is active, not running, the
    /// occurrence is after it was added and after the last one claimed
    /// (or is that one, interrupted). Returns the automation as it stood
    /// before; `None` when it is not to run.
    pub fn claim_occurrence(
        &self,
        id: i64,
        occurrence: DateTime<Utc>,
        owner: &str,
    ) -> Result<Option<Automation>, LedgerError> {
        let tx = self.begin_locked(&format!("automation {id}"))?;
        let Some(before) = self.automation(id)? else {
            return Ok(None);
        };
        let last = before.occurrence.as_deref().and_then(parse_time);
        let state = before.state.as_deref();
        let fresh = match last {
            None => true,
            Some(l) => l < occurrence || (l == occurrence && state == Some("interrupted")),
        };
        let after_added = parse_time(&before.created_at).is_none_or(|c| c < occurrence);
        if before.paused || state == Some("running") || !fresh || !after_added {
            return Ok(None);
        }
        self.exec(
            "UPDATE automations SET occurrence = ?2, state = 'running', owner = ?3, running_since = ?4 WHERE id = ?1",
            params![id, stamp(occurrence), owner, super::now()],
        )?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(Some(before))
    }

    /// Records how `owner`'s run of the claimed occurrence went; false
    /// when the run no longer holds it.
    pub fn finish_occurrence(
        &self,
        id: i64,
        owner: &str,
        failed: bool,
        result: &str,
    ) -> Result<bool, LedgerError> {
        self.exec(
            "UPDATE automations SET state = ?3, result = ?4, ran_at = ?5, owner = NULL, running_since = NULL WHERE id = ?1 AND owner = ?2 AND state = 'running'",
            params![
                id,
                owner,
                if failed { "failed" } else { "done" },
                crate::util::redact::redact(result),
                super::now()
            ],
        )
        .map(|n| n == 1)
    }

    /// Automations left `running` by a run that has gone (see
    /// [`Ledger::gone_runs`]; `lease`: how long a heartbeat lasts) become
    /// `interrupted`, so the next tick runs that occurrence again. Returns
    /// how many.
    pub fn recover_automations(&self, lease: chrono::Duration) -> Result<usize, LedgerError> {
        let mut recovered = 0;
        for (id, owner) in self.gone_runs("automations", Utc::now(), lease)? {
            recovered += self.exec(
                "UPDATE automations SET state = 'interrupted', result = 'its run went away; the next tick runs this occurrence again', owner = NULL, running_since = NULL WHERE id = ?1 AND state = 'running' AND owner IS NOT DISTINCT FROM ?2",
                params![id, owner],
            )?;
        }
        Ok(recovered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        parse_time(s).expect("time")
    }

    #[test]
    fn an_occurrence_is_claimed_once_and_an_interrupted_one_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = Ledger::open(&dir.path().join("l.db")).expect("open");
        let id = l
            .add_automation(&Automation {
                job: "jobs/menu.yaml".into(),
                rule: "daily 09:00".into(),
                created_at: "2026-12-01T10:00:00Z".into(),
                ..Automation::default()
            })
            .expect("add");
        let owner = crate::ledger::owner_id();
        // Before it was added: not its occurrence.
        assert!(l
            .claim_occurrence(id, at("2026-12-01T09:00:00Z"), &owner)
            .expect("claim")
            .is_none());
        let nine = at("2026-12-02T09:00:00Z");
        assert!(l
            .claim_occurrence(id, nine, &owner)
            .expect("claim")
            .is_some());
        assert!(l
            .claim_occurrence(id, nine, "other/1/x")
            .expect("claim")
            .is_none());
        assert!(!l.remove_automation(id).expect("remove"), "running: kept");
        assert!(l
            .finish_occurrence(id, &owner, false, "1 published")
            .expect("finish"));
        assert!(
            l.claim_occurrence(id, nine, &owner)
                .expect("claim")
                .is_none(),
            "done once"
        );
        // A run that died: the next tick takes the same occurrence again.
        let ten = at("2026-12-03T09:00:00Z");
        let dead = crate::ledger::owner_id();
        crate::ledger::owner_done(&dead);
        assert!(l.claim_occurrence(id, ten, &dead).expect("claim").is_some());
        assert_eq!(
            l.recover_automations(chrono::Duration::seconds(60))
                .expect("recover"),
            1
        );
        let a = l.automation(id).expect("read").expect("there");
        assert_eq!(a.state.as_deref(), Some("interrupted"));
        let before = l
            .claim_occurrence(id, ten, &owner)
            .expect("claim")
            .expect("again");
        assert_eq!(before.occurrence.as_deref().and_then(parse_time), Some(ten));
        assert!(l
            .finish_occurrence(id, &owner, true, "failed")
            .expect("finish"));
        let later = at("2026-12-04T10:00:00Z");
        assert!(l.pause_automation(id, true, later).expect("pause"));
        assert!(l
            .claim_occurrence(id, at("2026-12-04T09:00:00Z"), &owner)
            .expect("claim")
            .is_none());
        // Resumed at 10:00: the 09:00 that fell while paused is not run; the next day's is.
        assert!(l.pause_automation(id, false, later).expect("resume"));
        assert!(l
            .claim_occurrence(id, at("2026-12-04T09:00:00Z"), &owner)
            .expect("claim")
            .is_none());
        assert!(l
            .claim_occurrence(id, at("2026-12-05T09:00:00Z"), &owner)
            .expect("claim")
            .is_some());
        assert!(l
            .finish_occurrence(id, &owner, false, "ok")
            .expect("finish"));
        assert!(l.remove_automation(id).expect("remove"));
        assert!(l.automation(id).expect("read").is_none());
        crate::ledger::owner_done(&owner);
    }

    #[test]
    fn two_processes_claiming_one_occurrence_at_once_get_it_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.db");
        let id = Ledger::open(&path)
            .expect("open")
            .add_automation(&Automation {
                job: "j.yaml".into(),
                rule: "hourly".into(),
                created_at: "2026-12-01T00:00:00Z".into(),
                ..Automation::default()
            })
            .expect("add");
        let occurrence = at("2026-12-02T09:00:00Z");
        let barrier = std::sync::Barrier::new(8);
        let won: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (path, barrier) = (&path, &barrier);
                    s.spawn(move || {
                        let l = Ledger::open(path).expect("open");
                        barrier.wait();
                        let owner = format!("host/{i}/x");
                        usize::from(
                            l.claim_occurrence(id, occurrence, &owner)
                                .expect("claim")
                                .is_some(),
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).sum()
        });
        assert_eq!(won, 1);
    }
}
