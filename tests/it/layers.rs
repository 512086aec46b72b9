//! The layer rule of `src/` (README, "Layout"), checked on the source: each
//! library module may use only the modules of the layers below its own, and
//! those before it in its own layer; the sandbox uses only the base layer and
//! no library module uses it. A `crate::x` path or a `use crate::{x, …}`
//! group that points up or sideways fails with the file and line.

use std::path::Path;

/// Bottom to top; inside a layer, a module may use those listed before it.
const LAYERS: &[(&str, &[&str])] = &[
    ("base", &["spec", "media", "util"]),
    (
        "story",
        &[
            "fonts", "text", "assets", "template", "feed", "render", "story", "video",
        ],
    ),
    (
        "deliver",
        &["validate", "ledger", "notify", "storage", "publish", "auth"],
    ),
    (
        "jobs",
        &[
            "config", "pipeline", "delivery", "daily", "run", "schedule", "doctor", "serve",
        ],
    ),
];

/// Apart from the layers: used by the binary, the demo and the tests only.
const APART: &str = "sandbox";

/// (layer index, position in the layer) of a library module.
fn rank(module: &str) -> Option<(usize, usize)> {
    LAYERS
        .iter()
        .enumerate()
        .find_map(|(l, (_, mods))| mods.iter().position(|m| *m == module).map(|p| (l, p)))
}

/// Why `from` may not use `to`, or `None` when it may.
fn violation(from: &str, to: &str) -> Option<String> {
    if from == to {
        return None;
    }
    if to == APART {
        return Some(format!(
            "`{to}` is apart: only the binary and the tests use it"
        ));
    }
    let Some((tl, tp)) = rank(to) else {
        return Some(format!(
            "`{to}` is in no layer (add it to LAYERS and the README)"
        ));
    };
    if from == APART {
        return (tl != 0).then(|| format!("the sandbox may use only the base layer, not `{to}`"));
    }
    let (fl, fp) = rank(from)?;
    let ok = tl < fl || (tl == fl && tp < fp);
    (!ok).then(|| {
        format!(
            "`{from}` ({}) may not use `{to}` ({}): imports point down only",
            LAYERS[fl].0, LAYERS[tl].0
        )
    })
}

/// The top-level modules a line refers to through `crate::`.
fn crate_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // `use crate::{a, b::c, d::{e, f}}`: the first name of each
            // piece between commas at depth 0.
            let mut depth = 0;
            let mut piece = String::new();
            let mut pieces = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => pieces.push(std::mem::take(&mut piece)),
                    c if depth == 0 => piece.push(c),
                    _ => {}
                }
            }
            pieces.push(piece);
            out.extend(
                pieces
                    .iter()
                    .map(|p| leading_name(p.trim()))
                    .filter(|n| !n.is_empty()),
            );
        } else {
            let name = leading_name(after);
            if !name.is_empty() {
                out.push(name);
            }
        }
        rest = after;
    }
    out
}

/// The identifier `s` starts with.
fn leading_name(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every up- or sideways-pointing import in `src/`, as `file:line: why`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(module.as_str(), "main" | "cli" | "lib") {
            continue; // the binary composes everything; lib.rs only declares
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let mut in_block_comment = false;
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if in_block_comment || code.starts_with("/*") {
                in_block_comment = !code.contains("*/");
                continue;
            }
            if code.starts_with("//") {
                continue;
            }
            for to in crate_refs(code) {
                if let Some(why) = violation(&module, &to) {
                    found.push(format!("src/{}:{}: {why}", rel.display(), n + 1));
                }
            }
        }
    }
    found
}

#[test]
fn imports_point_down_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports that point up:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_module_is_in_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .collect();
    assert!(
        declared.len() > 10,
        "lib.rs declares its modules: {declared:?}"
    );
    for m in declared {
        assert!(
            m == APART || rank(m).is_some(),
            "src/lib.rs declares `{m}`, which is in no layer"
        );
    }
}

#[test]
fn the_checker_catches_what_it_should() {
    // Grouped and plain paths, nested groups, and the apart rule.
    assert_eq!(
        crate_refs("use crate::{assets, spec::{A, B}, story};"),
        ["assets", "spec", "story"]
    );
    assert_eq!(crate_refs("let x = crate::render::draw(&s);"), ["render"]);
    assert!(violation("validate", "pipeline").is_some());
    assert!(violation("template", "render").is_some());
    assert!(violation("delivery", "sandbox").is_some());
    assert!(violation("sandbox", "publish").is_some());
    assert!(violation("sandbox", "spec").is_none());
    assert!(violation("render", "template").is_none());
    assert!(violation("run", "delivery").is_none());
}
