//! `GET /api/v3/openapi.json`: the Management API described from its handlers' `#[utoipa::path]`
//! annotations. The schema types below describe the JSON the handlers write (which they
//! serialize by hand, in healthchecks.io's key order); they are never built.
#![allow(dead_code)]

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{channels, checks, history, pings};

/// The description, generated once.
static SPEC: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(&ApiDoc::openapi()).unwrap_or_else(|_| "{}".to_owned())
});

/// The OpenAPI document as served.
pub fn document() -> &'static str {
    &SPEC
}

pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Overdue Management API",
        description = "healthchecks.io's Management API (v1, v2 and v3 under `/api/v1/`, `/api/v2/`, \
            `/api/v3/`; only v3 is listed here), with Overdue's extensions: channels can be \
            created, changed, tested and deleted, and notifications listed with their delivery \
            attempts. Read endpoints take read-write or read-only keys, unless they say otherwise; \
            writes take read-write keys, in `X-Api-Key` or as `api_key` in the JSON body.",
        license(name = "BSD-3-Clause")
    ),
    paths(
        checks::list_checks,
        checks::create_check,
        checks::get_check,
        checks::update_check,
        checks::delete_check,
        pings::pause,
        pings::resume,
        pings::list_pings,
        pings::ping_body,
        history::list_flips,
        history::list_notifications,
        history::get_notification,
        history::resend_notification,
        channels::list_channels,
        channels::create_channel,
        channels::get_channel,
        channels::update_channel,
        channels::delete_channel,
        channels::test_channel,
        super::list_badges,
        super::status,
    ),
    modifiers(&ApiKeyHeader),
    tags(
        (name = "checks", description = "Checks: create, read, change, pause, delete"),
        (name = "history", description = "Pings, flips and notifications of a check"),
        (name = "channels", description = "Where alerts go (email and webhooks)"),
        (name = "badges", description = "Status badges"),
    )
)]
struct ApiDoc;

/// `X-Api-Key`, the one security scheme.
struct ApiKeyHeader;

impl Modify for ApiKeyHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// `{"error": "…"}`, with healthchecks.io's messages.
#[derive(ToSchema)]
pub struct Error {
    pub error: String,
}

/// A check's status; `started` only in v1, for a running check.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Status {
    New,
    Up,
    Grace,
    Down,
    Paused,
    Started,
}

/// A check, in healthchecks.io's key order. Read-only keys see `unique_key` instead of
/// `uuid`, the URLs and `channels`. Simple checks have `timeout`, cron and OnCalendar checks
/// `schedule` and `tz`.
#[derive(ToSchema)]
pub struct Check {
    pub name: String,
    pub slug: String,
    /// Space-separated.
    pub tags: String,
    pub desc: String,
    /// Seconds.
    pub grace: i64,
    pub n_pings: i64,
    pub status: Status,
    pub started: bool,
    #[schema(required = true)]
    pub last_ping: Option<String>,
    #[schema(required = true)]
    pub next_ping: Option<String>,
    pub manual_resume: bool,
    /// `""` or `"POST"`.
    pub methods: String,
    pub subject: String,
    pub subject_fail: String,
    pub start_kw: String,
    pub success_kw: String,
    pub failure_kw: String,
    pub filter_subject: bool,
    pub filter_body: bool,
    pub filter_http_body: bool,
    pub filter_default_fail: bool,
    pub badge_url: String,
    /// Seconds of the last run, when it was not zero.
    #[schema(nullable = false)]
    pub last_duration: Option<i64>,
    #[schema(nullable = false)]
    pub unique_key: Option<String>,
    #[schema(nullable = false, format = Uuid)]
    pub uuid: Option<String>,
    #[schema(nullable = false)]
    pub ping_url: Option<String>,
    /// The address to mail pings to, when the site takes email pings (not in healthchecks.io).
    #[schema(nullable = false)]
    pub ping_email: Option<String>,
    #[schema(nullable = false)]
    pub update_url: Option<String>,
    #[schema(nullable = false)]
    pub pause_url: Option<String>,
    #[schema(nullable = false)]
    pub resume_url: Option<String>,
    /// Comma-separated channel UUIDs.
    #[schema(nullable = false)]
    pub channels: Option<String>,
    #[schema(nullable = false)]
    pub timeout: Option<i64>,
    #[schema(nullable = false)]
    pub schedule: Option<String>,
    #[schema(nullable = false)]
    pub tz: Option<String>,
}

#[derive(ToSchema)]
pub struct CheckList {
    pub checks: Vec<Check>,
}

/// A field named in `unique`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum UniqueField {
    Name,
    Slug,
    Tags,
    Timeout,
    Grace,
}

/// What to create or change; every field is optional. Only the first validation error is
/// reported.
#[derive(ToSchema)]
pub struct CheckSpec {
    /// The project's read-write key, when not in `X-Api-Key`.
    pub api_key: Option<String>,
    /// `*` for all the project's channels, `""` for none, else comma-separated UUIDs or names.
    pub channels: Option<String>,
    pub desc: Option<String>,
    #[schema(max_length = 200)]
    pub failure_kw: Option<String>,
    pub filter_subject: Option<bool>,
    pub filter_body: Option<bool>,
    pub filter_http_body: Option<bool>,
    pub filter_default_fail: Option<bool>,
    /// Seconds.
    #[schema(minimum = 60, maximum = 31_536_000)]
    pub grace: Option<i64>,
    pub manual_resume: Option<bool>,
    #[schema(pattern = "^(POST)?$")]
    pub methods: Option<String>,
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// A cron expression or OnCalendar expressions (one per line).
    #[schema(max_length = 100)]
    pub schedule: Option<String>,
    #[schema(max_length = 100, pattern = "^[a-z0-9-_]*$")]
    pub slug: Option<String>,
    #[schema(max_length = 200)]
    pub start_kw: Option<String>,
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    #[schema(max_length = 200)]
    pub subject_fail: Option<String>,
    #[schema(max_length = 200)]
    pub success_kw: Option<String>,
    pub tags: Option<String>,
    /// Seconds.
    #[schema(minimum = 60, maximum = 31_536_000)]
    pub timeout: Option<i64>,
    /// An IANA time zone.
    pub tz: Option<String>,
    /// Fields that identify an existing check to update instead of creating one.
    pub unique: Option<Vec<UniqueField>>,
}

/// A ping of a check.
#[derive(ToSchema)]
pub struct Ping {
    /// `success`, `start`, `fail`, `log` or `ign`.
    #[schema(rename = "type")]
    pub kind: String,
    pub date: String,
    pub n: i64,
    pub scheme: String,
    #[schema(required = true)]
    pub remote_addr: Option<String>,
    pub method: String,
    pub ua: String,
    #[schema(required = true)]
    pub rid: Option<String>,
    /// Seconds since the matching start.
    #[schema(nullable = false)]
    pub duration: Option<f64>,
    #[schema(required = true)]
    pub body_url: Option<String>,
}

#[derive(ToSchema)]
pub struct PingList {
    pub pings: Vec<Ping>,
}

#[derive(ToSchema)]
pub struct Flip {
    pub timestamp: String,
    /// 1 when the check came up, 0 when it went down.
    pub up: i32,
}

#[derive(ToSchema)]
pub struct FlipList {
    pub flips: Vec<Flip>,
}

/// One try at delivering a notification.
#[derive(ToSchema)]
pub struct Attempt {
    pub n: i64,
    #[schema(required = true)]
    pub at: Option<String>,
    /// `delivered`, `retry` or `failed`.
    pub outcome: String,
    #[schema(required = true)]
    pub status_code: Option<i64>,
    pub error: String,
    pub latency_ms: i64,
}

/// A notification: a status change (or test, or verification) sent to one channel.
#[derive(ToSchema)]
pub struct Notification {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(required = true, format = Uuid)]
    pub channel: Option<String>,
    /// `flip`, `test` or `verify`.
    pub purpose: String,
    /// `up` or `down` (empty for verifications).
    pub status: String,
    pub reason: String,
    pub changed_at: String,
    pub created: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    #[schema(required = true)]
    pub next_attempt: Option<String>,
    #[schema(required = true)]
    pub delivered_at: Option<String>,
    pub last_error: String,
    pub attempts: Vec<Attempt>,
}

#[derive(ToSchema)]
pub struct NotificationList {
    pub notifications: Vec<Notification>,
}

#[derive(ToSchema)]
pub struct Queued {
    #[schema(format = Uuid)]
    pub notification: String,
}

#[derive(ToSchema)]
pub struct ChannelSummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// `email` or `webhook`.
    pub kind: String,
}

#[derive(ToSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelSummary>,
}

/// A channel. Its settings are under the key named by its kind (`email` or `webhook`).
#[derive(ToSchema)]
pub struct Channel {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub kind: String,
    #[schema(nullable = false)]
    pub email: Option<EmailSettings>,
    #[schema(nullable = false)]
    pub webhook: Option<WebhookSettings>,
    #[schema(nullable = false)]
    pub email_verified: Option<bool>,
    /// The webhook's signing secret, shown only when the channel is created.
    #[schema(nullable = false)]
    pub secret: Option<String>,
    pub disabled: bool,
    #[schema(required = true)]
    pub last_notify: Option<String>,
    pub last_error: String,
}

#[derive(ToSchema)]
pub struct EmailSettings {
    pub value: String,
    pub up: bool,
    pub down: bool,
}

/// healthchecks.io's webhook settings: one request for down, one for up.
#[derive(ToSchema)]
pub struct WebhookSettings {
    /// `GET`, `POST` or `PUT`.
    pub method_down: Option<String>,
    pub url_down: Option<String>,
    pub body_down: Option<String>,
    pub headers_down: Option<std::collections::BTreeMap<String, String>>,
    pub method_up: Option<String>,
    pub url_up: Option<String>,
    pub body_up: Option<String>,
    pub headers_up: Option<std::collections::BTreeMap<String, String>>,
}

/// A new channel, or changes to one (`kind` only on creation).
#[derive(ToSchema)]
pub struct ChannelSpec {
    pub api_key: Option<String>,
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// `email` or `webhook`.
    pub kind: Option<String>,
    pub email: Option<EmailSettings>,
    pub webhook: Option<WebhookSettings>,
}

/// The badge URLs of one tag.
#[derive(ToSchema)]
pub struct BadgeUrls {
    pub svg: String,
    pub svg3: String,
    pub json: String,
    pub json3: String,
    pub shields: String,
    pub shields3: String,
}

#[derive(ToSchema)]
pub struct Badges {
    /// By tag; `*` is every check.
    pub badges: std::collections::BTreeMap<String, BadgeUrls>,
}
