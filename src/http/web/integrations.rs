//! A project's integrations: its email and webhook channels with their last result and how
//! many checks each notifies, adding them (validated as the API validates), sending a test
//! notification, and removing them. Each channel also has a page to edit it ([`edit`]) and
//! one to choose the checks it notifies ([`assign`]).

mod assign;
mod edit;
mod field_errors;

pub use assign::{assign_checks, show_assigned};
pub use edit::{edit_form, save_edit};

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, json};

use super::projects::membership;
use super::session::{self, User};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::channels::{add_channel, parse_settings, queue_test};
use crate::store::{ChannelRecord, ProjectRecord, Role, SessionRecord};

struct ChannelRow {
    code: String,
    name: String,
    kind: String,
    /// The address, or the URLs called.
    target: String,
    /// Email channels alert only once their address is verified.
    unverified: bool,
    disabled: bool,
    last_error: String,
    /// How many of the project's checks it notifies.
    assigned: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    email: String,
    csrf: String,
    project_code: String,
    project_name: String,
    can_write: bool,
    channels: Vec<ChannelRow>,
    /// How many checks the project has.
    total_checks: i64,
    notice: Option<&'static str>,
    form: ChannelForm,
    errors: ChannelErrors,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChannelForm {
    csrf: String,
    /// `add-email`, `add-webhook`, `test` or `remove`.
    action: String,
    channel: String,
    name: String,
    address: String,
    url_down: String,
    url_up: String,
}

#[derive(Debug, Default)]
struct ChannelErrors {
    address: Option<String>,
    url_down: Option<String>,
    url_up: Option<String>,
}

/// What a channel sends to: the address, or the URLs called.
fn target(channel: &ChannelRecord) -> String {
    let settings: serde_json::Value = serde_json::from_str(&channel.value).unwrap_or_default();
    if channel.kind == "email" {
        settings["value"].as_str().unwrap_or_default().to_owned()
    } else {
        ["url_down", "url_up"]
            .iter()
            .filter_map(|k| settings[*k].as_str().filter(|u| !u.is_empty()))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// A channel's name, or what it sends to when it has none.
fn title(channel: &ChannelRecord) -> String {
    if channel.name.is_empty() {
        target(channel)
    } else {
        channel.name.clone()
    }
}

/// The channel with this code if it is the project's; 404 otherwise, as if it did not exist.
async fn channel_of_project(
    state: &AppState,
    project: &ProjectRecord,
    code: &str,
) -> Result<ChannelRecord, AppError> {
    let code = uuid::Uuid::parse_str(code).map_err(|_| AppError::NotFound)?;
    state
        .store
        .channel_by_code(code)
        .await?
        .filter(|c| c.project_id == project.id)
        .ok_or(AppError::NotFound)
}

async fn page(
    state: &AppState,
    session: SessionRecord,
    project: &ProjectRecord,
    role: Role,
) -> Result<IntegrationsPage, AppError> {
    let mut assigned: HashMap<uuid::Uuid, usize> = HashMap::new();
    for (_, channel) in state.store.check_channel_codes(project.id).await? {
        *assigned.entry(channel).or_default() += 1;
    }
    let channels = state
        .store
        .channels_in_project(project.id)
        .await?
        .into_iter()
        .map(|c| ChannelRow {
            code: c.code.to_string(),
            target: target(&c),
            unverified: c.kind == "email" && !c.email_verified,
            disabled: c.disabled,
            assigned: assigned.get(&c.code).copied().unwrap_or_default(),
            name: c.name,
            kind: c.kind,
            last_error: c.last_error,
        })
        .collect();
    Ok(IntegrationsPage {
        email: session.user.email,
        csrf: session.csrf_token,
        project_code: project.code.to_string(),
        project_name: project.name.clone(),
        can_write: role.can_write(),
        channels,
        total_checks: state.store.count_checks(project.id).await?,
        notice: None,
        form: ChannelForm::default(),
        errors: ChannelErrors::default(),
    })
}

/// What a change that worked says, on the page it redirects to (`?done=…`): reloading that
/// page repeats nothing.
const DONE: [(&str, &str); 4] = [
    (
        "email-added",
        "Added. A verification link is on its way to that address.",
    ),
    ("webhook-added", "Added, for every check of the project."),
    ("test-sent", "A test notification is on its way."),
    ("removed", "Removed."),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShowQuery {
    done: String,
}

/// `GET /projects/<uuid>/integrations/`.
pub async fn show(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    let mut page = page(&state, session, &project, role).await?;
    page.notice = DONE
        .iter()
        .find(|(key, _)| *key == query.done)
        .map(|(_, text)| *text);
    Ok(page.into_response())
}

/// Puts a settings error (`webhook: url_down: Enter a valid URL.`) by its field.
fn place_error(message: &str, errors: &mut ChannelErrors) {
    let message = message.trim_start_matches("json validation error: ");
    let message = message
        .trim_start_matches("webhook: ")
        .trim_start_matches("email: ");
    let (field, text) = message.split_once(": ").unwrap_or(("", message));
    let text = Some(text.to_owned());
    match field {
        "url_up" => errors.url_up = text,
        "url_down" => errors.url_down = text,
        _ if message.contains("url") => errors.url_down = text,
        _ => errors.address = text,
    }
}

/// `POST /projects/<uuid>/integrations/`: add an email or webhook channel, test or remove one.
pub async fn change(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ChannelForm>,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    if !session::session_form_ok(&state, &headers, &session, &form.csrf) || !role.can_write() {
        return Ok(session::forbidden());
    }
    let mut errors = ChannelErrors::default();
    let done = match form.action.as_str() {
        "add-email" | "add-webhook" => {
            let (kind, settings) = if form.action == "add-email" {
                let address = form.address.trim();
                (
                    "email",
                    json!({ "value": address, "up": true, "down": true }),
                )
            } else {
                let spec = json!({
                    "url_down": form.url_down.trim(), "method_down": "POST",
                    "url_up": form.url_up.trim(), "method_up": "POST",
                });
                ("webhook", spec)
            };
            let mut body = Map::new();
            body.insert(kind.to_owned(), settings);
            match parse_settings(&body, kind) {
                Ok(value) => {
                    let name = form.name.trim().chars().take(100).collect();
                    add_channel(&state, project.id, kind.to_owned(), name, value).await?;
                    Some(if kind == "email" {
                        "email-added"
                    } else {
                        "webhook-added"
                    })
                }
                Err(AppError::BadRequest(message)) => {
                    place_error(&message, &mut errors);
                    None
                }
                Err(other) => return Err(other),
            }
        }
        "test" | "remove" => {
            let channel = channel_of_project(&state, &project, &form.channel).await?;
            if form.action == "test" {
                queue_test(&state, &channel).await?;
                Some("test-sent")
            } else {
                state.store.delete_channel(channel.id).await?;
                Some("removed")
            }
        }
        _ => return Err(AppError::BadRequest("unknown action".to_owned())),
    };
    if let Some(done) = done {
        let to = format!("/projects/{}/integrations/?done={done}", project.code);
        return Ok(Redirect::to(&to).into_response());
    }
    // Bad input: the form again, as typed, with each message by its field.
    let mut page = page(&state, session, &project, role).await?;
    page.form = form;
    page.errors = errors;
    Ok((StatusCode::BAD_REQUEST, page).into_response())
}
