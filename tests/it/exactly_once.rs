//! Exactly once across processes and reruns, counted from the sandbox's own
//! record: several `storyforge` processes on one ledger with faults on, a
//! claim left by a SIGKILLed process, reruns whose bytes changed, and every
//! path that leaves a publish unsure.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{cli, fast_settings, fast_settings_on, jpeg_variant, spawn, text};
use storyforge::ledger::{Ledger, State};
use storyforge::sandbox::{Faults, Sandbox, SandboxConfig};

fn sandbox(media: &Path, image_ms: u64, faults: Faults) -> Sandbox {
    Sandbox::start(SandboxConfig {
        media_dir: Some(media.to_path_buf()),
        image_processing_ms: image_ms,
        calls_per_hour: 1_000_000,
        quota_total: 1000,
        faults,
        ..SandboxConfig::default()
    })
    .expect("sandbox starts")
}

/// `n` distinct Story files in `dir`.
fn stories(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("s{i:02}.jpg"));
            std::fs::write(&p, jpeg_variant(i)).expect("write story");
            p
        })
        .collect()
}

/// Publishes per media (sha256 of the bytes Instagram fetched).
fn per_media(sandbox: &Sandbox) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in sandbox.published() {
        *m.entry(r.media_sha256.clone()).or_insert(0) += 1;
    }
    m
}

fn container_creates(sandbox: &Sandbox) -> usize {
    sandbox
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/media") && c.status == 200)
        .count()
}

crate::both_ledgers! {
fn three_processes_on_one_ledger_publish_each_story_once(backend) {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let files = stories(work.path(), 12);
    let sb = sandbox(
        media.path(),
        80,
        Faults {
            transient_errors: 4,
            drop_publish_reply: 3,
            spurious_9007: 3,
            slow_reply_ms: 10,
            ..Faults::default()
        },
    );
    let config = fast_settings_on(backend, work.path(), media.path(), &sb.base_url(), "");
    let args: Vec<&str> = std::iter::once("publish")
        .chain(files.iter().map(|p| p.to_str().expect("utf-8 path")))
        .collect();
    // A job file naming the same files: `run` and `publish` agree on what a file Story is.
    let job = work.path().join("job.yaml");
    let entries: String = files
        .iter()
        .map(|p| format!("  - file: {}\n", p.display()))
        .collect();
    std::fs::write(&job, format!("out: out\njobs:\n{entries}")).expect("write job");
    let children = vec![
        spawn(&args, &config),
        spawn(&args, &config),
        spawn(&["run", job.to_str().expect("utf-8")], &config),
    ];
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let all: String = outputs.iter().map(text).collect();
    // Whatever was in progress elsewhere when a process met it is done now.
    let last = cli(&args, &config);
    let counts = per_media(&sb);
    assert_eq!(
        counts.len(),
        files.len(),
        "every Story published: {all}{}",
        text(&last)
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "a Story published twice: {counts:?}\n{all}"
    );
    assert!(last.status.success(), "{}", text(&last));
    let ledger = common::open_ledger(&config);
    let rows = ledger.assets().expect("rows");
    assert_eq!(rows.len(), files.len(), "one row per file Story");
    assert!(rows
        .iter()
        .all(|r| r.state == State::Published && r.owner.is_none()));
    let ids: std::collections::BTreeSet<_> =
        rows.iter().filter_map(|r| r.media_id.clone()).collect();
    let sandbox_ids: std::collections::BTreeSet<_> =
        sb.published().into_iter().map(|r| r.media_id).collect();
    assert!(ids.is_subset(&sandbox_ids), "only real ids recorded");
    assert!(
        all.contains("in progress in another run") || all.contains("already published"),
        "the processes met each other's claims: {all}"
    );
}}

crate::both_ledgers! {
fn a_sigkilled_claim_is_taken_over_and_resumed_from_its_container(backend) {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let files = stories(work.path(), 1);
    // The container stays IN_PROGRESS long enough to kill the run in its poll.
    let sb = sandbox(media.path(), 4000, Faults::default());
    let config = fast_settings_on(backend, work.path(), media.path(), &sb.base_url(), "lease: 2\n");
    let file = files[0].to_str().expect("utf-8");
    let mut child = spawn(&["publish", file], &config);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ledger = common::open_ledger(&config);
    let container = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no container was made"
        );
        std::thread::sleep(Duration::from_millis(50));
        if let Some(row) = ledger.assets().ok().and_then(|r| r.into_iter().next()) {
            if let (State::Container, Some(c)) = (row.state, row.container_id) {
                assert!(row.owner.is_some(), "the running process holds a claim");
                break c;
            }
        }
    };
    child.kill().expect("SIGKILL"); // the claim (2 s lease) stays behind
    child.wait().expect("reaped");
    // While its lease runs, the claim is live: a run now leaves it alone.
    let busy = cli(&["publish", file], &config);
    let row = ledger.assets().expect("rows").remove(0);
    let lease_left = row
        .lease_until
        .as_deref()
        .and_then(storyforge::ledger::parse_time)
        .is_some_and(|l| l > chrono::Utc::now());
    if lease_left {
        assert!(
            text(&busy).contains("in progress in another run"),
            "{}",
            text(&busy)
        );
    }
    // Once its lease has run out (nobody renews it), it is taken over and
    // resumed from its container.
    common::wait_for_leases(&config);
    let again = cli(&["publish", file], &config);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(sb.published().len(), 1);
    assert_eq!(
        container_creates(&sb),
        1,
        "resumed from its container, no new one"
    );
    let row = ledger.assets().expect("rows").remove(0);
    assert_eq!(row.container_id.as_deref(), Some(container.as_str()));
    assert_eq!(row.state, State::Published);
}
}

crate::both_ledgers! {
fn a_rerun_whose_bytes_changed_publishes_nothing_unless_asked(backend) {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let sb = sandbox(media.path(), 30, Faults::default());
    let config = fast_settings_on(backend, work.path(), media.path(), &sb.base_url(), "");
    let root = common::root();
    let job = work.path().join("job.yaml");
    std::fs::write(
        &job,
        format!(
            "out: out\njobs:\n  - template: {}\n    feed: {}\n    rows: [1]\n",
            root.join("templates/event-countdown.yaml").display(),
            root.join("fixtures/feeds/event-countdown.yaml").display()
        ),
    )
    .expect("write job");
    let run = |today: &str, extra: &[&str]| {
        let mut args = vec!["run", job.to_str().expect("utf-8"), "--today", today];
        args.extend_from_slice(extra);
        cli(&args, &config)
    };
    let first = run("2026-11-29", &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(sb.published().len(), 1);
    // The countdown shows another number the next day: other bytes, same Story.
    let next_day = run("2026-11-30", &[]);
    let t = text(&next_day);
    assert!(next_day.status.success(), "{t}");
    assert!(
        t.contains("already published; content changed since"),
        "{t}"
    );
    assert!(t.contains("0 published, 1 already published"), "{t}");
    assert_eq!(sb.published().len(), 1, "nothing new published");
    // Same inputs again: plainly already published, nothing rendered.
    let same = run("2026-11-30", &["--json"]);
    let report: serde_json::Value = serde_json::from_slice(&same.stdout).expect("json report");
    assert_eq!(report["items"][0]["status"], "already_published");
    // Asked for: published once more, once.
    let again = run("2026-11-30", &["--republish"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(sb.published().len(), 2);
    let ledger = common::open_ledger(&config);
    let gens: Vec<i64> = ledger
        .assets()
        .expect("rows")
        .iter()
        .map(|r| r.generation)
        .collect();
    assert_eq!(gens, [0, 1]);
    // A ready file whose bytes changed is the same Story too.
    let file = work.path().join("story.jpg");
    std::fs::write(&file, jpeg_variant(1)).expect("write");
    let f = file.to_str().expect("utf-8");
    assert!(cli(&["publish", f], &config).status.success());
    std::fs::write(&file, jpeg_variant(2)).expect("rewrite");
    let changed = cli(&["publish", f], &config);
    assert!(
        text(&changed).contains("content changed since"),
        "{}",
        text(&changed)
    );
    assert_eq!(sb.published().len(), 3);
    // The same bytes under another name within 24 h: said, not published.
    let copy = work.path().join("copy.jpg");
    std::fs::write(&copy, jpeg_variant(1)).expect("copy of the published bytes");
    let dup = cli(&["publish", copy.to_str().expect("utf-8")], &config);
    let t = text(&dup);
    assert!(t.contains("the same bytes were published as"), "{t}");
    assert!(t.contains("--republish"), "{t}");
    assert_eq!(sb.published().len(), 3);
}}

/// One file published with `faults` armed; the command's output and the ledger row.
fn publish_with(
    backend: common::pg::Backend,
    faults: Faults,
) -> (
    Sandbox,
    PathBuf,
    std::process::Output,
    String,
    tempfile::TempDir,
    tempfile::TempDir,
) {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let files = stories(work.path(), 1);
    let sb = sandbox(media.path(), 30, Faults::default());
    let config = fast_settings_on(backend, work.path(), media.path(), &sb.base_url(), "");
    sb.set_faults(faults);
    let file = files[0].display().to_string();
    let out = cli(&["publish", &file], &config);
    (sb, config, out, file, media, work)
}

fn only_row(config: &Path) -> storyforge::ledger::Asset {
    common::open_ledger(config)
        .assets()
        .expect("rows")
        .remove(0)
}

crate::both_ledgers! {
fn a_lost_reply_whose_status_cannot_be_read_is_unsure_then_settled_by_the_container(backend) {
    let (sb, config, out, file, _m, _w) = publish_with(backend, Faults {
        drop_publish_reply: 1,
        status_read_error: 1,
        ..Faults::default()
    });
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("unsure"), "{t}");
    let row = only_row(&config);
    assert_eq!(row.state, State::Unsure, "never failed: {row:?}");
    let listed = cli(&["ledger"], &config);
    let lt = text(&listed);
    assert!(
        lt.contains(&format!(
            "storyforge ledger settle {} --published MEDIA_ID",
            row.id
        )),
        "{lt}"
    );
    assert_eq!(sb.published().len(), 1);
    // The next run asks the container again: PUBLISHED, with the one unknown live Story's id.
    let again = cli(&["publish", &file], &config);
    assert!(again.status.success(), "{}", text(&again));
    let row = only_row(&config);
    assert_eq!(row.state, State::Published);
    assert_eq!(row.media_id, Some(sb.published()[0].media_id.clone()));
    assert_eq!(sb.published().len(), 1, "no second Story");
    assert_eq!(container_creates(&sb), 1);
}}

crate::both_ledgers! {
fn a_published_container_answering_24_is_never_replaced_without_evidence(backend) {
    let (sb, config, out, file, _m, _w) = publish_with(backend, Faults {
        drop_publish_reply: 1,
        published_container_gone: 100,
        ..Faults::default()
    });
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let row = only_row(&config);
    assert_eq!(row.state, State::Unsure, "{t}");
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or("")
            .contains("went live since"),
        "{row:?}"
    );
    assert_eq!(
        container_creates(&sb),
        1,
        "no new container: a Story went live since"
    );
    assert_eq!(sb.published().len(), 1);
    // A rerun still cannot tell (24 again): it stays unsure and makes nothing.
    let again = cli(&["publish", &file], &config);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert_eq!(container_creates(&sb), 1);
    // A person settles it; another id is refused, the right one is recorded.
    let media = sb.published()[0].media_id.clone();
    let id = row.id.to_string();
    let settled = cli(&["ledger", "settle", &id, "--published", &media], &config);
    assert!(settled.status.success(), "{}", text(&settled));
    let done = cli(&["publish", &file], &config);
    assert!(
        text(&done).contains("already published as media"),
        "{}",
        text(&done)
    );
    assert_eq!(sb.published().len(), 1);
}}

crate::both_ledgers! {
fn an_already_published_reply_is_published_with_its_id(backend) {
    let (sb, config, out, _file, _m, _w) = publish_with(backend, Faults {
        already_published_reply: 1,
        ..Faults::default()
    });
    assert!(out.status.success(), "{}", text(&out));
    let row = only_row(&config);
    assert_eq!(row.state, State::Published);
    assert_eq!(row.media_id, Some(sb.published()[0].media_id.clone()));
    assert_eq!(container_creates(&sb), 1);
    assert_eq!(sb.published().len(), 1);
}}

#[test]
fn a_relative_ledger_is_beside_the_settings_file() {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let sb = sandbox(media.path(), 30, Faults::default());
    let config = fast_settings(work.path(), media.path(), &sb.base_url(), "");
    let text_cfg = std::fs::read_to_string(&config).expect("read");
    let db = work.path().join("l.db").display().to_string();
    std::fs::write(&config, text_cfg.replace(&db, "rel.db")).expect("write");
    let files = stories(work.path(), 1);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = common::command()
        .current_dir(elsewhere.path())
        .args(["publish", files[0].to_str().expect("utf-8"), "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        work.path().join("rel.db").exists(),
        "ledger beside the settings"
    );
    assert!(!elsewhere.path().join("rel.db").exists());
    assert!(
        text(&out).contains(&format!("ledger {}", work.path().join("rel.db").display())),
        "{}",
        text(&out)
    );
}

#[test]
fn the_401st_container_of_a_day_is_deferred() {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let sb = sandbox(media.path(), 30, Faults::default());
    let config = fast_settings(work.path(), media.path(), &sb.base_url(), "");
    let db = work.path().join("l.db");
    drop(Ledger::open(&db).expect("create ledger"));
    let conn = rusqlite::Connection::open(&db).expect("sqlite");
    let made = chrono::Utc::now() - chrono::Duration::hours(1);
    for _ in 0..400 {
        conn.execute(
            "INSERT INTO containers_made (account, created_at) VALUES ('demo', ?1)",
            [made.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)],
        )
        .expect("insert");
    }
    let files = stories(work.path(), 1);
    let out = cli(&["publish", files[0].to_str().expect("utf-8")], &config);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("deferred: 400 containers made in the last 24 h"),
        "{t}"
    );
    assert_eq!(container_creates(&sb), 0, "the 401st was not made");
}

crate::both_ledgers! {
fn lost_publish_replies_from_two_processes_all_get_the_servers_media_ids(backend) {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let files = stories(work.path(), 6);
    // Half the publishes go live and lose their reply.
    let sb = sandbox(
        media.path(),
        30,
        Faults {
            drop_publish_reply: 3,
            ..Faults::default()
        },
    );
    let config = fast_settings_on(backend, work.path(), media.path(), &sb.base_url(), "");
    let args: Vec<&str> = std::iter::once("publish")
        .chain(files.iter().map(|p| p.to_str().expect("utf-8 path")))
        .collect();
    let children = vec![spawn(&args, &config), spawn(&args, &config)];
    let all: String = children
        .into_iter()
        .map(|c| text(&c.wait_with_output().expect("wait")))
        .collect();
    assert_eq!(
        sb.faults().drop_publish_reply,
        0,
        "replies were lost: {all}"
    );
    // A later run publishes what was busy elsewhere; every id is known by
    // then, without `ledger settle`.
    let later = cli(&args, &config);
    let said = text(&later);
    assert!(later.status.success(), "{said}");
    let published = sb.published();
    assert_eq!(published.len(), files.len(), "each Story once: {all}");
    let ledger = common::open_ledger(&config);
    let rows = ledger.assets().expect("rows");
    assert_eq!(rows.len(), files.len());
    // Each lost reply's publish window is its own (one publish at a time
    // per account, the next sent only after the last lost window's end):
    // no tie, every Story has the server's id, none twice.
    let mut ids = std::collections::BTreeSet::new();
    for r in &rows {
        assert_eq!(r.state, State::Published, "{r:?}");
        let server = published
            .iter()
            .find(|p| Some(&p.container_id) == r.container_id.as_ref())
            .unwrap_or_else(|| panic!("the server published row {}'s container", r.id));
        assert_eq!(
            r.media_id.as_deref(),
            Some(server.media_id.as_str()),
            "row {} has the server's id\n{said}\n{all}",
            r.id
        );
        assert!(ids.insert(server.media_id.clone()), "an id twice");
    }
    let settle = cli(&["ledger", "settle"], &config);
    let said = text(&settle);
    assert!(
        settle.status.success() && said.contains(", 0 still unknown"),
        "{said}"
    );
    assert!(!said.contains("id(s) still unknown"), "{said}");
}}

/// Three processes on one host (so one host name; in containers each
/// could be pid 1 as well: neither counts, owners are random ids) share a
/// Postgres ledger. Containers take longer to process than a claim's
/// lease, so only the heartbeat keeps each claim: still every Story goes
/// out once, and no process takes over a claim whose owner is alive.
#[test]
fn three_processes_sharing_a_host_on_postgres_never_take_over_a_live_claim() {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let files = stories(work.path(), 9);
    let sb = sandbox(
        media.path(),
        3000,
        Faults {
            transient_errors: 3,
            slow_reply_ms: 10,
            ..Faults::default()
        },
    );
    let config = fast_settings_on(
        common::pg::Backend::Postgres,
        work.path(),
        media.path(),
        &sb.base_url(),
        "lease: 2\n",
    );
    let args: Vec<&str> = ["publish", "-v"]
        .into_iter()
        .chain(files.iter().map(|p| p.to_str().expect("utf-8 path")))
        .collect();
    let children: Vec<_> = (0..3).map(|_| spawn(&args, &config)).collect();
    let all: String = children
        .into_iter()
        .map(|c| text(&c.wait_with_output().expect("wait")))
        .collect();
    assert!(
        !all.contains("taken over"),
        "a live claim was taken over:\n{all}"
    );
    assert!(
        all.contains("in progress in another run"),
        "the processes met each other's claims: {all}"
    );
    let last = cli(&args, &config);
    assert!(last.status.success(), "{}", text(&last));
    let counts = per_media(&sb);
    assert_eq!(counts.len(), files.len(), "every Story published: {all}");
    assert!(
        counts.values().all(|&n| n == 1),
        "a Story published twice: {counts:?}\n{all}"
    );
    assert_eq!(container_creates(&sb), files.len(), "no container wasted");
    let rows = common::open_ledger(&config).assets().expect("rows");
    assert!(rows
        .iter()
        .all(|r| r.state == State::Published && r.owner.is_none()));
}
