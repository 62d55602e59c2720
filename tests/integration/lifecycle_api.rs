//! Pause and resume (reference §3.6), and the pings list and ping bodies (§3.7), through the
//! Management API on both engines.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Duration;
use overdue::domain::check::Status;
use serde_json::{Value, json};

use crate::support::{START, TestApp, app_test, at};

async fn read_only(app: &TestApp, method: &str, uri: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-api-key", app.keys.api_key_ro.as_str())
        .body(Body::empty())
        .expect("request");
    app.send(request).await.status
}

app_test!(pause_and_resume_change_the_status_without_alerts, |app| {
    app.create_webhook("https://example.org/hook").await;
    let check = app
        .create_check(&json!({"name": "p", "channels": "*"}))
        .await;
    app.request("GET", &format!("/ping/{}", check.code)).await;
    let pause = format!("/api/v3/checks/{}/pause", check.code);
    let resume = format!("/api/v3/checks/{}/resume", check.code);

    let response = app.api("POST", &pause, None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["status"], "paused");
    let paused = app.reload(&check).await;
    assert_eq!(
        (paused.state.status, paused.alert_after),
        (Status::Paused, None)
    );
    assert_eq!(app.flips(&check).await.len(), 2);
    // Again: still 200, no second flip.
    assert_eq!(app.api("POST", &pause, None).await.status, StatusCode::OK);
    assert_eq!(app.flips(&check).await.len(), 2);

    let response = app.api("POST", &resume, None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["status"], "new");
    assert_eq!(response.json()["last_ping"], Value::Null);
    let flips = app.flips(&check).await;
    assert_eq!(
        (flips[0].old_status, flips[0].new_status),
        (Status::Paused, Status::New)
    );

    let response = app.api("POST", &resume, None).await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert_eq!(response.text(), "check is not paused");
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );

    // Neither pausing nor resuming is announced.
    let sent = app
        .api(
            "GET",
            &format!("/api/v3/checks/{}/notifications/", check.code),
            None,
        )
        .await;
    assert_eq!(sent.json(), json!({"notifications": []}));
});

app_test!(
    pause_and_resume_refuse_gets_read_only_keys_and_other_projects,
    |app| {
        let check = app.create_check(&json!({})).await;
        let pause = format!("/api/v3/checks/{}/pause", check.code);
        assert_eq!(
            app.api("GET", &pause, None).await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            read_only(app, "POST", &pause).await,
            StatusCode::UNAUTHORIZED
        );
        let bad = app.request_with_body("POST", &pause, "123").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            bad.json(),
            json!({"error": "json validation error: value is not an object"})
        );
        assert_eq!(app.reload(&check).await.state.status, Status::New);
        let response = app
            .send(
                Request::builder()
                    .method("POST")
                    .uri(&pause)
                    .body(Body::from(json!({"api_key": app.keys.api_key}).to_string()))
                    .expect("request"),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "the key may come in the body"
        );
        let (other, keys) = overdue::keys::new_project("Other");
        app.store
            .create_project(&other, app.now())
            .await
            .expect("project");
        let response = app
            .send(
                Request::builder()
                    .method("POST")
                    .uri(format!("/api/v3/checks/{}/resume", check.code))
                    .header("x-api-key", keys.api_key.as_str())
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert_eq!(app.reload(&check).await.state.status, Status::Paused);
    }
);

app_test!(
    pings_are_listed_newest_first_with_durations_and_body_urls,
    |app| {
        let check = app.create_check(&json!({})).await;
        let rid = "5f4f6b4e-2a5d-4d4c-8a53-0c1c1f9f8e10";
        app.request("GET", &format!("/ping/{}/start?rid={rid}", check.code))
            .await;
        app.clock.set(at(START) + Duration::milliseconds(12_345));
        app.request_with_body(
            "POST",
            &format!("/ping/{}?rid={rid}", check.code),
            "all done",
        )
        .await;
        app.clock.set(at(START) + Duration::seconds(20));
        app.request("GET", &format!("/ping/{}/log", check.code))
            .await;

        let uri = format!("/api/v3/checks/{}/pings/", check.code);
        let response = app.api("GET", &uri, None).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let pings = response.json()["pings"].clone();
        assert_eq!(
            pings[0],
            json!({
                "type": "log", "date": "2024-03-01T10:00:20+00:00", "n": 3, "scheme": "http",
                "remote_addr": "192.0.2.10", "method": "GET", "ua": "", "rid": null, "body_url": null,
            })
        );
        assert_eq!(pings[1]["type"], "success");
        assert_eq!(pings[1]["date"], "2024-03-01T10:00:12.345000+00:00");
        assert_eq!(pings[1]["rid"], rid);
        assert_eq!(pings[1]["duration"], 12.35);
        let body_url = format!(
            "http://overdue.test/api/v3/checks/{}/pings/2/body",
            check.code
        );
        assert_eq!(pings[1]["body_url"], body_url);
        assert_eq!(pings[2]["type"], "start");
        assert!(pings[2].get("duration").is_none());
        // Keys in healthchecks.io's order.
        let keys: Vec<&str> = pings[1]
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "type",
                "date",
                "n",
                "scheme",
                "remote_addr",
                "method",
                "ua",
                "rid",
                "duration",
                "body_url"
            ]
        );

        let body = app
            .api(
                "GET",
                &format!("/api/v3/checks/{}/pings/2/body", check.code),
                None,
            )
            .await;
        assert_eq!(
            (body.status, body.text().as_str()),
            (StatusCode::OK, "all done")
        );
        assert_eq!(body.header("content-type"), Some("text/plain"));
        for n in ["1", "3", "4", "x"] {
            let uri = format!("/api/v3/checks/{}/pings/{n}/body", check.code);
            assert_eq!(
                app.api("GET", &uri, None).await.status,
                StatusCode::NOT_FOUND,
                "{n}"
            );
        }
        assert_eq!(read_only(app, "GET", &uri).await, StatusCode::UNAUTHORIZED);
        let uri = format!("/api/v3/checks/{}/pings/2/body", check.code);
        assert_eq!(read_only(app, "GET", &uri).await, StatusCode::UNAUTHORIZED);
    }
);

app_test!(
    the_ping_log_limit_bounds_the_list_and_the_bodies,
    flags = ["--ping-log-limit", "2"],
    |app| {
        let check = app.create_check(&json!({})).await;
        for body in ["one", "two", "three"] {
            app.request_with_body("POST", &format!("/ping/{}", check.code), body)
                .await;
        }
        let uri = format!("/api/v1/checks/{}/pings/", check.code);
        let pings = app.api("GET", &uri, None).await.json()["pings"].clone();
        let numbers: Vec<i64> = pings
            .as_array()
            .expect("pings")
            .iter()
            .map(|p| p["n"].as_i64().unwrap_or(0))
            .collect();
        assert_eq!(numbers, [3, 2]);
        assert!(
            pings[0]["body_url"]
                .as_str()
                .is_some_and(|u| u.contains("/api/v1/"))
        );
        let old = format!("/api/v3/checks/{}/pings/1/body", check.code);
        assert_eq!(
            app.api("GET", &old, None).await.status,
            StatusCode::NOT_FOUND
        );
        let kept = format!("/api/v3/checks/{}/pings/2/body", check.code);
        assert_eq!(app.api("GET", &kept, None).await.text(), "two");
    }
);
