//! Which checks a channel notifies (healthchecks.io's "Assign Checks to Integration"): every
//! check of the project with an ON/OFF switch, saved together, or all turned on or off at once.

use std::collections::HashSet;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::super::projects::membership;
use super::super::session::{self, User};
use super::{channel_of_project, title};
use crate::error::AppError;
use crate::http::AppState;
use crate::store::{ChannelRecord, ProjectRecord, Role, SessionRecord};

/// One check with its switch.
struct CheckRow {
    code: String,
    name: String,
    slug: String,
    tags: Vec<String>,
    status: &'static str,
    on: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "integration_checks.html")]
struct AssignPage {
    email: String,
    csrf: String,
    project_code: String,
    project_name: String,
    can_write: bool,
    channel_code: String,
    kind: String,
    title: String,
    checks: Vec<CheckRow>,
    /// How many checks the channel notifies.
    assigned: usize,
    notice: Option<&'static str>,
}

async fn page(
    state: &AppState,
    session: SessionRecord,
    project: &ProjectRecord,
    role: Role,
    channel: &ChannelRecord,
) -> Result<AssignPage, AppError> {
    let on: HashSet<i64> = state
        .store
        .check_channel_codes(project.id)
        .await?
        .into_iter()
        .filter(|(_, code)| *code == channel.code)
        .map(|(check, _)| check)
        .collect();
    let now = state.clock.now();
    // Oldest first, as healthchecks.io lists them here.
    let checks: Vec<CheckRow> = state
        .store
        .checks_in_project(project.id)
        .await?
        .into_iter()
        .map(|c| CheckRow {
            code: c.code.to_string(),
            status: c.state.display_status(now, true).as_str(),
            tags: c.tags_list().map(str::to_owned).collect(),
            on: on.contains(&c.id),
            name: c.name,
            slug: c.slug,
        })
        .collect();
    Ok(AssignPage {
        email: session.user.email,
        csrf: session.csrf_token,
        project_code: project.code.to_string(),
        project_name: project.name.clone(),
        can_write: role.can_write(),
        channel_code: channel.code.to_string(),
        kind: channel.kind.clone(),
        title: title(channel),
        assigned: checks.iter().filter(|c| c.on).count(),
        checks,
        notice: None,
    })
}

/// `GET /projects/<uuid>/integrations/<channel uuid>/checks/`.
pub async fn show_assigned(
    State(state): State<AppState>,
    User(session): User,
    Path((code, channel)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    let channel = channel_of_project(&state, &project, &channel).await?;
    Ok(page(&state, session, &project, role, &channel)
        .await?
        .into_response())
}

/// `POST /projects/<uuid>/integrations/<channel uuid>/checks/`: `action` is `save` (the
/// checks sent as `check=<uuid>` are on, the others off), `all-on` or `all-off`. A check
/// that is not the project's is not found, and nothing changes.
pub async fn assign_checks(
    State(state): State<AppState>,
    User(session): User,
    Path((code, channel)): Path<(String, String)>,
    headers: HeaderMap,
    // Pairs, since a form repeats `check` once per switch that is on.
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    let channel = channel_of_project(&state, &project, &channel).await?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    if !session::session_form_ok(&state, &headers, &session, field("csrf")) || !role.can_write() {
        return Ok(session::forbidden());
    }
    let checks = state.store.checks_in_project(project.id).await?;
    let ids: Vec<i64> = match field("action") {
        "all-on" => checks.iter().map(|c| c.id).collect(),
        "all-off" => Vec::new(),
        "save" => {
            let mut ids = Vec::new();
            for (_, value) in fields.iter().filter(|(k, _)| k == "check") {
                let code = uuid::Uuid::parse_str(value).map_err(|_| AppError::NotFound)?;
                let check = checks
                    .iter()
                    .find(|c| c.code == code)
                    .ok_or(AppError::NotFound)?;
                ids.push(check.id);
            }
            ids
        }
        _ => return Err(AppError::BadRequest("unknown action".to_owned())),
    };
    state
        .store
        .set_channel_checks(channel.id, project.id, &ids)
        .await?;
    let mut page = page(&state, session, &project, role, &channel).await?;
    page.notice = Some("Saved.");
    Ok(page.into_response())
}
