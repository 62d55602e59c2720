//! The store on SQLite. Batch reads and writes pass their rows as one JSON parameter, so a
//! batch of any size is one prepared statement; a batch of pings addressed by UUID (nearly
//! all of them) takes two round trips to the database thread, commit included.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::StoreError;
use super::batch::{self, Applied};
use super::engine::{check_columns, engine, project_columns};
use super::records::{
    CheckRecord, CheckRow, FlipRecord, FlipRow, KeyAccess, NewProject, PingInput, PingOutcome,
    PingRecord, PingRejection, PingRow, PingTarget, ProjectRecord, hex, millis,
};

type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

// `BEGIN IMMEDIATE` takes the database's single write lock up front, which also serves
// as the row lock.
engine!(
    SqliteStore,
    sqlx::Sqlite,
    begin_write = "BEGIN IMMEDIATE",
    lock = ""
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
/// of positional rows.
macro_rules! write_batch {
    () => {
        "update checks set n_pings = j.value ->> '$[1]', last_ping = j.value ->> '$[2]', \
         last_start = j.value ->> '$[3]', last_start_rid = unhex(j.value ->> '$[4]'), \
         last_duration = j.value ->> '$[5]', has_confirmation_link = j.value ->> '$[6]', \
         alert_after = j.value ->> '$[7]', status = j.value ->> '$[8]' \
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
                p.scheme,
                p.remote_addr,
                p.method,
                p.ua,
                hex(&p.body),
                p.exit_status,
                p.rid.map(|r| r.simple().to_string()),
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
        applied: &Applied,
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
        if batch
            .iter()
            .any(|input| matches!(input.target, PingTarget::Slug { .. }))
        {
            return self.record_pings_in_transaction(batch, now).await;
        }
        let mut conn = self.writer.acquire().await?;
        let result = record_by_code(&mut conn, batch, now).await;
        if result.is_err() {
            // Leave no transaction open on the connection; failing here means none was.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        }
        result
    }
}

/// The fast path: the transaction begins with the read and commits with the writes, so
/// the whole batch is two calls to the database thread.
async fn record_by_code(
    conn: &mut sqlx::SqliteConnection,
    batch: &[PingInput],
    now: DateTime<Utc>,
) -> Result<Vec<PingOutcome>, StoreError> {
    let rows = sqlx::query_as::<_, CheckRow>(concat!("BEGIN IMMEDIATE; ", select_by_codes!()))
        .bind(codes_json(&batch::codes(batch)))
        .fetch_all(&mut *conn)
        .await?;
    let mut checks = by_code(rows)?;
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
    sqlx::query(concat!(write_batch!(), "; COMMIT"))
        .bind(states)
        .bind(pings)
        .bind(flips)
        .execute(&mut *conn)
        .await?;
    Ok(applied.outcomes)
}
