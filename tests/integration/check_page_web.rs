//! The check page's schedule, filtering rules, notification toggles, charts and downtime
//! summary over HTTP, on both engines, with read-only members and strangers refused.

use axum::http::StatusCode;
use chrono::Duration;
use overdue::domain::check::{CheckKind, Status};
use overdue::store::{ChannelRecord, CheckRecord, Role};
use serde_json::json;

use crate::support::{TestApp, TestResponse, app_test, at};
use crate::web_client::{Browser, PASSWORD, member_of};

/// Signs `email` up and makes them a member of the test project (the one with API keys)
/// with `role`; their browser.
async fn member(app: &TestApp, email: &str, role: Role) -> Browser {
    member_of(app, app.project.id, email, role).await
}

/// A writer's browser and a daily check with an hour's grace.
async fn writer_and_check(app: &TestApp) -> (Browser, CheckRecord, String) {
    let browser = member(app, "writer@example.org", Role::Member).await;
    let check = app
        .create_check(&json!({"name": "backup", "timeout": 86_400, "grace": 3600}))
        .await;
    let page = format!("/checks/{}/", check.code);
    (browser, check, page)
}

/// Form fields, as sent.
type Fields<'a> = &'a [(&'a str, &'a str)];

/// Sends one of the page's forms with the page's CSRF token.
async fn send(
    app: &TestApp,
    browser: &mut Browser,
    page: &str,
    fields: &[(&str, &str)],
) -> TestResponse {
    browser.submit(app, page, page, fields).await
}

/// What decides a check's deadlines, to compare before and after.
fn schedule_of(check: &CheckRecord) -> (CheckKind, i64, i64, String, String) {
    let s = &check.state;
    (
        s.kind,
        s.timeout.num_seconds(),
        s.grace.num_seconds(),
        s.schedule.clone(),
        s.tz.clone(),
    )
}

/// The count and total of a month's row in the downtime table.
fn downtime_row(html: &str, month: &str) -> (String, String) {
    let start = html
        .find(&format!(">{month}</th>"))
        .unwrap_or_else(|| panic!("a row for {month}"));
    let cell = |class: &str| {
        let open = format!("<td class=\"{class}");
        let from = start + html[start..].find(&open).expect(class);
        let from = from + html[from..].find('>').expect("tag end") + 1;
        html[from..].split('<').next().expect("text").to_owned()
    };
    (cell("count"), cell("total"))
}

/// The `<svg class="chart"…>…</svg>` elements of a page.
fn charts(html: &str) -> Vec<&str> {
    html.split("<svg class=\"chart\"")
        .skip(1)
        .map(|rest| rest.split("</svg>").next().expect("closed"))
        .collect()
}

const DAILY: [(&str, &str); 3] = [
    ("action", "schedule"),
    ("grace_unit", "3600"),
    ("grace", "1"),
];

/// `base` with the fields of `over` replacing those of the same name (a form sends each once).
fn merged<'a>(base: &[(&'a str, &'a str)], over: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all: Vec<(&str, &str)> = base
        .iter()
        .filter(|(k, _)| !over.iter().any(|(o, _)| o == k))
        .copied()
        .collect();
    all.extend_from_slice(over);
    all
}

app_test!(
    a_bad_schedule_is_explained_by_its_field_and_changes_nothing,
    |app| {
        let (mut browser, check, page) = writer_and_check(app).await;
        let before = schedule_of(&check);
        let cases: [(Fields, &str, &str); 6] = [
            (
                &[("kind", "cron"), ("schedule", "61 * * * *"), ("tz", "UTC")],
                "schedule-expr-error",
                "This is not a valid schedule.",
            ),
            (
                &[
                    ("kind", "oncalendar"),
                    ("schedule", "Mon *-*-* 25:00"),
                    ("tz", "UTC"),
                ],
                "schedule-expr-error",
                "This is not a valid schedule.",
            ),
            (
                &[
                    ("kind", "cron"),
                    ("schedule", "0 * * * *"),
                    ("tz", "Mars/Olympus"),
                ],
                "schedule-tz-error",
                "Choose a time zone from the list.",
            ),
            (
                &[
                    ("kind", "cron"),
                    ("schedule", "0 * * * *"),
                    ("tz", "UTC"),
                    ("grace", "x"),
                ],
                "schedule-grace-error",
                "Enter a whole number.",
            ),
            (
                &[
                    ("kind", "cron"),
                    ("schedule", "0 * * * *"),
                    ("tz", "UTC"),
                    ("grace", "10"),
                    ("grace_unit", "1"),
                ],
                "schedule-grace-error",
                "Use at least 1 minute.",
            ),
            (
                &[
                    ("kind", "simple"),
                    ("timeout", "400"),
                    ("timeout_unit", "86400"),
                ],
                "schedule-timeout-error",
                "Use at most 365 days.",
            ),
        ];
        for (fields, id, message) in cases {
            let response = send(app, &mut browser, &page, &merged(&DAILY, fields)).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{id}");
            let text = response.text();
            assert!(
                text.contains(&format!("id=\"{id}\">{message}<")),
                "{id}: {text}"
            );
            assert!(text.contains(&format!("aria-describedby=\"{id}\"")));
            // The form is open again, with what was typed.
            assert!(text.contains("<details class=\"edit\" open>"));
            let typed = fields.iter().find(|(k, _)| *k == "schedule");
            if let Some((_, expr)) = typed {
                assert!(text.contains(&format!("value=\"{expr}\"")), "{text}");
            }
            assert_eq!(schedule_of(&app.reload(&check).await), before, "{id}");
        }
    }
);

app_test!(a_valid_schedule_is_stored_and_shown, |app| {
    let (mut browser, check, page) = writer_and_check(app).await;
    let response = send(
        app,
        &mut browser,
        &page,
        &[
            ("action", "schedule"),
            ("kind", "cron"),
            ("schedule", "30 2 * * *"),
            ("tz", "Europe/Riga"),
            ("grace", "2"),
            ("grace_unit", "3600"),
            ("timeout", "ignored for cron"),
        ],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let text = response.text();
    assert!(text.contains("Schedule saved."));
    assert!(
        text.contains("<dt>Cron expression</dt><dd>30 2 * * *</dd>"),
        "{text}"
    );
    assert!(text.contains("<dt>Time zone</dt><dd>Europe/Riga</dd>"));
    assert!(text.contains("<dt>Grace time</dt><dd>2 hours</dd>"));
    assert!(text.contains("30 2 * * * (Europe/Riga), grace 2 hours"));
    let stored = app.reload(&check).await;
    assert_eq!(
        schedule_of(&stored),
        (
            CheckKind::Cron,
            86_400,
            7200,
            "30 2 * * *".to_owned(),
            "Europe/Riga".to_owned()
        )
    );
    let api = app.api_check(3, &check).await;
    assert_eq!(
        (api["schedule"].as_str(), api["tz"].as_str()),
        (Some("30 2 * * *"), Some("Europe/Riga"))
    );

    // The form shows the stored schedule, ready to change again.
    let text = browser.get(app, &page).await.text();
    assert!(text.contains("name=\"kind\" value=\"cron\" checked"));
    assert!(
        text.contains("id=\"schedule-expr\" name=\"schedule\" type=\"text\" value=\"30 2 * * *\"")
    );

    // And back to a period: 90 minutes.
    let response = send(
        app,
        &mut browser,
        &page,
        &[
            ("action", "schedule"),
            ("kind", "simple"),
            ("timeout", "90"),
            ("timeout_unit", "60"),
            ("grace", "5"),
            ("grace_unit", "60"),
        ],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        response
            .text()
            .contains("<dt>Period</dt><dd>90 minutes</dd>")
    );
    let stored = app.reload(&check).await;
    assert_eq!(
        (stored.state.kind, stored.state.timeout, stored.state.grace),
        (
            CheckKind::Simple,
            Duration::minutes(90),
            Duration::minutes(5)
        )
    );
});

app_test!(a_shorter_period_can_put_an_up_check_down_at_once, |app| {
    let (mut browser, check, page) = writer_and_check(app).await;
    app.request("GET", &format!("/ping/{}", check.code)).await;
    app.clock.advance(Duration::hours(3));
    let text = browser.get(app, &page).await.text();
    assert!(text.contains("status status-up"), "{text}");

    // A period of one hour with ten minutes' grace: the deadline passed two hours ago.
    let response = send(
        app,
        &mut browser,
        &page,
        &[
            ("action", "schedule"),
            ("kind", "simple"),
            ("timeout", "1"),
            ("timeout_unit", "3600"),
            ("grace", "10"),
            ("grace_unit", "60"),
        ],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.text().contains("status status-down"));
    assert_eq!(app.api_check(3, &check).await["status"], "down");
    // The deadline loop records the flip, stamped at the new deadline, as for any late check.
    let stored = app.reload(&check).await;
    assert_eq!(stored.alert_after, Some(at("2024-03-01T11:10:00Z")));
    let tick = app.deadline_loop(30).tick().await.expect("tick");
    assert_eq!(tick.flipped, 1);
    let flips = app.flips(&check).await;
    assert_eq!(
        (
            flips[0].new_status,
            flips[0].reason.as_str(),
            flips[0].created
        ),
        (Status::Down, "timeout", at("2024-03-01T11:10:00Z"))
    );
});

app_test!(filtering_rules_are_stored_and_then_honoured, |app| {
    let (mut browser, check, page) = writer_and_check(app).await;
    let rules = [
        ("action", "rules"),
        ("methods", "POST"),
        ("filter_http_body", "on"),
        ("filter_subject", "on"),
        ("start_kw", "begin"),
        ("success_kw", "all good, done"),
        ("failure_kw", "ERROR"),
        ("filter_default_fail", "fail"),
        ("manual_resume", "on"),
    ];
    // A keyword list that is too long is refused, by its field.
    let long = "x".repeat(201);
    let bad = merged(&rules, &[("failure_kw", &long)]);
    let response = send(app, &mut browser, &page, &bad).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .contains("id=\"rules-failure_kw-error\">This is too long.<")
    );
    assert_eq!(app.reload(&check).await.state.methods, "");

    let response = send(app, &mut browser, &page, &rules).await;
    assert_eq!(response.status, StatusCode::OK);
    let text = response.text();
    assert!(text.contains("Filtering rules saved."));
    assert!(text.contains("Only POST requests count"));
    let stored = app.reload(&check).await;
    let s = &stored.state;
    assert_eq!(
        (
            s.methods.as_str(),
            s.filter_http_body,
            stored.filter_subject,
            stored.filter_body
        ),
        ("POST", true, true, false)
    );
    assert_eq!(
        (
            s.start_kw.as_str(),
            s.success_kw.as_str(),
            s.failure_kw.as_str()
        ),
        ("begin", "all good, done", "ERROR")
    );
    assert!(s.filter_default_fail && s.manual_resume);
    let api = app.api_check(3, &check).await;
    assert_eq!(
        (api["methods"].as_str(), api["manual_resume"].as_bool()),
        (Some("POST"), Some(true))
    );

    // A GET is ignored, as healthchecks.io ignores it; a POST is classified by its body.
    app.request("GET", &format!("/ping/{}", check.code)).await;
    let after_get = app.reload(&check).await;
    assert_eq!(after_get.state.status, Status::New);
    assert_eq!(app.pings(&check).await[0].kind.as_deref(), Some("ign"));
    app.request_with_body("POST", &format!("/ping/{}", check.code), "done")
        .await;
    assert_eq!(app.reload(&check).await.state.status, Status::Up);
    app.request_with_body("POST", &format!("/ping/{}", check.code), "ERROR: disk full")
        .await;
    assert_eq!(app.reload(&check).await.state.status, Status::Down);

    // Unticked boxes turn the filters off again.
    let response = send(
        app,
        &mut browser,
        &page,
        &[("action", "rules"), ("methods", "")],
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    let stored = app.reload(&check).await;
    assert!(
        !stored.state.filter_http_body && !stored.filter_subject && !stored.state.manual_resume
    );
    assert!(
        response
            .text()
            .contains("Pings are not classified by keywords.")
    );
});

app_test!(charts_draw_recorded_pings_and_runs, |app| {
    let (mut browser, check, page) = writer_and_check(app).await;
    let text = browser.get(app, &page).await.text();
    assert!(charts(&text).is_empty());
    assert!(text.contains("id=\"no-runs\"") && text.contains("id=\"no-pings\""));

    let ping = |path: &str| format!("/ping/{}{path}", check.code);
    app.request("GET", &ping("/start")).await;
    app.clock.advance(Duration::seconds(90));
    app.request("GET", &ping("")).await;
    app.clock.advance(Duration::hours(5));
    app.request("GET", &ping("/start")).await;
    app.clock.advance(Duration::seconds(30));
    app.request("GET", &ping("/fail")).await;

    let text = browser.get(app, &page).await.text();
    let found = charts(&text);
    assert_eq!(found.len(), 2, "{text}");
    let (durations, pings) = (found[0], found[1]);
    for chart in [durations, pings] {
        assert!(chart.contains("role=\"img\"") && chart.contains("<title>"));
    }
    assert_eq!(durations.matches("<circle").count(), 2);
    assert!(
        durations.contains("2 runs (1 failed), the longest 1 min 30 s"),
        "{durations}"
    );
    assert!(durations.contains("failed after 30 s"));
    assert_eq!(pings.matches("<circle").count(), 4);
    assert_eq!(pings.matches("class=\"dot dot-start\"").count(), 2);
    assert!(pings.contains("1 success, 1 failure, 2 start"));
    assert!(!text.contains("id=\"no-runs\""));

    // A week later, none of it is in the charts' window.
    app.clock.advance(Duration::days(8));
    let text = browser.get(app, &page).await.text();
    assert!(charts(&text).is_empty());
    assert!(text.contains("id=\"no-pings\""));
});

app_test!(the_downtime_summary_sums_each_month, |app| {
    let (mut browser, check, page) = writer_and_check(app).await;
    let ping = |path: &str| format!("/ping/{}{path}", check.code);
    // March: down from 10:00 to 11:00 on the 1st, by a failure.
    app.request("GET", &ping("/fail")).await;
    app.clock.advance(Duration::hours(1));
    app.request("GET", &ping("")).await;
    // Late once: the deadline loop puts it down at 2024-03-30 12:00 (a day and an hour
    // after the ping of the 29th), and a ping at 12:30 brings it back.
    app.clock.set(at("2024-03-29T11:00:00Z"));
    app.request("GET", &ping("")).await;
    app.clock.set(at("2024-03-30T12:00:05Z"));
    assert_eq!(app.deadline_loop(30).tick().await.expect("tick").flipped, 1);
    app.clock.set(at("2024-03-30T12:30:00Z"));
    app.request("GET", &ping("")).await;
    // Across the month's end: 23:00 on the 31st to 01:00 on April 1st.
    app.clock.set(at("2024-03-31T23:00:00Z"));
    app.request("GET", &ping("/fail")).await;
    app.clock.set(at("2024-04-01T01:00:00Z"));
    app.request("GET", &ping("")).await;
    // And down still, since 10:00 on April 2nd.
    app.clock.set(at("2024-04-02T10:00:00Z"));
    app.request("GET", &ping("/fail")).await;
    app.clock.set(at("2024-04-02T10:45:00Z"));

    // A month on, the session has expired.
    browser.log_in(app, "writer@example.org", PASSWORD).await;
    let text = browser.get(app, &page).await.text();
    assert_eq!(
        downtime_row(&text, "April 2024"),
        ("2".to_owned(), "1 h 45 min".to_owned())
    );
    assert_eq!(
        downtime_row(&text, "March 2024"),
        ("3".to_owned(), "2 h 30 min".to_owned())
    );
    assert_eq!(
        downtime_row(&text, "February 2024"),
        ("–".to_owned(), "The check did not exist yet.".to_owned())
    );
});

app_test!(
    toggles_turn_an_integration_on_and_off_for_the_check,
    |app| {
        let (mut browser, check, page) = writer_and_check(app).await;
        let channel = app
            .store
            .create_channel(&webhook(app.project.id, "ops hook"))
            .await
            .expect("channel");
        let code = channel.code.to_string();
        let text = browser.get(app, &page).await.text();
        assert!(text.contains("ops hook"));
        assert!(text.contains("aria-pressed=\"false\""), "{text}");

        let response = send(
            app,
            &mut browser,
            &page,
            &[("action", "channel"), ("channel", &code), ("enabled", "on")],
        )
        .await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(
            response
                .text()
                .contains("Notifications to ops hook turned on.")
        );
        assert!(response.text().contains("aria-pressed=\"true\""));
        assert_eq!(app.api_check(3, &check).await["channels"], code);

        let response = send(
            app,
            &mut browser,
            &page,
            &[
                ("action", "channel"),
                ("channel", &code),
                ("enabled", "off"),
            ],
        )
        .await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(app.api_check(3, &check).await["channels"], "");

        // Another project's integration cannot be turned on here.
        let (other, _) = app.other_project().await;
        let foreign = app
            .store
            .create_channel(&webhook(other.id, "foreign"))
            .await
            .expect("channel");
        let response = send(
            app,
            &mut browser,
            &page,
            &[
                ("action", "channel"),
                ("channel", &foreign.code.to_string()),
                ("enabled", "on"),
            ],
        )
        .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert_eq!(app.api_check(3, &check).await["channels"], "");
    }
);

/// A webhook of project `project_id`, stored directly.
fn webhook(project_id: i64, name: &str) -> ChannelRecord {
    ChannelRecord {
        id: 0,
        code: uuid::Uuid::new_v4(),
        project_id,
        name: name.to_owned(),
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
    }
}

app_test!(
    read_only_members_see_no_controls_and_their_posts_change_nothing,
    |app| {
        let check = app
            .create_check(&json!({"name": "backup", "timeout": 86_400, "grace": 3600}))
            .await;
        let page = format!("/checks/{}/", check.code);
        let channel = app
            .store
            .create_channel(&webhook(app.project.id, "ops hook"))
            .await
            .expect("channel");
        app.store
            .set_check_channels(check.id, &[channel.id])
            .await
            .expect("assign");
        let mut stranger = Browser::default();
        stranger
            .sign_up(app, "stranger@example.org", PASSWORD)
            .await;
        assert_eq!(stranger.get(app, &page).await.status, StatusCode::NOT_FOUND);

        let mut viewer = member(app, "viewer@example.org", Role::ReadOnly).await;
        let text = viewer.get(app, &page).await.text();
        assert!(text.contains("<dt>Period</dt><dd>1 day</dd>"));
        assert!(text.contains("<span class=\"switch-state on\">ON</span>"));
        for control in [
            "Change schedule",
            "Change filtering rules",
            "value=\"schedule\"",
            "value=\"rules\"",
            "value=\"channel\"",
            "aria-pressed",
        ] {
            assert!(!text.contains(control), "{control}");
        }

        let before = app.reload(&check).await;
        let code = channel.code.to_string();
        let forged: [Fields; 3] = [
            &[
                ("action", "schedule"),
                ("kind", "cron"),
                ("schedule", "* * * * *"),
                ("tz", "UTC"),
                ("grace", "1"),
                ("grace_unit", "60"),
            ],
            &[("action", "rules"), ("methods", "POST")],
            &[
                ("action", "channel"),
                ("channel", &code),
                ("enabled", "off"),
            ],
        ];
        for fields in forged {
            let response = send(app, &mut viewer, &page, fields).await;
            assert_eq!(response.status, StatusCode::FORBIDDEN);
            // A stranger, with a valid token of their own, finds no such check.
            let response = stranger.submit(app, "/", &page, fields).await;
            assert_eq!(response.status, StatusCode::NOT_FOUND);
        }
        let after = app.reload(&check).await;
        assert_eq!(schedule_of(&after), schedule_of(&before));
        assert_eq!(after.state.methods, "");
        assert_eq!(app.api_check(3, &check).await["channels"], code);
    }
);
