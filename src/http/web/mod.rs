//! The dashboard: server-rendered pages (askama templates in `templates/`) with plain CSS
//! and JavaScript from `static/`, compiled into the binary.

mod accounts;
mod badges_page;
mod charts;
mod check_page;
mod checks;
mod downtime;
mod integrations;
mod invitation;
mod projects;
mod session;
mod team;
mod team_mail;

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::{AppState, Limits};

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
        )
        // Team invitations: answering one may sign up or log in, so it is limited alike.
        .route(
            "/accounts/invite/{token}/",
            get(invitation::show).post(invitation::answer),
        );
    limits
        .login(attempts)
        .route("/", get(projects::list))
        .route("/projects/new/", post(projects::create))
        .route("/projects/{code}/checks/", get(checks::list))
        .route("/projects/{code}/checks/status/", get(checks::status))
        .route("/projects/{code}/checks/preview/", get(checks::preview))
        .route("/projects/{code}/checks/add/", post(checks::add))
        .route(
            "/checks/{code}/",
            get(check_page::show).post(check_page::change),
        )
        .route("/projects/{code}/badges/", get(badges_page::show))
        .route(
            "/projects/{code}/integrations/",
            get(integrations::show).post(integrations::change),
        )
        .route(
            "/projects/{code}/integrations/{channel}/edit/",
            get(integrations::edit_form).post(integrations::save_edit),
        )
        .route(
            "/projects/{code}/integrations/{channel}/checks/",
            get(integrations::show_assigned).post(integrations::assign_checks),
        )
        .route(
            "/projects/{code}/settings/",
            get(projects::settings).post(projects::change_settings),
        )
        .route("/accounts/logout/", post(accounts::logout))
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
        "checks.js" => (
            include_str!("../../../static/checks.js"),
            "text/javascript; charset=utf-8",
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
