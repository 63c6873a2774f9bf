use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::query_durations::timed;
use crate::{
    from_millis, from_optional_millis, to_millis, QueryContext, Result, Store, UserRecord,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub user_id: i64,
    /// Hex SHA-256 of the token's secret part.
    pub secret_sha256: String,
    pub description: String,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub struct NewToken<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub secret_sha256: &'a str,
    pub description: &'a str,
    pub scope: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

const TOKEN_COLUMNS: &str = "t.id AS token_id, t.user_id, t.secret_sha256, t.description, \
    t.scope, t.created_at AS token_created_at, t.last_used_at, t.expires_at, t.revoked_at";

impl TokenRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = |row: &AnyRow| -> std::result::Result<_, sqlx::Error> {
            Ok((
                row.try_get::<String, _>("token_id")?,
                row.try_get::<i64, _>("user_id")?,
                row.try_get::<String, _>("secret_sha256")?,
                row.try_get::<String, _>("description")?,
                row.try_get::<String, _>("scope")?,
                row.try_get::<i64, _>("token_created_at")?,
                row.try_get::<Option<i64>, _>("last_used_at")?,
                row.try_get::<Option<i64>, _>("expires_at")?,
                row.try_get::<Option<i64>, _>("revoked_at")?,
            ))
        };
        let (id, user_id, secret_sha256, description, scope, created, used, expires, revoked) =
            read(row).context("read token")?;
        Ok(Self {
            id,
            user_id,
            secret_sha256,
            description,
            scope,
            created_at: from_millis(created)?,
            last_used_at: from_optional_millis(used)?,
            expires_at: from_optional_millis(expires)?,
            revoked_at: from_optional_millis(revoked)?,
        })
    }
}

impl Store {
    pub async fn insert_token(&self, token: NewToken<'_>) -> Result<()> {
        let _timer = timed("insert_token");
        sqlx::query(
            "INSERT INTO api_tokens \
             (id, user_id, secret_sha256, description, scope, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token.id)
        .bind(token.user_id)
        .bind(token.secret_sha256)
        .bind(token.description)
        .bind(token.scope)
        .bind(to_millis(Utc::now()))
        .bind(token.expires_at.map(to_millis))
        .execute(&self.pool)
        .await
        .context("insert token")?;
        Ok(())
    }

    /// A token and the user it belongs to, revoked or not: the caller decides.
    pub async fn token_with_user(&self, id: &str) -> Result<Option<(TokenRecord, UserRecord)>> {
        let _timer = timed("token_with_user");
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS}, u.id, u.email, u.password_hash, u.is_admin, u.created_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("find token")?;
        match row {
            Some(row) => Ok(Some((
                TokenRecord::from_row(&row)?,
                UserRecord::from_row(&row)?,
            ))),
            None => Ok(None),
        }
    }

    pub async fn touch_token(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        let _timer = timed("touch_token");
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(to_millis(at))
            .bind(id)
            .execute(&self.pool)
            .await
            .context("record token use")?;
        Ok(())
    }

    /// The user's live tokens (not revoked), oldest first.
    pub async fn tokens_of_user(&self, user_id: i64) -> Result<Vec<TokenRecord>> {
        let _timer = timed("tokens_of_user");
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t \
             WHERE t.user_id = $1 AND t.revoked_at IS NULL ORDER BY t.created_at, t.id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .context("list tokens")?;
        rows.iter().map(TokenRecord::from_row).collect()
    }

    /// Revokes one of the user's tokens; returns whether there was one to revoke.
    pub async fn revoke_token(&self, user_id: i64, id: &str) -> Result<bool> {
        let _timer = timed("revoke_token");
        let result = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 \
             WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(to_millis(Utc::now()))
        .bind(id)
        .bind(user_id)
        .execute(&self.pool)
        .await
        .context("revoke token")?;
        Ok(result.rows_affected() == 1)
    }

    /// Deletes the tokens that expired before `now` (dashboard sessions
    /// past their lifetime, most of all): they open nothing any more.
    /// Returns how many went.
    pub async fn delete_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64> {
        let _timer = timed("delete_expired_tokens");
        let result =
            sqlx::query("DELETE FROM api_tokens WHERE expires_at IS NOT NULL AND expires_at < $1")
                .bind(to_millis(now))
                .execute(&self.pool)
                .await
                .context("delete expired tokens")?;
        Ok(result.rows_affected())
    }
}
