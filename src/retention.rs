//! Retention: each check keeps its newest pings (`OVERDUE_PING_LOG_LIMIT`), and with them
//! the notifications and flips they explain (healthchecks.io `Check.prune`).
//!
//! Pruning runs in the background once a check has 100 pings beyond its limit, a few
//! checks per short transaction with pauses between them, so the ping writers (which share
//! SQLite's one write lock) never wait long for it. Under a sustained flood of pings the
//! pruner falls behind rather than slow the pings down, and catches up when it eases.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::store::{Store, StoreError};

/// Pings beyond the limit before a check is pruned (healthchecks.io prunes every 100 pings).
const SLACK: i64 = 100;
/// Checks pruned per tick.
const CHECKS_PER_TICK: i64 = 200;
/// Checks pruned per transaction: one commit for several checks, short enough (a few
/// thousand rows at most) not to hold SQLite's write lock away from the pings for long.
const CHECKS_PER_TRANSACTION: usize = 5;
/// A breather for the ping writers between transactions.
const BETWEEN_TRANSACTIONS: StdDuration = StdDuration::from_millis(20);
/// Flips are kept for this long at least.
const FLIP_DAYS: i64 = 93;
const PAUSE: StdDuration = StdDuration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Pruner {
    store: Store,
    clock: Arc<dyn Clock>,
    keep: i64,
}

impl Pruner {
    pub fn new(store: Store, clock: Arc<dyn Clock>, keep: i64) -> Self {
        Pruner { store, clock, keep }
    }

    /// Prunes the checks that are due; returns how many pings went.
    pub async fn tick(&self) -> Result<u64, StoreError> {
        let mut pruned = 0;
        let flips_before = self.clock.now() - Duration::days(FLIP_DAYS);
        let due = self
            .store
            .checks_to_prune(self.keep + SLACK, CHECKS_PER_TICK)
            .await?;
        for (i, chunk) in due.chunks(CHECKS_PER_TRANSACTION).enumerate() {
            if i > 0 {
                tokio::time::sleep(BETWEEN_TRANSACTIONS).await;
            }
            pruned += self
                .store
                .prune_checks(chunk, self.keep, flips_before)
                .await?;
        }
        Ok(pruned)
    }

    /// Prunes every half minute until cancelled.
    pub async fn run(self, cancel: CancellationToken) {
        while !cancel.is_cancelled() {
            match self.tick().await {
                Ok(0) => {}
                Ok(pings) => tracing::debug!(pings, "pruned old pings"),
                Err(err) => tracing::error!(error = %err, "pruning failed"),
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(PAUSE) => {}
            }
        }
    }
}
