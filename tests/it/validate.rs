//! The validator: every file in fixtures/bad gives exactly the findings its
//! name lists, compliant outputs of the render and transcode stages are
//! clean, the report formats and exit codes, and mutated inputs never panic.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use storyforge::feed::Feed;
use storyforge::fonts::FontBook;
use storyforge::validate::{self, template::FeedSample, Options, RULES};

fn bad(name: &str) -> PathBuf {
    common::root().join("fixtures/bad").join(name)
}

fn opts() -> Options {
    Options {
        today: common::today(),
        ..Options::default()
    }
}

fn ids(path: &Path, data: Option<&FeedSample>, opts: &Options) -> BTreeSet<String> {
    validate::check_file(path, &FontBook::bundled(), data, opts)
        .findings
        .iter()
        .map(|f| f.rule.id.to_string())
        .collect()
}

/// `SF208+SF211-bitrate.mp4` → {SF208, SF211}; `ok-…` → {}.
fn expected(name: &str) -> BTreeSet<String> {
    let prefix = name.split('-').next().unwrap_or("");
    prefix
        .split('+')
        .filter(|p| p.starts_with("SF"))
        .map(str::to_string)
        .collect()
}

fn sample(feed: &Path) -> FeedSample {
    let feed = Feed::open(feed).expect("feed opens");
    let rows = feed
        .rows()
        .expect("rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows parse");
    FeedSample { feed, rows }
}

#[test]
fn every_bad_fixture_gives_exactly_its_findings() {
    let dir = common::root().join("fixtures/bad");
    let mut covered = BTreeSet::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let is_fixture = name.starts_with("SF") || name.starts_with("ok-");
        if !is_fixture || name.contains("-feed.") {
            continue;
        }
        let mut o = opts();
        let mut data = None;
        if name.starts_with("SF210") {
            o.max_video_bytes = 20_000;
        }
        if name.starts_with("SF305") {
            data = Some(sample(&bad("SF305-variable-feed.json")));
        }
        let got = ids(&path, data.as_ref(), &o);
        assert_eq!(got, expected(&name), "{name}");
        covered.extend(got);
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} fixtures");
    // SF001 (unreadable) cannot be a committed file: see the next test.
    let missing: Vec<_> = RULES
        .iter()
        .filter(|r| r.id != "SF001" && !covered.contains(r.id))
        .map(|r| r.id)
        .collect();
    assert!(missing.is_empty(), "rules without a fixture: {missing:?}");
}

#[test]
fn unreadable_paths_are_findings_and_the_walk_goes_on() {
    let reports = validate::validate_paths(
        &[bad("no-such-file.jpg"), bad("SF104-truncated.jpg")],
        &FontBook::bundled(),
        None,
        &opts(),
    );
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].findings[0].rule.id, "SF001");
    assert!(reports[0].findings[0].message.contains("cannot read it"));
    assert_eq!(reports[1].findings[0].rule.id, "SF104");
}

#[test]
fn rows_missing_a_variable_are_reported_by_row() {
    let data = sample(&bad("SF305-variable-feed.json"));
    let report = validate::check_file(
        &bad("SF305-variable.yaml"),
        &FontBook::bundled(),
        Some(&data),
        &opts(),
    );
    assert_eq!(report.findings.len(), 1);
    let loc = report.findings[0].location.clone().unwrap();
    assert_eq!((loc.row, loc.line), (Some(2), Some(5)));
}

#[test]
fn a_missing_glyph_names_layer_row_character_and_code_point() {
    let dir = tempfile::tempdir().expect("dir");
    let template = dir.path().join("t.yaml");
    std::fs::write(
        &template,
        "background: {color: \"#000000\"}\nlayers:\n  - text:\n      name: title\n      content: \"{{title}}\"\n      size: 60\n      box: {x: 100, y: 600, w: 880, h: 300}\n  - text:\n      name: lenient\n      content: \"{{title}}\"\n      size: 60\n      missing_glyphs: allow\n      box: {x: 100, y: 1000, w: 880, h: 300}\n",
    )
    .expect("write template");
    let feed = dir.path().join("feed.csv");
    std::fs::write(&feed, "title\nقائمة الشتاء 🎉\nKing 𓀀 here\n").expect("write feed");
    let report = validate::check_file(
        &template,
        &FontBook::bundled(),
        Some(&sample(&feed)),
        &opts(),
    );
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    let f = &report.findings[0];
    assert_eq!(f.rule.id, "SF309");
    assert_eq!(f.location.as_ref().and_then(|l| l.row), Some(2));
    assert!(f.message.contains("layer 'title'"), "{}", f.message);
    assert!(f.message.contains("'𓀀' (U+13000)"), "{}", f.message);
}

use crate::common::storyforge;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn exit_codes_and_strict() {
    let clean = storyforge(&["validate", "fixtures/bad/ok-story.jpg"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    let warn = storyforge(&["validate", "fixtures/bad/SF107-aspect-4x5.jpg"]);
    assert_eq!(warn.status.code(), Some(0));
    let strict = storyforge(&["validate", "--strict", "fixtures/bad/SF107-aspect-4x5.jpg"]);
    assert_eq!(strict.status.code(), Some(1));
    let error = storyforge(&["validate", "fixtures/bad/SF101-png-named.jpg"]);
    assert_eq!(error.status.code(), Some(1));
    let line = stdout(&error);
    assert!(line.starts_with(
        "fixtures/bad/SF101-png-named.jpg: error SF101 image-not-jpeg: the image is PNG"
    ));
    let setup = storyforge(&["validate", "templates", "--data", "fixtures/feeds/nope.csv"]);
    assert_eq!(setup.status.code(), Some(2));
    let err = String::from_utf8_lossy(&setup.stderr);
    assert!(
        err.contains("nope.csv") && err.lines().count() == 1,
        "{err}"
    );
}

/// A file named like media is checked as that media: a text `clip.mp4` is a
/// broken video (an error) in a walk and alone, never skipped and never a
/// template; a text file not named `*.yaml`/`*.yml` is not a template.
#[test]
fn a_text_file_named_like_a_video_is_a_broken_video() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = dir.path().join("clip.mp4");
    std::fs::write(&clip, "this is not a video\n").expect("write");
    let photo = dir.path().join("photo.JPG");
    std::fs::write(&photo, "nor is this a photo\n").expect("write");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "layers:\n").expect("write");
    let reports = validate::validate_paths(
        &[dir.path().to_path_buf()],
        &FontBook::bundled(),
        None,
        &opts(),
    );
    let found: Vec<(String, String)> = reports
        .iter()
        .map(|r| {
            let name = Path::new(&r.path)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            (name, r.findings[0].rule.id.to_string())
        })
        .collect();
    assert_eq!(
        found,
        [
            ("clip.mp4".to_string(), "SF217".to_string()),
            ("photo.JPG".to_string(), "SF104".to_string())
        ],
        "notes.txt is skipped in a walk"
    );
    let alone = validate::check_file(&clip, &FontBook::bundled(), None, &opts());
    assert_eq!(
        alone.kind,
        validate::FileKind::Media(storyforge::media::MediaKind::Video)
    );
    let ids: Vec<_> = alone.findings.iter().map(|f| f.rule.id).collect();
    assert_eq!(ids, ["SF217"]);
    assert!(
        alone.findings[0]
            .message
            .contains("named like a video, but its content is text"),
        "{}",
        alone.findings[0].message
    );
    let named = validate::check_file(&notes, &FontBook::bundled(), None, &opts());
    let ids: Vec<_> = named.findings.iter().map(|f| f.rule.id).collect();
    assert_eq!(
        ids,
        ["SF002"],
        "a text file is not a template because it is text"
    );
    // In CI the walk fails.
    let dir_arg = dir.path().display().to_string();
    let out = storyforge(&["validate", &dir_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("clip.mp4: error SF217 video-corrupt"),
        "{}",
        stdout(&out)
    );
}

/// A FIFO given to `validate`, `transcode` or a job's `videos:` fails fast
/// with an error that names it, instead of blocking on the open forever.
#[cfg(unix)]
#[test]
fn a_fifo_fails_fast_with_a_named_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("clip.mp4");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let shown = fifo.display().to_string();
    let started = std::time::Instant::now();
    let v = storyforge(&["validate", &shown]);
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    let line = stdout(&v);
    assert!(
        line.contains(&format!(
            "{shown}: error SF001 unreadable: not a regular file (a FIFO)"
        )),
        "{line}"
    );
    let out = dir.path().join("out");
    let out_arg = out.display().to_string();
    let t = storyforge(&["transcode", &shown, "--out", &out_arg]);
    assert_ne!(t.status.code(), Some(0));
    let err = String::from_utf8_lossy(&t.stderr).into_owned() + &stdout(&t);
    assert!(
        err.contains(&shown) && err.contains("not a regular file (a FIFO)"),
        "{err}"
    );
    let rig = common::Rig::start(|_| {});
    let job = dir.path().join("job.yaml");
    std::fs::write(
        &job,
        format!("out: {out_arg}\njobs:\n  - videos: {shown}\n"),
    )
    .expect("job");
    let run = rig.run(&["run", job.to_str().expect("utf-8"), "--dry-run"]);
    let all = common::text(&run);
    assert_eq!(run.status.code(), Some(1), "{all}");
    assert!(
        all.contains(&shown) && all.contains("not a regular file (a FIFO)"),
        "{all}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn github_and_junit_formats() {
    let gh = storyforge(&[
        "validate",
        "--format",
        "github",
        "fixtures/bad/SF302-safe-zone.yaml",
    ]);
    assert_eq!(gh.status.code(), Some(1));
    let out = stdout(&gh);
    assert!(
        out.starts_with(
            "::error file=fixtures/bad/SF302-safe-zone.yaml,line=4,col=5,title=SF302 template-safe-zone::"
        ),
        "{out}"
    );
    let ju = storyforge(&[
        "validate",
        "--format",
        "junit",
        "fixtures/bad/ok-story.jpg",
        "fixtures/bad/SF102-mpo.jpg",
    ]);
    let xml = stdout(&ju);
    assert_eq!(xml.matches("<testcase").count(), 2, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("SF102"));
    let js = storyforge(&["validate", "--format", "json", "fixtures/bad"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&js)).unwrap();
    assert!(v["summary"]["files"].as_u64().unwrap() >= 30);
}

#[test]
fn compliant_render_outputs_validate_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    for t in ["quote-card", "product-card", "event-countdown"] {
        let template = format!("templates/{t}.yaml");
        let feed = common::feed_for(&common::root().join(&template)).unwrap();
        let r = storyforge(&[
            "render",
            &template,
            "--data",
            feed.to_str().unwrap(),
            "--out",
            out,
            "--today",
            "2026-11-29",
        ]);
        common::expect_exit(&r, 0);
        // And the template itself, with the same feed, checks clean.
        let v = storyforge(&[
            "validate",
            "--strict",
            &template,
            "--data",
            feed.to_str().unwrap(),
            "--today",
            "2026-11-29",
        ]);
        assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    }
    let v = storyforge(&["validate", "--strict", out]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(stdout(&v).contains("ok: "), "{}", stdout(&v));
    let files = std::fs::read_dir(out).unwrap().count();
    assert!(stdout(&v).contains(&format!("{files} files checked")));
}

#[test]
fn compliant_transcode_outputs_validate_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let r = storyforge(&[
        "transcode",
        "fixtures/video/rotated.mp4",
        "fixtures/bad/SF205-interlaced.mp4",
        "fixtures/bad/SF213-96khz.mp4",
        "--preset",
        "ultrafast",
        "--out",
        out,
    ]);
    common::expect_exit(&r, 0);
    let v = storyforge(&["validate", "--strict", out]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(stdout(&v).contains("3 files checked"), "{}", stdout(&v));
}

/// A bounded mutation fuzz run (the cargo-fuzz targets in fuzz/ go deeper):
/// flipped, cut and spliced bytes of real files never panic the probes.
#[test]
fn mutated_inputs_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let seeds = [
        bad("ok-story.jpg"),
        bad("SF109-exif-rotated.jpg"),
        bad("ok-video.mp4"),
        bad("SF201-matroska.mkv"),
    ];
    let mut rng = fastrand::Rng::with_seed(0x5709);
    let fonts = FontBook::bundled();
    for (i, seed) in seeds.iter().enumerate() {
        let original = std::fs::read(seed).unwrap();
        let rounds = if i < 2 { 300 } else { 40 };
        for round in 0..rounds {
            let bytes = mutate(&mut rng, &original, round, false);
            let path = tmp.path().join(format!("m{i}-{round}.bin"));
            std::fs::write(&path, &bytes).unwrap();
            let report = validate::check_file(&path, &fonts, None, &opts());
            assert_eq!(report.path, path.display().to_string());
        }
    }
    // The two text parsers the fuzz targets drive: template YAML and feeds.
    let text_seeds: [(&str, PathBuf); 6] = [
        (
            "yaml-template",
            common::root().join("templates/daily-update.yaml"),
        ),
        ("yaml-template", bad("SF302-safe-zone.yaml")),
        (
            "csv",
            common::root().join("fixtures/feeds/daily-update.csv"),
        ),
        (
            "json",
            common::root().join("fixtures/feeds/product-card.json"),
        ),
        (
            "yaml",
            common::root().join("fixtures/feeds/event-countdown.yaml"),
        ),
        ("xml", common::root().join("fixtures/fuzz/feed.rss")),
    ];
    let limits = storyforge::feed::FeedLimits {
        max_items: 64,
        max_field_chars: 256,
        ..Default::default()
    };
    for (kind, seed) in &text_seeds {
        let original = std::fs::read(seed).unwrap();
        for round in 0..150 {
            let bytes = mutate(&mut rng, &original, round, true);
            if *kind == "yaml-template" {
                if let Ok(text) = std::str::from_utf8(&bytes) {
                    let at = tmp.path().join("t.yaml");
                    let _ = storyforge::template::parse(text, &at, &fonts);
                }
            } else {
                let _ = storyforge::feed::parse_bytes(kind, &bytes, limits);
            }
        }
    }
    // Minimised fuzz findings stay fixed (fixtures/fuzz/, named by parser).
    for entry in std::fs::read_dir(common::root().join("fixtures/fuzz")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        if let Some(kind) = name
            .strip_prefix("crash-feed-")
            .and_then(|n| n.split('-').next())
        {
            let _ = storyforge::feed::parse_bytes(kind, &bytes, limits);
        } else if name.starts_with("crash-template-") {
            let text = String::from_utf8_lossy(&bytes);
            let _ = storyforge::template::parse(&text, &tmp.path().join("t.yaml"), &fonts);
        }
    }
}

/// One mutation of `original`: a cut, byte flips (binary: in the first
/// 4 KiB, where headers are), a splice of junk, or a flood: of `FF` (marker
/// bytes) over a binary header, of one structural byte (quotes, braces,
/// colons, angle brackets) through `text`.
fn mutate(rng: &mut fastrand::Rng, original: &[u8], round: usize, text: bool) -> Vec<u8> {
    let mut bytes = original.to_vec();
    if bytes.is_empty() {
        return bytes;
    }
    match round % 4 {
        0 => bytes.truncate(rng.usize(0..bytes.len())),
        1 => {
            let reach = if text {
                bytes.len()
            } else {
                bytes.len().min(4096)
            };
            for _ in 0..rng.usize(1..20) {
                let at = rng.usize(0..reach);
                bytes[at] = rng.u8(..);
            }
        }
        2 => {
            let at = rng.usize(0..bytes.len());
            let junk: Vec<u8> = (0..rng.usize(1..64)).map(|_| rng.u8(..)).collect();
            bytes.splice(at..at, junk);
        }
        _ if text => {
            let marks = b"\"{}[]:<>,&|-\n";
            let mark = marks[rng.usize(0..marks.len())];
            for b in bytes.iter_mut() {
                if rng.u8(..) < 12 {
                    *b = mark;
                }
            }
        }
        _ => {
            for b in bytes.iter_mut().take(200).skip(2) {
                if rng.u8(..) < 16 {
                    *b = 0xFF;
                }
            }
        }
    }
    bytes
}
