//! The store on SQLite. Batch reads and writes pass their rows as one JSON parameter, so a
//! batch of any size is one prepared statement.
//!
//! Pings addressed by UUID (nearly all of them) take a fast path. The ping writer keeps a
//! copy of the checks it has written; when it has every check of a batch, the batch is one
//! round trip to the database thread (`BEGIN IMMEDIATE`, writes, `COMMIT`). Each check
//! write is conditioned on the version the copy was made from, so a copy gone stale (the
//! API or another process changed the check) aborts the batch, which is then redone from
//! fresh rows: two round trips, the read with `BEGIN IMMEDIATE`, the writes with `COMMIT`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::domain::check::Flip;

use super::StoreError;
use super::accounts::accounts_engine;
use super::alerts::{alerts_engine, channel_columns, outbox_columns};
use super::batch::{self, Applied, PingCache, Written};
use super::engine::{bind_check_fields, check_columns, check_fields, engine, project_columns};
use super::records::{
    CheckRecord, CheckRow, FlipRecord, FlipRow, KeyAccess, NewProject, PingInput, PingOutcome,
    PingRecord, PingRejection, PingRow, PingTarget, ProjectRecord, millis,
};

type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

// `BEGIN IMMEDIATE` takes the database's single write lock up front, which also serves
// as the row lock.
engine!(
    SqliteStore,
    sqlx::Sqlite,
    begin_write = "BEGIN IMMEDIATE",
    lock = "",
    ping_cache: PingCache,
);

accounts_engine!(SqliteStore, sqlx::Sqlite);

alerts_engine!(
    SqliteStore,
    sqlx::Sqlite,
    share_lock = "",
    rows = "json_each($1)",
    uuid = ("unhex(", ")"),
);

/// Selects the checks whose codes are in the JSON array of hex strings `$1`.
macro_rules! select_by_codes {
    () => {
        concat!(
            "select ",
            check_columns!(),
            " from checks \
             where code in (select unhex(value) from json_each($1))"
        )
    };
}

/// Writes a batch: check states (`$1`), pings (`$2`) and flips (`$3`), each a JSON array
/// of positional rows. A check whose version is no longer the one in its row gets a NULL
/// version, which the NOT NULL constraint turns into an error that aborts the batch.
macro_rules! write_batch {
    () => {
        "update checks set n_pings = j.value ->> '$[1]', last_ping = j.value ->> '$[2]', \
         last_start = j.value ->> '$[3]', last_start_rid = unhex(j.value ->> '$[4]'), \
         last_duration = j.value ->> '$[5]', has_confirmation_link = j.value ->> '$[6]', \
         alert_after = j.value ->> '$[7]', status = j.value ->> '$[8]', \
         version = case when checks.version = j.value ->> '$[9]' then checks.version + 1 end \
         from json_each($1) as j where checks.id = j.value ->> '$[0]'; \
         insert into pings (check_id, n, created, kind, scheme, remote_addr, method, ua, body, \
         exitstatus, rid) select value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', \
         value ->> '$[3]', value ->> '$[4]', value ->> '$[5]', value ->> '$[6]', \
         value ->> '$[7]', unhex(value ->> '$[8]'), value ->> '$[9]', \
         unhex(value ->> '$[10]') from json_each($2); \
         insert into flips (check_id, created, old_status, new_status, reason) \
         select value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]', \
         value ->> '$[4]' from json_each($3)"
    };
}

/// Lowercase hexadecimal, for bytes passed inside JSON.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn codes_json(codes: &[Uuid]) -> String {
    json!(
        codes
            .iter()
            .map(|c| c.simple().to_string())
            .collect::<Vec<_>>()
    )
    .to_string()
}

/// The JSON parameters of [`write_batch`].
fn batch_json(changed: &[&CheckRecord], applied: &Applied) -> [String; 3] {
    let states: Vec<_> = changed
        .iter()
        .map(|c| {
            let s = &c.state;
            json!([
                c.id,
                s.n_pings,
                s.last_ping.map(millis),
                s.last_start.map(millis),
                s.last_start_rid.map(|r| r.simple().to_string()),
                s.last_duration.map(|d| d.num_milliseconds()),
                s.has_confirmation_link,
                c.alert_after.map(millis),
                s.status.as_str(),
                c.version,
            ])
        })
        .collect();
    let pings: Vec<_> = applied
        .pings
        .iter()
        .map(|p| {
            json!([
                p.check_id,
                p.n,
                p.created,
                p.kind,
                p.input.scheme,
                p.input.remote_addr,
                p.input.method,
                p.input.ua,
                hex(&p.input.body),
                p.exit_status(),
                p.input.rid.map(|r| r.simple().to_string()),
            ])
        })
        .collect();
    let flips: Vec<_> = applied
        .flips
        .iter()
        .map(|(check_id, f)| {
            json!([
                check_id,
                millis(f.created),
                f.old_status.as_str(),
                f.new_status.as_str(),
                f.reason
            ])
        })
        .collect();
    [
        json!(states).to_string(),
        json!(pings).to_string(),
        json!(flips).to_string(),
    ]
}

fn by_code(rows: Vec<CheckRow>) -> Result<HashMap<Uuid, CheckRecord>, StoreError> {
    rows.into_iter()
        .map(|row| CheckRecord::try_from(row).map(|check| (check.code, check)))
        .collect()
}

impl SqliteStore {
    async fn lock_by_codes(tx: &mut Tx, codes: &[Uuid]) -> Result<Vec<CheckRecord>, StoreError> {
        sqlx::query_as::<_, CheckRow>(select_by_codes!())
            .bind(codes_json(codes))
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(CheckRecord::try_from)
            .collect()
    }

    async fn write_batch(
        tx: &mut Tx,
        changed: &[&CheckRecord],
        applied: &Applied<'_>,
    ) -> Result<(), StoreError> {
        let [states, pings, flips] = batch_json(changed, applied);
        sqlx::query(write_batch!())
            .bind(states)
            .bind(pings)
            .bind(flips)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Records a batch of pings in one transaction; see [`Store::record_pings`](super::Store).
    pub async fn record_pings(
        &self,
        batch: &[PingInput],
        now: DateTime<Utc>,
    ) -> Result<Vec<PingOutcome>, StoreError> {
        if !batch::all_by_code(batch) {
            // This path writes checks without the cache; drop copies it may make stale.
            self.ping_cache.clear();
            let written = self.record_pings_in_transaction(batch, now).await?;
            return Ok(self.finish_batch(written));
        }
        let codes = batch::codes(batch);
        let mut conn = self.writer.acquire().await?;
        if let Some(copies) = self.ping_cache.get_all(&codes) {
            match apply_and_write(&mut conn, batch, copies, now, true).await {
                Ok(written) => return Ok(self.finish_batch(written)),
                Err(_) => {
                    // A copy was stale (or the write failed): redo the batch from the rows.
                    rollback(&mut conn).await;
                    self.ping_cache.clear();
                }
            }
        }
        let result = read_and_write(&mut conn, batch, &codes, now).await;
        match result {
            Ok(written) => Ok(self.finish_batch(written)),
            Err(err) => {
                rollback(&mut conn).await;
                Err(err)
            }
        }
    }
}

/// Leaves no transaction open on the connection; failing means none was.
async fn rollback(conn: &mut sqlx::SqliteConnection) {
    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
}

/// Reads the batch's checks as the transaction begins, then applies and writes the batch.
async fn read_and_write(
    conn: &mut sqlx::SqliteConnection,
    batch: &[PingInput],
    codes: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Written, StoreError> {
    let rows = sqlx::query_as::<_, CheckRow>(concat!("BEGIN IMMEDIATE; ", select_by_codes!()))
        .bind(codes_json(codes))
        .fetch_all(&mut *conn)
        .await?;
    apply_and_write(conn, batch, by_code(rows)?, now, false).await
}

/// Applies the batch to `checks` and writes it with `COMMIT` (and `BEGIN IMMEDIATE` first
/// when `begin`). Returns the outcomes and the checks as now stored.
async fn apply_and_write(
    conn: &mut sqlx::SqliteConnection,
    batch: &[PingInput],
    mut checks: HashMap<Uuid, CheckRecord>,
    now: DateTime<Utc>,
    begin: bool,
) -> Result<Written, StoreError> {
    let resolved = batch
        .iter()
        .map(|input| batch::resolve_code(&checks, input))
        .collect();
    let applied = batch::apply(&mut checks, batch, resolved, now);
    let changed: Vec<&CheckRecord> = applied
        .changed
        .iter()
        .filter_map(|c| checks.get(c))
        .collect();
    let [states, pings, flips] = batch_json(&changed, &applied);
    // A status change also queues notifications, which takes its own statements before
    // the commit; without one (nearly always) the batch is a single round trip.
    let commit_now = applied.flips.is_empty();
    let sql = match (begin, commit_now) {
        (true, true) => concat!("BEGIN IMMEDIATE; ", write_batch!(), "; COMMIT"),
        (true, false) => concat!("BEGIN IMMEDIATE; ", write_batch!()),
        (false, true) => concat!(write_batch!(), "; COMMIT"),
        (false, false) => write_batch!(),
    };
    sqlx::query(sql)
        .bind(states)
        .bind(pings)
        .bind(flips)
        .execute(&mut *conn)
        .await?;
    let mut queued = 0;
    if !commit_now {
        queued = enqueue_flips(conn, &applied.flips, now).await?;
        sqlx::query("COMMIT").execute(&mut *conn).await?;
    }
    batch::bump_versions(&mut checks, &applied.changed);
    Ok(Written {
        outcomes: applied.outcomes,
        checks,
        queued,
    })
}
