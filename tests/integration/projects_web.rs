//! Dashboard projects over HTTP, on both engines: creating one, its API keys (shown once,
//! working on the API), renaming, deleting, and what each role may do.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use overdue::store::Role;

use crate::support::{TestApp, app_test};
use crate::web_client::{Browser, EMAIL, PASSWORD, assert_redirect};

/// Signs up and creates a project called `name`; its settings path.
pub async fn project(app: &TestApp, browser: &mut Browser, name: &str) -> String {
    browser.sign_up(app, EMAIL, PASSWORD).await;
    project_path(app, browser, name).await
}

/// The key shown once on a settings page.
fn shown_key(html: &str) -> String {
    let start = html.find("id=\"new-key\">").expect("a new key on the page") + 13;
    html[start..].split('<').next().expect("key").to_owned()
}

async fn api_status(app: &TestApp, key: &str) -> StatusCode {
    let request = Request::builder()
        .uri("/api/v3/checks/")
        .header("x-api-key", key)
        .body(Body::empty())
        .expect("request");
    app.send(request).await.status
}

app_test!(
    a_new_project_gets_keys_that_are_shown_once_and_work,
    |app| {
        let mut browser = Browser::default();
        let settings = project(app, &mut browser, "Backups").await;
        let page = browser.get(app, &settings).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("Backups"));
        assert_eq!(page.text().matches("Not set").count(), 3, "{}", page.text());

        let response = browser
            .submit(
                app,
                &settings,
                &settings,
                &[("action", "create"), ("key", "rw")],
            )
            .await;
        assert_eq!(response.status, StatusCode::OK);
        let key = shown_key(&response.text());
        assert_eq!(key.len(), 32);
        assert_eq!(api_status(app, &key).await, StatusCode::OK);
        // Shown once: the page no longer has it.
        let again = browser.get(app, &settings).await.text();
        assert!(!again.contains(&key));
        assert!(!again.contains("id=\"new-key\""));

        let response = browser
            .submit(
                app,
                &settings,
                &settings,
                &[("action", "create"), ("key", "ro")],
            )
            .await;
        let read_only = shown_key(&response.text());
        assert!(read_only.starts_with("hcr_"), "{read_only}");
        assert_eq!(api_status(app, &read_only).await, StatusCode::OK);

        let response = browser
            .submit(
                app,
                &settings,
                &settings,
                &[("action", "revoke"), ("key", "rw")],
            )
            .await;
        assert!(response.text().contains("The key is revoked."));
        assert_eq!(api_status(app, &key).await, StatusCode::UNAUTHORIZED);
        assert_eq!(api_status(app, &read_only).await, StatusCode::OK);
    }
);

app_test!(project_names_are_checked_next_to_the_field, |app| {
    let mut browser = Browser::default();
    browser.sign_up(app, EMAIL, PASSWORD).await;
    let response = browser
        .submit(app, "/", "/projects/new/", &[("name", "   ")])
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(response.text().contains("id=\"name-error\">Enter a name."));
    let long = "x".repeat(101);
    let response = browser
        .submit(app, "/", "/projects/new/", &[("name", &long)])
        .await;
    assert!(response.text().contains("Use at most 100 characters."));
    let user = app
        .store
        .user_by_email(EMAIL)
        .await
        .expect("read")
        .expect("user");
    assert_eq!(
        app.store
            .projects_of_user(user.id)
            .await
            .expect("projects")
            .len(),
        1
    );

    let settings = project_path(app, &mut browser, "Web").await;
    let response = browser
        .submit(
            app,
            &settings,
            &settings,
            &[("action", "rename"), ("name", "")],
        )
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(response.text().contains("Enter a name."));
    let response = browser
        .submit(
            app,
            &settings,
            &settings,
            &[("action", "rename"), ("name", "Web shop")],
        )
        .await;
    assert!(response.text().contains("The project is renamed."));
    assert!(browser.get(app, "/").await.text().contains("Web shop"));
});

/// Creates another project for the browser's (logged-in) user; its settings path (a new
/// project opens on its checks).
async fn project_path(app: &TestApp, browser: &mut Browser, name: &str) -> String {
    let response = browser
        .submit(app, "/", "/projects/new/", &[("name", name)])
        .await;
    let checks = response.header("location").expect("location");
    assert!(checks.ends_with("/checks/"), "{checks}");
    checks.replace("/checks/", "/settings/")
}

app_test!(other_users_cannot_see_or_change_a_project, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Private").await;
    let mut stranger = Browser::default();
    stranger.sign_up(app, "mallory@example.org", PASSWORD).await;
    assert_eq!(
        stranger.get(app, &settings).await.status,
        StatusCode::NOT_FOUND
    );
    // Their own token, on someone else's project.
    let response = stranger
        .submit(
            app,
            "/",
            &settings,
            &[("action", "rename"), ("name", "Mine")],
        )
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(owner.get(app, &settings).await.text().contains("Private"));
    assert!(!stranger.get(app, "/").await.text().contains("Private"));
});

app_test!(read_only_members_see_no_controls_and_are_refused, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Shared").await;
    let mut viewer = Browser::default();
    viewer.sign_up(app, "viewer@example.org", PASSWORD).await;
    let owner_id = app
        .store
        .user_by_email(EMAIL)
        .await
        .expect("read")
        .expect("owner")
        .id;
    let viewer_id = app
        .store
        .user_by_email("viewer@example.org")
        .await
        .expect("read")
        .expect("viewer")
        .id;
    let shared = app
        .store
        .projects_of_user(owner_id)
        .await
        .expect("projects")
        .into_iter()
        .find(|(p, _)| p.name == "Shared")
        .expect("shared project")
        .0;

    for (role, may_manage) in [
        (Role::ReadOnly, false),
        (Role::Member, false),
        (Role::Manager, true),
    ] {
        app.store
            .set_member(shared.id, viewer_id, role, 0)
            .await
            .expect("member");
        let page = viewer.get(app, &settings).await;
        assert_eq!(page.status, StatusCode::OK);
        let text = page.text();
        assert_eq!(text.contains(">Rename</button>"), may_manage, "{role:?}");
        assert_eq!(text.contains("value=\"create\""), may_manage, "{role:?}");
        assert!(!text.contains("Delete project"), "{role:?}");
        // A forged form (their own valid token) changes nothing.
        let response = viewer
            .submit(
                app,
                &settings,
                &settings,
                &[("action", "delete"), ("confirm", "Shared")],
            )
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{role:?}");
        if !may_manage {
            let response = viewer
                .submit(
                    app,
                    &settings,
                    &settings,
                    &[("action", "create"), ("key", "rw")],
                )
                .await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{role:?}");
        }
    }
    let (rw, _) = app.store.project_keys_set(shared.id).await.expect("keys");
    assert!(!rw);
    assert!(
        owner
            .get(app, &settings)
            .await
            .text()
            .contains("Delete project")
    );
});

app_test!(
    deleting_a_project_needs_its_name_and_removes_its_checks,
    |app| {
        let mut browser = Browser::default();
        let settings = project(app, &mut browser, "Old").await;
        let response = browser
            .submit(
                app,
                &settings,
                &settings,
                &[("action", "create"), ("key", "rw")],
            )
            .await;
        let key = shown_key(&response.text());
        let request = Request::builder()
            .method("POST")
            .uri("/api/v3/checks/")
            .header("x-api-key", key.as_str())
            .body(Body::from(r#"{"name": "nightly"}"#))
            .expect("request");
        assert_eq!(app.send(request).await.status, StatusCode::CREATED);

        let response = browser
            .submit(
                app,
                &settings,
                &settings,
                &[("action", "delete"), ("confirm", "old")],
            )
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        let text = response.text();
        assert!(
            text.contains("id=\"confirm-error\">Type the project"),
            "{text}"
        );
        assert_eq!(api_status(app, &key).await, StatusCode::OK);

        let response = browser
            .submit(
                app,
                &settings,
                &settings,
                &[("action", "delete"), ("confirm", "Old")],
            )
            .await;
        assert_redirect(&response, "/");
        assert_eq!(
            browser.get(app, &settings).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(api_status(app, &key).await, StatusCode::UNAUTHORIZED);
        assert!(!browser.get(app, "/").await.text().contains(">Old<"));
    }
);

app_test!(the_badges_page_gives_working_urls_per_tag, |app| {
    let mut browser = Browser::default();
    let settings = project(app, &mut browser, "Public").await;
    let checks = settings.replace("/settings/", "/checks/");
    let badges = settings.replace("/settings/", "/badges/");
    let fields = [
        ("name", "web"),
        ("kind", "simple"),
        ("timeout", "1"),
        ("timeout_unit", "86400"),
        ("grace", "1"),
        ("grace_unit", "3600"),
        ("tags", "prod"),
    ];
    let response = browser
        .submit(app, &checks, &format!("{checks}add/"), &fields)
        .await;
    assert!(response.status.is_redirection(), "{}", response.text());

    let urls = |html: &str| -> Vec<String> {
        html.split("<code class=\"secret\">")
            .skip(1)
            .map(|part| {
                part.split('<')
                    .next()
                    .unwrap_or_default()
                    .replace("&#x2f;", "/")
            })
            .collect()
    };
    let text = browser.get(app, &badges).await.text();
    assert!(text.contains("<span class=\"tag\">prod</span>"), "{text}");
    let found = urls(&text);
    assert_eq!(found.len(), 2, "prod and all checks: {found:?}");
    for url in &found {
        assert!(url.ends_with(".svg"), "{url}");
        let path = url.strip_prefix("http://overdue.test").expect("site URL");
        let response = app.request("GET", path).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
        assert_eq!(response.header("content-type"), Some("image/svg+xml"));
    }
    let json = urls(
        &browser
            .get(app, &format!("{badges}?format=json&states=2"))
            .await
            .text(),
    );
    let path = json[0]
        .strip_prefix("http://overdue.test")
        .expect("site URL");
    assert!(
        path.ends_with("/prod.json") && path.contains("-2/"),
        "{path}"
    );
    assert_eq!(app.request("GET", path).await.json()["status"], "up");

    let mut stranger = Browser::default();
    stranger.sign_up(app, "mallory@example.org", PASSWORD).await;
    assert_eq!(
        stranger.get(app, &badges).await.status,
        StatusCode::NOT_FOUND
    );
});

app_test!(
    integrations_are_added_tested_and_removed_on_their_page,
    |app| {
        let mut browser = Browser::default();
        let settings = project(app, &mut browser, "Alerts").await;
        let page = settings.replace("/settings/", "/integrations/");
        let text = browser.get(app, &page).await.text();
        assert!(text.contains("No integrations yet"));

        // Bad input: a message by the field, nothing saved.
        let response = browser
            .submit(
                app,
                &page,
                &page,
                &[
                    ("action", "add-webhook"),
                    ("name", "hook"),
                    ("url_down", "not a url"),
                    ("url_up", ""),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        let text = response.text();
        assert!(text.contains("id=\"url-down-error\">"), "{text}");
        assert!(text.contains("value=\"not a url\""));
        let response = browser
            .submit(
                app,
                &page,
                &page,
                &[("action", "add-email"), ("name", ""), ("address", "nobody")],
            )
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert!(
            response.text().contains("id=\"address-error\">"),
            "{}",
            response.text()
        );
        let user = app
            .store
            .user_by_email(EMAIL)
            .await
            .expect("read")
            .expect("user");
        let (project, _) = app
            .store
            .projects_of_user(user.id)
            .await
            .expect("projects")
            .into_iter()
            .find(|(p, _)| p.name == "Alerts")
            .expect("project");
        assert!(
            app.store
                .channels_in_project(project.id)
                .await
                .expect("channels")
                .is_empty()
        );

        // A webhook to a private address: its test fails, and the page says why.
        let response = browser
            .submit(
                app,
                &page,
                &page,
                &[
                    ("action", "add-webhook"),
                    ("name", "ops"),
                    ("url_down", "http://127.0.0.1:9/down"),
                    ("url_up", ""),
                ],
            )
            .await;
        // Each change redirects, so reloading the page repeats nothing.
        let response = browser.follow(app, &response).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        assert!(response.text().contains("http://127.0.0.1:9/down"));
        assert!(
            response
                .text()
                .contains("Added, for every check of the project.")
        );
        let response = browser
            .submit(
                app,
                &page,
                &page,
                &[
                    ("action", "add-email"),
                    ("name", "me"),
                    ("address", "ops@example.org"),
                ],
            )
            .await;
        let response = browser.follow(app, &response).await;
        assert!(response.text().contains("Not verified yet"));
        let channels = app
            .store
            .channels_in_project(project.id)
            .await
            .expect("channels");
        assert_eq!(channels.len(), 2);
        let hook = channels
            .iter()
            .find(|c| c.kind == "webhook")
            .expect("webhook");

        let response = browser
            .submit(
                app,
                &page,
                &page,
                &[("action", "test"), ("channel", &hook.code.to_string())],
            )
            .await;
        let response = browser.follow(app, &response).await;
        assert!(
            response
                .text()
                .contains("A test notification is on its way.")
        );
        app.dispatcher().tick().await.expect("dispatch");
        let text = browser.get(app, &page).await.text();
        assert!(text.contains("Last error:"), "{text}");

        let response = browser
            .submit(
                app,
                &page,
                &page,
                &[("action", "remove"), ("channel", &hook.code.to_string())],
            )
            .await;
        let response = browser.follow(app, &response).await;
        assert!(response.text().contains("Removed."));
        assert_eq!(
            app.store
                .channels_in_project(project.id)
                .await
                .expect("channels")
                .len(),
            1
        );

        // Read-only members see the list, no controls, and their forged forms are refused.
        let mut viewer = Browser::default();
        viewer.sign_up(app, "viewer@example.org", PASSWORD).await;
        assert_eq!(viewer.get(app, &page).await.status, StatusCode::NOT_FOUND);
        let viewer_id = app
            .store
            .user_by_email("viewer@example.org")
            .await
            .expect("read")
            .expect("viewer")
            .id;
        app.store
            .set_member(project.id, viewer_id, Role::ReadOnly, 0)
            .await
            .expect("member");
        let text = viewer.get(app, &page).await.text();
        assert!(
            text.contains("ops@example.org")
                && !text.contains("Add a webhook")
                && !text.contains("Send test")
        );
        let response = viewer
            .submit(
                app,
                &page,
                &page,
                &[
                    ("action", "add-webhook"),
                    ("url_down", "https://example.org/x"),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert_eq!(
            app.store
                .channels_in_project(project.id)
                .await
                .expect("channels")
                .len(),
            1
        );
    }
);

app_test!(managers_add_change_and_remove_members_by_address, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Team").await;
    let mut colleague = Browser::default();
    colleague.sign_up(app, "bob@example.org", PASSWORD).await;
    assert_eq!(
        colleague.get(app, &settings).await.status,
        StatusCode::NOT_FOUND
    );

    let response = owner
        .submit(
            app,
            &settings,
            &settings,
            &[
                ("action", "add-member"),
                ("member_email", "carol@example.org"),
                ("role", "member"),
            ],
        )
        .await;
    // No account: an invitation instead (tests/integration/invitations.rs).
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        response
            .text()
            .contains("carol@example.org is invited as a member"),
        "{}",
        response.text()
    );

    let response = owner
        .submit(
            app,
            &settings,
            &settings,
            &[
                ("action", "add-member"),
                ("member_email", "Bob@Example.org"),
                ("role", "readonly"),
            ],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.text().contains("The team is updated."));
    let text = colleague.get(app, &settings).await.text();
    assert!(
        !text.contains("value=\"create\""),
        "read-only: no key controls"
    );
    assert!(colleague.get(app, "/").await.text().contains("Team"));

    // Read-only: cannot add anyone.
    let response = colleague
        .submit(
            app,
            &settings,
            &settings,
            &[
                ("action", "add-member"),
                ("member_email", EMAIL),
                ("role", "manager"),
            ],
        )
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);

    // Promoted to manager, then removed.
    owner
        .submit(
            app,
            &settings,
            &settings,
            &[
                ("action", "add-member"),
                ("member_email", "bob@example.org"),
                ("role", "manager"),
            ],
        )
        .await;
    assert!(
        colleague
            .get(app, &settings)
            .await
            .text()
            .contains("value=\"create\"")
    );
    let bob = app
        .store
        .user_by_email("bob@example.org")
        .await
        .expect("read")
        .expect("bob")
        .id;
    let owner_id = app
        .store
        .user_by_email(EMAIL)
        .await
        .expect("read")
        .expect("owner")
        .id;
    // The owner cannot be removed, even by a manager.
    let response = colleague
        .submit(
            app,
            &settings,
            &settings,
            &[
                ("action", "remove-member"),
                ("member", &owner_id.to_string()),
            ],
        )
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(response.text().contains("The owner cannot be removed."));
    let response = owner
        .submit(
            app,
            &settings,
            &settings,
            &[("action", "remove-member"), ("member", &bob.to_string())],
        )
        .await;
    assert!(response.text().contains("The member is removed."));
    assert_eq!(
        colleague.get(app, &settings).await.status,
        StatusCode::NOT_FOUND
    );
});
