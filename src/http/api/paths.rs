//! The paths under `/api/vN/` that exist, as healthchecks.io's URL patterns define them, and
//! the methods each takes. A path that matches no pattern is a 404 before anything else
//! runs; one that would match with a slash appended is redirected there (Django's
//! `APPEND_SLASH`), its query kept.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::not_found;

/// The part of an API path after `/api/vN/`, for versions 1 to 3.
fn api_rest(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v")?;
    let (version, rest) = rest.split_at_checked(1)?;
    matches!(version, "1" | "2" | "3")
        .then(|| rest.strip_prefix('/'))
        .flatten()
}

/// Django's `<uuid:…>` converter: the lowercase canonical form only.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// healthchecks.io's `<sha1:unique_key>` converter, `[A-z0-9]{40}` (the range `A-z` also
/// takes the six characters between `Z` and `a`).
pub fn is_unique_key(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'z').contains(&b))
}

/// The methods a path takes (besides OPTIONS), if it is an API path at all.
fn methods(rest: &str) -> Option<&'static str> {
    let segments: Vec<&str> = rest.split('/').collect();
    let methods = match segments.as_slice() {
        ["checks" | "channels", ""] => "GET, POST",
        ["badges", ""] | ["openapi.json"] => "GET",
        ["checks", key] if is_uuid(key) => "POST, DELETE, GET",
        ["checks", key] if is_unique_key(key) => "GET",
        ["checks", key, "flips", ""] if is_uuid(key) || is_unique_key(key) => "GET",
        ["checks", key, "pings" | "notifications", ""] if is_uuid(key) => "GET",
        ["checks", key, "pings", n, "body"] if is_uuid(key) && is_number(n) => "GET",
        ["checks", key, "pause" | "resume"] if is_uuid(key) => "POST",
        ["channels", key] if is_uuid(key) => "POST, DELETE, GET",
        ["channels", key, "test"] if is_uuid(key) => "POST",
        ["notifications", key] if is_uuid(key) => "GET",
        ["notifications", key, "resend"] if is_uuid(key) => "POST",
        // Without CORS: any method, or as the handler decides.
        ["status" | "metrics" | "bounces", ""] => "*",
        ["notifications", key, "status"] if is_uuid(key) => "*",
        _ => return None,
    };
    Some(methods)
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `Access-Control-Allow-Methods` for an API path (or a badge), as healthchecks.io's `cors` decorator
/// lists them; `None` for paths without CORS.
pub fn cors_methods(path: &str) -> Option<&'static str> {
    if path.starts_with("/badge/") || path.starts_with("/b/") {
        return Some("GET, OPTIONS");
    }
    let methods = methods(api_rest(path)?)?;
    Some(match methods {
        "GET, POST" => "GET, POST, OPTIONS",
        "POST, DELETE, GET" => "POST, DELETE, GET, OPTIONS",
        "GET" => "GET, OPTIONS",
        "POST" => "POST, OPTIONS",
        _ => return None,
    })
}

/// Answers paths under `/api/vN/` that match no pattern: 301 to the path with a slash
/// appended if that one exists, else Django's 404. Other paths pass through.
pub async fn known_paths(request: Request, next: Next) -> Response {
    let Some(rest) = api_rest(request.uri().path()) else {
        return next.run(request).await;
    };
    if methods(rest).is_some() {
        return next.run(request).await;
    }
    if methods(&format!("{rest}/")).is_some() {
        let uri = request.uri();
        let location = match uri.query() {
            Some(query) => format!("{}/?{query}", uri.path()),
            None => format!("{}/", uri.path()),
        };
        if let Ok(location) = HeaderValue::try_from(location) {
            return (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, location)],
            )
                .into_response();
        }
    }
    not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "5c2a7c1e-4b1a-4f8e-9d3c-0a1b2c3d4e5f";

    #[test]
    fn uuids_must_be_lowercase_and_canonical() {
        assert!(is_uuid(CODE));
        assert!(!is_uuid(&CODE.to_uppercase()));
        assert!(!is_uuid(&CODE.replace('-', "")));
        assert!(!is_uuid(&format!("{{{CODE}}}")));
        assert!(is_unique_key(&"a".repeat(40)));
        assert!(is_unique_key(&"_".repeat(40)));
        assert!(!is_unique_key(&"a".repeat(39)));
        assert!(!is_unique_key(&"-".repeat(40)));
    }

    #[test]
    fn methods_follow_the_url_patterns() {
        let path = |rest: &str| format!("/api/v3/{rest}");
        assert_eq!(cors_methods(&path("checks/")), Some("GET, POST, OPTIONS"));
        assert_eq!(
            cors_methods(&path(&format!("checks/{CODE}"))),
            Some("POST, DELETE, GET, OPTIONS")
        );
        let key = "k".repeat(40);
        assert_eq!(
            cors_methods(&path(&format!("checks/{key}"))),
            Some("GET, OPTIONS")
        );
        assert_eq!(
            cors_methods(&path(&format!("checks/{key}/flips/"))),
            Some("GET, OPTIONS")
        );
        assert_eq!(cors_methods(&path(&format!("checks/{key}/pause"))), None);
        assert_eq!(
            cors_methods(&path(&format!("checks/{CODE}/pings/7/body"))),
            Some("GET, OPTIONS")
        );
        assert_eq!(
            cors_methods(&path(&format!("checks/{CODE}/pings/x/body"))),
            None
        );
        assert_eq!(
            cors_methods(&path(&format!("notifications/{CODE}"))),
            Some("GET, OPTIONS")
        );
        assert_eq!(cors_methods(&path("status/")), None);
        assert_eq!(cors_methods("/api/v4/checks/"), None);
        assert_eq!(cors_methods("/ping/x"), None);
        assert_eq!(cors_methods("/b/2/x.svg"), Some("GET, OPTIONS"));
    }
}
