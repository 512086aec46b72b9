//! The queue's recurring automations (`schedule add --every`): each with
//! its rule, the account's zone, the next occurrences in that zone and a
//! preview of what the next one would publish (feeds read off the server's
//! threads; nothing rendered, published or written).

use std::fmt::Write as _;

use super::html::{badge, escape};
use crate::config::Settings;
use crate::ledger::Automation;
use crate::schedule::automation::{listing, Listing};

/// The listings of `automations` at `now` (blocking: feeds are read).
pub fn listings(
    settings: &Settings,
    automations: &[Automation],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Listing> {
    automations
        .iter()
        .map(|a| listing(settings, a, now, 3))
        .collect()
}

/// The queue's "Recurring" section (empty when there are none).
pub fn section(listings: &[Listing]) -> String {
    if listings.is_empty() {
        return String::new();
    }
    let mut b = String::from(
        "<section aria-labelledby=\"auto-h\"><h2 id=\"auto-h\">Recurring</h2><ol class=\"automations\">",
    );
    for l in listings {
        let a = &l.automation;
        let next: Vec<String> = l
            .next
            .iter()
            .zip(&l.next_utc)
            .map(|(shown, utc)| {
                format!(
                    "<time datetime=\"{}\">{}</time>",
                    escape(utc),
                    escape(shown)
                )
            })
            .collect();
        let last = match (&l.last_local, &a.state) {
            (Some(at), Some(state)) => format!(
                "<p class=\"why\">Last: {} {} {}</p>",
                escape(at),
                badge(state),
                escape(a.result.as_deref().unwrap_or_default())
            ),
            _ => "<p class=\"why\">Not run yet.</p>".into(),
        };
        let preview: String = l
            .preview
            .iter()
            .map(|p| format!("<li>{}</li>", escape(&p.line())))
            .collect();
        let _ = write!(
            b,
            "<li class=\"item{bad}\" data-automation=\"A{id}\"><div class=\"meta\">\
<p><span class=\"id\">A{id}</span> every <strong>{rule}</strong> <span class=\"zone\">({zone})</span> {paused}</p>\
<p class=\"src\">{job} — {account}</p>\
<p class=\"next\">Next: {next}</p>\
{preview}{last}{problem}</div></li>",
            bad = if a.state.as_deref() == Some("failed") || l.problem.is_some() {
                " bad"
            } else {
                ""
            },
            id = a.id,
            rule = escape(&a.rule),
            zone = escape(if l.zone.is_empty() { "?" } else { &l.zone }),
            paused = if a.paused { badge("paused") } else { String::new() },
            job = escape(&a.job),
            account = escape(a.account.as_deref().unwrap_or("the first account")),
            next = next.join(", "),
            preview = match l.preview_day {
                Some(day) if !preview.is_empty() => {
                    format!("<p>{day} would publish:</p><ul class=\"preview\">{preview}</ul>")
                }
                _ => String::new(),
            },
            problem = l
                .problem
                .as_deref()
                .map(|p| format!("<p class=\"warn\">{}</p>", escape(p)))
                .unwrap_or_default(),
        );
    }
    b.push_str("</ol></section>");
    b
}
