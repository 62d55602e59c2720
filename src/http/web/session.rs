//! Dashboard sessions and CSRF protection.
//!
//! A session is a random token in an HttpOnly, SameSite=Lax cookie; the database keeps only
//! its SHA-256. Every form carries a CSRF token: the session's own once logged in, and
//! before that (login and signup) a random one that must also be in a SameSite=Strict
//! cookie. A POST whose `Origin` is another site is refused as well.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::http::AppState;
use crate::keys::{hash_secret, random_token};
use crate::store::{NewSession, SessionRecord};

pub const SESSION_COOKIE: &str = "overdue_session";
pub const CSRF_COOKIE: &str = "overdue_csrf";

/// How long a session lasts.
const SESSION_DAYS: i64 = 14;

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value; `Secure` when the site is served over HTTPS.
pub fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    same_site: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if state.site_root.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    );
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Starts a session for `user_id`; the `Set-Cookie` value to send.
pub async fn start(state: &AppState, user_id: i64) -> Result<HeaderValue, crate::error::AppError> {
    let (session, token) = new_session(state);
    let now = state.clock.now().timestamp_millis();
    state.store.create_session(user_id, &session, now).await?;
    Ok(session_cookie(state, &token))
}

/// A fresh session record and its cookie token.
pub fn new_session(state: &AppState) -> (NewSession, String) {
    let token = random_token();
    let expires = state.clock.now() + chrono::Duration::days(SESSION_DAYS);
    let session = NewSession {
        token_hash: hash_secret(&token),
        csrf_token: random_token(),
        expires_at: expires.timestamp_millis(),
    };
    (session, token)
}

pub fn session_cookie(state: &AppState, token: &str) -> HeaderValue {
    set_cookie(state, SESSION_COOKIE, token, "Lax", SESSION_DAYS * 86_400)
}

/// The logged-in user's session, if any.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<SessionRecord>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(MaybeUser(None));
        };
        let now = state.clock.now().timestamp_millis();
        match state.store.session(&hash_secret(token), now).await {
            Ok(session) => Ok(MaybeUser(session)),
            Err(err) => Err(crate::error::AppError::Store(err).into_response()),
        }
    }
}

/// A logged-in user's session; others are sent to the login page.
#[derive(Debug, Clone)]
pub struct User(pub SessionRecord);

impl FromRequestParts<AppState> for User {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match MaybeUser::from_request_parts(parts, state).await? {
            MaybeUser(Some(session)) => Ok(User(session)),
            MaybeUser(None) => Err(Redirect::to("/accounts/login/").into_response()),
        }
    }
}

/// Compares two tokens in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A POST's `Origin`, when given, must be this site.
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let site = state.site_root.as_ref();
    let site_origin = site
        .find("://")
        .and_then(|i| site[i + 3..].find('/').map(|j| &site[..i + 3 + j]))
        .unwrap_or(site);
    origin == site_origin
}

/// The answer to a form that fails the CSRF check.
pub fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::response::Html("<!doctype html><title>Forbidden</title><p>This form has expired or was sent from another site. Go back, reload the page and try again.</p>"),
    )
        .into_response()
}

/// Whether a logged-in form carries its session's token (and comes from this site).
pub fn session_form_ok(
    state: &AppState,
    headers: &HeaderMap,
    session: &SessionRecord,
    given: &str,
) -> bool {
    same_origin(state, headers) && same(&session.csrf_token, given)
}

/// Whether an anonymous form's token matches its cookie (and the form comes from this site).
pub fn anonymous_form_ok(state: &AppState, headers: &HeaderMap, given: &str) -> bool {
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    same_origin(state, headers) && same(expected, given)
}

/// The anonymous form token of this browser, and a `Set-Cookie` if it had none.
pub fn anonymous_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 32) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = random_token();
            let cookie = set_cookie(state, CSRF_COOKIE, &token, "Strict", 86_400);
            (token, Some(cookie))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; overdue_session=tok; b=2"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("overdue_csrf=x"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, CSRF_COOKIE), Some("x"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", ""));
    }
}
