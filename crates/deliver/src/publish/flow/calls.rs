//! The Graph calls of one Story: retried with backoff, paced by the usage
//! headers, containers polled with a wait that grows with the time taken,
//! and the quota and container-cap checks before a container is made.

use super::*;

impl Publisher {
    /// A call with retries: transient errors back off exponentially with
    /// jitter, rate limits wait per the usage header (else 60 s doubling),
    /// and calls slow down while usage is above the threshold.
    pub(super) async fn call(
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
    pub(super) async fn slow_down(&self, account: &Account) {
        let usage = self.client.usage_for(&account.token);
        let over = usage.percent - self.settings.slow_down_above;
        if over > 0.0 {
            let span = (100.0 - self.settings.slow_down_above).max(1.0);
            let pause = self.settings.slow_down_max * (over / span).min(1.0);
            tracing::info!("API usage at {:.0} %: pausing {pause:.1} s", usage.percent);
            tokio::time::sleep(secs(pause)).await;
        }
    }

    pub(super) async fn status(
        &self,
        account: &Account,
        container: &str,
    ) -> Result<Status, CallError> {
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
    pub(super) async fn poll(
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
    pub(super) async fn limits_check(&self, job: &Job<'_>) -> Result<Option<Outcome>, FlowError> {
        let name = &job.account.settings.name;
        let day = chrono::Duration::hours(storyforge_base::spec::STORY_LIFETIME_HOURS);
        let made = job.ledger.containers_since(name, Utc::now() - day)?;
        if made.len() >= storyforge_base::spec::MAX_CONTAINERS_PER_DAY {
            let frees = made[made.len() - storyforge_base::spec::MAX_CONTAINERS_PER_DAY] + day;
            return Ok(Some(Outcome::Deferred {
                reason: format!(
                    "{} containers made in the last 24 h, Instagram's cap; the next can be made at {}",
                    made.len(),
                    frees.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            }));
        }
        let path = crate::publish::quota::path(&job.account.settings.ig_user_id);
        let v = match self
            .call(
                job.account,
                Method::Get,
                &path,
                &[("fields", crate::publish::quota::FIELDS)],
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
        let Some(quota) = crate::publish::quota::Quota::from_reply(&v) else {
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
}
