//! Sign up, log in, log out and change password.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::session::{self, MaybeUser, User};
use crate::error::AppError;
use crate::http::AppState;
use crate::keys::{hash_password, verify_password};

/// Shortest password accepted.
const MIN_PASSWORD: usize = 8;
/// Longest password accepted (Argon2 would take any; this bounds the work per attempt).
pub(super) const MAX_PASSWORD: usize = 1024;

#[derive(Template, WebTemplate)]
#[template(path = "accounts/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<&'static str>,
    registration_open: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/signup.html")]
struct SignupPage {
    open: bool,
    csrf: String,
    email: String,
    email_error: Option<&'static str>,
    password_error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/password.html")]
struct PasswordPage {
    email: String,
    csrf: String,
    changed: bool,
    current_error: Option<&'static str>,
    new_error: Option<String>,
    repeat_error: Option<&'static str>,
}

/// Fields of the login and signup forms; absent ones are empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Credentials {
    csrf: String,
    email: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordChange {
    csrf: String,
    current: String,
    new: String,
    repeat: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfOnly {
    csrf: String,
}

/// Addresses are kept lowercased and trimmed.
pub(super) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible address: one `@`, something on each side, a dot in the domain, no spaces.
pub(super) fn email_error(email: &str) -> Option<&'static str> {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !email.chars().any(char::is_whitespace);
    (!valid).then_some("Enter a valid email address.")
}

pub(super) fn password_error(password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        Some(format!("Use at least {MIN_PASSWORD} characters."))
    } else if n > MAX_PASSWORD {
        Some(format!("Use at most {MAX_PASSWORD} characters."))
    } else {
        None
    }
}

pub(super) async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Checks a password against its hash; without one (no such account), against a made-up
/// hash all the same, so the answer takes as long. Both on a blocking thread.
pub(super) async fn verify(password: String, hash: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(dummy_hash);
        verify_password(&password, &hash)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))
}

/// A page, with a `Set-Cookie` when there is one to send.
pub(super) fn with_cookie(
    status: StatusCode,
    cookie: Option<HeaderValue>,
    page: impl IntoResponse,
) -> Response {
    let headers = cookie.map(|c| (header::SET_COOKIE, c));
    (status, AppendHeaders(headers), page).into_response()
}

/// `GET /accounts/login/`.
pub async fn login_form(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
) -> Response {
    if user.is_some() {
        return Redirect::to("/").into_response();
    }
    let (csrf, cookie) = session::anonymous_token(&state, &headers);
    let page = LoginPage {
        csrf,
        email: String::new(),
        error: None,
        registration_open: state.config.registration_open,
    };
    with_cookie(StatusCode::OK, cookie, page)
}

/// `POST /accounts/login/`: a session for a right email and password.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    if !session::anonymous_form_ok(&state, &headers, &form.csrf) {
        return Ok(session::forbidden());
    }
    let email = normalize_email(&form.email);
    let user = state.store.user_by_email(&email).await?;
    // Without an account the answer takes as long: it does not tell which addresses have one.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = form.password.chars().take(MAX_PASSWORD).collect();
    let matches = verify(password, stored).await?;
    match user {
        Some(user) if matches => {
            let cookie = session::start(&state, user.id).await?;
            Ok(with_cookie(
                StatusCode::SEE_OTHER,
                Some(cookie),
                [(header::LOCATION, "/")],
            ))
        }
        _ => {
            let page = LoginPage {
                csrf: form.csrf,
                email,
                error: Some("Incorrect email or password."),
                registration_open: state.config.registration_open,
            };
            Ok(with_cookie(StatusCode::BAD_REQUEST, None, page))
        }
    }
}

/// A valid Argon2 hash of no one's password, made once.
fn dummy_hash() -> String {
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password(&crate::keys::random_token()));
    DUMMY.clone()
}

/// `GET /accounts/signup/`.
pub async fn signup_form(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
) -> Response {
    if user.is_some() {
        return Redirect::to("/").into_response();
    }
    let (csrf, cookie) = session::anonymous_token(&state, &headers);
    let open = state.config.registration_open;
    let page = SignupPage {
        open,
        csrf,
        email: String::new(),
        email_error: None,
        password_error: None,
    };
    let status = if open {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    };
    with_cookie(status, cookie, page)
}

/// `POST /accounts/signup/`: an account with its first project, logged in.
pub async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Result<Response, AppError> {
    if !session::anonymous_form_ok(&state, &headers, &form.csrf) {
        return Ok(session::forbidden());
    }
    let email = normalize_email(&form.email);
    let mut page = SignupPage {
        open: state.config.registration_open,
        csrf: form.csrf,
        email_error: email_error(&email),
        password_error: password_error(&form.password),
        email,
    };
    if !page.open {
        return Ok(with_cookie(StatusCode::FORBIDDEN, None, page));
    }
    if page.email_error.is_some() || page.password_error.is_some() {
        return Ok(with_cookie(StatusCode::BAD_REQUEST, None, page));
    }
    let password_hash = hash(form.password).await?;
    // Keys are made on the project's settings page, and shown once there.
    let project = crate::keys::keyless_project("My Project");
    let (new_session, token) = session::new_session(&state);
    let now = state.clock.now().timestamp_millis();
    let created = state
        .store
        .create_account(&page.email, &password_hash, &project, &new_session, now)
        .await?;
    if created.is_none() {
        page.email_error = Some("An account with this email address already exists.");
        return Ok(with_cookie(StatusCode::BAD_REQUEST, None, page));
    }
    let cookie = session::session_cookie(&state, &token);
    Ok(with_cookie(
        StatusCode::SEE_OTHER,
        Some(cookie),
        [(header::LOCATION, "/")],
    ))
}

/// `POST /accounts/logout/`: ends the session.
pub async fn logout(
    State(state): State<AppState>,
    User(session): User,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    if !session::session_form_ok(&state, &headers, &session, &form.csrf) {
        return Ok(session::forbidden());
    }
    if let Some(token) = session::cookie(&headers, session::SESSION_COOKIE) {
        state
            .store
            .delete_session(&crate::keys::hash_secret(token))
            .await?;
    }
    let clear = session::set_cookie(&state, session::SESSION_COOKIE, "", "Lax", 0);
    Ok(with_cookie(
        StatusCode::SEE_OTHER,
        Some(clear),
        [(header::LOCATION, "/accounts/login/")],
    ))
}

/// `GET /accounts/password/`.
pub async fn password_form(User(session): User) -> Response {
    PasswordPage {
        email: session.user.email,
        csrf: session.csrf_token,
        changed: false,
        current_error: None,
        new_error: None,
        repeat_error: None,
    }
    .into_response()
}

/// `POST /accounts/password/`: a new password, given the current one; other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    User(session): User,
    headers: HeaderMap,
    Form(form): Form<PasswordChange>,
) -> Result<Response, AppError> {
    if !session::session_form_ok(&state, &headers, &session, &form.csrf) {
        return Ok(session::forbidden());
    }
    let current = form.current.chars().take(MAX_PASSWORD).collect();
    let right = verify(current, Some(session.user.password_hash.clone())).await?;
    let mut page = PasswordPage {
        email: session.user.email,
        csrf: session.csrf_token,
        changed: false,
        current_error: (!right).then_some("Incorrect password."),
        new_error: password_error(&form.new),
        repeat_error: (form.new != form.repeat).then_some("The two passwords differ."),
    };
    if page.current_error.is_some() || page.new_error.is_some() || page.repeat_error.is_some() {
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let password_hash = hash(form.new).await?;
    state
        .store
        .set_password(session.user.id, &password_hash, session.id)
        .await?;
    page.changed = true;
    Ok(page.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_need_a_local_part_and_a_dotted_domain() {
        for good in ["a@b.co", "first.last+tag@example.org"] {
            assert_eq!(email_error(good), None, "{good}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b.", "a b@c.de", "a@b@c.de",
        ] {
            assert!(email_error(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(password_error("1234567").is_some());
        assert!(password_error("12345678").is_none());
        assert!(password_error(&"x".repeat(MAX_PASSWORD + 1)).is_some());
    }
}
