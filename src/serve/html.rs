//! Text → safe HTML: escaping, the page frame (navigation, CSRF token,
//! stylesheet and script), times the browser shows in its own zone, and a
//! small bar chart as inline SVG. Everything shown passes through
//! [`escape`]; nothing here reads state.

use std::fmt::Write as _;

/// `text` with `& < > " '` escaped, safe in element text and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The views in the navigation: path and label.
const NAV: &[(&str, &str)] = &[
    ("/", "Queue"),
    ("/new", "New from file"),
    ("/template", "New from template"),
    ("/recent", "Recent"),
    ("/insights", "Insights"),
    ("/quota", "Quota"),
];

/// A whole page: `body` (already HTML) under the navigation, with `path`
/// marked as the current view and the CSRF token for the script.
pub fn page(title: &str, path: &str, csrf: &str, body: &str) -> String {
    let mut nav = String::new();
    for (href, label) in NAV {
        let current = if *href == path {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(nav, "<a href=\"{href}\"{current}>{label}</a>");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"csrf-token\" content=\"{csrf}\">\
<title>{title} · storyforge</title>\
<link rel=\"stylesheet\" href=\"/static/app.css\">\
<script src=\"/static/app.js\" defer></script></head>\
<body><a class=\"skip\" href=\"#main\">Skip to content</a>\
<header><span class=\"brand\">storyforge</span><nav aria-label=\"Views\">{nav}</nav></header>\
<main id=\"main\"><h1>{title}</h1>{body}</main>\
<div id=\"toast\" role=\"status\" aria-live=\"polite\"></div></body></html>",
        csrf = escape(csrf),
        title = escape(title),
    )
}

/// A page without navigation or script (refusals).
pub fn page_bare(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title></head><body><main><h1>{}</h1><p>{body}</p></main></body></html>",
        escape(title),
        escape(title)
    )
}

/// A time the browser rewrites into its own zone (`data-local`); the UTC
/// text stays for anyone without script.
pub fn time(rfc3339: &str) -> String {
    let shown = crate::ledger::parse_time(rfc3339)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| rfc3339.to_string());
    format!(
        "<time datetime=\"{}\" data-local>{}</time>",
        escape(rfc3339),
        escape(&shown)
    )
}

/// A labelled badge for a state (`failed`, `unsure` and the like stand out).
pub fn badge(state: &str) -> String {
    let class = match state {
        "failed" | "unsure" => "bad",
        "pending" | "running" | "processing" | "waiting" => "wait",
        "done" | "published" | "ready" => "good",
        _ => "plain",
    };
    format!("<span class=\"badge {class}\">{}</span>", escape(state))
}

/// A horizontal bar chart of `(label, value)` as inline SVG, with a text
/// alternative for screen readers.
pub fn bars(title: &str, values: &[(&str, u64)]) -> String {
    let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(1);
    let row_h = 18;
    let height = row_h * values.len().max(1);
    let alt: Vec<String> = values.iter().map(|(l, v)| format!("{l} {v}")).collect();
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 280 {height}\" width=\"280\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        escape(&format!("{title}: {}", alt.join(", ")))
    );
    for (i, (label, value)) in values.iter().enumerate() {
        let y = i * row_h;
        let w = (*value as f64 / max as f64 * 120.0).round() as u64;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{ty}\" class=\"l\">{label}</text>\
<rect x=\"96\" y=\"{ry}\" width=\"{w}\" height=\"12\" rx=\"2\"></rect>\
<text x=\"{vx}\" y=\"{ty}\" class=\"v\">{value}</text>",
            ty = y + 13,
            ry = y + 3,
            vx = 100 + w,
            label = escape(label),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<img src=x onerror='a&b'>\""),
            "&lt;img src=x onerror=&#39;a&amp;b&#39;&gt;&quot;"
        );
    }

    #[test]
    fn pages_mark_the_current_view_and_carry_the_token() {
        let p = page("Queue", "/", "tok<", "<p>x</p>");
        assert!(p.contains("<a href=\"/\" aria-current=\"page\">Queue</a>"));
        assert!(p.contains("content=\"tok&lt;\""));
        assert!(!p.contains("<a href=\"/new\" aria-current"));
    }

    #[test]
    fn times_keep_utc_for_readers_without_script() {
        let t = time("2026-12-05T09:30:00+00:00");
        assert!(t.contains("datetime=\"2026-12-05T09:30:00+00:00\""));
        assert!(t.contains("2026-12-05 09:30 UTC"));
    }

    #[test]
    fn charts_scale_to_the_largest_value() {
        let svg = bars("views", &[("a", 10), ("b", 5)]);
        assert!(svg.contains("width=\"120\""));
        assert!(svg.contains("width=\"60\""));
        assert!(svg.contains("aria-label=\"views: a 10, b 5\""));
    }
}
