//! Many input videos at once within a thread budget: files × encoder
//! threads ≈ cores. One bad file is reported and the rest go on.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::transcode::{transcode_file, Output};
use super::TranscodeOptions;

/// What happened to one input.
#[derive(Debug, Clone, Serialize)]
pub struct VideoOutcome {
    /// The input file.
    pub input: PathBuf,
    /// Story parts written.
    pub outputs: Vec<Output>,
    /// One-line error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Hears about progress (the CLI draws bars with it).
pub trait VideoObserver: Sync {
    /// `input` has done `done` of `total` frames at `fps` frames per second of video.
    fn progress(&self, _input: &Path, _done: u64, _total: u64, _fps: f64) {}
    /// `input` is finished.
    fn finished(&self, _outcome: &VideoOutcome) {}
}

/// Files in parallel and encoder threads per file for `files` inputs on
/// `cores` cores, or `jobs` files at once when given.
pub fn thread_budget(files: usize, cores: usize, jobs: Option<usize>) -> (usize, usize) {
    let cores = cores.max(1);
    let parallel = jobs.unwrap_or(cores).clamp(1, files.max(1));
    let threads = (cores / parallel).max(1);
    (parallel, threads)
}

/// Transcodes every input into `out_dir`.
pub fn transcode_all(
    inputs: &[PathBuf],
    out_dir: &Path,
    opts: &TranscodeOptions,
    jobs: Option<usize>,
    observer: &dyn VideoObserver,
) -> std::io::Result<Vec<VideoOutcome>> {
    std::fs::create_dir_all(out_dir)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (parallel, threads) = thread_budget(inputs.len(), cores, jobs);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(parallel)
        .build()
        .map_err(std::io::Error::other)?;
    let opts = TranscodeOptions {
        threads,
        ..opts.clone()
    };
    Ok(pool.install(|| {
        inputs
            .par_iter()
            .map(|input| {
                let report =
                    |done: u64, total: u64, fps: f64| observer.progress(input, done, total, fps);
                let outcome = match transcode_file(input, out_dir, &opts, &report) {
                    Ok(outputs) => VideoOutcome {
                        input: input.clone(),
                        outputs,
                        error: None,
                    },
                    Err(e) => VideoOutcome {
                        input: input.clone(),
                        outputs: Vec::new(),
                        error: Some(e.to_string()),
                    },
                };
                observer.finished(&outcome);
                outcome
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_never_oversubscribes() {
        assert_eq!(thread_budget(6, 2, None), (2, 1));
        assert_eq!(thread_budget(1, 2, None), (1, 2));
        assert_eq!(thread_budget(6, 8, None), (6, 1));
        assert_eq!(thread_budget(6, 8, Some(2)), (2, 4));
        assert_eq!(thread_budget(0, 2, None), (1, 2));
    }
}
