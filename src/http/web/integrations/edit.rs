//! Editing one channel: its name and whether it is disabled; a webhook's down and up
//! requests (method, URL, body, headers); an email channel's address and the directions it
//! hears about. The change goes through the API's own validation ([`ChannelUpdate`]), so a
//! changed address is verified again just as through the API. The webhook's signing secret
//! is never shown again.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::projects::membership;
use super::super::session::{self, User};
use super::field_errors::FieldErrors;
use super::{channel_of_project, target, title};
use crate::alerts::email::EmailConfig;
use crate::alerts::webhook::{WebhookConfig, WebhookSpec};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::channels::ChannelUpdate;
use crate::store::{ChannelRecord, ProjectRecord, Role, SessionRecord};

/// The edit form's fields, as sent and as shown.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditForm {
    csrf: String,
    name: String,
    /// A checkbox: present ("on") when ticked.
    disabled: String,
    method_down: String,
    url_down: String,
    body_down: String,
    /// `Name: value` lines.
    headers_down: String,
    method_up: String,
    url_up: String,
    body_up: String,
    headers_up: String,
    address: String,
    down: String,
    up: String,
}

impl EditForm {
    /// The form filled with what is stored.
    fn of(channel: &ChannelRecord) -> EditForm {
        let mut form = EditForm {
            name: channel.name.clone(),
            disabled: ticked(channel.disabled),
            ..EditForm::default()
        };
        if channel.kind == "webhook" {
            let config: WebhookConfig = serde_json::from_str(&channel.value).unwrap_or_default();
            (
                form.method_down,
                form.url_down,
                form.body_down,
                form.headers_down,
            ) = spec_fields(&config.down);
            (form.method_up, form.url_up, form.body_up, form.headers_up) = spec_fields(&config.up);
        } else if let Ok(config) = EmailConfig::from_stored(&channel.value) {
            form.address = config.value;
            form.down = ticked(config.down);
            form.up = ticked(config.up);
        }
        form
    }

    /// One direction's fields, for the template.
    fn direction(&self, key: &'static str) -> Direction<'_> {
        let (legend, method, url, body, headers) = if key == "down" {
            let legend = "When a check goes down";
            (
                legend,
                &self.method_down,
                &self.url_down,
                &self.body_down,
                &self.headers_down,
            )
        } else {
            let legend = "When a check comes back up";
            (
                legend,
                &self.method_up,
                &self.url_up,
                &self.body_up,
                &self.headers_up,
            )
        };
        Direction {
            key,
            legend,
            method,
            url,
            body,
            headers,
        }
    }

    /// The form as an API update request: `{"name", "disabled", "<kind>": {…}}`. Header
    /// lines that cannot be read are reported in `errors` (and sent as no headers).
    fn request(&self, kind: &str, errors: &mut FieldErrors) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("name".into(), json!(self.name.trim()));
        body.insert("disabled".into(), json!(!self.disabled.is_empty()));
        let settings = if kind == "webhook" {
            let mut spec = Map::new();
            for key in ["down", "up"] {
                let d = self.direction(key);
                let headers = header_lines(d.headers).unwrap_or_else(|message| {
                    errors.add(&format!("headers_{key}"), message);
                    Map::new()
                });
                spec.insert(format!("method_{key}"), json!(d.method));
                spec.insert(format!("url_{key}"), json!(d.url.trim()));
                spec.insert(format!("body_{key}"), json!(d.body));
                spec.insert(format!("headers_{key}"), Value::Object(headers));
            }
            Value::Object(spec)
        } else {
            json!({
                "value": self.address.trim(),
                "down": !self.down.is_empty(),
                "up": !self.up.is_empty(),
            })
        };
        body.insert(kind.to_owned(), settings);
        body
    }
}

fn ticked(on: bool) -> String {
    if on { "on".to_owned() } else { String::new() }
}

/// A webhook direction as form fields: method, URL, body, header lines.
fn spec_fields(spec: &WebhookSpec) -> (String, String, String, String) {
    let method = serde_json::to_value(spec.method)
        .ok()
        .and_then(|m| m.as_str().map(str::to_owned))
        .unwrap_or_default();
    let headers = spec
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect::<Vec<_>>()
        .join("\n");
    (method, spec.url.clone(), spec.body.clone(), headers)
}

/// Reads `Name: value` lines into a header object, as healthchecks.io's form does; blank
/// lines are skipped. Whether names and values are acceptable is the API's to say.
fn header_lines(text: &str) -> Result<Map<String, Value>, String> {
    let mut headers = Map::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err("Use \"Header-Name: value\" pairs, one per line.".to_owned());
        };
        headers.insert(name.trim().to_owned(), json!(value.trim()));
    }
    Ok(headers)
}

/// One webhook direction's fields.
struct Direction<'a> {
    /// `down` or `up`: the suffix of its field names.
    key: &'static str,
    legend: &'static str,
    method: &'a str,
    url: &'a str,
    body: &'a str,
    headers: &'a str,
}

#[derive(Template, WebTemplate)]
#[template(path = "integration_edit.html")]
struct EditPage {
    email: String,
    csrf: String,
    project_code: String,
    project_name: String,
    can_write: bool,
    channel_code: String,
    kind: String,
    title: String,
    /// The address, or the URLs called.
    target: String,
    /// For email: whether the address is verified.
    verified: bool,
    form: EditForm,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl EditPage {
    fn new(
        session: SessionRecord,
        project: &ProjectRecord,
        role: Role,
        channel: &ChannelRecord,
    ) -> EditPage {
        EditPage {
            email: session.user.email,
            csrf: session.csrf_token,
            project_code: project.code.to_string(),
            project_name: project.name.clone(),
            can_write: role.can_write(),
            channel_code: channel.code.to_string(),
            kind: channel.kind.clone(),
            title: title(channel),
            target: target(channel),
            verified: channel.email_verified,
            form: EditForm::of(channel),
            errors: FieldErrors::default(),
            notice: None,
        }
    }

    fn directions(&self) -> [Direction<'_>; 2] {
        [self.form.direction("down"), self.form.direction("up")]
    }
}

/// `GET /projects/<uuid>/integrations/<channel uuid>/edit/`.
pub async fn edit_form(
    State(state): State<AppState>,
    User(session): User,
    Path((code, channel)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    let channel = channel_of_project(&state, &project, &channel).await?;
    Ok(EditPage::new(session, &project, role, &channel).into_response())
}

/// `POST /projects/<uuid>/integrations/<channel uuid>/edit/`: saves the form, or shows each
/// message by its field and changes nothing.
pub async fn save_edit(
    State(state): State<AppState>,
    User(session): User,
    Path((code, channel)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    let (project, role) = membership(&state, &session, &code).await?;
    let channel = channel_of_project(&state, &project, &channel).await?;
    if !session::session_form_ok(&state, &headers, &session, &form.csrf) || !role.can_write() {
        return Ok(session::forbidden());
    }
    let mut errors = FieldErrors::default();
    let request = form.request(&channel.kind, &mut errors);
    // Validated even when a header line was unreadable, so every other message shows too.
    let update = match ChannelUpdate::parse(channel.clone(), &request) {
        Ok(update) => Some(update),
        Err(AppError::BadRequest(message)) => {
            let methods = [
                ("method_down", form.method_down.as_str()),
                ("method_up", form.method_up.as_str()),
            ];
            errors.place(&message, methods);
            None
        }
        Err(other) => return Err(other),
    };
    let Some(update) = update.filter(|_| errors.is_empty()) else {
        let mut page = EditPage::new(session, &project, role, &channel);
        page.form = form;
        page.errors = errors;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    };
    let notice = if update.reverifies() {
        "Saved. A verification link is on its way to the new address: it hears of no check until the link is opened."
    } else {
        "Saved."
    };
    let channel = update.save(&state).await?;
    let mut page = EditPage::new(session, &project, role, &channel);
    page.notice = Some(notice);
    Ok(page.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_are_read_as_names_and_values() {
        let headers =
            header_lines("X-A: 1\r\n\r\n  Authorization:  Bearer a:b \nX-A: 2").expect("valid");
        assert_eq!(
            Value::Object(headers),
            json!({"X-A": "2", "Authorization": "Bearer a:b"})
        );
        assert!(header_lines("").expect("empty").is_empty());
        assert!(header_lines("no colon here").is_err());
    }
}
