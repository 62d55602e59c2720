//! The check page's event log: pings, status changes, and notifications with every delivery
//! attempt, newest first.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::alerts::email::{PingMail, is_email};
use crate::error::AppError;
use crate::http::AppState;
use crate::store::{CheckRecord, FlipRecord, PingRecord};

/// How many events the log shows.
pub(super) const LOG_EVENTS: usize = 100;

/// One line of the event log.
pub(super) struct Event {
    pub at: DateTime<Utc>,
    /// `ping`, `flip` or `notification`.
    pub kind: &'static str,
    /// `success`, `start`, `fail`, `log`, `ign`; `up`, `down`, …; a delivery state.
    pub label: String,
    pub text: String,
    /// Delivery attempts of a notification, one line each.
    pub details: Vec<String>,
}

/// How much of a ping's body (or an email ping's text) the log quotes.
const EXCERPT_CHARS: usize = 200;

fn ping_event(p: &PingRecord) -> Event {
    if is_email(p) {
        return email_ping_event(p);
    }
    let body = p
        .body
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let excerpt: String = body.chars().take(EXCERPT_CHARS).collect();
    Event {
        at: p.created,
        kind: "ping",
        label: p.kind.clone().unwrap_or_else(|| "success".to_owned()),
        text: format!(
            "#{} {} {} from {}{}",
            p.n,
            p.scheme.to_uppercase(),
            p.method,
            p.remote_addr.as_deref().unwrap_or("?"),
            if p.ua.is_empty() {
                String::new()
            } else {
                format!(" · {}", p.ua)
            },
        ),
        details: if excerpt.is_empty() {
            Vec::new()
        } else {
            vec![excerpt]
        },
    }
}

/// An email ping as healthchecks.io logs it: who sent it ("Email from <sender>") rather than
/// a scheme and method; then its decoded subject and the start of its text, not the raw
/// message, which opens with a screenful of headers.
fn email_ping_event(p: &PingRecord) -> Event {
    let mut details = Vec::new();
    if let Some(mail) = PingMail::of(p) {
        if !mail.subject.is_empty() {
            details.push(format!("Subject: {}", mail.subject));
        }
        let excerpt: String = mail.text.chars().take(EXCERPT_CHARS).collect();
        if !excerpt.is_empty() {
            details.push(excerpt);
        }
    }
    Event {
        at: p.created,
        kind: "ping",
        label: p.kind.clone().unwrap_or_else(|| "success".to_owned()),
        text: format!("#{} {}", p.n, p.ua),
        details,
    }
}

fn flip_event(flip: &FlipRecord) -> Event {
    Event {
        at: flip.created,
        kind: "flip",
        label: flip.new_status.as_str().to_owned(),
        text: format!(
            "Status changed from {} to {}{}",
            flip.old_status.as_str(),
            flip.new_status.as_str(),
            if flip.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", flip.reason)
            },
        ),
        details: Vec::new(),
    }
}

/// The newest events; `pings` and `flips` are the check's, newest first.
pub(super) async fn events(
    state: &AppState,
    check: &CheckRecord,
    pings: &[PingRecord],
    flips: &[FlipRecord],
) -> Result<Vec<Event>, AppError> {
    let limit = i64::try_from(LOG_EVENTS).unwrap_or(100);
    let mut events: Vec<Event> = pings.iter().take(LOG_EVENTS).map(ping_event).collect();
    events.extend(flips.iter().take(LOG_EVENTS).map(flip_event));
    // The notifications' channels and attempts, each read with one query.
    let notifications = state.store.notifications_for_check(check.id, limit).await?;
    let mut channel_ids: Vec<i64> = notifications.iter().map(|n| n.channel_id).collect();
    channel_ids.sort_unstable();
    channel_ids.dedup();
    let channels: HashMap<i64, String> = state
        .store
        .channels_by_ids(&channel_ids)
        .await?
        .into_iter()
        .map(|c| {
            let target = if c.name.is_empty() {
                c.kind
            } else {
                format!("{} ({})", c.name, c.kind)
            };
            (c.id, target)
        })
        .collect();
    let ids: Vec<i64> = notifications.iter().map(|n| n.id).collect();
    let mut attempts: HashMap<i64, Vec<String>> = HashMap::new();
    for a in state.store.attempts_of(&ids).await? {
        let result = match (a.status_code, a.error.is_empty()) {
            (_, false) => a.error.clone(),
            (Some(code), true) => format!("HTTP {code}"),
            (None, true) => "ok".to_owned(),
        };
        attempts.entry(a.outbox_id).or_default().push(format!(
            "Attempt {}: {} — {} ({} ms)",
            a.n, a.outcome, result, a.latency_ms
        ));
    }
    for n in notifications {
        let target = channels
            .get(&n.channel_id)
            .map_or("a removed integration", String::as_str);
        let details = attempts.remove(&n.id).unwrap_or_default();
        events.push(Event {
            at: n.created,
            kind: "notification",
            label: n.state.clone(),
            text: format!("Notified {target} that the check is {}", n.direction),
            details,
        });
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.at));
    events.truncate(LOG_EVENTS);
    Ok(events)
}
