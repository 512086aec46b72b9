//! What an `only_new` job entry has seen ([`crate::run`]): the feed items
//! present the first time it ran, recorded as its baseline and never
//! published (an item published since is known by its Story instead).
//! Items are named by their feed key (`id=…`), never by position.

use std::collections::HashSet;

use super::db::params;
use super::{now, Ledger, LedgerError};

impl Ledger {
    /// Whether the entry (`template:…|feed:…`) of `account` took its baseline.
    pub fn baseline_taken(&self, account: &str, entry: &str) -> Result<bool, LedgerError> {
        let n = self.rows(
            "SELECT 1 FROM feed_baselines WHERE account = ?1 AND entry = ?2",
            params![account, entry],
            |_| Ok(()),
        )?;
        Ok(!n.is_empty())
    }

    /// The feed keys the entry recorded as seen (its baseline).
    pub fn seen_keys(&self, account: &str, entry: &str) -> Result<HashSet<String>, LedgerError> {
        let keys = self.rows(
            "SELECT key FROM feed_seen WHERE account = ?1 AND entry = ?2",
            params![account, entry],
            |r| r.get::<String>(0),
        )?;
        Ok(keys.into_iter().collect())
    }

    /// Records the entry's baseline: `keys` are seen (not to be published),
    /// and the baseline is taken, in one transaction. False (nothing
    /// written) when another run took it first: this run is then a later
    /// one, and its new items are published, not recorded as seen.
    pub fn record_baseline(
        &self,
        account: &str,
        entry: &str,
        keys: &[String],
    ) -> Result<bool, LedgerError> {
        let tx = self.begin_locked(&format!("baseline {account} {entry}"))?;
        let at = now();
        let took = self.exec(
            "INSERT INTO feed_baselines (account, entry, taken_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![account, entry, at],
        )? == 1;
        if !took {
            return Ok(false);
        }
        for k in keys {
            self.exec(
                "INSERT INTO feed_seen (account, entry, key, seen_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![account, entry, k, at],
            )?;
        }
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_is_recorded_once_per_entry() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.db")).unwrap();
        let entry = "template:t.yaml|feed:f.xml";
        assert!(!l.baseline_taken("a", entry).unwrap());
        assert!(l
            .record_baseline("a", entry, &["id=1".into(), "id=2".into()])
            .unwrap());
        // A second first run (another process, at once) takes nothing:
        // its extra item is a new one, for it to publish.
        assert!(!l.record_baseline("a", entry, &["id=3".into()]).unwrap());
        assert!(l.baseline_taken("a", entry).unwrap());
        assert!(!l.baseline_taken("b", entry).unwrap());
        let seen = l.seen_keys("a", entry).unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen.contains("id=1"));
        assert!(!seen.contains("id=3"));
        assert!(l.seen_keys("a", "template:other").unwrap().is_empty());
    }
}
