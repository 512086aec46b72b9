//! A media id for every published Story: a Story whose publish reply was
//! lost is matched to the live Story whose `timestamp` falls inside its
//! publish window (the publish call's send to its lost reply, by the
//! server's clock, inclusive at the second). Where windows overlap it
//! waits, and a later run, `tick` or `storyforge ledger settle` fills it in
//! once the others are known (by elimination). Never a guess, never an id
//! another row holds.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::graph::GraphClient;
use super::stories::{self, LiveStory};
use super::Account;
use crate::ledger::{IdUnknown, Ledger, LedgerError};

/// Row id → its media id, or why it is still unknown.
pub type Matches = BTreeMap<i64, Result<String, String>>;

/// A publish window, by the server's clock.
type Window = (DateTime<Utc>, DateTime<Utc>);

/// The inclusive window `[floor(sent), ceil(settled + 1 s)]` at the second
/// (a Story's `timestamp` has 1-second resolution).
fn window(row: &IdUnknown) -> Option<Window> {
    let second = Duration::seconds(1);
    let start = row.sent?.duration_trunc(second).ok()?;
    Some((start, window_end(row.settled?)?))
}

/// The inclusive end of a publish window whose reply was lost (or seen
/// done) at `settled`: `ceil(settled + 1 s)`.
fn window_end(settled: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let second = Duration::seconds(1);
    // `settled` is estimated from a `Date` header, floored to the second
    // and late by the reply's travel: one second more keeps the window's
    // end no earlier than the server's.
    let end = settled + second;
    let floored = end.duration_trunc(second).ok()?;
    Some(if floored == end {
        end
    } else {
        floored + second
    })
}

/// The earliest server-clock time the account's next publish call may be
/// sent after a lost reply at `settled`: its window then starts past this
/// one's end, so no second belongs to both.
pub fn next_window_start(settled: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(window_end(settled)? + Duration::seconds(1))
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Matches `unknown` rows to `live` Stories no ledger row holds (`known`):
/// a row whose window holds exactly one such Story, which is no other
/// open row's only one, takes it; taken ids drop out of the other windows
/// and the rest is tried again. `now` (server's clock) keeps out rows the
/// 24-hour listing no longer covers.
pub fn assign(
    unknown: &[IdUnknown],
    live: &[LiveStory],
    known: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> Matches {
    let mut taken = known.clone();
    let mut out = Matches::new();
    let covered =
        Duration::hours(storyforge_base::spec::STORY_LIFETIME_HOURS) - Duration::minutes(10);
    let mut open: Vec<(i64, Window)> = Vec::new();
    for row in unknown {
        match window(row) {
            None => {
                out.insert(row.id, Err("its publish window was not recorded (published by an earlier release or recovered after a crash); find it on the account and `storyforge ledger settle` it by hand".into()));
            }
            Some((start, _)) if now - start >= covered => {
                out.insert(row.id, Err(format!("published {} by Instagram's clock, longer ago than the live Stories list covers; find its id in the account's Story archive", fmt(start))));
            }
            Some(w) => open.push((row.id, w)),
        }
    }
    loop {
        let candidates: Vec<(i64, Vec<&str>)> = open
            .iter()
            .map(|(id, (start, end))| {
                let fits = live.iter().filter(|s| {
                    !taken.contains(&s.id) && s.timestamp.is_none_or(|t| *start <= t && t <= *end)
                });
                (*id, fits.map(|s| s.id.as_str()).collect())
            })
            .collect();
        let mut sole: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, c) in &candidates {
            if let [one] = c.as_slice() {
                *sole.entry(*one).or_default() += 1;
            }
        }
        let mut progress = false;
        for (id, c) in &candidates {
            if let [one] = c.as_slice() {
                if sole[one] == 1 {
                    out.insert(*id, Ok(one.to_string()));
                    taken.insert(one.to_string());
                    progress = true;
                }
            }
        }
        open.retain(|(id, _)| !out.contains_key(id));
        if !progress {
            for ((id, (start, end)), (_, c)) in open.iter().zip(&candidates) {
                let span = format!("{}–{}", fmt(*start), fmt(*end));
                let why = match c.len() {
                    0 => format!("no live Story unknown to the ledger was published in its publish window {span} (Instagram's clock); it may have been deleted"),
                    1 => format!("its publish window {span} holds one live Story, the only one of another Story's window too; it waits until the others are known"),
                    n => format!("{n} live Stories fit its publish window {span} (Instagram's clock), overlapping other lost replies; it is filled in once the others are known (the next run, `tick` or `storyforge ledger settle`)"),
                };
                out.insert(*id, Err(why));
            }
            return out;
        }
    }
}

/// Fills in every media id of `account` that has become certain, and
/// notes why the others are still unknown. Returns how many were filled.
pub async fn fill(
    client: &GraphClient,
    ledger: &Ledger,
    account: &Account,
) -> Result<usize, LedgerError> {
    let name = &account.settings.name;
    let unknown = ledger.ids_unknown(name)?;
    if unknown.is_empty() {
        return Ok(0);
    }
    let live = match stories::live(client, account).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("{name}: cannot list live Stories to fill in media ids: {e}");
            return Ok(0);
        }
    };
    // Read after the listing: an id recorded meanwhile is not offered.
    let known: BTreeSet<String> = ledger.media_ids(name)?.into_iter().collect();
    let now = client.server_now().unwrap_or_else(Utc::now);
    let mut filled = 0;
    for (id, verdict) in assign(&unknown, &live, &known, now) {
        match verdict {
            Ok(media) if ledger.fill_media_id(id, &media)? => {
                tracing::info!("{name}: Story {id} is media {media} (by its publish window)");
                filled += 1;
            }
            Ok(media) => tracing::warn!(
                "{name}: media {media} is already recorded; Story {id} stays id unknown"
            ),
            Err(why) => ledger.note_id_unknown(id, &format!("media id unknown: {why}"))?,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn row(id: i64, sent: &str, settled: &str) -> IdUnknown {
        IdUnknown {
            id,
            sent: Some(t(sent)),
            settled: Some(t(settled)),
        }
    }

    fn story(id: &str, at: &str) -> LiveStory {
        LiveStory {
            id: id.into(),
            timestamp: Some(t(at)),
        }
    }

    const NOW: &str = "2026-12-07T21:00:00Z";

    #[test]
    fn the_window_is_inclusive_at_the_second() {
        let rows = [row(
            1,
            "2026-12-07T20:00:00.700Z",
            "2026-12-07T20:00:01.200Z",
        )];
        let live = [
            story("a", "2026-12-07T20:00:00Z"),
            story("b", "2026-12-07T20:00:04Z"),
        ];
        let m = assign(&rows, &live, &BTreeSet::new(), t(NOW));
        assert_eq!(m[&1], Ok("a".into()));
        let live = [story("b", "2026-12-07T20:00:03Z")];
        let m = assign(&rows, &live, &BTreeSet::new(), t(NOW));
        assert_eq!(m[&1], Ok("b".into()), "end ceiled");
        let live = [story("c", "2026-12-07T20:00:04Z")];
        assert!(assign(&rows, &live, &BTreeSet::new(), t(NOW))[&1].is_err());
    }

    #[test]
    fn the_next_publish_after_a_lost_reply_has_a_window_of_its_own() {
        let first = row(1, "2026-12-07T20:00:00.700Z", "2026-12-07T20:00:01.200Z");
        let next = next_window_start(t("2026-12-07T20:00:01.200Z")).unwrap();
        assert_eq!(next, t("2026-12-07T20:00:04Z"));
        let (_, end) = window(&first).unwrap();
        let second = row(2, "2026-12-07T20:00:04Z", "2026-12-07T20:00:04.300Z");
        let (start, _) = window(&second).unwrap();
        assert!(start > end, "{start} after {end}");
        // So two lost replies one after the other each get their own Story.
        let live = [
            story("a", "2026-12-07T20:00:01Z"),
            story("b", "2026-12-07T20:00:04Z"),
        ];
        let m = assign(&[first, second], &live, &BTreeSet::new(), t(NOW));
        assert_eq!(
            (m[&1].clone(), m[&2].clone()),
            (Ok("a".into()), Ok("b".into()))
        );
    }

    #[test]
    fn overlapping_windows_wait_then_resolve_by_elimination() {
        let rows = [
            row(1, "2026-12-07T20:00:00Z", "2026-12-07T20:00:05Z"),
            row(2, "2026-12-07T20:00:02Z", "2026-12-07T20:00:06Z"),
        ];
        let live = [
            story("a", "2026-12-07T20:00:03Z"),
            story("b", "2026-12-07T20:00:04Z"),
        ];
        let m = assign(&rows, &live, &BTreeSet::new(), t(NOW));
        assert!(m[&1].is_err() && m[&2].is_err(), "never a guess: {m:?}");
        // Once a's owner is known, both follow.
        let known = BTreeSet::from(["a".to_string()]);
        let m = assign(&rows[..1], &live, &known, t(NOW));
        assert_eq!(m[&1], Ok("b".into()));
        // Elimination: 1 sees only a, so 2 gets b.
        let rows = [
            row(1, "2026-12-07T20:00:00Z", "2026-12-07T20:00:02Z"),
            row(2, "2026-12-07T20:00:02Z", "2026-12-07T20:00:06Z"),
        ];
        let m = assign(&rows, &live, &BTreeSet::new(), t(NOW));
        assert_eq!(
            (m[&1].clone(), m[&2].clone()),
            (Ok("a".into()), Ok("b".into()))
        );
    }

    #[test]
    fn one_story_for_two_rows_is_given_to_neither() {
        let rows = [
            row(1, "2026-12-07T20:00:00Z", "2026-12-07T20:00:03Z"),
            row(2, "2026-12-07T20:00:01Z", "2026-12-07T20:00:04Z"),
        ];
        let live = [story("a", "2026-12-07T20:00:02Z")];
        let m = assign(&rows, &live, &BTreeSet::new(), t(NOW));
        assert!(m[&1].is_err() && m[&2].is_err(), "{m:?}");
    }

    #[test]
    fn no_window_or_too_old_is_said() {
        let rows = [
            IdUnknown {
                id: 1,
                sent: None,
                settled: None,
            },
            row(2, "2026-12-06T20:00:00Z", "2026-12-06T20:00:03Z"),
        ];
        let m = assign(&rows, &[], &BTreeSet::new(), t(NOW));
        assert!(m[&1].as_ref().unwrap_err().contains("not recorded"));
        assert!(m[&2].as_ref().unwrap_err().contains("archive"));
    }
}
