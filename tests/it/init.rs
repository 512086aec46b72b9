//! `storyforge init`: the project it writes runs as written (the built-in
//! sandbox), its commented-in Instagram settings are real settings (pointed
//! at the test sandbox, which counts the publishes in its own record), and
//! a second `init` refuses to overwrite anything.

use std::path::Path;

use storyforge::ledger::{Ledger, State};
use storyforge::sandbox::{Sandbox, SandboxConfig};

use crate::common;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `storyforge init DIR`, which must succeed; its stdout.
fn init(dir: &Path) -> String {
    let out = common::storyforge(&["init", &s(dir)]);
    common::expect_exit(&out, 0);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The outputs the last run in `dir` published, from its `report.json`.
fn published(dir: &Path) -> usize {
    let text = std::fs::read_to_string(dir.join("out/report.json")).expect("report.json");
    let report: serde_json::Value = serde_json::from_str(&text).expect("report json");
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["status"] == "published")
        .count()
}

#[test]
fn init_then_run_renders_validates_and_publishes_each_row_once() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("mystories");
    let printed = init(&dir);
    for name in [
        "storyforge.yaml",
        "story.yaml",
        "stories.csv",
        "job.yaml",
        "cron.txt",
    ] {
        assert!(dir.join(name).is_file(), "{name} written");
    }
    // The next three commands, naming the folder.
    let d = s(&dir);
    for next in [
        format!("storyforge validate {d}/story.yaml --data {d}/stories.csv"),
        format!("storyforge run {d}/job.yaml --config {d}/storyforge.yaml"),
        format!("storyforge serve --config {d}/storyforge.yaml"),
    ] {
        assert!(printed.contains(&next), "prints `{next}`:\n{printed}");
    }
    // The cron lines: printed and in cron.txt, run in the folder.
    let cron = std::fs::read_to_string(dir.join("cron.txt")).expect("cron.txt");
    let canonical = s(&std::fs::canonicalize(&dir).expect("folder"));
    let tick = cron
        .lines()
        .find(|l| l.starts_with("*/5 * * * * "))
        .expect("a tick line");
    assert!(
        tick.contains(&format!("cd '{canonical}' && '"))
            && tick.contains(" tick --config storyforge.yaml"),
        "{tick}"
    );
    assert!(printed.contains(tick), "the tick line is printed");
    // Every line is a cron line whose storyforge command parses.
    assert_eq!(crate::docs::check_cron(&cron), Ok(2), "{cron}");

    // The first of them: every row of the feed passes the validator.
    let out = common::storyforge(&[
        "validate",
        "--strict",
        &format!("{d}/story.yaml"),
        "--data",
        &format!("{d}/stories.csv"),
    ]);
    common::expect_exit(&out, 0);

    // The second, as written: the built-in sandbox.
    let config = dir.join("storyforge.yaml");
    let out = common::cli(&["run", &s(&dir.join("job.yaml"))], &config);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("3 published, 0 already published"), "{text}");
    assert_eq!(published(&dir), 3);
    // Rendered: three Story JPEGs, each clean under the validator's strict rules.
    let jpegs: Vec<_> = std::fs::read_dir(dir.join("out"))
        .expect("out")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    assert_eq!(jpegs.len(), 3, "{jpegs:?}");
    let mut args = vec!["validate".to_string(), "--strict".into()];
    args.extend(jpegs.iter().map(|p| s(p)));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::expect_exit(&common::storyforge(&args), 0);
    // Published, by the ledger beside the settings: three rows with media ids.
    let rows = Ledger::open(&dir.join("storyforge.db"))
        .expect("ledger")
        .assets()
        .expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|r| r.state == State::Published && r.media_id.is_some()));
    // Run again: nothing new.
    let out = common::cli(&["run", &s(&dir.join("job.yaml"))], &config);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("0 published, 3 already published"), "{text}");

    // A second init refuses, naming the file, and changes nothing.
    let before = std::fs::read_to_string(&config).expect("settings");
    std::fs::write(&config, format!("{before}# edited\n")).expect("edit");
    let out = common::storyforge(&["init", &d]);
    let err = common::expect_exit(&out, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{d}/storyforge.yaml: already exists")) && err.contains("--force"),
        "{err}"
    );
    assert!(std::fs::read_to_string(&config)
        .expect("settings")
        .ends_with("# edited\n"));
    // --force writes it afresh.
    common::expect_exit(&common::storyforge(&["init", &d, "--force"]), 0);
    assert_eq!(std::fs::read_to_string(&config).expect("settings"), before);
}

#[test]
fn init_instagram_settings_publish_through_the_graph_api() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    init(dir);
    let written = std::fs::read_to_string(dir.join("storyforge.yaml")).expect("settings");
    // The commented-in settings for Instagram, uncommented.
    let real: String = written
        .lines()
        .skip_while(|l| *l != "# storage:")
        .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
        .collect();
    assert!(real.contains("kind: s3") && real.contains("https://graph.instagram.com"));
    storyforge::config::Settings::parse(&real, &dir.join("storyforge.yaml"))
        .expect("the commented-in settings are valid settings");
    // Pointed at a sandbox standing in for graph.instagram.com; the local
    // store is kept (the S3 part needs a bucket) and served by it.
    let sandbox = Sandbox::start(SandboxConfig {
        media_dir: Some(dir.join("media")),
        image_processing_ms: 50,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let url = sandbox.base_url();
    let graph = &real[real.find("graph:").expect("graph section")..];
    let graph = graph.replace(
        "  base_url: https://graph.instagram.com\n",
        &format!("  base_url: {url}\n  publish_spacing: 0\n  image_poll: 0.05\n"),
    );
    let config = format!(
        "ledger: storyforge.db\nstorage:\n  kind: local\n  dir: media\n  base_url: {url}/media/\n{graph}"
    );
    std::fs::write(dir.join("storyforge.yaml"), config).expect("settings");
    std::fs::create_dir_all(dir.join("secrets")).expect("secrets");
    std::fs::write(dir.join("secrets/shop.token"), "sandbox-token-demo").expect("token");

    let out = common::cli(
        &["run", &s(&dir.join("job.yaml"))],
        &dir.join("storyforge.yaml"),
    );
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let record = sandbox.published();
    assert_eq!(record.len(), 3, "the sandbox's record: {record:?}");
    assert!(record
        .iter()
        .all(|p| p.account_id == common::DEMO_ID && p.media_type == "IMAGE"));
    assert_eq!(published(dir), 3);
}

/// `storyforge init ARGS` run in `cwd`, which must succeed; its stdout.
fn init_from(cwd: &Path, args: &[&str]) -> String {
    let out = common::command()
        .arg("init")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run storyforge");
    common::expect_exit(&out, 0);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn init_in_the_current_folder_prints_commands_without_a_folder() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let printed = init_from(tmp.path(), &[]);
    assert!(
        printed.contains("storyforge run job.yaml --config storyforge.yaml"),
        "{printed}"
    );
    assert!(tmp.path().join("storyforge.yaml").is_file());
    // A folder with a space is quoted in the printed commands.
    let printed = init_from(tmp.path(), &["my stories"]);
    assert!(
        printed
            .contains("storyforge run 'my stories/'job.yaml --config 'my stories/'storyforge.yaml"),
        "{printed}"
    );
}
