//! Hot paths of the renderer on the reference Story (see docs/benchmarks.md):
//! preparing a scene (placeholders, text layout), drawing it, encoding the
//! JPEG, and the whole Story. `make bench` compares whole batches against
//! Pillow; this pins down where the time goes.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use storyforge::assets::AssetCache;
use storyforge::feed::Feed;
use storyforge::fonts::FontBook;
use storyforge::render;
use storyforge::story;

fn reference(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference");
    let fonts = FontBook::bundled();
    let template =
        storyforge::template::load(&dir.join("story.yaml"), &fonts).expect("reference template");
    let feed = Feed::open(&dir.join("feed.csv")).expect("reference feed");
    let rows: Vec<_> = feed
        .rows()
        .expect("rows")
        .filter_map(Result::ok)
        .take(20)
        .collect();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).expect("date");
    let assets = AssetCache::new();
    let vars: Vec<_> = rows
        .iter()
        .map(|r| story::variables(&template, Some(r), today))
        .collect();
    let scenes: Vec<_> = vars
        .iter()
        .map(|v| story::prepare(&template, v, Some(feed.dir()), &assets).expect("scene"))
        .collect();
    let canvas = render::draw(&scenes[0]);

    let mut g = c.benchmark_group("reference_story");
    g.throughput(Throughput::Elements(1));
    g.bench_function("prepare (fill + layout)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % vars.len();
            black_box(story::prepare(&template, &vars[i], Some(feed.dir()), &assets).ok())
        })
    });
    g.bench_function("draw", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % scenes.len();
            black_box(render::draw(&scenes[i]))
        })
    });
    g.bench_function("encode jpeg q90", |b| {
        b.iter(|| black_box(render::encode_jpeg(&canvas, 90).ok()))
    });
    g.bench_function("whole story", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % vars.len();
            let scene =
                story::prepare(&template, &vars[i], Some(feed.dir()), &assets).expect("scene");
            black_box(render::encode_jpeg(&render::draw(&scene), 90).ok())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = reference
}
criterion_main!(benches);
