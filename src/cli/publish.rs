//! `storyforge publish | ledger | token | insights | sandbox`: arguments and
//! storyforge.yaml → the upload, publish, ledger and sandbox library calls,
//! printed plainly or as JSON. Tokens come only from the config's sources.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use sha2::Digest;

use storyforge::config::Settings;
use storyforge::fonts::FontBook;
use storyforge::ledger::Ledger;
use storyforge::publish::MediaKind;
use storyforge::publish::{self, tokens, Account, Outcome, Publisher, StoryMedia};
use storyforge::storage::{self, AnyStore, UrlCheck};
use storyforge::validate;

/// Where the settings come from.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Settings file [default: $STORYFORGE_CONFIG, else ./storyforge.yaml, else the embedded defaults].
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
}

impl ConfigArg {
    /// The settings in effect.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings::discover(self.config.as_deref())?)
    }
}

/// Publish Story files or URLs (files are validated and uploaded first).
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// JPEG/MP4 files, or public HTTPS URLs of them.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// The account (a name under `accounts:`) [default: the first].
    #[arg(long)]
    account: Option<String>,
    /// Print a JSON array of outcomes on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// List the ledger.
#[derive(Debug, clap::Args)]
pub struct LedgerArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Token status, or refresh now.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// `status` or `refresh`.
    #[arg(value_parser = ["status", "refresh"])]
    action: String,
    /// Only this account.
    #[arg(long)]
    account: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Collect Story insights (views, reach, replies, shares, interactions, navigation).
#[derive(Debug, clap::Args)]
pub struct InsightsArgs {
    /// Only this account.
    #[arg(long)]
    account: Option<String>,
    /// Collect every live Story now, not only those about 22–24 h old.
    #[arg(long)]
    now: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Run the local Graph API sandbox in the foreground.
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (the local store's default URLs point at 8480).
    #[arg(long, default_value_t = 8480)]
    port: u16,
    /// Directory served at /media (the local store's) [default: the storage.dir of the settings].
    #[arg(long, value_name = "DIR")]
    media_dir: Option<PathBuf>,
    /// Sandbox settings (YAML: accounts, quota, delays, faults).
    #[arg(long, value_name = "FILE")]
    sandbox_config: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn open(config: &ConfigArg) -> anyhow::Result<(Settings, Ledger)> {
    let settings = Settings::discover(config.config.as_deref())?;
    let ledger = Ledger::open(&settings.ledger)?;
    Ok((settings, ledger))
}

/// The accounts to act for: `only`, else all (`first` → just the first).
fn accounts(settings: &Settings, only: Option<&str>, first: bool) -> anyhow::Result<Vec<Account>> {
    if settings.accounts.is_empty() {
        bail!("no accounts in the settings; add `accounts:` (name, ig_user_id, token_env or token_file) to storyforge.yaml");
    }
    let chosen: Vec<_> = match only {
        Some(name) => {
            let a = settings
                .accounts
                .iter()
                .find(|a| a.name == name)
                .with_context(|| {
                    let names: Vec<_> = settings.accounts.iter().map(|a| a.name.as_str()).collect();
                    format!("no account named '{name}' (accounts: {})", names.join(", "))
                })?;
            vec![a]
        }
        None if first => settings.accounts.iter().take(1).collect(),
        None => settings.accounts.iter().collect(),
    };
    chosen
        .into_iter()
        .map(|a| a.load().map_err(anyhow::Error::from))
        .collect()
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// Validates, uploads and checks one file → the Story to publish.
async fn prepare_file(
    path: &Path,
    store: &AnyStore,
    check: &UrlCheck,
    fonts: &FontBook,
) -> Result<StoryMedia, String> {
    let report = validate::check_file(path, fonts, None, &validate::Options::default());
    if report.fails(false) {
        let first = report
            .findings
            .iter()
            .find(|f| validate::fails(f.rule.severity, false))
            .map(|f| {
                format!(
                    "{} {}: {}; {}",
                    f.rule.id, f.rule.name, f.message, f.rule.hint
                )
            })
            .unwrap_or_default();
        return Err(format!("{}: not published: {first}", path.display()));
    }
    let up = storage::upload_file(store, path, check)
        .await
        .map_err(|e| e.to_string())?;
    Ok(StoryMedia {
        url: up.url,
        kind: if up.content_type.starts_with("video/") {
            MediaKind::Video
        } else {
            MediaKind::Image
        },
        content_hash: up.sha256,
        source: path.display().to_string(),
        output_path: Some(path.display().to_string()),
    })
}

/// Runs `storyforge publish`.
pub fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let (settings, ledger) = open(&args.config)?;
    let account = accounts(&settings, args.account.as_deref(), true)?.remove(0);
    let rt = runtime()?;
    let fonts = FontBook::bundled();
    let outcomes = rt.block_on(async {
        let mut publisher = Publisher::new(settings.graph.clone(), &ledger)?;
        let mut account = account;
        if tokens::status(&ledger, &account, chrono::Utc::now())?.refresh_due {
            match tokens::refresh(publisher.client(), &ledger, &account).await {
                Ok(fresh) => {
                    tracing::info!("{}: token refreshed", account.settings.name);
                    account.token = fresh;
                }
                Err(e) => tracing::warn!("{e}; publishing with the current token"),
            }
        }
        let needs_store = args.inputs.iter().any(|i| !is_url(i));
        let store = if needs_store {
            Some(AnyStore::open(&settings.storage).await?)
        } else {
            None
        };
        let loopback_target = storage::is_loopback_host(
            reqwest::Url::parse(&settings.graph.base_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .as_deref()
                .unwrap_or(""),
        );
        let check = UrlCheck::new(loopback_target, publish::secs(settings.graph.timeout))?;
        let mut out: Vec<(String, Result<Outcome, String>)> = Vec::new();
        let mut stopped: Option<String> = None;
        for input in &args.inputs {
            if let Some(why) = &stopped {
                out.push((input.clone(), Err(format!("skipped: {why}"))));
                continue;
            }
            let media = if is_url(input) {
                Ok(StoryMedia {
                    url: input.clone(),
                    kind: MediaKind::from_name(input),
                    content_hash: hex::encode(sha2::Sha256::digest(input.as_bytes())),
                    source: input.clone(),
                    output_path: None,
                })
            } else {
                match &store {
                    Some(s) => prepare_file(Path::new(input), s, &check, &fonts).await,
                    None => Err("no store".into()),
                }
            };
            let result = match media {
                Ok(m) => publisher
                    .publish(&account, &m)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            if let Ok(Outcome::Failed { class, message }) = &result {
                if matches!(
                    class,
                    publish::ErrorClass::Auth | publish::ErrorClass::Blocked
                ) {
                    stopped = Some(format!(
                        "account '{}' stopped: {message}",
                        account.settings.name
                    ));
                }
            }
            out.push((input.clone(), result));
        }
        anyhow::Ok(out)
    })?;
    report(&outcomes, args.json)
}

fn report(outcomes: &[(String, Result<Outcome, String>)], json: bool) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut rows = Vec::new();
    for (input, result) in outcomes {
        let line = match result {
            Ok(Outcome::Published { media_id, already }) => {
                let id = media_id.as_deref().unwrap_or("(unknown id)");
                if *already {
                    format!("{input}: already published as media {id}")
                } else {
                    format!("{input}: published as media {id}")
                }
            }
            Ok(Outcome::Deferred { reason }) => format!("{input}: deferred: {reason}"),
            Ok(Outcome::Failed { class, message }) => {
                failed = true;
                format!(
                    "{input}: failed ({}): {message}",
                    serde_json::to_string(class)?.trim_matches('"')
                )
            }
            Err(e) => {
                failed = true;
                format!("{input}: {e}")
            }
        };
        if json {
            let mut v = match result {
                Ok(o) => serde_json::to_value(o)?,
                Err(e) => serde_json::json!({"outcome": "error", "message": e}),
            };
            v["input"] = serde_json::Value::String(input.clone());
            rows.push(v);
        } else {
            println!("{line}");
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `storyforge ledger`.
pub fn ledger(args: LedgerArgs) -> anyhow::Result<ExitCode> {
    let (_, ledger) = open(&args.config)?;
    let assets = ledger.assets()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&assets)?);
    } else {
        for a in &assets {
            println!(
                "{:<10} {:<8} {:<10} media {:<20} {}{}",
                a.account,
                a.kind,
                a.state.as_str(),
                a.media_id.as_deref().unwrap_or("-"),
                a.source,
                a.last_error
                    .as_deref()
                    .map(|e| format!("  ({e})"))
                    .unwrap_or_default()
            );
        }
        eprintln!(
            "{} asset{}",
            assets.len(),
            if assets.len() == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `storyforge token status|refresh`.
pub fn token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let (settings, ledger) = open(&args.config)?;
    let list = accounts(&settings, args.account.as_deref(), false)?;
    let now = chrono::Utc::now();
    let mut failed = false;
    if args.action == "refresh" {
        let rt = runtime()?;
        let client = publish::graph::GraphClient::new(
            &settings.graph.base_url,
            &settings.graph.version,
            publish::secs(settings.graph.timeout),
        )?;
        for a in &list {
            match rt.block_on(tokens::refresh(&client, &ledger, a)) {
                Ok(_) => println!("{}: token refreshed and stored", a.settings.name),
                Err(e) => {
                    failed = true;
                    eprintln!("error: {e}");
                }
            }
        }
    } else {
        let statuses = list
            .iter()
            .map(|a| tokens::status(&ledger, a, now))
            .collect::<Result<Vec<_>, _>>()?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&statuses)?);
        } else {
            for s in statuses {
                println!(
                    "{}: {} left{}; stored in {}",
                    s.account,
                    s.days_left
                        .map_or("unknown time".into(), |d| format!("{d:.1} days")),
                    if s.refresh_due { ", refresh due" } else { "" },
                    s.storage
                );
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `storyforge insights`.
pub fn insights(args: InsightsArgs) -> anyhow::Result<ExitCode> {
    let (settings, ledger) = open(&args.config)?;
    let list = accounts(&settings, args.account.as_deref(), false)?;
    let rt = runtime()?;
    let client = publish::graph::GraphClient::new(
        &settings.graph.base_url,
        &settings.graph.version,
        publish::secs(settings.graph.timeout),
    )?;
    let mut all = Vec::new();
    for a in &list {
        all.extend(rt.block_on(publish::insights::collect(
            &client,
            &ledger,
            a,
            chrono::Utc::now(),
            args.now,
        ))?);
    }
    let failed = all.iter().any(|c| c.result.is_err());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        for c in &all {
            match &c.result {
                Ok(m) => println!("{}: {m}", c.media_id),
                Err(e) => eprintln!("error: media {}: {e}", c.media_id),
            }
        }
        eprintln!(
            "{} Stor{} collected",
            all.len(),
            if all.len() == 1 { "y" } else { "ies" }
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `storyforge sandbox` until interrupted.
pub fn sandbox(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let mut config = match &args.sandbox_config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read", p.display()))?;
            serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => storyforge::sandbox::SandboxConfig::default(),
    };
    config.bind = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    config.media_dir = match args.media_dir {
        Some(d) => Some(d),
        None => Settings::discover(args.config.config.as_deref())
            .ok()
            .map(|s| s.storage.dir.clone()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let base = format!("http://{}", listener.local_addr()?);
        println!("{}", storyforge::sandbox::banner(&config, &base));
        tokio::select! {
            r = storyforge::sandbox::serve(config, listener) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Run a job file: render and transcode, validate, upload, publish, record.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The job file (YAML: `account`, `out`, `jobs: [{template, feed} | {videos}]`).
    job: PathBuf,
    /// Stop before publishing (render, validate and upload only).
    #[arg(long)]
    dry_run: bool,
    /// Take only this slice of the jobs, INDEX/COUNT (e.g. 0/4).
    #[arg(long, value_name = "INDEX/COUNT")]
    shard: Option<storyforge::run::Shard>,
    /// The date used for `today`, YYYY-MM-DD [default: today].
    #[arg(long, value_name = "DATE")]
    today: Option<chrono::NaiveDate>,
    /// x264 preset for videos [default: medium].
    #[arg(long)]
    preset: Option<String>,
    /// Print the run report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs `storyforge run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let job = storyforge::run::JobFile::load(&args.job)?;
    let settings = Settings::discover(args.config.config.as_deref())?;
    let opts = storyforge::run::RunOptions {
        dry_run: args.dry_run,
        shard: args.shard,
        today: args.today,
        preset: args.preset,
    };
    let report = storyforge::run::run(&job, settings, &opts)?;
    print_run(
        &report,
        job.out.as_deref().unwrap_or(Path::new("out")),
        args.json,
    )
}

/// Runs `f` with one progress view for the whole batch: a spinner with the
/// counts and the last item on a terminal, nothing otherwise (the report
/// lines follow at the end).
pub fn with_progress<T>(f: impl FnOnce(&dyn Fn(&storyforge::run::Item)) -> T) -> T {
    use std::io::IsTerminal;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {pos} Stories done  {elapsed}  {wide_msg}",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let on_item = |i: &storyforge::run::Item| {
        bar.inc(1);
        bar.set_message(format!("{}: {}", i.source, i.status));
    };
    let result = f(&on_item);
    bar.finish_and_clear();
    result
}

/// Prints a run report (one line per item, or JSON) and its exit code.
pub fn print_run(
    report: &storyforge::run::RunReport,
    out: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        for i in &report.items {
            let detail = match (&i.media_id, &i.error) {
                (Some(m), _) => format!("media {m}"),
                (None, Some(e)) => e.clone(),
                _ => String::new(),
            };
            println!("{}: {} {detail}", i.source, i.status);
        }
    }
    eprintln!(
        "{} published, {} already published, {} deferred, {} failed; report: {}",
        report.published,
        report.already,
        report.deferred,
        report.failed,
        out.join("report.html").display()
    );
    Ok(if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
