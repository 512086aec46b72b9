//! Uploads → Story media: a file (checked by its content, size-capped
//! before it arrives) becomes a 1080×1920 JPEG at once, or a transcoded
//! MP4 in the background with its progress, each held to the validator's
//! rules; and the drafts' files served back for the preview.

use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::api::{fail, off_thread};
use super::{random_hex, Shared};
use crate::media::{self, MediaKind, Sniffed};
use crate::render::photo::{fit_photo, PhotoFit};
use crate::validate::Finding;
use crate::{assets, render, validate};

/// Where an upload is.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
// Only videos are processed in the background.
#[cfg_attr(not(feature = "video"), allow(dead_code))]
pub enum DraftStatus {
    /// Being transcoded.
    Processing {
        /// Done so far, 0–100.
        percent: u32,
    },
    /// Ready to schedule.
    Ready,
    /// Could not be made into a Story.
    Failed {
        /// Why, in one line.
        error: String,
    },
}

/// An uploaded file made into Story media.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    /// Its id (random hex).
    pub id: String,
    /// Image or video.
    pub kind: MediaKind,
    /// The name it was uploaded as.
    pub name: String,
    /// Where it is.
    #[serde(flatten)]
    pub status: DraftStatus,
    /// The Story files (one, or one per video part).
    #[serde(skip)]
    pub files: Vec<PathBuf>,
    /// How many Story files there are.
    pub parts: usize,
    /// The validator's findings on every file.
    pub findings: Vec<Finding>,
    /// The schedule entries made of it (an upload is scheduled once).
    pub scheduled: Vec<i64>,
}

/// Stores (or replaces) an upload's state.
pub fn set_draft(app: &Shared, d: Draft) {
    if let Ok(mut m) = app.drafts.lock() {
        m.insert(d.id.clone(), d);
    }
}

/// The file stem of an upload's Stories: its name as a slug, then the
/// draft id's first 8 characters (two uploads of `a.png` stay apart).
fn stem(name: &str, id: &str) -> String {
    let base = Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .map(crate::template::vars::slug)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "upload".into());
    format!("{base}-{}", &id[..id.len().min(8)])
}

/// The upload `id`, if this process made it.
pub fn get_draft(app: &Shared, id: &str) -> Option<Draft> {
    app.drafts.lock().ok()?.get(id).cloned()
}

/// The query of an upload.
#[derive(Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
    fit: Option<String>,
    fx: Option<f32>,
    fy: Option<f32>,
}

/// The validator's findings on Story files.
fn check(app: &Shared, files: &[PathBuf]) -> Vec<Finding> {
    let opts = validate::Options::default();
    files
        .iter()
        .flat_map(|f| validate::check_file(f, &app.fonts, None, &opts).findings)
        .collect()
}

/// `POST /api/upload?name=&fit=&fx=&fy=` with the file as the body: an
/// image is fitted to 1080×1920 at once, a video transcoded in the
/// background (`/api/draft/ID` shows progress).
pub async fn upload(
    State(app): State<Shared>,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> Response {
    let name = q.name.unwrap_or_else(|| "upload".into());
    let Some(fit) = PhotoFit::parse(
        q.fit.as_deref().unwrap_or("blur"),
        [q.fx.unwrap_or(0.5), q.fy.unwrap_or(0.5)],
    ) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "fit must be blur, pad, crop or cover",
        );
    };
    if body.is_empty() {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("{name}: the file is empty"),
        );
    }
    let Ok(id) = random_hex() else {
        return fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the OS random source failed",
        );
    };
    let head = &body[..body.len().min(media::SNIFF_LEN)];
    match media::sniff(head) {
        Sniffed::Jpeg | Sniffed::OtherImage(_) => {
            let a = app.clone();
            let done = off_thread(move || image_draft(&a, id, name, &body, fit)).await;
            match done {
                Some(Ok(d)) => Json(d).into_response(),
                Some(Err(e)) => fail(StatusCode::UNPROCESSABLE_ENTITY, e),
                None => fail(StatusCode::INTERNAL_SERVER_ERROR, "the upload could not be processed"),
            }
        }
        Sniffed::Mp4 | Sniffed::OtherVideo(_) => video_draft(app, id, name, body, fit),
        Sniffed::Text | Sniffed::Unknown => fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{name}: not an image or a video (judged by its content); give a JPEG, PNG or WebP image, or a video"),
        ),
    }
}

fn image_draft(
    app: &Shared,
    id: String,
    name: String,
    body: &[u8],
    fit: PhotoFit,
) -> Result<Draft, String> {
    let photo = assets::decode_bytes(body, &name).map_err(|e| e.to_string())?;
    let canvas = fit_photo(&photo, fit);
    let jpeg = render::encode_jpeg(&canvas, 90).map_err(|e| format!("{name}: {e}"))?;
    let path = app.opts.uploads.join(format!("{}.jpg", stem(&name, &id)));
    crate::util::atomic::write_atomic(&path, &jpeg.bytes)
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    let files = vec![path];
    let d = Draft {
        id,
        kind: MediaKind::Image,
        name,
        status: DraftStatus::Ready,
        parts: 1,
        findings: check(app, &files),
        scheduled: Vec::new(),
        files,
    };
    set_draft(app, d.clone());
    Ok(d)
}

#[cfg(feature = "video")]
fn video_draft(app: Shared, id: String, name: String, body: Bytes, fit: PhotoFit) -> Response {
    use crate::video::{transcode, FitMode, TranscodeOptions};
    let fit = match fit {
        PhotoFit::Blur => FitMode::Blur,
        PhotoFit::Pad => FitMode::Pad,
        PhotoFit::Crop | PhotoFit::Cover { .. } => FitMode::Crop,
    };
    let source = app.opts.uploads.join(format!("{id}.source"));
    let draft = Draft {
        id: id.clone(),
        kind: MediaKind::Video,
        name,
        status: DraftStatus::Processing { percent: 0 },
        files: Vec::new(),
        parts: 0,
        findings: Vec::new(),
        scheduled: Vec::new(),
    };
    set_draft(&app, draft.clone());
    let worker = app.clone();
    let name_for_stem = draft.name.clone();
    let transcode = move || {
        let fail_with = |error: String| {
            if let Some(mut d) = get_draft(&worker, &id) {
                d.status = DraftStatus::Failed { error };
                set_draft(&worker, d);
            }
        };
        if let Err(e) = crate::util::atomic::write_atomic(&source, &body) {
            return fail_with(format!("{}: cannot write: {e}", source.display()));
        }
        let opts = TranscodeOptions {
            fit,
            preset: "veryfast".into(),
            ..TranscodeOptions::default()
        };
        let progress = |done: u64, total: u64, _speed: f64| {
            if let Some(mut d) = get_draft(&worker, &id) {
                d.status = DraftStatus::Processing {
                    percent: (done * 100).checked_div(total).unwrap_or(0).min(99) as u32,
                };
                set_draft(&worker, d);
            }
        };
        let stem = stem(&name_for_stem, &id);
        let result =
            transcode::transcode_file_as(&source, &worker.opts.uploads, &stem, &opts, &progress);
        let _ = std::fs::remove_file(&source);
        let Some(mut d) = get_draft(&worker, &id) else {
            return;
        };
        match result {
            Ok(outputs) => {
                d.files = outputs.into_iter().map(|o| o.path).collect();
                d.parts = d.files.len();
                d.findings = check(&worker, &d.files);
                d.status = DraftStatus::Ready;
            }
            Err(e) => {
                d.status = DraftStatus::Failed {
                    error: format!("{}: {e}", d.name),
                }
            }
        }
        set_draft(&worker, d);
    };
    // One transcode at a time (x264 takes every core); the rest wait their turn.
    let gate = app.clone();
    tokio::spawn(async move {
        let _turn = gate.transcodes.acquire().await;
        off_thread(transcode).await;
    });
    (StatusCode::ACCEPTED, Json(draft)).into_response()
}

#[cfg(not(feature = "video"))]
fn video_draft(_: Shared, _: String, name: String, _: Bytes, _: PhotoFit) -> Response {
    fail(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("{name}: this storyforge was built without the video feature"),
    )
}

/// `GET /api/draft/ID`: an upload's state, progress and findings.
pub async fn draft_status(State(app): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    match get_draft(&app, &id) {
        Some(d) => Json(d).into_response(),
        None => fail(StatusCode::NOT_FOUND, "no such upload"),
    }
}

/// A file's bytes with its content type (for previews).
pub async fn send_file(path: &Path) -> Response {
    let Ok(bytes) = tokio::fs::read(path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let kind = MediaKind::sniff(&bytes[..bytes.len().min(media::SNIFF_LEN)])
        .map_or("application/octet-stream", MediaKind::content_type);
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /draft/ID/PART`: an upload's Story file.
pub async fn draft_file(
    State(app): State<Shared>,
    UrlPath((id, part)): UrlPath<(String, usize)>,
) -> Response {
    match get_draft(&app, &id).and_then(|d| d.files.get(part).cloned()) {
        Some(p) => send_file(&p).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
