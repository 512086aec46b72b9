//! Every bad-input case of the template stage gives one clear line naming
//! the file, the place (line:column, layer, variable, row) and what to do.

use crate::common;

use std::path::Path;

use storyforge::feed::FeedRow;
use storyforge::render::RenderError;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

const TEXT_LAYER: &str = "layers:\n  - text:\n      name: title\n      content: \"{{title}}\"\n      size: 60\n      box: {x: 100, y: 400, w: 880, h: 300}\n";

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let d = dir();
    let e = common::load_error(d.path(), "layers:\n  - text: {content: \"x\"\n");
    assert!(e.contains("t.yaml:"), "{e}");
    assert!(e.lines().count() == 1, "one line: {e}");
    let pos: Vec<&str> = e.split(':').collect();
    assert!(
        pos.len() > 3 && pos[1].parse::<u32>().is_ok() && pos[2].parse::<u32>().is_ok(),
        "{e}"
    );
}

#[test]
fn unknown_key_says_did_you_mean() {
    let d = dir();
    let yaml = TEXT_LAYER.replace("size: 60", "size: 60\n      colour: \"#fff\"");
    let e = common::load_error(d.path(), &yaml);
    assert!(e.contains("t.yaml:6:7:"), "{e}");
    assert!(
        e.contains("colour") && e.contains("did you mean `color`"),
        "{e}"
    );
    let e = common::load_error(d.path(), "backgroud: {color: \"#000\"}\n");
    assert!(e.contains("did you mean `background`"), "{e}");
    let e = common::load_error(d.path(), "layers:\n  - txt: {}\n");
    assert!(e.contains("did you mean `text`"), "{e}");
}

#[test]
fn bad_colour_is_located() {
    let d = dir();
    let e = common::load_error(d.path(), "background:\n  color: \"#12\"\n");
    assert!(
        e.contains("t.yaml:2:") && e.contains("`#12` is not a colour"),
        "{e}"
    );
}

#[test]
fn safe_zone_violation_names_layer_and_overflow() {
    let d = dir();
    let yaml = TEXT_LAYER.replace("y: 400", "y: 200");
    let e = common::load_error(d.path(), &yaml);
    assert!(e.contains("t.yaml:2:"), "{e}");
    assert!(
        e.contains("layer 'title'") && e.contains("40 px at the top"),
        "{e}"
    );
    assert!(e.contains("bleed: true"), "{e}");
    let bottom = TEXT_LAYER.replace("h: 300", "h: 1300");
    let e = common::load_error(d.path(), &bottom);
    assert!(e.contains("20 px at the bottom"), "{e}");
    // Stroke reaches outside the box too.
    let stroked = TEXT_LAYER
        .replace("y: 400", "y: 240")
        .replace("size: 60", "size: 60\n      stroke: {width: 6}");
    let e = common::load_error(d.path(), &stroked);
    assert!(e.contains("6 px at the top"), "{e}");
    // bleed: true allows it.
    let bleed = TEXT_LAYER
        .replace("y: 400", "y: 0")
        .replace("size: 60", "size: 60\n      bleed: true");
    assert!(common::load_yaml(d.path(), "ok.yaml", &bleed).is_ok());
}

#[test]
fn missing_font_lists_what_there_is() {
    let d = dir();
    let yaml = TEXT_LAYER.replace("size: 60", "size: 60\n      font: {family: Helvetica}");
    let e = common::load_error(d.path(), &yaml);
    assert!(
        e.contains("`Helvetica` is not installed") && e.contains("Lato"),
        "{e}"
    );
    let yaml = TEXT_LAYER.replace(
        "size: 60",
        "size: 60\n      font: {family: Lato, weight: light}",
    );
    let e = common::load_error(d.path(), &yaml);
    assert!(
        e.contains("no weight 300") && e.contains("400, 700, 900"),
        "{e}"
    );
}

#[test]
fn missing_and_escaping_assets() {
    let d = dir();
    let sub = d.path().join("t");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(d.path().join("secret.png"), b"x").expect("write");
    let layer = |src: &str| {
        format!("layers:\n  - image:\n      name: logo\n      src: {src}\n      box: {{x: 100, y: 300, w: 200, h: 200}}\n")
    };
    let e = common::load_error(&sub, &layer("logo.png"));
    assert!(
        e.contains("layer 'logo'") && e.contains("`logo.png` not found"),
        "{e}"
    );
    let e = common::load_error(&sub, &layer("../secret.png"));
    assert!(e.contains("outside"), "{e}");
    let e = common::load_error(&sub, &layer("/etc/passwd"));
    assert!(e.contains("outside"), "{e}");
}

#[test]
fn bad_placeholder_and_filter() {
    let d = dir();
    let e = common::load_error(
        d.path(),
        &TEXT_LAYER.replace("{{title}}", "{{title | uper}}"),
    );
    assert!(
        e.contains("unknown filter `uper`") && e.contains("did you mean `upper`"),
        "{e}"
    );
    let e = common::load_error(d.path(), &TEXT_LAYER.replace("{{title}}", "{{title"));
    assert!(e.contains("unclosed"), "{e}");
    let e = common::load_error(
        d.path(),
        &TEXT_LAYER.replace("{{title}}", "{{d | date: '%Q'}}"),
    );
    assert!(e.contains("not a valid strftime"), "{e}");
    // Feed dates have no time zone: asking for one is refused up front, not a panic per row.
    let e = common::load_error(
        d.path(),
        &TEXT_LAYER.replace("{{title}}", "{{d | date: '%d %b %z'}}"),
    );
    assert!(e.contains("time zone"), "{e}");
}

#[test]
fn out_of_range_values() {
    let d = dir();
    let e = common::load_error(
        d.path(),
        &TEXT_LAYER.replace("size: 60", "size: {min: 80, max: 40}"),
    );
    assert!(e.contains("`size.min` 80 is above `size.max` 40"), "{e}");
    let e = common::load_error(d.path(), &TEXT_LAYER.replace("w: 880", "w: 0"));
    assert!(e.contains("at least 1 px"), "{e}");
    let e = common::load_error(d.path(), "quality: 0\n");
    assert!(e.contains("`quality` is 0"), "{e}");
    let e = common::load_error(d.path(), &TEXT_LAYER.replace("x: 100", "x: \"ten\""));
    assert!(e.contains("`ten` is not a length"), "{e}");
    let e = common::load_error(d.path(), &TEXT_LAYER.replace("x: 100", "x: .nan"));
    assert!(e.contains("t.yaml:6:") && e.contains(".nan"), "{e}");
    let e = common::load_error(d.path(), &TEXT_LAYER.replace("w: 880", "w: 99999"));
    assert!(e.contains("far outside the canvas"), "{e}");
}

fn row(pairs: &[(&str, &str)]) -> FeedRow {
    FeedRow {
        index: 7,
        line: Some(8),
        vars: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn missing_variable_names_layer_and_variable() {
    let d = dir();
    let t = common::load_yaml(d.path(), "t.yaml", TEXT_LAYER).expect("loads");
    let e = common::scene(&t, Some(&row(&[("other", "x")])), None)
        .err()
        .expect("fails");
    let msg = e.to_string();
    assert!(matches!(e, RenderError::Variable { .. }));
    assert!(
        msg.contains("layer 'title'") && msg.contains("variable `title` has no value"),
        "{msg}"
    );
    assert_eq!(e.pos().line, 2);
}

#[test]
fn text_that_cannot_fit_names_layer_variable_and_size() {
    let d = dir();
    let yaml = TEXT_LAYER.replace("size: 60", "size: {min: 50, max: 90}\n      max_lines: 1");
    let t = common::load_yaml(d.path(), "t.yaml", &yaml).expect("loads");
    let long = "This sentence is far too long to ever fit on a single line of this box";
    let e = common::scene(&t, Some(&row(&[("title", long)])), None)
        .err()
        .expect("fails");
    let msg = e.to_string();
    assert!(
        msg.contains("layer 'title'") && msg.contains("variables: title"),
        "{msg}"
    );
    assert!(msg.contains("at 50 px in 1 line"), "{msg}");
}

#[test]
fn batch_error_names_template_row_and_line() {
    let d = dir();
    let yaml = TEXT_LAYER.replace("size: 60", "size: {min: 50, max: 90}\n      max_lines: 1");
    std::fs::write(d.path().join("t.yaml"), yaml).expect("write");
    std::fs::write(
        d.path().join("feed.csv"),
        "title\nShort\nThis sentence is far too long to ever fit on a single line of this box\nFine\n",
    )
    .expect("write");
    let settings = storyforge::pipeline::RenderSettings {
        out_dir: d.path().join("out"),
        today: common::today(),
        ..Default::default()
    };
    let report = storyforge::pipeline::render_batch(
        &[d.path().join("t.yaml")],
        Some(&d.path().join("feed.csv")),
        &storyforge::fonts::FontBook::bundled(),
        &settings,
        &storyforge::pipeline::Quiet,
    )
    .expect("batch runs");
    assert_eq!((report.rendered, report.failed), (2, 1));
    let err = report
        .stories
        .iter()
        .find_map(|s| s.error.clone())
        .expect("one error");
    assert!(
        err.contains("t.yaml:2:5") && err.contains("feed.csv row 2 (line 3)"),
        "{err}"
    );
    assert!(Path::new(&d.path().join("out/t-1.jpg")).exists());
    assert!(Path::new(&d.path().join("out/t-3.jpg")).exists());
}

#[test]
fn fixed_text_that_cannot_fit_fails_at_load() {
    let d = dir();
    let yaml = TEXT_LAYER
        .replace("{{title}}", "Static words")
        .replace("size: 60", "size: 200");
    let e = common::load_error(d.path(), &yaml.replace("h: 300", "h: 150"));
    assert!(
        e.contains(
            "t.yaml:2:5: layer 'title' (text): text does not fit a 880×150 px box at 200 px"
        ),
        "{e}"
    );
}
