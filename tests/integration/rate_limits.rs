//! Rate limits: a burst over a limit gets 429 with `Retry-After` and changes nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::{TestApp, TestResponse, app_test, from_peer};

/// 429, and a `Retry-After` of at most one refill interval (`within` seconds).
fn assert_limited(response: &TestResponse, within: u64) {
    assert_eq!(
        response.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        response.text()
    );
    let wait: u64 = response
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=within).contains(&wait), "Retry-After {wait}");
}

async fn ping_from(app: &TestApp, uri: &str, peer: &str) -> TestResponse {
    let request = Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    app.send(from_peer(request, peer)).await
}

app_test!(
    api_requests_over_the_key_limit_are_refused_and_change_nothing,
    flags = ["--rate-limits", "on", "--rate-limit-api", "4/min"],
    |app| {
        for n in 0..3 {
            let response = app
                .api(
                    "POST",
                    "/api/v3/checks/",
                    Some(&json!({ "name": format!("c{n}") })),
                )
                .await;
            assert_eq!(response.status, StatusCode::CREATED);
        }
        // The fourth request gives the key in the body: the same key, the same bucket.
        let request = Request::builder()
            .method("POST")
            .uri("/api/v3/checks/")
            .body(Body::from(
                json!({ "api_key": app.keys.api_key, "name": "c3" }).to_string(),
            ))
            .expect("request");
        assert_eq!(app.send(request).await.status, StatusCode::CREATED);

        let response = app
            .api("POST", "/api/v3/checks/", Some(&json!({ "name": "over" })))
            .await;
        assert_limited(&response, 15);
        assert_eq!(response.json(), json!({ "error": "rate limit exceeded" }));
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
        let check = app.checks().await.remove(0);
        let update = format!("/api/v3/checks/{}", check.code);
        assert_limited(
            &app.api("POST", &update, Some(&json!({ "name": "renamed" })))
                .await,
            15,
        );
        assert_limited(&app.api("DELETE", &update, None).await, 15);

        let names: Vec<String> = app.checks().await.into_iter().map(|c| c.name).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.iter().all(|n| n != "over" && n != "renamed"));

        // Another key has its own bucket; status/ is never limited.
        let request = Request::builder()
            .uri("/api/v3/checks/")
            .header("x-api-key", app.keys.api_key_ro.as_str())
            .body(Body::empty())
            .expect("request");
        assert_eq!(app.send(request).await.status, StatusCode::OK);
        for _ in 0..10 {
            assert_eq!(
                app.request("GET", "/api/v3/status/").await.status,
                StatusCode::OK
            );
        }
    }
);

app_test!(
    pings_over_the_check_limit_are_refused_and_not_recorded,
    flags = ["--rate-limits", "on", "--rate-limit-ping-check", "3/min"],
    |app| {
        let check = app.create_check(&json!({ "name": "busy" })).await;
        let other = app.create_check(&json!({ "name": "quiet" })).await;
        for suffix in ["", "/start", ""] {
            let response = app
                .request("GET", &format!("/ping/{}{suffix}", check.code))
                .await;
            assert_eq!(response.status, StatusCode::OK);
        }
        let response = app
            .request("POST", &format!("/ping/{}/fail", check.code))
            .await;
        assert_limited(&response, 20);
        assert_eq!(response.text(), "rate limit exceeded");
        let check = app.reload(&check).await;
        assert_eq!(check.state.n_pings, 3);
        assert_eq!(app.pings(&check).await.len(), 3);

        let response = app.request("GET", &format!("/ping/{}", other.code)).await;
        assert_eq!(response.status, StatusCode::OK);
    }
);

app_test!(
    pings_over_the_source_limit_are_refused_per_address,
    flags = ["--rate-limits", "on", "--rate-limit-ping-source", "2/hour"],
    |app| {
        let mut checks = Vec::new();
        for n in 0..3 {
            checks.push(app.create_check(&json!({ "name": format!("c{n}") })).await);
        }
        let uri = |n: usize| format!("/ping/{}", checks[n].code);
        assert_eq!(
            ping_from(app, &uri(0), "10.0.0.1:1000").await.status,
            StatusCode::OK
        );
        assert_eq!(
            ping_from(app, &uri(1), "10.0.0.1:1001").await.status,
            StatusCode::OK
        );
        assert_limited(&ping_from(app, &uri(2), "10.0.0.1:1002").await, 1800);
        assert_eq!(app.reload(&checks[2]).await.state.n_pings, 0);
        assert_eq!(
            ping_from(app, &uri(2), "10.0.0.2:1000").await.status,
            StatusCode::OK
        );
    }
);

app_test!(
    rate_limits_off_turns_every_limit_off,
    flags = [
        "--rate-limits",
        "off",
        "--rate-limit-api",
        "1/hour",
        "--rate-limit-ping-check",
        "1/hour",
        "--rate-limit-ping-source",
        "1/hour"
    ],
    |app| {
        let check = app.create_check(&json!({ "name": "free" })).await;
        for _ in 0..5 {
            let response = app.request("GET", &format!("/ping/{}", check.code)).await;
            assert_eq!(response.status, StatusCode::OK);
            let response = app.api("GET", "/api/v3/checks/", None).await;
            assert_eq!(response.status, StatusCode::OK);
        }
        assert_eq!(app.reload(&check).await.state.n_pings, 5);
    }
);
