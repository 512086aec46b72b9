//! One Story's line in a report: where it came from, its file, findings,
//! URL (never with a signature), media id, and what became of it.

use serde::Serialize;

use super::Media;
use crate::ledger::Asset;
use crate::media::MediaKind;
use crate::notify::{Event, EventKind};

/// What became of one Story.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Published by this run.
    Published,
    /// Published by an earlier run (nothing was done).
    AlreadyPublished,
    /// The same bytes went out under another identity within 24 h.
    SameContent,
    /// Another run holds it right now.
    Busy,
    /// Waiting for the quota, a rate limit or the container cap.
    Deferred,
    /// It may have been published; waits for the container or a person.
    Unsure,
    /// Rendered, validated and uploaded, not published (`--dry-run`).
    DryRun,
    /// Not published.
    #[default]
    Failed,
}

impl ItemStatus {
    /// The words reports use.
    pub fn label(self) -> &'static str {
        match self {
            ItemStatus::Published => "published",
            ItemStatus::AlreadyPublished => "already published",
            ItemStatus::SameContent => "already published (same bytes)",
            ItemStatus::Busy => "in progress in another run",
            ItemStatus::Deferred => "deferred",
            ItemStatus::Unsure => "unsure",
            ItemStatus::DryRun => "dry run",
            ItemStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ItemStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One item of a report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Item {
    /// Where it came from: `template.yaml row 3`, a video part, a file.
    pub source: String,
    /// The Story file.
    pub output: Option<String>,
    /// `image` or `video`.
    pub kind: Option<MediaKind>,
    /// Validation findings (`error SF… name: message`).
    pub findings: Vec<String>,
    /// The public URL (query removed).
    pub url: Option<String>,
    /// The ledger row, when one was claimed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub story: Option<i64>,
    /// The published media id.
    pub media_id: Option<String>,
    /// What became of it.
    pub status: ItemStatus,
    /// True when a failure may pass by itself (a later run can retry).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub transient: bool,
    /// What went wrong, why it waits, or what changed.
    pub error: Option<String>,
    /// Published earlier, and these fields changed since (`price`,
    /// `template`; `content` when only the bytes are known).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
}

impl Item {
    /// A fresh item for `source`.
    pub fn new(source: &str, media: &Media) -> Item {
        Item {
            source: source.to_string(),
            output: match media {
                Media::File(p) => Some(p.display().to_string()),
                Media::Url(_) => None,
            },
            ..Item::default()
        }
    }

    /// The item with `status`.
    pub fn with(mut self, status: ItemStatus) -> Item {
        self.status = status;
        self
    }

    /// A failure; `transient` when a later run may succeed as it is.
    pub fn failed(mut self, error: String, transient: bool) -> Item {
        self.status = ItemStatus::Failed;
        self.transient = transient;
        self.error = Some(error);
        self
    }

    /// Published by an earlier run; `changed` names what differs now
    /// (empty: nothing).
    pub fn already(mut self, row: &Asset, changed: &[String]) -> Item {
        self.media_id = row.media_id.clone();
        self.story = Some(row.id);
        if !changed.is_empty() {
            self.error = Some(format!(
                "already published; content changed since: {} (not published again; set `on_change: publish` on the job entry, or run with --publish-changed, to publish the new version)",
                changed.join(", ")
            ));
            self.changed = changed.to_vec();
        }
        self.status = ItemStatus::AlreadyPublished;
        self
    }
}

impl Item {
    /// The notification this item is, if any: failed, unsure or deferred
    /// (see [`crate::notify`]), keyed so the same outcome is sent once.
    pub fn event(&self, account: &str) -> Option<Event> {
        let kind = match self.status {
            ItemStatus::Failed => EventKind::Failed,
            ItemStatus::Unsure => EventKind::Unsure,
            ItemStatus::Deferred => EventKind::Deferred,
            _ => return None,
        };
        let message = self.error.clone().unwrap_or_default();
        // A deferral's text names a time that moves: the Story is the event.
        let key = match kind {
            EventKind::Deferred => format!("deferred|{account}|{}", self.source),
            _ => format!("{}|{account}|{}|{message}", self.status, self.source),
        };
        Some(Event {
            kind,
            account: Some(account.to_string()),
            source: self.source.clone(),
            message,
            key: Some(key),
        })
    }
}

/// `error SF102 name: message`, as reports list findings.
pub fn finding_line(f: &crate::validate::Finding) -> String {
    format!(
        "{} {} {}: {}",
        f.rule.severity.label(),
        f.rule.id,
        f.rule.name,
        f.message
    )
}
