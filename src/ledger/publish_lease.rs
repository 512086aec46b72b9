//! One publish at a time per account, across processes: the account's
//! publish lease. Its holder makes one `media_publish` call and keeps the
//! lease until the reply is recorded or the reply is known lost; a lost
//! reply leaves `next_at`, the server-clock time before which the next
//! publish of the account must not be sent, so that no two publish windows
//! share a second (see `publish::media_ids`). A holder that died (a pid of
//! this host that is gone) or ran past `until` loses the lease.

use chrono::{DateTime, Utc};

use super::db::params;
use super::stories::owner_alive;
use super::{parse_time, stamp, Ledger, LedgerError};

/// What asking for an account's publish lease gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishLease {
    /// Held until released or until `ttl` passes; the publish call must
    /// not be sent before `not_before` by the server's clock.
    Held {
        /// The end of the last lost reply's window, plus one second.
        not_before: Option<DateTime<Utc>>,
        /// When the account's last publish call ended (this host's clock,
        /// any process): the next waits the spacing after it.
        last_publish: Option<DateTime<Utc>>,
    },
    /// Another live process publishes on the account now.
    Busy {
        /// That process's owner id.
        holder: String,
    },
}

impl Ledger {
    /// Takes `account`'s publish lease for `owner` until `ttl` from now
    /// (local clock), in one immediate transaction, unless another live
    /// owner holds it.
    pub fn take_publish_lease(
        &self,
        account: &str,
        owner: &str,
        ttl: chrono::Duration,
    ) -> Result<PublishLease, LedgerError> {
        let tx = self.begin_locked(&format!("publish lease {account}"))?;
        let now = Utc::now();
        type Lease = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let held: Option<Lease> = self.row(
            "SELECT owner, until, next_at, last_publish_at FROM publish_leases WHERE account = ?1",
            params![account],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let (holder, until, next_at, last_publish) = held.unwrap_or_default();
        if let Some(holder) = holder.filter(|h| h != owner) {
            let live = until
                .as_deref()
                .and_then(parse_time)
                .is_some_and(|u| u > now);
            if live && owner_alive(&holder) {
                return Ok(PublishLease::Busy { holder });
            }
            tracing::warn!("{account}: the publish lease of {holder} ran out or its process is gone; taking it over");
        }
        self.exec(
            "INSERT INTO publish_leases (account, owner, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (account) DO UPDATE SET owner = ?2, until = ?3",
            params![account, owner, stamp(now + ttl)],
        )?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(PublishLease::Held {
            not_before: next_at.as_deref().and_then(parse_time),
            last_publish: last_publish.as_deref().and_then(parse_time),
        })
    }

    /// Lets go of `account`'s publish lease held by `owner` after a
    /// publish call (the account's spacing counts from now). `not_before`
    /// (server's clock) is set when the reply was lost: the next publish
    /// waits for it. False when `owner` no longer held the lease.
    pub fn release_publish_lease(
        &self,
        account: &str,
        owner: &str,
        not_before: Option<DateTime<Utc>>,
    ) -> Result<bool, LedgerError> {
        let released = self.exec(
            "UPDATE publish_leases SET owner = NULL, until = NULL, next_at = COALESCE(?3, next_at), last_publish_at = ?4 WHERE account = ?1 AND owner = ?2",
            params![account, owner, not_before.map(stamp), super::now()],
        )? == 1;
        if !released {
            if let Some(at) = not_before {
                // Taken over meanwhile: the wait is still owed.
                self.exec(
                    "UPDATE publish_leases SET next_at = ?2 WHERE account = ?1 AND (next_at IS NULL OR next_at < ?2)",
                    params![account, stamp(at)],
                )?;
            }
        }
        Ok(released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.db")).unwrap();
        (dir, l)
    }

    #[test]
    fn one_holder_per_account_and_the_lost_replys_wait_is_handed_on() {
        let (_d, l) = ledger();
        let ttl = chrono::Duration::seconds(60);
        let a = super::super::owner_id();
        let b = super::super::owner_id();
        assert_eq!(
            l.take_publish_lease("acct", &a, ttl).unwrap(),
            PublishLease::Held {
                not_before: None,
                last_publish: None
            }
        );
        assert_eq!(
            l.take_publish_lease("acct", &b, ttl).unwrap(),
            PublishLease::Busy { holder: a.clone() }
        );
        // Another account is not held up.
        assert!(matches!(
            l.take_publish_lease("other", &b, ttl).unwrap(),
            PublishLease::Held { .. }
        ));
        let at = parse_time("2026-12-07T20:00:05Z").unwrap();
        let before = chrono::Utc::now() - chrono::Duration::milliseconds(1);
        assert!(l.release_publish_lease("acct", &a, Some(at)).unwrap());
        assert!(!l.release_publish_lease("acct", &a, None).unwrap());
        // The next holder (any process) learns the wait and when the last
        // publish call ended, for the spacing.
        let PublishLease::Held {
            not_before,
            last_publish,
        } = l.take_publish_lease("acct", &b, ttl).unwrap()
        else {
            panic!("not held")
        };
        assert_eq!(not_before, Some(at));
        assert!(last_publish.is_some_and(|t| t >= before && t <= chrono::Utc::now()));
        // A reply that arrived owes no wait, and keeps the earlier one.
        assert!(l.release_publish_lease("acct", &b, None).unwrap());
        assert!(matches!(
            l.take_publish_lease("acct", &a, ttl).unwrap(),
            PublishLease::Held {
                not_before: Some(t),
                ..
            } if t == at
        ));
        super::super::owner_done(&a);
        super::super::owner_done(&b);
    }

    #[test]
    fn a_lease_that_ran_out_or_whose_process_is_gone_is_taken_over() {
        let (_d, l) = ledger();
        let ttl = chrono::Duration::seconds(60);
        let me = super::super::owner_id();
        // Ran out.
        let far = "elsewhere/1/00000000";
        l.take_publish_lease("acct", far, chrono::Duration::seconds(-1))
            .unwrap();
        assert!(matches!(
            l.take_publish_lease("acct", &me, ttl).unwrap(),
            PublishLease::Held { .. }
        ));
        // A run of this process that has ended.
        let ended = super::super::owner_id();
        super::super::owner_done(&ended);
        l.release_publish_lease("acct", &me, None).unwrap();
        l.take_publish_lease("acct", &ended, ttl).unwrap();
        assert!(matches!(
            l.take_publish_lease("acct", &me, ttl).unwrap(),
            PublishLease::Held { .. }
        ));
        // Another host's live lease holds.
        l.release_publish_lease("acct", &me, None).unwrap();
        l.take_publish_lease("acct", far, ttl).unwrap();
        assert!(matches!(
            l.take_publish_lease("acct", &me, ttl).unwrap(),
            PublishLease::Busy { .. }
        ));
        super::super::owner_done(&me);
    }
}
