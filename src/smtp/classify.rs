//! What an email ping means: the check's subject and body keyword filters, as
//! healthchecks.io's smtpd applies them. Pure: the message and the check in, an action out.

use mail_parser::{MessageParser, PartType};

use crate::domain::check::Action;
use crate::store::CheckRecord;

/// The action of an email ping to `check`. Without `filter_subject` and `filter_body` it is
/// a success and the message is not even parsed; with either, the text they select is
/// classified by the check's keywords (failure, then success, then start; otherwise fail
/// or ignore as `filter_default_fail` says). `filter_http_body` and `methods` are for HTTP
/// pings only.
pub fn classify(check: &CheckRecord, message: &[u8]) -> Action {
    if !check.filter_subject && !check.filter_body {
        return Action::Success;
    }
    let text = filter_text(message, check.filter_subject, check.filter_body);
    check.state.classify_text(&text)
}

/// The text keyword filters search (healthchecks.io `_to_text`): the decoded subject when
/// `with_subject`, then, when `with_body`, the plain-text body and the HTML body turned into
/// text, joined by newlines. A message that cannot be parsed has no text, so it matches no
/// keyword.
pub fn filter_text(message: &[u8], with_subject: bool, with_body: bool) -> String {
    let Some(parsed) = MessageParser::default().parse(message) else {
        return String::new();
    };
    let mut chunks: Vec<String> = Vec::new();
    if with_subject {
        chunks.push(parsed.subject().unwrap_or_default().to_owned());
    }
    if with_body {
        // A message without a text/plain body lists its HTML part among its text bodies
        // too; only a part that really is plain text counts here, as in healthchecks.io.
        let plain = parsed.text_bodies().find_map(|part| match &part.body {
            PartType::Text(text) => Some(text.to_string()),
            _ => None,
        });
        let html = parsed.html_bodies().find_map(|part| match &part.body {
            PartType::Html(html) => Some(mail_parser::decoders::html::html_to_text(html)),
            _ => None,
        });
        chunks.extend(plain);
        chunks.extend(html);
    }
    chunks.join("\n")
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn check(subject: bool, body: bool, default_fail: bool) -> CheckRecord {
        let mut check = CheckRecord::new(1, Utc::now());
        check.filter_subject = subject;
        check.filter_body = body;
        check.state.filter_default_fail = default_fail;
        check.state.start_kw = "STARTED, begins".to_owned();
        check.state.success_kw = "SUCCESS".to_owned();
        check.state.failure_kw = "FAILED,ERROR".to_owned();
        check
    }

    const PLAIN: &[u8] =
        b"From: cron@example.org\r\nSubject: Backup SUCCESS\r\n\r\nAll done, no ERROR.\r\n";

    #[test]
    fn without_filters_every_message_is_a_success() {
        let mut check = check(false, false, true);
        check.state.filter_http_body = true;
        assert_eq!(classify(&check, PLAIN), Action::Success);
        assert_eq!(classify(&check, b"\xff\xfe not a message"), Action::Success);
    }

    #[test]
    fn the_subject_filter_reads_only_the_subject() {
        assert_eq!(classify(&check(true, false, false), PLAIN), Action::Success);
    }

    #[test]
    fn the_body_filter_reads_the_body_and_failure_wins() {
        assert_eq!(classify(&check(false, true, false), PLAIN), Action::Fail);
        assert_eq!(classify(&check(true, true, false), PLAIN), Action::Fail);
    }

    #[test]
    fn start_keywords_start_and_nothing_matching_ignores_or_fails() {
        let start = b"Subject: Job STARTED\r\n\r\nhello\r\n";
        assert_eq!(classify(&check(true, false, false), start), Action::Start);
        let neither = b"Subject: Job report\r\n\r\nhello\r\n";
        assert_eq!(classify(&check(true, true, false), neither), Action::Ign);
        assert_eq!(classify(&check(true, true, true), neither), Action::Fail);
    }

    #[test]
    fn keywords_are_case_sensitive_substrings() {
        let lower = b"Subject: backup success\r\n\r\n";
        assert_eq!(classify(&check(true, false, false), lower), Action::Ign);
    }

    #[test]
    fn encoded_subjects_are_decoded() {
        // "Sauvegarde réussie: SUCCESS" in RFC 2047 base64 and quoted-printable words.
        let b64 = b"Subject: =?UTF-8?B?U2F1dmVnYXJkZSByw6l1c3NpZTogU1VDQ0VTUw==?=\r\n\r\nx\r\n";
        assert_eq!(
            filter_text(b64, true, false),
            "Sauvegarde r\u{e9}ussie: SUCCESS"
        );
        assert_eq!(classify(&check(true, false, false), b64), Action::Success);
        let qp = b"Subject: =?iso-8859-1?Q?=C9chec:_FAILED?=\r\n\r\nx\r\n";
        assert_eq!(filter_text(qp, true, false), "\u{c9}chec: FAILED");
        assert_eq!(classify(&check(true, false, false), qp), Action::Fail);
    }

    #[test]
    fn html_only_bodies_are_read_as_text() {
        let html = b"Subject: report\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
            <html><head><style>p{}</style></head><body><p>Job <b>SUCC</b>ESS</p>\
            <p>backup <i>SUCCESS</i></p></body></html>\r\n";
        let text = filter_text(html, false, true);
        assert!(text.contains("backup SUCCESS"), "{text:?}");
        assert!(!text.contains('<'), "{text:?}");
        assert_eq!(classify(&check(false, true, false), html), Action::Success);
        // Tags and styles are no text: a keyword split by markup does not match.
        let mut keywords_in_markup = check(false, true, false);
        keywords_in_markup.state.success_kw = "b>SUCC".to_owned();
        assert_eq!(classify(&keywords_in_markup, html), Action::Ign);
    }

    #[test]
    fn alternative_parts_give_both_the_plain_and_the_html_text() {
        let message = b"Subject: report\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
            --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain part\r\n\
            --b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html ERROR part</p>\r\n\
            --b1--\r\n";
        let text = filter_text(message, true, true);
        assert!(text.starts_with("report\nplain part"), "{text:?}");
        assert!(text.contains("html ERROR part"), "{text:?}");
        assert_eq!(classify(&check(false, true, false), message), Action::Fail);
    }

    #[test]
    fn transfer_encodings_are_decoded() {
        let message = b"Subject: report\r\nContent-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: base64\r\n\r\nQmFja3VwIEZBSUxFRA==\r\n";
        assert_eq!(filter_text(message, false, true), "Backup FAILED");
    }

    #[test]
    fn attachments_are_not_body_text() {
        let message = b"Subject: report\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
            --b1\r\nContent-Type: text/plain\r\n\r\nall good\r\n\
            --b1\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=log.txt\r\n\r\n\
            ERROR in the old log\r\n--b1--\r\n";
        assert_eq!(classify(&check(false, true, false), message), Action::Ign);
    }

    #[test]
    fn a_message_that_cannot_be_parsed_matches_no_keyword() {
        assert_eq!(filter_text(b"", true, true), "");
        assert_eq!(classify(&check(true, true, false), b""), Action::Ign);
        assert_eq!(classify(&check(true, true, true), b""), Action::Fail);
    }
}
