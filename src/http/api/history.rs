//! A check's history: its flips (healthchecks.io §3.8), and Overdue's notifications with
//! every delivery attempt, which can be sent again.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use serde_json::{Value, json};
use uuid::Uuid;

use super::checks::{find_readable_check, owned_check};
use super::json::iso;
use super::openapi;
use super::{authorize_read, authorize_read_write, authorize_write, owned, parse_body};
use crate::domain::check::Status;
use crate::error::AppError;
use crate::http::AppState;
use crate::store::OutboxRecord;

/// The `?start=`, `?end=` and `?seconds=` filters of the flips list.
#[derive(Debug, Default, PartialEq, Eq)]
struct FlipFilter {
    start: Option<i64>,
    end: Option<i64>,
    seconds: Option<i64>,
}

impl FlipFilter {
    /// Integers in range, else `None` (answered with an empty 400, as healthchecks.io).
    fn parse(query: Option<&str>) -> Option<FlipFilter> {
        let mut filter = FlipFilter::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let (slot, max) = match key.as_ref() {
                "start" => (&mut filter.start, 10_000_000_000),
                "end" => (&mut filter.end, 10_000_000_000),
                "seconds" => (&mut filter.seconds, 31_536_000),
                _ => continue,
            };
            *slot = Some(
                value
                    .parse::<i64>()
                    .ok()
                    .filter(|v| (0..=max).contains(v))?,
            );
        }
        Some(filter)
    }
}

/// `GET checks/<uuid or unique_key>/flips/`: `{"flips": [{"timestamp", "up"}]}`, newest first.
#[utoipa::path(
    get, path = "/api/v3/checks/{uuid}/flips/", tag = "history",
    description = "Also by `unique_key` in place of the UUID.",
    params(
        ("uuid" = uuid::Uuid, Path, description = "The check's UUID"),
        ("start" = Option<i64>, Query, description = "Unix time: flips at or after", minimum = 0, maximum = 10_000_000_000i64),
        ("end" = Option<i64>, Query, description = "Unix time: flips before", minimum = 0, maximum = 10_000_000_000i64),
        ("seconds" = Option<i64>, Query, description = "Flips of the last so many seconds", minimum = 0, maximum = 31_536_000),
    ),
    responses(
        (status = 200, description = "Status changes, newest first", body = openapi::FlipList),
        (status = 400, description = "A filter is not an integer in range", content_type = "text/html"),
        (status = 401, description = "No key, or a wrong one", body = openapi::Error),
        (status = 403, description = "The check is another project's", content_type = "text/html"),
        (status = 404, description = "No such check", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn list_flips(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let (project, _) = authorize_read(&state, &headers).await?;
    let check = find_readable_check(&state, &project, &key).await?;
    let Some(filter) = FlipFilter::parse(query.as_deref()) else {
        return Ok(crate::error::empty(StatusCode::BAD_REQUEST));
    };
    let now = state.clock.now().timestamp();
    let flips: Vec<Value> = state
        .store
        .flips(check.id)
        .await?
        .iter()
        .filter(|f| {
            let t = f.created.timestamp();
            filter.start.is_none_or(|start| t >= start)
                && filter.end.is_none_or(|end| t < end)
                // healthchecks.io tests `seconds` for truth: 0 filters nothing.
                && filter.seconds.is_none_or(|s| s == 0 || t >= now - s)
        })
        .map(
            |f| json!({ "timestamp": iso(f.created), "up": i32::from(f.new_status == Status::Up) }),
        )
        .collect();
    Ok(Json(json!({ "flips": flips })).into_response())
}

fn millis_iso(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms).map(iso)
}

async fn notification_json(state: &AppState, n: &OutboxRecord) -> Result<Value, AppError> {
    let channel = state.store.channel_by_id(n.channel_id).await?;
    let attempts: Vec<Value> = state
        .store
        .attempts(n.id)
        .await?
        .iter()
        .map(|a| {
            json!({
                "n": a.n,
                "at": millis_iso(a.started),
                "outcome": a.outcome,
                "status_code": a.status_code,
                "error": a.error,
                "latency_ms": a.latency_ms,
            })
        })
        .collect();
    Ok(json!({
        "id": n.code,
        "channel": channel.map(|c| c.code),
        "purpose": n.purpose.as_str(),
        "status": n.direction,
        "reason": n.reason,
        "changed_at": iso(n.changed_at),
        "created": iso(n.created),
        "state": n.state,
        "next_attempt": n.due_at.filter(|_| n.state == "pending").map(iso),
        "delivered_at": n.delivered_at.map(iso),
        "last_error": n.last_error,
        "attempts": attempts,
    }))
}

/// `GET checks/<uuid>/notifications/`: the check's notifications, newest first, each with
/// its attempts. Read-write keys only, like pings.
#[utoipa::path(
    get, path = "/api/v3/checks/{uuid}/notifications/", tag = "history",
    description = "Read-write keys only. Overdue's extension.",
    params(("uuid" = uuid::Uuid, Path, description = "The check's UUID")),
    responses(
        (status = 200, description = "Notifications, newest first, with their attempts", body = openapi::NotificationList),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The check is another project's", content_type = "text/html"),
        (status = 404, description = "No such check", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn list_notifications(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let project = authorize_read_write(&state, &headers).await?;
    let check = owned_check(&state, &project, &key).await?;
    let mut out = Vec::new();
    for n in state.store.notifications_for_check(check.id, 100).await? {
        out.push(notification_json(&state, &n).await?);
    }
    Ok(Json(json!({ "notifications": out })).into_response())
}

/// A notification of the caller's project.
async fn owned_notification(
    state: &AppState,
    project_id: i64,
    code: &str,
) -> Result<OutboxRecord, AppError> {
    let code = Uuid::parse_str(code).map_err(|_| AppError::NotFound)?;
    let notification = state.store.notification_by_code(code).await?;
    owned(notification, |n| n.project_id, project_id)
}

/// `GET notifications/<uuid>`.
#[utoipa::path(
    get, path = "/api/v3/notifications/{uuid}", tag = "history",
    description = "Read-write keys only. Overdue's extension.",
    params(("uuid" = uuid::Uuid, Path, description = "The notification's UUID")),
    responses(
        (status = 200, description = "The notification", body = openapi::Notification),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The notification is another project's", content_type = "text/html"),
        (status = 404, description = "No such notification", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn get_notification(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let project = authorize_read_write(&state, &headers).await?;
    let n = owned_notification(&state, project.id, &code).await?;
    Ok(Json(notification_json(&state, &n).await?).into_response())
}

/// `POST notifications/<uuid>/resend`: queues a delivered or dead-lettered notification
/// again (same id, so receivers can tell it is the same one); 409 while it is pending.
#[utoipa::path(
    post, path = "/api/v3/notifications/{uuid}/resend", tag = "history",
    description = "Queues a delivered or dead-lettered notification again. Overdue's extension.",
    params(("uuid" = uuid::Uuid, Path, description = "The notification's UUID")),
    responses(
        (status = 200, description = "The notification, pending again", body = openapi::Notification),
        (status = 400, description = "The body is not a JSON object", body = openapi::Error),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The notification is another project's", content_type = "text/html"),
        (status = 404, description = "No such notification", content_type = "text/html"),
        (status = 409, description = "The notification is still pending", body = String, content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn resend_notification(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = parse_body(&body)?;
    let project = authorize_write(&state, &headers, body.as_ref()).await?;
    let n = owned_notification(&state, project.id, &code).await?;
    let now = state.clock.now().timestamp_millis();
    if !state.store.resend(n.id, now).await? {
        return Err(AppError::Conflict("notification is still pending"));
    }
    let n = owned_notification(&state, project.id, &code).await?;
    Ok(Json(notification_json(&state, &n).await?).into_response())
}

/// `POST notifications/<uuid>/status` (§5.4): a provider reports, after the fact, that a
/// delivery failed. Always 200, so the provider does not retry; notifications older than an
/// hour are left alone. Twilio's `MessageStatus` and `CallStatus` are understood too.
pub async fn delivery_status(
    State(state): State<AppState>,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<StatusCode, AppError> {
    let Ok(code) = Uuid::parse_str(&code) else {
        return Ok(StatusCode::OK);
    };
    let Some(notification) = state.store.notification_by_code(code).await? else {
        return Ok(StatusCode::OK);
    };
    if notification.created <= state.clock.now() - chrono::Duration::hours(1) {
        return Ok(StatusCode::OK);
    }
    let field = |name: &str| {
        form_urlencoded::parse(&body)
            .filter(|(key, _)| key == name)
            .last()
            .map(|(_, value)| value.into_owned())
            .filter(|value| !value.is_empty())
    };
    let mut error = field("error").map(|e| e.chars().take(200).collect::<String>());
    if let Some(status) = field("MessageStatus").filter(|s| s == "failed" || s == "undelivered") {
        error = Some(format!("Delivery failed (status={status})."));
    }
    if field("CallStatus").as_deref() == Some("failed") {
        error = Some("Delivery failed (status=failed).".to_owned());
    }
    if let Some(error) = error {
        state
            .store
            .report_delivery_error(notification.id, notification.channel_id, &error)
            .await?;
    }
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flip_filters_take_integers_in_range() {
        assert_eq!(FlipFilter::parse(None), Some(FlipFilter::default()));
        assert_eq!(
            FlipFilter::parse(Some("start=10&end=20&seconds=30")),
            Some(FlipFilter {
                start: Some(10),
                end: Some(20),
                seconds: Some(30)
            })
        );
        for bad in [
            "start=x",
            "start=-1",
            "end=10000000001",
            "seconds=31536001",
            "seconds=1.5",
        ] {
            assert_eq!(FlipFilter::parse(Some(bad)), None, "{bad}");
        }
    }
}
