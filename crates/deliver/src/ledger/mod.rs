//! The ledger: the embedded SQLite file (WAL) by default, or a Postgres
//! server shared by many hosts (`ledger: postgres://…`, [`pg`]), both
//! through one connection layer ([`db`]) and the same SQL. Shared by any
//! number of storyforge processes:
//! one row per Story *identity* and generation (what the user asked for,
//! not its bytes) with its state, claim, container id and media id; the
//! schedule; token lifetimes; insights. Every state is written BEFORE its
//! side effect is attempted and only by the process holding the row's
//! claim, so a run that dies anywhere, or two runs at once, never publish
//! twice. Tokens and URL signatures are never stored here.

mod adopt;
mod automations;
mod db;
mod feed_seen;
mod heartbeat;
mod insights;
mod media_ids;
mod mentions;
mod migrate;
mod notices;
mod owners;
mod pg;
mod publish_lease;
mod schedule;
mod stories;

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;

use db::{Db, Row, Value};

use storyforge_base::media::MediaKind;

pub use adopt::{changed_since, Legacy};
pub use automations::Automation;
pub use db::DbError;
pub use heartbeat::Heartbeat;
pub use insights::{InsightFailure, InsightRow, RefusedMetric};
pub use media_ids::IdUnknown;
pub use mentions::test_asset;
pub use publish_lease::PublishLease;
pub use schedule::{ScheduleState, Scheduled, StoredInsights, TokenRecord};
pub use stories::{owner_done, owner_id, Claim, ClaimOutcome, Settlement, StoryRequest};

/// Where a Story is on its way to Instagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Known, nothing sent yet.
    Pending,
    /// At a public URL.
    Uploaded,
    /// A container is being created (the reply may be lost).
    Creating,
    /// A container exists; it is being processed.
    Container,
    /// The publish call is being made (the reply may be lost).
    Publishing,
    /// Published; the media id is known (or could not be told apart).
    Published,
    /// Failed for a reason that needs the user (bad media, blocked account);
    /// certainly not published.
    Failed,
    /// A publish may have gone out and nothing could settle it: waits for
    /// the container to say, or for `storyforge ledger settle`.
    Unsure,
}

impl State {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Uploaded => "uploaded",
            State::Creating => "creating",
            State::Container => "container",
            State::Publishing => "publishing",
            State::Published => "published",
            State::Failed => "failed",
            State::Unsure => "unsure",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "uploaded" => State::Uploaded,
            "creating" => State::Creating,
            "container" => State::Container,
            "publishing" => State::Publishing,
            "published" => State::Published,
            "failed" => State::Failed,
            "unsure" => State::Unsure,
            _ => State::Pending,
        }
    }

    /// True once a container exists or is being made: a publish may be near.
    pub fn in_flight(self) -> bool {
        matches!(
            self,
            State::Creating | State::Container | State::Publishing | State::Unsure
        )
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One Story's row (one identity, one generation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Asset {
    /// Row id.
    pub id: i64,
    /// Account name (from the config).
    pub account: String,
    /// What the Story is: `template:…|feed:…|key:sku=A1`, `video:…|part:1/2`,
    /// `file:…`, with `day:` or `schedule:` in front for daily and tick.
    pub identity: String,
    /// 0 for the first publish of an identity; `--republish` adds one.
    pub generation: i64,
    /// sha256 of the media bytes last prepared for it.
    pub content_hash: String,
    /// sha256 of what it was made from (template, row values, day), when known.
    pub input_hash: Option<String>,
    /// Image or video.
    pub kind: MediaKind,
    /// Where it came from, for people: `template.yaml row 3`, a file, a URL.
    pub source: String,
    /// The output file, when there is one.
    pub output_path: Option<String>,
    /// The object's key in the store, when uploaded by storyforge.
    pub object_key: Option<String>,
    /// The URL Instagram fetched, without query (no signature is stored).
    pub url: Option<String>,
    /// The Graph container id.
    pub container_id: Option<String>,
    /// The published media id.
    pub media_id: Option<String>,
    /// Current state.
    pub state: State,
    /// Publish attempts so far.
    pub attempts: i64,
    /// The last error, redacted.
    pub last_error: Option<String>,
    /// The process holding the claim (`host/pid/nonce`), if any.
    pub owner: Option<String>,
    /// Until when the claim holds unless renewed.
    pub lease_until: Option<String>,
    /// When the row was made.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// When the container was created (its 24 h clock).
    pub container_at: Option<String>,
    /// When publishing of the current container was last attempted.
    pub publish_started_at: Option<String>,
    /// When it was published.
    pub published_at: Option<String>,
    /// What it was made from, field by field (`{"template": hash, "price":
    /// hash, …}`), when known: names what changed in a new version.
    pub fields: Option<String>,
    /// What asked for this generation (`schedule:7`, a run's owner id), so
    /// one request never makes two generations.
    pub asked_by: Option<String>,
    /// When publishing was first attempted, by the Graph API's clock (its
    /// `Date` header), when it said: what `/stories` timestamps compare to.
    pub publish_server_at: Option<String>,
}

/// What the ledger could not do.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite failed.
    #[error("ledger {path}: {source}; check the file is writable and not used by another program")]
    Sql {
        /// The database file.
        path: String,
        /// SQLite's reason.
        #[source]
        source: DbError,
    },
    /// The Postgres server failed or refused.
    #[error("ledger {url}: {source}; check the server is reachable, the database exists and the user and password (PGPASSWORD) are right")]
    Postgres {
        /// The server's URL, its password masked.
        url: String,
        /// The server's reason.
        #[source]
        source: DbError,
    },
    /// This process no longer holds the row's claim (its lease ran out and
    /// another run took the Story over): it must stop touching it.
    #[error(
        "ledger {path}: Story {id} was taken over by another run; this run stops working on it"
    )]
    ClaimLost {
        /// The database file.
        path: String,
        /// The row.
        id: i64,
    },
    /// A `settle` or lookup named a row that is not there or not in the right state.
    #[error("ledger {path}: {message}")]
    Refused {
        /// The database file.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// The open ledger.
pub struct Ledger {
    db: Db,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS stories (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    identity TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL,
    input_hash TEXT,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    output_path TEXT,
    object_key TEXT,
    url TEXT,
    container_id TEXT,
    media_id TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    owner TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    container_at TEXT,
    publish_started_at TEXT,
    published_at TEXT,
    UNIQUE (account, identity, generation)
);
CREATE INDEX IF NOT EXISTS stories_content ON stories (account, content_hash);
CREATE TABLE IF NOT EXISTS containers_made (
    account TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    account TEXT PRIMARY KEY,
    issued_at TEXT,
    expires_at TEXT,
    refreshed_at TEXT
);
CREATE TABLE IF NOT EXISTS schedule (
    id INTEGER PRIMARY KEY,
    account TEXT,
    file TEXT,
    template TEXT,
    feed TEXT,
    row INTEGER,
    at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    result TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS insights (
    media_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    metrics TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS insight_refusals (
    account TEXT NOT NULL,
    api_version TEXT NOT NULL,
    metric TEXT NOT NULL,
    refused_at TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (account, api_version, metric)
);
CREATE TABLE IF NOT EXISTS insight_failures (
    media_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    failed_at TEXT NOT NULL,
    error TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notices (
    key TEXT PRIMARY KEY,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS automations (
    id INTEGER PRIMARY KEY,
    account TEXT,
    job TEXT NOT NULL,
    rule TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    occurrence TEXT,
    state TEXT,
    result TEXT,
    ran_at TEXT,
    owner TEXT,
    running_since TEXT
);
CREATE TABLE IF NOT EXISTS feed_seen (
    account TEXT NOT NULL,
    entry TEXT NOT NULL,
    key TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (account, entry, key)
);
CREATE TABLE IF NOT EXISTS story_mentions (
    story_id INTEGER PRIMARY KEY,
    mentions TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_baselines (
    account TEXT NOT NULL,
    entry TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    PRIMARY KEY (account, entry)
);
CREATE TABLE IF NOT EXISTS publish_leases (
    account TEXT PRIMARY KEY,
    owner TEXT,
    until TEXT,
    next_at TEXT
);
CREATE TABLE IF NOT EXISTS heartbeats (
    process TEXT PRIMARY KEY,
    alive_at TEXT NOT NULL
);
";

/// One Story per media id (Instagram's ids are global): a ledger written
/// before the index that holds an id twice keeps it on neither row, each
/// told why, for `ledger settle` to find again from the account.
const MEDIA_ID_UNIQUE: &str = "
UPDATE stories SET last_error = 'the same media id was recorded for another Story too; `storyforge ledger settle` finds which from the account', media_id = NULL
WHERE media_id IN (SELECT media_id FROM stories WHERE media_id IS NOT NULL GROUP BY media_id HAVING COUNT(*) > 1);
CREATE UNIQUE INDEX stories_media_id ON stories (media_id) WHERE media_id IS NOT NULL;
";

/// Columns added after the first release, with their definitions.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("schedule", "attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("schedule", "next_try", "TEXT"),
    ("schedule", "republish", "INTEGER NOT NULL DEFAULT 0"),
    ("schedule", "owner", "TEXT"),
    ("schedule", "running_since", "TEXT"),
    ("stories", "template", "TEXT"),
    ("stories", "variant", "TEXT"),
    ("stories", "fields", "TEXT"),
    ("stories", "asked_by", "TEXT"),
    ("stories", "publish_server_at", "TEXT"),
    ("stories", "publish_reply_server_at", "TEXT"),
    ("publish_leases", "last_publish_at", "TEXT"),
];

/// The first release keyed rows by content hash alone (`assets`): each
/// becomes a Story whose identity is its content.
const MIGRATE_ASSETS: &str = "
INSERT INTO stories (account, identity, generation, content_hash, kind, source, output_path, url,
    container_id, media_id, state, attempts, last_error, created_at, updated_at, container_at,
    publish_started_at, published_at)
SELECT account, 'content:' || content_hash, 0, content_hash, kind, source, output_path, url,
    container_id, media_id, CASE WHEN state = 'failed' AND container_id IS NOT NULL AND publish_started_at IS NOT NULL THEN 'unsure' ELSE state END,
    attempts, last_error, created_at, updated_at, container_at, publish_started_at, published_at
FROM assets;
ALTER TABLE assets RENAME TO assets_v1;
";

/// Puts the file in WAL mode. Two processes opening a new ledger at once
/// can find it locked while the other switches it: SQLite answers busy at
/// once there (its busy timeout does not cover the switch), so it is asked
/// again for up to 30 s.
fn wal_mode(conn: &rusqlite::Connection) -> Result<(), rusqlite::Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut wait = std::time::Duration::from_millis(10);
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(wait + std::time::Duration::from_millis(fastrand::u64(..10)));
                wait = (wait * 2).min(std::time::Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// True when the `ledger:` setting names a Postgres server, not a file.
pub fn is_server_url(ledger: &Path) -> bool {
    pg::is_url(&ledger.to_string_lossy())
}

/// The `ledger:` setting as it may be shown: a server URL's password masked.
pub fn shown(ledger: &Path) -> String {
    match is_server_url(ledger) {
        true => pg::shown(&ledger.to_string_lossy()),
        false => ledger.display().to_string(),
    }
}

pub(crate) fn now() -> String {
    stamp(Utc::now())
}

pub(crate) fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses a stored timestamp.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Ledger {
    /// Opens (creating or upgrading) the ledger at `path`, in WAL mode; or,
    /// when `path` is a `postgres://` URL, connects to that server and
    /// applies the repository's migrations.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let text = path.to_string_lossy();
        if pg::is_url(&text) {
            let url = pg::shown(&text);
            let fail = |source| LedgerError::Postgres {
                url: url.clone(),
                source,
            };
            let ledger = Ledger {
                db: Db::Postgres(pg::Pg::connect(&text).map_err(fail)?),
                path: url.clone(),
            };
            migrate::apply(&ledger.db).map_err(fail)?;
            return Ok(ledger);
        }
        let shown = path.display().to_string();
        let fail = |source: rusqlite::Error| LedgerError::Sql {
            path: shown.clone(),
            source: source.into(),
        };
        let conn = rusqlite::Connection::open(path).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(fail)?;
        wal_mode(&conn).map_err(fail)?;
        // Commits are written to the WAL but not synced one by one: a
        // killed process loses nothing (the WAL is in the OS's hands), and
        // the commit before each call that cannot be taken back (a publish)
        // is synced with all before it ([`Ledger::durably`]), so a power
        // cut can lose only what a rerun finds again from the account.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        adopt::backup_before_upgrade(&conn, path);
        let ledger = Ledger {
            db: Db::Sqlite(conn),
            path: shown.clone(),
        };
        ledger.upgrade().map_err(|source| LedgerError::Sql {
            path: shown.clone(),
            source,
        })?;
        Ok(ledger)
    }

    /// The database file, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Creates the tables and brings an older ledger up to date, in one
    /// immediate transaction so two processes opening it at once agree.
    fn upgrade(&self) -> Result<(), DbError> {
        let tx = self.db.begin()?;
        self.db.batch(SCHEMA)?;
        for (table, column, def) in ADDED_COLUMNS {
            let has = self.db.query(
                &format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"),
                db::params![column],
            )?;
            if has.is_empty() {
                self.db
                    .batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {def}"))?;
            }
        }
        let old = self.db.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'assets'",
            &[],
        )?;
        if !old.is_empty() {
            self.db.batch(MIGRATE_ASSETS)?;
        }
        // Once, when the index is not there yet: not a scan on every open.
        let indexed = self.db.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'stories_media_id'",
            &[],
        )?;
        if indexed.is_empty() {
            self.db.batch(MEDIA_ID_UNIQUE)?;
        }
        adopt::redact_sources(&self.db)?;
        tx.commit()
    }

    fn fail(&self, source: DbError) -> LedgerError {
        match self.db.dialect() {
            db::Dialect::Sqlite => LedgerError::Sql {
                path: self.path.clone(),
                source,
            },
            db::Dialect::Postgres => LedgerError::Postgres {
                url: self.path.clone(),
                source,
            },
        }
    }

    fn refused(&self, message: String) -> LedgerError {
        LedgerError::Refused {
            path: self.path.clone(),
            message,
        }
    }

    fn exec(&self, sql: &str, p: &[Value]) -> Result<usize, LedgerError> {
        self.db.execute(sql, p).map_err(|e| self.fail(e))
    }

    /// [`Ledger::exec`], or `None` when a unique key refused the write
    /// (another row holds the value: on Postgres two transactions can both
    /// have seen it free).
    fn exec_unique(&self, sql: &str, p: &[Value]) -> Result<Option<usize>, LedgerError> {
        match self.db.execute(sql, p) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.is_duplicate() => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The rows `sql` selects, each made into a `T` by `map`.
    fn rows<T>(
        &self,
        sql: &str,
        p: &[Value],
        map: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, LedgerError> {
        self.db
            .query(sql, p)
            .and_then(|rows| rows.iter().map(map).collect())
            .map_err(|e| self.fail(e))
    }

    /// The first row `sql` selects, if any, made into a `T` by `map`.
    fn row<T>(
        &self,
        sql: &str,
        p: &[Value],
        map: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, LedgerError> {
        Ok(self.rows(sql, p, map)?.into_iter().next())
    }

    /// Starts a transaction that holds the write lock (see [`Db::begin`]).
    fn begin(&self) -> Result<db::Tx<'_>, LedgerError> {
        self.db.begin().map_err(|e| self.fail(e))
    }

    /// Runs `f` with its commits synced to disk, and every commit before
    /// them (SQLite's WAL is one sequence): for the last write before a
    /// call that cannot be taken back. Postgres syncs every commit.
    fn durably<T>(&self, f: impl FnOnce() -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        if self.db.dialect() != db::Dialect::Sqlite {
            return f();
        }
        self.db
            .batch("PRAGMA synchronous = FULL")
            .map_err(|e| self.fail(e))?;
        let out = f();
        let back = self.db.batch("PRAGMA synchronous = NORMAL");
        let out = out?;
        back.map_err(|e| self.fail(e))?;
        Ok(out)
    }

    /// [`Ledger::begin`], and on Postgres a transaction-scoped advisory
    /// lock on `what` as well, so transactions about the same thing wait
    /// for each other as SQLite's one writer makes them.
    fn begin_locked(&self, what: &str) -> Result<db::Tx<'_>, LedgerError> {
        let tx = self.begin()?;
        if self.db.dialect() == db::Dialect::Postgres {
            self.exec(
                "SELECT pg_advisory_xact_lock(hashtext(?1))",
                db::params![format!("storyforge {what}")],
            )?;
        }
        Ok(tx)
    }
}
