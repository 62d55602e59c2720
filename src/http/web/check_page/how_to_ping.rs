//! The addresses a check can be pinged at by email (healthchecks.io's `Check.email()`), shown
//! under "How to ping" only where this instance takes mail (`OVERDUE_SMTP_LISTEN`).

use crate::config::Config;
use crate::store::{CheckRecord, ProjectRecord};

/// The check's ping addresses.
#[derive(Debug)]
pub(super) struct PingEmail {
    /// `<uuid>@<domain>`.
    pub by_code: String,
    /// `<ping key>+<slug>@<domain>`, when the project has a ping key and the check a slug.
    pub by_slug: Option<String>,
    /// Whether keywords in an email's subject or body decide what it means; otherwise
    /// every email is a success.
    pub filtered: bool,
}

impl PingEmail {
    /// `None` when this instance takes no mail: then nothing about email is shown.
    pub fn of(config: &Config, check: &CheckRecord, project: &ProjectRecord) -> Option<PingEmail> {
        config.smtp_listen?;
        let domain = config.ping_email_domain();
        let by_slug = match (&project.ping_key, check.slug.is_empty()) {
            (Some(key), false) => Some(format!("{key}+{}@{domain}", check.slug)),
            _ => None,
        };
        Some(PingEmail {
            by_code: format!("{}@{domain}", check.code),
            by_slug,
            filtered: check.filter_subject || check.filter_body,
        })
    }
}
