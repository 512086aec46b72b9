//! [`FileReport`]s → text for people, JSON, GitHub Actions annotations or
//! JUnit XML, and the summary the exit code is decided from.

use serde::Serialize;

use super::{fails, FileReport, Finding, Severity};

/// How to print a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One line per finding and a summary line; colour on a terminal.
    #[default]
    Text,
    /// One JSON document: files, findings, summary.
    Json,
    /// GitHub Actions workflow commands (`::error file=…::…`).
    Github,
    /// JUnit XML, one test case per file.
    Junit,
}

/// Counts over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files checked.
    pub files: usize,
    /// Files with a failing finding.
    pub failed_files: usize,
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Note findings.
    pub notes: usize,
}

impl Summary {
    /// Counts `reports`; `strict` makes warnings fail files.
    pub fn of(reports: &[FileReport], strict: bool) -> Summary {
        let mut s = Summary {
            files: reports.len(),
            ..Summary::default()
        };
        for r in reports {
            s.failed_files += usize::from(r.fails(strict));
            for f in &r.findings {
                match f.rule.severity {
                    Severity::Error => s.errors += 1,
                    Severity::Warning => s.warnings += 1,
                    Severity::Note => s.notes += 1,
                }
            }
        }
        s
    }
}

fn location_suffix(f: &Finding) -> String {
    let Some(loc) = &f.location else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(row) = loc.row {
        parts.push(format!("row {row}"));
    }
    if let Some(line) = loc.line {
        parts.push(format!("line {line}:{}", loc.column.unwrap_or(1)));
    }
    format!(" ({})", parts.join(", "))
}

/// Text for people: `path: severity SF101 name: message (where); hint`.
pub fn text(reports: &[FileReport], strict: bool, colour: bool) -> String {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for r in reports {
        for f in &r.findings {
            let sev = f.rule.severity;
            let code = match sev {
                Severity::Error => "1;31",
                Severity::Warning => "1;33",
                Severity::Note => "1;36",
            };
            out.push_str(&format!(
                "{}: {} {} {}: {}{}; {}\n",
                r.path,
                paint(code, sev.label()),
                f.rule.id,
                f.rule.name,
                f.message,
                location_suffix(f),
                f.rule.hint
            ));
        }
    }
    let s = Summary::of(reports, strict);
    let verdict = if s.failed_files == 0 {
        paint("1;32", "ok")
    } else {
        paint("1;31", "FAILED")
    };
    out.push_str(&format!(
        "{verdict}: {} file{} checked, {} failed; {} error{}, {} warning{}, {} note{}{}\n",
        s.files,
        plural(s.files),
        s.failed_files,
        s.errors,
        plural(s.errors),
        s.warnings,
        plural(s.warnings),
        s.notes,
        plural(s.notes),
        if strict { " (strict)" } else { "" }
    ));
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    id: &'a str,
    name: &'a str,
    severity: Severity,
    message: &'a str,
    hint: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    location: Option<&'a super::Location>,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    kind: super::FileKind,
    ok: bool,
    findings: Vec<JsonFinding<'a>>,
}

/// One JSON document: `{"files":[…],"summary":{…},"strict":bool}`.
pub fn json(reports: &[FileReport], strict: bool) -> String {
    let files: Vec<JsonFile> = reports
        .iter()
        .map(|r| JsonFile {
            path: &r.path,
            kind: r.kind,
            ok: !r.fails(strict),
            findings: r
                .findings
                .iter()
                .map(|f| JsonFinding {
                    id: f.rule.id,
                    name: f.rule.name,
                    severity: f.rule.severity,
                    message: &f.message,
                    hint: f.rule.hint,
                    location: f.location.as_ref(),
                })
                .collect(),
        })
        .collect();
    let doc = serde_json::json!({
        "files": files,
        "summary": Summary::of(reports, strict),
        "strict": strict,
    });
    format!("{doc:#}\n")
}

/// Escapes a workflow-command message (`%`, CR, LF).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property (also `:` and `,`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions annotations, one per finding, then a notice with the summary.
pub fn github(reports: &[FileReport], strict: bool) -> String {
    let mut out = String::new();
    for r in reports {
        for f in &r.findings {
            let level = match f.rule.severity {
                Severity::Error => "error",
                Severity::Warning if strict => "error",
                Severity::Warning => "warning",
                Severity::Note => "notice",
            };
            let mut props = vec![format!("file={}", escape_property(&r.path))];
            if let Some(loc) = &f.location {
                if let Some(line) = loc.line {
                    props.push(format!("line={line}"));
                }
                if let Some(col) = loc.column {
                    props.push(format!("col={col}"));
                }
            }
            props.push(format!(
                "title={}",
                escape_property(&format!("{} {}", f.rule.id, f.rule.name))
            ));
            out.push_str(&format!(
                "::{level} {}::{}\n",
                props.join(","),
                escape_data(&format!(
                    "{}{}. Fix: {}",
                    f.message,
                    location_suffix(f),
                    f.rule.hint
                ))
            ));
        }
    }
    let s = Summary::of(reports, strict);
    out.push_str(&format!(
        "::notice title=storyforge validate::{} files checked, {} failed ({} errors, {} warnings)\n",
        s.files, s.failed_files, s.errors, s.warnings
    ));
    out
}

/// JUnit XML: one test suite, one test case per file (failed when a
/// finding fails the run; other findings go to system-out).
pub fn junit(reports: &[FileReport], strict: bool) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("storyforge validate");
    for r in reports {
        let lines: Vec<String> = r
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} {} {}: {}{}; {}",
                    f.rule.severity.label(),
                    f.rule.id,
                    f.rule.name,
                    f.message,
                    location_suffix(f),
                    f.rule.hint
                )
            })
            .collect();
        let status = if r.fails(strict) {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let first = r.findings.iter().find(|f| fails(f.rule.severity, strict));
            if let Some(f) = first {
                st.set_message(format!("{} {}: {}", f.rule.id, f.rule.name, f.message));
                st.set_type(f.rule.id);
            }
            st.set_description(lines.join("\n"));
            st
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(r.path.clone(), status);
        case.set_classname(format!("storyforge.validate.{}", r.kind.as_str()));
        if !r.fails(strict) && !lines.is_empty() {
            case.set_system_out(lines.join("\n"));
        }
        suite.add_test_case(case);
    }
    let mut report = Report::new("storyforge");
    report.add_test_suite(suite);
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot write JUnit XML: {e} -->\n"))
}

/// The report in `format`.
pub fn render(format: Format, reports: &[FileReport], strict: bool, colour: bool) -> String {
    match format {
        Format::Text => text(reports, strict, colour),
        Format::Json => json(reports, strict),
        Format::Github => github(reports, strict),
        Format::Junit => junit(reports, strict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{rules, FileKind, Location};

    fn sample() -> Vec<FileReport> {
        vec![
            FileReport {
                path: "a,b:c.png".into(),
                kind: FileKind::Media(storyforge_base::media::MediaKind::Image),
                findings: vec![Finding::new(rules::IMAGE_NOT_JPEG, "a PNG image\nreally")],
            },
            FileReport {
                path: "t.yaml".into(),
                kind: FileKind::Template,
                findings: vec![Finding::new(rules::TEMPLATE_NO_DEFAULT, "no default").at(
                    Location {
                        line: Some(3),
                        column: Some(5),
                        row: None,
                    },
                )],
            },
        ]
    }

    #[test]
    fn github_annotations_escape_and_locate() {
        let out = github(&sample(), false);
        let lines: Vec<_> = out.lines().collect();
        assert!(lines[0].starts_with(
            "::error file=a%2Cb%3Ac.png,title=SF101 image-not-jpeg::a PNG image%0Areally. Fix: "
        ));
        assert!(lines[1].starts_with("::warning file=t.yaml,line=3,col=5,title=SF306"));
        assert!(github(&sample(), true)
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("::error "));
    }

    #[test]
    fn junit_has_one_case_per_file_and_strict_fails_warnings() {
        let xml = junit(&sample(), false);
        assert_eq!(xml.matches("<testcase").count(), 2);
        assert_eq!(xml.matches("<failure").count(), 1);
        assert_eq!(junit(&sample(), true).matches("<failure").count(), 2);
    }

    #[test]
    fn summary_counts() {
        let s = Summary::of(&sample(), false);
        assert_eq!(
            (s.files, s.failed_files, s.errors, s.warnings),
            (2, 1, 1, 1)
        );
        let v: serde_json::Value = serde_json::from_str(&json(&sample(), false)).unwrap();
        assert_eq!(v["files"][1]["findings"][0]["line"], 3);
        assert_eq!(v["files"][0]["ok"], false);
    }
}
