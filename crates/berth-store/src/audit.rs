use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use crate::query_durations::timed;
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

/// An audit entry as recorded, with its time and its place in the trail
/// (ids grow with time and are never reused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub entry: AuditEntry,
}

impl Store {
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<()> {
        let _timer = timed("record_audit");
        let mut conn = self.pool.acquire().await.context("record audit entry")?;
        insert_audit(&mut conn, entry).await
    }

    /// The audit trail, oldest first; of one app (by its id, never reused)
    /// when `app_id` is given.
    pub async fn audit_trail(&self, app_id: Option<i64>) -> Result<Vec<AuditEvent>> {
        let _timer = timed("audit_trail");
        self.audit_page(app_id, None, None).await
    }

    /// A page of the audit trail, oldest first: the newest `limit` entries
    /// (all without one) older than the entry `before`, if given.
    pub async fn audit_page(
        &self,
        app_id: Option<i64>,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<AuditEvent>> {
        let _timer = timed("audit_page");
        use sqlx::Row;
        let mut sql = String::from(
            "SELECT id, at, actor_email, source, app_name, action, detail FROM audit_events \
             WHERE ($1 IS NULL OR app_id = $1) AND ($2 IS NULL OR id < $2) ORDER BY id DESC",
        );
        if limit.is_some() {
            sql.push_str(" LIMIT $3");
        }
        let mut query = sqlx::query(&sql).bind(app_id).bind(before);
        if let Some(limit) = limit {
            query = query.bind(i64::from(limit));
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .context("read audit trail")?;
        let mut events = rows
            .iter()
            .map(|row| {
                let read = || -> std::result::Result<_, sqlx::Error> {
                    Ok((
                        row.try_get::<i64, _>("id")?,
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
                let (id, at, entry) = read().context("read audit entry")?;
                Ok(AuditEvent {
                    id,
                    at: from_millis(at)?,
                    entry,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        events.reverse();
        Ok(events)
    }

    /// Removes what the retention no longer keeps: every entry beyond the
    /// newest `max_entries`, and entries older than `older_than` among the
    /// oldest `PRUNE_BATCH` (so a call costs little however long the trail;
    /// repeated calls catch up). Returns how many went.
    pub async fn prune_audit(&self, older_than: DateTime<Utc>, max_entries: u64) -> Result<u64> {
        let _timer = timed("prune_audit");
        let max_entries = i64::try_from(max_entries).unwrap_or(i64::MAX);
        let over = sqlx::query(
            "DELETE FROM audit_events \
             WHERE id <= (SELECT MAX(id) FROM audit_events) - $1",
        )
        .bind(max_entries)
        .execute(&self.pool)
        .await
        .context("prune audit trail")?;
        let aged = sqlx::query(
            "DELETE FROM audit_events WHERE id IN (SELECT id FROM \
             (SELECT id, at FROM audit_events ORDER BY id LIMIT $1) AS oldest WHERE at < $2)",
        )
        .bind(PRUNE_BATCH)
        .bind(to_millis(older_than))
        .execute(&self.pool)
        .await
        .context("prune audit trail")?;
        Ok(over.rows_affected() + aged.rows_affected())
    }
}

/// How many of the oldest audit entries one prune looks at for age.
pub const PRUNE_BATCH: i64 = 1000;

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
