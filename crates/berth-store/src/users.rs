use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AuditEntry, QueryContext, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub email: String,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// What removing a user came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRemoval {
    /// Removed; the heir now owns these apps.
    Removed {
        passed_on: Vec<String>,
    },
    NoSuchUser,
    /// The user alone owns these apps and no heir was named; nothing changed.
    LastOwnerOf(Vec<String>),
}

const USER_COLUMNS: &str = "id, email, password_hash, is_admin, created_at";

impl UserRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        let read = |row: &AnyRow| -> std::result::Result<_, sqlx::Error> {
            Ok((
                row.try_get::<i64, _>("id")?,
                row.try_get::<String, _>("email")?,
                row.try_get::<Option<String>, _>("password_hash")?,
                row.try_get::<i64, _>("is_admin")?,
                row.try_get::<i64, _>("created_at")?,
            ))
        };
        let (id, email, password_hash, is_admin, created_at) = read(row).context("read user")?;
        Ok(Self {
            id,
            email,
            password_hash,
            is_admin: is_admin != 0,
            created_at: from_millis(created_at)?,
        })
    }
}

impl Store {
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: Option<&str>,
        is_admin: bool,
    ) -> Result<UserRecord> {
        let _timer = timed("create_user");
        let row = sqlx::query(&format!(
            "INSERT INTO users (email, password_hash, is_admin, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING {USER_COLUMNS}"
        ))
        .bind(email)
        .bind(password_hash)
        .bind(i64::from(is_admin))
        .bind(to_millis(Utc::now()))
        .fetch_one(&self.pool)
        .await
        .conflict_as("create user", || format!("a user with email {email}"))?;
        UserRecord::from_row(&row)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        let _timer = timed("user_by_email");
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .context("find user by email")?;
        row.as_ref().map(UserRecord::from_row).transpose()
    }

    /// Every user, oldest first.
    pub async fn users(&self) -> Result<Vec<UserRecord>> {
        let _timer = timed("users");
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .context("list users")?;
        rows.iter().map(UserRecord::from_row).collect()
    }

    /// Removes a user with their tokens and roles, and records the audit
    /// entry; the audit trail keeps naming them. Apps the user alone owns
    /// pass to `heir` when given; without one, nothing changes and the
    /// names of those apps come back.
    pub async fn remove_user(
        &self,
        user_id: i64,
        heir: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<UserRemoval> {
        let _timer = timed("remove_user");
        let mut tx = self.pool.begin().await.context("begin remove user")?;
        // Writes come first so SQLite takes its write lock at once.
        let passed_on = match heir {
            Some(heir) => sqlx::query_scalar::<_, String>(
                "INSERT INTO memberships (app_id, user_id, role, created_at)                  SELECT m.app_id, $2, 'owner', $3 FROM memberships m                  WHERE m.user_id = $1 AND m.role = 'owner' AND NOT EXISTS                    (SELECT 1 FROM memberships o                     WHERE o.app_id = m.app_id AND o.role = 'owner' AND o.user_id <> $1)                  ON CONFLICT (app_id, user_id) DO UPDATE SET role = 'owner'                  RETURNING (SELECT name FROM apps WHERE apps.id = memberships.app_id)",
            )
            .bind(user_id)
            .bind(heir)
            .bind(to_millis(Utc::now()))
            .fetch_all(&mut *tx)
            .await
            .context("pass apps on to the heir")?,
            None => Vec::new(),
        };
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .context("remove user")?;
        if deleted.rows_affected() == 0 {
            return Ok(UserRemoval::NoSuchUser);
        }
        let ownerless: Vec<String> = sqlx::query_scalar(
            "SELECT a.name FROM apps a WHERE NOT EXISTS              (SELECT 1 FROM memberships m WHERE m.app_id = a.id AND m.role = 'owner')              ORDER BY a.name",
        )
        .fetch_all(&mut *tx)
        .await
        .context("find apps left without an owner")?;
        if !ownerless.is_empty() {
            tx.rollback().await.context("undo remove user")?;
            return Ok(UserRemoval::LastOwnerOf(ownerless));
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit remove user")?;
        let mut passed_on = passed_on;
        passed_on.sort();
        Ok(UserRemoval::Removed { passed_on })
    }

    pub async fn count_users(&self) -> Result<i64> {
        let _timer = timed("count_users");
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .context("count users")
    }

    /// Sets a user's password hash; returns whether the user exists.
    /// Sets the user's password and, in the same transaction, revokes every
    /// live token of theirs but `keep_token`. Returns how many were revoked,
    /// or none when no user has this email.
    pub async fn set_password_hash(
        &self,
        email: &str,
        password_hash: &str,
        keep_token: Option<&str>,
    ) -> Result<Option<u64>> {
        let _timer = timed("set_password_hash");
        let mut tx = self.pool.begin().await.context("begin set password")?;
        let result = sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
            .bind(password_hash)
            .bind(email)
            .execute(&mut *tx)
            .await
            .context("set password")?;
        if result.rows_affected() != 1 {
            return Ok(None);
        }
        let revoked = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 \
             WHERE user_id = (SELECT id FROM users WHERE email = $2) \
             AND revoked_at IS NULL AND id <> $3",
        )
        .bind(to_millis(Utc::now()))
        .bind(email)
        .bind(keep_token.unwrap_or(""))
        .execute(&mut *tx)
        .await
        .context("revoke tokens on a password change")?;
        tx.commit().await.context("commit set password")?;
        Ok(Some(revoked.rows_affected()))
    }
}
