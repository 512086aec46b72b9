//! Any bytes, written to a file → the MP4 box walk and the full validator
//! check (FFmpeg's probe included): none may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storyforge::fonts::FontBook;
use storyforge::validate;

fuzz_target!(|data: &[u8]| {
    let _ = storyforge::video::mp4::is_faststart(&mut std::io::Cursor::new(data));
    let dir = std::env::temp_dir().join(format!("storyforge-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input.mp4");
    if std::fs::write(&path, data).is_ok() {
        let opts = validate::Options::default();
        let _ = validate::check_file(&path, &FontBook::bundled(), None, &opts);
    }
});
