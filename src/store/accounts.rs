//! Dashboard accounts: users, sessions, and each user's role in each project.

use std::str::FromStr;

use super::StoreError;

/// A person who logs in to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub id: i64,
    pub email: String,
    /// Argon2id, as a PHC string.
    pub password_hash: String,
    pub created: i64,
}

/// A logged-in browser: whose it is and the token its forms must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: i64,
    pub user: UserRecord,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// What a member may do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Sees everything, changes nothing.
    ReadOnly,
    /// Manages checks and integrations.
    Member,
    /// Also manages keys and the team.
    Manager,
    /// Also renames and deletes the project.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReadOnly => "readonly",
            Role::Member => "member",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }

    /// Whether the role may change checks, integrations and other project data.
    pub fn can_write(self) -> bool {
        self >= Role::Member
    }
}

impl FromStr for Role {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Role, StoreError> {
        Ok(match s {
            "readonly" => Role::ReadOnly,
            "member" => Role::Member,
            "manager" => Role::Manager,
            "owner" => Role::Owner,
            other => return Err(StoreError::Corrupt(format!("unknown role {other:?}"))),
        })
    }
}

/// A new session: the hash of the cookie's token, and the form token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

macro_rules! accounts_engine {
    ($store:ident, $db:ty) => {
        use $crate::store::accounts::{NewSession, Role, SessionRecord, UserRecord};

        impl $store {
            /// Creates a user owning a new project, and a session for them, in one
            /// transaction; `None` (and nothing written) if the address has an account.
            pub async fn create_account(
                &self,
                email: &str,
                password_hash: &str,
                project: &NewProject,
                session: &NewSession,
                now: i64,
            ) -> Result<Option<UserRecord>, StoreError> {
                let mut tx = self.begin_write().await?;
                let user: Option<UserRecord> = sqlx::query_as(
                    "insert into users (email, password_hash, created) values ($1, $2, $3) \
                     on conflict (email) do nothing \
                     returning id, email, password_hash, created",
                )
                .bind(email)
                .bind(password_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(user) = user else {
                    return Ok(None);
                };
                let (project_id,): (i64,) = sqlx::query_as(
                    "insert into projects (code, name, api_key_hash, api_key_ro_hash, ping_key, \
                     badge_key, created) values ($1, $2, $3, $4, $5, $6, $7) returning id",
                )
                .bind(project.code)
                .bind(&project.name)
                .bind(&project.api_key_hash)
                .bind(&project.api_key_ro_hash)
                .bind(&project.ping_key)
                .bind(&project.badge_key)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "insert into memberships (project_id, user_id, role, created) \
                     values ($1, $2, 'owner', $3)",
                )
                .bind(project_id)
                .bind(user.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                insert_session(&mut tx, user.id, session, now).await?;
                tx.commit().await?;
                Ok(Some(user))
            }

            pub async fn user_by_email(
                &self,
                email: &str,
            ) -> Result<Option<UserRecord>, StoreError> {
                Ok(sqlx::query_as(
                    "select id, email, password_hash, created from users where email = $1",
                )
                .bind(email)
                .fetch_optional(&self.pool)
                .await?)
            }

            pub async fn create_session(
                &self,
                user_id: i64,
                session: &NewSession,
                now: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                insert_session(&mut tx, user_id, session, now).await?;
                tx.commit().await?;
                Ok(())
            }

            /// The session whose token has this hash, if it has not expired.
            pub async fn session(
                &self,
                token_hash: &str,
                now: i64,
            ) -> Result<Option<SessionRecord>, StoreError> {
                let row: Option<(i64, String, i64, i64, String, String, i64)> = sqlx::query_as(
                    "select s.id, s.csrf_token, s.expires_at, u.id, u.email, u.password_hash, \
                     u.created from sessions s join users u on u.id = s.user_id \
                     where s.token_hash = $1 and s.expires_at > $2",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(
                    |(id, csrf_token, expires_at, user_id, email, password_hash, created)| {
                        SessionRecord {
                            id,
                            user: UserRecord {
                                id: user_id,
                                email,
                                password_hash,
                                created,
                            },
                            csrf_token,
                            expires_at,
                        }
                    },
                ))
            }

            pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
                sqlx::query("delete from sessions where token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            /// Sets a new password and ends every other session of the user.
            pub async fn set_password(
                &self,
                user_id: i64,
                password_hash: &str,
                keep_session: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("update users set password_hash = $1 where id = $2")
                    .bind(password_hash)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("delete from sessions where user_id = $1 and id <> $2")
                    .bind(user_id)
                    .bind(keep_session)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            /// The projects a user belongs to, by name, with their role in each.
            pub async fn projects_of_user(
                &self,
                user_id: i64,
            ) -> Result<Vec<(ProjectRecord, Role)>, StoreError> {
                use sqlx::{FromRow, Row};
                let rows = sqlx::query(concat!(
                    "select ",
                    project_columns!(),
                    ", role from memberships \
                     join projects on projects.id = memberships.project_id \
                     where user_id = $1 order by name, id"
                ))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                let mut projects = Vec::with_capacity(rows.len());
                for row in &rows {
                    let role: String = row.try_get("role")?;
                    projects.push((ProjectRecord::from_row(row)?, role.parse()?));
                }
                Ok(projects)
            }
        }

        async fn insert_session(
            tx: &mut sqlx::Transaction<'static, $db>,
            user_id: i64,
            session: &NewSession,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "insert into sessions (token_hash, user_id, csrf_token, created, expires_at) \
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(&session.token_hash)
            .bind(user_id)
            .bind(&session.csrf_token)
            .bind(now)
            .bind(session.expires_at)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }
    };
}

pub(super) use accounts_engine;
