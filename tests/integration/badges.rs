//! Badges (reference §8.1, §8.2): the URLs the API lists, and what they show, on both
//! engines. A badge URL's signature covers its tag: another tag's URL cannot be made from it.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::{START, TestApp, app_test, at};

/// The path of a URL the API returned.
fn path(url: &Value) -> String {
    url.as_str()
        .and_then(|u| u.strip_prefix("http://overdue.test"))
        .expect("a site URL")
        .to_owned()
}

async fn badges(app: &TestApp) -> Value {
    let response = app.api("GET", "/api/v3/badges/", None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()["badges"].clone()
}

app_test!(tag_badges_show_the_worst_status_of_their_checks, |app| {
    let up = app
        .create_check(&json!({"name": "a", "tags": "prod db@dc1", "timeout": 60, "grace": 60}))
        .await;
    let late = app
        .create_check(&json!({"name": "b", "tags": "prod", "timeout": 60, "grace": 3600}))
        .await;
    app.create_check(&json!({"name": "c", "tags": "dev"})).await;
    for check in [&up, &late] {
        app.request("GET", &format!("/ping/{}", check.code)).await;
    }
    app.clock.set(at(START) + Duration::seconds(90));
    let badges = badges(app).await;
    let tags: Vec<&str> = badges
        .as_object()
        .expect("map")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(tags, ["db@dc1", "dev", "prod", "*"]);
    assert!(
        badges["db@dc1"]["svg"]
            .as_str()
            .is_some_and(|u| u.ends_with("/db%2540dc1.svg"))
    );

    let get = |url: &Value| {
        let path = path(url);
        async move { app.request("GET", &path).await }
    };
    // prod: both checks in grace → late on 3-state badges, up on 2-state ones.
    assert_eq!(
        get(&badges["prod"]["json3"]).await.json(),
        json!({"status": "late", "total": 2, "grace": 2, "down": 0})
    );
    assert_eq!(get(&badges["prod"]["json"]).await.json()["status"], "up");
    assert_eq!(
        get(&badges["prod"]["shields3"]).await.json(),
        json!({"schemaVersion": 1, "label": "prod", "message": "late", "color": "important"})
    );
    let svg = get(&badges["prod"]["svg3"]).await;
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.text().contains(">late</text>"));
    assert!(
        svg.header("cache-control")
            .is_some_and(|c| c.contains("no-cache"))
    );
    // The tag from the double-encoded URL.
    assert_eq!(get(&badges["db@dc1"]["json3"]).await.json()["total"], 1);
    // Past the grace of a: down everywhere it is tagged, and on the all-checks badge.
    app.clock.set(at(START) + Duration::seconds(130));
    assert_eq!(
        get(&badges["db@dc1"]["json"]).await.json()["status"],
        "down"
    );
    assert_eq!(
        get(&badges["*"]["shields"]).await.json()["label"],
        "Overdue"
    );
    assert_eq!(get(&badges["*"]["json"]).await.json()["down"], 1);
    assert_eq!(get(&badges["dev"]["json3"]).await.json()["status"], "up");
});

app_test!(
    badges_with_a_wrong_signature_tag_or_format_are_not_found,
    |app| {
        app.create_check(&json!({"tags": "prod secret"})).await;
        let badges = badges(app).await;
        let prod = path(&badges["prod"]["svg"]);
        // The prod signature does not open the secret tag.
        let forged = prod.replace("/prod.svg", "/secret.svg");
        assert_eq!(
            app.request("GET", &forged).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.request("GET", &prod.replace(".svg", ".png"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let key = &app.project.badge_key;
        assert_eq!(
            app.request("GET", &format!("/badge/{key}/AAAAAAAA.svg"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.request("GET", &prod.replace(key.as_str(), "nope"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.request("GET", &prod).await.status, StatusCode::OK);
    }
);

app_test!(a_check_badge_follows_its_check, |app| {
    let check = app
        .create_check(&json!({"name": "backup", "timeout": 60, "grace": 60}))
        .await;
    let json3 = format!("/b/3/{}.json", check.badge_key);
    assert_eq!(
        app.request("GET", &json3).await.json(),
        json!({"status": "up", "total": 1, "grace": 0, "down": 0})
    );
    app.request("GET", &format!("/ping/{}/start", check.code))
        .await;
    app.clock.set(at(START) + Duration::seconds(61));
    assert_eq!(app.request("GET", &json3).await.json()["status"], "down");
    let shields = app
        .request("GET", &format!("/b/2/{}.shields", check.badge_key))
        .await
        .json();
    assert_eq!(
        (shields["label"].as_str(), shields["message"].as_str()),
        (Some("backup"), Some("down"))
    );
    assert!(
        app.request("GET", &format!("/b/3/{}.svg", check.badge_key))
            .await
            .text()
            .contains(">backup</text>")
    );
    for bad in [
        format!("/b/4/{}.svg", check.badge_key),
        format!("/b/3/{}.gif", check.badge_key),
        "/b/3/nope.svg".to_owned(),
        format!("/b/3/{}.svg", check.code),
    ] {
        assert_eq!(
            app.request("GET", &bad).await.status,
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
});

app_test!(badges_answer_cors_preflights_and_only_get, |app| {
    let check = app
        .create_check(&json!({"name": "a", "tags": "prod"}))
        .await;
    let badge = path(&app.api_check(3, &check).await["badge_url"]);
    let tag = path(&badges(app).await["prod"]["svg"]);
    for uri in [&badge, &tag] {
        let response = app.request("OPTIONS", uri).await;
        assert_eq!(response.status, StatusCode::NO_CONTENT, "{uri}");
        assert_eq!(
            response.header("access-control-allow-methods"),
            Some("GET, OPTIONS")
        );
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
        let response = app.request("POST", uri).await;
        assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
        let response = app.request("GET", uri).await;
        assert_eq!(response.status, StatusCode::OK, "{uri}");
        assert_eq!(response.header("access-control-max-age"), Some("600"));
    }
    // A wrong signature is a 404, with CORS headers still.
    let forged = tag.replace("/prod.svg", "/dev.svg");
    let response = app.request("GET", &forged).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
});

app_test!(
    a_tag_badge_signed_for_one_project_does_not_open_another,
    |app| {
        app.create_check(&json!({"name": "a", "tags": "prod"}))
            .await;
        let (other, _) = app.other_project().await;
        let mine = path(&badges(app).await["prod"]["json"]);
        assert_eq!(app.request("GET", &mine).await.status, StatusCode::OK);
        // The same signature and tag under the other project's badge key.
        let theirs = mine.replace(&app.project.badge_key, &other.badge_key);
        assert_ne!(theirs, mine);
        assert_eq!(
            app.request("GET", &theirs).await.status,
            StatusCode::NOT_FOUND
        );
    }
);
