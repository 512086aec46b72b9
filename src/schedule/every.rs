//! `--every` rules of recurring automations and their occurrences in a
//! time zone (chrono-tz's tz database, never hand-written rules).
//!
//! The grammar (case-insensitive, a leading `every` allowed):
//!
//! - `hourly` (at :00) or `hourly :15`: every hour at that minute;
//! - `daily 09:00`, also several times: `daily 09:00,18:30`;
//! - days then times: `mon,wed,fri 18:30`, `weekdays 08:00`,
//!   `weekends 10:00,16:00`, `mon-fri 07:45` (days `mon`…`sun` or their
//!   full names, `weekdays` = mon–fri, `weekends` = sat, sun).
//!
//! Times are wall-clock times in the account's zone. A time the clocks
//! skip (02:30 on a spring-forward night) falls on the first instant that
//! exists after it (03:00); a time that happens twice (autumn) runs once,
//! at the first.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A parsed `--every` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Days it runs on, Monday first.
    days: [bool; 7],
    /// Wall-clock times, sorted; for `hourly`, one per hour.
    times: Vec<NaiveTime>,
}

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn day_index(word: &str) -> Option<usize> {
    let w = word.trim();
    (w.len() >= 3)
        .then(|| DAYS.iter().position(|d| d.starts_with(w)))
        .flatten()
}

fn parse_days(spec: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "daily" | "everyday" => days = [true; 7],
            "weekdays" => days[..5].fill(true),
            "weekends" => days[5..].fill(true),
            _ => {
                let (from, to) = part.split_once('-').unwrap_or((part, part));
                let bad =
                    || format!("`{part}` is not a day: write mon…sun, weekdays, weekends or daily");
                let (a, b) = (
                    day_index(from).ok_or_else(bad)?,
                    day_index(to).ok_or_else(bad)?,
                );
                let mut i = a;
                loop {
                    days[i] = true;
                    if i == b {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
        }
    }
    Ok(days)
}

fn parse_time(t: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| {
        format!(
            "`{}` is not a time: write HH:MM (24-hour), e.g. 09:00",
            t.trim()
        )
    })
}

impl std::str::FromStr for Rule {
    type Err = String;

    fn from_str(text: &str) -> Result<Rule, String> {
        let lower = text.trim().to_ascii_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        let words = match words.as_slice() {
            ["every", rest @ ..] => rest,
            all => all,
        };
        let explain = |why: String| {
            format!("--every `{text}`: {why}; write e.g. `daily 09:00`, `mon,wed,fri 18:30`, `weekdays 08:00,17:00` or `hourly :15`")
        };
        let rule = match words {
            ["hourly"] | ["hourly", _] => {
                let minute = match words.get(1) {
                    None => 0,
                    Some(m) => m
                        .trim_start_matches(':')
                        .parse::<u32>()
                        .ok()
                        .filter(|m| *m < 60)
                        .ok_or_else(|| explain(format!("`{m}` is not a minute (:00 to :59)")))?,
                };
                Rule {
                    days: [true; 7],
                    times: (0..24)
                        .filter_map(|h| NaiveTime::from_hms_opt(h, minute, 0))
                        .collect(),
                }
            }
            [days, times] => {
                let days = parse_days(days).map_err(explain)?;
                let mut times = times
                    .split(',')
                    .filter(|t| !t.trim().is_empty())
                    .map(parse_time)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(explain)?;
                times.sort();
                times.dedup();
                if times.is_empty() || !days.contains(&true) {
                    return Err(explain("it names no day or no time".into()));
                }
                Rule { days, times }
            }
            _ => return Err(explain("give the days then the times".into())),
        };
        Ok(rule)
    }
}

/// The instant wall-clock `local` stands for in `zone`: the first of two
/// (autumn), or the first instant that exists after a skipped one (spring).
fn resolve(zone: Tz, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    // A gap lasts at most a few hours; minutes step to its end.
    (0..=24 * 60).find_map(
        |m| match zone.from_local_datetime(&(local + Duration::minutes(m))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
            LocalResult::None => None,
        },
    )
}

impl Rule {
    /// The occurrences on local day `day` in `zone`, in order, each once.
    pub fn on(&self, zone: Tz, day: NaiveDate) -> Vec<DateTime<Utc>> {
        if !self.days[day.weekday().num_days_from_monday() as usize] {
            return Vec::new();
        }
        let mut out: Vec<DateTime<Utc>> = self
            .times
            .iter()
            .filter_map(|t| resolve(zone, day.and_time(*t)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The next `n` occurrences strictly after `after`.
    pub fn next(&self, zone: Tz, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let start = after.with_timezone(&zone).date_naive() - Duration::days(1);
        start
            .iter_days()
            .take(8 + n * 7)
            .flat_map(|d| self.on(zone, d))
            .filter(|t| *t > after)
            .take(n)
            .collect()
    }

    /// The latest occurrence at or before `now` (within the past 8 days).
    pub fn latest(&self, zone: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&zone).date_naive() + Duration::days(1);
        (0..9)
            .filter_map(|back| today.checked_sub_signed(Duration::days(back)))
            .find_map(|d| self.on(zone, d).into_iter().rev().find(|t| *t <= now))
    }

    /// How many occurrences fall strictly between `from` and `to`
    /// (counted up to `cap`).
    pub fn between(&self, zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>, cap: usize) -> usize {
        let end = to.with_timezone(&zone).date_naive();
        from.with_timezone(&zone)
            .date_naive()
            .iter_days()
            .take_while(|d| *d <= end)
            .take(400)
            .flat_map(|d| self.on(zone, d))
            .filter(|t| *t > from && *t < to)
            .take(cap)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Rule {
        s.parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn shown(ts: &[DateTime<Utc>]) -> Vec<String> {
        ts.iter()
            .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
            .collect()
    }

    #[test]
    fn every_rules_parse_and_bad_ones_say_what_to_write() {
        assert_eq!(rule("daily 09:00").times.len(), 1);
        assert_eq!(rule("Every daily 18:00,09:00").times.len(), 2);
        assert_eq!(
            rule("mon,wed,fri 18:30").days,
            [true, false, true, false, true, false, false]
        );
        assert_eq!(
            rule("weekdays 08:00").days,
            [true, true, true, true, true, false, false]
        );
        assert_eq!(
            rule("weekends 10:00").days,
            [false, false, false, false, false, true, true]
        );
        assert_eq!(
            rule("fri-mon 10:00").days,
            [true, false, false, false, true, true, true]
        );
        assert_eq!(rule("Monday,tuesday 07:05").days[..3], [true, true, false]);
        assert_eq!(rule("hourly").times.len(), 24);
        assert_eq!(
            rule("hourly :15").times[3],
            NaiveTime::from_hms_opt(3, 15, 0).unwrap()
        );
        for bad in [
            "",
            "daily",
            "daily 25:00",
            "funday 09:00",
            "hourly :75",
            "daily 9am",
            "mo 09:00",
        ] {
            let e = bad.parse::<Rule>().unwrap_err();
            assert!(
                e.contains("--every") && e.contains("daily 09:00"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn occurrences_follow_the_zone_and_the_days() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let r = rule("mon,wed,fri 18:30");
        // Monday 7 December 2026, after 18:30 Berlin (17:30 UTC).
        let next = r.next(berlin, utc("2026-12-07T17:31:00Z"), 3);
        assert_eq!(
            shown(&next),
            [
                "2026-12-09T17:30Z",
                "2026-12-11T17:30Z",
                "2026-12-14T17:30Z"
            ]
        );
        assert_eq!(
            r.latest(berlin, utc("2026-12-08T12:00:00Z")),
            Some(utc("2026-12-07T17:30:00Z"))
        );
        assert_eq!(
            r.latest(berlin, utc("2026-12-07T17:30:00Z")),
            Some(utc("2026-12-07T17:30:00Z"))
        );
        // Missed between Monday's and the next Monday's: Wed and Fri.
        assert_eq!(
            r.between(
                berlin,
                utc("2026-12-07T17:30:00Z"),
                utc("2026-12-14T17:30:00Z"),
                100
            ),
            2
        );
    }

    #[test]
    fn a_skipped_time_runs_at_the_first_instant_after_and_a_doubled_one_once() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let ny: Tz = "America/New_York".parse().unwrap();
        // (zone, rule, local day, the one instant it runs that day)
        let cases = [
            // Berlin springs from 02:00 CET to 03:00 CEST on 29 March 2026:
            // 02:30 never happens; it runs at 03:00 CEST = 01:00 UTC.
            (berlin, "daily 02:30", "2026-03-29", "2026-03-29T01:00Z"),
            (berlin, "daily 02:30", "2026-03-28", "2026-03-28T01:30Z"),
            (berlin, "daily 02:30", "2026-03-30", "2026-03-30T00:30Z"),
            // 25 October 2026: 02:30 happens at CEST and again at CET; once, first.
            (berlin, "daily 02:30", "2026-10-25", "2026-10-25T00:30Z"),
            // New York: 8 March 2026 skips 02:00–03:00 (EST→EDT); 1
            // November repeats 01:00–02:00.
            (ny, "daily 02:30", "2026-03-08", "2026-03-08T07:00Z"),
            (ny, "daily 01:30", "2026-11-01", "2026-11-01T05:30Z"),
            (ny, "daily 01:30", "2026-11-02", "2026-11-02T06:30Z"),
        ];
        for (zone, r, d, want) in cases {
            assert_eq!(
                shown(&rule(r).on(zone, day(d))),
                [want],
                "{r} on {d} in {zone}"
            );
        }
        // 09:00 keeps its wall-clock time across the change (UTC moves).
        let nine = rule("daily 09:00");
        assert_eq!(
            shown(&nine.next(ny, utc("2026-03-07T15:00:00Z"), 2)),
            ["2026-03-08T13:00Z", "2026-03-09T13:00Z"]
        );
        // Hourly over the spring gap: 23 runs, none twice; over autumn's: 24, the doubled hour once.
        let hourly = rule("hourly");
        assert_eq!(hourly.on(berlin, day("2026-03-29")).len(), 23);
        assert_eq!(hourly.on(berlin, day("2026-10-25")).len(), 24);
        assert_eq!(hourly.on(ny, day("2026-03-08")).len(), 23);
        let q = rule("hourly :15");
        assert_eq!(
            shown(&q.next(ny, utc("2026-11-01T05:00:00Z"), 3)),
            [
                "2026-11-01T05:15Z",
                "2026-11-01T07:15Z",
                "2026-11-01T08:15Z"
            ],
            "01:15 EDT runs, 01:15 EST (06:15 UTC) does not"
        );
    }
}
