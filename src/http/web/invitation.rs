//! Answering a team invitation: `/accounts/invite/<token>/`.
//!
//! Opening the link changes nothing (mail scanners open links too); joining is a POST.
//! Logged out, the page signs the invited address up (even when registration is closed: the
//! invitation is the way in) or, if it has an account, logs it in; logged in as the invited
//! address, it is one button. Each way uses the invitation up and lands on the project.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::accounts::{MAX_PASSWORD, hash, password_error, verify, with_cookie};
use super::session::{self, MaybeUser};
use super::team_mail::role_label;
use crate::error::AppError;
use crate::http::AppState;
use crate::keys::hash_secret;
use crate::store::{InvitationOutcome, InvitationRecord, SessionRecord};

/// What the page offers.
enum View {
    /// No pending invitation has this link: made up, used, cancelled or replaced.
    Invalid,
    Expired,
    /// Logged in with another address than the invited one.
    WrongUser,
    /// Logged in as the invited address.
    Join,
    /// Logged out, and the address has no account.
    Signup {
        password_error: Option<String>,
    },
    /// Logged out, and the address has an account.
    Login {
        error: Option<&'static str>,
    },
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/invite.html")]
struct InvitePage {
    view: View,
    /// The form token: the session's, or the anonymous one.
    csrf: String,
    /// The logged-in user's address, for the navigation bar.
    email: Option<String>,
    invited: String,
    project_name: String,
    role: &'static str,
    inviter: Option<String>,
}

impl InvitePage {
    fn new(view: View, invitation: Option<&InvitationRecord>) -> InvitePage {
        InvitePage {
            view,
            csrf: String::new(),
            email: None,
            invited: invitation.map(|i| i.email.clone()).unwrap_or_default(),
            project_name: invitation
                .map(|i| i.project_name.clone())
                .unwrap_or_default(),
            role: invitation.map_or("", |i| role_label(i.role)),
            inviter: invitation.and_then(|i| i.invited_by.clone()),
        }
    }

    fn for_user(mut self, session: &SessionRecord) -> InvitePage {
        self.email = Some(session.user.email.clone());
        self.csrf.clone_from(&session.csrf_token);
        self
    }

    /// The page with its status; the link's token must not leak through a `Referer`.
    fn respond(self, cookie: Option<axum::http::HeaderValue>) -> Response {
        let status = match &self.view {
            View::Invalid => StatusCode::NOT_FOUND,
            View::Expired => StatusCode::GONE,
            View::WrongUser => StatusCode::FORBIDDEN,
            View::Signup { password_error } if password_error.is_some() => StatusCode::BAD_REQUEST,
            View::Login { error: Some(_) } => StatusCode::BAD_REQUEST,
            View::Join | View::Signup { .. } | View::Login { .. } => StatusCode::OK,
        };
        let mut response = with_cookie(status, cookie, self);
        response.headers_mut().insert(
            header::REFERRER_POLICY,
            axum::http::HeaderValue::from_static("no-referrer"),
        );
        response
    }
}

/// The pending invitation the link names, or the page saying why there is none.
async fn find(state: &AppState, token: &str) -> Result<Result<InvitationRecord, View>, AppError> {
    let Some(invitation) = state.store.invitation_by_token(&hash_secret(token)).await? else {
        return Ok(Err(View::Invalid));
    };
    if invitation.expires_at <= state.clock.now().timestamp_millis() {
        return Ok(Err(View::Expired));
    }
    Ok(Ok(invitation))
}

/// `GET /accounts/invite/<token>/`.
pub async fn show(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let invitation = match find(&state, &token).await? {
        Ok(invitation) => invitation,
        Err(view) => {
            let page = InvitePage::new(view, None);
            return Ok(match &user {
                Some(session) => page.for_user(session),
                None => page,
            }
            .respond(None));
        }
    };
    if let Some(session) = user {
        let view = if session.user.email == invitation.email {
            View::Join
        } else {
            View::WrongUser
        };
        return Ok(InvitePage::new(view, Some(&invitation))
            .for_user(&session)
            .respond(None));
    }
    let (csrf, cookie) = session::anonymous_token(&state, &headers);
    let view = if state
        .store
        .user_by_email(&invitation.email)
        .await?
        .is_some()
    {
        View::Login { error: None }
    } else {
        View::Signup {
            password_error: None,
        }
    };
    let mut page = InvitePage::new(view, Some(&invitation));
    page.csrf = csrf;
    Ok(page.respond(cookie))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Answer {
    csrf: String,
    /// A new password (signing up) or the account's (logging in); none when logged in.
    password: String,
}

/// `POST /accounts/invite/<token>/`: join, signing up or logging in first if need be.
pub async fn answer(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Answer>,
) -> Result<Response, AppError> {
    let form_ok = match &user {
        Some(session) => session::session_form_ok(&state, &headers, session, &form.csrf),
        None => session::anonymous_form_ok(&state, &headers, &form.csrf),
    };
    if !form_ok {
        return Ok(session::forbidden());
    }
    let invitation = match find(&state, &token).await? {
        Ok(invitation) => invitation,
        Err(view) => return Ok(InvitePage::new(view, None).respond(None)),
    };
    let token_hash = hash_secret(&token);
    let now = state.clock.now().timestamp_millis();
    let page = |view| {
        let mut page = InvitePage::new(view, Some(&invitation));
        page.csrf.clone_from(&form.csrf);
        page
    };

    // Logged in: only as the invited address.
    if let Some(session) = user {
        if session.user.email != invitation.email {
            return Ok(page(View::WrongUser).for_user(&session).respond(None));
        }
        let outcome = state
            .store
            .accept_invitation(&token_hash, session.user.id, &session.user.email, now)
            .await?;
        return Ok(joined(outcome, None));
    }

    // Logged out, with an account: its password.
    if let Some(account) = state.store.user_by_email(&invitation.email).await? {
        let password = form.password.chars().take(MAX_PASSWORD).collect();
        if !verify(password, Some(account.password_hash.clone())).await? {
            let error = Some("Incorrect password.");
            return Ok(page(View::Login { error }).respond(None));
        }
        let outcome = state
            .store
            .accept_invitation(&token_hash, account.id, &account.email, now)
            .await?;
        if !matches!(outcome, InvitationOutcome::Joined(_)) {
            return Ok(joined(outcome, None));
        }
        let cookie = session::start(&state, account.id).await?;
        return Ok(joined(outcome, Some(cookie)));
    }

    // Logged out, no account: sign the invited address up.
    if let Some(error) = password_error(&form.password) {
        let view = View::Signup {
            password_error: Some(error),
        };
        return Ok(page(view).respond(None));
    }
    let password_hash = hash(form.password.clone()).await?;
    let (new_session, session_token) = session::new_session(&state);
    let outcome = state
        .store
        .accept_invitation_with_signup(&token_hash, &password_hash, &new_session, now)
        .await?;
    if outcome == InvitationOutcome::AccountExists {
        // Someone signed this address up meanwhile: the invitation still waits for them.
        let error = Some("This address has an account now: log in with its password.");
        return Ok(page(View::Login { error }).respond(None));
    }
    let cookie = session::session_cookie(&state, &session_token);
    Ok(joined(outcome, Some(cookie)))
}

/// To the project once joined; otherwise the invitation was used up in the meantime.
fn joined(outcome: InvitationOutcome, cookie: Option<axum::http::HeaderValue>) -> Response {
    match outcome {
        InvitationOutcome::Joined(code) => {
            let to = format!("/projects/{code}/checks/");
            with_cookie(StatusCode::SEE_OTHER, cookie, [(header::LOCATION, to)])
        }
        InvitationOutcome::NotValid | InvitationOutcome::AccountExists => {
            InvitePage::new(View::Invalid, None).respond(None)
        }
    }
}
