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
        let s = (level * (2.0 * std::f64::consts::PI * hz * f64::from(i) / f64::from(rate)).sin()
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
            let (p, q) = (a.get_pixel(x as u32, y as u32), b.get_pixel(x as u32, y as u32));
            for c in 0..3 {
                sum += u64::from(p[c].abs_diff(q[c]));
            }
        }
    }
    sum as f64 / (3 * r.w * r.h) as f64
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
    assert!(before < 4.0, "price box before 1 s differs from the background by {before}");
    let panel_diff = mean_diff(&early, &reference, panel);
    assert!(panel_diff < 4.0, "static panel differs from the still by {panel_diff}");

    // After the entrance: the box shows the layer as a still Story draws it.
    let shown = frame_at(&out, 2.0).expect("frame at 2 s");
    let after = mean_diff(&shown, &reference, tag);
    assert!(after < 6.0, "price box at 2 s differs from the still render by {after}");

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
    assert_eq!((a.codec.as_str(), a.sample_rate, a.channels), ("aac", 48_000, 2));
    let quiet = audio_rms(&out, 0.0, 0.05).expect("rms").expect("audio");
    let loud = audio_rms(&out, 1.0, 2.0).expect("rms").expect("audio");
    assert!(loud > 0.15, "music not audible after fade_in: RMS {loud}");
    assert!(quiet < loud / 3.0, "fade_in does not start quiet: {quiet} vs {loud}");

    // The validator passes the output.
    let report = storyforge::validate::check_file(
        &out,
        &storyforge::fonts::FontBook::bundled(),
        None,
        &Default::default(),
    );
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}
