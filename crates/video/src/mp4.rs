//! MP4/MOV top-level boxes: is the `moov` index before the `mdat` media
//! data (faststart), so Instagram can start processing while it downloads?

use std::io::{Read, Seek, SeekFrom};

/// Top-level box types in file order, reading only box headers.
pub fn top_level_boxes<R: Read + Seek>(r: &mut R) -> std::io::Result<Vec<String>> {
    let end = r.seek(SeekFrom::End(0))?;
    let mut pos = 0u64;
    let mut boxes = Vec::new();
    while pos.checked_add(8).is_some_and(|p| p <= end) && boxes.len() < 1024 {
        r.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 8];
        r.read_exact(&mut head)?;
        let mut size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let kind = String::from_utf8_lossy(&head[4..8]).into_owned();
        if size == 1 {
            let mut large = [0u8; 8];
            r.read_exact(&mut large)?;
            size = u64::from_be_bytes(large);
        } else if size == 0 {
            size = end - pos;
        }
        boxes.push(kind);
        if size < 8 {
            break;
        }
        match pos.checked_add(size) {
            Some(next) => pos = next,
            None => break,
        }
    }
    Ok(boxes)
}

/// True when `moov` comes before `mdat`.
pub fn is_faststart<R: Read + Seek>(r: &mut R) -> std::io::Result<bool> {
    let boxes = top_level_boxes(r)?;
    let moov = boxes.iter().position(|b| b == "moov");
    let mdat = boxes.iter().position(|b| b == "mdat");
    Ok(matches!((moov, mdat), (Some(m), Some(d)) if m < d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], len: u32) -> Vec<u8> {
        let mut v = len.to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.resize(len as usize, 0);
        v
    }

    #[test]
    fn finds_moov_before_mdat() {
        let fast = [chunk(b"ftyp", 16), chunk(b"moov", 40), chunk(b"mdat", 100)].concat();
        assert!(is_faststart(&mut std::io::Cursor::new(fast)).unwrap());
        let slow = [chunk(b"ftyp", 16), chunk(b"mdat", 100), chunk(b"moov", 40)].concat();
        assert!(!is_faststart(&mut std::io::Cursor::new(slow)).unwrap());
        let junk = vec![0u8; 5];
        assert!(!is_faststart(&mut std::io::Cursor::new(junk)).unwrap());
    }
}
