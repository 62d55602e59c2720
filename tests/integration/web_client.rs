//! A browser without a browser, for dashboard tests over HTTP: it keeps cookies and sends
//! forms with their CSRF tokens.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, header};
use overdue::store::Role;

use crate::support::{TestApp, TestResponse};

pub const EMAIL: &str = "alice@example.org";
pub const PASSWORD: &str = "correct horse battery";

/// A browser: keeps the cookies it is given and sends them back.
#[derive(Default)]
pub struct Browser {
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    pub async fn send(
        &mut self,
        app: &TestApp,
        request: axum::http::request::Builder,
        body: Body,
    ) -> TestResponse {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let request = if cookie.is_empty() {
            request
        } else {
            request.header(header::COOKIE, cookie.join("; "))
        };
        let response = app.send(request.body(body).expect("request")).await;
        for set in response.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().expect("ASCII cookie");
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    pub async fn get(&mut self, app: &TestApp, uri: &str) -> TestResponse {
        self.send(app, Request::builder().uri(uri), Body::empty())
            .await
    }

    /// Posts a form; `fields` are URL-encoded.
    pub async fn post(
        &mut self,
        app: &TestApp,
        uri: &str,
        fields: &[(&str, &str)],
    ) -> TestResponse {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = Request::builder()
            .method("POST")
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(app, request, Body::from(body)).await
    }

    /// Opens a page with a form and sends it with the page's CSRF token.
    pub async fn submit(
        &mut self,
        app: &TestApp,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> TestResponse {
        let form = self.get(app, page).await;
        let token = csrf_of(&form.text());
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(app, action, &all).await
    }

    pub async fn sign_up(&mut self, app: &TestApp, email: &str, password: &str) -> TestResponse {
        self.submit(
            app,
            "/accounts/signup/",
            "/accounts/signup/",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn log_in(&mut self, app: &TestApp, email: &str, password: &str) -> TestResponse {
        self.submit(
            app,
            "/accounts/login/",
            "/accounts/login/",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Follows a redirect, as a browser does after a form, and gives the page it leads to.
    pub async fn follow(&mut self, app: &TestApp, response: &TestResponse) -> TestResponse {
        assert!(
            response.status.is_redirection(),
            "{} {}",
            response.status,
            response.text()
        );
        let to = response.header("location").expect("location").to_owned();
        self.get(app, &to).await
    }

    pub fn has_session(&self) -> bool {
        self.cookies.contains_key("overdue_session")
    }
}

/// Signs `email` up and makes them a member of the project with `role`; their browser.
pub async fn member_of(app: &TestApp, project_id: i64, email: &str, role: Role) -> Browser {
    let mut browser = Browser::default();
    browser.sign_up(app, email, PASSWORD).await;
    let user = app
        .store
        .user_by_email(email)
        .await
        .expect("read")
        .expect("user");
    app.store
        .set_member(project_id, user.id, role, 0)
        .await
        .expect("member");
    browser
}

/// The value of the page's hidden `csrf` field.
pub fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[start..].split('"').next().expect("value").to_owned()
}

pub fn assert_redirect(response: &TestResponse, to: &str) {
    assert!(
        response.status.is_redirection(),
        "{} {}",
        response.status,
        response.text()
    );
    assert_eq!(response.header("location"), Some(to));
}
