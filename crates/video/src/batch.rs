//! Many input videos at once within a thread budget: files × encoder
//! threads ≈ cores. One bad file is reported and the rest go on.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::transcode::{output_stem, transcode_file_as, Output};
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
    let stems = unique_stems(inputs);
    Ok(pool.install(|| {
        inputs
            .par_iter()
            .zip(stems.par_iter())
            .map(|(input, stem)| {
                let report =
                    |done: u64, total: u64, fps: f64| observer.progress(input, done, total, fps);
                // A bug must cost one file, not the batch.
                let run = std::panic::AssertUnwindSafe(|| {
                    transcode_file_as(input, out_dir, stem, &opts, &report)
                });
                let result = std::panic::catch_unwind(run).unwrap_or_else(|_| {
                    Err(super::VideoError::Unusable {
                        path: input.display().to_string(),
                        message:
                            "internal error while transcoding (please report it with this file)"
                                .into(),
                    })
                });
                let outcome = match result {
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

/// Output stems, one per input: `clip`, then `clip-2`, `clip-3` for
/// inputs that share a name (`a/clip.mov b/clip.mov`).
pub fn unique_stems(inputs: &[PathBuf]) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    inputs
        .iter()
        .map(|i| {
            let stem = output_stem(i);
            let n = seen.entry(stem.to_lowercase()).or_insert(0);
            *n += 1;
            if *n == 1 {
                stem
            } else {
                format!("{stem}-{n}")
            }
        })
        .collect()
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

    #[test]
    fn same_named_inputs_get_distinct_outputs() {
        let inputs = [
            PathBuf::from("a/clip.mov"),
            PathBuf::from("b/clip.mp4"),
            PathBuf::from("x.mp4"),
        ];
        assert_eq!(unique_stems(&inputs), ["clip", "clip-2", "x"]);
    }
}
