//! Any bytes → the sniffer and the JPEG header reader, and the whole file
//! check: none may panic, loop or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storyforge::validate::facts;
use storyforge::media;

fuzz_target!(|data: &[u8]| {
    let _ = media::sniff(data);
    if let Ok(f) = facts::jpeg_facts(data, data, |_| false) {
        let _ = storyforge::validate::rules::image_findings(&f, data.len() as u64);
    }
});
