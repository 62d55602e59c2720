//! The check page's filtering rules (healthchecks.io's "Filtering Rules" dialog): which HTTP
//! methods count, keyword classification of HTTP bodies and email subjects and bodies, and
//! whether a paused check stays paused until resumed. Saved through the API's `Spec`, under
//! the API's field names.

use serde_json::{Map, Value, json};

use super::super::checks::field_error;
use super::CheckForm;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::spec::Spec;
use crate::store::CheckRecord;

/// The rules, as typed or as the check has them.
#[derive(Debug, Clone, Default)]
pub(super) struct Rules {
    /// `""` (HEAD, GET and POST count) or `"POST"` (other methods are ignored).
    pub methods: String,
    pub filter_http_body: bool,
    pub filter_subject: bool,
    pub filter_body: bool,
    pub start_kw: String,
    pub success_kw: String,
    pub failure_kw: String,
    /// When keyword filtering is on and no keyword matches: fail (else ignore).
    pub filter_default_fail: bool,
    pub manual_resume: bool,
}

/// Messages to show next to the rules' fields.
#[derive(Debug, Default)]
pub(super) struct RulesErrors {
    pub methods: Option<String>,
    pub start_kw: Option<String>,
    pub success_kw: Option<String>,
    pub failure_kw: Option<String>,
    /// A problem with no field of its own (a flag).
    pub other: Option<String>,
}

impl Rules {
    pub fn of(check: &CheckRecord) -> Rules {
        let s = &check.state;
        Rules {
            methods: s.methods.clone(),
            filter_http_body: s.filter_http_body,
            filter_subject: check.filter_subject,
            filter_body: check.filter_body,
            start_kw: s.start_kw.clone(),
            success_kw: s.success_kw.clone(),
            failure_kw: s.failure_kw.clone(),
            filter_default_fail: s.filter_default_fail,
            manual_resume: s.manual_resume,
        }
    }

    /// A checkbox counts as ticked when it is sent at all.
    pub fn from_form(form: &CheckForm) -> Rules {
        let ticked = |value: &Option<String>| value.is_some();
        Rules {
            methods: form.methods.trim().to_owned(),
            filter_http_body: ticked(&form.filter_http_body),
            filter_subject: ticked(&form.filter_subject),
            filter_body: ticked(&form.filter_body),
            start_kw: form.start_kw.trim().to_owned(),
            success_kw: form.success_kw.trim().to_owned(),
            failure_kw: form.failure_kw.trim().to_owned(),
            filter_default_fail: form.filter_default_fail == "fail",
            manual_resume: ticked(&form.manual_resume),
        }
    }

    /// The API request these rules stand for.
    fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("methods".into(), json!(self.methods));
        body.insert("filter_http_body".into(), json!(self.filter_http_body));
        body.insert("filter_subject".into(), json!(self.filter_subject));
        body.insert("filter_body".into(), json!(self.filter_body));
        body.insert("start_kw".into(), json!(self.start_kw));
        body.insert("success_kw".into(), json!(self.success_kw));
        body.insert("failure_kw".into(), json!(self.failure_kw));
        body.insert(
            "filter_default_fail".into(),
            json!(self.filter_default_fail),
        );
        body.insert("manual_resume".into(), json!(self.manual_resume));
        body
    }

    /// Whether any keyword classification is on.
    pub fn filtering(&self) -> bool {
        self.filter_http_body || self.filter_subject || self.filter_body
    }
}

/// Saves the rules; the message of the first invalid field (the API reports one at a time).
pub(super) async fn save(
    state: &AppState,
    check: &CheckRecord,
    rules: &Rules,
) -> Result<Result<(), RulesErrors>, AppError> {
    let min = i64::try_from(state.config.min_timeout).unwrap_or(i64::MAX);
    let spec = match Spec::parse(&rules.body(), min) {
        Ok(spec) => spec,
        Err(message) => {
            let (field, text) = field_error(&message, min);
            let mut errors = RulesErrors::default();
            let slot = match field {
                "methods" => &mut errors.methods,
                "start_kw" => &mut errors.start_kw,
                "success_kw" => &mut errors.success_kw,
                "failure_kw" => &mut errors.failure_kw,
                _ => &mut errors.other,
            };
            *slot = Some(text);
            return Ok(Err(errors));
        }
    };
    state
        .store
        .modify_check(check.id, |c| spec.apply(c, 3))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Ok(()))
}
