//! Webhook notifications (`notify:` in storyforge.yaml): what happened in a
//! run or a tick → one message per webhook and kind of event, in the
//! webhook's format (plain JSON, Slack or Discord). Each event is sent once:
//! its key is recorded in the ledger before sending (so two processes never
//! both send it) and released if every try failed (so the next run tries
//! again). Sends are retried with backoff on network errors, 429 and 5xx;
//! texts pass through the redactor; the webhook URL (often a secret itself,
//! and possibly `${ENV}`) is never shown beyond its host. Nothing here can
//! fail the run: problems become warnings.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ledger::Ledger;
use storyforge_base::util::redact::redact;

/// The kinds of event a webhook can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A Story failed (bad input, refused by the API, …).
    Failed,
    /// A Story may have been published and nothing could settle it.
    Unsure,
    /// A Story waits for quota, a rate limit or the container cap.
    Deferred,
    /// An account's token expires soon and was not refreshed.
    TokenExpiring,
    /// A run or a tick finished (its one-line summary).
    RunFinished,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            EventKind::Failed => "failed",
            EventKind::Unsure => "unsure",
            EventKind::Deferred => "deferred",
            EventKind::TokenExpiring => "token_expiring",
            EventKind::RunFinished => "run_finished",
        }
    }

    fn default_on() -> Vec<EventKind> {
        vec![
            EventKind::Failed,
            EventKind::Unsure,
            EventKind::Deferred,
            EventKind::TokenExpiring,
        ]
    }
}

/// The body a webhook wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `{"event", "text", "events": [{account, source, message}]}`.
    #[default]
    Json,
    /// Slack incoming webhook: `{"text"}`.
    Slack,
    /// Discord webhook: `{"content"}`.
    Discord,
}

/// One webhook under `notify:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Where to POST; `${NAME}` is taken from the environment when sending.
    pub url: String,
    /// The body's shape. Default: json.
    #[serde(default)]
    pub format: Format,
    /// The events sent. Default: failed, unsure, deferred, token_expiring.
    #[serde(default = "EventKind::default_on")]
    pub on: Vec<EventKind>,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// What kind.
    pub kind: EventKind,
    /// The account, when it concerns one.
    pub account: Option<String>,
    /// What it concerns: a Story's source, an account, a run.
    pub source: String,
    /// What happened, in words (redacted when sent).
    pub message: String,
    /// What makes it the same event next time (a Story's identity and its
    /// error, a token's expiry); `None`: always new (a run's summary).
    #[serde(skip)]
    pub key: Option<String>,
}

impl Event {
    /// A run or tick's one-line summary (sent every time).
    pub fn finished(summary: String) -> Event {
        Event {
            kind: EventKind::RunFinished,
            account: None,
            source: "run".into(),
            message: summary,
            key: None,
        }
    }
}

/// A token expiring within this many days (and not refreshed) is told.
pub const TOKEN_WARN_DAYS: f64 = 7.0;

/// Tries per message, and the wait before the second (doubling).
const TRIES: u32 = 3;
const FIRST_WAIT: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(10);
/// Events listed in one message; the rest are counted.
const LISTED: usize = 10;

/// Sends `events` to every webhook that asks for them, each event once.
/// Never fails: problems are logged as warnings and returned as lines.
pub fn send(hooks: &[Webhook], ledger: Option<&Ledger>, events: &[Event]) -> Vec<String> {
    if hooks.is_empty() || events.is_empty() {
        return Vec::new();
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return vec![warn(format!("notify: cannot start: {e}"))],
    };
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            return vec![warn(format!(
                "notify: cannot start: {}",
                redact(&e.to_string())
            ))]
        }
    };
    let mut problems = Vec::new();
    for (i, hook) in hooks.iter().enumerate() {
        let mut kinds: Vec<EventKind> = hook.on.clone();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            // Each event once per webhook: claimed in the ledger first.
            let fresh: Vec<(&Event, Option<String>)> = events
                .iter()
                .filter(|e| e.kind == kind)
                .filter_map(|e| {
                    let claim = e
                        .key
                        .as_ref()
                        .map(|k| format!("{i}|{}|{}", hook_id(hook), k));
                    match (&claim, ledger) {
                        (Some(c), Some(l)) => match l.claim_notice(c) {
                            Ok(true) => Some((e, claim)),
                            Ok(false) => None,
                            Err(err) => {
                                problems.push(warn(format!("notify: ledger: {err}")));
                                Some((e, None))
                            }
                        },
                        _ => Some((e, None)),
                    }
                })
                .collect();
            if fresh.is_empty() {
                continue;
            }
            let list: Vec<&Event> = fresh.iter().map(|(e, _)| *e).collect();
            let sent = rt.block_on(post(&client, hook, kind, &list));
            if let Err(why) = sent {
                problems.push(warn(format!(
                    "notify: webhook {} ({}): {why}; the run goes on",
                    shown(&hook.url),
                    kind.as_str()
                )));
                if let Some(l) = ledger {
                    for claim in fresh.iter().filter_map(|(_, c)| c.as_ref()) {
                        let _ = l.release_notice(claim);
                    }
                }
            }
        }
    }
    problems
}

fn warn(line: String) -> String {
    tracing::warn!("{line}");
    line
}

/// A stable name for a webhook that does not reveal its URL.
fn hook_id(hook: &Webhook) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(hook.url.as_bytes())[..8])
}

/// A webhook URL as it may be shown: its scheme and host only.
fn shown(url: &str) -> String {
    if url.contains("${") {
        return url.to_string();
    }
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("?")),
        Err(_) => "(not a URL)".into(),
    }
}

/// The one-line text of a message about `events` of `kind`.
pub fn text(kind: EventKind, events: &[&Event]) -> String {
    let head = match kind {
        EventKind::Failed => "storyforge: Stories failed",
        EventKind::Unsure => {
            "storyforge: Stories may have been published (check `storyforge ledger`)"
        }
        EventKind::Deferred => "storyforge: Stories deferred (quota or rate limit)",
        EventKind::TokenExpiring => "storyforge: access tokens expire soon",
        EventKind::RunFinished => "storyforge: run finished",
    };
    let mut lines = vec![head.to_string()];
    for e in events.iter().take(LISTED) {
        let who = e
            .account
            .as_deref()
            .map(|a| format!("[{a}] "))
            .unwrap_or_default();
        lines.push(format!("• {who}{}: {}", e.source, e.message));
    }
    if events.len() > LISTED {
        lines.push(format!("… and {} more", events.len() - LISTED));
    }
    redact(&lines.join("\n"))
}

/// The body for `hook`.
fn body(hook: &Webhook, kind: EventKind, events: &[&Event]) -> serde_json::Value {
    let text = text(kind, events);
    match hook.format {
        Format::Slack => serde_json::json!({ "text": text }),
        // Discord caps a message at 2000 characters.
        Format::Discord => {
            serde_json::json!({ "content": text.chars().take(2000).collect::<String>() })
        }
        Format::Json => serde_json::json!({
            "event": kind.as_str(),
            "text": text,
            "events": events.iter().map(|e| serde_json::json!({
                "account": e.account,
                "source": redact(&e.source),
                "message": redact(&e.message),
            })).collect::<Vec<_>>(),
        }),
    }
}

async fn post(
    client: &reqwest::Client,
    hook: &Webhook,
    kind: EventKind,
    events: &[&Event],
) -> Result<(), String> {
    let url = storyforge_base::util::env::expand(&hook.url).map_err(|e| e.to_string())?;
    let body = body(hook, kind, events);
    let mut wait = FIRST_WAIT;
    let mut last = String::new();
    for attempt in 1..=TRIES {
        match client.post(url.expose()).json(&body).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let s = r.status();
                last = format!("HTTP {s}");
                if !(s.is_server_error() || s == reqwest::StatusCode::TOO_MANY_REQUESTS) {
                    return Err(last);
                }
            }
            // Without the URL: it may hold the webhook's secret.
            Err(e) => last = redact(&e.without_url().to_string()),
        }
        if attempt < TRIES {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(format!("{last} after {TRIES} tries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_read_with_defaults_and_text_is_redacted() {
        let yaml = "- url: ${HOOK}\n- url: https://hooks.slack.com/services/T/B/X\n  format: slack\n  on: [run_finished]\n";
        let hooks: Vec<Webhook> = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(hooks[0].format, Format::Json);
        assert!(
            hooks[0].on.contains(&EventKind::Failed)
                && !hooks[0].on.contains(&EventKind::RunFinished)
        );
        assert_eq!(hooks[1].on, vec![EventKind::RunFinished]);
        assert_eq!(shown(&hooks[1].url), "https://hooks.slack.com/…");
        let e = Event {
            kind: EventKind::Failed,
            account: Some("cafe".into()),
            source: "t.yaml row 2".into(),
            message: "GET https://x.example/a?access_token=abc failed".into(),
            key: None,
        };
        let t = text(EventKind::Failed, &[&e]);
        assert!(
            t.contains("[cafe] t.yaml row 2") && !t.contains("abc"),
            "{t}"
        );
        let b = body(&hooks[1], EventKind::Failed, &[&e]);
        assert!(b["text"].as_str().is_some_and(|s| s.contains("row 2")));
    }
}
