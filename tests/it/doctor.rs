//! `doctor` against a healthy set-up (the local store served by the
//! sandbox, a real s3s-fs bucket) and against each broken part: missing
//! bucket, bad token, personal account, unreachable URL, locked ledger,
//! skewed clock; asserting the line each reports.

use crate::common;

use std::path::Path;
use std::time::Duration;

use storyforge::config::Settings;
use storyforge::doctor::{self, Check, DoctorOptions};
use storyforge::ledger::{Ledger, TokenRecord};
use storyforge::sandbox::{Sandbox, SandboxAccount, SandboxConfig};
use storyforge::storage::{AnyStore, S3Store, StorageConfig};

use crate::common::s3::{S3Server, SECRET_KEY};

use crate::common::PERSONAL_ID;

/// Lines with every 64-hex-digit run (content-addressed keys) as `<sha256>`.
fn lines(checks: &[Check]) -> Vec<String> {
    checks.iter().map(|c| normalise(&c.line())).collect()
}

fn normalise(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for ch in s.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_hexdigit() {
            run.push(ch);
            continue;
        }
        if run.len() == 64 {
            out.push_str("<sha256>");
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(ch);
    }
    out.pop();
    out
}

fn has(lines: &[String], want: &str) {
    assert!(
        lines.iter().any(|l| l == want),
        "missing line:\n{want}\nin:\n{}",
        lines.join("\n")
    );
}

struct SetUp {
    sandbox: Sandbox,
    work: tempfile::TempDir,
    media: tempfile::TempDir,
}

fn set_up() -> SetUp {
    let media = tempfile::tempdir().expect("test set-up");
    let sandbox = Sandbox::start(SandboxConfig {
        accounts: vec![SandboxAccount::default(), common::personal_account()],
        media_dir: Some(media.path().to_path_buf()),
        ..SandboxConfig::default()
    })
    .expect("test set-up");
    SetUp {
        sandbox,
        work: tempfile::tempdir().expect("test set-up"),
        media,
    }
}

impl SetUp {
    /// storyforge.yaml with `media_base` serving the local store and one
    /// account whose token file holds `token`.
    fn config(&self, media_base: &str, account: &str, id: &str, token: &str) -> std::path::PathBuf {
        common::SettingsFile::new(self.work.path(), &self.sandbox.base_url())
            .local(self.media.path())
            .storage("base_url", media_base)
            .storage("timeout_seconds", "5")
            .graph("timeout", "5")
            .account(account, id, Some(token))
            .write()
    }

    fn media_base(&self) -> String {
        format!("{}/media/", self.sandbox.base_url())
    }
}

fn opts() -> DoctorOptions {
    DoctorOptions {
        templates: vec![common::root().join("templates")],
        allow_http: None,
        timeout: Duration::from_secs(5),
    }
}

async fn run(config: &Path) -> Vec<Check> {
    let settings = Settings::load(config).expect("test set-up");
    doctor::run(&settings, &opts()).await
}

#[tokio::test]
async fn a_healthy_set_up_passes_every_check() {
    let s = set_up();
    let config = s.config(
        &s.media_base(),
        "demo",
        "17841400000000001",
        "sandbox-token-demo",
    );
    // A login recorded 60 days of life.
    let now = chrono::Utc::now();
    Ledger::open(&s.work.path().join("l.db"))
        .unwrap()
        .set_token(
            "demo",
            &TokenRecord {
                issued_at: Some(now.to_rfc3339()),
                expires_at: Some((now + chrono::Duration::days(60)).to_rfc3339()),
                refreshed_at: None,
            },
        )
        .unwrap();
    let checks = run(&config).await;
    let l = lines(&checks);
    assert!(doctor::all_ok(&checks), "{}", l.join("\n"));
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ffmpeg",
            "fonts",
            "templates",
            "storage",
            "media URL",
            "storage cleanup",
            "ledger",
            "graph",
            "account demo: token",
            "account demo: type",
            "account demo: expiry",
            "account demo: publishing",
            "clock"
        ]
    );
    has(&l, "✓ ffmpeg: H.264 (libx264) and AAC encoders present");
    has(
        &l,
        &format!(
            "✓ storage: local store {}: test object written",
            s.media.path().display()
        ),
    );
    has(&l, "✓ media URL: fetched with Content-Type image/jpeg");
    has(&l, "✓ storage cleanup: test object removed");
    has(&l, "✓ account demo: token: valid for @storyforge_demo");
    has(&l, "✓ account demo: type: BUSINESS");
    has(&l, "✓ account demo: expiry: 60 days left");
    has(
        &l,
        "✓ account demo: publishing: permitted; quota 0 of 50 used in 24 h",
    );
    assert!(l.last().unwrap().starts_with("✓ clock: within "));
    // The test object is gone.
    assert_eq!(std::fs::read_dir(s.media.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_bad_token_is_reported_with_a_fix() {
    let s = set_up();
    let config = s.config(
        &s.media_base(),
        "demo",
        "17841400000000001",
        "bogus-token-xyz",
    );
    let l = lines(&run(&config).await);
    has(
        &l,
        "✗ account demo: token: Graph API error code 190: The access token could not be decrypted — fix: run `storyforge auth login --account demo`",
    );
    assert!(!l.iter().any(|x| x.contains("bogus-token-xyz")));
    assert!(!l.iter().any(|x| x.starts_with("✓ account demo: type")));
}

#[tokio::test]
async fn a_personal_account_is_reported_with_the_reason() {
    let s = set_up();
    let config = s.config(&s.media_base(), "pat", PERSONAL_ID, "tok-personal");
    let l = lines(&run(&config).await);
    has(&l, "✓ account pat: token: valid for @personal_pat");
    has(
        &l,
        &format!(
            "✗ account pat: type: @personal_pat is PERSONAL — fix: {}",
            storyforge::auth::PERSONAL_EXPLANATION
        ),
    );
}

#[tokio::test]
async fn an_unreachable_url_is_reported() {
    let s = set_up();
    let port = common::s3::free_port();
    let base = format!("http://127.0.0.1:{port}/media/");
    let config = s.config(&base, "demo", "17841400000000001", "sandbox-token-demo");
    let l = lines(&run(&config).await);
    has(
        &l,
        &format!(
            "✗ media URL: {base}<sha256>.jpg: could not connect (is the server or the sandbox running?); Instagram could not fetch `<sha256>.jpg` from it (error 9004) — fix: run `storyforge sandbox` (it serves the local store) or fix `storage.base_url`"
        ),
    );
    // The test object is still cleaned up.
    has(&l, "✓ storage cleanup: test object removed");
}

#[tokio::test]
async fn a_locked_ledger_and_a_skewed_clock_are_reported() {
    let s = set_up();
    let db = s.work.path().join("l.db");
    Ledger::open(&db).unwrap();
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let c = doctor::ledger(&db);
    assert!(!c.ok);
    assert!(
        c.line().starts_with(&format!(
            "✗ ledger: {}: locked or unwritable (",
            db.display()
        )),
        "{}",
        c.line()
    );
    holder.execute_batch("ROLLBACK;").unwrap();
    assert!(doctor::ledger(&db).ok);

    let ahead = chrono::Utc::now() + chrono::Duration::minutes(10);
    let c = doctor::clock(&s.sandbox.base_url(), Duration::from_secs(5), ahead).await;
    assert!(!c.ok);
    assert!(c.line().starts_with("✗ clock: +60"), "{}", c.line());
    assert!(c.line().ends_with("s off the server's — fix: synchronise the clock (NTP: `timedatectl set-ntp true`); signatures and schedules depend on it"));
}

async fn s3_store(server: &S3Server, bucket: &str, create: bool) -> AnyStore {
    let config = StorageConfig {
        max_attempts: 1,
        ..server.storage(bucket)
    };
    let creds = crate::common::s3::credentials();
    let store = S3Store::connect(&config, Some(creds))
        .await
        .expect("test set-up");
    if create {
        store.ensure_bucket().await.expect("test set-up");
    }
    AnyStore::S3(store)
}

#[tokio::test]
async fn s3_healthy_then_missing_bucket() {
    let server = S3Server::start();
    let store = s3_store(&server, "stories", true).await;
    let checks = doctor::storage(&store, true, Duration::from_secs(5)).await;
    let l = lines(&checks);
    assert_eq!(
        l,
        [
            "✓ storage: s3://stories/: test object written",
            "✓ media URL: fetched with Content-Type image/jpeg",
            "✓ storage cleanup: test object removed",
        ]
    );
    assert!(!l.join("\n").contains(SECRET_KEY));

    let missing = s3_store(&server, "no-such-bucket", false).await;
    let l = lines(&doctor::storage(&missing, true, Duration::from_secs(5)).await);
    assert_eq!(
        l,
        ["✗ storage: s3 bucket `no-such-bucket` does not exist at this endpoint/region (NoSuchBucket) while uploading `<sha256>.jpg`; create it or fix `bucket` — fix: create the bucket `no-such-bucket` (or fix `storage.bucket`/`storage.endpoint`)"]
    );
}

#[test]
fn the_command_exits_1_and_speaks_json() {
    let s = set_up();
    let config = s.config(&s.media_base(), "pat", PERSONAL_ID, "tok-personal");
    let run = |json: bool| {
        let mut c = common::command();
        c.arg("doctor").arg("--config").arg(&config);
        c.arg("--templates").arg(common::root().join("templates"));
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let plain = run(false);
    assert_eq!(plain.status.code(), Some(1));
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("✗ account pat: type: @personal_pat is PERSONAL — fix: Personal accounts cannot use the Instagram Graph API.")),
        "{text}"
    );
    assert!(
        text.contains("✓ account pat: token: valid for @personal_pat"),
        "{text}"
    );
    assert!(!text.contains("tok-personal"));
    let json = run(true);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let failed: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["account pat: type"]);
}

/// With no config (the embedded defaults) the doctor names the Graph API it
/// checks and says plainly that nothing can publish and how the built-in
/// sandbox is chosen; with `graph.base_url: sandbox` it says no live API is
/// checked.
#[test]
fn the_graph_line_names_what_the_defaults_use() {
    let defaults = Settings::default();
    let line = doctor::graph_target(&defaults).line();
    assert_eq!(
        line,
        "✗ graph: https://graph.instagram.com (`graph.base_url`), with no accounts: nothing can publish, so only the clock is checked against it — fix: add an account (`storyforge auth login`, then `accounts:` in storyforge.yaml), or set `graph.base_url: sandbox` to publish to the built-in sandbox"
    );
    let mut sandbox = Settings::default();
    sandbox.graph.base_url = storyforge::config::BUILTIN_SANDBOX.into();
    let line = doctor::graph_target(&sandbox).line();
    assert!(
        line.starts_with("✓ graph: the built-in sandbox (`graph.base_url: sandbox`)"),
        "{line}"
    );
}
