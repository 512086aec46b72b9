//! Upgrading publishes nothing again: a ledger written by the release
//! before relative, column-keyed identities (fixtures/ledgers/README.md)
//! is opened by this one, which keeps a copy of it first and adopts each
//! row when the demo job is run again; the sandbox records no publish.

use crate::common::{self, text, Rig};

#[test]
fn a_ledger_of_the_previous_release_upgrades_and_the_demo_job_publishes_nothing() {
    let r = Rig::start(|c| c.calls_per_hour = 1_000_000);
    let root = common::root();
    let root = root.canonicalize().expect("root");
    let db = r.work.path().join("l.db");
    std::fs::copy(root.join("fixtures/ledgers/before-identities.db"), &db).expect("fixture");
    let conn = rusqlite::Connection::open(&db).expect("sqlite");
    for col in ["identity", "source", "output_path"] {
        conn.execute(
            &format!(
                "UPDATE stories SET {col} = replace(replace({col}, '@ROOT@', ?1), '@WORK@', ?2)"
            ),
            [
                root.display().to_string(),
                r.work.path().display().to_string(),
            ],
        )
        .expect("paths of this checkout");
    }
    drop(conn);
    // The demo job's entries, writing into the test's folder.
    let entries: String = [
        ("daily-update.yaml", "daily-update.csv"),
        ("event-countdown.yaml", "event-countdown.yaml"),
        ("photo-story.yaml", "photo-story.yaml"),
        ("product-card.yaml", "product-card.json"),
        ("quote-card.yaml", "quote-card.csv"),
        ("menu-rtl.yaml", "menu-rtl.csv"),
    ]
    .iter()
    .map(|(t, f)| {
        format!(
            "  - template: {}\n    feed: {}\n",
            root.join("templates").join(t).display(),
            root.join("fixtures/feeds").join(f).display()
        )
    })
    .chain(
        ["portrait.mov", "rotated.mp4"]
            .iter()
            .filter(|_| cfg!(feature = "video"))
            .map(|v| {
                format!(
                    "  - videos: {}\n",
                    root.join("fixtures/video").join(v).display()
                )
            }),
    )
    .collect();
    let all = if cfg!(feature = "video") { 18 } else { 16 };
    let job = r.work.path().join("job.yaml");
    std::fs::write(&job, format!("out: out\njobs:\n{entries}")).expect("job");
    let run = r.run(&["run", job.to_str().expect("utf-8"), "--today", "2026-12-07"]);
    let t = text(&run);
    assert!(run.status.success(), "{t}");
    assert!(
        t.contains(&format!("0 published, {all} already published")),
        "{t}"
    );
    assert!(
        r.sandbox.published().is_empty(),
        "nothing published again: {t}"
    );
    assert!(
        r.work.path().join("l.db.before-upgrade").exists(),
        "a copy from before the upgrade is kept"
    );
    // Adopted: the rows now carry the new identities, and a second run
    // finds them without the old names.
    let again = r.run(&["run", job.to_str().expect("utf-8"), "--today", "2026-12-07"]);
    assert!(
        text(&again).contains(&format!("0 published, {all} already published")),
        "{}",
        text(&again)
    );
    assert!(r.sandbox.published().is_empty());
}
