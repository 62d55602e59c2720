//! Where email pings show up: the check page's "How to ping" (only where mail is taken) and
//! its event log, the API's pings list, and the alert email, delivered through a real SMTP
//! server, on both engines. Pings are recorded through the store as the SMTP listener
//! records them: scheme `email`, no method, `Email from <sender>`, the raw message as body.

use axum::http::StatusCode;
use bytes::Bytes;
use chrono::Duration;
use mail_parser::{MessageParser, MimeHeaders as _};
use overdue::domain::check::Action;
use overdue::keys::keyless_project;
use overdue::store::{CheckRecord, PingInput, PingTarget, Role};
use serde_json::json;

use crate::support::{Aiosmtpd, START, TestApp, app_test, at, mail_header};
use crate::web_client::{Browser, member_of};

/// A message as a cron daemon mails it: an encoded subject and an 8-bit body.
const MAILED: &str = "From: Cron Daemon <cron@example.org>\r\n\
    To: nightly@ping.example.org\r\n\
    Subject: =?UTF-8?Q?Sauvegarde_r=C3=A9ussie?=\r\n\
    MIME-Version: 1.0\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Content-Transfer-Encoding: 8bit\r\n\
    \r\n\
    Tout va bien : 42 fichiers copiés.\r\n";

const SENDER: &str = "cron@example.org";
const SENDER_ADDR: &str = "198.51.100.4";

/// Records a success ping for `check` as the SMTP listener would for `raw`.
async fn mail_ping(app: &TestApp, check: &CheckRecord, raw: &[u8]) {
    let input = PingInput {
        target: PingTarget::Code(check.code),
        url_action: Action::Success,
        exit_status: None,
        rid: None,
        reject: None,
        remote_addr: Some(SENDER_ADDR.to_owned()),
        scheme: "email".to_owned(),
        method: String::new(),
        ua: format!("Email from {SENDER}"),
        body: Bytes::copy_from_slice(raw),
    };
    app.store
        .record_pings(&[input], app.now())
        .await
        .expect("record the email ping");
}

/// The check page's HTML.
async fn check_page(app: &TestApp, browser: &mut Browser, check: &CheckRecord) -> String {
    let page = browser.get(app, &format!("/checks/{}/", check.code)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    page.text()
}

/// The "How to ping" card of a check page.
fn how_to_ping(html: &str) -> &str {
    html.split("id=\"how-to-ping\"")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .expect("a How to ping card")
}

/// The text of the element with `id`, if there is one.
fn element_text<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let text = &rest[rest.find('>')? + 1..];
    text.split('<').next()
}

/// The event log of a check page.
fn events(html: &str) -> &str {
    html.split("<ol class=\"events\">")
        .nth(1)
        .and_then(|rest| rest.split("</ol>").next())
        .expect("an event log")
}

app_test!(
    how_to_ping_shows_the_addresses_to_mail,
    flags = [
        "--smtp-listen",
        "127.0.0.1:0",
        "--ping-email-domain",
        "Ping.Example.org"
    ],
    |app| {
        let reader =
            &mut member_of(app, app.project.id, "reader@example.org", Role::ReadOnly).await;
        let check = app
            .create_check(&json!({"name": "nightly", "slug": "nightly-backup"}))
            .await;

        let html = check_page(app, reader, &check).await;
        let card = how_to_ping(&html);
        assert_eq!(
            element_text(card, "ping-email"),
            Some(format!("{}@ping.example.org", check.code).as_str()),
            "{card}"
        );
        assert_eq!(
            element_text(card, "slug-email"),
            Some(format!("{}+nightly-backup@ping.example.org", app.keys.ping_key).as_str()),
            "{card}"
        );
        let note = element_text(card, "ping-email-note").expect("a note on filtering");
        assert!(
            note.starts_with("Every email counts as a success"),
            "{note}"
        );
        assert!(
            card.contains("<a href=\"#rules\">filtering rules</a>"),
            "{card}"
        );

        // With keyword filtering on, the note says keywords decide.
        app.update_check(&check, &json!({"filter_subject": true, "success_kw": "OK"}))
            .await;
        let html = check_page(app, reader, &check).await;
        let note = element_text(how_to_ping(&html), "ping-email-note").expect("note");
        assert!(
            note.starts_with("Keywords in the email's subject or body decide"),
            "{note}"
        );
        app.update_check(
            &check,
            &json!({"filter_subject": false, "filter_body": true}),
        )
        .await;
        let html = check_page(app, reader, &check).await;
        let note = element_text(how_to_ping(&html), "ping-email-note").expect("note");
        assert!(
            note.starts_with("Keywords in the email's subject or body decide"),
            "{note}"
        );

        // Without a slug, only the UUID address.
        let unslugged = app.create_check(&json!({"name": "other"})).await;
        let html = check_page(app, reader, &unslugged).await;
        let card = how_to_ping(&html);
        assert!(element_text(card, "ping-email").is_some(), "{card}");
        assert_eq!(element_text(card, "slug-email"), None, "{card}");
    }
);

app_test!(
    a_project_without_a_ping_key_has_no_slug_address,
    flags = ["--smtp-listen", "127.0.0.1:0"],
    |app| {
        let project = app
            .store
            .create_project(&keyless_project("No ping key"), app.now())
            .await
            .expect("project");
        let browser = &mut member_of(app, project.id, "writer@example.org", Role::Member).await;
        let mut check = CheckRecord::new(project.id, app.now());
        check.slug = "nightly-backup".to_owned();
        let check = app.store.create_check(&check).await.expect("check");

        let html = check_page(app, browser, &check).await;
        let card = how_to_ping(&html);
        // The domain defaults to the site root's host.
        assert_eq!(
            element_text(card, "ping-email"),
            Some(format!("{}@overdue.test", check.code).as_str()),
            "{card}"
        );
        assert_eq!(element_text(card, "slug-email"), None, "{card}");
    }
);

app_test!(
    nothing_about_email_shows_where_no_mail_is_taken,
    flags = ["--ping-email-domain", "ping.example.org"],
    |app| {
        let reader =
            &mut member_of(app, app.project.id, "reader@example.org", Role::ReadOnly).await;
        let check = app
            .create_check(
                &json!({"name": "nightly", "slug": "nightly-backup", "filter_body": true}),
            )
            .await;

        let html = check_page(app, reader, &check).await;
        let card = how_to_ping(&html).to_lowercase();
        assert!(card.contains("/ping/"), "{card}");
        for word in ["email", "mail", "@"] {
            assert!(!card.contains(word), "{word:?} in {card}");
        }
        assert!(!html.contains("ping.example.org"), "{html}");
        assert!(!html.contains("id=\"ping-email"), "{html}");
        // The API's JSON is healthchecks.io's, without an address.
        let json = app.api_check(3, &check).await;
        assert!(json.get("ping_email").is_none(), "{json}");
        assert_eq!(json.as_object().expect("object").len(), 29, "{json}");
    }
);

app_test!(
    the_event_log_shows_an_email_ping_by_its_sender_and_subject,
    flags = [],
    |app| {
        let reader =
            &mut member_of(app, app.project.id, "reader@example.org", Role::ReadOnly).await;
        let check = app.create_check(&json!({"name": "nightly"})).await;
        mail_ping(app, &check, MAILED.as_bytes()).await;
        app.clock.set(at(START) + Duration::minutes(1));
        let hostile =
            "From: x@example.org\r\nSubject: <script>alert(1)</script>\r\n\r\n<b>hi</b>\r\n";
        mail_ping(app, &check, hostile.as_bytes()).await;
        app.clock.set(at(START) + Duration::minutes(2));
        let response = app
            .request_with_body("POST", &format!("/ping/{}", check.code), "done")
            .await;
        assert_eq!(response.status, StatusCode::OK);

        let html = check_page(app, reader, &check).await;
        let log = events(&html);
        let items: Vec<&str> = log
            .split("<li class=\"event event-")
            .filter(|item| item.starts_with("ping"))
            .collect();
        assert_eq!(items.len(), 3, "{log}");
        // Newest first: the HTTP ping, then the two emails.
        assert!(items[0].contains("#3 HTTP POST from"), "{}", items[0]);
        assert!(items[0].contains("<li>done</li>"), "{}", items[0]);

        let first = items[2];
        assert!(
            first.contains(&format!("#1 Email from {SENDER}")),
            "{first}"
        );
        assert!(
            first.contains("<li>Subject: Sauvegarde réussie</li>"),
            "{first}"
        );
        assert!(
            first.contains("<li>Tout va bien : 42 fichiers copiés.</li>"),
            "{first}"
        );
        // Not the HTTP form, and not the raw message.
        assert!(!first.contains("EMAIL"), "{first}");
        assert!(!first.contains("=?UTF-8?"), "{first}");
        assert!(!first.contains("Content-Type"), "{first}");

        let second = items[1];
        assert!(
            second.contains("#2 Email from cron@example.org"),
            "{second}"
        );
        assert!(
            second.contains("<li>Subject: &#60;script&#62;alert(1)&#60;/script&#62;</li>"),
            "{second}"
        );
        assert!(!second.contains("<script>"), "{second}");
        assert!(!second.contains("<b>"), "{second}");
    }
);

app_test!(
    the_pings_list_shows_an_email_ping_as_healthchecks_does,
    flags = [
        "--smtp-listen",
        "127.0.0.1:0",
        "--ping-email-domain",
        "Ping.Example.org"
    ],
    |app| {
        let check = app.create_check(&json!({"name": "nightly"})).await;
        mail_ping(app, &check, MAILED.as_bytes()).await;

        let uri = format!("/api/v3/checks/{}/pings/", check.code);
        let pings = app.api("GET", &uri, None).await.json();
        let body_url = format!(
            "http://overdue.test/api/v3/checks/{}/pings/1/body",
            check.code
        );
        assert_eq!(
            pings,
            json!({"pings": [{
                "type": "success",
                "date": "2024-03-01T10:00:00+00:00",
                "n": 1,
                "scheme": "email",
                "remote_addr": SENDER_ADDR,
                "method": "",
                "ua": format!("Email from {SENDER}"),
                "rid": null,
                "body_url": body_url,
            }]})
        );
        let body = app
            .api(
                "GET",
                &format!("/api/v3/checks/{}/pings/1/body", check.code),
                None,
            )
            .await;
        assert_eq!(body.status, StatusCode::OK);
        assert_eq!(body.header("content-type"), Some("text/plain"));
        assert_eq!(body.body.as_ref(), MAILED.as_bytes());

        // Where mail is taken, a read-write key also sees the address to mail, after the
        // ping URL; read-only keys see neither.
        let with_mail = app.api_check(3, &check).await;
        let keys: Vec<&String> = with_mail.as_object().expect("object").keys().collect();
        let at = keys
            .iter()
            .position(|k| *k == "ping_url")
            .expect("ping_url");
        assert_eq!(keys[at + 1], "ping_email", "{keys:?}");
        assert_eq!(keys.len(), 30, "{keys:?}");
        assert_eq!(
            with_mail["ping_email"],
            format!("{}@ping.example.org", check.code)
        );
        let read_only = app
            .send(
                axum::http::Request::get(format!("/api/v3/checks/{}", check.code))
                    .header("X-Api-Key", &app.keys.api_key_ro)
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(read_only.status, StatusCode::OK);
        assert!(
            !read_only.text().contains("ping_email"),
            "{}",
            read_only.text()
        );
    }
);

/// The alerts delivered so far (not the address's verification), with their subjects, as a
/// mail client reads them.
fn alerts(smtp: &Aiosmtpd) -> Vec<(String, mail_parser::Message<'static>)> {
    smtp.messages()
        .into_iter()
        .filter(|raw| {
            mail_header(raw, "Subject")
                .is_some_and(|s| s.starts_with("DOWN") || s.starts_with("UP"))
        })
        .map(|raw| {
            let subject = mail_header(&raw, "Subject").unwrap_or_default();
            let parsed = MessageParser::default()
                .parse(raw.as_bytes())
                .expect("a message")
                .into_owned();
            (subject, parsed)
        })
        .collect()
}

fn text_of(message: &mail_parser::Message<'_>) -> String {
    message
        .body_text(0)
        .expect("a text part")
        .replace("\r\n", "\n")
}

async fn alert_attaches_the_last_email_ping(app: &TestApp, smtp: &Aiosmtpd) {
    let channel = app
        .create_channel(&json!({
            "name": "ops",
            "kind": "email",
            "email": {"value": "ops@example.org", "up": true, "down": true},
        }))
        .await;
    let code = channel["id"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .expect("id");
    let mut record = app
        .store
        .channel_by_code(code)
        .await
        .expect("read")
        .expect("channel");
    record.email_verified = true;
    assert!(app.store.update_channel(&record).await.expect("verify"));
    let check = app
        .create_check(&json!({"name": "nightly", "timeout": 60, "grace": 60, "channels": "*"}))
        .await;
    let mut deadlines = app.deadline_loop(30);
    let dispatcher = app.dispatcher();

    // The job mails once, then falls silent: the check goes down and the alert goes out
    // (after the address's verification mail, sent when the channel was made).
    mail_ping(app, &check, MAILED.as_bytes()).await;
    app.clock.set(at(START) + Duration::seconds(125));
    assert_eq!(deadlines.tick().await.expect("tick").flipped, 1);
    assert_eq!(dispatcher.tick().await.expect("dispatch").delivered, 2);

    let messages = alerts(smtp);
    assert_eq!(messages.len(), 1, "{}", smtp.log());
    let (subject, down) = &messages[0];
    assert_eq!(subject, "DOWN | nightly");
    let text = text_of(down);
    assert!(
        text.contains(&format!(
            "Last ping: Fri, 1 Mar 2024 10:00:00 +0000, from {SENDER_ADDR}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("\nLast ping subject: Sauvegarde réussie\n"),
        "{text}"
    );
    assert!(
        text.contains("Last Ping Body:\n---------------\nSee the attachment.\n"),
        "{text}"
    );
    assert!(!text.contains("fichiers"), "{text}");
    let html = down.body_html(0).expect("an HTML part");
    assert!(html.contains(">Sauvegarde réussie</td>"), "{html}");

    assert_eq!(down.attachment_count(), 1);
    let attachment = down.attachment(0).expect("attachment");
    assert_eq!(attachment.attachment_name(), Some("last-ping.eml"));
    let content_type = attachment.content_type().expect("content type");
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("message", Some("rfc822"))
    );
    // The message as it was mailed (the Maildir keeps LF line ends).
    let attached = String::from_utf8_lossy(attachment.contents()).replace("\r\n", "\n");
    assert_eq!(attached, MAILED.replace("\r\n", "\n"));
    let inner = attachment.message().expect("a nested message");
    assert_eq!(inner.subject(), Some("Sauvegarde réussie"));

    // An HTTP ping brings it up: the up alert quotes that body and attaches nothing.
    app.clock.set(at(START) + Duration::seconds(200));
    let response = app
        .request_with_body("POST", &format!("/ping/{}", check.code), "back to normal")
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(dispatcher.tick().await.expect("dispatch").delivered, 1);
    let messages = alerts(smtp);
    assert_eq!(messages.len(), 2, "{}", smtp.log());
    let (subject, up) = messages
        .iter()
        .find(|(s, _)| s.starts_with("UP"))
        .expect("an up alert");
    assert_eq!(subject, "UP | nightly");
    assert_eq!(up.attachment_count(), 0);
    let text = text_of(up);
    assert!(
        text.ends_with("---------------\nback to normal\n"),
        "{text}"
    );
    assert!(!text.contains("Last ping subject"), "{text}");
}

fn smtp_flags(smtp: &Aiosmtpd) -> Vec<&str> {
    vec![
        "--smtp-url",
        &smtp.url,
        "--email-from",
        "Overdue <alerts@overdue.test>",
        "--smtp-listen",
        "127.0.0.1:0",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_attaches_the_last_email_ping_sqlite() {
    let Some(smtp) = Aiosmtpd::start() else {
        return;
    };
    let app = TestApp::sqlite(&smtp_flags(&smtp)).await;
    alert_attaches_the_last_email_ping(&app, &smtp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_attaches_the_last_email_ping_postgres() {
    let Some(smtp) = Aiosmtpd::start() else {
        return;
    };
    let Some(app) = TestApp::postgres(&smtp_flags(&smtp)).await else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    alert_attaches_the_last_email_ping(&app, &smtp).await;
}
