//! The cookbook (`examples/`), run as shipped: each example's folder is
//! copied to a temp dir and pointed at the test sandbox (the Rig's
//! settings), then stepped over simulated days with `--today` (`run`) or
//! `--date` (`daily`). Publishes are counted from the sandbox's own
//! record; which row went out is read from the run's `report.json`
//! (output names carry the day and the rendered countdown text).

use std::path::{Path, PathBuf};

use crate::common;

/// A copy of `examples/NAME` in a temp dir.
fn example(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = common::root().join("examples").join(name);
    for e in std::fs::read_dir(&from).expect("example folder") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, dir.path().join(p.file_name().expect("name"))).expect("copy");
    }
    dir
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The output names (`2026-12-01-launch-today.jpg`) of what the last run
/// in `dir` published.
fn published_outputs(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("out/report.json")).expect("report.json");
    let report: serde_json::Value = serde_json::from_str(&text).expect("report json");
    let mut names: Vec<String> = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["status"] == "published")
        .filter_map(|i| i["output"].as_str())
        .filter_map(|o| Path::new(o).file_name()?.to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// `run job.yaml --today DAY` against the rig; the outputs it published.
fn run_day(rig: &common::Rig, dir: &Path, day: &str) -> Vec<String> {
    let out = rig.run(&["run", &s(&dir.join("job.yaml")), "--today", day]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{day}: {text}");
    published_outputs(dir)
}

/// `daily --feed FEED --template TEMPLATE FLAG VALUE --date DAY` (the
/// cron-line form) against the rig; the outputs it published.
fn daily_day(
    rig: &common::Rig,
    dir: &Path,
    files: [&str; 2],
    flag: [&str; 2],
    day: &str,
) -> Vec<String> {
    let out = rig.run(&[
        "daily",
        "--feed",
        &s(&dir.join(files[0])),
        "--template",
        &s(&dir.join(files[1])),
        flag[0],
        flag[1],
        "--date",
        day,
        "--out",
        &s(&dir.join("out")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{day}: {}", common::text(&out));
    published_outputs(dir)
}

fn day(d: u32) -> String {
    format!("2026-12-{d:02}")
}

#[test]
fn every_example_runs_with_its_own_sandbox_settings() {
    common::shared_cache();
    for (name, today) in [
        ("daily-from-api", "2026-12-01"),
        ("countdown", "2026-12-08"),
        ("cross-post-rss", "2026-12-01"),
        ("menu-rotation", "2026-12-01"),
    ] {
        let dir = example(name);
        // The shipped storyforge.yaml: the built-in sandbox, state beside it.
        let out = common::cli(
            &["run", &s(&dir.path().join("job.yaml")), "--today", today],
            &dir.path().join("storyforge.yaml"),
        );
        let text = common::text(&out);
        assert_eq!(out.status.code(), Some(0), "{name}: {text}");
        assert!(
            text.contains("1 published, 0 already published"),
            "{name}: {text}"
        );
        assert!(dir.path().join("state/storyforge.db").exists(), "{name}");
        let readme = std::fs::read_to_string(common::root().join("docs/automations.md"))
            .expect("docs/automations.md");
        assert!(
            readme.contains(&format!("examples/{name}")),
            "{name} is documented"
        );
    }
}

#[test]
fn cross_post_publishes_the_newest_then_only_new_posts() {
    let rig = common::Rig::start(|_| {});
    let ex = example("cross-post-rss");
    let dir = ex.path();
    // Day 1: the three posts present are the baseline; only the newest
    // (post-41, 30 Nov) goes out.
    let first = run_day(&rig, dir, &day(1));
    assert_eq!(first, ["2026-11-30-our-new-ethiopian-roast.jpg"]);
    assert_eq!(rig.sandbox.published().len(), 1);
    // The same day again: nothing new.
    assert!(run_day(&rig, dir, &day(1)).is_empty());
    assert_eq!(rig.sandbox.published().len(), 1);
    // Day 2: a new post at the top of the feed; only it goes out.
    let feed = dir.join("feed.xml");
    let post = |n: u32, d: u32| {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 12, d).expect("date");
        format!(
            "<item><title>Post {n}</title><link>https://roastery.example/blog/{n}</link><guid isPermaLink=\"false\">post-{n}</guid><description>New.</description><pubDate>{} 08:00:00 +0000</pubDate></item>\n",
            date.format("%a, %d %b %Y")
        )
    };
    let add = |items: &str| {
        let xml = std::fs::read_to_string(&feed).expect("feed");
        std::fs::write(&feed, xml.replacen("<item>", &format!("{items}<item>"), 1)).expect("feed");
    };
    add(&post(42, 2));
    assert_eq!(run_day(&rig, dir, &day(2)), ["2026-12-02-post-42.jpg"]);
    assert_eq!(rig.sandbox.published().len(), 2);
    // Three at once: `max_per_run: 2` takes the two oldest, the third waits.
    add(&format!("{}{}{}", post(45, 5), post(44, 4), post(43, 3)));
    let out = rig.run(&["run", &s(&dir.join("job.yaml")), "--today", &day(5)]);
    let text = common::text(&out);
    assert!(text.contains("1 waiting for the next run"), "{text}");
    assert_eq!(
        published_outputs(dir),
        ["2026-12-03-post-43.jpg", "2026-12-04-post-44.jpg"]
    );
    assert_eq!(run_day(&rig, dir, &day(6)), ["2026-12-05-post-45.jpg"]);
    assert!(run_day(&rig, dir, &day(7)).is_empty());
    assert_eq!(rig.sandbox.published().len(), 5);
}

#[test]
fn a_countdown_publishes_once_a_day_reads_today_and_stops_after_the_event() {
    let rig = common::Rig::start(|_| {});
    let ex = example("countdown");
    let dir = ex.path();
    let mut outputs = Vec::new();
    for d in 7..=12 {
        outputs.push(run_day(&rig, dir, &day(d)));
        // A second run the same day publishes nothing.
        assert!(run_day(&rig, dir, &day(d)).is_empty(), "day {d}");
    }
    let expected: Vec<Vec<String>> = [
        "2026-12-07-launch-3-days-to-go.jpg",
        "2026-12-08-launch-2-days-to-go.jpg",
        "2026-12-09-launch-1-day-to-go.jpg",
        "2026-12-10-launch-today.jpg",
    ]
    .iter()
    .map(|n| vec![n.to_string()])
    .chain([Vec::new(), Vec::new()])
    .collect();
    assert_eq!(outputs, expected);
    assert_eq!(rig.sandbox.published().len(), 4);
}

#[test]
fn a_countdown_from_daily_until_stops_after_the_event() {
    let rig = common::Rig::start(|_| {});
    let ex = example("countdown");
    let dir = ex.path();
    let files = ["events.csv", "countdown.yaml"];
    for d in 9..=11 {
        daily_day(&rig, dir, files, ["--until", "{{event_date}}"], &day(d));
    }
    assert_eq!(rig.sandbox.published().len(), 2);
    assert!(published_outputs(dir).is_empty(), "nothing after the event");
}

#[test]
fn the_menu_rotation_shows_every_dish_once_per_cycle_without_reshuffling() {
    let rig = common::Rig::start(|_| {});
    let ex = example("menu-rotation");
    let dir = ex.path();
    let dish = |names: Vec<String>| -> String {
        assert_eq!(names.len(), 1, "{names:?}");
        // `2026-12-01-flat-white.jpg` → `flat-white`
        names[0][11..names[0].len() - 4].to_string()
    };
    let mut shown = Vec::new();
    for d in 1..=2 {
        shown.push(dish(run_day(&rig, dir, &day(d))));
        assert!(
            run_day(&rig, dir, &day(d)).is_empty(),
            "a rerun publishes nothing new"
        );
    }
    // Mid-cycle a dish is added (at the end of the menu).
    let menu: PathBuf = dir.join("menu.csv");
    let mut csv = std::fs::read_to_string(&menu).expect("menu");
    csv.push_str("babka,Chocolate babka,3.40,Fridays only\n");
    std::fs::write(&menu, csv).expect("menu");
    for d in 3..=7 {
        shown.push(dish(run_day(&rig, dir, &day(d))));
    }
    assert_eq!(
        shown,
        [
            "flat-white",
            "cold-brew",
            "cardamom-bun",
            "pastel",
            "babka",
            // The next cycle starts with the dish shown longest ago.
            "flat-white",
            "cold-brew"
        ]
    );
    assert_eq!(rig.sandbox.published().len(), 7);
}

#[test]
fn the_menu_rotation_from_daily_per_day() {
    let rig = common::Rig::start(|_| {});
    let ex = example("menu-rotation");
    let dir = ex.path();
    let files = ["menu.csv", "dish.yaml"];
    let daily = |d: u32| daily_day(&rig, dir, files, ["--per-day", "2"], &day(d));
    assert_eq!(
        daily(1),
        ["2026-12-01-cold-brew.jpg", "2026-12-01-flat-white.jpg"]
    );
    assert!(daily(1).is_empty(), "the day's picks are kept");
    assert_eq!(
        daily(2),
        ["2026-12-02-cardamom-bun.jpg", "2026-12-02-pastel.jpg"]
    );
    assert_eq!(
        daily(3),
        ["2026-12-03-cold-brew.jpg", "2026-12-03-flat-white.jpg"]
    );
    assert_eq!(rig.sandbox.published().len(), 6);
}

/// A new post whose guid and title are Arabic, Chinese and emoji is a new
/// item like any other: it goes out once, and a rerun publishes nothing.
#[test]
fn a_new_post_in_arabic_chinese_and_emoji_goes_out_once() {
    let rig = common::Rig::start(|_| {});
    let ex = example("cross-post-rss");
    let dir = ex.path();
    assert_eq!(run_day(&rig, dir, &day(1)).len(), 1);
    let feed = dir.join("feed.xml");
    let xml = std::fs::read_to_string(&feed).expect("feed");
    let item = "<item><title>قهوة جديدة 新咖啡 ☕🎉</title><link>https://roastery.example/blog/قهوة</link><guid isPermaLink=\"false\">منشور-٤٢-新</guid><description>محمصة 烘焙</description><pubDate>Wed, 02 Dec 2026 08:00:00 +0000</pubDate></item>\n";
    std::fs::write(&feed, xml.replacen("<item>", &format!("{item}<item>"), 1)).expect("feed");
    let out = rig.run(&["run", &s(&dir.join("job.yaml")), "--today", &day(2)]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 published"), "{text}");
    assert_eq!(rig.sandbox.published().len(), 2, "{text}");
    assert!(run_day(&rig, dir, &day(2)).is_empty());
    assert!(run_day(&rig, dir, &day(3)).is_empty());
    assert_eq!(rig.sandbox.published().len(), 2);
}

/// The project moved after the first run (a new release folder, another
/// mount): the baseline and the published posts are still known, so only
/// the post added since goes out.
#[test]
fn a_moved_cross_post_publishes_only_the_new_post() {
    let rig = common::Rig::start(|_| {});
    let ex = example("cross-post-rss");
    assert_eq!(run_day(&rig, ex.path(), &day(1)).len(), 1);
    let moved = tempfile::tempdir().expect("temp dir");
    let dir = moved.path().join("release-2");
    // Both temp folders are on one file system: a rename is a move.
    std::fs::rename(ex.path(), &dir).expect("move the project");
    assert!(run_day(&rig, &dir, &day(1)).is_empty(), "nothing again");
    let feed = dir.join("feed.xml");
    let xml = std::fs::read_to_string(&feed).expect("feed");
    let item = "<item><title>Post 42</title><link>https://roastery.example/blog/42</link><guid isPermaLink=\"false\">post-42</guid><description>New.</description><pubDate>Wed, 02 Dec 2026 08:00:00 +0000</pubDate></item>\n";
    std::fs::write(&feed, xml.replacen("<item>", &format!("{item}<item>"), 1)).expect("feed");
    assert_eq!(run_day(&rig, &dir, &day(2)), ["2026-12-02-post-42.jpg"]);
    assert_eq!(rig.sandbox.published().len(), 2);
}
