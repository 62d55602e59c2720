//! The dispatcher: claims due notifications from the outbox, delivers them, records every
//! attempt, retries transient failures with exponential backoff and jitter, and
//! dead-letters a notification after its last attempt.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use rand::RngExt;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::email::{self, EmailConfig, Mailer, SEND_DEADLINE};
use super::webhook::{self, WebhookConfig, WebhookSender};
use super::{Direction, Notice, Outcome};
use crate::clock::Clock;
use crate::domain::check::Status;
use crate::http::api::json::{View, check_json};
use crate::keys;
use crate::metrics;
use crate::store::{
    ChannelRecord, CheckRecord, Finished, KeyAccess, OutboxRecord, Purpose, Store, StoreError,
};

/// Notifications claimed per round of a tick.
const CLAIM: i64 = 1000;
/// Deliveries in flight at once: enough to keep a burst moving, few enough not to open
/// thousands of connections at once.
pub const CONCURRENT: usize = 128;
/// The longest one delivery can take: a webhook's timeout or an email's send deadline.
const LONGEST_DELIVERY: std::time::Duration =
    if webhook::TIMEOUT.as_secs() > SEND_DEADLINE.as_secs() {
        webhook::TIMEOUT
    } else {
        SEND_DEADLINE
    };
/// How long a claim lasts; a dead dispatcher's rows are retried after this. A delivery starts
/// only while at least [`LONGEST_DELIVERY`] of its claim is left, so a live dispatcher never
/// delivers a row whose claim another process may have taken over; a row still waiting for
/// its turn by then is given back untried.
const CLAIM_TTL: Duration = Duration::seconds(60);
/// The longest the dispatcher sleeps without being woken.
const MAX_SLEEP: Duration = Duration::seconds(1);
/// Tries per status change before the notification is dead-lettered.
const MAX_ATTEMPTS: i64 = 8;
/// The first retry's delay; each later one doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::seconds(10);
const MAX_BACKOFF: Duration = Duration::hours(1);

/// How notifications reach people.
#[derive(Debug)]
pub struct Transports {
    pub webhooks: WebhookSender,
    /// `None` when no SMTP server is configured: email notifications fail (and retry).
    pub mailer: Option<Mailer>,
    pub from: lettre::message::Mailbox,
    pub site_root: String,
    /// The domain of ping email addresses when the site takes mail.
    pub ping_email_domain: Option<String>,
    pub site_name: String,
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchTick {
    pub delivered: usize,
    pub retrying: usize,
    pub dead: usize,
    /// Results not written because a later claim had taken the notification over.
    pub superseded: usize,
    /// Claimed notifications given back untried: their turn came too late in their claim.
    pub released: usize,
    pub next_due: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Dispatcher {
    store: Store,
    clock: Arc<dyn Clock>,
    transports: Arc<Transports>,
}

impl Dispatcher {
    pub fn new(store: Store, clock: Arc<dyn Clock>, transports: Arc<Transports>) -> Self {
        Dispatcher {
            store,
            clock,
            transports,
        }
    }

    /// One unit of work: claim what is due, deliver it all concurrently, record the results.
    pub async fn tick(&self) -> Result<DispatchTick, StoreError> {
        let mut tick = DispatchTick::default();
        loop {
            let now = self.clock.now();
            let claim_timer = Instant::now();
            let claimed = self
                .store
                .claim_due(
                    now.timestamp_millis(),
                    (now + CLAIM_TTL).timestamp_millis(),
                    CLAIM,
                )
                .await?;
            let full = i64::try_from(claimed.len()).unwrap_or(i64::MAX) >= CLAIM;
            if claimed.is_empty() {
                break;
            }
            let timer = Instant::now();
            let count = claimed.len();
            let context = Arc::new(self.prefetch(&claimed).await?);
            let prefetched = timer.elapsed();
            let permits = Arc::new(Semaphore::new(CONCURRENT));
            let mut running = JoinSet::new();
            for row in claimed {
                let this = self.clone();
                let context = Arc::clone(&context);
                let permits = Arc::clone(&permits);
                running.spawn(async move {
                    // The semaphore is never closed, so acquiring cannot fail.
                    let _permit = permits.acquire().await.ok();
                    if !this.time_to_deliver(&row) {
                        return Ok(Err(row));
                    }
                    this.attempt(row, &context).await.map(Ok)
                });
            }
            let mut finished = Vec::new();
            let mut released = Vec::new();
            while let Some(joined) = running.join_next().await {
                match joined {
                    Ok(Ok(Ok(done))) => finished.push(done),
                    Ok(Ok(Err(row))) => released.push(row),
                    Ok(Err(err)) => tracing::error!(error = %err, "delivery failed to load"),
                    Err(err) => tracing::error!(error = %err, "delivery task panicked"),
                }
            }
            if !released.is_empty() {
                let claims: Vec<(i64, i64, i64)> = released
                    .iter()
                    .filter_map(|row| Some((row.id, row.attempts, row.due_at?.timestamp_millis())))
                    .collect();
                let now = self.clock.now().timestamp_millis();
                let given_back = self.store.release_claims(&claims, now).await?;
                tick.released += usize::try_from(given_back).unwrap_or(usize::MAX);
                tracing::warn!(
                    count = released.len(),
                    "deliveries waited too long for their turn; given back to be claimed again"
                );
            }
            for (_, done) in &finished {
                match done.outcome {
                    "delivered" => tick.delivered += 1,
                    "dead" => tick.dead += 1,
                    _ => tick.retrying += 1,
                }
            }
            let delivered = timer.elapsed();
            let written = self.store.finish_attempts(&finished).await?;
            tracing::debug!(
                count,
                claim_ms = (timer - claim_timer).as_millis(),
                prefetch_ms = prefetched.as_millis(),
                deliver_ms = (delivered - prefetched).as_millis(),
                record_ms = (timer.elapsed() - delivered).as_millis(),
                "dispatched a batch"
            );
            tick.superseded += finished.len() - written;
            if !full {
                break;
            }
        }
        tick.next_due = self
            .store
            .next_due()
            .await?
            .and_then(DateTime::from_timestamp_millis);
        Ok(tick)
    }

    /// Runs ticks until cancelled, sleeping until the next notification falls due (at most
    /// a second, or until woken). A tick in progress finishes: its deliveries are bounded
    /// by their timeouts.
    pub async fn run(self, cancel: CancellationToken, wake: Arc<Notify>) {
        while !cancel.is_cancelled() {
            let sleep = match self.tick().await {
                Ok(tick) => {
                    let now = self.clock.now();
                    let until = tick.next_due.unwrap_or(now + MAX_SLEEP);
                    (until - now).clamp(Duration::zero(), MAX_SLEEP)
                }
                Err(err) => {
                    tracing::error!(error = %err, "dispatch tick failed");
                    MAX_SLEEP
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(sleep.to_std().unwrap_or_default()) => {}
            }
        }
    }

    /// Loads what the claimed notifications' deliveries share, a query per kind of thing
    /// rather than several per delivery.
    async fn prefetch(&self, claimed: &[OutboxRecord]) -> Result<Prefetched, StoreError> {
        let distinct = |ids: &mut Vec<i64>| {
            ids.sort_unstable();
            ids.dedup();
        };
        let mut channel_ids: Vec<i64> = claimed.iter().map(|r| r.channel_id).collect();
        distinct(&mut channel_ids);
        let mut check_ids: Vec<i64> = claimed.iter().filter_map(|r| r.check_id).collect();
        distinct(&mut check_ids);
        let mut project_ids: Vec<i64> = claimed.iter().map(|r| r.project_id).collect();
        distinct(&mut project_ids);
        let mut prefetched = Prefetched {
            channels: self
                .store
                .channels_by_ids(&channel_ids)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect(),
            checks: self
                .store
                .checks_by_ids(&check_ids)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect(),
            ..Prefetched::default()
        };
        for (check_id, code) in self.store.channels_of_checks(&check_ids).await? {
            let list = prefetched.check_channels.entry(check_id).or_default();
            if !list.is_empty() {
                list.push(',');
            }
            list.push_str(&code.to_string());
        }
        for id in project_ids {
            let name = self.store.project_name(id).await?.unwrap_or_default();
            prefetched.projects.insert(id, name);
        }
        Ok(prefetched)
    }

    /// Whether the claim on `row` (until its `due_at`) outlasts the longest delivery from now.
    fn time_to_deliver(&self, row: &OutboxRecord) -> bool {
        let longest = Duration::from_std(LONGEST_DELIVERY).unwrap_or(Duration::MAX);
        row.due_at
            .is_some_and(|until| self.clock.now() + longest <= until)
    }

    /// Delivers one claimed notification and says how it went.
    async fn attempt(
        &self,
        row: OutboxRecord,
        context: &Prefetched,
    ) -> Result<(i64, Finished), StoreError> {
        let started = self.clock.now();
        let timer = Instant::now();
        let channel = context.channels.get(&row.channel_id);
        let outcome = match channel {
            Some(channel) => {
                let span = tracing::info_span!(
                    "delivery",
                    notification = %row.code,
                    channel = %channel.code,
                    kind = %channel.kind,
                    attempt = row.attempts,
                );
                let _guard = span.enter();
                self.deliver(&row, channel, context).await?
            }
            None => Outcome::failed("The channel was deleted.", true),
        };
        let latency = Duration::from_std(timer.elapsed()).unwrap_or(Duration::MAX);
        let max_attempts = match row.purpose {
            Purpose::Flip => MAX_ATTEMPTS,
            // A test is tried once, as on healthchecks.io; a verification link a few times.
            Purpose::Test => 1,
            Purpose::Verify => 3,
        };
        let (outcome_name, status_code, error, retry_at) = match outcome {
            Outcome::Delivered { status } => ("delivered", status, String::new(), None),
            Outcome::Failed {
                error,
                status,
                permanent,
            } => {
                if permanent || row.attempts >= max_attempts {
                    ("dead", status, error, None)
                } else {
                    let retry_at = self.clock.now() + backoff(row.attempts);
                    ("retry", status, error, Some(retry_at))
                }
            }
        };
        let kind = channel.map_or("", |c| c.kind.as_str());
        metrics::delivery(kind, outcome_name, latency);
        if outcome_name != "delivered" {
            tracing::warn!(notification = %row.code, attempt = row.attempts, outcome = outcome_name, %error, "delivery failed");
        }
        Ok((
            row.channel_id,
            Finished {
                outbox_id: row.id,
                attempt: row.attempts,
                started,
                latency_ms: latency.num_milliseconds(),
                outcome: outcome_name,
                status_code,
                error,
                retry_at,
            },
        ))
    }

    async fn deliver(
        &self,
        row: &OutboxRecord,
        channel: &ChannelRecord,
        context: &Prefetched,
    ) -> Result<Outcome, StoreError> {
        if row.purpose == Purpose::Verify {
            return self.send_verification(row, channel).await;
        }
        let Some(notice) = self.notice(row, channel, context).await? else {
            return Ok(Outcome::failed("The check was deleted.", true));
        };
        let t = &self.transports;
        Ok(match channel.kind.as_str() {
            "webhook" => match serde_json::from_str::<WebhookConfig>(&channel.value) {
                Ok(config) => match config.spec(notice.direction) {
                    Some(spec) => {
                        t.webhooks
                            .send(spec, &notice, &channel.secret, self.clock.now())
                            .await
                    }
                    None => Outcome::Delivered { status: None },
                },
                Err(_) => Outcome::failed("Invalid webhook settings.", true),
            },
            "email" if !channel.email_verified => Outcome::failed("Email not verified", true),
            "email" => match EmailConfig::from_stored(&channel.value) {
                Ok(config) => {
                    match email::alert_message(&notice, &t.from, &config.value, &t.site_name) {
                        Ok(message) => self.send_mail(message).await,
                        Err(err) => Outcome::failed(err, true),
                    }
                }
                Err(_) => Outcome::failed("Invalid email settings.", true),
            },
            other => Outcome::failed(format!("Unknown channel kind {other:?}."), true),
        })
    }

    async fn send_mail(&self, message: lettre::Message) -> Outcome {
        match &self.transports.mailer {
            Some(mailer) => mailer.send(message).await,
            None => Outcome::failed("Email is not configured (OVERDUE_SMTP_URL).", false),
        }
    }

    /// Mails a fresh verification link; only the newest link works.
    async fn send_verification(
        &self,
        row: &OutboxRecord,
        channel: &ChannelRecord,
    ) -> Result<Outcome, StoreError> {
        let Ok(config) = EmailConfig::from_stored(&channel.value) else {
            return Ok(Outcome::failed("Invalid email settings.", true));
        };
        if channel.email_verified {
            return Ok(Outcome::Delivered { status: None });
        }
        let token = keys::random_token();
        let mut updated = channel.clone();
        updated.verify_token_hash = keys::hash_secret(&token);
        self.store.update_channel(&updated).await?;
        let t = &self.transports;
        let url = format!(
            "{}/integrations/{}/verify/{token}/",
            t.site_root, channel.code
        );
        let project = self
            .store
            .project_name(channel.project_id)
            .await?
            .unwrap_or_default();
        Ok(
            match email::verification_message(
                &t.from,
                &config.value,
                &url,
                &project,
                &t.site_name,
                row.code,
            ) {
                Ok(message) => self.send_mail(message).await,
                Err(err) => Outcome::failed(err, true),
            },
        )
    }

    /// Everything the transports need about a notification's check. The last ping and
    /// the downtime cost a query each, so they are loaded only where they are shown: in
    /// email, and in webhooks whose templates use `$BODY` or `$EXITSTATUS`.
    async fn notice(
        &self,
        row: &OutboxRecord,
        channel: &ChannelRecord,
        context: &Prefetched,
    ) -> Result<Option<Notice>, StoreError> {
        let direction = if row.direction == "up" {
            Direction::Up
        } else {
            Direction::Down
        };
        let check = match row.check_id {
            Some(id) => match context.checks.get(&id) {
                Some(check) => check.clone(),
                None => return Ok(None),
            },
            None => test_check(channel.project_id, row.changed_at, direction),
        };
        let channels = context
            .check_channels
            .get(&check.id)
            .map_or("", String::as_str);
        let view = View {
            now: self.clock.now(),
            version: 3,
            access: KeyAccess::ReadWrite,
            site_root: &self.transports.site_root,
            ping_email_domain: self.transports.ping_email_domain.as_deref(),
        };
        let is_email = channel.kind == "email";
        let wants_ping =
            is_email || channel.value.contains("$BODY") || channel.value.contains("$EXITSTATUS");
        let changed_ms = row.changed_at.timestamp_millis();
        let last_ping = match row.check_id {
            Some(id) if wants_ping => self.store.last_ping_before(id, changed_ms).await?,
            _ => None,
        };
        let downtime = match (direction, row.check_id) {
            (Direction::Up, Some(id)) if is_email => self
                .store
                .down_since(id, changed_ms)
                .await?
                .and_then(DateTime::from_timestamp_millis)
                .map(|since| row.changed_at - since),
            _ => None,
        };
        Ok(Some(Notice {
            id: row.code,
            direction,
            reason: row.reason.clone(),
            changed_at: row.changed_at,
            downtime,
            is_test: row.purpose == Purpose::Test,
            check_json: check_json(&check, channels, view),
            check_url: format!(
                "{}/checks/{}/details/",
                self.transports.site_root, check.code
            ),
            project_name: context
                .projects
                .get(&check.project_id)
                .cloned()
                .unwrap_or_default(),
            last_ping,
            check,
        }))
    }
}

/// What a batch of deliveries shares, loaded once for the batch.
#[derive(Debug, Default)]
struct Prefetched {
    channels: HashMap<i64, ChannelRecord>,
    checks: HashMap<i64, CheckRecord>,
    /// Each check's channel codes, comma-separated (for `$JSON`).
    check_channels: HashMap<i64, String>,
    projects: HashMap<i64, String>,
}

/// The stand-in check a test notification describes (healthchecks.io's "TEST" check).
fn test_check(project_id: i64, now: DateTime<Utc>, direction: Direction) -> CheckRecord {
    let mut check = CheckRecord::new(project_id, now);
    check.name = "TEST".to_owned();
    check.desc = "This is a test notification.".to_owned();
    check.state.status = match direction {
        Direction::Up => Status::Up,
        Direction::Down => Status::Down,
    };
    check.state.last_ping = Some(now);
    check
}

/// The delay before retry number `attempt + 1`: doubling from [`FIRST_BACKOFF`], capped,
/// with ±50 % jitter so that failures at one moment do not retry in lockstep.
pub fn backoff(attempt: i64) -> Duration {
    let doublings = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    let base = FIRST_BACKOFF
        .checked_mul(2_i32.saturating_pow(doublings))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF);
    let jitter: f64 = rand::rng().random_range(0.5..1.5);
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let ms = (base.num_milliseconds() as f64 * jitter) as i64;
    Duration::milliseconds(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempt in 1..=12 {
            let expected =
                (FIRST_BACKOFF * 2_i32.pow(u32::try_from(attempt - 1).unwrap())).min(MAX_BACKOFF);
            for _ in 0..50 {
                let d = backoff(attempt);
                assert!(d >= expected / 2 && d < expected * 3 / 2, "{attempt}: {d}");
            }
        }
    }
}
