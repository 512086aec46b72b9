//! The layer rule (docs/architecture.md), checked on the workspace: each
//! layer is a crate that depends only on the crates below it (read from
//! their Cargo.toml files; the compiler then refuses any `use` that points
//! up); the story crate's whole dependency tree (read from Cargo.lock) has
//! none of the AWS SDK, FFmpeg, axum, SQLite or Postgres; and inside each
//! crate a module uses only the modules listed before it (a text scan of
//! `crate::x` paths and `use crate::{x, …}` groups, failing with the file
//! and line). The sandbox uses only the base crate, and no jobs module uses
//! it (only the binary and the tests do).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer crates, bottom to top: (package, directory, modules in the
/// order they may use each other). A crate may depend on those before it.
const LAYERS: &[(&str, &str, &[&str])] = &[
    ("storyforge-base", "crates/base", &["spec", "media", "util"]),
    (
        "storyforge-story",
        "crates/story",
        &[
            "fonts", "text", "assets", "template", "feed", "render", "story", "daily",
        ],
    ),
    ("storyforge-video", "crates/video", &[]),
    (
        "storyforge-deliver",
        "crates/deliver",
        &["validate", "ledger", "notify", "storage", "publish", "auth"],
    ),
    (
        "storyforge",
        ".",
        &[
            "config", "pipeline", "delivery", "run", "schedule", "doctor", "serve",
        ],
    ),
];

/// Apart from the layers: depends on the base crate only; used by the
/// binary, the demo and the tests.
const APART: (&str, &str) = ("storyforge-sandbox", "crates/sandbox");

/// What the story crate (and so the renderer's inner loop) must never
/// build: the AWS SDK, FFmpeg, the web server, SQLite and Postgres.
const NOT_IN_STORY: &[&str] = &[
    "aws-sdk-s3",
    "aws-config",
    "ffmpeg-next",
    "ffmpeg-sys-next",
    "axum",
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Layer index of a workspace crate (the sandbox is `None`).
fn layer_of(package: &str) -> Option<usize> {
    LAYERS.iter().position(|(p, _, _)| *p == package)
}

/// The `storyforge*` packages a manifest names under `[dependencies]` and
/// `[dev-dependencies]` (keys like `storyforge-base.workspace = true` or
/// `storyforge-base = { … }`).
fn workspace_deps(manifest: &str) -> Vec<String> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.trim_matches(['[', ']']).to_string();
            continue;
        }
        if !matches!(section.as_str(), "dependencies" | "dev-dependencies") {
            continue;
        }
        let key: String = line
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if key.starts_with("storyforge") {
            out.push(key);
        }
    }
    out
}

/// Why `from` may not depend on `to`, or `None` when it may.
fn crate_violation(from: &str, to: &str) -> Option<String> {
    if to == APART.0 {
        return (from != "storyforge").then(|| {
            format!("`{from}` may not depend on the sandbox: only the binary and the tests use it")
        });
    }
    let Some(tl) = layer_of(to) else {
        return Some(format!(
            "`{to}` is in no layer (add it to LAYERS and docs/architecture.md)"
        ));
    };
    if from == APART.0 {
        return (tl != 0).then(|| format!("the sandbox may use only the base crate, not `{to}`"));
    }
    let fl = layer_of(from)?;
    (tl >= fl).then(|| {
        format!("`{from}` may not depend on `{to}`: crates depend on the layers below only")
    })
}

/// Package → the packages it depends on, from Cargo.lock (every optional
/// dependency included, so the closure is a superset of any build's).
fn lock_graph() -> BTreeMap<String, BTreeSet<String>> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let name = block
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .expect("a package name")
            .trim_matches('"')
            .to_string();
        let deps = block
            .lines()
            .skip_while(|l| !l.starts_with("dependencies = ["))
            .skip(1)
            .take_while(|l| !l.starts_with(']'))
            .map(|l| {
                let d = l.trim().trim_matches([',', '"']);
                d.split(' ').next().unwrap_or(d).to_string()
            });
        graph.entry(name).or_default().extend(deps);
    }
    graph
}

/// Every package `from` pulls in, itself included.
fn closure(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(p) = todo.pop() {
        if seen.insert(p.clone()) {
            todo.extend(graph.get(&p).into_iter().flatten().cloned());
        }
    }
    seen
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

/// Why module `from` of a crate whose modules are `order` may not use
/// `crate::to`, or `None` when it may. In the root crate, a name that is
/// not one of its own modules is a re-exported lower layer (fine), except
/// the sandbox.
fn module_violation(order: &[&str], from: &str, to: &str, is_root: bool) -> Option<String> {
    if from == to {
        return None;
    }
    if is_root && to == "sandbox" {
        return Some(format!(
            "`{from}` may not use the sandbox: only the binary and the tests do"
        ));
    }
    let fp = order.iter().position(|m| *m == from)?;
    let tp = order.iter().position(|m| *m == to)?;
    (tp > fp).then(|| format!("`{from}` may not use `{to}`: imports point down only"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("a readable source dir")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every up- or sideways-pointing `crate::` import in a crate's `src/`, as
/// `file:line: why`.
fn module_violations(dir: &str, order: &[&str]) -> Vec<String> {
    let src = root().join(dir).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
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
                if let Some(why) = module_violation(order, &module, &to, dir == ".") {
                    found.push(format!("{dir}/src/{}:{}: {why}", rel.display(), n + 1));
                }
            }
            if dir == "." && code.contains("storyforge_sandbox") {
                found.push(format!(
                    "src/{}:{}: `{module}` may not use the sandbox",
                    rel.display(),
                    n + 1
                ));
            }
        }
    }
    found
}

#[test]
fn crates_depend_on_the_layers_below_only() {
    let mut found = Vec::new();
    let mut edges = 0;
    for (package, dir) in LAYERS.iter().map(|(p, d, _)| (*p, *d)).chain([APART]) {
        let manifest =
            std::fs::read_to_string(root().join(dir).join("Cargo.toml")).expect("a Cargo.toml");
        for to in workspace_deps(&manifest) {
            edges += 1;
            if let Some(why) = crate_violation(package, &to) {
                found.push(format!("{dir}/Cargo.toml: {why}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "dependencies that point up:\n{}",
        found.join("\n")
    );
    // The manifests were read: story → base, video → base + story, …
    assert!(edges >= 10, "only {edges} workspace dependencies read");
}

#[test]
fn the_story_crate_builds_without_the_heavy_stack() {
    let graph = lock_graph();
    let story = closure(&graph, "storyforge-story");
    assert!(
        story.contains("cosmic-text") && story.contains("storyforge-base"),
        "the story crate's tree was read from Cargo.lock: {} packages",
        story.len()
    );
    let pulled: Vec<&&str> = NOT_IN_STORY
        .iter()
        .filter(|p| story.contains(**p))
        .collect();
    assert!(
        pulled.is_empty(),
        "storyforge-story pulls {pulled:?} (cargo tree -p storyforge-story -i NAME says through what)"
    );
    // The base crate neither; the delivery crate does pull them (so the
    // check above can tell).
    let base = closure(&graph, "storyforge-base");
    assert!(NOT_IN_STORY.iter().all(|p| !base.contains(*p)));
    let deliver = closure(&graph, "storyforge-deliver");
    assert!(deliver.contains("aws-sdk-s3") && deliver.contains("rusqlite"));
}

#[test]
fn imports_point_down_only_inside_each_crate() {
    let mut found = Vec::new();
    for (_, dir, order) in LAYERS {
        found.extend(module_violations(dir, order));
    }
    found.extend(module_violations(APART.1, &[]));
    assert!(
        found.is_empty(),
        "imports that point up:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_module_is_in_a_layer() {
    for (package, dir, order) in LAYERS {
        if order.is_empty() {
            continue; // one-module crates: the crate is the layer
        }
        let lib = std::fs::read_to_string(root().join(dir).join("src/lib.rs")).expect("lib.rs");
        let declared: Vec<&str> = lib
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub mod "))
            .map(|m| m.trim_end_matches(';'))
            .collect();
        assert!(
            declared.len() >= 3,
            "{dir}/src/lib.rs declares its modules: {declared:?}"
        );
        for m in declared {
            assert!(
                order.contains(&m),
                "{package} ({dir}/src/lib.rs) declares `{m}`, which is in no layer"
            );
        }
    }
}

#[test]
fn the_checker_catches_what_it_should() {
    // Grouped and plain paths, nested groups.
    assert_eq!(
        crate_refs("use crate::{assets, spec::{A, B}, story};"),
        ["assets", "spec", "story"]
    );
    assert_eq!(crate_refs("let x = crate::render::draw(&s);"), ["render"]);
    // Crates: down only; the sandbox on the base alone, used by the root only.
    assert!(crate_violation("storyforge-story", "storyforge-base").is_none());
    assert!(crate_violation("storyforge-deliver", "storyforge-video").is_none());
    assert!(crate_violation("storyforge-story", "storyforge-video").is_some());
    assert!(crate_violation("storyforge-base", "storyforge-base").is_some());
    assert!(crate_violation("storyforge-deliver", "storyforge-sandbox").is_some());
    assert!(crate_violation("storyforge-sandbox", "storyforge-deliver").is_some());
    assert!(crate_violation("storyforge-sandbox", "storyforge-base").is_none());
    assert!(crate_violation("storyforge", "storyforge-sandbox").is_none());
    assert!(
        workspace_deps("[dependencies]\nstoryforge-base.workspace = true\nserde = \"1\"\n[features]\nstoryforge-x = []\n")
            == ["storyforge-base"]
    );
    // Modules inside a crate.
    let story = LAYERS[1].2;
    assert!(module_violation(story, "template", "render", false).is_some());
    assert!(module_violation(story, "render", "template", false).is_none());
    let jobs = LAYERS[4].2;
    assert!(module_violation(jobs, "config", "pipeline", true).is_some());
    assert!(module_violation(jobs, "run", "delivery", true).is_none());
    assert!(module_violation(jobs, "run", "ledger", true).is_none());
    assert!(module_violation(jobs, "delivery", "sandbox", true).is_some());
    // Cargo.lock closures follow edges.
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), ["b".to_string()].into()),
        ("b".to_string(), ["c".to_string()].into()),
    ]
    .into();
    assert_eq!(closure(&graph, "a").len(), 3);
}
