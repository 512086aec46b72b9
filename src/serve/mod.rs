//! `storyforge serve`: the settings, the ledger and a templates folder → a
//! local web dashboard over HTTP (the queue, new Stories from a file or a
//! template, recent Stories with their insights, quota and limits), built
//! on the same library calls as the CLI and safe beside `tick` (the
//! ledger's claims keep every Story to one publish).
//!
//! Every request needs a loopback `Host` (no DNS rebinding) and the session
//! cookie, which the random access key in the printed URL is exchanged for
//! once (as Jupyter does); anything that changes state also needs the CSRF
//! token. Tokens and secrets never reach a page: errors are redacted.

mod api;
mod automations;
#[cfg(feature = "video")]
mod clip;
mod drafts;
mod guard;
mod html;
mod insights;
mod pages;
mod thumbs;
mod views;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::config::Settings;
use crate::fonts::FontBook;
use crate::ledger::{Ledger, LedgerError};
use crate::publish::graph::{CallError, GraphClient};

/// How `serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address listened on. Default: 127.0.0.1 (loopback only).
    pub bind: IpAddr,
    /// The port; 0 takes a free one. Default: 8490.
    pub port: u16,
    /// The folder of templates offered for new Stories. Default: `templates`.
    pub templates: PathBuf,
    /// Where uploads are fitted or transcoded and template Stories' values
    /// kept. Default: `storyforge-uploads`.
    pub uploads: PathBuf,
    /// Where Stories published from here are written. Default: `out`.
    pub out: PathBuf,
    /// The largest upload, bytes. Default: 512 MiB.
    pub max_upload: usize,
    /// Publish what is due this often, as `tick` does (alongside any
    /// `tick`: the tick lock and the claims keep them apart). Default: never.
    pub tick_every: Option<Duration>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8490,
            templates: PathBuf::from("templates"),
            uploads: PathBuf::from("storyforge-uploads"),
            out: PathBuf::from("out"),
            max_upload: 512 << 20,
            tick_every: None,
        }
    }
}

/// Why the dashboard could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is in use or not allowed.
    #[error("cannot listen on {addr}: {source}; pick another --port")]
    Bind {
        /// The address.
        addr: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A folder could not be made.
    #[error("{path}: cannot create it: {source}")]
    Folder {
        /// The folder.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The OS random source failed (no key can be made).
    #[error("the OS random source failed: {0}")]
    Random(String),
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The Graph client could not be made.
    #[error(transparent)]
    Graph(#[from] CallError),
    /// The server stopped with an error.
    #[error("the dashboard server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Everything a request handler reaches.
struct App {
    settings: Settings,
    opts: ServeOptions,
    /// The access key of the printed URL.
    key: String,
    /// The session cookie's value, given for the key.
    session: String,
    /// Required on every state-changing request.
    csrf: String,
    /// The `Host` values accepted.
    hosts: Vec<String>,
    /// The port listened on.
    port: u16,
    fonts: FontBook,
    ledger: Mutex<Ledger>,
    client: GraphClient,
    drafts: Mutex<HashMap<String, drafts::Draft>>,
    /// Recent template previews (id → JPEG), newest last.
    previews: Mutex<VecDeque<(String, Vec<u8>)>>,
    /// Thumbnails made so far (key → JPEG).
    thumbs: Mutex<HashMap<String, Vec<u8>>>,
    /// Transcodes run one at a time.
    #[cfg(feature = "video")]
    transcodes: tokio::sync::Semaphore,
    /// Recent video template preview clips (hash of their inputs → MP4), newest last.
    #[cfg(feature = "video")]
    clips: Mutex<VecDeque<(String, Arc<Vec<u8>>)>>,
}

impl App {
    /// The ledger, for a short query (a poisoned lock is still usable:
    /// SQLite keeps its own consistency).
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type Shared = Arc<App>;

/// A bound dashboard, ready to serve.
pub struct Dashboard {
    listener: tokio::net::TcpListener,
    app: Shared,
    url: String,
}

/// 128 random bits from the OS CSPRNG, as hex.
fn random_hex() -> Result<String, ServeError> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| ServeError::Random(e.to_string()))?;
    Ok(hex::encode(raw))
}

impl Dashboard {
    /// Opens the ledger, makes the folders and binds the port.
    pub async fn bind(settings: Settings, opts: ServeOptions) -> Result<Dashboard, ServeError> {
        for dir in [&opts.uploads, &opts.out] {
            std::fs::create_dir_all(dir).map_err(|source| ServeError::Folder {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let addr = SocketAddr::new(opts.bind, opts.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let port = local.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        let shown = match local.ip() {
            IpAddr::V6(ip) => format!("[{ip}]:{port}"),
            IpAddr::V4(ip) => format!("{ip}:{port}"),
        };
        if !hosts.contains(&shown) && !local.ip().is_unspecified() {
            hosts.push(shown.clone());
        }
        let shown = if local.ip().is_unspecified() {
            format!("127.0.0.1:{port}")
        } else {
            shown
        };
        let client = GraphClient::new(
            &settings.graph.base_url,
            &settings.graph.version,
            crate::publish::secs(settings.graph.timeout),
        )?;
        let key = random_hex()?;
        let app = Arc::new(App {
            ledger: Mutex::new(Ledger::open(&settings.ledger)?),
            session: random_hex()?,
            csrf: random_hex()?,
            key: key.clone(),
            hosts,
            port,
            fonts: FontBook::bundled(),
            client,
            drafts: Mutex::new(HashMap::new()),
            previews: Mutex::new(VecDeque::new()),
            thumbs: Mutex::new(HashMap::new()),
            #[cfg(feature = "video")]
            transcodes: tokio::sync::Semaphore::new(1),
            #[cfg(feature = "video")]
            clips: Mutex::new(VecDeque::new()),
            settings,
            opts,
        });
        Ok(Dashboard {
            listener,
            app,
            url: format!("http://{shown}/?key={key}"),
        })
    }

    /// The URL to open: the dashboard with its access key.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `shutdown` completes.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let app = self.app.clone();
        if let Some(every) = app.opts.tick_every {
            tokio::spawn(api::ticker(app.clone(), every));
        }
        let router = routes(app);
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServeError::Serve)
    }
}

fn routes(app: Shared) -> Router {
    let limit = app.opts.max_upload;
    let router = Router::new();
    #[cfg(feature = "video")]
    let router = router
        .route("/preview-clip/{id}", get(clip::file))
        .route("/api/preview-clip", post(clip::make));
    router
        .route("/", get(pages::queue))
        .route("/new", get(pages::new_file))
        .route("/template", get(pages::new_template))
        .route("/recent", get(pages::recent))
        .route("/insights", get(insights::insights))
        .route("/quota", get(pages::quota))
        .route("/static/{name}", get(pages::asset))
        .route("/thumb/schedule/{id}", get(thumbs::schedule_thumb))
        .route("/thumb/story/{id}", get(thumbs::story_thumb))
        .route("/draft/{id}/{part}", get(drafts::draft_file))
        .route("/preview/{id}", get(api::preview_file))
        .route("/api/upload", post(drafts::upload))
        .route("/api/draft/{id}", get(drafts::draft_status))
        .route("/api/feed-row", get(api::feed_row))
        .route("/api/preview", post(api::preview))
        .route("/api/schedule", post(api::schedule))
        .route("/api/schedule/{id}/cancel", post(api::cancel))
        .route("/api/schedule/{id}/reschedule", post(api::reschedule))
        .route("/api/schedule/{id}/publish", post(api::publish_now))
        .route("/api/insights/collect", post(api::collect))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            guard::guard,
        ))
        .with_state(app)
}
