//! The SQLite ledger (WAL): one row per asset and account with its state,
//! container id and media id; token expiry per account; insights. Every
//! state is written BEFORE its side effect is attempted, so a run that dies
//! anywhere resumes without publishing twice. Tokens are never stored here.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// Where an asset is on its way to a Story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// Published; the media id is known (or was looked up).
    Published,
    /// Failed for a reason that needs the user (bad media, blocked account).
    Failed,
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
            _ => State::Pending,
        }
    }
}

/// One asset's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Asset {
    /// Row id.
    pub id: i64,
    /// Account name (from the config).
    pub account: String,
    /// sha256 of the media bytes (or of the URL, for URL-only assets).
    pub content_hash: String,
    /// `image` or `video`.
    pub kind: String,
    /// Where it came from: `template.yaml#row 3`, an input file, a URL.
    pub source: String,
    /// The output file, when there is one.
    pub output_path: Option<String>,
    /// The public URL Instagram fetches.
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
    /// When the row was made.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// When the container was created (its 24 h clock).
    pub container_at: Option<String>,
    /// When publishing was last attempted.
    pub publish_started_at: Option<String>,
    /// When it was published.
    pub published_at: Option<String>,
}

/// A Story scheduled for later: a file, or a template with a feed row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scheduled {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// Account name [default: the first].
    pub account: Option<String>,
    /// A ready Story file.
    pub file: Option<String>,
    /// Or a template…
    pub template: Option<String>,
    /// …with a feed…
    pub feed: Option<String>,
    /// …and its row (1-based).
    pub row: Option<usize>,
    /// When it is due (RFC 3339, UTC).
    pub at: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    /// What the last attempt did.
    pub result: Option<String>,
}

/// What the ledger could not do.
#[derive(Debug, thiserror::Error)]
#[error("ledger {path}: {source}; check the file is writable and not used by another program")]
pub struct LedgerError {
    /// The database file.
    pub path: String,
    /// SQLite's reason.
    #[source]
    pub source: rusqlite::Error,
}

/// The open ledger.
pub struct Ledger {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS assets (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    output_path TEXT,
    url TEXT,
    container_id TEXT,
    media_id TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    container_at TEXT,
    publish_started_at TEXT,
    published_at TEXT,
    UNIQUE (account, content_hash)
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
";

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses a stored timestamp.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A token's recorded lifetime.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TokenRecord {
    /// When the current token was issued (or first seen).
    pub issued_at: Option<String>,
    /// When it expires, when known.
    pub expires_at: Option<String>,
    /// When storyforge last refreshed it.
    pub refreshed_at: Option<String>,
}

impl Ledger {
    /// Opens (creating) the ledger at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let shown = path.display().to_string();
        let fail = |source| LedgerError {
            path: shown.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        Ok(Ledger { conn, path: shown })
    }

    fn fail(&self, source: rusqlite::Error) -> LedgerError {
        LedgerError {
            path: self.path.clone(),
            source,
        }
    }

    /// The row of (`account`, `hash`), made `Pending` when new.
    pub fn upsert(
        &self,
        account: &str,
        hash: &str,
        kind: &str,
        source: &str,
        output_path: Option<&str>,
    ) -> Result<Asset, LedgerError> {
        let t = now();
        self.conn
            .execute(
                "INSERT INTO assets (account, content_hash, kind, source, output_path, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)
                 ON CONFLICT (account, content_hash) DO NOTHING",
                params![account, hash, kind, source, output_path, t],
            )
            .map_err(|e| self.fail(e))?;
        self.find(account, hash)?
            .ok_or_else(|| self.fail(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The row of (`account`, `hash`), if any.
    pub fn find(&self, account: &str, hash: &str) -> Result<Option<Asset>, LedgerError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM assets WHERE account = ?1 AND content_hash = ?2"),
                params![account, hash],
                row_to_asset,
            )
            .optional()
            .map_err(|e| self.fail(e))
    }

    /// Every asset, oldest first.
    pub fn assets(&self) -> Result<Vec<Asset>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM assets ORDER BY id"))
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], row_to_asset)
            .map_err(|e| self.fail(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.fail(e));
        rows
    }

    /// Records the public URL.
    pub fn set_uploaded(&self, id: i64, url: &str) -> Result<(), LedgerError> {
        self.exec(
            "UPDATE assets SET url = ?2, state = CASE WHEN state IN ('pending','failed') THEN 'uploaded' ELSE state END, updated_at = ?3 WHERE id = ?1",
            params![id, url, now()],
        )
    }

    /// Marks that a container is about to be created (before the call).
    pub fn set_creating(&self, id: i64) -> Result<(), LedgerError> {
        self.exec(
            "UPDATE assets SET state = 'creating', container_id = NULL, updated_at = ?2 WHERE id = ?1",
            params![id, now()],
        )
    }

    /// Records the container id returned by the API.
    pub fn set_container(&self, id: i64, container: &str) -> Result<(), LedgerError> {
        let t = now();
        self.exec(
            "UPDATE assets SET state = 'container', container_id = ?2, container_at = ?3, updated_at = ?3 WHERE id = ?1",
            params![id, container, t],
        )
    }

    /// Marks that the publish call is about to be made (before the call).
    pub fn set_publishing(&self, id: i64) -> Result<(), LedgerError> {
        let t = now();
        self.exec(
            "UPDATE assets SET state = 'publishing', attempts = attempts + 1, publish_started_at = ?2, updated_at = ?2 WHERE id = ?1",
            params![id, t],
        )
    }

    /// Records the published media id (`None` when it could not be looked up).
    pub fn set_published(&self, id: i64, media: Option<&str>) -> Result<(), LedgerError> {
        let t = now();
        self.exec(
            "UPDATE assets SET state = 'published', media_id = ?2, published_at = COALESCE(published_at, ?3), last_error = NULL, updated_at = ?3 WHERE id = ?1",
            params![id, media, t],
        )
    }

    /// Records a failure that needs the user; `state` says where it stays.
    pub fn set_error(&self, id: i64, state: State, error: &str) -> Result<(), LedgerError> {
        let error = crate::publish::redact::redact(error);
        self.exec(
            "UPDATE assets SET state = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, state.as_str(), error, now()],
        )
    }

    /// Media ids already recorded for `account` (to tell a lost publish's
    /// Story apart from the others).
    pub fn media_ids(&self, account: &str) -> Result<Vec<String>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT media_id FROM assets WHERE account = ?1 AND media_id IS NOT NULL")
            .map_err(|e| self.fail(e))?;
        let ids = stmt
            .query_map([account], |r| r.get::<_, String>(0))
            .map_err(|e| self.fail(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.fail(e));
        ids
    }

    /// Publish times of `account` within the last 24 h, oldest first.
    pub fn published_since(
        &self,
        account: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT published_at FROM assets WHERE account = ?1 AND published_at IS NOT NULL ORDER BY published_at")
            .map_err(|e| self.fail(e))?;
        let times = stmt
            .query_map([account], |r| r.get::<_, String>(0))
            .map_err(|e| self.fail(e))?
            .filter_map(|r| r.ok().and_then(|s| parse_time(&s)))
            .filter(|t| *t >= since)
            .collect();
        Ok(times)
    }

    /// The recorded lifetime of `account`'s token.
    pub fn token(&self, account: &str) -> Result<TokenRecord, LedgerError> {
        self.conn
            .query_row(
                "SELECT issued_at, expires_at, refreshed_at FROM tokens WHERE account = ?1",
                [account],
                |r| {
                    Ok(TokenRecord {
                        issued_at: r.get(0)?,
                        expires_at: r.get(1)?,
                        refreshed_at: r.get(2)?,
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.fail(e))
    }

    /// Records a token's lifetime (never the token).
    pub fn set_token(&self, account: &str, rec: &TokenRecord) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO tokens (account, issued_at, expires_at, refreshed_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account) DO UPDATE SET issued_at = ?2, expires_at = ?3, refreshed_at = ?4",
            params![account, rec.issued_at, rec.expires_at, rec.refreshed_at],
        )
    }

    /// Stores a Story's metrics (JSON), replacing older ones.
    pub fn set_insights(
        &self,
        media: &str,
        account: &str,
        metrics: &str,
    ) -> Result<(), LedgerError> {
        self.exec(
            "INSERT INTO insights (media_id, account, collected_at, metrics) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (media_id) DO UPDATE SET collected_at = ?3, metrics = ?4",
            params![media, account, now(), metrics],
        )
    }

    /// The stored metrics of `media`, if collected.
    pub fn insights(&self, media: &str) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row(
                "SELECT metrics FROM insights WHERE media_id = ?1",
                [media],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.fail(e))
    }

    /// Stores a scheduled Story (the media, or how to make it; never a container).
    pub fn add_schedule(&self, entry: &Scheduled) -> Result<i64, LedgerError> {
        self.exec(
            "INSERT INTO schedule (account, file, template, feed, row, at, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
            params![entry.account, entry.file, entry.template, entry.feed, entry.row.map(|r| r as i64), entry.at, now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Every scheduled entry, soonest first.
    pub fn schedule(&self) -> Result<Vec<Scheduled>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, account, file, template, feed, row, at, state, result FROM schedule ORDER BY at, id")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Scheduled {
                    id: r.get(0)?,
                    account: r.get(1)?,
                    file: r.get(2)?,
                    template: r.get(3)?,
                    feed: r.get(4)?,
                    row: r.get::<_, Option<i64>>(5)?.map(|v| v.max(0) as usize),
                    at: r.get(6)?,
                    state: r.get(7)?,
                    result: r.get(8)?,
                })
            })
            .map_err(|e| self.fail(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.fail(e));
        rows
    }

    /// Records how a scheduled entry went (`done`, `failed`, or still `pending`).
    pub fn set_schedule_state(
        &self,
        id: i64,
        state: &str,
        result: &str,
    ) -> Result<(), LedgerError> {
        self.exec(
            "UPDATE schedule SET state = ?2, result = ?3 WHERE id = ?1",
            params![id, state, crate::publish::redact::redact(result)],
        )
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<(), LedgerError> {
        self.conn
            .execute(sql, p)
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }
}

const COLUMNS: &str = "id, account, content_hash, kind, source, output_path, url, container_id, media_id, state, attempts, last_error, created_at, updated_at, container_at, publish_started_at, published_at";

fn row_to_asset(r: &rusqlite::Row<'_>) -> rusqlite::Result<Asset> {
    Ok(Asset {
        id: r.get(0)?,
        account: r.get(1)?,
        content_hash: r.get(2)?,
        kind: r.get(3)?,
        source: r.get(4)?,
        output_path: r.get(5)?,
        url: r.get(6)?,
        container_id: r.get(7)?,
        media_id: r.get(8)?,
        state: State::parse(&r.get::<_, String>(9)?),
        attempts: r.get(10)?,
        last_error: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        container_at: r.get(14)?,
        publish_started_at: r.get(15)?,
        published_at: r.get(16)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.db")).unwrap();
        let a = l
            .upsert("main", "abc", "image", "t.yaml#row 1", None)
            .unwrap();
        assert_eq!(a.state, State::Pending);
        l.set_uploaded(a.id, "https://x/abc.jpg").unwrap();
        l.set_creating(a.id).unwrap();
        l.set_container(a.id, "c1").unwrap();
        l.set_publishing(a.id).unwrap();
        let mid = l.find("main", "abc").unwrap().unwrap();
        assert_eq!((mid.state, mid.attempts), (State::Publishing, 1));
        l.set_published(a.id, Some("m1")).unwrap();
        let again = l.upsert("main", "abc", "image", "other", None).unwrap();
        assert_eq!(again.media_id.as_deref(), Some("m1"));
        assert_eq!(again.source, "t.yaml#row 1");
        assert_eq!(l.media_ids("main").unwrap(), ["m1"]);
        l.set_error(a.id, State::Failed, "x?access_token=SECRET")
            .unwrap();
        let failed = l.find("main", "abc").unwrap().unwrap();
        assert!(!failed.last_error.unwrap().contains("SECRET"));
    }
}
