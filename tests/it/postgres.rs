//! The shared ledger on Postgres beyond the exactly-once tests (which run
//! on both ledgers): its password never shown, migrations applied once by
//! processes opening a new ledger at once, `storyforge ledger migrate`
//! moving a SQLite ledger over without publishing anything again, and TLS
//! to a server that demands it, its certificate checked.

use std::path::Path;

use crate::common::{self, cli, pg, text};
use storyforge::ledger::Ledger;
use storyforge::sandbox::{Sandbox, SandboxConfig};

#[test]
fn a_wrong_password_is_never_shown() {
    let db = pg::fresh_database();
    let secret = "wrong-pass-5be1c0de";
    let url = db.replacen("://storyforge@", &format!("://storyforge:{secret}@"), 1);
    assert_ne!(url, db, "the test server's URL names its user");
    let err = Ledger::open(Path::new(&url))
        .err()
        .expect("a wrong password is refused")
        .to_string();
    assert!(!err.contains(secret), "{err}");
    assert!(err.contains("password"), "says what is wrong: {err}");
    // Through the CLI too, from the settings file, for `ledger` and `doctor`.
    let work = tempfile::tempdir().expect("tempdir");
    let config = common::SettingsFile::new(work.path(), "http://127.0.0.1:9")
        .ledger(&url)
        .write();
    for args in [&["ledger"][..], &["doctor"][..]] {
        let out = cli(args, &config);
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(!t.contains(secret), "{args:?} shows the password: {t}");
        assert!(t.contains("storyforge:***@"), "{args:?}: {t}");
    }
}

#[test]
fn processes_opening_a_new_ledger_at_once_apply_its_migrations_once() {
    let url = pg::fresh_database();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || Ledger::open(Path::new(&url)).map(|l| l.assets()))
        })
        .collect();
    for o in opened {
        let rows = o.join().expect("thread").expect("opens").expect("reads");
        assert!(rows.is_empty());
    }
    let counted = std::process::Command::new("psql")
        .arg(&url)
        .args(["-At", "-c", "SELECT COUNT(*) FROM schema_migrations"])
        .output()
        .expect("psql");
    // Each migration in the repository, once.
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations")
        .count();
    assert_eq!(
        String::from_utf8_lossy(&counted.stdout).trim(),
        migrations.to_string(),
        "{}",
        String::from_utf8_lossy(&counted.stderr)
    );
}

#[test]
fn a_migrated_sqlite_ledger_publishes_nothing_again_on_postgres() {
    let media = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let files: Vec<String> = (0..3)
        .map(|i| {
            let p = work.path().join(format!("s{i}.jpg"));
            std::fs::write(&p, common::jpeg_variant(i)).expect("write");
            p.display().to_string()
        })
        .collect();
    let sb = Sandbox::start(SandboxConfig {
        media_dir: Some(media.path().to_path_buf()),
        image_processing_ms: 30,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let config = common::fast_settings(work.path(), media.path(), &sb.base_url(), "");
    let mut args = vec!["publish"];
    args.extend(files.iter().map(String::as_str));
    let first = cli(&args, &config);
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(sb.published().len(), 3);
    let url = pg::fresh_database();
    let moved = cli(&["ledger", "migrate", "--to", &url], &config);
    let t = text(&moved);
    assert!(moved.status.success(), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("stories") && l.contains(" 3 rows")),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l.starts_with("containers_made") && l.contains(" 3 rows")),
        "{t}"
    );
    // A second copy into the same ledger is refused: it is not empty.
    let again = cli(&["ledger", "migrate", "--to", &url], &config);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("only into an empty ledger"),
        "{}",
        text(&again)
    );
    // The same job on the Postgres ledger: nothing published again.
    let settings = std::fs::read_to_string(&config).expect("read");
    let db = work.path().join("l.db").display().to_string();
    std::fs::write(&config, settings.replace(&db, &url)).expect("write");
    let rerun = cli(&args, &config);
    let t = text(&rerun);
    assert!(rerun.status.success(), "{t}");
    assert_eq!(t.matches("already published as media").count(), 3, "{t}");
    assert_eq!(sb.published().len(), 3, "nothing published again");
    let sqlite = Ledger::open(&work.path().join("l.db"))
        .expect("sqlite")
        .assets()
        .expect("rows");
    let shared = common::open_ledger(&config).assets().expect("rows");
    assert_eq!(sqlite, shared, "every row as it was, ids too");
    // A new Story gets a new id after the copied ones.
    let p = work.path().join("s9.jpg");
    std::fs::write(&p, common::jpeg_variant(9)).expect("write");
    let new = cli(&["publish", p.to_str().expect("utf-8")], &config);
    assert!(new.status.success(), "{}", text(&new));
    let rows = common::open_ledger(&config).assets().expect("rows");
    assert_eq!(rows.last().map(|r| r.id), Some(4));
}

#[test]
fn the_ledger_speaks_tls_to_a_server_that_demands_it_and_checks_its_certificate() {
    // Role `tls_only` may connect only over TLS (scripts/test-postgres.sh).
    let db = pg::fresh_database();
    let name = db.rsplit('/').next().expect("a database name").to_string();
    let secret = "tls-only-pw-8c1f";
    pg::admin(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tls_only') THEN CREATE ROLE tls_only LOGIN PASSWORD '{secret}'; END IF; END $$; ALTER DATABASE {name} OWNER TO tls_only"
    ));
    let url = db.replacen("://storyforge@", "://tls_only@", 1);
    assert_ne!(url, db, "the test server's URL names its user");
    let ca = pg::server_ca();
    let sandbox = Sandbox::start(SandboxConfig::default()).expect("sandbox");
    let work = tempfile::tempdir().expect("tempdir");
    let ledger_cmd = |ledger: &str| {
        let config = common::SettingsFile::new(work.path(), &sandbox.base_url())
            .ledger(ledger)
            .write();
        common::command()
            .arg("ledger")
            .arg("--config")
            .arg(&config)
            .env("PGPASSWORD", secret)
            .output()
            .expect("run storyforge")
    };
    // Plain: the server refuses this role.
    let plain = ledger_cmd(&url);
    let t = text(&plain);
    assert!(!plain.status.success(), "connected without TLS: {t}");
    assert!(t.contains("pg_hba.conf"), "the server's refusal: {t}");
    // TLS, but the server's certificate is signed by a CA no system root knows.
    let untrusted = ledger_cmd(&format!("{url}?sslmode=require"));
    let t = text(&untrusted);
    assert!(
        !untrusted.status.success(),
        "an untrusted certificate was accepted: {t}"
    );
    assert!(
        t.contains("certificate") && t.contains("sslrootcert"),
        "says what to do: {t}"
    );
    // TLS with the server's CA: connected, migrations applied, over TLS only.
    let tls = ledger_cmd(&format!(
        "{url}?sslmode=verify-full&sslrootcert={}",
        ca.display()
    ));
    let t = text(&tls);
    assert!(tls.status.success(), "{t}");
    for out in [&plain, &untrusted, &tls] {
        assert!(
            !text(out).contains(secret),
            "the password shown: {}",
            text(out)
        );
    }
    let with_pw = url.replacen("://tls_only@", &format!("://tls_only:{secret}@"), 1);
    let opened = Ledger::open(Path::new(&format!(
        "{with_pw}?sslmode=require&sslrootcert={}",
        ca.display()
    )))
    .expect("the library connects over TLS too");
    assert!(opened.schedule().expect("the ledger's tables").is_empty());
}
