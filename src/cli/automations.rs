//! `storyforge schedule add --every`, `list`, `remove`, `pause`, `resume`
//! for recurring automations (shown as `A<id>`), beside one-off entries
//! (`#<id>`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};

use storyforge::config::Settings;
use storyforge::ledger::{Automation, Ledger};
use storyforge::schedule::automation::{self, Listing};
use storyforge::schedule::every::Rule;

/// `--now` for tests and backfills: RFC 3339 [default: the clock].
pub fn now(arg: Option<&str>) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    match arg {
        None => Ok(chrono::Utc::now()),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .with_context(|| format!("--now `{s}`: write RFC 3339, e.g. 2026-12-08T09:00:00Z")),
    }
}

/// Stores the automation: `job` every `every`.
pub fn add(
    settings: &Settings,
    ledger: &Ledger,
    job: &Path,
    every: &str,
    account: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitCode> {
    let rule: Rule = every.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    // The job file must load now, not first fail at 09:00.
    let loaded = storyforge::run::JobFile::load(job)?;
    let account = settings
        .account_name(account.as_deref().or(loaded.account.as_deref()))
        .map_err(|e| anyhow::anyhow!("schedule add: {e}"))?;
    let zone = settings.account_zone(&account);
    let a = Automation {
        account: Some(account.clone()),
        job: automation::stored_job(settings, job),
        rule: every.trim().to_string(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ..Automation::default()
    };
    let id = ledger.add_automation(&a)?;
    let next: Vec<String> = rule
        .next(zone, now, 3)
        .into_iter()
        .map(|t| automation::local(t, zone))
        .collect();
    println!(
        "automation A{id}: {} every {} for {account} ({zone}); next {}",
        a.job,
        a.rule,
        next.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// `A3` → 3 for automations; `#7` or `7` → a one-off entry.
enum Target {
    Automation(i64),
    Entry(i64),
}

fn target(id: Option<&Path>) -> anyhow::Result<Target> {
    let Some(id) = id.map(|p| p.to_string_lossy().trim().to_string()) else {
        bail!("name the automation (A3) or the entry (7) to change; `storyforge schedule list` shows them");
    };
    let bad = || {
        anyhow::anyhow!("`{id}`: write A<number> for an automation or <number> for a one-off entry, as `schedule list` shows")
    };
    match id.strip_prefix(['A', 'a']) {
        Some(n) => n.parse().map(Target::Automation).map_err(|_| bad()),
        None => id
            .trim_start_matches('#')
            .parse()
            .map(Target::Entry)
            .map_err(|_| bad()),
    }
}

/// `remove`, `pause` or `resume` of an automation; `remove` of a pending entry.
pub fn change(
    ledger: &Ledger,
    action: &str,
    id: Option<&Path>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ExitCode> {
    let done = match (target(id)?, action) {
        (Target::Automation(n), "remove") => ledger.remove_automation(n)?,
        (Target::Automation(n), a) => ledger.pause_automation(n, a == "pause", now)?,
        (Target::Entry(n), "remove") => ledger.cancel_schedule(n)?,
        (Target::Entry(_), a) => {
            bail!("`{a}` is for automations (A<number>); a one-off entry is moved or removed")
        }
    };
    if !done {
        bail!("nothing to {action}: no such automation (or not paused, to resume) or pending entry (an automation whose job is running now is removed after its run); see `storyforge schedule list`");
    }
    println!("{action}d");
    Ok(ExitCode::SUCCESS)
}

/// Prints every automation: rule, zone, next occurrences, last run and a
/// preview of the next occurrence.
pub fn list(listings: &[Listing]) {
    for l in listings {
        let a = &l.automation;
        println!(
            "A{} every {} ({}) {} for {}{}",
            a.id,
            a.rule,
            if l.zone.is_empty() { "?" } else { &l.zone },
            a.job,
            a.account.as_deref().unwrap_or("the first account"),
            if a.paused { " [paused]" } else { "" }
        );
        if !l.next.is_empty() {
            println!("   next: {}", l.next.join(", "));
        }
        match (&l.last_local, &a.state) {
            (Some(at), Some(state)) => println!(
                "   last: {at} {state}{}",
                a.result
                    .as_deref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default()
            ),
            _ => println!("   last: never run"),
        }
        if let Some(day) = l.preview_day {
            for p in &l.preview {
                println!("   {day} would publish: {}", p.line());
            }
        }
        if let Some(p) = &l.problem {
            println!("   problem: {p}");
        }
    }
}
