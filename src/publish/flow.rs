//! One Story, exactly once: ledger row → (resume a container left by an
//! earlier run) → quota check → create the container → poll → publish →
//! media id, with every state written to the ledger before its call. A
//! publish whose reply was lost is resolved from the container's status,
//! never by a second container.

use std::time::Instant;

use chrono::Utc;
use serde::Serialize;

use super::errors::{subcode_in, subcode_meaning, ErrorClass};
use super::graph::{CallError, GraphClient, Method};
use super::{secs, Account, GraphSettings, MediaKind, StoryMedia};
use crate::ledger::{parse_time, Asset, Ledger, LedgerError, State};

/// What became of one Story.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Published now, or earlier (`already`).
    Published {
        /// The media id (None when a lost reply's Story could not be identified).
        media_id: Option<String>,
        /// True when an earlier run had published it.
        already: bool,
    },
    /// Not attempted now; a later run will (quota, rate limit).
    Deferred {
        /// Why, and when it can go.
        reason: String,
    },
    /// Failed; the class says whether retrying can help.
    Failed {
        /// What to do about it.
        class: ErrorClass,
        /// What went wrong (redacted).
        message: String,
    },
}

/// Why publishing could not go on at all.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The ledger failed: stop before anything is published blind.
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

/// Publishes Stories for accounts, recording everything in a ledger.
pub struct Publisher<'a> {
    client: GraphClient,
    settings: GraphSettings,
    ledger: &'a Ledger,
    last_publish: Option<Instant>,
}

enum Step {
    Create,
    Poll(String),
    Publish(String),
}

impl<'a> Publisher<'a> {
    /// A publisher talking to `settings.base_url`, recording in `ledger`.
    pub fn new(settings: GraphSettings, ledger: &'a Ledger) -> Result<Self, CallError> {
        let client = GraphClient::new(
            &settings.base_url,
            &settings.version,
            secs(settings.timeout),
        )?;
        Ok(Publisher {
            client,
            settings,
            ledger,
            last_publish: None,
        })
    }

    /// The Graph client (token refresh and insights use it too).
    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    /// Publishes `media` to `account` unless the ledger says it already is.
    pub async fn publish(
        &mut self,
        account: &Account,
        media: &StoryMedia,
    ) -> Result<Outcome, FlowError> {
        let name = &account.settings.name;
        let row = self.ledger.upsert(
            name,
            &media.content_hash,
            media.kind.as_str(),
            &media.source,
            media.output_path.as_deref(),
        )?;
        if row.state == State::Published {
            return Ok(Outcome::Published {
                media_id: row.media_id,
                already: true,
            });
        }
        self.ledger.set_uploaded(row.id, &media.url)?;
        let mut step = match (&row.state, &row.container_id) {
            (State::Container | State::Publishing, Some(c)) => {
                match self.resolve(account, &row, c).await? {
                    Resume::Done(outcome) => return Ok(outcome),
                    Resume::Continue(c) => Step::Poll(c),
                    Resume::Recreate => Step::Create,
                }
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
                            &row,
                            ErrorClass::NewContainer,
                            "three containers in a row expired or vanished; try again later".into(),
                        );
                    }
                    if let Some(deferred) = self.quota_check(account).await? {
                        return Ok(deferred);
                    }
                    self.ledger.set_creating(row.id)?;
                    let param = match media.kind {
                        MediaKind::Image => "image_url",
                        MediaKind::Video => "video_url",
                    };
                    let path = format!("{}/media", account.settings.ig_user_id);
                    let params = [("media_type", "STORIES"), (param, media.url.as_str())];
                    match self.call(account, Method::Post, &path, &params).await {
                        Ok(v) => match v.get("id").and_then(id_str) {
                            Some(id) => {
                                self.ledger.set_container(row.id, &id)?;
                                Step::Poll(id)
                            }
                            None => {
                                return self.fail(
                                    &row,
                                    ErrorClass::Transient,
                                    format!("container reply without an id: {v}"),
                                )
                            }
                        },
                        Err(e) => return self.call_failed(&row, &e),
                    }
                }
                Step::Poll(c) => match self.poll(account, &c, media.kind).await {
                    Ok(Status::Finished) => Step::Publish(c),
                    Ok(Status::Published) => {
                        let id = self.find_media(account, &row).await;
                        self.ledger.set_published(row.id, id.as_deref())?;
                        return Ok(Outcome::Published {
                            media_id: id,
                            already: false,
                        });
                    }
                    Ok(Status::Expired | Status::Gone) => Step::Create,
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
                            Step::Create
                        } else {
                            return self.fail(
                                &row,
                                class,
                                format!(
                                    "Instagram could not process {}: {text} — {meaning}",
                                    media.url
                                ),
                            );
                        }
                    }
                    Ok(Status::InProgress) => {
                        return self.fail(&row, ErrorClass::Transient, format!("container {c} still processing after the deadline; the next run resumes it"));
                    }
                    Err(e) => return self.call_failed(&row, &e),
                },
                Step::Publish(c) => {
                    publish_tries += 1;
                    if publish_tries > self.settings.retries + 1 {
                        return self.fail(
                            &row,
                            ErrorClass::Transient,
                            format!(
                                "publishing container {c} kept failing; the next run resumes it"
                            ),
                        );
                    }
                    if publish_tries > 1 {
                        let base = self.settings.retry_base * 2f64.powi(publish_tries as i32 - 2);
                        tokio::time::sleep(secs(base * (0.5 + fastrand::f64()))).await;
                    }
                    self.space_publishes().await;
                    self.ledger.set_publishing(row.id)?;
                    let path = format!("{}/media_publish", account.settings.ig_user_id);
                    let result = self
                        .call(account, Method::Post, &path, &[("creation_id", c.as_str())])
                        .await;
                    self.last_publish = Some(Instant::now());
                    match result {
                        Ok(v) => {
                            let id = v.get("id").and_then(id_str);
                            self.ledger.set_published(row.id, id.as_deref())?;
                            return Ok(Outcome::Published {
                                media_id: id,
                                already: false,
                            });
                        }
                        Err(e) if e.class() == ErrorClass::NotReady && not_ready < 5 => {
                            // 9007: the SAME container, after a wait.
                            not_ready += 1;
                            tokio::time::sleep(secs(self.settings.not_ready_wait)).await;
                            Step::Poll(c)
                        }
                        Err(e) if e.class() == ErrorClass::NewContainer => Step::Create,
                        Err(e) if matches!(e, CallError::Api { .. }) && !e.class().retryable() => {
                            return self.call_failed(&row, &e)
                        }
                        Err(_) => {
                            // The reply was lost or the call failed: the
                            // container's status says whether it went out.
                            let fresh = self
                                .ledger
                                .find(&account.settings.name, &media.content_hash)?;
                            let fresh = fresh.unwrap_or(row.clone());
                            match self.resolve(account, &fresh, &c).await? {
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

    /// Settles a container an earlier attempt left.
    async fn resolve(
        &mut self,
        account: &Account,
        row: &Asset,
        container: &str,
    ) -> Result<Resume, FlowError> {
        match self.status(account, container).await {
            Ok(Status::Published) => {
                let id = self.find_media(account, row).await;
                self.ledger.set_published(row.id, id.as_deref())?;
                Ok(Resume::Done(Outcome::Published {
                    media_id: id,
                    already: false,
                }))
            }
            // Never published (a published container says PUBLISHED), so a
            // new container is safe.
            Ok(Status::Expired | Status::Gone) => Ok(Resume::Recreate),
            Ok(_) => Ok(Resume::Continue(container.to_string())),
            Err(e) => Ok(Resume::Done(self.call_failed(row, &e)?)),
        }
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
            self.slow_down().await;
            let result = self.client.call(method, path, &account.token, params).await;
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

    /// Pauses while the last reported usage is above the threshold.
    async fn slow_down(&self) {
        let usage = self.client.usage();
        let over = usage.percent - self.settings.slow_down_above;
        if over > 0.0 {
            let span = (100.0 - self.settings.slow_down_above).max(1.0);
            let pause = self.settings.slow_down_max * (over / span).min(1.0);
            tracing::info!("API usage at {:.0} %: pausing {pause:.1} s", usage.percent);
            tokio::time::sleep(secs(pause)).await;
        }
    }

    /// Keeps at least `publish_spacing` between publishes.
    async fn space_publishes(&self) {
        if let Some(last) = self.last_publish {
            let gap = secs(self.settings.publish_spacing);
            let since = last.elapsed();
            if since < gap {
                tokio::time::sleep(gap - since).await;
            }
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

    /// Polls until the container leaves IN_PROGRESS or the deadline passes;
    /// waits grow 1.5× from the kind's first wait (seconds for images, tens
    /// of seconds for videos).
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
        let until = Instant::now() + secs(deadline);
        let mut wait = first;
        loop {
            let s = self.status(account, container).await?;
            if s != Status::InProgress || Instant::now() >= until {
                return Ok(s);
            }
            let left = until.saturating_duration_since(Instant::now());
            tokio::time::sleep(secs(wait).min(left)).await;
            wait = (wait * 1.5).min(first * 8.0);
        }
    }

    /// `Some(Deferred)` when the account's publishing quota is used up.
    async fn quota_check(&self, account: &Account) -> Result<Option<Outcome>, FlowError> {
        let path = format!("{}/content_publishing_limit", account.settings.ig_user_id);
        let v = match self
            .call(
                account,
                Method::Get,
                &path,
                &[("fields", "config,quota_usage")],
            )
            .await
        {
            Ok(v) => v,
            // Unknown quota: go on; a cap error on create is handled there.
            Err(e) => {
                tracing::warn!(
                    "{}: cannot read the publishing quota: {e}",
                    account.settings.name
                );
                return Ok(None);
            }
        };
        let entry = &v["data"][0];
        let used = entry["quota_usage"].as_u64();
        let total = entry["config"]["quota_total"].as_u64();
        let window = entry["config"]["quota_duration"].as_u64().unwrap_or(86_400);
        let (Some(used), Some(total)) = (used, total) else {
            return Ok(None);
        };
        if used < total {
            return Ok(None);
        }
        let since = Utc::now() - chrono::Duration::seconds(window as i64);
        let frees = self
            .ledger
            .published_since(&account.settings.name, since)?
            .first()
            .map(|t| {
                (*t + chrono::Duration::seconds(window as i64))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
            .unwrap_or_else(|| "as the rolling 24 h window moves on".into());
        Ok(Some(Outcome::Deferred {
            reason: format!(
                "publishing quota used up ({used} of {total} in {} h); it frees {}",
                window / 3600,
                if frees.starts_with("as") {
                    frees
                } else {
                    format!("at {frees}")
                }
            ),
        }))
    }

    /// The media id of a Story whose publish reply was lost: the earliest
    /// live Story published since the attempt began that the ledger does
    /// not already know.
    async fn find_media(&self, account: &Account, row: &Asset) -> Option<String> {
        let known = self.ledger.media_ids(&account.settings.name).ok()?;
        let since = row
            .publish_started_at
            .as_deref()
            .and_then(parse_time)
            .map(|t| t - chrono::Duration::seconds(120));
        let path = format!("{}/stories", account.settings.ig_user_id);
        let v = self
            .call(account, Method::Get, &path, &[("fields", "id,timestamp")])
            .await
            .ok()?;
        let mut candidates: Vec<(Option<chrono::DateTime<Utc>>, String)> = v["data"]
            .as_array()?
            .iter()
            .filter_map(|s| {
                let id = s.get("id").and_then(id_str)?;
                let ts = s
                    .get("timestamp")
                    .and_then(|t| t.as_str())
                    .and_then(|t| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z").ok())
                    .map(|t| t.with_timezone(&Utc));
                Some((ts, id))
            })
            .filter(|(_, id)| !known.contains(id))
            .filter(|(ts, _)| match (ts, since) {
                (Some(t), Some(s)) => *t >= s,
                _ => true,
            })
            .collect();
        candidates.sort();
        candidates.into_iter().next().map(|(_, id)| id)
    }

    fn fail(&self, row: &Asset, class: ErrorClass, message: String) -> Result<Outcome, FlowError> {
        // Retryable failures stay resumable; the others need the user.
        let state = if class.retryable() || class == ErrorClass::RateLimited {
            self.ledger
                .find(&row.account, &row.content_hash)?
                .map_or(State::Pending, |a| a.state)
        } else {
            State::Failed
        };
        self.ledger.set_error(row.id, state, &message)?;
        Ok(Outcome::Failed { class, message })
    }

    fn call_failed(&self, row: &Asset, e: &CallError) -> Result<Outcome, FlowError> {
        let class = e.class();
        let mut message = e.to_string();
        if let Some(sub) = e.api().and_then(|g| g.error_subcode) {
            message.push_str(&format!(" — {}", subcode_meaning(sub)));
        }
        if class == ErrorClass::Quota || class == ErrorClass::RateLimited {
            self.ledger.set_error(
                row.id,
                self.ledger
                    .find(&row.account, &row.content_hash)?
                    .map_or(State::Pending, |a| a.state),
                &message,
            )?;
            return Ok(Outcome::Deferred { reason: message });
        }
        self.fail(row, class, message)
    }
}

/// How to go on with a container an earlier attempt left.
enum Resume {
    Done(Outcome),
    Continue(String),
    Recreate,
}

fn id_str(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
