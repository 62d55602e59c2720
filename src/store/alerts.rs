//! What the alert pipeline stores: channels and their assignment to checks, shard leases,
//! and the outbox of notifications with the record of every delivery attempt.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use super::records::instant;

/// A notification channel of a project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelRecord {
    pub id: i64,
    pub code: Uuid,
    pub project_id: i64,
    pub name: String,
    /// `email` or `webhook`.
    pub kind: String,
    /// The kind's settings, as healthchecks.io stores them (JSON).
    pub value: String,
    /// The webhook signing secret; empty for email.
    pub secret: String,
    pub email_verified: bool,
    pub verify_token_hash: String,
    pub disabled: bool,
    /// Epoch milliseconds of the last attempt.
    pub last_notify: Option<i64>,
    pub last_notify_duration: Option<i64>,
    pub last_error: String,
    pub created: i64,
}

/// A shard lease as this process holds it: `token` fences its writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldLease {
    pub shard: i32,
    pub token: i64,
}

/// Why a notification is in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A check changed status.
    Flip,
    /// Someone asked for a test notification.
    Test,
    /// An email channel's verification link.
    Verify,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Flip => "flip",
            Purpose::Test => "test",
            Purpose::Verify => "verify",
        }
    }

    fn parse(s: &str) -> Result<Purpose, StoreError> {
        match s {
            "flip" => Ok(Purpose::Flip),
            "test" => Ok(Purpose::Test),
            "verify" => Ok(Purpose::Verify),
            other => Err(StoreError::Corrupt(format!("outbox purpose {other:?}"))),
        }
    }
}

/// A notification to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    pub id: i64,
    /// The idempotency id: `webhook-id`, and the email's `Message-ID`.
    pub code: Uuid,
    pub project_id: i64,
    pub check_id: Option<i64>,
    pub channel_id: i64,
    pub purpose: Purpose,
    /// `up` or `down` (flips and tests).
    pub direction: String,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    /// Tries claimed so far, this one included once claimed.
    pub attempts: i64,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub last_error: String,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct OutboxRow {
    id: i64,
    code: Uuid,
    project_id: i64,
    check_id: Option<i64>,
    channel_id: i64,
    purpose: String,
    direction: String,
    reason: String,
    changed_at: i64,
    created: i64,
    due_at: Option<i64>,
    attempts: i64,
    state: String,
    last_error: String,
    delivered_at: Option<i64>,
}

impl TryFrom<OutboxRow> for OutboxRecord {
    type Error = StoreError;

    fn try_from(row: OutboxRow) -> Result<Self, StoreError> {
        Ok(OutboxRecord {
            id: row.id,
            code: row.code,
            project_id: row.project_id,
            check_id: row.check_id,
            channel_id: row.channel_id,
            purpose: Purpose::parse(&row.purpose)?,
            direction: row.direction,
            reason: row.reason,
            changed_at: instant(row.changed_at)?,
            created: instant(row.created)?,
            due_at: row.due_at.map(instant).transpose()?,
            attempts: row.attempts,
            state: row.state,
            last_error: row.last_error,
            delivered_at: row.delivered_at.map(instant).transpose()?,
        })
    }
}

/// A new outbox row.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub project_id: i64,
    pub check_id: Option<i64>,
    pub channel_id: i64,
    pub purpose: Purpose,
    pub direction: &'static str,
    pub reason: &'static str,
    pub changed_at: DateTime<Utc>,
}

/// One delivery attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AttemptRecord {
    pub outbox_id: i64,
    pub n: i64,
    /// Epoch milliseconds.
    pub started: i64,
    pub latency_ms: i64,
    /// `delivered`, `retry` or `dead`.
    pub outcome: String,
    pub status_code: Option<i64>,
    pub error: String,
}

/// How a claimed delivery ended, to be written back.
#[derive(Debug, Clone)]
pub struct Finished {
    pub outbox_id: i64,
    /// The attempt number the claim gave; a later claim of the same row fences this one.
    pub attempt: i64,
    pub started: DateTime<Utc>,
    pub latency_ms: i64,
    /// `delivered`, `retry` or `dead`.
    pub outcome: &'static str,
    pub status_code: Option<u16>,
    pub error: String,
    /// When to try again (for `retry`).
    pub retry_at: Option<DateTime<Utc>>,
}

/// What a deadline pass wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadlineWrites {
    /// Checks flipped down, and the notifications queued for them.
    pub flipped: usize,
    pub notifications: usize,
    /// Checks whose deadline moved instead (still in grace).
    pub postponed: usize,
    /// Checks changed by someone else since they were read (a ping won the race).
    pub stale: usize,
    /// Shards whose lease another holder has taken since: nothing was written for them.
    pub fenced: Vec<i32>,
}

/// Outbox gauges for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub pending: i64,
    pub dead: i64,
    /// Creation time (epoch ms) of the oldest undelivered notification.
    pub oldest_pending: Option<i64>,
}

/// Rows for a statement's one JSON parameter: an array of positional rows, which the
/// statement reads with `json_each` (SQLite) or `jsonb_array_elements` (PostgreSQL). One
/// parameter per statement, whatever the number of rows: binding thousands of separate
/// parameters costs far more than the statement itself.
pub(super) fn rows_json(rows: impl IntoIterator<Item = serde_json::Value>) -> String {
    serde_json::Value::Array(rows.into_iter().collect()).to_string()
}

/// An id list as rows of one column.
pub(super) fn ids_json(ids: &[i64]) -> String {
    rows_json(ids.iter().map(|id| serde_json::json!([id])))
}

macro_rules! channel_columns {
    () => {
        "id, code, project_id, name, kind, value, secret, email_verified, verify_token_hash, \
         disabled, last_notify, last_notify_duration, last_error, created"
    };
}

macro_rules! outbox_columns {
    () => {
        "id, code, project_id, check_id, channel_id, purpose, direction, reason, changed_at, \
         created, due_at, attempts, state, last_error, delivered_at"
    };
}

/// The alert pipeline's SQL, instantiated for each engine like [`super::engine::engine`].
/// `share_lock` keeps a lease row from being taken while a deadline write relies on it
/// (SQLite's single write lock already does both).
macro_rules! alerts_engine {
    (
        $store:ident,
        $db:ty,
        share_lock = $share_lock:literal,
        rows = $rows:literal,
        uuid = ($uuid_open:literal, $uuid_close:literal) $(,)?
    ) => {
        use $crate::store::alerts::{
            ids_json, rows_json, AttemptRecord, ChannelRecord, DeadlineWrites, Finished, HeldLease, NewNotification,
            OutboxRecord, OutboxRow, OutboxStats, Purpose,
        };


        impl $store {
            pub async fn create_channel(
                &self,
                channel: &ChannelRecord,
            ) -> Result<ChannelRecord, StoreError> {
                let (id,): (i64,) = sqlx::query_as(
                    "insert into channels (code, project_id, name, kind, value, secret, \
                     email_verified, verify_token_hash, disabled, created) \
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id",
                )
                .bind(channel.code)
                .bind(channel.project_id)
                .bind(&channel.name)
                .bind(&channel.kind)
                .bind(&channel.value)
                .bind(&channel.secret)
                .bind(channel.email_verified)
                .bind(&channel.verify_token_hash)
                .bind(channel.disabled)
                .bind(channel.created)
                .fetch_one(&self.writer)
                .await?;
                Ok(ChannelRecord { id, ..channel.clone() })
            }

            /// Saves a channel's editable fields.
            pub async fn update_channel(&self, channel: &ChannelRecord) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "update channels set name = $1, value = $2, email_verified = $3, \
                     verify_token_hash = $4, disabled = $5 where id = $6",
                )
                .bind(&channel.name)
                .bind(&channel.value)
                .bind(channel.email_verified)
                .bind(&channel.verify_token_hash)
                .bind(channel.disabled)
                .bind(channel.id)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn delete_channel(&self, id: i64) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "delete from attempts where outbox_id in \
                     (select id from outbox where channel_id = $1)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let done = sqlx::query("delete from channels where id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn channel_by_code(&self, code: Uuid) -> Result<Option<ChannelRecord>, StoreError> {
                const SQL: &str = concat!("select ", channel_columns!(), " from channels where code = $1");
                Ok(sqlx::query_as(SQL).bind(code).fetch_optional(&self.pool).await?)
            }

            pub async fn channel_by_id(&self, id: i64) -> Result<Option<ChannelRecord>, StoreError> {
                const SQL: &str = concat!("select ", channel_columns!(), " from channels where id = $1");
                Ok(sqlx::query_as(SQL).bind(id).fetch_optional(&self.pool).await?)
            }

            /// The project's channels, oldest first.
            pub async fn channels_in_project(
                &self,
                project_id: i64,
            ) -> Result<Vec<ChannelRecord>, StoreError> {
                const SQL: &str = concat!("select ", channel_columns!(), " from channels where project_id = $1 order by id");
                Ok(sqlx::query_as(SQL).bind(project_id).fetch_all(&self.pool).await?)
            }

            /// Replaces the set of channels a check notifies.
            pub async fn set_check_channels(
                &self,
                check_id: i64,
                channel_ids: &[i64],
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("delete from check_channels where check_id = $1")
                    .bind(check_id)
                    .execute(&mut *tx)
                    .await?;
                for channel_id in channel_ids {
                    sqlx::query("insert into check_channels (check_id, channel_id) values ($1, $2)")
                        .bind(check_id)
                        .bind(channel_id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            /// Turns one channel on or off for a check, leaving its other channels as they
            /// are (two people toggling different channels at once both win).
            pub async fn set_check_channel(
                &self,
                check_id: i64,
                channel_id: i64,
                on: bool,
            ) -> Result<(), StoreError> {
                let sql = if on {
                    "insert into check_channels (check_id, channel_id) values ($1, $2) \
                     on conflict do nothing"
                } else {
                    "delete from check_channels where check_id = $1 and channel_id = $2"
                };
                sqlx::query(sql)
                    .bind(check_id)
                    .bind(channel_id)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            /// Assigns a channel to every check of its project (a new channel's default, as
            /// on healthchecks.io).
            pub async fn assign_channel_to_all(
                &self,
                channel_id: i64,
                project_id: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "insert into check_channels (check_id, channel_id) \
                     select id, $1 from checks where project_id = $2",
                )
                .bind(channel_id)
                .bind(project_id)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            /// `(check id, channel code)` for every assignment in the project; a check's
            /// channels sorted by code, as healthchecks.io lists them.
            pub async fn check_channel_codes(
                &self,
                project_id: i64,
            ) -> Result<Vec<(i64, Uuid)>, StoreError> {
                Ok(sqlx::query_as(
                    "select cc.check_id, ch.code from check_channels cc \
                     join channels ch on ch.id = cc.channel_id \
                     where ch.project_id = $1 order by cc.check_id, ch.code",
                )
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?)
            }

            /// Replaces the set of checks a channel notifies, in one transaction. Only checks
            /// of `project_id`, and only when the channel is that project's, are assigned: ids
            /// of another project's checks are ignored. Returns how many checks it notifies.
            pub async fn set_channel_checks(
                &self,
                channel_id: i64,
                project_id: i64,
                check_ids: &[i64],
            ) -> Result<u64, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "delete from check_channels where channel_id = \
                     (select id from channels where id = $1 and project_id = $2)",
                )
                .bind(channel_id)
                .bind(project_id)
                .execute(&mut *tx)
                .await?;
                // `on conflict`: a check page may turn this channel on for one check meanwhile.
                let done = sqlx::query(concat!(
                    "insert into check_channels (check_id, channel_id) \
                     select c.id, ch.id from checks c \
                     join channels ch on ch.project_id = c.project_id \
                     where ch.id = $2 and c.project_id = $3 \
                     and c.id in (select cast(value ->> 0 as bigint) from ", $rows, ") \
                     on conflict do nothing"
                ))
                .bind(ids_json(check_ids))
                .bind(channel_id)
                .bind(project_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            /// The checks with these ids (a dispatcher batch's), in no particular order.
            pub async fn checks_by_ids(&self, ids: &[i64]) -> Result<Vec<CheckRecord>, StoreError> {
                sqlx::query_as::<_, CheckRow>(concat!(
                    "select ", check_columns!(), " from checks where id in \
                     (select cast(value ->> 0 as bigint) from ", $rows, ")"
                ))
                .bind(ids_json(ids))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(CheckRecord::try_from)
                .collect()
            }

            /// The channels with these ids.
            pub async fn channels_by_ids(&self, ids: &[i64]) -> Result<Vec<ChannelRecord>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "select ", channel_columns!(), " from channels where id in \
                     (select cast(value ->> 0 as bigint) from ", $rows, ")"
                ))
                .bind(ids_json(ids))
                .fetch_all(&self.pool)
                .await?)
            }

            /// `(check id, channel code)` for each of these checks' channels, sorted by code.
            pub async fn channels_of_checks(&self, ids: &[i64]) -> Result<Vec<(i64, Uuid)>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "select cc.check_id, ch.code from check_channels cc \
                     join channels ch on ch.id = cc.channel_id \
                     where cc.check_id in (select cast(value ->> 0 as bigint) from ", $rows, ") \
                     order by cc.check_id, ch.code"
                ))
                .bind(ids_json(ids))
                .fetch_all(&self.pool)
                .await?)
            }

            /// The codes of the channels a check notifies, sorted.
            pub async fn channels_of_check(&self, check_id: i64) -> Result<Vec<Uuid>, StoreError> {
                let rows = self.channels_of_checks(&[check_id]).await?;
                Ok(rows.into_iter().map(|(_, code)| code).collect())
            }

            pub async fn project_name(&self, project_id: i64) -> Result<Option<String>, StoreError> {
                let row: Option<(String,)> = sqlx::query_as("select name from projects where id = $1")
                    .bind(project_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|(name,)| name))
            }

            /// The check's last ping at or before `at`.
            pub async fn last_ping_before(
                &self,
                check_id: i64,
                at: i64,
            ) -> Result<Option<PingRecord>, StoreError> {
                sqlx::query_as::<_, PingRow>(
                    "select n, created, kind, scheme, remote_addr, method, ua, body, exitstatus, rid \
                     from pings where check_id = $1 and created <= $2 order by n desc limit 1",
                )
                .bind(check_id)
                .bind(at)
                .fetch_optional(&self.pool)
                .await?
                .map(PingRecord::try_from)
                .transpose()
            }

            /// Marks an email channel verified if the token's hash matches.
            pub async fn verify_channel(&self, code: Uuid, token_hash: &str) -> Result<bool, StoreError> {
                if token_hash.is_empty() {
                    return Ok(false);
                }
                let done = sqlx::query(
                    "update channels set email_verified = $1, verify_token_hash = '' \
                     where code = $2 and verify_token_hash = $3",
                )
                .bind(true)
                .bind(code)
                .bind(token_hash)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            // ---- badges ------------------------------------------------------------

            /// The site's secret: `candidate` if none was stored yet, else the stored one.
            pub async fn site_secret(&self, candidate: &str) -> Result<String, StoreError> {
                sqlx::query("insert into site (id, secret) values (1, $1) on conflict (id) do nothing")
                    .bind(candidate)
                    .execute(&self.writer)
                    .await?;
                let (secret,): (String,) = sqlx::query_as("select secret from site where id = 1")
                    .fetch_one(&self.writer)
                    .await?;
                Ok(secret)
            }

            pub async fn project_by_badge_key(&self, key: &str) -> Result<Option<ProjectRecord>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "select ", project_columns!(), " from projects where badge_key = $1"
                ))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?)
            }

            pub async fn check_by_badge_key(&self, key: Uuid) -> Result<Option<CheckRecord>, StoreError> {
                sqlx::query_as::<_, CheckRow>(concat!(
                    "select ", check_columns!(), " from checks where badge_key = $1"
                ))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?
                .map(CheckRecord::try_from)
                .transpose()
            }

            // ---- retention ---------------------------------------------------------

            /// `(id, n_pings)` of up to `max` checks with more than `beyond` pings not yet
            /// pruned.
            pub async fn checks_to_prune(&self, beyond: i64, max: i64) -> Result<Vec<(i64, i64)>, StoreError> {
                Ok(sqlx::query_as(
                    "select id, n_pings from checks where n_pings - pruned_to > $1 limit $2",
                )
                .bind(beyond)
                .bind(max)
                .fetch_all(&self.pool)
                .await?)
            }

            /// Keeps each check's newest `keep` pings (healthchecks.io `Check.prune`), in one
            /// transaction for all the checks given as `(id, n_pings)`: deletes older pings,
            /// the delivered or dead notifications (and their attempts) older than the oldest
            /// ping kept, and the flips older than that ping or than `flips_before`,
            /// whichever is earlier. Returns how many pings went.
            pub async fn prune_checks(
                &self,
                checks: &[(i64, i64)],
                keep: i64,
                flips_before: DateTime<Utc>,
            ) -> Result<u64, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut pings = 0;
                for &(id, n_pings) in checks {
                    let upto = n_pings - keep;
                    pings += sqlx::query("delete from pings where check_id = $1 and n <= $2")
                        .bind(id)
                        .bind(upto)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    let oldest: Option<(i64,)> = sqlx::query_as(
                        "select created from pings where check_id = $1 order by n limit 1",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((oldest,)) = oldest {
                        sqlx::query(
                            "delete from attempts where outbox_id in (select id from outbox \
                             where check_id = $1 and created < $2 and state <> 'pending')",
                        )
                        .bind(id)
                        .bind(oldest)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "delete from outbox where check_id = $1 and created < $2 \
                             and state <> 'pending'",
                        )
                        .bind(id)
                        .bind(oldest)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("delete from flips where check_id = $1 and created < $2")
                            .bind(id)
                            .bind(oldest.min(millis(flips_before)))
                            .execute(&mut *tx)
                            .await?;
                    }
                    // Not a change of the check as its writers see it: no version bump.
                    sqlx::query(
                        "update checks set pruned_to = $1 where id = $2 and pruned_to < $1",
                    )
                    .bind(upto)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(pings)
            }

            // ---- leases ------------------------------------------------------------

            /// Records that `holder` is alive and returns how many holders are (itself
            /// included): those seen within `ttl_ms`.
            pub async fn heartbeat(&self, holder: &str, now: i64, ttl_ms: i64) -> Result<i64, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "insert into instances (holder, seen_at) values ($1, $2) \
                     on conflict (holder) do update set seen_at = excluded.seen_at",
                )
                .bind(holder)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // Long-gone instances are forgotten.
                sqlx::query("delete from instances where seen_at < $1")
                    .bind(now - 10 * ttl_ms)
                    .execute(&mut *tx)
                    .await?;
                let (alive,): (i64,) =
                    sqlx::query_as("select count(*) from instances where seen_at >= $1")
                        .bind(now - ttl_ms)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.commit().await?;
                Ok(alive)
            }

            /// Forgets a holder that is shutting down, so the others rebalance at once.
            pub async fn leave(&self, holder: &str) -> Result<(), StoreError> {
                sqlx::query("delete from instances where holder = $1")
                    .bind(holder)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            /// `(shard, holder, expires_at)` of every lease.
            pub async fn leases(&self) -> Result<Vec<(i32, Option<String>, i64)>, StoreError> {
                Ok(sqlx::query_as("select shard, holder, expires_at from leases order by shard")
                    .fetch_all(&self.pool)
                    .await?)
            }

            /// Takes a free or expired lease; returns its new fencing token.
            pub async fn take_lease(
                &self,
                shard: i32,
                holder: &str,
                now: i64,
                expires_at: i64,
            ) -> Result<Option<i64>, StoreError> {
                let token: Option<(i64,)> = sqlx::query_as(
                    "update leases set holder = $1, token = token + 1, expires_at = $2 \
                     where shard = $3 and (holder is null or expires_at <= $4) returning token",
                )
                .bind(holder)
                .bind(expires_at)
                .bind(shard)
                .bind(now)
                .fetch_optional(&self.writer)
                .await?;
                Ok(token.map(|(t,)| t))
            }

            /// Extends a lease still held with this token; false if it was taken since.
            pub async fn renew_lease(
                &self,
                lease: HeldLease,
                holder: &str,
                expires_at: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "update leases set expires_at = $1 \
                     where shard = $2 and holder = $3 and token = $4",
                )
                .bind(expires_at)
                .bind(lease.shard)
                .bind(holder)
                .bind(lease.token)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// Gives a lease up, so another holder can take it at once.
            pub async fn release_lease(&self, lease: HeldLease, holder: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "update leases set holder = null, expires_at = 0 \
                     where shard = $1 and holder = $2 and token = $3",
                )
                .bind(lease.shard)
                .bind(holder)
                .bind(lease.token)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            // ---- deadlines ---------------------------------------------------------

            /// Checks of the shards in `mask` (bit n = shard n of `shards`) whose deadline
            /// is at or before `now`, earliest first.
            pub async fn due_checks(
                &self,
                mask: i64,
                shards: i64,
                now: i64,
                limit: i64,
            ) -> Result<Vec<CheckRecord>, StoreError> {
                sqlx::query_as::<_, CheckRow>(concat!(
                    "select ", check_columns!(), " from checks \
                     where status <> 'down' and alert_after <= $1 \
                     and (($2 >> cast(id % $3 as integer)) & 1) = 1 \
                     order by alert_after limit $4"
                ))
                .bind(now)
                .bind(mask)
                .bind(shards)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(CheckRecord::try_from)
                .collect()
            }

            /// The earliest deadline among the shards in `mask`.
            pub async fn next_deadline(&self, mask: i64, shards: i64) -> Result<Option<i64>, StoreError> {
                let next: Option<(i64,)> = sqlx::query_as(
                    "select alert_after from checks \
                     where status <> 'down' and alert_after is not null \
                     and (($1 >> cast(id % $2 as integer)) & 1) = 1 \
                     order by alert_after limit 1",
                )
                .bind(mask)
                .bind(shards)
                .fetch_optional(&self.pool)
                .await?;
                Ok(next.map(|(t,)| t))
            }

            /// Writes the deadline loop's verdicts in one transaction: each judged check
            /// (its state already changed in memory, and `flip` set if it went down) is
            /// written only if its version is still the one read, and only while `holder`
            /// still holds its shard with the token given.
            pub async fn write_deadlines(
                &self,
                holder: &str,
                leases: &[HeldLease],
                shards: i64,
                judged: &[(CheckRecord, Option<Flip>)],
                now: DateTime<Utc>,
            ) -> Result<DeadlineWrites, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut writes = DeadlineWrites::default();
                let mut valid = Vec::with_capacity(leases.len());
                // Locks this holder's lease rows until commit, so none can be taken mid-write.
                let current: Vec<(i32, i64)> = sqlx::query_as(concat!(
                    "select shard, token from leases where holder = $1",
                    $share_lock
                ))
                .bind(holder)
                .fetch_all(&mut *tx)
                .await?;
                for lease in leases {
                    if current.contains(&(lease.shard, lease.token)) {
                        valid.push(lease.shard);
                    } else {
                        writes.fenced.push(lease.shard);
                    }
                }
                let mine: Vec<&(CheckRecord, Option<Flip>)> = judged
                    .iter()
                    .filter(|(check, _)| {
                        i32::try_from(check.id.rem_euclid(shards)).is_ok_and(|s| valid.contains(&s))
                    })
                    .collect();
                let mut flips = Vec::new();
                // Each check is written only if its version is still the one read.
                let rows = rows_json(mine.iter().map(|(check, _)| {
                    serde_json::json!([
                        check.id,
                        check.version,
                        check.state.status.as_str(),
                        check.alert_after.map(millis),
                    ])
                }));
                let written: std::collections::HashSet<i64> = sqlx::query_as::<_, (i64,)>(concat!(
                    "with j as (select cast(value ->> 0 as bigint) as cid, \
                     cast(value ->> 1 as bigint) as cversion, value ->> 2 as cstatus, \
                     cast(value ->> 3 as bigint) as cafter from ", $rows, ") \
                     update checks set status = j.cstatus, alert_after = j.cafter, \
                     version = version + 1 from j \
                     where checks.id = j.cid and checks.version = j.cversion returning id"
                ))
                .bind(rows)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(id,)| id)
                .collect();
                for (check, flip) in mine {
                    match flip {
                        _ if !written.contains(&check.id) => writes.stale += 1,
                        Some(flip) => {
                            writes.flipped += 1;
                            flips.push((check.id, flip.clone()));
                        }
                        None => writes.postponed += 1,
                    }
                }
                insert_flips(&mut *tx, &flips).await?;
                writes.notifications = enqueue_flips(&mut *tx, &flips, now).await?;
                tx.commit().await?;
                if writes.notifications > 0 {
                    self.outbox.notify_one();
                }
                Ok(writes)
            }

            // ---- outbox ------------------------------------------------------------

            /// Queues one notification, due at once.
            pub async fn enqueue(
                &self,
                notification: &NewNotification,
                now: DateTime<Utc>,
            ) -> Result<OutboxRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let ids = insert_notifications(&mut tx, std::slice::from_ref(notification), now).await?;
                let id = ids.first().copied().ok_or_else(|| {
                    StoreError::Corrupt("an insert returned no id".to_owned())
                })?;
                tx.commit().await?;
                self.outbox.notify_one();
                self.notification(id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("outbox row {id} vanished"))
                })
            }

            pub async fn notification(&self, id: i64) -> Result<Option<OutboxRecord>, StoreError> {
                const SQL: &str = concat!("select ", outbox_columns!(), " from outbox where id = $1");
                sqlx::query_as::<_, OutboxRow>(SQL)
                    .bind(id)
                    .fetch_optional(&self.writer)
                    .await?
                    .map(OutboxRecord::try_from)
                    .transpose()
            }

            pub async fn notification_by_code(&self, code: Uuid) -> Result<Option<OutboxRecord>, StoreError> {
                const SQL: &str = concat!("select ", outbox_columns!(), " from outbox where code = $1");
                sqlx::query_as::<_, OutboxRow>(SQL)
                    .bind(code)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(OutboxRecord::try_from)
                    .transpose()
            }

            /// A check's notifications, newest first.
            pub async fn notifications_for_check(
                &self,
                check_id: i64,
                limit: i64,
            ) -> Result<Vec<OutboxRecord>, StoreError> {
                const SQL: &str = concat!("select ", outbox_columns!(), " from outbox where check_id = $1 \
                     order by id desc limit $2");
                sqlx::query_as::<_, OutboxRow>(SQL)
                    .bind(check_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(OutboxRecord::try_from)
                    .collect()
            }

            /// The attempts at these notifications, in order.
            pub async fn attempts(&self, outbox_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
                self.attempts_of(&[outbox_id]).await
            }

            /// The attempts of these notifications, by notification, then in order.
            pub async fn attempts_of(&self, outbox_ids: &[i64]) -> Result<Vec<AttemptRecord>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "select outbox_id, n, started, latency_ms, outcome, status_code, error \
                     from attempts where outbox_id in \
                     (select cast(value ->> 0 as bigint) from ", $rows, ") order by outbox_id, n"
                ))
                .bind(ids_json(outbox_ids))
                .fetch_all(&self.pool)
                .await?)
            }

            /// Claims up to `limit` due notifications until `claim_until`: each claim counts
            /// an attempt, and a claimer that does not finish in time loses the row to the
            /// next one (whose attempt number then fences the first).
            pub async fn claim_due(
                &self,
                now: i64,
                claim_until: i64,
                limit: i64,
            ) -> Result<Vec<OutboxRecord>, StoreError> {
                // Materialized, so the candidates are picked once. Two dispatchers may pick the
                // same rows: the update re-checks `due_at` on the row as it is when written
                // (PostgreSQL re-reads a row updated concurrently), so each row goes to one.
                const SQL: &str = concat!(
                    "with c (cid) as materialized (select id from outbox where due_at <= $2 \
                     order by due_at limit $3) \
                     update outbox set attempts = attempts + 1, due_at = $1 from c \
                     where outbox.id = c.cid and outbox.due_at <= $2 returning ", outbox_columns!()
                );
                sqlx::query_as::<_, OutboxRow>(SQL)
                    .bind(claim_until)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.writer)
                    .await?
                    .into_iter()
                    .map(OutboxRecord::try_from)
                    .collect()
            }

            /// Gives claimed notifications back untried, due at `now`, for any process to claim
            /// again; the claim's attempt is not counted. Each is `(id, attempts, claimed_until)`
            /// as claimed: a claim taken over in the meantime is left alone. Returns how many.
            pub async fn release_claims(
                &self,
                claims: &[(i64, i64, i64)],
                now: i64,
            ) -> Result<u64, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut released = 0;
                for &(id, attempts, claimed_until) in claims {
                    released += sqlx::query(
                        "update outbox set attempts = attempts - 1, due_at = $1 \
                         where id = $2 and attempts = $3 and due_at = $4 and state = 'pending'",
                    )
                    .bind(now)
                    .bind(id)
                    .bind(attempts)
                    .bind(claimed_until)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(released)
            }

            /// The earliest time a notification falls due.
            pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
                let next: Option<(i64,)> = sqlx::query_as(
                    "select due_at from outbox where due_at is not null order by due_at limit 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                Ok(next.map(|(t,)| t))
            }

            /// Records finished attempts in one transaction: each attempt row always (it
            /// happened), the notification's new state only if no later claim took the row
            /// over, and the channel's last result. Returns how many states were written.
            pub async fn finish_attempts(
                &self,
                done: &[(i64, Finished)],
            ) -> Result<usize, StoreError> {
                let mut tx = self.begin_write().await?;
                let attempts = rows_json(done.iter().map(|(_, d)| {
                    serde_json::json!([
                        d.outbox_id,
                        d.attempt,
                        millis(d.started),
                        d.latency_ms,
                        d.outcome,
                        d.status_code,
                        d.error,
                    ])
                }));
                sqlx::query(concat!(
                    "insert into attempts (outbox_id, n, started, latency_ms, outcome, \
                     status_code, error) select cast(value ->> 0 as bigint), \
                     cast(value ->> 1 as bigint), cast(value ->> 2 as bigint), \
                     cast(value ->> 3 as bigint), value ->> 4, cast(value ->> 5 as bigint), \
                     value ->> 6 from ", $rows
                ))
                .bind(attempts)
                .execute(&mut *tx)
                .await?;
                let states = rows_json(done.iter().map(|(_, d)| {
                    let state = match d.outcome {
                        "delivered" => "delivered",
                        "dead" => "dead",
                        _ => "pending",
                    };
                    serde_json::json!([
                        d.outbox_id,
                        d.attempt,
                        state,
                        d.retry_at.map(millis).filter(|_| state == "pending"),
                        d.error,
                        (state == "delivered").then(|| millis(d.started) + d.latency_ms),
                    ])
                }));
                // The new state is written only if no later claim took the row over.
                let written = sqlx::query_as::<_, (i64,)>(concat!(
                    "with j as (select cast(value ->> 0 as bigint) as oid, \
                     cast(value ->> 1 as bigint) as oattempt, value ->> 2 as ostate, \
                     cast(value ->> 3 as bigint) as odue, value ->> 4 as oerror, \
                     cast(value ->> 5 as bigint) as odelivered from ", $rows, ") \
                     update outbox set state = j.ostate, due_at = j.odue, \
                     last_error = j.oerror, delivered_at = j.odelivered from j \
                     where outbox.id = j.oid and outbox.attempts = j.oattempt returning id"
                ))
                .bind(states)
                .fetch_all(&mut *tx)
                .await?
                .len();
                // Each channel shows its latest result.
                let mut latest: Vec<(i64, &Finished)> = Vec::new();
                for (channel_id, done) in done {
                    match latest.iter_mut().find(|(id, _)| id == channel_id) {
                        Some(entry) if entry.1.started <= done.started => entry.1 = done,
                        Some(_) => {}
                        None => latest.push((*channel_id, done)),
                    }
                }
                for (channel_id, done) in latest {
                    sqlx::query(
                        "update channels set last_notify = $1, last_notify_duration = $2, \
                         last_error = $3 where id = $4",
                    )
                    .bind(millis(done.started))
                    .bind(done.latency_ms)
                    .bind(&done.error)
                    .bind(channel_id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(written)
            }

            /// Records a failure reported after delivery, on the notification and its channel.
            pub async fn report_delivery_error(
                &self,
                id: i64,
                channel_id: i64,
                error: &str,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("update outbox set last_error = $1 where id = $2")
                    .bind(error)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("update channels set last_error = $1 where id = $2")
                    .bind(error)
                    .bind(channel_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            /// Puts a delivered or dead-lettered notification back in the queue, due now.
            pub async fn resend(&self, id: i64, now: i64) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "update outbox set state = 'pending', due_at = $1 \
                     where id = $2 and due_at is null",
                )
                .bind(now)
                .bind(id)
                .execute(&self.writer)
                .await?;
                if done.rows_affected() == 1 {
                    self.outbox.notify_one();
                }
                Ok(done.rows_affected() == 1)
            }

            pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
                let (pending, dead, oldest): (i64, i64, Option<i64>) = sqlx::query_as(
                    "select count(*) filter (where state = 'pending'), \
                     count(*) filter (where state = 'dead'), \
                     min(created) filter (where state = 'pending') from outbox",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(OutboxStats {
                    pending,
                    dead,
                    oldest_pending: oldest,
                })
            }

            /// `(max ping id, max notification id, notifications of status changes not yet
            /// delivered)` for the ops metrics endpoint.
            pub async fn backlog(&self) -> Result<(Option<i64>, Option<i64>, i64), StoreError> {
                Ok(sqlx::query_as(
                    "select (select max(id) from pings), (select max(id) from outbox), \
                     (select count(*) from (select distinct check_id, changed_at from outbox \
                      where state = 'pending' and purpose = 'flip') as f)",
                )
                .fetch_one(&self.pool)
                .await?)
            }

            /// The flip before `before` of a check, if it was to down: for an up notice's
            /// downtime.
            pub async fn down_since(
                &self,
                check_id: i64,
                before: i64,
            ) -> Result<Option<i64>, StoreError> {
                let last: Option<(i64, String)> = sqlx::query_as(
                    "select created, new_status from flips where check_id = $1 and created < $2 \
                     order by created desc, id desc limit 1",
                )
                .bind(check_id)
                .bind(before)
                .fetch_optional(&self.pool)
                .await?;
                Ok(last.filter(|(_, status)| status == "down").map(|(t, _)| t))
            }
        }

        /// Records flips in one statement.
        async fn insert_flips(
            conn: &mut <$db as sqlx::Database>::Connection,
            flips: &[(i64, Flip)],
        ) -> Result<(), StoreError> {
            if flips.is_empty() {
                return Ok(());
            }
            let rows = rows_json(flips.iter().map(|(check_id, flip)| {
                serde_json::json!([
                    check_id,
                    millis(flip.created),
                    flip.old_status.as_str(),
                    flip.new_status.as_str(),
                    flip.reason,
                ])
            }));
            sqlx::query(concat!(
                "insert into flips (check_id, created, old_status, new_status, reason) \
                 select cast(value ->> 0 as bigint), cast(value ->> 1 as bigint), value ->> 2, \
                 value ->> 3, value ->> 4 from ", $rows
            ))
            .bind(rows)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        /// Queues a notification per interested channel for each flip that is announced,
        /// a few statements per chunk of flips. Returns how many were queued.
        async fn enqueue_flips(
            conn: &mut <$db as sqlx::Database>::Connection,
            flips: &[(i64, Flip)],
            now: DateTime<Utc>,
        ) -> Result<usize, StoreError> {
            let announced: Vec<&(i64, Flip)> = flips
                .iter()
                .filter(|(_, flip)| $crate::domain::channel::flip_notifies(flip))
                .collect();
            if announced.is_empty() {
                return Ok(0);
            }
            let mut check_ids: Vec<i64> = announced.iter().map(|(id, _)| *id).collect();
            check_ids.sort_unstable();
            check_ids.dedup();
            let channels: Vec<(i64, i64, i64, String, String, bool, bool)> = sqlx::query_as(concat!(
                "select cc.check_id, ch.id, ch.project_id, ch.kind, ch.value, \
                 ch.email_verified, ch.disabled from check_channels cc \
                 join channels ch on ch.id = cc.channel_id \
                 where cc.check_id in (select cast(value ->> 0 as bigint) from ", $rows, ") \
                 order by ch.id"
            ))
            .bind(ids_json(&check_ids))
            .fetch_all(&mut *conn)
            .await?;
            // Each check's channels, oldest first, found once rather than per flip.
            let mut by_check: std::collections::HashMap<i64, Vec<_>> =
                std::collections::HashMap::new();
            for channel in &channels {
                by_check.entry(channel.0).or_default().push(channel);
            }
            let mut rows = Vec::new();
            for (check_id, flip) in announced {
                let up = flip.new_status == $crate::domain::check::Status::Up;
                let Some(of_check) = by_check.get(check_id) else {
                    continue;
                };
                for (_, channel_id, project_id, kind, value, verified, disabled) in
                    of_check.iter().copied()
                {
                    if *disabled
                        || !$crate::domain::channel::channel_wants(kind, value, *verified, up)
                    {
                        continue;
                    }
                    rows.push(NewNotification {
                        project_id: *project_id,
                        check_id: Some(*check_id),
                        channel_id: *channel_id,
                        purpose: Purpose::Flip,
                        direction: flip.new_status.as_str(),
                        reason: flip.reason,
                        changed_at: flip.created,
                    });
                }
            }
            insert_notifications(conn, &rows, now).await?;
            let queued = rows.len();
            Ok(queued)
        }

        /// Inserts notifications, due at once, in one statement; returns their ids.
        async fn insert_notifications(
            conn: &mut <$db as sqlx::Database>::Connection,
            rows: &[NewNotification],
            now: DateTime<Utc>,
        ) -> Result<Vec<i64>, StoreError> {
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let rows = rows_json(rows.iter().map(|n| {
                serde_json::json!([
                    Uuid::new_v4().simple().to_string(),
                    n.project_id,
                    n.check_id,
                    n.channel_id,
                    n.purpose.as_str(),
                    n.direction,
                    n.reason,
                    millis(n.changed_at),
                    millis(now),
                ])
            }));
            let ids: Vec<(i64,)> = sqlx::query_as(concat!(
                "insert into outbox (code, project_id, check_id, channel_id, purpose, \
                 direction, reason, changed_at, created, due_at) \
                 select ", $uuid_open, "value ->> 0", $uuid_close, ", \
                 cast(value ->> 1 as bigint), cast(value ->> 2 as bigint), \
                 cast(value ->> 3 as bigint), value ->> 4, value ->> 5, value ->> 6, \
                 cast(value ->> 7 as bigint), cast(value ->> 8 as bigint), \
                 cast(value ->> 8 as bigint) from ", $rows, " returning id"
            ))
            .bind(rows)
            .fetch_all(&mut *conn)
            .await?;
            Ok(ids.into_iter().map(|(id,)| id).collect())
        }
    };
}

pub(super) use {alerts_engine, channel_columns, outbox_columns};
