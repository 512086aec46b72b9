//! `storyforge publish | ledger | token | sandbox`: arguments and
//! storyforge.yaml → the upload, publish, ledger and sandbox library calls,
//! printed plainly or as JSON. Tokens come only from the config's sources.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};

use storyforge::config::Settings;
use storyforge::delivery::identity::{legacy, Base, Identity};
use storyforge::delivery::{self, Context, Delivery, DeliveryOptions, Item, ItemStatus, Media};
use storyforge::ledger::{Ledger, Settlement, State};
use storyforge::publish::{self, tokens, Account};
use storyforge::sandbox::Sandbox;
use storyforge::util::redact::redact_url;

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

    /// The settings for a command that delivers Stories, with the built-in
    /// sandbox started when they ask for it (keep the handle alive).
    pub fn delivery_settings(&self) -> anyhow::Result<(Settings, Option<Sandbox>)> {
        let mut settings = self.settings()?;
        let sandbox = super::builtin::start_if_asked(&mut settings)?;
        Ok((settings, sandbox))
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
    /// Publish again even if these files (or their bytes) already went out.
    #[arg(long)]
    republish: bool,
    /// Publish a file again when its bytes changed since it was published.
    #[arg(long)]
    publish_changed: bool,
    /// Print a JSON array of items on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// List the ledger, or settle an unsure Story by hand.
#[derive(Debug, clap::Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    action: Option<LedgerAction>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// What `storyforge ledger` does besides listing.
#[derive(Debug, clap::Subcommand)]
pub enum LedgerAction {
    /// Settle an unsure Story: it was published (as MEDIA_ID) or it was not.
    Settle(SettleArgs),
    /// Copy this SQLite ledger (every table) into an empty Postgres ledger.
    Migrate(MigrateArgs),
}

/// `storyforge ledger migrate --to postgres://USER@HOST:PORT/DB`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The empty Postgres ledger (password from PGPASSWORD or `${ENV}`).
    #[arg(long, value_name = "URL")]
    to: String,
}

/// `storyforge ledger settle ID --published MEDIA_ID | --not-published`.
#[derive(Debug, clap::Args)]
pub struct SettleArgs {
    /// The Story's id (the first column of `storyforge ledger`); without
    /// one, fills in every media id of a lost reply that has become certain.
    id: Option<i64>,
    /// It is live on the account as this media id.
    #[arg(long, value_name = "MEDIA_ID", conflicts_with = "not_published")]
    published: Option<String>,
    /// It is not on the account: the next run publishes it.
    #[arg(long)]
    not_published: bool,
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

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The Graph client the settings describe.
pub(super) fn graph_client(settings: &Settings) -> anyhow::Result<publish::graph::GraphClient> {
    Ok(publish::graph::GraphClient::new(
        &settings.graph.base_url,
        &settings.graph.version,
        publish::secs(settings.graph.timeout),
    )?)
}

pub(super) fn open(config: &ConfigArg) -> anyhow::Result<(Settings, Ledger)> {
    let settings = Settings::discover(config.config.as_deref())?;
    let ledger = Ledger::open(&settings.ledger)?;
    Ok((settings, ledger))
}

/// The accounts to act for: `only`, else all (`first` → just the first).
pub(super) fn accounts(
    settings: &Settings,
    only: Option<&str>,
    first: bool,
) -> anyhow::Result<Vec<Account>> {
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

/// Runs `storyforge publish`: every input through the one delivery step,
/// in its account's lane (containers side by side, published in order).
pub fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let (settings, _sandbox) = args.config.delivery_settings()?;
    let rt = runtime()?;
    let items = rt.block_on(async {
        let base = Base::new(settings.dir.as_deref().unwrap_or(Path::new(".")));
        let ctx = Context::open(settings, DeliveryOptions::default()).await?;
        let mut all = Vec::new();
        for input in &args.inputs {
            // A URL is shown and recorded without its signature.
            let (identity, media, old, source) = if delivery::is_url(input) {
                (
                    Identity::url(None, input),
                    Media::Url(input.clone()),
                    legacy::url(None, input),
                    redact_url(input),
                )
            } else {
                let path = PathBuf::from(input);
                (
                    Identity::file(None, &base, &path),
                    Media::File(path.clone()),
                    legacy::file(None, &path),
                    input.clone(),
                )
            };
            let mut d = Delivery::new(identity, source, media);
            d.account.clone_from(&args.account);
            d.legacy = Some(storyforge::ledger::Legacy {
                identity: old,
                by_position: false,
            });
            d.republish = args.republish;
            d.publish_changed = args.publish_changed;
            all.push(d);
        }
        // Containers made side by side, published in the order given.
        let items = delivery::lanes::deliver_in_order(&ctx, &all).await;
        anyhow::Ok((items, ctx.ledger().path().to_string()))
    })?;
    let (items, ledger) = items;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&items)?);
    } else {
        for i in &items {
            println!("{}", item_line(i));
        }
    }
    eprintln!("ledger {ledger}");
    Ok(exit_code(&items))
}

/// One item as the commands print it.
pub fn item_line(i: &Item) -> String {
    let id = i.media_id.as_deref().unwrap_or("(id unknown)");
    let detail = i.error.as_deref().unwrap_or("");
    match i.status {
        ItemStatus::Published => format!("{}: published as media {id}", i.source),
        ItemStatus::AlreadyPublished if detail.is_empty() => {
            format!("{}: already published as media {id}", i.source)
        }
        ItemStatus::AlreadyPublished => {
            format!("{}: already published as media {id}; {detail}", i.source)
        }
        ItemStatus::DryRun => match &i.url {
            Some(url) => format!("{}: dry run: ready at {url}, not published", i.source),
            None => format!("{}: dry run: ready, not published", i.source),
        },
        _ if detail.is_empty() => format!("{}: {}", i.source, i.status),
        _ => format!("{}: {}: {detail}", i.source, i.status),
    }
}

/// 1 when any item failed or waits for a person (unsure), else 0.
fn exit_code(items: &[Item]) -> ExitCode {
    if items
        .iter()
        .any(|i| matches!(i.status, ItemStatus::Failed | ItemStatus::Unsure))
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs `storyforge ledger` (and `ledger settle`).
pub fn ledger(args: LedgerArgs) -> anyhow::Result<ExitCode> {
    let (settings, ledger) = open(&args.config)?;
    if let Some(LedgerAction::Migrate(m)) = &args.action {
        let counts = ledger.migrate_to(&m.to)?;
        for (table, n) in &counts {
            println!("{table:<18} {n:>8} rows");
        }
        println!(
            "copied {} into {}; point `ledger:` at it",
            ledger.path(),
            storyforge::util::redact::redact_url(&m.to)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(LedgerAction::Settle(settle)) = &args.action {
        let Some(id) = settle.id else {
            if settle.published.is_some() || settle.not_published {
                bail!(
                    "ledger settle: give the Story's id (the first column of `storyforge ledger`)"
                );
            }
            return fill_media_ids(&settings, &ledger);
        };
        let how = match (&settle.published, settle.not_published) {
            (Some(m), false) => Settlement::Published(m.clone()),
            (None, true) => Settlement::NotPublished,
            _ => bail!("ledger settle {id}: give --published MEDIA_ID or --not-published"),
        };
        let row = ledger.settle(id, &how)?;
        println!(
            "Story {} ({}): {}{}",
            row.id,
            row.source,
            row.state,
            row.media_id
                .as_deref()
                .map(|m| format!(" as media {m}"))
                .unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let assets = ledger.assets()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&assets)?);
    } else {
        for a in &assets {
            println!(
                "{:<5} {:<10} {:<6} {:<10} media {:<20} {}{}",
                a.id,
                a.account,
                a.kind,
                a.state.as_str(),
                a.media_id.as_deref().unwrap_or("-"),
                storyforge::util::redact::redact(&a.source),
                a.last_error
                    .as_deref()
                    .map(|e| format!("  ({e})"))
                    .unwrap_or_default()
            );
        }
        let unsure: Vec<_> = assets.iter().filter(|a| a.state == State::Unsure).collect();
        for a in &unsure {
            eprintln!(
                "unsure: Story {} ({}) may have been published (container {}). Look at the account's Stories, then run `storyforge ledger settle {} --published MEDIA_ID` or `storyforge ledger settle {} --not-published`",
                a.id,
                a.source,
                a.container_id.as_deref().unwrap_or("-"),
                a.id,
                a.id
            );
        }
        for a in assets
            .iter()
            .filter(|a| a.state == State::Published && a.media_id.is_none())
        {
            eprintln!(
                "id unknown: Story {} ({}) was published, but its publish reply was lost: {}; its insights cannot be collected until it is known",
                a.id,
                storyforge::util::redact::redact(&a.source),
                a.last_error.as_deref().unwrap_or("the live Stories since could not be told apart")
            );
        }
        eprintln!(
            "{} Stor{} in {}",
            assets.len(),
            if assets.len() == 1 { "y" } else { "ies" },
            ledger.path()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `storyforge ledger settle` without an id: every account's media ids of
/// lost replies that have become certain, by their publish windows.
fn fill_media_ids(settings: &Settings, ledger: &Ledger) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    let client = graph_client(settings)?;
    let mut left = 0;
    for a in &accounts(settings, None, false)? {
        let name = &a.settings.name;
        let filled = rt.block_on(publish::media_ids::fill(&client, ledger, a))?;
        let unknown = ledger.ids_unknown(name)?;
        println!(
            "{name}: {filled} media id{} filled in, {} still unknown",
            if filled == 1 { "" } else { "s" },
            unknown.len()
        );
        for u in &unknown {
            let row = ledger.get(u.id)?;
            println!(
                "  Story {} ({}): {}",
                row.id,
                storyforge::util::redact::redact(&row.source),
                row.last_error.as_deref().unwrap_or("media id unknown")
            );
        }
        left += unknown.len();
    }
    if left > 0 {
        eprintln!("{left} media id(s) still unknown: the next run, `tick` or `storyforge ledger settle` fills them in once the other Stories of their windows are known");
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
        let client = graph_client(&settings)?;
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
    /// The date used for `today`, YYYY-MM-DD [default: today in the account's `timezone:`].
    #[arg(long, value_name = "DATE")]
    today: Option<chrono::NaiveDate>,
    /// x264 preset for videos [default: medium].
    #[arg(long)]
    preset: Option<String>,
    /// Publish again what was already published (a new Story each), and
    /// bytes that went out under another name.
    #[arg(long)]
    republish: bool,
    /// Publish the new version of every published Story whose row values
    /// or template changed since (as `on_change: publish` on every entry).
    #[arg(long)]
    publish_changed: bool,
    /// Print the run report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs `storyforge run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let job = storyforge::run::JobFile::load(&args.job)?;
    let (settings, _sandbox) = args.config.delivery_settings()?;
    let opts = storyforge::run::RunOptions {
        dry_run: args.dry_run,
        shard: args.shard,
        today: args.today,
        preset: args.preset,
        republish: args.republish,
        publish_changed: args.publish_changed,
        ..storyforge::run::RunOptions::default()
    };
    let report =
        with_progress(|on_item| storyforge::run::run_with(&job, settings, &opts, on_item))?;
    print_run(
        &report,
        job.out.as_deref().unwrap_or(Path::new("out")),
        args.json,
    )
}

/// Runs `f` with one progress view for the whole batch: a spinner with the
/// counts and the last item on a terminal, nothing otherwise (the report
/// lines follow at the end).
pub fn with_progress<T>(f: impl FnOnce(&dyn Fn(&Item)) -> T) -> T {
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
    let on_item = |i: &Item| {
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
            println!("{}", item_line(i));
        }
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    eprintln!(
        "{}; report: {}",
        report.summary(),
        out.join("report.html").display()
    );
    Ok(exit_code(&report.items))
}
