//! Channels through the API: healthchecks.io's list (§3.2), Overdue's create, read, update,
//! delete and test, channel assignment on checks (§3.5), validation and project isolation.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use overdue::keys::new_project;
use serde_json::{Value, json};

use crate::support::{Receiver, TestApp, TestResponse, app_test};

async fn with_key(
    app: &TestApp,
    key: &str,
    method: &str,
    uri: &str,
    body: Option<&Value>,
) -> TestResponse {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-api-key", key)
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    app.send(request).await
}

#[track_caller]
fn assert_error(response: &TestResponse, status: StatusCode, message: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.json(), json!({"error": message}));
}

app_test!(
    channels_are_created_listed_read_changed_and_deleted,
    |app| {
        let created = app.create_webhook("https://example.org/hook").await;
        let id = created["id"].as_str().expect("id").to_owned();
        assert_eq!(created["kind"], "webhook");
        assert!(
            created["secret"]
                .as_str()
                .is_some_and(|s| s.starts_with("whsec_"))
        );
        assert_eq!(
            created["webhook"]["url_down"],
            "https://example.org/hook/down/$CODE"
        );

        let list = app.api("GET", "/api/v3/channels/", None).await;
        assert_eq!(
            list.json(),
            json!({"channels": [{"id": id, "name": "hook", "kind": "webhook"}]})
        );

        let uri = format!("/api/v3/channels/{id}");
        let read = app.api("GET", &uri, None).await.json();
        assert!(
            read.get("secret").is_none(),
            "the secret is shown once only"
        );
        assert_eq!(read["webhook"], created["webhook"]);

        let changed = app
            .api(
                "POST",
                &uri,
                Some(&json!({"name": "renamed", "disabled": true})),
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
        assert_eq!(
            (
                changed.json()["name"].clone(),
                changed.json()["disabled"].clone()
            ),
            (json!("renamed"), json!(true))
        );

        let deleted = app.api("DELETE", &uri, None).await;
        assert_eq!(deleted.status, StatusCode::OK);
        assert_eq!(
            app.api("GET", &uri, None).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.api("GET", "/api/v3/channels/", None).await.json(),
            json!({"channels": []})
        );
    }
);

app_test!(bad_channels_are_refused_and_nothing_is_stored, |app| {
    let cases = [
        (
            json!({"name": "x"}),
            "json validation error: kind is missing",
        ),
        (
            json!({"kind": "sms"}),
            "json validation error: kind must be \"email\" or \"webhook\"",
        ),
        (
            json!({"kind": "webhook"}),
            "json validation error: webhook is missing",
        ),
        (
            json!({"kind": "webhook", "webhook": {"url_down": "ftp://example.org/"}}),
            "json validation error: url_down: Enter a valid URL.",
        ),
        (
            json!({"kind": "webhook", "webhook": {"url_down": "", "url_up": ""}}),
            "json validation error: url_down: Enter a valid URL.",
        ),
        (
            json!({"kind": "email", "email": {"value": "not an address", "up": true, "down": true}}),
            "json validation error: value: Enter a valid email address.",
        ),
        (
            json!({"kind": "webhook", "name": 5, "webhook": {"url_down": "https://example.org/"}}),
            "json validation error: name is not a string",
        ),
    ];
    for (body, message) in cases {
        let response = app.api("POST", "/api/v3/channels/", Some(&body)).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            response.text()
        );
        let error = response.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            error.starts_with(message) || error == message,
            "{body}: {error}"
        );
    }
    assert_eq!(
        app.api("GET", "/api/v3/channels/", None).await.json(),
        json!({"channels": []})
    );
});

app_test!(checks_name_their_channels_by_uuid_or_name, |app| {
    let a = app.create_webhook("https://example.org/a").await;
    let b = app
        .create_channel(&json!({"name": "second", "kind": "webhook", "webhook": {"url_down": "https://example.org/b"}}))
        .await;
    let (a_id, b_id) = (a["id"].as_str().expect("id"), b["id"].as_str().expect("id"));
    // healthchecks.io lists a check's channels sorted.
    let sorted = |ids: &[&str]| {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.join(",")
    };
    let both = sorted(&[a_id, b_id]);
    let check = app.create_check(&json!({"name": "c"})).await;
    let uri = format!("/api/v3/checks/{}", check.code);
    let set = |channels: &str| json!({"channels": channels});

    let response = app
        .api("POST", &uri, Some(&set(&format!("second,{a_id},second"))))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["channels"], both);
    let response = app.api("POST", &uri, Some(&set(""))).await;
    assert_eq!(response.json()["channels"], "");
    let response = app.api("POST", &uri, Some(&set("*"))).await;
    assert_eq!(response.json()["channels"], both);
    // Absent: unchanged.
    let response = app.api("POST", &uri, Some(&json!({"name": "d"}))).await;
    assert_eq!(response.json()["channels"], both);

    assert_error(
        &app.api("POST", &uri, Some(&set("nope"))).await,
        StatusCode::BAD_REQUEST,
        "invalid channel identifier: nope",
    );
    assert_error(
        &app.api("POST", &uri, Some(&set("second,"))).await,
        StatusCode::BAD_REQUEST,
        "empty channel identifier",
    );
    // A new channel notifies every existing check, as on healthchecks.io.
    let c = app.create_channel(&json!({"name": "second", "kind": "webhook", "webhook": {"url_down": "https://example.org/c"}})).await;
    let all = sorted(&[a_id, b_id, c["id"].as_str().expect("id")]);
    assert_eq!(app.api("GET", &uri, None).await.json()["channels"], all);
    let refused = app
        .api(
            "POST",
            &uri,
            Some(&json!({"name": "e", "channels": "second"})),
        )
        .await;
    assert_error(
        &refused,
        StatusCode::BAD_REQUEST,
        "non-unique channel identifier: second",
    );
    // A refused update changes nothing.
    let response = app.api("GET", &uri, None).await;
    assert_eq!(response.json()["channels"], all);
    assert_eq!(response.json()["name"], "d");
});

app_test!(another_projects_key_reaches_no_channel, |app| {
    let channel = app.create_webhook("https://example.org/hook").await;
    let id = channel["id"].as_str().expect("id");
    let (other, keys) = new_project("Other");
    app.store
        .create_project(&other, app.now())
        .await
        .expect("project");
    let uri = format!("/api/v3/channels/{id}");
    for method in ["GET", "POST", "DELETE"] {
        let response = with_key(
            app,
            &keys.api_key,
            method,
            &uri,
            Some(&json!({"name": "x"})),
        )
        .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{method}");
    }
    let test = with_key(app, &keys.api_key, "POST", &format!("{uri}/test"), None).await;
    assert_eq!(test.status, StatusCode::FORBIDDEN);
    let list = with_key(app, &keys.api_key, "GET", "/api/v3/channels/", None).await;
    assert_eq!(list.json(), json!({"channels": []}));
    // Nor can it assign the channel to its own checks.
    let response = with_key(
        app,
        &keys.api_key,
        "POST",
        "/api/v3/checks/",
        Some(&json!({"channels": id})),
    )
    .await;
    assert_error(
        &response,
        StatusCode::BAD_REQUEST,
        &format!("invalid channel identifier: {id}"),
    );
    assert_eq!(app.api("GET", &uri, None).await.json()["name"], "hook");
});

app_test!(read_only_keys_see_no_channels_and_change_none, |app| {
    let channel = app.create_webhook("https://example.org/hook").await;
    let uri = format!("/api/v3/channels/{}", channel["id"].as_str().expect("id"));
    let ro = app.keys.api_key_ro.clone();
    for (method, uri) in [
        ("GET", "/api/v3/channels/"),
        ("GET", uri.as_str()),
        ("POST", uri.as_str()),
        ("DELETE", uri.as_str()),
    ] {
        let response = with_key(app, &ro, method, uri, Some(&json!({"name": "x"}))).await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
    }
    assert_eq!(app.api("GET", &uri, None).await.json()["name"], "hook");
});

app_test!(
    a_test_notification_is_queued_and_delivered_once,
    flags = ["--webhook-allow-private"],
    |app| {
        let receiver = Receiver::start().await;
        receiver.answer_with(&[500]);
        let channel = app.create_webhook(&receiver.url).await;
        let uri = format!(
            "/api/v3/channels/{}/test",
            channel["id"].as_str().expect("id")
        );
        let response = app.api("POST", &uri, None).await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.text());
        let id = response.json()["notification"]
            .as_str()
            .expect("id")
            .to_owned();
        let queued = app
            .api("GET", &format!("/api/v3/notifications/{id}"), None)
            .await
            .json();
        assert_eq!(
            (queued["purpose"].as_str(), queued["state"].as_str()),
            (Some("test"), Some("pending"))
        );
        // A test is tried once, failure or not (healthchecks.io's "Test!" button).
        assert_eq!(app.dispatcher().tick().await.expect("dispatch").dead, 1);
        let done = app
            .api("GET", &format!("/api/v3/notifications/{id}"), None)
            .await
            .json();
        assert_eq!(done["attempts"].as_array().map(Vec::len), Some(1));
        assert_eq!(done["last_error"], "Received status code 500");
        let received = receiver.received();
        assert_eq!(received.len(), 1);
        assert!(received[0].path.starts_with("/down/"));
        // It describes a stand-in check called TEST.
        let resent = app
            .api("POST", &format!("/api/v3/notifications/{id}/resend"), None)
            .await;
        assert_eq!(resent.status, StatusCode::OK);
        assert_eq!(
            app.dispatcher().tick().await.expect("dispatch").delivered,
            1
        );
        assert_eq!(receiver.received()[1].body.as_ref(), b"TEST is down");
    }
);
