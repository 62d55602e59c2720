//! Applying a batch of pings to their checks, in memory: what both engines' ping writes share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::records::{CheckRecord, NewPing, PingInput, PingOutcome, PingTarget};
use crate::domain::check::Flip;

/// Where each ping of a batch goes: its check and whether the ping created it, or the
/// outcome that ends it there.
pub(super) type Resolved = Result<(Uuid, bool), PingOutcome>;

/// What a batch writes.
#[derive(Debug, Default)]
pub(super) struct Applied<'a> {
    pub outcomes: Vec<PingOutcome>,
    /// Checks whose state changed, in first-touched order.
    pub changed: Vec<Uuid>,
    pub pings: Vec<NewPing<'a>>,
    pub flips: Vec<(i64, Flip)>,
}

/// Whether every ping names its check by UUID (the fast paths handle only those).
pub(super) fn all_by_code(batch: &[PingInput]) -> bool {
    batch
        .iter()
        .all(|input| matches!(input.target, PingTarget::Code(_)))
}

/// The batch's codes, for loading their checks in one query.
pub(super) fn codes(batch: &[PingInput]) -> Vec<Uuid> {
    batch
        .iter()
        .filter_map(|input| match input.target {
            PingTarget::Code(code) => Some(code),
            PingTarget::Slug { .. } => None,
        })
        .collect()
}

/// Resolves a ping addressed by code against the loaded checks. Refusals apply only once
/// the check is found, so an unknown check is `NotFound` whatever else is wrong.
pub(super) fn resolve_code(checks: &HashMap<Uuid, CheckRecord>, input: &PingInput) -> Resolved {
    match input.target {
        PingTarget::Code(code) if checks.contains_key(&code) => match input.reject {
            Some(rejection) => Err(PingOutcome::Rejected(rejection)),
            None => Ok((code, false)),
        },
        _ => Err(PingOutcome::NotFound),
    }
}

/// Applies the pings in order, so several pings of one check build on each other.
pub(super) fn apply<'a>(
    checks: &mut HashMap<Uuid, CheckRecord>,
    batch: &'a [PingInput],
    resolved: Vec<Resolved>,
    now: DateTime<Utc>,
) -> Applied<'a> {
    let mut applied = Applied {
        outcomes: Vec::with_capacity(batch.len()),
        pings: Vec::with_capacity(batch.len()),
        ..Applied::default()
    };
    for (input, resolved) in batch.iter().zip(resolved) {
        let found = resolved.and_then(|(code, created)| {
            checks
                .get_mut(&code)
                .map(|c| (c, created))
                .ok_or(PingOutcome::NotFound)
        });
        let (check, created) = match found {
            Ok(found) => found,
            Err(outcome) => {
                applied.outcomes.push(outcome);
                continue;
            }
        };
        let action = if input.scheme == crate::smtp::SCHEME {
            // An email ping: its keyword filters, not the URL's, method's or HTTP body's.
            crate::smtp::classify::classify(check, &input.body)
        } else {
            check.state.classify_http_ping(
                input.url_action,
                input.exit_status,
                &input.method,
                &input.body,
            )
        };
        let (action, flip) = check.state.apply_ping(action, now, input.rid, &input.body);
        check.alert_after = check.state.going_down_after();
        if !applied.changed.contains(&check.code) {
            applied.changed.push(check.code);
        }
        applied.pings.push(NewPing::new(check, input, action, now));
        if let Some(flip) = flip {
            let _flip = tracing::debug_span!("flip", check = %check.code).entered();
            tracing::debug!(from = %flip.old_status, to = %flip.new_status, reason = flip.reason, "status changed by a ping");
            applied.flips.push((check.id, flip));
        }
        applied.outcomes.push(PingOutcome::Recorded { created });
    }
    applied
}

/// What a batch wrote: its outcomes, its checks as now stored, and how many notifications
/// its status changes queued.
#[derive(Debug)]
pub(super) struct Written {
    pub outcomes: Vec<PingOutcome>,
    pub checks: HashMap<Uuid, CheckRecord>,
    pub queued: usize,
}

/// Every write of a check bumps its version; keeps the copies in step.
pub(super) fn bump_versions(checks: &mut HashMap<Uuid, CheckRecord>, changed: &[Uuid]) {
    for code in changed {
        if let Some(check) = checks.get_mut(code) {
            check.version += 1;
        }
    }
}

/// The ping writers' copies of checks, as last written (versions included). A batch
/// whose checks are all here need not read them; its writes are conditioned on these
/// versions, so a stale copy makes the batch fail instead of overwriting newer data.
#[derive(Debug, Clone, Default)]
pub struct PingCache(Arc<Mutex<HashMap<Uuid, CheckRecord>>>);

/// More copies than this and the cache starts over.
const MAX_CACHED_CHECKS: usize = 200_000;

impl PingCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, CheckRecord>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Copies of all these checks, or `None` unless every one is cached.
    pub(super) fn get_all(&self, codes: &[Uuid]) -> Option<HashMap<Uuid, CheckRecord>> {
        let cache = self.lock();
        codes
            .iter()
            .map(|code| cache.get(code).map(|c| (*code, c.clone())))
            .collect()
    }

    pub(super) fn put(&self, checks: HashMap<Uuid, CheckRecord>) {
        let mut cache = self.lock();
        if cache.len() + checks.len() > MAX_CACHED_CHECKS {
            cache.clear();
        }
        cache.extend(checks);
    }

    pub(super) fn clear(&self) {
        self.lock().clear();
    }
}
