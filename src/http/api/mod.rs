//! The Management API under `/api/v1/`, `/api/v2/` and `/api/v3/`: healthchecks.io's
//! authentication, CORS and error answers, shared by every endpoint.

pub mod channels;
mod checks;
mod history;
pub mod json;
mod openapi;
mod paths;
pub use paths::known_paths;
pub(crate) mod pings;
pub mod spec;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Map, Value};

use super::{AppState, Limits};
use crate::error::AppError;
use crate::http::badges::badge_urls;
use crate::keys::{API_KEY_LEN, hash_secret};
use crate::store::{CheckRecord, KeyAccess, ProjectRecord};

/// The API version of the request's path.
#[derive(Debug, Clone, Copy)]
pub struct Version(pub u8);

/// The routes of one API version.
pub fn routes(version: u8, limits: &Limits) -> Router<AppState> {
    let prefix = format!("/api/v{version}");
    let with_version = move |mut request: Request, next: Next| async move {
        request.extensions_mut().insert(Version(version));
        next.run(request).await
    };
    let limited = Router::new()
        .route(
            &format!("{prefix}/checks/"),
            get(checks::list_checks).post(checks::create_check),
        )
        .route(
            &format!("{prefix}/checks/{{key}}"),
            get(checks::get_check)
                .post(checks::update_check)
                .delete(checks::delete_check),
        )
        .route(
            &format!("{prefix}/checks/{{key}}/pause"),
            post(pings::pause),
        )
        .route(
            &format!("{prefix}/checks/{{key}}/resume"),
            post(pings::resume),
        )
        .route(
            &format!("{prefix}/checks/{{key}}/pings/"),
            get(pings::list_pings),
        )
        .route(
            &format!("{prefix}/checks/{{key}}/pings/{{n}}/body"),
            get(pings::ping_body),
        )
        .route(
            &format!("{prefix}/checks/{{key}}/flips/"),
            get(history::list_flips),
        )
        .route(
            &format!("{prefix}/checks/{{key}}/notifications/"),
            get(history::list_notifications),
        )
        .route(
            &format!("{prefix}/channels/"),
            get(channels::list_channels).post(channels::create_channel),
        )
        .route(
            &format!("{prefix}/channels/{{code}}"),
            get(channels::get_channel)
                .post(channels::update_channel)
                .delete(channels::delete_channel),
        )
        .route(
            &format!("{prefix}/channels/{{code}}/test"),
            post(channels::test_channel),
        )
        .route(
            &format!("{prefix}/notifications/{{code}}"),
            get(history::get_notification),
        )
        .route(
            &format!("{prefix}/notifications/{{code}}/resend"),
            post(history::resend_notification),
        )
        .route(&format!("{prefix}/badges/"), get(list_badges));
    // Health checks, the ops endpoint and delivery reports are not counted against anyone.
    let open = Router::new()
        .route(&format!("{prefix}/status/"), any(status))
        .route(&format!("{prefix}/metrics/"), any(ops_metrics))
        .route(
            &format!("{prefix}/notifications/{{code}}/status"),
            post(history::delivery_status),
        )
        .route(&format!("{prefix}/bounces/"), post(bounces))
        .route(
            &format!("{prefix}/openapi.json"),
            get(openapi::openapi_json),
        );
    limits
        .api(limited)
        .merge(open)
        .layer(middleware::from_fn(cors))
        .layer(middleware::from_fn(with_version))
}

/// healthchecks.io's `cors` decorator: OPTIONS is answered 204 without authentication, a
/// method the endpoint does not list is 405, and every answer (errors included) carries
/// the CORS headers.
pub async fn cors(request: Request, next: Next) -> Response {
    let Some(methods) = paths::cors_methods(request.uri().path()) else {
        return next.run(request).await;
    };
    let method = request.method().clone();
    let mut response = if method == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else if methods.split(", ").any(|m| m == method.as_str()) {
        next.run(request).await
    } else {
        crate::error::empty(StatusCode::METHOD_NOT_ALLOWED)
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("X-Api-Key"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

/// `GET /api/vN/badges/`: the badge URLs of each tag of the project's checks, and of all
/// its checks (`*`).
#[utoipa::path(
    get, path = "/api/v3/badges/", tag = "badges",
    responses(
        (status = 200, description = "Badge URLs by tag", body = openapi::Badges),
        (status = 401, description = "No key, or a wrong one", body = openapi::Error),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
async fn list_badges(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (project, _) = authorize_read(&state, &headers).await?;
    let checks = state.store.checks_in_project(project.id).await?;
    let mut badges = Map::new();
    for tag in CheckRecord::all_tags(&checks)
        .into_iter()
        .chain(["*".to_owned()])
    {
        let urls = badge_urls(&state.site_root, &project.badge_key, &state.secret, &tag);
        badges.insert(tag, urls);
    }
    Ok(axum::Json(serde_json::json!({ "badges": badges })).into_response())
}

/// `POST /api/vN/bounces/` (§5.4): healthchecks.io takes bounces for its signed
/// return addresses; Overdue's alert email has none, so no bounce carries a valid signature.
async fn bounces() -> &'static str {
    "OK (bad signature)"
}

/// `GET /api/vN/status/`: `OK` after a database round trip.
#[utoipa::path(
    get, path = "/api/v3/status/", tag = "checks",
    description = "`OK` after a database round trip; no key needed.",
    responses(
        (status = 200, description = "The database answers", body = String, content_type = "text/plain"),
        (status = 500, description = "The database does not answer"),
    )
)]
async fn status(State(state): State<AppState>) -> Response {
    match state.store.health().await {
        Ok(()) => "OK".into_response(),
        Err(err) => AppError::Store(err).into_response(),
    }
}

/// `GET /api/vN/metrics/` (§8.4): for watching Overdue itself, with `X-Metrics-Key`
/// equal to `OVERDUE_METRICS_KEY`; 403 when that is unset or the key differs.
/// `num_unprocessed_flips` counts status changes with notifications not yet delivered.
async fn ops_metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let given = headers.get("x-metrics-key").map(HeaderValue::as_bytes);
    let expected = state
        .config
        .metrics_key
        .as_ref()
        .map(|k| k.expose().as_bytes());
    match (given, expected) {
        (Some(given), Some(expected)) if !expected.is_empty() && given == expected => {}
        _ => return crate::error::empty(StatusCode::FORBIDDEN),
    }
    match state.store.backlog().await {
        Ok((max_ping, max_notification, unprocessed)) => axum::Json(serde_json::json!({
            "ts": state.clock.now().timestamp(),
            "max_ping_id": max_ping.unwrap_or(0),
            "max_notification_id": max_notification.unwrap_or(0),
            "num_unprocessed_flips": unprocessed,
        }))
        .into_response(),
        Err(err) => AppError::Store(err).into_response(),
    }
}

/// A POST body as healthchecks.io reads it: empty, or a JSON object.
pub fn parse_body(body: &Bytes) -> Result<Option<Map<String, Value>>, AppError> {
    if body.is_empty() {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(body) {
        // PostgreSQL cannot store NUL in text, so no string may hold one, on either engine.
        Ok(value) if has_nul(&value) => Err(AppError::BadRequest(
            "json validation error: strings must not contain NUL characters".to_owned(),
        )),
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(AppError::BadRequest(
            "json validation error: value is not an object".to_owned(),
        )),
        Err(_) => Err(AppError::BadRequest(
            "could not parse request body".to_owned(),
        )),
    }
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn header_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-api-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

async fn project_for_key(
    state: &AppState,
    key: &str,
) -> Result<Option<(ProjectRecord, KeyAccess)>, AppError> {
    if key.chars().count() != API_KEY_LEN {
        return Err(AppError::Unauthorized("missing api key"));
    }
    Ok(state.store.project_by_key_hash(&hash_secret(key)).await?)
}

/// The project of a read-write key, from `X-Api-Key` or else the body's `api_key`.
pub async fn authorize_write(
    state: &AppState,
    headers: &HeaderMap,
    body: Option<&Map<String, Value>>,
) -> Result<ProjectRecord, AppError> {
    let key = header_key(headers)
        .or_else(|| {
            body.and_then(|b| b.get("api_key")).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
        .unwrap_or_default();
    match project_for_key(state, &key).await? {
        Some((project, KeyAccess::ReadWrite)) => Ok(project),
        _ => Err(AppError::Unauthorized("wrong api key")),
    }
}

/// The project of a read-write or read-only key, from `X-Api-Key` only.
pub async fn authorize_read(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(ProjectRecord, KeyAccess), AppError> {
    let key = header_key(headers).unwrap_or_default();
    project_for_key(state, &key)
        .await?
        .ok_or(AppError::Unauthorized("wrong api key"))
}

/// The project of a read-write key from `X-Api-Key`, for reads that read-only keys may not
/// make (pings, channels, notifications): healthchecks.io answers those with 401.
pub async fn authorize_read_write(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<ProjectRecord, AppError> {
    match authorize_read(state, headers).await? {
        (project, KeyAccess::ReadWrite) => Ok(project),
        (_, KeyAccess::ReadOnly) => Err(AppError::Unauthorized("wrong api key")),
    }
}

/// A record of the caller's project, as healthchecks.io answers lookups by UUID: 404 if it
/// does not exist, 403 if it belongs to another project.
pub fn owned<T>(
    found: Option<T>,
    owner: impl Fn(&T) -> i64,
    project_id: i64,
) -> Result<T, AppError> {
    let found = found.ok_or(AppError::NotFound)?;
    if owner(&found) != project_id {
        return Err(AppError::Forbidden);
    }
    Ok(found)
}
