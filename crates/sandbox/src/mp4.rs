//! Story video bytes → the facts Instagram checks (container, faststart,
//! codec, size, duration, frame rate) read from the MP4/MOV boxes, and the
//! verdict with the subcode a failed container reports. Pure; no FFmpeg.
//!
//! Subcodes (the spec names 2207026 for an unsupported format; the others
//! are the sandbox's documented choices):
//! - 2207026: not MP4/MOV, no `moov`, `moov` after `mdat` (not faststart),
//!   no video track, or a codec other than H.264 (`avc1`/`avc3`) or HEVC
//!   (`hvc1`/`hev1`);
//! - 2207082: duration outside 3–60 s;
//! - 2207085: frame rate outside 23–60 fps, width over 1920 px, or a file
//!   over 100 MB.

/// Shortest Story video, seconds.
pub const MIN_SECONDS: f64 = 3.0;
/// Longest Story video, seconds.
pub const MAX_SECONDS: f64 = 60.0;
/// Lowest frame rate.
pub const MIN_FPS: f64 = 23.0;
/// Highest frame rate.
pub const MAX_FPS: f64 = 60.0;
/// Widest frame, pixels.
pub const MAX_WIDTH: u32 = 1920;
/// Largest file, bytes (100 MB).
pub const MAX_VIDEO_BYTES: u64 = 100_000_000;

/// Subcode: video format not supported.
pub const SUBCODE_FORMAT: u64 = 2207026;
/// Subcode: duration out of range.
pub const SUBCODE_DURATION: u64 = 2207082;
/// Subcode: frame rate, width or file size out of range.
pub const SUBCODE_PROPERTIES: u64 = 2207085;

/// What the boxes say about a video.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFacts {
    /// `ftyp` major brand (`isom`, `qt  `…), empty when there is no `ftyp`.
    pub brand: String,
    /// `moov` comes before `mdat`.
    pub faststart: bool,
    /// Sample entry type of the first video track (`avc1`, `hvc1`…).
    pub codec: String,
    /// Coded width and height.
    pub width: u32,
    /// Coded height.
    pub height: u32,
    /// Video track duration, seconds.
    pub seconds: f64,
    /// Samples per second of the video track.
    pub fps: f64,
}

/// A refused video: the subcode and a plain reason.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoProblem {
    /// The subcode the container's `status` text carries.
    pub subcode: u64,
    /// What is wrong.
    pub reason: String,
}

fn problem(subcode: u64, reason: impl Into<String>) -> VideoProblem {
    VideoProblem {
        subcode,
        reason: reason.into(),
    }
}

/// Checks a whole video file as a Story.
pub fn check_story_video(bytes: &[u8]) -> Result<VideoFacts, VideoProblem> {
    if bytes.len() as u64 > MAX_VIDEO_BYTES {
        return Err(problem(
            SUBCODE_PROPERTIES,
            format!("{} bytes is over 100 MB", bytes.len()),
        ));
    }
    let facts = read_facts(bytes).map_err(|r| problem(SUBCODE_FORMAT, r))?;
    if !facts.faststart {
        return Err(problem(
            SUBCODE_FORMAT,
            "moov atom after mdat (not faststart)",
        ));
    }
    if !matches!(facts.codec.as_str(), "avc1" | "avc3" | "hvc1" | "hev1") {
        return Err(problem(
            SUBCODE_FORMAT,
            format!("codec {:?} is not H.264 or HEVC", facts.codec),
        ));
    }
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&facts.seconds) {
        return Err(problem(
            SUBCODE_DURATION,
            format!("duration {:.2} s is outside 3-60 s", facts.seconds),
        ));
    }
    if !(MIN_FPS..=MAX_FPS).contains(&facts.fps) {
        return Err(problem(
            SUBCODE_PROPERTIES,
            format!("{:.2} fps is outside 23-60", facts.fps),
        ));
    }
    if facts.width > MAX_WIDTH {
        return Err(problem(
            SUBCODE_PROPERTIES,
            format!("width {} is over 1920", facts.width),
        ));
    }
    Ok(facts)
}

/// One box: type and body (after the header).
struct Mp4Box<'a> {
    kind: [u8; 4],
    body: &'a [u8],
}

/// The boxes directly inside `data`, stopping at the first damaged header.
fn boxes(data: &[u8]) -> Result<Vec<Mp4Box<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let size32 = be32(data, pos).ok_or("short box header")?;
        let kind = [data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]];
        let (header, size) = match size32 {
            0 => (8usize, (data.len() - pos) as u64),
            1 => (
                16usize,
                be64(data, pos + 8).ok_or("short large box header")?,
            ),
            n => (8usize, u64::from(n)),
        };
        let size = usize::try_from(size).map_err(|_| "box too large")?;
        if size < header || pos.checked_add(size).is_none_or(|end| end > data.len()) {
            return Err(format!(
                "box {:?} at {pos} runs past the end (truncated file?)",
                String::from_utf8_lossy(&kind)
            ));
        }
        out.push(Mp4Box {
            kind,
            body: &data[pos + header..pos + size],
        });
        pos += size;
    }
    Ok(out)
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data)
        .ok()?
        .into_iter()
        .find(|b| &b.kind == kind)
        .map(|b| b.body)
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

fn be64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

/// Reads the facts from the box tree; `Err` when it is not a readable
/// MP4/MOV with a video track.
pub fn read_facts(bytes: &[u8]) -> Result<VideoFacts, String> {
    let top = boxes(bytes)?;
    if top.is_empty() {
        return Err("not an MP4/MOV file".into());
    }
    let known = [
        b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"uuid", b"pnot",
    ];
    if !known.iter().any(|k| **k == top[0].kind) {
        return Err("not an MP4/MOV file".into());
    }
    let brand = top
        .iter()
        .find(|b| &b.kind == b"ftyp")
        .and_then(|b| b.body.get(..4))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let moov_at = top
        .iter()
        .position(|b| &b.kind == b"moov")
        .ok_or("no moov atom")?;
    let faststart = top
        .iter()
        .position(|b| &b.kind == b"mdat")
        .is_none_or(|mdat_at| moov_at < mdat_at);
    let moov = top[moov_at].body;
    let track = boxes(moov)?
        .into_iter()
        .filter(|b| &b.kind == b"trak")
        .find_map(|t| video_track(t.body))
        .ok_or("no video track")?;
    Ok(VideoFacts {
        brand,
        faststart,
        ..track
    })
}

/// The facts of a `trak` when it is a video track.
fn video_track(trak: &[u8]) -> Option<VideoFacts> {
    let mdia = child(trak, b"mdia")?;
    let hdlr = child(mdia, b"hdlr")?;
    if hdlr.get(8..12)? != b"vide" {
        return None;
    }
    let mdhd = child(mdia, b"mdhd")?;
    let (timescale, duration) = if *mdhd.first()? == 1 {
        (be32(mdhd, 20)?, be64(mdhd, 24)?)
    } else {
        (be32(mdhd, 12)?, u64::from(be32(mdhd, 16)?))
    };
    let stbl = child(child(mdia, b"minf")?, b"stbl")?;
    let stsd = child(stbl, b"stsd")?;
    // stsd: version/flags, entry count, then the first sample entry.
    let entry = stsd.get(8..)?;
    let codec = String::from_utf8_lossy(entry.get(4..8)?).into_owned();
    // VisualSampleEntry: header 8, reserved 6, data ref 2, pre-defined 16.
    let width = u32::from(be16(entry, 32)?);
    let height = u32::from(be16(entry, 34)?);
    let stts = child(stbl, b"stts")?;
    let count = be32(stts, 4)? as usize;
    let mut samples = 0u64;
    for i in 0..count.min(1_000_000) {
        samples += u64::from(be32(stts, 8 + i * 8)?);
    }
    let seconds = if timescale == 0 {
        0.0
    } else {
        duration as f64 / f64::from(timescale)
    };
    let fps = if seconds > 0.0 {
        samples as f64 / seconds
    } else {
        0.0
    };
    Some(VideoFacts {
        brand: String::new(),
        faststart: false,
        codec,
        width,
        height,
        seconds,
        fps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    /// A minimal MP4 with one video track, faststart or not.
    fn mp4(codec: &[u8; 4], w: u16, h: u16, seconds: u32, fps: u32, faststart: bool) -> Vec<u8> {
        let ftyp = bx(b"ftyp", b"isom\0\0\x02\0isomavc1");
        let mut mdhd = vec![0u8; 12];
        mdhd.extend_from_slice(&1000u32.to_be_bytes());
        mdhd.extend_from_slice(&(seconds * 1000).to_be_bytes());
        mdhd.extend_from_slice(&[0; 4]);
        let hdlr = bx(b"hdlr", &[&[0u8; 8][..], b"vide", &[0; 12]].concat());
        let mut entry = vec![0u8; 6];
        entry.extend_from_slice(&1u16.to_be_bytes());
        entry.extend_from_slice(&[0; 16]);
        entry.extend_from_slice(&w.to_be_bytes());
        entry.extend_from_slice(&h.to_be_bytes());
        entry.extend_from_slice(&[0; 50]);
        let stsd = bx(
            b"stsd",
            &[&[0, 0, 0, 0, 0, 0, 0, 1][..], &bx(codec, &entry)].concat(),
        );
        let mut stts = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stts.extend_from_slice(&(seconds * fps).to_be_bytes());
        stts.extend_from_slice(&(1000 / fps).to_be_bytes());
        let stbl = bx(b"stbl", &[stsd, bx(b"stts", &stts)].concat());
        let mdia = bx(
            b"mdia",
            &[bx(b"mdhd", &mdhd), hdlr, bx(b"minf", &stbl)].concat(),
        );
        let moov = bx(b"moov", &bx(b"trak", &mdia));
        let mdat = bx(b"mdat", &[0u8; 64]);
        if faststart {
            [ftyp, moov, mdat].concat()
        } else {
            [ftyp, mdat, moov].concat()
        }
    }

    #[test]
    fn good_video_passes() {
        let f = check_story_video(&mp4(b"avc1", 1080, 1920, 5, 30, true)).unwrap();
        assert_eq!((f.codec.as_str(), f.width, f.height), ("avc1", 1080, 1920));
        assert!(
            (f.seconds - 5.0).abs() < 1e-9 && (f.fps - 30.0).abs() < 0.5,
            "{f:?}"
        );
        assert!(check_story_video(&mp4(b"hvc1", 1080, 1920, 5, 30, true)).is_ok());
    }

    #[test]
    fn each_rule_has_its_subcode() {
        let sub = |b: Vec<u8>| check_story_video(&b).unwrap_err().subcode;
        assert_eq!(sub(mp4(b"avc1", 1080, 1920, 5, 30, false)), SUBCODE_FORMAT);
        assert_eq!(sub(mp4(b"vp09", 1080, 1920, 5, 30, true)), SUBCODE_FORMAT);
        assert_eq!(sub(mp4(b"avc1", 1080, 1920, 2, 30, true)), SUBCODE_DURATION);
        assert_eq!(
            sub(mp4(b"avc1", 1080, 1920, 61, 30, true)),
            SUBCODE_DURATION
        );
        assert_eq!(
            sub(mp4(b"avc1", 1080, 1920, 5, 20, true)),
            SUBCODE_PROPERTIES
        );
        assert_eq!(
            sub(mp4(b"avc1", 3840, 2160, 5, 30, true)),
            SUBCODE_PROPERTIES
        );
        assert_eq!(sub(b"this is not a video".to_vec()), SUBCODE_FORMAT);
    }

    #[test]
    fn truncated_file_is_refused_not_panicking() {
        let full = mp4(b"avc1", 1080, 1920, 5, 30, true);
        for cut in 0..full.len() {
            let _ = check_story_video(&full[..cut]);
        }
        assert!(check_story_video(&full[..full.len() - 10]).is_err());
    }

    #[test]
    fn real_encoder_output_is_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/video");
        let facts = read_facts(&std::fs::read(dir.join("landscape.mp4")).unwrap()).unwrap();
        assert_eq!(
            (facts.codec.as_str(), facts.width, facts.height),
            ("avc1", 1920, 1080)
        );
        assert!(
            (facts.seconds - 4.0).abs() < 0.1 && (facts.fps - 30.0).abs() < 0.5,
            "{facts:?}"
        );
        assert!(!facts.faststart);
        let hevc = read_facts(&std::fs::read(dir.join("hdr10bit.mp4")).unwrap()).unwrap();
        assert_eq!(hevc.codec, "hvc1");
        let mov = read_facts(&std::fs::read(dir.join("portrait.mov")).unwrap()).unwrap();
        assert_eq!(
            (mov.brand.as_str(), mov.width, mov.height),
            ("qt  ", 720, 1280)
        );
        assert!(read_facts(&std::fs::read(dir.join("truncated.mp4")).unwrap()).is_err());
    }
}
