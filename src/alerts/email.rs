//! Alert emails, sent through SMTP with lettre: the email channel's settings, the messages
//! (an alert about a check, an address verification), the SMTP mailer, and reading the
//! message an email ping carries.

mod mailer;
mod message;
mod ping_mail;
#[cfg(test)]
mod test_support;

pub use mailer::Mailer;
pub(crate) use mailer::SEND_DEADLINE;
pub(crate) use message::html_document;
pub use message::{alert_message, escape_html, verification_message};
pub use ping_mail::{PingMail, is_email};

use serde::{Deserialize, Serialize};

use super::Direction;

/// The longest address accepted (RFC 5321's path limit, and Django's `EmailField`).
const MAX_ADDRESS_CHARS: usize = 254;

/// An email channel's settings, stored as healthchecks.io stores them in `Channel.value`:
/// `{"value": "alice@example.org", "up": true, "down": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailConfig {
    /// The recipient address.
    pub value: String,
    /// Send a notice when a check comes back up.
    pub up: bool,
    /// Send a notice when a check goes down.
    pub down: bool,
}

impl EmailConfig {
    /// Reads a stored channel value. Besides the JSON shape, healthchecks.io still accepts the
    /// legacy plain address, which means both directions.
    pub fn from_stored(value: &str) -> Result<EmailConfig, String> {
        if value.trim_start().starts_with('{') {
            serde_json::from_str(value).map_err(|e| format!("Invalid email channel value: {e}"))
        } else {
            Ok(EmailConfig {
                value: value.to_owned(),
                up: true,
                down: true,
            })
        }
    }

    /// Checks that `value` is one plausible address. Both flags may be off: the channel then
    /// never sends anything, which healthchecks.io allows too.
    pub fn validate(&self) -> Result<(), String> {
        let chars = self.value.chars().count();
        if chars > MAX_ADDRESS_CHARS {
            return Err(format!(
                "value: Ensure this value has at most {MAX_ADDRESS_CHARS} characters (it has {chars})."
            ));
        }
        // lettre's parser takes a bare `local@domain` only: no display name, no list, and
        // nothing around it (so no header injection through the address).
        match self.value.parse::<lettre::Address>() {
            Ok(_) => Ok(()),
            Err(_) => Err("value: Enter a valid email address.".to_owned()),
        }
    }

    /// Whether a notice in `direction` should be sent to this channel.
    pub fn wants(&self, direction: Direction) -> bool {
        match direction {
            Direction::Up => self.up,
            Direction::Down => self.down,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: &str) -> EmailConfig {
        EmailConfig {
            value: value.to_owned(),
            up: true,
            down: true,
        }
    }

    #[test]
    fn config_reads_and_writes_healthchecks_json_shape() {
        let stored = r#"{"value":"alice@example.org","up":false,"down":true}"#;
        let parsed = EmailConfig::from_stored(stored).unwrap();
        assert_eq!(
            parsed,
            EmailConfig {
                value: "alice@example.org".to_owned(),
                up: false,
                down: true
            }
        );
        assert_eq!(serde_json::to_string(&parsed).unwrap(), stored);
    }

    #[test]
    fn legacy_plain_address_means_both_directions() {
        let parsed = EmailConfig::from_stored("bob@example.org").unwrap();
        assert_eq!(parsed, config("bob@example.org"));
    }

    #[test]
    fn malformed_json_value_is_an_error() {
        let err = EmailConfig::from_stored(r#"{"value": "a@b.c"}"#).unwrap_err();
        assert!(err.starts_with("Invalid email channel value"), "{err}");
    }

    #[test]
    fn validate_accepts_plain_addresses() {
        for value in [
            "alice@example.org",
            "a.b+tag@sub.example.co.uk",
            "x@localhost",
        ] {
            assert_eq!(config(value).validate(), Ok(()), "{value}");
        }
    }

    #[test]
    fn validate_rejects_anything_but_one_address() {
        for value in [
            "",
            "alice",
            "alice@",
            "@example.org",
            "Alice <alice@example.org>",
            "a@example.org, b@example.org",
            " alice@example.org",
            "alice@example.org\r\nBcc: eve@example.org",
        ] {
            assert_eq!(
                config(value).validate(),
                Err("value: Enter a valid email address.".to_owned()),
                "{value:?}"
            );
        }
    }

    #[test]
    fn validate_rejects_addresses_over_254_characters() {
        let value = format!("{}@example.org", "a".repeat(250));
        let err = config(&value).validate().unwrap_err();
        assert_eq!(
            err,
            "value: Ensure this value has at most 254 characters (it has 262)."
        );
    }

    #[test]
    fn wants_follows_the_direction_flags() {
        let only_down = EmailConfig {
            up: false,
            ..config("a@example.org")
        };
        assert!(only_down.wants(Direction::Down));
        assert!(!only_down.wants(Direction::Up));

        let neither = EmailConfig {
            up: false,
            down: false,
            ..config("a@example.org")
        };
        assert_eq!(neither.validate(), Ok(()));
        assert!(!neither.wants(Direction::Up) && !neither.wants(Direction::Down));
    }
}
