//! Template variants and the insights report, end to end: `storyforge run`
//! assigns variants evenly and a rerun keeps them (the ledger's record and
//! the rendered pixels say so); `storyforge insights report` over a seeded
//! ledger gives the numbers a computation here gives.

use std::path::Path;

use serde_json::Value;
use storyforge::ledger::Ledger;

use crate::common::{self, Rig};

/// A template with two variants: B colours the band red and moves it up.
const TEMPLATE: &str = r##"name: promo
output: "promo-{{id}}.jpg"
background:
  color: "#ffffff"
layers:
  - rect:
      name: band
      box: {x: 0, y: 900, w: 1080, h: 200}
      color: "#1040c0"
  - text:
      name: headline
      content: "{{headline}} {{id}}"
      size: 60
      box: {x: 90, y: 400, w: 900, h: 200}
      color: "#000000"
variables:
  headline: "Fresh today"
variants:
  - name: A
  - name: B
    variables: {headline: "Only today"}
    layers:
      band: {color: "#d02020", box.y: 700}
"##;

fn feed(dir: &Path, rows: usize) {
    let mut csv = String::from("id\n");
    for i in 1..=rows {
        csv.push_str(&format!("p{i}\n"));
    }
    std::fs::write(dir.join("feed.csv"), csv).expect("write feed");
}

fn variants(rig: &Rig) -> Vec<(String, String)> {
    let ledger = Ledger::open(&rig.work.path().join("l.db")).expect("ledger");
    let mut v: Vec<(String, String)> = ledger
        .recorded_variants("demo")
        .expect("variants")
        .into_iter()
        .map(|(id, v)| (id.rsplit("key:").next().unwrap_or("").to_string(), v))
        .collect();
    v.sort();
    v
}

/// The band's colour in a rendered Story at height `y`.
fn pixel(path: &Path, y: u32) -> [u8; 3] {
    image::open(path)
        .expect("rendered story")
        .to_rgb8()
        .get_pixel(540, y)
        .0
}

#[test]
fn variants_alternate_evenly_and_survive_reruns() {
    let rig = Rig::start(|_| {});
    let dir = rig.work.path();
    std::fs::write(dir.join("promo.yaml"), TEMPLATE).expect("write template");
    feed(dir, 6);
    let job = dir.join("job.yaml");
    std::fs::write(
        &job,
        "account: demo\nout: out\njobs:\n  - {template: promo.yaml, feed: feed.csv, key: id}\n",
    )
    .expect("write job");
    let job = job.display().to_string();
    let first = rig.run(&["run", &job]);
    common::expect_exit(&first, 0);
    assert_eq!(rig.sandbox.published().len(), 6);
    let seen = variants(&rig);
    let want: Vec<(String, String)> = (1..=6)
        .map(|i| {
            (
                format!("id=p{i}"),
                if i % 2 == 1 { "A" } else { "B" }.to_string(),
            )
        })
        .collect();
    assert_eq!(seen, want);
    // The variant is drawn: B's band is red and higher, A's blue.
    let a = pixel(&dir.join("out/promo-p1.jpg"), 1000);
    let b = pixel(&dir.join("out/promo-p2.jpg"), 800);
    assert!(a[2] > 150 && a[0] < 60, "A's band {a:?}");
    assert!(b[0] > 150 && b[2] < 80, "B's band {b:?}");
    assert!(
        pixel(&dir.join("out/promo-p2.jpg"), 1050)[0] > 230,
        "B's band moved"
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/report.json")).expect("report.json"),
    )
    .expect("report parses");
    let sources: Vec<&str> = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["source"].as_str())
        .collect();
    assert!(
        sources
            .iter()
            .any(|s| s.ends_with("promo.yaml row 2 · variant B")),
        "{sources:?}"
    );

    // A rerun publishes nothing and flips nothing.
    common::expect_exit(&rig.run(&["run", &job]), 0);
    assert_eq!(rig.sandbox.published().len(), 6);
    assert_eq!(variants(&rig), want);

    // Two new rows carry on the alternation: 4 and 4, the old ones kept.
    feed(dir, 8);
    common::expect_exit(&rig.run(&["run", &job]), 0);
    assert_eq!(rig.sandbox.published().len(), 8);
    let after = variants(&rig);
    assert_eq!(&after[..6], &want[..]);
    let count = |v: &str| after.iter().filter(|(_, x)| x == v).count();
    assert_eq!((count("A"), count("B")), (4, 4), "{after:?}");
}

#[test]
fn a_variant_naming_a_missing_layer_is_refused_with_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = TEMPLATE.replace("band: {color", "bnad: {color");
    let e = common::load_error(dir.path(), &bad);
    assert!(e.contains("t.yaml"), "{e}");
    assert!(
        e.contains("variant `B`: no layer named `bnad` (layers: band, headline)"),
        "{e}"
    );
}

/// One seeded Story: template, variant, hour (UTC) it went out, reach,
/// views, exits, taps forward, replies, shares.
pub struct Seeded {
    pub template: &'static str,
    pub variant: Option<&'static str>,
    pub at: chrono::DateTime<chrono::Utc>,
    pub reach: i64,
    pub views: i64,
    pub exits: i64,
    pub forward: i64,
    pub replies: i64,
    pub shares: i64,
}

/// 40 Stories each of product-card A (27 % exits) and B (18 % exits),
/// 5 of menu (too few), published over the last days at varied hours.
pub fn seed_set() -> Vec<Seeded> {
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for i in 0..40i64 {
        for (variant, exit_pct) in [("A", 27), ("B", 18)] {
            let views = 400 + 100 * (i % 3);
            out.push(Seeded {
                template: "product-card",
                variant: Some(variant),
                at: now - chrono::Duration::hours(2 + i * 5),
                reach: 250 + (i * 37) % 200,
                views,
                exits: views * exit_pct / 100,
                forward: views / 2,
                replies: i % 4,
                shares: i % 3,
            });
        }
    }
    for i in 0..5 {
        out.push(Seeded {
            template: "menu",
            variant: None,
            at: now - chrono::Duration::hours(3 + i),
            reach: 900 + i,
            views: 1000,
            exits: 100,
            forward: 300,
            replies: 1,
            shares: 1,
        });
    }
    out
}

/// Writes `set` into the ledger at `path` as published Stories with insights.
pub fn seed(path: &Path, set: &[Seeded]) {
    drop(Ledger::open(path).expect("ledger schema"));
    let mut db = rusqlite::Connection::open(path).expect("open ledger");
    let tx = db.transaction().expect("transaction");
    for (i, s) in set.iter().enumerate() {
        let at = s.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let media = format!("1790{i:08}");
        tx.execute(
            "INSERT INTO stories (account, identity, generation, content_hash, kind, source, media_id, state, created_at, updated_at, published_at, template, variant)
             VALUES ('demo', ?1, 0, ?2, 'image', 'seeded', ?3, 'published', ?4, ?4, ?4, ?5, ?6)",
            rusqlite::params![format!("seed:{i}"), format!("{i:064}"), media, at, s.template, s.variant],
        )
        .expect("insert story");
        let metrics = serde_json::json!({
            "reach": s.reach, "views": s.views, "replies": s.replies, "shares": s.shares,
            "navigation": s.exits + s.forward,
            "navigation_breakdown": {"tap_exit": s.exits, "tap_forward": s.forward},
        });
        tx.execute(
            "INSERT INTO insights (media_id, account, collected_at, metrics) VALUES (?1, 'demo', ?2, ?3)",
            rusqlite::params![media, at, metrics.to_string()],
        )
        .expect("insert insights");
    }
    tx.commit().expect("commit");
}

pub fn median(mut v: Vec<i64>) -> f64 {
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    }
}

/// The row of `template`/`variant` in a JSON report.
pub fn row<'a>(report: &'a Value, template: &str, variant: Option<&str>) -> &'a Value {
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["template"] == template && r["variant"].as_str() == variant)
        .unwrap_or_else(|| panic!("no row {template}/{variant:?} in {report}"))
}

#[test]
fn the_report_matches_a_computation_on_seeded_insights() {
    let rig = Rig::start(|_| {});
    let set = seed_set();
    seed(&rig.work.path().join("l.db"), &set);
    let out = rig.run(&["insights", "report", "--json", "--since", "30d"]);
    common::expect_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["stories"], set.len());
    for variant in ["A", "B"] {
        let mine: Vec<&Seeded> = set.iter().filter(|s| s.variant == Some(variant)).collect();
        let r = row(&report, "product-card", Some(variant));
        assert_eq!(r["stories"], 40);
        assert_eq!(r["low_data"], false);
        let reach = median(mine.iter().map(|s| s.reach).collect());
        assert_eq!(r["median_reach"].as_f64(), Some(reach), "{r}");
        assert_eq!(
            r["median_views"].as_f64(),
            Some(median(mine.iter().map(|s| s.views).collect()))
        );
        let exit = mine.iter().map(|s| s.exits).sum::<i64>() as f64
            / mine.iter().map(|s| s.views).sum::<i64>() as f64;
        let got = r["exit_rate"].as_f64().expect("exit rate");
        assert!((got - exit).abs() < 1e-12, "{got} vs {exit}");
        let (lo, hi) = (
            r["exit_rate_interval"]["low"].as_f64().unwrap(),
            r["exit_rate_interval"]["high"].as_f64().unwrap(),
        );
        assert!(lo < exit && exit < hi && hi - lo < 0.05, "{lo}–{hi}");
        let fwd = mine.iter().map(|s| s.forward).sum::<i64>() as f64
            / mine.iter().map(|s| s.views).sum::<i64>() as f64;
        assert!((r["forward_rate"].as_f64().unwrap() - fwd).abs() < 1e-12);
        let replies = mine.iter().map(|s| s.replies).sum::<i64>() as f64 * 1000.0
            / mine.iter().map(|s| s.reach).sum::<i64>() as f64;
        assert!((r["replies_per_1000"].as_f64().unwrap() - replies).abs() < 1e-9);
        let ri = &r["median_reach_interval"];
        assert!(ri["low"].as_f64().unwrap() <= reach && reach <= ri["high"].as_f64().unwrap());
    }
    let whole = row(&report, "product-card", None);
    assert_eq!(whole["stories"], 80);
    assert_eq!(row(&report, "menu", None)["low_data"], true);
    let findings: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        findings.contains(
            &"variant B of product-card: exit rate 18 % vs 27 % for A over 40 Stories each"
        ),
        "{findings:?}"
    );
    assert!(findings.iter().all(|f| !f.contains("menu")), "{findings:?}");
    // Hours in UTC: every Story in a weekday × hour cell.
    let cells: u64 = report["hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["stories"].as_u64().unwrap())
        .sum();
    assert_eq!(cells, set.len() as u64);

    // Text says "not enough data" for the small group; CSV has a line per row.
    let text = common::text(&rig.run(&["insights", "report"]));
    assert!(text.contains("not enough data (5 of 10 Stories)"), "{text}");
    let csv = rig.run(&["insights", "report", "--csv"]);
    let csv = String::from_utf8_lossy(&csv.stdout).into_owned();
    assert!(
        csv.starts_with("template,variant,stories,median_reach,"),
        "{csv}"
    );
    assert_eq!(
        csv.lines().count(),
        1 + report["rows"].as_array().unwrap().len()
    );
    // --since narrows: the last 12 hours hold only a few Stories.
    let recent = rig.run(&["insights", "report", "--json", "--since", "12h"]);
    let recent: Value = serde_json::from_slice(&recent.stdout).expect("JSON");
    let within = set
        .iter()
        .filter(|s| s.at > chrono::Utc::now() - chrono::Duration::hours(12))
        .count();
    assert_eq!(recent["stories"], within);
    let bad = rig.run(&["insights", "report", "--since", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "{}", common::text(&bad));
}

#[test]
fn daily_stories_alternate_variants_day_by_day() {
    let rig = Rig::start(|_| {});
    let dir = rig.work.path();
    std::fs::write(dir.join("promo.yaml"), TEMPLATE).expect("write template");
    feed(dir, 4);
    let (t, f) = (dir.join("promo.yaml"), dir.join("feed.csv"));
    let (t, f) = (t.to_str().expect("path"), f.to_str().expect("path"));
    for day in ["2026-12-08", "2026-12-09", "2026-12-10"] {
        let out = dir.join(format!("out-{day}"));
        let o = rig.run(&[
            "daily",
            "--feed",
            f,
            "--template",
            t,
            "--date",
            day,
            "--out",
            out.to_str().expect("path"),
        ]);
        common::expect_exit(&o, 0);
    }
    assert_eq!(rig.sandbox.published().len(), 3);
    // One Story a day, each the next variant in turn (not the row's place).
    let mut by_day: Vec<String> = Ledger::open(&dir.join("l.db"))
        .expect("ledger")
        .recorded_variants("demo")
        .expect("variants")
        .into_iter()
        .map(|(id, v)| format!("{} {v}", id.split('|').next().unwrap_or("")))
        .collect();
    by_day.sort();
    assert_eq!(
        by_day,
        ["day:2026-12-08 A", "day:2026-12-09 B", "day:2026-12-10 A"]
    );
}
