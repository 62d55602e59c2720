//! Noticing late checks and telling people: shard leases, the deadline loop, the outbox
//! dispatcher and its two transports (email and webhooks).

pub mod deadlines;
pub mod dispatch;
pub mod email;
pub mod leases;
pub mod webhook;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::store::{CheckRecord, PingRecord};

/// Which way a notification reports a check going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// Everything a transport needs to render one notification about a check.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The outbox row's UUID: the same on every attempt (`webhook-id`, `Message-ID`).
    pub id: Uuid,
    pub direction: Direction,
    /// `"timeout"`, `"fail"` or `""` (as healthchecks.io's flip reasons).
    pub reason: String,
    /// When the status changed (for a timeout: the deadline, not when it was noticed).
    pub changed_at: DateTime<Utc>,
    /// For an up notice after a down flip: how long the check was down.
    pub downtime: Option<Duration>,
    /// A test notification sent from the API or dashboard, not a real status change.
    pub is_test: bool,
    pub check: CheckRecord,
    /// The check as the v3 read-write API shows it (`$JSON` in webhook templates).
    pub check_json: serde_json::Value,
    pub project_name: String,
    /// The last ping at or before `changed_at`, if any.
    pub last_ping: Option<PingRecord>,
    /// Where the check is shown on the site (`{site_root}/checks/{uuid}/details/`).
    pub check_url: String,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: Option<u16>,
    },
    Failed {
        /// Short and specific, healthchecks.io's wording where it has one
        /// (`Received status code 500`, `Connection timed out`, …); at most 200 chars.
        error: String,
        status: Option<u16>,
        /// Retrying cannot help (a refused private address, an invalid URL, …).
        permanent: bool,
    },
}

impl Outcome {
    pub fn failed(error: impl Into<String>, permanent: bool) -> Outcome {
        let mut error: String = error.into();
        if error.len() > 200 {
            let mut end = 200;
            while !error.is_char_boundary(end) {
                end -= 1;
            }
            error.truncate(end);
        }
        Outcome::Failed {
            error,
            status: None,
            permanent,
        }
    }
}
