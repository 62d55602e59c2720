//! The dashboard's integration pages over HTTP, on both engines: editing a channel (validated
//! as the API validates, used by the next delivery, an email address verified again) and
//! choosing the checks it notifies, isolated to the project and closed to read-only members.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use overdue::store::{ChannelRecord, CheckRecord, Role};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Receiver, TestApp, TestResponse, app_test};
use crate::web_client::{Browser, PASSWORD, member_of};

/// Signs `email` up and makes them a member of the test project with `role`; the project's
/// integrations path.
async fn member(app: &TestApp, browser: &mut Browser, email: &str, role: Role) -> String {
    *browser = member_of(app, app.project.id, email, role).await;
    format!("/projects/{}/integrations/", app.project.code)
}

async fn stored(app: &TestApp, code: &str) -> ChannelRecord {
    app.store
        .channel_by_code(Uuid::parse_str(code).expect("uuid"))
        .await
        .expect("read")
        .expect("channel")
}

/// The channel as the API shows it.
async fn api_channel(app: &TestApp, code: &str) -> Value {
    let response = app
        .api("GET", &format!("/api/v3/channels/{code}"), None)
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

/// The `channels` of a check's API JSON, as a list.
async fn channels_of(app: &TestApp, check: &CheckRecord) -> Vec<String> {
    let json = app.api_check(3, check).await;
    let mut codes: Vec<String> = json["channels"]
        .as_str()
        .expect("channels")
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    codes.sort();
    codes
}

fn id(channel: &Value) -> String {
    channel["id"].as_str().expect("id").to_owned()
}

/// Form fields, as sent.
type Fields<'a> = &'a [(&'a str, &'a str)];

/// A whole webhook edit form: the given fields over a valid default.
fn webhook_form<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", "hook"),
        ("method_down", "POST"),
        ("url_down", "https://example.org/down"),
        ("body_down", ""),
        ("headers_down", ""),
        ("method_up", "GET"),
        ("url_up", ""),
        ("body_up", ""),
        ("headers_up", ""),
    ];
    for (name, value) in changes {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value,
            None => fields.push((name, value)),
        }
    }
    fields
}

#[track_caller]
fn assert_field_error(response: &TestResponse, id: &str, message: &str) {
    let text = response.text();
    assert_eq!(response.status, StatusCode::BAD_REQUEST, "{text}");
    let marker = format!("id=\"{id}\">");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id}: {text}"))
        + marker.len();
    let shown = text[start..].split('<').next().unwrap_or_default();
    assert!(
        shown.contains(message),
        "{id}: {shown:?}, wanted {message:?}"
    );
    assert!(
        text.contains(&format!("aria-describedby=\"{id}")),
        "{id} is not tied to its field"
    );
}

app_test!(
    an_edited_webhook_is_stored_and_used_by_the_next_delivery,
    flags = ["--webhook-allow-private"],
    |app| {
        let receiver = Receiver::start().await;
        let created = app.create_webhook(&receiver.url).await;
        let code = id(&created);
        let secret = created["secret"].as_str().expect("secret").to_owned();
        let mut browser = Browser::default();
        let list = member(app, &mut browser, "alice@example.org", Role::Member).await;
        let edit = format!("{list}{code}/edit/");

        let text = browser.get(app, &list).await.text();
        assert!(text.contains(&format!("href=\"{edit}\"")), "{text}");
        let page = browser.get(app, &edit).await;
        assert_eq!(page.status, StatusCode::OK);
        let text = page.text();
        assert!(text.contains(&format!("value=\"{}/down/$CODE\"", receiver.url)));
        assert!(text.contains("X-Check: $NAME</textarea>"), "{text}");
        assert!(text.contains("<option selected>POST</option>"));
        assert!(
            !text.contains(&secret),
            "the signing secret is shown once only"
        );

        let url_down = format!("{}/edited/$STATUS", receiver.url);
        let url_up = format!("{}/back", receiver.url);
        let fields = webhook_form(&[
            ("name", "edited hook"),
            ("method_down", "PUT"),
            ("url_down", &url_down),
            ("body_down", "{\"check\": $NAME_JSON}"),
            ("headers_down", "X-Token: abc\r\n\r\nX-Check:  $NAME "),
            ("method_up", "POST"),
            ("url_up", &url_up),
            ("body_up", "up"),
            ("headers_up", "Content-Type: text/plain"),
        ]);
        let response = browser.submit(app, &edit, &edit, &fields).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert!(response.text().contains("Saved."));
        assert!(!response.text().contains(&secret));

        let channel = api_channel(app, &code).await;
        assert_eq!(channel["name"], "edited hook");
        assert_eq!(
            channel["webhook"],
            json!({
                "body_down": "{\"check\": $NAME_JSON}",
                "body_up": "up",
                "headers_down": {"X-Token": "abc", "X-Check": "$NAME"},
                "headers_up": {"Content-Type": "text/plain"},
                "method_down": "PUT",
                "method_up": "POST",
                "url_down": url_down,
                "url_up": url_up,
            })
        );
        assert_eq!(
            stored(app, &code).await.secret,
            secret,
            "the secret is kept"
        );
        let text = browser.get(app, &edit).await.text();
        assert!(
            text.contains("X-Token: abc\nX-Check: $NAME</textarea>"),
            "{text}"
        );
        assert!(text.contains("<option selected>PUT</option>"));

        // A test goes out as edited (it describes a stand-in check called TEST).
        let response = browser
            .submit(app, &list, &list, &[("action", "test"), ("channel", &code)])
            .await;
        assert!(response.status.is_redirection(), "{}", response.status);
        assert_eq!(
            app.dispatcher().tick().await.expect("dispatch").delivered,
            1
        );
        let received = receiver.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].method, "PUT");
        assert_eq!(received[0].path, "/edited/down");
        assert_eq!(received[0].header("x-token"), Some("abc"));
        assert_eq!(received[0].header("x-check"), Some("TEST"));
        assert_eq!(received[0].body.as_ref(), b"{\"check\": \"TEST\"}");
    }
);

app_test!(
    bad_edits_are_shown_by_their_field_and_change_nothing,
    |app| {
        let hook = app.create_webhook("https://example.org/hook").await;
        let hook = id(&hook);
        let mail = app
            .create_channel(&json!({
                "name": "ops", "kind": "email",
                "email": {"value": "ops@example.org", "up": true, "down": true},
            }))
            .await;
        let mail = id(&mail);
        let before = (stored(app, &hook).await, stored(app, &mail).await);
        let mut browser = Browser::default();
        let list = member(app, &mut browser, "alice@example.org", Role::Member).await;
        let edit_hook = format!("{list}{hook}/edit/");
        let edit_mail = format!("{list}{mail}/edit/");

        let long_name = "n".repeat(101);
        let cases: [(Fields, &str, &str); 7] = [
            (
                &[("url_down", "not a url")],
                "url-down-error",
                "Enter a valid URL.",
            ),
            (
                &[("url_up", "ftp://example.org/")],
                "url-up-error",
                "Enter a valid URL.",
            ),
            (&[("url_down", "")], "url-down-error", "Enter a valid URL."),
            (
                &[("headers_down", "X-Token abc")],
                "headers-down-error",
                "one per line",
            ),
            (
                &[("headers_up", "Bad Name: x")],
                "headers-up-error",
                "is not a valid header name",
            ),
            (&[("method_down", "DELETE")], "method-down-error", "DELETE"),
            (
                &[("name", &long_name)],
                "name-error",
                "at most 100 characters",
            ),
        ];
        for (changes, error, message) in cases {
            let fields = webhook_form(changes);
            let response = browser.submit(app, &edit_hook, &edit_hook, &fields).await;
            assert_field_error(&response, error, message);
            // What was typed is kept for correcting.
            for (_, value) in changes.iter().filter(|(_, v)| !v.is_empty()) {
                assert!(response.text().contains(value), "{value} is kept");
            }
        }
        // A bad header line and a bad URL at once: both are shown.
        let fields = webhook_form(&[("headers_up", "nonsense"), ("url_down", "nope")]);
        let response = browser.submit(app, &edit_hook, &edit_hook, &fields).await;
        assert_field_error(&response, "headers-up-error", "one per line");
        assert_field_error(&response, "url-down-error", "Enter a valid URL.");

        for address in ["nobody", "ops@", "ops@example.org\r\nBcc: x@example.org"] {
            let fields = [("name", "ops"), ("address", address), ("down", "on")];
            let response = browser.submit(app, &edit_mail, &edit_mail, &fields).await;
            assert_field_error(&response, "address-error", "Enter a valid email address.");
        }

        assert_eq!(
            (stored(app, &hook).await, stored(app, &mail).await),
            before,
            "nothing changed"
        );
    }
);

app_test!(a_changed_email_address_is_verified_again, |app| {
    let mail = app
        .create_channel(&json!({
            "name": "ops", "kind": "email",
            "email": {"value": "ops@example.org", "up": true, "down": true},
        }))
        .await;
    let code = id(&mail);
    // As if the link had been followed.
    let mut verified = stored(app, &code).await;
    verified.email_verified = true;
    assert!(app.store.update_channel(&verified).await.expect("verify"));
    let pending = || async { app.store.outbox_stats().await.expect("stats").pending };
    let queued = pending().await;

    let mut browser = Browser::default();
    let list = member(app, &mut browser, "alice@example.org", Role::Member).await;
    let edit = format!("{list}{code}/edit/");
    let text = browser.get(app, &edit).await.text();
    assert!(text.contains("value=\"ops@example.org\""), "{text}");
    assert!(text.contains("Verified."));

    // The same address (in other case), now for failures only: still verified.
    let fields = [
        ("name", "ops"),
        ("address", "OPS@example.org"),
        ("down", "on"),
    ];
    let response = browser.submit(app, &edit, &edit, &fields).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let channel = api_channel(app, &code).await;
    assert_eq!(channel["email"]["up"], false);
    assert_eq!(channel["email"]["down"], true);
    assert_eq!(channel["email_verified"], true);
    assert_eq!(pending().await, queued);

    // A new address: unverified, and a new link is queued for it.
    let fields = [
        ("name", "on call"),
        ("address", "oncall@example.org"),
        ("down", "on"),
        ("up", "on"),
    ];
    let response = browser.submit(app, &edit, &edit, &fields).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(response.text().contains("verification link"));
    let channel = api_channel(app, &code).await;
    assert_eq!(
        channel["email"],
        json!({"value": "oncall@example.org", "up": true, "down": true})
    );
    assert_eq!(channel["name"], "on call");
    assert_eq!(channel["email_verified"], false);
    assert_eq!(pending().await, queued + 1);
    let text = browser.get(app, &list).await.text();
    assert!(text.contains("Not verified yet"), "{text}");

    // Disabling is saved too, and shown in the list.
    let fields = [
        ("name", "on call"),
        ("address", "oncall@example.org"),
        ("disabled", "on"),
    ];
    browser.submit(app, &edit, &edit, &fields).await;
    assert_eq!(api_channel(app, &code).await["disabled"], true);
    assert!(
        browser
            .get(app, &list)
            .await
            .text()
            .contains("Disabled: sends nothing.")
    );
});

app_test!(checks_are_turned_on_and_off_for_a_channel, |app| {
    let a = app.create_check(&json!({"name": "a"})).await;
    let b = app
        .create_check(&json!({"name": "b", "tags": "prod"}))
        .await;
    let c = app.create_check(&json!({"name": "c"})).await;
    // New channels notify every check; the email one stays on throughout.
    let hook = id(&app.create_webhook("https://example.org/hook").await);
    let mail = id(&app
        .create_channel(&json!({
            "kind": "email", "email": {"value": "ops@example.org", "up": true, "down": true},
        }))
        .await);
    let mut browser = Browser::default();
    let list = member(app, &mut browser, "alice@example.org", Role::Member).await;
    let assign = format!("{list}{hook}/checks/");
    let text = browser.get(app, &list).await.text();
    assert!(text.contains(&format!("href=\"{assign}\"")), "{text}");
    assert_eq!(text.matches("Notifies 3 of 3 checks").count(), 2, "{text}");
    let text = browser.get(app, &assign).await.text();
    assert_eq!(text.matches("name=\"check\"").count(), 3);
    assert_eq!(text.matches(" checked>").count(), 3);

    let b_code = b.code.to_string();
    let response = browser
        .submit(
            app,
            &assign,
            &assign,
            &[("action", "save"), ("check", &b_code)],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert!(response.text().contains("Notifies 1 of 3 checks."));
    let both = {
        let mut both = vec![hook.clone(), mail.clone()];
        both.sort();
        both
    };
    assert_eq!(channels_of(app, &a).await, vec![mail.clone()]);
    assert_eq!(channels_of(app, &b).await, both);
    assert_eq!(channels_of(app, &c).await, vec![mail.clone()]);
    let text = browser.get(app, &list).await.text();
    assert!(text.contains("Notifies 1 of 3 checks"), "{text}");

    browser
        .submit(
            app,
            &assign,
            &assign,
            &[("action", "all-off"), ("check", &b_code)],
        )
        .await;
    for check in [&a, &b, &c] {
        assert_eq!(channels_of(app, check).await, vec![mail.clone()]);
    }
    let response = browser
        .submit(app, &assign, &assign, &[("action", "all-on")])
        .await;
    assert!(response.text().contains("Notifies 3 of 3 checks."));
    for check in [&a, &b, &c] {
        assert_eq!(channels_of(app, check).await, both);
    }
    // Saving with every switch off turns them all off.
    browser
        .submit(app, &assign, &assign, &[("action", "save")])
        .await;
    for check in [&a, &b, &c] {
        assert_eq!(channels_of(app, check).await, vec![mail.clone()]);
    }
});

/// A request with another project's API key.
async fn api_as(app: &TestApp, key: &str, method: &str, uri: &str, body: &Value) -> Value {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-api-key", key)
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = app.send(request).await;
    assert!(response.status.is_success(), "{}", response.text());
    response.json()
}

/// The channels of a check of another project (which the test project's key cannot read).
async fn their_channels(app: &TestApp, check: &CheckRecord) -> Vec<Uuid> {
    app.store.channels_of_check(check.id).await.expect("read")
}

app_test!(another_projects_channels_and_checks_are_not_found, |app| {
    let mine = app.create_check(&json!({"name": "mine"})).await;
    let hook = id(&app.create_webhook("https://example.org/hook").await);
    let (other, keys) = app.other_project().await;
    let theirs = api_as(
        app,
        &keys.api_key,
        "POST",
        "/api/v3/checks/",
        &json!({"name": "theirs"}),
    )
    .await;
    let theirs = theirs["uuid"].as_str().expect("uuid").to_owned();
    let their_hook = api_as(
        app,
        &keys.api_key,
        "POST",
        "/api/v3/channels/",
        &json!({"kind": "webhook", "webhook": {"url_down": "https://example.org/theirs"}}),
    )
    .await;
    let their_hook = id(&their_hook);
    let their_before = stored(app, &their_hook).await;

    let mut browser = Browser::default();
    let list = member(app, &mut browser, "alice@example.org", Role::Member).await;
    // Their channel under my project, and their project's pages: not found.
    for path in [
        format!("{list}{their_hook}/edit/"),
        format!("{list}{their_hook}/checks/"),
        format!("/projects/{}/integrations/{their_hook}/edit/", other.code),
        format!("/projects/{}/integrations/{their_hook}/checks/", other.code),
        format!("{list}not-a-uuid/edit/"),
    ] {
        assert_eq!(
            browser.get(app, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let fields = webhook_form(&[("url_down", "https://evil.example/")]);
    let response = browser
        .submit(app, &list, &format!("{list}{their_hook}/edit/"), &fields)
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    let response = browser
        .submit(
            app,
            &list,
            &format!("{list}{their_hook}/checks/"),
            &[("action", "all-off")],
        )
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(stored(app, &their_hook).await, their_before);

    // Their check cannot be put on my channel, and mine stays as it was.
    let assign = format!("{list}{hook}/checks/");
    let mine_code = mine.code.to_string();
    let response = browser
        .submit(
            app,
            &assign,
            &assign,
            &[
                ("action", "save"),
                ("check", &theirs),
                ("check", &mine_code),
            ],
        )
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(channels_of(app, &mine).await, vec![hook.clone()]);
    let theirs = app
        .check_by_code(Uuid::parse_str(&theirs).expect("uuid"))
        .await;
    assert_eq!(their_channels(app, &theirs).await, vec![their_before.code]);

    // The store itself keeps to the project: another project's check or channel is left alone.
    let my_channel = stored(app, &hook).await;
    let count = app
        .store
        .set_channel_checks(my_channel.id, app.project.id, &[theirs.id, mine.id])
        .await
        .expect("assign");
    assert_eq!(count, 1);
    assert_eq!(their_channels(app, &theirs).await, vec![their_before.code]);
    app.store
        .set_channel_checks(their_before.id, app.project.id, &[mine.id])
        .await
        .expect("assign");
    assert_eq!(channels_of(app, &mine).await, vec![hook.clone()]);
    assert_eq!(their_channels(app, &theirs).await, vec![their_before.code]);

    // Someone outside the project finds neither page.
    let mut stranger = Browser::default();
    stranger.sign_up(app, "mallory@example.org", PASSWORD).await;
    for path in [
        format!("{list}{hook}/edit/"),
        format!("{list}{hook}/checks/"),
    ] {
        assert_eq!(
            stranger.get(app, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
});

app_test!(read_only_members_see_no_controls_and_are_refused, |app| {
    let check = app.create_check(&json!({"name": "nightly"})).await;
    let hook = id(&app.create_webhook("https://example.org/hook").await);
    let before = stored(app, &hook).await;
    let mut viewer = Browser::default();
    let list = member(app, &mut viewer, "viewer@example.org", Role::ReadOnly).await;
    let edit = format!("{list}{hook}/edit/");
    let assign = format!("{list}{hook}/checks/");

    let text = viewer.get(app, &list).await.text();
    assert!(text.contains("Notifies 1 of 1 check"), "{text}");
    assert!(!text.contains(&edit), "{text}");
    let page = viewer.get(app, &edit).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(text.contains("https://example.org/hook/down/$CODE"));
    assert!(
        !text.contains("name=\"url_down\"") && !text.contains("Save"),
        "{text}"
    );
    assert!(!text.contains("X-Check"), "headers may hold credentials");
    let text = viewer.get(app, &assign).await.text();
    assert!(text.contains("nightly") && text.contains(">ON<"), "{text}");
    assert!(
        !text.contains("name=\"check\"") && !text.contains("All off"),
        "{text}"
    );

    let fields = webhook_form(&[("url_down", "https://evil.example/")]);
    let response = viewer.submit(app, &list, &edit, &fields).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let response = viewer
        .submit(app, &list, &assign, &[("action", "all-off")])
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(stored(app, &hook).await, before);
    assert_eq!(channels_of(app, &check).await, vec![hook.clone()]);

    // A member with write access, without the page's token, is refused too.
    let mut writer = Browser::default();
    let list = member(app, &mut writer, "writer@example.org", Role::Member).await;
    let response = writer
        .post(
            app,
            &format!("{list}{hook}/checks/"),
            &[("action", "all-off")],
        )
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(channels_of(app, &check).await, vec![hook.clone()]);
});
