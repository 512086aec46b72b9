//! Published Stories whose media id is unknown (the publish reply was
//! lost): their publish windows by the server's clock, and filling an id
//! in once it is certain, never one another row holds.

use super::db::{params, DbError};
use chrono::{DateTime, Utc};

use super::{now, parse_time, Claim, Ledger, LedgerError};

/// A published row without its media id, and when it went out.
#[derive(Debug, Clone, PartialEq)]
pub struct IdUnknown {
    /// Row id.
    pub id: i64,
    /// When the publish call was sent, by the server's clock.
    pub sent: Option<DateTime<Utc>>,
    /// When its reply was lost (or the container said PUBLISHED), by the
    /// server's clock.
    pub settled: Option<DateTime<Utc>>,
}

impl Ledger {
    /// Records when the publish reply was lost (or the publish was seen
    /// done), by the server's clock: the end of its publish window.
    pub fn set_publish_reply_server_at(
        &self,
        claim: &Claim,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.set_server_time_once(claim, "publish_reply_server_at", at)
    }

    /// `account`'s published rows whose media id is unknown, oldest first.
    pub fn ids_unknown(&self, account: &str) -> Result<Vec<IdUnknown>, LedgerError> {
        self.rows(
            "SELECT id, publish_server_at, publish_reply_server_at FROM stories WHERE account = ?1 AND state = 'published' AND media_id IS NULL ORDER BY id",
            params![account],
            |r| {
                let time = |i: usize| -> Result<Option<DateTime<Utc>>, DbError> {
                    Ok(r.get::<Option<String>>(i)?.as_deref().and_then(parse_time))
                };
                Ok(IdUnknown {
                    id: r.get(0)?,
                    sent: time(1)?,
                    settled: time(2)?,
                })
            },
        )
    }

    /// Fills in the media id of published row `id`, unless it has one or
    /// another row holds `media` (the unique index on `media_id` refuses
    /// it, also when two processes try at once). True when recorded.
    pub fn fill_media_id(&self, id: i64, media: &str) -> Result<bool, LedgerError> {
        Ok(self.exec_unique(
            "UPDATE stories SET media_id = ?2, last_error = NULL, updated_at = ?3 WHERE id = ?1 AND state = 'published' AND media_id IS NULL",
            params![id, media, now()],
        )? == Some(1))
    }

    /// Says why published row `id`'s media id is still unknown.
    pub fn note_id_unknown(&self, id: i64, why: &str) -> Result<(), LedgerError> {
        self.exec(
            "UPDATE stories SET last_error = ?2 WHERE id = ?1 AND state = 'published' AND media_id IS NULL",
            params![id, why],
        )
        .map(|_| ())
    }
}
