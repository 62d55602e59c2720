//! Alert latency: how long after a check's deadline its webhook arrives.
//!
//!     cargo bench --bench alert_latency -- sqlite|postgres [checks=100000]
//!
//! Prepares a database with `checks` checks (PostgreSQL: a fresh database on
//! `TEST_DATABASE_URL`'s server, dropped afterwards), all notifying one webhook channel
//! that points at a receiver in this process. 1,000 checks fall due one after another,
//! 15 ms apart; then 10,000 fall due in the same second; the rest are due tomorrow. Then it
//! starts the release `overdue serve` on that database and records when each webhook
//! arrives. Prints the latency from deadline to arrival for the single checks (p50, p99,
//! max) and how long the burst took to be delivered in full. Loopback only.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use chrono::{DateTime, Utc};
use overdue::keys::new_project;
use overdue::store::{ChannelRecord, Store};
use sqlx::Connection;
use uuid::Uuid;

const SINGLES: i64 = 1_000;
const SINGLE_SPACING_MS: i64 = 15;
const BURST: i64 = 10_000;
/// From the start of the server to the first deadline.
const LEAD_MS: i64 = 10_000;
/// From the first single deadline to the burst.
const BURST_AFTER_MS: i64 = 20_000;

type Arrivals = Arc<Mutex<HashMap<Uuid, DateTime<Utc>>>>;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Inserts `total` up checks whose deadlines are given by their row number, in one
/// statement per engine; returns the deadline of each check that falls due during the run.
async fn prepare(
    store: &Store,
    url: &str,
    total: i64,
    t0: i64,
    receiver: &str,
) -> HashMap<Uuid, i64> {
    let now = Utc::now();
    let (project, _) = new_project("latency");
    let project = store.create_project(&project, now).await.expect("project");
    let value = serde_json::json!({
        "method_down": "POST", "url_down": format!("{receiver}/down/$CODE"),
        "body_down": "", "headers_down": {},
        "method_up": "GET", "url_up": "", "body_up": "", "headers_up": {},
    });
    let channel = ChannelRecord {
        id: 0,
        code: Uuid::new_v4(),
        project_id: project.id,
        name: "receiver".into(),
        kind: "webhook".into(),
        value: value.to_string(),
        secret: overdue::alerts::webhook::new_secret(),
        email_verified: false,
        verify_token_hash: String::new(),
        disabled: false,
        last_notify: None,
        last_notify_duration: None,
        last_error: String::new(),
        created: now.timestamp_millis(),
    };
    let channel = store.create_channel(&channel).await.expect("channel");
    // alert_after by row number n: singles 15 ms apart from t0, then the burst, then tomorrow.
    let deadline = format!(
        "case when n <= {SINGLES} then {t0} + (n - 1) * {SINGLE_SPACING_MS} \
         when n <= {} then {} else {} end",
        SINGLES + BURST,
        t0 + BURST_AFTER_MS,
        t0 + 86_400_000
    );
    let columns = "code, project_id, name, timeout, grace, badge_key, n_pings, last_ping, \
                   alert_after, status, created";
    let insert = match store {
        Store::Sqlite(_) => format!(
            "with recursive s(n) as (select 1 union all select n + 1 from s where n < {total}) \
             insert into checks ({columns}) select randomblob(16), {}, 'c' || n, 60, 60, \
             randomblob(16), 1, ({deadline}) - 120000, {deadline}, 'up', {} from s",
            project.id,
            now.timestamp_millis()
        ),
        Store::Postgres(_) => format!(
            "insert into checks ({columns}) select gen_random_uuid(), {}, 'c' || n, 60, 60, \
             gen_random_uuid(), 1, ({deadline}) - 120000, {deadline}, 'up', {} \
             from generate_series(1, {total}) as n",
            project.id,
            now.timestamp_millis()
        ),
    };
    let assign = format!(
        "insert into check_channels (check_id, channel_id) select id, {} from checks",
        channel.id
    );
    let due = format!(
        "select code, alert_after from checks where alert_after < {}",
        t0 + 86_400_000
    );
    match store {
        Store::Sqlite(_) => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
            for sql in [insert, assign] {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .expect("insert");
            }
            sqlx::query_as(sqlx::AssertSqlSafe(due))
                .fetch_all(&mut conn)
                .await
                .expect("due")
        }
        Store::Postgres(_) => {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            for sql in [insert, assign, "analyze".to_owned()] {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .expect("insert");
            }
            sqlx::query_as(sqlx::AssertSqlSafe(due))
                .fetch_all(&mut conn)
                .await
                .expect("due")
        }
    }
    .into_iter()
    .collect()
}

async fn receiver(arrivals: Arrivals) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let app = axum::Router::new().route(
        "/down/{code}",
        axum::routing::post(move |Path(code): Path<Uuid>| {
            let arrivals = Arc::clone(&arrivals);
            async move {
                arrivals
                    .lock()
                    .expect("arrivals")
                    .entry(code)
                    .or_insert_with(Utc::now);
                "OK"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    url
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let engine = args.first().map_or("sqlite", String::as_str).to_owned();
    let total: i64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    assert!(
        total >= SINGLES + BURST,
        "at least {} checks",
        SINGLES + BURST
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let (url, admin) = match engine.as_str() {
        "sqlite" => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            None,
        ),
        "postgres" => {
            let admin = std::env::var("TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let name = format!("overdue_latency_{}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("admin");
            sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
                .execute(&mut conn)
                .await
                .expect("create database");
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), Some((admin.clone(), name)))
        }
        other => panic!("engine must be sqlite or postgres, not {other}"),
    };

    let arrivals: Arrivals = Arc::default();
    let receiver_url = receiver(Arc::clone(&arrivals)).await;
    let store = Store::connect(&url).await.expect("open");
    store.migrate().await.expect("migrate");
    let t0 = Utc::now().timestamp_millis() + LEAD_MS + total / 5;
    eprintln!("preparing {total} checks on {engine}…");
    let deadlines = prepare(&store, &url, total, t0, &receiver_url).await;
    store.close().await;
    assert_eq!(
        deadlines.len(),
        usize::try_from(SINGLES + BURST).unwrap_or(0)
    );
    let lead = t0 - Utc::now().timestamp_millis();
    assert!(lead > 3_000, "preparing took too long ({lead} ms to spare)");

    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_overdue"))
            .arg("serve")
            .env("DATABASE_URL", &url)
            .env("OVERDUE_LISTEN", format!("127.0.0.1:{}", free_port()))
            .env("OVERDUE_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("OVERDUE_RATE_LIMITS", "off")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .spawn()
            .expect("start overdue serve"),
    );
    eprintln!("server started; first deadline in {lead} ms");
    let end = t0 + BURST_AFTER_MS + 30_000;
    while Utc::now().timestamp_millis() < end {
        if arrivals.lock().expect("arrivals").len() == deadlines.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    let burst_at = t0 + BURST_AFTER_MS;
    let stages = format!(
        "select (select max(created) from outbox where changed_at >= {burst_at}) - {burst_at}, \
         (select max(started + latency_ms) from attempts a join outbox o on o.id = a.outbox_id \
          where o.changed_at >= {burst_at}) - {burst_at}, \
         (select count(*) from attempts where outcome <> 'delivered')"
    );
    let (queued, attempted, failed): (Option<i64>, Option<i64>, i64) = match engine.as_str() {
        "sqlite" => {
            let mut conn = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect");
            sqlx::query_as(sqlx::AssertSqlSafe(stages))
                .fetch_one(&mut conn)
                .await
                .expect("stages")
        }
        _ => {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::query_as(sqlx::AssertSqlSafe(stages))
                .fetch_one(&mut conn)
                .await
                .expect("stages")
        }
    };

    let arrivals = arrivals.lock().expect("arrivals").clone();
    let mut singles = Vec::new();
    let mut burst = Vec::new();
    for (code, deadline) in &deadlines {
        let Some(arrived) = arrivals.get(code) else {
            continue;
        };
        let latency = arrived.timestamp_millis() - deadline;
        if *deadline < t0 + BURST_AFTER_MS {
            singles.push(latency);
        } else {
            burst.push(latency);
        }
    }
    singles.sort_unstable();
    burst.sort_unstable();
    let missing = deadlines.len() - arrivals.len();
    println!(
        "engine={engine} checks={total} singles={}/{SINGLES} p50={}ms p99={}ms max={}ms \
         burst={}/{BURST} burst_p50={}ms burst_all_delivered_after={}ms (all flipped and queued after {}ms, all sent after {}ms) \
         failed_attempts={failed} missing={missing}",
        singles.len(),
        percentile(&singles, 0.50),
        percentile(&singles, 0.99),
        singles.last().copied().unwrap_or(-1),
        burst.len(),
        percentile(&burst, 0.50),
        burst.last().copied().unwrap_or(-1),
        queued.unwrap_or(-1),
        attempted.unwrap_or(-1),
    );
    if let Some((admin, name)) = admin {
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("admin");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database {name} with (force)"
        )))
        .execute(&mut conn)
        .await
        .ok();
    }
    if missing > 0 {
        std::process::exit(1);
    }
}
