//! The dashboard's actions: template variables → a preview and the
//! findings of `validate --data`; an upload or a template Story → schedule
//! entries (published now on request, through the same entry runner as
//! `tick`); cancel, reschedule, publish now; collect insights; and the
//! in-process tick.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::drafts::{get_draft, set_draft, DraftStatus};
use super::{random_hex, Shared};
use crate::feed::{Feed, FeedRow};
use crate::ledger::Scheduled;
use crate::{assets, schedule, story, validate};

/// An error reply: status and one line (redacted).
pub fn fail(status: StatusCode, message: impl AsRef<str>) -> Response {
    let message = crate::util::redact::redact(message.as_ref());
    (status, Json(json!({ "error": message }))).into_response()
}

/// Blocking work (rendering, FFmpeg, a whole delivery with its own
/// runtime) at once: as many as the machine has cores, the rest wait.
static WORKERS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Runs blocking work on a plain thread, when a worker is free, and waits
/// for it without blocking the server.
pub async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _worker = WORKERS.acquire().await.ok()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.ok()
}

/// The error for a template name the served folder does not hold.
pub(super) fn missing_template(app: &Shared, name: &str) -> String {
    format!(
        "{}: no template {name} there; pick one of the list (serve offers the *.yaml files of --templates DIR)",
        app.opts.templates.display()
    )
}

/// A template of the served folder, by file name.
pub(super) fn template_path(app: &Shared, name: &str) -> Option<PathBuf> {
    super::pages::templates(&app.opts.templates)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p)
}

/// A template preview request: the values, and the feed they were loaded
/// from, if they are a feed row's.
#[derive(Deserialize)]
pub struct PreviewRequest {
    pub(super) template: String,
    #[serde(default)]
    vars: crate::template::Variables,
    feed: Option<String>,
    row: Option<usize>,
    /// For a video template: the second of its poster frame. Default: 1 s.
    #[serde(default)]
    #[cfg_attr(not(feature = "video"), allow(dead_code))]
    at: Option<f64>,
}

/// `POST /api/preview`: the template rendered with these values (as a feed
/// row: data, never expanded), and the findings `validate --data` gives.
pub async fn preview(State(app): State<Shared>, Json(req): Json<PreviewRequest>) -> Response {
    let Some(path) = template_path(&app, &req.template) else {
        return fail(StatusCode::NOT_FOUND, missing_template(&app, &req.template));
    };
    let a = app.clone();
    let done = off_thread(move || {
        #[cfg(feature = "video")]
        let at = req.at;
        let (t, row, vars, feed_dir) = previewed(&a, &path, req)?;
        let checked = validate::template::render_checked(
            &t,
            &vars,
            feed_dir.as_deref(),
            &assets::AssetCache::new(),
            Some(&row),
        );
        #[cfg(feature = "video")]
        let checked = poster(&t, &vars, feed_dir.as_deref(), at, checked);
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

/// What a preview request names: the template (loaded), its feed row, the
/// values as the Story would have them, and where the files they name are.
pub(super) type Previewed = (
    crate::template::Template,
    FeedRow,
    crate::template::Variables,
    Option<PathBuf>,
);

/// Loads what `req` asks to preview, with `path` its template's file.
pub(super) fn previewed(
    app: &Shared,
    path: &Path,
    req: PreviewRequest,
) -> Result<Previewed, String> {
    let t = crate::template::load(path, &app.fonts).map_err(|e| e.to_string())?;
    let row = FeedRow {
        index: req.row.unwrap_or(1).max(1),
        line: None,
        vars: req.vars,
    };
    // Images the values name resolve where the scheduled Story's will:
    // beside the feed row's feed, or beside the typed values' feed.
    let feed_dir = match req.feed.as_deref().filter(|f| !crate::delivery::is_url(f)) {
        Some(f) => Path::new(f).parent().map(Path::to_path_buf),
        None => Some(app.opts.uploads.clone()),
    };
    let vars = story::variables(&t, Some(&row), chrono::Local::now().date_naive());
    Ok((t, row, vars, feed_dir))
}

/// A video template's preview is its poster frame at `at` seconds (the
/// still render stays when the poster cannot be drawn; the findings say why).
#[cfg(feature = "video")]
fn poster(
    t: &crate::template::Template,
    vars: &crate::template::Variables,
    feed_dir: Option<&Path>,
    at: Option<f64>,
    mut checked: validate::template::Checked,
) -> validate::template::Checked {
    if t.video.is_none() || checked.jpeg.is_none() {
        return checked;
    }
    let Ok(scene) = story::prepare(t, vars, feed_dir, &assets::AssetCache::new()) else {
        return checked;
    };
    let at = at.unwrap_or(1.0);
    let frame = crate::video::story::poster_row(t, &scene, vars, feed_dir, at);
    if let Ok(jpeg) =
        frame.and_then(|f| crate::render::encode_jpeg(&f, t.quality).map_err(|e| e.to_string()))
    {
        checked.jpeg = Some(jpeg.bytes);
    }
    checked
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
    /// Or when as a wall-clock time (`2026-12-08T09:00`) in the account's zone.
    local: Option<String>,
    #[serde(default)]
    now: bool,
    account: Option<String>,
}

/// A path made absolute against the working directory; a feed URL kept
/// as it is.
fn absolute(p: &Path) -> String {
    let shown = p.display().to_string();
    if crate::delivery::is_url(&shown) {
        return shown;
    }
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
        if let Some(first) = d.scheduled.first() {
            return Err(format!(
                "{} is already scheduled as #{first}; move it in the queue, or upload it again to schedule it twice",
                d.name
            ));
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
    let template = template_path(app, name).ok_or_else(|| missing_template(app, name))?;
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
        // The entry runner's own connection: ours is not held meanwhile.
        let ledger = match crate::ledger::Ledger::open(&a.settings.ledger) {
            Ok(l) => l,
            Err(e) => return vec![json!({ "state": "failed", "result": crate::util::redact::redact(&e.to_string()) })],
        };
        ids.into_iter()
            .map(|id| {
                let result = ledger.schedule_entry(id).and_then(|entry| match entry {
                    Some(s) => schedule::run_entry(&a.settings, &ledger, &s, &a.opts.out, now),
                    None => Ok(None),
                });
                match result {
                    Ok(Some((state, text))) => json!({ "id": id, "state": state, "result": crate::util::redact::redact(&text) }),
                    Ok(None) => json!({ "id": id, "state": "skipped", "result": "not pending: another run has it, or it was done, moved or cancelled" }),
                    Err(e) => json!({ "id": id, "state": "failed", "result": crate::util::redact::redact(&e.to_string()) }),
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// A form's wall-clock time in `account`'s zone → the instant.
fn local_time(
    app: &Shared,
    account: Option<&str>,
    local: &str,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let zone = app
        .settings
        .account_zone(&app.settings.account_name(account)?);
    let t = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
        .map_err(|_| format!("`{local}`: pick a date and time"))?;
    crate::util::zone::to_utc(zone, t)
}

/// The time a form asked for: `local` (a wall-clock time in `account`'s
/// zone) or `at` (RFC 3339); else the status and reason to refuse with.
fn asked_time(
    app: &Shared,
    account: Option<&str>,
    local: Option<&str>,
    at: Option<&str>,
) -> Result<chrono::DateTime<chrono::Utc>, (StatusCode, String)> {
    if let Some(local) = local {
        return local_time(app, account, local).map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e));
    }
    at.and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| (StatusCode::BAD_REQUEST, "pick a date and time".into()))
}

/// `POST /api/schedule`: stores the entries; with `now`, publishes them at
/// once.
pub async fn schedule(State(app): State<Shared>, Json(req): Json<ScheduleRequest>) -> Response {
    let at = if req.now {
        chrono::Utc::now()
    } else {
        match asked_time(
            &app,
            req.account.as_deref(),
            req.local.as_deref(),
            req.at.as_deref(),
        ) {
            Ok(t) => t,
            Err((status, why)) => return fail(status, why),
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
    if let Some(mut d) = req.draft.as_deref().and_then(|id| get_draft(&app, id)) {
        d.scheduled.clone_from(&ids);
        set_draft(&app, d);
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
    #[serde(default)]
    at: Option<String>,
    /// Or a wall-clock `YYYY-MM-DDTHH:MM` in the entry's account's zone.
    #[serde(default)]
    local: Option<String>,
}

/// `POST /api/schedule/ID/reschedule` with `{"at": RFC 3339}` or
/// `{"local": "YYYY-MM-DDTHH:MM"}` (the entry's account's zone).
pub async fn reschedule(
    State(app): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Json(req): Json<RescheduleRequest>,
) -> Response {
    // A wall-clock time is read in the entry's account's zone.
    let account = match req.local.as_ref().map(|_| app.ledger().schedule_entry(id)) {
        Some(Ok(e)) => e.and_then(|e| e.account),
        Some(Err(e)) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        None => None,
    };
    let at = match asked_time(
        &app,
        account.as_deref(),
        req.local.as_deref(),
        req.at.as_deref(),
    ) {
        Ok(t) => t,
        Err((status, why)) => return fail(status, why),
    };
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
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
        Ok(false) => {
            return fail(
                StatusCode::CONFLICT,
                format!("#{id} is being published now, done or cancelled"),
            )
        }
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let results = run_now(&app, vec![id]).await;
    Json(json!({ "results": results })).into_response()
}

/// Every account's live Stories → their insights now, on this thread (the
/// ledger connection stays on it).
fn collect_all(app: &Shared) -> Result<crate::publish::insights::Tally, String> {
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
    let mut tally = crate::publish::insights::Tally::default();
    for name in s.account_names() {
        let got = s.load_account(&name).and_then(|account| {
            rt.block_on(crate::publish::insights::collect(
                &client, &ledger, &account, now, true,
            ))
            .map_err(|e| e.to_string())
        });
        match got {
            Ok(got) => tally.add(&got),
            Err(e) => tally.errors.push(e),
        }
    }
    tally.errors = tally
        .errors
        .iter()
        .map(|e| crate::util::redact::redact(e))
        .collect();
    Ok(tally)
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
