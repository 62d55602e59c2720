//! A check as the Management API shows it: healthchecks.io's `Check.to_dict`, same keys in
//! the same order, per key type and API version.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
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

/// `channels`: the comma-separated UUIDs of the channels the check notifies.
pub fn check_json(check: &CheckRecord, channels: &str, view: View<'_>) -> Value {
    let s = &check.state;
    let keywords_if = |on: bool, kw: &str| if on { kw.to_owned() } else { String::new() };
    let mut out = Map::new();
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_owned(), value);
    };
    put("name", json!(check.name));
    put("slug", json!(check.slug));
    put("tags", json!(check.tags));
    put("desc", json!(check.desc));
    put("grace", json!(s.grace.num_seconds()));
    put("n_pings", json!(s.n_pings));
    // v1 reports running checks as "started".
    put(
        "status",
        json!(s.display_status(view.now, view.version == 1).as_str()),
    );
    put("started", json!(s.last_start.is_some()));
    put("last_ping", json!(s.last_ping.map(iso)));
    put("next_ping", json!(s.grace_start(true).map(iso)));
    put("manual_resume", json!(s.manual_resume));
    put("methods", json!(s.methods));
    put(
        "subject",
        json!(keywords_if(check.filter_subject, &s.success_kw)),
    );
    put(
        "subject_fail",
        json!(keywords_if(check.filter_subject, &s.failure_kw)),
    );
    put("start_kw", json!(s.start_kw));
    put("success_kw", json!(s.success_kw));
    put("failure_kw", json!(s.failure_kw));
    put("filter_subject", json!(check.filter_subject));
    put("filter_body", json!(check.filter_body));
    put("filter_http_body", json!(s.filter_http_body));
    put("filter_default_fail", json!(s.filter_default_fail));
    put(
        "badge_url",
        json!(format!("{}/b/2/{}.svg", view.site_root, check.badge_key)),
    );
    if let Some(duration) = s.last_duration.filter(|d| d.num_seconds() != 0) {
        put("last_duration", json!(duration.num_seconds()));
    }
    match view.access {
        KeyAccess::ReadOnly => put("unique_key", json!(unique_key(check))),
        KeyAccess::ReadWrite => {
            let update_url = format!(
                "{}/api/v{}/checks/{}",
                view.site_root, view.version, check.code
            );
            put("uuid", json!(check.code));
            put(
                "ping_url",
                json!(format!("{}/ping/{}", view.site_root, check.code)),
            );
            put("update_url", json!(update_url));
            put("pause_url", json!(format!("{update_url}/pause")));
            put("resume_url", json!(format!("{update_url}/resume")));
            put("channels", json!(channels));
        }
    }
    match s.kind {
        CheckKind::Simple => put("timeout", json!(s.timeout.num_seconds())),
        CheckKind::Cron | CheckKind::OnCalendar => {
            put("schedule", json!(s.schedule));
            put("tz", json!(s.tz));
        }
    }
    Value::Object(out)
}
