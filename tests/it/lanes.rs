//! Publishing side by side, from the sandbox's own record: two accounts'
//! Stories go out in one tick without one account waiting for the other,
//! an account's Stories keep `publish_spacing` across a tick's entries,
//! one job's Stories publish in their order even when a later container
//! finishes first (its container made while the earlier one processes),
//! and no container is made for a Story that is not due yet; two processes
//! on one account keep its spacing between them, and `publish FILE…`
//! pipelines its files' containers and publishes them in the order given.

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

crate::both_ledgers! {
fn two_processes_keep_an_accounts_spacing_between_them(backend) {
    let mut r = two_accounts("1.1", |_| {});
    let work = r.work.path().to_path_buf();
    r.settings(|f| f.graph("publish_spacing", "1.1").ledger(&backend.ledger(&work)));
    let files = stories(&work, 30, 4);
    // Two `publish` commands at once on one account, two Stories each.
    let runs: Vec<std::process::Child> = files
        .chunks(2)
        .map(|pair| {
            let args: Vec<&str> = pair.iter().map(|p| p.to_str().expect("utf-8 path")).collect();
            r.spawn(&[&["publish"][..], &args].concat())
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().expect("publish ran");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let mut at: Vec<i64> = r
        .sandbox
        .published()
        .iter()
        .map(|p| seconds(&p.published_at))
        .collect();
    assert_eq!(at.len(), 4);
    at.sort_unstable();
    // Four publishes 1.1 s apart span at least 3.3 s (3 whole seconds on
    // the sandbox's clock); spaced only within each process they would
    // span about 1.1 s.
    assert!(
        at[3] - at[0] >= 3,
        "publish_spacing not kept between two processes on one account: {at:?}"
    );
}
}

#[test]
fn publish_makes_the_containers_of_its_files_together_and_publishes_them_in_order() {
    let work = tempfile::tempdir().expect("work");
    let files = stories(work.path(), 40, 3);
    let first = sha(&files[0]);
    let r = two_accounts("0", |c| {
        // The first file's container processes for 1.5 s, the others' 50 ms.
        c.processing_ms_by_url.insert(first.clone(), 1500);
    });
    let args: Vec<&str> = files
        .iter()
        .map(|p| p.to_str().expect("utf-8 path"))
        .collect();
    let out = r.run(&[&["publish"][..], &args].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let order: Vec<String> = r
        .sandbox
        .published()
        .iter()
        .map(|p| p.media_sha256.clone())
        .collect();
    let given: Vec<String> = files.iter().map(|f| sha(f)).collect();
    assert_eq!(order, given, "published out of the order given");
    let calls = r.sandbox.calls();
    let creates = calls
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with(&format!("{DEMO_ID}/media")))
        .count();
    let first_publish = calls
        .iter()
        .position(|c| c.path.ends_with("/media_publish"))
        .expect("a publish call");
    let created_before = calls[..first_publish]
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with(&format!("{DEMO_ID}/media")))
        .count();
    assert_eq!(creates, 3, "one container per file");
    assert_eq!(
        created_before, 3,
        "the files' containers were made one after another, not together"
    );
}
