//! Exactly once under SIGKILL: a 30-Story `storyforge publish` run is killed
//! at random points and rerun until it finishes; the sandbox's own record
//! must then hold every Story exactly once, and the ledger the same ids.

use crate::common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use storyforge::ledger::State;
use storyforge::sandbox::{Faults, Sandbox, SandboxConfig};

const STORIES: usize = 30;

crate::both_ledgers! {
fn killed_runs_resume_to_exactly_once(backend) {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    for i in 0..STORIES {
        std::fs::write(
            media.path().join(format!("s{i:02}.jpg")),
            common::jpeg_variant(i),
        )
        .expect("write story");
    }
    let sandbox = Sandbox::start(SandboxConfig {
        media_dir: Some(media.path().to_path_buf()),
        image_processing_ms: 60,
        calls_per_hour: 100_000,
        faults: Faults {
            slow_reply_ms: 15,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .expect("sandbox starts");
    // Short leases: a killed run's claims are free soon after (its
    // heartbeat stops), and each run starts once they are, so it resumes
    // what the run before it left; a live run renews its own every third.
    let config = common::SettingsFile::new(work.path(), &sandbox.base_url())
        .graph("image_poll", "0.03")
        .ledger(&backend.ledger(work.path()))
        .extra("lease: 1\n")
        .write();
    let urls: Vec<String> = (0..STORIES)
        .map(|i| format!("{}/media/s{i:02}.jpg", sandbox.base_url()))
        .collect();
    let run = || {
        common::command()
            .arg("publish")
            .args(&urls)
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start storyforge")
    };
    let mut rng = fastrand::Rng::with_seed(30);
    let mut kills = 0;
    for _ in 0..12 {
        common::wait_for_leases(&config);
        let mut child = run();
        std::thread::sleep(Duration::from_millis(rng.u64(40..700)));
        if child.try_wait().expect("poll").is_none() {
            child.kill().expect("SIGKILL"); // SIGKILL
            kills += 1;
        }
        child.wait().expect("reaped");
    }
    assert!(kills >= 6, "only {kills} runs were killed mid-way");
    let mut finished = false;
    for _ in 0..5 {
        common::wait_for_leases(&config);
        let status = run().wait().expect("run");
        if status.success() {
            finished = true;
            break;
        }
    }
    assert!(finished, "no run finished cleanly");
    let record = sandbox.published();
    let urls_published: BTreeSet<_> = record.iter().map(|r| r.media_url.clone()).collect();
    assert_eq!(urls_published.len(), STORIES, "every Story published");
    assert_eq!(record.len(), STORIES, "no Story published twice");
    let ledger = common::open_ledger(&config);
    let assets = ledger.assets().expect("rows");
    assert_eq!(assets.len(), STORIES);
    assert!(assets.iter().all(|a| a.state == State::Published));
    let sandbox_ids: BTreeSet<_> = record.iter().map(|r| r.media_id.clone()).collect();
    let ledger_ids: BTreeSet<_> = assets.iter().filter_map(|a| a.media_id.clone()).collect();
    assert_eq!(ledger_ids, sandbox_ids);
    // A rerun now is a no-op.
    assert!(run().wait().expect("run").success());
    assert_eq!(sandbox.published().len(), STORIES);
}
}
