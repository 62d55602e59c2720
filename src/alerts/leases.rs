//! Dividing checks between processes: each process holds leases on a fair share of the
//! shards, taken and renewed by compare-and-set, each taking with a new fencing token.

use chrono::{DateTime, Duration, Utc};

use crate::store::{HeldLease, Store, StoreError};

/// Checks belong to shard `id % SHARDS` (the migrations create this many lease rows).
pub const SHARDS: i64 = 16;

/// This process's leases.
#[derive(Debug)]
pub struct Leases {
    holder: String,
    ttl: Duration,
    held: Vec<HeldLease>,
    /// When the leases were last renewed (and the heartbeat written).
    renewed_at: Option<DateTime<Utc>>,
}

/// What changed in one [`Leases::maintain`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseChanges {
    pub taken: Vec<i32>,
    /// Leases another holder took while this one was not looking (frozen, say).
    pub lost: Vec<i32>,
    pub released: Vec<i32>,
}

impl Leases {
    pub fn new(holder: String, ttl: Duration) -> Leases {
        Leases {
            holder,
            ttl,
            held: Vec::new(),
            renewed_at: None,
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn held(&self) -> &[HeldLease] {
        &self.held
    }

    /// The held shards as a bit mask (bit n for shard n).
    pub fn mask(&self) -> i64 {
        self.held.iter().fold(0, |mask, l| mask | (1 << l.shard))
    }

    /// Stops acting on shards whose writes were fenced off.
    pub fn forget(&mut self, shards: &[i32]) {
        self.held.retain(|l| !shards.contains(&l.shard));
    }

    /// Keeps the leases current: every third of the TTL, writes the heartbeat and renews
    /// the held leases (dropping any taken since); then gives up leases beyond a fair share
    /// of the shards among live processes, and takes free or expired ones up to it.
    pub async fn maintain(
        &mut self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<LeaseChanges, StoreError> {
        let mut changes = LeaseChanges::default();
        let due = self.renewed_at.is_none_or(|at| now - at >= self.ttl / 3);
        if !due {
            return Ok(changes);
        }
        let ttl_ms = self.ttl.num_milliseconds();
        let now_ms = now.timestamp_millis();
        let alive = store.heartbeat(&self.holder, now_ms, ttl_ms).await?.max(1);
        let expires_at = now_ms + ttl_ms;
        let mut kept = Vec::with_capacity(self.held.len());
        for lease in std::mem::take(&mut self.held) {
            if store.renew_lease(lease, &self.holder, expires_at).await? {
                kept.push(lease);
            } else {
                changes.lost.push(lease.shard);
            }
        }
        self.held = kept;
        self.renewed_at = Some(now);

        let fair = usize::try_from((SHARDS + alive - 1) / alive).unwrap_or(1);
        while self.held.len() > fair {
            if let Some(lease) = self.held.pop() {
                store.release_lease(lease, &self.holder).await?;
                changes.released.push(lease.shard);
            }
        }
        if self.held.len() < fair {
            for (shard, holder, lease_expires) in store.leases().await? {
                if self.held.len() >= fair {
                    break;
                }
                let free = holder.is_none() || lease_expires <= now_ms;
                if !free || self.held.iter().any(|l| l.shard == shard) {
                    continue;
                }
                if let Some(token) = store
                    .take_lease(shard, &self.holder, now_ms, expires_at)
                    .await?
                {
                    self.held.push(HeldLease { shard, token });
                    changes.taken.push(shard);
                }
            }
        }
        Ok(changes)
    }

    /// Gives every lease up and leaves, so the other processes take over at once.
    pub async fn release_all(&mut self, store: &Store) -> Result<(), StoreError> {
        for lease in std::mem::take(&mut self.held) {
            store.release_lease(lease, &self.holder).await?;
        }
        store.leave(&self.holder).await?;
        self.renewed_at = None;
        Ok(())
    }
}
