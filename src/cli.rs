//! Command-line interface of the binary: clap definitions and the glue from
//! arguments to library calls, progress bars and printed reports.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

mod auth;
mod automations;
mod builtin;
mod init;
mod insights;
mod publish;
mod schedule;
mod serve;
mod validate;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use storyforge::fonts::FontBook;
use storyforge::pipeline::{self, BatchObserver, RenderSettings, StoryOutcome};

/// Make, check and publish Instagram Stories.
#[derive(Debug, Parser)]
#[command(name = "storyforge", version, about, long_about = None)]
pub struct Cli {
    /// More log output (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// `--fit`: how the picture fills the 9:16 frame (the CLI's names for
/// [`storyforge::video::FitMode`]; the library has no clap).
#[cfg(feature = "video")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FitArg {
    /// The frame scaled to fit over a blurred, scaled-to-fill copy of itself.
    Blur,
    /// Letterboxed in black.
    Pad,
    /// Cropped around the centre.
    Crop,
}

#[cfg(feature = "video")]
impl From<FitArg> for storyforge::video::FitMode {
    fn from(f: FitArg) -> Self {
        match f {
            FitArg::Blur => Self::Blur,
            FitArg::Pad => Self::Pad,
            FitArg::Crop => Self::Crop,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render Story JPEGs from templates, once per feed row.
    Render(RenderArgs),
    /// Print the JSON Schema of the template format.
    Schema,
    /// Check images, videos and templates against Instagram's Story rules (for CI too).
    Validate(validate::ValidateArgs),
    /// Transcode videos into Story-compliant MP4s (H.264/AAC, 1080×1920, under the budget).
    #[cfg(feature = "video")]
    Transcode(TranscodeArgs),
    /// Upload Story files and print one checked public URL per file.
    Upload(UploadArgs),
    /// Publish Story files or URLs through the Graph API, exactly once each.
    Publish(publish::PublishArgs),
    /// List the ledger: every asset, its state, container and media id.
    Ledger(publish::LedgerArgs),
    /// Show token lifetimes, or refresh tokens now.
    Token(publish::TokenArgs),
    /// Log an Instagram account in (Business Login), or show its token's status.
    Auth(auth::AuthArgs),
    /// Check the set-up (FFmpeg, fonts, storage, accounts, ledger, clock); exit 1 if anything fails.
    Doctor(auth::DoctorArgs),
    /// Collect Story insights before the Stories expire, or report what they teach (`insights report`).
    Insights(insights::InsightsArgs),
    /// Run the local Graph API sandbox (for demos, tests and any client).
    Sandbox(publish::SandboxArgs),
    /// Start a project: a commented storyforge.yaml, a template, a feed, a job file and cron lines.
    Init(init::InitArgs),
    /// Run a job file: templates × feeds and videos → published Stories, with a report.
    Run(publish::RunArgs),
    /// The daily content job: today's feed rows through a template, once per day.
    Daily(schedule::DailyArgs),
    /// Store a Story for later or a recurring automation (`add --every`), list, remove, pause, resume.
    Schedule(schedule::ScheduleArgs),
    /// Publish what is due, collect due insights, refresh due tokens (run it from cron).
    Tick(schedule::TickArgs),
    /// A local web dashboard: the queue, new Stories from files and templates, recent Stories, quota.
    Serve(serve::ServeArgs),
    /// Print what FFmpeg sees in a media file.
    #[cfg(feature = "video")]
    Probe {
        /// Media files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct RenderArgs {
    /// Template files, or directories of *.yaml templates.
    #[arg(required = true)]
    templates: Vec<PathBuf>,
    /// Data feed: CSV with a header row, a JSON array or a YAML list of objects.
    #[arg(short, long, value_name = "FEED")]
    data: Option<PathBuf>,
    /// Output directory.
    #[arg(short, long, default_value = "out", value_name = "DIR")]
    out: PathBuf,
    /// Stories rendered at once [default: number of cores].
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Also write NAME.preview.png with the safe zone and layer boxes drawn.
    #[arg(long)]
    preview: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
    /// JPEG quality 1–100 for every Story [default: the template's, else 90].
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: Option<u8>,
    /// The date used for `today` and `days_until`, YYYY-MM-DD [default: today].
    #[arg(long, value_name = "DATE")]
    today: Option<chrono::NaiveDate>,
    /// Extra font directory (Family-Weight.ttf files); repeatable.
    #[arg(long, value_name = "DIR")]
    fonts: Vec<PathBuf>,
    /// x264 preset of video templates' Stories (ultrafast … veryslow).
    #[arg(long, default_value = "medium")]
    preset: String,
}

#[derive(Debug, clap::Args)]
struct UploadArgs {
    /// Story files: JPEG images and MP4 videos.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Settings file [default: $STORYFORGE_CONFIG, else ./storyforge.yaml when present, else the local store].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print a JSON array of {file, key, url, bytes, sha256, content_type, reused} or {file, error}.
    #[arg(long)]
    json: bool,
    /// Accept plain-HTTP URLs on loopback (the publish target is a local sandbox).
    #[arg(long)]
    allow_http: bool,
}

#[cfg(feature = "video")]
#[derive(Debug, clap::Args)]
struct TranscodeArgs {
    /// Input videos (MP4, MOV, MKV, WebM, AVI…).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output directory.
    #[arg(short, long, default_value = "out", value_name = "DIR")]
    out: PathBuf,
    /// Largest output file in bytes.
    #[arg(long, default_value_t = storyforge::spec::DEFAULT_VIDEO_MAX_BYTES, value_name = "N")]
    max_bytes: u64,
    /// How the picture fills the 9:16 frame.
    #[arg(long, value_enum, default_value_t = FitArg::Blur)]
    fit: FitArg,
    /// Files transcoded at once [default: cores, with encoder threads = cores / files].
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Pad clips under 3 s to 3 s by holding the last frame (default: refuse them).
    #[arg(long)]
    pad_short: bool,
    /// x264 preset (ultrafast … veryslow): encoding speed against quality per byte.
    #[arg(long, default_value = "medium")]
    preset: String,
    /// Print each input's plan (facts, parts, filters, bitrates) as JSON and encode nothing.
    #[arg(long)]
    plan: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

/// Logs go to stderr; `-v` adds detail, `-q` keeps errors only.
pub fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STORYFORGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Render(args) => render(args, cli.quiet),
        Command::Schema => {
            println!("{}", storyforge::template::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate(args) => validate::run(args),
        Command::Upload(args) => upload(args, cli.quiet),
        Command::Publish(args) => publish::publish(args),
        Command::Ledger(args) => publish::ledger(args),
        Command::Token(args) => publish::token(args),
        Command::Insights(args) => insights::insights(args),
        Command::Auth(args) => auth::auth(args),
        Command::Doctor(args) => auth::doctor(args),
        Command::Sandbox(args) => publish::sandbox(args),
        Command::Init(args) => init::init(args),
        Command::Run(args) => publish::run(args),
        Command::Daily(args) => schedule::daily(args),
        Command::Schedule(args) => schedule::schedule(args),
        Command::Tick(args) => schedule::tick(args),
        Command::Serve(args) => serve::serve(args),
        #[cfg(feature = "video")]
        Command::Transcode(args) => transcode(args, cli.quiet),
        #[cfg(feature = "video")]
        Command::Probe { files } => {
            let mut failed = false;
            for f in files {
                match storyforge::video::probe(&f) {
                    Ok(facts) => println!("{}", serde_json::to_string(&facts)?),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

struct Progress {
    bar: ProgressBar,
    quiet: bool,
}

impl BatchObserver for Progress {
    fn started(&self, total: u64) {
        self.bar.set_length(total);
    }
    fn finished(&self, o: &StoryOutcome) {
        self.bar.inc(1);
        self.bar.suspend(|| {
            if let Some(e) = &o.error {
                eprintln!("error: {e}");
            }
            if !self.quiet {
                for w in &o.warnings {
                    eprintln!("warning: {w}");
                }
            }
        });
        if let (None, Some(out)) = (&o.error, &o.output) {
            tracing::info!("wrote {}", out.display());
        }
    }
}

/// The bundled fonts plus those in `dirs`.
fn load_fonts(dirs: &[PathBuf]) -> anyhow::Result<FontBook> {
    let mut fonts = FontBook::bundled();
    for dir in dirs {
        fonts
            .add_dir(dir)
            .with_context(|| format!("{}: cannot load fonts", dir.display()))?;
    }
    Ok(fonts)
}

fn render(args: RenderArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let fonts = load_fonts(&args.fonts)?;
    let mut settings = RenderSettings {
        out_dir: args.out.clone(),
        jobs: args.jobs,
        preview: args.preview,
        quality: args.quality,
        ..RenderSettings::default()
    };
    settings.video.preset = args.preset.clone();
    if let Some(d) = args.today {
        settings.today = d;
    }
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} rendering [{bar:30}] {pos}/{len} stories  {per_sec}  eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    };
    let observer = Progress { bar, quiet };
    let report = pipeline::render_batch(
        &args.templates,
        args.data.as_deref(),
        &fonts,
        &settings,
        &observer,
    )?;
    observer.bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if !quiet {
        eprintln!(
            "rendered {} Stor{} into {}{}",
            report.rendered,
            if report.rendered == 1 { "y" } else { "ies" },
            args.out.display(),
            if report.failed > 0 {
                format!(", {} failed", report.failed)
            } else {
                String::new()
            }
        );
    }
    Ok(if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn upload(args: UploadArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    use storyforge::storage::{upload_all, AnyStore, UrlCheck};
    let settings = storyforge::config::Settings::discover(args.config.as_deref())?;
    let storage = settings.storage;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let outcomes = runtime.block_on(async {
        let store = AnyStore::open(&storage).await?;
        // The local store only ever serves the loopback sandbox.
        let allow_http = args.allow_http || store.is_local();
        let timeout = std::time::Duration::from_secs(storage.timeout_seconds);
        let check = UrlCheck::new(allow_http, timeout)?;
        anyhow::Ok(upload_all(&store, &args.files, storage.concurrency, &check).await)
    })?;
    let mut rows = Vec::new();
    let mut failed = 0;
    for o in &outcomes {
        match &o.result {
            Ok(up) => {
                if !args.json {
                    println!("{}", up.url);
                }
                let mut row = serde_json::to_value(up)?;
                row["file"] = serde_json::json!(o.file);
                rows.push(row);
            }
            Err(e) => {
                failed += 1;
                if e.names_file() {
                    eprintln!("error: {e}");
                } else {
                    eprintln!("error: {}: {e}", o.file.display());
                }
                rows.push(serde_json::json!({ "file": o.file, "error": e.to_string() }));
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    if !quiet && failed > 0 {
        eprintln!("{failed} of {} files have no usable URL", outcomes.len());
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(feature = "video")]
struct VideoBars {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::HashMap<PathBuf, ProgressBar>>,
    visible: bool,
    quiet: bool,
    started: std::time::Instant,
}

#[cfg(feature = "video")]
impl storyforge::video::batch::VideoObserver for VideoBars {
    fn progress(&self, input: &std::path::Path, done: u64, total: u64, fps: f64) {
        if !self.visible {
            return;
        }
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        let bar = bars.entry(input.to_path_buf()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(total));
            if let Ok(style) =
                ProgressStyle::with_template("{prefix:30!} [{bar:25}] {pos}/{len} frames  {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(
                input
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            bar
        });
        bar.set_length(total);
        bar.set_position(done);
        let secs = bar.elapsed().as_secs_f64();
        if secs > 0.0 && fps > 0.0 {
            bar.set_message(format!("{:.2}× real time", done as f64 / fps / secs));
        }
    }

    fn finished(&self, o: &storyforge::video::batch::VideoOutcome) {
        if let Some(bar) = self
            .bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&o.input)
        {
            bar.finish_and_clear();
        }
        let line = match &o.error {
            Some(e) => format!("error: {e}"),
            None => o
                .outputs
                .iter()
                .map(|out| {
                    format!(
                        "wrote {} ({} bytes, {:.2} s)",
                        out.path.display(),
                        out.bytes,
                        out.duration
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        };
        if self.visible {
            let _ = self.multi.println(line);
        } else if o.error.is_some() {
            eprintln!("{line}");
        } else if !self.quiet {
            // No terminal: a plain line per finished file.
            eprintln!("{line} [{:.1} s]", self.started.elapsed().as_secs_f64());
        }
    }
}

#[cfg(feature = "video")]
fn transcode(args: TranscodeArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let opts = storyforge::video::TranscodeOptions {
        max_bytes: args.max_bytes,
        fit: args.fit.into(),
        pad_short: args.pad_short,
        preset: args.preset,
        ..Default::default()
    };
    if args.plan {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (_, threads) =
            storyforge::video::batch::thread_budget(args.inputs.len(), cores, args.jobs);
        let opts = storyforge::video::TranscodeOptions {
            threads,
            ..opts.clone()
        };
        let mut failed = false;
        for input in &args.inputs {
            match storyforge::video::transcode::plan_file(input, &opts) {
                Ok(p) => println!("{}", serde_json::to_string(&p)?),
                Err(e) => {
                    eprintln!("error: {e}");
                    failed = true;
                }
            }
        }
        return Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let visible = !quiet && std::io::stderr().is_terminal();
    let observer = VideoBars {
        multi: indicatif::MultiProgress::new(),
        bars: Default::default(),
        visible,
        quiet,
        started: std::time::Instant::now(),
    };
    let outcomes = storyforge::video::batch::transcode_all(
        &args.inputs,
        &args.out,
        &opts,
        args.jobs,
        &observer,
    )
    .with_context(|| format!("{}: cannot use the output directory", args.out.display()))?;
    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    }
    if !quiet {
        let parts: usize = outcomes.iter().map(|o| o.outputs.len()).sum();
        eprintln!(
            "transcoded {} of {} videos into {} Story file{} in {}{}",
            outcomes.len() - failed,
            outcomes.len(),
            parts,
            if parts == 1 { "" } else { "s" },
            args.out.display(),
            if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            }
        );
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
