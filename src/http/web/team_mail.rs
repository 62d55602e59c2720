//! The team's email: an invitation with its link, and the notice to someone added at once.
//!
//! Sent while the manager waits, through the alert mailer's SMTP settings, so the page can
//! say truthfully whether the message left: unlike an alert, an invitation has nobody to
//! retry it for, and the manager can hand the link over another way.

use chrono::DateTime;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

use crate::alerts::Outcome;
use crate::alerts::email::{Mailer, html_document};
use crate::domain::escape_html;
use crate::http::AppState;
use crate::store::Role;

/// The name messages sign with, as alert email does.
const SITE_NAME: &str = "Overdue";

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// No SMTP server is configured (`OVERDUE_SMTP_URL`).
    NotConfigured,
    /// The relay refused it or could not be reached; the reason, for the manager.
    Failed(String),
}

/// Who invites whom to what.
#[derive(Debug, Clone, Copy)]
pub struct Invite<'a> {
    pub to: &'a str,
    pub inviter: &'a str,
    pub project_name: &'a str,
    pub role: Role,
}

/// How a role is named in prose.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::ReadOnly => "read-only member",
        Role::Member => "member",
        Role::Manager => "manager",
        Role::Owner => "owner",
    }
}

/// Mails the invitation link, which works until `expires_at` (epoch milliseconds).
pub async fn send_invitation(
    state: &AppState,
    invite: Invite<'_>,
    link: &str,
    expires_at: i64,
) -> Delivery {
    let until = DateTime::from_timestamp_millis(expires_at)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
    let Invite {
        inviter,
        project_name,
        ..
    } = invite;
    let role = role_label(invite.role);
    let text = format!(
        "Hello,\n\n\
         {inviter} invites you to join the project \"{project_name}\" on {SITE_NAME} as a \
         {role}. To accept, open this link:\n\n\
         {link}\n\n\
         The link works once, until {until}. If you did not expect this invitation, you can \
         ignore it.\n\n\
         --\nRegards,\n{SITE_NAME}\n"
    );
    let (inviter, project, url) = (
        escape_html(inviter),
        escape_html(project_name),
        escape_html(link),
    );
    let html = format!(
        "<p>Hello,</p>\n\
         <p>{inviter} invites you to join the project \"{project}\" on {SITE_NAME} as a \
         {role}. To accept, open this link:</p>\n\
         <p><a href=\"{url}\">{url}</a></p>\n\
         <p>The link works once, until {until}. If you did not expect this invitation, you \
         can ignore it.</p>\n\
         <p>--<br>\nRegards,<br>\n{SITE_NAME}</p>\n"
    );
    let subject = format!("Invitation to join {project_name} on {SITE_NAME}");
    send(state, invite.to, &subject, text, html).await
}

/// Tells someone with an account that they were added to a project.
pub async fn send_added(state: &AppState, invite: Invite<'_>, project_url: &str) -> Delivery {
    let Invite {
        inviter,
        project_name,
        ..
    } = invite;
    let role = role_label(invite.role);
    let text = format!(
        "Hello,\n\n\
         {inviter} added you to the project \"{project_name}\" on {SITE_NAME} as a {role}:\n\n\
         {project_url}\n\n\
         --\nRegards,\n{SITE_NAME}\n"
    );
    let (inviter, project, url) = (
        escape_html(inviter),
        escape_html(project_name),
        escape_html(project_url),
    );
    let html = format!(
        "<p>Hello,</p>\n\
         <p>{inviter} added you to the project \"{project}\" on {SITE_NAME} as a {role}:</p>\n\
         <p><a href=\"{url}\">{url}</a></p>\n\
         <p>--<br>\nRegards,<br>\n{SITE_NAME}</p>\n"
    );
    let subject = format!("You were added to {project_name} on {SITE_NAME}");
    send(state, invite.to, &subject, text, html).await
}

async fn send(state: &AppState, to: &str, subject: &str, text: String, html: String) -> Delivery {
    let Some(url) = &state.config.smtp_url else {
        return Delivery::NotConfigured;
    };
    let message = match compose(&state.config.email_from, to, subject, text, &html) {
        Ok(message) => message,
        Err(err) => return Delivery::Failed(err),
    };
    let mailer = match Mailer::new(url.expose()) {
        Ok(mailer) => mailer,
        Err(err) => return Delivery::Failed(err),
    };
    match mailer.send(message).await {
        Outcome::Delivered { .. } => Delivery::Sent,
        Outcome::Failed { error, .. } => Delivery::Failed(error),
    }
}

/// A multipart/alternative message with a Message-ID on the sender's domain.
fn compose(
    from: &str,
    to: &str,
    subject: &str,
    text: String,
    html: &str,
) -> Result<Message, String> {
    let from: Mailbox = from
        .parse()
        .map_err(|_| "The sender address (OVERDUE_EMAIL_FROM) is invalid.".to_owned())?;
    let to: Mailbox = to
        .parse()
        .map_err(|_| "The recipient address is invalid.".to_owned())?;
    let id = uuid::Uuid::new_v4();
    // A project name may hold anything: the subject must stay one header line.
    let subject: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Message::builder()
        .message_id(Some(format!("<{id}@{}>", from.email.domain())))
        .from(from)
        .to(to)
        .subject(subject)
        .multipart(MultiPart::alternative_plain_html(text, html_document(html)))
        .map_err(|e| format!("Could not build the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_stay_on_one_line() {
        let message = compose(
            "Overdue <alerts@example.org>",
            "bob@example.org",
            "Invitation to join a\r\nBcc: eve@example.org",
            "text".to_owned(),
            "<p>html</p>",
        )
        .expect("message");
        let raw = String::from_utf8(message.formatted()).expect("UTF-8");
        assert!(!raw.contains("\nBcc:"), "{raw}");
        assert!(raw.contains("Message-ID: <"), "{raw}");
    }

    #[test]
    fn a_bad_recipient_is_an_error_not_a_panic() {
        let err = compose("a@example.org", "not an address", "s", String::new(), "").unwrap_err();
        assert_eq!(err, "The recipient address is invalid.");
    }
}
