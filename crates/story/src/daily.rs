//! Feed rows + a date → the rows of that day, for the daily content job: a
//! `date` column (any date format the templates read), else a `weekday`
//! column (`mon`, `Monday`, `1`–`7`, `daily`), else a `rotation` column or
//! the rows themselves, taken one per day in turn.

use chrono::{Datelike, NaiveDate};

use crate::feed::FeedRow;
use crate::template::vars::parse_date;

/// A row's value of `name` (any case), trimmed.
pub fn column<'a>(row: &'a FeedRow, name: &str) -> Option<&'a str> {
    row.vars
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn weekday_matches(value: &str, day: chrono::Weekday) -> bool {
    let v = value.to_ascii_lowercase();
    if v == "daily" || v == "*" || v == "every day" {
        return true;
    }
    if let Ok(n) = v.parse::<u32>() {
        return n == day.number_from_monday();
    }
    let name = format!("{day:?}").to_ascii_lowercase(); // "mon"
    v.split([',', ' ', '/']).any(|part| {
        !part.is_empty() && (part.starts_with(&name) && chrono_full(&name).starts_with(part))
    })
}

fn chrono_full(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

/// How the rows of a day were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Rows whose `date` is the day.
    Date,
    /// Rows whose `weekday` is the day's.
    Weekday,
    /// One row per day in turn (`rotation` order, else feed order).
    Rotation,
}

/// The 1-based row numbers for `day`, and how they were chosen.
pub fn rows_for(rows: &[FeedRow], day: NaiveDate) -> (Vec<usize>, Selection) {
    let has = |name: &str| rows.iter().any(|r| column(r, name).is_some());
    if has("date") {
        let picked = rows
            .iter()
            .filter(|r| {
                column(r, "date")
                    .and_then(parse_date)
                    .is_some_and(|d| d.date() == day)
            })
            .map(|r| r.index)
            .collect();
        return (picked, Selection::Date);
    }
    if has("weekday") {
        let picked = rows
            .iter()
            .filter(|r| column(r, "weekday").is_some_and(|w| weekday_matches(w, day.weekday())))
            .map(|r| r.index)
            .collect();
        return (picked, Selection::Weekday);
    }
    if rows.is_empty() {
        return (Vec::new(), Selection::Rotation);
    }
    let mut order: Vec<&FeedRow> = rows.iter().collect();
    if has("rotation") {
        order.sort_by_key(|r| {
            column(r, "rotation")
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(i64::MAX)
        });
    }
    let day_number = i64::from(day.num_days_from_ce());
    let pick = order[day_number.rem_euclid(order.len() as i64) as usize];
    (vec![pick.index], Selection::Rotation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: usize, pairs: &[(&str, &str)]) -> FeedRow {
        FeedRow {
            index,
            line: None,
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn by_date_weekday_and_rotation() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(); // a Monday
        let dated = [
            row(1, &[("date", "2026-11-29")]),
            row(2, &[("date", "2026-11-30")]),
            row(3, &[("Date", "30 Nov 2026")]),
        ];
        let (picked, how) = rows_for(&dated, day);
        assert_eq!(how, Selection::Date);
        assert!(picked.contains(&2));
        assert!(!picked.contains(&1));
        let weekly = [
            row(1, &[("weekday", "Monday")]),
            row(2, &[("weekday", "tue")]),
            row(3, &[("weekday", "daily")]),
            row(4, &[("weekday", "1")]),
        ];
        assert_eq!(rows_for(&weekly, day), (vec![1, 3, 4], Selection::Weekday));
        let plain = [row(1, &[]), row(2, &[]), row(3, &[])];
        let (a, _) = rows_for(&plain, day);
        let (b, _) = rows_for(&plain, day.succ_opt().unwrap());
        assert_eq!(a.len(), 1);
        assert_ne!(a, b, "the next day takes the next row");
        let rotated = [row(1, &[("rotation", "2")]), row(2, &[("rotation", "1")])];
        let (x, how) = rows_for(&rotated, day);
        assert_eq!(how, Selection::Rotation);
        assert_eq!(x.len(), 1);
    }
}
