//! The ping API over HTTP (reference §2, with §1.1/§1.2 for what a ping stores and §3.3 for
//! how the result shows in the Management API), on SQLite and on PostgreSQL.
//!
//! Every request goes through the real router; time is the application's fake clock.

use axum::body::Body;
use axum::http::{Request, StatusCode, request};
use chrono::Duration;
use overdue::domain::check::Status;
use overdue::store::CheckRecord;
use serde_json::json;
use tower::ServiceExt;
use uuid::Uuid;

use crate::support::{DEFAULT_PEER, START, TestApp, TestResponse, app_test, at, from_peer};

// ---------------------------------------------------------------------------------------
// Helpers

/// A request builder for a ping.
fn req(method: &str, uri: &str) -> request::Builder {
    Request::builder().method(method).uri(uri)
}

fn ping_url(check: &CheckRecord) -> String {
    format!("/ping/{}", check.code)
}

fn slug_url(app: &TestApp, slug: &str) -> String {
    format!("/ping/{}/{slug}", app.keys.ping_key)
}

#[track_caller]
fn assert_answer(response: &TestResponse, status: StatusCode, text: &str) {
    assert_eq!(
        (response.status, response.text().as_str()),
        (status, text),
        "headers: {:?}",
        response.headers
    );
}

#[track_caller]
fn assert_ok(response: &TestResponse) {
    assert_answer(response, StatusCode::OK, "OK");
}

/// A check with a slug, stored directly.
async fn slug_check(app: &TestApp, slug: &str) -> CheckRecord {
    let slug = slug.to_owned();
    app.insert_check(move |c| {
        c.name = format!("{slug} job");
        c.slug = slug;
    })
    .await
}

/// A check that has had one success ping (status up).
async fn up_check(app: &TestApp) -> CheckRecord {
    let check = app.insert_check(|_| {}).await;
    assert_ok(&app.request("GET", &ping_url(&check)).await);
    app.reload(&check).await
}

/// The check, its pings and its flips are exactly as before.
async fn assert_unchanged(app: &TestApp, before: &CheckRecord, n_pings: usize, n_flips: usize) {
    assert_eq!(app.reload(before).await, *before);
    assert_eq!(app.pings(before).await.len(), n_pings);
    assert_eq!(app.flips(before).await.len(), n_flips);
}

/// Kinds of the check's pings, oldest first (`None` is success).
async fn kinds(app: &TestApp, check: &CheckRecord) -> Vec<Option<String>> {
    let mut pings = app.pings(check).await;
    pings.reverse();
    pings.into_iter().map(|p| p.kind).collect()
}

fn kind(k: &str) -> Option<String> {
    Some(k.to_owned())
}

/// A check with HTTP body keyword filtering on, created through the API.
async fn filtered_check(app: &TestApp, default_fail: bool) -> CheckRecord {
    app.create_check(&json!({
        "name": "filtered",
        "filter_http_body": true,
        "start_kw": "starting",
        "success_kw": "all good, done",
        "failure_kw": "ERROR",
        "filter_default_fail": default_fail,
    }))
    .await
}

// ---------------------------------------------------------------------------------------
// §2.1 URL forms and what each records (§2.3)

app_test!(ping_by_uuid_records_success_and_marks_new_check_up, |app| {
    let check = app.insert_check(|_| {}).await;

    let response = app.request("GET", &ping_url(&check)).await;

    assert_ok(&response);
    let after = app.reload(&check).await;
    assert_eq!(after.state.status, Status::Up);
    assert_eq!(after.state.n_pings, 1);
    assert_eq!(after.state.last_ping, Some(at(START)));
    // §2.3: a success on a simple check → alert_after = last_ping + 1 day + 1 hour.
    assert_eq!(after.alert_after, Some(at("2024-03-02T11:00:00Z")));
    let ping = app.only_ping(&check).await;
    assert_eq!(
        (ping.n, ping.created, ping.kind, ping.exit_status, ping.rid),
        (1, at(START), None, None, None)
    );
    let flips = app.flips(&check).await;
    assert_eq!(flips.len(), 1);
    assert_eq!(
        (
            flips[0].created,
            flips[0].old_status,
            flips[0].new_status,
            flips[0].reason.as_str()
        ),
        (at(START), Status::New, Status::Up, "")
    );
});

app_test!(ping_by_uuid_with_trailing_slash_records_success, |app| {
    let check = app.insert_check(|_| {}).await;

    let response = app.request("GET", &format!("/ping/{}/", check.code)).await;

    assert_ok(&response);
    assert_eq!(app.reload(&check).await.state.status, Status::Up);
    assert_eq!(app.only_ping(&check).await.kind, None);
});

app_test!(
    ping_start_records_start_and_leaves_status_unchanged,
    |app| {
        let check = app.insert_check(|_| {}).await;

        let response = app
            .request("GET", &format!("/ping/{}/start", check.code))
            .await;

        assert_ok(&response);
        let after = app.reload(&check).await;
        assert_eq!(after.state.status, Status::New);
        assert_eq!(after.state.last_start, Some(at(START)));
        assert_eq!(after.state.last_ping, None);
        assert_eq!(after.state.n_pings, 1);
        // A running check must finish within its grace time.
        assert_eq!(after.alert_after, Some(at("2024-03-01T11:00:00Z")));
        assert_eq!(app.only_ping(&check).await.kind, kind("start"));
        assert!(app.flips(&check).await.is_empty());
    }
);

app_test!(ping_fail_marks_up_check_down, |app| {
    let check = up_check(app).await;
    app.clock.advance(Duration::minutes(5));

    let response = app
        .request("GET", &format!("/ping/{}/fail", check.code))
        .await;

    assert_ok(&response);
    let after = app.reload(&check).await;
    assert_eq!(after.state.status, Status::Down);
    assert_eq!(after.state.last_ping, Some(app.now()));
    assert_eq!(after.alert_after, None);
    assert_eq!(kinds(app, &check).await, [None, kind("fail")]);
    let flips = app.flips(&check).await;
    assert_eq!(
        (
            flips[0].created,
            flips[0].old_status,
            flips[0].new_status,
            flips[0].reason.as_str()
        ),
        (app.now(), Status::Up, Status::Down, "fail")
    );
});

app_test!(ping_log_records_log_without_changing_state, |app| {
    let check = app.insert_check(|_| {}).await;

    let response = app
        .request("POST", &format!("/ping/{}/log", check.code))
        .await;

    assert_ok(&response);
    let after = app.reload(&check).await;
    assert_eq!(
        (
            after.state.status,
            after.state.n_pings,
            after.state.last_ping,
            after.alert_after
        ),
        (Status::New, 1, None, None)
    );
    assert_eq!(app.only_ping(&check).await.kind, kind("log"));
    assert!(app.flips(&check).await.is_empty());
});

app_test!(
    ping_with_exit_status_zero_records_success_with_exit_status,
    |app| {
        let check = app.insert_check(|_| {}).await;

        let response = app.request("GET", &format!("/ping/{}/0", check.code)).await;

        assert_ok(&response);
        assert_eq!(app.reload(&check).await.state.status, Status::Up);
        let ping = app.only_ping(&check).await;
        assert_eq!((ping.kind, ping.exit_status), (None, Some(0)));
    }
);

app_test!(ping_with_exit_status_above_zero_marks_check_down, |app| {
    let check = up_check(app).await;

    let first = app.request("GET", &format!("/ping/{}/1", check.code)).await;
    let second = app
        .request("GET", &format!("/ping/{}/255", check.code))
        .await;

    assert_ok(&first);
    assert_ok(&second);
    let after = app.reload(&check).await;
    assert_eq!((after.state.status, after.state.n_pings), (Status::Down, 3));
    let pings: Vec<_> = app
        .pings(&check)
        .await
        .into_iter()
        .map(|p| (p.n, p.kind, p.exit_status))
        .collect();
    assert_eq!(
        pings,
        [
            (3, kind("fail"), Some(255)),
            (2, kind("fail"), Some(1)),
            (1, None, None)
        ]
    );
    let flips = app.flips(&check).await;
    assert_eq!(flips.len(), 2, "one flip up→down, none for down→down");
    assert_eq!(flips[0].reason, "fail");
});

app_test!(ping_by_slug_records_success, |app| {
    let check = slug_check(app, "db-backup").await;

    let response = app.request("GET", &slug_url(app, "db-backup")).await;

    assert_ok(&response);
    let after = app.reload(&check).await;
    assert_eq!((after.state.status, after.state.n_pings), (Status::Up, 1));
    assert_eq!(app.only_ping(&check).await.kind, None);
});

app_test!(ping_by_slug_with_suffix_records_matching_kind, |app| {
    let check = slug_check(app, "db_backup-2").await;
    let base = slug_url(app, "db_backup-2");

    for suffix in ["start", "log", "0", "fail", "", "7"] {
        let url = if suffix.is_empty() {
            base.clone()
        } else {
            format!("{base}/{suffix}")
        };
        assert_ok(&app.request("GET", &url).await);
    }

    let pings: Vec<_> = app
        .pings(&check)
        .await
        .into_iter()
        .rev()
        .map(|p| (p.kind, p.exit_status))
        .collect();
    assert_eq!(
        pings,
        [
            (kind("start"), None),
            (kind("log"), None),
            (None, Some(0)),
            (kind("fail"), None),
            (None, None),
            (kind("fail"), Some(7)),
        ]
    );
    assert_eq!(app.reload(&check).await.state.status, Status::Down);
});

app_test!(ping_accepts_any_http_method_and_records_it, |app| {
    let check = app.insert_check(|_| {}).await;
    let methods = ["GET", "POST", "HEAD", "PUT", "OPTIONS", "DELETE", "PATCH"];

    for method in methods {
        let response = app.request(method, &ping_url(&check)).await;
        assert_eq!(response.status, StatusCode::OK, "{method}");
        let expected = if method == "HEAD" { "" } else { "OK" };
        assert_eq!(response.text(), expected, "{method}");
    }

    let recorded: Vec<_> = app
        .pings(&check)
        .await
        .into_iter()
        .rev()
        .map(|p| (p.method, p.kind))
        .collect();
    let expected: Vec<_> = methods.iter().map(|m| ((*m).to_owned(), None)).collect();
    assert_eq!(recorded, expected);
    assert_eq!(app.reload(&check).await.state.n_pings, 7);
});

// ---------------------------------------------------------------------------------------
// §2.2 404 "not found"

app_test!(ping_with_unknown_uuid_is_not_found, |app| {
    let other = app.insert_check(|_| {}).await;

    let response = app
        .request("GET", &format!("/ping/{}", Uuid::new_v4()))
        .await;

    assert_answer(&response, StatusCode::NOT_FOUND, "not found");
    assert_unchanged(app, &other, 0, 0).await;
});

app_test!(ping_with_uppercase_uuid_is_not_found, |app| {
    let check = app.insert_check(|_| {}).await;
    let upper = check.code.to_string().to_uppercase();

    for url in [format!("/ping/{upper}"), format!("/ping/{upper}/start")] {
        let response = app.request("GET", &url).await;
        assert_answer(&response, StatusCode::NOT_FOUND, "not found");
    }

    assert_unchanged(app, &check, 0, 0).await;
});

app_test!(ping_with_dashless_uuid_is_not_found, |app| {
    let check = app.insert_check(|_| {}).await;

    let response = app
        .request("GET", &format!("/ping/{}", check.code.simple()))
        .await;

    assert_answer(&response, StatusCode::NOT_FOUND, "not found");
    assert_unchanged(app, &check, 0, 0).await;
});

app_test!(ping_with_path_that_is_not_a_uuid_is_not_found, |app| {
    let check = app.insert_check(|_| {}).await;

    // `/ping/<uuid>/foo` is the slug form with the UUID as ping key.
    for url in [
        "/ping/not-uuid/".to_owned(),
        "/ping/".to_owned(),
        format!("/ping/{}/foo", check.code),
        format!("/ping/{}/start/extra", check.code),
    ] {
        let response = app.request("GET", &url).await;
        assert_answer(&response, StatusCode::NOT_FOUND, "not found");
    }

    assert_unchanged(app, &check, 0, 0).await;
});

app_test!(ping_with_unknown_ping_key_is_not_found, |app| {
    let check = slug_check(app, "db-backup").await;

    let response = app.request("GET", "/ping/nosuchpingkey/db-backup").await;

    assert_answer(&response, StatusCode::NOT_FOUND, "not found");
    assert_unchanged(app, &check, 0, 0).await;
});

app_test!(ping_with_unknown_slug_is_not_found, |app| {
    let check = slug_check(app, "db-backup").await;

    let response = app.request("GET", &slug_url(app, "db-restore")).await;

    assert_answer(&response, StatusCode::NOT_FOUND, "not found");
    assert_unchanged(app, &check, 0, 0).await;
});

app_test!(
    ping_with_trailing_slash_after_suffix_or_slug_is_not_found,
    |app| {
        let check = slug_check(app, "db-backup").await;
        let code = check.code;
        let slug = slug_url(app, "db-backup");

        for url in [
            format!("/ping/{code}/start/"),
            format!("/ping/{code}/fail/"),
            format!("/ping/{code}/log/"),
            format!("/ping/{code}/0/"),
            format!("{slug}/"),
            format!("{slug}/start/"),
            format!("{slug}/1/"),
        ] {
            let response = app.request("GET", &url).await;
            assert_answer(&response, StatusCode::NOT_FOUND, "not found");
        }

        assert_unchanged(app, &check, 0, 0).await;
    }
);

// ---------------------------------------------------------------------------------------
// §2.2 400 "invalid url format"

app_test!(ping_with_exit_status_above_255_is_invalid_url, |app| {
    let check = slug_check(app, "db-backup").await;

    for url in [
        format!("/ping/{}/256", check.code),
        format!("/ping/{}/99999999999999999999999", check.code),
        format!("{}/1000", slug_url(app, "db-backup")),
    ] {
        let response = app.request("GET", &url).await;
        assert_answer(&response, StatusCode::BAD_REQUEST, "invalid url format");
    }

    assert_unchanged(app, &check, 0, 0).await;
});

app_test!(
    ping_with_exit_status_above_255_on_unknown_check_is_not_found,
    |app| {
        let other = slug_check(app, "db-backup").await;

        for url in [
            format!("/ping/{}/256", Uuid::new_v4()),
            format!("{}/256", slug_url(app, "db-restore")),
        ] {
            let response = app.request("GET", &url).await;
            assert_answer(&response, StatusCode::NOT_FOUND, "not found");
        }

        assert_unchanged(app, &other, 0, 0).await;
    }
);

app_test!(ping_by_slug_with_uppercase_slug_is_invalid_url, |app| {
    let check = slug_check(app, "db-backup").await;

    for url in [
        slug_url(app, "DB-backup"),
        format!("{}/start", slug_url(app, "db-Backup")),
        format!("{}?create=1", slug_url(app, "New-Job")),
    ] {
        let response = app.request("GET", &url).await;
        assert_answer(&response, StatusCode::BAD_REQUEST, "invalid url format");
    }

    assert_unchanged(app, &check, 0, 0).await;
    assert_eq!(app.checks().await.len(), 1, "nothing was provisioned");
});

// ---------------------------------------------------------------------------------------
// §2.2 400 "invalid uuid format" and run ids (§2.3, §2.5)

app_test!(ping_with_malformed_rid_is_invalid_uuid, |app| {
    let check = app.insert_check(|_| {}).await;
    let dashless = Uuid::new_v4().simple().to_string();
    let braced = format!("{{{}}}", Uuid::new_v4());

    for rid in ["abc", "", dashless.as_str(), braced.as_str()] {
        let url = format!("/ping/{}/start?rid={rid}", check.code);
        let response = app.request("GET", &url).await;
        assert_answer(&response, StatusCode::BAD_REQUEST, "invalid uuid format");
    }
    // Exit status is judged before the rid.
    let url = format!("/ping/{}/256?rid=abc", check.code);
    let response = app.request("GET", &url).await;
    assert_answer(&response, StatusCode::BAD_REQUEST, "invalid url format");

    assert_unchanged(app, &check, 0, 0).await;
});

app_test!(
    ping_with_malformed_rid_on_unknown_check_is_not_found,
    |app| {
        let response = app
            .request("GET", &format!("/ping/{}?rid=abc", Uuid::new_v4()))
            .await;

        assert_answer(&response, StatusCode::NOT_FOUND, "not found");
    }
);

app_test!(ping_with_valid_rid_stores_it_in_either_case, |app| {
    let check = app.insert_check(|_| {}).await;
    let lower = Uuid::new_v4();
    let upper = Uuid::new_v4();

    let first = app
        .request("GET", &format!("/ping/{}/log?rid={lower}", check.code))
        .await;
    let upper_text = upper.to_string().to_uppercase();
    let second = app
        .request("GET", &format!("/ping/{}/log?rid={upper_text}", check.code))
        .await;

    assert_ok(&first);
    assert_ok(&second);
    let rids: Vec<_> = app.pings(&check).await.into_iter().map(|p| p.rid).collect();
    assert_eq!(rids, [Some(upper), Some(lower)]);
});

app_test!(
    ping_start_and_success_with_same_rid_record_last_duration,
    |app| {
        let check = up_check(app).await;
        let rid = Uuid::new_v4();
        let start = app
            .request("GET", &format!("/ping/{}/start?rid={rid}", check.code))
            .await;
        assert_ok(&start);
        app.clock.advance(Duration::seconds(90));

        // The same rid, written in uppercase.
        let rid_upper = rid.to_string().to_uppercase();
        let finish = app
            .request("GET", &format!("/ping/{}?rid={rid_upper}", check.code))
            .await;

        assert_ok(&finish);
        let after = app.reload(&check).await;
        assert_eq!(after.state.last_start, None);
        assert_eq!(after.state.last_duration, Some(Duration::seconds(90)));
        let json = app.api_check(3, &check).await;
        assert_eq!(json["last_duration"], json!(90));
        assert_eq!(json["started"], json!(false));
    }
);

app_test!(ping_success_with_other_rid_keeps_run_open, |app| {
    let check = up_check(app).await;
    let run = Uuid::new_v4();
    let other = Uuid::new_v4();
    let start_url = format!("/ping/{}/start?rid={run}", check.code);
    assert_ok(&app.request("GET", &start_url).await);
    let started_at = app.now();
    app.clock.advance(Duration::seconds(30));

    let success = app
        .request("GET", &format!("/ping/{}?rid={other}", check.code))
        .await;

    assert_ok(&success);
    let after = app.reload(&check).await;
    assert_eq!(
        (
            after.state.last_start,
            after.state.last_start_rid,
            after.state.last_duration
        ),
        (Some(started_at), Some(run), None)
    );

    // A fail with another rid closes the run, without a duration.
    let fail = app
        .request("GET", &format!("/ping/{}/fail?rid={other}", check.code))
        .await;

    assert_ok(&fail);
    let after = app.reload(&check).await;
    assert_eq!(
        (after.state.last_start, after.state.last_duration),
        (None, None)
    );
});

app_test!(ping_success_without_rid_closes_a_run_with_rid, |app| {
    let check = up_check(app).await;
    let start_url = format!("/ping/{}/start?rid={}", check.code, Uuid::new_v4());
    assert_ok(&app.request("GET", &start_url).await);
    app.clock.advance(Duration::seconds(30));

    let success = app.request("GET", &ping_url(&check)).await;

    assert_ok(&success);
    let after = app.reload(&check).await;
    assert_eq!(
        (after.state.last_start, after.state.last_duration),
        (None, None)
    );
});

// ---------------------------------------------------------------------------------------
// §2.2 409 "ambiguous slug"

app_test!(ping_by_ambiguous_slug_is_conflict, |app| {
    let one = slug_check(app, "twin").await;
    let two = slug_check(app, "twin").await;

    // Ambiguity is found by the lookup, before exit status and rid are judged.
    for url in [
        slug_url(app, "twin"),
        format!("{}/start", slug_url(app, "twin")),
        format!("{}/256", slug_url(app, "twin")),
        format!("{}?rid=abc", slug_url(app, "twin")),
        format!("{}?create=1", slug_url(app, "twin")),
    ] {
        let response = app.request("GET", &url).await;
        assert_answer(&response, StatusCode::CONFLICT, "ambiguous slug");
    }

    assert_unchanged(app, &one, 0, 0).await;
    assert_unchanged(app, &two, 0, 0).await;
    assert_eq!(app.checks().await.len(), 2);
});

// ---------------------------------------------------------------------------------------
// §2.3 step 1: auto-provisioning with `?create=1`

app_test!(ping_by_slug_with_create_provisions_check, |app| {
    let url = format!("{}?create=1", slug_url(app, "new-job"));

    let first = app.request("POST", &url).await;

    assert_answer(&first, StatusCode::CREATED, "Created");
    assert_eq!(first.header("access-control-allow-origin"), Some("*"));
    assert_eq!(first.header("ping-body-limit"), Some("10000"));
    let checks = app.checks().await;
    assert_eq!(checks.len(), 1);
    let check = &checks[0];
    assert_eq!(
        (check.name.as_str(), check.slug.as_str()),
        ("new-job", "new-job")
    );
    assert_eq!(
        (check.state.timeout, check.state.grace),
        (Duration::days(1), Duration::hours(1))
    );
    assert_eq!((check.state.status, check.state.n_pings), (Status::Up, 1));
    assert_eq!(app.only_ping(check).await.method, "POST");

    let second = app.request("POST", &url).await;

    assert_ok(&second);
    assert_eq!(app.checks().await.len(), 1);
    assert_eq!(app.reload(check).await.state.n_pings, 2);
});

app_test!(ping_by_slug_with_create_other_than_1_is_not_found, |app| {
    for query in [
        "create=true",
        "create=yes",
        "create=0",
        "create=",
        "create=1%20",
        "create=01",
    ] {
        let url = format!("{}?{query}", slug_url(app, "new-job"));
        let response = app.request("GET", &url).await;
        assert_answer(&response, StatusCode::NOT_FOUND, "not found");
    }

    assert!(app.checks().await.is_empty());
});

app_test!(ping_with_create_and_unknown_ping_key_is_not_found, |app| {
    let response = app
        .request("GET", "/ping/nosuchpingkey/new-job?create=1")
        .await;

    assert_answer(&response, StatusCode::NOT_FOUND, "not found");
    assert!(app.checks().await.is_empty());
});

app_test!(
    ping_with_create_at_twice_the_check_limit_is_not_found,
    |app| {
        app.set_check_limit(1).await;
        slug_check(app, "existing").await;

        // Auto-provisioning may go up to twice the limit.
        let second = app
            .request("GET", &format!("{}?create=1", slug_url(app, "second")))
            .await;
        let third = app
            .request("GET", &format!("{}?create=1", slug_url(app, "third")))
            .await;

        assert_answer(&second, StatusCode::CREATED, "Created");
        assert_answer(&third, StatusCode::NOT_FOUND, "not found");
        let mut slugs: Vec<_> = app.checks().await.into_iter().map(|c| c.slug).collect();
        slugs.sort();
        assert_eq!(slugs, ["existing", "second"]);
    }
);

// Overdue difference (README): a rejected ping changes nothing, so `?create=1` with an invalid
// exit status or rid answers 400 like healthchecks.io but provisions no check.
app_test!(
    ping_with_create_and_invalid_exit_status_or_rid_provisions_nothing,
    |app| {
        let bad_exit = format!("{}/256?create=1", slug_url(app, "exit-job"));
        let bad_rid = format!("{}?create=1&rid=abc", slug_url(app, "rid-job"));

        let first = app.request("GET", &bad_exit).await;
        let second = app.request("GET", &bad_rid).await;

        assert_answer(&first, StatusCode::BAD_REQUEST, "invalid url format");
        assert_answer(&second, StatusCode::BAD_REQUEST, "invalid uuid format");
        assert!(app.checks().await.is_empty());
    }
);

// ---------------------------------------------------------------------------------------
// §2.2 headers

app_test!(
    ping_answer_carries_cors_body_limit_and_no_cache_headers,
    |app| {
        let check = app.insert_check(|_| {}).await;

        let response = app.request("GET", &ping_url(&check)).await;

        assert_ok(&response);
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
        assert_eq!(response.header("ping-body-limit"), Some("10000"));
        let cache = response.header("cache-control").expect("Cache-Control");
        for directive in [
            "max-age=0",
            "no-cache",
            "no-store",
            "must-revalidate",
            "private",
        ] {
            assert!(cache.contains(directive), "{cache}");
        }
        assert!(response.header("expires").is_some());
    }
);

// ---------------------------------------------------------------------------------------
// §2.4 body capture, §1.2 ping fields

app_test!(ping_body_is_stored_verbatim, |app| {
    let check = app.insert_check(|_| {}).await;
    let body = vec![0xff, 0x00, b'o', b'k', 0xfe, b'\n'];

    let response = app
        .request_with_body("POST", &ping_url(&check), body.clone())
        .await;

    assert_ok(&response);
    assert_eq!(app.only_ping(&check).await.body, Some(body));
});

app_test!(
    ping_body_is_truncated_to_ping_body_limit,
    flags = ["--ping-body-limit", "100"],
    |app| {
        let check = app.insert_check(|_| {}).await;
        let body: Vec<u8> = (0..150u8).collect();

        let long = app
            .request_with_body("POST", &ping_url(&check), body.clone())
            .await;
        let exact = app
            .request_with_body("POST", &ping_url(&check), body[..100].to_vec())
            .await;

        assert_ok(&long);
        assert_eq!(long.header("ping-body-limit"), Some("100"));
        assert_ok(&exact);
        let bodies: Vec<_> = app
            .pings(&check)
            .await
            .into_iter()
            .map(|p| p.body)
            .collect();
        assert_eq!(
            bodies,
            [Some(body[..100].to_vec()), Some(body[..100].to_vec())]
        );
    }
);

app_test!(ping_without_body_stores_an_empty_body, |app| {
    let check = app.insert_check(|_| {}).await;

    let get = app.request("GET", &ping_url(&check)).await;
    let post = app.request_with_body("POST", &ping_url(&check), "").await;

    assert_ok(&get);
    assert_ok(&post);
    let bodies: Vec<_> = app
        .pings(&check)
        .await
        .into_iter()
        .map(|p| p.body)
        .collect();
    // §1.2: an empty body is stored as b"", the same on both engines.
    assert_eq!(bodies, [Some(Vec::new()), Some(Vec::new())]);
});

app_test!(ping_body_mentioning_confirm_sets_confirmation_flag, |app| {
    let check = app.insert_check(|_| {}).await;

    let with_link = app
        .request_with_body("POST", &ping_url(&check), "Please CONFIRM your address")
        .await;
    assert_ok(&with_link);
    assert!(app.reload(&check).await.state.has_confirmation_link);

    let without = app
        .request_with_body("POST", &format!("/ping/{}/log", check.code), "hello")
        .await;
    assert_ok(&without);
    assert!(!app.reload(&check).await.state.has_confirmation_link);
});

app_test!(
    ping_user_agent_is_stored_and_truncated_to_200_chars,
    |app| {
        let check = app.insert_check(|_| {}).await;
        let short = "curl/8.5.0";
        let long = "é".repeat(250);

        for ua in [short, long.as_str()] {
            let request = req("GET", &ping_url(&check))
                .header("user-agent", ua)
                .body(Body::empty())
                .expect("request");
            assert_ok(&app.send(request).await);
        }
        assert_ok(&app.request("GET", &ping_url(&check)).await);

        let uas: Vec<_> = app
            .pings(&check)
            .await
            .into_iter()
            .rev()
            .map(|p| p.ua)
            .collect();
        assert_eq!(uas, [short.to_owned(), "é".repeat(200), String::new()]);
    }
);

// ---------------------------------------------------------------------------------------
// §1.2 remote_addr and scheme, believed from trusted proxies only

app_test!(
    ping_from_untrusted_peer_ignores_forwarded_headers,
    flags = ["--trusted-proxies", "10.0.0.0/8"],
    |app| {
        let check = app.insert_check(|_| {}).await;
        let request = req("GET", &ping_url(&check))
            .header("x-forwarded-for", "203.0.113.5")
            .header("x-forwarded-proto", "https")
            .body(Body::empty())
            .expect("request");

        let response = app.send(request).await;

        assert_ok(&response);
        let ping = app.only_ping(&check).await;
        assert_eq!(
            (ping.remote_addr.as_deref(), ping.scheme.as_str()),
            (Some("192.0.2.10"), "http")
        );
    }
);

app_test!(
    a_trusted_proxy_cannot_label_an_http_ping_as_email,
    flags = ["--trusted-proxies", "10.0.0.0/8"],
    |app| {
        let check = app
            .insert_check(|c| {
                c.filter_body = true;
                c.state.failure_kw = "broken".to_owned();
            })
            .await;
        let request = req("POST", &ping_url(&check))
            .header("x-forwarded-proto", "email")
            .body(Body::from("Subject: broken\r\n\r\nbroken"))
            .expect("request");

        let response = app.send(from_peer(request, "10.1.2.3:4444")).await;

        assert_ok(&response);
        let ping = app.only_ping(&check).await;
        // An HTTP ping, not classified by the email rules (filter_body is for email).
        assert_eq!((ping.scheme.as_str(), ping.kind), ("http", None));
    }
);

app_test!(
    ping_from_trusted_proxy_uses_first_forwarded_for_entry_and_proto,
    flags = ["--trusted-proxies", "10.0.0.0/8"],
    |app| {
        let check = app.insert_check(|_| {}).await;
        let request = req("GET", &ping_url(&check))
            .header("x-forwarded-for", "203.0.113.5, 198.51.100.7, 10.1.2.3")
            .header("x-forwarded-proto", "https")
            .body(Body::empty())
            .expect("request");

        let response = app.send(from_peer(request, "10.1.2.3:4444")).await;

        assert_ok(&response);
        let ping = app.only_ping(&check).await;
        assert_eq!(
            (ping.remote_addr.as_deref(), ping.scheme.as_str()),
            (Some("203.0.113.5"), "https")
        );
    }
);

app_test!(
    ping_from_trusted_proxy_strips_port_from_ipv4_forwarded_for,
    flags = ["--trusted-proxies", "10.0.0.0/8"],
    |app| {
        let check = app.insert_check(|_| {}).await;

        for xff in ["203.0.113.5:8080", "2001:db8::1"] {
            let request = req("GET", &ping_url(&check))
                .header("x-forwarded-for", xff)
                .body(Body::empty())
                .expect("request");
            assert_ok(&app.send(from_peer(request, "10.1.2.3:4444")).await);
        }

        let addrs: Vec<_> = app
            .pings(&check)
            .await
            .into_iter()
            .rev()
            .map(|p| (p.remote_addr, p.scheme))
            .collect();
        assert_eq!(
            addrs,
            [
                (Some("203.0.113.5".to_owned()), "http".to_owned()),
                (Some("2001:db8::1".to_owned()), "http".to_owned())
            ]
        );
    }
);

app_test!(
    ping_from_trusted_proxy_without_forwarded_headers_uses_peer,
    flags = ["--trusted-proxies", "10.0.0.0/8"],
    |app| {
        let check = app.insert_check(|_| {}).await;
        let request = req("GET", &ping_url(&check))
            .body(Body::empty())
            .expect("request");

        let response = app.send(from_peer(request, "10.1.2.3:4444")).await;

        assert_ok(&response);
        let ping = app.only_ping(&check).await;
        assert_eq!(
            (ping.remote_addr.as_deref(), ping.scheme.as_str()),
            (Some("10.1.2.3"), "http")
        );
    }
);

// ---------------------------------------------------------------------------------------
// §2.3 step 5: `methods: "POST"`

app_test!(ping_get_on_post_only_check_is_ignored, |app| {
    let check = up_check(app).await;
    let check = app.update_check(&check, &json!({"methods": "POST"})).await;
    assert_eq!(check.state.methods, "POST");

    let get_fail = app
        .request("GET", &format!("/ping/{}/fail", check.code))
        .await;
    let head = app.request("HEAD", &ping_url(&check)).await;

    assert_ok(&get_fail);
    assert_eq!(head.status, StatusCode::OK);
    let after = app.reload(&check).await;
    assert_eq!(
        (
            after.state.status,
            after.state.n_pings,
            after.state.last_ping
        ),
        (Status::Up, 3, check.state.last_ping)
    );
    let pings: Vec<_> = app
        .pings(&check)
        .await
        .into_iter()
        .map(|p| (p.kind, p.method))
        .collect();
    assert_eq!(
        pings,
        [
            (kind("ign"), "HEAD".to_owned()),
            (kind("ign"), "GET".to_owned()),
            (None, "GET".to_owned())
        ]
    );
    assert_eq!(app.flips(&check).await.len(), 1);
});

app_test!(ping_post_on_post_only_check_is_recorded_normally, |app| {
    let check = app.insert_check(|_| {}).await;
    let check = app.update_check(&check, &json!({"methods": "POST"})).await;

    let response = app.request("POST", &ping_url(&check)).await;

    assert_ok(&response);
    assert_eq!(app.reload(&check).await.state.status, Status::Up);
    assert_eq!(app.only_ping(&check).await.kind, None);
});

// ---------------------------------------------------------------------------------------
// §2.3 step 6: keyword filters on HTTP bodies

app_test!(
    ping_body_with_failure_keyword_fails_whatever_the_url,
    |app| {
        let check = filtered_check(app, false).await;
        let setup = app
            .request_with_body("POST", &ping_url(&check), "all good")
            .await;
        assert_ok(&setup);
        assert_eq!(app.reload(&check).await.state.status, Status::Up);

        // Failure keywords are tried first: this body also holds a success keyword.
        let response = app
            .request_with_body("POST", &ping_url(&check), "done, but ERROR in step 3")
            .await;

        assert_ok(&response);
        assert_eq!(app.reload(&check).await.state.status, Status::Down);
        assert_eq!(app.pings(&check).await[0].kind, kind("fail"));
    }
);

app_test!(
    ping_body_with_success_keyword_overrides_fail_url_and_exit_status,
    |app| {
        let check = filtered_check(app, false).await;

        for url in [
            format!("/ping/{}/fail", check.code),
            format!("/ping/{}/3", check.code),
            format!("/ping/{}/start", check.code),
        ] {
            let response = app.request_with_body("POST", &url, "all good").await;
            assert_ok(&response);
        }

        let pings: Vec<_> = app
            .pings(&check)
            .await
            .into_iter()
            .rev()
            .map(|p| (p.kind, p.exit_status))
            .collect();
        // The exit status is stored all the same.
        assert_eq!(pings, [(None, None), (None, Some(3)), (None, None)]);
        let after = app.reload(&check).await;
        assert_eq!(
            (after.state.status, after.state.last_start),
            (Status::Up, None)
        );
    }
);

app_test!(ping_body_with_start_keyword_overrides_url, |app| {
    let check = filtered_check(app, false).await;

    for url in [ping_url(&check), format!("/ping/{}/log", check.code)] {
        let response = app.request_with_body("POST", &url, "job starting").await;
        assert_ok(&response);
    }

    assert_eq!(kinds(app, &check).await, [kind("start"), kind("start")]);
    let after = app.reload(&check).await;
    assert_eq!(
        (after.state.status, after.state.last_start),
        (Status::New, Some(app.now()))
    );
});

app_test!(ping_body_without_keyword_is_ignored, |app| {
    let check = filtered_check(app, false).await;

    for url in [ping_url(&check), format!("/ping/{}/fail", check.code)] {
        // Keywords are case-sensitive: "error" is not "ERROR".
        let response = app.request_with_body("POST", &url, "an error, maybe").await;
        assert_ok(&response);
    }
    // Without a body nothing matches either.
    assert_ok(&app.request("GET", &ping_url(&check)).await);

    assert_eq!(
        kinds(app, &check).await,
        [kind("ign"), kind("ign"), kind("ign")]
    );
    let after = app.reload(&check).await;
    assert_eq!((after.state.status, after.state.n_pings), (Status::New, 3));
    assert!(app.flips(&check).await.is_empty());
});

app_test!(
    ping_body_without_keyword_fails_with_filter_default_fail,
    |app| {
        let check = filtered_check(app, true).await;

        let response = app
            .request_with_body("POST", &ping_url(&check), "nothing to see")
            .await;

        assert_ok(&response);
        assert_eq!(app.only_ping(&check).await.kind, kind("fail"));
        assert_eq!(app.reload(&check).await.state.status, Status::Down);
    }
);

app_test!(ping_keywords_are_comma_separated_and_trimmed, |app| {
    let check = filtered_check(app, false).await;

    // success_kw is "all good, done": " done" is trimmed to "done".
    let response = app
        .request_with_body("POST", &ping_url(&check), "backup done")
        .await;

    assert_ok(&response);
    assert_eq!(app.only_ping(&check).await.kind, None);
    assert_eq!(app.reload(&check).await.state.status, Status::Up);
});

app_test!(
    ping_keywords_are_not_applied_without_filter_http_body,
    |app| {
        // Email filters (filter_subject, filter_body) do not apply to HTTP pings.
        let check = app
            .create_check(&json!({
                "filter_body": true,
                "filter_subject": true,
                "success_kw": "all good",
                "failure_kw": "ERROR",
            }))
            .await;

        let fail = app
            .request_with_body("POST", &format!("/ping/{}/fail", check.code), "all good")
            .await;
        let success = app
            .request_with_body("POST", &ping_url(&check), "ERROR")
            .await;

        assert_ok(&fail);
        assert_ok(&success);
        assert_eq!(kinds(app, &check).await, [kind("fail"), None]);
    }
);

app_test!(
    ping_get_on_post_only_check_is_ignored_before_keyword_filters,
    |app| {
        let check = filtered_check(app, true).await;
        let check = app.update_check(&check, &json!({"methods": "POST"})).await;

        let get = app
            .request_with_body("GET", &ping_url(&check), "ERROR")
            .await;

        assert_ok(&get);
        assert_eq!(app.only_ping(&check).await.kind, kind("ign"));
        assert_eq!(app.reload(&check).await.state.status, Status::New);
    }
);

// ---------------------------------------------------------------------------------------
// §2.3 step 8: paused checks

app_test!(ping_on_paused_check_with_manual_resume_is_ignored, |app| {
    let check = filtered_check(app, false).await;
    let check = app
        .update_check(&check, &json!({"manual_resume": true}))
        .await;
    let check = app
        .modify_check(&check, |c| c.state.status = Status::Paused)
        .await;

    for url in [
        ping_url(&check),
        format!("/ping/{}/start", check.code),
        format!("/ping/{}/fail", check.code),
        format!("/ping/{}/1", check.code),
    ] {
        // Even a body with a failure keyword is ignored.
        let response = app.request_with_body("POST", &url, "ERROR").await;
        assert_ok(&response);
    }

    let after = app.reload(&check).await;
    assert_eq!(
        (
            after.state.status,
            after.state.n_pings,
            after.state.last_ping,
            after.state.last_start,
            after.alert_after
        ),
        (Status::Paused, 4, None, None, None)
    );
    assert_eq!(kinds(app, &check).await, vec![kind("ign"); 4]);
    assert!(app.flips(&check).await.is_empty());
    assert_eq!(app.api_check(3, &check).await["status"], json!("paused"));
});

app_test!(
    ping_on_paused_check_without_manual_resume_resumes_it,
    |app| {
        let check = app.insert_check(|_| {}).await;
        let check = app
            .modify_check(&check, |c| c.state.status = Status::Paused)
            .await;

        let response = app.request("GET", &ping_url(&check)).await;

        assert_ok(&response);
        assert_eq!(app.reload(&check).await.state.status, Status::Up);
        let flips = app.flips(&check).await;
        assert_eq!(
            (flips.len(), flips[0].old_status, flips[0].new_status),
            (1, Status::Paused, Status::Up)
        );
    }
);

// ---------------------------------------------------------------------------------------
// Status math through the Management API (§1.1, §3.3), driven by the fake clock

app_test!(
    check_status_goes_up_then_grace_then_down_as_time_passes,
    |app| {
        let check = app.create_check(&json!({"name": "nightly"})).await;
        assert_eq!(app.api_check(3, &check).await["status"], json!("new"));
        assert_ok(&app.request("GET", &ping_url(&check)).await);

        let mut seen = Vec::new();
        for step in [
            Duration::zero(),
            Duration::days(1) - Duration::seconds(1),
            Duration::seconds(1),
            Duration::hours(1) - Duration::seconds(1),
            Duration::seconds(1),
        ] {
            app.clock.advance(step);
            let json = app.api_check(3, &check).await;
            seen.push(json["status"].as_str().expect("status").to_owned());
        }

        assert_eq!(seen, ["up", "up", "grace", "grace", "down"]);
    }
);

app_test!(check_json_shows_last_and_next_ping_with_utc_offset, |app| {
    let check = app
        .create_check(&json!({"timeout": 3600, "grace": 60}))
        .await;
    let json = app.api_check(3, &check).await;
    assert_eq!(
        (&json["last_ping"], &json["next_ping"]),
        (&json!(null), &json!(null))
    );
    app.clock.set(at("2024-03-01T10:00:00.750Z"));

    assert_ok(&app.request("GET", &ping_url(&check)).await);

    let json = app.api_check(3, &check).await;
    assert_eq!(json["last_ping"], json!("2024-03-01T10:00:00+00:00"));
    assert_eq!(json["next_ping"], json!("2024-03-01T11:00:00+00:00"));
    assert_eq!(json["n_pings"], json!(1));
});

app_test!(
    ping_start_shows_started_in_v1_and_real_status_in_v3,
    |app| {
        let check = app.create_check(&json!({"name": "nightly"})).await;
        assert_ok(&app.request("GET", &ping_url(&check)).await);
        app.clock.advance(Duration::minutes(10));

        assert_ok(
            &app.request("GET", &format!("/ping/{}/start", check.code))
                .await,
        );

        let v1 = app.api_check(1, &check).await;
        let v3 = app.api_check(3, &check).await;
        assert_eq!(
            (&v1["status"], &v1["started"]),
            (&json!("started"), &json!(true))
        );
        assert_eq!(
            (&v3["status"], &v3["started"]),
            (&json!("up"), &json!(true))
        );
        // While running, the next expected ping is the start itself (sooner than a day).
        assert_eq!(v3["next_ping"], json!("2024-03-01T10:10:00+00:00"));
        assert_eq!(v3["last_ping"], json!("2024-03-01T10:00:00+00:00"));

        // A run longer than the grace time is down in every version.
        app.clock.advance(Duration::hours(1));
        assert_eq!(app.api_check(1, &check).await["status"], json!("down"));
        assert_eq!(app.api_check(3, &check).await["status"], json!("down"));
    }
);

app_test!(
    ping_start_on_new_check_shows_started_in_v1_and_new_in_v3,
    |app| {
        let check = app.create_check(&json!({})).await;

        assert_ok(
            &app.request("GET", &format!("/ping/{}/start", check.code))
                .await,
        );

        assert_eq!(app.api_check(1, &check).await["status"], json!("started"));
        let v3 = app.api_check(3, &check).await;
        assert_eq!(
            (&v3["status"], &v3["started"]),
            (&json!("new"), &json!(true))
        );
    }
);

// ---------------------------------------------------------------------------------------
// An answer means the ping is committed

app_test!(
    concurrent_pings_are_all_committed_before_their_answers,
    |app| {
        let check = app.insert_check(|_| {}).await;
        let mut tasks = Vec::new();

        for i in 0..50 {
            let router = app.router.clone();
            let store = app.store.clone();
            let uri = ping_url(&check);
            let check_id = check.id;
            tasks.push(tokio::spawn(async move {
                let ua = format!("worker-{i}");
                let request = req("POST", &uri)
                    .header("user-agent", ua.as_str())
                    .body(Body::empty())
                    .expect("request");
                let response = router
                    .oneshot(from_peer(request, DEFAULT_PEER))
                    .await
                    .expect("infallible");
                // Answered: this ping must already be readable.
                let stored = store.pings(check_id, 100).await.expect("pings");
                (response.status(), stored.iter().any(|p| p.ua == ua))
            }));
        }

        for task in tasks {
            let (status, visible) = task.await.expect("task");
            assert_eq!(status, StatusCode::OK);
            assert!(visible, "an answered ping was not yet stored");
        }
        assert_eq!(app.reload(&check).await.state.n_pings, 50);
        let mut numbers: Vec<i64> = app.pings(&check).await.into_iter().map(|p| p.n).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=50).collect::<Vec<i64>>());
    }
);
