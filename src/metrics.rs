//! Service metrics for `/metrics`, in Prometheus's text format.
//!
//! Counters and histograms go through the `metrics` facade into one process-wide recorder;
//! gauges that the database knows better (outbox depth, oldest undelivered notification)
//! are read from it at scrape time.

use std::sync::OnceLock;

use chrono::Duration;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first use; `None` if another recorder was installed first.
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// Makes sure the recorder exists before anything is counted.
pub fn init() {
    let _ = handle();
}

fn seconds(d: Duration) -> f64 {
    d.num_microseconds().map_or(f64::MAX, |us| {
        #[allow(clippy::cast_precision_loss)]
        let us = us as f64;
        us / 1e6
    })
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

pub fn pings_received(n: usize) {
    counter!("overdue_pings_received_total").increment(count(n));
}

pub fn flips(n: usize) {
    counter!("overdue_flips_total").increment(count(n));
}

/// A delivery attempt's outcome (`delivered`, `retry`, `dead`) and how long it took.
pub fn delivery(kind: &str, outcome: &'static str, latency: Duration) {
    counter!("overdue_deliveries_total", "kind" => kind.to_owned(), "outcome" => outcome)
        .increment(1);
    histogram!("overdue_delivery_seconds", "kind" => kind.to_owned()).record(seconds(latency));
}

/// Writes refused because another process had taken the lease.
pub fn fenced_writes(n: usize) {
    counter!("overdue_fenced_writes_total").increment(count(n));
}

pub fn leases_held(n: usize) {
    #[allow(clippy::cast_precision_loss)]
    gauge!("overdue_leases_held").set(n as f64);
}

/// How long after its deadline a check was flipped.
pub fn deadline_lag(lag: Duration) {
    histogram!("overdue_deadline_lag_seconds").record(seconds(lag.max(Duration::zero())));
}

/// The metrics text, with the outbox gauges given.
pub fn render(
    outbox_pending: i64,
    outbox_dead: i64,
    oldest_pending_age: Option<Duration>,
) -> String {
    let mut text = handle().map(PrometheusHandle::render).unwrap_or_default();
    text.push_str(&format!(
        "# HELP overdue_outbox_pending Notifications not yet delivered.\n\
         # TYPE overdue_outbox_pending gauge\noverdue_outbox_pending {outbox_pending}\n\
         # HELP overdue_outbox_dead Notifications dead-lettered after their last attempt.\n\
         # TYPE overdue_outbox_dead gauge\noverdue_outbox_dead {outbox_dead}\n\
         # HELP overdue_outbox_oldest_pending_seconds Age of the oldest undelivered notification.\n\
         # TYPE overdue_outbox_oldest_pending_seconds gauge\n\
         overdue_outbox_oldest_pending_seconds {}\n",
        oldest_pending_age.map_or(0.0, seconds)
    ));
    text
}

// Email pings (the SMTP listener).

/// A message whose DATA ended: `accepted` (its pings recorded), `too_large`,
/// `line_too_long` (refused, nothing recorded) or `failed` (not recorded; the client retries).
pub fn email_message(outcome: &'static str) {
    counter!("overdue_email_messages_total", "outcome" => outcome).increment(1);
}

/// An SMTP session refused at connect (`sessions`: the listener is full; `client`: that
/// client has its most sessions open) or ended by a limit (`timeout`, `session_limit`).
pub fn smtp_session_refused(reason: &'static str) {
    counter!("overdue_smtp_sessions_refused_total", "reason" => reason).increment(1);
}

/// A recipient refused at `RCPT TO`: `domain` or `mailbox`.
pub fn email_recipient_refused(reason: &'static str) {
    counter!("overdue_email_recipients_refused_total", "reason" => reason).increment(1);
}

/// An accepted recipient that named no check (`not_found`) or several (`ambiguous`).
pub fn email_recipient_skipped(reason: &'static str) {
    counter!("overdue_email_recipients_skipped_total", "reason" => reason).increment(1);
}
