//! `per_day`: N rows a day, least recently published first, so each row is
//! shown once per cycle. A row's place in the cycle is when it was last
//! published (by day), never its position, so adding or removing rows
//! does not reshuffle what was shown; never-published rows come first,
//! ties go by feed order. The day's picks, once in the ledger, stay the
//! day's picks. Pure: the caller reads the ledger.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::select::Candidate;

/// The row numbers to publish on a day: the day's picks already in the
/// ledger (`picked`, by key), topped up to `per_day` with the rows least
/// recently published (`last`: key → the day it last went out).
pub(super) fn pick(
    rows: &[Candidate],
    picked: &HashSet<String>,
    last: &HashMap<String, NaiveDate>,
    per_day: usize,
) -> Vec<usize> {
    let mut out: Vec<usize> = rows
        .iter()
        .filter(|r| picked.contains(&r.key))
        .map(|r| r.index)
        .collect();
    let mut rest: Vec<&Candidate> = rows.iter().filter(|r| !picked.contains(&r.key)).collect();
    // `None` (never published) sorts first; ties keep feed order.
    rest.sort_by_key(|r| last.get(&r.key).copied());
    let room = per_day.saturating_sub(out.len());
    out.extend(rest.iter().take(room).map(|r| r.index));
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::select::tests::cand;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    /// Simulates `days` days of a rotation over `feed(day)`.
    fn shown(per_day: usize, days: u32, feed: impl Fn(u32) -> Vec<Candidate>) -> Vec<Vec<String>> {
        let mut last: HashMap<String, NaiveDate> = HashMap::new();
        let mut out = Vec::new();
        for d in 1..=days {
            let rows = feed(d);
            let picks = pick(&rows, &HashSet::new(), &last, per_day);
            let keys: Vec<String> = rows
                .iter()
                .filter(|r| picks.contains(&r.index))
                .map(|r| r.key.clone())
                .collect();
            for k in &keys {
                last.insert(k.clone(), day(d));
            }
            out.push(keys);
        }
        out
    }

    #[test]
    fn every_row_once_per_cycle() {
        let rows = |_| (1..=5).map(|i| cand(i, &format!("r{i}"), None)).collect();
        let days = shown(2, 5, rows);
        assert_eq!(days[0], ["r1", "r2"]);
        assert_eq!(days[1], ["r3", "r4"]);
        // r5 and then the oldest of the first day (by feed order).
        assert_eq!(days[2], ["r1", "r5"]);
        assert_eq!(days[3], ["r2", "r3"]);
    }

    #[test]
    fn a_row_added_mid_cycle_does_not_reshuffle() {
        // Day 3 a new row appears at the top of the feed.
        let feed = |d: u32| {
            let mut rows: Vec<Candidate> =
                (1..=4).map(|i| cand(i, &format!("r{i}"), None)).collect();
            if d >= 3 {
                rows.insert(0, cand(0, "new", None));
            }
            rows
        };
        let days = shown(1, 6, feed);
        let flat: Vec<&str> = days.iter().map(|d| d[0].as_str()).collect();
        // r1, r2 shown; then the new row (never shown) and the rest of
        // the cycle; r1 comes back only after every row was shown once.
        assert_eq!(flat, ["r1", "r2", "new", "r3", "r4", "r1"]);
    }

    #[test]
    fn the_days_picks_are_kept() {
        let rows: Vec<Candidate> = (1..=3).map(|i| cand(i, &format!("r{i}"), None)).collect();
        let picked: HashSet<String> = ["r3".to_string()].into();
        let last: HashMap<String, NaiveDate> = [("r3".to_string(), day(1))].into();
        assert_eq!(pick(&rows, &picked, &last, 1), vec![3]);
        assert_eq!(pick(&rows, &picked, &last, 2), vec![1, 3]);
    }
}
