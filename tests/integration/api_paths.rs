//! The shape of the Management API (reference §3, §3.1, §3.2): which paths exist, trailing
//! slashes, CORS, OPTIONS and 405, on every endpoint and every version.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::support::{TestResponse, app_test};

const CODE_LESS: &str = "5c2a7c1e-4b1a-4f8e-9d3c-0a1b2c3d4e5f";

fn assert_cors(response: &TestResponse, methods: &str) {
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        response.header("access-control-allow-headers"),
        Some("X-Api-Key")
    );
    assert_eq!(
        response.header("access-control-allow-methods"),
        Some(methods)
    );
    assert_eq!(response.header("access-control-max-age"), Some("600"));
}

fn assert_django_404(response: &TestResponse) {
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(
        response.text().contains("<h1>Not Found</h1>"),
        "{}",
        response.text()
    );
    assert_eq!(response.header("access-control-allow-origin"), None);
}

app_test!(
    every_endpoint_answers_options_and_lists_its_methods,
    |app| {
        let check = app.create_check(&json!({ "name": "c" })).await;
        let channel = app.create_webhook("https://example.org/hook").await;
        let channel = channel["id"].as_str().expect("channel id").to_owned();
        let key = app.api_check(3, &check).await["uuid"].clone();
        let code = key.as_str().expect("uuid");
        let ro = {
            let request = Request::builder()
                .uri(format!("/api/v3/checks/{code}"))
                .header("x-api-key", app.keys.api_key_ro.as_str())
                .body(Body::empty())
                .expect("request");
            app.send(request).await.json()["unique_key"]
                .as_str()
                .expect("unique_key")
                .to_owned()
        };
        let endpoints = [
            ("checks/".to_owned(), "GET, POST, OPTIONS"),
            (format!("checks/{code}"), "POST, DELETE, GET, OPTIONS"),
            (format!("checks/{ro}"), "GET, OPTIONS"),
            (format!("checks/{code}/pause"), "POST, OPTIONS"),
            (format!("checks/{code}/resume"), "POST, OPTIONS"),
            (format!("checks/{code}/pings/"), "GET, OPTIONS"),
            (format!("checks/{code}/pings/1/body"), "GET, OPTIONS"),
            (format!("checks/{code}/flips/"), "GET, OPTIONS"),
            (format!("checks/{ro}/flips/"), "GET, OPTIONS"),
            (format!("checks/{code}/notifications/"), "GET, OPTIONS"),
            ("channels/".to_owned(), "GET, POST, OPTIONS"),
            (format!("channels/{channel}"), "POST, DELETE, GET, OPTIONS"),
            (format!("channels/{channel}/test"), "POST, OPTIONS"),
            ("badges/".to_owned(), "GET, OPTIONS"),
        ];
        for version in 1..=3 {
            for (path, methods) in &endpoints {
                let uri = format!("/api/v{version}/{path}");
                // No key needed for a preflight.
                let response = app.request("OPTIONS", &uri).await;
                assert_eq!(response.status, StatusCode::NO_CONTENT, "{uri}");
                assert_cors(&response, methods);
                // A method not listed: 405, with the CORS headers.
                for method in ["HEAD", "PUT", "PATCH", "DELETE", "POST"] {
                    if methods.contains(method) {
                        continue;
                    }
                    let response = app.api(method, &uri, None).await;
                    assert_eq!(
                        response.status,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "{method} {uri}"
                    );
                    assert_cors(&response, methods);
                }
                // Errors carry them too.
                let response = app.request("GET", &uri).await;
                if methods.starts_with("GET") || methods.contains(", GET") {
                    assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{uri}");
                    assert_cors(&response, methods);
                }
            }
        }
        // The unique_key form only reads: POST to it changes nothing.
        let response = app
            .api(
                "POST",
                &format!("/api/v3/checks/{ro}"),
                Some(&json!({ "name": "x" })),
            )
            .await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(app.reload(&check).await.name, "c");
    }
);

app_test!(
    paths_without_their_slash_redirect_with_the_query_kept,
    |app| {
        let check = app.create_check(&json!({ "name": "c" })).await;
        let code = check.code;
        for path in [
            "checks".to_owned(),
            format!("checks/{code}/pings"),
            format!("checks/{code}/flips"),
            format!("checks/{code}/notifications"),
            "channels".to_owned(),
            "badges".to_owned(),
            "status".to_owned(),
            "metrics".to_owned(),
        ] {
            let uri = format!("/api/v2/{path}");
            let response = app.api("GET", &uri, None).await;
            assert_eq!(response.status, StatusCode::MOVED_PERMANENTLY, "{uri}");
            assert_eq!(
                response.header("location"),
                Some(format!("{uri}/").as_str())
            );
        }
        let response = app.api("GET", "/api/v3/checks?tag=a&tag=b", None).await;
        assert_eq!(response.status, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            response.header("location"),
            Some("/api/v3/checks/?tag=a&tag=b")
        );
        // Paths that exist without a slash are not redirected to one.
        let response = app
            .api("GET", &format!("/api/v3/checks/{code}/"), None)
            .await;
        assert_django_404(&response);
    }
);

app_test!(
    paths_that_match_no_pattern_are_404_before_authentication,
    |app| {
        let check = app.create_check(&json!({ "name": "c" })).await;
        let upper = check.code.to_string().to_uppercase();
        let simple = check.code.simple().to_string();
        for uri in [
            "/api/v3/checks/xyz".to_owned(),
            format!("/api/v3/checks/{upper}"),
            format!("/api/v3/checks/{simple}"),
            "/api/v3/checks/xyz/pause".to_owned(),
            format!("/api/v3/checks/{}/pings/x/body", check.code),
            format!("/api/v3/checks/{}/pause/", check.code),
            "/api/v3/channels/xyz".to_owned(),
            "/api/v3/notifications/xyz".to_owned(),
            "/api/v4/checks/".to_owned(),
            "/api/v3/nothing/".to_owned(),
        ] {
            for method in ["GET", "POST", "OPTIONS"] {
                let response = app.request(method, &uri).await;
                assert_django_404(&response);
            }
        }
        // An unknown UUID is Django's 404 too; an unknown unique_key an empty one.
        let response = app
            .api("GET", &format!("/api/v3/checks/{CODE_LESS}"), None)
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert!(response.text().contains("Not Found"));
        let response = app
            .api("GET", &format!("/api/v3/checks/{}", "a".repeat(40)), None)
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert!(response.body.is_empty());
        let uri = format!("/api/v3/checks/{}/flips/", "a".repeat(40));
        let response = app.api("GET", &uri, None).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert!(response.body.is_empty());
    }
);

app_test!(
    status_metrics_and_bounces_have_no_cors_and_take_any_caller,
    |app| {
        let response = app.request("POST", "/api/v1/status/").await;
        assert_eq!(
            (response.status, response.text().as_str()),
            (StatusCode::OK, "OK")
        );
        assert_eq!(response.header("access-control-allow-origin"), None);
        let response = app.request("GET", "/api/v3/metrics/").await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert_eq!(response.header("access-control-allow-origin"), None);
        let response = app
            .request_with_body(
                "POST",
                "/api/v3/bounces/",
                "To: n.abc@example.org\r\n\r\nbounce",
            )
            .await;
        assert_eq!(
            (response.status, response.text().as_str()),
            (StatusCode::OK, "OK (bad signature)")
        );
        assert_eq!(
            app.request("GET", "/api/v3/bounces/").await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
);

app_test!(a_delivery_status_report_records_the_error, |app| {
    let hook = app.create_webhook("https://example.org/hook").await;
    let channel = hook["id"].as_str().expect("id").to_owned();
    let response = app
        .api("POST", &format!("/api/v3/channels/{channel}/test"), None)
        .await;
    assert!(response.status.is_success(), "{}", response.text());
    let code = response.json()["notification"]
        .as_str()
        .expect("notification id")
        .to_owned();
    let uri = format!("/api/v1/notifications/{code}/status");
    // Sends a report (always answered 200), then reads the notification's and the
    // channel's last error.
    let (uri, code, channel) = (&uri, &code, &channel);
    let report = |body: &'static str| async move {
        let request = Request::builder()
            .method("POST")
            .uri(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        assert_eq!(app.send(request).await.status, StatusCode::OK);
        let last_error = |uri: String| async move {
            app.api("GET", &uri, None).await.json()["last_error"].clone()
        };
        (
            last_error(format!("/api/v3/notifications/{code}")).await,
            last_error(format!("/api/v3/channels/{channel}")).await,
        )
    };
    assert_eq!(
        report("MessageStatus=delivered").await,
        (json!(""), json!(""))
    );
    let failed = json!("Delivery failed (status=undelivered).");
    assert_eq!(
        report("MessageStatus=undelivered").await,
        (failed.clone(), failed.clone())
    );
    // An hour later, reports are ignored (still 200, so the sender stops).
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(report("error=late").await, (failed.clone(), failed));
    // Unknown notifications: 200 as well; GET is 405.
    let unknown = format!("/api/v1/notifications/{CODE_LESS}/status");
    let request = Request::builder()
        .method("POST")
        .uri(&unknown)
        .body(Body::from("error=x"))
        .expect("request");
    assert_eq!(app.send(request).await.status, StatusCode::OK);
    assert_eq!(
        app.request("GET", uri).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
});

app_test!(the_check_limit_is_checked_before_the_channels, |app| {
    app.create_check(&json!({ "name": "only" })).await;
    app.set_check_limit(1).await;
    let response = app
        .api(
            "POST",
            "/api/v3/checks/",
            Some(&json!({ "name": "more", "channels": "nope" })),
        )
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(response.body.is_empty());
    // An upsert that matches is no new check: allowed at the limit.
    let response = app
        .api(
            "POST",
            "/api/v3/checks/",
            Some(&json!({ "name": "only", "unique": ["name"], "tags": "t" })),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(app.checks().await.len(), 1);
});

app_test!(flips_with_seconds_zero_are_not_filtered, |app| {
    let check = app.create_check(&json!({ "name": "f" })).await;
    app.request("GET", &format!("/ping/{}", check.code)).await;
    app.clock.advance(chrono::Duration::minutes(5));
    let uri = |query: &str| format!("/api/v3/checks/{}/flips/{query}", check.code);
    let all = app.api("GET", &uri(""), None).await.json();
    assert_eq!(all["flips"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.api("GET", &uri("?seconds=0"), None).await.json(), all);
    let recent = app.api("GET", &uri("?seconds=60"), None).await.json();
    assert_eq!(recent["flips"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        app.api("GET", &uri("?start="), None).await.status,
        StatusCode::BAD_REQUEST
    );
});
