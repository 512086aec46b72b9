//! Many job entries in one process: each entry's Stories are made on one
//! CPU thread (entry after entry) while, on one tokio thread, every Story
//! goes through the delivery step in its account's lane
//! ([`crate::delivery::lanes`]): accounts at once, up to `graph.pipeline`
//! containers per account, an entry's Stories published in its order. One
//! [`Context`] (one ledger connection, one Graph client) serves them all;
//! its ledger calls are synchronous and short, never held across an await.
//! Each entry gets its own report, its items in the order they were made.

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::forward::{produce, Forward, Produced};
use super::report::write_reports;
use super::{select, Job, JobFile, RunError, RunOptions, RunReport};
use crate::config::Settings;
use crate::delivery::identity::Base;
use crate::delivery::lanes::Lanes;
use crate::delivery::{self, Context, DeliveryOptions, Item};
use crate::fonts::FontBook;
use crate::ledger::Asset;

/// One entry, ready to make: where its outputs go, its account, and what
/// the ledger holds for it.
struct Prepared {
    /// The entries with the rows they publish in this run, and their own
    /// scope (`day:…` for `until`/`per_day`) where they have one.
    jobs: Vec<(Job, Option<String>)>,
    /// What choosing the rows found (failures, notes, items waiting).
    picked: RunReport,
    out: PathBuf,
    account: String,
    opts: RunOptions,
    known: HashMap<String, Asset>,
    base: PathBuf,
    variants: HashMap<String, String>,
    variant_counts: HashMap<String, u64>,
}

fn prepare(ctx: &Context, job: &JobFile, opts: &RunOptions) -> Result<Prepared, RunError> {
    let out = job.out.clone().unwrap_or_else(|| PathBuf::from("out"));
    std::fs::create_dir_all(&out).map_err(|source| RunError::Io {
        what: out.display().to_string(),
        source,
    })?;
    let jobs: Vec<&Job> = job
        .jobs
        .iter()
        .enumerate()
        .filter(|(i, _)| opts.shard.is_none_or(|s| i % s.count == s.index))
        .map(|(_, j)| j)
        .collect();
    let account = ctx.account_name(job.account.as_deref())?;
    // "Today" is the account's day, wherever the host is.
    let opts = RunOptions {
        today: Some(
            opts.today
                .unwrap_or_else(|| ctx.settings().account_today(&account)),
        ),
        ..opts.clone()
    };
    let base = job
        .base
        .clone()
        .or_else(|| ctx.settings().dir.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let known = ctx.known(&account, "");
    let mut picked = RunReport::default();
    let jobs = select::entries(
        &jobs,
        &select::Picking {
            ledger: ctx.ledger(),
            account: &account,
            known: &known,
            base: &Base::new(&base),
            today: opts.today.unwrap_or_default(),
            scope: opts.scope.as_deref(),
            dry_run: opts.dry_run,
        },
        &mut picked,
    );
    Ok(Prepared {
        jobs,
        picked,
        out,
        known,
        variants: ctx
            .ledger()
            .recorded_variants(&account)
            .map_err(delivery::SetupError::from)?,
        variant_counts: ctx
            .ledger()
            .variant_counts(&account)
            .map_err(delivery::SetupError::from)?,
        account,
        opts,
        base,
    })
}

/// The items as they finish, per entry, with their place in the entry.
struct Collect<'a> {
    reports: Vec<RunReport>,
    items: Vec<Vec<(usize, Item)>>,
    on_item: &'a dyn Fn(&Item),
}

impl Collect<'_> {
    fn finish(&mut self, entry: usize, place: usize, item: Item) {
        self.reports[entry].count(&item);
        tracing::info!("{}: {}", item.source, item.status);
        (self.on_item)(&item);
        self.items[entry].push((place, item));
    }
}

/// Runs every entry (a job file and its options) in one process, sharing
/// one delivery context; the outer error is one that stops them all (the
/// runtime or the context could not be made).
pub fn run_entries(
    entries: &[(&JobFile, RunOptions)],
    settings: Settings,
    on_item: &dyn Fn(&Item),
) -> Result<Vec<Result<RunReport, RunError>>, RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::Io {
            what: "the async runtime".into(),
            source,
        })?;
    let dry_run = entries.iter().any(|(_, o)| o.dry_run);
    let ctx = Rc::new(rt.block_on(Context::open(settings, DeliveryOptions { dry_run }))?);
    let mut prepared: Vec<Result<Prepared, RunError>> = entries
        .iter()
        .map(|(job, opts)| prepare(&ctx, job, opts))
        .collect();
    let reports: Vec<RunReport> = prepared
        .iter_mut()
        .map(|p| RunReport {
            graph: ctx.settings().graph.base_url.clone(),
            ledger: ctx.ledger().path().to_string(),
            ..p.as_mut()
                .map(|p| std::mem::take(&mut p.picked))
                .unwrap_or_default()
        })
        .collect();
    let (tx, rx) = mpsc::unbounded_channel();
    let forwards: Vec<(&Prepared, Forward)> = prepared
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i, p.as_ref().ok()?)))
        .map(|(i, p)| {
            let forward = Forward {
                tx: tx.clone(),
                index: i,
                scope: p.opts.scope.as_deref(),
                base: Base::new(&p.base),
                account: Some(p.account.as_str()),
                republish: p.opts.republish,
                publish_changed: p.opts.publish_changed,
                asked_by: p.opts.asked_by.as_deref(),
                known: &p.known,
                variants: p.variants.clone(),
                variant_counts: p.variant_counts.clone(),
                entry: std::sync::Mutex::new(None),
                entry_scope: std::sync::Mutex::new(None),
            };
            (p, forward)
        })
        .collect();
    drop(tx);
    let mut collect = Collect {
        reports,
        items: vec![Vec::new(); entries.len()],
        on_item,
    };
    let accounts: Vec<String> = prepared
        .iter()
        .map(|p| p.as_ref().map(|p| p.account.clone()).unwrap_or_default())
        .collect();
    let fonts = FontBook::bundled();
    std::thread::scope(|scope| {
        let fonts = &fonts;
        let cpu = scope.spawn(move || {
            let written = crate::pipeline::WrittenNames::default();
            for (p, forward) in forwards {
                produce(&p.jobs, &p.out, fonts, &p.opts, &forward, &written);
            }
        });
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, deliver_all(&ctx, rx, &accounts, &mut collect));
        let _ = cpu.join();
    });
    // Entries that share an output folder (a tick's) each wrote their
    // report over the one before when they ran one after another: only
    // the last is written (a few fsyncs per entry saved).
    let outs: Vec<Option<PathBuf>> = prepared
        .iter()
        .map(|p| p.as_ref().ok().map(|p| p.out.clone()))
        .collect();
    let mut results = Vec::new();
    for (i, p) in prepared.into_iter().enumerate() {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        let mut report = std::mem::take(&mut collect.reports[i]);
        let mut items = std::mem::take(&mut collect.items[i]);
        items.sort_by_key(|(place, _)| *place);
        // After the entries' failures found while choosing their rows.
        report.items.extend(items.into_iter().map(|(_, item)| item));
        let last = !outs[i + 1..].contains(&Some(p.out.clone()));
        results.push(finish_entry(&ctx, &p, report, last));
    }
    Ok(results)
}

/// Delivers what the CPU side sends, each Story in its account's lane.
async fn deliver_all(
    ctx: &Rc<Context>,
    mut rx: mpsc::UnboundedReceiver<(usize, Produced)>,
    accounts: &[String],
    collect: &mut Collect<'_>,
) {
    let mut lanes = Lanes::new(ctx.pipeline());
    let mut tasks: JoinSet<(usize, usize, Item)> = JoinSet::new();
    let mut places = vec![0usize; accounts.len()];
    loop {
        tokio::select! {
            produced = rx.recv() => {
                let Some((entry, produced)) = produced else { break };
                let place = places[entry];
                places[entry] += 1;
                match produced {
                    Produced::Story { delivery, made } => {
                        let lane = ctx
                            .account_name(delivery.account.as_deref())
                            .unwrap_or_default();
                        // An entry's Stories publish in the order they were made.
                        let ticket = lanes.ticket(&lane, Some(entry as u64));
                        let (ctx, account) = (ctx.clone(), accounts[entry].clone());
                        tasks.spawn_local(async move {
                            let admitted = ticket.admit().await;
                            let item = ctx.deliver_in_turn(&delivery, admitted.turn).await;
                            if let Some((template, variant)) = made {
                                // Kept beside the Story for the insights report.
                                if let Err(e) = ctx.ledger().record_variant(
                                    &account,
                                    &delivery.identity.encode(),
                                    &template,
                                    variant.as_deref(),
                                ) {
                                    tracing::warn!("{}: {e}", delivery.source);
                                }
                            }
                            (entry, place, item)
                        });
                    }
                    Produced::Done(item) => collect.finish(entry, place, *item),
                    Produced::Warning(w) => {
                        tracing::warn!("{w}");
                        collect.reports[entry].warnings.push(w);
                    }
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => finished(collect, done),
        }
    }
    while let Some(done) = tasks.join_next().await {
        finished(collect, done);
    }
}

fn finished(collect: &mut Collect<'_>, done: Result<(usize, usize, Item), tokio::task::JoinError>) {
    match done {
        Ok((entry, place, item)) => collect.finish(entry, place, item),
        Err(e) => tracing::error!("a delivery task ended abnormally: {e}"),
    }
}

/// Writes an entry's reports and tells the webhooks.
fn finish_entry(
    ctx: &Context,
    p: &Prepared,
    report: RunReport,
    write: bool,
) -> Result<RunReport, RunError> {
    if write {
        write_reports(&p.out, &report).map_err(|source| RunError::Io {
            what: format!("{}: cannot write the report", p.out.display()),
            source,
        })?;
    }
    let mut events: Vec<_> = report
        .items
        .iter()
        .filter_map(|i| i.event(&p.account))
        .collect();
    // A tick's entries and automation occurrences are told by the tick's
    // own summary (one `run_finished` per tick, not one more per run).
    let by_tick = p
        .opts
        .scope
        .as_deref()
        .is_some_and(|s| s.starts_with("schedule:"))
        || p.opts
            .asked_by
            .as_deref()
            .is_some_and(|a| a.starts_with("every:"));
    if !by_tick {
        events.push(crate::notify::Event::finished(report.summary()));
    }
    crate::notify::send(&ctx.settings().notify, Some(ctx.ledger()), &events);
    Ok(report)
}
