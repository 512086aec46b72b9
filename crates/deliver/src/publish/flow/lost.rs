//! After a publish whose reply was lost, or a container that is gone:
//! what the container's status, the publish window and the account's live
//! Stories say went out, and the account's publish lease let go.

use super::*;

impl Publisher {
    /// Settles a container an earlier attempt (or a lost reply) left.
    pub(super) async fn resolve(
        &self,
        job: &Job<'_>,
        container: &str,
    ) -> Result<Resume, FlowError> {
        match self.status(job.account, container).await {
            Ok(Status::Published) => Ok(Resume::Done(self.published_unseen(job).await?)),
            Ok(Status::Expired | Status::Gone) => self.gone(job, container).await,
            // FINISHED: not published, the same container goes again;
            // IN_PROGRESS and ERROR were never published either.
            Ok(_) => Ok(Resume::Continue(container.to_string())),
            Err(e) => Ok(Resume::Done(self.call_failed(job, &e)?)),
        }
    }

    /// A container that is gone or expired: a new one is made only with
    /// evidence that nothing went out (no publish attempted on it, or no
    /// Story unknown to the ledger live since the attempt).
    pub(super) async fn gone(&self, job: &Job<'_>, container: &str) -> Result<Resume, FlowError> {
        let row = job.ledger.get(job.claim.id)?;
        if row.publish_started_at.is_none() {
            return Ok(Resume::Recreate);
        }
        // Code 24 can be passing (spec: retry 1–2 times within 2 min).
        for _ in 0..2 {
            tokio::time::sleep(secs(self.settings.gone_wait)).await;
            match self.status(job.account, container).await {
                Ok(Status::Published) => {
                    return Ok(Resume::Done(self.published_unseen(job).await?))
                }
                Ok(Status::Expired | Status::Gone) => {}
                Ok(_) => return Ok(Resume::Continue(container.to_string())),
                Err(e) => return Ok(Resume::Done(self.call_failed(job, &e)?)),
            }
        }
        match self.live_since(job, &row).await {
            Ok(_) if !self.listing_sees(&row) => Ok(Resume::Done(self.unsure(
                job,
                ErrorClass::NewContainer,
                format!(
                    "container {container} is gone after a publish attempt made more than {} h ago by Instagram's clock, which the live Stories list no longer covers; look for it in the account's Story archive in the Instagram app",
                    storyforge_base::spec::STORY_LIFETIME_HOURS
                ),
            )?)),
            Ok(unknown) if unknown.is_empty() => {
                tracing::info!(
                    "{}: container {container} is gone and no Story went live since the publish attempt; making a new one",
                    job.account.settings.name
                );
                Ok(Resume::Recreate)
            }
            Ok(unknown) => Ok(Resume::Done(self.unsure(
                job,
                ErrorClass::NewContainer,
                format!(
                    "container {container} is gone after a publish attempt, and {} Stor{} unknown to the ledger went live since",
                    unknown.len(),
                    if unknown.len() == 1 { "y" } else { "ies" }
                ),
            )?)),
            Err(e) => Ok(Resume::Done(self.unsure(
                job,
                e.class(),
                format!(
                    "container {container} is gone after a publish attempt, and the live Stories could not be read: {}",
                    describe(&e)
                ),
            )?)),
        }
    }

    /// Records the end of a publish window whose reply was not seen (by
    /// the server's clock), and lets go of the account's publish lease
    /// when `let_go`: the next publish waits until this window has passed.
    pub(super) fn reply_lost(&self, job: &Job<'_>, let_go: bool) -> Result<(), FlowError> {
        if let Some(server) = self.client.server_now() {
            job.ledger.set_publish_reply_server_at(job.claim, server)?;
        }
        if let_go {
            self.let_go(job, true)?;
        }
        Ok(())
    }

    /// Lets go of the account's publish lease (see [`super::hold`]).
    pub(super) fn let_go(&self, job: &Job<'_>, lost: bool) -> Result<(), FlowError> {
        Ok(crate::publish::hold::release(
            &self.client,
            job.ledger,
            &job.account.settings.name,
            &job.claim.owner,
            lost,
        )?)
    }

    /// Records a publish whose reply was not seen, and its media id once
    /// its publish window tells it apart (see [`super::media_ids`]).
    pub(super) async fn published_unseen(&self, job: &Job<'_>) -> Result<Outcome, FlowError> {
        // The container says PUBLISHED now: its window ends no later.
        if let Some(server) = self.client.server_now() {
            job.ledger.set_publish_reply_server_at(job.claim, server)?;
        }
        job.ledger.set_published(job.claim, None)?;
        crate::publish::media_ids::fill(&self.client, job.ledger, job.account).await?;
        Ok(Outcome::Published {
            media_id: job.ledger.get(job.claim.id)?.media_id,
            already: false,
        })
    }

    /// When `row`'s publish was first attempted by the server's clock: as
    /// recorded, else our record moved by the server's offset now.
    pub(super) fn attempted_server_at(&self, row: &Asset) -> Option<chrono::DateTime<Utc>> {
        if let Some(t) = row.publish_server_at.as_deref().and_then(parse_time) {
            return Some(t);
        }
        let local = row.publish_started_at.as_deref().and_then(parse_time)?;
        let offset = self.client.server_now().map(|s| s - Utc::now());
        Some(local + offset.unwrap_or_default())
    }

    /// True while `/stories` (the last 24 h, by the server's clock) still
    /// covers `row`'s publish attempt, with a margin: only then does its
    /// not listing a Story say the publish did not go out.
    pub(super) fn listing_sees(&self, row: &Asset) -> bool {
        let Some(attempt) = self.attempted_server_at(row) else {
            return true;
        };
        let now = self.client.server_now().unwrap_or_else(Utc::now);
        let window = chrono::Duration::hours(storyforge_base::spec::STORY_LIFETIME_HOURS)
            - chrono::Duration::minutes(10);
        now - attempt < window
    }

    /// Ids of live Stories published since `row`'s publish attempt (by the
    /// server's clock, less two minutes) that no ledger row holds.
    pub(super) async fn live_since(
        &self,
        job: &Job<'_>,
        row: &Asset,
    ) -> Result<Vec<String>, CallError> {
        let since = self
            .attempted_server_at(row)
            .map(|t| t - chrono::Duration::seconds(120));
        let live: LiveStories = stories::live(&self.client, job.account).await?;
        let known = job
            .ledger
            .media_ids(&job.account.settings.name)
            .unwrap_or_default();
        Ok(live
            .into_iter()
            .filter(|s| !known.contains(&s.id))
            .filter(|s| match (s.timestamp, since) {
                (Some(t), Some(since)) => t >= since,
                _ => true,
            })
            .map(|s| s.id)
            .collect())
    }
}
