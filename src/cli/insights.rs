//! `storyforge insights` (collect now, showing what failed and what the API
//! refused) and `storyforge insights report` (what the insights teach).

use std::process::ExitCode;

use storyforge::publish::{self, report};

use super::publish::{accounts, graph_client, open, runtime, ConfigArg};

/// Collect Story insights (views, reach, replies, shares, interactions,
/// navigation), or report what they teach.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct InsightsArgs {
    #[command(subcommand)]
    what: Option<InsightsCommand>,
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

/// What else `insights` does.
#[derive(Debug, clap::Subcommand)]
enum InsightsCommand {
    /// Per template and variant: median reach and views, exit and forward
    /// rates, replies and shares per 1,000 reached, with 95 % intervals;
    /// median reach per weekday and hour; findings.
    Report(ReportArgs),
}

/// `storyforge insights report`.
#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// Only this account.
    #[arg(long)]
    account: Option<String>,
    /// Only Stories published this recently: 30d, 12h, 2w.
    #[arg(long, value_parser = report::parse_since)]
    since: Option<chrono::Duration>,
    /// Print JSON (rows, hours, best hours, findings).
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV (one line per template or variant).
    #[arg(long)]
    csv: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// Runs `storyforge insights [report]`.
pub fn insights(args: InsightsArgs) -> anyhow::Result<ExitCode> {
    if let Some(InsightsCommand::Report(r)) = args.what {
        return run_report(r);
    }
    let (settings, ledger) = open(&args.config)?;
    let list = accounts(&settings, args.account.as_deref(), false)?;
    let rt = runtime()?;
    let client = graph_client(&settings)?;
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
    // Earlier failures not retried in this run stay visible until a
    // collection succeeds.
    let names: Vec<&str> = list.iter().map(|a| a.settings.name.as_str()).collect();
    let earlier: Vec<_> = ledger
        .insight_failures()?
        .into_iter()
        .filter(|f| names.contains(&f.account.as_str()))
        .filter(|f| !all.iter().any(|c| c.media_id == f.media_id))
        .collect();
    let failed = all.iter().any(|c| c.result.is_err());
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "collected": all, "earlier_failures": earlier })
            )?
        );
    } else {
        for c in &all {
            match &c.result {
                Ok(_) if c.no_data_yet => println!(
                    "{}: no data yet (fewer than 5 viewers); asked again next time",
                    c.media_id
                ),
                Ok(m) => println!("{}: {m}", c.media_id),
                Err(e) => eprintln!("error: media {}: {e}", c.media_id),
            }
        }
        for f in &earlier {
            eprintln!(
                "error: media {}: insights not collected (last try {}): {}",
                f.media_id, f.failed_at, f.error
            );
        }
        let mut tally = publish::insights::Tally::default();
        tally.add(&all);
        for r in &tally.refused {
            eprintln!("note: {r}");
        }
        let (collected, waiting) = (tally.collected, tally.no_data_yet);
        eprintln!(
            "{collected} Stor{} collected, {waiting} with no data yet",
            if collected == 1 { "y" } else { "ies" }
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let (settings, ledger) = open(&args.config)?;
    if let Some(name) = &args.account {
        accounts(&settings, Some(name), false)?;
    }
    let opts = report::ReportOptions {
        account: args.account.clone(),
        since: args.since.map(|d| chrono::Utc::now() - d),
        zone: settings.report_zone(args.account.as_deref()),
    };
    let r = report::report(&ledger, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else if args.csv {
        print!("{}", report::csv(&r));
    } else {
        print!("{}", report::text(&r));
    }
    Ok(ExitCode::SUCCESS)
}
