//! Email channels end to end, through a real SMTP server (aiosmtpd): the verification link,
//! then alerts, on both engines.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{Aiosmtpd, TestApp, mail_header};

async fn run(app: &TestApp, smtp: &Aiosmtpd) {
    let channel = app
        .create_channel(&json!({
            "name": "ops",
            "kind": "email",
            "email": {"value": "ops@example.org", "up": true, "down": true},
        }))
        .await;
    assert_eq!(channel["email_verified"], false);
    let check = app
        .create_check(&json!({"name": "nightly-backup", "channels": "*"}))
        .await;
    let dispatcher = app.dispatcher();

    // Not verified yet: a failure queues no alert; the verification mail goes out.
    app.request("GET", &format!("/ping/{}/fail", check.code))
        .await;
    assert_eq!(dispatcher.tick().await.expect("dispatch").delivered, 1);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{}", smtp.log());
    assert_eq!(
        mail_header(&messages[0], "X-RcptTo").as_deref(),
        Some("ops@example.org")
    );
    assert_eq!(
        mail_header(&messages[0], "Subject").as_deref(),
        Some("Verify email address on Overdue")
    );
    // The text part may be quoted-printable: undo its soft line breaks.
    let verify = messages[0].replace("=\n", "");
    let start = verify
        .find("http://overdue.test/integrations/")
        .expect("verification link");
    let link: String = verify[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
        .collect();
    let path = link.trim_start_matches("http://overdue.test");

    // A forged token is refused; the mailed one verifies, once.
    let forged = format!(
        "/integrations/{}/verify/forged/",
        channel["id"].as_str().expect("id")
    );
    assert_eq!(
        app.request("GET", &forged).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.request("GET", path).await.status,
        StatusCode::OK,
        "{path}"
    );
    assert_eq!(
        app.request("GET", path).await.status,
        StatusCode::BAD_REQUEST
    );
    let uri = format!("/api/v3/channels/{}", channel["id"].as_str().expect("id"));
    assert_eq!(
        app.api("GET", &uri, None).await.json()["email_verified"],
        true
    );

    // Now alerts arrive: up, then down with the failure reason.
    app.request("GET", &format!("/ping/{}", check.code)).await;
    app.request("GET", &format!("/ping/{}/fail", check.code))
        .await;
    assert_eq!(dispatcher.tick().await.expect("dispatch").delivered, 2);
    let sent = app
        .api(
            "GET",
            &format!("/api/v3/checks/{}/notifications/", check.code),
            None,
        )
        .await
        .json();
    let messages = smtp.messages();
    assert_eq!(messages.len(), 3);
    let mut subjects: Vec<String> = messages[1..]
        .iter()
        .map(|m| mail_header(m, "Subject").unwrap_or_default())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["DOWN | nightly-backup", "UP | nightly-backup"]);
    // Each Message-ID is the notification's id, so it is the same on every retry.
    let mut ids: Vec<String> = messages[1..]
        .iter()
        .map(|m| mail_header(m, "Message-ID").unwrap_or_default())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = sent["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| format!("<{}@overdue.test>", n["id"].as_str().unwrap_or_default()))
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    let down = messages[1..]
        .iter()
        .find(|m| mail_header(m, "Subject").is_some_and(|s| s.starts_with("DOWN")))
        .expect("down alert");
    let down = down.replace("=\n", "");
    assert!(down.contains("has gone down"), "{down}");
    assert!(down.contains("received a failure signal"), "{down}");
}

fn flags(smtp: &Aiosmtpd) -> [&str; 4] {
    [
        "--smtp-url",
        &smtp.url,
        "--email-from",
        "Overdue <alerts@overdue.test>",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_channel_is_verified_by_its_link_and_then_alerted_sqlite() {
    let Some(smtp) = Aiosmtpd::start() else {
        return;
    };
    let app = TestApp::sqlite(&flags(&smtp)).await;
    run(&app, &smtp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_channel_is_verified_by_its_link_and_then_alerted_postgres() {
    let Some(smtp) = Aiosmtpd::start() else {
        return;
    };
    let Some(app) = TestApp::postgres(&flags(&smtp)).await else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    run(&app, &smtp).await;
}
