//! The shell side of the docs test: sh, cron and systemd blocks split into
//! commands, each `storyforge …` command parsed by the binary's own parser.

use std::path::Path;

use crate::common;

/// Commands the shell blocks may name besides storyforge, make and the
/// repository's own scripts: shown, syntax-checked, not run.
const TOOLS: &[&str] = &[
    "cd", "export", "ffmpeg", "git", "grep", "xargs", "cargo", "sudo", "apt-get", "time", "curl",
    "crontab", "sh", "cp",
];

/// The words of one shell command (quotes and backslashes as sh reads
/// them; `${NAME}` and `$NAME` become `0`, as a shard index would).
pub(super) fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut has = false;
    let mut chars = cmd.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                has = true;
            }
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            (_, '$') => {
                if chars.peek() == Some(&'{') {
                    for n in chars.by_ref() {
                        if n == '}' {
                            break;
                        }
                    }
                } else {
                    while chars
                        .peek()
                        .is_some_and(|n| n.is_alphanumeric() || *n == '_')
                    {
                        chars.next();
                    }
                }
                word.push('0');
            }
            (None, c) if c.is_whitespace() => {
                if has || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                has = false;
            }
            (_, c) => word.push(c),
        }
    }
    if has || !word.is_empty() {
        out.push(word);
    }
    out
}

/// The commands of a shell text: `\` continuations joined, comments
/// dropped, split at `&&`, `||`, `|` and `;` (outside quotes), with
/// redirections removed.
pub(super) fn commands(text: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let mut cmd = String::new();
        let mut quote: Option<char> = None;
        let mut chars = line.chars().peekable();
        let mut prev = ' ';
        while let Some(c) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => {
                    quote = None;
                    cmd.push(c);
                }
                (Some(_), c) => cmd.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    cmd.push(c);
                }
                (None, '#') if prev.is_whitespace() => break,
                (None, '|' | '&' | ';') => {
                    if chars.peek() == Some(&c) {
                        chars.next();
                    }
                    out.push(std::mem::take(&mut cmd));
                }
                (None, '>' | '<') => {
                    // `>> tick.log`, `2>&1`: drop the operator and its target.
                    if chars.peek() == Some(&c) {
                        chars.next();
                    }
                    if chars.peek() == Some(&'&') {
                        while chars
                            .peek()
                            .is_some_and(|n| *n == '&' || n.is_ascii_digit())
                        {
                            chars.next();
                        }
                    } else {
                        while chars.peek().is_some_and(|n| n.is_whitespace()) {
                            chars.next();
                        }
                        while chars
                            .peek()
                            .is_some_and(|n| !n.is_whitespace() && !matches!(n, '|' | '&' | ';'))
                        {
                            chars.next();
                        }
                    }
                    if cmd.ends_with(|d: char| d.is_ascii_digit()) {
                        cmd.pop();
                    }
                }
                (None, c) => cmd.push(c),
            }
            prev = c;
        }
        out.push(cmd);
    }
    out.into_iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Parses `storyforge ARGS` with the binary's own parser; the error, if any.
fn parse_storyforge(args: &[String]) -> Result<(), String> {
    let out = common::command()
        .args(args)
        .env("STORYFORGE_PARSE_ONLY", "1")
        .output()
        .expect("run storyforge");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`storyforge {}` does not parse: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The Makefile's targets.
fn make_targets() -> Vec<String> {
    std::fs::read_to_string(common::root().join("Makefile"))
        .expect("Makefile")
        .lines()
        .filter(|l| !l.starts_with(['\t', '#', '.']) && !l.contains('='))
        .filter_map(|l| l.split_once(':').map(|(t, _)| t.trim().to_string()))
        .collect()
}

/// Checks one shell command (see the module comment); the error, if any.
/// Returns how many storyforge commands were parsed.
pub(super) fn check_command(cmd: &str) -> Result<usize, String> {
    let mut w = words(cmd);
    let mut files_appended = false;
    // `VAR=value cmd`, `time cmd`, `sudo cmd`, `xargs -0r cmd`: the command behind.
    while let Some(first) = w.first() {
        let assignment = first.contains('=') && !first.starts_with('-');
        if assignment || matches!(first.as_str(), "time" | "sudo") {
            w.remove(0);
        } else if first == "xargs" {
            // xargs appends the file names it reads.
            files_appended = true;
            w.remove(0);
            while w.first().is_some_and(|a| a.starts_with('-')) {
                w.remove(0);
            }
        } else {
            break;
        }
    }
    if files_appended {
        w.push("FILE".into());
    }
    let Some(first) = w.first() else {
        return Ok(0);
    };
    let name = Path::new(first)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(first);
    match name {
        "storyforge" => {
            shipped_paths(&w[1..])?;
            parse_storyforge(&w[1..]).map(|()| 1)
        }
        "make" => {
            let targets = make_targets();
            match w[1..].iter().find(|t| !t.contains('=') && !targets.contains(t)) {
                Some(t) => Err(format!("`make {t}`: no such target in the Makefile")),
                None => Ok(0),
            }
        }
        "python3" | "bash" if w.len() > 1 && !w[1].starts_with('-') => {
            repo_file(&w[1]).map(|()| 0)
        }
        _ if first.starts_with("./") || first.starts_with("scripts/") => {
            repo_file(first).map(|()| 0)
        }
        _ if TOOLS.contains(&name) => Ok(0),
        _ => Err(format!(
            "`{first}` is a command the docs test does not know: mark the block `sh run` (run it), or `text`"
        )),
    }
}

/// The repository's folders whose files the docs name as shipped.
const SHIPPED: &[&str] = &["templates/", "fixtures/", "demo/", "examples/", "benches/"];

/// Every argument naming a shipped file must name one that exists.
fn shipped_paths(args: &[String]) -> Result<(), String> {
    args.iter()
        .filter(|a| SHIPPED.iter().any(|d| a.starts_with(d)) && !a.contains('*'))
        .try_for_each(|a| repo_file(a))
}

fn repo_file(path: &str) -> Result<(), String> {
    if common::root().join(path).exists() {
        Ok(())
    } else {
        Err(format!("`{path}` is not in the repository"))
    }
}

/// `bash -n`, then every command checked.
pub(super) fn check_shell(text: &str) -> Result<usize, String> {
    let out = std::process::Command::new("bash")
        .args(["-n", "-c", text])
        .output()
        .expect("bash");
    if !out.status.success() {
        return Err(format!(
            "bash -n: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut parsed = 0;
    for cmd in commands(text) {
        parsed += check_command(&cmd)?;
    }
    Ok(parsed)
}

/// A crontab: five time fields and a shell command a line.
pub fn check_cron(text: &str) -> Result<usize, String> {
    let mut parsed = 0;
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let fields: Vec<&str> = line.splitn(6, char::is_whitespace).collect();
        if fields.len() < 6 {
            return Err(format!("`{line}`: not five time fields and a command"));
        }
        parsed += check_shell(fields[5])?;
    }
    Ok(parsed)
}

/// systemd units: every `ExecStart=` line is a command.
pub(super) fn check_ini(text: &str) -> Result<usize, String> {
    let mut parsed = 0;
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("ExecStart=") {
            parsed += check_shell(cmd)?;
        } else if !(line.is_empty()
            || line.starts_with('#')
            || line.starts_with('[')
            || line.contains('='))
        {
            return Err(format!("`{line}`: not a unit file line"));
        }
    }
    Ok(parsed)
}
