//! Storage: one API over SQLite (the embedded default) and PostgreSQL (several instances).
//!
//! Handlers never see sqlx: they call [`Store`] methods, which return domain records and
//! [`StoreError`]. Both engines share their SQL (`engine.rs`) except for the batch writes of
//! the ping path (`sqlite.rs`, `postgres.rs`), and both run the same contract tests.

pub mod accounts;
pub mod alerts;
mod batch;
mod engine;
mod postgres;
mod records;
mod sqlite;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::check::Flip;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

pub use records::{
    CheckRecord, FlipRecord, KeyAccess, NewProject, PingInput, PingOutcome, PingRecord,
    PingRejection, PingTarget, ProjectRecord,
};

/// A storage failure. Handlers map it to a 500 and log it; its text never reaches clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("unsupported DATABASE_URL: expected sqlite://… or postgres://…")]
    UnsupportedUrl,
}

pub use accounts::{
    InvitationOutcome, InvitationRecord, NewInvitation, NewSession, ProjectKey, Role,
    SessionRecord, UserRecord,
};
pub use alerts::{
    AttemptRecord, ChannelRecord, DeadlineWrites, Finished, HeldLease, NewNotification,
    OutboxRecord, OutboxStats, Purpose,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The store, on whichever engine `DATABASE_URL` names.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Calls the same method on whichever engine is in use.
macro_rules! on_engine {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(store) => store.$method($($arg),*).await,
            Store::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Connects to `sqlite://path` (created if missing; WAL, every commit synced to disk)
    /// or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: an acknowledged ping survives a power loss, not only a crash.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // A batch of pings touches about three scattered pages per check (its row,
                // its deadline index entry, its pings index entry); smaller pages mean fewer
                // bytes through the WAL (for new databases).
                .page_size(2048)
                .pragma("cache_size", "-65536")
                .pragma("temp_store", "memory");
            // Each connection runs queries on its own thread: more readers than cores only
            // adds thread switches.
            let readers = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
            let pool = SqlitePoolOptions::new()
                .max_connections(u32::try_from(readers).unwrap_or(8))
                .test_before_acquire(false)
                .connect_with(options.clone())
                .await?;
            // SQLite has one write lock; one connection holding it keeps its cache warm.
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                // A local file needs no liveness probe, which would cost a round trip to
                // the connection's thread on every batch.
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            Ok(Store::Sqlite(SqliteStore {
                pool,
                writer,
                outbox: Arc::default(),
                ping_cache: batch::PingCache::default(),
            }))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .connect_with(options)
                .await?;
            Ok(Store::Postgres(PostgresStore {
                outbox: Arc::default(),
                writer: pool.clone(),
                pool,
                ping_cache: batch::PingCache::default(),
            }))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// Notified whenever notifications are queued (by pings, the deadline loop or the
    /// API), so the dispatcher need not poll for them.
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        match self {
            Store::Sqlite(store) => Arc::clone(&store.outbox),
            Store::Postgres(store) => Arc::clone(&store.outbox),
        }
    }

    /// Applies the engine's pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => {
                sqlx::migrate!("migrations/sqlite")
                    .run(&store.writer)
                    .await?;
            }
            Store::Postgres(store) => {
                sqlx::migrate!("migrations/postgres")
                    .run(&store.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Closes the connections, waiting for in-flight queries.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(store) => {
                store.writer.close().await;
                store.pool.close().await;
            }
            Store::Postgres(store) => store.pool.close().await,
        }
    }

    /// One round trip to the database.
    pub async fn health(&self) -> Result<(), StoreError> {
        on_engine!(self.health())
    }

    pub async fn create_project(
        &self,
        project: &NewProject,
        now: DateTime<Utc>,
    ) -> Result<ProjectRecord, StoreError> {
        on_engine!(self.create_project(project, now))
    }

    /// The project whose read-write or read-only key has this hash.
    pub async fn project_by_key_hash(
        &self,
        hash: &str,
    ) -> Result<Option<(ProjectRecord, KeyAccess)>, StoreError> {
        on_engine!(self.project_by_key_hash(hash))
    }

    pub async fn check_by_code(&self, code: Uuid) -> Result<Option<CheckRecord>, StoreError> {
        on_engine!(self.check_by_code(code))
    }

    pub async fn checks_in_project(&self, project_id: i64) -> Result<Vec<CheckRecord>, StoreError> {
        on_engine!(self.checks_in_project(project_id))
    }

    pub async fn count_checks(&self, project_id: i64) -> Result<i64, StoreError> {
        on_engine!(self.count_checks(project_id))
    }

    pub async fn create_check(&self, check: &CheckRecord) -> Result<CheckRecord, StoreError> {
        on_engine!(self.create_check(check))
    }

    /// Changes a check under its row lock and recomputes its deadline; `None` if it is gone.
    pub async fn modify_check<F>(
        &self,
        id: i64,
        change: F,
    ) -> Result<Option<CheckRecord>, StoreError>
    where
        F: FnOnce(&mut CheckRecord) + Send,
    {
        on_engine!(self.modify_check(id, change))
    }

    pub async fn delete_check(&self, id: i64) -> Result<bool, StoreError> {
        on_engine!(self.delete_check(id))
    }

    /// Changes a check's status and records the flip `change` returns (notifying nobody);
    /// `None` if the check is gone, else the check and whether it flipped.
    pub async fn flip_check<F>(
        &self,
        id: i64,
        change: F,
    ) -> Result<Option<(CheckRecord, bool)>, StoreError>
    where
        F: FnOnce(&mut CheckRecord) -> Option<Flip> + Send,
    {
        on_engine!(self.flip_check(id, change))
    }

    /// Pauses a check (`paused`) or resumes it (§3.6): `None` if the check is gone, else the
    /// check and whether its status changed.
    pub async fn set_paused(
        &self,
        id: i64,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<(CheckRecord, bool)>, StoreError> {
        self.flip_check(id, |c| {
            if paused {
                c.state.pause(now)
            } else {
                c.state.resume(now)
            }
        })
        .await
    }

    /// Records pings in one transaction; one outcome per input, in order.
    pub async fn record_pings(
        &self,
        batch: &[PingInput],
        now: DateTime<Utc>,
    ) -> Result<Vec<PingOutcome>, StoreError> {
        on_engine!(self.record_pings(batch, now))
    }

    pub async fn pings(&self, check_id: i64, limit: i64) -> Result<Vec<PingRecord>, StoreError> {
        on_engine!(self.pings(check_id, limit))
    }

    pub async fn flips(&self, check_id: i64) -> Result<Vec<FlipRecord>, StoreError> {
        on_engine!(self.flips(check_id))
    }
}

/// Forwards each listed method to the engine in use.
macro_rules! forward {
    ($( $(#[$meta:meta])* pub async fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty; )*) => {
        impl Store {
            $(
                $(#[$meta])*
                pub async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    on_engine!(self.$name($($arg),*))
                }
            )*
        }
    };
}

// Team invitations.
forward! {
    /// Invites an address to a project, replacing its earlier invitation there.
    pub async fn create_invitation(&self, invitation: &NewInvitation) -> Result<(), StoreError>;
    /// A project's invitations, expired ones included, by address.
    pub async fn invitations_of_project(&self, project_id: i64) -> Result<Vec<InvitationRecord>, StoreError>;
    /// The invitation whose link token has this hash, expired or not.
    pub async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<InvitationRecord>, StoreError>;
    /// Withdraws one of a project's invitations; whether there was one.
    pub async fn cancel_invitation(&self, project_id: i64, invitation_id: i64) -> Result<bool, StoreError>;
    /// Withdraws the invitation of an address to a project, if any.
    pub async fn cancel_invitation_to(&self, project_id: i64, email: &str) -> Result<(), StoreError>;
    /// Uses up the unexpired invitation of `email` with this token: the user joins its project.
    pub async fn accept_invitation(&self, token_hash: &str, user_id: i64, email: &str, now: i64) -> Result<InvitationOutcome, StoreError>;
    /// Uses up the unexpired invitation with this token by creating its address's account,
    /// a member of its project, with a session.
    pub async fn accept_invitation_with_signup(&self, token_hash: &str, password_hash: &str, session: &NewSession, now: i64) -> Result<InvitationOutcome, StoreError>;
}

forward! {
    /// Creates a user owning a new project, with a session, in one transaction; `None` if
    /// the address has an account already.
    pub async fn create_account(&self, email: &str, password_hash: &str, project: &NewProject, session: &NewSession, now: i64) -> Result<Option<UserRecord>, StoreError>;
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    pub async fn create_session(&self, user_id: i64, session: &NewSession, now: i64) -> Result<(), StoreError>;
    /// The unexpired session whose token has this hash.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Option<SessionRecord>, StoreError>;
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    /// Sets a new password and ends every other session of the user.
    pub async fn set_password(&self, user_id: i64, password_hash: &str, keep_session: i64) -> Result<(), StoreError>;
    /// The projects a user belongs to, by name, with their role in each.
    pub async fn projects_of_user(&self, user_id: i64) -> Result<Vec<(ProjectRecord, Role)>, StoreError>;
    /// A new project owned by `user_id`.
    pub async fn create_project_for(&self, user_id: i64, project: &NewProject, now: i64) -> Result<ProjectRecord, StoreError>;
    /// The project with this code and the user's role in it, if they are a member.
    pub async fn project_of_member(&self, code: Uuid, user_id: i64) -> Result<Option<(ProjectRecord, Role)>, StoreError>;
    /// Adds a user to a project with a role, or changes their role; never the owner's.
    /// Whether anything was written.
    pub async fn set_member(&self, project_id: i64, user_id: i64, role: Role, now: i64) -> Result<bool, StoreError>;
    /// A project's members: `(user id, address, role)`, by address.
    pub async fn members_of_project(&self, project_id: i64) -> Result<Vec<(i64, String, Role)>, StoreError>;
    /// Removes a member who is not the owner; whether one was removed.
    pub async fn remove_member(&self, project_id: i64, user_id: i64) -> Result<bool, StoreError>;
    pub async fn rename_project(&self, id: i64, name: &str) -> Result<(), StoreError>;
    /// Sets (or, with an empty value, revokes) one of a project's keys.
    pub async fn set_project_key(&self, id: i64, key: ProjectKey, value: &str) -> Result<(), StoreError>;
    /// Which of a project's API keys are set: (read-write, read-only).
    pub async fn project_keys_set(&self, id: i64) -> Result<(bool, bool), StoreError>;
    /// Deletes a project with everything in it.
    pub async fn delete_project(&self, id: i64) -> Result<(), StoreError>;
    /// The site's secret, stored on first use.
    pub async fn site_secret(&self, candidate: &str) -> Result<String, StoreError>;
    pub async fn project_by_badge_key(&self, key: &str) -> Result<Option<ProjectRecord>, StoreError>;
    pub async fn check_by_badge_key(&self, key: Uuid) -> Result<Option<CheckRecord>, StoreError>;
    /// Max ping id, max notification id, undelivered status-change notifications.
    pub async fn backlog(&self) -> Result<(Option<i64>, Option<i64>, i64), StoreError>;
    /// `(id, n_pings)` of up to `max` checks with more than `beyond` unpruned pings.
    pub async fn checks_to_prune(&self, beyond: i64, max: i64) -> Result<Vec<(i64, i64)>, StoreError>;
    /// Keeps the newest `keep` pings of each `(id, n_pings)` and prunes what is older, in one
    /// transaction.
    pub async fn prune_checks(&self, checks: &[(i64, i64)], keep: i64, flips_before: DateTime<Utc>) -> Result<u64, StoreError>;
    /// A check's ping by its number.
    pub async fn ping_by_n(&self, check_id: i64, n: i64) -> Result<Option<PingRecord>, StoreError>;
    pub async fn create_channel(&self, channel: &ChannelRecord) -> Result<ChannelRecord, StoreError>;
    /// Saves a channel's name, settings, verification and disabled flag.
    pub async fn update_channel(&self, channel: &ChannelRecord) -> Result<bool, StoreError>;
    pub async fn delete_channel(&self, id: i64) -> Result<bool, StoreError>;
    pub async fn channel_by_code(&self, code: Uuid) -> Result<Option<ChannelRecord>, StoreError>;
    pub async fn channel_by_id(&self, id: i64) -> Result<Option<ChannelRecord>, StoreError>;
    pub async fn channels_in_project(&self, project_id: i64) -> Result<Vec<ChannelRecord>, StoreError>;
    /// Replaces the set of channels a check notifies.
    pub async fn set_check_channels(&self, check_id: i64, channel_ids: &[i64]) -> Result<(), StoreError>;
    /// Turns one channel on or off for a check.
    pub async fn set_check_channel(&self, check_id: i64, channel_id: i64, on: bool) -> Result<(), StoreError>;
    /// Assigns a channel to every check of its project.
    pub async fn assign_channel_to_all(&self, channel_id: i64, project_id: i64) -> Result<(), StoreError>;
    /// `(check id, channel code)` for every assignment in the project.
    pub async fn check_channel_codes(&self, project_id: i64) -> Result<Vec<(i64, Uuid)>, StoreError>;
    /// Replaces the set of checks a channel notifies (only its project's), in one transaction;
    /// how many checks it notifies.
    pub async fn set_channel_checks(&self, channel_id: i64, project_id: i64, check_ids: &[i64]) -> Result<u64, StoreError>;
    /// Marks an email channel verified if the token's hash matches.
    pub async fn verify_channel(&self, code: Uuid, token_hash: &str) -> Result<bool, StoreError>;
    /// Records that `holder` is alive; returns how many holders are.
    pub async fn heartbeat(&self, holder: &str, now: i64, ttl_ms: i64) -> Result<i64, StoreError>;
    pub async fn leave(&self, holder: &str) -> Result<(), StoreError>;
    /// `(shard, holder, expires_at)` of every lease.
    pub async fn leases(&self) -> Result<Vec<(i32, Option<String>, i64)>, StoreError>;
    /// Takes a free or expired lease; returns its new fencing token.
    pub async fn take_lease(&self, shard: i32, holder: &str, now: i64, expires_at: i64) -> Result<Option<i64>, StoreError>;
    pub async fn renew_lease(&self, lease: HeldLease, holder: &str, expires_at: i64) -> Result<bool, StoreError>;
    pub async fn release_lease(&self, lease: HeldLease, holder: &str) -> Result<(), StoreError>;
    /// Checks of the shards in `mask` whose deadline has come, earliest first.
    pub async fn due_checks(&self, mask: i64, shards: i64, now: i64, limit: i64) -> Result<Vec<CheckRecord>, StoreError>;
    pub async fn next_deadline(&self, mask: i64, shards: i64) -> Result<Option<i64>, StoreError>;
    /// Writes the deadline loop's verdicts, fenced by the leases given.
    pub async fn write_deadlines(
        &self,
        holder: &str,
        leases: &[HeldLease],
        shards: i64,
        judged: &[(CheckRecord, Option<Flip>)],
        now: DateTime<Utc>,
    ) -> Result<DeadlineWrites, StoreError>;
    /// Queues one notification, due at once.
    pub async fn enqueue(&self, notification: &NewNotification, now: DateTime<Utc>) -> Result<OutboxRecord, StoreError>;
    pub async fn notification(&self, id: i64) -> Result<Option<OutboxRecord>, StoreError>;
    pub async fn notification_by_code(&self, code: Uuid) -> Result<Option<OutboxRecord>, StoreError>;
    /// A check's notifications, newest first.
    pub async fn notifications_for_check(&self, check_id: i64, limit: i64) -> Result<Vec<OutboxRecord>, StoreError>;
    pub async fn attempts(&self, outbox_id: i64) -> Result<Vec<AttemptRecord>, StoreError>;
    /// The attempts of these notifications, by notification, then in order.
    pub async fn attempts_of(&self, outbox_ids: &[i64]) -> Result<Vec<AttemptRecord>, StoreError>;
    /// Claims due notifications until `claim_until`.
    pub async fn claim_due(&self, now: i64, claim_until: i64, limit: i64) -> Result<Vec<OutboxRecord>, StoreError>;
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError>;
    /// Records finished attempts (with their channel ids); returns how many states were written.
    pub async fn finish_attempts(&self, done: &[(i64, Finished)]) -> Result<usize, StoreError>;
    pub async fn release_claims(&self, claims: &[(i64, i64, i64)], now: i64) -> Result<u64, StoreError>;
    /// The checks with these ids, in no particular order.
    pub async fn checks_by_ids(&self, ids: &[i64]) -> Result<Vec<CheckRecord>, StoreError>;
    pub async fn channels_by_ids(&self, ids: &[i64]) -> Result<Vec<ChannelRecord>, StoreError>;
    /// `(check id, channel code)` for each of these checks' channels.
    pub async fn channels_of_checks(&self, ids: &[i64]) -> Result<Vec<(i64, Uuid)>, StoreError>;
    /// The codes of the channels a check notifies, sorted.
    pub async fn channels_of_check(&self, check_id: i64) -> Result<Vec<Uuid>, StoreError>;
    pub async fn project_name(&self, project_id: i64) -> Result<Option<String>, StoreError>;
    /// The check's last ping at or before `at` (epoch ms).
    pub async fn last_ping_before(&self, check_id: i64, at: i64) -> Result<Option<PingRecord>, StoreError>;
    /// Records a failure reported after delivery, on the notification and its channel.
    pub async fn report_delivery_error(&self, id: i64, channel_id: i64, error: &str) -> Result<(), StoreError>;
    /// Queues a finished notification again.
    pub async fn resend(&self, id: i64, now: i64) -> Result<bool, StoreError>;
    pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;
    /// When the check went down, if its flip before `before` was to down.
    pub async fn down_since(&self, check_id: i64, before: i64) -> Result<Option<i64>, StoreError>;
}
