//! Video templates end to end with real FFmpeg: templates with time are
//! rendered into Story MP4s, and frames and sound decoded back out of the
//! files are checked against still renders of the same layers.

use crate::common;

use std::path::{Path, PathBuf};

use image::RgbImage;
use storyforge::render;
use storyforge::story;
use storyforge::template::{PxRect, Template};
use storyforge::video::frames::{audio_rms, frame_at};
use storyforge::video::story::render_row;

use storyforge::video::{probe, TranscodeOptions};

fn opts() -> TranscodeOptions {
    TranscodeOptions {
        preset: "veryfast".into(),
        ..Default::default()
    }
}

/// A 48 kHz stereo 16-bit WAV of a `hz` sine at `level` (0–1), `seconds` long.
fn write_tone(path: &Path, hz: f64, level: f64, seconds: f64) {
    let rate = 48_000u32;
    let n = (seconds * f64::from(rate)) as u32;
    let mut data = Vec::with_capacity(n as usize * 4);
    for i in 0..n {
        let s = (level
            * (2.0 * std::f64::consts::PI * hz * f64::from(i) / f64::from(rate)).sin()
            * 32767.0) as i16;
        data.extend_from_slice(&s.to_le_bytes());
        data.extend_from_slice(&s.to_le_bytes());
    }
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 4).to_le_bytes());
    wav.extend_from_slice(&4u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::write(path, wav).expect("write wav");
}

/// Renders the one Story of `t` (its own variables) into `dir/NAME.mp4`.
fn render_video(t: &Template, dir: &Path, name: &str) -> PathBuf {
    let vars = story::variables(t, None, common::today());
    let scene = common::scene(t, None, None).expect("scene");
    let out = dir.join(format!("{name}.mp4"));
    render_row(t, &scene, &vars, None, &out, &opts()).expect("video Story renders");
    out
}

/// The still Story of the same template (the renderer ignores time).
fn still(t: &Template) -> RgbImage {
    render::draw(&common::scene(t, None, None).expect("scene"))
}

/// Mean absolute difference per channel between two pictures inside `r`.
fn mean_diff(a: &RgbImage, b: &RgbImage, r: PxRect) -> f64 {
    let mut sum = 0u64;
    for y in r.y..r.bottom() {
        for x in r.x..r.right() {
            let (p, q) = (
                a.get_pixel(x as u32, y as u32),
                b.get_pixel(x as u32, y as u32),
            );
            for c in 0..3 {
                sum += u64::from(p[c].abs_diff(q[c]));
            }
        }
    }
    sum as f64 / (3 * r.w * r.h) as f64
}

/// The validator, as `storyforge validate` runs it, finds nothing in `out`.
fn assert_passes_validator(out: &Path) {
    let report = storyforge::validate::check_file(
        out,
        &storyforge::fonts::FontBook::bundled(),
        None,
        &Default::default(),
    );
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

fn layer_rect(t: &Template, name: &str) -> PxRect {
    t.layers
        .iter()
        .find(|l| l.name == name)
        .expect("layer")
        .rect
}

const TIMED: &str = r##"
name: timed
duration: 4
background: {color: "#204060"}
audio: {src: tone.wav, volume: 0.8, fade_in: 0.5, fade_out: 0.5}
layers:
  - rect: {name: panel, box: {x: 100, y: 300, w: 880, h: 200}, color: "#f0c020"}
  - rect:
      name: price tag
      box: {x: 200, y: 900, w: 680, h: 300}
      color: "#e04030"
      at: {from: 1.0, to: 3.5}
      enter: {effect: fade, duration: 0.5}
      exit: {effect: fade, duration: 0.3}
  - text:
      name: price
      content: "€ 19.90"
      size: 120
      box: {x: 200, y: 900, w: 680, h: 300}
      align: center
      valign: middle
      at: {from: 1.0, to: 3.5}
      enter: {effect: fade, duration: 0.5}
"##;

#[test]
fn timed_layers_show_fade_and_hide_on_the_decoded_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tone(&dir.path().join("tone.wav"), 440.0, 0.5, 10.0);
    let t = common::load_yaml(dir.path(), "timed.yaml", TIMED).expect("template loads");
    let out = render_video(&t, dir.path(), "timed");
    let reference = still(&t);
    let tag = layer_rect(&t, "price tag");
    let panel = layer_rect(&t, "panel");
    let background = {
        let mut bare = common::scene(&t, None, None).expect("scene");
        bare.layers.clear();
        render::draw(&bare)
    };

    // Before `from`: the box shows the background; the static panel is there.
    let early = frame_at(&out, 0.5).expect("frame at 0.5 s");
    let before = mean_diff(&early, &background, tag);
    assert!(
        before < 4.0,
        "price box before 1 s differs from the background by {before}"
    );
    let panel_diff = mean_diff(&early, &reference, panel);
    assert!(
        panel_diff < 4.0,
        "static panel differs from the still by {panel_diff}"
    );

    // After the entrance: the box shows the layer as a still Story draws it.
    let shown = frame_at(&out, 2.0).expect("frame at 2 s");
    let after = mean_diff(&shown, &reference, tag);
    assert!(
        after < 6.0,
        "price box at 2 s differs from the still render by {after}"
    );

    // Mid-fade: between the two.
    let fading = frame_at(&out, 1.25).expect("frame at 1.25 s");
    let (to_bg, to_layer) = (
        mean_diff(&fading, &background, tag),
        mean_diff(&fading, &reference, tag),
    );
    let full = mean_diff(&reference, &background, tag);
    assert!(full > 40.0, "layer and background must differ ({full})");
    assert!(
        to_bg > 0.2 * full && to_layer > 0.2 * full,
        "mid-fade is not partly transparent: {to_bg} from the background, {to_layer} from the layer (full {full})"
    );

    // After `to`: gone again.
    let late = frame_at(&out, 3.8).expect("frame at 3.8 s");
    assert!(mean_diff(&late, &background, tag) < 4.0);

    // Length, format, sound.
    let facts = probe(&out).expect("probe");
    let d = facts.duration.expect("duration");
    assert!((d - 4.0).abs() < 0.05, "lasts {d} s, planned 4 s");
    let a = facts.audio.as_ref().expect("audio track");
    assert_eq!(
        (a.codec.as_str(), a.sample_rate, a.channels),
        ("aac", 48_000, 2)
    );
    let quiet = audio_rms(&out, 0.0, 0.05).expect("rms").expect("audio");
    let loud = audio_rms(&out, 1.0, 2.0).expect("rms").expect("audio");
    assert!(loud > 0.15, "music not audible after fade_in: RMS {loud}");
    assert!(
        quiet < loud / 3.0,
        "fade_in does not start quiet: {quiet} vs {loud}"
    );

    // The dashboard's poster frame at a second is that second of the Story.
    let vars = story::variables(&t, None, common::today());
    let scene = common::scene(&t, None, None).expect("scene");
    for at in [0.5, 1.25, 2.0] {
        let poster = storyforge::video::story::poster_row(&t, &scene, &vars, None, at)
            .expect("poster frame");
        let frame = frame_at(&out, at).expect("frame");
        let diff = mean_diff(&poster, &frame, tag);
        assert!(
            diff < 6.0,
            "poster at {at} s differs from the Story's frame by {diff}"
        );
    }

    // The validator passes the output.
    assert_passes_validator(&out);
}

#[test]
fn video_keys_are_checked_when_the_template_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // A slide that starts outside the safe zone is an error unless it bleeds.
    let slide = |bleed: &str| {
        format!(
            "duration: 5\nlayers:\n  - rect:\n      name: bar\n      box: {{x: 90, y: 1500, w: 900, h: 160}}\n      color: \"#fff\"\n      enter: {{effect: slide-up, duration: 0.5}}\n{bleed}"
        )
    };
    let e = common::load_error(d, &slide(""));
    assert!(e.contains("t.yaml:3:5"), "{e}");
    assert!(
        e.contains("leaves the safe zone at the far end of its slide-up `enter`"),
        "{e}"
    );
    assert!(common::load_yaml(d, "ok.yaml", &slide("      bleed: true\n")).is_ok());
    // Duration outside 3–60 s, `at` past the end, enter+exit longer than shown.
    let e = common::load_error(d, "duration: 75\n");
    assert!(
        e.contains("t.yaml:1:11") && e.contains("between 3 and 60"),
        "{e}"
    );
    let e = common::load_error(
        d,
        "duration: 5\nlayers:\n  - rect: {box: {x: 90, y: 300, w: 90, h: 90}, color: \"#fff\", at: {from: 1, to: 6}}\n",
    );
    assert!(
        e.contains("`at.to` is 6 s") && e.contains("between 0 and 5"),
        "{e}"
    );
    let e = common::load_error(
        d,
        "duration: 5\nlayers:\n  - rect: {box: {x: 90, y: 300, w: 90, h: 90}, color: \"#fff\", at: {from: 1, to: 2}, enter: {effect: fade, duration: 0.8}, exit: {effect: fade, duration: 0.8}}\n",
    );
    assert!(e.contains("shows for only 1 s"), "{e}");
    // Timed layers without a clip need a duration; unknown keys stay errors.
    let e = common::load_error(
        d,
        "layers:\n  - rect: {box: {x: 90, y: 300, w: 90, h: 90}, color: \"#fff\", at: {from: 1}}\n",
    );
    assert!(e.contains("needs `duration`"), "{e}");
    let e = common::load_error(
        d,
        "duration: 5\nlayers:\n  - rect: {box: {x: 90, y: 300, w: 90, h: 90}, color: \"#fff\", enter: {effect: wobble}}\n",
    );
    assert!(e.contains("t.yaml:3:") && e.contains("wobble"), "{e}");
    let e = common::load_error(d, "duration: 5\naudio: {src: missing.m4a}\n");
    assert!(e.contains("missing.m4a"), "{e}");
}

/// Arabic (joined, right to left) and emoji titles as static layers of a
/// video template come out as in the still Story of the same template.
#[test]
fn arabic_and_emoji_titles_match_the_still_story() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = r##"
duration: 3
background: {color: "#102030"}
layers:
  - text:
      name: arabic
      content: "قهوة مختصة طازجة"
      size: 96
      box: {x: 90, y: 400, w: 900, h: 200}
      align: center
  - text:
      name: emoji
      content: "Fresh ☕🎉"
      size: 110
      box: {x: 90, y: 800, w: 900, h: 200}
      align: center
"##;
    let t = common::load_yaml(dir.path(), "scripts.yaml", yaml).expect("template loads");
    let out = render_video(&t, dir.path(), "scripts");
    let reference = still(&t);
    let frame = frame_at(&out, 1.0).expect("frame");
    for name in ["arabic", "emoji"] {
        let r = layer_rect(&t, name);
        let diff = mean_diff(&frame, &reference, r);
        assert!(diff < 6.0, "{name} title differs from the still by {diff}");
        // And the text is really there (not an empty box on both sides).
        let mut bare = common::scene(&t, None, None).expect("scene");
        bare.layers.clear();
        let ink = mean_diff(&reference, &render::draw(&bare), r);
        assert!(ink > 5.0, "{name}: nothing drawn ({ink})");
    }
}

/// A clip background: started late, looped past its end, cover-fitted, its
/// sound mixed with the music; the Story lasts the template's duration.
#[test]
fn clip_backgrounds_loop_to_the_duration_and_pass_the_validator() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        common::root().join("fixtures/video/landscape.mp4"),
        dir.path().join("clip.mp4"),
    )
    .expect("copy clip");
    write_tone(&dir.path().join("tone.wav"), 660.0, 0.4, 2.0);
    let yaml = r##"
duration: 6
background:
  video: {src: clip.mp4, fit: cover, start: 1, loop: true}
audio: {src: tone.wav, volume: 0.5, fade_in: 0.2}
layers:
  - rect: {name: tag, box: {x: 90, y: 1400, w: 400, h: 160}, color: "#c8553d", at: {from: 2}, enter: {effect: slide-left, duration: 0.5}}
"##;
    let t = common::load_yaml(dir.path(), "clip.yaml", yaml).expect("template loads");
    let out = render_video(&t, dir.path(), "clip");
    let facts = probe(&out).expect("probe");
    let d = facts.duration.expect("duration");
    assert!((d - 6.0).abs() < 0.05, "lasts {d} s, planned 6 s");
    // Past the clip's own end (4 s, started at 1 s) the picture still moves.
    let (a, b) = (
        frame_at(&out, 4.5).expect("frame"),
        frame_at(&out, 5.5).expect("frame"),
    );
    let whole = PxRect {
        x: 0,
        y: 400,
        w: 1080,
        h: 800,
    };
    assert!(
        mean_diff(&a, &b, whole) > 1.0,
        "the loop holds a frozen picture"
    );
    // The tag is in place after its slide.
    let f = frame_at(&out, 3.0).expect("frame");
    let tag = layer_rect(&t, "tag");
    let p = f.get_pixel((tag.x + 200) as u32, (tag.y + 80) as u32);
    assert!(p[0] > 170 && p[1] < 120, "tag colour {p:?}");
    let loud = audio_rms(&out, 0.5, 1.5).expect("rms").expect("audio");
    assert!(loud > 0.1, "sound missing: {loud}");
    assert_passes_validator(&out);
}

/// `validate --data` holds every row of a video template to the same
/// checks as `render`: music that is not a sound file is a finding.
#[test]
fn validate_data_reports_unreadable_music_per_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("noise.m4a"), b"not audio at all").expect("write");
    write_tone(&d.join("tone.wav"), 440.0, 0.3, 1.0);
    std::fs::write(
        d.join("t.yaml"),
        "duration: 4\naudio: {src: \"{{music}}\"}\nlayers:\n  - text: {content: \"{{title}}\", size: 60, box: {x: 90, y: 400, w: 900, h: 100}}\n",
    )
    .expect("write");
    std::fs::write(
        d.join("feed.csv"),
        "title,music\nGood,tone.wav\nBad,noise.m4a\n",
    )
    .expect("write");
    let (t, feed) = (d.join("t.yaml"), d.join("feed.csv"));
    let o = common::storyforge(&[
        "validate",
        t.to_str().expect("utf-8"),
        "--data",
        feed.to_str().expect("utf-8"),
    ]);
    let text = common::text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("noise.m4a") && text.contains("row 2"),
        "{text}"
    );
    assert!(!text.contains("tone.wav"), "{text}");
    // The shipped video templates pass with their feeds.
    for name in ["product-video", "photo-countdown"] {
        let t = common::root().join(format!("templates/{name}.yaml"));
        let feed = common::feed_for(&t).expect("feed");
        let o = common::storyforge(&[
            "validate",
            t.to_str().expect("utf-8"),
            "--data",
            feed.to_str().expect("utf-8"),
            "--today",
            "2026-11-29",
        ]);
        assert!(o.status.success(), "{name}: {}", common::text(&o));
    }
}
