//! Rows written before identities were relative and keyed by column:
//! such a row is adopted (its identity rewritten to the new one, every
//! generation, inside the claim's transaction) the first time a run asks
//! for the Story it names, so upgrading publishes nothing again. And what
//! changed between a published version and the one asked for now.

use super::db::{params, Db, DbError};

use super::stories::StoryRequest;
use super::{Asset, Ledger, LedgerError};

/// The identity an earlier release gave a Story (absolute paths, `row:N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Legacy {
    /// The old identity, exactly.
    pub identity: String,
    /// True when the old identity named the row by its position: only a
    /// row of the same template and feed made from the same inputs is
    /// the same Story then (the rows may have moved).
    pub by_position: bool,
}

/// Before a ledger written by an earlier release is upgraded (its
/// `stories` lack the `asked_by` column), a copy of it is kept beside it
/// (`NAME.before-upgrade`), once. Best effort: a copy that cannot be made
/// is logged, and the upgrade itself is one transaction either way.
pub(super) fn backup_before_upgrade(conn: &rusqlite::Connection, path: &std::path::Path) {
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(0);
    let has_rows =
        count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'stories'") > 0
            && count("SELECT COUNT(*) FROM stories") > 0;
    let new =
        count("SELECT COUNT(*) FROM pragma_table_info('stories') WHERE name = 'asked_by'") > 0;
    if !has_rows || new {
        return;
    }
    let mut copy = path.as_os_str().to_owned();
    copy.push(".before-upgrade");
    let copy = std::path::PathBuf::from(copy);
    if copy.exists() {
        return;
    }
    match conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()]) {
        Ok(_) => tracing::info!(
            "ledger: kept a copy from before the upgrade in {}",
            copy.display()
        ),
        Err(e) => tracing::warn!("ledger: could not copy the ledger before upgrading it: {e}"),
    }
}

/// Sources recorded by earlier releases could hold a whole presigned URL:
/// their query values are masked (inside the upgrade's transaction).
pub(super) fn redact_sources(db: &Db) -> Result<(), DbError> {
    let rows = db.query(
        "SELECT id, source FROM stories WHERE source LIKE '%://%?%' OR source LIKE '%://%@%'",
        &[],
    )?;
    for row in rows {
        let (id, source): (i64, String) = (row.get(0)?, row.get(1)?);
        let masked = storyforge_base::util::redact::redact(&source);
        if masked != source {
            db.execute(
                "UPDATE stories SET source = ?2 WHERE id = ?1",
                params![id, masked],
            )?;
        }
    }
    Ok(())
}

impl Ledger {
    /// The newest row of the old identity of `req`, now under the new
    /// one; `None` when there is no such row (or not the same Story).
    pub(super) fn adopt(
        &self,
        req: &StoryRequest,
        legacy: &Legacy,
    ) -> Result<Option<Asset>, LedgerError> {
        let old: Option<String> = if legacy.by_position {
            // Any old row of this template and feed with the same inputs.
            let Some(input) = &req.input_hash else {
                return Ok(None);
            };
            let prefix = match legacy.identity.rfind("|key:") {
                Some(i) => &legacy.identity[..i + 5],
                None => return Ok(None),
            };
            self.row(
                "SELECT identity FROM stories WHERE account = ?1 AND substr(identity, 1, length(?2)) = ?2 AND substr(identity, length(?2) + 1, 4) = 'row:' AND input_hash = ?3 ORDER BY generation DESC, id DESC LIMIT 1",
                params![req.account, prefix, input],
                |r| r.get(0),
            )?
        } else {
            Some(legacy.identity.clone())
        };
        let Some(old) = old else {
            return Ok(None);
        };
        let moved = self.exec(
            "UPDATE stories SET identity = ?3 WHERE account = ?1 AND identity = ?2",
            params![req.account, old, req.identity],
        )?;
        if moved > 0 {
            tracing::info!("ledger: adopted the rows of {old} as {}", req.identity);
        }
        self.latest(&req.account, &req.identity)
    }
}

/// Whether `req` differs from the published `row`, and the fields that do.
pub(super) fn changes(row: &Asset, req: &StoryRequest) -> (bool, Vec<String>) {
    changed_since(
        row,
        Some(&req.content_hash),
        req.input_hash.as_deref(),
        req.fields.as_deref(),
    )
}

/// Whether a Story made from `input_hash` and `fields` (JSON), with bytes
/// `content_hash` when known, differs from the published `row`, and the
/// fields that do (by their recorded hashes; `content` when only the
/// bytes or the whole input are known).
pub fn changed_since(
    row: &Asset,
    content_hash: Option<&str>,
    input_hash: Option<&str>,
    fields: Option<&str>,
) -> (bool, Vec<String>) {
    type Map = std::collections::BTreeMap<String, String>;
    let parse = |s: Option<&str>| s.and_then(|t| serde_json::from_str::<Map>(t).ok());
    if let (Some(before), Some(now)) = (parse(row.fields.as_deref()), parse(fields)) {
        let names: std::collections::BTreeSet<String> = before
            .keys()
            .chain(now.keys())
            .filter(|k| before.get(*k) != now.get(*k))
            .cloned()
            .collect();
        return (!names.is_empty(), names.into_iter().collect());
    }
    let inputs = matches!((&row.input_hash, input_hash), (Some(a), Some(b)) if a != b);
    let bytes = content_hash.is_some_and(|c| c != row.content_hash);
    let changed = inputs || bytes;
    let names = if changed {
        vec!["content".to_string()]
    } else {
        Vec::new()
    };
    (changed, names)
}
