//! Test databases: a fresh SQLite file per test, and a fresh PostgreSQL database per test
//! (copied from a migrated template) when `TEST_DATABASE_URL` is set.

use std::sync::atomic::{AtomicU32, Ordering};

use overdue::store::Store;
use sqlx::Connection;
use tokio::sync::OnceCell;

/// A migrated, empty store that is removed when dropped.
pub struct TestDb {
    pub store: Store,
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
        let store = Store::connect(&database_url(&admin_url, &name))
            .await
            .expect("open test database");
        Some(TestDb {
            store,
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
