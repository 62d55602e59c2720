//! Status badges (reference §8.1, §8.2): per tag of a project, signed so that the badge
//! URL of one tag does not give away the others, and per check.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use crate::domain::badge::{self, Tally};
use crate::error::AppError;
use crate::store::CheckRecord;

/// Badges of all checks (the `*` tag) are labelled with the site's name.
const MASTER_LABEL: &str = "Overdue";

/// `svg`, `json` or `shields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Svg,
    Json,
    Shields,
}

/// `name.fmt` → (`name`, format).
fn split_format(file: &str) -> Option<(&str, Format)> {
    let (name, ext) = file.rsplit_once('.')?;
    let format = match ext {
        "svg" => Format::Svg,
        "json" => Format::Json,
        "shields" => Format::Shields,
        _ => return None,
    };
    Some((name, format))
}

fn render(label: &str, tally: Tally, with_late: bool, format: Format) -> Response {
    let status = tally.status(with_late);
    let mut response = match format {
        Format::Svg => (
            [(header::CONTENT_TYPE, "image/svg+xml")],
            badge::svg(label, status),
        )
            .into_response(),
        Format::Json => Json(json!({
            "status": status.as_str(),
            "total": tally.total,
            "grace": tally.grace,
            "down": tally.down,
        }))
        .into_response(),
        Format::Shields => Json(json!({
            "schemaVersion": 1,
            "label": label,
            "message": status.as_str(),
            "color": status.shields_color(),
        }))
        .into_response(),
    };
    let headers = response.headers_mut();
    // Badges must always be fresh (Django's `never_cache`); CORS is added by the router.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, no-cache, no-store, must-revalidate, private"),
    );
    response
}

/// A project's badge for `tag` (`*`: every check), if the signature is right. A signature
/// of 10 characters ending in `-2` asks for two states (late shown as up).
async fn project_badge(
    state: &AppState,
    badge_key: &str,
    sig: &str,
    tag: &str,
    format: Format,
) -> Result<Response, AppError> {
    let with_late = !(sig.len() == 10 && sig.ends_with("-2"));
    let expected = badge::signature(badge_key, tag, &state.secret);
    if sig.get(..8) != Some(expected.as_str()) {
        return Err(AppError::NotFound);
    }
    let project = state
        .store
        .project_by_badge_key(badge_key)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let checks = state.store.checks_in_project(project.id).await?;
    let tally = Tally::of(
        checks
            .iter()
            .filter(|c| tag == "*" || c.tags_list().any(|t| t == tag))
            .map(|c| c.state.display_status(now, false)),
    );
    let label = if tag == "*" { MASTER_LABEL } else { tag };
    Ok(render(label, tally, with_late, format))
}

/// `GET /badge/<badge_key>/<sig>/<tag>.<fmt>`. The tag arrives percent-encoded twice
/// (healthchecks.io quotes it, then its URL reversing quotes it again).
pub async fn tag_badge(
    State(state): State<AppState>,
    Path((badge_key, sig, file)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let (quoted, format) = split_format(&file).ok_or(AppError::NotFound)?;
    let allowed = |c: char| c.is_alphanumeric() || "%~_.-".contains(c);
    if quoted.is_empty() || !quoted.chars().all(allowed) {
        return Err(AppError::NotFound);
    }
    let tag = percent_decode(quoted).ok_or(AppError::NotFound)?;
    project_badge(&state, &badge_key, &sig, &tag, format).await
}

/// `GET /badge/<badge_key>/<sig>.<fmt>`: every check of the project.
pub async fn all_badge(
    State(state): State<AppState>,
    Path((badge_key, file)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (sig, format) = split_format(&file).ok_or(AppError::NotFound)?;
    project_badge(&state, &badge_key, sig, "*", format).await
}

/// `GET /b/<2|3>/<check badge key>.<fmt>`: one check, labelled with its name (or UUID).
pub async fn check_badge(
    State(state): State<AppState>,
    Path((states, file)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let with_late = match states.as_str() {
        "2" => false,
        "3" => true,
        _ => return Err(AppError::NotFound),
    };
    let (key, format) = split_format(&file).ok_or(AppError::NotFound)?;
    let key = Uuid::parse_str(key).map_err(|_| AppError::NotFound)?;
    let check = state
        .store
        .check_by_badge_key(key)
        .await?
        .ok_or(AppError::NotFound)?;
    let tally = Tally::of([check.state.display_status(state.clock.now(), false)]);
    Ok(render(&label(&check), tally, with_late, format))
}

fn label(check: &CheckRecord) -> String {
    if check.name.is_empty() {
        check.code.to_string()
    } else {
        check.name.clone()
    }
}

/// `%XX` decoding; `None` for malformed escapes or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Python's `quote(tag, safe="")`, then quoted again as a URL path segment (which only
/// turns each `%` into `%25`).
fn encode_tag(tag: &str) -> String {
    let mut once = String::new();
    for byte in tag.bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~".contains(&byte) {
            once.push(char::from(byte));
        } else {
            once.push_str(&format!("%{byte:02X}"));
        }
    }
    once.replace('%', "%25")
}

/// The six badge URLs of a tag (`*`: all checks), as `GET badges/` lists them.
pub fn badge_urls(site_root: &str, badge_key: &str, secret: &str, tag: &str) -> Value {
    let sig = badge::signature(badge_key, tag, secret);
    let url = |fmt: &str, with_late: bool| {
        let sig = if with_late {
            sig.clone()
        } else {
            format!("{sig}-2")
        };
        if tag == "*" {
            format!("{site_root}/badge/{badge_key}/{sig}.{fmt}")
        } else {
            format!(
                "{site_root}/badge/{badge_key}/{sig}/{}.{fmt}",
                encode_tag(tag)
            )
        }
    };
    json!({
        "svg": url("svg", false),
        "svg3": url("svg", true),
        "json": url("json", false),
        "json3": url("json", true),
        "shields": url("shields", false),
        "shields3": url("shields", true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_encoded_twice_and_decoded_back() {
        assert_eq!(encode_tag("db@dc1"), "db%2540dc1");
        assert_eq!(encode_tag("a b/c*~"), "a%2520b%252Fc%252A~");
        assert_eq!(percent_decode("db%40dc1").as_deref(), Some("db@dc1"));
        assert_eq!(percent_decode("bad%4"), None);
    }
}
