//! The alert pipeline on both engines: the deadline loop's transitions (reference §4.1),
//! leases and fencing, the outbox, and webhook delivery to a real HTTP receiver, with the
//! signature checked by the `standardwebhooks` crate. Time is the application's fake clock;
//! the loops are stepped one tick at a time.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::Duration;
use overdue::alerts::dispatch::{CONCURRENT, DispatchTick};
use overdue::domain::check::Status;
use overdue::store::CheckRecord;
use serde_json::{Value, json};

use crate::support::{Receiver, START, TestApp, app_test, at};

const PRIVATE: &str = "--webhook-allow-private";

/// A check with a one-minute period and grace, pinged once at the start.
async fn pinged_check(app: &TestApp, name: &str) -> CheckRecord {
    let check = app
        .create_check(&json!({"name": name, "timeout": 60, "grace": 60, "channels": "*"}))
        .await;
    let response = app.request("GET", &format!("/ping/{}", check.code)).await;
    assert_eq!(response.status, StatusCode::OK);
    app.reload(&check).await
}

/// Deliveries a dispatcher tick attempted.
fn attempted(tick: &DispatchTick) -> usize {
    tick.delivered + tick.retrying + tick.dead
}

/// The array `key` of a check's `GET /api/v3/checks/<uuid>/<key>/` answer.
async fn check_list(app: &TestApp, check: &CheckRecord, key: &str) -> Vec<Value> {
    let uri = format!("/api/v3/checks/{}/{key}/", check.code);
    let response = app.api("GET", &uri, None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()[key].as_array().cloned().unwrap_or_default()
}

async fn flips_json(app: &TestApp, check: &CheckRecord) -> Vec<Value> {
    check_list(app, check, "flips").await
}

async fn notifications(app: &TestApp, check: &CheckRecord) -> Vec<Value> {
    check_list(app, check, "notifications").await
}

/// Verifies a delivered webhook with the reference implementation of Standard Webhooks.
fn assert_signed(received: &crate::support::Received, secret: &str) {
    let verifier = standardwebhooks::Webhook::new(secret).expect("secret");
    let mut headers = axum::http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let value = received
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        headers.insert(name, value.clone());
    }
    // The reference verifier checks the timestamp against the real clock, and the
    // dispatcher signs with the application's fake clock: re-sign the same message id and
    // body at the real time with our signer, and check that our stamped signature is the
    // one our signer gives for the stamped time.
    let id = received.header("webhook-id").expect("id");
    let stamped: i64 = received
        .header("webhook-timestamp")
        .and_then(|t| t.parse().ok())
        .expect("timestamp");
    let expected = overdue::alerts::webhook::sign(secret, id, stamped, &received.body);
    assert_eq!(
        received.header("webhook-signature"),
        Some(expected.as_str())
    );
    let now = chrono::Utc::now().timestamp();
    let fresh = overdue::alerts::webhook::sign(secret, id, now, &received.body);
    headers.insert(
        "webhook-timestamp",
        now.to_string().parse().expect("header"),
    );
    headers.insert("webhook-signature", fresh.parse().expect("header"));
    verifier
        .verify(&received.body, &headers)
        .expect("the reference verifier accepts the signature");
}

app_test!(
    late_check_goes_down_once_at_its_deadline_and_the_webhook_is_delivered,
    flags = [PRIVATE],
    |app| {
        let receiver = Receiver::start().await;
        let channel = app.create_webhook(&receiver.url).await;
        let check = pinged_check(app, "backup").await;
        let mut deadlines = app.deadline_loop(30);
        let dispatcher = app.dispatcher();

        // In grace (after 60 s, before 120 s): nothing happens.
        app.clock.set(at(START) + Duration::seconds(119));
        let tick = deadlines.tick().await.expect("tick");
        assert_eq!(tick.flipped, 0);
        assert_eq!(tick.next_deadline, Some(at(START) + Duration::seconds(120)));
        assert_eq!(app.api_check(3, &check).await["status"], "grace");

        // Past grace: down, with the flip stamped at the deadline, and one notification.
        app.clock.set(at(START) + Duration::seconds(125));
        let tick = deadlines.tick().await.expect("tick");
        assert_eq!((tick.flipped, tick.notifications), (1, 1));
        assert_eq!(app.reload(&check).await.state.status, Status::Down);
        assert_eq!(
            flips_json(app, &check).await,
            vec![
                json!({"timestamp": "2024-03-01T10:02:00+00:00", "up": 0}),
                json!({"timestamp": "2024-03-01T10:00:00+00:00", "up": 1}),
            ]
        );
        // Only once.
        let again = deadlines.tick().await.expect("tick");
        assert_eq!(again.flipped, 0);
        assert_eq!(again.next_deadline, None);

        let tick = dispatcher.tick().await.expect("dispatch");
        assert_eq!(tick.delivered, 1);
        let received = receiver.received();
        assert_eq!(received.len(), 1);
        let hook = &received[0];
        assert_eq!(hook.method, "POST");
        assert_eq!(hook.path, format!("/down/{}", check.code));
        assert_eq!(hook.body.as_ref(), b"backup is down");
        assert_eq!(hook.header("x-check"), Some("backup"));
        let sent = notifications(app, &check).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(hook.header("webhook-id"), sent[0]["id"].as_str());
        assert_eq!(sent[0]["state"], "delivered");
        assert_eq!(sent[0]["status"], "down");
        assert_eq!(sent[0]["reason"], "timeout");
        assert_eq!(sent[0]["attempts"][0]["outcome"], "delivered");
        assert_eq!(sent[0]["attempts"][0]["status_code"], 200);
        assert_signed(
            hook,
            channel["secret"]
                .as_str()
                .expect("secret shown at creation"),
        );

        // The next success ping brings it up, and the up webhook (a GET, no body) follows.
        app.clock.set(at(START) + Duration::seconds(200));
        app.request("GET", &format!("/ping/{}", check.code)).await;
        assert_eq!(app.reload(&check).await.state.status, Status::Up);
        assert_eq!(dispatcher.tick().await.expect("dispatch").delivered, 1);
        let received = receiver.received();
        assert_eq!(received.len(), 2);
        assert_eq!(
            (received[1].method.as_str(), received[1].body.len()),
            ("GET", 0)
        );
        assert_eq!(received[1].path, format!("/up/{}", check.code));
        assert_ne!(
            received[1].header("webhook-id"),
            received[0].header("webhook-id")
        );
    }
);

app_test!(
    a_run_whose_grace_runs_out_goes_down_from_new_and_paused,
    |app| {
        let new = app
            .create_check(&json!({"name": "new", "timeout": 60, "grace": 60}))
            .await;
        let paused = app
            .create_check(&json!({"name": "paused", "timeout": 60, "grace": 60}))
            .await;
        let paused = app
            .modify_check(&paused, |c| c.state.status = Status::Paused)
            .await;
        for check in [&new, &paused] {
            app.request("GET", &format!("/ping/{}/start", check.code))
                .await;
        }
        let mut deadlines = app.deadline_loop(30);
        app.clock.set(at(START) + Duration::seconds(59));
        assert_eq!(deadlines.tick().await.expect("tick").flipped, 0);
        app.clock.set(at(START) + Duration::seconds(61));
        assert_eq!(deadlines.tick().await.expect("tick").flipped, 2);
        for (check, old) in [(&new, Status::New), (&paused, Status::Paused)] {
            let flips = app.flips(check).await;
            assert_eq!(flips.len(), 1);
            assert_eq!(
                (flips[0].old_status, flips[0].new_status),
                (old, Status::Down)
            );
            assert_eq!(flips[0].created, at(START) + Duration::seconds(60));
            assert_eq!(flips[0].reason, "timeout");
        }
    }
);

app_test!(new_and_paused_checks_without_a_run_never_go_down, |app| {
    let new = app.create_check(&json!({"timeout": 60, "grace": 60})).await;
    let paused = app.create_check(&json!({"timeout": 60, "grace": 60})).await;
    app.modify_check(&paused, |c| c.state.status = Status::Paused)
        .await;
    let mut deadlines = app.deadline_loop(30);
    app.clock.set(at(START) + Duration::days(30));
    let tick = deadlines.tick().await.expect("tick");
    assert_eq!((tick.flipped, tick.next_deadline), (0, None));
    assert_eq!(app.reload(&new).await.state.status, Status::New);
});

app_test!(
    first_ping_and_resume_are_silent_but_recovery_and_failure_are_not,
    flags = [PRIVATE],
    |app| {
        let receiver = Receiver::start().await;
        app.create_webhook(&receiver.url).await;
        let check = app
            .create_check(&json!({"timeout": 60, "grace": 60, "channels": "*"}))
            .await;
        // new → up: a flip, no notification.
        app.request("GET", &format!("/ping/{}", check.code)).await;
        assert_eq!(app.flips(&check).await.len(), 1);
        assert!(notifications(app, &check).await.is_empty());
        // up → down by a failure signal: at once, reason "fail".
        app.request("GET", &format!("/ping/{}/fail", check.code))
            .await;
        let sent = notifications(app, &check).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(
            (sent[0]["status"].as_str(), sent[0]["reason"].as_str()),
            (Some("down"), Some("fail"))
        );
        // down → up: notified.
        app.request("GET", &format!("/ping/{}", check.code)).await;
        assert_eq!(notifications(app, &check).await.len(), 2);
        // paused → up: silent.
        app.modify_check(&check, |c| c.state.status = Status::Paused)
            .await;
        app.request("GET", &format!("/ping/{}", check.code)).await;
        assert_eq!(app.reload(&check).await.state.status, Status::Up);
        assert_eq!(notifications(app, &check).await.len(), 2);
        assert_eq!(
            app.dispatcher().tick().await.expect("dispatch").delivered,
            2
        );
        let mut paths: Vec<String> = receiver.received().iter().map(|r| r.path.clone()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                format!("/down/{}", check.code),
                format!("/up/{}", check.code)
            ]
        );
    }
);

app_test!(a_ping_that_races_the_deadline_wins, |app| {
    let check = pinged_check(app, "race").await;
    let mut deadlines = app.deadline_loop(30);
    deadlines.tick().await.expect("take the leases");
    app.clock.set(at(START) + Duration::seconds(125));
    // The loop reads the overdue check, then a ping lands before it writes.
    let mut due = app
        .store
        .due_checks(
            deadlines.leases().mask(),
            16,
            app.now().timestamp_millis(),
            10,
        )
        .await
        .expect("due");
    assert_eq!(due.len(), 1);
    app.request("GET", &format!("/ping/{}", check.code)).await;
    let mut read = due.remove(0);
    let flip = read.state.judge_deadline(app.now());
    assert!(flip.is_some());
    read.alert_after = None;
    let writes = app
        .store
        .write_deadlines(
            deadlines.leases().holder(),
            deadlines.leases().held(),
            16,
            &[(read, flip)],
            app.now(),
        )
        .await
        .expect("write");
    assert_eq!((writes.flipped, writes.stale), (0, 1));
    assert_eq!(app.reload(&check).await.state.status, Status::Up);
    assert_eq!(app.flips(&check).await.len(), 1);
});

app_test!(
    a_frozen_holder_is_fenced_off_and_another_takes_over,
    |app| {
        let check = pinged_check(app, "fenced").await;
        let mut frozen = app.deadline_loop(10);
        let tick = frozen.tick().await.expect("tick");
        assert_eq!(tick.leases.taken.len(), 16);
        // It reads the overdue check, then freezes past its lease.
        app.clock.set(at(START) + Duration::seconds(125));
        let mut due = app
            .store
            .due_checks(frozen.leases().mask(), 16, app.now().timestamp_millis(), 10)
            .await
            .expect("due");
        let mut read = due.remove(0);
        let flip = read.state.judge_deadline(app.now());
        read.alert_after = None;
        app.clock.set(at(START) + Duration::seconds(140));
        let mut other = app.deadline_loop(10);
        let tick = other.tick().await.expect("tick");
        assert_eq!(tick.leases.taken.len(), 16, "expired leases are taken over");
        assert_eq!(tick.flipped, 1);
        // The frozen holder wakes and writes what it had read: refused, nothing changes.
        let writes = app
            .store
            .write_deadlines(
                frozen.leases().holder(),
                frozen.leases().held(),
                16,
                &[(read, flip)],
                app.now(),
            )
            .await
            .expect("write");
        assert_eq!(writes.fenced.len(), 16);
        assert_eq!(writes.flipped, 0);
        assert_eq!(
            app.flips(&check).await.len(),
            2,
            "one up, one down: no second down flip"
        );
        // Its next tick finds its leases lost and stops acting on them.
        let tick = frozen.tick().await.expect("tick");
        assert_eq!(tick.leases.lost.len(), 16);
        assert!(frozen.leases().held().is_empty());
    }
);

app_test!(live_holders_share_the_shards_fairly, |app| {
    let mut a = app.deadline_loop(9);
    let mut b = app.deadline_loop(9);
    assert_eq!(a.tick().await.expect("tick").leases.taken.len(), 16);
    // b sees two live holders but every lease is held.
    assert!(b.tick().await.expect("tick").leases.taken.is_empty());
    // A third of the TTL later, a renews, sees two holders and gives half up; b takes them.
    app.clock.set(at(START) + Duration::seconds(3));
    assert_eq!(a.tick().await.expect("tick").leases.released.len(), 8);
    assert_eq!(b.tick().await.expect("tick").leases.taken.len(), 8);
    let (ma, mb) = (a.leases().mask(), b.leases().mask());
    assert_eq!((ma & mb, ma | mb), (0, 0xffff));
    // b shuts down: it releases its leases and leaves; a takes them all back.
    b.release().await.expect("release");
    app.clock.set(at(START) + Duration::seconds(6));
    assert_eq!(a.tick().await.expect("tick").leases.taken.len(), 8);
    assert_eq!(a.leases().mask(), 0xffff);
});

app_test!(
    failed_deliveries_retry_with_backoff_then_succeed,
    flags = [PRIVATE],
    |app| {
        let receiver = Receiver::start().await;
        let channel = app.create_webhook(&receiver.url).await;
        let check = app.create_check(&json!({"channels": "*"})).await;
        receiver.answer_with(&[500, 503]);
        app.request("GET", &format!("/ping/{}/fail", check.code))
            .await;
        let dispatcher = app.dispatcher();
        assert_eq!(dispatcher.tick().await.expect("dispatch").retrying, 1);
        // Not due again at once.
        assert_eq!(attempted(&dispatcher.tick().await.expect("dispatch")), 0);
        let sent = &notifications(app, &check).await[0];
        assert_eq!(sent["state"], "pending");
        assert_eq!(sent["last_error"], "Received status code 500");
        let channel_now = app
            .api(
                "GET",
                &format!("/api/v3/channels/{}", channel["id"].as_str().expect("id")),
                None,
            )
            .await
            .json();
        assert_eq!(channel_now["last_error"], "Received status code 500");
        // The first retry comes 5–15 s later, the second 10–30 s after that.
        app.clock.advance(Duration::seconds(16));
        assert_eq!(dispatcher.tick().await.expect("dispatch").retrying, 1);
        app.clock.advance(Duration::seconds(31));
        assert_eq!(dispatcher.tick().await.expect("dispatch").delivered, 1);
        let sent = &notifications(app, &check).await[0];
        assert_eq!(sent["state"], "delivered");
        let outcomes: Vec<&str> = sent["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .map(|a| a["outcome"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(outcomes, ["retry", "retry", "delivered"]);
        let ids: Vec<_> = receiver
            .received()
            .iter()
            .map(|r| r.header("webhook-id").map(str::to_owned))
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "the same webhook-id on every attempt"
        );
    }
);

app_test!(
    the_last_failed_attempt_dead_letters_and_resend_revives_it,
    flags = [PRIVATE],
    |app| {
        let receiver = Receiver::start().await;
        app.create_webhook(&receiver.url).await;
        let check = app.create_check(&json!({"channels": "*"})).await;
        receiver.answer_with(&[500; 8]);
        app.request("GET", &format!("/ping/{}/fail", check.code))
            .await;
        let dispatcher = app.dispatcher();
        for _ in 0..8 {
            dispatcher.tick().await.expect("dispatch");
            app.clock.advance(Duration::hours(2));
        }
        let sent = &notifications(app, &check).await[0];
        assert_eq!(sent["state"], "dead");
        assert_eq!(sent["attempts"].as_array().map(Vec::len), Some(8));
        assert_eq!(attempted(&dispatcher.tick().await.expect("dispatch")), 0);
        let id = sent["id"].as_str().expect("id");
        let resent = app
            .api("POST", &format!("/api/v3/notifications/{id}/resend"), None)
            .await;
        assert_eq!(resent.status, StatusCode::OK, "{}", resent.text());
        assert_eq!(resent.json()["state"], "pending");
        assert_eq!(dispatcher.tick().await.expect("dispatch").delivered, 1);
        assert_eq!(receiver.received().len(), 9);
        // A delivered notification can be resent, but not again while it is pending.
        let again = app
            .api("POST", &format!("/api/v3/notifications/{id}/resend"), None)
            .await;
        assert_eq!(again.status, StatusCode::OK);
        let conflict = app
            .api("POST", &format!("/api/v3/notifications/{id}/resend"), None)
            .await;
        assert_eq!(conflict.status, StatusCode::CONFLICT);
    }
);

app_test!(webhooks_to_loopback_are_refused_unless_allowed, |app| {
    let receiver = Receiver::start().await;
    app.create_webhook(&receiver.url).await;
    let check = app.create_check(&json!({"channels": "*"})).await;
    app.request("GET", &format!("/ping/{}/fail", check.code))
        .await;
    assert_eq!(app.dispatcher().tick().await.expect("dispatch").dead, 1);
    assert!(receiver.received().is_empty());
    let sent = &notifications(app, &check).await[0];
    assert_eq!(sent["state"], "dead");
    assert_eq!(
        sent["last_error"],
        "Connections to private IP addresses are not allowed"
    );
});

app_test!(flips_list_filters_by_time, |app| {
    let check = app.create_check(&json!({"timeout": 60, "grace": 60})).await;
    for (offset, path) in [(0, ""), (100, "/fail"), (200, "")] {
        app.clock.set(at(START) + Duration::seconds(offset));
        app.request("GET", &format!("/ping/{}{path}", check.code))
            .await;
    }
    let t0 = at(START).timestamp();
    let base = format!("/api/v3/checks/{}/flips/", check.code);
    let count = |query: String| {
        let uri = format!("{base}{query}");
        async move { app.api("GET", &uri, None).await }
    };
    assert_eq!(
        count(String::new()).await.json()["flips"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let r = count(format!("?start={}", t0 + 100)).await;
    assert_eq!(r.json()["flips"].as_array().map(Vec::len), Some(2));
    let r = count(format!("?start={}&end={}", t0 + 100, t0 + 200)).await;
    assert_eq!(
        r.json()["flips"],
        json!([{"timestamp": "2024-03-01T10:01:40+00:00", "up": 0}])
    );
    let r = count("?seconds=50".to_owned()).await;
    assert_eq!(r.json()["flips"].as_array().map(Vec::len), Some(1));
    for bad in ["?start=abc", "?seconds=-1", "?end=10000000001"] {
        let r = count(bad.to_owned()).await;
        assert_eq!(
            (r.status, r.body.len()),
            (StatusCode::BAD_REQUEST, 0),
            "{bad}"
        );
    }
    // Read-only keys may read flips, by UUID.
    let ro = app
        .send(
            axum::http::Request::builder()
                .uri(&base)
                .header("x-api-key", app.keys.api_key_ro.as_str())
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(ro.status, StatusCode::OK);
});

app_test!(
    metrics_report_the_outbox_and_the_pipeline,
    flags = [PRIVATE],
    |app| {
        let receiver = Receiver::start().await;
        app.create_webhook(&receiver.url).await;
        let check = app.create_check(&json!({"channels": "*"})).await;
        app.request("GET", &format!("/ping/{}/fail", check.code))
            .await;
        app.clock.advance(Duration::seconds(90));
        let metrics = app.request("GET", "/metrics").await;
        assert_eq!(metrics.status, StatusCode::OK);
        let text = metrics.text();
        assert!(text.contains("overdue_outbox_pending 1\n"), "{text}");
        assert!(
            text.contains("overdue_outbox_oldest_pending_seconds 90\n"),
            "{text}"
        );
        assert!(text.contains("overdue_pings_received_total"), "{text}");
        app.dispatcher().tick().await.expect("dispatch");
        let text = app.request("GET", "/metrics").await.text();
        assert!(text.contains("overdue_outbox_pending 0\n"), "{text}");
        assert!(
            text.contains("overdue_outbox_oldest_pending_seconds 0\n"),
            "{text}"
        );
        assert!(text.contains("overdue_deliveries_total{"), "{text}");
        assert!(text.contains("overdue_delivery_seconds_bucket{"), "{text}");
    }
);

app_test!(
    deleting_a_check_deletes_its_notifications_and_attempts,
    flags = [PRIVATE],
    |app| {
        let receiver = Receiver::start().await;
        app.create_webhook(&receiver.url).await;
        let check = app.create_check(&json!({"channels": "*"})).await;
        app.request("GET", &format!("/ping/{}/fail", check.code))
            .await;
        app.dispatcher().tick().await.expect("dispatch");
        let sent = notifications(app, &check).await;
        let outbox = app
            .store
            .notification_by_code(sent[0]["id"].as_str().expect("id").parse().expect("uuid"))
            .await
            .expect("notification")
            .expect("exists");
        assert_eq!(
            app.store.attempts(outbox.id).await.expect("attempts").len(),
            1
        );
        let deleted = app
            .api("DELETE", &format!("/api/v3/checks/{}", check.code), None)
            .await;
        assert_eq!(deleted.status, StatusCode::OK);
        assert!(
            app.store
                .notification(outbox.id)
                .await
                .expect("notification")
                .is_none()
        );
        assert!(
            app.store
                .attempts(outbox.id)
                .await
                .expect("attempts")
                .is_empty()
        );
    }
);

app_test!(
    a_webhooks_json_has_the_ping_address_where_mail_is_taken,
    flags = [
        PRIVATE,
        "--smtp-listen",
        "127.0.0.1:0",
        "--ping-email-domain",
        "ping.example.org"
    ],
    |app| {
        let receiver = Receiver::start().await;
        app.create_channel(&json!({
            "name": "hook",
            "kind": "webhook",
            "webhook": {
                "method_down": "POST",
                "url_down": format!("{}/down", receiver.url),
                "body_down": "$JSON",
                "headers_down": {},
                "method_up": "GET",
                "url_up": "",
                "body_up": "",
                "headers_up": {},
            }
        }))
        .await;
        let check = pinged_check(app, "backup").await;
        app.clock.set(at(START) + Duration::seconds(125));
        app.deadline_loop(30).tick().await.expect("tick");
        assert_eq!(
            app.dispatcher().tick().await.expect("dispatch").delivered,
            1
        );

        let sent: Value = serde_json::from_slice(&receiver.received()[0].body).expect("JSON");
        let address = format!("{}@ping.example.org", check.code);
        assert_eq!(sent["ping_email"], address);
        assert_eq!(app.api_check(3, &check).await["ping_email"], address);
    }
);

/// A webhook receiver that holds every request until it is opened, counting them.
struct Gate {
    url: String,
    held: Arc<std::sync::atomic::AtomicUsize>,
    ids: Arc<std::sync::Mutex<Vec<String>>>,
    open: tokio::sync::watch::Sender<bool>,
}

impl Gate {
    async fn start() -> Gate {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let held = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (open, opened) = tokio::sync::watch::channel(false);
        let (count, seen) = (Arc::clone(&held), Arc::clone(&ids));
        let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
            let (count, seen, mut opened) = (Arc::clone(&count), Arc::clone(&seen), opened.clone());
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                seen.lock().expect("ids").push(id);
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                opened.wait_for(|open| *open).await.ok();
                StatusCode::OK
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Gate {
            url,
            held,
            ids,
            open,
        }
    }
}

app_test!(
    a_delivery_whose_turn_comes_late_in_its_claim_is_given_back_not_sent_twice,
    flags = [PRIVATE],
    |app| {
        let gate = Gate::start().await;
        let hook = app.create_webhook(&gate.url).await;
        let channel = hook["id"].as_str().expect("id").to_owned();
        let total = CONCURRENT + 2;
        for _ in 0..total {
            let response = app
                .api("POST", &format!("/api/v3/channels/{channel}/test"), None)
                .await;
            assert!(response.status.is_success(), "{}", response.text());
        }

        // Every delivery slot is taken by a receiver that does not answer...
        let dispatcher = app.dispatcher();
        let first = tokio::spawn({
            let dispatcher = dispatcher.clone();
            async move { dispatcher.tick().await }
        });
        let started = std::time::Instant::now();
        while gate.held.load(std::sync::atomic::Ordering::SeqCst) < CONCURRENT {
            assert!(started.elapsed() < std::time::Duration::from_secs(30));
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // ...until so late in the claim that the last two could not finish within it.
        app.clock.set(app.now() + Duration::seconds(31));
        gate.open.send(true).expect("open");
        let tick = first.await.expect("join").expect("tick");
        assert_eq!((tick.delivered, tick.released), (CONCURRENT, 2));
        assert_eq!(gate.ids.lock().expect("ids").len(), CONCURRENT);

        // Given back due now, they go out on the next round, once each.
        let tick = dispatcher.tick().await.expect("tick");
        assert_eq!((tick.delivered, tick.released), (2, 0));
        let mut ids = gate.ids.lock().expect("ids").clone();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "a notification was sent twice");
    }
);
