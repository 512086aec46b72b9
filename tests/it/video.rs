//! The video stage against real FFmpeg libraries: every awkward input in
//! fixtures/video/ (made by fixtures/video/make.sh) becomes Story MP4s that
//! meet the output contract, checked here by probing the results.

use crate::common;

use std::path::{Path, PathBuf};

use storyforge::video::batch::{transcode_all, VideoObserver, VideoOutcome};
use storyforge::video::{mp4, probe, FitMode, TranscodeOptions};

struct Silent;
impl VideoObserver for Silent {}

fn fixture(name: &str) -> PathBuf {
    common::root().join("fixtures/video").join(name)
}

fn opts() -> TranscodeOptions {
    // veryfast keeps the suite quick; the contract is the same at any preset.
    TranscodeOptions {
        preset: "veryfast".into(),
        ..Default::default()
    }
}

/// Asserts the output contract on one file and returns its duration.
fn assert_story(path: &Path, budget: u64) -> f64 {
    let facts = probe(path).expect("output probes");
    let v = facts.video.as_ref().expect("video stream");
    assert_eq!(v.codec, "h264", "{}", path.display());
    assert_eq!(v.profile.as_deref(), Some("High"), "{}", path.display());
    assert_eq!(v.pixel_format.as_deref(), Some("yuv420p"));
    assert_eq!((v.width, v.height), (1080, 1920));
    assert_eq!(v.rotation, 0);
    let fps = v.fps.expect("frame rate");
    assert!((23.0..=60.0).contains(&fps), "{fps}");
    assert!(v.constant_rate, "constant frame rate");
    let a = facts.audio.as_ref().expect("audio stream");
    assert_eq!(
        (a.codec.as_str(), a.sample_rate, a.channels),
        ("aac", 48_000, 2)
    );
    let bytes = std::fs::metadata(path).expect("exists").len();
    assert!(bytes <= budget, "{} is {bytes} bytes", path.display());
    let mut f = std::fs::File::open(path).expect("open");
    assert!(mp4::is_faststart(&mut f).expect("boxes"), "faststart");
    facts.duration.expect("duration")
}

fn run(inputs: &[PathBuf], opts: &TranscodeOptions) -> (tempfile::TempDir, Vec<VideoOutcome>) {
    let out = tempfile::tempdir().expect("dir");
    let outcomes = transcode_all(inputs, out.path(), opts, Some(2), &Silent).expect("batch runs");
    (out, outcomes)
}

#[test]
fn awkward_inputs_become_compliant_stories() {
    let cases = [
        ("landscape.mp4", 30.0),
        ("portrait.mov", 25.0),
        ("square.mkv", 24.0),
        ("rotated.mp4", 30.0),
        ("uhd60.mp4", 60.0),
        ("hdr10bit.mp4", 30.0),
        ("prores422-51.mov", 30.0),
        ("surround.mp4", 30.0),
        ("silent.webm", 30.0),
        ("vfr.mp4", 30.0),
        ("old.avi", 25.0),
        ("nodur.webm", 30.0),
    ];
    let inputs: Vec<PathBuf> = cases.iter().map(|(n, _)| fixture(n)).collect();
    let (_out, outcomes) = run(&inputs, &opts());
    for ((name, fps), outcome) in cases.iter().zip(&outcomes) {
        assert!(outcome.error.is_none(), "{name}: {:?}", outcome.error);
        assert_eq!(outcome.outputs.len(), 1, "{name}");
        let source = probe(&fixture(name))
            .expect("source probes")
            .duration
            .expect("duration");
        let out = &outcome.outputs[0];
        assert!(out
            .path
            .file_name()
            .is_some_and(|f| f.to_string_lossy().ends_with(".mp4")));
        let d = assert_story(&out.path, 8_000_000);
        assert!((d - source).abs() <= 0.1, "{name}: {d} s out of {source} s");
        let got = probe(&out.path)
            .expect("probe")
            .video
            .and_then(|v| v.fps)
            .unwrap_or(0.0);
        assert!(
            (got - fps).abs() < 0.01,
            "{name}: {got} fps, expected {fps}"
        );
    }
}

#[test]
fn long_clips_split_into_balanced_parts() {
    let (out, outcomes) = run(&[fixture("long95.mp4")], &opts());
    let o = &outcomes[0];
    assert!(o.error.is_none(), "{:?}", o.error);
    let names: Vec<String> = o
        .outputs
        .iter()
        .map(|p| {
            p.path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["long95.part-1-of-2.mp4", "long95.part-2-of-2.mp4"]);
    for p in &o.outputs {
        let d = assert_story(&p.path, 8_000_000);
        assert!((d - 47.5).abs() <= 0.1, "{d}");
    }
    assert_eq!(
        std::fs::read_dir(out.path()).expect("dir").count(),
        2,
        "nothing else left behind"
    );
}

#[test]
fn short_clips_are_refused_or_padded() {
    let (out, outcomes) = run(&[fixture("short.mp4")], &opts());
    let e = outcomes[0].error.clone().expect("refused");
    assert!(
        e.contains("short.mp4") && e.contains("1.50 s") && e.contains("--pad-short"),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(out.path()).expect("dir").count(), 0);
    let padded = TranscodeOptions {
        pad_short: true,
        ..opts()
    };
    let (_out, outcomes) = run(&[fixture("short.mp4")], &padded);
    let o = &outcomes[0];
    assert!(o.error.is_none(), "{:?}", o.error);
    let d = assert_story(&o.outputs[0].path, 8_000_000);
    assert!((d - 3.0).abs() <= 0.1, "{d}");
}

#[test]
fn a_binding_budget_is_met_without_cutting_the_clip() {
    let budget = 1_200_000;
    let tight = TranscodeOptions {
        max_bytes: budget,
        fit: FitMode::Crop,
        ..opts()
    };
    let (_out, outcomes) = run(&[fixture("noise.mp4")], &tight);
    let o = &outcomes[0];
    assert!(o.error.is_none(), "{:?}", o.error);
    let d = assert_story(&o.outputs[0].path, budget);
    assert!((d - 3.5).abs() <= 0.1, "{d}");
    assert!(
        o.outputs[0].bytes > budget / 2,
        "the budget is used, not wasted: {}",
        o.outputs[0].bytes
    );
}

#[test]
fn broken_files_fail_alone_with_one_line() {
    let inputs = [
        fixture("truncated.mp4"),
        fixture("not-a-video.mp4"),
        fixture("landscape.mp4"),
        common::root().join("README.md"),
    ];
    let (out, outcomes) = run(
        &inputs,
        &TranscodeOptions {
            fit: FitMode::Pad,
            ..opts()
        },
    );
    for (o, name) in outcomes.iter().zip(["truncated.mp4", "not-a-video.mp4"]) {
        let e = o.error.clone().expect("fails");
        assert!(e.contains(name) && e.lines().count() == 1, "{e}");
    }
    assert!(outcomes[2].error.is_none(), "{:?}", outcomes[2].error);
    assert!(outcomes[3]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("README.md")));
    let left: Vec<_> = std::fs::read_dir(out.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("landscape.mp4")],
        "no partial outputs"
    );
}

/// Mean luma of row `y` of the first decoded frame.
fn first_frame_row_luma(path: &Path, y: usize) -> f64 {
    use ffmpeg_next as ff;
    ff::init().expect("ffmpeg");
    let mut ictx = ff::format::input(&path).expect("open");
    let stream = ictx.streams().best(ff::media::Type::Video).expect("video");
    let idx = stream.index();
    let mut dec = ff::codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .expect("decoder");
    let mut frame = ff::frame::Video::empty();
    for (s, packet) in ictx.packets() {
        if s.index() != idx || dec.send_packet(&packet).is_err() {
            continue;
        }
        if dec.receive_frame(&mut frame).is_ok() {
            let stride = frame.stride(0);
            let row = &frame.data(0)[y * stride..y * stride + frame.width() as usize];
            return row.iter().map(|v| f64::from(*v)).sum::<f64>() / row.len() as f64;
        }
    }
    panic!("no frame decoded from {}", path.display());
}

#[test]
fn phone_rotation_is_applied() {
    // Stored 1280×720 with a 90° display matrix: shown portrait, so with
    // `pad` it fills the 9:16 frame; unrotated it would be letterboxed.
    let pad = TranscodeOptions {
        fit: FitMode::Pad,
        ..opts()
    };
    let (_out, outcomes) = run(&[fixture("rotated.mp4"), fixture("landscape.mp4")], &pad);
    let rotated = &outcomes[0].outputs[0].path;
    let landscape = &outcomes[1].outputs[0].path;
    assert!(
        probe(&fixture("rotated.mp4"))
            .expect("probe")
            .video
            .map(|v| v.rotation)
            == Some(90)
    );
    assert!(
        first_frame_row_luma(rotated, 40) > 40.0,
        "rotated clip fills the frame"
    );
    assert!(
        first_frame_row_luma(landscape, 40) < 20.0,
        "a landscape clip is letterboxed"
    );
}
