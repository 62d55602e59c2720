//! A check as the Management API shows it: healthchecks.io's `Check.to_dict`, same keys in
//! the same order, per key type and API version.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::domain::check::CheckKind;
use crate::store::{CheckRecord, KeyAccess};

/// What the JSON of a check depends on besides the check.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub now: DateTime<Utc>,
    pub version: u8,
    pub access: KeyAccess,
    pub site_root: &'a str,
    /// Set when the site takes email pings: read-write keys then see each check's address.
    pub ping_email_domain: Option<&'a str>,
}

/// healthchecks.io's `isostring`: seconds precision, `+00:00`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A stable public id for read-only keys: SHA-1 of the first half of the UUID's hex.
pub fn unique_key(check: &CheckRecord) -> String {
    let hex = check.code.simple().to_string();
    Sha1::digest(&hex.as_bytes()[..16])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A check as the API shows it, serialized straight from the record (a list of a thousand
/// checks is written without building a map per check). `channels`: the comma-separated
/// UUIDs of the channels the check notifies.
#[derive(Debug, Clone, Copy)]
pub struct CheckJson<'a> {
    pub check: &'a CheckRecord,
    pub channels: &'a str,
    pub view: View<'a>,
}

impl Serialize for CheckJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let CheckJson {
            check,
            channels,
            view,
        } = *self;
        let s = &check.state;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &check.name)?;
        map.serialize_entry("slug", &check.slug)?;
        map.serialize_entry("tags", &check.tags)?;
        map.serialize_entry("desc", &check.desc)?;
        map.serialize_entry("grace", &s.grace.num_seconds())?;
        map.serialize_entry("n_pings", &s.n_pings)?;
        // v1 reports running checks as "started".
        map.serialize_entry(
            "status",
            s.display_status(view.now, view.version == 1).as_str(),
        )?;
        map.serialize_entry("started", &s.last_start.is_some())?;
        map.serialize_entry("last_ping", &s.last_ping.map(iso))?;
        map.serialize_entry("next_ping", &s.grace_start(true).map(iso))?;
        map.serialize_entry("manual_resume", &s.manual_resume)?;
        map.serialize_entry("methods", &s.methods)?;
        map.serialize_entry("subject", keywords_if(check.filter_subject, &s.success_kw))?;
        map.serialize_entry(
            "subject_fail",
            keywords_if(check.filter_subject, &s.failure_kw),
        )?;
        map.serialize_entry("start_kw", &s.start_kw)?;
        map.serialize_entry("success_kw", &s.success_kw)?;
        map.serialize_entry("failure_kw", &s.failure_kw)?;
        map.serialize_entry("filter_subject", &check.filter_subject)?;
        map.serialize_entry("filter_body", &check.filter_body)?;
        map.serialize_entry("filter_http_body", &s.filter_http_body)?;
        map.serialize_entry("filter_default_fail", &s.filter_default_fail)?;
        map.serialize_entry(
            "badge_url",
            &format!("{}/b/2/{}.svg", view.site_root, check.badge_key),
        )?;
        if let Some(duration) = s.last_duration.filter(|d| d.num_seconds() != 0) {
            map.serialize_entry("last_duration", &duration.num_seconds())?;
        }
        match view.access {
            KeyAccess::ReadOnly => map.serialize_entry("unique_key", &unique_key(check))?,
            KeyAccess::ReadWrite => {
                let update_url = format!(
                    "{}/api/v{}/checks/{}",
                    view.site_root, view.version, check.code
                );
                map.serialize_entry("uuid", &check.code)?;
                map.serialize_entry(
                    "ping_url",
                    &format!("{}/ping/{}", view.site_root, check.code),
                )?;
                // Not in healthchecks.io's JSON: only sites that take mail add it.
                if let Some(domain) = view.ping_email_domain {
                    map.serialize_entry("ping_email", &format!("{}@{domain}", check.code))?;
                }
                map.serialize_entry("update_url", &update_url)?;
                map.serialize_entry("pause_url", &format!("{update_url}/pause"))?;
                map.serialize_entry("resume_url", &format!("{update_url}/resume"))?;
                map.serialize_entry("channels", channels)?;
            }
        }
        match s.kind {
            CheckKind::Simple => map.serialize_entry("timeout", &s.timeout.num_seconds())?,
            CheckKind::Cron | CheckKind::OnCalendar => {
                map.serialize_entry("schedule", &s.schedule)?;
                map.serialize_entry("tz", &s.tz)?;
            }
        }
        map.end()
    }
}

/// The keywords when the subject filter is on, else empty.
fn keywords_if(on: bool, keywords: &str) -> &str {
    if on { keywords } else { "" }
}

/// The check's JSON as a value (for webhook templates and single answers).
pub fn check_json(check: &CheckRecord, channels: &str, view: View<'_>) -> Value {
    serde_json::to_value(CheckJson {
        check,
        channels,
        view,
    })
    .unwrap_or(Value::Null)
}
