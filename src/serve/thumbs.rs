//! Queued and published Stories → small JPEG thumbnails (a template entry
//! is rendered from its feed row; a video gets a play symbol), made once
//! per entry and kept in memory.

use std::path::Path;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::api::off_thread;
use super::Shared;
use crate::feed::Feed;
use crate::ledger::Scheduled;
use crate::media::{self, MediaKind};
use crate::{assets, render, story};

/// A small JPEG of a Story canvas or picture (180×320 box).
fn thumbnail(img: &image::RgbaImage) -> Option<Vec<u8>> {
    let (small, at) =
        render::compose::fit_image(img, 180, 320, crate::template::Fit::Contain, [0.5, 0.5]);
    let mut canvas = image::RgbImage::new(180, 320);
    render::compose::blend_image(&mut canvas, &small, at, 1.0, None);
    render::encode_jpeg(&canvas, 80).ok().map(|j| j.bytes)
}

/// The picture shown for a video (no frame is decoded for a thumbnail).
const VIDEO_THUMB: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 90 160\"><rect width=\"90\" height=\"160\" fill=\"#222\"/><path d=\"M35 62 L60 80 L35 98 Z\" fill=\"#fff\"/></svg>";

/// A thumbnail reply, made once per key.
async fn thumb(
    app: &Shared,
    key: String,
    make: impl FnOnce() -> Option<ThumbSource> + Send + 'static,
) -> Response {
    if let Some(b) = app.thumbs.lock().ok().and_then(|t| t.get(&key).cloned()) {
        return ([(header::CONTENT_TYPE, "image/jpeg")], b).into_response();
    }
    let made = off_thread(move || {
        match make()? {
            ThumbSource::Video => None,
            ThumbSource::Picture(img) => thumbnail(&img).map(ThumbBytes::Jpeg),
        }
        .or(Some(ThumbBytes::Video))
    })
    .await
    .flatten();
    match made {
        Some(ThumbBytes::Jpeg(b)) => {
            if let Ok(mut t) = app.thumbs.lock() {
                t.insert(key, b.clone());
            }
            ([(header::CONTENT_TYPE, "image/jpeg")], b).into_response()
        }
        _ => ([(header::CONTENT_TYPE, "image/svg+xml")], VIDEO_THUMB).into_response(),
    }
}

enum ThumbSource {
    Picture(image::RgbaImage),
    Video,
}

enum ThumbBytes {
    Jpeg(Vec<u8>),
    Video,
}

/// A Story file's picture (a video has none).
fn file_picture(path: &Path) -> Option<ThumbSource> {
    let bytes = std::fs::read(path).ok()?;
    match MediaKind::sniff(&bytes[..bytes.len().min(media::SNIFF_LEN)])? {
        MediaKind::Video => Some(ThumbSource::Video),
        MediaKind::Image => assets::decode_bytes(&bytes, &path.display().to_string())
            .ok()
            .map(ThumbSource::Picture),
    }
}

/// A template Story's picture: its feed row rendered.
fn template_picture(app: &Shared, s: &Scheduled) -> Option<ThumbSource> {
    let t = crate::template::load(Path::new(s.template.as_deref()?), &app.fonts).ok()?;
    let feed = match &s.feed {
        Some(f) => Some(Feed::open(Path::new(f)).ok()?),
        None => None,
    };
    let row = match &feed {
        Some(f) => Some(f.rows().ok()?.nth(s.row.unwrap_or(1).max(1) - 1)?.ok()?),
        None => None,
    };
    let vars = story::variables(&t, row.as_ref(), chrono::Local::now().date_naive());
    let scene = story::prepare(
        &t,
        &vars,
        feed.as_ref().map(Feed::dir),
        &assets::AssetCache::new(),
    )
    .ok()?;
    let canvas = render::draw(&scene);
    Some(ThumbSource::Picture(
        image::DynamicImage::ImageRgb8(canvas).to_rgba8(),
    ))
}

/// `GET /thumb/schedule/ID`: a queued Story's thumbnail.
pub async fn schedule_thumb(State(app): State<Shared>, UrlPath(id): UrlPath<i64>) -> Response {
    let Some(s) = app.ledger().schedule_entry(id).ok().flatten() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let a = app.clone();
    thumb(&app, format!("schedule:{id}:{}", s.at), move || {
        match &s.file {
            Some(f) => file_picture(Path::new(f)),
            None => template_picture(&a, &s),
        }
    })
    .await
}

/// `GET /thumb/story/ID`: a published Story's thumbnail (its output file).
pub async fn story_thumb(State(app): State<Shared>, UrlPath(id): UrlPath<i64>) -> Response {
    let Some(path) = app.ledger().get(id).ok().and_then(|a| a.output_path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    thumb(&app, format!("story:{id}"), move || {
        file_picture(Path::new(&path))
    })
    .await
}
