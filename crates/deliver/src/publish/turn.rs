//! A Story's turn in an ordered sequence: the signal it waits for before
//! publishing (the Story before it has finished) and the one it gives the
//! Story after it (when dropped, whatever became of it).

use tokio::sync::oneshot;

/// A Story's place in an ordered sequence (one job's Stories, a video's
/// parts): it publishes only once the Story before it has finished
/// (published or not), even if its own container is FINISHED first; the
/// one after it waits for this one likewise (when the turn is dropped).
#[derive(Debug, Default)]
pub struct Turn {
    after: Option<oneshot::Receiver<()>>,
    _done: Option<oneshot::Sender<()>>,
}

impl Turn {
    /// A Story in no sequence: publishes whenever it is ready.
    pub fn free() -> Turn {
        Turn::default()
    }

    /// The turn after `before` (the previous Story's signal, if any), and
    /// the signal the next Story waits for.
    pub fn after(before: Option<oneshot::Receiver<()>>) -> (Turn, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (
            Turn {
                after: before,
                _done: Some(tx),
            },
            rx,
        )
    }

    /// Waits (once) for the Story before this one to finish.
    pub(super) async fn wait(&mut self) {
        if let Some(before) = self.after.take() {
            // Sent or dropped, either way the previous Story is done.
            let _ = before.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_turn_waits_until_the_one_before_is_dropped() {
        let (first, next) = Turn::after(None);
        let (mut second, _) = Turn::after(Some(next));
        let waiting = tokio::spawn(async move { second.wait().await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "went before the Story before it");
        drop(first);
        waiting.await.expect("second turn");
        // A free turn never waits.
        Turn::free().wait().await;
    }
}
