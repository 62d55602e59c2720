//! Email pings end to end: real mail from swaks, lettre and a bare SMTP client to the SMTP
//! listener, on both engines, with the pings read back from the store and the API.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use lettre::message::header::ContentType;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::support::{TestApp, app_test, swaks};

/// The ping email domain of the test application (the host of its site root).
const DOMAIN: &str = "overdue.test";
const FROM: &str = "cron@example.org";
/// How long a test waits for any one answer before failing.
const PATIENCE: Duration = Duration::from_secs(10);

/// A bare SMTP client that says exactly what a test wants, and hears every reply.
struct Smtp {
    io: BufReader<TcpStream>,
}

impl Smtp {
    /// Connects, reads the greeting (which must be `220`) and says EHLO.
    async fn connect(address: SocketAddr) -> Smtp {
        let (mut smtp, greeting) =
            Smtp::open(TcpStream::connect(address).await.expect("connect")).await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        let hello = smtp.command("EHLO client.example.org").await;
        assert!(hello.starts_with("250-"), "{hello}");
        smtp
    }

    /// Connects from the loopback address `local` (all of 127/8 is loopback on Linux) and
    /// returns the first reply, whatever it is.
    async fn connect_from(local: &str, address: SocketAddr) -> (Smtp, String) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{local}:0").parse().expect("local address"))
            .expect("bind");
        Smtp::open(socket.connect(address).await.expect("connect")).await
    }

    async fn open(stream: TcpStream) -> (Smtp, String) {
        let mut smtp = Smtp {
            io: BufReader::new(stream),
        };
        let greeting = smtp.reply().await;
        (smtp, greeting)
    }

    /// One reply, its lines joined by `\n`; empty once the server has closed.
    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(PATIENCE, self.io.read_line(&mut line))
                .await
                .expect("a reply in time");
            if read.unwrap_or(0) == 0 {
                return lines.join("\n");
            }
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.expect("write");
    }

    async fn command(&mut self, line: &str) -> String {
        self.write(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Sends `message` (dot-stuffed here) after `DATA`; returns the reply to its end.
    async fn data(&mut self, message: &[u8]) -> String {
        let go = self.command("DATA").await;
        assert!(go.starts_with("354 "), "{go}");
        let mut stuffed = Vec::new();
        for line in message.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b".") {
                stuffed.push(b'.');
            }
            stuffed.extend_from_slice(line);
        }
        if !stuffed.ends_with(b"\r\n") {
            stuffed.extend_from_slice(b"\r\n");
        }
        stuffed.extend_from_slice(b".\r\n");
        self.write(&stuffed).await;
        self.reply().await
    }

    /// A whole transaction; every recipient must be accepted. Returns the final reply.
    async fn send(&mut self, to: &[&str], message: &[u8]) -> String {
        assert_eq!(self.command(&format!("MAIL FROM:<{FROM}>")).await, "250 OK");
        for to in to {
            assert_eq!(self.command(&format!("RCPT TO:<{to}>")).await, "250 OK");
        }
        self.data(message).await
    }

    /// Whether the server has closed the connection (nothing more to read).
    async fn closed(&mut self) -> bool {
        self.reply().await.is_empty()
    }
}

fn lettre(address: SocketAddr) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
        .port(address.port())
        .timeout(Some(PATIENCE))
        .build()
}

fn mail(to: &str, subject: &str) -> lettre::message::MessageBuilder {
    Message::builder()
        .from(FROM.parse().expect("from"))
        .to(to.parse().expect("to"))
        .subject(subject)
}

/// Sends the raw `message` with swaks; returns its exit code and transcript.
async fn swaks_send(
    program: &str,
    address: SocketAddr,
    to: &[&str],
    message: &[u8],
) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("message.eml");
    std::fs::write(&file, message).expect("write message");
    let mut command = std::process::Command::new(program);
    command
        .args(["--server", &address.ip().to_string()])
        .args(["--port", &address.port().to_string()])
        .args(["--from", FROM, "--to", &to.join(",")])
        .args(["--timeout", "10"])
        .arg("--data")
        .arg(format!("@{}", file.display()));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("swaks thread")
        .expect("run swaks");
    let transcript = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), transcript)
}

fn address_of(check: &overdue::store::CheckRecord) -> String {
    format!("{}@{DOMAIN}", check.code)
}

/// The kind of the check's newest ping, as the API names it.
async fn last_type(app: &TestApp, check: &overdue::store::CheckRecord) -> String {
    let pings = app.pings(check).await;
    let newest = pings.first().expect("a ping");
    newest.kind.clone().unwrap_or_else(|| "success".to_owned())
}

/// The `/metrics` value of a counter with these labels, 0 when absent.
async fn counter(app: &TestApp, series: &str) -> f64 {
    let text = app.request("GET", "/metrics").await.text();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

app_test!(mail_from_swaks_becomes_an_email_ping, |app| {
    let Some(swaks) = swaks() else { return };
    let smtp = app.start_smtp().await;
    let check = app.create_check(&json!({"name": "nightly"})).await;
    let message = b"From: cron@example.org\r\nSubject: nightly backup\r\n\r\nAll done.\r\n";

    let (code, transcript) = swaks_send(swaks, smtp, &[&address_of(&check)], message).await;

    assert_eq!(code, 0, "{transcript}");
    assert!(transcript.contains("250 OK"), "{transcript}");
    let ping = app.only_ping(&check).await;
    assert_eq!(ping.kind, None);
    assert_eq!(ping.scheme, "email");
    assert_eq!(ping.method, "");
    assert_eq!(ping.ua, format!("Email from {FROM}"));
    assert_eq!(ping.remote_addr.as_deref(), Some("127.0.0.1"));
    let body = String::from_utf8(ping.body.expect("body")).expect("text");
    assert!(body.contains("Subject: nightly backup\r\n"), "{body}");
    // swaks ends the data with a blank line of its own.
    assert!(body.trim_end().ends_with("\r\n\r\nAll done."), "{body}");
    assert_eq!(app.reload(&check).await.state.status.as_str(), "up");

    // The API lists it as healthchecks.io does, and serves the whole message as its body.
    let listed = app
        .api(
            "GET",
            &format!("/api/v3/checks/{}/pings/", check.code),
            None,
        )
        .await
        .json();
    let item = &listed["pings"][0];
    assert_eq!(item["type"], "success");
    assert_eq!(item["scheme"], "email");
    assert_eq!(item["method"], "");
    assert_eq!(item["ua"], "Email from cron@example.org");
    assert_eq!(item["remote_addr"], "127.0.0.1");
    let served = app
        .api(
            "GET",
            &format!("/api/v3/checks/{}/pings/1/body", check.code),
            None,
        )
        .await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.text(), body);
});

/// One classification rule: the check's filters, the message, and the ping type expected.
struct Rule {
    name: &'static str,
    filters: Value,
    message: Message,
    expected: &'static str,
}

fn rules() -> Vec<Rule> {
    let to = format!("placeholder@{DOMAIN}");
    let plain = |subject: &str, body: &str| {
        mail(&to, subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .expect("message")
    };
    let subject = json!({"filter_subject": true});
    let body = json!({"filter_body": true});
    vec![
        Rule {
            name: "no filtering: every message is a success",
            filters: json!({}),
            message: plain("Backup FAILED", "FAILED"),
            expected: "success",
        },
        Rule {
            name: "the HTTP body filter does not apply to email",
            filters: json!({"filter_http_body": true, "filter_default_fail": true}),
            message: plain("Backup report", "FAILED"),
            expected: "success",
        },
        Rule {
            name: "subject: success keyword",
            filters: subject.clone(),
            message: plain("Backup SUCCESS", "no keyword here"),
            expected: "success",
        },
        Rule {
            name: "subject: start keyword",
            filters: subject.clone(),
            message: plain("Backup STARTED", "no keyword here"),
            expected: "start",
        },
        Rule {
            name: "subject: failure keyword wins over success",
            filters: subject.clone(),
            message: plain("SUCCESS? no: FAILED", ""),
            expected: "fail",
        },
        Rule {
            name: "subject only: the body is not read",
            filters: subject.clone(),
            message: plain("Backup report", "FAILED"),
            expected: "ign",
        },
        Rule {
            name: "nothing matches: ignored",
            filters: json!({"filter_subject": true, "filter_body": true}),
            message: plain("Backup report", "all quiet"),
            expected: "ign",
        },
        Rule {
            name: "nothing matches, default fail: failure",
            filters: json!({"filter_subject": true, "filter_body": true, "filter_default_fail": true}),
            message: plain("Backup report", "all quiet"),
            expected: "fail",
        },
        Rule {
            name: "body only: the subject is not read",
            filters: body.clone(),
            message: plain("Backup SUCCESS", "the job FAILED"),
            expected: "fail",
        },
        Rule {
            name: "body: a plain-text keyword",
            filters: body.clone(),
            message: plain("Backup report", "it began: STARTED at 3:00"),
            expected: "start",
        },
        Rule {
            name: "body: an HTML-only message is read as text",
            filters: body,
            message: mail(&to, "Backup report")
                .header(ContentType::TEXT_HTML)
                // The keyword is in the text only once the entity is decoded.
                .body("<html><body><p>backup <b>&#83;UCCESS</b></p></body></html>".to_owned())
                .expect("message"),
            expected: "success",
        },
        Rule {
            name: "subject: RFC 2047 encoded words are decoded",
            filters: subject,
            // lettre encodes a non-ASCII subject, so the keyword is not in the raw message.
            message: plain("Sauvegarde r\u{e9}ussie", "no keyword here"),
            expected: "success",
        },
    ]
}

async fn check_for(app: &TestApp, rule: &Rule, n: usize) -> overdue::store::CheckRecord {
    let mut spec = json!({
        "name": format!("rule {n}"),
        "start_kw": "STARTED",
        "success_kw": "SUCCESS, r\u{e9}ussie, backup SUCCESS",
        "failure_kw": "FAILED",
    });
    for (key, value) in rule.filters.as_object().expect("filters") {
        spec[key] = value.clone();
    }
    app.create_check(&spec).await
}

app_test!(
    every_classification_rule_holds_for_lettre_and_swaks,
    |app| {
        let smtp = app.start_smtp().await;
        let transport = lettre(smtp);
        let swaks = swaks();
        for (n, rule) in rules().into_iter().enumerate() {
            let check = check_for(app, &rule, n).await;
            let to = address_of(&check);
            let envelope = lettre::address::Envelope::new(
                Some(FROM.parse().expect("from")),
                vec![to.parse().expect("to")],
            )
            .expect("envelope");
            let raw = rule.message.formatted();
            transport
                .send_raw(&envelope, &raw)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", rule.name));
            assert_eq!(
                last_type(app, &check).await,
                rule.expected,
                "lettre: {}",
                rule.name
            );
            if let Some(swaks) = swaks {
                let (code, transcript) = swaks_send(swaks, smtp, &[&to], &raw).await;
                assert_eq!(code, 0, "{}: {transcript}", rule.name);
                assert_eq!(app.pings(&check).await.len(), 2, "{}", rule.name);
                assert_eq!(
                    last_type(app, &check).await,
                    rule.expected,
                    "swaks: {}",
                    rule.name
                );
            }
        }
    }
);

app_test!(a_paused_check_with_manual_resume_ignores_email, |app| {
    let smtp = app.start_smtp().await;
    let transport = lettre(smtp);
    let manual = app
        .create_check(&json!({"name": "manual", "manual_resume": true}))
        .await;
    let automatic = app.create_check(&json!({"name": "automatic"})).await;
    for check in [&manual, &automatic] {
        let pause = format!("/api/v3/checks/{}/pause", check.code);
        assert_eq!(app.api("POST", &pause, None).await.status, StatusCode::OK);
        let message = mail(&address_of(check), "done")
            .body("ok".to_owned())
            .expect("message");
        transport.send(message).await.expect("send");
    }
    assert_eq!(last_type(app, &manual).await, "ign");
    assert_eq!(app.reload(&manual).await.state.status.as_str(), "paused");
    assert_eq!(last_type(app, &automatic).await, "success");
    assert_eq!(app.reload(&automatic).await.state.status.as_str(), "up");
});

app_test!(slug_addresses_name_checks_by_ping_key_and_slug, |app| {
    let smtp = app.start_smtp().await;
    let key = app.keys.ping_key.clone();
    let backup = app
        .create_check(&json!({"name": "backup", "slug": "db-backup"}))
        .await;
    let twins = [
        app.create_check(&json!({"name": "a", "slug": "twin"}))
            .await,
        app.create_check(&json!({"name": "b", "slug": "twin", "unique": []}))
            .await,
    ];
    let transport = lettre(smtp);
    let message = mail(&format!("{key}+db-backup@{DOMAIN}"), "done")
        .body("ok".to_owned())
        .expect("message");
    transport.send(message).await.expect("send by slug");
    assert_eq!(app.only_ping(&backup).await.scheme, "email");

    // An ambiguous or unknown slug is accepted and skipped: nothing is recorded.
    let mut client = Smtp::connect(smtp).await;
    let reply = client
        .send(
            &[
                &format!("{key}+twin@{DOMAIN}"),
                &format!("{key}+nothing-here@{DOMAIN}"),
                &format!("abcdefghij0123456789xy+db-backup@{DOMAIN}"),
            ],
            b"Subject: x\r\n\r\ny\r\n",
        )
        .await;
    assert_eq!(reply, "250 OK");
    for twin in &twins {
        assert!(app.pings(twin).await.is_empty());
    }
    assert_eq!(app.pings(&backup).await.len(), 1);
});

app_test!(recipients_are_checked_as_healthchecks_io_does, |app| {
    let smtp = app.start_smtp().await;
    let check = app.create_check(&json!({"name": "target"})).await;
    let refused_domain = r#"overdue_email_recipients_refused_total{reason="domain"}"#;
    let refused_mailbox = r#"overdue_email_recipients_refused_total{reason="mailbox"}"#;
    let (domain_before, mailbox_before) = (
        counter(app, refused_domain).await,
        counter(app, refused_mailbox).await,
    );
    let mut client = Smtp::connect(smtp).await;
    assert!(
        client
            .command("EHLO client.example.org")
            .await
            .starts_with("250-")
    );
    assert_eq!(
        client.command(&format!("MAIL FROM:<{FROM}>")).await,
        "250 OK"
    );
    for (to, expected) in [
        (
            format!("{}@example.org", check.code),
            "550 5.1.1 Recipient rejected",
        ),
        (
            format!("{}@{DOMAIN}.evil", check.code),
            "550 5.1.1 Recipient rejected",
        ),
        ("no-domain".to_owned(), "550 5.1.1 Recipient rejected"),
        (format!("postmaster@{DOMAIN}"), "550 5.1.1 Invalid mailbox"),
        (
            format!("{}@{DOMAIN}", check.code.simple()),
            "550 5.1.1 Invalid mailbox",
        ),
    ] {
        assert_eq!(
            client.command(&format!("RCPT TO:<{to}>")).await,
            expected,
            "{to}"
        );
    }
    // Nobody accepted yet: no message can follow.
    assert!(client.command("DATA").await.starts_with("503 "));
    assert!(counter(app, refused_domain).await >= domain_before + 3.0);
    assert!(counter(app, refused_mailbox).await >= mailbox_before + 2.0);

    // The domain in any case; an unknown UUID is accepted, then skipped.
    let unknown = uuid::Uuid::new_v4();
    for to in [
        format!("{}@OVERDUE.Test", check.code.to_string().to_uppercase()),
        format!("{unknown}@{DOMAIN}"),
    ] {
        assert_eq!(client.command(&format!("RCPT TO:<{to}>")).await, "250 OK");
    }
    assert_eq!(client.data(b"Subject: hi\r\n\r\nbody\r\n").await, "250 OK");
    assert_eq!(app.pings(&check).await.len(), 1);
    assert_eq!(client.command("QUIT").await, "221 Goodbye");

    // A message whose only recipient names no check records nothing.
    let mut client = Smtp::connect(smtp).await;
    assert_eq!(
        client
            .send(
                &[&format!("{unknown}@{DOMAIN}")],
                b"Subject: x\r\n\r\ny\r\n"
            )
            .await,
        "250 OK"
    );
    assert_eq!(app.pings(&check).await.len(), 1);

    // lettre and swaks hear the refusal too.
    let refused = lettre(smtp)
        .send(
            mail(&format!("{}@example.org", check.code), "x")
                .body(String::new())
                .expect("m"),
        )
        .await
        .expect_err("refused");
    assert!(refused.is_permanent(), "{refused}");
    if let Some(swaks) = swaks() {
        let (code, transcript) = swaks_send(
            swaks,
            smtp,
            &[&format!("postmaster@{DOMAIN}")],
            b"Subject: x\r\n\r\ny\r\n",
        )
        .await;
        assert_eq!(code, 24, "no RCPTs accepted: {transcript}");
        assert!(
            transcript.contains("550 5.1.1 Invalid mailbox"),
            "{transcript}"
        );
    }
    assert_eq!(app.pings(&check).await.len(), 1);
});

app_test!(every_recipient_of_a_message_gets_a_ping, |app| {
    let smtp = app.start_smtp().await;
    let by_code = app.create_check(&json!({"name": "one"})).await;
    let by_slug = app
        .create_check(&json!({"name": "two", "slug": "two"}))
        .await;
    let message = b"Subject: fan-out\r\n\r\n.leading dot survives\r\n";
    let mut client = Smtp::connect(smtp).await;
    assert_eq!(
        client.command(&format!("MAIL FROM:<{FROM}>")).await,
        "250 OK"
    );
    for (to, expected) in [
        (address_of(&by_code), "250 OK"),
        (format!("{}+two@{DOMAIN}", app.keys.ping_key), "250 OK"),
        (format!("{}@{DOMAIN}", uuid::Uuid::new_v4()), "250 OK"),
        (
            format!("{}@example.org", by_code.code),
            "550 5.1.1 Recipient rejected",
        ),
    ] {
        assert_eq!(client.command(&format!("RCPT TO:<{to}>")).await, expected);
    }
    assert_eq!(client.data(message).await, "250 OK");
    for check in [&by_code, &by_slug] {
        let ping = app.only_ping(check).await;
        assert_eq!(ping.body.as_deref(), Some(&message[..]));
        assert_eq!(ping.kind, None);
    }

    // swaks with several recipients too.
    if let Some(swaks) = swaks() {
        let to = [address_of(&by_code), address_of(&by_slug)];
        let (code, transcript) = swaks_send(
            swaks,
            smtp,
            &[&to[0], &to[1]],
            b"Subject: again\r\n\r\nx\r\n",
        )
        .await;
        assert_eq!(code, 0, "{transcript}");
        assert_eq!(app.pings(&by_code).await.len(), 2);
        assert_eq!(app.pings(&by_slug).await.len(), 2);
    }
});

app_test!(malformed_messages_are_pings_and_match_no_keyword, |app| {
    let smtp = app.start_smtp().await;
    let plain = app.create_check(&json!({"name": "plain"})).await;
    let filtered = app
        .create_check(&json!({"name": "filtered", "filter_body": true, "filter_subject": true, "success_kw": "garbage"}))
        .await;
    let strict = app
        .create_check(&json!({"name": "strict", "filter_body": true, "filter_default_fail": true, "success_kw": "garbage"}))
        .await;
    // No header block, bytes that are not UTF-8, a NUL: not a message at all.
    let message: &[u8] = b"\xff\xfe\x00 not a message\r\n";
    let mut client = Smtp::connect(smtp).await;
    let reply = client
        .send(
            &[
                &address_of(&plain),
                &address_of(&filtered),
                &address_of(&strict),
            ],
            message,
        )
        .await;
    assert_eq!(reply, "250 OK");

    let ping = app.only_ping(&plain).await;
    assert_eq!(ping.kind, None, "no filtering: recorded as a success");
    assert_eq!(ping.body.as_deref(), Some(message));
    assert_eq!(last_type(app, &filtered).await, "ign");
    assert_eq!(last_type(app, &strict).await, "fail");
    assert_eq!(app.reload(&strict).await.state.status.as_str(), "down");

    // A null sender is taken, as healthchecks.io takes it.
    assert_eq!(client.command("MAIL FROM:<>").await, "250 OK");
    assert_eq!(
        client
            .command(&format!("RCPT TO:<{}>", address_of(&plain)))
            .await,
        "250 OK"
    );
    assert_eq!(client.data(b"Subject: bounce\r\n\r\nx\r\n").await, "250 OK");
    assert_eq!(app.pings(&plain).await[0].ua, "Email from ");
});

app_test!(
    over_size_messages_are_refused_and_record_nothing,
    flags = ["--smtp-max-message-size", "2000"],
    |app| {
        let smtp = app.start_smtp().await;
        let check = app.create_check(&json!({"name": "sized"})).await;
        let too_large = r#"overdue_email_messages_total{outcome="too_large"}"#;
        let before = counter(app, too_large).await;
        let mut client = Smtp::connect(smtp).await;
        let ehlo = client.command("EHLO client.example.org").await;
        assert!(
            ehlo.contains("250 SIZE 2000") || ehlo.contains("250-SIZE 2000"),
            "{ehlo}"
        );

        // Declared too large: refused at once.
        assert_eq!(
            client
                .command(&format!("MAIL FROM:<{FROM}> SIZE=2001"))
                .await,
            "552 5.3.4 Message size exceeds fixed maximum message size"
        );
        // Found too large: refused after the data, and the session goes on.
        let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(3000));
        assert_eq!(
            client.send(&[&address_of(&check)], big.as_bytes()).await,
            "552 5.3.4 Message size exceeds fixed maximum message size"
        );
        assert!(app.pings(&check).await.is_empty());
        assert!(counter(app, too_large).await > before);
        assert_eq!(
            client
                .send(&[&address_of(&check)], b"Subject: small\r\n\r\nok\r\n")
                .await,
            "250 OK"
        );
        assert_eq!(app.pings(&check).await.len(), 1);

        // lettre and swaks are refused with 552 too.
        let refused = lettre(smtp)
            .send(
                mail(&address_of(&check), "big")
                    .body("y".repeat(3000))
                    .expect("m"),
            )
            .await
            .expect_err("too large");
        assert_eq!(
            refused.status().map(|c| c.to_string()).as_deref(),
            Some("552")
        );
        if let Some(swaks) = swaks() {
            let (code, transcript) =
                swaks_send(swaks, smtp, &[&address_of(&check)], big.as_bytes()).await;
            assert_eq!(code, 26, "not accepted after data: {transcript}");
            assert!(transcript.contains("552 5.3.4"), "{transcript}");
        }
        assert_eq!(app.pings(&check).await.len(), 1);
    }
);

app_test!(a_line_too_long_is_refused_and_the_session_goes_on, |app| {
    let smtp = app.start_smtp().await;
    let check = app.create_check(&json!({"name": "lines"})).await;
    let mut client = Smtp::connect(smtp).await;
    let long = format!("NOOP {}", "x".repeat(70_000));
    assert_eq!(client.command(&long).await, "500 5.5.2 Line too long");
    assert_eq!(client.command("NOOP").await, "250 OK");
    let message = format!("Subject: long\r\n\r\n{}\r\n", "y".repeat(70_000));
    assert_eq!(
        client
            .send(&[&address_of(&check)], message.as_bytes())
            .await,
        "500 5.5.2 Line too long"
    );
    assert!(app.pings(&check).await.is_empty());
    assert_eq!(client.command("QUIT").await, "221 Goodbye");
});

app_test!(
    a_thousand_messages_from_twenty_senders_are_all_recorded,
    |app| {
        const SENDERS: usize = 20;
        const EACH: usize = 50;
        let smtp = app.start_smtp().await;
        let mut checks = Vec::new();
        for n in 0..SENDERS {
            checks.push(
                app.create_check(&json!({"name": format!("sender {n}")}))
                    .await,
            );
        }
        let mut senders = tokio::task::JoinSet::new();
        for check in &checks {
            let envelope = lettre::address::Envelope::new(
                Some(FROM.parse().expect("from")),
                vec![address_of(check).parse().expect("to")],
            )
            .expect("envelope");
            senders.spawn(async move {
                // One lettre connection per sender, kept for all its messages (lettre's pool
                // may open several at once).
                let hello = lettre::transport::smtp::extension::ClientId::Domain("sender".into());
                let mut connection =
                    AsyncSmtpConnection::connect_tokio1(smtp, Some(PATIENCE), &hello, None, None)
                        .await
                        .expect("connect");
                for n in 0..EACH {
                    let message = format!("Subject: run {n}\r\n\r\nmessage {n}\r\n");
                    connection
                        .send(&envelope, message.as_bytes())
                        .await
                        .expect("send");
                }
                connection.quit().await.expect("quit");
            });
        }
        while let Some(sent) = senders.join_next().await {
            sent.expect("sender");
        }
        let mut total = 0;
        for check in &checks {
            let pings = app.pings(check).await;
            assert_eq!(pings.len(), EACH);
            assert!(
                pings
                    .iter()
                    .all(|p| p.scheme == "email" && p.kind.is_none())
            );
            assert_eq!(
                app.reload(check).await.state.n_pings,
                i64::try_from(EACH).expect("n")
            );
            total += pings.len();
        }
        assert_eq!(total, SENDERS * EACH);
    }
);

app_test!(
    five_hundred_idle_connections_from_one_client_do_not_block_another,
    |app| {
        let smtp = app.start_smtp().await;
        let check = app.create_check(&json!({"name": "delivered"})).await;
        let refused = r#"overdue_smtp_sessions_refused_total{reason="client"}"#;
        let before = counter(app, refused).await;
        let mut idle = Vec::new();
        let (mut greeted, mut turned_away) = (0, 0);
        for _ in 0..500 {
            let (client, first) = Smtp::connect_from("127.0.0.2", smtp).await;
            if first.starts_with("220 ") {
                greeted += 1;
            } else {
                assert_eq!(first, "421 4.7.0 Too many connections, try again later");
                turned_away += 1;
            }
            idle.push(client);
        }
        // The default cap per client address.
        assert_eq!(greeted, 32);
        assert_eq!(turned_away, 468);
        assert!(counter(app, refused).await >= before + 468.0);

        let message = mail(&address_of(&check), "still here")
            .body("ok".to_owned())
            .expect("message");
        lettre(smtp)
            .send(message)
            .await
            .expect("another client delivers");
        assert_eq!(
            app.only_ping(&check).await.remote_addr.as_deref(),
            Some("127.0.0.1")
        );
        drop(idle);
    }
);

app_test!(
    idle_and_slow_clients_are_timed_out,
    flags = [
        "--smtp-command-timeout",
        "0.3",
        "--smtp-session-timeout",
        "1.2"
    ],
    |app| {
        let smtp = app.start_smtp().await;
        let check = app.create_check(&json!({"name": "slow"})).await;

        // Silent after the greeting.
        let started = Instant::now();
        let mut idle = Smtp::connect(smtp).await;
        let reply = idle.reply().await;
        assert!(reply.starts_with("421 4.4.2 Timeout"), "{reply}");
        assert!(idle.closed().await);
        // The short timeout, not the default minute (with room for a loaded machine).
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );

        // Half a line of the message, then nothing: no ping.
        let mut slow = Smtp::connect(smtp).await;
        assert_eq!(slow.command(&format!("MAIL FROM:<{FROM}>")).await, "250 OK");
        assert_eq!(
            slow.command(&format!("RCPT TO:<{}>", address_of(&check)))
                .await,
            "250 OK"
        );
        assert!(slow.command("DATA").await.starts_with("354 "));
        slow.write(b"Subject: never fini").await;
        assert!(slow.reply().await.starts_with("421 4.4.2 Timeout"));
        assert!(app.pings(&check).await.is_empty());

        // Busy but endless: the session limit ends it.
        let started = Instant::now();
        let mut chatty = Smtp::connect(smtp).await;
        let last = loop {
            // A pause shorter than the command timeout, listening for the end meanwhile.
            if let Ok(unasked) =
                tokio::time::timeout(Duration::from_millis(100), chatty.reply()).await
            {
                break unasked;
            }
            assert_eq!(chatty.command("NOOP").await, "250 OK");
            assert!(started.elapsed() < Duration::from_secs(10), "never cut off");
        };
        assert!(last.starts_with("421 4.4.2 Session time limit"), "{last}");
        assert!(started.elapsed() >= Duration::from_millis(1100));
    }
);

app_test!(the_listener_stops_at_shutdown, |app| {
    let cancel = CancellationToken::new();
    let (smtp, task) = app.start_smtp_until(cancel.clone()).await;
    let mut waiting = Smtp::connect(smtp).await;
    assert_eq!(waiting.command("HELO client").await, "250 OK");

    cancel.cancel();
    let goodbye = waiting.reply().await;
    assert!(
        goodbye.starts_with("421 4.3.2 Service shutting down"),
        "{goodbye}"
    );
    assert!(waiting.closed().await);
    tokio::time::timeout(PATIENCE, task)
        .await
        .expect("the listener stops")
        .expect("no panic");
    assert!(
        TcpStream::connect(smtp).await.is_err(),
        "no longer listening"
    );
});

app_test!(
    mail_over_a_checks_ping_limit_is_deferred_and_records_nothing,
    flags = ["--rate-limits", "on", "--rate-limit-ping-check", "2/min"],
    |app| {
        let smtp = app.start_smtp().await;
        let check = app.create_check(&json!({"name": "limited"})).await;
        let other = app.create_check(&json!({"name": "other"})).await;
        let (to, other_to) = (address_of(&check), address_of(&other));
        let message = b"Subject: done\r\n\r\nbody\r\n";
        for _ in 0..2 {
            assert_eq!(
                Smtp::connect(smtp).await.send(&[&to], message).await,
                "250 OK"
            );
        }

        // The third is deferred at RCPT (the sender retries later); another check still
        // takes mail in the same message.
        let mut client = Smtp::connect(smtp).await;
        assert!(
            client
                .command("EHLO client.example.org")
                .await
                .starts_with("250-")
        );
        assert_eq!(
            client.command(&format!("MAIL FROM:<{FROM}>")).await,
            "250 OK"
        );
        assert_eq!(
            client.command(&format!("RCPT TO:<{to}>")).await,
            "450 4.7.1 Too many pings to this check, try again later"
        );
        assert_eq!(
            client.command(&format!("RCPT TO:<{other_to}>")).await,
            "250 OK"
        );
        assert_eq!(client.data(message).await, "250 OK");
        assert_eq!(app.pings(&check).await.len(), 2);
        assert_eq!(app.pings(&other).await.len(), 1);

        // Mail and HTTP pings to a check share its limit.
        let response = app.request("GET", &format!("/ping/{}", check.code)).await;
        assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            counter(
                app,
                r#"overdue_email_recipients_refused_total{reason="rate_limited"}"#
            )
            .await
                >= 1.0
        );
    }
);
