//! GET requests → the dashboard's HTML views (queue with the quota widget,
//! new Story from a file, new Story from a template, recent Stories with
//! their insights, quota and limits) and its two static assets. Views
//! read; every change goes through `api`.

use std::fmt::Write as _;
use std::path::Path;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::html::{badge, bars, escape, page, time};
use super::views::{self, AccountLimits};
use super::Shared;
use crate::publish::graph::Method;

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// `/static/app.js` and `/static/app.css`.
pub async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// A view's page, or the error that kept it from being made (redacted).
fn view(app: &Shared, title: &str, path: &str, body: Result<String, String>) -> Response {
    match body {
        Ok(b) => Html(page(title, path, &app.csrf, &b)).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html(page(
                title,
                path,
                &app.csrf,
                &format!(
                    "<p class=\"error\" role=\"alert\">{}</p>",
                    escape(&crate::util::redact::redact(&e))
                ),
            )),
        )
            .into_response(),
    }
}

/// The account choice for a new Story.
fn account_select(app: &Shared) -> String {
    let mut s = String::from("<label>Account <select name=\"account\" id=\"account\">");
    for n in app.settings.account_names() {
        let zone = app.settings.account_zone(&n);
        let _ = write!(
            s,
            "<option data-zone=\"{}\">{}</option>",
            escape(zone.name()),
            escape(&n)
        );
    }
    s.push_str("</select></label>");
    s
}

/// The controls to schedule or publish what the page made; the time is
/// read in the chosen account's zone, which the label names.
fn schedule_controls(app: &Shared) -> String {
    let first = app.settings.account_name(None).unwrap_or_default();
    format!(
        "<form id=\"schedule-form\" class=\"schedule\" aria-label=\"Schedule\">{}\
<label>When, in <span id=\"at-zone\">{}</span> <input type=\"datetime-local\" name=\"at\" id=\"at\" required></label>\
<button type=\"submit\" data-now=\"0\" id=\"schedule-btn\">Schedule</button>\
<button type=\"submit\" data-now=\"1\" id=\"publish-btn\" class=\"secondary\">Publish now</button></form>",
        account_select(app),
        escape(app.settings.account_zone(&first).name())
    )
}

/// The quota widget: posts used of each account's cap.
fn quota_widget(limits: &[AccountLimits]) -> String {
    let mut s = String::from("<section class=\"widget\" aria-labelledby=\"quota-h\"><h2 id=\"quota-h\">Quota</h2><ul class=\"quota\">");
    for l in limits {
        let _ = match &l.quota {
            Ok(q) => write!(
                s,
                "<li data-account=\"{n}\"><strong>{n}</strong> <meter min=\"0\" max=\"{t}\" value=\"{u}\"></meter> \
<span class=\"used\">{u} of {t}</span> posts used in {h} h{w}</li>",
                n = escape(&l.name),
                u = q.used,
                t = q.total,
                h = q.window_secs / 3600,
                w = l
                    .overload
                    .map(|(at, n)| format!(
                        " <span class=\"warn\" role=\"alert\">queue holds {n} for the window ending {}: over the quota</span>",
                        time(&(at).to_rfc3339())
                    ))
                    .unwrap_or_default(),
            ),
            Err(e) => write!(
                s,
                "<li data-account=\"{}\"><strong>{}</strong> <span class=\"warn\">quota unknown: {}</span></li>",
                escape(&l.name),
                escape(&l.name),
                escape(e)
            ),
        };
    }
    s.push_str("</ul><p><a href=\"/quota\">All limits</a></p></section>");
    s
}

/// `/`: what needs a person, then the upcoming queue per account (a list
/// and a week view), under the quota widget.
pub async fn queue(State(app): State<Shared>) -> Response {
    let now = chrono::Utc::now();
    let limits = views::limits(&app.settings, &app.ledger, &app.client, now).await;
    let stored = app.ledger().automations();
    let recurring = match stored {
        Ok(list) => {
            let settings = app.settings.clone();
            super::api::off_thread(move || super::automations::listings(&settings, &list, now))
                .await
                .unwrap_or_default()
        }
        Err(e) => return view(&app, "Queue", "/", Err(e.to_string())),
    };
    let body = (|| -> Result<String, String> {
        let ledger = app.ledger();
        let entries = views::queue(&app.settings, &ledger).map_err(|e| e.to_string())?;
        let unsure = views::unsure(&ledger).map_err(|e| e.to_string())?;
        let mut b = quota_widget(&limits);
        let failed: Vec<_> = entries
            .iter()
            .filter(|q| q.entry.state == crate::ledger::ScheduleState::Failed)
            .collect();
        if !failed.is_empty() || !unsure.is_empty() {
            b.push_str("<section class=\"attention\" aria-labelledby=\"att-h\"><h2 id=\"att-h\">Needs you</h2><ul>");
            for q in &failed {
                let _ = write!(
                    b,
                    "<li class=\"item bad\" data-id=\"{id}\">{} #{id} {} — {}<br><em>What to do:</em> fix the cause, then pick a new time and reschedule it below.</li>",
                    badge("failed"),
                    escape(&views::short_source(&q.entry)),
                    escape(q.entry.result.as_deref().unwrap_or("no reason recorded")),
                    id = q.entry.id,
                );
            }
            for a in &unsure {
                let _ = write!(
                    b,
                    "<li class=\"item bad\">{} {} ({}) — {}<br><em>What to do:</em> look at the account's Stories, then <code>storyforge ledger settle {} --published MEDIA_ID</code> or <code>--not-published</code>.</li>",
                    badge("unsure"),
                    escape(&crate::util::redact::redact(&a.source)),
                    escape(&a.account),
                    escape(a.last_error.as_deref().unwrap_or("the publish may have gone out")),
                    a.id
                );
            }
            b.push_str("</ul></section>");
        }
        b.push_str("<section aria-labelledby=\"up-h\"><h2 id=\"up-h\">Upcoming</h2>\
<div class=\"toggle\" role=\"group\" aria-label=\"Show as\"><button type=\"button\" data-view=\"list\" aria-pressed=\"true\">List</button><button type=\"button\" data-view=\"week\" aria-pressed=\"false\">Week</button></div>");
        b.push_str(&super::automations::section(&recurring));
        if entries.is_empty() && recurring.is_empty() {
            b.push_str("<p class=\"empty\">Nothing scheduled. <a href=\"/new\">Add a Story from a file</a> or <a href=\"/template\">from a template</a>.</p>");
        }
        let mut accounts: Vec<&str> = entries.iter().map(|q| q.account.as_str()).collect();
        accounts.dedup();
        accounts.sort_unstable();
        accounts.dedup();
        for account in accounts {
            let _ = write!(
                b,
                "<h3>{}</h3><ol class=\"queue\" data-account=\"{}\">",
                escape(account),
                escape(account)
            );
            // Times of the account's entries are shown and read in its zone.
            let zone = app.settings.account_zone(account);
            for q in entries.iter().filter(|q| q.account == account) {
                queue_item(&mut b, q, zone.name());
            }
            b.push_str("</ol>");
        }
        b.push_str("<div id=\"week\" class=\"week\" hidden></div></section>");
        Ok(b)
    })();
    view(&app, "Queue", "/", body)
}

fn queue_item(b: &mut String, q: &views::QueueEntry, zone: &str) {
    let s = &q.entry;
    let state = s.state.as_str();
    let why = s
        .result
        .as_deref()
        .map(|r| format!("<p class=\"why\">{}</p>", escape(r)))
        .unwrap_or_default();
    let _ = write!(
        b,
        "<li class=\"item{bad}\" data-id=\"{id}\" data-at=\"{at}\" data-zone=\"{zone}\">\
<img class=\"thumb\" src=\"/thumb/schedule/{id}\" alt=\"Preview of #{id}\" width=\"90\" height=\"160\" loading=\"lazy\">\
<div class=\"meta\"><p>{t} {badge} <span class=\"id\">#{id}</span></p><p class=\"src\" title=\"{full}\">{src}</p>{why}\
<form class=\"actions\" data-id=\"{id}\" aria-label=\"Actions for #{id}\">\
<label>New time (<span class=\"zone\">{zone}</span>) <input type=\"datetime-local\" name=\"at\"></label>\
<button type=\"submit\" data-action=\"reschedule\">Reschedule</button>\
<button type=\"button\" data-action=\"publish\">Publish now</button>\
<button type=\"button\" data-action=\"cancel\" class=\"secondary\">Cancel</button></form></div></li>",
        bad = if s.state == crate::ledger::ScheduleState::Failed {
            " bad"
        } else {
            ""
        },
        id = s.id,
        at = escape(&s.at),
        t = time(&s.at),
        badge = badge(state),
        src = escape(&views::short_source(s)),
        full = escape(&s.describe()),
        zone = escape(zone),
    );
}

/// `/new`: drop or pick an image or video, fit it, see the preview with the
/// safe zone and the findings, then schedule or publish.
pub async fn new_file(State(app): State<Shared>) -> Response {
    let body = format!(
        "<form id=\"upload-form\" aria-label=\"Upload\">\
<div class=\"drop\" id=\"drop\" tabindex=\"0\" role=\"button\" aria-describedby=\"drop-help\">\
<p id=\"drop-help\">Drop an image or a video here, or choose one.</p>\
<label>File <input type=\"file\" id=\"file\" name=\"file\" accept=\"image/*,video/*\"></label></div>\
<fieldset><legend>Fit to 1080×1920</legend>\
<label><input type=\"radio\" name=\"fit\" value=\"blur\" checked> Blur (all of it, over a blurred copy)</label>\
<label><input type=\"radio\" name=\"fit\" value=\"pad\"> Pad (all of it, on black)</label>\
<label><input type=\"radio\" name=\"fit\" value=\"crop\"> Crop (around the centre)</label>\
<label><input type=\"radio\" name=\"fit\" value=\"cover\"> Cover (around a focal point)</label>\
<label>Focal point x <input type=\"range\" name=\"fx\" min=\"0\" max=\"1\" step=\"0.05\" value=\"0.5\"></label>\
<label>Focal point y <input type=\"range\" name=\"fy\" min=\"0\" max=\"1\" step=\"0.05\" value=\"0.5\"></label>\
<p class=\"note\">Videos are transcoded (blur, pad or crop) to H.264/AAC under the byte budget.</p></fieldset>\
<button type=\"submit\" id=\"upload-btn\">Upload and fit</button></form>\
<section id=\"result\" class=\"result\" hidden aria-labelledby=\"res-h\"><h2 id=\"res-h\">Preview</h2>\
<progress id=\"progress\" max=\"100\" value=\"0\" hidden>0 %</progress><p id=\"status\" role=\"status\"></p>\
<div class=\"stage\"><div class=\"frame\" id=\"frame\"></div>\
<div><h3>Findings</h3><ul id=\"findings\" class=\"findings\"></ul>{}</div></div></section>",
        schedule_controls(&app)
    );
    view(&app, "New Story from a file", "/new", Ok(body))
}

/// The query of `/template`.
#[derive(serde::Deserialize)]
pub struct TemplateQuery {
    t: Option<String>,
}

/// The templates offered: file name → path.
pub fn templates(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    crate::template::discover(dir)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| Some((p.file_name()?.to_str()?.to_string(), p)))
        .collect()
}

/// `/template`: pick a template, then fill its variables (or load a feed
/// row) and watch the preview re-render, with `validate --data`'s findings.
pub async fn new_template(State(app): State<Shared>, Query(q): Query<TemplateQuery>) -> Response {
    let list = templates(&app.opts.templates);
    let mut b = String::from("<form method=\"get\" action=\"/template\" class=\"pick\"><label>Template <select name=\"t\" id=\"template-pick\">");
    for (name, _) in &list {
        let sel = if q.t.as_deref() == Some(name) {
            " selected"
        } else {
            ""
        };
        let _ = write!(b, "<option{sel}>{}</option>", escape(name));
    }
    b.push_str("</select></label> <button type=\"submit\">Open</button></form>");
    if list.is_empty() {
        let _ = write!(
            b,
            "<p class=\"empty\">No templates in {}. Start serve with --templates DIR.</p>",
            escape(&app.opts.templates.display().to_string())
        );
    }
    let chosen =
        q.t.as_deref()
            .and_then(|t| list.iter().find(|(n, _)| n == t));
    if let Some((name, path)) = chosen {
        match crate::template::load(path, &app.fonts) {
            Err(e) => {
                let _ = write!(
                    b,
                    "<p class=\"error\" role=\"alert\">{}</p>",
                    escape(&e.to_string())
                );
            }
            Ok(t) => {
                let _ = write!(
                    b,
                    "<div class=\"stage\"><form id=\"vars-form\" data-template=\"{}\" aria-label=\"Variables\">\
<fieldset><legend>A feed row (optional)</legend><label>Feed file <input name=\"feed\" id=\"feed\" placeholder=\"fixtures/feeds/menu.csv\"></label>\
<label>Row <input name=\"row\" id=\"row\" type=\"number\" min=\"1\" value=\"1\"></label>\
<button type=\"button\" id=\"load-row\">Load row</button></fieldset><fieldset><legend>Variables</legend>",
                    escape(name)
                );
                if let Some(v) = &t.video {
                    // A video template previews as its poster frame at a chosen second.
                    let _ = write!(
                        b,
                        "<label>Poster frame at (s) <input id=\"poster-at\" type=\"number\" min=\"0\" max=\"{}\" step=\"0.1\" value=\"1\"></label>",
                        v.duration.unwrap_or(crate::spec::MAX_VIDEO_SECONDS)
                    );
                }
                for var in t.placeholders() {
                    // A default that is itself a pattern (`{{today}}`) is a
                    // hint: left empty, the template's default applies.
                    let default = t.variables.get(&var).cloned().unwrap_or_default();
                    let (value, hint) = if default.contains("{{") {
                        (String::new(), default)
                    } else {
                        (default, String::new())
                    };
                    let _ = write!(
                        b,
                        "<label>{v} <textarea name=\"var:{v}\" data-var=\"{v}\" rows=\"2\" placeholder=\"{hint}\">{val}</textarea></label>",
                        v = escape(&var),
                        val = escape(&value),
                        hint = escape(&hint)
                    );
                }
                let _ = write!(
                    b,
                    "</fieldset></form><div><div class=\"frame\" id=\"frame\"><img id=\"preview-img\" alt=\"Preview of the Story\" width=\"270\" height=\"480\"><div class=\"safe\" aria-hidden=\"true\"></div></div>\
<p id=\"status\" role=\"status\"></p>{}<h3>Findings</h3><ul id=\"findings\" class=\"findings\"></ul>{}</div></div>",
                    if t.video.is_some() {
                        // And as a short low-resolution clip, made on request.
                        "<p><button type=\"button\" id=\"make-clip\">Preview as a clip (360×640, 10 fps)</button></p>\
<video id=\"preview-clip\" width=\"180\" height=\"320\" controls loop muted playsinline hidden></video><p id=\"clip-status\" role=\"status\"></p>"
                    } else {
                        ""
                    },
                    schedule_controls(&app)
                );
            }
        }
    }
    view(&app, "New Story from a template", "/template", Ok(b))
}

/// The permalink of a live Story, asked of the API (none when it cannot say).
async fn permalink(app: &Shared, account: &str, media: &str) -> Option<String> {
    let a = app.settings.load_account(account).ok()?;
    let v = app
        .client
        .call(Method::Get, media, &a.token, &[("fields", "permalink")])
        .await
        .ok()?;
    v["permalink"].as_str().map(str::to_string)
}

/// The metrics shown, in order: name and label.
const SHOWN: &[(&str, &str)] = &[
    ("views", "views"),
    ("reach", "reach"),
    ("replies", "replies"),
    ("shares", "shares"),
    ("follows", "follows"),
    ("profile_visits", "profile visits"),
    ("profile_activity", "profile activity"),
];

/// The navigation breakdown: key and label.
const NAVIGATION: &[(&str, &str)] = &[
    ("tap_forward", "tap forward"),
    ("tap_back", "tap back"),
    ("tap_exit", "exit"),
    ("swipe_forward", "swipe forward"),
];

/// `/recent`: Stories of the last 7 days, their insights with a chart each,
/// a per-day summary, and "collect now".
pub async fn recent(State(app): State<Shared>) -> Response {
    let now = chrono::Utc::now();
    let stories = match views::recent(&app.ledger(), now) {
        Ok(s) => s,
        Err(e) => return view(&app, "Recent Stories", "/recent", Err(e.to_string())),
    };
    let mut b = String::from("<p><button type=\"button\" id=\"collect\">Collect insights now</button> <span class=\"note\">for every live Story without them</span></p>");
    // Days are the account's (its `timezone:`), and the table says which.
    let mut days: std::collections::BTreeMap<(String, &str), (u64, u64, u64)> = Default::default();
    if stories.is_empty() {
        b.push_str("<p class=\"empty\">No Story published in the last 7 days.</p>");
    }
    b.push_str("<ul class=\"recent\">");
    for r in &stories {
        let a = &r.asset;
        let media = a.media_id.clone().unwrap_or_default();
        let live = r.expires() > now;
        let link = if live && !media.is_empty() {
            permalink(&app, &a.account, &media).await
        } else {
            None
        };
        let left = r.expires() - now;
        let left = if live {
            format!(
                "{} h {} min left",
                left.num_hours(),
                left.num_minutes() % 60
            )
        } else {
            "expired".into()
        };
        let num = |k: &str| {
            r.metrics
                .as_ref()
                .and_then(|m| m.get(k))
                .and_then(serde_json::Value::as_u64)
        };
        let zone = app.settings.account_zone(&a.account);
        let day = r
            .published
            .with_timezone(&zone)
            .format("%Y-%m-%d")
            .to_string();
        let e = days.entry((day, zone.name())).or_default();
        e.0 += 1;
        e.1 += num("views").unwrap_or(0);
        e.2 += num("reach").unwrap_or(0);
        let _ = write!(
            b,
            "<li class=\"story\" data-media=\"{m}\"><img class=\"thumb\" src=\"/thumb/story/{id}\" alt=\"Story {m}\" width=\"90\" height=\"160\" loading=\"lazy\">\
<div class=\"meta\"><p><strong>{acct}</strong> · media <code>{m}</code> · published {t} · <span class=\"left\">{left}</span></p>\
<p class=\"src\">{src}{variant}</p>{link}",
            m = escape(&media),
            variant = r
                .variant
                .as_deref()
                .map(|v| format!(" · variant <strong class=\"variant\">{}</strong>", escape(v)))
                .unwrap_or_default(),
            id = a.id,
            acct = escape(&a.account),
            t = time(&r.published.to_rfc3339()),
            src = escape(&crate::util::redact::redact(&a.source)),
            link = link
                .map(|l| format!(
                    "<p><a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">Permalink</a></p>",
                    escape(&l)
                ))
                .unwrap_or_default(),
        );
        match &r.metrics {
            Some(_) => {
                let main: Vec<(&str, u64)> = SHOWN
                    .iter()
                    .filter_map(|(k, label)| num(k).map(|v| (*label, v)))
                    .collect();
                let nav_of = |k: &str| {
                    r.metrics
                        .as_ref()
                        .and_then(|m| m.get("navigation_breakdown"))
                        .and_then(|n| n.get(k))
                        .and_then(serde_json::Value::as_u64)
                };
                let nav: Vec<(&str, u64)> = NAVIGATION
                    .iter()
                    .filter_map(|(k, label)| nav_of(k).map(|v| (*label, v)))
                    .collect();
                b.push_str("<dl class=\"metrics\">");
                for (label, v) in &main {
                    let _ = write!(b, "<div><dt>{label}</dt><dd>{v}</dd></div>");
                }
                b.push_str("</dl>");
                b.push_str(&bars("insights", &main));
                if !nav.is_empty() {
                    b.push_str("<h4>Navigation</h4>");
                    b.push_str(&bars("navigation", &nav));
                }
            }
            None if r.failure.is_none() => {
                b.push_str("<p class=\"note\">No insights collected yet.</p>")
            }
            None => {}
        }
        if let Some(f) = &r.failure {
            let _ = write!(
                b,
                "<p class=\"error insight-error\">Insights could not be collected ({}): {}</p>",
                time(&f.failed_at),
                escape(&f.error)
            );
        }
        b.push_str("</div></li>");
    }
    b.push_str("</ul><h2>Per day</h2><table><thead><tr><th scope=\"col\">Day</th><th scope=\"col\">Time zone</th><th scope=\"col\">Stories</th><th scope=\"col\">Views</th><th scope=\"col\">Reach</th></tr></thead><tbody>");
    for ((day, zone), (n, views, reach)) in days.iter().rev() {
        let _ = write!(
            b,
            "<tr><td>{day}</td><td>{zone}</td><td>{n}</td><td>{views}</td><td>{reach}</td></tr>"
        );
    }
    b.push_str("</tbody></table>");
    view(&app, "Recent Stories", "/recent", Ok(b))
}

/// `/quota`: per account, the quota read live, when the next slot frees,
/// containers of the last 24 h, the last usage headers and the token's
/// days left.
pub async fn quota(State(app): State<Shared>) -> Response {
    let now = chrono::Utc::now();
    let limits = views::limits(&app.settings, &app.ledger, &app.client, now).await;
    let mut b = quota_widget(&limits);
    b.push_str("<table class=\"limits\"><thead><tr><th scope=\"col\">Account</th><th scope=\"col\">Posts used</th><th scope=\"col\">Next slot frees</th><th scope=\"col\">Containers (24 h)</th><th scope=\"col\">API usage</th><th scope=\"col\">Token</th></tr></thead><tbody>");
    for l in &limits {
        let used = match &l.quota {
            Ok(q) => format!(
                "{} of {} ({} h window)",
                q.used,
                q.total,
                q.window_secs / 3600
            ),
            Err(e) => format!("unknown: {e}"),
        };
        let next = match (&l.quota, l.next_free) {
            (_, Some(t)) => time(&t.to_rfc3339()),
            (Ok(_), None) => "a slot is free now".into(),
            (Err(_), None) => "unknown".into(),
        };
        let usage = format!(
            "{:.0} %{}",
            l.usage.percent,
            l.usage
                .regain_minutes
                .map(|m| format!(", access back in {m} min"))
                .unwrap_or_default()
        );
        let token = match (l.token_days, &l.token_error) {
            (Some(d), _) => format!("{d:.1} days left"),
            (None, Some(e)) => escape(e),
            (None, None) => "expiry unknown".into(),
        };
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{next}</td><td>{} of {}</td><td>{}</td><td>{token}</td></tr>",
            escape(&l.name),
            escape(&used),
            l.containers,
            crate::spec::MAX_CONTAINERS_PER_DAY,
            escape(&usage),
        );
    }
    b.push_str("</tbody></table>");
    view(&app, "Quota and limits", "/quota", Ok(b))
}
