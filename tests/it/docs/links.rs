//! Links between the docs resolve to a file and a heading; the README
//! stays short.

use std::path::Path;

use super::docs;
use crate::common;

/// Files linked before they exist on this branch (written by a branch
/// merged beside this one); empty once it is in.
const WRITTEN_ELSEWHERE: &[&str] = &[];

/// GitHub's anchor for a heading: lower case, punctuation dropped but `-`
/// and `_`, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a markdown file's headings (outside fences).
fn anchors(doc: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(doc).unwrap_or_default();
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn every_link_between_the_docs_resolves() {
    let mut broken = Vec::new();
    for doc in docs() {
        let text = std::fs::read_to_string(&doc).expect("doc");
        let dir = doc.parent().expect("dir");
        let mut fenced = false;
        for (i, line) in text.lines().enumerate() {
            if line.starts_with("```") {
                fenced = !fenced;
            }
            if fenced {
                continue;
            }
            for (j, _) in line.match_indices("](") {
                let rest = &line[j + 2..];
                let Some(end) = rest.find(')') else { continue };
                let target = &rest[..end];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, frag) = target.split_once('#').unwrap_or((target, ""));
                let path = if file.is_empty() {
                    doc.clone()
                } else {
                    dir.join(file)
                };
                let shown = path
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.strip_prefix(common::root()).ok().map(Path::to_path_buf));
                if !path.exists() {
                    let elsewhere = WRITTEN_ELSEWHERE
                        .iter()
                        .any(|w| path == common::root().join(w));
                    if !elsewhere {
                        broken.push(format!(
                            "{}:{}: {target}: no such file",
                            doc.display(),
                            i + 1
                        ));
                    }
                    continue;
                }
                let is_md = path.extension().is_some_and(|x| x == "md");
                if !frag.is_empty() && is_md && !anchors(&path).iter().any(|a| a == frag) {
                    broken.push(format!(
                        "{}:{}: {target}: no heading `#{frag}` in {}",
                        doc.display(),
                        i + 1,
                        shown.map(|p| p.display().to_string()).unwrap_or_default()
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_readme_stays_a_readme() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines: move reference material to docs/ (docs/README.md)"
    );
}
