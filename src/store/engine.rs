//! The store's SQL, written once and instantiated for each engine.
//!
//! The statements are portable (`$1` placeholders, `returning`, integer instants), so one body
//! serves SQLite and PostgreSQL. What differs is passed in: how a write transaction begins
//! (SQLite takes the write lock up front with `BEGIN IMMEDIATE`, so two writers never deadlock
//! upgrading a read lock) and the row-lock clause (`for update` on PostgreSQL, nothing on SQLite,
//! whose write lock already covers the database).

/// The columns of [`super::records::CheckRow`], in a select list.
macro_rules! check_columns {
    () => {
        "checks.id, checks.code, checks.project_id, checks.name, checks.slug, checks.tags, \
         checks.description, checks.kind, checks.timeout, checks.grace, checks.schedule, \
         checks.tz, checks.filter_subject, checks.filter_body, checks.filter_http_body, \
         checks.filter_default_fail, checks.start_kw, checks.success_kw, checks.failure_kw, \
         checks.methods, checks.manual_resume, checks.badge_key, checks.n_pings, \
         checks.last_ping, checks.last_start, checks.last_start_rid, checks.last_duration, \
         checks.has_confirmation_link, checks.alert_after, checks.status, checks.version, \
         checks.created"
    };
}

/// The columns a check's writes set, in the order [`bind_check_fields`] binds them.
macro_rules! check_fields {
    () => {
        "name, slug, tags, description, kind, timeout, grace, schedule, tz, filter_subject, \
         filter_body, filter_http_body, filter_default_fail, start_kw, success_kw, failure_kw, \
         methods, manual_resume, n_pings, last_ping, last_start, last_start_rid, last_duration, \
         has_confirmation_link, alert_after, status"
    };
}

/// Binds the values of [`check_fields`] from a `CheckRecord`.
macro_rules! bind_check_fields {
    ($query:expr, $check:expr) => {{
        let c = $check;
        let s = &c.state;
        $query
            .bind(&c.name)
            .bind(&c.slug)
            .bind(&c.tags)
            .bind(&c.desc)
            .bind(s.kind.as_str())
            .bind(s.timeout.num_seconds())
            .bind(s.grace.num_seconds())
            .bind(&s.schedule)
            .bind(&s.tz)
            .bind(c.filter_subject)
            .bind(c.filter_body)
            .bind(s.filter_http_body)
            .bind(s.filter_default_fail)
            .bind(&s.start_kw)
            .bind(&s.success_kw)
            .bind(&s.failure_kw)
            .bind(&s.methods)
            .bind(s.manual_resume)
            .bind(s.n_pings)
            .bind(s.last_ping.map(millis))
            .bind(s.last_start.map(millis))
            .bind(s.last_start_rid)
            .bind(s.last_duration.map(|d| d.num_milliseconds()))
            .bind(s.has_confirmation_link)
            .bind(c.alert_after.map(millis))
            .bind(s.status.as_str())
    }};
}

macro_rules! project_columns {
    () => {
        "id, code, name, ping_key, badge_key, show_slugs, check_limit"
    };
}

macro_rules! engine {
    (
        $store:ident,
        $db:ty,
        begin_write = $begin:literal,
        lock = $lock:literal
        $(, $field:ident: $field_ty:ty)* $(,)?
    ) => {
        /// The store on one engine.
        #[derive(Debug, Clone)]
        pub struct $store {
            $(pub(super) $field: $field_ty,)*
            /// Connections for reads.
            pub(super) pool: sqlx::Pool<$db>,
            /// Notified after a commit that queued notifications, to wake the dispatcher.
            pub(super) outbox: std::sync::Arc<tokio::sync::Notify>,
            /// Connections for writes: on SQLite a single one, whose page cache then stays
            /// valid from one transaction to the next instead of being reloaded.
            pub(super) writer: sqlx::Pool<$db>,
        }

        impl $store {
            /// After a batch commits: wakes the dispatcher if it queued notifications, keeps
            /// the checks as now stored for the next batch, and hands back the outcomes.
            fn finish_batch(&self, written: batch::Written) -> Vec<PingOutcome> {
                if written.queued > 0 {
                    self.outbox.notify_one();
                }
                self.ping_cache.put(written.checks);
                written.outcomes
            }

            async fn begin_write(&self) -> Result<sqlx::Transaction<'static, $db>, StoreError> {
                Ok(self.writer.begin_with($begin).await?)
            }

            pub async fn health(&self) -> Result<(), StoreError> {
                sqlx::query("select 1").execute(&self.pool).await?;
                Ok(())
            }

            pub async fn create_project(
                &self,
                project: &NewProject,
                now: DateTime<Utc>,
            ) -> Result<ProjectRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let record = insert_project(&mut tx, project, millis(now)).await?;
                tx.commit().await?;
                Ok(record)
            }

            pub async fn project_by_key_hash(
                &self,
                hash: &str,
            ) -> Result<Option<(ProjectRecord, KeyAccess)>, StoreError> {
                if hash.is_empty() {
                    return Ok(None);
                }
                let rw = sqlx::query_as::<_, ProjectRecord>(concat!(
                    "select ", project_columns!(), " from projects where api_key_hash = $1"
                ))
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(project) = rw {
                    return Ok(Some((project, KeyAccess::ReadWrite)));
                }
                let ro = sqlx::query_as::<_, ProjectRecord>(concat!(
                    "select ", project_columns!(), " from projects where api_key_ro_hash = $1"
                ))
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(ro.map(|project| (project, KeyAccess::ReadOnly)))
            }

            pub async fn check_by_code(&self, code: Uuid) -> Result<Option<CheckRecord>, StoreError> {
                sqlx::query_as::<_, CheckRow>(concat!(
                    "select ", check_columns!(), " from checks where code = $1"
                ))
                .bind(code)
                .fetch_optional(&self.pool)
                .await?
                .map(CheckRecord::try_from)
                .transpose()
            }

            /// The project's checks, oldest first.
            pub async fn checks_in_project(&self, project_id: i64) -> Result<Vec<CheckRecord>, StoreError> {
                sqlx::query_as::<_, CheckRow>(concat!(
                    "select ", check_columns!(), " from checks where project_id = $1 order by id"
                ))
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(CheckRecord::try_from)
                .collect()
            }

            pub async fn count_checks(&self, project_id: i64) -> Result<i64, StoreError> {
                let (n,): (i64,) = sqlx::query_as("select count(*) from checks where project_id = $1")
                    .bind(project_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n)
            }

            /// Inserts a check (its `id` is ignored) and returns it as stored.
            pub async fn create_check(&self, check: &CheckRecord) -> Result<CheckRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let id = insert_check(&mut tx, check).await?;
                tx.commit().await?;
                Ok(CheckRecord { id, ..check.clone() })
            }

            /// Changes a check under its row lock, recomputing its deadline. Returns the check
            /// as stored, or `None` if it no longer exists.
            pub async fn modify_check<F>(&self, id: i64, change: F) -> Result<Option<CheckRecord>, StoreError>
            where
                F: FnOnce(&mut CheckRecord) + Send,
            {
                let mut tx = self.begin_write().await?;
                let Some(mut check) = lock_check_by(&mut tx, CheckKey::Id(id)).await? else {
                    return Ok(None);
                };
                change(&mut check);
                check.alert_after = check.state.going_down_after();
                update_check(&mut tx, &check).await?;
                tx.commit().await?;
                check.version += 1;
                Ok(Some(check))
            }

            /// Changes a check's status under its row lock, recording the flip `change`
            /// returns (pause and resume: flips that notify nobody). Returns the check as
            /// stored and whether it flipped, or `None` if it no longer exists.
            pub async fn flip_check<F>(
                &self,
                id: i64,
                change: F,
            ) -> Result<Option<(CheckRecord, bool)>, StoreError>
            where
                F: FnOnce(&mut CheckRecord) -> Option<Flip> + Send,
            {
                let mut tx = self.begin_write().await?;
                let Some(mut check) = lock_check_by(&mut tx, CheckKey::Id(id)).await? else {
                    return Ok(None);
                };
                let Some(flip) = change(&mut check) else {
                    return Ok(Some((check, false)));
                };
                check.alert_after = check.state.going_down_after();
                update_check(&mut tx, &check).await?;
                insert_flips(&mut tx, &[(check.id, flip)]).await?;
                tx.commit().await?;
                check.version += 1;
                Ok(Some((check, true)))
            }

            /// Deletes a check with its pings and flips; false if it was already gone.
            pub async fn delete_check(&self, id: i64) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "delete from attempts where outbox_id in \
                     (select id from outbox where check_id = $1)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let done = sqlx::query("delete from checks where id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            /// Records a batch of pings in one transaction (group commit). Pings are judged
            /// in turn, so several pings of one check apply in order; the batch's checks are
            /// read with one statement, and its changes written with one per table.
            async fn record_pings_in_transaction(
                &self,
                batch: &[PingInput],
                now: DateTime<Utc>,
            ) -> Result<batch::Written, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut checks: HashMap<Uuid, CheckRecord> =
                    Self::lock_by_codes(&mut tx, &batch::codes(batch))
                        .await?
                        .into_iter()
                        .map(|check| (check.code, check))
                        .collect();
                let mut resolved = Vec::with_capacity(batch.len());
                for input in batch {
                    resolved.push(find_check(&mut tx, &mut checks, input, now).await?);
                }
                let applied = batch::apply(&mut checks, batch, resolved, now);
                let changed: Vec<&CheckRecord> =
                    applied.changed.iter().filter_map(|code| checks.get(code)).collect();
                Self::write_batch(&mut tx, &changed, &applied).await?;
                let queued = enqueue_flips(&mut tx, &applied.flips, now).await?;
                tx.commit().await?;
                batch::bump_versions(&mut checks, &applied.changed);
                Ok(batch::Written { outcomes: applied.outcomes, checks, queued })
            }

            /// A check's pings, newest first.
            pub async fn pings(&self, check_id: i64, limit: i64) -> Result<Vec<PingRecord>, StoreError> {
                sqlx::query_as::<_, PingRow>(
                    "select n, created, kind, scheme, remote_addr, method, ua, body, exitstatus, rid \
                     from pings where check_id = $1 order by n desc limit $2",
                )
                .bind(check_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(PingRecord::try_from)
                .collect()
            }

            /// A check's ping by its number.
            pub async fn ping_by_n(&self, check_id: i64, n: i64) -> Result<Option<PingRecord>, StoreError> {
                sqlx::query_as::<_, PingRow>(
                    "select n, created, kind, scheme, remote_addr, method, ua, body, exitstatus, rid \
                     from pings where check_id = $1 and n = $2",
                )
                .bind(check_id)
                .bind(n)
                .fetch_optional(&self.pool)
                .await?
                .map(PingRecord::try_from)
                .transpose()
            }

            /// A check's status changes, newest first.
            pub async fn flips(&self, check_id: i64) -> Result<Vec<FlipRecord>, StoreError> {
                sqlx::query_as::<_, FlipRow>(
                    "select created, old_status, new_status, reason from flips \
                     where check_id = $1 order by id desc",
                )
                .bind(check_id)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(FlipRecord::try_from)
                .collect()
            }
        }

        /// How to find the one check to lock.
        enum CheckKey<'a> {
            Id(i64),
            /// A ping key and slug may match several checks; this yields at most two.
            Slug(&'a str, &'a str),
        }

        async fn lock_checks_by(
            tx: &mut sqlx::Transaction<'static, $db>,
            key: CheckKey<'_>,
        ) -> Result<Vec<CheckRecord>, StoreError> {
            let rows = match key {
                CheckKey::Id(id) => {
                    sqlx::query_as::<_, CheckRow>(concat!(
                        "select ", check_columns!(), " from checks where id = $1", $lock
                    ))
                    .bind(id)
                    .fetch_all(&mut **tx)
                    .await?
                }
                CheckKey::Slug(ping_key, slug) => {
                    sqlx::query_as::<_, CheckRow>(concat!(
                        "select ", check_columns!(), " from checks \
                         join projects on projects.id = checks.project_id \
                         where projects.ping_key = $1 and checks.slug = $2 \
                         order by checks.id limit 2", $lock
                    ))
                    .bind(ping_key)
                    .bind(slug)
                    .fetch_all(&mut **tx)
                    .await?
                }
            };
            rows.into_iter().map(CheckRecord::try_from).collect()
        }

        async fn lock_check_by(
            tx: &mut sqlx::Transaction<'static, $db>,
            key: CheckKey<'_>,
        ) -> Result<Option<CheckRecord>, StoreError> {
            Ok(lock_checks_by(tx, key).await?.into_iter().next())
        }

        async fn insert_check(
            tx: &mut sqlx::Transaction<'static, $db>,
            c: &CheckRecord,
        ) -> Result<i64, StoreError> {
            let query = sqlx::query_as(concat!(
                "insert into checks (", check_fields!(), ", code, project_id, badge_key, created) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30) returning id"
            ));
            let (id,): (i64,) = bind_check_fields!(query, c)
                .bind(c.code)
                .bind(c.project_id)
                .bind(c.badge_key)
                .bind(millis(c.created))
                .fetch_one(&mut **tx)
                .await?;
            Ok(id)
        }

        async fn update_check(
            tx: &mut sqlx::Transaction<'static, $db>,
            c: &CheckRecord,
        ) -> Result<(), StoreError> {
            let query = sqlx::query(concat!(
                "update checks set (", check_fields!(), ") = ($1, $2, $3, $4, $5, $6, $7, $8, \
                 $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, \
                 $25, $26), version = version + 1 where id = $27"
            ));
            bind_check_fields!(query, c).bind(c.id).execute(&mut **tx).await?;
            Ok(())
        }

        /// The ping's check, added to `checks` if it was not there: found by code (already
        /// loaded), by ping key and slug, or created for `?create=1` when allowed. Refusals
        /// apply only once the check is found.
        async fn find_check(
            tx: &mut sqlx::Transaction<'static, $db>,
            checks: &mut HashMap<Uuid, CheckRecord>,
            input: &PingInput,
            now: DateTime<Utc>,
        ) -> Result<batch::Resolved, StoreError> {
            let (code, created) = match &input.target {
                PingTarget::Code(_) => return Ok(batch::resolve_code(checks, input)),
                PingTarget::Slug { ping_key, slug, create } => {
                    let mut found = lock_checks_by(tx, CheckKey::Slug(ping_key, slug)).await?;
                    match (found.pop(), found.is_empty()) {
                        (Some(check), true) => {
                            // An earlier ping of this batch may have changed it already.
                            let code = check.code;
                            checks.entry(code).or_insert(check);
                            (code, false)
                        }
                        (Some(_), false) => return Ok(Err(PingOutcome::AmbiguousSlug)),
                        (None, _) if *create => {
                            match provision_check(tx, ping_key, slug, input.reject, now).await? {
                                Ok(check) => {
                                    let code = check.code;
                                    checks.insert(code, check);
                                    (code, true)
                                }
                                Err(outcome) => return Ok(Err(outcome)),
                            }
                        }
                        (None, _) => return Ok(Err(PingOutcome::NotFound)),
                    }
                }
            };
            if let Some(rejection) = input.reject {
                return Ok(Err(PingOutcome::Rejected(rejection)));
            }
            Ok(Ok((code, created)))
        }

        /// Creates the check a `?create=1` ping names, if its project exists and is under
        /// twice its check limit (healthchecks.io's allowance for auto-provisioning).
        async fn provision_check(
            tx: &mut sqlx::Transaction<'static, $db>,
            ping_key: &str,
            slug: &str,
            reject: Option<PingRejection>,
            now: DateTime<Utc>,
        ) -> Result<Result<CheckRecord, PingOutcome>, StoreError> {
            let project: Option<(i64, i64)> =
                sqlx::query_as("select id, check_limit from projects where ping_key = $1")
                    .bind(ping_key)
                    .fetch_optional(&mut **tx)
                    .await?;
            let Some((project_id, limit)) = project else {
                return Ok(Err(PingOutcome::NotFound));
            };
            let (used,): (i64,) = sqlx::query_as("select count(*) from checks where project_id = $1")
                .bind(project_id)
                .fetch_one(&mut **tx)
                .await?;
            if used >= limit.saturating_mul(2) {
                return Ok(Err(PingOutcome::NotFound));
            }
            // A rejected ping changes nothing, so it provisions nothing either.
            if let Some(rejection) = reject {
                return Ok(Err(PingOutcome::Rejected(rejection)));
            }
            let mut check = CheckRecord::new(project_id, now);
            check.name = slug.to_owned();
            check.slug = slug.to_owned();
            check.id = insert_check(tx, &check).await?;
            Ok(Ok(check))
        }
    };
}

pub(super) use {bind_check_fields, check_columns, check_fields, engine, project_columns};
