//! Pure planning: a source's [`MediaFacts`] and the options → what to encode
//! (parts, frame rate, bitrates, filters). No FFmpeg calls, no I/O.

use super::{FitMode, MediaFacts, TranscodeOptions};
use storyforge_base::spec;

/// Story output width.
pub const OUT_W: u32 = spec::STORY_WIDTH;
/// Story output height.
pub const OUT_H: u32 = spec::STORY_HEIGHT;
/// AAC bitrate, bits per second.
pub const AUDIO_BPS: u64 = 128_000;
/// Output audio sample rate.
pub const AUDIO_RATE: u32 = 48_000;
/// The video bitrate never goes above this (quality gains stop; Instagram's cap is 25 Mbps).
pub const MAX_VIDEO_BPS: u64 = 12_000_000;
/// Frame rate used when the source's is variable or outside 23–60 fps.
pub const FALLBACK_FPS: (i32, i32) = (30, 1);

/// One output file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Part {
    /// 1-based index.
    pub index: usize,
    /// Of how many.
    pub count: usize,
    /// Start in the source, seconds.
    pub start: f64,
    /// Length taken from the source, seconds.
    pub duration: f64,
    /// Length of the output (longer than `duration` when padded), seconds.
    pub out_duration: f64,
}

/// What to encode.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Plan {
    /// Output frame rate (numerator, denominator).
    pub fps: (i32, i32),
    /// Parts, in order.
    pub parts: Vec<Part>,
    /// The video filter chain from decoded frames to 1080×1920 yuv420p.
    pub video_filter: String,
    /// Source has audio.
    pub has_audio: bool,
}

/// Why a source cannot become Stories.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// No video stream.
    #[error("no video stream; give a video file")]
    NoVideo,
    /// Duration unknown.
    #[error("its duration is unknown; the file may be truncated")]
    NoDuration,
    /// A header claiming more than a day.
    #[error("its header claims {0:.0} s (over 24 h); the file is damaged or not a clip")]
    ImplausibleDuration(f64),

    /// Under 3 s and not padding.
    #[error("{0:.2} s is shorter than Instagram's 3 s minimum; pass --pad-short to hold the last frame to 3 s")]
    TooShort(f64),
    /// Too small a budget for any picture.
    #[error("a {bytes}-byte budget leaves no room for video in {seconds:.1} s; raise --max-bytes")]
    BudgetTooSmall {
        /// Budget.
        bytes: u64,
        /// Part length.
        seconds: f64,
    },
}

/// The source rate when it is constant and within 23–60 fps, else 30.
pub fn output_fps(facts: &MediaFacts) -> (i32, i32) {
    match facts
        .video
        .as_ref()
        .and_then(|v| v.rate.filter(|_| v.constant_rate))
    {
        Some((n, d)) if d > 0 => {
            let f = f64::from(n) / f64::from(d);
            if (23.0 - 0.01..=60.0 + 0.01).contains(&f) {
                (n, d)
            } else {
                FALLBACK_FPS
            }
        }
        _ => FALLBACK_FPS,
    }
}

/// Balanced parts of at most 60 s (95 s → 2 × 47.5 s).
pub fn split(duration: f64) -> Vec<(f64, f64)> {
    let count = (duration / spec::MAX_VIDEO_SECONDS - 1e-9).ceil().max(1.0) as usize;
    let each = duration / count as f64;
    (0..count).map(|i| (i as f64 * each, each)).collect()
}

/// Video bits per second for `seconds` of output within `max_bytes`, after
/// audio and container overhead (about 1.5 % plus 64 KiB).
pub fn video_bitrate(max_bytes: u64, seconds: f64) -> Result<u64, PlanError> {
    let usable_bits = (max_bytes as f64 - 65_536.0).max(0.0) * 8.0 * 0.985;
    let bps = usable_bits / seconds.max(0.1) - AUDIO_BPS as f64;
    if bps < 100_000.0 {
        return Err(PlanError::BudgetTooSmall {
            bytes: max_bytes,
            seconds,
        });
    }
    Ok((bps as u64).min(MAX_VIDEO_BPS))
}

/// The filter chain: rotate upright, tone-map HDR, fit 9:16, 8-bit 4:2:0 BT.709, CFR.
pub fn video_filter(facts: &MediaFacts, fit: FitMode, fps: (i32, i32), tonemap: bool) -> String {
    let mut chain: Vec<String> = Vec::new();
    let v = facts.video.as_ref();
    if v.is_some_and(|v| v.interlaced) {
        // Fields → frames first, before any scaling mixes the two fields.
        chain.push("bwdif=mode=send_frame:deint=interlaced".into());
    }
    match v.map_or(0, |v| v.rotation) {
        90 => chain.push("transpose=clock".into()),
        180 => chain.push("hflip,vflip".into()),
        270 => chain.push("transpose=cclock".into()),
        _ => {}
    }
    if tonemap && v.is_some_and(|v| v.hdr) {
        chain.push(
            "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
                .into(),
        );
    }
    let (w, h) = (OUT_W, OUT_H);
    let colour = "out_color_matrix=bt709:out_range=tv";
    let fitted = match fit {
        FitMode::Crop => format!(
            "scale={w}:{h}:force_original_aspect_ratio=increase:{colour},crop={w}:{h}"
        ),
        FitMode::Pad => format!(
            "scale={w}:{h}:force_original_aspect_ratio=decrease:{colour},pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black"
        ),
        FitMode::Blur => format!(
            "split=2[bg][fg];[bg]scale={bw}:{bh}:force_original_aspect_ratio=increase:{colour},crop={bw}:{bh},boxblur=10:2,scale={w}:{h}[bgb];[fg]scale={w}:{h}:force_original_aspect_ratio=decrease:{colour}[fgs];[bgb][fgs]overlay=(W-w)/2:(H-h)/2",
            bw = w / 4,
            bh = h / 4
        ),
    };
    chain.push(fitted);
    // start_time=0: a stream that starts late is held on its first frame
    // from 0, so audio and video stay in step.
    chain.push(format!(
        "setsar=1,fps={}/{}:start_time=0,format=yuv420p",
        fps.0, fps.1
    ));
    chain.join(",")
}

/// Plans the encode of `facts` with `opts`.
pub fn plan(facts: &MediaFacts, opts: &TranscodeOptions, tonemap: bool) -> Result<Plan, PlanError> {
    if facts.video.is_none() {
        return Err(PlanError::NoVideo);
    }
    let duration = facts
        .duration
        .filter(|d| *d > 0.0)
        .ok_or(PlanError::NoDuration)?;
    if !duration.is_finite() || duration > 86_400.0 {
        return Err(PlanError::ImplausibleDuration(duration));
    }
    let parts = if duration < spec::MIN_VIDEO_SECONDS {
        if !opts.pad_short {
            return Err(PlanError::TooShort(duration));
        }
        vec![Part {
            index: 1,
            count: 1,
            start: 0.0,
            duration,
            out_duration: spec::MIN_VIDEO_SECONDS,
        }]
    } else {
        let pieces = split(duration);
        let count = pieces.len();
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, (start, d))| Part {
                index: i + 1,
                count,
                start,
                duration: d,
                out_duration: d,
            })
            .collect()
    };
    for p in &parts {
        video_bitrate(opts.max_bytes, p.out_duration)?;
    }
    let fps = output_fps(facts);
    Ok(Plan {
        fps,
        video_filter: video_filter(facts, opts.fit, fps, tonemap),
        parts,
        has_audio: facts.audio.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VideoStream;

    fn facts(duration: f64, rate: Option<(i32, i32)>, constant: bool) -> MediaFacts {
        MediaFacts {
            container: "mov,mp4".into(),
            duration: Some(duration),
            video: Some(VideoStream {
                codec: "h264".into(),
                width: 1920,
                height: 1080,
                fps: rate.map(|(n, d)| n as f64 / d as f64),
                pixel_format: Some("yuv420p".into()),
                bit_depth: 8,
                rotation: 0,
                hdr: false,
                constant_rate: constant,
                rate,
                profile: None,
                interlaced: false,
                bit_rate: None,
            }),
            audio: None,
        }
    }

    #[test]
    fn splits_into_balanced_parts() {
        assert_eq!(split(95.0), vec![(0.0, 47.5), (47.5, 47.5)]);
        assert_eq!(split(60.0).len(), 1);
        assert_eq!(split(121.0).len(), 3);
        assert_eq!(split(10.0), vec![(0.0, 10.0)]);
    }

    #[test]
    fn keeps_constant_rates_in_range() {
        assert_eq!(
            output_fps(&facts(10.0, Some((30000, 1001)), true)),
            (30000, 1001)
        );
        assert_eq!(output_fps(&facts(10.0, Some((60, 1)), true)), (60, 1));
        assert_eq!(output_fps(&facts(10.0, Some((120, 1)), true)), FALLBACK_FPS);
        assert_eq!(output_fps(&facts(10.0, Some((15, 1)), true)), FALLBACK_FPS);
        assert_eq!(output_fps(&facts(10.0, Some((25, 1)), false)), FALLBACK_FPS);
    }

    #[test]
    fn bitrate_fits_the_budget() {
        let bps = video_bitrate(8_000_000, 60.0).unwrap();
        let total_bytes = (bps + AUDIO_BPS) as f64 * 60.0 / 8.0;
        assert!(total_bytes < 8_000_000.0 * 0.99, "{total_bytes}");
        assert_eq!(video_bitrate(8_000_000, 3.0).unwrap(), MAX_VIDEO_BPS);
        assert!(video_bitrate(100_000, 60.0).is_err());
    }

    #[test]
    fn short_clips_are_refused_or_padded() {
        let f = facts(1.5, Some((30, 1)), true);
        assert!(matches!(
            plan(&f, &TranscodeOptions::default(), false),
            Err(PlanError::TooShort(_))
        ));
        let opts = TranscodeOptions {
            pad_short: true,
            ..Default::default()
        };
        let p = plan(&f, &opts, false).unwrap();
        assert_eq!(p.parts[0].out_duration, 3.0);
    }

    #[test]
    fn rotation_comes_first() {
        let mut f = facts(10.0, Some((30, 1)), true);
        if let Some(v) = f.video.as_mut() {
            v.rotation = 90;
        }
        let chain = video_filter(&f, FitMode::Pad, (30, 1), false);
        assert!(
            chain.starts_with("transpose=clock,scale=1080:1920"),
            "{chain}"
        );
        assert!(chain.ends_with("fps=30/1:start_time=0,format=yuv420p"));
    }
}
