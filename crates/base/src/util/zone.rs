//! Time zones by IANA name (`Europe/Paris`), from the tz database compiled
//! in (chrono-tz): the day it is somewhere, and a wall-clock time there →
//! the instant, with daylight-saving gaps refused and overlaps resolved to
//! the earlier instant (both said in words).

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone named `name` (an IANA name such as `America/New_York`, or
/// `UTC`), or a one-line reason with a suggestion.
pub fn parse(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        let hint = crate::util::suggest::did_you_mean(
            name.trim(),
            chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()),
        );
        format!("`{name}` is not an IANA time zone name{hint}; write one such as Europe/Paris, America/New_York or UTC")
    })
}

/// The date in `zone` at `now`.
pub fn today(zone: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

/// The instant a wall-clock time in `zone` stands for. A time skipped by a
/// daylight-saving change (02:30 on a spring-forward night) is an error; a
/// time that happens twice (autumn) is the earlier of the two.
pub fn to_utc(zone: Tz, local: NaiveDateTime) -> Result<DateTime<Utc>, String> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
        LocalResult::None => Err(format!(
            "{} does not exist in {} (the clocks skip it for daylight saving); pick a time outside the change",
            local.format("%Y-%m-%d %H:%M"),
            zone.name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn days_and_instants_follow_daylight_saving() {
        let paris = parse("Europe/Paris").unwrap();
        // 23:30 UTC on 7 December is already the 8th in Paris (UTC+1)…
        let late = Utc.with_ymd_and_hms(2026, 12, 7, 23, 30, 0).unwrap();
        assert_eq!(today(paris, late).to_string(), "2026-12-08");
        assert_eq!(today(chrono_tz::UTC, late).to_string(), "2026-12-07");
        // …and 09:00 there is 08:00 UTC in winter, 07:00 UTC in summer.
        assert_eq!(
            to_utc(paris, at("2026-12-08 09:00")).unwrap().to_rfc3339(),
            "2026-12-08T08:00:00+00:00"
        );
        assert_eq!(
            to_utc(paris, at("2026-07-08 09:00")).unwrap().to_rfc3339(),
            "2026-07-08T07:00:00+00:00"
        );
        // 02:30 on 29 March 2026 never happens in Paris; 02:30 on 25
        // October happens twice (the first is 00:30 UTC).
        let gap = to_utc(paris, at("2026-03-29 02:30")).unwrap_err();
        assert!(gap.contains("daylight saving"), "{gap}");
        assert_eq!(
            to_utc(paris, at("2026-10-25 02:30")).unwrap().to_rfc3339(),
            "2026-10-25T00:30:00+00:00"
        );
        let e = parse("Europe/Pariss").unwrap_err();
        assert!(e.contains("Europe/Paris"), "{e}");
    }
}
