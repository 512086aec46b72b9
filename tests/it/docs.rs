//! The docs cannot rot: every fenced block of README.md and docs/*.md is
//! run or checked by the real entry points, by its info string (the kinds
//! are described in docs/README.md, "Examples are tested"):
//!
//! - `yaml template`, `yaml template-part`, `yaml text-layer`: loaded by
//!   the template checker (`template::load`, the bundled fonts), a part or
//!   a layer first wrapped into a whole template;
//! - `yaml config`: storyforge.yaml, whole or in part (`Settings::parse`);
//! - `yaml job`: a job file (`JobFile::load`, which checks every entry);
//! - `yaml tool`: another tool's YAML (GitHub Actions, pre-commit,
//!   Kubernetes): parsed, and every `storyforge …` command in it parsed;
//! - `sh`, `cron`, `ini`: `bash -n`, then every `storyforge …` command
//!   parsed by the binary's own argument parser (`STORYFORGE_PARSE_ONLY`),
//!   every `make` target looked up in the Makefile, every repository
//!   script looked up, and any other command one of a few named tools;
//! - `sh run`: run for real by bash, a file's blocks in order in one temp
//!   folder, with the built `storyforge` first on `PATH`;
//! - `text`: output or a synopsis, shown as it is.
//!
//! A block with any other info string, or none, fails the test.

use std::path::{Path, PathBuf};

use storyforge::fonts::FontBook;

use crate::common;

mod links;
mod shell;

pub use shell::check_cron;
use shell::{check_command, check_ini, check_shell, commands, words};

/// One fenced block: where it is, its info string and its text.
struct Block {
    doc: PathBuf,
    line: usize,
    info: String,
    text: String,
}

impl Block {
    fn place(&self) -> String {
        let doc = self.doc.strip_prefix(common::root()).unwrap_or(&self.doc);
        format!("{}:{}: ```{}", doc.display(), self.line, self.info)
    }
}

/// README.md and every docs/*.md.
fn docs() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(common::root().join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    docs.insert(0, common::root().join("README.md"));
    docs
}

/// The fenced blocks of `doc` (``` fences at the start of a line).
fn blocks(doc: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(doc).expect("read doc");
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("```") else {
            if let Some(b) = open.as_mut() {
                b.text.push_str(line);
                b.text.push('\n');
            }
            continue;
        };
        match open.take() {
            Some(b) => out.push(b),
            None => {
                open = Some(Block {
                    doc: doc.to_path_buf(),
                    line: i + 1,
                    info: rest.trim().to_string(),
                    text: String::new(),
                })
            }
        }
    }
    assert!(open.is_none(), "{}: a fence is not closed", doc.display());
    out
}

/// Another tool's YAML: it parses, and every string that runs storyforge
/// holds commands that parse.
fn check_tool_yaml(text: &str) -> Result<usize, String> {
    let value: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    let mut strings = Vec::new();
    collect_strings(&value, "", &mut strings);
    let mut parsed = 0;
    for s in strings.iter() {
        for cmd in commands(s) {
            if words(&cmd).iter().any(|w| w == "storyforge") {
                parsed += check_command(&cmd)?;
            }
        }
    }
    Ok(parsed)
}

/// Every string that is a command (under `run`, `entry` or `command`);
/// a pre-commit hook's `entry:` gets a file name appended, as pre-commit
/// does.
fn collect_strings(v: &serde_json::Value, key: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if key == "entry" => out.push(format!("{s} FILE")),
        serde_json::Value::String(s) if matches!(key, "run" | "command") => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, key, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| collect_strings(x, k, out)),
        _ => {}
    }
}

/// The top-level keys of a YAML text.
fn top_keys(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with([' ', '#', '-']))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim()))
        .collect()
}

/// What a template part is completed with: any of these keys it lacks.
const BASE_TEMPLATE: &[(&str, &str)] = &[
    ("name", "name: doc\n"),
    (
        "layers",
        "layers:\n  - text: {name: doc, content: \"Doc\", size: 48, box: {x: 90, y: 640, w: 900, h: 360}}\n",
    ),
];

/// A text layer's keys into a whole template (the base keys it lacks added).
fn text_layer_template(text: &str) -> String {
    let keys = top_keys(text);
    let mut layer = String::new();
    for (k, v) in [
        ("name", "doc"),
        ("box", "{x: 90, y: 640, w: 900, h: 360}"),
        ("size", "{min: 24, max: 48}"),
    ] {
        if !keys.contains(&k) {
            layer += &format!("      {k}: {v}\n");
        }
    }
    for line in text.lines() {
        layer += &format!("      {line}\n");
    }
    format!("name: doc\nlayers:\n  - text:\n{layer}")
}

fn template_part(text: &str) -> String {
    let keys = top_keys(text);
    let mut t = text.to_string();
    for (k, v) in BASE_TEMPLATE {
        if !keys.contains(k) {
            t += v;
        }
    }
    t
}

/// Loads `text` as a template in `dir` (beside a copy of the shipped assets).
fn check_template(dir: &Path, text: &str) -> Result<usize, String> {
    let path = dir.join("doc-template.yaml");
    std::fs::write(&path, text).expect("write template");
    storyforge::template::load(&path, &FontBook::bundled())
        .map(|_| 0)
        .map_err(|e| format!("{e}\n--- as checked:\n{text}"))
}

/// The YAML documents of a block (`---` separates them).
fn documents(text: &str) -> Vec<String> {
    text.split("\n---\n").map(str::to_string).collect()
}

/// Checks one block, `dir` being a scratch folder; counts parsed commands.
fn check(block: &Block, dir: &Path, run_dir: &Path) -> Result<usize, String> {
    let text = &block.text;
    match block.info.as_str() {
        "text" => Ok(0),
        "yaml template" => check_template(dir, text),
        "yaml template-part" => check_template(dir, &template_part(text)),
        "yaml text-layer" => check_template(dir, &text_layer_template(text)),
        "yaml config" => {
            for doc in documents(text) {
                storyforge::config::Settings::parse(&doc, &dir.join("storyforge.yaml"))
                    .map_err(|e| e.to_string())?;
            }
            Ok(0)
        }
        "yaml job" => {
            for doc in documents(text) {
                let path = dir.join("job.yaml");
                std::fs::write(&path, doc).expect("write job");
                storyforge::run::JobFile::load(&path).map_err(|e| e.to_string())?;
            }
            Ok(0)
        }
        "yaml tool" => check_tool_yaml(text),
        "sh" => check_shell(text),
        "cron" => check_cron(text),
        "ini" => check_ini(text),
        "sh run" => {
            let bin = PathBuf::from(env!("CARGO_BIN_EXE_storyforge"));
            let path = format!(
                "{}:{}",
                bin.parent().expect("bin dir").display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let out = std::process::Command::new("bash")
                .args(["-euo", "pipefail", "-c", text])
                .current_dir(run_dir)
                .env("PATH", path)
                .output()
                .expect("bash");
            if out.status.success() {
                Ok(commands(text).len())
            } else {
                Err(format!("failed when run: {}", common::text(&out)))
            }
        }
        other => Err(format!(
            "`{other}` is not a kind the docs test knows (docs/README.md, \"Examples are tested\")"
        )),
    }
}

#[test]
fn every_example_in_the_docs_is_run_or_checked() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let assets = scratch.path().join("assets");
    std::fs::create_dir_all(&assets).expect("assets");
    for e in std::fs::read_dir(common::root().join("templates/assets")).expect("templates/assets") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, assets.join(p.file_name().expect("name"))).expect("copy asset");
    }
    let mut failures = Vec::new();
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    let mut commands_parsed = 0;
    for doc in docs() {
        let run_dir = tempfile::tempdir().expect("temp dir");
        for block in blocks(&doc) {
            *kinds.entry(block.info.clone()).or_default() += 1;
            match check(&block, scratch.path(), run_dir.path()) {
                Ok(n) => commands_parsed += n,
                Err(e) => failures.push(format!("{}: {e}", block.place())),
            }
        }
    }
    eprintln!(
        "docs blocks by kind: {kinds:?}; storyforge commands parsed or run: {commands_parsed}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for kind in ["yaml template", "yaml config", "yaml job", "sh", "sh run"] {
        assert!(kinds.contains_key(kind), "no `{kind}` block was found");
    }
}

#[test]
fn the_checks_refuse_what_is_wrong() {
    let dir = tempfile::tempdir().expect("temp dir");
    let block = |info: &str, text: &str| Block {
        doc: common::root().join("docs/x.md"),
        line: 1,
        info: info.into(),
        text: text.into(),
    };
    let fails = |info: &str, text: &str| check(&block(info, text), dir.path(), dir.path()).is_err();
    assert!(fails("sh", "storyforge render --no-such-flag t.yaml\n"));
    assert!(fails("sh", "storyforge publsh out/\n"));
    assert!(fails("sh", "rm -rf out\n"));
    assert!(fails("sh", "make no-such-target\n"));
    assert!(fails("sh", "storyforge render templates/no-such.yaml\n"));
    assert!(fails("yaml", "a: 1\n"));
    assert!(fails("", "anything\n"));
    assert!(fails("yaml config", "graph:\n  base_ur: x\n"));
    assert!(fails(
        "yaml job",
        "jobs:\n  - videos: a/\n    file: b.jpg\n"
    ));
    assert!(fails(
        "yaml text-layer",
        "content: \"x\"\nalign: sideways\n"
    ));
    assert!(fails("cron", "*/5 * * * cd /srv && storyforge tick\n"));
    assert!(fails(
        "yaml tool",
        "run: storyforge validate --no-such-flag x\n"
    ));
    assert!(fails("sh run", "storyforge validate /no/such/file.jpg\n"));
    assert!(!fails(
        "sh",
        "storyforge tick --config storyforge.yaml >> tick.log 2>&1\n"
    ));
    assert!(!fails(
        "cron",
        "*/5 * * * * cd /srv && storyforge tick --config s.yaml >> tick.log 2>&1\n"
    ));
    assert_eq!(
        commands("storyforge tick 2>&1 | grep x >> log; make test # why\n"),
        ["storyforge tick", "grep x", "make test"]
    );
    assert_eq!(words("a 'b c' \"d $E\" ${F}/8"), ["a", "b c", "d 0", "0/8"]);
}

#[test]
fn the_configuration_reference_names_every_key() {
    let doc = std::fs::read_to_string(common::root().join("docs/configuration.md"))
        .expect("docs/configuration.md");
    let defaults = serde_json::to_value(storyforge::config::Settings::default()).expect("json");
    let mut missing = Vec::new();
    let serde_json::Value::Object(top) = defaults else {
        panic!("settings are a mapping")
    };
    for (key, value) in &top {
        let mut keys = vec![key.clone()];
        if let serde_json::Value::Object(inner) = value {
            keys.extend(inner.keys().cloned());
        }
        missing.extend(keys.into_iter().filter(|k| !doc.contains(&format!("{k}:"))));
    }
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name these storyforge.yaml keys: {missing:?}"
    );
}
