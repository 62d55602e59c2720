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

/// One of a project's three keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectKey {
    /// The read-write API key (stored hashed).
    ReadWrite,
    /// The read-only API key (stored hashed).
    ReadOnly,
    /// The ping key of slug URLs (stored as is: it is part of those URLs).
    Ping,
}

/// A new session: the hash of the cookie's token, and the form token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// An invitation to write: `email` (lowercased) may join the project as `role` until
/// `expires_at`, through the link whose token hashes to `token_hash`.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub project_id: i64,
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    /// The inviting user.
    pub invited_by: i64,
    pub created: i64,
    pub expires_at: i64,
}

/// A pending invitation to join a project, with what its pages show about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRecord {
    pub id: i64,
    pub project_id: i64,
    pub project_code: uuid::Uuid,
    pub project_name: String,
    /// The invited address, lowercased.
    pub email: String,
    pub role: Role,
    /// SHA-256 of the link's token.
    pub token_hash: String,
    /// The inviter's address, unless their account is gone.
    pub invited_by: Option<String>,
    pub created: i64,
    pub expires_at: i64,
}

/// What answering an invitation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationOutcome {
    /// The user is a member of the project with this code; the invitation is used up.
    Joined(uuid::Uuid),
    /// No unexpired invitation has this token (and, for a login, this address).
    NotValid,
    /// Signing up failed: the address has an account already. Nothing was written.
    AccountExists,
}

/// The columns of [`InvitationRecord`], in order, from `invitations i` joined with
/// `projects p` and (left) `users u`, the inviter.
macro_rules! invitation_columns {
    () => {
        "i.id, i.project_id, p.code, p.name, i.email, i.role, i.token_hash, u.email, \
         i.created, i.expires_at from invitations i join projects p on p.id = i.project_id \
         left join users u on u.id = i.invited_by"
    };
}
pub(super) use invitation_columns;

type InvitationRow = (
    i64,
    i64,
    uuid::Uuid,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

pub(super) fn invitation_from_row(row: InvitationRow) -> Result<InvitationRecord, StoreError> {
    let (
        id,
        project_id,
        project_code,
        project_name,
        email,
        role,
        token_hash,
        invited_by,
        created,
        expires_at,
    ) = row;
    Ok(InvitationRecord {
        id,
        project_id,
        project_code,
        project_name,
        email,
        role: role.parse()?,
        token_hash,
        invited_by,
        created,
        expires_at,
    })
}

macro_rules! accounts_engine {
    ($store:ident, $db:ty) => {
        use $crate::store::accounts::{
            InvitationOutcome, InvitationRecord, NewInvitation, NewSession, ProjectKey, Role,
            SessionRecord, UserRecord, invitation_columns, invitation_from_row,
        };

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
                let project = insert_project(&mut tx, project, now).await?;
                insert_owner(&mut tx, project.id, user.id, now).await?;
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

        impl $store {
            /// A new project owned by `user_id`.
            pub async fn create_project_for(
                &self,
                user_id: i64,
                project: &NewProject,
                now: i64,
            ) -> Result<ProjectRecord, StoreError> {
                let mut tx = self.begin_write().await?;
                let record = insert_project(&mut tx, project, now).await?;
                insert_owner(&mut tx, record.id, user_id, now).await?;
                tx.commit().await?;
                Ok(record)
            }

            /// The project with this code and the user's role in it, if they are a member.
            pub async fn project_of_member(
                &self,
                code: uuid::Uuid,
                user_id: i64,
            ) -> Result<Option<(ProjectRecord, Role)>, StoreError> {
                use sqlx::{FromRow, Row};
                let row = sqlx::query(concat!(
                    "select ",
                    project_columns!(),
                    ", role from projects \
                     join memberships on memberships.project_id = projects.id \
                     where code = $1 and user_id = $2"
                ))
                .bind(code)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let role: String = row.try_get("role")?;
                Ok(Some((ProjectRecord::from_row(&row)?, role.parse()?)))
            }

            /// Adds a user to a project with a role, or changes their role; never the
            /// owner's. Whether anything was written.
            pub async fn set_member(
                &self,
                project_id: i64,
                user_id: i64,
                role: Role,
                now: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "insert into memberships (project_id, user_id, role, created) \
                     values ($1, $2, $3, $4) \
                     on conflict (project_id, user_id) do update set role = excluded.role \
                     where memberships.role <> 'owner'",
                )
                .bind(project_id)
                .bind(user_id)
                .bind(role.as_str())
                .bind(now)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// A project's members by address, with their roles.
            pub async fn members_of_project(
                &self,
                project_id: i64,
            ) -> Result<Vec<(i64, String, Role)>, StoreError> {
                let rows: Vec<(i64, String, String)> = sqlx::query_as(
                    "select users.id, users.email, memberships.role from memberships \
                     join users on users.id = memberships.user_id \
                     where memberships.project_id = $1 order by users.email",
                )
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, email, role)| Ok((id, email, role.parse()?)))
                    .collect()
            }

            /// Removes a member who is not the owner; whether one was removed.
            pub async fn remove_member(
                &self,
                project_id: i64,
                user_id: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "delete from memberships where project_id = $1 and user_id = $2 \
                     and role <> 'owner'",
                )
                .bind(project_id)
                .bind(user_id)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub async fn rename_project(&self, id: i64, name: &str) -> Result<(), StoreError> {
                sqlx::query("update projects set name = $1 where id = $2")
                    .bind(name)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            /// Sets (or, with an empty value, revokes) one of a project's keys.
            pub async fn set_project_key(
                &self,
                id: i64,
                key: ProjectKey,
                value: &str,
            ) -> Result<(), StoreError> {
                let sql = match key {
                    ProjectKey::ReadWrite => "update projects set api_key_hash = $1 where id = $2",
                    ProjectKey::ReadOnly => {
                        "update projects set api_key_ro_hash = $1 where id = $2"
                    }
                    ProjectKey::Ping => {
                        "update projects set ping_key = nullif($1, '') where id = $2"
                    }
                };
                sqlx::query(sql)
                    .bind(value)
                    .bind(id)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            /// Which of a project's API keys are set (read-write, read-only).
            pub async fn project_keys_set(&self, id: i64) -> Result<(bool, bool), StoreError> {
                let (rw, ro): (bool, bool) = sqlx::query_as(
                    "select api_key_hash <> '', api_key_ro_hash <> '' from projects where id = $1",
                )
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
                Ok((rw, ro))
            }

            /// Deletes a project with everything in it.
            pub async fn delete_project(&self, id: i64) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                // Attempts have no foreign key (it would slow the dispatcher's writes).
                sqlx::query(
                    "delete from attempts where outbox_id in \
                     (select id from outbox where project_id = $1)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("delete from projects where id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
        }

        /// Team invitations. Every query names the invitation's project, or takes the project
        /// from the invitation row itself, so one project's managers never reach another's.
        impl $store {
            /// Invites `email` to a project, replacing (with a new token) any invitation of
            /// the same address to the same project.
            pub async fn create_invitation(
                &self,
                invitation: &NewInvitation,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "insert into invitations (project_id, email, role, token_hash, invited_by, \
                     created, expires_at) values ($1, $2, $3, $4, $5, $6, $7) \
                     on conflict (project_id, email) do update set role = excluded.role, \
                     token_hash = excluded.token_hash, invited_by = excluded.invited_by, \
                     created = excluded.created, expires_at = excluded.expires_at",
                )
                .bind(invitation.project_id)
                .bind(&invitation.email)
                .bind(invitation.role.as_str())
                .bind(&invitation.token_hash)
                .bind(invitation.invited_by)
                .bind(invitation.created)
                .bind(invitation.expires_at)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            /// A project's invitations, expired ones included, by address.
            pub async fn invitations_of_project(
                &self,
                project_id: i64,
            ) -> Result<Vec<InvitationRecord>, StoreError> {
                let rows = sqlx::query_as(concat!(
                    "select ",
                    invitation_columns!(),
                    " where i.project_id = $1 order by i.email"
                ))
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(invitation_from_row).collect()
            }

            /// The invitation whose link token has this hash, expired or not.
            pub async fn invitation_by_token(
                &self,
                token_hash: &str,
            ) -> Result<Option<InvitationRecord>, StoreError> {
                let row = sqlx::query_as(concat!(
                    "select ",
                    invitation_columns!(),
                    " where i.token_hash = $1"
                ))
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(invitation_from_row).transpose()
            }

            /// Withdraws one of a project's invitations; whether there was one.
            pub async fn cancel_invitation(
                &self,
                project_id: i64,
                invitation_id: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query("delete from invitations where project_id = $1 and id = $2")
                    .bind(project_id)
                    .bind(invitation_id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            /// Withdraws the invitation of `email` to a project, if any (they were added
            /// directly instead).
            pub async fn cancel_invitation_to(
                &self,
                project_id: i64,
                email: &str,
            ) -> Result<(), StoreError> {
                sqlx::query("delete from invitations where project_id = $1 and email = $2")
                    .bind(project_id)
                    .bind(email)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            /// Uses up the unexpired invitation of `email` with this token, making the user a
            /// member of its project with its role. Someone who is a member already keeps
            /// their role: a stale invitation never demotes or promotes anyone.
            pub async fn accept_invitation(
                &self,
                token_hash: &str,
                user_id: i64,
                email: &str,
                now: i64,
            ) -> Result<InvitationOutcome, StoreError> {
                let mut tx = self.begin_write().await?;
                // Deleting is the claim: of two concurrent answers, one gets the row.
                let claimed: Option<(i64, String, String)> = sqlx::query_as(
                    "delete from invitations where token_hash = $1 and email = $2 \
                     and expires_at > $3 returning project_id, email, role",
                )
                .bind(token_hash)
                .bind(email)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((project_id, _, role)) = claimed else {
                    return Ok(InvitationOutcome::NotValid);
                };
                let code = join_project(&mut tx, project_id, user_id, &role, now).await?;
                tx.commit().await?;
                Ok(InvitationOutcome::Joined(code))
            }

            /// Uses up the unexpired invitation with this token by creating the account of
            /// its address, a member of its project, with a session; nothing is written when
            /// the address has an account already.
            pub async fn accept_invitation_with_signup(
                &self,
                token_hash: &str,
                password_hash: &str,
                session: &NewSession,
                now: i64,
            ) -> Result<InvitationOutcome, StoreError> {
                let mut tx = self.begin_write().await?;
                let claimed: Option<(i64, String, String)> = sqlx::query_as(
                    "delete from invitations where token_hash = $1 and expires_at > $2 \
                     returning project_id, email, role",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((project_id, email, role)) = claimed else {
                    return Ok(InvitationOutcome::NotValid);
                };
                let user: Option<(i64,)> = sqlx::query_as(
                    "insert into users (email, password_hash, created) values ($1, $2, $3) \
                     on conflict (email) do nothing returning id",
                )
                .bind(&email)
                .bind(password_hash)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                // Dropping the transaction rolls the claim back: the invitation still works
                // once they log in.
                let Some((user_id,)) = user else {
                    return Ok(InvitationOutcome::AccountExists);
                };
                let code = join_project(&mut tx, project_id, user_id, &role, now).await?;
                insert_session(&mut tx, user_id, session, now).await?;
                tx.commit().await?;
                Ok(InvitationOutcome::Joined(code))
            }
        }

        /// Makes a user a member of a project unless they are one; the project's code.
        async fn join_project(
            tx: &mut sqlx::Transaction<'static, $db>,
            project_id: i64,
            user_id: i64,
            role: &str,
            now: i64,
        ) -> Result<uuid::Uuid, StoreError> {
            sqlx::query(
                "insert into memberships (project_id, user_id, role, created) \
                 values ($1, $2, $3, $4) on conflict (project_id, user_id) do nothing",
            )
            .bind(project_id)
            .bind(user_id)
            .bind(role)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            let (code,): (uuid::Uuid,) = sqlx::query_as("select code from projects where id = $1")
                .bind(project_id)
                .fetch_one(&mut **tx)
                .await?;
            Ok(code)
        }

        /// Inserts a project; `now` in epoch milliseconds.
        pub(super) async fn insert_project(
            tx: &mut sqlx::Transaction<'static, $db>,
            project: &NewProject,
            now: i64,
        ) -> Result<ProjectRecord, StoreError> {
            Ok(sqlx::query_as::<_, ProjectRecord>(concat!(
                "insert into projects (code, name, api_key_hash, api_key_ro_hash, ping_key, \
                 badge_key, created) values ($1, $2, $3, $4, $5, $6, $7) returning ",
                project_columns!()
            ))
            .bind(project.code)
            .bind(&project.name)
            .bind(&project.api_key_hash)
            .bind(&project.api_key_ro_hash)
            .bind(&project.ping_key)
            .bind(&project.badge_key)
            .bind(now)
            .fetch_one(&mut **tx)
            .await?)
        }

        async fn insert_owner(
            tx: &mut sqlx::Transaction<'static, $db>,
            project_id: i64,
            user_id: i64,
            now: i64,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "insert into memberships (project_id, user_id, role, created) \
                 values ($1, $2, 'owner', $3)",
            )
            .bind(project_id)
            .bind(user_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(())
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
