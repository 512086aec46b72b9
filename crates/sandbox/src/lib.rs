//! A local Instagram Graph API emulator: a [`SandboxConfig`] in, an HTTP
//! server out that answers the Story publishing, token, OAuth and insights
//! endpoints like graph.instagram.com, serves the local media store at
//! `/media/{key}`, and keeps its own record of every publish.
//!
//! It shares no code with the Graph client (`storyforge_deliver::publish`) or
//! `storyforge_base::spec`: its request parsing, error table and limits are its own,
//! so a misreading of the API cannot hide in both.
//!
//! Run it in the background with [`Sandbox::start`] (own thread and tokio
//! runtime; usable from sync tests, async code and the CLI), or in the
//! foreground with [`serve`]. Out-of-process tests drive it through
//! `/_sandbox/published`, `/_sandbox/faults`, `/_sandbox/clock` and
//! `/_sandbox/calls`.
//!
//! Choices where the live API is undocumented (see each module): images
//! wider than 1.91:1 or taller than 1:2 are refused (36003); publishing a
//! container twice answers 100 / [`SUBCODE_ALREADY_PUBLISHED`] and makes no
//! second Story; an expired container answers 24 / 2207008 and an unknown
//! one 24 / 2207006; a container of another account answers 100; insights
//! of a Story older than 24 h answer 10 / 2108006; a refreshed token keeps
//! working for `tokens.refresh_grace_secs` (60 s).

#![warn(missing_docs)]

mod config;
mod control;
mod errors;
mod fetch;
mod graph;
mod image_check;
mod insights;
pub mod mp4;
mod oauth;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use config::{
    AccountType, Faults, SandboxAccount, SandboxConfig, TokenLifetimes, DEFAULT_API_VERSION,
    DEMO_ACCOUNT_ID, DEMO_APP_ID, DEMO_APP_SECRET, DEMO_TOKEN, DEMO_USERNAME,
};
pub use errors::SUBCODE_ALREADY_PUBLISHED;
pub use image_check::{check_story_image, ImageProblem};
pub use state::{CallRecord, PublishRecord};

use state::Shared;

/// Why the sandbox could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The configuration is inconsistent.
    #[error("sandbox config: {0}")]
    Config(String),
    /// The address could not be bound.
    #[error("sandbox: cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The runtime, thread or HTTP client could not be created.
    #[error("sandbox: cannot start: {0}")]
    Start(String),
    /// The server failed while running.
    #[error("sandbox: server failed: {0}")]
    Serve(#[source] std::io::Error),
}

fn shared_for(config: SandboxConfig) -> Result<Arc<Shared>, SandboxError> {
    config.check()?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|e| SandboxError::Start(format!("HTTP client: {e}")))?;
    Ok(Arc::new(Shared::new(config, http)))
}

/// Runs the sandbox on `listener` in the current runtime until the future
/// is dropped (the CLI's foreground mode). Print [`banner`] first.
pub async fn serve(
    config: SandboxConfig,
    listener: tokio::net::TcpListener,
) -> Result<(), SandboxError> {
    let shared = shared_for(config)?;
    server::run(shared, listener, std::future::pending())
        .await
        .map_err(SandboxError::Serve)
}

/// What the CLI prints on start: base URL, Graph URL, accounts and the
/// tokens they accept (the sandbox's own demo tokens, not secrets).
pub fn banner(config: &SandboxConfig, base_url: &str) -> String {
    let mut s = format!(
        "storyforge sandbox: Instagram Graph API emulator\n  base URL:  {base_url}\n  Graph URL: {base_url}/{}\n  media:     {base_url}/media/{{key}}{}\n  accounts:\n",
        config.api_version,
        match &config.media_dir {
            Some(d) => format!(" (from {})", d.display()),
            None => " (no media_dir)".into(),
        }
    );
    for a in &config.accounts {
        s.push_str(&format!(
            "    {} @{} {} token {}\n",
            a.id,
            a.username,
            a.account_type.as_str(),
            a.token
        ));
    }
    s.push_str(&format!(
        "  OAuth:     {base_url}/oauth/authorize?client_id={}&redirect_uri=…&response_type=code&scope=instagram_business_basic,instagram_business_content_publish\n  control:   {base_url}/_sandbox/published | faults | clock?advance_seconds=N | calls\n",
        config.app_id
    ));
    s
}

/// A sandbox running on its own thread. Stops on [`Sandbox::shutdown`] or
/// when dropped.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Binds `config.bind` and serves on a background thread with its own
    /// tokio runtime. Returns once the port is listening.
    pub fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let shared = shared_for(config)?;
        let bind = shared.config.bind;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr, SandboxError>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("storyforge-sandbox".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("sandbox-rt")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(SandboxError::Start(format!("runtime: {e}"))));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind(bind).await {
                        Ok(l) => l,
                        Err(source) => {
                            let _ = ready_tx.send(Err(SandboxError::Bind { addr: bind, source }));
                            return;
                        }
                    };
                    let addr = match listener.local_addr() {
                        Ok(a) => a,
                        Err(source) => {
                            let _ = ready_tx.send(Err(SandboxError::Bind { addr: bind, source }));
                            return;
                        }
                    };
                    let _ = for_thread.base_url.set(format!("http://{addr}"));
                    let _ = ready_tx.send(Ok(addr));
                    let stop = async move {
                        let _ = stop_rx.await;
                    };
                    if let Err(e) = server::run(for_thread, listener, stop).await {
                        tracing::error!("sandbox server failed: {e}");
                    }
                });
                rt.shutdown_timeout(Duration::from_millis(500));
            })
            .map_err(|e| SandboxError::Start(format!("thread: {e}")))?;
        let addr = ready_rx.recv().map_err(|_| {
            SandboxError::Start("the server thread ended before listening".into())
        })??;
        Ok(Sandbox {
            shared,
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL plus the API version, e.g. `http://127.0.0.1:PORT/v25.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/{}", self.base_url(), self.shared.config.api_version)
    }

    /// The banner for this running sandbox.
    pub fn banner(&self) -> String {
        banner(&self.shared.config, &self.base_url())
    }

    /// The sandbox's own record of every publish, in order.
    pub fn published(&self) -> Vec<PublishRecord> {
        self.shared.lock().published.clone()
    }

    /// The call log (tokens, codes and the app secret redacted).
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.lock().calls.iter().cloned().collect()
    }

    /// Replaces the armed faults.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    /// The faults still armed.
    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    /// Moves the sandbox clock forward (token, container, Story, quota and
    /// rate windows all follow it).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.lock().clock_offset += by;
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_now();
    }
}
