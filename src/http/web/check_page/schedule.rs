//! The check page's schedule card: the period and grace time, or the cron or OnCalendar
//! expression with its zone, and the form that changes them (validated as the API validates,
//! through the add dialog's code).

use chrono::{DateTime, Duration, Utc};
use serde_json::Map;

use super::super::checks::{ScheduleFields, field_error, period};
use super::CheckForm;
use crate::domain::check::CheckKind;
use crate::error::AppError;
use crate::http::AppState;
use crate::http::api::spec::Spec;
use crate::store::CheckRecord;

/// The schedule form's fields, as typed or as the check has them.
#[derive(Debug, Clone)]
pub(super) struct ScheduleInput {
    /// `simple`, `cron` or `oncalendar`.
    pub kind: String,
    pub timeout: String,
    pub timeout_unit: String,
    pub grace: String,
    pub grace_unit: String,
    pub schedule: String,
    pub tz: String,
}

/// Messages to show next to the schedule form's fields.
#[derive(Debug, Default)]
pub(super) struct ScheduleErrors {
    pub timeout: Option<String>,
    pub grace: Option<String>,
    pub schedule: Option<String>,
    pub tz: Option<String>,
}

impl ScheduleErrors {
    fn any(&self) -> bool {
        self.timeout.is_some()
            || self.grace.is_some()
            || self.schedule.is_some()
            || self.tz.is_some()
    }

    fn place(&mut self, field: &str, text: String) {
        match field {
            "timeout" => self.timeout = Some(text),
            "schedule" => self.schedule = Some(text),
            "tz" => self.tz = Some(text),
            _ => self.grace = Some(text),
        }
    }
}

/// What the card shows: the schedule as it is, and its form.
#[derive(Debug)]
pub(super) struct ScheduleCard {
    /// Labelled lines: "Period", "1 day"; "Cron expression", "0 2 * * *"; …
    pub rows: Vec<(&'static str, String)>,
    pub form: ScheduleInput,
    pub errors: ScheduleErrors,
    /// Whether the form starts open (it was sent with mistakes).
    pub open: bool,
}

/// A duration as a number and the largest unit (seconds) that divides it.
fn amount(d: Duration) -> (String, String) {
    let secs = d.num_seconds();
    let unit = [86_400, 3600, 60]
        .into_iter()
        .find(|u| secs % u == 0)
        .unwrap_or(1);
    ((secs / unit).to_string(), unit.to_string())
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

impl ScheduleInput {
    pub fn of(check: &CheckRecord) -> ScheduleInput {
        let s = &check.state;
        let (timeout, timeout_unit) = amount(s.timeout);
        let (grace, grace_unit) = amount(s.grace);
        ScheduleInput {
            kind: s.kind.as_str().to_owned(),
            timeout,
            timeout_unit,
            grace,
            grace_unit,
            schedule: s.schedule.clone(),
            tz: s.tz.clone(),
        }
    }

    pub fn from_form(form: &CheckForm) -> ScheduleInput {
        ScheduleInput {
            kind: form.kind.clone(),
            timeout: form.timeout.clone(),
            timeout_unit: form.timeout_unit.clone(),
            grace: form.grace.clone(),
            grace_unit: form.grace_unit.clone(),
            schedule: form.schedule.clone(),
            tz: form.tz.clone(),
        }
    }

    fn fields(&self) -> ScheduleFields<'_> {
        ScheduleFields {
            kind: &self.kind,
            timeout: &self.timeout,
            timeout_unit: &self.timeout_unit,
            grace: &self.grace,
            grace_unit: &self.grace_unit,
            schedule: &self.schedule,
            tz: &self.tz,
        }
    }
}

impl ScheduleCard {
    pub fn of(check: &CheckRecord, now: DateTime<Utc>) -> ScheduleCard {
        let s = &check.state;
        let mut rows = match s.kind {
            CheckKind::Simple => vec![("Period", period(s.timeout))],
            CheckKind::Cron => vec![
                ("Cron expression", s.schedule.clone()),
                ("Time zone", s.tz.clone()),
            ],
            CheckKind::OnCalendar => vec![
                ("OnCalendar expression", s.schedule.clone()),
                ("Time zone", s.tz.clone()),
            ],
        };
        rows.push(("Grace time", period(s.grace)));
        // The deadlines as they stand; they move with every ping.
        if let Some(expected) = s.grace_start(false) {
            rows.push(("Next ping expected", when(expected)));
        }
        if let Some(down) = check.alert_after.filter(|t| *t > now) {
            rows.push(("Goes down after", when(down)));
        }
        ScheduleCard {
            rows,
            form: ScheduleInput::of(check),
            errors: ScheduleErrors::default(),
            open: false,
        }
    }
}

/// Saves the schedule the form describes. As the API's update does, the status is not
/// touched here: the deadline is recomputed, and if it has passed already the page shows the
/// check down at once and the deadline loop records the flip and its alerts within a second,
/// fenced by its shard lease like every other flip.
pub(super) async fn save(
    state: &AppState,
    check: &CheckRecord,
    input: &ScheduleInput,
) -> Result<Result<(), ScheduleErrors>, AppError> {
    let mut errors = ScheduleErrors::default();
    let mut body = Map::new();
    for (field, text) in input.fields().add_to(&mut body) {
        errors.place(field, text);
    }
    if errors.any() {
        return Ok(Err(errors));
    }
    let min = i64::try_from(state.config.min_timeout).unwrap_or(i64::MAX);
    let spec = match Spec::parse(&body, min) {
        Ok(spec) => spec,
        Err(message) => {
            let (field, text) = field_error(&message, min);
            errors.place(field, text);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_the_largest_whole_unit() {
        let text = |d| {
            let (n, unit) = amount(d);
            format!("{n}x{unit}")
        };
        assert_eq!(text(Duration::days(2)), "2x86400");
        assert_eq!(text(Duration::minutes(90)), "90x60");
        assert_eq!(text(Duration::seconds(45)), "45x1");
    }
}
