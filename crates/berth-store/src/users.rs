use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{from_millis, to_millis, QueryContext, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub email: String,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
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
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .context("find user by email")?;
        row.as_ref().map(UserRecord::from_row).transpose()
    }

    pub async fn count_users(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .context("count users")
    }

    /// Sets a user's password hash; returns whether the user exists.
    pub async fn set_password_hash(&self, email: &str, password_hash: &str) -> Result<bool> {
        let result = sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
            .bind(password_hash)
            .bind(email)
            .execute(&self.pool)
            .await
            .context("set password")?;
        Ok(result.rows_affected() == 1)
    }
}
