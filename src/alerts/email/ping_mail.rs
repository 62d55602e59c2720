//! What an email ping says. The SMTP listener stores the whole message as the ping's body;
//! the alert email and the check page read its subject and text from there.

use mail_parser::MessageParser;

use crate::store::PingRecord;

/// The parts of an email ping's message that are shown to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingMail {
    /// The Subject header, RFC 2047 encoded words decoded; empty when there is none.
    pub subject: String,
    /// The first text part (an HTML-only message's HTML as text); empty when there is none.
    pub text: String,
}

impl PingMail {
    /// The message of `ping`, if it came by email and has one.
    pub fn of(ping: &PingRecord) -> Option<PingMail> {
        if !is_email(ping) {
            return None;
        }
        let raw = ping.body.as_deref().filter(|b| !b.is_empty())?;
        Some(PingMail::parse(raw))
    }

    /// Reads a raw RFC 5322 message. Whatever arrives by mail is accepted: a message that
    /// cannot be parsed has no subject and no text, rather than failing the page or the alert.
    pub fn parse(raw: &[u8]) -> PingMail {
        let Some(message) = MessageParser::default().parse(raw) else {
            return PingMail {
                subject: String::new(),
                text: String::new(),
            };
        };
        PingMail {
            subject: one_line(message.subject().unwrap_or_default()),
            text: message
                .body_text(0)
                .map(|text| text.trim().to_owned())
                .unwrap_or_default(),
        }
    }
}

/// Whether the ping came by email (healthchecks.io's `Ping.scheme == "email"`).
pub fn is_email(ping: &PingRecord) -> bool {
    ping.scheme == "email"
}

/// A decoded subject may hold line breaks or other control characters (an encoded word can
/// carry anything); shown on one line, each becomes a space.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::email::test_support::{at, ping};

    fn email_ping(body: &[u8]) -> PingRecord {
        let mut p = ping(None, at(2026, 11, 4, 11, 58));
        p.scheme = "email".to_owned();
        p.method = String::new();
        p.ua = "Email from cron@example.org".to_owned();
        p.body = Some(body.to_vec());
        p
    }

    #[test]
    fn encoded_words_in_the_subject_are_decoded() {
        let raw = b"From: cron@example.org\r\n\
            Subject: =?UTF-8?Q?Sauvegarde_r=C3=A9ussie?= =?ISO-8859-1?Q?_=E0_3h?=\r\n\
            \r\n\
            All good.\r\n";
        let mail = PingMail::of(&email_ping(raw)).expect("an email");
        assert_eq!(mail.subject, "Sauvegarde réussie à 3h");
        assert_eq!(mail.text, "All good.");
    }

    #[test]
    fn base64_subjects_and_folded_headers_are_read_whole() {
        let raw = b"Subject: =?utf-8?B?0JHRjdC60LDQvyDQs9C+0YLQvtCy?=\n \n\
            \tand more\n\nbody\n";
        let mail = PingMail::parse(raw);
        assert_eq!(mail.subject, "Бэкап готов and more");
    }

    #[test]
    fn an_html_only_message_is_read_as_text() {
        let raw =
            b"Subject: report\r\nContent-Type: text/html\r\n\r\n<p>Done: <b>42</b> rows</p>\r\n";
        let mail = PingMail::parse(raw);
        assert!(mail.text.contains("Done:"), "{mail:?}");
        assert!(!mail.text.contains("<b>"), "{mail:?}");
    }

    #[test]
    fn control_characters_in_the_subject_become_spaces() {
        let raw = b"Subject: =?UTF-8?Q?one=0D=0ABcc:_eve@example.org?=\r\n\r\nx\r\n";
        let mail = PingMail::parse(raw);
        assert!(!mail.subject.contains(['\r', '\n']), "{mail:?}");
        assert!(mail.subject.starts_with("one"), "{mail:?}");
    }

    #[test]
    fn http_pings_and_empty_messages_have_no_mail() {
        let mut http = email_ping(b"Subject: x\r\n\r\ny");
        http.scheme = "https".to_owned();
        assert_eq!(PingMail::of(&http), None);
        assert_eq!(PingMail::of(&email_ping(b"")), None);
        let mut no_body = email_ping(b"");
        no_body.body = None;
        assert_eq!(PingMail::of(&no_body), None);
    }

    #[test]
    fn garbage_is_a_mail_without_subject() {
        let mail = PingMail::parse(b"\xff\xfe\x00not a message");
        assert_eq!(mail.subject, "");
    }
}
