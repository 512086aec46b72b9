//! One `media_publish` call at a time per account, across processes, and
//! never two publish windows in one second: the account's publish lease in
//! the ledger is taken before the call and let go once the reply is
//! recorded (no wait owed) or known lost (the next call waits until the
//! server's clock is past this window, see [`super::media_ids`]). So every
//! lost reply's window holds exactly one Story no ledger row knows.

use chrono::{DateTime, Utc};

use super::graph::GraphClient;
use super::media_ids::next_window_start;
use crate::ledger::{Ledger, LedgerError, PublishLease};

/// Waits until `owner` holds `account`'s publish lease, `spacing` has
/// passed since the account's last publish call by any process, and the
/// server's clock is past the last lost reply's window; returns the
/// server's time then (the start of this publish's window), when it is
/// known. `ttl`: longest the holder may need for the call (a dead or stuck
/// holder's lease runs out after it and the spacing).
pub async fn take(
    client: &GraphClient,
    ledger: &Ledger,
    account: &str,
    owner: &str,
    ttl: std::time::Duration,
    spacing: std::time::Duration,
) -> Result<Option<DateTime<Utc>>, LedgerError> {
    let ttl =
        chrono::Duration::from_std(ttl + spacing).unwrap_or_else(|_| chrono::Duration::minutes(5));
    // Asked again soon at first (a publish call takes well under a second),
    // then less often, so a holder that died does not cost a write
    // transaction every few milliseconds until its lease runs out.
    let mut wait_ms = 20;
    let not_before = loop {
        match ledger.take_publish_lease(account, owner, ttl)? {
            PublishLease::Held {
                not_before,
                last_publish,
            } => {
                if let Some(left) = last_publish.and_then(|at| {
                    (at + chrono::Duration::from_std(spacing).ok()? - Utc::now())
                        .to_std()
                        .ok()
                }) {
                    tokio::time::sleep(left).await;
                }
                break not_before;
            }
            PublishLease::Busy { .. } => {
                let ms = wait_ms + fastrand::u64(..wait_ms);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                wait_ms = (wait_ms * 2).min(400);
            }
        }
    };
    loop {
        // Without a server clock no window is recorded: nothing to keep apart.
        let Some(now) = client.server_now() else {
            return Ok(None);
        };
        match not_before.map(|t| (t - now).to_std()) {
            Some(Ok(left)) => tokio::time::sleep(left + std::time::Duration::from_millis(5)).await,
            // The window starts at `now`, the time checked.
            _ => return Ok(Some(now)),
        }
    }
}

/// Lets go of the lease; `lost`: the reply was not seen (or had no id),
/// so the next publish waits until this window has ended.
pub fn release(
    client: &GraphClient,
    ledger: &Ledger,
    account: &str,
    owner: &str,
    lost: bool,
) -> Result<(), LedgerError> {
    let not_before = if lost {
        client.server_now().and_then(next_window_start)
    } else {
        None
    };
    if !ledger.release_publish_lease(account, owner, not_before)? {
        tracing::warn!("{account}: the publish lease ran out during the publish call; a lost reply's media id may be filled in only by elimination");
    }
    Ok(())
}
