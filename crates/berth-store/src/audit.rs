use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use crate::{from_millis, to_millis, QueryContext, Result, Store};

/// One line of the audit trail: who did what, from where. `detail` names
/// things (config keys, token ids), never secret values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor_email: Option<String>,
    /// Where the request came from: a client address, or `cli` for `berthd admin`.
    pub source: String,
    pub app_name: Option<String>,
    pub action: String,
    pub detail: String,
}

/// An audit entry as recorded, with its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub entry: AuditEntry,
}

impl Store {
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<()> {
        let mut conn = self.pool.acquire().await.context("record audit entry")?;
        insert_audit(&mut conn, entry).await
    }

    /// The audit trail, oldest first; of one app (by its id, never reused)
    /// when `app_id` is given.
    pub async fn audit_trail(&self, app_id: Option<i64>) -> Result<Vec<AuditEvent>> {
        use sqlx::Row;
        let query = match app_id {
            Some(app_id) => sqlx::query(
                "SELECT at, actor_email, source, app_name, action, detail FROM audit_events \
                 WHERE app_id = $1 ORDER BY at, id",
            )
            .bind(app_id),
            None => sqlx::query(
                "SELECT at, actor_email, source, app_name, action, detail FROM audit_events \
                 ORDER BY at, id",
            ),
        };
        let rows = query
            .fetch_all(&self.pool)
            .await
            .context("read audit trail")?;
        rows.iter()
            .map(|row| {
                let read = || -> std::result::Result<_, sqlx::Error> {
                    Ok((
                        row.try_get::<i64, _>("at")?,
                        AuditEntry {
                            actor_email: row.try_get("actor_email")?,
                            source: row.try_get("source")?,
                            app_name: row.try_get("app_name")?,
                            action: row.try_get("action")?,
                            detail: row.try_get("detail")?,
                        },
                    ))
                };
                let (at, entry) = read().context("read audit entry")?;
                Ok(AuditEvent {
                    at: from_millis(at)?,
                    entry,
                })
            })
            .collect()
    }
}

/// Inserts an audit entry on a connection, so that a change and its entry
/// can commit together in one transaction. The entry is keyed by the id of
/// the app holding its name now: entries are written while their app exists
/// (before its record goes, for a destroy).
pub(crate) async fn insert_audit(conn: &mut AnyConnection, entry: &AuditEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, actor_email, source, app_name, action, detail, app_id) \
         VALUES ($1, $2, $3, $4, $5, $6, (SELECT id FROM apps WHERE name = $4))",
    )
    .bind(to_millis(Utc::now()))
    .bind(entry.actor_email.as_deref())
    .bind(&entry.source)
    .bind(entry.app_name.as_deref())
    .bind(&entry.action)
    .bind(&entry.detail)
    .execute(conn)
    .await
    .context("record audit entry")?;
    Ok(())
}
