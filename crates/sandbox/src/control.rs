//! Out-of-process test controls (`/_sandbox/published`, `faults`, `clock`,
//! `calls`) → JSON, and the `/media/{key}` file host over `media_dir`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::state::{rfc3339, CallRecord, Shared};

pub async fn published(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().published.clone()).into_response()
}

pub async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().faults.clone()).into_response()
}

pub async fn set_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<super::Faults>(&body) {
        Ok(f) => {
            shared.lock().faults = f.clone();
            Json(f).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

pub async fn clock(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(secs) = q.get("advance_seconds").and_then(|s| s.parse::<u64>().ok()) else {
        let msg = json!({ "error": "advance_seconds=N (whole seconds) is required" });
        return (StatusCode::BAD_REQUEST, Json(msg)).into_response();
    };
    let mut world = shared.lock();
    world.clock_offset += Duration::from_secs(secs);
    let now = world.now();
    Json(json!({ "now": rfc3339(now), "offset_seconds": world.clock_offset.as_secs() }))
        .into_response()
}

pub async fn calls(State(shared): State<Arc<Shared>>) -> Response {
    let calls: Vec<CallRecord> = shared.lock().calls.iter().cloned().collect();
    Json(calls).into_response()
}

/// `GET|HEAD /media/{key}`: a file under `media_dir` with its Content-Type
/// (by extension) and Content-Length.
pub async fn media_file(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found\n").into_response();
    let Some(dir) = &shared.config.media_dir else {
        return not_found();
    };
    let safe = !key.is_empty()
        && !key.contains('\\')
        && key
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..");
    if !safe {
        return not_found();
    }
    let path = dir.join(&key);
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return not_found();
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let mime = match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    };
    let len = bytes.len();
    let mut r = Response::new(Body::from(bytes));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}
