//! A file's first bytes → what it is ([`Sniffed`]), and the one
//! [`MediaKind`] of a Story (image or video) that validate, storage, publish
//! and the jobs all use. Classification is by content, never by the file
//! name: a PNG named `story.jpg` is a PNG.

use serde::{Deserialize, Serialize};

/// The two kinds of Story media: a JPEG image or an MP4/MOV video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// A JPEG Story.
    Image,
    /// An MP4 (or QuickTime MOV) Story.
    Video,
}

impl MediaKind {
    /// The Story kind of a sniffed file, if it is one (JPEG or MP4/MOV).
    pub fn of(sniffed: Sniffed) -> Option<MediaKind> {
        match sniffed {
            Sniffed::Jpeg => Some(MediaKind::Image),
            Sniffed::Mp4 => Some(MediaKind::Video),
            _ => None,
        }
    }

    /// The Story kind a file's first bytes show, if either.
    pub fn sniff(head: &[u8]) -> Option<MediaKind> {
        MediaKind::of(sniff(head))
    }

    /// For a URL or a name whose bytes are not at hand: video when it ends
    /// in `.mp4`, `.mov` or `.m4v` (query and fragment ignored), else image.
    pub fn from_name(name: &str) -> MediaKind {
        let path = name
            .split(['?', '#'])
            .next()
            .unwrap_or(name)
            .to_ascii_lowercase();
        if [".mp4", ".mov", ".m4v"].iter().any(|e| path.ends_with(e)) {
            MediaKind::Video
        } else {
            MediaKind::Image
        }
    }

    /// `image` or `video`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
        }
    }

    /// The Content-Type Instagram expects.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaKind::Image => "image/jpeg",
            MediaKind::Video => "video/mp4",
        }
    }

    /// The extension stored files get.
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Image => "jpg",
            MediaKind::Video => "mp4",
        }
    }
}

impl std::fmt::Display for MediaKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MediaKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "image" => Ok(MediaKind::Image),
            "video" => Ok(MediaKind::Video),
            other => Err(format!("`{other}` is not a media kind (image or video)")),
        }
    }
}

/// What a file is, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sniffed {
    /// JPEG (JFIF/EXIF; MPO is a JPEG with extra pictures).
    Jpeg,
    /// Another still-image format (the name says which).
    OtherImage(&'static str),
    /// MP4 or QuickTime MOV (ISO base media).
    Mp4,
    /// Another video container (the name says which).
    OtherVideo(&'static str),
    /// Text that may be a YAML template.
    Text,
    /// None of the above.
    Unknown,
}

/// How many leading bytes [`sniff`] looks at.
pub const SNIFF_LEN: usize = 64;

/// Classifies a file from its first bytes (at least 12 are needed for most
/// formats; give up to [`SNIFF_LEN`]).
pub fn sniff(head: &[u8]) -> Sniffed {
    let at = |i: usize, magic: &[u8]| head.get(i..i + magic.len()) == Some(magic);
    if at(0, &[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Jpeg;
    }
    if at(0, b"\x89PNG\r\n\x1a\n") {
        return Sniffed::OtherImage("PNG");
    }
    if at(0, b"GIF87a") || at(0, b"GIF89a") {
        return Sniffed::OtherImage("GIF");
    }
    if at(0, b"RIFF") && at(8, b"WEBP") {
        return Sniffed::OtherImage("WebP");
    }
    if at(0, b"RIFF") && at(8, b"AVI ") {
        return Sniffed::OtherVideo("AVI");
    }
    if at(0, b"BM") && head.len() >= 14 && at(6, &[0, 0, 0, 0]) {
        return Sniffed::OtherImage("BMP");
    }
    if at(0, b"II*\0") || at(0, b"MM\0*") {
        return Sniffed::OtherImage("TIFF");
    }
    if at(0, &[0x00, 0x00, 0x00, 0x0C, b'j', b'X', b'L', b' ']) || at(0, &[0xFF, 0x0A]) {
        return Sniffed::OtherImage("JPEG XL");
    }
    if at(4, b"ftyp") {
        let brand = head.get(8..12).unwrap_or_default();
        return match brand {
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Sniffed::OtherImage("HEIC")
            }
            b"avif" | b"avis" => Sniffed::OtherImage("AVIF"),
            _ => Sniffed::Mp4,
        };
    }
    if ["moov", "mdat", "wide", "free", "skip", "pnot"]
        .iter()
        .any(|b| at(4, b.as_bytes()))
    {
        return Sniffed::Mp4;
    }
    if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        return Sniffed::OtherVideo("Matroska/WebM");
    }
    if at(0, b"FLV") {
        return Sniffed::OtherVideo("FLV");
    }
    if at(0, b"OggS") {
        return Sniffed::OtherVideo("Ogg");
    }
    if at(0, &[0x00, 0x00, 0x01, 0xBA]) {
        return Sniffed::OtherVideo("MPEG-PS");
    }
    let text_like = !head.is_empty()
        && std::str::from_utf8(head).is_ok_and(|s| {
            s.chars()
                .all(|c| !c.is_control() || c.is_ascii_whitespace())
        });
    if text_like || std::str::from_utf8(head).is_err_and(|e| e.error_len().is_none()) {
        return Sniffed::Text;
    }
    Sniffed::Unknown
}

/// What a path is when it is not a regular file, for messages: "a FIFO",
/// "a directory", "a character device"….
pub fn file_type_name(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]), Sniffed::Jpeg);
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Sniffed::OtherImage("PNG")
        );
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Sniffed::OtherImage("WebP"));
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0"),
            Sniffed::OtherImage("HEIC")
        );
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0"), Sniffed::Mp4);
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"), Sniffed::Mp4);
        assert_eq!(
            sniff(&[0x1A, 0x45, 0xDF, 0xA3, 1, 2]),
            Sniffed::OtherVideo("Matroska/WebM")
        );
        assert_eq!(sniff(b"name: x\nlayers: []\n"), Sniffed::Text);
        assert_eq!(sniff(&[0, 1, 2, 3, 4, 5, 6, 7]), Sniffed::Unknown);
        assert_eq!(sniff(&[]), Sniffed::Unknown);
    }

    #[test]
    fn story_kinds_by_content_and_by_name() {
        assert_eq!(
            MediaKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(MediaKind::Image)
        );
        assert_eq!(
            MediaKind::sniff(b"\0\0\0\x20ftypisom"),
            Some(MediaKind::Video)
        );
        assert_eq!(MediaKind::sniff(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(MediaKind::sniff(b""), None);
        assert_eq!(
            MediaKind::from_name("https://x/a.MOV?sig=1"),
            MediaKind::Video
        );
        assert_eq!(MediaKind::from_name("a.jpg"), MediaKind::Image);
        assert_eq!("video".parse::<MediaKind>(), Ok(MediaKind::Video));
        assert!("gif".parse::<MediaKind>().is_err());
    }
}
