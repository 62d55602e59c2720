//! Pause and resume (§3.6), and a check's pings with their bodies (§3.7).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, SecondsFormat, Timelike, Utc};
use serde_json::{Map, Value, json};

use super::checks::{channels_of, owned_check, view};
use super::json::check_json;
use super::openapi;
use super::{Version, authorize_read_write, authorize_write, parse_body};
use crate::domain::check::Action;
use crate::error::AppError;
use crate::http::AppState;
use crate::store::{KeyAccess, PingRecord};

/// `POST checks/<uuid>/pause` or `…/resume`: the check after the change.
async fn change_status(
    state: &AppState,
    version: Version,
    headers: &HeaderMap,
    body: &Bytes,
    key: &str,
    resume: bool,
) -> Result<Response, AppError> {
    let body = parse_body(body)?;
    let project = authorize_write(state, headers, body.as_ref()).await?;
    let check = owned_check(state, &project, key).await?;
    let now = state.clock.now();
    let (check, flipped) = state
        .store
        .set_paused(check.id, !resume, now)
        .await?
        .ok_or(AppError::NotFound)?;
    if resume && !flipped {
        return Err(AppError::Conflict("check is not paused"));
    }
    let codes = channels_of(state, &check).await?;
    let view = view(state, version, KeyAccess::ReadWrite);
    Ok(Json(check_json(&check, &codes, view)).into_response())
}

/// `POST checks/<uuid>/pause`: no alerts until the next ping (or resume); 200 if paused
/// already.
#[utoipa::path(
    post, path = "/api/v3/checks/{uuid}/pause", tag = "checks",
    params(("uuid" = uuid::Uuid, Path, description = "The check's UUID")),
    responses(
        (status = 200, description = "The paused check", body = openapi::Check),
        (status = 400, description = "The body is not a JSON object", body = openapi::Error),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The check is another project's", content_type = "text/html"),
        (status = 404, description = "No such check", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn pause(
    State(state): State<AppState>,
    Extension(version): Extension<Version>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    change_status(&state, version, &headers, &body, &key, false).await
}

/// `POST checks/<uuid>/resume`: paused → new; 409 `check is not paused` otherwise.
#[utoipa::path(
    post, path = "/api/v3/checks/{uuid}/resume", tag = "checks",
    params(("uuid" = uuid::Uuid, Path, description = "The check's UUID")),
    responses(
        (status = 200, description = "The resumed check, now new", body = openapi::Check),
        (status = 400, description = "The body is not a JSON object", body = openapi::Error),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The check is another project's", content_type = "text/html"),
        (status = 404, description = "No such check", content_type = "text/html"),
        (status = 409, description = "`check is not paused`", body = String, content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn resume(
    State(state): State<AppState>,
    Extension(version): Extension<Version>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    change_status(&state, version, &headers, &body, &key, true).await
}

/// Python's `datetime.isoformat()`: microseconds only when there are any.
fn python_iso(t: DateTime<Utc>) -> String {
    let format = if t.nanosecond() / 1000 == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Micros
    };
    t.to_rfc3339_opts(format, false)
}

/// How long the run a success or failure ping ends took: back to the newest earlier start
/// with the same `rid` within 72 hours, skipping ignored and log pings; none if another
/// success or failure with that `rid` comes first (healthchecks.io `Ping.duration`).
pub(crate) fn duration(ping: &PingRecord, older: &[PingRecord]) -> Option<Duration> {
    if !matches!(ping.kind.as_deref(), None | Some("fail")) || ping.n == 1 {
        return None;
    }
    let window = ping.created - Duration::hours(72);
    older
        .iter()
        .take_while(|p| p.created >= window)
        .filter(|p| p.rid == ping.rid)
        .find(|p| p.kind.as_deref() != Some("ign") && p.kind.as_deref() != Some("log"))
        .filter(|p| p.kind.as_deref() == Some(Action::Start.as_str()))
        .map(|start| ping.created - start.created)
}

/// `GET checks/<uuid>/pings/`: the newest pings (at most the ping log limit, 1,000 at
/// most), newest first. Read-write keys only.
#[utoipa::path(
    get, path = "/api/v3/checks/{uuid}/pings/", tag = "history",
    description = "Read-write keys only.",
    params(("uuid" = uuid::Uuid, Path, description = "The check's UUID")),
    responses(
        (status = 200, description = "The newest pings, newest first", body = openapi::PingList),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The check is another project's", content_type = "text/html"),
        (status = 404, description = "No such check", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn list_pings(
    State(state): State<AppState>,
    Extension(version): Extension<Version>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let project = authorize_read_write(&state, &headers).await?;
    let check = owned_check(&state, &project, &key).await?;
    let limit = state.config.ping_log_limit.clamp(0, 1000);
    // A few older pings too, so that the oldest listed runs can find their starts.
    let pings = state.store.pings(check.id, limit + 50).await?;
    let shown = usize::try_from(limit).unwrap_or(0).min(pings.len());
    let items: Vec<Value> = (0..shown)
        .map(|i| {
            let ping = &pings[i];
            let mut item = Map::new();
            item.insert(
                "type".into(),
                json!(ping.kind.as_deref().unwrap_or("success")),
            );
            item.insert("date".into(), json!(python_iso(ping.created)));
            item.insert("n".into(), json!(ping.n));
            item.insert("scheme".into(), json!(ping.scheme));
            item.insert("remote_addr".into(), json!(ping.remote_addr));
            item.insert("method".into(), json!(ping.method));
            item.insert("ua".into(), json!(ping.ua));
            item.insert("rid".into(), json!(ping.rid.map(|r| r.to_string())));
            if let Some(d) = duration(ping, &pings[i + 1..]) {
                #[allow(clippy::cast_precision_loss)]
                let seconds = (d.num_milliseconds() as f64 / 10.0).round() / 100.0;
                item.insert("duration".into(), json!(seconds));
            }
            let has_body = ping.body.as_ref().is_some_and(|b| !b.is_empty());
            let body_url = has_body.then(|| {
                format!(
                    "{}/api/v{}/checks/{}/pings/{}/body",
                    state.site_root, version.0, check.code, ping.n
                )
            });
            item.insert("body_url".into(), json!(body_url));
            Value::Object(item)
        })
        .collect();
    Ok(Json(json!({ "pings": items })).into_response())
}

/// `GET checks/<uuid>/pings/<n>/body`: the ping's body as sent, `text/plain`; 404 for a
/// ping without a body or beyond the ping log limit.
#[utoipa::path(
    get, path = "/api/v3/checks/{uuid}/pings/{n}/body", tag = "history",
    description = "Read-write keys only.",
    params(
        ("uuid" = uuid::Uuid, Path, description = "The check's UUID"),
        ("n" = u64, Path, description = "The ping's number"),
    ),
    responses(
        (status = 200, description = "The body as sent", body = String, content_type = "text/plain"),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The check is another project's", content_type = "text/html"),
        (status = 404, description = "No such check, ping or body", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn ping_body(
    State(state): State<AppState>,
    Path((key, n)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let project = authorize_read_write(&state, &headers).await?;
    let check = owned_check(&state, &project, &key).await?;
    let n: i64 = n.parse().map_err(|_| AppError::NotFound)?;
    if n <= check.state.n_pings - state.config.ping_log_limit {
        return Err(AppError::NotFound);
    }
    let body = state
        .store
        .ping_by_n(check.id, n)
        .await?
        .and_then(|ping| ping.body)
        .filter(|body| !body.is_empty())
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response())
}
