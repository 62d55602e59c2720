//! The messages: an alert about a check and an address verification, each as plain text with
//! an HTML alternative rendered from the same content, so the two never disagree.

use chrono::Duration;
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use uuid::Uuid;

use super::ping_mail::PingMail;
use crate::alerts::{Direction, Notice};
use crate::domain::check::CheckKind;
use crate::store::{CheckRecord, PingRecord};

pub use crate::domain::escape_html;

/// How much of the last ping's body an alert quotes. healthchecks.io quotes 10000 characters;
/// Overdue quotes the end, where a failing job's error usually is.
const BODY_EXCERPT_CHARS: usize = 10_000;

/// The file name of the last email ping, attached to an alert (healthchecks.io's).
const LAST_PING_ATTACHMENT: &str = "last-ping.eml";

/// Renders the alert about `notice` for one recipient.
///
/// The subject is `DOWN | <name>` or `UP | <name>`, test notices included, and the Message-ID
/// is derived from the outbox row, so a retried delivery is recognisably the same message.
pub fn alert_message(
    notice: &Notice,
    from: &Mailbox,
    to: &str,
    site_name: &str,
) -> Result<Message, String> {
    let alert = Alert::from_notice(notice, site_name);
    let body = MultiPart::alternative_plain_html(alert.text(), alert.html());
    // An email ping is attached whole rather than quoted: it is a message of its own, with
    // headers and parts that quoting would flatten.
    let body = match alert.message {
        Some(raw) => MultiPart::mixed()
            .multipart(body)
            .singlepart(message_attachment(raw)),
        None => body,
    };
    compose(from, to, notice.id, &alert.subject(), body)
}

/// The raw message as a `message/rfc822` part. RFC 2046 allows such a part only the 7bit,
/// 8bit and binary encodings, so those are used when the message fits them (its line ends
/// made CRLF); a message that fits neither (a stray non-UTF-8 byte, an overlong line) is sent
/// in base64, which mail clients still open.
fn message_attachment(raw: &[u8]) -> SinglePart {
    let fitting = std::str::from_utf8(raw).ok().and_then(|text| {
        [
            ContentTransferEncoding::SevenBit,
            ContentTransferEncoding::EightBit,
        ]
        .into_iter()
        .find_map(|encoding| Body::new_with_encoding(text.to_owned(), encoding).ok())
    });
    // lettre would pick quoted-printable for a mostly ASCII message; base64 is asked for by
    // name (it fits any bytes, so the fallback to lettre's choice is never taken).
    let body = fitting.unwrap_or_else(|| {
        Body::new_with_encoding(raw.to_vec(), ContentTransferEncoding::Base64)
            .unwrap_or_else(Body::new)
    });
    let content_type = ContentType::parse("message/rfc822").expect("a valid content type");
    Attachment::new(LAST_PING_ATTACHMENT.to_owned()).body(body, content_type)
}

/// Renders the message asking the owner of `to` to confirm it may receive a project's alerts.
pub fn verification_message(
    from: &Mailbox,
    to: &str,
    verify_url: &str,
    project_name: &str,
    site_name: &str,
    id: Uuid,
) -> Result<Message, String> {
    let text = format!(
        "Hello,\n\n\
         To start receiving {site_name} notifications for the project \"{project_name}\" \
         to this address, please follow the link below:\n\n\
         {verify_url}\n\n\
         --\nRegards,\n{site_name}\n"
    );
    let (site, project, url) = (
        escape_html(site_name),
        escape_html(project_name),
        escape_html(verify_url),
    );
    let html = html_document(&format!(
        "<p>Hello,</p>\n\
         <p>To start receiving {site} notifications for the project \"{project}\" to this \
         address, please follow the link below:</p>\n\
         <p><a href=\"{url}\">{url}</a></p>\n\
         <p>--<br>\nRegards,<br>\n{site}</p>\n"
    ));
    compose(
        from,
        to,
        id,
        &format!("Verify email address on {site_name}"),
        MultiPart::alternative_plain_html(text, html),
    )
}

/// Assembles a message with a Message-ID on the sender's domain.
fn compose(
    from: &Mailbox,
    to: &str,
    id: Uuid,
    subject: &str,
    body: MultiPart,
) -> Result<Message, String> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("Invalid recipient address: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(single_line(subject))
        .message_id(Some(format!("<{id}@{}>", from.email.domain())))
        .multipart(body)
        .map_err(|e| format!("Could not build the message: {e}"))
}

/// A subject built from a check name must stay one header line, whatever the name holds.
fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What an alert says, independent of how it is shown.
struct Alert<'a> {
    direction: Direction,
    /// The check's name, or its UUID when unnamed.
    name: String,
    reason: Option<&'static str>,
    downtime: Option<String>,
    site_name: &'a str,
    check_url: &'a str,
    description: &'a str,
    details: Vec<(String, String)>,
    body: Option<LastPingBody>,
    /// The last ping's raw message, when it came by email.
    message: Option<&'a [u8]>,
}

/// What the "Last Ping Body" section shows.
enum LastPingBody {
    /// The quoted end of an HTTP ping's body.
    Excerpt(BodyExcerpt),
    /// An email ping: its message is attached.
    Attached,
}

/// The quoted end of the last ping's body.
struct BodyExcerpt {
    text: String,
    truncated: bool,
}

impl<'a> Alert<'a> {
    fn from_notice(notice: &'a Notice, site_name: &'a str) -> Self {
        let check = &notice.check;
        let name = if check.name.is_empty() {
            check.code.to_string()
        } else {
            check.name.clone()
        };
        let (reason, downtime) = match notice.direction {
            Direction::Down => (reason_text(&notice.reason), None),
            Direction::Up => (None, notice.downtime.map(format_approx_duration)),
        };
        let last_ping = notice.last_ping.as_ref();
        // A message that came by email is attached, not quoted (healthchecks.io's "See the
        // attachment."): `mail` is only there for an email ping with a message.
        let mail = last_ping.and_then(PingMail::of);
        let message = last_ping
            .and_then(|p| p.body.as_deref())
            .filter(|_| mail.is_some());
        let body = if mail.is_some() {
            Some(LastPingBody::Attached)
        } else {
            last_ping.and_then(body_excerpt).map(LastPingBody::Excerpt)
        };
        Alert {
            direction: notice.direction,
            name,
            reason,
            downtime,
            site_name,
            check_url: &notice.check_url,
            description: check.desc.trim(),
            details: details(notice, mail.as_ref()),
            body,
            message,
        }
    }

    fn subject(&self) -> String {
        let label = match self.direction {
            Direction::Down => "DOWN",
            Direction::Up => "UP",
        };
        format!("{label} | {}", self.name)
    }

    fn headline(&self) -> String {
        match self.direction {
            Direction::Down => format!("The check \"{}\" has gone down.", self.name),
            Direction::Up => format!("The check \"{}\" is now up.", self.name),
        }
    }

    fn downtime_line(&self) -> Option<String> {
        self.downtime
            .as_ref()
            .map(|d| format!("The downtime lasted {d}."))
    }

    fn text(&self) -> String {
        let mut out = format!("{}\n", self.headline());
        if let Some(reason) = self.reason {
            out.push_str(&format!("Reason: {reason}.\n"));
        }
        if let Some(line) = self.downtime_line() {
            out.push_str(&format!("{line}\n"));
        }
        out.push_str(&format!(
            "\nView on {}: {}\n",
            self.site_name, self.check_url
        ));
        if !self.description.is_empty() {
            out.push_str(&format!(
                "\nDescription:\n------------\n{}\n",
                self.description
            ));
        }
        out.push_str("\nDetails:\n--------\n");
        for (label, value) in &self.details {
            out.push_str(&format!("{label}: {value}\n"));
        }
        match &self.body {
            Some(LastPingBody::Excerpt(body)) => {
                out.push_str("\nLast Ping Body:\n---------------\n");
                if body.truncated {
                    out.push_str(&truncation_note());
                    out.push('\n');
                }
                out.push_str(&body.text);
                out.push('\n');
            }
            Some(LastPingBody::Attached) => {
                out.push_str("\nLast Ping Body:\n---------------\nSee the attachment.\n");
            }
            None => {}
        }
        out
    }

    fn html(&self) -> String {
        let color = match self.direction {
            Direction::Down => "#d9534f",
            Direction::Up => "#5cb85c",
        };
        let mut out = format!(
            "<p style=\"font-size: 18px; color: {color};\"><strong>{}</strong></p>\n",
            escape_html(&self.headline())
        );
        if let Some(reason) = self.reason {
            out.push_str(&format!("<p>Reason: {}.</p>\n", escape_html(reason)));
        }
        if let Some(line) = self.downtime_line() {
            out.push_str(&format!("<p>{}</p>\n", escape_html(&line)));
        }
        out.push_str(&format!(
            "<p><a href=\"{url}\">View on {site}</a>: {url}</p>\n",
            url = escape_html(self.check_url),
            site = escape_html(self.site_name),
        ));
        if !self.description.is_empty() {
            out.push_str(&format!(
                "<h3>Description</h3>\n<p style=\"white-space: pre-wrap;\">{}</p>\n",
                escape_html(self.description)
            ));
        }
        out.push_str("<h3>Details</h3>\n<table cellpadding=\"4\">\n");
        for (label, value) in &self.details {
            out.push_str(&format!(
                "<tr><th align=\"left\" valign=\"top\">{}</th>\
                 <td style=\"white-space: pre-wrap;\">{}</td></tr>\n",
                escape_html(label),
                escape_html(value)
            ));
        }
        out.push_str("</table>\n");
        match &self.body {
            Some(LastPingBody::Excerpt(body)) => {
                out.push_str("<h3>Last Ping Body</h3>\n");
                if body.truncated {
                    out.push_str(&format!("<p><em>{}</em></p>\n", truncation_note()));
                }
                out.push_str(&format!(
                    "<pre style=\"white-space: pre-wrap;\">{}</pre>\n",
                    escape_html(&body.text)
                ));
            }
            Some(LastPingBody::Attached) => {
                out.push_str("<h3>Last Ping Body</h3>\n<p>See the attachment.</p>\n");
            }
            None => {}
        }
        html_document(&out)
    }
}

/// healthchecks.io's long form of a flip reason (`Flip.reason_long`).
fn reason_text(reason: &str) -> Option<&'static str> {
    match reason {
        "timeout" => Some("success signal did not arrive on time, grace time passed"),
        "fail" => Some("received a failure signal"),
        _ => None,
    }
}

/// The "Details" rows, in healthchecks.io's order. Times are UTC: Overdue has no per-user
/// time zone to render them in. `mail`: the last ping's message, when it came by email.
fn details(notice: &Notice, mail: Option<&PingMail>) -> Vec<(String, String)> {
    let check = &notice.check;
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |label: &str, value: String| rows.push((label.to_owned(), value));
    if !notice.project_name.is_empty() {
        row("Project", notice.project_name.clone());
    }
    let tags: Vec<&str> = check.tags_list().collect();
    if !tags.is_empty() {
        row("Tags", tags.join(" "));
    }
    match check.state.kind {
        CheckKind::Simple => row("Period", format_period(check.state.timeout)),
        CheckKind::Cron | CheckKind::OnCalendar => {
            row("Schedule", check.state.schedule.clone());
            row("Time zone", check.state.tz.clone());
        }
    }
    row("Total pings", total_pings(check));
    match &notice.last_ping {
        Some(ping) => {
            row("Last ping", last_ping(ping));
            row("Last ping type", ping_type(ping));
            if let Some(mail) = mail.filter(|m| !m.subject.is_empty()) {
                row("Last ping subject", mail.subject.clone());
            }
        }
        None => row("Last ping", "never".to_owned()),
    }
    row(
        &format!("Status changed to {} at", notice.direction.as_str()),
        notice.changed_at.to_rfc2822(),
    );
    rows
}

fn total_pings(check: &CheckRecord) -> String {
    format!(
        "{} (since {})",
        check.state.n_pings,
        check.created.format("%b %-d, %Y")
    )
}

fn last_ping(ping: &PingRecord) -> String {
    match ping.remote_addr.as_deref().filter(|a| !a.is_empty()) {
        Some(addr) => format!("{}, from {addr}", ping.created.to_rfc2822()),
        None => ping.created.to_rfc2822(),
    }
}

/// The ping's type as healthchecks.io's alert names it. An ignored ping is "Ignored" even with
/// an exit status; otherwise an exit status says more than the success/failure it implies.
fn ping_type(ping: &PingRecord) -> String {
    if ping.kind.as_deref() == Some("ign") {
        return "Ignored".to_owned();
    }
    if let Some(code) = ping.exit_status {
        return format!("Exit status {code}");
    }
    let name = match ping.kind.as_deref() {
        Some("fail") => "Failure",
        Some("start") => "Start",
        Some("log") => "Log",
        // NULL is success; an unknown kind too, as in healthchecks.io's template.
        _ => "Success",
    };
    name.to_owned()
}

/// The last [`BODY_EXCERPT_CHARS`] characters of the ping's body, decoded leniently: a body
/// is whatever the job sent, and an alert must not fail over a stray byte.
fn body_excerpt(ping: &PingRecord) -> Option<BodyExcerpt> {
    let body = ping.body.as_deref().filter(|b| !b.is_empty())?;
    let text = String::from_utf8_lossy(body);
    let (text, truncated) = last_chars(&text, BODY_EXCERPT_CHARS);
    Some(BodyExcerpt {
        // The line break that ends most bodies would leave a blank line in the message.
        text: text.trim_end_matches(['\r', '\n']).to_owned(),
        truncated,
    })
}

/// The last `n` characters of `text`, and whether anything was cut.
fn last_chars(text: &str, n: usize) -> (&str, bool) {
    match n
        .checked_sub(1)
        .and_then(|i| text.char_indices().rev().nth(i))
    {
        Some((0, _)) | None => (text, false),
        Some((start, _)) => (&text[start..], true),
    }
}

fn truncation_note() -> String {
    format!("[truncated: the last {BODY_EXCERPT_CHARS} characters follow]")
}

/// A period as healthchecks.io's `format_duration` writes it: weeks only when they divide it
/// evenly ("8 days", not "1 week 1 day"), no seconds.
fn format_period(period: Duration) -> String {
    const UNITS: [(&str, i64); 4] = [
        ("week", 7 * 86_400),
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
    ];
    let mut remaining = period.num_seconds().max(0);
    let mut parts = Vec::new();
    for (name, seconds) in UNITS {
        if name == "week" && remaining % seconds != 0 {
            continue;
        }
        let count = remaining / seconds;
        remaining %= seconds;
        if count > 0 {
            parts.push(plural(count, name));
        }
    }
    if parts.is_empty() {
        // Only a period under a minute gets here; saying nothing would read as a bug.
        parts.push(plural(remaining, "second"));
    }
    parts.join(" ")
}

/// A duration in its largest whole unit, as healthchecks.io's `format_approx_duration`.
fn format_approx_duration(duration: Duration) -> String {
    const UNITS: [(&str, i64); 4] = [
        ("day", 86_400),
        ("hour", 3_600),
        ("minute", 60),
        ("second", 1),
    ];
    let seconds = duration.num_seconds().max(0);
    UNITS.iter().find(|(_, unit)| seconds >= *unit).map_or_else(
        || plural(0, "second"),
        |(name, unit)| plural(seconds / unit, name),
    )
}

fn plural(count: i64, unit: &str) -> String {
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

/// Wraps body markup in a minimal document; mail clients ignore most of the rest.
pub(crate) fn html_document(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n</head>\n\
         <body style=\"font-family: sans-serif; font-size: 14px; line-height: 1.4;\">\n\
         {body}</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use mail_parser::MimeHeaders as _;

    use super::*;
    use crate::alerts::email::test_support::{Parsed, at, down_notice, parse, ping, up_notice};

    fn sender() -> Mailbox {
        "Overdue <alerts@mail.example.org>".parse().unwrap()
    }

    fn render(notice: &Notice) -> Parsed {
        let message = alert_message(notice, &sender(), "alice@example.org", "Overdue").unwrap();
        parse(&message.formatted())
    }

    fn text_of(notice: &Notice) -> String {
        render(notice).part("text/plain").to_owned()
    }

    fn html_of(notice: &Notice) -> String {
        render(notice).part("text/html").to_owned()
    }

    #[test]
    fn down_alert_has_subject_message_id_and_both_parts() {
        let notice = down_notice();
        let parsed = render(&notice);

        assert_eq!(parsed.header("Subject").unwrap(), "DOWN | Nightly backup");
        assert_eq!(
            parsed.header("Message-ID").unwrap(),
            format!("<{}@mail.example.org>", notice.id)
        );
        assert_eq!(parsed.header("To").unwrap(), "alice@example.org");
        assert!(
            parsed
                .header("Content-Type")
                .unwrap()
                .starts_with("multipart/alternative")
        );
        let text = parsed.part("text/plain");
        let html = parsed.part("text/html");
        assert!(text.starts_with("The check \"Nightly backup\" has gone down.\n"));
        assert!(html.contains("The check &quot;Nightly backup&quot; has gone down."));
        for part in [text, html] {
            assert!(part.contains(&notice.check_url), "{part}");
            assert!(part.contains("Dumps the main database."), "{part}");
        }
    }

    #[test]
    fn text_part_lists_the_details() {
        let text = text_of(&down_notice());
        for line in [
            "View on Overdue: https://overdue.example.org/checks/",
            "Description:\n------------\nDumps the main database.\n",
            "Project: Backups\n",
            "Tags: prod db\n",
            "Period: 1 day\n",
            "Total pings: 42 (since Mar 7, 2026)\n",
            "Last ping: Wed, 4 Nov 2026 11:58:00 +0000, from 203.0.113.7\n",
            "Last ping type: Success\n",
            "Status changed to down at: Thu, 5 Nov 2026 13:00:00 +0000\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
        assert!(!text.contains("Last Ping Body"), "{text}");
    }

    #[test]
    fn html_part_lists_the_same_details() {
        let html = html_of(&down_notice());
        for cell in [
            "<th align=\"left\" valign=\"top\">Project</th><td style=\"white-space: pre-wrap;\">Backups</td>",
            ">Period</th>",
            ">1 day</td>",
            ">42 (since Mar 7, 2026)</td>",
            ">Status changed to down at</th>",
        ] {
            assert!(html.contains(cell), "missing {cell:?} in:\n{html}");
        }
    }

    #[test]
    fn unnamed_check_is_called_by_its_uuid() {
        let mut notice = down_notice();
        notice.check.name.clear();
        let code = notice.check.code;
        let parsed = render(&notice);
        assert_eq!(parsed.header("Subject").unwrap(), format!("DOWN | {code}"));
        assert!(
            parsed
                .part("text/plain")
                .starts_with(&format!("The check \"{code}\" has gone down."))
        );
    }

    #[test]
    fn test_notice_keeps_the_subject_format() {
        let notice = Notice {
            is_test: true,
            ..down_notice()
        };
        assert_eq!(
            render(&notice).header("Subject").unwrap(),
            "DOWN | Nightly backup"
        );
    }

    #[test]
    fn down_alert_explains_the_reason() {
        let cases = [
            (
                "timeout",
                Some("Reason: success signal did not arrive on time, grace time passed.\n"),
            ),
            ("fail", Some("Reason: received a failure signal.\n")),
            ("", None),
        ];
        for (reason, expected) in cases {
            let notice = Notice {
                reason: reason.to_owned(),
                ..down_notice()
            };
            let text = text_of(&notice);
            match expected {
                Some(line) => {
                    assert!(text.contains(line), "{reason}: {text}");
                    assert!(html_of(&notice).contains(line.trim_end()), "{reason}");
                }
                None => assert!(!text.contains("Reason:"), "{text}"),
            }
        }
    }

    #[test]
    fn up_alert_says_how_long_the_downtime_lasted() {
        let notice = up_notice(Duration::minutes(150));
        let parsed = render(&notice);
        assert_eq!(parsed.header("Subject").unwrap(), "UP | Nightly backup");
        let text = parsed.part("text/plain");
        assert!(
            text.starts_with(
                "The check \"Nightly backup\" is now up.\nThe downtime lasted 2 hours.\n"
            ),
            "{text}"
        );
        assert!(!text.contains("Reason:"));
        assert!(text.contains("Status changed to up at: "));
        assert!(
            parsed
                .part("text/html")
                .contains("The downtime lasted 2 hours.")
        );
    }

    #[test]
    fn up_alert_without_downtime_has_no_downtime_line() {
        let notice = Notice {
            downtime: None,
            ..up_notice(Duration::zero())
        };
        assert!(!text_of(&notice).contains("downtime"));
    }

    #[test]
    fn html_part_escapes_user_controlled_values() {
        let script = "<script>alert(1)</script>";
        let mut notice = down_notice();
        notice.check.name = format!("{script} & co");
        notice.check.tags = "<b>tag</b>".to_owned();
        notice.check.desc = format!("desc {script}");
        notice.project_name = format!("proj {script}");
        let mut last = ping(None, at(2026, 11, 4, 11, 58));
        last.body = Some(format!("body {script}").into_bytes());
        notice.last_ping = Some(last);

        let html = html_of(&notice);

        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>tag"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
        assert!(html.contains("desc &lt;script&gt;"));
        assert!(html.contains("proj &lt;script&gt;"));
        assert!(html.contains("body &lt;script&gt;"));
        assert!(html.contains("&lt;b&gt;tag&lt;/b&gt;"));
        // The plain text part shows values as they are.
        assert!(text_of(&notice).contains(&format!("The check \"{script} & co\"")));
    }

    #[test]
    fn escape_html_escapes_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<script>alert("x" + 'y' & 1)</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; + &#x27;y&#x27; &amp; 1)&lt;/script&gt;"
        );
        assert_eq!(escape_html("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn control_characters_in_the_name_cannot_add_headers() {
        let mut notice = down_notice();
        notice.check.name = "evil\r\nBcc: eve@example.org".to_owned();
        let message = alert_message(&notice, &sender(), "alice@example.org", "Overdue").unwrap();
        let parsed = parse(&message.formatted());
        assert_eq!(parsed.header("Bcc"), None);
        assert!(message.envelope().to().len() == 1);
        assert!(
            parsed
                .header("Subject")
                .unwrap()
                .contains("Bcc: eve@example.org")
        );
    }

    #[test]
    fn invalid_recipient_is_an_error() {
        let err =
            alert_message(&down_notice(), &sender(), "not an address", "Overdue").unwrap_err();
        assert!(err.starts_with("Invalid recipient address"), "{err}");
    }

    #[test]
    fn last_ping_type_names_each_kind() {
        let cases = [
            (None, None, "Success"),
            (Some("fail"), None, "Failure"),
            (Some("start"), None, "Start"),
            (Some("log"), None, "Log"),
            (Some("ign"), None, "Ignored"),
            (Some("ign"), Some(3), "Ignored"),
            (None, Some(0), "Exit status 0"),
            (Some("fail"), Some(42), "Exit status 42"),
        ];
        for (kind, exit_status, expected) in cases {
            let mut last = ping(kind, at(2026, 11, 4, 11, 58));
            last.exit_status = exit_status;
            let notice = Notice {
                last_ping: Some(last),
                ..down_notice()
            };
            let text = text_of(&notice);
            assert!(
                text.contains(&format!("\nLast ping type: {expected}\n")),
                "{kind:?}/{exit_status:?}: {text}"
            );
        }
    }

    #[test]
    fn last_ping_never_when_there_is_none() {
        let notice = Notice {
            last_ping: None,
            ..down_notice()
        };
        let text = text_of(&notice);
        assert!(text.contains("\nLast ping: never\n"), "{text}");
        assert!(!text.contains("Last ping type"));
    }

    #[test]
    fn last_ping_without_address_omits_from() {
        let mut last = ping(None, at(2026, 11, 4, 11, 58));
        last.remote_addr = None;
        let notice = Notice {
            last_ping: Some(last),
            ..down_notice()
        };
        assert!(text_of(&notice).contains("\nLast ping: Wed, 4 Nov 2026 11:58:00 +0000\n"));
    }

    fn notice_with_body(body: Vec<u8>) -> Notice {
        let mut last = ping(Some("fail"), at(2026, 11, 4, 11, 58));
        last.body = Some(body);
        Notice {
            last_ping: Some(last),
            ..down_notice()
        }
    }

    #[test]
    fn short_body_is_quoted_whole() {
        let text = text_of(&notice_with_body(b"rsync: connection refused\n".to_vec()));
        assert!(
            text.ends_with("Last Ping Body:\n---------------\nrsync: connection refused\n"),
            "{text}"
        );
        assert!(!text.contains("[truncated"));
    }

    #[test]
    fn long_body_is_cut_to_its_last_10000_characters() {
        // `q` appears nowhere else in a message (UUIDs are hexadecimal).
        let body = format!("{}{}", "q".repeat(500), "é".repeat(9_999) + "Z");
        let notice = notice_with_body(body.into_bytes());

        for part in [text_of(&notice), html_of(&notice)] {
            assert!(!part.contains("qq"), "head was kept");
            assert!(part.contains(&("é".repeat(9_999) + "Z")));
            assert!(part.contains("[truncated: the last 10000 characters follow]"));
        }
    }

    #[test]
    fn body_of_exactly_10000_characters_is_not_truncated() {
        let body = "x".repeat(10_000);
        let (kept, truncated) = last_chars(&body, 10_000);
        assert_eq!((kept.len(), truncated), (10_000, false));
        assert_eq!(last_chars("héllo", 3), ("llo", true));
        assert_eq!(last_chars("", 3), ("", false));
    }

    #[test]
    fn invalid_utf8_in_the_body_is_replaced() {
        let text = text_of(&notice_with_body(b"ok \xff\xfe done".to_vec()));
        assert!(text.contains("ok \u{fffd}\u{fffd} done"), "{text}");
    }

    /// A message as a cron daemon mails it, subject encoded.
    const MAILED: &[u8] = b"From: Cron Daemon <cron@example.org>\r\n\
        To: backup@hc.example.org\r\n\
        Subject: =?UTF-8?Q?Sauvegarde_r=C3=A9ussie?=\r\n\
        \r\n\
        Lorem ipsum dolor sit amet.\r\n";

    fn notice_with_email_ping(raw: &[u8]) -> Notice {
        let mut last = ping(None, at(2026, 11, 4, 11, 58));
        last.scheme = "email".to_owned();
        last.method = String::new();
        last.ua = "Email from cron@example.org".to_owned();
        last.body = Some(raw.to_vec());
        Notice {
            last_ping: Some(last),
            ..down_notice()
        }
    }

    /// The alert as a mail client reads it.
    fn received(notice: &Notice) -> mail_parser::Message<'static> {
        let message = alert_message(notice, &sender(), "alice@example.org", "Overdue").unwrap();
        mail_parser::MessageParser::default()
            .parse(&message.formatted())
            .expect("a message")
            .into_owned()
    }

    fn text_and_html(message: &mail_parser::Message<'_>) -> (String, String) {
        let text = message.body_text(0).expect("text part");
        let html = message.body_html(0).expect("html part");
        (text.replace("\r\n", "\n"), html.replace("\r\n", "\n"))
    }

    #[test]
    fn an_email_ping_is_attached_with_its_subject_in_the_details() {
        let message = received(&notice_with_email_ping(MAILED));

        let (text, html) = text_and_html(&message);
        assert!(
            text.contains("\nLast ping type: Success\nLast ping subject: Sauvegarde réussie\n"),
            "{text}"
        );
        assert!(
            text.ends_with("Last Ping Body:\n---------------\nSee the attachment.\n"),
            "{text}"
        );
        assert!(html.contains(">Last ping subject</th>"), "{html}");
        assert!(html.contains(">Sauvegarde réussie</td>"), "{html}");
        assert!(html.contains("<p>See the attachment.</p>"), "{html}");
        for part in [&text, &html] {
            assert!(!part.contains("Lorem ipsum"), "{part}");
        }

        assert_eq!(message.attachment_count(), 1);
        let attachment = message.attachment(0).expect("attachment");
        assert_eq!(attachment.attachment_name(), Some("last-ping.eml"));
        let content_type = attachment.content_type().expect("content type");
        assert_eq!(
            (content_type.ctype(), content_type.subtype()),
            ("message", Some("rfc822"))
        );
        assert_eq!(attachment.contents(), MAILED);
        let inner = attachment.message().expect("a message");
        assert_eq!(inner.subject(), Some("Sauvegarde réussie"));
    }

    #[test]
    fn an_attached_message_keeps_its_bytes_whatever_its_encoding() {
        let long = [b"Subject: long\r\n\r\n".as_slice(), &[b'x'; 2000], b"\r\n"].concat();
        let cases: [(&[u8], &str); 4] = [
            (MAILED, "7bit"),
            // UTF-8 with bare LF line ends: its lines are made CRLF.
            ("Subject: ok\n\nglāžšķūņu rūķīši\n".as_bytes(), "8bit"),
            // Latin-1 is not UTF-8.
            (b"Subject: caf\xe9\r\n\r\nna\xefve\r\n", "base64"),
            // A line over 998 characters fits neither 7bit nor 8bit.
            (&long, "base64"),
        ];
        for (raw, encoding) in cases {
            let message = received(&notice_with_email_ping(raw));
            let attachment = message.attachment(0).expect("attachment");
            let shown = String::from_utf8_lossy(raw);
            let name: String = shown.chars().take(40).collect();
            assert_eq!(
                attachment.content_transfer_encoding(),
                Some(encoding),
                "{name}"
            );
            let expected = if encoding == "base64" {
                raw.to_vec()
            } else {
                shown
                    .replace("\r\n", "\n")
                    .replace('\n', "\r\n")
                    .into_bytes()
            };
            assert_eq!(attachment.contents(), expected.as_slice(), "{name}");
        }
    }

    #[test]
    fn an_email_ping_without_a_subject_has_no_subject_line() {
        let message = received(&notice_with_email_ping(b"From: a@b.c\r\n\r\nhello\r\n"));
        let (text, _) = text_and_html(&message);
        assert!(!text.contains("Last ping subject"), "{text}");
        assert!(text.contains("See the attachment."), "{text}");
        assert_eq!(message.attachment_count(), 1);
    }

    #[test]
    fn the_subject_of_an_email_ping_is_escaped_in_html() {
        let raw = b"Subject: <script>alert(1)</script> & co\r\n\r\nx\r\n";
        let (text, html) = text_and_html(&received(&notice_with_email_ping(raw)));
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
            "{html}"
        );
        assert!(text.contains("Last ping subject: <script>alert(1)</script> & co\n"));
    }

    #[test]
    fn an_http_ping_is_quoted_and_nothing_is_attached() {
        let message = received(&notice_with_body(b"Subject: not an email\n".to_vec()));
        assert_eq!(message.attachment_count(), 0);
        let (text, _) = text_and_html(&message);
        assert!(!text.contains("Last ping subject"), "{text}");
        assert!(
            text.ends_with("---------------\nSubject: not an email\n"),
            "{text}"
        );
    }

    #[test]
    fn an_empty_email_ping_is_neither_quoted_nor_attached() {
        let message = received(&notice_with_email_ping(b""));
        assert_eq!(message.attachment_count(), 0);
        let (text, _) = text_and_html(&message);
        assert!(!text.contains("Last Ping Body"), "{text}");
    }

    #[test]
    fn simple_check_shows_its_period() {
        let cases = [
            (Duration::days(1), "1 day"),
            (Duration::days(14), "2 weeks"),
            (Duration::days(8), "8 days"),
            (Duration::minutes(90), "1 hour 30 minutes"),
            (Duration::seconds(30), "30 seconds"),
        ];
        for (timeout, expected) in cases {
            let mut notice = down_notice();
            notice.check.state.timeout = timeout;
            let text = text_of(&notice);
            assert!(text.contains(&format!("\nPeriod: {expected}\n")), "{text}");
            assert!(!text.contains("Schedule:"));
        }
    }

    #[test]
    fn cron_and_oncalendar_checks_show_schedule_and_time_zone() {
        for (kind, schedule) in [
            (CheckKind::Cron, "0 3 * * *"),
            (CheckKind::OnCalendar, "Mon..Fri 03:00"),
        ] {
            let mut notice = down_notice();
            notice.check.state.kind = kind;
            notice.check.state.schedule = schedule.to_owned();
            notice.check.state.tz = "Europe/Riga".to_owned();
            let text = text_of(&notice);
            assert!(text.contains(&format!("\nSchedule: {schedule}\nTime zone: Europe/Riga\n")));
            assert!(!text.contains("Period:"), "{text}");
        }
    }

    #[test]
    fn approximate_durations_use_the_largest_unit() {
        assert_eq!(format_approx_duration(Duration::seconds(0)), "0 seconds");
        assert_eq!(format_approx_duration(Duration::seconds(1)), "1 second");
        assert_eq!(format_approx_duration(Duration::seconds(119)), "1 minute");
        assert_eq!(format_approx_duration(Duration::hours(47)), "1 day");
        assert_eq!(format_approx_duration(Duration::days(3)), "3 days");
    }

    #[test]
    fn verification_message_carries_the_link() {
        let id = Uuid::new_v4();
        let url = "https://overdue.example.org/integrations/abc/verify/token/";
        let message = verification_message(
            &sender(),
            "bob@example.org",
            url,
            "Ops <team>",
            "Overdue",
            id,
        )
        .unwrap();
        let parsed = parse(&message.formatted());

        assert_eq!(
            parsed.header("Subject").unwrap(),
            "Verify email address on Overdue"
        );
        assert_eq!(
            parsed.header("Message-ID").unwrap(),
            format!("<{id}@mail.example.org>")
        );
        let text = parsed.part("text/plain");
        assert!(text.contains(&format!("\n{url}\n")), "{text}");
        assert!(text.contains("\"Ops <team>\""));
        let html = parsed.part("text/html");
        assert!(html.contains(&format!("<a href=\"{url}\">")), "{html}");
        assert!(html.contains("\"Ops &lt;team&gt;\""), "{html}");
    }
}
