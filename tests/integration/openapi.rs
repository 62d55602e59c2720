//! `/api/v3/openapi.json`: a snapshot of the document, and every path it lists is served.

use axum::http::StatusCode;
use serde_json::Value;

use crate::support::app_test;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");

app_test!(the_openapi_document_matches_its_snapshot, |app| {
    let response = app.request("GET", "/api/v3/openapi.json").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let served = response.text();
    if std::env::var("OVERDUE_UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(SNAPSHOT, &served).expect("write snapshot");
    }
    let expected =
        std::fs::read_to_string(SNAPSHOT).expect("snapshot (OVERDUE_UPDATE_SNAPSHOTS=1 writes it)");
    assert!(
        served == expected,
        "openapi.json differs from tests/snapshots/openapi.json; review the change and run with \
         OVERDUE_UPDATE_SNAPSHOTS=1 to accept it"
    );
});

app_test!(
    every_documented_operation_is_served_with_its_methods,
    |app| {
        let document = app.request("GET", "/api/v3/openapi.json").await.json();
        let paths = document["paths"].as_object().expect("paths");
        for wanted in [
            "/api/v3/checks/",
            "/api/v3/channels/",
            "/api/v3/channels/{uuid}/test",
        ] {
            assert!(paths.contains_key(wanted), "{wanted} is not documented");
        }
        for (path, operations) in paths {
            let uri = path
                .replace("{uuid}", "5c2a7c1e-4b1a-4f8e-9d3c-0a1b2c3d4e5f")
                .replace("{n}", "1");
            let methods: Vec<String> = operations
                .as_object()
                .expect("operations")
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            if path.ends_with("/status/") {
                assert_eq!(app.request("GET", &uri).await.status, StatusCode::OK);
                continue;
            }
            let preflight = app.request("OPTIONS", &uri).await;
            assert_eq!(preflight.status, StatusCode::NO_CONTENT, "{uri}");
            let allowed = preflight
                .header("access-control-allow-methods")
                .expect("methods");
            for method in &methods {
                assert!(
                    allowed.contains(method.as_str()),
                    "{method} {uri}: {allowed}"
                );
                // Each documents the answer to a request without a key.
                let documented = &operations[method.to_lowercase()]["responses"]["401"];
                assert_ne!(documented, &Value::Null, "{method} {path} lacks 401");
                assert_eq!(
                    app.request(method, &uri).await.status,
                    StatusCode::UNAUTHORIZED
                );
            }
        }
    }
);
