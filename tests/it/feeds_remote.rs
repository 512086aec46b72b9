//! Feeds from HTTP(S): CSV with ETag revalidation (a 304 reuses the cached
//! copy), a JSON API response with a `#/pointer`, RSS items as rows, and a
//! clear error on bad content; bodies, item counts and field lengths
//! capped with errors that name the (redacted) URL and the limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use storyforge::feed::{Feed, FeedLimits};

fn cache() {
    crate::common::shared_cache();
}

const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Blog</title>
<item><title>New roast</title><link>https://example.com/roast</link><description>A washed Ethiopian.</description><pubDate>Mon, 30 Nov 2026 08:00:00 GMT</pubDate><media:content url="https://example.com/roast.jpg" medium="image"/></item>
<item><title>Opening hours</title><link>https://example.com/hours</link><description>Open late on Fridays.</description><pubDate>Tue, 01 Dec 2026 08:00:00 GMT</pubDate></item>
</channel></rss>"#;

fn serve(hits: Arc<AtomicUsize>, not_modified: Arc<AtomicUsize>) -> String {
    let base = crate::common::serve_loopback(move |_| {
        let csv = move |headers: HeaderMap| {
            let (hits, nm) = (hits.clone(), not_modified.clone());
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                if headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    == Some("\"v1\"")
                {
                    nm.fetch_add(1, Ordering::SeqCst);
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                (
                    [(header::CONTENT_TYPE, "text/csv"), (header::ETAG, "\"v1\"")],
                    "title,price\nLatte,3.50\nMocha,4.00\n",
                )
                    .into_response()
            }
        };
        let app = axum::Router::new()
                .route("/menu.csv", get(csv))
                .route(
                    "/api",
                    get(|| async {
                        (
                            [(header::CONTENT_TYPE, "application/json")],
                            r#"{"data":{"items":[{"quote":"Less is more"},{"quote":"Ship it"}]}}"#,
                        )
                    }),
                )
                .route(
                    "/blog",
                    get(|| async { ([(header::CONTENT_TYPE, "application/rss+xml")], RSS) }),
                )
                .route(
                    "/big.csv",
                    get(|| async {
                        let mut body = String::from("title\n");
                        for i in 0..20_000 {
                            body.push_str(&format!("row {i}\n"));
                        }
                        ([(header::CONTENT_TYPE, "text/csv")], body)
                    }),
                )
                .route(
                    "/many.json",
                    get(|| async {
                        let items: Vec<_> = (0..50).map(|i| serde_json::json!({"n": i})).collect();
                        axum::Json(items)
                    }),
                )
                .route(
                    "/long.rss",
                    get(|| async {
                        let title = "t".repeat(5_000);
                        let rss = format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>x</title><item><title>{title}</title><link>https://e.com/a</link></item></channel></rss>");
                        ([(header::CONTENT_TYPE, "application/rss+xml")], rss)
                    }),
                )
                .route(
                    "/broken",
                    get(|| async {
                        (
                            [(header::CONTENT_TYPE, "application/octet-stream")],
                            vec![0u8, 159, 146, 150],
                        )
                    }),
                );
        app
    });
    base
}

fn rows(url: &str) -> Vec<storyforge::feed::FeedRow> {
    crate::common::feed_rows(&std::path::PathBuf::from(url).into())
}

#[test]
fn remote_feeds_csv_json_pointer_rss_and_errors() {
    cache();
    let (hits, nm) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let base = serve(hits.clone(), nm.clone());
    let menu = rows(&format!("{base}/menu.csv"));
    assert_eq!(menu.len(), 2);
    assert_eq!(menu[1].vars["title"], "Mocha");
    // Again: revalidated with the ETag, answered 304, read from the cache.
    let again = rows(&format!("{base}/menu.csv"));
    assert_eq!(again, menu);
    assert_eq!(
        (hits.load(Ordering::SeqCst), nm.load(Ordering::SeqCst)),
        (2, 1)
    );
    let quotes = rows(&format!("{base}/api#/data/items"));
    assert_eq!(quotes.len(), 2);
    assert_eq!(quotes[0].vars["quote"], "Less is more");
    let posts = rows(&format!("{base}/blog"));
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].vars["title"], "New roast");
    assert_eq!(posts[0].vars["link"], "https://example.com/roast");
    assert_eq!(posts[0].vars["date"], "2026-11-30");
    assert_eq!(posts[0].vars["image"], "https://example.com/roast.jpg");
    assert!(posts[1].vars["summary"].contains("Fridays"));
    let err = Feed::open(std::path::Path::new(&format!("{base}/broken")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/broken") && err.contains("not CSV, JSON, YAML, RSS or Atom"),
        "{err}"
    );
    let missing = Feed::open(std::path::Path::new(&format!("{base}/nope.csv")))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("HTTP 404"), "{missing}");
    let pointer = Feed::open(std::path::Path::new(&format!("{base}/api#/data/nothing")))
        .unwrap_err()
        .to_string();
    assert!(pointer.contains("nothing at pointer"), "{pointer}");
}

/// Caps: the body (streamed, refused past the limit), the item count and
/// every field's length (an RSS title too), each error naming the feed URL
/// with its userinfo and query values masked, the limit and what to do.
#[test]
fn remote_feeds_are_capped_and_their_urls_redacted() {
    cache();
    let base = serve(Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let with_secrets =
        |path: &str| base.replace("http://", "http://ann:pa55word@") + path + "?key=S3CR3T&page=2";
    let limits = FeedLimits {
        max_bytes: 10_000,
        max_items: 10,
        max_field_chars: 1_000,
    };
    let open = |path: &str| Feed::open_with(std::path::Path::new(&with_secrets(path)), limits);
    let shown = base.replace("http://", "http://ann:***@");
    let big = open("/big.csv")
        .expect_err("over the byte limit")
        .to_string();
    assert_eq!(
        big,
        format!("{shown}/big.csv?key=***&page=***: the feed is over the 10000 byte limit; trim it or split it, or raise STORYFORGE_FEED_MAX_BYTES")
    );
    let many = open("/many.json")
        .expect("under the byte limit")
        .rows()
        .err()
        .expect("over the item limit")
        .to_string();
    assert_eq!(
        many,
        format!("{shown}/many.json?key=***&page=***: the feed has more than 10 rows (the limit); split it, pick rows, or raise STORYFORGE_FEED_MAX_ITEMS")
    );
    let rows: Vec<_> = open("/long.rss")
        .expect("opens")
        .rows()
        .expect("rows")
        .collect();
    let long = rows[0].as_ref().expect_err("title too long").to_string();
    assert_eq!(
        long,
        format!("{shown}/long.rss?key=***&page=*** row 1: `title` is 5000 characters, over the 1000 character limit; shorten it, or raise STORYFORGE_FEED_MAX_FIELD_CHARS")
    );
    for e in [&big, &many, &long] {
        assert!(!e.contains("S3CR3T") && !e.contains("pa55word"), "{e}");
    }
}
