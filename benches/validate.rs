//! Validator throughput on Story JPEGs, one core (see docs/benchmarks.md, "Validation"):
//! the target is at least 1,000 image files per second. Headers are read,
//! pixels are not, so the file size barely matters.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use storyforge::fonts::FontBook;
use storyforge::validate::{self, Options};

const FILES: usize = 500;

fn images(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad");
    let seeds = [
        "ok-story.jpg",
        "SF109-exif-rotated.jpg",
        "SF108-cmyk.jpg",
        "SF106-low-resolution.jpg",
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..FILES {
        let seed = root.join(seeds[i % seeds.len()]);
        std::fs::copy(&seed, dir.path().join(format!("story-{i:04}.jpg"))).expect("copy");
    }
    let fonts = FontBook::bundled();
    let opts = Options::default();
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let paths = vec![dir.path().to_path_buf()];
    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(FILES as u64));
    g.sample_size(20);
    g.bench_function("jpeg_files_one_core", |b| {
        b.iter(|| {
            let reports =
                one_core.install(|| validate::validate_paths(&paths, &fonts, None, &opts));
            assert_eq!(reports.len(), FILES);
        })
    });
    g.finish();
}

criterion_group!(benches, images);
criterion_main!(benches);
