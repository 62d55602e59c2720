//! A project's badges page: for each tag (and all checks), the badge's URL in the format and
//! with the states chosen, and how it looks.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::projects::membership;
use super::session::User;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::badges::badge_urls;
use crate::store::CheckRecord;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Choice {
    /// `svg` (default), `json` or `shields`.
    format: String,
    /// `2` (up, down) or `3` (up, late, down; default).
    states: String,
}

struct BadgeRow {
    /// The tag, or `*` for every check.
    tag: String,
    url: String,
    /// The SVG badge of the same states, to show.
    preview: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "badges.html")]
struct BadgesPage {
    email: String,
    csrf: String,
    project_code: String,
    project_name: String,
    format: &'static str,
    states: &'static str,
    rows: Vec<BadgeRow>,
}

/// `GET /projects/<uuid>/badges/`.
pub async fn show(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
    Query(choice): Query<Choice>,
) -> Result<Response, AppError> {
    let (project, _) = membership(&state, &session, &code).await?;
    let format = match choice.format.as_str() {
        "json" => "json",
        "shields" => "shields",
        _ => "svg",
    };
    let states = if choice.states == "2" { "2" } else { "3" };
    let suffix = if states == "3" { "3" } else { "" };
    let checks = state.store.checks_in_project(project.id).await?;
    let mut tags = CheckRecord::all_tags(&checks);
    tags.push("*".to_owned());
    let rows = tags
        .into_iter()
        .map(|tag| {
            let urls = badge_urls(&state.site_root, &project.badge_key, &state.secret, &tag);
            let pick = |key: String| urls[key].as_str().unwrap_or_default().to_owned();
            BadgeRow {
                url: pick(format!("{format}{suffix}")),
                preview: pick(format!("svg{suffix}")),
                tag,
            }
        })
        .collect();
    let page = BadgesPage {
        email: session.user.email,
        csrf: session.csrf_token,
        project_code: project.code.to_string(),
        project_name: project.name,
        format,
        states,
        rows,
    };
    Ok(page.into_response())
}
