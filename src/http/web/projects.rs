//! Projects: the list with overall status, creating one, and its settings page (name, API
//! keys, team, deletion). Every page checks membership; every change checks the member's
//! role. The team's part is in `team.rs`.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::{self, MaybeUser, User};
use super::team::{self, TeamRequest, TeamSection};
use crate::domain::check::DisplayStatus;
use crate::error::AppError;
use crate::http::AppState;
use crate::keys::{hash_secret, keyless_project, new_api_key, new_ping_key};
use crate::store::{ProjectKey, ProjectRecord, Role, SessionRecord};

/// One project in the list.
struct ProjectItem {
    code: uuid::Uuid,
    name: String,
    /// `up`, `grace`, `down`, `paused` or `new`: the most alarming of its checks.
    status: &'static str,
    status_text: &'static str,
    checks: usize,
    role: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "projects.html")]
struct ProjectsPage {
    email: String,
    csrf: String,
    projects: Vec<ProjectItem>,
    new_name: String,
    name_error: Option<&'static str>,
}

/// `GET /`: the user's projects; the login page for visitors.
pub async fn list(
    State(state): State<AppState>,
    MaybeUser(session): MaybeUser,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return Ok(Redirect::to("/accounts/login/").into_response());
    };
    let page = projects_page(&state, session, String::new(), None).await?;
    Ok(page.into_response())
}

async fn projects_page(
    state: &AppState,
    session: SessionRecord,
    new_name: String,
    name_error: Option<&'static str>,
) -> Result<ProjectsPage, AppError> {
    let now = state.clock.now();
    let mut projects = Vec::new();
    for (project, role) in state.store.projects_of_user(session.user.id).await? {
        let checks = state.store.checks_in_project(project.id).await?;
        let worst = checks
            .iter()
            .map(|c| c.state.display_status(now, false))
            .max_by_key(|s| severity(*s));
        let (status, status_text) = match worst {
            Some(DisplayStatus::Down) => ("down", "Some checks are down"),
            Some(DisplayStatus::Grace) => ("grace", "Some checks are late"),
            Some(DisplayStatus::Up | DisplayStatus::Started) => ("up", "All checks are up"),
            Some(DisplayStatus::Paused) => ("paused", "All checks are paused"),
            Some(DisplayStatus::New) | None => ("new", "No pings yet"),
        };
        projects.push(ProjectItem {
            code: project.code,
            name: project.name,
            status,
            status_text,
            checks: checks.len(),
            role: role.as_str(),
        });
    }
    Ok(ProjectsPage {
        email: session.user.email,
        csrf: session.csrf_token,
        projects,
        new_name,
        name_error,
    })
}

/// Which status a project shows when its checks differ: the most alarming.
fn severity(status: DisplayStatus) -> u8 {
    match status {
        DisplayStatus::New => 0,
        DisplayStatus::Paused => 1,
        DisplayStatus::Up | DisplayStatus::Started => 2,
        DisplayStatus::Grace => 3,
        DisplayStatus::Down => 4,
    }
}

/// A project name: 1 to 100 characters once trimmed.
fn name_error(name: &str) -> Option<&'static str> {
    match name.chars().count() {
        0 => Some("Enter a name."),
        1..=100 => None,
        _ => Some("Use at most 100 characters."),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewProjectForm {
    csrf: String,
    name: String,
}

/// `POST /projects/new/`.
pub async fn create(
    State(state): State<AppState>,
    User(session): User,
    headers: HeaderMap,
    Form(form): Form<NewProjectForm>,
) -> Result<Response, AppError> {
    if !session::session_form_ok(&state, &headers, &session, &form.csrf) {
        return Ok(session::forbidden());
    }
    let name = form.name.trim().to_owned();
    if let Some(error) = name_error(&name) {
        let page = projects_page(&state, session, name, Some(error)).await?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let now = state.clock.now().timestamp_millis();
    let project = state
        .store
        .create_project_for(session.user.id, &keyless_project(&name), now)
        .await?;
    let to = format!("/projects/{}/checks/", project.code);
    Ok(Redirect::to(&to).into_response())
}

/// A row of the keys table.
struct KeyRow {
    label: &'static str,
    which: &'static str,
    set: bool,
    /// The ping key is part of ping URLs, so it is always shown.
    shown: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "project_settings.html")]
struct SettingsPage {
    email: String,
    csrf: String,
    project_code: String,
    name: String,
    can_manage: bool,
    is_owner: bool,
    keys: Vec<KeyRow>,
    new_key: Option<(&'static str, String)>,
    notice: Option<&'static str>,
    name_error: Option<&'static str>,
    confirm_error: Option<&'static str>,
    team: TeamSection,
}

impl SettingsPage {
    async fn new(
        state: &AppState,
        session: SessionRecord,
        project: &ProjectRecord,
        role: Role,
    ) -> Result<SettingsPage, AppError> {
        let (rw, ro) = state.store.project_keys_set(project.id).await?;
        let ping = project.ping_key.clone();
        let team = TeamSection::load(state, project.id).await?;
        Ok(SettingsPage {
            email: session.user.email,
            csrf: session.csrf_token,
            project_code: project.code.to_string(),
            name: project.name.clone(),
            can_manage: role >= Role::Manager,
            is_owner: role == Role::Owner,
            keys: vec![
                KeyRow {
                    label: "Read-write API key",
                    which: "rw",
                    set: rw,
                    shown: None,
                },
                KeyRow {
                    label: "Read-only API key",
                    which: "ro",
                    set: ro,
                    shown: None,
                },
                KeyRow {
                    label: "Ping key",
                    which: "ping",
                    set: ping.is_some(),
                    shown: ping,
                },
            ],
            team,
            new_key: None,
            notice: None,
            name_error: None,
            confirm_error: None,
        })
    }
}

/// The project at `code` if the user is a member; 404 otherwise, as if it did not exist.
pub(super) async fn membership(
    state: &AppState,
    session: &SessionRecord,
    code: &str,
) -> Result<(ProjectRecord, Role), AppError> {
    let code = uuid::Uuid::parse_str(code).map_err(|_| AppError::NotFound)?;
    state
        .store
        .project_of_member(code, session.user.id)
        .await?
        .ok_or(AppError::NotFound)
}

/// `GET /projects/<uuid>/settings/`.
pub async fn settings(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    Ok(SettingsPage::new(&state, session, &project, role)
        .await?
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    csrf: String,
    action: String,
    name: String,
    key: String,
    confirm: String,
    /// The address to invite (or add at once, if it has an account), or the id of a member
    /// to remove or of an invitation to cancel.
    member_email: String,
    member: i64,
    invitation: i64,
    /// `readonly`, `member` or `manager`.
    role: String,
}

/// `POST /projects/<uuid>/settings/`: rename, create or revoke a key, change the team
/// (managers and owners), delete (owners).
pub async fn change_settings(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    if !session::session_form_ok(&state, &headers, &session, &form.csrf) {
        return Ok(session::forbidden());
    }
    let needed = if form.action == "delete" {
        Role::Owner
    } else {
        Role::Manager
    };
    if role < needed {
        return Ok(session::forbidden());
    }
    let (mut notice, mut new_key, mut name_error_shown, mut confirm_error) =
        (None, None, None, None);
    let mut team_form = None;
    let status = match form.action.as_str() {
        "rename" => {
            let name = form.name.trim();
            name_error_shown = name_error(name);
            if name_error_shown.is_none() {
                state.store.rename_project(project.id, name).await?;
                notice = Some("The project is renamed.");
            }
            name_error_shown.map_or(StatusCode::OK, |_| StatusCode::BAD_REQUEST)
        }
        "create" | "revoke" => {
            let Some((key, label)) = project_key(&form.key) else {
                return Err(AppError::BadRequest("unknown key".to_owned()));
            };
            let plain = match (form.action.as_str(), key) {
                ("revoke", _) => String::new(),
                (_, ProjectKey::ReadWrite) => new_api_key(false),
                (_, ProjectKey::ReadOnly) => new_api_key(true),
                (_, ProjectKey::Ping) => new_ping_key(),
            };
            // API keys are stored hashed; the ping key as is (it is part of ping URLs).
            let stored = match key {
                ProjectKey::ReadWrite | ProjectKey::ReadOnly if !plain.is_empty() => {
                    hash_secret(&plain)
                }
                _ => plain.clone(),
            };
            state
                .store
                .set_project_key(project.id, key, &stored)
                .await?;
            if plain.is_empty() {
                notice = Some("The key is revoked.");
            } else {
                new_key = Some((label, plain));
            }
            StatusCode::OK
        }
        "delete" => {
            if form.confirm.trim() == project.name {
                state.store.delete_project(project.id).await?;
                return Ok(Redirect::to("/").into_response());
            }
            confirm_error = Some("Type the project's name exactly.");
            StatusCode::BAD_REQUEST
        }
        action if team::is_team_action(action) => {
            let request = TeamRequest {
                action,
                email: &form.member_email,
                role: &form.role,
                member: form.member,
                invitation: form.invitation,
            };
            let (status, shown) = team::change(&state, &session, &project, &request).await?;
            team_form = Some(shown);
            status
        }
        _ => return Err(AppError::BadRequest("unknown action".to_owned())),
    };
    // The page shows the project as it is now.
    let (project, role) = membership(&state, &session, &code).await?;
    let mut page = SettingsPage::new(&state, session, &project, role).await?;
    page.notice = notice;
    page.new_key = new_key;
    page.name_error = name_error_shown;
    page.confirm_error = confirm_error;
    if let Some(shown) = team_form {
        page.team.form = shown;
    }
    if page.name_error.is_some() {
        form.name.trim().clone_into(&mut page.name);
    }
    Ok((status, page).into_response())
}

fn project_key(which: &str) -> Option<(ProjectKey, &'static str)> {
    match which {
        "rw" => Some((ProjectKey::ReadWrite, "read-write API key")),
        "ro" => Some((ProjectKey::ReadOnly, "read-only API key")),
        "ping" => Some((ProjectKey::Ping, "ping key")),
        _ => None,
    }
}
