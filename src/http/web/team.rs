//! A project's team, on its settings page: the members and their roles, and invitations by
//! address. Someone with an account is added at once and told by email; anyone else gets a
//! mailed link (`/accounts/invite/<token>/`, see `invitation.rs`) that works once, for
//! [`INVITATION_DAYS`] days. Only the link token's hash is stored.

use axum::http::StatusCode;

use super::team_mail::{self, Delivery, Invite, role_label};
use crate::error::AppError;
use crate::http::AppState;
use crate::keys::{hash_secret, random_token};
use crate::store::{NewInvitation, ProjectRecord, Role, SessionRecord};

/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;

/// A member as the team table shows them.
pub struct MemberRow {
    pub id: i64,
    pub email: String,
    pub role: &'static str,
}

/// An invitation as the team table shows it.
pub struct InvitationRow {
    pub id: i64,
    pub email: String,
    pub role: &'static str,
    pub invited_by: Option<String>,
    /// `expires in 6 days`, or `expired`.
    pub expiry: String,
    pub expired: bool,
}

/// The invite form as last sent, and what became of it.
pub struct TeamForm {
    pub email: String,
    /// `readonly`, `member` or `manager`: the role selected.
    pub role: &'static str,
    pub email_error: Option<&'static str>,
    pub role_error: Option<&'static str>,
    /// A refused removal or cancellation.
    pub list_error: Option<&'static str>,
    pub notice: Option<String>,
    /// Why no email went out, when none did.
    pub mail_problem: Option<String>,
    /// The invitation link, shown once when it could not be mailed.
    pub link: Option<String>,
}

impl Default for TeamForm {
    fn default() -> TeamForm {
        TeamForm {
            email: String::new(),
            role: Role::Member.as_str(),
            email_error: None,
            role_error: None,
            list_error: None,
            notice: None,
            mail_problem: None,
            link: None,
        }
    }
}

/// The settings page's Team card.
pub struct TeamSection {
    pub invitation_days: i64,
    pub members: Vec<MemberRow>,
    pub invitations: Vec<InvitationRow>,
    pub form: TeamForm,
}

impl TeamSection {
    pub async fn load(state: &AppState, project_id: i64) -> Result<TeamSection, AppError> {
        let now = state.clock.now().timestamp_millis();
        let members = state
            .store
            .members_of_project(project_id)
            .await?
            .into_iter()
            .map(|(id, email, role)| MemberRow {
                id,
                email,
                role: role.as_str(),
            })
            .collect();
        let invitations = state
            .store
            .invitations_of_project(project_id)
            .await?
            .into_iter()
            .map(|i| InvitationRow {
                id: i.id,
                email: i.email,
                role: i.role.as_str(),
                invited_by: i.invited_by,
                expiry: expiry_text(i.expires_at - now),
                expired: i.expires_at <= now,
            })
            .collect();
        Ok(TeamSection {
            invitation_days: INVITATION_DAYS,
            members,
            invitations,
            form: TeamForm::default(),
        })
    }
}

/// `expires in 6 days` for what is left of an invitation's life, in milliseconds.
fn expiry_text(left_ms: i64) -> String {
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match left_ms {
        ..=0 => "expired".to_owned(),
        // Rounded to the nearest unit: a fresh invitation "expires in 7 days".
        ms if ms >= DAY - HOUR / 2 => format!("expires in {}", plural((ms + DAY / 2) / DAY, "day")),
        ms if ms >= HOUR => format!("expires in {}", plural((ms + HOUR / 2) / HOUR, "hour")),
        _ => "expires within the hour".to_owned(),
    }
}

/// The fields of the settings form the team uses.
pub struct TeamRequest<'a> {
    pub action: &'a str,
    pub email: &'a str,
    pub role: &'a str,
    pub member: i64,
    pub invitation: i64,
}

/// Whether `action` is one of the team's.
pub fn is_team_action(action: &str) -> bool {
    matches!(action, "add-member" | "remove-member" | "cancel-invitation")
}

/// Carries out a team action of a manager; the status and form to show.
pub async fn change(
    state: &AppState,
    session: &SessionRecord,
    project: &ProjectRecord,
    request: &TeamRequest<'_>,
) -> Result<(StatusCode, TeamForm), AppError> {
    let mut form = TeamForm::default();
    match request.action {
        "add-member" => return invite(state, session, project, request).await,
        "remove-member" => {
            if state
                .store
                .remove_member(project.id, request.member)
                .await?
            {
                form.notice = Some("The member is removed.".to_owned());
            } else {
                form.list_error = Some("The owner cannot be removed.");
            }
        }
        "cancel-invitation" => {
            if state
                .store
                .cancel_invitation(project.id, request.invitation)
                .await?
            {
                form.notice =
                    Some("The invitation is cancelled: its link no longer works.".to_owned());
            } else {
                form.list_error = Some("This invitation is no longer pending.");
            }
        }
        _ => return Err(AppError::BadRequest("unknown action".to_owned())),
    }
    let status = if form.list_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, form))
}

/// An address a person can sign up with and be mailed at: the signup form's rule, and one
/// bare address as lettre reads it (no display name, nothing that could add a header).
fn address_error(email: &str) -> Option<&'static str> {
    super::accounts::email_error(email).or_else(|| {
        email
            .parse::<lettre::Address>()
            .is_err()
            .then_some("Enter a valid email address.")
    })
}

/// Adds someone with an account at once, or invites the address by mail.
async fn invite(
    state: &AppState,
    session: &SessionRecord,
    project: &ProjectRecord,
    request: &TeamRequest<'_>,
) -> Result<(StatusCode, TeamForm), AppError> {
    let email = super::accounts::normalize_email(request.email);
    let role = request
        .role
        .parse::<Role>()
        .ok()
        .filter(|r| *r != Role::Owner);
    let mut form = TeamForm {
        email: request.email.trim().to_owned(),
        role: role.map_or(Role::Member.as_str(), Role::as_str),
        email_error: address_error(&email),
        role_error: role
            .is_none()
            .then_some("Choose read-only, member or manager."),
        ..TeamForm::default()
    };
    if form.email_error.is_none() && email == session.user.email {
        form.email_error = Some("You are a member already.");
    }
    let Some(role) = role.filter(|_| form.email_error.is_none()) else {
        return Ok((StatusCode::BAD_REQUEST, form));
    };
    let now = state.clock.now().timestamp_millis();
    let invite = Invite {
        to: &email,
        inviter: &session.user.email,
        project_name: &project.name,
        role,
    };
    let user = state.store.user_by_email(&email).await?;
    let was_member = match &user {
        Some(user) => state
            .store
            .project_of_member(project.code, user.id)
            .await?
            .is_some(),
        None => false,
    };
    // Every invitation or "you were added" mail goes to an address the manager typed, so
    // each manager may send only so many (OVERDUE_RATE_LIMIT_INVITE); role changes are free.
    if !was_member && !state.limits.take_invitation(session.user.id) {
        form.email_error =
            Some("You have sent as many invitations as you may for now. Try again later.");
        return Ok((StatusCode::TOO_MANY_REQUESTS, form));
    }
    if let Some(user) = user {
        if !state
            .store
            .set_member(project.id, user.id, role, now)
            .await?
        {
            form.email_error = Some("The owner's role cannot change.");
            return Ok((StatusCode::BAD_REQUEST, form));
        }
        // Added directly: an older invitation of theirs has no purpose left.
        state.store.cancel_invitation_to(project.id, &email).await?;
        let label = role_label(role);
        if was_member {
            form.notice = Some(format!("The team is updated. {email} is now a {label}."));
        } else {
            form.notice = Some(format!(
                "The team is updated. {email} is added as a {label}."
            ));
            let url = format!("{}/projects/{}/checks/", state.site_root, project.code);
            form.mail_problem = match team_mail::send_added(state, invite, &url).await {
                Delivery::Sent => None,
                Delivery::NotConfigured => Some(
                    "No email told them: this site has no SMTP server (OVERDUE_SMTP_URL)."
                        .to_owned(),
                ),
                Delivery::Failed(error) => {
                    Some(format!("The email telling them could not be sent: {error}"))
                }
            };
        }
        return Ok((
            StatusCode::OK,
            TeamForm {
                email: String::new(),
                ..form
            },
        ));
    }

    let token = random_token();
    let expires_at = now + INVITATION_DAYS * 86_400_000;
    state
        .store
        .create_invitation(&NewInvitation {
            project_id: project.id,
            email: email.clone(),
            role,
            token_hash: hash_secret(&token),
            invited_by: session.user.id,
            created: now,
            expires_at,
        })
        .await?;
    let link = format!("{}/accounts/invite/{token}/", state.site_root);
    let label = role_label(role);
    let lifetime = format!("It works once, for {INVITATION_DAYS} days.");
    let hand_over = format!("Send them this link yourself; it is shown only now. {lifetime}");
    match team_mail::send_invitation(state, invite, &link, expires_at).await {
        Delivery::Sent => {
            form.notice = Some(format!(
                "{email} is invited as a {label}: the link is on its way by email. {lifetime}"
            ));
        }
        Delivery::NotConfigured => {
            form.notice = Some(format!("{email} is invited as a {label}."));
            form.mail_problem = Some(format!(
                "No email was sent: this site has no SMTP server (OVERDUE_SMTP_URL). {hand_over}"
            ));
            form.link = Some(link);
        }
        Delivery::Failed(error) => {
            form.notice = Some(format!("{email} is invited as a {label}."));
            form.mail_problem = Some(format!(
                "The invitation email could not be sent ({error}). {hand_over}"
            ));
            form.link = Some(link);
        }
    }
    form.email = String::new();
    Ok((StatusCode::OK, form))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_told_in_the_largest_whole_unit() {
        let hour = 3_600_000;
        assert_eq!(expiry_text(7 * 24 * hour), "expires in 7 days");
        assert_eq!(expiry_text(7 * 24 * hour - 1), "expires in 7 days");
        assert_eq!(expiry_text(36 * hour - 1), "expires in 1 day");
        assert_eq!(expiry_text(24 * hour), "expires in 1 day");
        assert_eq!(expiry_text(23 * hour + hour / 2), "expires in 1 day");
        assert_eq!(expiry_text(23 * hour), "expires in 23 hours");
        assert_eq!(expiry_text(hour), "expires in 1 hour");
        assert_eq!(expiry_text(1), "expires within the hour");
        assert_eq!(expiry_text(0), "expired");
        assert_eq!(expiry_text(-5), "expired");
    }

    #[test]
    fn invited_addresses_must_be_plain_and_deliverable() {
        assert_eq!(address_error("carol@example.org"), None);
        for bad in [
            "carol",
            "carol@localhost",
            "Carol <carol@example.org>",
            "a\"b@c.de",
        ] {
            assert!(address_error(bad).is_some(), "{bad}");
        }
    }
}
