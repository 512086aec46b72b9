//! The Postgres side of the tests: a server from `$STORYFORGE_TEST_PG`
//! (`make test` starts one with scripts/test-postgres.sh and sets it, with
//! PGPASSWORD), one database per test so tests stay parallel, and
//! [`Backend`] to run a test body on both ledgers.

use std::path::Path;
use std::sync::OnceLock;

/// The variable naming the test server (`postgres://USER@HOST:PORT`).
pub const ENV: &str = "STORYFORGE_TEST_PG";

/// The server's URL, without a database. Without `$STORYFORGE_TEST_PG`
/// this FAILS in CI, and elsewhere starts a server of its own (stopped when
/// the test binary ends) when Postgres is installed: never a silent skip.
pub fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var(ENV) {
            if !url.is_empty() {
                return url.trim_end_matches('/').to_string();
            }
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{ENV} is not set: the Postgres ledger tests need a server; run them through `make test` \
             (scripts/test-postgres.sh run cargo test …)"
        );
        let dir = std::env::temp_dir().join(format!(
            "storyforge-test-pg-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        let out = std::process::Command::new(super::root().join("scripts/test-postgres.sh"))
            .arg("start")
            .arg(&dir)
            .arg(std::process::id().to_string())
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run scripts/test-postgres.sh");
        assert!(
            out.status.success(),
            "{ENV} is not set and no Postgres server could be started here (install Debian's postgresql: scripts/install-test-deps.sh)"
        );
        let pw = std::fs::read_to_string(dir.join("pw")).expect("the server's password file");
        // Before any other thread reads the environment: the first use.
        std::env::set_var("PGPASSWORD", pw.trim());
        std::env::set_var(CA_ENV, dir.join("tls/ca.crt"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// The variable naming the CA file that signed the test server's TLS
/// certificate (scripts/test-postgres.sh makes both).
pub const CA_ENV: &str = "STORYFORGE_TEST_PG_CA";

/// The CA file of the test server's certificate.
pub fn server_ca() -> std::path::PathBuf {
    server_url();
    std::path::PathBuf::from(std::env::var(CA_ENV).unwrap_or_else(|_| {
        panic!("{CA_ENV} is not set: run the tests through `make test` (scripts/test-postgres.sh)")
    }))
}

/// Runs `sql` on the server's `postgres` database.
pub fn admin(sql: &str) {
    let url = format!("{}/postgres", server_url());
    let sql = sql.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut config: tokio_postgres::Config = url.parse().expect("server URL");
            if let Ok(pw) = std::env::var("PGPASSWORD") {
                config.password(pw);
            }
            let (client, conn) = config
                .connect(tokio_postgres::NoTls)
                .await
                .expect("connect to the test server");
            tokio::spawn(conn);
            client.batch_execute(&sql).await.expect("admin statement");
        })
    })
    .join()
    .expect("admin thread");
}

/// A new, empty database of its own for one test: its URL.
pub fn fresh_database() -> String {
    let name = format!("t_{:016x}", fastrand::u64(..));
    admin(&format!("CREATE DATABASE {name}"));
    format!("{}/{name}", server_url())
}

/// Which ledger a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded file, `work/l.db`.
    Sqlite,
    /// A fresh database on the test server.
    Postgres,
}

impl Backend {
    /// The `ledger:` setting for a test whose work folder is `work`.
    pub fn ledger(self, work: &Path) -> String {
        match self {
            Backend::Sqlite => work.join("l.db").display().to_string(),
            Backend::Postgres => fresh_database(),
        }
    }
}

/// `both_ledgers! { fn name(backend) { … } }`: the test body once, run as
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_ledgers {
    ($(#[$meta:meta])* fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($backend: $crate::common::pg::Backend) $body
            #[test]
            fn sqlite() {
                body($crate::common::pg::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                body($crate::common::pg::Backend::Postgres)
            }
        }
    };
}
