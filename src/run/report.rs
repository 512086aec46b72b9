//! A run's reports: `report.json`, and `report.html`, a contact sheet of
//! every Story with its findings, URL, media id and error.

use std::path::Path;

use super::RunReport;
use crate::media::MediaKind;

/// Both reports, each written atomically (a crash never leaves half a report).
pub(super) fn write_reports(out: &Path, report: &RunReport) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    crate::util::write_atomic(&out.join("report.json"), json.as_bytes())?;
    crate::util::write_atomic(&out.join("report.html"), html(out, report).as_bytes())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The contact sheet: every Story as a thumbnail (videos as posters),
/// with its findings, URL, media id and error.
fn html(out: &Path, r: &RunReport) -> String {
    let mut cards = String::new();
    for i in &r.items {
        let media = match (&i.output, i.kind) {
            (Some(o), Some(MediaKind::Video)) => {
                let rel = relative(out, Path::new(o));
                format!(
                    "<video src=\"{}\" preload=\"metadata\" muted controls></video>",
                    esc(&rel)
                )
            }
            (Some(o), _) => format!(
                "<img src=\"{}\" loading=\"lazy\" alt=\"\">",
                esc(&relative(out, Path::new(o)))
            ),
            (None, _) => "<div class=\"none\">no output</div>".into(),
        };
        let mut lines = vec![format!(
            "<b class=\"{}\">{}</b>",
            esc(&i.status.label().replace(' ', "-")),
            esc(i.status.label())
        )];
        lines.push(format!("<span>{}</span>", esc(&i.source)));
        if let Some(m) = &i.media_id {
            lines.push(format!("media <code>{}</code>", esc(m)));
        }
        if let Some(u) = &i.url {
            lines.push(format!("<a href=\"{}\">URL</a>", esc(u)));
        }
        for f in &i.findings {
            lines.push(format!("<small>{}</small>", esc(f)));
        }
        if let Some(e) = &i.error {
            lines.push(format!("<small class=\"err\">{}</small>", esc(e)));
        }
        cards.push_str(&format!(
            "<figure>{media}<figcaption>{}</figcaption></figure>\n",
            lines.join("<br>")
        ));
    }
    format!(
        "<!doctype html><meta charset=\"utf-8\"><title>storyforge report</title>\n<style>body{{font:14px system-ui;margin:24px}}main{{display:flex;flex-wrap:wrap;gap:16px}}figure{{width:180px;margin:0}}img,video,.none{{width:180px;height:320px;object-fit:cover;background:#eee;border-radius:8px}}.published{{color:#2a7}}.failed,.err{{color:#c33}}.deferred{{color:#c80}}code{{font-size:11px}}small{{display:block;color:#555}}</style>\n<h1>storyforge run</h1><p>{} — Graph API: {}</p>\n<main>\n{cards}</main>\n",
        esc(&r.summary()),
        esc(&r.graph)
    )
}

fn relative(base: &Path, p: &Path) -> String {
    let (Ok(b), Ok(f)) = (base.canonicalize(), p.canonicalize()) else {
        return p.display().to_string();
    };
    f.strip_prefix(&b)
        .map_or_else(|_| f.display().to_string(), |r| r.display().to_string())
}
