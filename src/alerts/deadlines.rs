//! The deadline loop: flips checks whose deadline has passed, on the shards this process
//! holds, and queues their notifications in the same transaction.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::leases::{LeaseChanges, Leases, SHARDS};
use crate::clock::Clock;
use crate::domain::check::Flip;
use crate::metrics;
use crate::store::{CheckRecord, Store, StoreError};

/// Checks judged per transaction.
const BATCH: i64 = 1000;
/// The longest the loop sleeps: deadlines set by other processes are seen this late at most.
const MAX_SLEEP: Duration = Duration::seconds(1);

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    pub leases: LeaseChanges,
    pub flipped: usize,
    pub notifications: usize,
    pub stale: usize,
    /// Checks whose writes were refused because another holder had taken their shard.
    pub fenced: usize,
    /// The earliest deadline on the held shards, after this tick.
    pub next_deadline: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct DeadlineLoop {
    store: Store,
    clock: Arc<dyn Clock>,
    leases: Leases,
}

impl DeadlineLoop {
    pub fn new(store: Store, clock: Arc<dyn Clock>, leases: Leases) -> Self {
        DeadlineLoop {
            store,
            clock,
            leases,
        }
    }

    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// One unit of work: keep the leases, then flip every overdue check of the held shards.
    pub async fn tick(&mut self) -> Result<Tick, StoreError> {
        let now = self.clock.now();
        let mut tick = Tick {
            leases: self.leases.maintain(&self.store, now).await?,
            ..Tick::default()
        };
        loop {
            if self.leases.held().is_empty() {
                break;
            }
            let due = self
                .store
                .due_checks(self.leases.mask(), SHARDS, now.timestamp_millis(), BATCH)
                .await?;
            let full = i64::try_from(due.len()).unwrap_or(i64::MAX) >= BATCH;
            if due.is_empty() {
                break;
            }
            let timer = std::time::Instant::now();
            let judged: Vec<_> = due.into_iter().map(|check| judge(check, now)).collect();
            let writes = self
                .store
                .write_deadlines(
                    self.leases.holder(),
                    self.leases.held(),
                    SHARDS,
                    &judged,
                    now,
                )
                .await?;
            if !writes.fenced.is_empty() {
                let fenced = judged
                    .iter()
                    .filter(|(c, _)| writes.fenced.iter().any(|&s| i64::from(s) == c.id % SHARDS))
                    .count();
                tick.fenced += fenced;
                metrics::fenced_writes(fenced);
                tracing::warn!(shards = ?writes.fenced, checks = fenced, "lease lost: writes fenced off");
                self.leases.forget(&writes.fenced);
            }
            for (check, flip) in judged
                .iter()
                .filter_map(|(c, f)| f.as_ref().map(|f| (c, f)))
            {
                metrics::deadline_lag(now - flip.created);
                let _flip = tracing::debug_span!("flip", check = %check.code).entered();
                tracing::debug!(from = %flip.old_status, at = %flip.created, lag_ms = (now - flip.created).num_milliseconds(), "went down");
            }
            tracing::debug!(
                judged = judged.len(),
                flipped = writes.flipped,
                write_ms = timer.elapsed().as_millis(),
                "wrote deadline verdicts"
            );
            tick.flipped += writes.flipped;
            tick.notifications += writes.notifications;
            tick.stale += writes.stale;
            metrics::flips(writes.flipped);
            // Stop when a batch changed nothing, so a row that keeps failing cannot spin.
            if !full || writes.flipped + writes.postponed == 0 {
                break;
            }
        }
        metrics::leases_held(self.leases.held().len());
        tick.next_deadline = match self.leases.mask() {
            0 => None,
            mask => self
                .store
                .next_deadline(mask, SHARDS)
                .await?
                .and_then(DateTime::from_timestamp_millis),
        };
        Ok(tick)
    }

    /// Runs ticks until cancelled, sleeping until the next deadline (at most a second, or
    /// until woken), then releases the leases so another process takes over at once.
    pub async fn run(mut self, cancel: CancellationToken, wake: Arc<Notify>) {
        while !cancel.is_cancelled() {
            let started = self.clock.now();
            let sleep = match self.tick().await {
                Ok(tick) => {
                    let until = tick.next_deadline.unwrap_or(started + MAX_SLEEP);
                    (until - self.clock.now()).clamp(Duration::zero(), MAX_SLEEP)
                }
                Err(err) => {
                    tracing::error!(error = %err, "deadline tick failed");
                    MAX_SLEEP
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(sleep.to_std().unwrap_or_default()) => {}
            }
        }
        if let Err(err) = self.release().await {
            tracing::warn!(error = %err, "could not release leases at shutdown");
        }
    }

    /// Gives the leases up and leaves, so that another process takes over at once.
    pub async fn release(&mut self) -> Result<(), StoreError> {
        self.leases.release_all(&self.store).await
    }
}

/// The verdict on one overdue check: down (with its flip) or a later deadline.
fn judge(mut check: CheckRecord, now: DateTime<Utc>) -> (CheckRecord, Option<Flip>) {
    let flip = check.state.judge_deadline(now);
    check.alert_after = check.state.going_down_after();
    // A deadline that has passed without the check being down (an unreadable schedule,
    // say) is retried in an hour, as healthchecks.io does, instead of at once forever.
    if flip.is_none() && check.alert_after.is_some_and(|t| t <= now) {
        check.alert_after = Some(now + Duration::hours(1));
    }
    (check, flip)
}
