//! `/insights`: what the collected insights teach (the same report as
//! `storyforge insights report`): a table per template and variant with
//! 95 % intervals or "not enough data", the findings in plain lines, and
//! median reach per weekday and hour as a heat map.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};

use super::html::{escape, page};
use super::Shared;
use crate::publish::report::{self, GroupRow, Report, ReportOptions, MIN_STORIES, WEEKDAYS};
use crate::publish::stats::Interval;

/// `?account=NAME&since=30d`, both optional.
#[derive(Debug, serde::Deserialize)]
pub struct InsightsQuery {
    account: Option<String>,
    since: Option<String>,
}

/// `/insights`.
pub async fn insights(State(app): State<Shared>, Query(q): Query<InsightsQuery>) -> Response {
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => match report::parse_since(s) {
            Ok(d) => Some(chrono::Utc::now() - d),
            Err(e) => return body(&app, Err(e)),
        },
        None => None,
    };
    let account = q.account.filter(|a| !a.is_empty());
    let opts = ReportOptions {
        zone: app.settings.report_zone(account.as_deref()),
        account,
        since,
    };
    let r = report::report(&app.ledger(), &opts).map_err(|e| e.to_string());
    body(&app, r.map(|r| render(&r)))
}

fn body(app: &Shared, b: Result<String, String>) -> Response {
    let b = b.unwrap_or_else(|e| {
        format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(&crate::util::redact::redact(&e))
        )
    });
    Html(page("Insights", "/insights", &app.csrf, &b)).into_response()
}

fn cell(g: &GroupRow, value: Option<f64>, interval: Option<Interval>, percent: bool) -> String {
    let text = report::shown(g, value, interval, percent);
    let class = if g.low_data { " class=\"low\"" } else { "" };
    format!("<td{class}>{}</td>", escape(&text))
}

/// The report as HTML.
pub fn render(r: &Report) -> String {
    let mut b = format!(
        "<p class=\"note\">{} Stories with insights. Intervals are 95 %: medians by order statistics, rates by Wilson; a group under {MIN_STORIES} Stories shows \"not enough data\". Hours in {}.</p>",
        r.stories,
        escape(&r.zone)
    );
    b.push_str("<h2>Findings</h2><ul class=\"findings\">");
    if r.findings.is_empty() {
        b.push_str(
            "<li class=\"note\">None yet: no difference stands out beyond its interval.</li>",
        );
    }
    for f in &r.findings {
        let _ = write!(b, "<li>{}</li>", escape(f));
    }
    b.push_str("</ul><h2>Templates and variants</h2><table class=\"report\"><thead><tr>");
    for h in [
        "Template",
        "Variant",
        "Stories",
        "Median reach",
        "Median views",
        "Exit rate",
        "Forward-tap rate",
        "Replies / 1,000 reached",
        "Shares / 1,000 reached",
    ] {
        let _ = write!(b, "<th scope=\"col\">{h}</th>");
    }
    b.push_str("</tr></thead><tbody>");
    for g in &r.rows {
        let _ = write!(
            b,
            "<tr data-template=\"{t}\" data-variant=\"{v}\"><th scope=\"row\">{t}</th><td>{vs}</td><td class=\"n\">{n}</td>{}{}{}{}{}{}</tr>",
            cell(g, g.median_reach, g.median_reach_interval, false),
            cell(g, g.median_views, g.median_views_interval, false),
            cell(g, g.exit_rate, g.exit_rate_interval, true),
            cell(g, g.forward_rate, g.forward_rate_interval, true),
            cell(g, g.replies_per_1000, g.replies_per_1000_interval, false),
            cell(g, g.shares_per_1000, g.shares_per_1000_interval, false),
            t = escape(&g.template),
            v = escape(g.variant.as_deref().unwrap_or("")),
            vs = escape(g.variant.as_deref().unwrap_or("all")),
            n = g.stories,
        );
    }
    b.push_str("</tbody></table>");
    b.push_str(&heat_map(r));
    b
}

/// Median reach per weekday (rows) and hour (columns), darker for more.
fn heat_map(r: &Report) -> String {
    let max = r
        .hours
        .iter()
        .filter_map(|c| c.median_reach)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let mut b = format!(
        "<h2>Median reach by weekday and hour ({})</h2><table class=\"heat\" aria-label=\"Median reach by weekday and hour\"><thead><tr><th></th>",
        escape(&r.zone)
    );
    for h in 0..24 {
        let _ = write!(b, "<th scope=\"col\">{h:02}</th>");
    }
    b.push_str("</tr></thead><tbody>");
    for (d, day) in WEEKDAYS.iter().enumerate() {
        let _ = write!(b, "<tr><th scope=\"row\">{day}</th>");
        for h in 0..24u32 {
            match r
                .hours
                .iter()
                .find(|c| c.weekday == d as u32 && c.hour == h)
            {
                Some(c) => {
                    let m = c.median_reach.unwrap_or(0.0);
                    let light = 95.0 - 60.0 * (m / max);
                    let _ = write!(
                        b,
                        "<td data-day=\"{d}\" data-hour=\"{h}\" style=\"background:hsl(210 70% {light:.0}%)\" title=\"{day} {h:02}:00: median reach {m:.0} over {n} Stories\">{m:.0}</td>",
                        n = c.stories
                    );
                }
                None => b.push_str("<td></td>"),
            }
        }
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table>");
    if r.best_hours.is_empty() {
        b.push_str(
            "<p class=\"note\">No hour stands out yet: the data does not separate them.</p>",
        );
    } else {
        b.push_str("<p>Best hours: ");
        let list: Vec<String> = r
            .best_hours
            .iter()
            .map(|h| {
                format!(
                    "{:02}:00 (median reach {:.0} over {} Stories)",
                    h.hour, h.median_reach, h.stories
                )
            })
            .collect();
        b.push_str(&escape(&list.join(", ")));
        b.push_str("</p>");
    }
    b
}
