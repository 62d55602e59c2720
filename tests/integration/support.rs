//! Test databases: a fresh SQLite file per test, and a fresh PostgreSQL database per test
//! (copied from a migrated template) when `TEST_DATABASE_URL` is set. On top of them,
//! [`TestApp`]: the whole HTTP application with a fake clock, called without a socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use overdue::alerts::deadlines::DeadlineLoop;
use overdue::alerts::dispatch::Dispatcher;
use overdue::alerts::leases::Leases;
use overdue::app::{App, transports};
use overdue::clock::{Clock, FakeClock};
use overdue::config::Config;
use overdue::keys::{ProjectKeys, new_project};
use overdue::store::{CheckRecord, FlipRecord, PingRecord, ProjectRecord, Store};
use serde_json::Value;
use sqlx::Connection;
use tokio::sync::OnceCell;
use tower::ServiceExt;
use uuid::Uuid;

/// A migrated, empty store that is removed when dropped.
pub struct TestDb {
    pub store: Store,
    /// The database's URL, for opening it again (e.g. as an [`App`]).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("overdue.db").display());
        let store = Store::connect(&url).await.expect("open SQLite");
        store.migrate().await.expect("migrate SQLite");
        TestDb {
            store,
            url,
            _dir: Some(dir),
            postgres_name: None,
        }
    }

    /// `None` when `TEST_DATABASE_URL` is unset; panics if it is set but unusable.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var("TEST_DATABASE_URL").ok()?;
        let template = TEMPLATE.get_or_init(|| create_template(&admin_url)).await;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("{template}_{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to TEST_DATABASE_URL");
        execute(
            &mut admin,
            &format!("create database {name} template {template}"),
        )
        .await;
        admin.close().await.ok();
        let url = database_url(&admin_url, &name);
        let store = Store::connect(&url).await.expect("open test database");
        Some(TestDb {
            store,
            url,
            _dir: None,
            postgres_name: Some(name),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (Some(name), Ok(admin_url)) = (
            self.postgres_name.take(),
            std::env::var("TEST_DATABASE_URL"),
        ) else {
            return;
        };
        // Dropping runs outside the test's runtime, which may be shutting down.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let sql = format!("drop database if exists {name} with (force)");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await
                        .ok();
                }
            });
        })
        .join()
        .ok();
    }
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// `postgres://host/db?x` with the database name replaced.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

async fn execute(conn: &mut sqlx::PgConnection, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Migrates a template database once per test run; earlier runs' leftovers are removed.
async fn create_template(admin_url: &str) -> String {
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    let stale: Vec<(String,)> =
        sqlx::query_as("select datname from pg_database where datname like 'overdue_test_%'")
            .fetch_all(&mut admin)
            .await
            .expect("list databases");
    for (name,) in stale {
        // Left by a test run that has ended: another run may be going on alongside.
        let pid = name
            .trim_start_matches("overdue_test_")
            .split('_')
            .next()
            .unwrap_or_default();
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        execute(
            &mut admin,
            &format!("drop database if exists {name} with (force)"),
        )
        .await;
    }
    let template = format!("overdue_test_{}", std::process::id());
    execute(&mut admin, &format!("create database {template}")).await;
    admin.close().await.ok();

    let store = Store::connect(&database_url(admin_url, &template))
        .await
        .expect("open template");
    store.migrate().await.expect("migrate template");
    store.close().await;
    template
}

/// Defines one test per engine: `name::sqlite` and `name::postgres`.
macro_rules! contract_test {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($store: &overdue::store::Store) $body

            #[tokio::test]
            async fn sqlite() {
                let db = $crate::support::TestDb::sqlite().await;
                run(&db.store).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = $crate::support::TestDb::postgres().await else {
                    eprintln!("skipped: TEST_DATABASE_URL is not set");
                    return;
                };
                run(&db.store).await;
            }
        }
    };
}
pub(crate) use contract_test;

/// The site root every [`TestApp`] is configured with.
pub const SITE_ROOT: &str = "http://overdue.test";

/// The client address of requests that do not set one.
pub const DEFAULT_PEER: &str = "192.0.2.10:5555";

/// Where every [`TestApp`]'s clock starts.
pub const START: &str = "2024-03-01T10:00:00Z";

/// A test instant, e.g. `at("2024-03-01T10:00:00Z")`.
pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test instant")
}

/// A request from `peer` (`"10.1.2.3:4444"`), as the server's connection info reports it.
pub fn from_peer(mut request: Request<Body>, peer: &str) -> Request<Body> {
    let peer: SocketAddr = peer.parse().expect("peer address");
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

/// An answer, read to the end.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// A header's value as text; `None` if absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }
}

/// The application on a [`TestDb`], with a [`FakeClock`] and a project to work in.
///
/// Requests go straight to the router (`tower::ServiceExt::oneshot`), with
/// [`DEFAULT_PEER`] as the client address unless the request carries its own.
pub struct TestApp {
    pub router: axum::Router,
    /// The application's own store (the one its ping writers use).
    pub store: Store,
    pub clock: Arc<FakeClock>,
    pub project: ProjectRecord,
    pub keys: ProjectKeys,
    /// Holds the background ping writers; they stop once the router is dropped.
    _app: App,
    // Last, so the database outlives the application's connections.
    db: TestDb,
}

impl TestApp {
    /// On a fresh SQLite database; `flags` are added to the command line
    /// (`--database-url` and `--site-root` are set already).
    pub async fn sqlite(flags: &[&str]) -> TestApp {
        TestApp::on(TestDb::sqlite().await, flags).await
    }

    /// On a fresh PostgreSQL database; `None` when `TEST_DATABASE_URL` is unset.
    pub async fn postgres(flags: &[&str]) -> Option<TestApp> {
        Some(TestApp::on(TestDb::postgres().await?, flags).await)
    }

    async fn on(db: TestDb, flags: &[&str]) -> TestApp {
        let mut args = vec!["--database-url", db.url.as_str(), "--site-root", SITE_ROOT];
        // Tests send many requests from one address; the rate-limit tests turn limits on.
        if !flags.contains(&"--rate-limits") {
            args.extend(["--rate-limits", "off"]);
        }
        args.extend_from_slice(flags);
        let config = Config::from_flags(args).expect("test flags");
        let clock = Arc::new(FakeClock::new(at(START)));
        let app = App::build_with(config, Arc::clone(&clock) as Arc<dyn Clock>, false)
            .await
            .expect("build app");
        let router = overdue::http::router(app.state.clone());
        let store = app.state.store.clone();
        let (new, keys) = new_project("Test project");
        let project = store
            .create_project(&new, clock.now())
            .await
            .expect("create project");
        TestApp {
            router,
            store,
            clock,
            project,
            keys,
            _app: app,
            db,
        }
    }

    /// A second project with keys of its own, for isolation tests.
    pub async fn other_project(&self) -> (ProjectRecord, ProjectKeys) {
        let (new, keys) = new_project("Other project");
        let project = self
            .store
            .create_project(&new, self.now())
            .await
            .expect("create project");
        (project, keys)
    }

    /// The fake clock's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Sends a request through the router and reads the whole answer.
    pub async fn send(&self, mut request: Request<Body>) -> TestResponse {
        if request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
        {
            request = from_peer(request, DEFAULT_PEER);
        }
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("read body").to_bytes();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// A request without a body: `app.request("GET", "/ping/…")`.
    pub async fn request(&self, method: &str, uri: &str) -> TestResponse {
        self.request_with_body(method, uri, Vec::new()).await
    }

    pub async fn request_with_body(
        &self,
        method: &str,
        uri: &str,
        body: impl Into<Body>,
    ) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(body.into())
            .expect("request");
        self.send(request).await
    }

    /// A Management API request with the project's read-write key.
    pub async fn api(&self, method: &str, uri: &str, body: Option<&Value>) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("x-api-key", self.keys.api_key.as_str())
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        self.send(request).await
    }

    /// `GET /api/v<version>/checks/<uuid>`, as JSON.
    pub async fn api_check(&self, version: u8, check: &CheckRecord) -> Value {
        let response = self
            .api(
                "GET",
                &format!("/api/v{version}/checks/{}", check.code),
                None,
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()
    }

    /// Creates a check through `POST /api/v3/checks/`.
    pub async fn create_check(&self, spec: &Value) -> CheckRecord {
        let response = self.api("POST", "/api/v3/checks/", Some(spec)).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        let code = response.json()["uuid"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .expect("uuid in answer");
        self.check_by_code(code).await
    }

    /// Changes a check through `POST /api/v3/checks/<uuid>`.
    pub async fn update_check(&self, check: &CheckRecord, spec: &Value) -> CheckRecord {
        let uri = format!("/api/v3/checks/{}", check.code);
        let response = self.api("POST", &uri, Some(spec)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        self.reload(check).await
    }

    /// Inserts a check of the project through the store, shaped by `change`.
    pub async fn insert_check(&self, change: impl FnOnce(&mut CheckRecord)) -> CheckRecord {
        let mut check = CheckRecord::new(self.project.id, self.now());
        change(&mut check);
        check.alert_after = check.state.going_down_after();
        self.store.create_check(&check).await.expect("create check")
    }

    /// Changes a stored check directly (e.g. to pause it).
    pub async fn modify_check(
        &self,
        check: &CheckRecord,
        change: impl FnOnce(&mut CheckRecord) + Send,
    ) -> CheckRecord {
        self.store
            .modify_check(check.id, change)
            .await
            .expect("modify check")
            .expect("check exists")
    }

    pub async fn check_by_code(&self, code: Uuid) -> CheckRecord {
        self.store
            .check_by_code(code)
            .await
            .expect("load check")
            .expect("check exists")
    }

    /// The check as stored now.
    pub async fn reload(&self, check: &CheckRecord) -> CheckRecord {
        self.check_by_code(check.code).await
    }

    /// The project's checks.
    pub async fn checks(&self) -> Vec<CheckRecord> {
        self.store
            .checks_in_project(self.project.id)
            .await
            .expect("list checks")
    }

    /// The check's pings, newest first.
    pub async fn pings(&self, check: &CheckRecord) -> Vec<PingRecord> {
        self.store.pings(check.id, 1000).await.expect("pings")
    }

    /// The check's only ping.
    pub async fn only_ping(&self, check: &CheckRecord) -> PingRecord {
        let mut pings = self.pings(check).await;
        assert_eq!(pings.len(), 1, "pings: {pings:?}");
        pings.remove(0)
    }

    /// The check's flips, newest first.
    pub async fn flips(&self, check: &CheckRecord) -> Vec<FlipRecord> {
        self.store.flips(check.id).await.expect("flips")
    }

    /// A deadline loop over the application's store and clock, with a holder of its own
    /// and leases lasting `ttl_seconds`.
    pub fn deadline_loop(&self, ttl_seconds: i64) -> DeadlineLoop {
        DeadlineLoop::new(
            self.store.clone(),
            Arc::clone(&self.clock) as Arc<dyn Clock>,
            Leases::new(
                Uuid::new_v4().to_string(),
                chrono::Duration::seconds(ttl_seconds),
            ),
        )
    }

    /// A dispatcher with the transports the application's settings describe.
    pub fn dispatcher(&self) -> Dispatcher {
        let transports = transports(&self._app.state.config).expect("transports");
        Dispatcher::new(
            self.store.clone(),
            Arc::clone(&self.clock) as Arc<dyn Clock>,
            Arc::new(transports),
        )
    }

    /// Creates a channel through `POST /api/v3/channels/`; returns its JSON.
    pub async fn create_channel(&self, spec: &Value) -> Value {
        let response = self.api("POST", "/api/v3/channels/", Some(spec)).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
        response.json()
    }

    /// A webhook channel posting to `url`/down and `url`/up.
    pub async fn create_webhook(&self, url: &str) -> Value {
        self.create_channel(&serde_json::json!({
            "name": "hook",
            "kind": "webhook",
            "webhook": {
                "method_down": "POST",
                "url_down": format!("{url}/down/$CODE"),
                "body_down": "$NAME is $STATUS",
                "headers_down": {"X-Check": "$NAME"},
                "method_up": "GET",
                "url_up": format!("{url}/up/$CODE"),
                "body_up": "",
                "headers_up": {},
            }
        }))
        .await
    }

    /// Sets the project's check limit, which the store API cannot change.
    pub async fn set_check_limit(&self, limit: i64) {
        let sql = "update projects set check_limit = $1 where id = $2";
        match &self.store {
            Store::Sqlite(_) => {
                let mut conn = sqlx::SqliteConnection::connect(&self.db.url)
                    .await
                    .expect("connect to SQLite");
                sqlx::query(sql)
                    .bind(limit)
                    .bind(self.project.id)
                    .execute(&mut conn)
                    .await
                    .expect("set check limit");
                conn.close().await.ok();
            }
            Store::Postgres(_) => {
                let mut conn = sqlx::PgConnection::connect(&self.db.url)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(sql)
                    .bind(limit)
                    .bind(self.project.id)
                    .execute(&mut conn)
                    .await
                    .expect("set check limit");
                conn.close().await.ok();
            }
        }
    }
}

/// Defines one application test per engine: `name::sqlite` and `name::postgres`. Optional
/// attributes (e.g. `#[ignore = "…"]`) apply to both; `flags = [...]` are added to the
/// application's command line.
macro_rules! app_test {
    ($(#[$meta:meta])* $name:ident, |$app:ident| $body:block) => {
        $crate::support::app_test!($(#[$meta])* $name, flags = [], |$app| $body);
    };
    ($(#[$meta:meta])* $name:ident, flags = [$($flag:expr),* $(,)?], |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &$crate::support::TestApp) $body

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::support::TestApp::sqlite(&[$($flag),*]).await;
                run(&app).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::support::TestApp::postgres(&[$($flag),*]).await else {
                    eprintln!("skipped: TEST_DATABASE_URL is not set");
                    return;
                };
                run(&app).await;
            }
        }
    };
}
pub(crate) use app_test;

/// A request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A real HTTP server on loopback that records every request and answers each with the
/// next status of its script (200 once the script runs out).
pub struct Receiver {
    pub url: String,
    received: Arc<std::sync::Mutex<Vec<Received>>>,
    script: Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let script = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let (log, answers) = (Arc::clone(&received), Arc::clone(&script));
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let (log, answers) = (Arc::clone(&log), Arc::clone(&answers));
            async move {
                let (parts, body) = request.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(http_body_util::Collected::to_bytes)
                    .unwrap_or_default();
                log.lock().expect("log").push(Received {
                    method: parts.method.to_string(),
                    path: parts.uri.to_string(),
                    headers: parts.headers,
                    body,
                });
                let status = answers.lock().expect("script").pop_front().unwrap_or(200);
                StatusCode::from_u16(status).expect("status")
            }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Receiver {
            url,
            received,
            script,
            task,
        }
    }

    /// The statuses to answer the next requests with.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.script.lock().expect("script").extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A real SMTP server (Python's aiosmtpd) delivering into a Maildir; killed when dropped.
pub struct Aiosmtpd {
    child: std::process::Child,
    pub url: String,
    maildir: std::path::PathBuf,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Aiosmtpd {
    /// Starts aiosmtpd on a free loopback port. `None` (the test is skipped) when it is not
    /// installed, unless `OVERDUE_REQUIRE_SMTP=1` (CI) makes that a failure.
    pub fn start() -> Option<Aiosmtpd> {
        use std::process::{Command, Stdio};
        let installed = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var("OVERDUE_REQUIRE_SMTP").as_deref() != Ok("1"),
                "OVERDUE_REQUIRE_SMTP=1 but aiosmtpd is not installed (pip install aiosmtpd)"
            );
            eprintln!("skipped: aiosmtpd is not installed (pip install aiosmtpd)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("maildir");
        let log = dir.path().join("aiosmtpd.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start aiosmtpd");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("aiosmtpd exited ({status})");
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "aiosmtpd did not listen within 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(Aiosmtpd {
            child,
            url: format!("smtp://127.0.0.1:{port}"),
            maildir,
            log,
            _dir: dir,
        })
    }

    /// The messages delivered so far, oldest first, as raw text with LF line ends.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| (e.metadata().and_then(|m| m.modified()).ok(), e.path()))
            .collect();
        files.sort();
        files
            .iter()
            .map(|(_, path)| {
                String::from_utf8_lossy(&std::fs::read(path).expect("message"))
                    .replace("\r\n", "\n")
            })
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of a message's header, unfolded.
pub fn mail_header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\n\n").next().unwrap_or_default();
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

// Email pings: the SMTP listener in-process, and swaks as an independent client.

impl TestApp {
    /// Starts the SMTP listener on a free loopback port, with the application's settings
    /// (its flags) and state; it runs until `cancel` is cancelled or the test ends.
    pub async fn start_smtp_until(
        &self,
        cancel: tokio_util::sync::CancellationToken,
    ) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP listener");
        let address = listener.local_addr().expect("listener address");
        let task = tokio::spawn(overdue::smtp::serve(
            listener,
            self._app.state.clone(),
            cancel,
        ));
        (address, task)
    }

    /// Starts the SMTP listener for the rest of the test; returns its address.
    pub async fn start_smtp(&self) -> SocketAddr {
        self.start_smtp_until(tokio_util::sync::CancellationToken::new())
            .await
            .0
    }
}

/// The swaks program (Debian `swaks`), or `None` (the test is skipped) when it is not
/// installed, unless `OVERDUE_REQUIRE_SWAKS=1` (CI) makes that a failure.
pub fn swaks() -> Option<&'static str> {
    let installed = std::process::Command::new("swaks")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            std::env::var("OVERDUE_REQUIRE_SWAKS").as_deref() != Ok("1"),
            "OVERDUE_REQUIRE_SWAKS=1 but swaks is not installed (apt-get install swaks)"
        );
        eprintln!("skipped: swaks is not installed (apt-get install swaks)");
        return None;
    }
    Some("swaks")
}
