//! A JPEG's marker segments → [`ImageFacts`], read from headers only (no
//! pixel is decoded). What a file is comes from [`storyforge_base::media::sniff`].

use serde::Serialize;

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
    fn never_panics_on_short_or_odd_headers() {
        for n in 0..40 {
            let mut head = vec![0xFF, 0xD8];
            head.extend(std::iter::repeat_n(0xFF, n));
            let _ = jpeg_facts(&head, &head, |_| false);
        }
        let seg = [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x01];
        assert!(jpeg_facts(&seg, &seg, |_| false).is_err());
    }
}
