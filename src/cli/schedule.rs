//! `storyforge daily | schedule | tick`: the daily content job, Stories
//! stored for later, and the tick that cron or a timer runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use storyforge::feed::Feed;
use storyforge::ledger::{Ledger, ScheduleState, Scheduled};
use storyforge::run::{self, Job, JobFile, RunOptions};

use super::publish::ConfigArg;

/// Today's rows of a feed through a template, published once per day.
#[derive(Debug, clap::Args)]
pub struct DailyArgs {
    /// The feed (rows with a `date`, a `weekday`, or taken in turn).
    #[arg(long)]
    feed: PathBuf,
    /// The template.
    #[arg(long)]
    template: PathBuf,
    /// The day, YYYY-MM-DD [default: today in the account's `timezone:`].
    #[arg(long, value_name = "DATE")]
    date: Option<chrono::NaiveDate>,
    /// The account [default: the first].
    #[arg(long)]
    account: Option<String>,
    /// Output directory.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Stop before publishing.
    #[arg(long)]
    dry_run: bool,
    /// The feed column that names a row [default: the first of id, guid, sku, slug, link, url the feed has, else the row's values; never its position].
    #[arg(long, value_name = "COLUMN")]
    key: Option<String>,
    /// Publish the day's Stories again even if they already went out.
    #[arg(long)]
    republish: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs `storyforge daily`.
pub fn daily(args: DailyArgs) -> anyhow::Result<ExitCode> {
    let (settings, _sandbox) = args.config.delivery_settings()?;
    let account = settings
        .account_name(args.account.as_deref())
        .map_err(|e| anyhow::anyhow!(e))?;
    let zone = settings.account_zone(&account);
    let day = args
        .date
        .unwrap_or_else(|| settings.account_today(&account));
    let feed = Feed::open(&args.feed)?;
    let rows = feed
        .rows()?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: cannot read the feed", args.feed.display()))?;
    let (picked, how) = storyforge::daily::rows_for(&rows, day);
    if picked.is_empty() {
        eprintln!(
            "{}: no rows for {day} ({how:?}); nothing to do",
            args.feed.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{day} ({zone}): rows {picked:?} of {} ({how:?})",
        args.feed.display()
    );
    let job = JobFile {
        account: Some(account),
        out: Some(args.out),
        jobs: vec![Job {
            template: Some(args.template),
            feed: Some(args.feed.into()),
            videos: None,
            rows: Some(picked),
            file: None,
            key: args.key,
            mentions: Vec::new(),
            on_change: None,
        }],
        base: None,
    };
    let opts = RunOptions {
        dry_run: args.dry_run,
        today: Some(day),
        republish: args.republish,
        // One Story per row and day: tomorrow the same row is a new Story.
        scope: Some(format!("day:{day}")),
        ..RunOptions::default()
    };
    let report =
        super::publish::with_progress(|on_item| run::run_with(&job, settings, &opts, on_item))?;
    super::publish::print_run(
        &report,
        job.out.as_deref().unwrap_or(std::path::Path::new("out")),
        false,
    )
}

/// Store a Story for later (`add`), or list the schedule (`list`).
#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    /// `add` or `list`.
    #[arg(value_parser = ["add", "list"])]
    action: String,
    /// A ready Story file (for `add`).
    file: Option<PathBuf>,
    /// Or a template…
    #[arg(long)]
    template: Option<PathBuf>,
    /// …with a feed…
    #[arg(long)]
    feed: Option<PathBuf>,
    /// …and a row (1-based).
    #[arg(long)]
    row: Option<usize>,
    /// When: RFC 3339 (`2026-12-01T09:00:00+01:00`) or `YYYY-MM-DD HH:MM`
    /// in the account's `timezone:` (UTC when it sets none).
    #[arg(long)]
    at: Option<String>,
    /// The account [default: the first].
    #[arg(long)]
    account: Option<String>,
    /// Publish it even if the same bytes went out within 24 h (on purpose).
    #[arg(long)]
    republish: bool,
    #[command(flatten)]
    config: ConfigArg,
}

fn parse_at(s: &str, zone: chrono_tz::Tz) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .with_context(|| format!("--at `{s}`: write RFC 3339 or YYYY-MM-DD HH:MM"))?;
    storyforge::util::zone::to_utc(zone, local).map_err(|e| anyhow::anyhow!("--at `{s}`: {e}"))
}

/// A local path made absolute (it must exist); a feed URL kept as it is.
fn absolute(p: PathBuf) -> anyhow::Result<String> {
    let shown = p.display().to_string();
    if storyforge::delivery::is_url(&shown) {
        return Ok(shown);
    }
    let abs = std::fs::canonicalize(&p).with_context(|| format!("{shown}: not found"))?;
    Ok(abs.display().to_string())
}

/// Runs `storyforge schedule`.
pub fn schedule(args: ScheduleArgs) -> anyhow::Result<ExitCode> {
    let settings = args.config.settings()?;
    let ledger = Ledger::open(&settings.ledger)?;
    if args.action == "list" {
        for s in ledger.schedule()? {
            let what = s.describe();
            let tries = match (s.attempts, &s.next_try) {
                (0, _) => String::new(),
                (n, Some(t)) if s.state == ScheduleState::Pending => {
                    format!(" (attempt {n}, next try {t})")
                }
                (n, _) => format!(" ({n} attempt{})", if n == 1 { "" } else { "s" }),
            };
            println!(
                "#{} {} {}{tries} {what}{}",
                s.id,
                s.at,
                s.state,
                s.result.map(|r| format!(" — {r}")).unwrap_or_default()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(at) = args.at.as_deref() else {
        bail!("schedule add needs --at TIME");
    };
    let job = Job {
        template: args.template.clone(),
        feed: args.feed.clone().map(Into::into),
        videos: None,
        rows: args.row.map(|r| vec![r]),
        file: args.file.clone(),
        key: None,
        mentions: Vec::new(),
        on_change: None,
    };
    job.check()
        .map_err(|m| anyhow::anyhow!("schedule add: {m}"))?;
    // A wall-clock `--at` is in the account's zone (the built-in demo
    // account, which is not in the file, has UTC).
    let zone = args
        .account
        .as_deref()
        .or_else(|| settings.accounts.first().map(|a| a.name.as_str()))
        .map_or(chrono_tz::UTC, |a| settings.account_zone(a));
    let entry = Scheduled {
        account: args.account,
        file: args.file.map(absolute).transpose()?,
        template: args.template.map(absolute).transpose()?,
        feed: args.feed.map(absolute).transpose()?,
        row: args.row,
        at: parse_at(at, zone)?.to_rfc3339(),
        republish: args.republish,
        ..Scheduled::default()
    };
    let id = ledger.add_schedule(&entry)?;
    println!("scheduled #{id} for {}", entry.at);
    Ok(ExitCode::SUCCESS)
}

/// Publish what is due, collect due insights, refresh due tokens (for cron).
#[derive(Debug, clap::Args)]
pub struct TickArgs {
    /// Where scheduled Stories are written.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs `storyforge tick`.
pub fn tick(args: TickArgs) -> anyhow::Result<ExitCode> {
    let (settings, _sandbox) = args.config.delivery_settings()?;
    let report = storyforge::schedule::tick(&settings, &args.out, chrono::Utc::now())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !report.ran {
        eprintln!("another tick is running; nothing done");
    } else {
        for (id, state, result) in &report.scheduled {
            println!("#{id} {state}: {result}");
        }
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        eprintln!(
            "{} scheduled handled, {} insights collected ({} with no data yet), {} tokens refreshed; ledger {}",
            report.scheduled.len(),
            report.insights,
            report.no_data_yet,
            report.refreshed.len(),
            storyforge::ledger::shown(&settings.ledger)
        );
    }
    let failed = report
        .scheduled
        .iter()
        .any(|(_, s, _)| *s == ScheduleState::Failed)
        || !report.errors.is_empty();
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
