//! Log drains: where each app's log stream is forwarded. URLs are sealed
//! by the caller and looked up by their hash.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AuditEntry, QueryContext, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainRecord {
    pub id: i64,
    pub app_id: i64,
    pub url_sha256: String,
    pub url_sealed: String,
    /// Sent with every batch, so the receiver knows which drain it came from.
    pub token: String,
    pub created_at: DateTime<Utc>,
}

impl DrainRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = || -> std::result::Result<(Self, i64), sqlx::Error> {
            let drain = Self {
                id: row.try_get("id")?,
                app_id: row.try_get("app_id")?,
                url_sha256: row.try_get("url_sha256")?,
                url_sealed: row.try_get("url_sealed")?,
                token: row.try_get("token")?,
                created_at: DateTime::UNIX_EPOCH,
            };
            Ok((drain, row.try_get("created_at")?))
        };
        let (mut drain, created_at) = read().context("read log drain")?;
        drain.created_at = from_millis(created_at)?;
        Ok(drain)
    }
}

const DRAIN_COLUMNS: &str = "id, app_id, url_sha256, url_sealed, token, created_at";

impl Store {
    /// The app's drains, oldest first; every app's when `app_id` is None.
    pub async fn drains(&self, app_id: Option<i64>) -> Result<Vec<DrainRecord>> {
        let _timer = timed("drains");
        let rows = match app_id {
            Some(app_id) => {
                sqlx::query(&format!(
                    "SELECT {DRAIN_COLUMNS} FROM log_drains WHERE app_id = $1 ORDER BY id"
                ))
                .bind(app_id)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {DRAIN_COLUMNS} FROM log_drains ORDER BY id"
                ))
                .fetch_all(&self.pool)
                .await
            }
        }
        .context("list log drains")?;
        rows.iter().map(DrainRecord::from_row).collect()
    }

    /// Adds a drain; the same URL twice on one app is a conflict.
    pub async fn add_drain(
        &self,
        app_id: i64,
        url_sha256: &str,
        url_sealed: &str,
        token: &str,
        audit: &AuditEntry,
    ) -> Result<DrainRecord> {
        let _timer = timed("add_drain");
        let mut tx = self.pool.begin().await.context("begin add drain")?;
        let row = sqlx::query(&format!(
            "INSERT INTO log_drains (app_id, url_sha256, url_sealed, token, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {DRAIN_COLUMNS}"
        ))
        .bind(app_id)
        .bind(url_sha256)
        .bind(url_sealed)
        .bind(token)
        .bind(to_millis(Utc::now()))
        .fetch_one(&mut *tx)
        .await
        .conflict_as("add log drain", || {
            "the app already drains to that URL".to_string()
        })?;
        let drain = DrainRecord::from_row(&row)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit add drain")?;
        Ok(drain)
    }

    /// Removes a drain; false when the app has none with that URL.
    pub async fn remove_drain(
        &self,
        app_id: i64,
        url_sha256: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let _timer = timed("remove_drain");
        let mut tx = self.pool.begin().await.context("begin remove drain")?;
        let removed = sqlx::query("DELETE FROM log_drains WHERE app_id = $1 AND url_sha256 = $2")
            .bind(app_id)
            .bind(url_sha256)
            .execute(&mut *tx)
            .await
            .context("remove log drain")?
            .rows_affected()
            > 0;
        if removed {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.context("commit remove drain")?;
        Ok(removed)
    }
}
