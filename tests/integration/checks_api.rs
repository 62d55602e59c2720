//! Checks through the Management API (reference §3): list, create (with `unique` upsert),
//! read, update and delete; the check JSON per key type and API version; authentication,
//! read-only keys and project isolation on every check endpoint, on both engines.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Duration;
use overdue::domain::check::{CheckKind, Status};
use overdue::keys::ProjectKeys;
use overdue::store::{ChannelRecord, CheckRecord};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::support::{SITE_ROOT, START, TestApp, TestResponse, app_test, at};

/// The keys every check's JSON starts with, in healthchecks.io's order.
const COMMON_KEYS: [&str; 22] = [
    "name",
    "slug",
    "tags",
    "desc",
    "grace",
    "n_pings",
    "status",
    "started",
    "last_ping",
    "next_ping",
    "manual_resume",
    "methods",
    "subject",
    "subject_fail",
    "start_kw",
    "success_kw",
    "failure_kw",
    "filter_subject",
    "filter_body",
    "filter_http_body",
    "filter_default_fail",
    "badge_url",
];

/// The keys of a simple check's JSON for a read-write key: 29 in all.
const RW_KEYS: [&str; 29] = concat_keys([
    "uuid",
    "ping_url",
    "update_url",
    "pause_url",
    "resume_url",
    "channels",
    "timeout",
]);

/// The same for a read-only key.
const RO_KEYS: [&str; 24] = concat_keys(["unique_key", "timeout"]);

const fn concat_keys<const T: usize, const N: usize>(tail: [&'static str; T]) -> [&'static str; N] {
    let mut keys = [""; N];
    let mut i = 0;
    while i < N {
        keys[i] = if i < COMMON_KEYS.len() {
            COMMON_KEYS[i]
        } else {
            tail[i - COMMON_KEYS.len()]
        };
        i += 1;
    }
    keys
}

/// A request with `key` in `X-Api-Key` (no header for `None`) and `body` as sent.
async fn send_raw(
    app: &TestApp,
    key: Option<&str>,
    method: &str,
    uri: &str,
    body: &str,
) -> TestResponse {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let request = request
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    app.send(request).await
}

/// A request with `key` in `X-Api-Key` and an optional JSON body.
async fn with_key(
    app: &TestApp,
    key: &str,
    method: &str,
    uri: &str,
    body: Option<&Value>,
) -> TestResponse {
    let body = body.map(Value::to_string).unwrap_or_default();
    send_raw(app, Some(key), method, uri, &body).await
}

/// A request without `X-Api-Key`, the key (if any) in the JSON body.
async fn without_header(app: &TestApp, method: &str, uri: &str, body: &Value) -> TestResponse {
    send_raw(app, None, method, uri, &body.to_string()).await
}

#[track_caller]
fn assert_error(response: &TestResponse, status: StatusCode, message: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.json(), json!({"error": message}));
}

#[track_caller]
fn assert_empty(response: &TestResponse, status: StatusCode) {
    assert_eq!(response.status, status, "{}", response.text());
    assert!(response.body.is_empty(), "body: {}", response.text());
}

/// An object's keys, in order.
fn keys_of(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// healthchecks.io's `Check.unique_key`: SHA-1 of the first 16 hex digits of the UUID.
fn unique_key_of(check: &CheckRecord) -> String {
    let hex = check.code.simple().to_string();
    Sha1::digest(&hex.as_bytes()[..16])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn check_uri(version: u8, check: &CheckRecord) -> String {
    format!("/api/v{version}/checks/{}", check.code)
}

/// The checks of a `{"checks": [...]}` answer.
fn listed(response: &TestResponse) -> Vec<Value> {
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["checks"]
        .as_array()
        .cloned()
        .expect("checks")
}

fn names(checks: &[Value]) -> Vec<&str> {
    checks
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect()
}

/// A second project, and a check of it created through the API with its own key.
struct Other {
    keys: ProjectKeys,
    check: CheckRecord,
}

async fn other_check(app: &TestApp, spec: &Value) -> Other {
    let (project, keys) = app.other_project().await;
    let response = with_key(app, &keys.api_key, "POST", "/api/v3/checks/", Some(spec)).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let code = response.json()["uuid"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .expect("uuid");
    let check = app.check_by_code(code).await;
    assert_eq!(check.project_id, project.id);
    Other { keys, check }
}

async fn ping(app: &TestApp, check: &CheckRecord, suffix: &str) {
    let response = app
        .request("GET", &format!("/ping/{}{suffix}", check.code))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

async fn gone(app: &TestApp, check: &CheckRecord) -> bool {
    app.store
        .check_by_code(check.code)
        .await
        .expect("load check")
        .is_none()
}

// ---------------------------------------------------------------------------------------
// GET checks/

app_test!(list_shows_every_check_of_the_project_oldest_first, |app| {
    app.create_check(&json!({"name": "one"})).await;
    app.create_check(&json!({"name": "two", "tags": "prod"}))
        .await;
    let checks = listed(&app.api("GET", "/api/v3/checks/", None).await);
    assert_eq!(names(&checks), ["one", "two"]);
    assert_eq!(keys_of(&checks[0]), RW_KEYS);
    assert_eq!(checks[1]["tags"], "prod");
});

app_test!(list_tag_filters_combine_with_and_on_exact_tags, |app| {
    for (name, tags) in [
        ("both", "prod web"),
        ("prod only", "prod"),
        ("web only", "web"),
        ("prefix", "production web"),
        ("all three", "db web prod"),
    ] {
        app.create_check(&json!({"name": name, "tags": tags})).await;
    }
    let both = listed(
        &app.api("GET", "/api/v3/checks/?tag=prod&tag=web", None)
            .await,
    );
    assert_eq!(names(&both), ["both", "all three"]);
    let prod = listed(&app.api("GET", "/api/v3/checks/?tag=prod", None).await);
    assert_eq!(names(&prod), ["both", "prod only", "all three"]);
    let none = listed(
        &app.api("GET", "/api/v3/checks/?tag=prod&tag=db&tag=x", None)
            .await,
    );
    assert!(none.is_empty(), "{none:?}");
    let partial = listed(&app.api("GET", "/api/v3/checks/?tag=pro", None).await);
    assert!(partial.is_empty(), "{partial:?}");
});

app_test!(list_slug_filter_matches_exactly, |app| {
    app.create_check(&json!({"name": "a", "slug": "backup"}))
        .await;
    app.create_check(&json!({"name": "b", "slug": "backup-db"}))
        .await;
    app.create_check(&json!({"name": "c", "slug": "db"})).await;
    let checks = listed(&app.api("GET", "/api/v3/checks/?slug=backup", None).await);
    assert_eq!(names(&checks), ["a"]);
    let checks = listed(&app.api("GET", "/api/v3/checks/?slug=back", None).await);
    assert!(checks.is_empty(), "{checks:?}");
});

app_test!(list_with_a_read_only_key_uses_the_read_only_format, |app| {
    let check = app.create_check(&json!({"name": "ro", "tags": "t"})).await;
    let response = with_key(app, &app.keys.api_key_ro, "GET", "/api/v3/checks/", None).await;
    let checks = listed(&response);
    assert_eq!(checks.len(), 1);
    assert_eq!(keys_of(&checks[0]), RO_KEYS);
    assert_eq!(checks[0]["unique_key"], unique_key_of(&check));
    for hidden in ["uuid", "ping_url", "update_url", "pause_url", "channels"] {
        assert!(checks[0].get(hidden).is_none(), "{hidden}");
    }
    assert_eq!(checks[0]["name"], "ro");
});

app_test!(list_never_shows_another_projects_checks, |app| {
    app.create_check(&json!({"name": "mine", "tags": "shared", "slug": "same"}))
        .await;
    let other = other_check(
        app,
        &json!({"name": "theirs", "tags": "shared", "slug": "same"}),
    )
    .await;
    for uri in [
        "/api/v3/checks/",
        "/api/v3/checks/?tag=shared",
        "/api/v3/checks/?slug=same",
    ] {
        let mine = listed(&app.api("GET", uri, None).await);
        assert_eq!(names(&mine), ["mine"], "{uri}");
        let ro = listed(&with_key(app, &app.keys.api_key_ro, "GET", uri, None).await);
        assert_eq!(names(&ro), ["mine"], "{uri}");
        let theirs = listed(&with_key(app, &other.keys.api_key, "GET", uri, None).await);
        assert_eq!(names(&theirs), ["theirs"], "{uri}");
    }
});

// ---------------------------------------------------------------------------------------
// POST checks/

app_test!(create_answers_201_with_the_read_write_json, |app| {
    let response = app
        .api(
            "POST",
            "/api/v3/checks/",
            Some(
                &json!({"name": "Backups", "tags": "prod db", "desc": "nightly",
                         "timeout": 3600, "grace": 120, "methods": "POST"}),
            ),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let body = response.json();
    assert_eq!(keys_of(&body), RW_KEYS);
    let code = Uuid::parse_str(body["uuid"].as_str().expect("uuid")).expect("uuid");
    let stored = app.check_by_code(code).await;
    assert_eq!(stored.project_id, app.project.id);
    assert_eq!(
        (
            stored.name.as_str(),
            stored.tags.as_str(),
            stored.desc.as_str()
        ),
        ("Backups", "prod db", "nightly")
    );
    assert_eq!(stored.state.timeout, Duration::seconds(3600));
    assert_eq!(stored.state.grace, Duration::seconds(120));
    assert_eq!(stored.state.methods, "POST");
    assert_eq!(body["name"], "Backups");
    assert_eq!(body["timeout"], 3600);
    assert_eq!(body["grace"], 120);
    assert_eq!(body["methods"], "POST");
    assert_eq!(body["ping_url"], format!("{SITE_ROOT}/ping/{code}"));
    assert_eq!(body, app.api_check(3, &stored).await);
});

app_test!(create_with_an_empty_object_uses_the_defaults, |app| {
    let response = app.api("POST", "/api/v3/checks/", Some(&json!({}))).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let body = response.json();
    for (key, expected) in [
        ("name", json!("")),
        ("slug", json!("")),
        ("tags", json!("")),
        ("desc", json!("")),
        ("grace", json!(3600)),
        ("timeout", json!(86400)),
        ("n_pings", json!(0)),
        ("status", json!("new")),
        ("started", json!(false)),
        ("last_ping", Value::Null),
        ("next_ping", Value::Null),
        ("manual_resume", json!(false)),
        ("methods", json!("")),
        ("channels", json!("")),
    ] {
        assert_eq!(body[key], expected, "{key}");
    }
    let checks = app.checks().await;
    assert_eq!(checks.len(), 1);
    let state = &checks[0].state;
    assert_eq!(state.kind, CheckKind::Simple);
    assert_eq!(
        (state.timeout, state.grace, state.status),
        (
            Duration::seconds(86400),
            Duration::seconds(3600),
            Status::New
        )
    );
});

app_test!(create_with_unique_updates_the_matching_check, |app| {
    let check = app
        .create_check(&json!({"name": "backup", "tags": "old"}))
        .await;
    app.create_check(&json!({"name": "other"})).await;
    let response = app
        .api(
            "POST",
            "/api/v3/checks/",
            Some(&json!({"name": "backup", "tags": "new", "timeout": 600, "unique": ["name"]})),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let body = response.json();
    assert_eq!(body["uuid"], check.code.to_string());
    assert_eq!(
        (&body["tags"], &body["timeout"]),
        (&json!("new"), &json!(600))
    );
    let stored = app.reload(&check).await;
    assert_eq!(stored.tags, "new");
    assert_eq!(stored.state.timeout, Duration::seconds(600));
    assert_eq!(app.checks().await.len(), 2);
});

app_test!(
    create_with_unique_needs_every_listed_field_to_match,
    |app| {
        let check = app
            .create_check(&json!({"name": "backup", "tags": "a"}))
            .await;
        let response = app
            .api(
                "POST",
                "/api/v3/checks/",
                Some(&json!({"name": "backup", "tags": "b", "unique": ["name", "tags"]})),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        assert_ne!(response.json()["uuid"], check.code.to_string());
        assert_eq!(app.reload(&check).await, check);
        assert_eq!(app.checks().await.len(), 2);
    }
);

app_test!(
    create_with_unique_naming_a_field_the_request_lacks_creates_a_check,
    |app| {
        // The existing check has the default name "" and grace 3600, but the request
        // gives neither, so nothing is looked up.
        let check = app.create_check(&json!({})).await;
        let response = app
            .api(
                "POST",
                "/api/v3/checks/",
                Some(&json!({"tags": "t", "unique": ["name", "grace"]})),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        assert_ne!(response.json()["uuid"], check.code.to_string());
        assert_eq!(app.reload(&check).await, check);
        assert_eq!(app.checks().await.len(), 2);
    }
);

app_test!(
    create_with_unique_never_matches_another_projects_check,
    |app| {
        let other = other_check(app, &json!({"name": "shared", "desc": "theirs"})).await;
        let response = app
            .api(
                "POST",
                "/api/v3/checks/",
                Some(&json!({"name": "shared", "desc": "mine", "unique": ["name"]})),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        assert_ne!(response.json()["uuid"], other.check.code.to_string());
        assert_eq!(app.reload(&other.check).await, other.check);
        let mine = app.checks().await;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].desc, "mine");
    }
);

app_test!(create_refuses_invalid_json, |app| {
    for key in [Some(app.keys.api_key.as_str()), None] {
        let response = send_raw(app, key, "POST", "/api/v3/checks/", "{\"name\": ").await;
        assert_error(
            &response,
            StatusCode::BAD_REQUEST,
            "could not parse request body",
        );
    }
    assert!(app.checks().await.is_empty());
});

app_test!(strings_with_nul_are_refused_on_both_engines, |app| {
    let check = app.create_check(&json!({ "name": "kept" })).await;
    for (uri, body) in [
        ("/api/v3/checks/".to_owned(), r#"{"name": "a\u0000b"}"#),
        (
            format!("/api/v3/checks/{}", check.code),
            r#"{"tags": "x", "desc": "\u0000"}"#,
        ),
        (
            "/api/v3/channels/".to_owned(),
            r#"{"kind": "email", "email": {"value": "a\u0000@example.org"}}"#,
        ),
    ] {
        let response = send_raw(app, Some(&app.keys.api_key), "POST", &uri, body).await;
        assert_error(
            &response,
            StatusCode::BAD_REQUEST,
            "json validation error: strings must not contain NUL characters",
        );
    }
    let checks = app.checks().await;
    assert_eq!(checks.len(), 1);
    assert_eq!(
        (checks[0].name.as_str(), checks[0].tags.as_str()),
        ("kept", "")
    );
});

app_test!(create_refuses_json_that_is_not_an_object, |app| {
    for body in ["[]", "[{\"name\": \"x\"}]", "\"x\"", "123"] {
        let response = send_raw(
            app,
            Some(&app.keys.api_key),
            "POST",
            "/api/v3/checks/",
            body,
        )
        .await;
        assert_error(
            &response,
            StatusCode::BAD_REQUEST,
            "json validation error: value is not an object",
        );
    }
    assert!(app.checks().await.is_empty());
});

app_test!(
    create_reports_only_the_first_invalid_field_in_spec_order,
    |app| {
        for (body, message) in [
            (json!({"name": 5, "desc": 5}), "desc is not a string"),
            (json!({"timeout": 1, "name": 5}), "name is not a string"),
            (json!({"timeout": 1, "grace": 1}), "grace is too small"),
            (
                json!({"unique": "name", "tz": "Nowhere/Else", "channels": 1}),
                "channels is not a string",
            ),
            (
                json!({"tz": "Nowhere/Else", "slug": "Not A Slug"}),
                "slug does not match pattern",
            ),
            (
                json!({"unique": "name", "tz": "Nowhere/Else"}),
                "tz is not a valid timezone",
            ),
            (json!({"name": null}), "name is not a string"),
        ] {
            let response = app.api("POST", "/api/v3/checks/", Some(&body)).await;
            assert_error(
                &response,
                StatusCode::BAD_REQUEST,
                &format!("json validation error: {message}"),
            );
        }
        assert!(app.checks().await.is_empty());
    }
);

app_test!(create_takes_the_api_key_from_the_body, |app| {
    let response = without_header(
        app,
        "POST",
        "/api/v3/checks/",
        &json!({"api_key": app.keys.api_key, "name": "via body"}),
    )
    .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    assert_eq!(response.json()["name"], "via body");
    let checks = app.checks().await;
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].name, "via body");
});

app_test!(
    create_with_a_key_of_the_wrong_length_is_missing_api_key,
    |app| {
        let short = &app.keys.api_key[..31];
        let long = format!("{}x", app.keys.api_key);
        for key in [Some(short), Some(long.as_str()), Some(""), None] {
            let response = send_raw(app, key, "POST", "/api/v3/checks/", "{\"name\": \"x\"}").await;
            assert_error(&response, StatusCode::UNAUTHORIZED, "missing api key");
        }
        let response = without_header(
            app,
            "POST",
            "/api/v3/checks/",
            &json!({"api_key": short, "name": "x"}),
        )
        .await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "missing api key");
        assert!(app.checks().await.is_empty());
    }
);

app_test!(create_with_an_unknown_key_is_wrong_api_key, |app| {
    let wrong = format!("hcw_{}", "x".repeat(28));
    let response = with_key(app, &wrong, "POST", "/api/v3/checks/", Some(&json!({}))).await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
    let response = without_header(app, "POST", "/api/v3/checks/", &json!({"api_key": wrong})).await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
    assert!(app.checks().await.is_empty());
});

app_test!(create_with_the_read_only_key_is_refused, |app| {
    let ro = app.keys.api_key_ro.as_str();
    let response = with_key(
        app,
        ro,
        "POST",
        "/api/v3/checks/",
        Some(&json!({"name": "x"})),
    )
    .await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
    let response = without_header(
        app,
        "POST",
        "/api/v3/checks/",
        &json!({"api_key": ro, "name": "x"}),
    )
    .await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
    assert!(app.checks().await.is_empty());
});

app_test!(create_at_the_check_limit_is_forbidden, |app| {
    app.create_check(&json!({"name": "a"})).await;
    app.create_check(&json!({"name": "b"})).await;
    app.set_check_limit(2).await;
    let before = app.checks().await;
    let response = app
        .api("POST", "/api/v3/checks/", Some(&json!({"name": "c"})))
        .await;
    assert_empty(&response, StatusCode::FORBIDDEN);
    assert_eq!(app.checks().await, before);
});

app_test!(
    create_with_a_matching_unique_still_works_at_the_limit,
    |app| {
        let check = app.create_check(&json!({"name": "a"})).await;
        app.set_check_limit(1).await;
        let response = app
            .api(
                "POST",
                "/api/v3/checks/",
                Some(&json!({"name": "a", "desc": "changed", "unique": ["name"]})),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.json()["uuid"], check.code.to_string());
        assert_eq!(response.json()["desc"], "changed");
        assert_eq!(app.reload(&check).await.desc, "changed");
        assert_eq!(app.checks().await.len(), 1);
    }
);

// ---------------------------------------------------------------------------------------
// Version differences (§3.9)

app_test!(v1_and_v2_derive_the_slug_from_the_name_v3_does_not, |app| {
    for (version, slug) in [(1, "nightly-backup"), (2, "nightly-backup"), (3, "")] {
        let uri = format!("/api/v{version}/checks/");
        let response = app
            .api("POST", &uri, Some(&json!({"name": "Nightly Backup!"})))
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        assert_eq!(response.json()["slug"], slug, "v{version}");
        let code = Uuid::parse_str(response.json()["uuid"].as_str().expect("uuid")).expect("uuid");
        let check = app.check_by_code(code).await;
        assert_eq!(check.slug, slug, "v{version}");

        let renamed = app
            .api(
                "POST",
                &check_uri(version, &check),
                Some(&json!({"name": "DB dump"})),
            )
            .await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text());
        let slug = if version < 3 { "db-dump" } else { "" };
        assert_eq!(renamed.json()["slug"], slug, "v{version}");
        assert_eq!(app.reload(&check).await.slug, slug, "v{version}");
    }
});

app_test!(v1_and_v2_reset_the_slug_whenever_a_name_is_given, |app| {
    for version in [1, 2] {
        let check = app
            .create_check(&json!({"name": "Backup", "slug": "custom"}))
            .await;
        let response = app
            .api(
                "POST",
                &check_uri(version, &check),
                Some(&json!({"name": "Backup"})),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.json()["slug"], "backup", "v{version}");
        assert_eq!(app.reload(&check).await.slug, "backup", "v{version}");
    }
});

app_test!(an_explicit_slug_wins_in_every_version, |app| {
    for version in [1, 2, 3] {
        let uri = format!("/api/v{version}/checks/");
        let response = app
            .api(
                "POST",
                &uri,
                Some(&json!({"name": "Nightly Backup", "slug": "custom"})),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        assert_eq!(response.json()["slug"], "custom", "v{version}");
        let code = Uuid::parse_str(response.json()["uuid"].as_str().expect("uuid")).expect("uuid");
        let check = app.check_by_code(code).await;
        let response = app
            .api(
                "POST",
                &check_uri(version, &check),
                Some(&json!({"name": "Other Name", "slug": "kept"})),
            )
            .await;
        assert_eq!(response.json()["slug"], "kept", "v{version}");
        assert_eq!(app.reload(&check).await.slug, "kept", "v{version}");
    }
});

app_test!(urls_in_the_json_name_the_api_version, |app| {
    let check = app.create_check(&json!({})).await;
    for version in [1u8, 2, 3] {
        let update_url = format!("{SITE_ROOT}/api/v{version}/checks/{}", check.code);
        let read = app.api_check(version, &check).await;
        let uri = format!("/api/v{version}/checks/");
        let created = app.api("POST", &uri, Some(&json!({}))).await.json();
        let created_code = created["uuid"].as_str().expect("uuid");
        for (json, code) in [
            (&read, check.code.to_string()),
            (&created, created_code.to_owned()),
        ] {
            let update_url = format!("{SITE_ROOT}/api/v{version}/checks/{code}");
            assert_eq!(json["update_url"], update_url, "v{version}");
            assert_eq!(json["pause_url"], format!("{update_url}/pause"));
            assert_eq!(json["resume_url"], format!("{update_url}/resume"));
            // The ping URL does not depend on the version.
            assert_eq!(json["ping_url"], format!("{SITE_ROOT}/ping/{code}"));
        }
        let list = listed(&app.api("GET", &uri, None).await);
        assert_eq!(list[0]["update_url"], update_url);
    }
});

app_test!(v1_reports_a_running_check_as_started, |app| {
    let check = app.create_check(&json!({})).await;
    ping(app, &check, "/start").await;
    let v1 = app.api_check(1, &check).await;
    assert_eq!(
        (&v1["status"], &v1["started"]),
        (&json!("started"), &json!(true))
    );
    for version in [2, 3] {
        let json = app.api_check(version, &check).await;
        assert_eq!(
            (&json["status"], &json["started"]),
            (&json!("new"), &json!(true)),
            "v{version}"
        );
    }
    // The same holds for a check that is up.
    ping(app, &check, "").await;
    ping(app, &check, "/start").await;
    assert_eq!(app.api_check(1, &check).await["status"], "started");
    let v3 = app.api_check(3, &check).await;
    assert_eq!(
        (&v3["status"], &v3["started"]),
        (&json!("up"), &json!(true))
    );
    let list = listed(&app.api("GET", "/api/v1/checks/", None).await);
    assert_eq!(list[0]["status"], "started");
});

// ---------------------------------------------------------------------------------------
// The check JSON (§3.3)

app_test!(
    a_simple_check_has_29_keys_in_order_for_a_read_write_key,
    |app| {
        let check = app.create_check(&json!({"name": "shape"})).await;
        let json = app.api_check(3, &check).await;
        assert_eq!(keys_of(&json), RW_KEYS);
        assert_eq!(json["uuid"], check.code.to_string());
        assert_eq!(
            json["badge_url"],
            format!("{SITE_ROOT}/b/2/{}.svg", check.badge_key)
        );
    }
);

app_test!(
    a_simple_check_has_the_read_only_keys_for_a_read_only_key,
    |app| {
        let check = app.create_check(&json!({"name": "shape"})).await;
        let response = with_key(
            app,
            &app.keys.api_key_ro,
            "GET",
            &check_uri(3, &check),
            None,
        )
        .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let json = response.json();
        assert_eq!(keys_of(&json), RO_KEYS);
        assert_eq!(json["unique_key"], unique_key_of(&check));
        assert_eq!(json["name"], "shape");
    }
);

app_test!(
    a_cron_check_shows_schedule_and_tz_instead_of_timeout,
    |app| {
        let check = app
            .create_check(&json!({"schedule": "*/5 * * * *", "tz": "Europe/Riga", "timeout": 600}))
            .await;
        assert_eq!(check.state.kind, CheckKind::Cron);
        let json = app.api_check(3, &check).await;
        let mut expected: Vec<&str> = RW_KEYS[..28].to_vec();
        expected.extend(["schedule", "tz"]);
        assert_eq!(keys_of(&json), expected);
        assert_eq!(json["schedule"], "*/5 * * * *");
        assert_eq!(json["tz"], "Europe/Riga");
        let ro = with_key(
            app,
            &app.keys.api_key_ro,
            "GET",
            &check_uri(3, &check),
            None,
        )
        .await
        .json();
        let mut expected: Vec<&str> = RO_KEYS[..23].to_vec();
        expected.extend(["schedule", "tz"]);
        assert_eq!(keys_of(&ro), expected);
    }
);

app_test!(
    last_duration_appears_only_after_a_start_and_a_success,
    |app| {
        let check = app.create_check(&json!({})).await;
        ping(app, &check, "").await;
        assert!(
            app.api_check(3, &check)
                .await
                .get("last_duration")
                .is_none()
        );
        ping(app, &check, "/start").await;
        assert!(
            app.api_check(3, &check)
                .await
                .get("last_duration")
                .is_none()
        );
        app.clock.set(at(START) + Duration::seconds(90));
        ping(app, &check, "").await;
        let json = app.api_check(3, &check).await;
        assert_eq!(json["last_duration"], 90);
        let mut expected: Vec<&str> = RW_KEYS[..22].to_vec();
        expected.push("last_duration");
        expected.extend(&RW_KEYS[22..]);
        assert_eq!(keys_of(&json), expected);
        let ro = with_key(
            app,
            &app.keys.api_key_ro,
            "GET",
            &check_uri(3, &check),
            None,
        )
        .await
        .json();
        assert_eq!(ro["last_duration"], 90);
    }
);

app_test!(
    dates_are_iso_without_microseconds_with_a_utc_offset,
    |app| {
        let check = app.create_check(&json!({"timeout": 3600})).await;
        app.clock.set(at(START) + Duration::milliseconds(1_500));
        ping(app, &check, "").await;
        let json = app.api_check(3, &check).await;
        assert_eq!(json["last_ping"], "2024-03-01T10:00:01+00:00");
        assert_eq!(json["next_ping"], "2024-03-01T11:00:01+00:00");
        assert_eq!(json["status"], "up");
        assert_eq!(json["n_pings"], 1);
    }
);

app_test!(channels_are_the_sorted_comma_joined_channel_uuids, |app| {
    // Created with the larger UUID first, so creation order and sorted order differ.
    let high = Uuid::parse_str("ffffffff-0000-4000-8000-000000000000").expect("uuid");
    let low = Uuid::parse_str("00000000-0000-4000-8000-000000000001").expect("uuid");
    for (code, name) in [(high, "high"), (low, "low")] {
        app.store
            .create_channel(&ChannelRecord {
                id: 0,
                code,
                project_id: app.project.id,
                name: name.to_owned(),
                kind: "webhook".to_owned(),
                value: json!({"url_down": "https://example.org/"}).to_string(),
                secret: String::new(),
                email_verified: false,
                verify_token_hash: String::new(),
                disabled: false,
                last_notify: None,
                last_notify_duration: None,
                last_error: String::new(),
                created: app.now().timestamp_millis(),
            })
            .await
            .expect("create channel");
    }
    let expected = format!("{low},{high}");
    let check = app.create_check(&json!({"channels": "*"})).await;
    assert_eq!(app.api_check(3, &check).await["channels"], expected);
    let list = listed(&app.api("GET", "/api/v3/checks/", None).await);
    assert_eq!(list[0]["channels"], expected);
    let updated = app
        .api(
            "POST",
            &check_uri(3, &check),
            Some(&json!({"channels": "high,low"})),
        )
        .await;
    assert_eq!(updated.json()["channels"], expected);
});

app_test!(a_check_without_channels_shows_an_empty_string, |app| {
    app.create_webhook("https://example.org/hook").await;
    let check = app.create_check(&json!({"channels": ""})).await;
    assert_eq!(app.api_check(3, &check).await["channels"], "");
});

// ---------------------------------------------------------------------------------------
// GET checks/<unique_key>

app_test!(
    a_unique_key_with_the_read_write_key_gives_the_rw_format,
    |app| {
        let check = app.create_check(&json!({"name": "by key"})).await;
        let key = unique_key_of(&check);
        let response = app.api("GET", &format!("/api/v3/checks/{key}"), None).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let json = response.json();
        assert_eq!(keys_of(&json), RW_KEYS);
        assert_eq!(json["uuid"], check.code.to_string());
        assert_eq!(json, app.api_check(3, &check).await);
    }
);

app_test!(
    a_unique_key_with_the_read_only_key_gives_the_ro_format,
    |app| {
        app.create_check(&json!({"name": "first"})).await;
        let check = app.create_check(&json!({"name": "by key"})).await;
        let ro = listed(&with_key(app, &app.keys.api_key_ro, "GET", "/api/v3/checks/", None).await);
        let key = ro[1]["unique_key"].as_str().expect("unique_key").to_owned();
        assert_eq!(key, unique_key_of(&check));
        let response = with_key(
            app,
            &app.keys.api_key_ro,
            "GET",
            &format!("/api/v3/checks/{key}"),
            None,
        )
        .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.json(), ro[1]);
        assert_eq!(keys_of(&response.json()), RO_KEYS);
    }
);

app_test!(an_unknown_unique_key_is_not_found, |app| {
    app.create_check(&json!({})).await;
    let uri = format!("/api/v3/checks/{}", "a".repeat(40));
    assert_eq!(
        app.api("GET", &uri, None).await.status,
        StatusCode::NOT_FOUND
    );
    let ro = with_key(app, &app.keys.api_key_ro, "GET", &uri, None).await;
    assert_eq!(ro.status, StatusCode::NOT_FOUND);
});

app_test!(another_projects_unique_key_is_not_found, |app| {
    let other = other_check(app, &json!({"name": "theirs"})).await;
    let uri = format!("/api/v3/checks/{}", unique_key_of(&other.check));
    assert_eq!(
        app.api("GET", &uri, None).await.status,
        StatusCode::NOT_FOUND
    );
    let ro = with_key(app, &app.keys.api_key_ro, "GET", &uri, None).await;
    assert_eq!(ro.status, StatusCode::NOT_FOUND);
    // Its own project finds it.
    let theirs = with_key(app, &other.keys.api_key, "GET", &uri, None).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.json()["name"], "theirs");
});

// ---------------------------------------------------------------------------------------
// POST checks/<uuid>

app_test!(update_changes_the_given_fields_only, |app| {
    let check = app
        .create_check(&json!({"name": "before", "tags": "keep", "desc": "old", "timeout": 600}))
        .await;
    let response = app
        .api(
            "POST",
            &check_uri(3, &check),
            Some(&json!({"name": "after", "desc": "new", "grace": 120, "manual_resume": true})),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let json = response.json();
    assert_eq!(keys_of(&json), RW_KEYS);
    assert_eq!(
        (
            &json["name"],
            &json["desc"],
            &json["grace"],
            &json["manual_resume"]
        ),
        (&json!("after"), &json!("new"), &json!(120), &json!(true))
    );
    let stored = app.reload(&check).await;
    assert_eq!(
        (stored.name.as_str(), stored.desc.as_str()),
        ("after", "new")
    );
    assert_eq!(stored.state.grace, Duration::seconds(120));
    assert!(stored.state.manual_resume);
    // Untouched fields stay as they were.
    assert_eq!(stored.tags, "keep");
    assert_eq!(stored.state.timeout, Duration::seconds(600));
    assert_eq!(json, app.api_check(3, &stored).await);
});

app_test!(update_never_changes_the_status, |app| {
    let up = app.create_check(&json!({"name": "up"})).await;
    ping(app, &up, "").await;
    let paused = app.create_check(&json!({"name": "paused"})).await;
    let pause = app
        .api("POST", &format!("{}/pause", check_uri(3, &paused)), None)
        .await;
    assert_eq!(pause.status, StatusCode::OK);
    for (check, status, shown) in [(&up, Status::Up, "up"), (&paused, Status::Paused, "paused")] {
        let before = app.reload(check).await;
        let flips = app.flips(check).await.len();
        let response = app
            .api(
                "POST",
                &check_uri(3, check),
                Some(&json!({"timeout": 60, "grace": 60, "name": "changed"})),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(response.json()["status"], shown);
        let after = app.reload(check).await;
        assert_eq!(after.state.status, status);
        assert_eq!(after.state.last_ping, before.state.last_ping);
        assert_eq!(after.name, "changed");
        assert_eq!(app.flips(check).await.len(), flips);
    }
});

app_test!(update_of_an_unknown_uuid_is_not_found, |app| {
    let uri = format!("/api/v3/checks/{}", Uuid::new_v4());
    let response = app.api("POST", &uri, Some(&json!({"name": "x"}))).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(app.checks().await.is_empty());
});

app_test!(update_of_another_projects_check_is_forbidden, |app| {
    let other = other_check(app, &json!({"name": "theirs"})).await;
    let response = app
        .api(
            "POST",
            &check_uri(3, &other.check),
            Some(&json!({"name": "mine now"})),
        )
        .await;
    assert_empty(&response, StatusCode::FORBIDDEN);
    assert_eq!(app.reload(&other.check).await, other.check);
    assert!(app.checks().await.is_empty());
});

app_test!(update_with_the_read_only_key_is_refused, |app| {
    let check = app.create_check(&json!({"name": "keep"})).await;
    let response = with_key(
        app,
        &app.keys.api_key_ro,
        "POST",
        &check_uri(3, &check),
        Some(&json!({"name": "changed"})),
    )
    .await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
    let response = without_header(
        app,
        "POST",
        &check_uri(3, &check),
        &json!({"api_key": app.keys.api_key_ro, "name": "changed"}),
    )
    .await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
    assert_eq!(app.reload(&check).await, check);
});

// ---------------------------------------------------------------------------------------
// DELETE checks/<uuid>

app_test!(delete_answers_with_the_check_as_it_was, |app| {
    let check = app
        .create_check(&json!({"name": "doomed", "tags": "x"}))
        .await;
    ping(app, &check, "").await;
    let before = app.api_check(3, &check).await;
    let response = app.api("DELETE", &check_uri(3, &check), None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let json = response.json();
    assert_eq!(json, before);
    assert_eq!(json["name"], "doomed");
    assert_eq!(json["uuid"], check.code.to_string());
    assert_eq!(json["status"], "up");
    assert!(gone(app, &check).await);
    assert!(app.checks().await.is_empty());
    let again = app.api("GET", &check_uri(3, &check), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
});

app_test!(delete_takes_no_api_key_from_the_body, |app| {
    let check = app.create_check(&json!({})).await;
    let response = without_header(
        app,
        "DELETE",
        &check_uri(3, &check),
        &json!({"api_key": app.keys.api_key}),
    )
    .await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "missing api key");
    assert_eq!(app.reload(&check).await, check);
});

app_test!(delete_with_the_read_only_key_is_refused, |app| {
    let check = app.create_check(&json!({})).await;
    let response = with_key(
        app,
        &app.keys.api_key_ro,
        "DELETE",
        &check_uri(3, &check),
        None,
    )
    .await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
    assert_eq!(app.reload(&check).await, check);
});

app_test!(delete_of_another_projects_check_is_forbidden, |app| {
    let other = other_check(app, &json!({"name": "theirs"})).await;
    let response = app.api("DELETE", &check_uri(3, &other.check), None).await;
    assert_empty(&response, StatusCode::FORBIDDEN);
    assert_eq!(app.reload(&other.check).await, other.check);
});

app_test!(delete_of_an_unknown_uuid_is_not_found, |app| {
    let check = app.create_check(&json!({})).await;
    let uri = format!("/api/v3/checks/{}", Uuid::new_v4());
    assert_eq!(
        app.api("DELETE", &uri, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.reload(&check).await, check);
});

// ---------------------------------------------------------------------------------------
// Pause and resume

app_test!(pause_of_another_projects_check_is_forbidden, |app| {
    let other = other_check(app, &json!({"name": "theirs"})).await;
    ping(app, &other.check, "").await;
    let before = app.reload(&other.check).await;
    let response = app
        .api(
            "POST",
            &format!("{}/pause", check_uri(3, &other.check)),
            None,
        )
        .await;
    assert_empty(&response, StatusCode::FORBIDDEN);
    let after = app.reload(&other.check).await;
    assert_eq!(after, before);
    assert_eq!(after.state.status, Status::Up);
    assert_eq!(app.flips(&other.check).await.len(), 1);
});

app_test!(resume_with_the_read_only_key_is_refused, |app| {
    let check = app.create_check(&json!({})).await;
    let uri = format!("{}/resume", check_uri(3, &check));
    let pause = app
        .api("POST", &format!("{}/pause", check_uri(3, &check)), None)
        .await;
    assert_eq!(pause.status, StatusCode::OK);
    let paused = app.reload(&check).await;
    let response = with_key(app, &app.keys.api_key_ro, "POST", &uri, None).await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
    assert_eq!(app.reload(&check).await, paused);
    assert_eq!(paused.state.status, Status::Paused);
});

// ---------------------------------------------------------------------------------------
// Pings, flips and notifications of another project's check

app_test!(pings_of_another_projects_check_are_forbidden, |app| {
    let other = other_check(app, &json!({})).await;
    let response = app
        .request_with_body(
            "POST",
            &format!("/ping/{}", other.check.code),
            "secret body",
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let list = app
        .api(
            "GET",
            &format!("{}/pings/", check_uri(3, &other.check)),
            None,
        )
        .await;
    assert_empty(&list, StatusCode::FORBIDDEN);
    // Its own project sees it.
    let theirs = with_key(
        app,
        &other.keys.api_key,
        "GET",
        &format!("{}/pings/", check_uri(3, &other.check)),
        None,
    )
    .await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.json()["pings"].as_array().map(Vec::len), Some(1));
});

app_test!(a_ping_body_of_another_projects_check_is_forbidden, |app| {
    let other = other_check(app, &json!({})).await;
    app.request_with_body(
        "POST",
        &format!("/ping/{}", other.check.code),
        "secret body",
    )
    .await;
    let uri = format!("{}/pings/1/body", check_uri(3, &other.check));
    let response = app.api("GET", &uri, None).await;
    assert_empty(&response, StatusCode::FORBIDDEN);
    let theirs = with_key(app, &other.keys.api_key, "GET", &uri, None).await;
    assert_eq!(
        (theirs.status, theirs.text().as_str()),
        (StatusCode::OK, "secret body")
    );
});

app_test!(flips_of_another_projects_check_are_forbidden, |app| {
    let other = other_check(app, &json!({})).await;
    ping(app, &other.check, "").await;
    let uri = format!("{}/flips/", check_uri(3, &other.check));
    assert_empty(&app.api("GET", &uri, None).await, StatusCode::FORBIDDEN);
    let ro = with_key(app, &app.keys.api_key_ro, "GET", &uri, None).await;
    assert_empty(&ro, StatusCode::FORBIDDEN);
});

app_test!(flips_by_another_projects_unique_key_are_not_found, |app| {
    let other = other_check(app, &json!({})).await;
    ping(app, &other.check, "").await;
    let uri = format!("/api/v3/checks/{}/flips/", unique_key_of(&other.check));
    assert_eq!(
        app.api("GET", &uri, None).await.status,
        StatusCode::NOT_FOUND
    );
    let ro = with_key(app, &app.keys.api_key_ro, "GET", &uri, None).await;
    assert_eq!(ro.status, StatusCode::NOT_FOUND);
});

app_test!(
    flips_by_own_unique_key_are_listed_for_the_read_only_key,
    |app| {
        let check = app.create_check(&json!({})).await;
        ping(app, &check, "").await;
        let uri = format!("/api/v3/checks/{}/flips/", unique_key_of(&check));
        let response = with_key(app, &app.keys.api_key_ro, "GET", &uri, None).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert_eq!(
            response.json(),
            json!({"flips": [{"timestamp": "2024-03-01T10:00:00+00:00", "up": 1}]})
        );
    }
);

app_test!(
    notifications_of_another_projects_check_are_forbidden,
    |app| {
        let other = other_check(app, &json!({})).await;
        let uri = format!("{}/notifications/", check_uri(3, &other.check));
        assert_empty(&app.api("GET", &uri, None).await, StatusCode::FORBIDDEN);
    }
);

app_test!(notifications_with_the_read_only_key_are_refused, |app| {
    let check = app.create_check(&json!({})).await;
    let uri = format!("{}/notifications/", check_uri(3, &check));
    let response = with_key(app, &app.keys.api_key_ro, "GET", &uri, None).await;
    assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
});

app_test!(
    a_notification_is_only_its_projects_and_read_write_only,
    |app| {
        let hook = app.create_webhook("https://example.org/hook").await;
        let uri = format!("/api/v3/channels/{}/test", hook["id"].as_str().expect("id"));
        let queued = app.api("POST", &uri, None).await.json();
        let id = queued["notification"]
            .as_str()
            .expect("notification")
            .to_owned();
        let get = format!("/api/v3/notifications/{id}");
        let resend = format!("{get}/resend");
        let before = app.api("GET", &get, None).await.json();

        let response = with_key(app, &app.keys.api_key_ro, "GET", &get, None).await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
        let response = with_key(app, &app.keys.api_key_ro, "POST", &resend, None).await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");

        let (_, other) = app.other_project().await;
        for (method, uri) in [("GET", &get), ("POST", &resend)] {
            let response = with_key(app, &other.api_key, method, uri, None).await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{method} {uri}");
            assert!(response.body.is_empty());
        }
        assert_eq!(app.api("GET", &get, None).await.json(), before);
    }
);

// ---------------------------------------------------------------------------------------
// Channels, badges, status

app_test!(
    creating_a_channel_with_the_read_only_key_is_refused,
    |app| {
        let spec = json!({"name": "hook", "kind": "webhook",
                      "webhook": {"url_down": "https://example.org/down"}});
        let response = with_key(
            app,
            &app.keys.api_key_ro,
            "POST",
            "/api/v3/channels/",
            Some(&spec),
        )
        .await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
        let mut body = spec.clone();
        body["api_key"] = json!(app.keys.api_key_ro);
        let response = without_header(app, "POST", "/api/v3/channels/", &body).await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
        let channels = app
            .store
            .channels_in_project(app.project.id)
            .await
            .expect("channels");
        assert!(channels.is_empty());
    }
);

app_test!(
    testing_a_channel_with_the_read_only_key_queues_nothing,
    |app| {
        let channel = app.create_webhook("https://example.org/hook").await;
        let uri = format!(
            "/api/v3/channels/{}/test",
            channel["id"].as_str().expect("id")
        );
        let response = with_key(app, &app.keys.api_key_ro, "POST", &uri, None).await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "wrong api key");
        let (_, max_notification, _) = app.store.backlog().await.expect("backlog");
        assert_eq!(max_notification, None);
        assert_eq!(app.store.outbox_stats().await.expect("stats").pending, 0);
    }
);

app_test!(badges_list_only_the_projects_own_tags, |app| {
    app.create_check(&json!({"tags": "prod web"})).await;
    app.create_check(&json!({"tags": "web"})).await;
    other_check(app, &json!({"tags": "secret prod"})).await;
    for key in [&app.keys.api_key, &app.keys.api_key_ro] {
        let response = with_key(app, key, "GET", "/api/v3/badges/", None).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let json = response.json();
        let mut tags = keys_of(&json["badges"]);
        tags.sort_unstable();
        assert_eq!(tags, ["*", "prod", "web"]);
    }
});

app_test!(status_answers_ok_without_a_key, |app| {
    let response = app.request("GET", "/api/v3/status/").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.text(), "OK");
});
