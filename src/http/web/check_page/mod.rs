//! One check's page: how to ping it; its details, schedule, filtering rules and integrations
//! to change; pause, resume and delete; charts of its runs and pings, its downtime per month,
//! and its event log (pings, status changes, notifications with every delivery attempt).

mod channels;
mod events;
mod history;
mod how_to_ping;
mod rules;
mod schedule;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use self::channels::Toggle;
use self::events::{Event, LOG_EVENTS};
use self::history::History;
use self::how_to_ping::PingEmail;
use self::rules::{Rules, RulesErrors};
use self::schedule::{ScheduleCard, ScheduleInput};
use super::session::{self, User};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::spec::Spec;
use crate::store::{CheckRecord, ProjectRecord, Role, SessionRecord};

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
    /// The addresses to mail, when this instance takes email pings.
    ping_email: Option<PingEmail>,
    events: Vec<Event>,
    notice: Option<String>,
    errors: EditErrors,
    schedule_card: ScheduleCard,
    rules: Rules,
    rules_errors: RulesErrors,
    /// Whether the rules form starts open (it was sent with a mistake).
    rules_open: bool,
    channels: Vec<Toggle>,
    history: History,
}

impl CheckPage {
    /// The keyword fields of the rules form: name, label, value and message.
    fn keyword_fields(&self) -> [(&'static str, &'static str, &str, Option<&str>); 3] {
        let (r, e) = (&self.rules, &self.rules_errors);
        [
            (
                "start_kw",
                "Start keywords",
                &r.start_kw,
                e.start_kw.as_deref(),
            ),
            (
                "success_kw",
                "Success keywords",
                &r.success_kw,
                e.success_kw.as_deref(),
            ),
            (
                "failure_kw",
                "Failure keywords",
                &r.failure_kw,
                e.failure_kw.as_deref(),
            ),
        ]
    }
}

#[derive(Debug, Default)]
struct EditErrors {
    name: Option<String>,
    slug: Option<String>,
    tags: Option<String>,
    desc: Option<String>,
}

impl EditErrors {
    fn any(&self) -> bool {
        self.name.is_some() || self.slug.is_some() || self.tags.is_some() || self.desc.is_some()
    }
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
    // One read of the pings and flips serves the log, the charts and the downtime summary;
    // a few pings beyond the log's limit let the oldest runs find their starts.
    let kept = usize::try_from(state.config.ping_log_limit.clamp(0, 1000)).unwrap_or(0);
    let limit = i64::try_from(kept.max(LOG_EVENTS) + 50).unwrap_or(i64::MAX);
    let pings = state.store.pings(check.id, limit).await?;
    let flips = state.store.flips(check.id).await?;
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
        ping_email: PingEmail::of(&state.config, check, project),
        events: events::events(state, check, &pings, &flips).await?,
        notice: None,
        errors: EditErrors::default(),
        schedule_card: ScheduleCard::of(check, now),
        rules: Rules::of(check),
        rules_errors: RulesErrors::default(),
        rules_open: false,
        channels: channels::toggles(state, check).await?,
        history: history::history(check, &pings, &flips, now),
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

/// Every form of the page: `action` says which one was sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CheckForm {
    csrf: String,
    action: String,
    // Details.
    name: String,
    slug: String,
    tags: String,
    desc: String,
    // Schedule, as the add dialog sends it.
    kind: String,
    timeout: String,
    timeout_unit: String,
    grace: String,
    grace_unit: String,
    schedule: String,
    tz: String,
    // Filtering rules; a checkbox is sent only when ticked.
    methods: String,
    filter_http_body: Option<String>,
    filter_subject: Option<String>,
    filter_body: Option<String>,
    start_kw: String,
    success_kw: String,
    failure_kw: String,
    /// `fail` or `ignore`.
    filter_default_fail: String,
    manual_resume: Option<String>,
    // An integration toggle: its UUID, and `on` or `off`.
    channel: String,
    enabled: String,
}

/// Saves name, slug, tags and description, validated as the API validates them.
async fn edit_details(
    state: &AppState,
    check: &CheckRecord,
    form: &CheckForm,
) -> Result<EditErrors, AppError> {
    let mut errors = EditErrors::default();
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
        }
    }
    Ok(errors)
}

/// `POST /checks/<uuid>/`: edit the details, schedule, filtering rules or integrations; pause,
/// resume or delete.
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
    let mut notice = None;
    let mut edit_errors = EditErrors::default();
    let mut schedule_errors = None;
    let mut rules_errors = None;
    match form.action.as_str() {
        "edit" => {
            edit_errors = edit_details(&state, &check, &form).await?;
            if !edit_errors.any() {
                notice = Some("Saved.".to_owned());
            }
        }
        "schedule" => {
            let input = ScheduleInput::from_form(&form);
            match schedule::save(&state, &check, &input).await? {
                Ok(()) => notice = Some("Schedule saved.".to_owned()),
                Err(errors) => schedule_errors = Some((input, errors)),
            }
        }
        "rules" => {
            let rules = Rules::from_form(&form);
            match rules::save(&state, &check, &rules).await? {
                Ok(()) => notice = Some("Filtering rules saved.".to_owned()),
                Err(errors) => rules_errors = Some((rules, errors)),
            }
        }
        "channel" => {
            let on = match form.enabled.as_str() {
                "on" => true,
                "off" => false,
                _ => return Err(AppError::BadRequest("unknown toggle".to_owned())),
            };
            let name = channels::set(&state, &check, &form.channel, on)
                .await?
                .ok_or(AppError::NotFound)?;
            let state_word = if on { "on" } else { "off" };
            notice = Some(format!("Notifications to {name} turned {state_word}."));
        }
        "pause" | "resume" => {
            let resume = form.action == "resume";
            let changed = state.store.set_paused(check.id, !resume, now).await?;
            let text = match (resume, changed.is_some_and(|(_, flipped)| flipped)) {
                (false, _) => "Paused: no alerts until the next ping.",
                (true, true) => "Resumed: the next ping starts it again.",
                (true, false) => "The check is not paused.",
            };
            notice = Some(text.to_owned());
        }
        "delete" => {
            state.store.delete_check(check.id).await?;
            return Ok(Redirect::to(&format!("/projects/{}/checks/", project.code)).into_response());
        }
        _ => return Err(AppError::BadRequest("unknown action".to_owned())),
    }
    let check = state
        .store
        .check_by_code(check.code)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut page = page(&state, session, &check, &project, role).await?;
    page.notice = notice;
    let mut status = StatusCode::OK;
    // A form sent with mistakes is shown again as typed, with each message by its field.
    if edit_errors.any() {
        page.name = form.name;
        page.slug = form.slug;
        page.tags = form.tags;
        page.desc = form.desc;
        status = StatusCode::BAD_REQUEST;
    }
    page.errors = edit_errors;
    if let Some((input, errors)) = schedule_errors {
        page.schedule_card.form = input;
        page.schedule_card.errors = errors;
        page.schedule_card.open = true;
        status = StatusCode::BAD_REQUEST;
    }
    if let Some((rules, errors)) = rules_errors {
        page.rules = rules;
        page.rules_errors = errors;
        page.rules_open = true;
        status = StatusCode::BAD_REQUEST;
    }
    Ok((status, page).into_response())
}
