//! The dashboard's actions and media: an upload (checked by content,
//! size-capped) → a Story fitted or transcoded with the validator's
//! findings; template variables → a preview and findings; a draft or a
//! template Story → schedule entries (published now on request, through the
//! same entry runner as `tick`); cancel, reschedule, publish now, collect
//! insights; thumbnails of queued and published Stories.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{random_hex, Shared};
use crate::feed::{Feed, FeedRow};
use crate::ledger::{ScheduleState, Scheduled};
use crate::media::{self, MediaKind, Sniffed};
use crate::render::photo::{fit_photo, PhotoFit};
use crate::validate::Finding;
use crate::{assets, render, schedule, story, validate};

/// An error reply: status and one line (redacted).
fn fail(status: StatusCode, message: impl AsRef<str>) -> Response {
    let message = crate::util::redact::redact(message.as_ref());
    (status, Json(json!({ "error": message }))).into_response()
}

/// Runs blocking work (FFmpeg, rendering, a whole delivery with its own
/// runtime) on a plain thread and waits for it without blocking the server.
async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.ok()
}

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
}

fn set_draft(app: &Shared, d: Draft) {
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

fn get_draft(app: &Shared, id: &str) -> Option<Draft> {
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
    if let Err(e) = crate::util::atomic::write_atomic(&source, &body) {
        return fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: cannot write: {e}", source.display()),
        );
    }
    let draft = Draft {
        id: id.clone(),
        kind: MediaKind::Video,
        name,
        status: DraftStatus::Processing { percent: 0 },
        files: Vec::new(),
        parts: 0,
        findings: Vec::new(),
    };
    set_draft(&app, draft.clone());
    let worker = app.clone();
    let name_for_stem = draft.name.clone();
    std::thread::spawn(move || {
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
async fn send_file(path: &Path) -> Response {
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

/// A template of the served folder, by file name.
fn template_path(app: &Shared, name: &str) -> Option<PathBuf> {
    super::pages::templates(&app.opts.templates)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p)
}

/// A template preview request.
#[derive(Deserialize)]
pub struct PreviewRequest {
    template: String,
    #[serde(default)]
    vars: crate::template::Variables,
}

/// `POST /api/preview`: the template rendered with these values (as a feed
/// row: data, never expanded), and the findings `validate --data` gives.
pub async fn preview(State(app): State<Shared>, Json(req): Json<PreviewRequest>) -> Response {
    let Some(path) = template_path(&app, &req.template) else {
        return fail(
            StatusCode::NOT_FOUND,
            format!("no template {}", req.template),
        );
    };
    let a = app.clone();
    let done = off_thread(move || {
        let t = crate::template::load(&path, &a.fonts).map_err(|e| e.to_string())?;
        let row = FeedRow {
            index: 1,
            line: None,
            vars: req.vars,
        };
        let vars = story::variables(&t, Some(&row), chrono::Local::now().date_naive());
        let checked =
            validate::template::render_checked(&t, &vars, None, &assets::AssetCache::new(), None);
        Ok::<_, String>(checked)
    })
    .await;
    let checked = match done {
        Some(Ok(c)) => c,
        Some(Err(e)) => return fail(StatusCode::UNPROCESSABLE_ENTITY, e),
        None => return fail(StatusCode::INTERNAL_SERVER_ERROR, "the preview failed"),
    };
    let id = checked.jpeg.and_then(|jpeg| {
        let id = random_hex().ok()?;
        let mut p = app.previews.lock().ok()?;
        p.push_back((id.clone(), jpeg));
        while p.len() > 16 {
            p.pop_front();
        }
        Some(id)
    });
    Json(json!({ "id": id, "findings": checked.findings })).into_response()
}

/// `GET /preview/ID`: a template preview.
pub async fn preview_file(State(app): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    let found = app
        .previews
        .lock()
        .ok()
        .and_then(|p| p.iter().find(|(i, _)| *i == id).map(|(_, b)| b.clone()));
    match found {
        Some(b) => ([(header::CONTENT_TYPE, "image/jpeg")], b).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The query of `/api/feed-row`.
#[derive(Deserialize)]
pub struct FeedRowQuery {
    feed: String,
    row: usize,
}

/// `GET /api/feed-row?feed=&row=`: one row's values, to fill the form.
pub async fn feed_row(Query(q): Query<FeedRowQuery>) -> Response {
    let done = off_thread(move || {
        let feed = Feed::open(Path::new(&q.feed)).map_err(|e| e.to_string())?;
        let mut rows = feed.rows().map_err(|e| e.to_string())?;
        match rows.nth(q.row.max(1) - 1) {
            Some(Ok(r)) => Ok(r.vars),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("{}: no row {}", feed.shown(), q.row)),
        }
    })
    .await;
    match done {
        Some(Ok(vars)) => Json(json!({ "vars": vars })).into_response(),
        Some(Err(e)) => fail(StatusCode::UNPROCESSABLE_ENTITY, e),
        None => fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the feed could not be read",
        ),
    }
}

/// What to schedule: an upload, or a template with a feed row or values.
#[derive(Deserialize)]
pub struct ScheduleRequest {
    draft: Option<String>,
    template: Option<String>,
    #[serde(default)]
    vars: Option<crate::template::Variables>,
    feed: Option<String>,
    row: Option<usize>,
    /// When (RFC 3339); now when `now` is set.
    at: Option<String>,
    #[serde(default)]
    now: bool,
    account: Option<String>,
}

/// A path made absolute against the working directory.
fn absolute(p: &Path) -> String {
    crate::delivery::identity::absolute(p).display().to_string()
}

/// The entries a request asks for (not yet stored).
fn entries(app: &Shared, req: &ScheduleRequest, at: &str) -> Result<Vec<Scheduled>, String> {
    let account = match &req.account {
        Some(a) => Some(app.settings.account_name(Some(a))?),
        None => None,
    };
    let base = Scheduled {
        account,
        at: at.to_string(),
        ..Scheduled::default()
    };
    if let Some(id) = &req.draft {
        let d =
            get_draft(app, id).ok_or("no such upload (it may have been made before a restart)")?;
        if !matches!(d.status, DraftStatus::Ready) {
            return Err(format!("{} is not ready yet", d.name));
        }
        return Ok(d
            .files
            .iter()
            .map(|f| Scheduled {
                file: Some(absolute(f)),
                ..base.clone()
            })
            .collect());
    }
    let name = req
        .template
        .as_deref()
        .ok_or("give an upload or a template")?;
    let template = template_path(app, name).ok_or_else(|| format!("no template {name}"))?;
    let (feed, row) = match (&req.vars, &req.feed) {
        // The values as typed: kept as a one-row feed beside the uploads.
        (Some(vars), _) => {
            let path = app
                .opts
                .uploads
                .join(format!("{}.json", random_hex().map_err(|e| e.to_string())?));
            let text = serde_json::to_vec(&[vars]).map_err(|e| e.to_string())?;
            crate::util::atomic::write_atomic(&path, &text)
                .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
            (absolute(&path), 1)
        }
        (None, Some(feed)) => (absolute(Path::new(feed)), req.row.unwrap_or(1).max(1)),
        (None, None) => return Err("give the template's values or a feed row".into()),
    };
    Ok(vec![Scheduled {
        template: Some(absolute(&template)),
        feed: Some(feed),
        row: Some(row),
        ..base
    }])
}

/// Runs entries now, one after another, as a tick would.
async fn run_now(app: &Shared, ids: Vec<i64>) -> Vec<serde_json::Value> {
    let a = app.clone();
    off_thread(move || {
        let now = chrono::Utc::now();
        ids.into_iter()
            .map(|id| {
                let ledger = a.ledger();
                let entry = ledger.schedule_entry(id).ok().flatten();
                drop(ledger);
                let Some(s) = entry.filter(|s| s.state == ScheduleState::Pending) else {
                    return json!({ "id": id, "state": "skipped", "result": "not pending any more" });
                };
                // The entry runner opens the ledger itself; ours is not held meanwhile.
                match crate::ledger::Ledger::open(&a.settings.ledger)
                    .and_then(|l| schedule::run_entry(&a.settings, &l, &s, &a.opts.out, now))
                {
                    Ok((state, text)) => json!({ "id": id, "state": state, "result": crate::util::redact::redact(&text) }),
                    Err(e) => json!({ "id": id, "state": "failed", "result": crate::util::redact::redact(&e.to_string()) }),
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// `POST /api/schedule`: stores the entries; with `now`, publishes them at
/// once.
pub async fn schedule(State(app): State<Shared>, Json(req): Json<ScheduleRequest>) -> Response {
    let at = if req.now {
        chrono::Utc::now()
    } else {
        match req
            .at
            .as_deref()
            .and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok())
        {
            Some(t) => t.with_timezone(&chrono::Utc),
            None => return fail(StatusCode::BAD_REQUEST, "pick a date and time"),
        }
    };
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let list = match entries(&app, &req, &at) {
        Ok(l) => l,
        Err(e) => return fail(StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    let mut ids = Vec::new();
    for e in &list {
        match app.ledger().add_schedule(e) {
            Ok(id) => ids.push(id),
            Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    let results = if req.now {
        run_now(&app, ids.clone()).await
    } else {
        Vec::new()
    };
    Json(json!({ "ids": ids, "at": at, "results": results })).into_response()
}

/// `POST /api/schedule/ID/cancel`.
pub async fn cancel(State(app): State<Shared>, UrlPath(id): UrlPath<i64>) -> Response {
    match app.ledger().cancel_schedule(id) {
        Ok(true) => Json(json!({ "id": id, "state": "cancelled" })).into_response(),
        Ok(false) => fail(
            StatusCode::CONFLICT,
            format!("#{id} is not pending (already done, failed or cancelled)"),
        ),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The body of a reschedule.
#[derive(Deserialize)]
pub struct RescheduleRequest {
    at: String,
}

/// `POST /api/schedule/ID/reschedule` with `{"at": RFC 3339}`.
pub async fn reschedule(
    State(app): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Json(req): Json<RescheduleRequest>,
) -> Response {
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(&req.at) else {
        return fail(StatusCode::BAD_REQUEST, "pick a date and time");
    };
    let at = at
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match app.ledger().reschedule(id, &at) {
        Ok(true) => Json(json!({ "id": id, "at": at })).into_response(),
        Ok(false) => fail(
            StatusCode::CONFLICT,
            format!("#{id} is done or cancelled and cannot move"),
        ),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `POST /api/schedule/ID/publish`: moves it to now and runs it.
pub async fn publish_now(State(app): State<Shared>, UrlPath(id): UrlPath<i64>) -> Response {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match app.ledger().reschedule(id, &now) {
        Ok(true) => {}
        Ok(false) => return fail(StatusCode::CONFLICT, format!("#{id} is done or cancelled")),
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let results = run_now(&app, vec![id]).await;
    Json(json!({ "results": results })).into_response()
}

/// What a collection did: counts and problems (redacted).
#[derive(Default, Serialize)]
struct Collection {
    collected: usize,
    no_data_yet: usize,
    errors: Vec<String>,
}

/// Every account's live Stories without insights → their insights, on
/// this thread (the ledger connection stays on it).
fn collect_all(app: &Shared) -> Result<Collection, String> {
    let s = &app.settings;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("the async runtime: {e}"))?;
    let client = crate::publish::graph::GraphClient::new(
        &s.graph.base_url,
        &s.graph.version,
        crate::publish::secs(s.graph.timeout),
    )
    .map_err(|e| e.to_string())?;
    let ledger = crate::ledger::Ledger::open(&s.ledger).map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    let mut out = Collection::default();
    for name in s.account_names() {
        let account = match s.load_account(&name) {
            Ok(a) => a,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        match rt.block_on(crate::publish::insights::collect(
            &client, &ledger, &account, now, true,
        )) {
            Ok(got) => {
                for c in got {
                    match c.result {
                        Ok(_) if c.no_data_yet => out.no_data_yet += 1,
                        Ok(_) => out.collected += 1,
                        Err(e) => out.errors.push(format!("{}: {e}", c.media_id)),
                    }
                }
            }
            Err(e) => out.errors.push(e.to_string()),
        }
    }
    out.errors = out
        .errors
        .iter()
        .map(|e| crate::util::redact::redact(e))
        .collect();
    Ok(out)
}

/// `POST /api/insights/collect`: every live Story's insights now.
pub async fn collect(State(app): State<Shared>) -> Response {
    let a = app.clone();
    match off_thread(move || collect_all(&a)).await {
        Some(Ok(c)) => Json(c).into_response(),
        Some(Err(e)) => fail(StatusCode::INTERNAL_SERVER_ERROR, e),
        None => fail(StatusCode::INTERNAL_SERVER_ERROR, "the collection failed"),
    }
}

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

/// Publishes what is due every `every`, as `tick` does.
pub async fn ticker(app: Arc<super::App>, every: std::time::Duration) {
    loop {
        tokio::time::sleep(every).await;
        let a = app.clone();
        let report =
            off_thread(move || schedule::tick(&a.settings, &a.opts.out, chrono::Utc::now())).await;
        if let Some(Err(e)) = report {
            tracing::warn!("serve: tick failed: {e}");
        }
    }
}
