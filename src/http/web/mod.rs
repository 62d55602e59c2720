//! The dashboard: server-rendered pages (askama templates in `templates/`) with plain CSS
//! and JavaScript from `static/`, compiled into the binary.

mod accounts;
mod session;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::{AppState, Limits};
use crate::domain::check::DisplayStatus;
use crate::error::AppError;
use session::MaybeUser;

/// The dashboard's routes; login and signup attempts are rate limited.
pub fn routes(limits: &Limits) -> Router<AppState> {
    let attempts = Router::new()
        .route(
            "/accounts/login/",
            get(accounts::login_form).post(accounts::login),
        )
        .route(
            "/accounts/signup/",
            get(accounts::signup_form).post(accounts::signup),
        );
    limits
        .login(attempts)
        .route("/", get(projects))
        .route("/accounts/logout/", axum::routing::post(accounts::logout))
        .route(
            "/accounts/password/",
            get(accounts::password_form).post(accounts::change_password),
        )
        .route("/static/{file}", get(static_file))
}

/// The files of `static/`, compiled in.
async fn static_file(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "style.css" => (
            include_str!("../../../static/style.css"),
            "text/css; charset=utf-8",
        ),
        _ => return crate::error::not_found(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// One project in the list.
struct ProjectItem {
    name: String,
    /// `up`, `grace`, `down`, `paused` or `new`: the worst of its checks.
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
}

/// `GET /`: the user's projects, each with the worst status of its checks; the login page
/// for visitors.
async fn projects(
    State(state): State<AppState>,
    MaybeUser(session): MaybeUser,
) -> Result<Response, AppError> {
    let Some(session) = session else {
        return Ok(Redirect::to("/accounts/login/").into_response());
    };
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
            name: project.name,
            status,
            status_text,
            checks: checks.len(),
            role: role.as_str(),
        });
    }
    let page = ProjectsPage {
        email: session.user.email,
        csrf: session.csrf_token,
        projects,
    };
    Ok((StatusCode::OK, page).into_response())
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
