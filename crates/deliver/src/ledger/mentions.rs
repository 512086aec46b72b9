//! The mentions (`user_tags`) a Story was claimed with, kept beside it so
//! a publish resumed after a crash (a container to make again) tags the
//! same accounts as the run that started it, whatever the feed says now.

use super::db::params;
use super::{Asset, Ledger, LedgerError};

impl Ledger {
    /// The usernames to tag on `row`: while a publish may be under way (a
    /// container exists or is being made), the ones stored with it (else
    /// `now`); otherwise `now`, stored for a later resume.
    pub fn claimed_mentions(&self, row: &Asset, now: &[String]) -> Vec<String> {
        let kept = || -> Result<Vec<String>, LedgerError> {
            if row.state.in_flight() {
                let stored = self.rows(
                    "SELECT mentions FROM story_mentions WHERE story_id = ?1",
                    params![row.id],
                    |r| r.get::<String>(0),
                )?;
                if let Some(list) = stored
                    .first()
                    .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
                {
                    return Ok(list);
                }
            }
            let text = serde_json::to_string(now).unwrap_or_else(|_| "[]".into());
            self.exec(
                "INSERT INTO story_mentions (story_id, mentions) VALUES (?1, ?2) ON CONFLICT (story_id) DO UPDATE SET mentions = excluded.mentions",
                params![row.id, text],
            )?;
            Ok(now.to_vec())
        };
        kept().unwrap_or_else(|e| {
            tracing::warn!("{e}");
            now.to_vec()
        })
    }
}

/// A Story row for tests (here and in the jobs crate's): `identity` in
/// `state`, the rest empty.
pub fn test_asset(id: i64, identity: &str, state: super::State) -> Asset {
    Asset {
        id,
        account: "a".into(),
        identity: identity.into(),
        generation: 0,
        content_hash: "h".into(),
        input_hash: None,
        kind: storyforge_base::media::MediaKind::Image,
        source: identity.into(),
        output_path: None,
        object_key: None,
        url: None,
        container_id: None,
        media_id: None,
        state,
        attempts: 0,
        last_error: None,
        owner: None,
        lease_until: None,
        created_at: String::new(),
        updated_at: String::new(),
        container_at: None,
        publish_started_at: None,
        published_at: None,
        fields: None,
        asked_by: None,
        publish_server_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::State;

    #[test]
    fn a_resumed_publish_keeps_the_mentions_it_was_claimed_with() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.db")).unwrap();
        let mut row = test_asset(7, "file:x.jpg", State::Pending);
        let first = vec!["ana.b".to_string()];
        assert_eq!(l.claimed_mentions(&row, &first), first);
        // Resumed while a container may exist: the claimed ones, whatever
        // the row says now.
        row.state = State::Container;
        assert_eq!(l.claimed_mentions(&row, &["bo".to_string()]), first);
        // A fresh attempt (the last one failed): today's, stored anew.
        row.state = State::Failed;
        assert_eq!(l.claimed_mentions(&row, &["bo".to_string()]), ["bo"]);
        row.state = State::Publishing;
        assert_eq!(l.claimed_mentions(&row, &[]), ["bo"]);
    }
}
