//! Team invitations over HTTP, on both engines: a manager invites an address from the
//! settings page, the link mailed through a real SMTP server (aiosmtpd) signs the person up
//! or logs them in and makes them a member, once; expired, cancelled and replaced links are
//! refused; people with an account join at once and are told by mail.

use axum::http::StatusCode;
use overdue::keys::hash_secret;
use overdue::store::{InvitationRecord, NewInvitation, NewSession, Role};

use crate::projects_web::project;
use crate::support::{Aiosmtpd, TestApp, app_test, contract_test, mail_header};
use crate::web_client::{Browser, EMAIL, PASSWORD, assert_redirect, csrf_of};

const CAROL: &str = "carol@example.org";

/// Defines one test per engine with a real SMTP server behind the application.
macro_rules! smtp_test {
    ($name:ident, |$app:ident, $smtp:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &TestApp, $smtp: &Aiosmtpd) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let Some(smtp) = Aiosmtpd::start() else {
                    return;
                };
                let app = TestApp::sqlite(&smtp_flags(&smtp)).await;
                run(&app, &smtp).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(smtp) = Aiosmtpd::start() else {
                    return;
                };
                let Some(app) = TestApp::postgres(&smtp_flags(&smtp)).await else {
                    eprintln!("skipped: TEST_DATABASE_URL is not set");
                    return;
                };
                run(&app, &smtp).await;
            }
        }
    };
}

fn smtp_flags(smtp: &Aiosmtpd) -> [&str; 4] {
    [
        "--smtp-url",
        &smtp.url,
        "--email-from",
        "Overdue <team@overdue.test>",
    ]
}

/// A message as its reader sees it: quoted-printable soft breaks and escapes undone.
fn decoded(message: &str) -> String {
    let joined = message.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) if bytes[i] == b'=' => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The invitation link in a message or page, as a path (`/accounts/invite/<token>/`).
fn invite_path(text: &str) -> String {
    let start = text
        .find("http://overdue.test/accounts/invite/")
        .unwrap_or_else(|| panic!("an invitation link in {text}"));
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<'))
        .collect();
    link.trim_start_matches("http://overdue.test").to_owned()
}

/// The link's token.
fn token_of(path: &str) -> &str {
    path.trim_start_matches("/accounts/invite/")
        .trim_end_matches('/')
}

/// Sends the settings page's invite form.
async fn invite(
    app: &TestApp,
    browser: &mut Browser,
    settings: &str,
    email: &str,
    role: &str,
) -> crate::support::TestResponse {
    browser
        .submit(
            app,
            settings,
            settings,
            &[
                ("action", "add-member"),
                ("member_email", email),
                ("role", role),
            ],
        )
        .await
}

/// The project of a settings path, as stored.
async fn project_of(app: &TestApp, settings: &str) -> overdue::store::ProjectRecord {
    let owner = user_id(app, EMAIL).await.expect("owner");
    let code = settings
        .trim_start_matches("/projects/")
        .trim_end_matches("/settings/");
    app.store
        .projects_of_user(owner)
        .await
        .expect("projects")
        .into_iter()
        .find(|(p, _)| p.code.to_string() == code)
        .expect("the project")
        .0
}

async fn user_id(app: &TestApp, email: &str) -> Option<i64> {
    app.store
        .user_by_email(email)
        .await
        .expect("read users")
        .map(|u| u.id)
}

/// `email`'s role in the project, if a member.
async fn role_of(app: &TestApp, settings: &str, email: &str) -> Option<Role> {
    let project = project_of(app, settings).await;
    let id = user_id(app, email).await?;
    app.store
        .project_of_member(project.code, id)
        .await
        .expect("membership")
        .map(|(_, role)| role)
}

async fn invitations(app: &TestApp, settings: &str) -> Vec<InvitationRecord> {
    let project = project_of(app, settings).await;
    app.store
        .invitations_of_project(project.id)
        .await
        .expect("invitations")
}

/// The link shown on the settings page when no email could carry it.
fn shown_link(html: &str) -> String {
    let start = html
        .find("id=\"invite-link\">")
        .unwrap_or_else(|| panic!("a shown link in {html}"))
        + 17;
    invite_path(&html[start..])
}

/// Signs up through an invitation link in a fresh browser (with the form token of the
/// login page, so a refused link can be tried too); the answer to the form.
async fn sign_up_through(
    app: &TestApp,
    path: &str,
    password: &str,
) -> (Browser, crate::support::TestResponse) {
    let mut browser = Browser::default();
    let response = browser
        .submit(app, "/accounts/login/", path, &[("password", password)])
        .await;
    (browser, response)
}

smtp_test!(
    an_invited_address_signs_up_through_the_mailed_link,
    |app, smtp| {
        let mut owner = Browser::default();
        let settings = project(app, &mut owner, "Ops <night>").await;

        let response = invite(app, &mut owner, &settings, " Carol@Example.org ", "manager").await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let text = response.text();
        assert!(
            text.contains("carol@example.org is invited as a manager"),
            "{text}"
        );
        assert!(!text.contains("id=\"invite-link\""), "mailed, so not shown");

        // The mail carries a working link; the project's name is escaped in its HTML part.
        let messages = smtp.messages();
        assert_eq!(messages.len(), 1, "{}", smtp.log());
        assert_eq!(
            mail_header(&messages[0], "X-RcptTo").as_deref(),
            Some(CAROL)
        );
        assert_eq!(
            mail_header(&messages[0], "Subject").as_deref(),
            Some("Invitation to join Ops <night> on Overdue")
        );
        let mail = decoded(&messages[0]);
        assert!(mail.contains("\"Ops &lt;night&gt;\""), "{mail}");
        assert!(mail.contains(EMAIL), "names the inviter: {mail}");
        let path = invite_path(&mail);

        // Pending, on the page and in the store; only the token's SHA-256 is stored.
        let page = owner.get(app, &settings).await.text();
        assert!(page.contains(CAROL) && page.contains("pending"), "{page}");
        let stored = invitations(app, &settings).await;
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].email, CAROL);
        assert_eq!(stored[0].role, Role::Manager);
        assert_eq!(stored[0].token_hash, hash_secret(token_of(&path)));
        assert!(!stored[0].token_hash.contains(token_of(&path)));

        // Opening the link shows the signup form with the address fixed, and changes nothing.
        let mut carol = Browser::default();
        let page = carol.get(app, &path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        let html = page.text();
        assert!(html.contains(&format!("value=\"{CAROL}\"")) && html.contains("readonly"));
        assert!(
            !html.contains("name=\"email\""),
            "the address is not a field: {html}"
        );
        assert_eq!(invitations(app, &settings).await.len(), 1);

        // A short password is refused by its field and uses nothing up.
        let token = csrf_of(&html);
        let response = carol
            .post(app, &path, &[("csrf", &token), ("password", "short")])
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert!(response.text().contains("id=\"password-error\""));
        assert_eq!(user_id(app, CAROL).await, None);

        // An email field sent along is ignored: the account is the invited address's.
        let response = carol
            .post(
                app,
                &path,
                &[
                    ("csrf", &token),
                    ("email", "mallory@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        let checks = settings.replace("/settings/", "/checks/");
        assert_redirect(&response, &checks);
        assert!(carol.has_session());
        assert_eq!(carol.get(app, &checks).await.status, StatusCode::OK);
        assert_eq!(role_of(app, &settings, CAROL).await, Some(Role::Manager));
        assert_eq!(user_id(app, "mallory@example.org").await, None);
        assert!(invitations(app, &settings).await.is_empty());
        // Invited people get no project of their own.
        let carol_id = user_id(app, CAROL).await.expect("carol");
        assert_eq!(
            app.store
                .projects_of_user(carol_id)
                .await
                .expect("projects")
                .len(),
            1
        );

        // Single use: the link is refused afterwards, logged out or in.
        let mut stranger = Browser::default();
        let again = stranger.get(app, &path).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        assert!(again.text().contains("This invitation link does not work"));
        let again = stranger
            .submit(app, "/accounts/login/", &path, &[("password", PASSWORD)])
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        assert_eq!(carol.get(app, &path).await.status, StatusCode::NOT_FOUND);
    }
);

smtp_test!(
    people_with_an_account_are_added_at_once_and_told,
    |app, smtp| {
        let mut owner = Browser::default();
        let settings = project(app, &mut owner, "Backups").await;
        let mut bob = Browser::default();
        bob.sign_up(app, "bob@example.org", PASSWORD).await;

        let response = invite(app, &mut owner, &settings, "bob@example.org", "readonly").await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(
            response
                .text()
                .contains("The team is updated. bob@example.org is added")
        );
        assert_eq!(
            role_of(app, &settings, "bob@example.org").await,
            Some(Role::ReadOnly)
        );
        assert!(
            invitations(app, &settings).await.is_empty(),
            "no invitation needed"
        );
        assert_eq!(bob.get(app, &settings).await.status, StatusCode::OK);

        let messages = smtp.messages();
        assert_eq!(messages.len(), 1, "{}", smtp.log());
        assert_eq!(
            mail_header(&messages[0], "X-RcptTo").as_deref(),
            Some("bob@example.org")
        );
        assert_eq!(
            mail_header(&messages[0], "Subject").as_deref(),
            Some("You were added to Backups on Overdue")
        );
        let mail = decoded(&messages[0]);
        let checks = settings.replace("/settings/", "/checks/");
        assert!(
            mail.contains(&format!("http://overdue.test{checks}")),
            "{mail}"
        );

        // A role change is no news by mail.
        invite(app, &mut owner, &settings, "bob@example.org", "manager").await;
        assert_eq!(
            role_of(app, &settings, "bob@example.org").await,
            Some(Role::Manager)
        );
        assert_eq!(smtp.messages().len(), 1);
    }
);

app_test!(
    without_smtp_the_page_says_so_and_shows_the_link_once,
    |app| {
        let mut owner = Browser::default();
        let settings = project(app, &mut owner, "Quiet").await;
        let response = invite(app, &mut owner, &settings, CAROL, "member").await;
        assert_eq!(response.status, StatusCode::OK);
        let text = response.text();
        assert!(
            text.contains("No email was sent: this site has no SMTP server"),
            "{text}"
        );
        let path = shown_link(&text);
        assert_eq!(
            invitations(app, &settings).await[0].token_hash,
            hash_secret(token_of(&path))
        );
        // Shown once.
        assert!(
            !owner
                .get(app, &settings)
                .await
                .text()
                .contains(token_of(&path))
        );

        let (mut carol, response) = sign_up_through(app, &path, PASSWORD).await;
        assert!(response.status.is_redirection(), "{}", response.text());
        assert_eq!(role_of(app, &settings, CAROL).await, Some(Role::Member));
        assert!(carol.get(app, &settings).await.status == StatusCode::OK);
    }
);

app_test!(expired_links_are_refused_and_change_nothing, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Later").await;
    let path = shown_link(
        &invite(app, &mut owner, &settings, CAROL, "member")
            .await
            .text(),
    );
    let mut carol = Browser::default();
    let form = carol.get(app, &path).await;
    assert_eq!(form.status, StatusCode::OK);

    app.clock.advance(chrono::Duration::days(7));
    let page = carol.get(app, &path).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text().contains("This invitation has expired"));
    let response = carol
        .post(
            app,
            &path,
            &[("csrf", &csrf_of(&form.text())), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status, StatusCode::GONE);
    assert!(!carol.has_session());
    assert_eq!(user_id(app, CAROL).await, None);
    // The manager sees it expired, and can invite again.
    let page = owner.get(app, &settings).await.text();
    assert!(page.contains(">expired<"), "{page}");
    let path = shown_link(
        &invite(app, &mut owner, &settings, CAROL, "member")
            .await
            .text(),
    );
    let (_, response) = sign_up_through(app, &path, PASSWORD).await;
    assert!(response.status.is_redirection());
});

app_test!(cancelled_invitations_are_refused, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Undo").await;
    let path = shown_link(
        &invite(app, &mut owner, &settings, CAROL, "member")
            .await
            .text(),
    );
    let id = invitations(app, &settings).await[0].id.to_string();

    let response = owner
        .submit(
            app,
            &settings,
            &settings,
            &[("action", "cancel-invitation"), ("invitation", &id)],
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.text().contains("The invitation is cancelled"));
    assert!(!response.text().contains(CAROL));
    assert!(invitations(app, &settings).await.is_empty());

    let (carol, response) = sign_up_through(app, &path, PASSWORD).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert!(!carol.has_session());
    assert_eq!(user_id(app, CAROL).await, None);

    // Cancelling again says so.
    let response = owner
        .submit(
            app,
            &settings,
            &settings,
            &[("action", "cancel-invitation"), ("invitation", &id)],
        )
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .contains("This invitation is no longer pending.")
    );
});

app_test!(inviting_again_replaces_the_link_and_role, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Twice").await;
    let first = shown_link(
        &invite(app, &mut owner, &settings, CAROL, "readonly")
            .await
            .text(),
    );
    let second = shown_link(
        &invite(app, &mut owner, &settings, CAROL, "manager")
            .await
            .text(),
    );
    assert_ne!(first, second);
    let stored = invitations(app, &settings).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].role, Role::Manager);

    let mut late = Browser::default();
    assert_eq!(late.get(app, &first).await.status, StatusCode::NOT_FOUND);
    let (_, response) = sign_up_through(app, &second, PASSWORD).await;
    assert!(response.status.is_redirection(), "{}", response.text());
    assert_eq!(role_of(app, &settings, CAROL).await, Some(Role::Manager));
});

app_test!(only_managers_invite_or_cancel, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Guarded").await;
    let mut bob = Browser::default();
    bob.sign_up(app, "bob@example.org", PASSWORD).await;
    invite(app, &mut owner, &settings, CAROL, "member").await;
    let pending = invitations(app, &settings).await;
    assert_eq!(pending.len(), 1);
    let id = pending[0].id.to_string();

    for role in ["readonly", "member"] {
        invite(app, &mut owner, &settings, "bob@example.org", role).await;
        let page = bob.get(app, &settings).await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(html.contains(CAROL), "members see who is invited");
        assert!(
            !html.contains("value=\"add-member\""),
            "{role}: no invite form"
        );
        assert!(
            !html.contains("value=\"cancel-invitation\""),
            "{role}: no cancel"
        );

        let response = invite(app, &mut bob, &settings, "dave@example.org", "manager").await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{role}");
        let response = bob
            .submit(
                app,
                &settings,
                &settings,
                &[("action", "cancel-invitation"), ("invitation", &id)],
            )
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{role}");
        assert_eq!(invitations(app, &settings).await, pending, "{role}");
    }

    // Strangers do not even see the project.
    let mut stranger = Browser::default();
    stranger.sign_up(app, "eve@example.org", PASSWORD).await;
    let token = csrf_of(&stranger.get(app, "/").await.text());
    let response = stranger
        .post(
            app,
            &settings,
            &[
                ("csrf", &token),
                ("action", "add-member"),
                ("member_email", "eve2@example.org"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    // Another project's managers cannot cancel this one's invitations.
    let other = stranger
        .submit(app, "/", "/projects/new/", &[("name", "Elsewhere")])
        .await;
    let other = other
        .header("location")
        .expect("location")
        .replace("/checks/", "/settings/");
    let response = stranger
        .submit(
            app,
            &other,
            &other,
            &[("action", "cancel-invitation"), ("invitation", &id)],
        )
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(invitations(app, &settings).await, pending);
});

app_test!(bad_addresses_and_roles_are_refused_by_their_field, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Strict").await;
    for bad in [
        "",
        "carol",
        "carol@example",
        "Carol <carol@example.org>",
        "a b@example.org",
    ] {
        let response = invite(app, &mut owner, &settings, bad, "member").await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad:?}");
        let html = response.text();
        assert!(
            html.contains("aria-invalid=\"true\" aria-describedby=\"member-error\""),
            "{bad:?}: {html}"
        );
        assert!(
            html.contains("id=\"member-error\">Enter a valid email address."),
            "{bad:?}"
        );
    }
    for bad in ["owner", "admin", ""] {
        let response = invite(app, &mut owner, &settings, CAROL, bad).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad:?}");
        let html = response.text();
        assert!(
            html.contains("aria-describedby=\"role-error\""),
            "{bad:?}: {html}"
        );
        assert!(html.contains("id=\"role-error\">Choose read-only, member or manager."));
        // What was typed stays in the field.
        assert!(html.contains(&format!("value=\"{CAROL}\"")), "{bad:?}");
    }
    let response = invite(app, &mut owner, &settings, EMAIL, "member").await;
    assert!(
        response
            .text()
            .contains("id=\"member-error\">You are a member already.")
    );
    assert!(invitations(app, &settings).await.is_empty());
    assert_eq!(user_id(app, CAROL).await, None);
});

app_test!(logged_in_people_join_only_with_the_invited_address, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Door").await;
    let path = shown_link(
        &invite(app, &mut owner, &settings, CAROL, "member")
            .await
            .text(),
    );

    // Someone else, logged in: refused, nothing used up.
    let mut bob = Browser::default();
    bob.sign_up(app, "bob@example.org", PASSWORD).await;
    let page = bob.get(app, &path).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let html = page.text();
    assert!(
        html.contains("This invitation is for someone else"),
        "{html}"
    );
    assert!(html.contains(CAROL) && html.contains("bob@example.org"));
    let response = bob.submit(app, &path, &path, &[]).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(role_of(app, &settings, "bob@example.org").await, None);
    assert_eq!(invitations(app, &settings).await.len(), 1);

    // Carol made an account meanwhile: logged in, one button joins.
    let mut carol = Browser::default();
    carol.sign_up(app, CAROL, PASSWORD).await;
    let page = carol.get(app, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("Join Door"));
    // A POST without the session's form token is refused.
    let response = carol.post(app, &path, &[("csrf", "forged")]).await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let response = carol.submit(app, &path, &path, &[]).await;
    assert_redirect(&response, &settings.replace("/settings/", "/checks/"));
    assert_eq!(role_of(app, &settings, CAROL).await, Some(Role::Member));
    assert!(invitations(app, &settings).await.is_empty());
});

app_test!(logged_out_people_with_an_account_log_in_to_join, |app| {
    let mut owner = Browser::default();
    let settings = project(app, &mut owner, "Porch").await;
    let path = shown_link(
        &invite(app, &mut owner, &settings, CAROL, "readonly")
            .await
            .text(),
    );
    let mut first = Browser::default();
    first.sign_up(app, CAROL, PASSWORD).await;

    let mut carol = Browser::default();
    let page = carol.get(app, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("has an account: log in to join"), "{html}");
    assert!(html.contains("autocomplete=\"current-password\""));

    let response = carol
        .submit(app, &path, &path, &[("password", "not the password")])
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .contains("id=\"password-error\">Incorrect password.")
    );
    assert!(!carol.has_session());
    assert_eq!(role_of(app, &settings, CAROL).await, None);

    let response = carol
        .submit(app, &path, &path, &[("password", PASSWORD)])
        .await;
    assert_redirect(&response, &settings.replace("/settings/", "/checks/"));
    assert!(carol.has_session());
    assert_eq!(role_of(app, &settings, CAROL).await, Some(Role::ReadOnly));
    assert_eq!(carol.get(app, &settings).await.status, StatusCode::OK);
});

app_test!(
    closed_registration_admits_the_invited_and_no_one_else,
    flags = ["--registration-open", "false"],
    |app| {
        // The first account is made by the operator, not through the site.
        let password_hash = overdue::keys::hash_password(PASSWORD);
        let session = NewSession {
            token_hash: hash_secret("unused"),
            csrf_token: "unused".to_owned(),
            expires_at: 0,
        };
        app.store
            .create_account(
                EMAIL,
                &password_hash,
                &overdue::keys::keyless_project("First"),
                &session,
                0,
            )
            .await
            .expect("create account")
            .expect("new account");
        let mut owner = Browser::default();
        owner.log_in(app, EMAIL, PASSWORD).await;
        assert!(owner.has_session());
        let settings = owner
            .submit(app, "/", "/projects/new/", &[("name", "Closed")])
            .await
            .header("location")
            .expect("location")
            .replace("/checks/", "/settings/");

        let path = shown_link(
            &invite(app, &mut owner, &settings, CAROL, "member")
                .await
                .text(),
        );
        let (mut carol, response) = sign_up_through(app, &path, PASSWORD).await;
        assert!(response.status.is_redirection(), "{}", response.text());
        assert_eq!(role_of(app, &settings, CAROL).await, Some(Role::Member));
        assert!(carol.get(app, &settings).await.status == StatusCode::OK);

        // Others still cannot sign up, neither on the signup page nor with a used link.
        let mut dave = Browser::default();
        assert_eq!(
            dave.get(app, "/accounts/signup/").await.status,
            StatusCode::FORBIDDEN
        );
        let response = dave
            .submit(
                app,
                "/accounts/login/",
                "/accounts/signup/",
                &[("email", "dave@example.org"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        let (_, response) = sign_up_through(app, &path, PASSWORD).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert_eq!(user_id(app, "dave@example.org").await, None);
    }
);

/// An account made through the store, with its own project.
async fn account(store: &overdue::store::Store, email: &str) -> overdue::store::UserRecord {
    let session = NewSession {
        token_hash: hash_secret(email),
        csrf_token: "unused".to_owned(),
        expires_at: 0,
    };
    let project = overdue::keys::keyless_project("Own");
    store
        .create_account(email, "hash", &project, &session, 0)
        .await
        .expect("create account")
        .expect("new account")
}

contract_test!(
    invitation_links_work_once_for_their_address_and_project,
    |store| {
        let created = crate::support::at("2024-01-01T00:00:00Z");
        let project = |name: &str| {
            let new = overdue::keys::keyless_project(name);
            async move { store.create_project(&new, created).await.expect("project") }
        };
        let (ours, theirs) = (project("Ours").await, project("Theirs").await);
        let owner = account(store, EMAIL).await;
        let invitation = |email: &str, role: Role, token: &str| NewInvitation {
            project_id: ours.id,
            email: email.to_owned(),
            role,
            token_hash: hash_secret(token),
            invited_by: owner.id,
            created: 1_000,
            expires_at: 2_000,
        };
        store
            .create_invitation(&invitation(CAROL, Role::Member, "t1"))
            .await
            .expect("invite");
        let pending = store.invitations_of_project(ours.id).await.expect("list");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].invited_by.as_deref(), Some(EMAIL));
        assert_eq!(pending[0].project_code, ours.code);

        // Another project sees nothing and cancels nothing.
        assert!(
            store
                .invitations_of_project(theirs.id)
                .await
                .expect("list")
                .is_empty()
        );
        assert!(
            !store
                .cancel_invitation(theirs.id, pending[0].id)
                .await
                .expect("cancel")
        );
        store
            .cancel_invitation_to(theirs.id, CAROL)
            .await
            .expect("cancel");
        assert_eq!(
            store
                .invitations_of_project(ours.id)
                .await
                .expect("list")
                .len(),
            1
        );

        // Not for another address, not once expired, not when the account exists (and then
        // nothing is used up).
        let bob = account(store, "bob@example.org").await;
        let t1 = hash_secret("t1");
        let not_valid = overdue::store::InvitationOutcome::NotValid;
        assert_eq!(
            store
                .accept_invitation(&t1, bob.id, &bob.email, 1_500)
                .await
                .expect("accept"),
            not_valid
        );
        let session = NewSession {
            token_hash: hash_secret("s"),
            csrf_token: "c".to_owned(),
            expires_at: 9_999,
        };
        assert_eq!(
            store
                .accept_invitation_with_signup(&t1, "hash", &session, 2_000)
                .await
                .expect("signup"),
            not_valid
        );
        let carol = account(store, CAROL).await;
        assert_eq!(
            store
                .accept_invitation_with_signup(&t1, "hash", &session, 1_500)
                .await
                .expect("signup"),
            overdue::store::InvitationOutcome::AccountExists
        );
        assert!(
            store
                .invitation_by_token(&t1)
                .await
                .expect("read")
                .is_some()
        );

        // Once, by the invited account.
        let joined = overdue::store::InvitationOutcome::Joined(ours.code);
        assert_eq!(
            store
                .accept_invitation(&t1, carol.id, CAROL, 1_500)
                .await
                .expect("accept"),
            joined
        );
        assert_eq!(
            store
                .accept_invitation(&t1, carol.id, CAROL, 1_500)
                .await
                .expect("accept"),
            not_valid
        );
        let role = store
            .project_of_member(ours.code, carol.id)
            .await
            .expect("member");
        assert_eq!(role.map(|(_, r)| r), Some(Role::Member));

        // A stale invitation neither demotes nor promotes a member.
        store
            .set_member(ours.id, bob.id, Role::Manager, 0)
            .await
            .expect("member");
        store
            .create_invitation(&invitation(&bob.email, Role::ReadOnly, "t2"))
            .await
            .expect("invite");
        assert_eq!(
            store
                .accept_invitation(&hash_secret("t2"), bob.id, &bob.email, 1_500)
                .await
                .expect("accept"),
            joined
        );
        let role = store
            .project_of_member(ours.code, bob.id)
            .await
            .expect("member");
        assert_eq!(role.map(|(_, r)| r), Some(Role::Manager));
    }
);

app_test!(
    a_refused_delivery_is_reported_with_the_link,
    flags = ["--smtp-url", "smtp://127.0.0.1:1"],
    |app| {
        let mut owner = Browser::default();
        let settings = project(app, &mut owner, "Unreachable").await;
        let response = invite(app, &mut owner, &settings, CAROL, "member").await;
        assert_eq!(response.status, StatusCode::OK);
        let text = response.text();
        assert!(
            text.contains("The invitation email could not be sent (Could not connect"),
            "{text}"
        );
        let path = shown_link(&text);
        let (_, response) = sign_up_through(app, &path, PASSWORD).await;
        assert!(response.status.is_redirection(), "{}", response.text());
        assert_eq!(role_of(app, &settings, CAROL).await, Some(Role::Member));
    }
);

app_test!(
    a_manager_may_send_only_so_many_invitations,
    flags = ["--rate-limits", "on", "--rate-limit-invite", "2/day"],
    |app| {
        let mut owner = Browser::default();
        let settings = project(app, &mut owner, "Limited").await;
        for address in ["a@example.org", "b@example.org"] {
            let response = invite(app, &mut owner, &settings, address, "member").await;
            assert_eq!(response.status, StatusCode::OK, "{address}");
        }
        let response = invite(app, &mut owner, &settings, CAROL, "member").await;
        assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            response.text().contains(
                "id=\"member-error\">You have sent as many invitations as you may for now."
            ),
            "{}",
            response.text()
        );
        let pending: Vec<String> = invitations(app, &settings)
            .await
            .into_iter()
            .map(|i| i.email)
            .collect();
        assert_eq!(pending, ["a@example.org", "b@example.org"]);
    }
);
