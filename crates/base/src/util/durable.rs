//! Sets of files (a Story and its preview) → written through
//! [`atomic`](super::atomic) on a few I/O threads, each set reported once all
//! of it is durably in place (or none of it is).
//!
//! Why: an fsync costs milliseconds on common (virtual) disks, as much as
//! drawing and encoding a whole Story, and a CPU worker that waits for it
//! sits idle. Fsyncs from several threads overlap (measured here: 7 ms a file
//! from one thread, 1 ms a file from four), so the workers hand finished
//! files to [`Writers`] and go on drawing; the promise of `atomic` (never a
//! half-written file under its final name, even across a power cut) and
//! "reported done only once written" both still hold.

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Mutex;

use super::atomic::write_atomic;

/// Files that belong together, written in order: if one fails, those
/// before it are removed again.
pub type FileSet = Vec<(PathBuf, Vec<u8>)>;

/// Why a [`FileSet`] was not written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct SetFailed {
    /// Which file of the set failed (0 is the first).
    pub index: usize,
    /// That file.
    pub path: PathBuf,
    /// What the operating system said.
    #[source]
    pub source: std::io::Error,
}

/// Writes every file of `files` atomically, in order; on a failure removes
/// the files of the set already written.
pub fn write_set(files: &[(PathBuf, Vec<u8>)]) -> Result<(), SetFailed> {
    for (index, (path, bytes)) in files.iter().enumerate() {
        if let Err(source) = write_atomic(path, bytes) {
            for (written, _) in &files[..index] {
                let _ = std::fs::remove_file(written);
            }
            return Err(SetFailed {
                index,
                path: path.clone(),
                source,
            });
        }
    }
    Ok(())
}

/// I/O threads taking [`FileSet`]s; `T` travels with each set to the
/// completion callback.
pub struct Writers<'a, T> {
    queue: SyncSender<(FileSet, T)>,
    done: &'a (dyn Fn(T, Result<(), SetFailed>) + Sync),
}

impl<T> Writers<'_, T> {
    /// Queues `files` (waits while the queue is full, so memory stays
    /// bounded); `done(tag, result)` is called once they are written.
    pub fn write(&self, files: FileSet, tag: T) {
        if let Err(std::sync::mpsc::SendError((files, tag))) = self.queue.send((files, tag)) {
            // No writer left (one panicked): write here rather than lose it.
            (self.done)(tag, write_set(&files));
        }
    }
}

/// Runs `work` with `threads` I/O threads writing what it queues; returns
/// once `work` has returned and every queued set is written and reported
/// to `done`.
pub fn with_writers<T: Send, R>(
    threads: usize,
    done: &(dyn Fn(T, Result<(), SetFailed>) + Sync),
    work: impl FnOnce(&Writers<'_, T>) -> R,
) -> R {
    let threads = threads.max(1);
    let (queue, jobs) = sync_channel::<(FileSet, T)>(threads * 2);
    let jobs = Mutex::new(jobs);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let next = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((files, tag)) = next else { break };
                done(tag, write_set(&files));
            });
        }
        let writers = Writers { queue, done };
        let result = work(&writers);
        // Dropping the last sender ends the threads once the queue is empty.
        drop(writers);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_is_written_and_reported_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let reported = Mutex::new(Vec::new());
        let done = |tag: usize, r: Result<(), SetFailed>| {
            assert!(r.is_ok(), "{r:?}");
            reported.lock().expect("lock").push(tag);
        };
        with_writers(3, &done, |w| {
            for i in 0..20 {
                let story = dir.path().join(format!("s{i}.jpg"));
                let preview = dir.path().join(format!("s{i}.preview.png"));
                w.write(vec![(story, vec![1]), (preview, vec![2])], i);
            }
        });
        let mut tags = reported.into_inner().expect("lock");
        tags.sort_unstable();
        assert_eq!(tags, (0..20).collect::<Vec<_>>());
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 40);
    }

    #[test]
    fn a_failed_file_takes_its_set_with_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let story = dir.path().join("s.jpg");
        // The second target is a non-empty directory: its rename fails.
        let busy = dir.path().join("busy");
        std::fs::create_dir(&busy).expect("dir");
        std::fs::write(busy.join("x"), b"x").expect("fill");
        let e = write_set(&[(story.clone(), vec![1]), (busy.clone(), vec![2])])
            .expect_err("the second file cannot be written");
        assert_eq!((e.index, e.path), (1, busy));
        assert!(!story.exists());
    }
}
