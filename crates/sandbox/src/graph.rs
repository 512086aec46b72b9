//! Content publishing endpoints: create a Story container (images fetched
//! and checked at once, videos in the background), read a container's or
//! Story's fields, publish exactly once within the quota, the publishing
//! limit and the live Stories list.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use storyforge_base::spec;

use super::errors::GraphError;
use super::fetch::{fetch, process_video, sha256_hex};
use super::image_check::{check_story_image, ImageProblem};
use super::oauth::require_professional;
use super::server::{Auth, Reply, Req};
use super::state::{
    graph_time, rfc3339, Container, MediaKind, PublishRecord, Shared, Status, Story,
};

const PUBLISH_SCOPE: &str = "instagram_business_content_publish";

/// The `fields` parameter, each checked against `allowed`.
pub fn requested_fields(
    req: &Req,
    allowed: &[&str],
    node: &str,
) -> Result<Vec<String>, GraphError> {
    let mut out = Vec::new();
    for f in req
        .param("fields")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        if !allowed.contains(&f) {
            return Err(GraphError::nonexisting_field(f, node));
        }
        out.push(f.to_string());
    }
    Ok(out)
}

fn own_account(auth: &Auth, method: &str, id: &str) -> Result<(), GraphError> {
    if auth.account_id == id {
        Ok(())
    } else {
        Err(GraphError::unsupported(method, id))
    }
}

fn lifetime(shared: &Shared) -> Duration {
    Duration::from_secs(shared.config.lifetime_secs)
}

/// `POST /{ig-user-id}/media` with `media_type=STORIES` and one of
/// `image_url` / `video_url`.
pub async fn create_container(
    shared: &Arc<Shared>,
    req: &Req,
    auth: &Auth,
    id: &str,
) -> Result<Reply, GraphError> {
    own_account(auth, "post", id)?;
    require_professional(shared, auth)?;
    auth.require(PUBLISH_SCOPE)?;
    match req.param("media_type") {
        Some("STORIES") => {}
        Some(other) => {
            return Err(GraphError::invalid_parameter(format!(
                "media_type {other} is not supported by the sandbox: use media_type=STORIES"
            )))
        }
        None => {
            return Err(GraphError::invalid_parameter(
                "The parameter media_type is required (STORIES)",
            ))
        }
    }
    let (kind, url) = match (req.param("image_url"), req.param("video_url")) {
        (Some(u), None) => (MediaKind::Image, u.to_string()),
        (None, Some(u)) => (MediaKind::Video, u.to_string()),
        (Some(_), Some(_)) => {
            return Err(GraphError::invalid_parameter(
                "Only one of image_url and video_url may be set",
            ))
        }
        (None, None) => {
            return Err(GraphError::invalid_parameter(
                "The parameter image_url or video_url is required",
            ))
        }
    };
    let user_tags = match req.param("user_tags") {
        Some(tags) => user_tags(tags)?,
        None => Vec::new(),
    };
    let shown_url = {
        let world = shared.lock();
        shared.redact(&world, &url)
    };
    let outcome = match kind {
        MediaKind::Image => {
            let fetched = fetch(shared, &url).await.map_err(|why| {
                tracing::info!("image fetch failed: {why}");
                GraphError::media_fetch_failed(&shown_url)
            })?;
            if !fetched.content_type.starts_with("image/") {
                tracing::info!("image served as {:?}", fetched.content_type);
                return Err(GraphError::media_fetch_failed(&shown_url));
            }
            check_story_image(&fetched.bytes).map_err(|p| match p {
                ImageProblem::Format(what) => GraphError::image_format(what),
                ImageProblem::TooLarge(n) => GraphError::image_too_large(n),
                ImageProblem::AspectRatio(w, h) => GraphError::aspect_ratio(w, h),
            })?;
            Some(Ok(sha256_hex(&fetched.bytes)))
        }
        MediaKind::Video => None,
    };
    check_container_cap(shared, auth)?;
    let delay = shared.config.processing_ms(kind, &url);
    let container_id = {
        let mut world = shared.lock();
        let now = world.now();
        let cid = world.next_id();
        world.containers.insert(
            cid.clone(),
            Container {
                account_id: auth.account_id.clone(),
                kind,
                media_url: url.clone(),
                created: now,
                ready_at: now + Duration::from_millis(delay),
                processing_ms: delay,
                outcome,
                published_as: None,
                user_tags,
                publish_attempts: 0,
            },
        );
        cid
    };
    if kind == MediaKind::Video {
        process_video(shared.clone(), container_id.clone(), url);
    }
    Ok(Reply::Json(json!({ "id": container_id })))
}

/// The usernames of a `user_tags` parameter, refused as the API refuses
/// them: not a JSON array of objects with a `username`, a username that
/// is not one, `x`/`y` (optional for Stories) outside 0–1, or more than
/// [`spec::MAX_USER_TAGS`] tags.
fn user_tags(param: &str) -> Result<Vec<String>, GraphError> {
    let bad = |why: String| GraphError::invalid_parameter(format!("Invalid user_tags: {why}"));
    let list: Vec<serde_json::Value> = serde_json::from_str(param)
        .map_err(|_| bad("must be a JSON array of {\"username\": …} objects".into()))?;
    if list.len() > spec::MAX_USER_TAGS {
        return Err(bad(format!("at most {} tags", spec::MAX_USER_TAGS)));
    }
    list.iter()
        .map(|t| {
            let name = t
                .get("username")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| bad("each tag needs a username".into()))?;
            if let Some(why) = spec::username_problem(name) {
                return Err(bad(format!("{name:?}: {why}")));
            }
            for axis in ["x", "y"] {
                if let Some(v) = t.get(axis) {
                    if !v.as_f64().is_some_and(|f| (0.0..=1.0).contains(&f)) {
                        return Err(bad(format!("{axis} must be a number from 0 to 1")));
                    }
                }
            }
            Ok(name.to_string())
        })
        .collect()
}

/// `POST /{ig-user-id}/media_publish` with `creation_id`.
pub fn publish(shared: &Shared, req: &Req, auth: &Auth, id: &str) -> Result<Reply, GraphError> {
    own_account(auth, "post", id)?;
    require_professional(shared, auth)?;
    auth.require(PUBLISH_SCOPE)?;
    let cid = req
        .param("creation_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| GraphError::invalid_parameter("The parameter creation_id is required"))?;
    let life = lifetime(shared);
    let window = Duration::from_secs(shared.config.quota_duration_secs);
    let mut world = shared.lock();
    let now = world.now();
    let Some(container) = world.containers.get(cid).cloned() else {
        return Err(GraphError::container_not_found(cid));
    };
    if container.account_id != auth.account_id {
        return Err(GraphError::foreign_container(cid));
    }
    match world.status(&container, now, life) {
        Status::Published => {
            let media = container.published_as.unwrap_or_default();
            return Err(GraphError::already_published(&media));
        }
        Status::Expired => return Err(GraphError::container_expired()),
        Status::InProgress | Status::Error(_) => {
            bump_attempts(&mut world, cid);
            return Err(GraphError::not_ready());
        }
        Status::Finished => {}
    }
    if container.publish_attempts == 0 && world.faults.spurious_9007 > 0 {
        world.faults.spurious_9007 -= 1;
        bump_attempts(&mut world, cid);
        return Err(GraphError::not_ready());
    }
    if world.quota_usage(&auth.account_id, now, window) >= shared.config.quota_total {
        return Err(GraphError::quota_reached());
    }
    let media_id = world.next_id();
    if let Some(c) = world.containers.get_mut(cid) {
        c.published_as = Some(media_id.clone());
        c.publish_attempts += 1;
    }
    world.stories.insert(
        media_id.clone(),
        Story {
            account_id: auth.account_id.clone(),
            kind: container.kind,
            media_url: container.media_url.clone(),
            published: now,
        },
    );
    let sha = match &container.outcome {
        Some(Ok(sha)) => sha.clone(),
        _ => String::new(),
    };
    world.published.push(PublishRecord {
        account_id: auth.account_id.clone(),
        container_id: cid.to_string(),
        media_id: media_id.clone(),
        media_type: container.kind.as_str().to_string(),
        media_url: container.media_url,
        media_sha256: sha,
        published_at: rfc3339(now),
        user_tags: container.user_tags.clone(),
        processing_ms: container.processing_ms,
    });
    if world.faults.drop_publish_reply > 0 {
        world.faults.drop_publish_reply -= 1;
        req.kill.store(true, Ordering::SeqCst);
        tracing::info!(media = %media_id, "publish took effect; dropping the reply (fault)");
    }
    if world.faults.already_published_reply > 0 {
        world.faults.already_published_reply -= 1;
        tracing::info!(media = %media_id, "publish took effect; answering 'already published' (fault)");
        return Err(GraphError::already_published(&media_id));
    }
    Ok(Reply::Json(json!({ "id": media_id })))
}

fn bump_attempts(world: &mut super::state::World, cid: &str) {
    if let Some(c) = world.containers.get_mut(cid) {
        c.publish_attempts += 1;
    }
}

/// `GET /{ig-user-id}/content_publishing_limit?fields=config,quota_usage`.
pub fn publishing_limit(
    shared: &Shared,
    req: &Req,
    auth: &Auth,
    id: &str,
) -> Result<Reply, GraphError> {
    own_account(auth, "get", id)?;
    let mut fields = requested_fields(req, &["config", "quota_usage"], "ContentPublishingLimit")?;
    if fields.is_empty() {
        fields.push("quota_usage".into());
    }
    let window = shared.config.quota_duration_secs;
    let world = shared.lock();
    let usage = world.quota_usage(&auth.account_id, world.now(), Duration::from_secs(window));
    let mut entry = Map::new();
    for f in fields {
        let v = match f.as_str() {
            "quota_usage" => json!(usage),
            _ => json!({ "quota_total": shared.config.quota_total, "quota_duration": window }),
        };
        entry.insert(f, v);
    }
    Ok(Reply::Json(json!({ "data": [entry] })))
}

/// `GET /{ig-user-id}/stories`: live Stories, newest first, in pages of
/// `limit` (default 25, at most 100, like Meta) with `paging.cursors` and a
/// `paging.next` URL while more remain; `after=CURSOR` asks for the next.
pub fn stories(shared: &Shared, req: &Req, auth: &Auth, id: &str) -> Result<Reply, GraphError> {
    own_account(auth, "get", id)?;
    let life = lifetime(shared);
    let world = shared.lock();
    let now = world.now();
    let mut live: Vec<(&String, &Story)> = world
        .stories
        .iter()
        .filter(|(_, s)| s.account_id == auth.account_id && now < s.published + life)
        .collect();
    live.sort_by(|a, b| b.1.published.cmp(&a.1.published).then(b.0.cmp(a.0)));
    let all: Vec<Value> = live
        .into_iter()
        .map(|(id, _)| json!({ "id": id }))
        .collect();
    Ok(Reply::Json(page_of(shared, req, id, "stories", all)?))
}

/// Most containers an account created in the last 24 h of sandbox clock
/// must stay under `containers_per_day`.
fn check_container_cap(shared: &Shared, auth: &Auth) -> Result<(), GraphError> {
    let world = shared.lock();
    let now = world.now();
    let day = Duration::from_secs(86_400);
    let recent = world
        .containers
        .values()
        .filter(|c| c.account_id == auth.account_id && now < c.created + day)
        .count();
    if recent >= shared.config.containers_per_day as usize {
        return Err(GraphError::too_many_containers(
            shared.config.containers_per_day,
        ));
    }
    Ok(())
}

/// Page size when `limit` is absent, and the largest accepted.
const PAGE_DEFAULT: usize = 25;
const PAGE_MAX: usize = 100;

/// One page of `all` as Meta shapes it: `data`, and `paging` with
/// `cursors.before/after` and `next` while more remain.
fn page_of(
    shared: &Shared,
    req: &Req,
    id: &str,
    edge: &str,
    all: Vec<Value>,
) -> Result<Value, GraphError> {
    let limit = match req.param("limit") {
        None | Some("") => PAGE_DEFAULT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=PAGE_MAX).contains(n))
            .ok_or_else(|| {
                GraphError::invalid_parameter(format!(
                    "The parameter limit must be a whole number from 1 to {PAGE_MAX}"
                ))
            })?,
    };
    let start = match req.param("after") {
        None | Some("") => 0,
        Some(c) => decode_cursor(c).ok_or_else(|| {
            GraphError::invalid_parameter("The parameter after is not a valid cursor")
        })?,
    };
    let end = (start + limit).min(all.len());
    let data: Vec<Value> = all
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    // Everything on one page: no `paging` (the shape of the recorded
    // single-page replies).
    if data.is_empty() || (start == 0 && end == all.len()) {
        return Ok(json!({ "data": data }));
    }
    let mut paging = json!({
        "cursors": { "before": encode_cursor(start), "after": encode_cursor(end) }
    });
    if end < all.len() {
        let base = shared.base_url.get().map(String::as_str).unwrap_or("");
        paging["next"] = json!(format!(
            "{base}/{}/{id}/{edge}?limit={limit}&after={}",
            shared.config.api_version,
            encode_cursor(end)
        ));
    }
    Ok(json!({ "data": data, "paging": paging }))
}

/// Cursors are opaque to clients; here the hex of `pos:N`.
fn encode_cursor(pos: usize) -> String {
    hex::encode(format!("pos:{pos}"))
}

fn decode_cursor(c: &str) -> Option<usize> {
    let bytes = hex::decode(c).ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix("pos:")?
        .parse()
        .ok()
}

/// `GET /{id}`: a container's status, a Story's fields, or the account.
pub fn node(shared: &Shared, req: &Req, auth: &Auth, id: &str) -> Result<Reply, GraphError> {
    if id == auth.account_id {
        return super::oauth::me(shared, req, auth);
    }
    let life = lifetime(shared);
    let mut world = shared.lock();
    let now = world.now();
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    if let Some(c) = world
        .containers
        .get(id)
        .filter(|c| c.account_id == auth.account_id)
        .cloned()
    {
        if world.faults.status_read_error > 0 && c.publish_attempts > 0 {
            world.faults.status_read_error -= 1;
            return Err(GraphError::invalid_parameter(
                "Unsupported get request (status read fault)",
            ));
        }
        if world.faults.published_container_gone > 0
            && world.status(&c, now, life) == Status::Published
        {
            world.faults.published_container_gone -= 1;
            return Err(GraphError::container_expired());
        }
        let c = &c;
        let fields = requested_fields(
            req,
            &["id", "status_code", "status"],
            "ShadowIGMediaBuilder",
        )?;
        let status = match world.status(c, now, life) {
            Status::Published
                if world.faults.published_containers_expire && now >= c.created + life =>
            {
                Status::Expired
            }
            other => other,
        };
        let (code, text) = match status {
            Status::InProgress => (
                "IN_PROGRESS",
                "In Progress: Media is still being processed.".to_string(),
            ),
            Status::Finished => (
                "FINISHED",
                "Finished: Media has been uploaded and it is ready to be published.".to_string(),
            ),
            Status::Error(sub) => (
                "ERROR",
                format!("Error: Media upload has failed with error code {sub}"),
            ),
            Status::Expired => ("EXPIRED", "Expired: Media has expired.".to_string()),
            Status::Published => (
                "PUBLISHED",
                "Published: Media has been successfully published.".to_string(),
            ),
        };
        for f in fields {
            let v = match f.as_str() {
                "status_code" => json!(code),
                "status" => json!(text),
                _ => continue,
            };
            out.insert(f, v);
        }
        return Ok(Reply::Json(Value::Object(out)));
    }
    if let Some(s) = world
        .stories
        .get(id)
        .filter(|s| s.account_id == auth.account_id)
    {
        let allowed = [
            "id",
            "media_type",
            "media_product_type",
            "timestamp",
            "permalink",
            "media_url",
            "username",
        ];
        let fields = requested_fields(req, &allowed, "IGMedia")?;
        let username = shared
            .account(&s.account_id)
            .map(|a| a.username.clone())
            .unwrap_or_default();
        for f in fields {
            let v = match f.as_str() {
                "media_type" => json!(s.kind.as_str()),
                "media_product_type" => json!("STORY"),
                "timestamp" => json!(graph_time(s.published)),
                "permalink" => json!(format!(
                    "https://www.instagram.com/stories/{username}/{id}/"
                )),
                "media_url" => json!(s.media_url),
                "username" => json!(username),
                _ => continue,
            };
            out.insert(f, v);
        }
        return Ok(Reply::Json(Value::Object(out)));
    }
    Err(GraphError::unsupported("get", id))
}
