//! A file's first bytes → what it is ([`Sniffed`]), and a JPEG's marker
//! segments → [`ImageFacts`], read from headers only (no pixel is decoded).
//!
//! Classification is by content, never by the file name: a PNG named
//! `story.jpg` is a PNG.

use serde::Serialize;

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

/// What a JPEG's headers say.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImageFacts {
    /// Stored width in px (before EXIF orientation).
    pub width: u32,
    /// Stored height in px.
    pub height: u32,
    /// EXIF orientation 1–8 (1 when absent).
    pub orientation: u8,
    /// Colour components in the frame: 1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK.
    pub components: u8,
    /// The embedded ICC profile's description, when there is a profile.
    pub icc: Option<IccFacts>,
    /// True when an MPF (multi-picture) segment is present: an MPO file.
    pub multi_picture: bool,
    /// True when the file ends before its End Of Image marker (truncated).
    pub truncated: bool,
}

/// The parts of an ICC profile that matter to Instagram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IccFacts {
    /// Colour space signature, e.g. `RGB ` or `CMYK`.
    pub space: String,
    /// True when the profile is sRGB (by qcms's check).
    pub srgb: bool,
}

impl ImageFacts {
    /// Width and height as shown, after EXIF orientation is applied.
    pub fn shown_size(&self) -> (u32, u32) {
        if (5..=8).contains(&self.orientation) {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// Why a JPEG's headers could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HeaderError(pub String);

/// Most header bytes read before giving up on finding the frame header
/// (EXIF thumbnails and ICC profiles live here; 16 MiB is generous).
pub const MAX_HEADER_BYTES: usize = 16 << 20;

/// Reads a JPEG's marker segments up to the start of the scan (`head` is
/// the file's first bytes, at least through the SOS marker for a full
/// answer) and checks the last bytes (`tail`) for the End Of Image marker.
/// `eoi_after(offset)` answers whether an EOI occurs anywhere after the
/// scan start (data may follow the picture, as in phone "motion photos");
/// it is only called when the file does not simply end with one. `FF D9`
/// cannot occur inside entropy-coded data, so the answer is exact.
pub fn jpeg_facts(
    head: &[u8],
    tail: &[u8],
    eoi_after: impl FnOnce(u64) -> bool,
) -> Result<ImageFacts, HeaderError> {
    let bad = |m: &str| HeaderError(m.to_string());
    if head.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err(bad("no JPEG start-of-image marker"));
    }
    let mut facts = ImageFacts {
        orientation: 1,
        ..ImageFacts::default()
    };
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut pos = 2usize;
    let mut frame_seen = false;
    let scan_start = loop {
        // Skip fill bytes before a marker.
        while head.get(pos) == Some(&0xFF) && head.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (head.get(pos), head.get(pos + 1)) else {
            return Err(bad(if pos >= head.len() {
                "the file ends inside its headers"
            } else {
                "corrupt marker in the headers"
            }));
        };
        pos += 2;
        if marker == 0xD9 {
            return Err(bad("the image ends before any picture data"));
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            continue;
        }
        let len = match head.get(pos..pos + 2) {
            Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
            None => return Err(bad("the file ends inside its headers")),
        };
        if len < 2 {
            return Err(bad("corrupt segment length in the headers"));
        }
        let Some(body) = head.get(pos + 2..pos + len) else {
            return Err(bad("the file ends inside its headers"));
        };
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if body.len() < 6 {
                    return Err(bad("corrupt frame header"));
                }
                facts.height = u32::from(u16::from_be_bytes([body[1], body[2]]));
                facts.width = u32::from(u16::from_be_bytes([body[3], body[4]]));
                facts.components = body[5];
                frame_seen = true;
            }
            0xE1 if body.starts_with(b"Exif\0\0") => {
                facts.orientation = image::metadata::Orientation::from_exif_chunk(&body[6..])
                    .map_or(1, |o| o.to_exif());
            }
            0xE2 if body.starts_with(b"ICC_PROFILE\0") && body.len() > 14 => {
                icc_chunks.push((body[12], &body[14..]));
            }
            0xE2 if body.starts_with(b"MPF\0") => facts.multi_picture = true,
            0xDA => break pos + len,
            _ => {}
        }
        pos += len;
    };
    if !frame_seen {
        return Err(bad("no frame header before the picture data"));
    }
    if facts.width == 0 || facts.height == 0 {
        return Err(bad("the frame header gives a zero size"));
    }
    if !icc_chunks.is_empty() {
        icc_chunks.sort_by_key(|(seq, _)| *seq);
        let profile: Vec<u8> = icc_chunks
            .iter()
            .flat_map(|(_, d)| d.iter().copied())
            .collect();
        facts.icc = Some(icc_facts(&profile));
    }
    let ends_with_eoi = tail.ends_with(&[0xFF, 0xD9]);
    facts.truncated = !ends_with_eoi && !eoi_after(scan_start as u64);
    Ok(facts)
}

fn icc_facts(profile: &[u8]) -> IccFacts {
    let space = profile
        .get(16..20)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .unwrap_or_default();
    let srgb = qcms::Profile::new_from_slice(profile, false).is_some_and(|p| p.is_sRGB());
    IccFacts { space, srgb }
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
    fn never_panics_on_short_or_odd_headers() {
        for n in 0..40 {
            let mut head = vec![0xFF, 0xD8];
            head.extend(std::iter::repeat_n(0xFF, n));
            let _ = jpeg_facts(&head, &head, |_| false);
            let _ = sniff(&head);
        }
        let seg = [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x01];
        assert!(jpeg_facts(&seg, &seg, |_| false).is_err());
    }
}
