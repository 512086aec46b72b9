//! Remote images (issue 22): an `http(s)://` image source is downloaded
//! with a byte cap, a pixel cap read from the header, no redirect to
//! loopback or private addresses, cached with its ETag (the second fetch is
//! a 304), and drawn; a failing URL fails that Story by row, with the URL
//! redacted, and the batch goes on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use storyforge::assets::remote::{self, RemoteLimits};
use storyforge::assets::AssetError;

use crate::common;

#[derive(Clone, Default)]
struct Counts {
    full: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
}

/// Serves a Story-sized JPEG (with an ETag), a redirect to loopback, a
/// decompression bomb, a big body and a 404.
fn serve(counts: Counts) -> String {
    let jpeg = std::fs::read(common::root().join("fixtures/bad/ok-story.jpg")).expect("jpeg");
    let base = common::serve_loopback(move |addr| {
        let photo = move |State(c): State<Counts>, headers: HeaderMap| {
            let jpeg = jpeg.clone();
            async move {
                if headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    == Some("\"p1\"")
                {
                    c.not_modified.fetch_add(1, Ordering::SeqCst);
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                c.full.fetch_add(1, Ordering::SeqCst);
                (
                    [
                        (header::CONTENT_TYPE, "image/jpeg"),
                        (header::ETAG, "\"p1\""),
                    ],
                    jpeg,
                )
                    .into_response()
            }
        };
        let to_loopback = move || async move {
            (
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    format!("http://127.0.0.1:{}/photo.jpg", addr.port()),
                )],
            )
        };
        axum::Router::new()
            .route("/photo.jpg", get(photo))
            .route("/moved.jpg", get(to_loopback))
            .route(
                "/bomb.png",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "image/png")],
                        crate::inputs::bomb_png(),
                    )
                }),
            )
            .route(
                "/big.jpg",
                get(|| async { ([(header::CONTENT_TYPE, "image/jpeg")], vec![0u8; 300_000]) }),
            )
            .with_state(counts)
    });
    base
}

#[test]
fn remote_images_are_capped_cached_and_never_redirected_inward() {
    common::shared_cache();
    let counts = Counts::default();
    let base = serve(counts.clone());
    let limits = RemoteLimits {
        max_bytes: 200_000,
        ..RemoteLimits::default()
    };
    let url = format!("{base}/photo.jpg?sig=topsecret");
    let img = remote::load(&url, &limits).expect("downloads");
    assert_eq!(img.dimensions(), (1080, 1920));
    // Again: revalidated with the ETag, answered 304, drawn from the cache.
    let again = remote::load(&url, &limits).expect("revalidates");
    assert_eq!(again, img);
    assert_eq!(counts.full.load(Ordering::SeqCst), 1);
    assert_eq!(counts.not_modified.load(Ordering::SeqCst), 1);

    // A redirect to 127.0.0.1 is refused (the first URL may be loopback).
    let e = remote::load(&format!("{base}/moved.jpg"), &limits).unwrap_err();
    assert!(matches!(e, AssetError::Remote { .. }), "{e}");
    assert!(
        e.to_string().contains("refused a redirect to 127.0.0.1"),
        "{e}"
    );
    assert_eq!(
        counts.full.load(Ordering::SeqCst),
        1,
        "the redirect was not followed"
    );

    // 20000×20000 in the header: refused before decoding.
    let e = remote::load(&format!("{base}/bomb.png"), &limits).unwrap_err();
    assert!(
        matches!(e, AssetError::TooLarge { width: 20000, .. }),
        "{e}"
    );
    // Over the byte cap; missing; each names the URL, redacted.
    let e = remote::load(&format!("{base}/big.jpg?token=abc123"), &limits)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("200000 byte limit") && e.contains("token=***") && !e.contains("abc123"),
        "{e}"
    );
    let e = remote::load(&format!("{base}/gone.jpg"), &limits)
        .unwrap_err()
        .to_string();
    assert!(e.contains("404") && e.contains("/gone.jpg"), "{e}");
}

#[test]
fn a_feed_image_url_is_drawn_and_a_bad_one_fails_only_its_story() {
    common::shared_cache();
    let base = serve(Counts::default());
    let rig = common::Rig::start(|_| {});
    let work = rig.work.path();
    let job = common::job_files(
        work,
        "name: photo\noutput: \"photo-{{row}}.jpg\"\nbackground:\n  image:\n    src: \"{{image}}\"\n    fit: cover\nlayers:\n  - text:\n      name: title\n      content: \"{{title}}\"\n      size: 60\n      box: {x: 100, y: 1300, w: 880, h: 200}\n",
        &format!("id,title,image\np1,New roast,{base}/photo.jpg?sig=topsecret\np2,Gone,{base}/gone.jpg?sig=topsecret\n"),
        "",
    );
    let out = rig.run(&["run", &job.display().to_string()]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(rig.sandbox.published().len(), 1, "{text}");
    assert!(
        text.contains("row 2") && text.contains("/gone.jpg") && text.contains("404"),
        "{text}"
    );
    assert!(!text.contains("topsecret"), "{text}");
    let report = std::fs::read_to_string(work.join("out/report.json")).expect("report");
    assert!(!report.contains("topsecret"));
}
