//! Channels (integrations): healthchecks.io's read-only list, and Overdue's extension to
//! create, read, change, delete and test email and webhook channels through the API.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::json::iso;
use super::openapi;
use super::{authorize_read_write, authorize_write, owned, parse_body};
use crate::alerts::email::EmailConfig;
use crate::alerts::webhook::{self, WebhookConfig};
use crate::error::AppError;
use crate::http::AppState;
use crate::store::{ChannelRecord, NewNotification, ProjectRecord, Purpose};

/// `GET channels/`: `{"channels": [{"id", "name", "kind"}]}`, read-write keys only.
#[utoipa::path(
    get, path = "/api/v3/channels/", tag = "channels",
    description = "Read-write keys only.",
    responses(
        (status = 200, description = "The project's channels", body = openapi::ChannelList),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn list_channels(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let project = authorize_read_write(&state, &headers).await?;
    let channels: Vec<Value> = state
        .store
        .channels_in_project(project.id)
        .await?
        .iter()
        .map(|c| json!({ "id": c.code, "name": c.name, "kind": c.kind }))
        .collect();
    Ok(Json(json!({ "channels": channels })).into_response())
}

/// A channel as the API shows it; the webhook secret only when just created.
fn channel_json(channel: &ChannelRecord, with_secret: bool) -> Value {
    let settings: Value = serde_json::from_str(&channel.value).unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("id".into(), json!(channel.code));
    out.insert("name".into(), json!(channel.name));
    out.insert("kind".into(), json!(channel.kind));
    out.insert(channel.kind.clone(), settings);
    if channel.kind == "email" {
        out.insert("email_verified".into(), json!(channel.email_verified));
    }
    if with_secret && !channel.secret.is_empty() {
        out.insert("secret".into(), json!(channel.secret));
    }
    out.insert("disabled".into(), json!(channel.disabled));
    out.insert(
        "last_notify".into(),
        json!(
            channel
                .last_notify
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(iso)
        ),
    );
    out.insert("last_error".into(), json!(channel.last_error));
    Value::Object(out)
}

/// The kind and settings a request gives, validated and in stored form.
pub(crate) fn parse_settings(body: &Map<String, Value>, kind: &str) -> Result<String, AppError> {
    let bad = |message: String| AppError::BadRequest(format!("json validation error: {message}"));
    let Some(settings) = body.get(kind) else {
        return Err(bad(format!("{kind} is missing")));
    };
    if !settings.is_object() {
        return Err(bad(format!("{kind} is not an object")));
    }
    let value = match kind {
        "webhook" => {
            let config: WebhookConfig = serde_json::from_value(settings.clone())
                .map_err(|e| bad(format!("webhook: {e}")))?;
            config.validate().map_err(bad)?;
            serde_json::to_string(&config)
        }
        _ => {
            let config: EmailConfig =
                serde_json::from_value(settings.clone()).map_err(|e| bad(format!("email: {e}")))?;
            config.validate().map_err(bad)?;
            serde_json::to_string(&config)
        }
    };
    value.map_err(|e| bad(e.to_string()))
}

fn parse_name(body: &Map<String, Value>, default: &str) -> Result<String, AppError> {
    match body.get("name") {
        None => Ok(default.to_owned()),
        Some(Value::String(name)) if name.chars().count() <= 100 => Ok(name.clone()),
        Some(Value::String(_)) => Err(AppError::BadRequest(
            "json validation error: name is too long".to_owned(),
        )),
        Some(_) => Err(AppError::BadRequest(
            "json validation error: name is not a string".to_owned(),
        )),
    }
}

/// Queues the verification email of an email channel.
async fn request_verification(state: &AppState, channel: &ChannelRecord) -> Result<(), AppError> {
    let now = state.clock.now();
    let notification = NewNotification {
        project_id: channel.project_id,
        check_id: None,
        channel_id: channel.id,
        purpose: Purpose::Verify,
        direction: "",
        reason: "",
        changed_at: now,
    };
    state.store.enqueue(&notification, now).await?;
    Ok(())
}

/// `POST channels/`: `{"name", "kind": "webhook", "webhook": {…}}` or
/// `{"name", "kind": "email", "email": {"value", "up", "down"}}`. Answers 201 with the
/// channel (a webhook's signing secret is shown this once). The new channel notifies every
/// check of the project, as on healthchecks.io; an email channel first mails a
/// verification link and receives alerts once it is followed.
#[utoipa::path(
    post, path = "/api/v3/channels/", tag = "channels",
    description = "Overdue's extension. The new channel notifies every check of the project; an email channel first mails a verification link.",
    request_body(content = openapi::ChannelSpec, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; a webhook's signing secret is shown this once", body = openapi::Channel, links(
            ("get" = (operation_id = "get_channel", parameters(("uuid" = "$response.body#/id")))),
            ("update" = (operation_id = "update_channel", parameters(("uuid" = "$response.body#/id")))),
            ("delete" = (operation_id = "delete_channel", parameters(("uuid" = "$response.body#/id")))),
            ("test" = (operation_id = "test_channel", parameters(("uuid" = "$response.body#/id")))),
        )),
        (status = 400, description = "Invalid request", body = openapi::Error),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn create_channel(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = parse_body(&body)?.unwrap_or_default();
    let project = authorize_write(&state, &headers, Some(&body)).await?;
    let kind = match body.get("kind") {
        Some(Value::String(kind)) if crate::domain::channel::KINDS.contains(&kind.as_str()) => {
            kind.clone()
        }
        Some(Value::String(_)) => {
            return Err(AppError::BadRequest(
                "json validation error: kind must be \"email\" or \"webhook\"".to_owned(),
            ));
        }
        Some(_) => {
            return Err(AppError::BadRequest(
                "json validation error: kind is not a string".to_owned(),
            ));
        }
        None => {
            return Err(AppError::BadRequest(
                "json validation error: kind is missing".to_owned(),
            ));
        }
    };
    let name = parse_name(&body, "")?;
    let value = parse_settings(&body, &kind)?;
    let channel = add_channel(&state, project.id, kind, name, value).await?;
    Ok((StatusCode::CREATED, Json(channel_json(&channel, true))).into_response())
}

/// Saves a new channel of a project (its settings validated already) and assigns it to every
/// check of the project; an email channel is sent its verification link.
pub(crate) async fn add_channel(
    state: &AppState,
    project_id: i64,
    kind: String,
    name: String,
    value: String,
) -> Result<ChannelRecord, AppError> {
    let channel = ChannelRecord {
        id: 0,
        code: Uuid::new_v4(),
        project_id,
        name,
        secret: if kind == "webhook" {
            webhook::new_secret()
        } else {
            String::new()
        },
        kind,
        value,
        email_verified: false,
        verify_token_hash: String::new(),
        disabled: false,
        last_notify: None,
        last_notify_duration: None,
        last_error: String::new(),
        created: state.clock.now().timestamp_millis(),
    };
    let channel = state.store.create_channel(&channel).await?;
    state
        .store
        .assign_channel_to_all(channel.id, project_id)
        .await?;
    if channel.kind == "email" {
        request_verification(state, &channel).await?;
    }
    Ok(channel)
}

/// Queues a test notification ("down") to a channel.
pub(crate) async fn queue_test(
    state: &AppState,
    channel: &ChannelRecord,
) -> Result<crate::store::OutboxRecord, AppError> {
    let now = state.clock.now();
    let notification = NewNotification {
        project_id: channel.project_id,
        check_id: None,
        channel_id: channel.id,
        purpose: Purpose::Test,
        direction: "down",
        reason: "",
        changed_at: now,
    };
    Ok(state.store.enqueue(&notification, now).await?)
}

/// A channel of the caller's project: 404 if there is none, 403 if it is another's.
async fn owned_channel(
    state: &AppState,
    project: &ProjectRecord,
    code: &str,
) -> Result<ChannelRecord, AppError> {
    let code = Uuid::parse_str(code).map_err(|_| AppError::NotFound)?;
    let channel = state.store.channel_by_code(code).await?;
    owned(channel, |c| c.project_id, project.id)
}

/// `GET channels/<uuid>`.
#[utoipa::path(
    get, path = "/api/v3/channels/{uuid}", tag = "channels",
    description = "Read-write keys only. Overdue's extension.",
    params(("uuid" = uuid::Uuid, Path, description = "The channel's UUID")),
    responses(
        (status = 200, description = "The channel", body = openapi::Channel),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The channel is another project's", content_type = "text/html"),
        (status = 404, description = "No such channel", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn get_channel(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let project = authorize_read_write(&state, &headers).await?;
    let channel = owned_channel(&state, &project, &code).await?;
    Ok(Json(channel_json(&channel, false)).into_response())
}

/// `POST channels/<uuid>`: changes the name, the settings (`webhook` or `email`, whole)
/// and `disabled`. A changed email address must be verified again.
#[utoipa::path(
    post, path = "/api/v3/channels/{uuid}", tag = "channels",
    description = "Overdue's extension. A changed email address is verified again.",
    params(("uuid" = uuid::Uuid, Path, description = "The channel's UUID")),
    request_body(content = openapi::ChannelSpec, content_type = "application/json"),
    responses(
        (status = 200, description = "The changed channel", body = openapi::Channel),
        (status = 400, description = "Invalid request", body = openapi::Error),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The channel is another project's", content_type = "text/html"),
        (status = 404, description = "No such channel", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn update_channel(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = parse_body(&body)?.unwrap_or_default();
    let project = authorize_write(&state, &headers, Some(&body)).await?;
    let channel = owned_channel(&state, &project, &code).await?;
    let channel = ChannelUpdate::parse(channel, &body)?.save(&state).await?;
    Ok(Json(channel_json(&channel, false)).into_response())
}

/// A change to a channel, validated but not saved yet: the API's `POST channels/<uuid>` and
/// the dashboard's edit page both go through it, so they accept and refuse the same things.
#[derive(Debug)]
pub(crate) struct ChannelUpdate {
    channel: ChannelRecord,
    /// The email address changed, so it must be verified again.
    reverify: bool,
}

impl ChannelUpdate {
    /// Applies a request's `name`, `disabled` and settings (`webhook` or `email`, whole) to
    /// `channel`; the first invalid one is the error.
    pub(crate) fn parse(
        mut channel: ChannelRecord,
        body: &Map<String, Value>,
    ) -> Result<ChannelUpdate, AppError> {
        if body
            .get("kind")
            .is_some_and(|k| k.as_str() != Some(&channel.kind))
        {
            return Err(AppError::BadRequest(
                "json validation error: kind cannot be changed".to_owned(),
            ));
        }
        channel.name = parse_name(body, &channel.name)?;
        match body.get("disabled") {
            None => {}
            Some(Value::Bool(disabled)) => channel.disabled = *disabled,
            Some(_) => {
                return Err(AppError::BadRequest(
                    "json validation error: disabled is not a boolean".to_owned(),
                ));
            }
        }
        let mut reverify = false;
        if body.contains_key(&channel.kind) {
            let value = parse_settings(body, &channel.kind)?;
            if channel.kind == "email" && address(&value) != address(&channel.value) {
                channel.email_verified = false;
                reverify = true;
            }
            channel.value = value;
        }
        Ok(ChannelUpdate { channel, reverify })
    }

    /// Whether saving sends a new verification link (and stops alerts until it is followed).
    pub(crate) fn reverifies(&self) -> bool {
        self.reverify
    }

    /// Saves the channel and, if its address changed, mails the new one a verification link.
    pub(crate) async fn save(self, state: &AppState) -> Result<ChannelRecord, AppError> {
        if !state.store.update_channel(&self.channel).await? {
            return Err(AppError::NotFound);
        }
        if self.reverify {
            request_verification(state, &self.channel).await?;
        }
        Ok(self.channel)
    }
}

fn address(value: &str) -> Option<String> {
    EmailConfig::from_stored(value)
        .ok()
        .map(|c| c.value.to_lowercase())
}

/// `DELETE channels/<uuid>`: answers with the channel as it was.
#[utoipa::path(
    delete, path = "/api/v3/channels/{uuid}", tag = "channels",
    description = "Overdue's extension.",
    params(("uuid" = uuid::Uuid, Path, description = "The channel's UUID")),
    responses(
        (status = 200, description = "The channel as it was", body = openapi::Channel),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The channel is another project's", content_type = "text/html"),
        (status = 404, description = "No such channel", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn delete_channel(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let project = authorize_write(&state, &headers, None).await?;
    let channel = owned_channel(&state, &project, &code).await?;
    if !state.store.delete_channel(channel.id).await? {
        return Err(AppError::NotFound);
    }
    Ok(Json(channel_json(&channel, false)).into_response())
}

/// `POST channels/<uuid>/test`: queues a test notification ("down") and answers 202 with
/// its id; its delivery shows in the channel's `last_error` and in
/// `GET notifications/<id>`.
#[utoipa::path(
    post, path = "/api/v3/channels/{uuid}/test", tag = "channels",
    description = "Queues a test notification. Overdue's extension.",
    params(("uuid" = uuid::Uuid, Path, description = "The channel's UUID")),
    responses(
        (status = 202, description = "Queued", body = openapi::Queued, links(
            ("get" = (operation_id = "get_notification", parameters(("uuid" = "$response.body#/notification")))),
            ("resend" = (operation_id = "resend_notification", parameters(("uuid" = "$response.body#/notification")))),
        )),
        (status = 400, description = "The body is not a JSON object", body = openapi::Error),
        (status = 401, description = "No read-write key", body = openapi::Error),
        (status = 403, description = "The channel is another project's", content_type = "text/html"),
        (status = 404, description = "No such channel", content_type = "text/html"),
        (status = 429, description = "Over the rate limit", body = openapi::Error),
    ),
    security(("api_key" = []))
)]
pub async fn test_channel(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let body = parse_body(&body)?;
    let project = authorize_write(&state, &headers, body.as_ref()).await?;
    let channel = owned_channel(&state, &project, &code).await?;
    let queued = queue_test(&state, &channel).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "notification": queued.code })),
    )
        .into_response())
}
