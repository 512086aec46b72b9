//! A serde-saphyr error → its place ([`SourcePos`]) and a one-line message
//! with a "did you mean" hint, and `file:line:col: message` text; shared by
//! every YAML file storyforge reads (templates, jobs, settings).

use super::suggest::did_you_mean;

/// A line and column in a YAML file (1-based; 0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourcePos {
    /// Line.
    pub line: u64,
    /// Column.
    pub column: u64,
}

/// `file:line:col: message`, or `file: message` when the place is unknown.
pub fn located(path: &str, pos: SourcePos, message: &str) -> String {
    if pos.line == 0 {
        format!("{path}: {message}")
    } else {
        format!("{path}:{}:{}: {message}", pos.line, pos.column)
    }
}

/// Where a serde-saphyr error is and a one-line message with a "did you
/// mean" hint for unknown keys; shared by every YAML file storyforge reads.
pub fn yaml_problem(e: &serde_saphyr::Error) -> (SourcePos, String) {
    let pos = e
        .location()
        .map(|l| SourcePos {
            line: l.line(),
            column: l.column(),
        })
        .unwrap_or_default();
    let raw = e.without_snippet().to_string();
    let first = raw.lines().next().unwrap_or("invalid YAML");
    (pos, with_suggestion(&strip_position(first)))
}

/// Drops a trailing " at line N column M" (the position is shown in front).
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Adds "did you mean" to "unknown field `x`, expected one of a, b" (serde's
/// and serde-saphyr's wordings).
fn with_suggestion(msg: &str) -> String {
    if !(msg.contains("unknown field") || msg.contains("unknown variant")) {
        return msg.to_string();
    }
    let Some(word) = msg.split('`').nth(1) else {
        return msg.to_string();
    };
    let Some((_, expected)) = msg.split_once("expected") else {
        return msg.to_string();
    };
    let list = expected
        .replace("one of", ",")
        .replace(" or ", ",")
        .replace('`', "");
    let candidates: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    format!("{msg}{}", did_you_mean(word, candidates.into_iter()))
}
