//! `only_new`: which feed items a run publishes when only new ones should
//! go out. The first run takes a baseline (every item present is seen,
//! except the `backfill` newest, which are published); later runs publish
//! the items neither seen nor published. An item that failed is neither,
//! so it is tried again. Pure: the caller reads and records the ledger.

use super::select::Candidate;

/// What one run does with an `only_new` entry's items.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    /// Row numbers to publish (before `max_per_run`).
    pub publish: Vec<usize>,
    /// Keys to record as seen (the baseline); empty after the first run.
    pub baseline: Vec<String>,
}

/// The plan for `rows` (every keyed row of the feed, in feed order).
/// `done(key)` says whether an item is seen or published; `first` whether
/// this is the entry's first run (no baseline yet).
pub(super) fn plan(
    rows: &[Candidate],
    done: impl Fn(&str) -> bool,
    first: bool,
    backfill: usize,
) -> Plan {
    if !first {
        return Plan {
            publish: rows
                .iter()
                .filter(|r| !done(&r.key))
                .map(|r| r.index)
                .collect(),
            baseline: Vec::new(),
        };
    }
    let newest = super::select::newest_first(rows);
    let (back, seen) = newest.split_at(backfill.min(newest.len()));
    Plan {
        publish: back.iter().map(|r| r.index).collect(),
        baseline: seen.iter().map(|r| r.key.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::select::tests::cand;

    #[test]
    fn the_first_run_publishes_the_backfill_newest_and_sees_the_rest() {
        // Feed order is not date order: the newest is row 2.
        let rows = [
            cand(1, "a", Some("2026-12-01")),
            cand(2, "b", Some("2026-12-03")),
            cand(3, "c", Some("2026-12-02")),
        ];
        let p = plan(&rows, |_| false, true, 1);
        assert_eq!(p.publish, vec![2]);
        assert_eq!(p.baseline, vec!["c".to_string(), "a".to_string()]);
        let p = plan(&rows, |_| false, true, 0);
        assert!(p.publish.is_empty());
        assert_eq!(p.baseline.len(), 3);
        let p = plan(&rows, |_| false, true, 9);
        assert_eq!(p.publish.len(), 3);
        assert!(p.baseline.is_empty());
    }

    #[test]
    fn without_dates_the_first_rows_are_the_newest() {
        let rows = [cand(1, "a", None), cand(2, "b", Some("2026-12-03"))];
        assert_eq!(plan(&rows, |_| false, true, 1).publish, vec![1]);
    }

    #[test]
    fn later_runs_publish_what_is_neither_seen_nor_published() {
        let rows = [
            cand(1, "new", None),
            cand(2, "seen", None),
            cand(3, "failed-before", None),
        ];
        let p = plan(&rows, |k| k == "seen", false, 1);
        assert_eq!(p.publish, vec![1, 3]);
        assert!(p.baseline.is_empty());
    }
}
