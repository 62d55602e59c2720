//! Several `overdue serve` processes on one database, one killed and one frozen past its
//! lease while checks fall due: every check still goes down exactly once and up exactly
//! once, and the webhook receiver hears of every change.
//!
//! Runs the real binary, on PostgreSQL (three processes, when `TEST_DATABASE_URL` is set)
//! and on one SQLite file (two processes). Bounded: a couple of minutes at most.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Receiver, TestDb};

const CHECKS: usize = 500;
/// Seconds; the frozen process stays stopped for more than three of these.
const LEASE_TTL: u64 = 2;

/// A running `overdue serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(db_url: &str, dir: &std::path::Path, n: usize) -> Server {
        let port = free_port();
        let log = std::fs::File::create(dir.join(format!("server-{n}.log"))).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_overdue"))
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("OVERDUE_LISTEN", format!("127.0.0.1:{port}"))
            .env("OVERDUE_LEASE_TTL", LEASE_TTL.to_string())
            .env("OVERDUE_MIN_TIMEOUT", "1")
            .env("OVERDUE_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("OVERDUE_RATE_LIMITS", "off")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start overdue serve");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Api {
    http: reqwest::Client,
    key: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, url)
            .header("x-api-key", &self.key);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{url}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

async fn wait_until_up(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if reqwest::get(format!("{}/api/v3/status/", server.base))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} did not come up", server.base);
}

/// Waits (at most `limit`) until `done` holds, polling.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What the chaos does to the processes once the checks have been pinged.
#[derive(Clone, Copy)]
enum Script {
    /// Kill the first process, freeze the second past its lease, let the rest run.
    KillOneFreezeOne,
}

async fn run(db_url: &str, processes: usize, script: Script) {
    let dir = tempfile::tempdir().expect("temp dir");
    let receiver = Receiver::start().await;
    let mut servers = Vec::new();
    for n in 0..processes {
        // One at a time, so the first applies the migrations alone.
        let server = Server::start(db_url, dir.path(), n);
        wait_until_up(&server).await;
        servers.push(server);
    }
    let created = Command::new(env!("CARGO_BIN_EXE_overdue"))
        .args(["project", "create", "--name", "chaos"])
        .env("DATABASE_URL", db_url)
        .output()
        .expect("project create");
    assert!(created.status.success());
    let project: Value = serde_json::from_slice(&created.stdout).expect("project JSON");
    let api = Api {
        http: reqwest::Client::new(),
        key: project["api_key"].as_str().expect("api key").to_owned(),
    };
    let base = |n: usize| servers[n % servers.len()].base.clone();
    api.call(
        reqwest::Method::POST,
        &format!("{}/api/v3/channels/", base(0)),
        Some(json!({
            "name": "receiver",
            "kind": "webhook",
            "webhook": {
                "method_down": "POST", "url_down": format!("{}/down/$CODE", receiver.url),
                "method_up": "POST", "url_up": format!("{}/up/$CODE", receiver.url),
            }
        })),
    )
    .await;
    let mut codes = Vec::with_capacity(CHECKS);
    for i in 0..CHECKS {
        let check = api
            .call(
                reqwest::Method::POST,
                &format!("{}/api/v3/checks/", base(i)),
                Some(json!({"name": format!("c{i}"), "timeout": 2, "grace": 2, "channels": "*"})),
            )
            .await;
        codes.push(check["uuid"].as_str().expect("uuid").to_owned());
    }
    let ping_all = |codes: Vec<String>, bases: Vec<String>| async move {
        for (i, code) in codes.iter().enumerate() {
            let url = format!("{}/ping/{code}", bases[i % bases.len()]);
            let response = reqwest::get(&url).await.expect("ping");
            assert!(response.status().is_success(), "{url}");
        }
    };
    let all_bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    ping_all(codes.clone(), all_bases).await;

    // The checks fall due 4 s after their pings; the chaos starts before that.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let survivors: Vec<String> = match script {
        Script::KillOneFreezeOne => {
            servers[0].signal("-KILL");
            servers[1].signal("-STOP");
            tokio::time::sleep(Duration::from_secs(4 * LEASE_TTL)).await;
            servers[1].signal("-CONT");
            servers[1..].iter().map(|s| s.base.clone()).collect()
        }
    };

    let survivor = survivors[survivors.len() - 1].clone();
    let list_url = format!("{survivor}/api/v3/checks/");
    eventually(
        "every check to go down",
        Duration::from_secs(60),
        || async {
            let list = api.call(reqwest::Method::GET, &list_url, None).await;
            list["checks"]
                .as_array()
                .is_some_and(|c| c.iter().all(|c| c["status"] == "down"))
        },
    )
    .await;

    // Up again, for good: a long period first (an API update changes no status), then a ping.
    for (i, code) in codes.iter().enumerate() {
        let url = format!("{}/api/v3/checks/{code}", survivors[i % survivors.len()]);
        api.call(reqwest::Method::POST, &url, Some(json!({"timeout": 3600})))
            .await;
    }
    ping_all(codes.clone(), survivors.clone()).await;

    eventually(
        "the receiver to hear of every flip",
        Duration::from_secs(90),
        || async {
            let heard = distinct_ids(&receiver);
            codes.iter().all(|code| {
                heard
                    .get(&format!("/down/{code}"))
                    .is_some_and(|ids| !ids.is_empty())
                    && heard
                        .get(&format!("/up/{code}"))
                        .is_some_and(|ids| !ids.is_empty())
            })
        },
    )
    .await;

    for (i, code) in codes.iter().enumerate() {
        let url = format!(
            "{}/api/v3/checks/{code}/flips/",
            survivors[i % survivors.len()]
        );
        let flips = api.call(reqwest::Method::GET, &url, None).await;
        let ups: Vec<i64> = flips["flips"]
            .as_array()
            .expect("flips")
            .iter()
            .map(|f| f["up"].as_i64().unwrap_or(-1))
            .collect();
        // Newest first: up again, down once, up at the first ping.
        assert_eq!(ups, [1, 0, 1], "flips of {code}");
    }
    let heard = distinct_ids(&receiver);
    let received = receiver.received().len();
    let distinct: usize = heard.values().map(HashSet::len).sum();
    for (path, ids) in &heard {
        assert_eq!(
            ids.len(),
            1,
            "{path}: one notification per flip, got {ids:?}"
        );
    }
    assert_eq!(distinct, 2 * CHECKS);
    eprintln!(
        "chaos ({processes} processes): {distinct} notifications, {received} deliveries, {} duplicates",
        received - distinct
    );
}

/// The distinct `webhook-id`s the receiver got, per path.
fn distinct_ids(receiver: &Receiver) -> HashMap<String, HashSet<String>> {
    let mut heard: HashMap<String, HashSet<String>> = HashMap::new();
    for r in receiver.received() {
        let id = r.header("webhook-id").unwrap_or_default().to_owned();
        heard.entry(r.path.clone()).or_default().insert(id);
    }
    heard
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_postgresql_survive_a_kill_and_a_freeze() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    db.store.close().await;
    run(&db.url, 3, Script::KillOneFreezeOne).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_sqlite_file_survive_a_kill_and_a_freeze() {
    let db = TestDb::sqlite().await;
    db.store.close().await;
    run(&db.url, 2, Script::KillOneFreezeOne).await;
}

/// SIGTERM: the process stops serving, releases its leases and leaves, and exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_the_leases() {
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start(&db.url, dir.path(), 0);
    wait_until_up(&server).await;
    eventually(
        "the server to take every lease",
        Duration::from_secs(10),
        || async {
            db.store
                .leases()
                .await
                .expect("leases")
                .iter()
                .all(|(_, holder, _)| holder.is_some())
        },
    )
    .await;
    server.signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit within 15 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let leases = db.store.leases().await.expect("leases");
    assert!(
        leases
            .iter()
            .all(|(_, holder, expires)| holder.is_none() && *expires == 0),
        "{leases:?}"
    );
    assert_eq!(
        db.store.heartbeat("probe", 0, 1).await.expect("alive"),
        1,
        "only the probe is left"
    );
}
