//! Dashboard accounts over HTTP, on both engines: sign up, log in, log out, change password,
//! CSRF on every form, rate-limited attempts.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::support::{TestApp, app_test};
use crate::web_client::{Browser, assert_redirect, csrf_of};

use crate::web_client::{EMAIL, PASSWORD};

async fn user_count(app: &TestApp, email: &str) -> usize {
    usize::from(
        app.store
            .user_by_email(email)
            .await
            .expect("read user")
            .is_some(),
    )
}

app_test!(
    signing_up_makes_an_account_with_a_project_and_logs_in,
    |app| {
        let mut browser = Browser::default();
        let response = browser.sign_up(app, " Alice@Example.org ", PASSWORD).await;
        assert_redirect(&response, "/");
        let cookie = response
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ASCII"))
            .find(|c| c.starts_with("overdue_session="))
            .expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );

        let user = app
            .store
            .user_by_email(EMAIL)
            .await
            .expect("read")
            .expect("user");
        assert!(
            user.password_hash.starts_with("$argon2id$"),
            "{}",
            user.password_hash
        );
        assert!(!user.password_hash.contains(PASSWORD));
        let home = browser.get(app, "/").await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(home.text().contains("My Project"), "{}", home.text());
        assert!(home.text().contains(EMAIL));
        let projects = app.store.projects_of_user(user.id).await.expect("projects");
        assert_eq!(projects.len(), 1);
        assert_eq!(projects[0].1.as_str(), "owner");
    }
);

app_test!(visitors_are_sent_to_the_login_page, |app| {
    let mut browser = Browser::default();
    assert_redirect(&browser.get(app, "/").await, "/accounts/login/");
    assert_redirect(
        &browser.get(app, "/accounts/password/").await,
        "/accounts/login/",
    );
    let login = browser.get(app, "/accounts/login/").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.text().contains("Sign up"));
    let css = browser.get(app, "/static/style.css").await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let js = browser.get(app, "/static/checks.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.text().contains("refreshStatuses"));
});

app_test!(
    signup_explains_bad_input_next_to_the_field_and_creates_nothing,
    |app| {
        let mut browser = Browser::default();
        let response = browser.sign_up(app, "not-an-address", PASSWORD).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert!(
            response
                .text()
                .contains("id=\"email-error\">Enter a valid email address."),
            "{}",
            response.text()
        );
        assert!(response.text().contains("value=\"not-an-address\""));
        let response = browser.sign_up(app, EMAIL, "short").await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert!(
            response
                .text()
                .contains("id=\"password-error\">Use at least 8 characters.")
        );
        assert_eq!(user_count(app, EMAIL).await, 0);
        assert!(!browser.has_session());

        assert_redirect(&browser.sign_up(app, EMAIL, PASSWORD).await, "/");
        let mut other = Browser::default();
        let response = other
            .sign_up(app, "ALICE@example.org", "another password")
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert!(
            response
                .text()
                .contains("An account with this email address already exists.")
        );
        assert!(!other.has_session());
        // The first password still logs in; the second does not.
        assert_eq!(
            other.log_in(app, EMAIL, "another password").await.status,
            StatusCode::BAD_REQUEST
        );
        assert_redirect(&other.log_in(app, EMAIL, PASSWORD).await, "/");
    }
);

app_test!(logging_in_needs_the_right_password, |app| {
    let mut owner = Browser::default();
    owner.sign_up(app, EMAIL, PASSWORD).await;
    let mut browser = Browser::default();
    for (email, password) in [(EMAIL, "wrong password"), ("bob@example.org", PASSWORD)] {
        let response = browser.log_in(app, email, password).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert!(response.text().contains("Incorrect email or password."));
        assert!(!browser.has_session());
    }
    assert_redirect(
        &browser.log_in(app, "ALICE@example.org", PASSWORD).await,
        "/",
    );
    assert!(browser.has_session());
    assert_redirect(&browser.get(app, "/accounts/login/").await, "/");
});

app_test!(
    forms_without_their_token_are_refused_and_change_nothing,
    |app| {
        let mut browser = Browser::default();
        // No token at all, a made-up one, and the right one sent from another site.
        let fields = [("email", EMAIL), ("password", PASSWORD)];
        assert_eq!(
            browser.post(app, "/accounts/signup/", &fields).await.status,
            StatusCode::FORBIDDEN
        );
        browser.get(app, "/accounts/signup/").await;
        let forged = [
            ("csrf", "x".repeat(32)),
            ("email", EMAIL.into()),
            ("password", PASSWORD.into()),
        ];
        let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            browser.post(app, "/accounts/signup/", &forged).await.status,
            StatusCode::FORBIDDEN
        );
        let form = browser.get(app, "/accounts/signup/").await;
        let token = csrf_of(&form.text());
        let request = Request::builder()
            .method("POST")
            .uri("/accounts/signup/")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, "https://evil.example");
        let body = format!("csrf={token}&email=alice%40example.org&password=correct+horse+battery");
        assert_eq!(
            browser.send(app, request, Body::from(body)).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(user_count(app, EMAIL).await, 0);

        // Logged in: logout and password change need the session's token.
        browser.sign_up(app, EMAIL, PASSWORD).await;
        let response = browser
            .post(app, "/accounts/logout/", &[("csrf", "nope")])
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert_eq!(browser.get(app, "/").await.status, StatusCode::OK);
        let fields = [
            ("csrf", "nope"),
            ("current", PASSWORD),
            ("new", "a new password"),
            ("repeat", "a new password"),
        ];
        assert_eq!(
            browser
                .post(app, "/accounts/password/", &fields)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_redirect(&Browser::default().log_in(app, EMAIL, PASSWORD).await, "/");
    }
);

app_test!(logging_out_ends_the_session, |app| {
    let mut browser = Browser::default();
    browser.sign_up(app, EMAIL, PASSWORD).await;
    let stolen = browser.cookies.clone();
    let response = browser.submit(app, "/", "/accounts/logout/", &[]).await;
    assert_redirect(&response, "/accounts/login/");
    assert!(!browser.has_session());
    // The old cookie no longer works either.
    let mut replay = Browser { cookies: stolen };
    assert_redirect(&replay.get(app, "/").await, "/accounts/login/");
});

app_test!(
    changing_the_password_checks_the_old_one_and_logs_out_elsewhere,
    |app| {
        let mut browser = Browser::default();
        browser.sign_up(app, EMAIL, PASSWORD).await;
        let mut elsewhere = Browser::default();
        elsewhere.log_in(app, EMAIL, PASSWORD).await;
        let page = "/accounts/password/";

        let response = browser
            .submit(
                app,
                page,
                page,
                &[
                    ("current", "wrong one"),
                    ("new", "short"),
                    ("repeat", "other"),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        let text = response.text();
        assert!(
            text.contains("id=\"current-error\">Incorrect password."),
            "{text}"
        );
        assert!(text.contains("id=\"new-error\">Use at least 8 characters."));
        assert!(text.contains("id=\"repeat-error\">The two passwords differ."));
        assert_eq!(elsewhere.get(app, "/").await.status, StatusCode::OK);

        let new = "a much better one";
        let response = browser
            .submit(
                app,
                page,
                page,
                &[("current", PASSWORD), ("new", new), ("repeat", new)],
            )
            .await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.text().contains("Your password is changed."));
        assert_eq!(browser.get(app, "/").await.status, StatusCode::OK);
        assert_redirect(&elsewhere.get(app, "/").await, "/accounts/login/");
        assert_eq!(
            Browser::default().log_in(app, EMAIL, PASSWORD).await.status,
            StatusCode::BAD_REQUEST
        );
        assert_redirect(&Browser::default().log_in(app, EMAIL, new).await, "/");
    }
);

app_test!(
    closed_registration_refuses_signups,
    flags = ["--registration-open", "false"],
    |app| {
        let mut browser = Browser::default();
        let form = browser.get(app, "/accounts/signup/").await;
        assert_eq!(form.status, StatusCode::FORBIDDEN);
        assert!(form.text().contains("does not take new accounts"));
        // A token from the login page, to be sure it is the closed door that refuses.
        let token = csrf_of(&browser.get(app, "/accounts/login/").await.text());
        let response = browser
            .post(
                app,
                "/accounts/signup/",
                &[("csrf", &token), ("email", EMAIL), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert_eq!(user_count(app, EMAIL).await, 0);
        assert!(
            !browser
                .get(app, "/accounts/login/")
                .await
                .text()
                .contains("Sign up")
        );
    }
);

app_test!(
    login_attempts_are_rate_limited_per_address,
    flags = ["--rate-limits", "on", "--rate-limit-login", "3/hour"],
    |app| {
        let mut owner = Browser::default();
        assert_redirect(&owner.sign_up(app, EMAIL, PASSWORD).await, "/");
        let mut browser = Browser::default();
        for _ in 0..2 {
            let response = browser.log_in(app, EMAIL, "guess").await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST);
        }
        // Over the limit, even the right password is refused; showing the form is free.
        let response = browser.log_in(app, EMAIL, PASSWORD).await;
        assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(response.header("retry-after").is_some());
        assert!(response.text().contains("Too many attempts"));
        assert!(!browser.has_session());
        assert_eq!(
            browser.get(app, "/accounts/login/").await.status,
            StatusCode::OK
        );
    }
);
