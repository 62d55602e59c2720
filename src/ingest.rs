//! Group commit for pings: handlers hand pings to writer tasks, which record whatever has
//! queued up in one transaction and answer each ping after that transaction commits.
//!
//! One commit per batch instead of one per ping is what lets a single node take tens of
//! thousands of pings per second with every acknowledged ping on disk. Pings of one check
//! always go to the same writer, so they are applied in the order they arrived.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::store::{PingInput, PingOutcome, PingTarget, Store, StoreError};

/// The most pings one transaction records.
const MAX_BATCH: usize = 512;
/// Pings waiting per writer before handlers wait for room.
const QUEUE_DEPTH: usize = 4096;

struct Job {
    input: PingInput,
    reply: oneshot::Sender<Result<PingOutcome, Arc<StoreError>>>,
}

/// Why a ping could not be recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("recording pings failed: {0}")]
    Store(Arc<StoreError>),
    #[error("the ping writer has stopped")]
    Stopped,
}

/// Hands pings to the writers; cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingest {
    writers: Arc<[mpsc::Sender<Job>]>,
    hasher: std::hash::RandomState,
}

impl Ingest {
    /// Starts the writers: one for SQLite (it has one write lock), several for PostgreSQL.
    /// They stop once every `Ingest` handle is dropped and the queues are drained.
    pub fn start(store: &Store, clock: &Arc<dyn Clock>, tracker: &TaskTracker) -> Ingest {
        let count = match store {
            Store::Sqlite(_) => 1,
            Store::Postgres(_) => 4,
        };
        let writers = (0..count)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                tracker.spawn(write_batches(store.clone(), Arc::clone(clock), rx));
                tx
            })
            .collect();
        Ingest {
            writers,
            hasher: std::hash::RandomState::new(),
        }
    }

    /// Records a ping; returns once it is committed (or refused).
    pub async fn record(&self, input: PingInput) -> Result<PingOutcome, IngestError> {
        let writer = match &input.target {
            PingTarget::Code(code) => self.pick(code),
            PingTarget::Slug { ping_key, slug, .. } => self.pick(&(ping_key, slug)),
        };
        let (reply, answer) = oneshot::channel();
        writer
            .send(Job { input, reply })
            .await
            .map_err(|_| IngestError::Stopped)?;
        answer
            .await
            .map_err(|_| IngestError::Stopped)?
            .map_err(IngestError::Store)
    }

    fn pick(&self, key: &impl Hash) -> &mpsc::Sender<Job> {
        let index = usize::try_from(self.hasher.hash_one(key)).unwrap_or(0) % self.writers.len();
        &self.writers[index]
    }
}

/// One writer: waits for a ping, takes everything else already queued (up to a batch), and
/// records them together.
async fn write_batches(store: Store, clock: Arc<dyn Clock>, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (inputs, replies): (Vec<_>, Vec<_>) =
            jobs.drain(..).map(|job| (job.input, job.reply)).unzip();
        let span = tracing::debug_span!("ping_batch", pings = inputs.len());
        match tracing::Instrument::instrument(store.record_pings(&inputs, clock.now()), span).await
        {
            Ok(outcomes) => {
                let recorded = outcomes
                    .iter()
                    .filter(|o| matches!(o, PingOutcome::Recorded { .. }))
                    .count();
                crate::metrics::pings_received(recorded);
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // The client may have gone; its ping is recorded all the same.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, pings = inputs.len(), "recording pings failed");
                let err = Arc::new(err);
                for reply in replies {
                    let _ = reply.send(Err(Arc::clone(&err)));
                }
            }
        }
    }
}
