//! HTTP plumbing: requests → parsed parameters and token → the Graph route
//! → a JSON reply with usage headers, faults applied and the call logged
//! (redacted). The `/_sandbox/` control endpoints and the `/media` file
//! host live in `control`.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::errors::{oauth_error, GraphError};
use super::state::{rfc3339, CallRecord, Shared};
use super::{control, graph, insights, oauth};

/// Parameter names whose values never reach the log.
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "client_secret",
    "code",
    "fb_exchange_token",
    "input_token",
];

/// A parsed request.
#[derive(Debug)]
pub struct Req {
    /// HTTP method.
    pub method: Method,
    /// Path as requested.
    pub path: String,
    /// Path segments after an optional `vNN.N` version.
    pub segs: Vec<String>,
    /// Query then form parameters.
    pub params: Vec<(String, String)>,
    /// Token from `Authorization: Bearer`.
    pub bearer: Option<String>,
    /// Set to close this connection without answering.
    pub kill: Arc<AtomicBool>,
}

impl Req {
    /// The first value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The access token, from a parameter or the Authorization header.
    pub fn token(&self) -> Option<&str> {
        self.param("access_token").or(self.bearer.as_deref())
    }
}

/// A successful answer.
#[derive(Debug)]
pub enum Reply {
    /// 200 with JSON.
    Json(Value),
    /// 302 to a URL.
    Redirect(String),
}

/// A failed answer.
#[derive(Debug)]
pub enum Failure {
    /// A Graph envelope.
    Graph(GraphError),
    /// The `api.instagram.com/oauth` error shape (HTTP 400).
    OAuth(String),
}

impl From<GraphError> for Failure {
    fn from(e: GraphError) -> Self {
        Failure::Graph(e)
    }
}

/// Who a valid token belongs to.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Account id.
    pub account_id: String,
    /// Granted permissions.
    pub scopes: Vec<String>,
}

impl Auth {
    /// Fails with error 10 unless the token carries `scope`.
    pub fn require(&self, scope: &str) -> Result<(), GraphError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(GraphError::permission(&format!(
                "The access token lacks the {scope} permission"
            )))
        }
    }
}

/// The router with every endpoint.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/published", get(control::published))
        .route(
            "/_sandbox/faults",
            get(control::get_faults).post(control::set_faults),
        )
        .route("/_sandbox/clock", post(control::clock))
        .route("/_sandbox/calls", get(control::calls))
        .route("/media/{*key}", get(control::media_file))
        .fallback(entry)
        .with_state(shared)
}

/// Serves `router` on `listener` until `stop` resolves.
pub async fn run(
    shared: Arc<Shared>,
    listener: TcpListener,
    stop: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let app = router(shared).into_make_service_with_connect_info::<ConnTag>();
    let server = axum::serve(KillableListener(listener), app);
    tokio::select! {
        r = server => r,
        () = stop => Ok(()),
    }
}

async fn entry(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnTag>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params = parse_urlencoded(uri.query().unwrap_or(""));
    if !body.is_empty() {
        params.extend(parse_urlencoded(&String::from_utf8_lossy(&body)));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .map(|v| v.trim().to_string());
    let path = uri.path().to_string();
    let mut segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if segs.first().is_some_and(|s| is_version(s)) {
        segs.remove(0);
    }
    let req = Req {
        method,
        path,
        segs,
        params,
        bearer,
        kill: conn.kill.clone(),
    };
    let (result, account) = dispatch(&shared, &req).await;
    let slow = shared.lock().faults.slow_reply_ms;
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    let (status, mut response, graph_error) = match result {
        Ok(Reply::Json(v)) => (StatusCode::OK, Json(v).into_response(), None),
        Ok(Reply::Redirect(to)) => {
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&to) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            (StatusCode::FOUND, r, None)
        }
        Err(Failure::Graph(e)) => (
            e.status,
            (e.status, Json(e.envelope())).into_response(),
            Some(e),
        ),
        Err(Failure::OAuth(m)) => (
            StatusCode::BAD_REQUEST,
            (StatusCode::BAD_REQUEST, Json(oauth_error(&m))).into_response(),
            None,
        ),
    };
    let regain = graph_error.as_ref().and_then(|e| e.regain_minutes);
    usage_headers(&shared, account.as_deref(), regain, response.headers_mut());
    let mut world = shared.lock();
    // Like the real API, every reply says the server's time (its clock).
    if let Ok(v) = HeaderValue::from_str(&super::state::http_date(world.now())) {
        response.headers_mut().insert(header::DATE, v);
    }
    let dropped = req.kill.load(Ordering::SeqCst);
    let params = req
        .params
        .iter()
        .map(|(k, v)| {
            let v = if SECRET_PARAMS.contains(&k.as_str()) {
                "[redacted]".to_string()
            } else {
                shared.redact(&world, v)
            };
            (k.clone(), v)
        })
        .collect();
    let call = CallRecord {
        seq: 0,
        at: rfc3339(world.now()),
        method: req.method.to_string(),
        path: shared.redact(&world, &req.path),
        params,
        status: if dropped { 0 } else { status.as_u16() },
        account_id: account,
        error_code: graph_error.as_ref().map(|e| e.code),
        error_subcode: graph_error.as_ref().and_then(|e| e.subcode),
    };
    world.log_call(call);
    response
}

fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major_ok = parts
        .next()
        .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    major_ok
        && parts
            .next()
            .is_none_or(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
}

/// Routes a request; returns the answer and the token's account, if valid.
async fn dispatch(shared: &Arc<Shared>, req: &Req) -> (Result<Reply, Failure>, Option<String>) {
    {
        let mut world = shared.lock();
        if world.faults.transient_errors > 0 {
            world.faults.transient_errors -= 1;
            return (Err(GraphError::transient().into()), None);
        }
    }
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    match (m, segs.as_slice()) {
        ("GET", ["oauth", "authorize"]) => return (oauth::authorize(shared, req), None),
        ("POST", ["oauth", "access_token"]) => return (oauth::code_for_token(shared, req), None),
        ("GET", ["access_token"]) => {
            return (oauth::exchange(shared, req).map_err(Into::into), None)
        }
        ("GET", ["refresh_access_token"]) => {
            return (oauth::refresh(shared, req).map_err(Into::into), None)
        }
        _ => {}
    }
    let auth = match oauth::authenticate(shared, req) {
        Ok(a) => a,
        Err(e) => {
            // A rate-limited call still names its account in the headers.
            let account = req
                .token()
                .and_then(|t| shared.lock().tokens.get(t).map(|r| r.account_id.clone()));
            return (Err(e.into()), account);
        }
    };
    let result = match (m, segs.as_slice()) {
        ("GET", ["me"]) => oauth::me(shared, req, &auth),
        ("POST", [id, "media"]) => graph::create_container(shared, req, &auth, id).await,
        ("POST", [id, "media_publish"]) => graph::publish(shared, req, &auth, id),
        ("GET", [id, "content_publishing_limit"]) => {
            graph::publishing_limit(shared, req, &auth, id)
        }
        ("GET", [id, "stories"]) => graph::stories(shared, req, &auth, id),
        ("GET", [id, "insights"]) => insights::insights(shared, req, &auth, id),
        ("GET", [id]) => graph::node(shared, req, &auth, id),
        (_, [id, ..]) => Err(GraphError::unsupported(&m.to_ascii_lowercase(), id)),
        (_, []) => Err(GraphError::unknown_path(&req.path)),
    };
    (result.map_err(Into::into), Some(auth.account_id))
}

/// `X-App-Usage` and `X-Business-Use-Case-Usage`: the account's calls in
/// the last hour as a percentage of the limit (`total_cputime` and
/// `total_time` are reported as half of it).
fn usage_headers(
    shared: &Shared,
    account: Option<&str>,
    regain: Option<u64>,
    headers: &mut HeaderMap,
) {
    let limit = u64::from(shared.config.calls_per_hour.max(1));
    let (count, _) = match account {
        Some(a) => {
            let mut world = shared.lock();
            let now = world.now();
            world.calls_in_hour(a, now)
        }
        None => (0, None),
    };
    let pct = (u64::from(count) * 100 / limit).min(100);
    let app = json!({ "call_count": pct, "total_cputime": pct / 2, "total_time": pct / 2 });
    let buc = match account {
        Some(a) => json!({ a: [{
            "type": "instagram",
            "call_count": pct,
            "total_cputime": pct / 2,
            "total_time": pct / 2,
            "estimated_time_to_regain_access": regain.unwrap_or(0),
        }]}),
        None => json!({}),
    };
    for (name, v) in [("x-app-usage", app), ("x-business-use-case-usage", buc)] {
        if let Ok(v) = HeaderValue::from_str(&v.to_string()) {
            headers.insert(name, v);
        }
    }
}

/// `application/x-www-form-urlencoded` → pairs (`+` is a space).
pub fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A connection's tag: the switch that drops it unanswered.
#[derive(Debug, Clone)]
pub struct ConnTag {
    /// When set, the connection fails every write and closes.
    pub kill: Arc<AtomicBool>,
}

impl Connected<axum::serve::IncomingStream<'_, KillableListener>> for ConnTag {
    fn connect_info(stream: axum::serve::IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A TCP listener whose connections can be closed from a handler without a
/// reply (the `drop_publish_reply` fault).
pub struct KillableListener(TcpListener);

impl axum::serve::Listener for KillableListener {
    type Io = KillableStream;
    type Addr = ConnTag;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    let tag = ConnTag { kill: kill.clone() };
                    return (
                        KillableStream {
                            inner: stream,
                            kill,
                        },
                        tag,
                    );
                }
                // Out of file descriptors and the like: wait and go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()?;
        Ok(ConnTag {
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// A TCP stream that refuses to write once its kill switch is set, so the
/// reply is never sent and the connection closes.
pub struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

fn killed() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "reply dropped by fault",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        if me.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut me.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        if me.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut me.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        if me.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut me.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Seconds → whole minutes, rounded up.
pub fn minutes_until(now: SystemTime, then: SystemTime) -> u64 {
    then.duration_since(now)
        .map(|d| d.as_secs().div_ceil(60))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_pairs() {
        let p = parse_urlencoded("a=1&image_url=https%3A%2F%2Fx%2Fy.jpg&s=a+b&bad=%zz&end=%4");
        assert_eq!(p[1].1, "https://x/y.jpg");
        assert_eq!(p[2].1, "a b");
        assert_eq!(p[3].1, "%zz");
        assert_eq!(p[4].1, "%4");
    }

    #[test]
    fn versions() {
        assert!(is_version("v25.0") && is_version("v9.1") && is_version("v25"));
        assert!(!is_version("v") && !is_version("me") && !is_version("v1.") && !is_version("vx.0"));
    }
}
