//! Publishing side by side, from the sandbox's own record: two accounts'
//! Stories go out in one tick without one account waiting for the other,
//! an account's Stories keep `publish_spacing` across a tick's entries,
//! one job's Stories publish in their order even when a later container
//! finishes first (its container made while the earlier one processes),
//! and no container is made for a Story that is not due yet.

use std::path::{Path, PathBuf};

use sha2::Digest;
use storyforge::sandbox::{AccountType, SandboxAccount};

use crate::common::{self, text, DEMO_ID};

const B_ID: &str = "17841400000000003";

/// A sandbox with the demo account and account `b`; settings naming both
/// (`demo`, `b`) with `publish_spacing` of `spacing` seconds.
fn two_accounts(
    spacing: &str,
    tune: impl FnOnce(&mut storyforge::sandbox::SandboxConfig),
) -> common::Rig {
    let mut r = common::Rig::start(|c| {
        c.accounts.push(SandboxAccount {
            id: B_ID.into(),
            username: "second_b".into(),
            account_type: AccountType::Business,
            token: "tok-b".into(),
        });
        tune(c);
    });
    let work = r.work.path().to_path_buf();
    std::fs::write(work.join("b.token"), "tok-b").expect("token");
    r.settings(|f| {
        f.graph("publish_spacing", spacing).extra(&format!(
            "  - name: b\n    ig_user_id: \"{B_ID}\"\n    token_file: {}\n",
            work.join("b.token").display()
        ))
    });
    r
}

/// Writes distinct Story JPEGs `first..first + n` into the work folder.
fn stories(work: &Path, first: usize, n: usize) -> Vec<PathBuf> {
    (first..first + n)
        .map(|i| {
            let p = work.join(format!("story-{i}.jpg"));
            std::fs::write(&p, common::jpeg_variant(i)).expect("write story");
            p
        })
        .collect()
}

fn schedule(r: &common::Rig, file: &Path, account: &str, at: &str) {
    let o = r.run(&[
        "schedule",
        "add",
        file.to_str().expect("utf-8 path"),
        "--account",
        account,
        "--at",
        at,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// One tick; it must succeed.
fn tick(r: &common::Rig) -> std::process::Output {
    let out = r.work.path().join("out");
    let tick = r.run(&["tick", "--out", out.to_str().expect("utf-8 path")]);
    assert_eq!(tick.status.code(), Some(0), "{}", text(&tick));
    tick
}

fn sha(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("read")))
}

fn seconds(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .expect("sandbox time")
        .timestamp()
}

#[test]
fn two_accounts_publish_side_by_side_and_each_keeps_its_spacing_in_one_tick() {
    let r = two_accounts("1.1", |_| {});
    let work = r.work.path();
    // Account demo's three entries come first in the schedule, b's last.
    let files = stories(work, 0, 4);
    for f in &files[..3] {
        schedule(&r, f, "demo", "2020-01-01T09:00:00Z");
    }
    schedule(&r, &files[3], "b", "2020-01-01T09:00:00Z");
    let tick = tick(&r);
    let published = r.sandbox.published();
    assert_eq!(published.len(), 4, "{}", text(&tick));
    let demo: Vec<usize> = (0..4)
        .filter(|&i| published[i].account_id == DEMO_ID)
        .collect();
    let b: Vec<usize> = (0..4)
        .filter(|&i| published[i].account_id == B_ID)
        .collect();
    assert_eq!((demo.len(), b.len()), (3, 1));
    // One Story after another would publish b's after all of demo's.
    assert!(
        b[0] < demo[2],
        "account b waited for account demo: publish order {:?}",
        published.iter().map(|p| &p.account_id).collect::<Vec<_>>()
    );
    // demo's three publishes are 1.1 s apart: first and last at least 2 s
    // apart on the sandbox's clock (whole seconds), though all three were
    // due at once and their containers were ready together.
    let (first, last) = (
        seconds(&published[demo[0]].published_at),
        seconds(&published[demo[2]].published_at),
    );
    assert!(
        last - first >= 2,
        "publish_spacing not kept within account demo in one tick: {} then {}",
        published[demo[0]].published_at,
        published[demo[2]].published_at
    );
}

#[test]
fn an_ordered_job_publishes_in_order_when_a_later_container_finishes_first() {
    let work = tempfile::tempdir().expect("work");
    let files = stories(work.path(), 10, 2);
    let (slow, fast) = (sha(&files[0]), sha(&files[1]));
    let r = two_accounts("0", |c| {
        // The first Story's container processes for 1.5 s, the second's 50 ms.
        c.processing_ms_by_url.insert(slow.clone(), 1500);
    });
    let job = work.path().join("job.yaml");
    std::fs::write(
        &job,
        format!(
            "account: demo\njobs:\n  - file: {}\n  - file: {}\n",
            files[0].display(),
            files[1].display()
        ),
    )
    .expect("job");
    let run = r.run(&["run", job.to_str().expect("utf-8 path")]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let published = r.sandbox.published();
    let order: Vec<&str> = published.iter().map(|p| p.media_sha256.as_str()).collect();
    assert_eq!(
        order,
        [slow.as_str(), fast.as_str()],
        "published out of the job's order"
    );
    // Both containers were made before the first publish (pipelined), and
    // the second was FINISHED long before the first.
    let calls = r.sandbox.calls();
    let creates: Vec<u64> = calls
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with(&format!("{DEMO_ID}/media")))
        .map(|c| c.seq)
        .collect();
    let first_publish = calls
        .iter()
        .find(|c| c.path.ends_with("/media_publish"))
        .map(|c| c.seq)
        .expect("a publish call");
    assert_eq!(creates.len(), 2, "one container per Story");
    assert!(
        creates.iter().all(|&s| s < first_publish),
        "containers were not created together: creates {creates:?}, first publish {first_publish}"
    );
    assert!(published[1].processing_ms < published[0].processing_ms);
}

#[test]
fn no_container_is_made_for_a_story_not_yet_due() {
    let r = two_accounts("0", |_| {});
    let work = r.work.path();
    let files = stories(work, 20, 3);
    schedule(&r, &files[0], "demo", "2020-01-01T09:00:00Z");
    schedule(&r, &files[1], "demo", "2099-01-01T09:00:00Z");
    schedule(&r, &files[2], "b", "2099-01-01T09:00:00Z");
    tick(&r);
    let creates: Vec<String> = r
        .sandbox
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/media"))
        .map(|c| c.path)
        .collect();
    assert_eq!(creates.len(), 1, "containers made: {creates:?}");
    let published = r.sandbox.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].media_sha256, sha(&files[0]));
}
