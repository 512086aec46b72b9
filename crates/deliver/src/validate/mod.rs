//! Files and directories → a [`FileReport`] per Story file: images, videos
//! and templates, each held to Instagram's rules (the table in [`rules`]).
//!
//! Files are classified by their content ([`storyforge_base::media::sniff`]), read header
//! first (no pixel is decoded for images), checked in parallel, and an
//! unreadable file is a finding, never the end of the walk. The same checks
//! gate the pipeline before anything is uploaded.

pub mod facts;
pub mod mentions;
pub mod report;
pub mod rules;
pub mod template;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

pub use rules::{Finding, Location, Rule, Severity, RULES};
use storyforge_base::media::{self, MediaKind, Sniffed};

use storyforge_story::fonts::FontBook;

/// What the validator checks against.
#[derive(Debug, Clone)]
pub struct Options {
    /// Largest video in bytes. Default: 8,000,000 (the project's budget).
    pub max_video_bytes: u64,
    /// Count warnings as failures. Default: false.
    pub strict: bool,
    /// The date `{{today}}` stands for in templates. Default: today.
    pub today: chrono::NaiveDate,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_video_bytes: storyforge_base::spec::DEFAULT_VIDEO_MAX_BYTES,
            strict: false,
            today: chrono::Local::now().date_naive(),
        }
    }
}

/// What kind of file a report is about: Story media, a template, or
/// neither. Serialized as `image`, `video`, `template` or `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// An image or a video (by content, or by name when the content is
    /// not media at all).
    Media(MediaKind),
    /// A YAML template.
    Template,
    /// Not readable, or not a Story file.
    Other,
}

impl FileKind {
    /// `image`, `video`, `template` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Media(kind) => kind.as_str(),
            FileKind::Template => "template",
            FileKind::Other => "other",
        }
    }

    /// What a file's name (its extension) says it is.
    fn named(path: &Path) -> FileKind {
        let Some(ext) = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        else {
            return FileKind::Other;
        };
        if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
            FileKind::Media(MediaKind::Image)
        } else if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
            FileKind::Media(MediaKind::Video)
        } else if ext == "yaml" || ext == "yml" {
            FileKind::Template
        } else {
            FileKind::Other
        }
    }
}

impl Serialize for FileKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The findings of one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// The file as named (or as found under a named directory).
    pub path: String,
    /// What it is.
    pub kind: FileKind,
    /// Broken rules, errors first.
    pub findings: Vec<Finding>,
}

impl FileReport {
    /// True when a finding fails the run: an error, or a warning when `strict`.
    pub fn fails(&self, strict: bool) -> bool {
        self.findings.iter().any(|f| fails(f.rule.severity, strict))
    }
}

/// True when a finding of `severity` fails the run.
pub fn fails(severity: Severity, strict: bool) -> bool {
    severity == Severity::Error || (strict && severity == Severity::Warning)
}

/// A named path and whether it was named directly (not found in a walk):
/// named files are always reported; files found in a directory are skipped
/// when they are not Story files.
#[derive(Debug, Clone)]
struct Candidate {
    path: PathBuf,
    named: bool,
}

/// Expands `paths` (files and directories, walked recursively in name
/// order; hidden entries, `assets/` and `fonts/` directories and
/// `*.preview.png` skipped) into the files to check.
fn candidates(paths: &[PathBuf]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else {
            out.push(Candidate {
                path: p.clone(),
                named: true,
            });
        }
    }
    out
}

/// Directories a walk does not enter: a template's images and fonts live there.
const SKIPPED_DIRS: [&str; 2] = ["assets", "fonts"];

fn walk(dir: &Path, out: &mut Vec<Candidate>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        out.push(Candidate {
            path: dir.to_path_buf(),
            named: true,
        });
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Hidden entries, template assets and fonts, and render previews
        // are not Stories.
        if name.starts_with('.')
            || name.ends_with(".preview.png")
            || (path.is_dir() && SKIPPED_DIRS.contains(&name))
        {
            continue;
        }
        // symlink_metadata: never follow links into loops.
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, out),
            Ok(m) if m.is_file() => out.push(Candidate { path, named: false }),
            _ => {}
        }
    }
}

/// Checks every file under `paths`; `data` rows are rendered through every
/// template. One report per checked file, in walk order.
pub fn validate_paths(
    paths: &[PathBuf],
    fonts: &FontBook,
    data: Option<&template::FeedSample>,
    opts: &Options,
) -> Vec<FileReport> {
    candidates(paths)
        .par_iter()
        .filter_map(|c| {
            let shown = c.path.display().to_string();
            // A checker bug must cost one file, not the run.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check_candidate(c, fonts, data, opts)
            }))
            .unwrap_or_else(|_| {
                Some(FileReport {
                    path: shown.clone(),
                    kind: FileKind::Other,
                    findings: vec![Finding::new(
                        rules::UNREADABLE,
                        "the checker failed on this file (a storyforge bug: please report it)",
                    )],
                })
            })
        })
        .collect()
}

/// Checks one file named directly.
pub fn check_file(
    path: &Path,
    fonts: &FontBook,
    data: Option<&template::FeedSample>,
    opts: &Options,
) -> FileReport {
    let c = Candidate {
        path: path.to_path_buf(),
        named: true,
    };
    check_candidate(&c, fonts, data, opts).unwrap_or_else(|| FileReport {
        path: path.display().to_string(),
        kind: FileKind::Other,
        findings: Vec::new(),
    })
}

fn check_candidate(
    c: &Candidate,
    fonts: &FontBook,
    data: Option<&template::FeedSample>,
    opts: &Options,
) -> Option<FileReport> {
    let path = &c.path;
    let report = |kind, mut findings: Vec<Finding>| {
        findings.sort_by_key(|f| std::cmp::Reverse(f.rule.severity));
        Some(FileReport {
            path: path.display().to_string(),
            kind,
            findings,
        })
    };
    let unreadable = |e: std::io::Error| {
        report(
            FileKind::Other,
            vec![Finding::new(
                rules::UNREADABLE,
                format!("cannot read it: {e}"),
            )],
        )
    };
    // Only regular files: opening a FIFO or a device blocks or never ends.
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            return report(
                FileKind::Other,
                vec![Finding::new(
                    rules::UNREADABLE,
                    format!(
                        "not a regular file ({}); give a file",
                        media::file_type_name(&m)
                    ),
                )],
            )
        }
        Ok(_) => {}
        Err(e) => return unreadable(e),
    }
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return unreadable(e),
    };
    let mut head = Vec::with_capacity(media::SNIFF_LEN);
    if let Err(e) = (&mut file)
        .take(media::SNIFF_LEN as u64)
        .read_to_end(&mut head)
    {
        return unreadable(e);
    }
    let sniffed = media::sniff(&head);
    // A file named like media is checked as that media: a text or unknown
    // file called `clip.mp4` is a broken video (an error), never skipped and
    // never a template, so a broken upload fails CI instead of vanishing.
    if matches!(sniffed, Sniffed::Text | Sniffed::Unknown) {
        let what = if sniffed == Sniffed::Text {
            "text"
        } else {
            "not a known media format"
        };
        match FileKind::named(path) {
            FileKind::Media(MediaKind::Video) => {
                return report(
                    FileKind::Media(MediaKind::Video),
                    vec![Finding::new(
                        rules::VIDEO_CORRUPT,
                        format!("named like a video, but its content is {what}, not a video"),
                    )],
                )
            }
            FileKind::Media(MediaKind::Image) => {
                return report(
                    FileKind::Media(MediaKind::Image),
                    vec![Finding::new(
                        rules::IMAGE_CORRUPT,
                        format!("named like an image, but its content is {what}, not an image"),
                    )],
                )
            }
            FileKind::Template | FileKind::Other => {}
        }
    }
    let yaml = FileKind::named(path) == FileKind::Template;
    match sniffed {
        Sniffed::Jpeg => report(FileKind::Media(MediaKind::Image), check_jpeg(file)),
        Sniffed::OtherImage(name) => report(
            FileKind::Media(MediaKind::Image),
            vec![Finding::new(
                rules::IMAGE_NOT_JPEG,
                format!("the image is {name}; Stories take JPEG only"),
            )],
        ),
        Sniffed::Mp4 => report(
            FileKind::Media(MediaKind::Video),
            check_video(path, None, opts),
        ),
        Sniffed::OtherVideo(name) => report(
            FileKind::Media(MediaKind::Video),
            check_video(path, Some(name), opts),
        ),
        // Templates are `*.yaml` / `*.yml` only: text is not a template
        // because it is text.
        Sniffed::Text if yaml && (c.named || looks_like_template(path, &head)) => report(
            FileKind::Template,
            template::check(path, fonts, data, opts.today),
        ),
        _ if c.named => report(
            FileKind::Other,
            vec![Finding::new(
                rules::UNKNOWN_TYPE,
                "not a JPEG, a video or a YAML template (templates are *.yaml or *.yml)",
            )],
        ),
        _ => None,
    }
}

/// Still-image extensions a Story source may carry.
const IMAGE_EXTENSIONS: [&str; 12] = [
    "jpg", "jpeg", "jpe", "jfif", "png", "webp", "gif", "heic", "heif", "avif", "tif", "tiff",
];
/// Video extensions.
const VIDEO_EXTENSIONS: [&str; 11] = [
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "flv", "ogv", "mpg", "mpeg", "3gp",
];

/// In a directory walk, a YAML file is checked as a template only when it
/// reads like one (feeds and configs are YAML too).
fn looks_like_template(path: &Path, head: &[u8]) -> bool {
    if FileKind::named(path) != FileKind::Template {
        return false;
    }
    if String::from_utf8_lossy(head).contains("template.schema.json") {
        return true;
    }
    std::fs::read_to_string(path).is_ok_and(|text| {
        text.lines()
            .any(|l| l.starts_with("layers:") || l.starts_with("canvas:"))
    })
}

/// First bytes read for a JPEG's headers; more are read (up to
/// [`facts::MAX_HEADER_BYTES`]) only when the headers run longer.
const FIRST_READ: usize = 128 << 10;

fn check_jpeg(mut file: File) -> Vec<Finding> {
    let corrupt = |m: String| vec![Finding::new(rules::IMAGE_CORRUPT, m)];
    let len = match file.seek(SeekFrom::End(0)) {
        Ok(l) => l,
        Err(e) => return corrupt(format!("cannot read it: {e}")),
    };
    let mut tail = [0u8; 2];
    let tail_ok = len >= 2
        && file.seek(SeekFrom::Start(len - 2)).is_ok()
        && file.read_exact(&mut tail).is_ok();
    let mut want = FIRST_READ;
    loop {
        let mut head = Vec::with_capacity(want.min(len as usize));
        let read = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| (&mut file).take(want as u64).read_to_end(&mut head));
        if let Err(e) = read {
            return corrupt(format!("cannot read it: {e}"));
        }
        let result = facts::jpeg_facts(&head, if tail_ok { &tail } else { &[] }, |from| {
            eoi_after(&mut file, from)
        });
        match result {
            Ok(f) => return rules::image_findings(&f, len),
            // Long EXIF/ICC segments: read further, within a bound.
            Err(_) if (head.len() as u64) < len && want < facts::MAX_HEADER_BYTES => {
                want = (want * 8).min(facts::MAX_HEADER_BYTES);
            }
            Err(e) => return corrupt(format!("corrupt JPEG headers: {e}")),
        }
    }
}

/// True when the bytes `FF D9` (End Of Image) occur at or after `from`.
fn eoi_after(file: &mut File, from: u64) -> bool {
    if file.seek(SeekFrom::Start(from)).is_err() {
        return false;
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut prev_ff = false;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if prev_ff && chunk[0] == 0xD9 {
            return true;
        }
        if chunk.windows(2).any(|w| w == [0xFF, 0xD9]) {
            return true;
        }
        prev_ff = chunk[n - 1] == 0xFF;
    }
}

#[cfg(feature = "ffmpeg")]
fn check_video(path: &Path, other: Option<&'static str>, opts: &Options) -> Vec<Finding> {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let faststart = match other {
        Some(_) => None,
        None => File::open(path)
            .ok()
            .and_then(|mut f| storyforge_video::mp4::is_faststart(&mut f).ok()),
    };
    let media = match storyforge_video::probe(path) {
        Ok(m) => m,
        Err(e) => {
            let mut out = vec![Finding::new(
                rules::VIDEO_CORRUPT,
                format!("FFmpeg cannot read it ({})", e.reason),
            )];
            if let Some(name) = other {
                out.push(Finding::new(
                    rules::VIDEO_CONTAINER,
                    format!("the container is {name}; Stories take MP4 or MOV"),
                ));
            }
            return out;
        }
    };
    let mut video = media.video;
    if let (Some(v), Some(d)) = (video.as_mut(), media.duration) {
        // No bit rate in the header: the whole file's rate is an upper bound.
        if v.bit_rate.is_none() && d > 0.0 {
            v.bit_rate = Some((bytes as f64 * 8.0 / d) as u64);
        }
    }
    let f = rules::VideoFacts {
        other_container: other,
        faststart,
        bytes,
        duration: media.duration,
        video,
        audio: media.audio,
    };
    rules::video_findings(&f, opts.max_video_bytes)
}

#[cfg(not(feature = "ffmpeg"))]
fn check_video(_: &Path, _: Option<&'static str>, _: &Options) -> Vec<Finding> {
    vec![Finding::new(
        rules::UNKNOWN_TYPE,
        "a video, but this storyforge was built without the `video` feature (FFmpeg)",
    )]
}
