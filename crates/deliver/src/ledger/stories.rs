//! Story rows: an identity + content → an atomic claim (`BEGIN IMMEDIATE`,
//! owner id, renewed lease) or the reason not to go on (published, in
//! another run, the same bytes live under another identity); then state
//! changes that each hold only while this process owns the claim.

use super::db::{params, DbError, Dialect, Row, Value};
use super::{now, parse_time, stamp, Asset, Ledger, LedgerError, State};
use chrono::{DateTime, Utc};
use storyforge_base::media::MediaKind;

pub(crate) use super::owners::{is_this_process, owner_alive};
pub use super::owners::{owner_done, owner_id};

/// What a process asks to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryRequest {
    /// Account name.
    pub account: String,
    /// What the Story is (see [`Asset::identity`]).
    pub identity: String,
    /// sha256 of the bytes to publish.
    pub content_hash: String,
    /// sha256 of what it was made from, when known.
    pub input_hash: Option<String>,
    /// Image or video.
    pub kind: MediaKind,
    /// Where it came from, for people.
    pub source: String,
    /// The output file, when there is one.
    pub output_path: Option<String>,
    /// Publish again even when this identity (or these bytes) already went out.
    pub republish: bool,
    /// Publish a new version when what it is made from changed since it
    /// was published (`on_change: publish`, `--publish-changed`).
    pub publish_changed: bool,
    /// What asks (`schedule:7`, the run's owner id): a request makes at
    /// most one generation of an identity.
    pub asked_by: Option<String>,
    /// What it is made from, field by field (JSON), when known.
    pub fields: Option<String>,
    /// The row an earlier release would have written for it, to adopt.
    pub legacy: Option<super::Legacy>,
}

impl StoryRequest {
    /// A request for `identity` of `account` with these bytes, nothing
    /// else known (no inputs, no republish).
    pub fn new(
        account: &str,
        identity: &str,
        content_hash: &str,
        kind: MediaKind,
        source: &str,
    ) -> StoryRequest {
        StoryRequest {
            account: account.to_string(),
            identity: identity.to_string(),
            content_hash: content_hash.to_string(),
            input_hash: None,
            kind,
            source: source.to_string(),
            output_path: None,
            republish: false,
            publish_changed: false,
            asked_by: None,
            fields: None,
            legacy: None,
        }
    }
}

/// A claim on one row: the row id and the owner holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Row id.
    pub id: i64,
    /// This process's owner id.
    pub owner: String,
}

/// What a claim attempt found.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimOutcome {
    /// The row is this process's to work on; `taken_over` when another
    /// run had left it (resume from its container).
    Claimed {
        /// The row as claimed.
        row: Box<Asset>,
        /// The claim to pass to every change.
        claim: Claim,
        /// An earlier owner had left it unfinished.
        taken_over: bool,
    },
    /// This identity is published (and `--republish` was not given).
    Published {
        /// The published row.
        row: Box<Asset>,
        /// The bytes (or inputs) differ from what was published.
        changed: bool,
        /// The fields that changed (`price`, `template`), when known.
        changed_fields: Vec<String>,
    },
    /// Another live run holds the claim.
    Busy {
        /// The row.
        row: Box<Asset>,
    },
    /// The same bytes went out under another identity within a Story's life.
    SameContent {
        /// That other row.
        row: Box<Asset>,
    },
}

/// How a person settles an unsure row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// It was published, as this media id.
    Published(String),
    /// It was not published: the next run publishes it.
    NotPublished,
}

const COLUMNS: &str = "id, account, identity, generation, content_hash, input_hash, kind, source, output_path, object_key, url, container_id, media_id, state, attempts, last_error, owner, lease_until, created_at, updated_at, container_at, publish_started_at, published_at, fields, asked_by, publish_server_at";

fn row_to_asset(r: &Row) -> Result<Asset, DbError> {
    Ok(Asset {
        id: r.get(0)?,
        account: r.get(1)?,
        identity: r.get(2)?,
        generation: r.get(3)?,
        content_hash: r.get(4)?,
        input_hash: r.get(5)?,
        kind: r.get::<String>(6)?.parse().map_err(DbError::Conversion)?,
        source: r.get(7)?,
        output_path: r.get(8)?,
        object_key: r.get(9)?,
        url: r.get(10)?,
        container_id: r.get(11)?,
        media_id: r.get(12)?,
        state: State::parse(&r.get::<String>(13)?),
        attempts: r.get(14)?,
        last_error: r.get(15)?,
        owner: r.get(16)?,
        lease_until: r.get(17)?,
        created_at: r.get(18)?,
        updated_at: r.get(19)?,
        container_at: r.get(20)?,
        publish_started_at: r.get(21)?,
        published_at: r.get(22)?,
        fields: r.get(23)?,
        asked_by: r.get(24)?,
        publish_server_at: r.get(25)?,
    })
}

/// How long the same bytes under another identity count as a duplicate:
/// a Story's life (after it, posting them again is a repost, not a copy).
const SAME_CONTENT_HOURS: i64 = storyforge_base::spec::STORY_LIFETIME_HOURS;

impl Ledger {
    /// Claims the row of `req` for `owner` until `lease` from now, in one
    /// `BEGIN IMMEDIATE` transaction, or says why this process must not
    /// work on it.
    pub fn claim(
        &self,
        req: &StoryRequest,
        owner: &str,
        lease: chrono::Duration,
    ) -> Result<ClaimOutcome, LedgerError> {
        // Claims of one account wait for each other (as SQLite's one writer
        // does): the same-content check spans its identities.
        let tx = self.begin_locked(&format!("claim {}", req.account))?;
        let outcome = self.claim_in(req, owner, lease)?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(outcome)
    }

    fn claim_in(
        &self,
        req: &StoryRequest,
        owner: &str,
        lease: chrono::Duration,
    ) -> Result<ClaimOutcome, LedgerError> {
        let t = Utc::now();
        let until = stamp(t + lease);
        let mut latest = self.latest_locked(&req.account, &req.identity)?;
        if latest.is_none() {
            if let Some(legacy) = &req.legacy {
                latest = self.adopt(req, legacy)?;
            }
        }
        // A URL's query values never reach the file (a presigned signature).
        let source = storyforge_base::util::redact::redact(&req.source);
        let insert = |generation: i64| -> Result<ClaimOutcome, LedgerError> {
            let id = self.row(
                "INSERT INTO stories (account, identity, generation, content_hash, input_hash, kind, source, output_path, state, owner, lease_until, created_at, updated_at, fields, asked_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?10, ?11, ?11, ?12, ?13) RETURNING id",
                params![req.account, req.identity, generation, req.content_hash, req.input_hash, req.kind.as_str(), source, req.output_path, owner, until, stamp(t), req.fields, req.asked_by],
                |r| r.get::<i64>(0),
            )?.ok_or_else(|| self.fail(DbError::Conversion("INSERT returned no id".into())))?;
            Ok(ClaimOutcome::Claimed {
                row: Box::new(self.get(id)?),
                claim: Claim {
                    id,
                    owner: owner.to_string(),
                },
                taken_over: false,
            })
        };
        let Some(row) = latest else {
            if !req.republish {
                let since = stamp(t - chrono::Duration::hours(SAME_CONTENT_HOURS));
                let same = self.row(
                    &format!("SELECT {COLUMNS} FROM stories WHERE account = ?1 AND content_hash = ?2 AND identity != ?3 AND (state = 'published' AND published_at >= ?4 OR state IN ('creating','container','publishing','unsure') OR state IN ('pending','uploaded') AND owner IS NOT NULL AND lease_until > ?5) ORDER BY id DESC LIMIT 1"),
                    params![req.account, req.content_hash, req.identity, since, stamp(t)],
                    row_to_asset,
                )?;
                if let Some(row) = same {
                    return Ok(ClaimOutcome::SameContent { row: Box::new(row) });
                }
            }
            return insert(0);
        };
        if row.state == State::Published {
            let (changed, changed_fields) = super::adopt::changes(&row, req);
            // One request (a schedule entry, a run) makes one generation at most.
            let asked_before = req.asked_by.is_some() && row.asked_by == req.asked_by;
            if !asked_before && (req.republish || (changed && req.publish_changed)) {
                return insert(row.generation + 1);
            }
            return Ok(ClaimOutcome::Published {
                row: Box::new(row),
                changed,
                changed_fields,
            });
        }
        let live = row.owner.as_deref().is_some_and(|o| {
            o != owner
                && row
                    .lease_until
                    .as_deref()
                    .and_then(parse_time)
                    .is_some_and(|l| l > t)
                && owner_alive(o)
        });
        if live {
            return Ok(ClaimOutcome::Busy { row: Box::new(row) });
        }
        let taken_over = row.owner.as_deref().is_some_and(|o| o != owner);
        // Bytes in flight stay those of the container; otherwise the new ones count.
        let (hash, input, fields) = if row.state.in_flight() {
            (
                row.content_hash.clone(),
                row.input_hash.clone(),
                row.fields.clone(),
            )
        } else {
            (
                req.content_hash.clone(),
                req.input_hash.clone(),
                req.fields.clone(),
            )
        };
        self.exec(
            "UPDATE stories SET owner = ?2, lease_until = ?3, content_hash = ?4, input_hash = ?5, source = ?6, output_path = COALESCE(?7, output_path), updated_at = ?8, fields = ?9 WHERE id = ?1",
            params![row.id, owner, until, hash, input, source, req.output_path, stamp(t), fields],
        )?;
        Ok(ClaimOutcome::Claimed {
            row: Box::new(self.get(row.id)?),
            claim: Claim {
                id: row.id,
                owner: owner.to_string(),
            },
            taken_over,
        })
    }

    /// Extends the claim's lease; `ClaimLost` when another run took it.
    pub fn renew(&self, claim: &Claim, lease: chrono::Duration) -> Result<(), LedgerError> {
        self.owned(
            claim,
            "UPDATE stories SET lease_until = ?3 WHERE id = ?1 AND owner = ?2",
            stamp(Utc::now() + lease),
        )
    }

    /// Gives the claim up (the row stays as it is).
    pub fn release(&self, claim: &Claim) -> Result<(), LedgerError> {
        self.exec(
            "UPDATE stories SET owner = NULL, lease_until = NULL WHERE id = ?1 AND owner = ?2",
            params![claim.id, claim.owner],
        )
        .map(|_| ())
    }

    fn owned(&self, claim: &Claim, sql: &str, value: String) -> Result<(), LedgerError> {
        match self.exec(sql, params![claim.id, claim.owner, value])? {
            0 => Err(LedgerError::ClaimLost {
                path: self.path.clone(),
                id: claim.id,
            }),
            _ => Ok(()),
        }
    }

    pub(super) fn owned_exec(
        &self,
        claim: &Claim,
        sql: &str,
        p: &[Value],
    ) -> Result<(), LedgerError> {
        let mut all = params![claim.id, claim.owner].to_vec();
        all.extend_from_slice(p);
        match self.exec(sql, &all)? {
            0 => Err(LedgerError::ClaimLost {
                path: self.path.clone(),
                id: claim.id,
            }),
            _ => Ok(()),
        }
    }

    /// Records where the bytes are: the store key and the URL without query.
    pub fn set_uploaded(
        &self,
        claim: &Claim,
        key: Option<&str>,
        url: &str,
    ) -> Result<(), LedgerError> {
        // The query goes (a presigned URL's signature): the key is kept.
        let shown = url.split(['?', '#']).next().unwrap_or(url).to_string();
        self.owned_exec(
            claim,
            "UPDATE stories SET object_key = COALESCE(?3, object_key), url = ?4, state = CASE WHEN state IN ('pending','failed') THEN 'uploaded' ELSE state END, updated_at = ?5 WHERE id = ?1 AND owner = ?2",
            params![key, shown, now()],
        )
    }

    /// Marks that a container is about to be created (before the call),
    /// and counts it toward the account's containers per 24 h, in one
    /// transaction with the count: false (nothing written) when `account`
    /// already made [`storyforge_base::spec::MAX_CONTAINERS_PER_DAY`] in the last
    /// 24 h, so Stories of one account made at once (lanes, processes)
    /// never go over Instagram's cap together.
    pub fn set_creating(&self, claim: &Claim, account: &str) -> Result<bool, LedgerError> {
        let tx = self.begin_locked(&format!("containers {account}"))?;
        let day = chrono::Duration::hours(storyforge_base::spec::STORY_LIFETIME_HOURS);
        let made = self.containers_since(account, Utc::now() - day)?.len();
        if made >= storyforge_base::spec::MAX_CONTAINERS_PER_DAY {
            return Ok(false);
        }
        let t = now();
        self.owned_exec(
            claim,
            "UPDATE stories SET state = 'creating', container_id = NULL, publish_started_at = NULL, publish_server_at = NULL, publish_reply_server_at = NULL, updated_at = ?3 WHERE id = ?1 AND owner = ?2",
            params![t],
        )?;
        self.exec(
            "INSERT INTO containers_made (account, created_at) VALUES (?1, ?2)",
            params![account, t],
        )?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(true)
    }

    /// Records the container id returned by the API.
    pub fn set_container(&self, claim: &Claim, container: &str) -> Result<(), LedgerError> {
        self.owned_exec(
            claim,
            "UPDATE stories SET state = 'container', container_id = ?3, container_at = ?4, updated_at = ?4 WHERE id = ?1 AND owner = ?2",
            params![container, now()],
        )
    }

    /// Marks that the publish call is about to be made (before the call).
    ///
    /// The one commit per Story synced to disk before it returns (with
    /// all before it): the publish call that follows cannot be taken back,
    /// so after a power cut the row says at least `publishing` and is
    /// settled from the account, never published again.
    pub fn set_publishing(&self, claim: &Claim) -> Result<(), LedgerError> {
        self.durably(|| {
            self.owned_exec(
                claim,
                "UPDATE stories SET state = 'publishing', attempts = attempts + 1, publish_started_at = COALESCE(publish_started_at, ?3), updated_at = ?3 WHERE id = ?1 AND owner = ?2",
                params![now()],
            )
        })
    }

    /// Records when publishing was first attempted by the Graph API's clock.
    pub fn set_publish_server_at(
        &self,
        claim: &Claim,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.set_server_time_once(claim, "publish_server_at", at)
    }

    /// Sets the server-clock time `column` of the claimed row, unless it is
    /// already set (the first attempt's time is the one that counts).
    pub(super) fn set_server_time_once(
        &self,
        claim: &Claim,
        column: &'static str,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.owned_exec(
            claim,
            &format!(
                "UPDATE stories SET {column} = COALESCE({column}, ?3) WHERE id = ?1 AND owner = ?2"
            ),
            params![stamp(at)],
        )
    }

    /// Records the publish and its media id. An id another row already
    /// holds is never recorded twice: the row then says "id unknown".
    /// Returns the id recorded.
    pub fn set_published(
        &self,
        claim: &Claim,
        media: Option<&str>,
    ) -> Result<Option<String>, LedgerError> {
        let sql = "UPDATE stories SET state = 'published', media_id = ?3, published_at = COALESCE(published_at, ?4), last_error = NULL, owner = NULL, lease_until = NULL, updated_at = ?4 WHERE id = ?1 AND owner = ?2";
        match self.owned_exec(claim, sql, params![media, now()]) {
            // Another row holds the id (the unique index refused it, also
            // when another process recorded it a moment ago): published
            // all the same, its id unknown.
            Err(LedgerError::Sql { source, .. } | LedgerError::Postgres { source, .. })
                if source.is_duplicate() =>
            {
                tracing::warn!("media {} is already recorded for another Story; recording this one as published, id unknown", media.unwrap_or_default());
                self.owned_exec(claim, sql, params![None::<String>, now()])?;
                Ok(None)
            }
            done => done.map(|()| media.map(str::to_string)),
        }
    }

    /// Records an error; `state` says where the row stays.
    pub fn set_error(&self, claim: &Claim, state: State, error: &str) -> Result<(), LedgerError> {
        let error = storyforge_base::util::redact::redact(error);
        self.owned_exec(
            claim,
            "UPDATE stories SET state = ?3, last_error = ?4, updated_at = ?5 WHERE id = ?1 AND owner = ?2",
            params![state.as_str(), error, now()],
        )
    }

    /// Settles an `unsure` row by hand.
    pub fn settle(&self, id: i64, how: &Settlement) -> Result<Asset, LedgerError> {
        let row = self.get(id).map_err(|_| {
            self.refused(format!(
                "no Story with id {id}; `storyforge ledger` lists them"
            ))
        })?;
        if row.state != State::Unsure {
            return Err(self.refused(format!(
                "Story {id} is {}, not unsure: only unsure Stories are settled by hand",
                row.state
            )));
        }
        match how {
            Settlement::Published(media) => {
                if let Some(other) = self.media_holder(media)? {
                    return Err(self.refused(format!(
                        "media {media} is already recorded for Story {other}; check the id on the account"
                    )));
                }
                if self
                    .exec_unique(
                        "UPDATE stories SET state = 'published', media_id = ?2, published_at = COALESCE(publish_started_at, ?3), last_error = 'settled by hand: published', owner = NULL, lease_until = NULL, updated_at = ?3 WHERE id = ?1",
                        params![id, media, now()],
                    )?
                    .is_none()
                {
                    return Err(self.refused(format!(
                        "media {media} was just recorded for another Story; check the id on the account"
                    )));
                }
            }
            Settlement::NotPublished => {
                self.exec(
                    "UPDATE stories SET state = 'pending', container_id = NULL, publish_started_at = NULL, publish_server_at = NULL, publish_reply_server_at = NULL, last_error = 'settled by hand: not published', owner = NULL, lease_until = NULL, updated_at = ?2 WHERE id = ?1",
                    params![id, now()],
                )?;
            }
        }
        self.get(id)
    }

    fn media_holder(&self, media: &str) -> Result<Option<i64>, LedgerError> {
        self.row(
            "SELECT id FROM stories WHERE media_id = ?1 LIMIT 1",
            params![media],
            |r| r.get(0),
        )
    }

    /// The row with this id.
    pub fn get(&self, id: i64) -> Result<Asset, LedgerError> {
        self.row(
            &format!("SELECT {COLUMNS} FROM stories WHERE id = ?1"),
            params![id],
            row_to_asset,
        )?
        .ok_or_else(|| self.refused(format!("no Story with id {id}")))
    }

    /// The newest generation of (`account`, `identity`), if any.
    pub fn latest(&self, account: &str, identity: &str) -> Result<Option<Asset>, LedgerError> {
        self.row(
            &format!("SELECT {COLUMNS} FROM stories WHERE account = ?1 AND identity = ?2 ORDER BY generation DESC LIMIT 1"),
            params![account, identity],
            row_to_asset,
        )
    }

    /// [`Ledger::latest`], its row locked until the transaction ends (on
    /// Postgres; SQLite's immediate transaction already holds the file).
    fn latest_locked(&self, account: &str, identity: &str) -> Result<Option<Asset>, LedgerError> {
        let lock = match self.db.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        };
        self.row(
            &format!("SELECT {COLUMNS} FROM stories WHERE account = ?1 AND identity = ?2 ORDER BY generation DESC LIMIT 1{lock}"),
            params![account, identity],
            row_to_asset,
        )
    }

    /// Every Story row, oldest first.
    pub fn assets(&self) -> Result<Vec<Asset>, LedgerError> {
        self.rows(
            &format!("SELECT {COLUMNS} FROM stories ORDER BY id"),
            &[],
            row_to_asset,
        )
    }

    /// The newest row of each identity of `account` that starts with
    /// `prefix` (a run asks this once, to skip work already published).
    pub fn identities(&self, account: &str, prefix: &str) -> Result<Vec<Asset>, LedgerError> {
        let pattern = format!(
            "{}%",
            prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        self.rows(
            &format!("SELECT {COLUMNS} FROM stories s WHERE account = ?1 AND identity LIKE ?2 ESCAPE '\\' AND generation = (SELECT MAX(generation) FROM stories t WHERE t.account = s.account AND t.identity = s.identity) ORDER BY id"),
            params![account, pattern],
            row_to_asset,
        )
    }

    /// Media ids already recorded for `account`.
    pub fn media_ids(&self, account: &str) -> Result<Vec<String>, LedgerError> {
        self.rows(
            "SELECT media_id FROM stories WHERE account = ?1 AND media_id IS NOT NULL",
            params![account],
            |r| r.get::<String>(0),
        )
    }

    /// Publish times of `account` since `since`, oldest first.
    pub fn published_since(
        &self,
        account: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LedgerError> {
        self.times(
            "SELECT published_at FROM stories WHERE account = ?1 AND published_at >= ?2 ORDER BY published_at",
            account,
            since,
        )
    }

    /// When `account`'s containers since `since` were created, oldest first.
    pub fn containers_since(
        &self,
        account: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LedgerError> {
        self.times(
            "SELECT created_at FROM containers_made WHERE account = ?1 AND created_at >= ?2 ORDER BY created_at",
            account,
            since,
        )
    }

    /// The timestamps `sql` selects for (`account`, `since`).
    fn times(
        &self,
        sql: &str,
        account: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LedgerError> {
        Ok(self
            .rows(sql, params![account, stamp(since)], |r| r.get::<String>(0))?
            .iter()
            .filter_map(|s| parse_time(s))
            .collect())
    }
}

#[cfg(test)]
mod tests;
