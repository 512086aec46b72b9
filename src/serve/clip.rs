//! A video template's moving preview on its page: the whole Story at
//! 360×640 and 10 fps, with its sound (see `video::preview`), made on
//! request, kept by the hash of the template and what it was made from,
//! and served as `video/mp4`. A template whose checks fail gets its
//! findings, by name, instead.

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::api::{fail, missing_template, off_thread, previewed, template_path, PreviewRequest};
use super::Shared;
use crate::video::preview::{preview_key, preview_row};
use crate::{assets, story, validate};

/// Preview clips kept (each a few hundred kB).
const KEPT: usize = 8;

/// `POST /api/preview-clip`: the values as for `/api/preview` → the id of
/// the clip (made now unless these inputs made one already).
pub async fn make(State(app): State<Shared>, Json(req): Json<PreviewRequest>) -> Response {
    let Some(path) = template_path(&app, &req.template) else {
        return fail(StatusCode::NOT_FOUND, missing_template(&app, &req.template));
    };
    let a = app.clone();
    let done = off_thread(move || {
        let (t, row, vars, feed_dir) = previewed(&a, &path, req)?;
        if t.video.is_none() {
            return Err(format!(
                "{}: not a video template (no `duration`, `video` background, `audio` or timed layer); its preview is the still picture",
                t.path.display()
            ));
        }
        let cache = assets::AssetCache::new();
        let checked =
            validate::template::render_checked(&t, &vars, feed_dir.as_deref(), &cache, Some(&row));
        let errors: Vec<String> = checked
            .findings
            .iter()
            .filter(|f| f.rule.severity == validate::Severity::Error)
            .map(|f| format!("{}: {}", f.rule.id, f.message))
            .collect();
        if !errors.is_empty() {
            return Err(format!("no preview clip: {}", errors.join("; ")));
        }
        let scene = story::prepare(&t, &vars, feed_dir.as_deref(), &cache)
            .map_err(|e| e.to_string())?;
        let key = preview_key(&t, &scene, &vars, feed_dir.as_deref())?;
        if kept(&a, &key).is_some() {
            return Ok(key);
        }
        let bytes = preview_row(&t, &scene, &vars, feed_dir.as_deref())?;
        if let Ok(mut clips) = a.clips.lock() {
            clips.retain(|(k, _)| *k != key);
            clips.push_back((key.clone(), std::sync::Arc::new(bytes)));
            while clips.len() > KEPT {
                clips.pop_front();
            }
        }
        Ok(key)
    })
    .await;
    match done {
        Some(Ok(id)) => Json(json!({ "id": id })).into_response(),
        Some(Err(e)) => fail(StatusCode::UNPROCESSABLE_ENTITY, e),
        None => fail(StatusCode::INTERNAL_SERVER_ERROR, "the preview clip failed"),
    }
}

fn kept(app: &Shared, key: &str) -> Option<std::sync::Arc<Vec<u8>>> {
    let clips = app.clips.lock().ok()?;
    clips.iter().find(|(k, _)| k == key).map(|(_, b)| b.clone())
}

/// `GET /preview-clip/ID`: a preview clip, as `video/mp4`.
pub async fn file(State(app): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    match kept(&app, &id) {
        Some(b) => ([(header::CONTENT_TYPE, "video/mp4")], b.as_ref().clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
