//! `storyforge serve`: arguments → the web dashboard on loopback, its URL
//! (with the access key) printed, served until Ctrl-C.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use storyforge::serve::{Dashboard, ServeOptions};

use super::publish::ConfigArg;

/// A local web dashboard: queue, new Stories, recent Stories, quota.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port (0 takes a free one).
    #[arg(long, default_value_t = 8490)]
    port: u16,
    /// Address to listen on; keep the default unless a proxy in front checks access.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Open the dashboard in the default browser.
    #[arg(long)]
    open: bool,
    /// Templates offered for new Stories.
    #[arg(long, value_name = "DIR", default_value = "templates")]
    templates: PathBuf,
    /// Where uploads are fitted or transcoded.
    #[arg(long, value_name = "DIR", default_value = "storyforge-uploads")]
    uploads: PathBuf,
    /// Where Stories published from the dashboard are written.
    #[arg(long, value_name = "DIR", default_value = "out")]
    out: PathBuf,
    /// Largest upload in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    max_upload: usize,
    /// Publish what is due every SECS seconds, as `tick` does (0: never) [default: 30 with the built-in sandbox, else 0].
    #[arg(long, value_name = "SECS")]
    tick: Option<u64>,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs `storyforge serve`.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (settings, _sandbox) = args.config.delivery_settings()?;
    let tick = args
        .tick
        .unwrap_or(if settings.in_process.is_some() { 30 } else { 0 });
    let opts = ServeOptions {
        bind: args.bind,
        port: args.port,
        templates: args.templates,
        uploads: args.uploads,
        out: args.out,
        max_upload: args.max_upload.saturating_mul(1 << 20),
        tick_every: (tick > 0).then(|| Duration::from_secs(tick)),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let dashboard = Dashboard::bind(settings, opts).await?;
        let url = dashboard.url().to_string();
        println!("storyforge dashboard: {url}");
        std::io::stdout().flush().ok();
        eprintln!("open the URL above (it holds the access key); Ctrl-C stops the dashboard");
        if args.open {
            if let Err(e) = std::process::Command::new("xdg-open").arg(&url).spawn() {
                eprintln!("warning: cannot open a browser ({e}); open the URL by hand");
            }
        }
        dashboard
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}
