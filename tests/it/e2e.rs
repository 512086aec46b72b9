//! The whole product: fixtures → render and transcode → validate → the real
//! S3-compatible server (s3s-fs, presigned URLs) → the sandbox Graph API →
//! the ledger holds one media id per Story; a run killed half-way resumes to
//! the same end state, and a further run is a no-op.

use crate::common;

use std::collections::BTreeSet;
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::common::s3::{S3Server, ACCESS_KEY, SECRET_KEY};
use storyforge::ledger::{Ledger, State};
use storyforge::sandbox::{Sandbox, SandboxConfig};
use storyforge::storage::S3Store;

const BUCKET: &str = "e2e-stories";

#[test]
fn job_to_published_stories_through_real_s3_and_the_sandbox() {
    let s3 = S3Server::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let storage = s3.storage(BUCKET);
    rt.block_on(async {
        let creds = crate::common::s3::credentials();
        let store = S3Store::connect(&storage, Some(creds)).await.unwrap();
        store.ensure_bucket().await.unwrap();
    });
    let sandbox = Sandbox::start(SandboxConfig {
        image_processing_ms: 100,
        video_processing_ms: 300,
        ..SandboxConfig::default()
    })
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let root = common::root();
    let job = work.path().join("job.yaml");
    std::fs::write(
        &job,
        format!(
            "out: {out}\njobs:\n  - template: {r}/templates/quote-card.yaml\n    feed: {r}/fixtures/feeds/quote-card.csv\n  - template: {r}/templates/product-card.yaml\n    feed: {r}/fixtures/feeds/product-card.json\n  - videos: {r}/fixtures/bad/ok-video.mp4\n",
            out = work.path().join("out").display(),
            r = root.display()
        ),
    )
    .unwrap();
    let db = work.path().join("l.db");
    let config = common::SettingsFile::new(work.path(), &sandbox.base_url())
        .s3(BUCKET, &s3.endpoint(), "e2e/")
        .graph("publish_spacing", "0.05")
        .graph("video_poll", "0.1")
        // A killed run's claims hold until their lease runs out (1 s here).
        .extra("lease: 1\n")
        .write();
    let command = || {
        let mut c = common::command();
        c.args([
            "run",
            "--preset",
            "ultrafast",
            "--today",
            "2026-11-29",
            "--json",
        ])
        .arg(&job)
        .arg("--config")
        .arg(&config)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE");
        c
    };
    // Killed half-way (after the first Stories are out, before the last).
    let mut child = command()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sandbox.published().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = sandbox.published().len();
    assert!(before >= 2, "the first run published {before}");
    common::wait_for_leases(&config);
    let finish: Output = command().output().unwrap();
    let stderr = String::from_utf8_lossy(&finish.stderr);
    // The report says which item failed and why.
    assert_eq!(
        finish.status.code(),
        Some(0),
        "{stderr}\n{}",
        String::from_utf8_lossy(&finish.stdout)
    );
    assert!(!stderr.contains(SECRET_KEY) && !stderr.contains("sandbox-token-demo"));
    let report: serde_json::Value = serde_json::from_slice(&finish.stdout).unwrap();
    let stories = 3 + 3 + 1;
    assert_eq!(
        report["items"].as_array().unwrap().len(),
        stories,
        "{report:#}"
    );
    assert_eq!(report["failed"], 0, "{report:#}");
    // Presigned S3 URLs were what Instagram (the sandbox) fetched.
    let record = sandbox.published();
    assert_eq!(record.len(), stories, "exactly once");
    assert!(
        record
            .iter()
            .all(|r| r.media_url.contains("X-Amz-Signature")),
        "{record:?}"
    );
    let urls: BTreeSet<_> = record.iter().map(|r| r.media_sha256.clone()).collect();
    assert_eq!(urls.len(), stories);
    let ledger = Ledger::open(&db).unwrap();
    let assets = ledger.assets().unwrap();
    assert_eq!(assets.len(), stories);
    assert!(assets
        .iter()
        .all(|a| a.state == State::Published && a.media_id.is_some()));
    let ids: BTreeSet<_> = assets.iter().filter_map(|a| a.media_id.clone()).collect();
    let sandbox_ids: BTreeSet<_> = record.iter().map(|r| r.media_id.clone()).collect();
    assert_eq!(ids, sandbox_ids);
    assert!(work.path().join("out/report.html").is_file());
    // The ledger keeps the object key, never a URL signature.
    assert!(assets
        .iter()
        .all(|a| a.object_key.is_some() && !a.url.as_deref().unwrap_or("").contains("X-Amz")));
    // A second and a third run are no-ops that render and transcode nothing.
    let outputs = |dir: &std::path::Path| -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x == "jpg" || x == "mp4")
            })
            .map(|e| (e.path(), e.metadata().unwrap().modified().unwrap()))
            .collect();
        v.sort();
        v
    };
    let written = outputs(&work.path().join("out"));
    assert_eq!(written.len(), stories, "{written:?}");
    for _ in 0..2 {
        let again = command().output().unwrap();
        assert_eq!(again.status.code(), Some(0));
        let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!(
            (report["published"].as_u64(), report["already"].as_u64()),
            (Some(0), Some(stories as u64)),
            "{report:#}"
        );
        assert_eq!(sandbox.published().len(), stories);
        assert_eq!(
            outputs(&work.path().join("out")),
            written,
            "nothing rendered or transcoded again"
        );
    }
}
