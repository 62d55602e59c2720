//! Retention (reference §4.4): each check keeps its newest pings, and the notifications and
//! flips older than them go too, on both engines.

use std::sync::Arc;

use chrono::Duration;
use overdue::clock::Clock;
use overdue::retention::Pruner;
use serde_json::json;

use crate::support::{Receiver, START, TestApp, app_test, at};

fn pruner(app: &TestApp) -> Pruner {
    Pruner::new(
        app.store.clone(),
        Arc::clone(&app.clock) as Arc<dyn Clock>,
        5,
    )
}

async fn ping_times(app: &TestApp, check: &overdue::store::CheckRecord, times: usize) {
    for _ in 0..times {
        let response = app.request("GET", &format!("/ping/{}", check.code)).await;
        assert_eq!(response.text(), "OK");
    }
}

app_test!(
    a_check_keeps_its_newest_pings_and_what_they_explain,
    flags = ["--ping-log-limit", "5", "--webhook-allow-private"],
    |app| {
        let receiver = Receiver::start().await;
        app.create_webhook(&receiver.url).await;
        let check = app.create_check(&json!({"channels": "*"})).await;
        // Day 0: up, down, up — two notifications, delivered.
        for path in ["", "/fail", ""] {
            app.request("GET", &format!("/ping/{}{path}", check.code))
                .await;
        }
        assert_eq!(
            app.dispatcher().tick().await.expect("dispatch").delivered,
            2
        );
        // 100 days later, a failure that stays pending, then enough pings to prune.
        app.clock.set(at(START) + Duration::days(100));
        receiver.answer_with(&[500]);
        app.request("GET", &format!("/ping/{}/fail", check.code))
            .await;
        app.dispatcher().tick().await.expect("dispatch");
        app.clock.advance(Duration::minutes(1));
        // 105 pings: 100 beyond the limit, not yet more.
        ping_times(app, &check, 101).await;
        assert_eq!(pruner(app).tick().await.expect("prune"), 0);
        ping_times(app, &check, 1).await;
        assert_eq!(pruner(app).tick().await.expect("prune"), 101);
        let kept: Vec<i64> = app.pings(&check).await.iter().map(|p| p.n).collect();
        assert_eq!(kept, [106, 105, 104, 103, 102]);
        // The delivered notifications and the day-0 flips are older than every ping kept; the
        // failing notification is still pending, so it stays, and so do the day-100 flips.
        let sent = app
            .api(
                "GET",
                &format!("/api/v3/checks/{}/notifications/", check.code),
                None,
            )
            .await
            .json();
        let states: Vec<&str> = sent["notifications"]
            .as_array()
            .expect("list")
            .iter()
            .map(|n| n["state"].as_str().unwrap_or(""))
            .collect();
        // The day-100 failure and the recovery after it, both still to deliver.
        assert_eq!(states, ["pending", "pending"]);
        let flips = app.flips(&check).await;
        assert!(
            flips
                .iter()
                .all(|f| f.created >= at(START) + Duration::days(100)),
            "{flips:?}"
        );
        // Nothing more to do until another 100 pings.
        assert_eq!(pruner(app).tick().await.expect("prune"), 0);
        ping_times(app, &check, 50).await;
        assert_eq!(pruner(app).tick().await.expect("prune"), 0);
    }
);
