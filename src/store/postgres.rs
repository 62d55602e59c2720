//! The store on PostgreSQL. Batch reads and writes pass each column as an array and
//! `unnest` them, so a batch of any size is one prepared statement.
//!
//! A batch of pings by UUID whose checks the writer has copies of is one statement in its
//! own implicit transaction: the check updates (each conditioned on its version), the pings
//! and the flips, ending in a division by zero unless every update matched, which undoes
//! the whole statement. Otherwise, or after such a failure, the batch runs in a transaction
//! that reads and locks its checks first.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::check::Flip;

use super::StoreError;
use super::accounts::accounts_engine;
use super::alerts::{alerts_engine, channel_columns, outbox_columns};
use super::batch::{self, Applied, PingCache, Written};
use super::engine::{bind_check_fields, check_columns, check_fields, engine, project_columns};
use super::records::{
    CheckRecord, CheckRow, FlipRecord, FlipRow, KeyAccess, NewPing, NewProject, PingInput,
    PingOutcome, PingRecord, PingRejection, PingRow, PingTarget, ProjectRecord, millis,
};

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

engine!(
    PostgresStore,
    sqlx::Postgres,
    begin_write = "BEGIN",
    lock = " for update",
    ping_cache: PingCache,
);

accounts_engine!(PostgresStore, sqlx::Postgres);

alerts_engine!(
    PostgresStore,
    sqlx::Postgres,
    share_lock = " for share",
    rows = "jsonb_array_elements($1::jsonb)",
    uuid = ("cast(", " as uuid)"),
);

impl PostgresStore {
    /// Locks the batch's checks in id order, so that instances writing overlapping batches
    /// queue behind each other instead of deadlocking.
    async fn lock_by_codes(tx: &mut Tx, codes: &[Uuid]) -> Result<Vec<CheckRecord>, StoreError> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_as::<_, CheckRow>(concat!(
            "select ",
            check_columns!(),
            " from checks where code = any($1) order by id for update"
        ))
        .bind(codes)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(CheckRecord::try_from)
        .collect()
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
        if let Some(copies) = self.ping_cache.get_all(&codes) {
            match self.write_in_one_statement(batch, copies, now).await {
                Ok(written) => return Ok(self.finish_batch(written)),
                // A copy was stale (or the write failed, and nothing was written).
                Err(_) => self.ping_cache.clear(),
            }
        }
        let written = self.record_pings_in_transaction(batch, now).await?;
        Ok(self.finish_batch(written))
    }

    async fn write_in_one_statement(
        &self,
        batch: &[PingInput],
        mut checks: HashMap<Uuid, CheckRecord>,
        now: DateTime<Utc>,
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
        let mut queued = 0;
        if applied.flips.is_empty() {
            write_statement(&self.writer, &changed, &applied).await?;
        } else {
            // A status change also queues its notifications, in the same transaction.
            let mut tx = self.writer.begin().await?;
            write_statement(&mut *tx, &changed, &applied).await?;
            queued = enqueue_flips(&mut tx, &applied.flips, now).await?;
            tx.commit().await?;
        }
        batch::bump_versions(&mut checks, &applied.changed);
        Ok(Written {
            outcomes: applied.outcomes,
            checks,
            queued,
        })
    }

    /// Writes a batch: the columns a ping changes for each changed check, the pings and
    /// the flips.
    async fn write_batch(
        tx: &mut Tx,
        checks: &[&CheckRecord],
        applied: &Applied<'_>,
    ) -> Result<(), StoreError> {
        write_statement(&mut **tx, checks, applied).await
    }
}

/// Writes a batch in one statement: the changed checks' states, each conditioned on its
/// version, the pings and the flips. Unless every check update matched, it divides by zero,
/// which undoes the whole statement.
async fn write_statement<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Postgres>,
    changed: &[&CheckRecord],
    applied: &Applied<'_>,
) -> Result<(), StoreError> {
    let expected = i64::try_from(changed.len()).unwrap_or(i64::MAX);
    let column =
        |f: &dyn Fn(&CheckRecord) -> Option<i64>| changed.iter().map(|c| f(c)).collect::<Vec<_>>();
    let pings = &applied.pings;
    let flips = &applied.flips;
    sqlx::query(
        "with j as (select * from unnest($1::bigint[], $2::bigint[], $3::bigint[], \
             $4::bigint[], $5::bigint[], $6::uuid[], $7::bigint[], $8::boolean[], $9::bigint[], \
             $10::text[]) as j(id, version, n_pings, last_ping, last_start, last_start_rid, \
             last_duration, has_confirmation_link, alert_after, status)), \
             u as (update checks set n_pings = j.n_pings, last_ping = j.last_ping, \
             last_start = j.last_start, last_start_rid = j.last_start_rid, \
             last_duration = j.last_duration, has_confirmation_link = j.has_confirmation_link, \
             alert_after = j.alert_after, status = j.status, version = checks.version + 1 \
             from j where checks.id = j.id and checks.version = j.version returning checks.id), \
             p as (insert into pings (check_id, n, created, kind, scheme, remote_addr, method, \
             ua, body, exitstatus, rid) select * from unnest($11::bigint[], $12::bigint[], \
             $13::bigint[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], \
             $19::bytea[], $20::bigint[], $21::uuid[])), \
             f as (insert into flips (check_id, created, old_status, new_status, reason) \
             select * from unnest($22::bigint[], $23::bigint[], $24::text[], $25::text[], \
             $26::text[])) \
             select 1 / (case when (select count(*) from u) = $27 then 1 else 0 end)",
    )
    .bind(changed.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(changed.iter().map(|c| c.version).collect::<Vec<_>>())
    .bind(changed.iter().map(|c| c.state.n_pings).collect::<Vec<_>>())
    .bind(column(&|c| c.state.last_ping.map(millis)))
    .bind(column(&|c| c.state.last_start.map(millis)))
    .bind(
        changed
            .iter()
            .map(|c| c.state.last_start_rid)
            .collect::<Vec<_>>(),
    )
    .bind(column(&|c| {
        c.state.last_duration.map(|d| d.num_milliseconds())
    }))
    .bind(
        changed
            .iter()
            .map(|c| c.state.has_confirmation_link)
            .collect::<Vec<_>>(),
    )
    .bind(column(&|c| c.alert_after.map(millis)))
    .bind(
        changed
            .iter()
            .map(|c| c.state.status.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(pings.iter().map(|p| p.check_id).collect::<Vec<_>>())
    .bind(pings.iter().map(|p| p.n).collect::<Vec<_>>())
    .bind(pings.iter().map(|p| p.created).collect::<Vec<_>>())
    .bind(pings.iter().map(|p| p.kind).collect::<Vec<_>>())
    .bind(
        pings
            .iter()
            .map(|p| p.input.scheme.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        pings
            .iter()
            .map(|p| p.input.remote_addr.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        pings
            .iter()
            .map(|p| p.input.method.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        pings
            .iter()
            .map(|p| p.input.ua.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        pings
            .iter()
            .map(|p| p.input.body.as_ref())
            .collect::<Vec<_>>(),
    )
    .bind(pings.iter().map(NewPing::exit_status).collect::<Vec<_>>())
    .bind(pings.iter().map(|p| p.input.rid).collect::<Vec<_>>())
    .bind(flips.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(
        flips
            .iter()
            .map(|(_, f)| millis(f.created))
            .collect::<Vec<_>>(),
    )
    .bind(
        flips
            .iter()
            .map(|(_, f)| f.old_status.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        flips
            .iter()
            .map(|(_, f)| f.new_status.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(flips.iter().map(|(_, f)| f.reason).collect::<Vec<_>>())
    .bind(expected)
    .execute(executor)
    .await?;
    Ok(())
}
