//! Recurring automations (`schedule add --job … --every …`) run by `tick`
//! on a simulated clock (`tick --now`) against the sandbox, in the
//! account's zone (Europe/Berlin): each occurrence publishes once, a second
//! tick in the same occurrence and two ticks at once publish nothing more,
//! downtime catches up with the latest occurrence only and says so, a
//! failing automation is reported without stopping the others, `pause`,
//! `resume` and `remove` work, and `schedule list` shows the next
//! occurrences with their offset and what the next one would publish.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Berlin;

use crate::common::{self, text};

/// 09:00 + `minutes` on `day` in Berlin.
fn berlin(day: NaiveDate, minutes: i64) -> DateTime<Utc> {
    let nine = day.and_hms_opt(9, 0, 0).expect("time") + Duration::minutes(minutes);
    Berlin
        .from_local_datetime(&nine)
        .single()
        .expect("not at a change")
        .with_timezone(&Utc)
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

/// A rig whose account lives in Berlin, a job `work/jobs/job.yaml` over a
/// feed with one dated row per day around `first` (day-based: id `rDATE`,
/// title `Dish DATE`), and `first`, two days after today.
pub(crate) fn berlin_rig() -> (common::Rig, std::path::PathBuf, NaiveDate) {
    common::shared_cache();
    let r = common::Rig::start(|_| {});
    let settings = std::fs::read_to_string(&r.config).expect("settings");
    let zoned = settings.replace(
        "    token_file:",
        "    timezone: Europe/Berlin\n    token_file:",
    );
    assert_ne!(zoned, settings);
    std::fs::write(&r.config, zoned).expect("settings");
    // Two days on, so every simulated occurrence is after the automation is added.
    let first = Utc::now().date_naive() + Duration::days(2);
    let mut csv = String::from("id,date,title\n");
    for i in -3..12 {
        let d = first + Duration::days(i);
        csv += &format!("r{d},{d},Dish {d}\n");
    }
    let jobs = r.work.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let job = common::job_files(&jobs, &common::text_template("{{title}}"), &csv, "");
    (r, job, first)
}

/// `schedule add --job JOB --every RULE` and `extra` arguments.
pub(crate) fn add_every(
    r: &common::Rig,
    job: &std::path::Path,
    rule: &str,
    extra: &[&str],
) -> std::process::Output {
    let job = job.to_str().expect("utf-8");
    let mut args = vec!["schedule", "add", "--job", job, "--every", rule];
    args.extend_from_slice(extra);
    r.run(&args)
}

fn published_days(r: &common::Rig) -> Vec<String> {
    let ledger = storyforge::ledger::Ledger::open(&r.work.path().join("l.db")).expect("ledger");
    let mut days: Vec<String> = ledger
        .assets()
        .expect("assets")
        .into_iter()
        .filter(|a| a.state == storyforge::ledger::State::Published)
        .map(|a| a.identity.split('|').next().unwrap_or_default().to_string())
        .collect();
    days.sort();
    days
}

#[test]
fn each_occurrence_publishes_once_and_downtime_catches_up_with_the_latest_only() {
    let (r, job, d0) = berlin_rig();
    // Added at 08:00 on the first day: the day before's 09:00 is not its.
    let add = add_every(&r, &job, "daily 09:00", &["--now", &rfc(berlin(d0, -60))]);
    assert_eq!(add.status.code(), Some(0), "{}", text(&add));
    assert!(text(&add).contains("A1"), "{}", text(&add));
    let tick = |at: DateTime<Utc>| {
        let o = r.run(&["tick", "--now", &rfc(at)]);
        (o.status.code(), text(&o))
    };
    // Before the first occurrence: nothing.
    let (code, out) = tick(berlin(d0, -1));
    assert_eq!(code, Some(0), "{out}");
    assert!(r.sandbox.published().is_empty(), "{out}");
    // The first occurrence, then again within it: one Story.
    let (code, out) = tick(berlin(d0, 4));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("A1") && out.contains("1 published"), "{out}");
    assert_eq!(r.sandbox.published().len(), 1, "{out}");
    let (_, out) = tick(berlin(d0, 30));
    assert_eq!(r.sandbox.published().len(), 1, "same occurrence: {out}");
    assert!(!out.contains("A1 "), "nothing to run again: {out}");
    // The next day's occurrence.
    let (_, out) = tick(berlin(d0 + Duration::days(1), 1));
    assert_eq!(r.sandbox.published().len(), 2, "{out}");
    // Down for three days: only the latest missed occurrence runs, once, and says so.
    let (code, out) = tick(berlin(d0 + Duration::days(4), 120));
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(r.sandbox.published().len(), 3, "{out}");
    assert!(out.contains("2 earlier occurrences"), "{out}");
    assert_eq!(
        published_days(&r),
        [0, 1, 4].map(|i| format!("day:{}", d0 + Duration::days(i)))
    );
    // Two ticks at once in the next occurrence: one Story.
    let now = rfc(berlin(d0 + Duration::days(5), 2));
    let a = r.spawn(&["tick", "--now", &now]);
    let b = r.spawn(&["tick", "--now", &now]);
    let (a, b) = (
        a.wait_with_output().expect("tick"),
        b.wait_with_output().expect("tick"),
    );
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        text(&a),
        text(&b)
    );
    assert_eq!(r.sandbox.published().len(), 4);
    // The listing: rule, zone, next three with their offset, last run, preview.
    let at = berlin(d0 + Duration::days(5), 60);
    let list = r.run(&["schedule", "list", "--now", &rfc(at)]);
    let list = text(&list);
    let d6 = d0 + Duration::days(6);
    let offset = Berlin
        .from_utc_datetime(&berlin(d6, 0).naive_utc())
        .format("%:z")
        .to_string();
    assert!(
        list.contains("A1 every daily 09:00 (Europe/Berlin) jobs/job.yaml"),
        "{list}"
    );
    assert!(
        list.contains(&format!("{d6} 09:00")) && list.contains(&offset),
        "{list}"
    );
    assert!(
        list.contains("last:") && list.contains("1 published"),
        "{list}"
    );
    assert!(
        list.contains(&format!("{d6} would publish: t.yaml: id r{d6} “Dish {d6}”")),
        "{list}"
    );
    let json = r.run(&["schedule", "list", "--json", "--now", &rfc(at)]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let auto = &v["automations"][0];
    assert_eq!(auto["next"].as_array().map(Vec::len), Some(3), "{v}");
    assert_eq!(auto["zone"], "Europe/Berlin");
    assert_eq!(auto["state"], "done");
    assert_eq!(auto["preview"][0]["picked"], "date");
    // Listing wrote nothing and published nothing.
    assert_eq!(r.sandbox.published().len(), 4);
}

#[test]
fn a_failing_automation_is_reported_and_pause_resume_remove_work() {
    let (r, job, d0) = berlin_rig();
    let broken_dir = r.work.path().join("broken");
    std::fs::create_dir_all(&broken_dir).expect("dir");
    let broken = common::job_files(&broken_dir, &common::text_template("x"), "id\n1\n", "");
    for j in [&broken, &job] {
        let o = add_every(&r, j, "weekdays,weekends 09:00", &[]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let bad = add_every(&r, &job, "daily 9am", &[]);
    assert!(text(&bad).contains("`9am` is not a time"), "{}", text(&bad));
    // The first job file is gone after it was added.
    std::fs::remove_file(&broken).expect("rm");
    let o = r.run(&["tick", "--now", &rfc(berlin(d0, 1))]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("A1") && out.contains("failed") && out.contains("broken/job.yaml"),
        "{out}"
    );
    assert!(out.contains("A2") && out.contains("1 published"), "{out}");
    assert_eq!(r.sandbox.published().len(), 1, "{out}");
    // Paused: its occurrence passes; resumed: the next one runs.
    assert!(r.run(&["schedule", "pause", "A2"]).status.success());
    let o = r.run(&["tick", "--now", &rfc(berlin(d0 + Duration::days(1), 1))]);
    assert_eq!(r.sandbox.published().len(), 1, "{}", text(&o));
    let list = text(&r.run(&["schedule", "list"]));
    assert!(list.contains("[paused]"), "{list}");
    assert!(r.run(&["schedule", "resume", "a2"]).status.success());
    let o = r.run(&["tick", "--now", &rfc(berlin(d0 + Duration::days(2), 1))]);
    assert_eq!(r.sandbox.published().len(), 2, "{}", text(&o));
    // Removed: gone from the list and from ticks.
    assert!(r.run(&["schedule", "remove", "A2"]).status.success());
    let gone = r.run(&["schedule", "remove", "A2"]);
    assert!(!gone.status.success());
    assert!(text(&gone).contains("nothing to remove"), "{}", text(&gone));
    let list = text(&r.run(&["schedule", "list"]));
    assert!(!list.contains("A2 "), "{list}");
    r.run(&["tick", "--now", &rfc(berlin(d0 + Duration::days(3), 1))]);
    assert_eq!(r.sandbox.published().len(), 2);
}
