//! Lanes: the Stories of one run (or one tick) → one lane per account, all
//! lanes at once. A lane admits its Stories in the order given, at most
//! `graph.pipeline` in flight (so the containers of the Stories due now are
//! created together, never more than that); each Story of an ordered
//! sequence publishes only after the one before it, whichever container
//! finishes first. The account's spacing, pacing and token live in
//! [`crate::publish::Publisher`] and [`super::Context`], keyed by account.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::publish::Turn;

/// Every account's lane, as Stories are handed out (one dispatcher).
pub struct Lanes {
    pipeline: usize,
    lanes: HashMap<String, Lane>,
}

/// One account: its pipeline bound, the last Story admitted, and the last
/// Story of each ordered sequence.
struct Lane {
    slots: Arc<Semaphore>,
    admitted: Option<oneshot::Receiver<()>>,
    sequences: HashMap<u64, oneshot::Receiver<()>>,
}

/// A Story's place in its lane, to be [`Ticket::admit`]ted.
pub struct Ticket {
    before: Option<oneshot::Receiver<()>>,
    admitted: oneshot::Sender<()>,
    slots: Arc<Semaphore>,
    turn: Turn,
}

/// A Story admitted to its lane: holds one of the lane's pipeline slots
/// until dropped.
pub struct Admitted {
    _slot: Option<OwnedSemaphorePermit>,
    /// Its turn to publish.
    pub turn: Turn,
}

impl Lanes {
    /// Lanes of at most `pipeline` Stories in flight each.
    pub fn new(pipeline: usize) -> Lanes {
        Lanes {
            pipeline: pipeline.max(1),
            lanes: HashMap::new(),
        }
    }

    /// The next Story of `account`, in `sequence` when it must publish
    /// after the sequence's Stories handed out before it (`None`: in no
    /// order).
    pub fn ticket(&mut self, account: &str, sequence: Option<u64>) -> Ticket {
        let pipeline = self.pipeline;
        let lane = self
            .lanes
            .entry(account.to_string())
            .or_insert_with(|| Lane {
                slots: Arc::new(Semaphore::new(pipeline)),
                admitted: None,
                sequences: HashMap::new(),
            });
        let (admitted, next) = oneshot::channel();
        let before = lane.admitted.replace(next);
        let turn = match sequence {
            Some(s) => {
                let (turn, next) = Turn::after(lane.sequences.remove(&s));
                lane.sequences.insert(s, next);
                turn
            }
            None => Turn::free(),
        };
        Ticket {
            before,
            admitted,
            slots: lane.slots.clone(),
            turn,
        }
    }
}

impl Ticket {
    /// Waits until the Story before it in the lane was admitted and a
    /// pipeline slot is free. Admission in the order given keeps a
    /// sequence from deadlocking: a Story never holds a slot its
    /// predecessor waits for.
    pub async fn admit(self) -> Admitted {
        if let Some(before) = self.before {
            let _ = before.await;
        }
        let slot = self.slots.acquire_owned().await.ok();
        drop(self.admitted);
        Admitted {
            _slot: slot,
            turn: self.turn,
        }
    }
}

/// Delivers `all` in their accounts' lanes, all accounts at once, each
/// account's containers pipelined and its Stories published in the order
/// given (as `storyforge publish A B C` lists them); the items in that
/// order. A Story given twice goes through once; its repeats come after,
/// and find it published (one run's claims are its own, so they must not
/// run beside it).
pub async fn deliver_in_order(ctx: &super::Context, all: &[super::Delivery]) -> Vec<super::Item> {
    let mut lanes = Lanes::new(ctx.pipeline());
    let mut seen = std::collections::HashSet::new();
    let (first, repeats): (Vec<_>, Vec<_>) = all
        .iter()
        .enumerate()
        .partition(|(_, d)| seen.insert((d.account.clone(), d.identity.encode())));
    let tickets: Vec<Ticket> = first
        .iter()
        .map(|(_, d)| {
            let lane = ctx.account_name(d.account.as_deref()).unwrap_or_default();
            lanes.ticket(&lane, Some(0))
        })
        .collect();
    let delivered = futures_util::future::join_all(first.iter().zip(tickets).map(
        |(&(i, d), ticket)| async move {
            let admitted = ticket.admit().await;
            (i, ctx.deliver_in_turn(d, admitted.turn).await)
        },
    ))
    .await;
    let mut items: Vec<Option<super::Item>> = all.iter().map(|_| None).collect();
    for (i, item) in delivered {
        items[i] = Some(item);
    }
    for (i, d) in repeats {
        items[i] = Some(ctx.deliver(d).await);
    }
    items.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lane_admits_in_order_and_at_most_its_pipeline() {
        let mut lanes = Lanes::new(2);
        let tickets: Vec<Ticket> = (0..3).map(|_| lanes.ticket("a", Some(1))).collect();
        let other = lanes.ticket("b", None);
        let mut it = tickets.into_iter();
        let (t1, t2, t3) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        // The third cannot be admitted before the first two leave.
        let third = tokio::spawn(t3.admit());
        tokio::task::yield_now().await;
        let first = t1.admit().await;
        let second = t2.admit().await;
        tokio::task::yield_now().await;
        assert!(
            !third.is_finished(),
            "a third Story got past a pipeline of 2"
        );
        // Another account's lane is not held up.
        let _b = other.admit().await;
        drop(first);
        let third = third.await.expect("admitted");
        drop(second);
        drop(third);
    }
}
