//! Exactly once means each Story the user meant, once: identities follow
//! what the user meant (a feed row's key column, never its position; a
//! feed's whole URL; paths relative to the project), versions are reported
//! or published as the job says, a republish is bound to what asked for
//! it, and no signature is stored or shown. Real `storyforge` processes
//! against the sandbox, publishes counted from the sandbox's own record.

use std::path::{Path, PathBuf};

use crate::common::{self, cli, text, Rig};
use storyforge::ledger::Ledger;

/// A template reading `title` and `price` (when the row has one).
const CARD: &str = r##"name: card
output: "{{title | slug}}.jpg"
background:
  gradient:
    angle: 90
    stops: ["#fdfbfb", "#ebedee"]
layers:
  - text:
      name: title
      content: "{{title}} {{price | default: ''}}"
      font: {family: Lato}
      size: 60
      box: {x: 100, y: 800, w: 880, h: 300}
      color: "#222222"
"##;

/// A project folder: `card.yaml`, a feed file and `job.yaml` naming them
/// relatively, with `entry` added to the job entry.
fn project(dir: &Path, feed_name: &str, feed: &str, entry: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("project dir");
    std::fs::write(dir.join("card.yaml"), CARD).expect("template");
    std::fs::write(dir.join(feed_name), feed).expect("feed");
    let job = dir.join("job.yaml");
    std::fs::write(
        &job,
        format!("out: out\njobs:\n  - template: card.yaml\n    feed: {feed_name}\n{entry}"),
    )
    .expect("job");
    job
}

fn run(r: &Rig, job: &Path, extra: &[&str]) -> (std::process::Output, String) {
    let mut args = vec!["run", job.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    let out = r.run(&args);
    let t = text(&out);
    (out, t)
}

fn rss(posts: &[u32]) -> String {
    let items: String = posts
        .iter()
        .map(|n| {
            format!(
                "<item><title>Post {n}</title><link>https://blog.example/{n}</link><description>Post number {n}.</description></item>"
            )
        })
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Blog</title>{items}</channel></rss>")
}

#[test]
fn a_new_post_at_the_top_of_a_feed_is_the_only_one_published() {
    let r = Rig::start(|_| {});
    let dir = r.work.path().join("blog");
    let job = project(&dir, "blog.xml", &rss(&[3, 2, 1]), "");
    let (first, t) = run(&r, &job, &[]);
    assert!(first.status.success(), "{t}");
    assert_eq!(r.sandbox.published().len(), 3, "{t}");
    // Post 4 appears at the top: every row moves down one place.
    std::fs::write(dir.join("blog.xml"), rss(&[4, 3, 2, 1])).expect("feed");
    let (second, t) = run(&r, &job, &[]);
    assert!(second.status.success(), "{t}");
    assert!(t.contains("1 published, 3 already published"), "{t}");
    assert!(
        !t.contains("changed since"),
        "no row is a changed version: {t}"
    );
    assert_eq!(r.sandbox.published().len(), 4, "only post 4: {t}");
}

#[test]
fn a_changed_price_is_reported_or_published_once_per_version() {
    let r = Rig::start(|_| {});
    let dir = r.work.path().join("shop");
    let feed = |price: &str| format!("sku,title,price\nA1,Latte,{price}\nB2,Mocha,4.00\n");
    let job = project(&dir, "products.csv", &feed("3.50"), "");
    let (first, t) = run(&r, &job, &[]);
    assert!(first.status.success(), "{t}");
    assert_eq!(r.sandbox.published().len(), 2, "{t}");
    // `on_change: report` (the default): nothing published, the change named.
    std::fs::write(dir.join("products.csv"), feed("3.90")).expect("feed");
    let (report, t) = run(&r, &job, &[]);
    assert!(report.status.success(), "{t}");
    assert!(t.contains("content changed since: price"), "{t}");
    assert!(t.contains("1 changed since published"), "{t}");
    assert_eq!(
        r.sandbox.published().len(),
        2,
        "reported, not published: {t}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&run(&r, &job, &["--json"]).0.stdout).expect("json report");
    let changed: Vec<_> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["changed"] == serde_json::json!(["price"]))
        .collect();
    assert_eq!(changed.len(), 1, "{json}");
    // `on_change: publish`: the new version once, then nothing.
    let job = project(
        &dir,
        "products.csv",
        &feed("3.90"),
        "    on_change: publish\n",
    );
    let (publish, t) = run(&r, &job, &[]);
    assert!(publish.status.success(), "{t}");
    assert!(t.contains("1 published, 1 already published"), "{t}");
    assert_eq!(r.sandbox.published().len(), 3, "{t}");
    let (third, t) = run(&r, &job, &[]);
    assert!(third.status.success(), "{t}");
    assert_eq!(
        r.sandbox.published().len(),
        3,
        "a third run publishes nothing: {t}"
    );
    // `--publish-changed` does the same for one run of a `report` job.
    std::fs::write(dir.join("products.csv"), feed("4.10")).expect("feed");
    let job = project(&dir, "products.csv", &feed("4.10"), "");
    let (once, t) = run(&r, &job, &["--publish-changed"]);
    assert!(once.status.success(), "{t}");
    assert_eq!(r.sandbox.published().len(), 4, "{t}");
}

/// Serves `/products.csv`: Berlin's or Paris's rows by `?store=`.
fn serve_stores() -> String {
    use axum::extract::Query;
    use axum::http::header;
    common::serve_loopback(|_| {
        axum::Router::new().route(
            "/products.csv",
            axum::routing::get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    let store = q.get("store").cloned().unwrap_or_default();
                    (
                        [(header::CONTENT_TYPE, "text/csv")],
                        format!("sku,title\nA1,Latte in {store}\nB2,Mocha in {store}\n"),
                    )
                },
            ),
        )
    })
}

#[test]
fn two_feeds_that_differ_only_by_query_are_two_sets_of_stories() {
    let r = Rig::start(|_| {});
    let base = serve_stores();
    let dir = r.work.path().join("stores");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("card.yaml"), CARD).expect("template");
    let job = dir.join("job.yaml");
    std::fs::write(
        &job,
        format!(
            "out: out\njobs:\n  - template: card.yaml\n    feed: \"{base}/products.csv?store=berlin&api_key=FEEDSECRET1\"\n  - template: card.yaml\n    feed: \"{base}/products.csv?store=paris&api_key=FEEDSECRET2\"\n"
        ),
    )
    .expect("job");
    let cache = r.work.path().join("cache");
    let go = || {
        common::command()
            .env("STORYFORGE_CACHE", &cache)
            .args(["run", job.to_str().expect("utf-8"), "--config"])
            .arg(&r.config)
            .output()
            .expect("run")
    };
    let first = go();
    let t = text(&first);
    assert!(first.status.success(), "{t}");
    assert_eq!(r.sandbox.published().len(), 4, "two Stories per store: {t}");
    let again = go();
    assert!(
        text(&again).contains("0 published, 4 already published"),
        "{}",
        text(&again)
    );
    assert_eq!(r.sandbox.published().len(), 4);
    // The feed's API key is neither stored nor shown.
    for place in [t, text(&again), ledger_bytes(r.work.path())] {
        assert!(!place.contains("FEEDSECRET"), "{place}");
    }
    let identities: Vec<String> = Ledger::open(&r.work.path().join("l.db"))
        .expect("ledger")
        .assets()
        .expect("rows")
        .into_iter()
        .map(|a| a.identity)
        .collect();
    assert!(
        identities.iter().any(|i| i.contains("store=berlin"))
            && identities.iter().any(|i| i.contains("store=paris")),
        "{identities:?}"
    );
}

/// The ledger's files (database, WAL) as text, for searching.
fn ledger_bytes(work: &Path) -> String {
    ["l.db", "l.db-wal"]
        .iter()
        .filter_map(|f| std::fs::read(work.join(f)).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

#[test]
fn a_duplicate_key_is_an_error_naming_both_rows_and_the_rest_go_on() {
    let r = Rig::start(|_| {});
    let dir = r.work.path().join("dup");
    let job = project(
        &dir,
        "products.csv",
        "sku,title\nA1,Latte\nB2,Mocha\nA1,Flat white\n",
        "",
    );
    let (out, t) = run(&r, &job, &[]);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("products.csv row 3 (line 4) has the same key (sku A1) as row 1 (line 2)"),
        "{t}"
    );
    assert!(t.contains("2 published"), "{t}");
    assert_eq!(r.sandbox.published().len(), 2, "{t}");
}

#[test]
fn a_moved_or_symlinked_project_publishes_nothing_again() {
    let r = Rig::start(|_| {});
    let releases = r.work.path().join("releases");
    let first_dir = releases.join("1");
    let job = project(
        &first_dir,
        "products.csv",
        "sku,title\nA1,Latte\nB2,Mocha\n",
        "",
    );
    let (first, t) = run(&r, &job, &[]);
    assert!(first.status.success(), "{t}");
    assert_eq!(r.sandbox.published().len(), 2, "{t}");
    // Moved elsewhere, and run through a `current -> releases/2` link.
    let moved = releases.join("2");
    std::fs::rename(&first_dir, &moved).expect("move the project");
    let current = r.work.path().join("current");
    std::os::unix::fs::symlink(&moved, &current).expect("symlink");
    for job in [moved.join("job.yaml"), current.join("job.yaml")] {
        let (again, t) = run(&r, &job, &[]);
        assert!(again.status.success(), "{t}");
        assert!(t.contains("0 published, 2 already published"), "{t}");
    }
    assert_eq!(r.sandbox.published().len(), 2, "nothing published again");
}

#[test]
fn a_republish_entry_run_again_after_a_crash_publishes_once() {
    let r = Rig::start(|_| {});
    let story = r.work.path().join("story.jpg");
    std::fs::write(&story, common::jpeg_variant(7)).expect("story");
    let s = story.to_str().expect("utf-8");
    assert!(r.run(&["publish", s]).status.success());
    assert_eq!(r.sandbox.published().len(), 1);
    let add = r.run(&[
        "schedule",
        "add",
        s,
        "--at",
        "2020-01-01T09:00:00Z",
        "--republish",
    ]);
    assert!(add.status.success(), "{}", text(&add));
    let out = r.work.path().join("out");
    let tick = r.run(&["tick", "--out", out.to_str().expect("utf-8")]);
    assert!(tick.status.success(), "{}", text(&tick));
    assert_eq!(
        r.sandbox.published().len(),
        2,
        "the asked-for republish: {}",
        text(&tick)
    );
    // A tick that died after the publish, before marking the entry done:
    // the entry is `running` under a dead owner, and recovered as due.
    let conn = rusqlite::Connection::open(r.work.path().join("l.db")).expect("sqlite");
    conn.execute(
        "UPDATE schedule SET state = 'running', owner = 'gone-host/4000000/x', running_since = '2020-01-01T09:00:00.000Z', result = NULL",
        [],
    )
    .expect("simulate the crash");
    drop(conn);
    let again = r.run(&["tick", "--out", out.to_str().expect("utf-8")]);
    assert!(again.status.success(), "{}", text(&again));
    let list = text(&r.run(&["schedule", "list"]));
    assert!(list.contains(" done "), "the entry ran again: {list}");
    assert_eq!(
        r.sandbox.published().len(),
        2,
        "one publish for the entry: {}",
        text(&again)
    );
}

#[test]
fn a_presigned_url_leaves_no_signature_in_the_ledger_or_its_listings() {
    let r = Rig::start(|_| {});
    std::fs::write(r.media.path().join("signed.jpg"), common::jpeg_variant(11)).expect("media");
    let url = format!(
        "{}/media/signed.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIACREDSECRET%2F20261207&X-Amz-Signature=SIGSECRET123",
        r.sandbox.base_url()
    );
    let out = r.run(&["publish", &url]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(r.sandbox.published().len(), 1, "{t}");
    let listed = r.run(&["ledger"]);
    let json = r.run(&["ledger", "--json"]);
    for place in [t, text(&listed), text(&json), ledger_bytes(r.work.path())] {
        assert!(!place.contains("SIGSECRET123"), "{place}");
        assert!(!place.contains("AKIACREDSECRET"), "{place}");
    }
    // Published again with a new signature: the same Story.
    let resigned = url.replace("SIGSECRET123", "SIGSECRET456");
    let again = r.run(&["publish", &resigned]);
    assert!(
        text(&again).contains("already published"),
        "{}",
        text(&again)
    );
    assert_eq!(r.sandbox.published().len(), 1);
    assert!(!cli(&["ledger", "--json"], &r.config)
        .stdout
        .windows(9)
        .any(|w| w == b"SIGSECRET"));
}

#[test]
fn an_unsure_story_whose_container_expires_a_day_later_stays_unsure() {
    use storyforge::ledger::State;
    use storyforge::sandbox::Faults;
    let r = Rig::start(|c| c.calls_per_hour = 1_000_000);
    let story = r.work.path().join("story.jpg");
    std::fs::write(&story, common::jpeg_variant(21)).expect("story");
    let s = story.to_str().expect("utf-8");
    // The publish reply is lost and the container's status cannot be read.
    r.sandbox.set_faults(Faults {
        drop_publish_reply: 1,
        status_read_error: 1,
        ..Faults::default()
    });
    let first = r.run(&["publish", s]);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    assert_eq!(r.sandbox.published().len(), 1);
    // 25 h later by Instagram's clock: the container answers EXPIRED and
    // `/stories` (the last 24 h) no longer lists the Story.
    r.sandbox.set_faults(Faults {
        published_containers_expire: true,
        ..Faults::default()
    });
    r.sandbox
        .advance_clock(std::time::Duration::from_secs(25 * 3600));
    let later = r.run(&["publish", s]);
    let t = text(&later);
    assert_eq!(later.status.code(), Some(1), "still unsure: {t}");
    assert!(t.contains("Story archive"), "{t}");
    let creates = r
        .sandbox
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/media") && c.status == 200)
        .count();
    assert_eq!(creates, 1, "no new container: {t}");
    assert_eq!(r.sandbox.published().len(), 1, "never published twice: {t}");
    let row = Ledger::open(&r.work.path().join("l.db"))
        .expect("ledger")
        .assets()
        .expect("rows")
        .remove(0);
    assert_eq!(row.state, State::Unsure, "{row:?}");
    assert!(
        row.publish_server_at.is_some(),
        "the attempt by the server's clock: {row:?}"
    );
}

#[test]
fn two_entries_of_one_template_never_write_over_each_others_stories() {
    let r = Rig::start(|_| {});
    let dir = r.work.path().join("two");
    // The same template (default output names: card-ROW.jpg) over two feeds.
    let job = project(&dir, "a.csv", "sku,title\na1,Apples\na2,Pears\n", "");
    std::fs::write(
        dir.join("card.yaml"),
        CARD.replace("output: \"{{title | slug}}.jpg\"\n", ""),
    )
    .expect("a template without output");
    std::fs::write(dir.join("b.csv"), "sku,title\nb1,Plums\n").expect("feed");
    let text_of_job = std::fs::read_to_string(&job).expect("job");
    std::fs::write(
        &job,
        format!("{text_of_job}  - template: card.yaml\n    feed: b.csv\n"),
    )
    .expect("job");
    let (out, t) = run(&r, &job, &[]);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(r.sandbox.published().len(), 3, "{t}");
    let mut files: Vec<String> = std::fs::read_dir(dir.join("out"))
        .expect("out")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "a Story was written over: {files:?}");
    // Three different Stories went out (not one file published twice).
    let shas: std::collections::BTreeSet<String> = r
        .sandbox
        .published()
        .into_iter()
        .map(|p| p.media_sha256)
        .collect();
    assert_eq!(shas.len(), 3);
    assert!(
        t.contains("is already used in this run; wrote"),
        "warned by name: {t}"
    );
}
