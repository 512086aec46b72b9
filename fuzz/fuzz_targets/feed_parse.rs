//! Any bytes as a feed → the CSV, JSON, YAML and RSS/Atom readers (the
//! first byte picks which) within the default limits: none may panic, loop
//! or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storyforge::feed::{parse_bytes, FeedLimits};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let ext = ["csv", "json", "yaml", "xml"][usize::from(which % 4)];
    let limits = FeedLimits {
        // Small enough that the limit paths are reached too.
        max_items: 64,
        max_field_chars: 256,
        ..FeedLimits::default()
    };
    let _ = parse_bytes(ext, body, limits);
});
