//! Checks: list, create (with `unique` upsert), get, update and delete.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use uuid::Uuid;

use super::json::{CheckJson, View, check_json, unique_key};
use super::openapi;
use super::paths::is_unique_key;
use super::spec::Spec;
use super::{Version, authorize_read, authorize_write, owned, parse_body};
use crate::error::AppError;
use crate::http::AppState;
use crate::store::{CheckRecord, KeyAccess, ProjectRecord};

pub(super) fn view<'a>(state: &'a AppState, version: Version, access: KeyAccess) -> View<'a> {
    View {
        now: state.clock.now(),
        version: version.0,
        access,
        site_root: &state.site_root,
        ping_email_domain: state.ping_email_domain.as_deref(),
    }
}

/// A check of the caller's project by UUID: 404 if there is none, 403 if it is another's.
pub(super) async fn owned_check(
    state: &AppState,
    project: &ProjectRecord,
    code: &str,
) -> Result<CheckRecord, AppError> {
    let code = parse_code(code).ok_or(AppError::NotFound)?;
    let check = state.store.check_by_code(code).await?;
    owned(check, |c| c.project_id, project.id)
}

/// A check by UUID or, within the project, by `unique_key` (404 if none matches).
pub(super) async fn find_readable_check(
    state: &AppState,
    project: &ProjectRecord,
    key: &str,
) -> Result<CheckRecord, AppError> {
    if is_unique_key(key) {
        return state
            .store
            .checks_in_project(project.id)
            .await?
            .into_iter()
            .find(|c| unique_key(c) == key)
            .ok_or(AppError::NoMatch);
    }
    owned_check(state, project, key).await
}

/// Django's UUID path converter accepts only the lowercase canonical form.
fn parse_code(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s)
        .ok()
        .filter(|code| code.hyphenated().to_string() == s)
}

fn spec(state: &AppState, body: Option<&serde_json::Map<String, Value>>) -> Result<Spec, AppError> {
    let empty = serde_json::Map::new();
    let min = i64::try_from(state.config.min_timeout).unwrap_or(i64::MAX);
    Spec::parse(body.unwrap_or(&empty), min).map_err(AppError::BadRequest)
}

/// The channels a request assigns (§3.5): absent → unchanged (`None`), `"*"` → all of the
/// project's, `""` → none, else each comma-separated item must name exactly one of the
/// project's channels by UUID or by name.
async fn resolve_channels(
    state: &AppState,
    project: &ProjectRecord,
    spec: &Spec,
) -> Result<Option<Vec<i64>>, AppError> {
    let Some(list) = spec.channels.as_deref() else {
        return Ok(None);
    };
    let channels = state.store.channels_in_project(project.id).await?;
    if list == "*" {
        return Ok(Some(channels.iter().map(|c| c.id).collect()));
    }
    if list.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let mut ids = Vec::new();
    for item in list.split(',') {
        if item.is_empty() {
            return Err(AppError::BadRequest("empty channel identifier".to_owned()));
        }
        let matches: Vec<i64> = channels
            .iter()
            .filter(|c| c.code.to_string() == item || c.name == item)
            .map(|c| c.id)
            .collect();
        match matches.as_slice() {
            [] => {
                return Err(AppError::BadRequest(format!(
                    "invalid channel identifier: {item}"
                )));
            }
            [id] => {
                if !ids.contains(id) {
                    ids.push(*id);
                }
            }
            _ => {
                return Err(AppError::BadRequest(format!(
                    "non-unique channel identifier: {item}"
                )));
            }
        }
    }
    Ok(Some(ids))
}

/// A check's channels as its JSON shows them.
pub(super) async fn channels_of(state: &AppState, check: &CheckRecord) -> Result<String, AppError> {
    Ok(join_codes(&state.store.channels_of_check(check.id).await?))
}

/// healthchecks.io's `channels`: the UUIDs (sorted by the store), comma-joined.
fn join_codes(codes: &[Uuid]) -> String {
    codes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Saves a request's channel assignment, if it made one.
async fn save_channels(
    state: &AppState,
    check: &CheckRecord,
    channels: Option<Vec<i64>>,
) -> Result<(), AppError> {
    if let Some(ids) = channels {
        state.store.set_check_channels(check.id, &ids).await?;
    }
    Ok(())
}

/// `GET checks/`: the project's checks, filtered by `?tag=` (all must match) and `?slug=`.
#[utoipa::path(
    get, path = "/api/v3/checks/", tag = "checks",
    params(
        ("tag" = Option<Vec<String>>, Query, description = "Only checks with every tag given", explode = true),
        ("slug" = Option<String>, Query, description = "Only checks with this slug"),
    ),
    responses(
        (status = 200, description = "The project's checks", body = openapi::CheckList),
        (status = 401, description = "No key, or a wrong one", body = openapi::Error),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn list_checks(
    State(state): State<AppState>,
    Extension(version): Extension<Version>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let (project, access) = authorize_read(&state, &headers).await?;
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let tags: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.as_str())
        .collect();
    let slug = params
        .iter()
        .rev()
        .find(|(k, _)| k == "slug")
        .map(|(_, v)| v.as_str())
        .filter(|s| !s.is_empty());
    let view = view(&state, version, access);
    let mut channels: HashMap<i64, Vec<Uuid>> = HashMap::new();
    if access == KeyAccess::ReadWrite {
        for (check_id, code) in state.store.check_channel_codes(project.id).await? {
            channels.entry(check_id).or_default().push(code);
        }
    }
    let checks: Vec<(CheckRecord, String)> = state
        .store
        .checks_in_project(project.id)
        .await?
        .into_iter()
        .filter(|check| slug.is_none_or(|slug| check.slug == slug))
        .filter(|check| tags.iter().all(|tag| check.tags_list().any(|t| t == *tag)))
        .map(|check| {
            let codes = channels.get(&check.id).map_or(&[][..], Vec::as_slice);
            let codes = join_codes(codes);
            (check, codes)
        })
        .collect();
    let list: Vec<CheckJson> = checks
        .iter()
        .map(|(check, channels)| CheckJson {
            check,
            channels,
            view,
        })
        .collect();
    // Serialized straight from the records: no intermediate value per check.
    #[derive(serde::Serialize)]
    struct Checks<'a> {
        checks: &'a [CheckJson<'a>],
    }
    Ok(Json(Checks { checks: &list }).into_response())
}

/// `POST checks/`: creates a check, or with `unique` updates the matching one.
#[utoipa::path(
    post, path = "/api/v3/checks/", tag = "checks",
    request_body(content = openapi::CheckSpec, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = openapi::Check, links(
            ("get" = (operation_id = "get_check", parameters(("uuid" = "$response.body#/uuid")))),
            ("update" = (operation_id = "update_check", parameters(("uuid" = "$response.body#/uuid")))),
            ("delete" = (operation_id = "delete_check", parameters(("uuid" = "$response.body#/uuid")))),
            ("pause" = (operation_id = "pause", parameters(("uuid" = "$response.body#/uuid")))),
            ("resume" = (operation_id = "resume", parameters(("uuid" = "$response.body#/uuid")))),
            ("pings" = (operation_id = "list_pings", parameters(("uuid" = "$response.body#/uuid")))),
            ("flips" = (operation_id = "list_flips", parameters(("uuid" = "$response.body#/uuid")))),
            ("notifications" = (operation_id = "list_notifications", parameters(("uuid" = "$response.body#/uuid")))),
        )),
        (status = 200, description = "A check matched `unique` and was updated", body = openapi::Check),
        (status = 400, description = "Invalid request", body = openapi::Error),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The project's check limit is reached", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn create_check(
    State(state): State<AppState>,
    Extension(version): Extension<Version>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = parse_body(&body)?;
    let project = authorize_write(&state, &headers, body.as_ref()).await?;
    let spec = spec(&state, body.as_ref())?;
    let view = view(&state, version, KeyAccess::ReadWrite);

    // As healthchecks.io: the `unique` lookup, then the check limit, then the channels.
    let existing = state.store.checks_in_project(project.id).await?;
    let matching = existing
        .iter()
        .find(|check| spec.matches_unique(check) == Some(true));
    let at_limit = i64::try_from(existing.len()).unwrap_or(i64::MAX) >= project.check_limit;
    if matching.is_none() && at_limit {
        return Err(AppError::Forbidden);
    }
    let channels = resolve_channels(&state, &project, &spec).await?;
    if let Some(check) = matching {
        let updated = state
            .store
            .modify_check(check.id, |c| spec.apply(c, version.0))
            .await?
            .ok_or(AppError::NotFound)?;
        save_channels(&state, &updated, channels).await?;
        let codes = channels_of(&state, &updated).await?;
        return Ok((StatusCode::OK, Json(check_json(&updated, &codes, view))).into_response());
    }
    let mut check = CheckRecord::new(project.id, view.now);
    spec.apply(&mut check, version.0);
    check.alert_after = check.state.going_down_after();
    let created = state.store.create_check(&check).await?;
    save_channels(&state, &created, channels).await?;
    let codes = channels_of(&state, &created).await?;
    Ok((
        StatusCode::CREATED,
        Json(check_json(&created, &codes, view)),
    )
        .into_response())
}

/// `GET checks/<uuid>` or `GET checks/<unique_key>`.
#[utoipa::path(
    get, path = "/api/v3/checks/{uuid}", tag = "checks",
    description = "Also by `unique_key` (40 characters, read-only keys' id of a check) in place of the UUID.",
    params(("uuid" = uuid::Uuid, Path, description = "The check's UUID")),
    responses(
        (status = 200, description = "The check", body = openapi::Check),
        (status = 401, description = "No key, or a wrong one", body = openapi::Error),
        (status = 403, description = "The check is another project's", content_type = "text/html"),
        (status = 404, description = "No such check", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn get_check(
    State(state): State<AppState>,
    Extension(version): Extension<Version>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (project, access) = authorize_read(&state, &headers).await?;
    let view = view(&state, version, access);
    let check = find_readable_check(&state, &project, &key).await?;
    // Read-only answers do not show channels.
    let codes = match access {
        KeyAccess::ReadWrite => channels_of(&state, &check).await?,
        KeyAccess::ReadOnly => String::new(),
    };
    Ok(Json(check_json(&check, &codes, view)).into_response())
}

/// `POST checks/<uuid>`: changes the fields given; the status never changes.
#[utoipa::path(
    post, path = "/api/v3/checks/{uuid}", tag = "checks",
    params(("uuid" = uuid::Uuid, Path, description = "The check's UUID")),
    request_body(content = openapi::CheckSpec, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed check", body = openapi::Check),
        (status = 400, description = "Invalid request", body = openapi::Error),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The check is another project's", content_type = "text/html"),
        (status = 404, description = "No such check", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn update_check(
    State(state): State<AppState>,
    Extension(version): Extension<Version>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    if is_unique_key(&key) {
        return Ok(StatusCode::METHOD_NOT_ALLOWED.into_response());
    }
    let body = parse_body(&body)?;
    let project = authorize_write(&state, &headers, body.as_ref()).await?;
    let check = owned_check(&state, &project, &key).await?;
    let spec = spec(&state, body.as_ref())?;
    let channels = resolve_channels(&state, &project, &spec).await?;
    let updated = state
        .store
        .modify_check(check.id, |c| spec.apply(c, version.0))
        .await?
        .ok_or(AppError::NotFound)?;
    save_channels(&state, &updated, channels).await?;
    let codes = channels_of(&state, &updated).await?;
    Ok(Json(check_json(
        &updated,
        &codes,
        view(&state, version, KeyAccess::ReadWrite),
    ))
    .into_response())
}

/// `DELETE checks/<uuid>`: answers with the check as it was.
#[utoipa::path(
    delete, path = "/api/v3/checks/{uuid}", tag = "checks",
    params(("uuid" = uuid::Uuid, Path, description = "The check's UUID")),
    responses(
        (status = 200, description = "The check as it was before", body = openapi::Check),
        (status = 401, description = "No read-write key in `X-Api-Key`", body = openapi::Error),
        (status = 403, description = "The check is another project's", content_type = "text/html"),
        (status = 404, description = "No such check", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn delete_check(
    State(state): State<AppState>,
    Extension(version): Extension<Version>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if is_unique_key(&key) {
        return Ok(StatusCode::METHOD_NOT_ALLOWED.into_response());
    }
    let project = authorize_write(&state, &headers, None).await?;
    let check = owned_check(&state, &project, &key).await?;
    let codes = channels_of(&state, &check).await?;
    if !state.store.delete_check(check.id).await? {
        return Err(AppError::NotFound);
    }
    Ok(Json(check_json(
        &check,
        &codes,
        view(&state, version, KeyAccess::ReadWrite),
    ))
    .into_response())
}
