//! The daily job and the schedule against the sandbox: today's rows only,
//! a second daily run the same day is a no-op, `tick` publishes what is
//! due and nothing else, ticks are idempotent and never overlap.

use crate::common;

fn rig() -> common::Rig {
    common::Rig::start(|_| {})
}

use crate::common::text;

#[test]
fn daily_takes_the_days_rows_once() {
    let r = rig();
    let out = r.work.path().join("out");
    let args = [
        "daily",
        "--feed",
        "fixtures/feeds/daily-update.csv",
        "--template",
        "templates/daily-update.yaml",
        "--date",
        "2026-12-02",
        "--out",
        out.to_str().unwrap(),
    ];
    let first = r.run(&args);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert!(text(&first).contains("rows [2]"), "{}", text(&first));
    assert_eq!(r.sandbox.published().len(), 1);
    let again = r.run(&args);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        text(&again).contains("already published"),
        "{}",
        text(&again)
    );
    assert_eq!(
        r.sandbox.published().len(),
        1,
        "a second run the same day is a no-op"
    );
    let none = r.run(
        &[
            &args[..5],
            &["--date", "2027-01-01", "--out", out.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(
        text(&none).contains("no rows for 2027-01-01"),
        "{}",
        text(&none)
    );
    assert_eq!(r.sandbox.published().len(), 1);
}

#[test]
fn tick_publishes_what_is_due_once() {
    let r = rig();
    let story = common::root().join("fixtures/bad/ok-story.jpg");
    let due = r.run(&[
        "schedule",
        "add",
        story.to_str().unwrap(),
        "--at",
        "2020-01-01T09:00:00Z",
    ]);
    assert_eq!(due.status.code(), Some(0), "{}", text(&due));
    let row = r.run(&[
        "schedule",
        "add",
        "--template",
        "templates/quote-card.yaml",
        "--feed",
        "fixtures/feeds/quote-card.csv",
        "--row",
        "2",
        "--at",
        "2020-01-01 10:00",
    ]);
    assert_eq!(row.status.code(), Some(0), "{}", text(&row));
    let later = r.run(&[
        "schedule",
        "add",
        story.to_str().unwrap(),
        "--at",
        "2099-01-01T09:00:00Z",
    ]);
    assert_eq!(later.status.code(), Some(0));
    // Nothing is created ahead of time.
    assert!(r.sandbox.published().is_empty());
    let out = r.work.path().join("out");
    let tick = r.run(&["tick", "--out", out.to_str().unwrap()]);
    assert_eq!(tick.status.code(), Some(0), "{}", text(&tick));
    assert_eq!(r.sandbox.published().len(), 2, "{}", text(&tick));
    let list = text(&r.run(&["schedule", "list"]));
    assert_eq!(list.matches(" done ").count(), 2, "{list}");
    assert_eq!(list.matches(" pending ").count(), 1, "{list}");
    let again = r.run(&["tick", "--out", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(r.sandbox.published().len(), 2, "ticks are idempotent");
    // A tick that finds the lock held does nothing.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(r.work.path().join("l.db.tick.lock"))
        .unwrap();
    lock.lock().unwrap();
    let blocked = r.run(&["tick", "--out", out.to_str().unwrap()]);
    assert!(
        text(&blocked).contains("another tick is running"),
        "{}",
        text(&blocked)
    );
    lock.unlock().unwrap();
}

#[test]
fn tick_retries_a_passing_failure_with_backoff_and_fails_an_empty_entry() {
    let r = rig();
    let config = r.config.clone();
    let settings = storyforge::config::Settings::load(&config).expect("settings");
    let story = r.work.path().join("s.jpg");
    std::fs::write(&story, common::jpeg_variant(7)).expect("write");
    let root = common::root();
    let add = |extra: &[&str]| {
        let mut args = vec!["schedule", "add", "--at", "2026-01-01T00:00:00Z"];
        args.extend_from_slice(extra);
        r.run(&args)
    };
    assert!(add(&[story.to_str().expect("utf-8")]).status.success());
    let tpl = root.join("templates/quote-card.yaml");
    let feed = root.join("fixtures/feeds/quote-card.csv");
    let empty = add(&[
        "--template",
        tpl.to_str().expect("utf-8"),
        "--feed",
        feed.to_str().expect("utf-8"),
        "--row",
        "999",
    ]);
    assert!(empty.status.success(), "{}", text(&empty));
    // Every Graph call fails for a while (more than the client's retries).
    r.sandbox.set_faults(storyforge::sandbox::Faults {
        transient_errors: 1000,
        ..Default::default()
    });
    let out = r.work.path().join("out");
    let now = chrono::Utc::now();
    let first = storyforge::schedule::tick(&settings, &out, now).expect("tick");
    let by_id: std::collections::BTreeMap<_, _> = first
        .scheduled
        .iter()
        .map(|(id, s, t)| (*id, (*s, t.clone())))
        .collect();
    use storyforge::ledger::ScheduleState;
    assert_eq!(by_id[&1].0, ScheduleState::Pending, "{by_id:?}");
    assert!(
        by_id[&1].1.contains("waiting (attempt 1, next try"),
        "{by_id:?}"
    );
    assert_eq!(by_id[&2].0, ScheduleState::Failed, "{by_id:?}");
    assert!(by_id[&2].1.contains("made no Story"), "{by_id:?}");
    let list = r.run(&["schedule", "list"]);
    assert!(
        text(&list).contains("(attempt 1, next try"),
        "{}",
        text(&list)
    );
    // Not yet due again: nothing tried.
    let early = storyforge::schedule::tick(&settings, &out, now + chrono::Duration::seconds(10))
        .expect("tick");
    assert!(early.scheduled.is_empty(), "{:?}", early.scheduled);
    // The fault passes; the next try publishes it once.
    r.sandbox.set_faults(storyforge::sandbox::Faults::default());
    let later = storyforge::schedule::tick(&settings, &out, now + chrono::Duration::minutes(5))
        .expect("tick");
    assert_eq!(later.scheduled.len(), 1, "{:?}", later.scheduled);
    assert_eq!(
        later.scheduled[0].1,
        ScheduleState::Done,
        "{:?}",
        later.scheduled
    );
    assert_eq!(r.sandbox.published().len(), 1);
}

#[test]
fn schedule_add_takes_a_remote_feed_and_a_broken_tick_lock_is_an_error() {
    let r = rig();
    let tpl = common::root().join("templates/quote-card.yaml");
    let add = r.run(&[
        "schedule",
        "add",
        "--template",
        tpl.to_str().expect("utf-8"),
        "--feed",
        "https://feeds.example.com/quotes.csv",
        "--row",
        "2",
        "--at",
        "2030-01-01T09:00:00Z",
    ]);
    assert!(add.status.success(), "{}", text(&add));
    let list = r.run(&["schedule", "list"]);
    assert!(
        text(&list).contains("https://feeds.example.com/quotes.csv"),
        "{}",
        text(&list)
    );
    // A lock that cannot be taken for another reason than another tick.
    std::fs::create_dir(r.work.path().join("l.db.tick.lock")).expect("mkdir");
    let tick = r.run(&["tick", "--out", "out"]);
    assert_eq!(tick.status.code(), Some(2), "{}", text(&tick));
    assert!(
        text(&tick).contains("cannot use the tick lock"),
        "{}",
        text(&tick)
    );
}

crate::both_ledgers! {
fn a_killed_ticks_entry_runs_again_within_a_lease_from_another_process(backend) {
    // Each container processes for 3 s: time to kill the tick mid-way.
    let r = common::Rig::start(|c| c.image_processing_ms = 3000);
    let config = common::fast_settings_on(
        backend,
        r.work.path(),
        r.media.path(),
        &r.sandbox.base_url(),
        "lease: 1\n",
    );
    let story = common::root().join("fixtures/bad/ok-story.jpg");
    let add = common::cli(
        &["schedule", "add", story.to_str().expect("utf-8 path"), "--at", "2020-01-01T09:00:00Z"],
        &config,
    );
    assert_eq!(add.status.code(), Some(0), "{}", text(&add));
    let out = r.work.path().join("out");
    let mut first = common::spawn(&["tick", "--out", out.to_str().expect("utf-8 path")], &config);
    // Killed once it has taken the entry and made the Story's container.
    let ledger = common::open_ledger(&config);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let running = ledger.schedule().expect("entries")[0].state
            == storyforge::ledger::ScheduleState::Running;
        let container = ledger
            .assets()
            .expect("rows")
            .iter()
            .any(|a| a.container_id.is_some());
        if running && container {
            break;
        }
        if std::time::Instant::now() > deadline || first.try_wait().expect("poll").is_some() {
            first.kill().ok();
            let out = first.wait_with_output().expect("tick output");
            panic!("the tick never took the entry: {}", text(&out));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    assert!(r.sandbox.published().is_empty(), "published before the kill");
    // A lease later (its heartbeat silent, its Story's claim run out) the
    // next tick, another process, runs the entry: not an hour later.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    common::wait_for_leases(&config);
    let second = common::cli(&["tick", "--out", out.to_str().expect("utf-8 path")], &config);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert_eq!(r.sandbox.published().len(), 1, "{}", text(&second));
    assert_eq!(
        ledger.schedule().expect("entries")[0].state,
        storyforge::ledger::ScheduleState::Done
    );
    // Once, whoever ran it.
    let again = common::cli(&["tick", "--out", out.to_str().expect("utf-8 path")], &config);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(r.sandbox.published().len(), 1);
}
}
