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
use storyforge_base::media::MediaKind;

mod calls;
mod lost;
mod outcome;

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
            .clamp(1, storyforge_base::spec::MAX_CONTAINERS_PER_DAY)
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
