//! Retention: each check keeps its newest pings (`OVERDUE_PING_LOG_LIMIT`), and with them
//! the notifications and flips they explain (healthchecks.io `Check.prune`).
//!
//! Pruning runs in the background, a check at a time, once it has 100 pings beyond its
//! limit, so the ping path never waits for it.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::store::{Store, StoreError};

/// Pings beyond the limit before a check is pruned (healthchecks.io prunes every 100 pings).
const SLACK: i64 = 100;
/// Checks pruned per tick.
const CHECKS_PER_TICK: i64 = 500;
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
        for (id, n_pings) in self
            .store
            .checks_to_prune(self.keep + SLACK, CHECKS_PER_TICK)
            .await?
        {
            pruned += self
                .store
                .prune_check(id, n_pings, self.keep, flips_before)
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
