//! What the store reads and writes, and how rows map to domain values.
//!
//! Instants are stored as epoch milliseconds and periods as seconds, identically on both
//! engines; conversions happen here and nowhere else.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::domain::check::{Action, Check, Status};

/// A project: a group of checks sharing API keys and a ping key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProjectRecord {
    pub id: i64,
    pub code: Uuid,
    pub name: String,
    pub ping_key: Option<String>,
    pub badge_key: String,
    pub show_slugs: bool,
    pub check_limit: i64,
}

/// A new project. Keys arrive hashed: the store never sees a plaintext API key.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub code: Uuid,
    pub name: String,
    pub api_key_hash: String,
    pub api_key_ro_hash: String,
    pub ping_key: Option<String>,
    pub badge_key: String,
}

/// Which kind of API key matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAccess {
    ReadWrite,
    ReadOnly,
}

/// A check with its identity, descriptive fields and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    pub id: i64,
    pub code: Uuid,
    pub project_id: i64,
    pub name: String,
    pub slug: String,
    pub tags: String,
    pub desc: String,
    pub badge_key: Uuid,
    pub filter_subject: bool,
    pub filter_body: bool,
    pub alert_after: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    /// Bumped by every write of the check.
    pub version: i64,
    pub state: Check,
}

impl CheckRecord {
    /// A new check with healthchecks.io's defaults; `id` is assigned on insert.
    pub fn new(project_id: i64, now: DateTime<Utc>) -> Self {
        CheckRecord {
            id: 0,
            code: Uuid::new_v4(),
            project_id,
            name: String::new(),
            slug: String::new(),
            tags: String::new(),
            desc: String::new(),
            badge_key: Uuid::new_v4(),
            filter_subject: false,
            filter_body: false,
            alert_after: None,
            created: now,
            version: 0,
            state: Check::default(),
        }
    }

    /// Space-separated tags, without empty ones.
    pub fn tags_list(&self) -> impl Iterator<Item = &str> {
        self.tags
            .split(' ')
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Every tag of these checks, sorted, each once.
    pub fn all_tags(checks: &[CheckRecord]) -> Vec<String> {
        let tags: std::collections::BTreeSet<&str> =
            checks.iter().flat_map(CheckRecord::tags_list).collect();
        tags.into_iter().map(str::to_owned).collect()
    }
}

/// The flat row behind [`CheckRecord`].
#[derive(Debug, sqlx::FromRow)]
pub(super) struct CheckRow {
    pub id: i64,
    pub code: Uuid,
    pub project_id: i64,
    pub name: String,
    pub slug: String,
    pub tags: String,
    pub description: String,
    pub kind: String,
    pub timeout: i64,
    pub grace: i64,
    pub schedule: String,
    pub tz: String,
    pub filter_subject: bool,
    pub filter_body: bool,
    pub filter_http_body: bool,
    pub filter_default_fail: bool,
    pub start_kw: String,
    pub success_kw: String,
    pub failure_kw: String,
    pub methods: String,
    pub manual_resume: bool,
    pub badge_key: Uuid,
    pub n_pings: i64,
    pub last_ping: Option<i64>,
    pub last_start: Option<i64>,
    pub last_start_rid: Option<Uuid>,
    pub last_duration: Option<i64>,
    pub has_confirmation_link: bool,
    pub alert_after: Option<i64>,
    pub status: String,
    pub version: i64,
    pub created: i64,
}

pub(super) fn instant(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("instant {ms}")))
}

pub(super) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl TryFrom<CheckRow> for CheckRecord {
    type Error = StoreError;

    fn try_from(row: CheckRow) -> Result<Self, StoreError> {
        let corrupt = |e: crate::domain::check::UnknownVariant| StoreError::Corrupt(e.to_string());
        let state = Check {
            kind: row.kind.parse().map_err(corrupt)?,
            timeout: Duration::seconds(row.timeout),
            grace: Duration::seconds(row.grace),
            schedule: row.schedule,
            tz: row.tz,
            status: row.status.parse().map_err(corrupt)?,
            last_ping: row.last_ping.map(instant).transpose()?,
            last_start: row.last_start.map(instant).transpose()?,
            last_start_rid: row.last_start_rid,
            last_duration: row.last_duration.map(Duration::milliseconds),
            n_pings: row.n_pings,
            methods: row.methods,
            manual_resume: row.manual_resume,
            filter_http_body: row.filter_http_body,
            filter_default_fail: row.filter_default_fail,
            start_kw: row.start_kw,
            success_kw: row.success_kw,
            failure_kw: row.failure_kw,
            has_confirmation_link: row.has_confirmation_link,
        };
        Ok(CheckRecord {
            id: row.id,
            code: row.code,
            project_id: row.project_id,
            name: row.name,
            slug: row.slug,
            tags: row.tags,
            desc: row.description,
            badge_key: row.badge_key,
            filter_subject: row.filter_subject,
            filter_body: row.filter_body,
            alert_after: row.alert_after.map(instant).transpose()?,
            created: instant(row.created)?,
            version: row.version,
            state,
        })
    }
}

/// Which check a ping is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingTarget {
    /// `/ping/<uuid>`.
    Code(Uuid),
    /// `/ping/<ping_key>/<slug>`, creating the check if asked (`?create=1`).
    Slug {
        ping_key: String,
        slug: String,
        create: bool,
    },
}

/// Why a ping whose check exists is refused. healthchecks.io checks these only after the
/// check is found, so an unknown check answers 404 first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingRejection {
    /// Exit status above 255.
    BadExitStatus,
    /// `rid` is not a UUID.
    BadRid,
}

/// One received ping, as the HTTP layer parsed it.
#[derive(Debug, Clone)]
pub struct PingInput {
    pub target: PingTarget,
    pub url_action: Action,
    pub exit_status: Option<u8>,
    pub rid: Option<Uuid>,
    pub reject: Option<PingRejection>,
    pub remote_addr: Option<String>,
    pub scheme: String,
    pub method: String,
    pub ua: String,
    pub body: Bytes,
}

/// What became of a ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingOutcome {
    /// Recorded; `created` when the check was auto-provisioned for it.
    Recorded {
        created: bool,
    },
    NotFound,
    AmbiguousSlug,
    Rejected(PingRejection),
}

/// A ping about to be inserted: what the request said, and what applying it decided.
#[derive(Debug, Clone)]
pub(super) struct NewPing<'a> {
    pub check_id: i64,
    pub n: i64,
    pub created: i64,
    pub kind: Option<&'static str>,
    pub input: &'a PingInput,
}

impl<'a> NewPing<'a> {
    /// The ping `input` became once applied to `check` as `action`.
    pub fn new(
        check: &CheckRecord,
        input: &'a PingInput,
        action: Action,
        now: DateTime<Utc>,
    ) -> Self {
        NewPing {
            check_id: check.id,
            n: check.state.n_pings,
            created: millis(now),
            kind: action.ping_kind(),
            input,
        }
    }

    pub fn exit_status(&self) -> Option<i64> {
        self.input.exit_status.map(i64::from)
    }
}

/// A stored ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingRecord {
    pub n: i64,
    pub created: DateTime<Utc>,
    /// `None` for success.
    pub kind: Option<String>,
    pub scheme: String,
    pub remote_addr: Option<String>,
    pub method: String,
    pub ua: String,
    pub body: Option<Vec<u8>>,
    pub exit_status: Option<i64>,
    pub rid: Option<Uuid>,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct PingRow {
    pub n: i64,
    pub created: i64,
    pub kind: Option<String>,
    pub scheme: String,
    pub remote_addr: Option<String>,
    pub method: String,
    pub ua: String,
    pub body: Option<Vec<u8>>,
    pub exitstatus: Option<i64>,
    pub rid: Option<Uuid>,
}

impl TryFrom<PingRow> for PingRecord {
    type Error = StoreError;

    fn try_from(row: PingRow) -> Result<Self, StoreError> {
        Ok(PingRecord {
            n: row.n,
            created: instant(row.created)?,
            kind: row.kind,
            scheme: row.scheme,
            remote_addr: row.remote_addr,
            method: row.method,
            ua: row.ua,
            body: row.body,
            exit_status: row.exitstatus,
            rid: row.rid,
        })
    }
}

/// A stored status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlipRecord {
    pub created: DateTime<Utc>,
    pub old_status: Status,
    pub new_status: Status,
    pub reason: String,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct FlipRow {
    pub created: i64,
    pub old_status: String,
    pub new_status: String,
    pub reason: String,
}

impl TryFrom<FlipRow> for FlipRecord {
    type Error = StoreError;

    fn try_from(row: FlipRow) -> Result<Self, StoreError> {
        let corrupt = |e: crate::domain::check::UnknownVariant| StoreError::Corrupt(e.to_string());
        Ok(FlipRecord {
            created: instant(row.created)?,
            old_status: row.old_status.parse().map_err(corrupt)?,
            new_status: row.new_status.parse().map_err(corrupt)?,
            reason: row.reason,
        })
    }
}
