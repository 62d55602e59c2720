//! A project's checks: the list (filters, search, sort, live status), the status feed the
//! page refreshes from, adding a check, and the schedule preview of the add dialog.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::projects::membership;
use super::session::{self, User};
use crate::domain::check::CheckKind;
use crate::domain::schedule::{Schedule, parse_timezone};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::spec::Spec;
use crate::store::{CheckRecord, ProjectRecord, Role, SessionRecord};

/// The list's filters and order, from the query string.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Filters {
    /// Substring of the name, slug or UUID, case-insensitive.
    search: String,
    /// One status, or all.
    status: String,
    /// `name`, `-name`, `last_ping`, `-last_ping` or `created` (default).
    sort: String,
}

/// One row of the list.
struct Row {
    code: String,
    name: String,
    slug: String,
    tags: Vec<String>,
    status: &'static str,
    schedule: String,
    last_ping: String,
    last_ping_age: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "checks.html")]
struct ChecksPage {
    email: String,
    csrf: String,
    project_code: String,
    project_name: String,
    can_write: bool,
    rows: Vec<Row>,
    total: usize,
    all_tags: Vec<String>,
    selected_tags: Vec<String>,
    search: String,
    status: String,
    sort: String,
    add: AddForm,
    add_errors: AddErrors,
    show_add: bool,
}

/// The add-check form as sent (or its defaults).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AddForm {
    csrf: String,
    name: String,
    /// `simple`, `cron` or `oncalendar`.
    kind: String,
    /// Period and grace time: a number and a unit in seconds.
    timeout: String,
    timeout_unit: String,
    grace: String,
    grace_unit: String,
    schedule: String,
    tz: String,
    tags: String,
}

impl Default for AddForm {
    fn default() -> Self {
        AddForm {
            csrf: String::new(),
            name: String::new(),
            kind: "simple".to_owned(),
            timeout: "1".to_owned(),
            timeout_unit: "86400".to_owned(),
            grace: "1".to_owned(),
            grace_unit: "3600".to_owned(),
            schedule: "0 * * * *".to_owned(),
            tz: "UTC".to_owned(),
            tags: String::new(),
        }
    }
}

/// Messages to show next to the add form's fields.
#[derive(Debug, Default)]
struct AddErrors {
    name: Option<String>,
    timeout: Option<String>,
    grace: Option<String>,
    schedule: Option<String>,
    tz: Option<String>,
    tags: Option<String>,
}

impl AddErrors {
    fn any(&self) -> bool {
        self.name.is_some()
            || self.timeout.is_some()
            || self.grace.is_some()
            || self.schedule.is_some()
            || self.tz.is_some()
            || self.tags.is_some()
    }

    /// The message slot of a field; unknown fields' messages go under the tags.
    fn slot(&mut self, field: &str) -> &mut Option<String> {
        match field {
            "name" => &mut self.name,
            "timeout" => &mut self.timeout,
            "grace" => &mut self.grace,
            "schedule" => &mut self.schedule,
            "tz" => &mut self.tz,
            _ => &mut self.tags,
        }
    }
}

/// "3 minutes ago", for the last ping column.
pub fn age(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    let (n, unit) = match secs {
        0..60 => return "just now".to_owned(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// "1 day", "90 minutes": a period in the largest whole unit.
pub(super) fn period(d: Duration) -> String {
    let secs = d.num_seconds();
    let (n, unit) = if secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub(super) fn schedule_text(check: &CheckRecord) -> String {
    let s = &check.state;
    match s.kind {
        CheckKind::Simple => format!("every {}, grace {}", period(s.timeout), period(s.grace)),
        CheckKind::Cron | CheckKind::OnCalendar => {
            format!("{} ({}), grace {}", s.schedule, s.tz, period(s.grace))
        }
    }
}

/// The checks the filters let through, in the order asked for.
fn filtered<'a>(
    checks: &'a [CheckRecord],
    filters: &Filters,
    tags: &[String],
    now: DateTime<Utc>,
) -> Vec<&'a CheckRecord> {
    let search = filters.search.trim().to_lowercase();
    let mut list: Vec<&CheckRecord> = checks
        .iter()
        .filter(|c| tags.iter().all(|t| c.tags_list().any(|ct| ct == t)))
        .filter(|c| {
            search.is_empty()
                || c.name.to_lowercase().contains(&search)
                || c.slug.contains(&search)
                || c.code.to_string().contains(&search)
        })
        .filter(|c| {
            filters.status.is_empty()
                || c.state.display_status(now, true).as_str() == filters.status
        })
        .collect();
    match filters.sort.as_str() {
        "name" => list.sort_by_cached_key(|c| c.name.to_lowercase()),
        "-name" => list.sort_by_cached_key(|c| std::cmp::Reverse(c.name.to_lowercase())),
        "last_ping" => list.sort_by_key(|c| c.state.last_ping),
        "-last_ping" => list.sort_by_key(|c| std::cmp::Reverse(c.state.last_ping)),
        _ => list.sort_by_key(|c| (c.created, c.id)),
    }
    list
}

/// The repeated `tag` parameters of the query.
fn tags_of(query: Option<&str>) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "tag")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

async fn page(
    state: &AppState,
    session: SessionRecord,
    project: &ProjectRecord,
    role: Role,
    filters: &Filters,
    tags: Vec<String>,
) -> Result<ChecksPage, AppError> {
    let now = state.clock.now();
    let checks = state.store.checks_in_project(project.id).await?;
    let all_tags = CheckRecord::all_tags(&checks);
    let rows = filtered(&checks, filters, &tags, now)
        .into_iter()
        .map(|c| Row {
            code: c.code.to_string(),
            name: c.name.clone(),
            slug: c.slug.clone(),
            tags: c.tags_list().map(str::to_owned).collect(),
            status: c.state.display_status(now, true).as_str(),
            schedule: schedule_text(c),
            last_ping: c
                .state
                .last_ping
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            last_ping_age: c
                .state
                .last_ping
                .map_or_else(|| "never".to_owned(), |t| age(t, now)),
        })
        .collect();
    Ok(ChecksPage {
        email: session.user.email,
        csrf: session.csrf_token,
        project_code: project.code.to_string(),
        project_name: project.name.clone(),
        can_write: role.can_write(),
        rows,
        total: checks.len(),
        all_tags,
        selected_tags: tags,
        search: filters.search.clone(),
        status: filters.status.clone(),
        sort: filters.sort.clone(),
        add: AddForm::default(),
        add_errors: AddErrors::default(),
        show_add: false,
    })
}

/// `GET /projects/<uuid>/checks/`.
pub async fn list(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
    Query(filters): Query<Filters>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    let tags = tags_of(query.as_deref());
    let page = page(&state, session, &project, role, &filters, tags).await?;
    Ok(page.into_response())
}

/// `GET /projects/<uuid>/checks/status/`: what the list page refreshes itself from.
pub async fn status(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let (project, _) = membership(&state, &session, &code).await?;
    let now = state.clock.now();
    let details: Vec<Value> = state
        .store
        .checks_in_project(project.id)
        .await?
        .iter()
        .map(|c| {
            json!({
                "code": c.code,
                "status": c.state.display_status(now, true).as_str(),
                "last_ping": c.state.last_ping.map(|t| t.to_rfc3339()),
                "last_ping_age": c.state.last_ping.map_or_else(|| "never".to_owned(), |t| age(t, now)),
            })
        })
        .collect();
    Ok(Json(json!({ "details": details })).into_response())
}

/// The schedule fields of a form as typed: the add dialog's, and the check page's.
pub(super) struct ScheduleFields<'a> {
    /// `simple`, `cron` or `oncalendar`.
    pub kind: &'a str,
    /// Period and grace time: a number and a unit in seconds.
    pub timeout: &'a str,
    pub timeout_unit: &'a str,
    pub grace: &'a str,
    pub grace_unit: &'a str,
    pub schedule: &'a str,
    pub tz: &'a str,
}

impl ScheduleFields<'_> {
    /// Adds the API request fields this schedule stands for to `body`; the fields that are
    /// not whole numbers, each with its message.
    pub(super) fn add_to(&self, body: &mut Map<String, Value>) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        let seconds = |number: &str, unit: &str| -> Option<i64> {
            let n: i64 = number.trim().parse().ok()?;
            let unit: i64 = unit
                .parse()
                .ok()
                .filter(|u| [1, 60, 3600, 86_400].contains(u))?;
            n.checked_mul(unit)
        };
        match seconds(self.grace, self.grace_unit) {
            Some(grace) => {
                body.insert("grace".into(), json!(grace));
            }
            None => errors.push(("grace", "Enter a whole number.".to_owned())),
        }
        match self.kind {
            "cron" | "oncalendar" => {
                body.insert("schedule".into(), json!(self.schedule.trim()));
                body.insert("tz".into(), json!(self.tz.trim()));
            }
            _ => match seconds(self.timeout, self.timeout_unit) {
                Some(timeout) => {
                    body.insert("timeout".into(), json!(timeout));
                }
                None => errors.push(("timeout", "Enter a whole number.".to_owned())),
            },
        }
        errors
    }
}

/// The API request an add form stands for; field errors where it cannot be one.
fn spec_of(form: &AddForm, errors: &mut AddErrors) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("name".into(), json!(form.name.trim()));
    body.insert("tags".into(), json!(form.tags.trim()));
    let schedule = ScheduleFields {
        kind: &form.kind,
        timeout: &form.timeout,
        timeout_unit: &form.timeout_unit,
        grace: &form.grace,
        grace_unit: &form.grace_unit,
        schedule: &form.schedule,
        tz: &form.tz,
    };
    for (field, text) in schedule.add_to(&mut body) {
        *errors.slot(field) = Some(text);
    }
    body
}

/// The API's validation message in words for people, and the field it is about.
pub(super) fn field_error(message: &str, min_timeout: i64) -> (&str, String) {
    let message = message.trim_start_matches("json validation error: ");
    let (field, problem) = message.split_once(' ').unwrap_or((message, ""));
    let text = match problem {
        "is too small" => format!("Use at least {}.", period(Duration::seconds(min_timeout))),
        "is too large" => "Use at most 365 days.".to_owned(),
        "is too long" => "This is too long.".to_owned(),
        "is not a valid timezone" => "Choose a time zone from the list.".to_owned(),
        "is not a valid cron or OnCalendar expression" => {
            "This is not a valid schedule.".to_owned()
        }
        "has unexpected value" => "Choose one of the options.".to_owned(),
        _ => message.to_owned(),
    };
    (field, text)
}

/// Puts the API's validation message next to the field it is about, in words for people.
fn place_error(message: &str, min_timeout: i64, errors: &mut AddErrors) {
    let (field, text) = field_error(message, min_timeout);
    *errors.slot(field) = Some(text);
}

/// `POST /projects/<uuid>/checks/add/`: a new check, validated as the API validates.
pub async fn add(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
    headers: HeaderMap,
    Form(form): Form<AddForm>,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    if !session::session_form_ok(&state, &headers, &session, &form.csrf) || !role.can_write() {
        return Ok(session::forbidden());
    }
    let mut errors = AddErrors::default();
    let body = spec_of(&form, &mut errors);
    let min = i64::try_from(state.config.min_timeout).unwrap_or(i64::MAX);
    // Checked one field at a time, so each gets its own message.
    let mut spec = None;
    if !errors.any() {
        match Spec::parse(&body, min) {
            Ok(parsed) => spec = Some(parsed),
            Err(message) => place_error(&message, min, &mut errors),
        }
    }
    if spec.is_some() && state.store.count_checks(project.id).await? >= project.check_limit {
        errors.name = Some("This project has as many checks as it may have.".to_owned());
    }
    let Some(spec) = spec.filter(|_| !errors.any()) else {
        let mut page = page(
            &state,
            session,
            &project,
            role,
            &Filters::default(),
            Vec::new(),
        )
        .await?;
        page.add = form;
        page.add_errors = errors;
        page.show_add = true;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    };
    let now = state.clock.now();
    let mut check = CheckRecord::new(project.id, now);
    spec.apply(&mut check, 3);
    check.alert_after = check.state.going_down_after();
    let created = state.store.create_check(&check).await?;
    // As on healthchecks.io, a check added here notifies every integration of its project
    // (the API leaves that to its `channels` field).
    let channels: Vec<i64> = state
        .store
        .channels_in_project(project.id)
        .await?
        .iter()
        .map(|channel| channel.id)
        .collect();
    state
        .store
        .set_check_channels(created.id, &channels)
        .await?;
    Ok(Redirect::to(&format!("/projects/{code}/checks/")).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PreviewQuery {
    schedule: String,
    tz: String,
}

/// `GET /projects/<uuid>/checks/preview/?schedule=…&tz=…`: the next five times the schedule
/// fires, in its zone, for the add dialog's live preview.
pub async fn preview(
    State(state): State<AppState>,
    User(session): User,
    Path(code): Path<String>,
    Query(query): Query<PreviewQuery>,
) -> Result<Response, AppError> {
    membership(&state, &session, &code).await?;
    let Some(tz) = parse_timezone(query.tz.trim()) else {
        return Ok(Json(json!({ "error": "Choose a time zone from the list." })).into_response());
    };
    let Ok(schedule) = Schedule::parse(query.schedule.trim()) else {
        return Ok(Json(json!({ "error": "This is not a valid schedule." })).into_response());
    };
    let next: Vec<String> = schedule
        .iter_after(state.clock.now(), tz)
        .take(5)
        .map(|t| {
            t.with_timezone(&tz)
                .format("%a %Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .collect();
    Ok(Json(json!({ "next": next })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_periods_read_naturally() {
        let now: DateTime<Utc> = "2024-03-01T10:00:00Z".parse().expect("time");
        assert_eq!(age(now - Duration::seconds(5), now), "just now");
        assert_eq!(age(now - Duration::seconds(60), now), "1 minute ago");
        assert_eq!(age(now - Duration::hours(5), now), "5 hours ago");
        assert_eq!(age(now - Duration::days(2), now), "2 days ago");
        assert_eq!(period(Duration::days(1)), "1 day");
        assert_eq!(period(Duration::minutes(90)), "90 minutes");
        assert_eq!(period(Duration::seconds(3600)), "1 hour");
    }
}
