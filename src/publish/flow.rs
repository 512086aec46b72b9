//! One claimed Story, exactly once: (resume the container an earlier run
//! left) → quota and container-cap checks → create the container → poll →
//! publish → media id, every state written to the ledger, under the claim,
//! before its call. A publish whose reply was lost is settled by the
//! container's status; when nothing can settle it the row is `unsure`,
//! never `failed`, and no new container is made without evidence that
//! nothing went out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::errors::{subcode_in, subcode_meaning, ErrorClass};
use super::graph::{CallError, GraphClient, Method};
use super::stories::{self, LiveStories};
use super::turn::Turn;
use super::{secs, Account, GraphSettings, StoryMedia};
use crate::ledger::{parse_time, Asset, Claim, Ledger, LedgerError, State};
use crate::media::MediaKind;

/// What became of one Story.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Published now, or earlier (`already`).
    Published {
        /// The media id (None when a lost reply's Story could not be told apart).
        media_id: Option<String>,
        /// True when an earlier run had published it.
        already: bool,
    },
    /// Not attempted now; a later run will (quota, rate limit, container cap).
    Deferred {
        /// Why, and when it can go.
        reason: String,
    },
    /// Certainly not published; the class says whether retrying can help.
    Failed {
        /// What to do about it.
        class: ErrorClass,
        /// What went wrong (redacted).
        message: String,
    },
    /// It may have been published and nothing could settle it yet.
    Unsure {
        /// The class of the error that left it so.
        class: ErrorClass,
        /// What is known and what to do.
        message: String,
    },
}

/// Why publishing could not go on at all.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The ledger failed, or the claim was lost: stop before anything is
    /// published blind.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// A container's status.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    InProgress,
    Finished,
    Published,
    Expired,
    Error(String),
    Gone,
}

/// Publishes claimed Stories through one Graph client, any number at
/// once: each account keeps its own `publish_spacing` (one publish at a
/// time per account), and every Graph call takes one of `max_in_flight`
/// permits shared by all accounts.
pub struct Publisher {
    client: GraphClient,
    settings: GraphSettings,
    /// Per account: held while it publishes (its spacing, kept between
    /// processes too, lives in the ledger's publish lease).
    publishing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    in_flight: Arc<Semaphore>,
}

/// One Story being published: the ledger, its claim and its account.
struct Job<'a> {
    ledger: &'a Ledger,
    claim: &'a Claim,
    account: &'a Account,
}

enum Step {
    Create,
    Poll(String),
    Publish(String),
}

/// How to go on with a container an earlier attempt left.
enum Resume {
    Done(Outcome),
    Continue(String),
    Recreate,
}

impl Publisher {
    /// A publisher talking to `settings.base_url`.
    pub fn new(settings: GraphSettings) -> Result<Self, CallError> {
        let client = GraphClient::new(
            &settings.base_url,
            &settings.version,
            secs(settings.timeout),
        )?;
        let in_flight = Arc::new(Semaphore::new(settings.max_in_flight.max(1)));
        Ok(Publisher {
            client,
            settings,
            publishing: Mutex::new(HashMap::new()),
            in_flight,
        })
    }

    /// The bound on Graph calls (and uploads) in flight, shared by all accounts.
    pub fn in_flight(&self) -> Arc<Semaphore> {
        self.in_flight.clone()
    }

    /// Containers of one account in flight at once (`graph.pipeline`,
    /// within Instagram's containers per 24 h).
    pub fn pipeline(&self) -> usize {
        self.settings
            .pipeline
            .clamp(1, crate::spec::MAX_CONTAINERS_PER_DAY)
    }

    /// `account`'s publish gate: held from the spacing wait through the
    /// publish call, so this process's Stories of one account take the
    /// account's publish lease one after another.
    fn publish_gate(&self, account: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.publishing.lock().unwrap_or_else(|e| e.into_inner());
        gates.entry(account.to_string()).or_default().clone()
    }

    /// The Graph client (token refresh and insights use it too).
    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    /// Publishes the claimed `row` (resuming whatever an earlier run
    /// left), in `turn`: after the Story before it in its sequence has
    /// finished ([`Turn::free`] when it is in none).
    pub async fn publish(
        &self,
        ledger: &Ledger,
        claim: &Claim,
        row: &Asset,
        account: &Account,
        media: &StoryMedia,
        mut turn: Turn,
    ) -> Result<Outcome, FlowError> {
        let job = Job {
            ledger,
            claim,
            account,
        };
        let mut step = match (&row.state, &row.container_id) {
            (State::Container | State::Publishing | State::Unsure, Some(c)) => {
                match self.resolve(&job, c).await? {
                    Resume::Done(outcome) => return Ok(outcome),
                    Resume::Continue(c) => Step::Poll(c),
                    Resume::Recreate => Step::Create,
                }
            }
            (State::Unsure, None) => {
                return Ok(Outcome::Unsure {
                    class: ErrorClass::Transient,
                    message: row.last_error.clone().unwrap_or_default(),
                })
            }
            _ => Step::Create,
        };
        let mut containers = 0;
        let mut not_ready = 0;
        let mut publish_tries = 0u32;
        loop {
            step = match step {
                Step::Create => {
                    containers += 1;
                    if containers > 3 {
                        return self.fail(
                            &job,
                            ErrorClass::NewContainer,
                            "three containers in a row expired or vanished; try again later".into(),
                        );
                    }
                    if let Some(deferred) = self.limits_check(&job).await? {
                        return Ok(deferred);
                    }
                    if !ledger.set_creating(claim, &account.settings.name)? {
                        // Another Story of the account took the last one
                        // since the check above.
                        if let Some(deferred) = self.limits_check(&job).await? {
                            return Ok(deferred);
                        }
                        return Ok(Outcome::Deferred {
                            reason: "Instagram's cap of containers per 24 h reached by this account's other Stories".into(),
                        });
                    }
                    let param = match media.kind {
                        MediaKind::Image => "image_url",
                        MediaKind::Video => "video_url",
                    };
                    let path = format!("{}/media", account.settings.ig_user_id);
                    let tags = (!media.user_tags.is_empty())
                        .then(|| crate::validate::mentions::user_tags_param(&media.user_tags));
                    let mut params = vec![("media_type", "STORIES"), (param, media.url.as_str())];
                    if let Some(t) = &tags {
                        params.push(("user_tags", t.as_str()));
                    }
                    match self.call(account, Method::Post, &path, &params).await {
                        Ok(v) => match v.get("id").and_then(id_str) {
                            Some(id) => {
                                ledger.set_container(claim, &id)?;
                                Step::Poll(id)
                            }
                            None => {
                                return self.fail(
                                    &job,
                                    ErrorClass::Transient,
                                    format!("container reply without an id: {v}"),
                                )
                            }
                        },
                        Err(e) => return self.call_failed(&job, &e),
                    }
                }
                Step::Poll(c) => match self.poll(account, &c, media.kind).await {
                    Ok(Status::Finished) => Step::Publish(c),
                    Ok(Status::Published) => return self.published_unseen(&job).await,
                    Ok(Status::Expired | Status::Gone) => match self.gone(&job, &c).await? {
                        Resume::Done(o) => return Ok(o),
                        Resume::Continue(c) => Step::Poll(c),
                        Resume::Recreate => Step::Create,
                    },
                    Ok(Status::Error(text)) => {
                        let meaning = subcode_in(&text)
                            .map(subcode_meaning)
                            .unwrap_or("see the status text");
                        let class = match subcode_in(&text) {
                            Some(2207001 | 2207032 | 2207003) => ErrorClass::Transient,
                            Some(2207020 | 2207053) => ErrorClass::NewContainer,
                            _ => ErrorClass::FixInput,
                        };
                        if class == ErrorClass::NewContainer {
                            // A container in ERROR was never published.
                            Step::Create
                        } else {
                            return self.fail(
                                &job,
                                class,
                                format!(
                                    "Instagram could not process {}: {text} — {meaning}",
                                    crate::publish::redact::redact(&media.url)
                                ),
                            );
                        }
                    }
                    Ok(Status::InProgress) => {
                        return self.fail(&job, ErrorClass::Transient, format!("container {c} still processing after the deadline; the next run resumes it"));
                    }
                    Err(e) => return self.call_failed(&job, &e),
                },
                Step::Publish(c) => {
                    publish_tries += 1;
                    if publish_tries > self.settings.retries + 1 {
                        return self.fail(
                            &job,
                            ErrorClass::Transient,
                            format!(
                                "publishing container {c} kept failing while it stayed unpublished; the next run resumes it"
                            ),
                        );
                    }
                    if publish_tries > 1 {
                        let base = self.settings.retry_base * 2f64.powi(publish_tries as i32 - 2);
                        tokio::time::sleep(secs(base * (0.5 + fastrand::f64()))).await;
                    }
                    turn.wait().await;
                    let gate = self.publish_gate(&account.settings.name);
                    let _publishing = gate.lock().await;
                    // Waits for the lease, the spacing after the account's
                    // last publish (by any process) and any lost reply's window.
                    let sent = super::hold::take(
                        &self.client,
                        ledger,
                        &account.settings.name,
                        &claim.owner,
                        secs(self.settings.timeout + 15.0),
                        secs(self.settings.publish_spacing),
                    )
                    .await?;
                    if let Some(server) = sent {
                        ledger.set_publish_server_at(claim, server)?;
                    }
                    // Synced to disk with everything before it.
                    ledger.set_publishing(claim)?;
                    let path = format!("{}/media_publish", account.settings.ig_user_id);
                    let result = self
                        .call(account, Method::Post, &path, &[("creation_id", c.as_str())])
                        .await;
                    match result {
                        Ok(v) => {
                            let id = v.get("id").and_then(id_str);
                            if id.is_none() {
                                self.reply_lost(&job, false)?;
                            }
                            let recorded = ledger.set_published(claim, id.as_deref())?;
                            self.let_go(&job, recorded.is_none())?;
                            return Ok(Outcome::Published {
                                media_id: recorded,
                                already: false,
                            });
                        }
                        Err(e) if is_already_published(&e) => {
                            // The API's own word: the container went out.
                            self.reply_lost(&job, true)?;
                            return self.published_unseen(&job).await;
                        }
                        Err(e) if e.class() == ErrorClass::NotReady && not_ready < 5 => {
                            // 9007: the SAME container, after a wait.
                            self.let_go(&job, false)?;
                            not_ready += 1;
                            tokio::time::sleep(secs(self.settings.not_ready_wait)).await;
                            Step::Poll(c)
                        }
                        Err(e)
                            if matches!(e.class(), ErrorClass::Quota | ErrorClass::RateLimited) =>
                        {
                            // Refused before it took effect: the container waits.
                            self.let_go(&job, false)?;
                            let message = describe(&e);
                            ledger.set_error(claim, State::Container, &message)?;
                            return Ok(Outcome::Deferred { reason: message });
                        }
                        Err(CallError::Transport { not_sent: true, .. }) => {
                            self.let_go(&job, false)?;
                            Step::Publish(c)
                        }
                        Err(e) => {
                            // The reply was lost or said something else: the
                            // container's status says whether it went out,
                            // and by now it had (the end of its window).
                            self.reply_lost(&job, true)?;
                            tracing::warn!(
                                "{}: publish of container {c}: {e}; asking the container",
                                account.settings.name
                            );
                            match self.resolve(&job, &c).await? {
                                Resume::Done(outcome) => return Ok(outcome),
                                Resume::Continue(c) => Step::Poll(c),
                                Resume::Recreate => Step::Create,
                            }
                        }
                    }
                }
            };
        }
    }

    /// Settles a container an earlier attempt (or a lost reply) left.
    async fn resolve(&self, job: &Job<'_>, container: &str) -> Result<Resume, FlowError> {
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
    async fn gone(&self, job: &Job<'_>, container: &str) -> Result<Resume, FlowError> {
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
                    crate::spec::STORY_LIFETIME_HOURS
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
    fn reply_lost(&self, job: &Job<'_>, let_go: bool) -> Result<(), FlowError> {
        if let Some(server) = self.client.server_now() {
            job.ledger.set_publish_reply_server_at(job.claim, server)?;
        }
        if let_go {
            self.let_go(job, true)?;
        }
        Ok(())
    }

    /// Lets go of the account's publish lease (see [`super::hold`]).
    fn let_go(&self, job: &Job<'_>, lost: bool) -> Result<(), FlowError> {
        Ok(super::hold::release(
            &self.client,
            job.ledger,
            &job.account.settings.name,
            &job.claim.owner,
            lost,
        )?)
    }

    /// Records a publish whose reply was not seen, and its media id once
    /// its publish window tells it apart (see [`super::media_ids`]).
    async fn published_unseen(&self, job: &Job<'_>) -> Result<Outcome, FlowError> {
        // The container says PUBLISHED now: its window ends no later.
        if let Some(server) = self.client.server_now() {
            job.ledger.set_publish_reply_server_at(job.claim, server)?;
        }
        job.ledger.set_published(job.claim, None)?;
        super::media_ids::fill(&self.client, job.ledger, job.account).await?;
        Ok(Outcome::Published {
            media_id: job.ledger.get(job.claim.id)?.media_id,
            already: false,
        })
    }

    /// When `row`'s publish was first attempted by the server's clock: as
    /// recorded, else our record moved by the server's offset now.
    fn attempted_server_at(&self, row: &Asset) -> Option<chrono::DateTime<Utc>> {
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
    fn listing_sees(&self, row: &Asset) -> bool {
        let Some(attempt) = self.attempted_server_at(row) else {
            return true;
        };
        let now = self.client.server_now().unwrap_or_else(Utc::now);
        let window = chrono::Duration::hours(crate::spec::STORY_LIFETIME_HOURS)
            - chrono::Duration::minutes(10);
        now - attempt < window
    }

    /// Ids of live Stories published since `row`'s publish attempt (by the
    /// server's clock, less two minutes) that no ledger row holds.
    async fn live_since(&self, job: &Job<'_>, row: &Asset) -> Result<Vec<String>, CallError> {
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

    /// A call with retries: transient errors back off exponentially with
    /// jitter, rate limits wait per the usage header (else 60 s doubling),
    /// and calls slow down while usage is above the threshold.
    async fn call(
        &self,
        account: &Account,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, CallError> {
        let mut attempt = 0u32;
        loop {
            self.slow_down(account).await;
            let result = {
                let _permit = self.in_flight.acquire().await;
                self.client.call(method, path, &account.token, params).await
            };
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            // A POST without a reply may have taken effect, and a publish is
            // never repeated blind: the caller resolves both from the
            // container's status.
            let unsure_post = method == Method::Post
                && (matches!(
                    &err,
                    CallError::Transport {
                        not_sent: false,
                        ..
                    }
                ) || path.ends_with("media_publish"));
            let wait = match err.class() {
                _ if unsure_post => return Err(err),
                ErrorClass::Transient if attempt < self.settings.retries => {
                    let base = self.settings.retry_base * 2f64.powi(attempt as i32);
                    secs(base * (0.5 + fastrand::f64()))
                }
                ErrorClass::RateLimited if attempt < self.settings.retries => {
                    let regain = match &err {
                        CallError::Api {
                            regain_minutes: Some(m),
                            ..
                        } => Some(*m as f64 * 60.0),
                        _ => None,
                    };
                    let doubling = self.settings.rate_limit_base * 2f64.powi(attempt as i32);
                    let wait = regain.unwrap_or(doubling);
                    if wait > self.settings.max_wait {
                        return Err(err);
                    }
                    secs(wait)
                }
                _ => return Err(err),
            };
            tracing::warn!(
                "{} {path}: {err}; retrying in {:.1} s",
                account.settings.name,
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Pauses while the usage last reported for `account` is above the
    /// threshold.
    async fn slow_down(&self, account: &Account) {
        let usage = self.client.usage_for(&account.token);
        let over = usage.percent - self.settings.slow_down_above;
        if over > 0.0 {
            let span = (100.0 - self.settings.slow_down_above).max(1.0);
            let pause = self.settings.slow_down_max * (over / span).min(1.0);
            tracing::info!("API usage at {:.0} %: pausing {pause:.1} s", usage.percent);
            tokio::time::sleep(secs(pause)).await;
        }
    }

    async fn status(&self, account: &Account, container: &str) -> Result<Status, CallError> {
        match self
            .call(
                account,
                Method::Get,
                container,
                &[("fields", "status_code,status")],
            )
            .await
        {
            Ok(v) => {
                let text = v
                    .get("status")
                    .and_then(|s| s.as_str())
                    .unwrap_or("")
                    .to_string();
                Ok(
                    match v.get("status_code").and_then(|s| s.as_str()).unwrap_or("") {
                        "FINISHED" => Status::Finished,
                        "PUBLISHED" => Status::Published,
                        "EXPIRED" => Status::Expired,
                        "ERROR" => Status::Error(text),
                        _ => Status::InProgress,
                    },
                )
            }
            Err(e) if e.class() == ErrorClass::NewContainer => Ok(Status::Gone),
            Err(e) => Err(e),
        }
    }

    /// Polls until the container leaves IN_PROGRESS or the deadline passes.
    /// The wait is the kind's first wait (1 s images, 5 s videos by
    /// default) until the container has been processing for five of them,
    /// then a fifth of the time it has taken so far, at most three first
    /// waits: a Story is seen FINISHED within ~20 % of its processing
    /// time, and a 60 s video costs about a dozen calls.
    async fn poll(
        &self,
        account: &Account,
        container: &str,
        kind: MediaKind,
    ) -> Result<Status, CallError> {
        let (first, deadline) = match kind {
            MediaKind::Image => (self.settings.image_poll, self.settings.image_deadline),
            MediaKind::Video => (self.settings.video_poll, self.settings.video_deadline),
        };
        let started = Instant::now();
        let until = started + secs(deadline);
        loop {
            let s = self.status(account, container).await?;
            if s != Status::InProgress || Instant::now() >= until {
                return Ok(s);
            }
            let left = until.saturating_duration_since(Instant::now());
            let wait = poll_wait(first, started.elapsed().as_secs_f64());
            tokio::time::sleep(secs(wait).min(left)).await;
        }
    }

    /// `Some(Deferred)` when the account's publishing quota or its
    /// containers per 24 h are used up.
    async fn limits_check(&self, job: &Job<'_>) -> Result<Option<Outcome>, FlowError> {
        let name = &job.account.settings.name;
        let day = chrono::Duration::hours(crate::spec::STORY_LIFETIME_HOURS);
        let made = job.ledger.containers_since(name, Utc::now() - day)?;
        if made.len() >= crate::spec::MAX_CONTAINERS_PER_DAY {
            let frees = made[made.len() - crate::spec::MAX_CONTAINERS_PER_DAY] + day;
            return Ok(Some(Outcome::Deferred {
                reason: format!(
                    "{} containers made in the last 24 h, Instagram's cap; the next can be made at {}",
                    made.len(),
                    frees.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            }));
        }
        let path = super::quota::path(&job.account.settings.ig_user_id);
        let v = match self
            .call(
                job.account,
                Method::Get,
                &path,
                &[("fields", super::quota::FIELDS)],
            )
            .await
        {
            Ok(v) => v,
            // Unknown quota: go on; a cap error on publish is handled there.
            Err(e) => {
                tracing::warn!("{name}: cannot read the publishing quota: {e}");
                return Ok(None);
            }
        };
        let Some(quota) = super::quota::Quota::from_reply(&v) else {
            return Ok(None);
        };
        if !quota.used_up() {
            return Ok(None);
        }
        let (used, total, window) = (quota.used, quota.total, quota.window_secs);
        let frees = quota
            .next_free(
                &job.ledger
                    .published_since(name, Utc::now() - quota.window())?,
            )
            .map(|t| {
                format!(
                    "at {}",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            })
            .unwrap_or_else(|| "as the rolling window moves on".into());
        Ok(Some(Outcome::Deferred {
            reason: format!(
                "publishing quota used up ({used} of {total} in {} h); it frees {frees}",
                window / 3600
            ),
        }))
    }

    /// Records a failure. When a publish of the current container was
    /// attempted and not settled, it is never `failed`: it stays resumable
    /// (retryable errors) or becomes `unsure`.
    fn fail(
        &self,
        job: &Job<'_>,
        class: ErrorClass,
        message: String,
    ) -> Result<Outcome, FlowError> {
        let row = job.ledger.get(job.claim.id)?;
        if row.publish_started_at.is_some() {
            return self.unsure(job, class, message);
        }
        let state = if class.retryable() {
            row.state
        } else {
            State::Failed
        };
        job.ledger.set_error(job.claim, state, &message)?;
        Ok(Outcome::Failed { class, message })
    }

    /// Leaves the row `unsure` (or resumable, for a passing error) with
    /// what to do.
    fn unsure(
        &self,
        job: &Job<'_>,
        class: ErrorClass,
        message: String,
    ) -> Result<Outcome, FlowError> {
        let row = job.ledger.get(job.claim.id)?;
        let (state, todo) = if class.retryable() {
            (
                row.state,
                "the next run asks the container again".to_string(),
            )
        } else {
            (
                State::Unsure,
                format!(
                    "check the account's Stories, then `storyforge ledger settle {} --published MEDIA_ID` or `--not-published`",
                    row.id
                ),
            )
        };
        let message = format!("publish may have gone out: {message}; {todo}");
        job.ledger.set_error(job.claim, state, &message)?;
        Ok(Outcome::Unsure { class, message })
    }

    fn call_failed(&self, job: &Job<'_>, e: &CallError) -> Result<Outcome, FlowError> {
        let class = e.class();
        let message = describe(e);
        if class == ErrorClass::Quota || class == ErrorClass::RateLimited {
            let row = job.ledger.get(job.claim.id)?;
            job.ledger.set_error(job.claim, row.state, &message)?;
            return Ok(Outcome::Deferred { reason: message });
        }
        self.fail(job, class, message)
    }
}

/// The wait before the next status poll of a container processing for
/// `elapsed` seconds, from the kind's `first` wait (see `Publisher::poll`).
fn poll_wait(first: f64, elapsed: f64) -> f64 {
    (elapsed / 5.0).clamp(first, first * 3.0)
}

/// An error's text with its subcode's meaning.
fn describe(e: &CallError) -> String {
    let mut message = e.to_string();
    if let Some(sub) = e.api().and_then(|g| g.error_subcode) {
        message.push_str(&format!(" — {}", subcode_meaning(sub)));
    }
    message
}

/// "This container was already published": Meta documents no code for it,
/// so it is told by the sandbox's subcode or by the message.
fn is_already_published(e: &CallError) -> bool {
    e.api().is_some_and(|g| {
        g.error_subcode == Some(2207099) || {
            let m = g.message.to_ascii_lowercase();
            m.contains("already published") || m.contains("already been published")
        }
    })
}

fn id_str(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::poll_wait;

    #[test]
    fn polls_back_off_with_the_time_taken() {
        // Images: 1 s until 5 s in, then a fifth of the time, at most 3 s.
        assert_eq!(poll_wait(1.0, 0.0), 1.0);
        assert_eq!(poll_wait(1.0, 7.5), 1.5);
        assert_eq!(poll_wait(1.0, 60.0), 3.0);
        // Videos: 5 s, growing to 15 s; a 60 s video takes about a dozen polls.
        let (mut t, mut polls) = (0.0, 0);
        while t < 60.0 {
            t += poll_wait(5.0, t);
            polls += 1;
        }
        assert!((10..=14).contains(&polls), "{polls} polls");
    }
}
