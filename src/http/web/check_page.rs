//! One check's page: how to ping it, its details to edit, pause, resume and delete, and its
//! event log (pings, status changes, notifications with every delivery attempt).

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::session::{self, User};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::spec::Spec;
use crate::store::{CheckRecord, ProjectRecord, Role, SessionRecord};

/// How many events the log shows.
const LOG_EVENTS: usize = 100;

/// One line of the event log.
struct Event {
    at: DateTime<Utc>,
    /// `ping`, `flip` or `notification`.
    kind: &'static str,
    /// `success`, `start`, `fail`, `log`, `ign`; `up`, `down`, …; a delivery state.
    label: String,
    text: String,
    /// Delivery attempts of a notification, one line each.
    details: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "check.html")]
struct CheckPage {
    email: String,
    csrf: String,
    project_code: String,
    project_name: String,
    can_write: bool,
    name: String,
    slug: String,
    tags: String,
    desc: String,
    status: &'static str,
    paused: bool,
    schedule: String,
    ping_url: String,
    slug_url: Option<String>,
    events: Vec<Event>,
    notice: Option<&'static str>,
    errors: EditErrors,
}

#[derive(Debug, Default)]
struct EditErrors {
    name: Option<String>,
    slug: Option<String>,
    tags: Option<String>,
    desc: Option<String>,
}

/// The check at `code` and its project, if the user is a member of that project.
async fn check_of_member(
    state: &AppState,
    session: &SessionRecord,
    code: &str,
) -> Result<(CheckRecord, ProjectRecord, Role), AppError> {
    let code = uuid::Uuid::parse_str(code).map_err(|_| AppError::NotFound)?;
    let check = state
        .store
        .check_by_code(code)
        .await?
        .ok_or(AppError::NotFound)?;
    let (project, role) = state
        .store
        .projects_of_user(session.user.id)
        .await?
        .into_iter()
        .find(|(p, _)| p.id == check.project_id)
        .ok_or(AppError::NotFound)?;
    Ok((check, project, role))
}

async fn events(state: &AppState, check: &CheckRecord) -> Result<Vec<Event>, AppError> {
    let limit = i64::try_from(LOG_EVENTS).unwrap_or(100);
    let mut events: Vec<Event> = state
        .store
        .pings(check.id, limit)
        .await?
        .into_iter()
        .map(|p| {
            let body = p
                .body
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let excerpt: String = body.chars().take(200).collect();
            Event {
                at: p.created,
                kind: "ping",
                label: p.kind.clone().unwrap_or_else(|| "success".to_owned()),
                text: format!(
                    "#{} {} {} from {}{}",
                    p.n,
                    p.scheme.to_uppercase(),
                    p.method,
                    p.remote_addr.as_deref().unwrap_or("?"),
                    if p.ua.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", p.ua)
                    },
                ),
                details: if excerpt.is_empty() {
                    Vec::new()
                } else {
                    vec![excerpt]
                },
            }
        })
        .collect();
    for flip in state
        .store
        .flips(check.id)
        .await?
        .into_iter()
        .take(LOG_EVENTS)
    {
        events.push(Event {
            at: flip.created,
            kind: "flip",
            label: flip.new_status.as_str().to_owned(),
            text: format!(
                "Status changed from {} to {}{}",
                flip.old_status.as_str(),
                flip.new_status.as_str(),
                if flip.reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", flip.reason)
                },
            ),
            details: Vec::new(),
        });
    }
    // The notifications' channels and attempts, each read with one query.
    let notifications = state.store.notifications_for_check(check.id, limit).await?;
    let mut channel_ids: Vec<i64> = notifications.iter().map(|n| n.channel_id).collect();
    channel_ids.sort_unstable();
    channel_ids.dedup();
    let channels: HashMap<i64, String> = state
        .store
        .channels_by_ids(&channel_ids)
        .await?
        .into_iter()
        .map(|c| {
            let target = if c.name.is_empty() {
                c.kind
            } else {
                format!("{} ({})", c.name, c.kind)
            };
            (c.id, target)
        })
        .collect();
    let ids: Vec<i64> = notifications.iter().map(|n| n.id).collect();
    let mut attempts: HashMap<i64, Vec<String>> = HashMap::new();
    for a in state.store.attempts_of(&ids).await? {
        let result = match (a.status_code, a.error.is_empty()) {
            (_, false) => a.error.clone(),
            (Some(code), true) => format!("HTTP {code}"),
            (None, true) => "ok".to_owned(),
        };
        attempts.entry(a.outbox_id).or_default().push(format!(
            "Attempt {}: {} — {} ({} ms)",
            a.n, a.outcome, result, a.latency_ms
        ));
    }
    for n in notifications {
        let target = channels
            .get(&n.channel_id)
            .map_or("a removed integration", String::as_str);
        let details = attempts.remove(&n.id).unwrap_or_default();
        events.push(Event {
            at: n.created,
            kind: "notification",
            label: n.state.clone(),
            text: format!("Notified {target} that the check is {}", n.direction),
            details,
        });
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.at));
    events.truncate(LOG_EVENTS);
    Ok(events)
}

async fn page(
    state: &AppState,
    session: SessionRecord,
    check: &CheckRecord,
    project: &ProjectRecord,
    role: Role,
) -> Result<CheckPage, AppError> {
    let now = state.clock.now();
    let slug_url = match (&project.ping_key, check.slug.is_empty()) {
        (Some(key), false) => Some(format!("{}/ping/{key}/{}", state.site_root, check.slug)),
        _ => None,
    };
    let status = check.state.display_status(now, true).as_str();
    Ok(CheckPage {
        email: session.user.email,
        csrf: session.csrf_token,
        project_code: project.code.to_string(),
        project_name: project.name.clone(),
        can_write: role.can_write(),
        name: check.name.clone(),
        slug: check.slug.clone(),
        tags: check.tags.clone(),
        desc: check.desc.clone(),
        status,
        paused: status == "paused",
        schedule: super::checks::schedule_text(check),
        ping_url: format!("{}/ping/{}", state.site_root, check.code),
        slug_url,
        events: events(state, check).await?,
        notice: None,
        errors: EditErrors::default(),
    })
}

/// `GET /checks/<uuid>/`.
pub async fn show(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let (check, project, role) = check_of_member(&state, &session, &code).await?;
    Ok(page(&state, session, &check, &project, role)
        .await?
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CheckForm {
    csrf: String,
    action: String,
    name: String,
    slug: String,
    tags: String,
    desc: String,
}

/// `POST /checks/<uuid>/`: edit (name, slug, tags, description), pause, resume or delete.
pub async fn change(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CheckForm>,
) -> Result<Response, AppError> {
    let (check, project, role) = check_of_member(&state, &session, &code).await?;
    if !session::session_form_ok(&state, &headers, &session, &form.csrf) || !role.can_write() {
        return Ok(session::forbidden());
    }
    let now = state.clock.now();
    let (mut notice, mut errors) = (None, EditErrors::default());
    let status = match form.action.as_str() {
        "edit" => {
            let mut body = Map::new();
            body.insert("name".into(), json!(form.name.trim()));
            body.insert("slug".into(), json!(form.slug.trim()));
            body.insert("tags".into(), json!(form.tags.trim()));
            body.insert("desc".into(), Value::String(form.desc.clone()));
            let min = i64::try_from(state.config.min_timeout).unwrap_or(i64::MAX);
            match Spec::parse(&body, min) {
                Ok(spec) => {
                    state
                        .store
                        .modify_check(check.id, |c| spec.apply(c, 3))
                        .await?;
                    notice = Some("Saved.");
                    StatusCode::OK
                }
                Err(message) => {
                    let message = message.trim_start_matches("json validation error: ");
                    let text = match message {
                        "slug does not match pattern" => {
                            "Use lowercase letters, digits, - and _ only.".to_owned()
                        }
                        m if m.ends_with("is too long") => "This is too long.".to_owned(),
                        m => m.to_owned(),
                    };
                    match message.split(' ').next() {
                        Some("slug") => errors.slug = Some(text),
                        Some("tags") => errors.tags = Some(text),
                        Some("desc") => errors.desc = Some(text),
                        _ => errors.name = Some(text),
                    }
                    StatusCode::BAD_REQUEST
                }
            }
        }
        "pause" | "resume" => {
            let resume = form.action == "resume";
            let changed = state.store.set_paused(check.id, !resume, now).await?;
            notice = Some(
                match (resume, changed.is_some_and(|(_, flipped)| flipped)) {
                    (false, _) => "Paused: no alerts until the next ping.",
                    (true, true) => "Resumed: the next ping starts it again.",
                    (true, false) => "The check is not paused.",
                },
            );
            StatusCode::OK
        }
        "delete" => {
            state.store.delete_check(check.id).await?;
            return Ok(Redirect::to(&format!("/projects/{}/checks/", project.code)).into_response());
        }
        _ => return Err(AppError::BadRequest("unknown action".to_owned())),
    };
    let check = state
        .store
        .check_by_code(check.code)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut page = page(&state, session, &check, &project, role).await?;
    page.notice = notice;
    if errors.name.is_some()
        || errors.slug.is_some()
        || errors.tags.is_some()
        || errors.desc.is_some()
    {
        page.name = form.name;
        page.slug = form.slug;
        page.tags = form.tags;
        page.desc = form.desc;
    }
    page.errors = errors;
    Ok((status, page).into_response())
}
