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
    /// A countdown: every row, once a day, until this date expression over the row (`{{event_date}}`) has passed in the account's zone.
    #[arg(long, value_name = "EXPR")]
    until: Option<String>,
    /// A rotation: N rows a day, least recently published first (each row once per cycle).
    #[arg(long, value_name = "N")]
    per_day: Option<usize>,
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
    // `--until` and `--per-day` choose the rows in the library (as in a
    // job file); otherwise the day's rows are picked here.
    let chooses = args.until.is_some() || args.per_day.is_some();
    let (picked, how) = storyforge::daily::rows_for(&rows, day);
    if chooses {
        eprintln!(
            "{day} ({zone}): {} of {}",
            if args.per_day.is_some() {
                "a rotation"
            } else {
                "a countdown"
            },
            args.feed.display()
        );
    } else if picked.is_empty() {
        eprintln!(
            "{}: no rows for {day} ({how:?}); nothing to do",
            args.feed.display()
        );
        return Ok(ExitCode::SUCCESS);
    } else {
        eprintln!(
            "{day} ({zone}): rows {picked:?} of {} ({how:?})",
            args.feed.display()
        );
    }
    let job = JobFile {
        account: Some(account),
        out: Some(args.out),
        jobs: vec![Job {
            template: Some(args.template),
            feed: Some(args.feed.into()),
            videos: None,
            rows: (!chooses).then_some(picked),
            file: None,
            key: args.key,
            mentions: Vec::new(),
            on_change: None,
            until: args.until,
            per_day: args.per_day,
            ..Job::default()
        }],
        base: None,
    };
    for j in &job.jobs {
        j.check().map_err(|m| anyhow::anyhow!("daily: {m}"))?;
    }
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

/// Store a Story for later or a recurring automation (`add`), list the
/// schedule (`list`), or `remove`, `pause`, `resume` one (by its id).
#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    /// `add`, `list`, `remove`, `pause` or `resume`.
    #[arg(value_parser = ["add", "list", "remove", "pause", "resume"])]
    action: String,
    /// A ready Story file (for `add`), or the id to change (`A3` for an
    /// automation, `7` for a one-off entry).
    file: Option<PathBuf>,
    /// A job file to run on a recurring rule (`add --job … --every …`).
    #[arg(long)]
    job: Option<PathBuf>,
    /// The rule, in the account's `timezone:`: `daily 09:00`,
    /// `mon,wed,fri 18:30`, `weekdays 08:00,17:00`, `hourly`, `hourly :15`
    /// (docs/automations.md, "Recurring automations").
    #[arg(long, value_name = "RULE")]
    every: Option<String>,
    /// Print JSON (for `list`).
    #[arg(long)]
    json: bool,
    /// The time it is, RFC 3339, for tests and backfills [default: the clock].
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
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
    let now = super::automations::now(args.now.as_deref())?;
    if matches!(args.action.as_str(), "remove" | "pause" | "resume") {
        return super::automations::change(&ledger, &args.action, args.file.as_deref(), now);
    }
    if args.action == "list" {
        let listings: Vec<_> = ledger
            .automations()?
            .iter()
            .map(|a| storyforge::schedule::automation::listing(&settings, a, now, 3))
            .collect();
        if args.json {
            let out = serde_json::json!({"entries": ledger.schedule()?, "automations": listings});
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(ExitCode::SUCCESS);
        }
        super::automations::list(&listings);
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
    match (&args.job, &args.every) {
        (Some(job), Some(every)) => {
            return super::automations::add(&settings, &ledger, job, every, args.account, now)
        }
        (None, None) => {}
        _ => {
            bail!("schedule add: give both --job FILE and --every RULE for a recurring automation")
        }
    }
    let Some(at) = args.at.as_deref() else {
        bail!("schedule add needs --at TIME (or --job FILE --every RULE)");
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
        ..Job::default()
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
    /// The time it is, RFC 3339, for tests and backfills: which
    /// occurrences and entries are due (tokens and insights go by the
    /// clock) [default: the clock].
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs `storyforge tick`.
pub fn tick(args: TickArgs) -> anyhow::Result<ExitCode> {
    let (settings, _sandbox) = args.config.delivery_settings()?;
    let now = super::automations::now(args.now.as_deref())?;
    let report = storyforge::schedule::tick_due_at(&settings, &args.out, now, chrono::Utc::now())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !report.ran {
        eprintln!("another tick is running; nothing done");
    } else {
        for (id, state, result) in &report.scheduled {
            println!("#{id} {state}: {result}");
        }
        for a in &report.automations {
            let state = if a.failed { "failed" } else { "done" };
            println!("A{} {} {state}: {}", a.id, a.local, a.result);
        }
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        eprintln!(
            "{} scheduled handled, {} automations run, {} insights collected ({} with no data yet), {} tokens refreshed; ledger {}",
            report.scheduled.len(),
            report.automations.len(),
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
        || report.automations.iter().any(|a| a.failed)
        || !report.errors.is_empty();
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
