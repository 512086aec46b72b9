//! Bytes → a file that is either the old one or the whole new one, even
//! across a crash or a power cut: a unique temporary file in the same
//! directory, written, `sync_all`ed, renamed over the target, and the
//! directory fsynced so the rename itself is durable.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Unique per process: two writers in one process never share a temp name.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically (mode 0644 on Unix, before the umask).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, 0o644)
}

/// Writes `bytes` to `path` atomically; on Unix the temporary file is
/// created with `mode` (e.g. `0o600` for a token), so the content is never
/// readable with wider rights, not even for a moment.
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = temp_name(path);
    let result = write_synced(&tmp, bytes, mode)
        .and_then(|()| std::fs::rename(&tmp, path))
        .and_then(|()| sync_dir(path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A unique temporary path beside `path`, for a writer that makes the file
/// itself (FFmpeg's muxer); finish with [`persist`], or remove it on error.
pub fn temp_path(path: &Path) -> PathBuf {
    temp_name(path)
}

/// Puts a finished temporary file in place durably: `sync_all`, rename
/// over `path`, fsync the directory. On error the temporary file is removed.
pub fn persist(tmp: &Path, path: &Path) -> std::io::Result<()> {
    let result = OpenOptions::new()
        .write(true)
        .open(tmp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(tmp, path))
        .and_then(|()| sync_dir(path));
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// `.NAME.tmp-PID-COUNTER-RANDOM` beside `path`: hidden, in the same
/// directory (a rename never crosses file systems) and unique per writer,
/// also across processes sharing the directory.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = fastrand::u64(..);
    path.with_file_name(format!(
        ".{name}.tmp-{}-{n}-{random:016x}",
        std::process::id()
    ))
}

fn write_synced(tmp: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the rename durable: fsync the directory that holds `path`.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("story.jpg");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("story.jpg")]);
    }

    #[test]
    fn a_failed_write_removes_its_temp() {
        let dir = tempfile::tempdir().expect("temp dir");
        // The target is a directory: the rename fails after the write.
        let target = dir.path().join("busy");
        std::fs::create_dir(&target).expect("dir");
        std::fs::write(target.join("x"), b"x").expect("fill");
        assert!(write_atomic(&target, b"data").is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("busy")]);
    }

    #[cfg(unix)]
    #[test]
    fn private_mode_from_the_start() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("shop.token");
        write_atomic_mode(&path, b"secret", 0o600).expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn temp_names_are_unique() {
        let p = Path::new("/tmp/x.jpg");
        assert_ne!(temp_name(p), temp_name(p));
    }
}
