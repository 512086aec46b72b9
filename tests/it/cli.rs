//! The `storyforge` binary: exit codes, batches that go on past bad input,
//! the JSON summary, previews, and the schema the templates reference.

use crate::common;

use std::path::Path;

use crate::common::storyforge;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn renders_every_shipped_template_with_its_feed() {
    let out = tempfile::tempdir().expect("dir");
    for t in common::shipped_templates() {
        let mut args = vec![
            "render",
            s(&t),
            "--out",
            s(out.path()),
            "--today",
            "2026-11-29",
            "--json",
            // Video templates' Stories: quick to encode, the same contract.
            "--preset",
            "ultrafast",
        ];
        let mut feed = common::feed_for(&t);
        // A video template's Stories take seconds each to encode: its feed's
        // first row is enough here (tests/it/video_templates.rs validates
        // every row of the shipped feeds and looks inside the MP4s).
        let fonts = storyforge::fonts::FontBook::bundled();
        let video = storyforge::template::load(&t, &fonts).is_ok_and(|l| l.video.is_some());
        if let (Some(f), true) = (&feed, video) {
            let rows = common::feed_rows(&f.clone().into());
            let first: Vec<_> = rows.into_iter().take(1).map(|r| r.vars).collect();
            let stem = t.file_stem().and_then(|x| x.to_str()).unwrap_or("feed");
            let one = out.path().join(format!("{stem}.first-row.json"));
            std::fs::write(&one, serde_json::to_vec(&first).expect("JSON")).expect("feed");
            feed = Some(one);
        }
        if let Some(f) = &feed {
            args.extend(["--data", s(f)]);
        }
        let o = storyforge(&args);
        assert!(
            o.status.success(),
            "{}: {}",
            t.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON summary");
        assert_eq!(report["failed"], 0);
        for story in report["stories"].as_array().expect("stories") {
            let path = story["output"].as_str().expect("output path");
            let bytes = std::fs::read(path).expect("output exists");
            if path.ends_with(".mp4") {
                // A video template's Story (tests/it/video_templates.rs looks inside).
                assert_eq!(&bytes[4..8], b"ftyp", "{path} is an MP4");
                assert!((bytes.len() as u64) <= storyforge::spec::DEFAULT_VIDEO_MAX_BYTES);
                continue;
            }
            assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "{path} is a JPEG");
            assert!((bytes.len() as u64) < storyforge::spec::MAX_IMAGE_BYTES);
            let img = image::load_from_memory(&bytes).expect("decodes");
            assert_eq!((img.width(), img.height()), (1080, 1920));
        }
    }
}

#[test]
fn a_bad_template_and_a_bad_row_do_not_stop_the_batch() {
    let d = tempfile::tempdir().expect("dir");
    let good = "layers:\n  - text:\n      content: \"{{title}}\"\n      size: {min: 40, max: 80}\n      max_lines: 1\n      box: {x: 100, y: 400, w: 500, h: 200}\n";
    std::fs::write(d.path().join("a-good.yaml"), good).expect("write");
    std::fs::write(d.path().join("b-bad.yaml"), "layers: [\n").expect("write");
    std::fs::write(
        d.path().join("feed.csv"),
        "title\nHello\nA title much too long to fit in one line of a narrow box\nWorld\n",
    )
    .expect("write");
    let out = d.path().join("out");
    let o = storyforge(&[
        "render",
        s(d.path()),
        "--data",
        s(&d.path().join("feed.csv")),
        "--out",
        s(&out),
        "--json",
    ]);
    common::expect_exit(&o, 1);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("b-bad.yaml:"), "{stderr}");
    assert!(
        stderr.contains("row 2 (line 3)") && stderr.contains("layer 'layer 1'"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(
        (report["rendered"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(out.join("a-good-1.jpg").exists() && out.join("a-good-3.jpg").exists());
    assert!(!out.join("a-good-2.jpg").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .expect("out")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no partial files");
}

#[test]
fn setup_errors_exit_2() {
    let o = storyforge(&[
        "render",
        "templates/daily-update.yaml",
        "--data",
        "no/such/feed.csv",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no/such/feed.csv") && err.lines().count() == 1,
        "{err}"
    );
    let o = storyforge(&[
        "render",
        "templates/daily-update.yaml",
        "--data",
        "README.md",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown feed type"));
}

#[test]
fn preview_draws_the_safe_zone() {
    let out = tempfile::tempdir().expect("dir");
    let o = storyforge(&[
        "render",
        "templates/quote-card.yaml",
        "--data",
        "fixtures/feeds/quote-card.csv",
        "--out",
        s(out.path()),
        "--preview",
        "--today",
        "2026-11-29",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let preview = image::open(out.path().join("quote-1-edsger-w-dijkstra.preview.png"))
        .expect("preview PNG")
        .into_rgb8();
    let story = image::open(out.path().join("quote-1-edsger-w-dijkstra.jpg"))
        .expect("story")
        .into_rgb8();
    // The top band is tinted red in the preview, not in the Story.
    let (p, q) = (preview.get_pixel(540, 100), story.get_pixel(540, 100));
    assert!(
        p[0] > p[2] + 20 && q[0].abs_diff(q[2]) < 20,
        "preview {p:?} story {q:?}"
    );
}

#[test]
fn schema_is_current_and_referenced() {
    let o = storyforge(&["schema"]);
    assert!(o.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON schema");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("schema/template.schema.json"))
            .expect("schema file"),
    )
    .expect("committed schema parses");
    assert_eq!(
        printed, committed,
        "schema/template.schema.json is stale: storyforge schema > schema/template.schema.json"
    );
    assert!(printed["$defs"]["RawText"]["properties"]["content"].is_object());
    for t in common::shipped_templates() {
        let text = std::fs::read_to_string(&t).expect("template");
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schema/template.schema.json"),
            "{}",
            t.display()
        );
    }
}

#[cfg(feature = "video")]
#[test]
fn probe_reads_media_facts_with_ffmpeg() {
    let o = storyforge(&["probe", "fixtures/feeds/photos/latte.jpg"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let facts: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(facts["video"]["codec"], "mjpeg");
    assert_eq!(
        (
            facts["video"]["width"].as_u64(),
            facts["video"]["height"].as_u64()
        ),
        (Some(900), Some(1200))
    );
    let o = storyforge(&["probe", "README.md"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("README.md: not a readable media file"));
}
