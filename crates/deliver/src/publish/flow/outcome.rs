//! How a Story that did not go out is recorded: failed, resumable, or
//! `unsure` once a publish of its container was attempted.

use super::*;

impl Publisher {
    /// Records a failure. When a publish of the current container was
    /// attempted and not settled, it is never `failed`: it stays resumable
    /// (retryable errors) or becomes `unsure`.
    pub(super) fn fail(
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
    pub(super) fn unsure(
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

    pub(super) fn call_failed(&self, job: &Job<'_>, e: &CallError) -> Result<Outcome, FlowError> {
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
