//! The create/update request body of a check, validated as healthchecks.io's `Spec`:
//! strict types, its limits, and only the first error reported, in its field order.

use serde_json::{Map, Value};

use crate::domain::check::CheckKind;
use crate::domain::schedule::{Kind, Schedule, parse_timezone};
use crate::store::CheckRecord;

/// Longest period or grace time: one year, in seconds.
const MAX_DURATION_SECONDS: i64 = 31_536_000;

/// Fields `unique` may name.
const UNIQUE_FIELDS: [&str; 5] = ["name", "slug", "tags", "timeout", "grace"];

/// A validated request. `None` means the field was absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    pub channels: Option<String>,
    pub desc: Option<String>,
    pub failure_kw: Option<String>,
    pub filter_body: Option<bool>,
    pub filter_default_fail: Option<bool>,
    pub filter_http_body: Option<bool>,
    pub filter_subject: Option<bool>,
    pub grace: Option<i64>,
    pub manual_resume: Option<bool>,
    pub methods: Option<String>,
    pub name: Option<String>,
    pub schedule: Option<(String, Kind)>,
    pub slug: Option<String>,
    pub start_kw: Option<String>,
    pub subject: Option<String>,
    pub subject_fail: Option<String>,
    pub success_kw: Option<String>,
    pub tags: Option<String>,
    pub timeout: Option<i64>,
    pub tz: Option<String>,
    pub unique: Option<Vec<String>>,
}

/// Reads one field; `None` when absent. (JSON `null` is present and fails the type check,
/// as in healthchecks.io, which replaces nulls with a float before validating.)
struct Fields<'a>(&'a Map<String, Value>);

fn fail<T>(field: &str, problem: &str) -> Result<T, String> {
    Err(format!("json validation error: {field} {problem}"))
}

impl Fields<'_> {
    fn string(&self, field: &str, max_chars: Option<usize>) -> Result<Option<String>, String> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::String(s)) if max_chars.is_some_and(|max| s.chars().count() > max) => {
                fail(field, "is too long")
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => fail(field, "is not a string"),
        }
    }

    fn boolean(&self, field: &str) -> Result<Option<bool>, String> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => fail(field, "is not a boolean"),
        }
    }

    /// Whole seconds within `min..=one year`. Like healthchecks.io (where `bool` is an
    /// `int`), `true` counts as one second and `false` as zero.
    fn seconds(&self, field: &str, min: i64) -> Result<Option<i64>, String> {
        let value = match self.0.get(field) {
            None => return Ok(None),
            Some(Value::Bool(b)) => i64::from(*b),
            Some(Value::Number(n)) if n.is_i64() => n.as_i64().unwrap_or(i64::MAX),
            Some(Value::Number(n)) if n.is_u64() => i64::MAX,
            Some(_) => return fail(field, "is not a number"),
        };
        if value < min {
            fail(field, "is too small")
        } else if value > MAX_DURATION_SECONDS {
            fail(field, "is too large")
        } else {
            Ok(Some(value))
        }
    }
}

impl Spec {
    /// Validates a request object; the error is the message of the first invalid field.
    /// `min_timeout` is the shortest period and grace allowed, in seconds.
    pub fn parse(body: &Map<String, Value>, min_timeout: i64) -> Result<Spec, String> {
        let f = Fields(body);
        let channels = f.string("channels", None)?;
        let desc = f.string("desc", None)?;
        let failure_kw = f.string("failure_kw", Some(200))?;
        let filter_body = f.boolean("filter_body")?;
        let filter_default_fail = f.boolean("filter_default_fail")?;
        let filter_http_body = f.boolean("filter_http_body")?;
        let filter_subject = f.boolean("filter_subject")?;
        let grace = f.seconds("grace", min_timeout)?;
        let manual_resume = f.boolean("manual_resume")?;
        let methods = match body.get("methods") {
            None => None,
            Some(Value::String(m)) if m.is_empty() || m == "POST" => Some(m.clone()),
            Some(_) => return fail("methods", "has unexpected value"),
        };
        let name = f.string("name", Some(100))?;
        let schedule = match f.string("schedule", Some(100))? {
            None => None,
            Some(expr) => match Schedule::parse(&expr) {
                Ok(schedule) => Some((expr, schedule.kind())),
                Err(_) => return fail("schedule", "is not a valid cron or OnCalendar expression"),
            },
        };
        let slug = f.string("slug", Some(100))?;
        let slug_chars =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if slug.as_deref().is_some_and(|s| !s.chars().all(slug_chars)) {
            return fail("slug", "does not match pattern");
        }
        let start_kw = f.string("start_kw", Some(200))?;
        let subject = f.string("subject", Some(200))?;
        let subject_fail = f.string("subject_fail", Some(200))?;
        let success_kw = f.string("success_kw", Some(200))?;
        let tags = f.string("tags", None)?;
        let timeout = f.seconds("timeout", min_timeout)?;
        let tz = match f.string("tz", None)? {
            None => None,
            // Legacy names are stored under their current names.
            Some(tz) => match parse_timezone(&tz) {
                Some(zone) => Some(zone.name().to_owned()),
                None => return fail("tz", "is not a valid timezone"),
            },
        };
        let unique = match body.get("unique") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) if UNIQUE_FIELDS.contains(&s.as_str()) => Ok(s.clone()),
                        _ => Err(
                            "json validation error: an item in 'unique' has unexpected value"
                                .to_owned(),
                        ),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return fail("unique", "is not an array"),
        };
        Ok(Spec {
            channels,
            desc,
            failure_kw,
            filter_body,
            filter_default_fail,
            filter_http_body,
            filter_subject,
            grace,
            manual_resume,
            methods,
            name,
            schedule,
            slug,
            start_kw,
            subject,
            subject_fail,
            success_kw,
            tags,
            timeout,
            tz,
            unique,
        })
    }

    /// Whether `check` has every field that `unique` names, with the requested values.
    /// `None` when `unique` is empty or names a field the request does not give.
    pub fn matches_unique(&self, check: &CheckRecord) -> Option<bool> {
        let fields = self.unique.as_ref().filter(|u| !u.is_empty())?;
        let mut matches = true;
        for field in fields {
            matches &= match field.as_str() {
                "name" => check.name == *self.name.as_ref()?,
                "slug" => check.slug == *self.slug.as_ref()?,
                "tags" => check.tags == *self.tags.as_ref()?,
                "timeout" => check.state.timeout.num_seconds() == self.timeout?,
                "grace" => check.state.grace.num_seconds() == self.grace?,
                _ => false,
            };
        }
        Some(matches)
    }

    /// Applies the request to a check (healthchecks.io `_update`); the status never changes.
    /// API v1 and v2 derive the slug from any name given.
    pub fn apply(&self, check: &mut CheckRecord, version: u8) {
        if let Some(name) = &self.name {
            if version < 3 {
                check.slug = slugify(name);
            }
            check.name.clone_from(name);
        }
        let state = &mut check.state;
        if let Some((schedule, kind)) = &self.schedule {
            state.kind = match kind {
                Kind::Cron => CheckKind::Cron,
                Kind::OnCalendar => CheckKind::OnCalendar,
            };
            state.schedule.clone_from(schedule);
        } else if let Some(timeout) = self.timeout {
            state.kind = CheckKind::Simple;
            state.timeout = chrono::Duration::seconds(timeout);
        }
        // `subject` and `subject_fail` are the old names of the keywords; setting either
        // turns email subject filtering on or off with them.
        if let Some(subject) = &self.subject {
            state.success_kw.clone_from(subject);
            check.filter_subject = !state.success_kw.is_empty() || !state.failure_kw.is_empty();
        }
        if let Some(subject_fail) = &self.subject_fail {
            state.failure_kw.clone_from(subject_fail);
            check.filter_subject = !state.success_kw.is_empty() || !state.failure_kw.is_empty();
        }
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                target.clone_from(value);
            }
        };
        set(&mut check.slug, &self.slug);
        set(&mut check.tags, &self.tags);
        set(&mut check.desc, &self.desc);
        set(&mut state.methods, &self.methods);
        set(&mut state.tz, &self.tz);
        set(&mut state.start_kw, &self.start_kw);
        set(&mut state.success_kw, &self.success_kw);
        set(&mut state.failure_kw, &self.failure_kw);
        let flag = |target: &mut bool, value: Option<bool>| {
            if let Some(value) = value {
                *target = value;
            }
        };
        flag(&mut state.manual_resume, self.manual_resume);
        flag(&mut check.filter_subject, self.filter_subject);
        flag(&mut check.filter_body, self.filter_body);
        flag(&mut state.filter_http_body, self.filter_http_body);
        flag(&mut state.filter_default_fail, self.filter_default_fail);
        if let Some(grace) = self.grace {
            state.grace = chrono::Duration::seconds(grace);
        }
    }
}

/// Django's `slugify` for ASCII text: lowercase, keep `[a-z0-9_-]` and spaces, collapse runs
/// of spaces and hyphens into one hyphen, trim hyphens and underscores. Letters outside ASCII
/// are dropped (Django folds accented letters to their base letter first).
pub fn slugify(name: &str) -> String {
    let kept: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || c.is_whitespace())
        .collect();
    let mut slug = String::with_capacity(kept.len());
    for word in kept
        .split(|c: char| c == '-' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(word);
    }
    slug.trim_matches(|c| c == '-' || c == '_').to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(body: Value) -> String {
        let Value::Object(map) = body else {
            panic!("object")
        };
        Spec::parse(&map, 60).expect_err("invalid")
    }

    #[test]
    fn reports_healthchecks_messages() {
        let cases = [
            (json!({"name": 1}), "name is not a string"),
            (json!({"name": "x".repeat(101)}), "name is too long"),
            (json!({"timeout": null}), "timeout is not a number"),
            (json!({"timeout": 60.0}), "timeout is not a number"),
            (json!({"timeout": "60"}), "timeout is not a number"),
            (json!({"timeout": 59}), "timeout is too small"),
            (json!({"timeout": true}), "timeout is too small"),
            (json!({"grace": 31_536_001}), "grace is too large"),
            (
                json!({"timeout": 10_000_000_000_000_000_000u64}),
                "timeout is too large",
            ),
            (
                json!({"manual_resume": "surprise"}),
                "manual_resume is not a boolean",
            ),
            (json!({"methods": "GET"}), "methods has unexpected value"),
            (json!({"methods": null}), "methods has unexpected value"),
            (
                json!({"schedule": "0 0 31 2 *"}),
                "schedule is not a valid cron or OnCalendar expression",
            ),
            (
                json!({"schedule": "* * * * * *"}),
                "schedule is not a valid cron or OnCalendar expression",
            ),
            (json!({"slug": "Hello"}), "slug does not match pattern"),
            (
                json!({"tz": "Europe/Surprise"}),
                "tz is not a valid timezone",
            ),
            (json!({"unique": null}), "unique is not an array"),
            (
                json!({"unique": ["name", "surprise"]}),
                "an item in 'unique' has unexpected value",
            ),
            (json!({"channels": 1}), "channels is not a string"),
            (
                json!({"subject_fail": "x".repeat(201)}),
                "subject_fail is too long",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(
                error(body.clone()),
                format!("json validation error: {message}"),
                "{body}"
            );
        }
    }

    #[test]
    fn reports_only_the_first_field_in_healthchecks_order() {
        let body = json!({"tz": "nope", "name": 5, "desc": false});
        assert_eq!(error(body), "json validation error: desc is not a string");
        let body = json!({"timeout": 1, "grace": 1});
        assert_eq!(error(body), "json validation error: grace is too small");
    }

    #[test]
    fn legacy_zone_names_are_stored_under_current_names() {
        let Value::Object(map) = json!({"tz": "Europe/Kiev", "api_key": "ignored"}) else {
            unreachable!()
        };
        let spec = Spec::parse(&map, 60).expect("valid");
        assert_eq!(spec.tz.as_deref(), Some("Europe/Kyiv"));
    }

    #[test]
    fn slugify_follows_django() {
        assert_eq!(slugify("Nightly Backup"), "nightly-backup");
        assert_eq!(slugify("  db -- dump_ 2 "), "db-dump_-2");
        assert_eq!(slugify("-_x_-"), "x");
        assert_eq!(slugify("ok!?"), "ok");
    }
}
