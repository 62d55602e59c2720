//! The dashboard's checks list over HTTP, on both engines: statuses, filters, search, sort,
//! the live status feed, adding a check with field messages, and the schedule preview.

use axum::http::StatusCode;
use chrono::Duration;
use overdue::store::Role;
use serde_json::Value;

use crate::projects_web::project;
use crate::support::{TestApp, app_test};
use crate::web_client::{Browser, EMAIL, assert_redirect};

/// Signs up, makes a project, and gives its checks path and database id.
async fn checks_page(app: &TestApp, browser: &mut Browser) -> (String, i64) {
    let settings = project(app, browser, "Jobs").await;
    let checks = settings.replace("/settings/", "/checks/");
    let code = checks
        .split('/')
        .nth(2)
        .expect("code")
        .parse()
        .expect("uuid");
    let user = app
        .store
        .user_by_email(EMAIL)
        .await
        .expect("read")
        .expect("user");
    let (project, _) = app
        .store
        .project_of_member(code, user.id)
        .await
        .expect("read")
        .expect("member");
    let id = project.id;
    (checks, id)
}

async fn add(
    app: &TestApp,
    browser: &mut Browser,
    checks: &str,
    fields: &[(&str, &str)],
) -> crate::support::TestResponse {
    browser
        .submit(app, checks, &format!("{checks}add/"), fields)
        .await
}

/// The names in the table, in order.
fn names(html: &str) -> Vec<String> {
    html.split("class=\"check-name\"")
        .skip(1)
        .map(|part| {
            let text = part.split_once('>').map_or("", |(_, rest)| rest);
            text.split('<').next().unwrap_or_default().to_owned()
        })
        .collect()
}

/// The names the list shows for a query.
async fn names_at(app: &TestApp, browser: &mut Browser, checks: &str, query: &str) -> Vec<String> {
    names(&browser.get(app, &format!("{checks}{query}")).await.text())
}

async fn preview(app: &TestApp, browser: &mut Browser, checks: &str, query: &str) -> Value {
    browser
        .get(app, &format!("{checks}preview/?{query}"))
        .await
        .json()
}

/// Form fields, as sent.
type Fields<'a> = &'a [(&'a str, &'a str)];

app_test!(
    added_checks_are_listed_with_their_status_and_last_ping,
    |app| {
        let mut browser = Browser::default();
        let (checks, project_id) = checks_page(app, &mut browser).await;
        let page = browser.get(app, &checks).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("No checks yet."));

        let response = add(
            app,
            &mut browser,
            &checks,
            &[
                ("name", "backup"),
                ("kind", "simple"),
                ("timeout", "1"),
                ("timeout_unit", "3600"),
                ("grace", "30"),
                ("grace_unit", "60"),
                ("tags", "prod db"),
            ],
        )
        .await;
        assert_redirect(&response, &checks);
        let response = add(
            app,
            &mut browser,
            &checks,
            &[
                ("name", "report"),
                ("kind", "cron"),
                ("schedule", "30 2 * * *"),
                ("tz", "Europe/Riga"),
                ("grace", "1"),
                ("grace_unit", "3600"),
            ],
        )
        .await;
        assert_redirect(&response, &checks);

        let text = browser.get(app, &checks).await.text();
        assert_eq!(names(&text), ["backup", "report"]);
        assert!(text.contains("every 1 hour, grace 30 minutes"), "{text}");
        assert!(text.contains("30 2 * * * (Europe/Riga), grace 1 hour"));
        assert_eq!(text.matches("status-new").count(), 2);

        // A ping: up, "just now"; two hours on, the simple check is down.
        let stored = app
            .store
            .checks_in_project(project_id)
            .await
            .expect("checks");
        let backup = stored.iter().find(|c| c.name == "backup").expect("backup");
        app.request("GET", &format!("/ping/{}", backup.code)).await;
        let feed: Value = browser.get(app, &format!("{checks}status/")).await.json();
        let entry = |feed: &Value| {
            feed["details"]
                .as_array()
                .expect("details")
                .iter()
                .find(|d| d["code"] == backup.code.to_string())
                .expect("backup in feed")
                .clone()
        };
        assert_eq!(entry(&feed)["status"], "up");
        assert_eq!(entry(&feed)["last_ping_age"], "just now");
        app.clock.advance(Duration::hours(2));
        let feed: Value = browser.get(app, &format!("{checks}status/")).await.json();
        assert_eq!(entry(&feed)["status"], "down");
        assert_eq!(entry(&feed)["last_ping_age"], "2 hours ago");
        let text = browser.get(app, &checks).await.text();
        assert!(text.contains("status-down"));
    }
);

app_test!(the_list_filters_searches_and_sorts, |app| {
    let mut browser = Browser::default();
    let (checks, project_id) = checks_page(app, &mut browser).await;
    for (name, tags) in [("charlie", "prod"), ("alpha", "prod db"), ("bravo", "dev")] {
        add(
            app,
            &mut browser,
            &checks,
            &[
                ("name", name),
                ("kind", "simple"),
                ("timeout", "1"),
                ("timeout_unit", "86400"),
                ("grace", "1"),
                ("grace_unit", "3600"),
                ("tags", tags),
            ],
        )
        .await;
    }
    let bravo = app
        .store
        .checks_in_project(project_id)
        .await
        .expect("checks")
        .into_iter()
        .find(|c| c.name == "bravo")
        .expect("bravo");
    app.request("GET", &format!("/ping/{}", bravo.code)).await;

    assert_eq!(
        names_at(app, &mut browser, &checks, "").await,
        ["charlie", "alpha", "bravo"]
    );
    assert_eq!(
        names_at(app, &mut browser, &checks, "?sort=name").await,
        ["alpha", "bravo", "charlie"]
    );
    assert_eq!(
        names_at(app, &mut browser, &checks, "?sort=-name").await,
        ["charlie", "bravo", "alpha"]
    );
    assert_eq!(
        names_at(app, &mut browser, &checks, "?tag=prod").await,
        ["charlie", "alpha"]
    );
    assert_eq!(
        names_at(app, &mut browser, &checks, "?tag=prod&tag=db").await,
        ["alpha"]
    );
    assert_eq!(
        names_at(app, &mut browser, &checks, "?search=ALP").await,
        ["alpha"]
    );
    assert_eq!(
        names_at(
            app,
            &mut browser,
            &checks,
            &format!("?search={}", &bravo.code.to_string()[..8])
        )
        .await,
        ["bravo"]
    );
    assert_eq!(
        names_at(app, &mut browser, &checks, "?status=up").await,
        ["bravo"]
    );
    assert_eq!(
        names_at(app, &mut browser, &checks, "?status=new&sort=name").await,
        ["alpha", "charlie"]
    );
    let none = browser
        .get(app, &format!("{checks}?search=zzz"))
        .await
        .text();
    assert!(none.contains("No check matches."));
});

app_test!(
    adding_a_check_explains_bad_input_and_creates_nothing,
    |app| {
        let mut browser = Browser::default();
        let (checks, project_id) = checks_page(app, &mut browser).await;
        let cases: [(Fields, &str, &str); 5] = [
            (
                &[
                    ("kind", "simple"),
                    ("timeout", "10"),
                    ("timeout_unit", "1"),
                    ("grace", "1"),
                    ("grace_unit", "3600"),
                ],
                "add-timeout-error",
                "Use at least 1 minute.",
            ),
            (
                &[
                    ("kind", "simple"),
                    ("timeout", "x"),
                    ("timeout_unit", "60"),
                    ("grace", "1"),
                    ("grace_unit", "3600"),
                ],
                "add-timeout-error",
                "Enter a whole number.",
            ),
            (
                &[
                    ("kind", "cron"),
                    ("schedule", "61 * * * *"),
                    ("tz", "UTC"),
                    ("grace", "1"),
                    ("grace_unit", "3600"),
                ],
                "add-schedule-error",
                "This is not a valid schedule.",
            ),
            (
                &[
                    ("kind", "cron"),
                    ("schedule", "0 * * * *"),
                    ("tz", "Mars/Olympus"),
                    ("grace", "1"),
                    ("grace_unit", "3600"),
                ],
                "add-tz-error",
                "Choose a time zone from the list.",
            ),
            (
                &[
                    ("kind", "simple"),
                    ("timeout", "1"),
                    ("timeout_unit", "86400"),
                    ("grace", "400"),
                    ("grace_unit", "86400"),
                ],
                "add-grace-error",
                "Use at most 365 days.",
            ),
        ];
        for (fields, id, message) in cases {
            let mut all = vec![("name", "bad")];
            all.extend_from_slice(fields);
            let response = add(app, &mut browser, &checks, &all).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{id}");
            let text = response.text();
            assert!(
                text.contains(&format!("id=\"{id}\">{message}")),
                "{id}: {text}"
            );
            // The form is shown again, open, with what was typed.
            assert!(text.contains("<details class=\"card add\" open>"));
            assert!(text.contains("value=\"bad\""));
        }
        assert!(
            app.store
                .checks_in_project(project_id)
                .await
                .expect("checks")
                .is_empty()
        );
    }
);

app_test!(the_preview_lists_the_next_runs_in_the_zone, |app| {
    let mut browser = Browser::default();
    let (checks, _) = checks_page(app, &mut browser).await;
    // The clock is 2024-03-01 10:00 UTC: 12:00 in Riga.
    let runs = preview(
        app,
        &mut browser,
        &checks,
        "schedule=30+2+*+*+*&tz=Europe%2FRiga",
    )
    .await;
    let next: Vec<&str> = runs["next"]
        .as_array()
        .expect("next")
        .iter()
        .map(|v| v.as_str().expect("text"))
        .collect();
    assert_eq!(next.len(), 5);
    assert_eq!(next[0], "Sat 2024-03-02 02:30 EET");
    assert_eq!(next[1], "Sun 2024-03-03 02:30 EET");
    let runs = preview(
        app,
        &mut browser,
        &checks,
        "schedule=Mon+*-*-*+09:00&tz=UTC",
    )
    .await;
    assert_eq!(runs["next"][0], "Mon 2024-03-04 09:00 UTC");
    assert_eq!(
        preview(app, &mut browser, &checks, "schedule=nonsense&tz=UTC").await["error"],
        "This is not a valid schedule."
    );
    assert_eq!(
        preview(app, &mut browser, &checks, "schedule=0+*+*+*+*&tz=Nowhere").await["error"],
        "Choose a time zone from the list."
    );
});

app_test!(read_only_members_and_strangers_cannot_add_checks, |app| {
    let mut owner = Browser::default();
    let (checks, project_id) = checks_page(app, &mut owner).await;
    let mut viewer = Browser::default();
    viewer
        .sign_up(app, "viewer@example.org", "correct horse battery")
        .await;
    let fields = [
        ("name", "sneaky"),
        ("kind", "simple"),
        ("timeout", "1"),
        ("timeout_unit", "86400"),
        ("grace", "1"),
        ("grace_unit", "3600"),
    ];
    // Not a member: the project does not exist for them.
    assert_eq!(viewer.get(app, &checks).await.status, StatusCode::NOT_FOUND);
    let response = viewer
        .submit(app, "/", &format!("{checks}add/"), &fields)
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);

    let viewer_id = app
        .store
        .user_by_email("viewer@example.org")
        .await
        .expect("read")
        .expect("viewer")
        .id;
    app.store
        .set_member(project_id, viewer_id, Role::ReadOnly, 0)
        .await
        .expect("member");
    let page = viewer.get(app, &checks).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text().contains("Add check"));
    let response = viewer
        .submit(app, &checks, &format!("{checks}add/"), &fields)
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert!(
        app.store
            .checks_in_project(project_id)
            .await
            .expect("checks")
            .is_empty()
    );
});

/// Adds a simple daily check called `name` through the list page; its page path.
async fn add_daily(
    app: &TestApp,
    browser: &mut Browser,
    checks: &str,
    project_id: i64,
    name: &str,
) -> (String, overdue::store::CheckRecord) {
    let fields = [
        ("name", name),
        ("kind", "simple"),
        ("timeout", "1"),
        ("timeout_unit", "86400"),
        ("grace", "1"),
        ("grace_unit", "3600"),
    ];
    assert_redirect(&add(app, browser, checks, &fields).await, checks);
    let check = app
        .store
        .checks_in_project(project_id)
        .await
        .expect("checks")
        .into_iter()
        .find(|c| c.name == name)
        .expect("added");
    (format!("/checks/{}/", check.code), check)
}

app_test!(
    the_check_page_shows_how_to_ping_and_edits_the_details,
    |app| {
        let mut browser = Browser::default();
        let (checks, project_id) = checks_page(app, &mut browser).await;
        let (page, check) = add_daily(app, &mut browser, &checks, project_id, "backup").await;
        let text = browser.get(app, &page).await.text();
        let ping_url = format!("http://overdue.test/ping/{}", check.code);
        assert!(
            text.contains(&format!("id=\"ping-url\">{ping_url}<")),
            "{text}"
        );
        assert!(text.contains(&format!(
            "curl -fsS -m 10 --retry 5 -o /dev/null {ping_url}/start"
        )));
        assert!(!text.contains("id=\"slug-url\""), "no ping key yet");

        let response = browser
            .submit(
                app,
                &page,
                &page,
                &[
                    ("action", "edit"),
                    ("name", "nightly backup"),
                    ("slug", "Not A Slug"),
                    ("tags", "db"),
                    ("desc", ""),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        let text = response.text();
        assert!(
            text.contains("id=\"slug-error\">Use lowercase letters, digits, - and _ only."),
            "{text}"
        );
        assert!(text.contains("value=\"Not A Slug\""));
        assert_eq!(app.reload(&check).await.name, "backup");

        let response = browser
            .submit(
                app,
                &page,
                &page,
                &[
                    ("action", "edit"),
                    ("name", "nightly backup"),
                    ("slug", "nightly-backup"),
                    ("tags", "db prod"),
                    ("desc", "Runs at 2"),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.text().contains("Saved."));
        let saved = app.reload(&check).await;
        assert_eq!(
            (
                saved.name.as_str(),
                saved.slug.as_str(),
                saved.tags.as_str(),
                saved.desc.as_str()
            ),
            ("nightly backup", "nightly-backup", "db prod", "Runs at 2")
        );
    }
);

app_test!(
    the_event_log_shows_pings_flips_and_delivery_attempts,
    |app| {
        let mut browser = Browser::default();
        let (checks, project_id) = checks_page(app, &mut browser).await;
        let (page, check) = add_daily(app, &mut browser, &checks, project_id, "job").await;
        assert!(browser.get(app, &page).await.text().contains("Nothing yet"));
        // A webhook of the dashboard's project that fails (a private address is refused).
        let channel = overdue::store::ChannelRecord {
            id: 0,
            code: uuid::Uuid::new_v4(),
            project_id,
            name: "ops hook".to_owned(),
            kind: "webhook".to_owned(),
            value: r#"{"url_down": "http://127.0.0.1:9/down", "method_down": "GET"}"#.to_owned(),
            secret: String::new(),
            email_verified: false,
            verify_token_hash: String::new(),
            disabled: false,
            last_notify: None,
            last_notify_duration: None,
            last_error: String::new(),
            created: 0,
        };
        let channel = app.store.create_channel(&channel).await.expect("channel");
        app.store
            .set_check_channels(check.id, &[channel.id])
            .await
            .expect("assign");

        let request = axum::http::Request::builder()
            .method("POST")
            .uri(format!("/ping/{}/fail", check.code))
            .header("user-agent", "backup-script/1.0")
            .body(axum::body::Body::from("disk full"))
            .expect("request");
        app.send(request).await;
        app.dispatcher().tick().await.expect("dispatch");

        let text = browser.get(app, &page).await.text();
        assert!(text.contains("badge-fail"), "{text}");
        assert!(text.contains("backup-script/1.0"));
        assert!(text.contains("disk full"));
        assert!(text.contains("Status changed from new to down"));
        assert!(text.contains("Notified ops hook (webhook) that the check is down"));
        assert!(text.contains("Attempt 1:"), "{text}");
    }
);

app_test!(pause_resume_and_delete_from_the_check_page, |app| {
    let mut browser = Browser::default();
    let (checks, project_id) = checks_page(app, &mut browser).await;
    let (page, check) = add_daily(app, &mut browser, &checks, project_id, "job").await;
    app.request("GET", &format!("/ping/{}", check.code)).await;

    let response = browser
        .submit(app, &page, &page, &[("action", "pause")])
        .await;
    assert!(response.text().contains("Paused"));
    assert_eq!(app.reload(&check).await.state.status.as_str(), "paused");
    assert!(response.text().contains("value=\"resume\""));
    let response = browser
        .submit(app, &page, &page, &[("action", "resume")])
        .await;
    assert!(response.text().contains("Resumed"));
    assert_eq!(app.reload(&check).await.state.status.as_str(), "new");

    let response = browser
        .submit(app, &page, &page, &[("action", "delete")])
        .await;
    assert_redirect(&response, &checks);
    assert_eq!(browser.get(app, &page).await.status, StatusCode::NOT_FOUND);
    assert!(
        app.store
            .check_by_code(check.code)
            .await
            .expect("read")
            .is_none()
    );
});

app_test!(
    read_only_members_see_the_check_but_cannot_change_it,
    |app| {
        let mut owner = Browser::default();
        let (checks, project_id) = checks_page(app, &mut owner).await;
        let (page, check) = add_daily(app, &mut owner, &checks, project_id, "job").await;
        let mut viewer = Browser::default();
        viewer
            .sign_up(app, "viewer@example.org", "correct horse battery")
            .await;
        assert_eq!(viewer.get(app, &page).await.status, StatusCode::NOT_FOUND);
        let viewer_id = app
            .store
            .user_by_email("viewer@example.org")
            .await
            .expect("read")
            .expect("viewer")
            .id;
        app.store
            .set_member(project_id, viewer_id, Role::ReadOnly, 0)
            .await
            .expect("member");
        let text = viewer.get(app, &page).await.text();
        assert!(text.contains("id=\"ping-url\""));
        assert!(
            !text.contains("value=\"pause\"")
                && !text.contains("Delete check")
                && !text.contains(">Save<")
        );
        for fields in [
            [("action", "delete"), ("name", "")],
            [("action", "edit"), ("name", "renamed")],
        ] {
            let response = viewer.submit(app, &page, &page, &fields).await;
            assert_eq!(response.status, StatusCode::FORBIDDEN);
        }
        assert_eq!(app.reload(&check).await.name, "job");
    }
);

app_test!(
    a_check_added_here_notifies_every_integration_of_its_project,
    |app| {
        let mut browser = Browser::default();
        let (checks, project_id) = checks_page(app, &mut browser).await;
        let integrations = checks.replace("/checks/", "/integrations/");
        for name in ["first", "second"] {
            let response = browser
                .submit(
                    app,
                    &integrations,
                    &integrations,
                    &[
                        ("action", "add-webhook"),
                        ("name", name),
                        ("url_down", "https://example.org/down"),
                        ("url_up", ""),
                    ],
                )
                .await;
            assert_redirect(&response, &format!("{integrations}?done=webhook-added"));
        }
        let response = add(
            app,
            &mut browser,
            &checks,
            &[
                ("name", "backup"),
                ("kind", "simple"),
                ("timeout", "1"),
                ("timeout_unit", "3600"),
                ("grace", "1"),
                ("grace_unit", "3600"),
            ],
        )
        .await;
        assert_redirect(&response, &checks);

        let mut channels: Vec<_> = app
            .store
            .channels_in_project(project_id)
            .await
            .expect("channels")
            .iter()
            .map(|channel| channel.code)
            .collect();
        channels.sort();
        assert_eq!(channels.len(), 2);
        let added = app
            .store
            .checks_in_project(project_id)
            .await
            .expect("checks");
        let notified = app
            .store
            .channels_of_check(added[0].id)
            .await
            .expect("channels of the check");
        assert_eq!(notified, channels);
    }
);
