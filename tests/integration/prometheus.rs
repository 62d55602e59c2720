//! The per-project Prometheus export (reference §8.3), byte for byte, on both engines.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Duration;
use overdue::http::api::json::unique_key;
use serde_json::json;

use crate::support::{START, TestApp, TestResponse, app_test, at};

async fn get(app: &TestApp, uri: &str, authorization: Option<&str>) -> TestResponse {
    let mut request = Request::builder().uri(uri);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

app_test!(project_metrics_match_healthchecks_io, |app| {
    // Up with tags; down (a failure); paused; in grace; a name that needs escaping.
    let up = app
        .create_check(&json!({"name": "up", "tags": "prod db", "timeout": 3600, "grace": 3600}))
        .await;
    let down = app
        .create_check(&json!({"name": "down", "tags": "prod"}))
        .await;
    let paused = app
        .create_check(&json!({"name": "pa\"used\\n", "tags": ""}))
        .await;
    let grace = app
        .create_check(&json!({"name": "late", "timeout": 60, "grace": 3600}))
        .await;
    for (check, path) in [(&up, ""), (&down, "/fail"), (&grace, ""), (&up, "/start")] {
        app.request("GET", &format!("/ping/{}{path}", check.code))
            .await;
    }
    app.api(
        "POST",
        &format!("/api/v3/checks/{}/pause", paused.code),
        None,
    )
    .await;
    app.clock.set(at(START) + Duration::seconds(120));
    let (k_up, k_down, k_paused, k_grace) = (
        unique_key(&up),
        unique_key(&down),
        unique_key(&paused),
        unique_key(&grace),
    );
    let labels = |name: &str, tags: &str, k: &str| {
        format!("{{name=\"{name}\", tags=\"{tags}\", unique_key=\"{k}\"}}")
    };
    let l_up = labels("up", "prod db", &k_up);
    let l_down = labels("down", "prod", &k_down);
    let l_paused = labels("pa\\\"used\\\\n", "", &k_paused);
    let l_grace = labels("late", "", &k_grace);
    let expected = format!(
        "# HELP hc_check_up Whether the check is currently up (1 for yes, 0 for no).\n\
         # TYPE hc_check_up gauge\n\
         hc_check_up{l_up} 1\nhc_check_up{l_down} 0\nhc_check_up{l_paused} 1\nhc_check_up{l_grace} 1\n\n\
         # HELP hc_check_started Whether the check is currently started (1 for yes, 0 for no).\n\
         # TYPE hc_check_started gauge\n\
         hc_check_started{l_up} 1\nhc_check_started{l_down} 0\nhc_check_started{l_paused} 0\nhc_check_started{l_grace} 0\n\n\
         # HELP hc_check_grace Whether the check is currently in the grace period (1 for yes, 0 for no).\n\
         # TYPE hc_check_grace gauge\n\
         hc_check_grace{l_up} 0\nhc_check_grace{l_down} 0\nhc_check_grace{l_paused} 0\nhc_check_grace{l_grace} 1\n\n\
         # HELP hc_check_paused Whether the check is currently paused (1 for yes, 0 for no).\n\
         # TYPE hc_check_paused gauge\n\
         hc_check_paused{l_up} 0\nhc_check_paused{l_down} 0\nhc_check_paused{l_paused} 1\nhc_check_paused{l_grace} 0\n\n\
         # HELP hc_tag_up Whether all checks with this tag are up (1 for yes, 0 for no).\n\
         # TYPE hc_tag_up gauge\n\
         hc_tag_up{{tag=\"db\"}} 1\nhc_tag_up{{tag=\"prod\"}} 0\n\n\
         # HELP hc_checks_total The total number of checks.\n\
         # TYPE hc_checks_total gauge\n\
         hc_checks_total 4\n\n\
         # HELP hc_checks_down_total The number of checks currently down.\n\
         # TYPE hc_checks_down_total gauge\n\
         hc_checks_down_total 1\n"
    );
    let ro = app.keys.api_key_ro.clone();
    let code = app.project.code;
    for response in [
        get(app, &format!("/projects/{code}/metrics/{ro}"), None).await,
        get(app, &format!("/projects/{code}/checks/metrics/{ro}"), None).await,
        get(
            app,
            &format!("/projects/{code}/metrics/"),
            Some(&format!("Bearer {ro}")),
        )
        .await,
    ] {
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("content-type"), Some("text/plain"));
        assert_eq!(response.text(), expected);
    }
});

app_test!(project_metrics_take_only_read_only_keys, |app| {
    let code = app.project.code;
    let rw = app.keys.api_key.clone();
    let uri = format!("/projects/{code}/metrics/");
    assert_eq!(get(app, &uri, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(app, &uri, Some(&format!("Token {rw}"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(app, &uri, Some("Bearer short")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(app, &uri, Some(&format!("Bearer {rw}"))).await.status,
        StatusCode::FORBIDDEN
    );
    let unknown = format!("hcr_{}", "x".repeat(28));
    assert_eq!(
        get(app, &format!("/projects/{code}/metrics/{unknown}"), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
});

async fn ops(app: &TestApp, key: Option<&str>) -> TestResponse {
    let mut request = Request::builder().uri("/api/v3/metrics/");
    if let Some(key) = key {
        request = request.header("x-metrics-key", key);
    }
    app.send(request.body(Body::empty()).expect("request"))
        .await
}

app_test!(
    ops_metrics_need_the_metrics_key,
    flags = ["--metrics-key", "s3cret"],
    |app| {
        assert_eq!(ops(app, None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(ops(app, Some("wrong")).await.status, StatusCode::FORBIDDEN);
        let empty = ops(app, Some("s3cret")).await;
        assert_eq!(empty.status, StatusCode::OK);
        assert_eq!(
            empty.json(),
            json!({"ts": at(START).timestamp(), "max_ping_id": 0, "max_notification_id": 0, "num_unprocessed_flips": 0})
        );
        // One status change notifies two channels: one unprocessed flip.
        app.create_webhook("https://example.org/hook").await;
        app.create_webhook("https://example.org/other").await;
        let check = app.create_check(&json!({"channels": "*"})).await;
        app.request("GET", &format!("/ping/{}/fail", check.code))
            .await;
        let after = ops(app, Some("s3cret")).await.json();
        assert!(after["max_ping_id"].as_i64().is_some_and(|id| id > 0));
        assert!(
            after["max_notification_id"]
                .as_i64()
                .is_some_and(|id| id > 0)
        );
        assert_eq!(after["num_unprocessed_flips"], 1);
    }
);

app_test!(ops_metrics_are_off_without_a_key, |app| {
    assert_eq!(ops(app, Some("")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        ops(app, Some("anything")).await.status,
        StatusCode::FORBIDDEN
    );
});

app_test!(
    a_key_exports_its_own_project_whatever_the_path_says,
    |app| {
        app.create_check(&json!({"name": "mine"})).await;
        let (other, other_keys) = app.other_project().await;
        // Another project with a check of its own, created with its key.
        let request = Request::builder()
            .method("POST")
            .uri("/api/v3/checks/")
            .header("x-api-key", other_keys.api_key.as_str())
            .body(Body::from(json!({"name": "theirs"}).to_string()))
            .expect("request");
        assert_eq!(app.send(request).await.status, StatusCode::CREATED);

        // The project is the key's; the UUID in the path is not looked at (§8.3).
        let ro = app.keys.api_key_ro.as_str();
        let text = get(app, &format!("/projects/{}/metrics/{ro}", other.code), None)
            .await
            .text();
        assert!(text.contains("name=\"mine\""), "{text}");
        assert!(!text.contains("theirs"), "{text}");
        let text = get(
            app,
            &format!(
                "/projects/{}/metrics/{}",
                app.project.code, other_keys.api_key_ro
            ),
            None,
        )
        .await
        .text();
        assert!(
            text.contains("name=\"theirs\"") && !text.contains("mine"),
            "{text}"
        );
    }
);
