//! Postgres ledgers: the repository's migrations (migrations/postgres/,
//! applied in order on open, each in its own transaction, recorded in
//! `schema_migrations`, under an advisory lock so two processes opening
//! at once agree), and `storyforge ledger migrate --to postgres://…`,
//! which copies a SQLite ledger into an empty Postgres one.

use super::db::{params, Db, DbError, Dialect};
use super::{Ledger, LedgerError};

/// The migrations, oldest first: (version, SQL).
pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_automations_seen_mentions_leases.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_heartbeats_spacing_media_id.sql"),
    ),
];

/// Any number that names storyforge's migrations lock.
const LOCK: i64 = 0x5354_4f52_5946_4f52; // "STORYFOR"

/// Brings a Postgres ledger up to the newest migration.
pub(super) fn apply(db: &Db) -> Result<(), DbError> {
    db.execute("SELECT pg_advisory_lock(?1)", params![LOCK])?;
    let applied = (|| {
        db.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )?;
        let done: Vec<i64> = db
            .query("SELECT version FROM schema_migrations", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_, _>>()?;
        for (version, sql) in MIGRATIONS {
            if done.contains(version) {
                continue;
            }
            let tx = db.begin()?;
            db.batch(sql)?;
            db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, super::now()],
            )?;
            tx.commit()?;
        }
        Ok(())
    })();
    db.execute("SELECT pg_advisory_unlock(?1)", params![LOCK])?;
    applied
}

/// The tables a ledger copy moves, in this order (every table of the
/// schema; `schema_migrations` is the target's own).
fn tables(db: &Db) -> Result<Vec<String>, DbError> {
    db.query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'schema_migrations' ORDER BY table_name",
        &[],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn columns(db: &Db, table: &str) -> Result<Vec<String>, DbError> {
    let sql = match db.dialect() {
        Dialect::Sqlite => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        Dialect::Postgres => "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
    };
    db.query(sql, params![table])?
        .iter()
        .map(|r| r.get(0))
        .collect()
}

impl Ledger {
    /// Copies every row of this (SQLite) ledger into the empty Postgres
    /// ledger at `url`, in one transaction there; how many rows of each
    /// table. Refuses a target that holds any row.
    pub fn migrate_to(&self, url: &str) -> Result<Vec<(String, usize)>, LedgerError> {
        if self.db.dialect() != Dialect::Sqlite {
            return Err(
                self.refused("copy from a SQLite ledger file (`ledger:` names the file)".into())
            );
        }
        if !super::pg::is_url(url) {
            return Err(self.refused(format!(
                "--to must be a postgres:// URL, not {}",
                super::pg::shown(url)
            )));
        }
        let target = Ledger::open(std::path::Path::new(url))?;
        let to = |e| target.fail(e);
        let names = tables(&target.db).map_err(to)?;
        let tx = target.begin()?;
        for table in &names {
            let n: i64 = target
                .db
                .query(&format!("SELECT COUNT(*) FROM {table}"), &[])
                .and_then(|r| r.first().map_or(Ok(0), |r| r.get(0)))
                .map_err(to)?;
            if n > 0 {
                return Err(target.refused(format!(
                    "the target already holds {n} row(s) in {table}: migrate only into an empty ledger (a new database)"
                )));
            }
        }
        let mut counts = Vec::new();
        for table in &names {
            let wanted = columns(&target.db, table).map_err(to)?;
            let have = columns(&self.db, table).map_err(|e| self.fail(e))?;
            if let Some(extra) = have.iter().find(|c| !wanted.contains(c)) {
                return Err(self.refused(format!(
                    "{table}.{extra} has no place in the Postgres ledger; upgrade storyforge on this host first"
                )));
            }
            let list = have.join(", ");
            let marks: Vec<String> = (1..=have.len()).map(|i| format!("?{i}")).collect();
            let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
            let rows = self
                .db
                .query(&format!("SELECT {list} FROM {table}"), &[])
                .map_err(|e| self.fail(e))?;
            for row in &rows {
                target.db.execute(&insert, &row.0).map_err(to)?;
            }
            if have.iter().any(|c| c == "id") {
                target
                    .db
                    .query(
                        &format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"),
                        &[],
                    )
                    .map_err(to)?;
            }
            counts.push((table.clone(), rows.len()));
        }
        tx.commit().map_err(to)?;
        Ok(counts)
    }
}

/// The tables and their columns that the migrations create, as
/// (table, column) pairs: what the SQLite schema must match.
#[cfg(test)]
pub(super) fn migrated_columns() -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    for (_, sql) in MIGRATIONS {
        let mut table: Option<String> = None;
        for line in sql.lines().map(str::trim) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["CREATE", "TABLE", name, ..] => table = Some(name.to_string()),
                [");"] => table = None,
                ["ALTER", "TABLE", t, "ADD", "COLUMN", c, ..] => {
                    out.insert((t.to_string(), c.to_string()));
                }
                [first, ..] if table.is_some() => {
                    let keyword = first.chars().next().is_some_and(|c| c.is_uppercase());
                    if !keyword && !first.starts_with("--") {
                        out.insert((table.clone().unwrap_or_default(), first.to_string()));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_postgres_migrations_make_the_sqlite_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let l = super::Ledger::open(&dir.path().join("l.db")).expect("open");
        let mut sqlite = std::collections::BTreeSet::new();
        for table in tables_sqlite(&l) {
            for c in super::columns(&l.db, &table).expect("columns") {
                sqlite.insert((table.clone(), c));
            }
        }
        assert_eq!(sqlite, super::migrated_columns());
    }

    fn tables_sqlite(l: &super::Ledger) -> Vec<String> {
        l.db.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            &[],
        )
        .expect("tables")
        .iter()
        .map(|r| r.get(0).expect("name"))
        .collect()
    }
}
