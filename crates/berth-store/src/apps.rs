use berth_core::AppRole;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AuditEntry, QueryContext, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    pub id: i64,
    pub name: String,
    /// Email of the app's (first) owner.
    pub owner_email: String,
    pub created_at: DateTime<Utc>,
    /// Version of the release that should be running; none before the first deploy.
    pub current_release: Option<i64>,
    /// In maintenance mode the router answers for the app with a 503 page.
    pub maintenance: bool,
}

pub(crate) const APP_COLUMNS: &str =
    "a.id, a.name, a.created_at, a.current_release, a.maintenance, \
    (SELECT u.email FROM memberships o JOIN users u ON u.id = o.user_id \
     WHERE o.app_id = a.id AND o.role = 'owner' ORDER BY o.created_at LIMIT 1) AS owner_email";

impl AppRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        let read = |row: &AnyRow| -> std::result::Result<_, sqlx::Error> {
            Ok((
                row.try_get::<i64, _>("id")?,
                row.try_get::<String, _>("name")?,
                row.try_get::<i64, _>("created_at")?,
                row.try_get::<Option<String>, _>("owner_email")?,
                row.try_get::<Option<i64>, _>("current_release")?,
                row.try_get::<i64, _>("maintenance")?,
            ))
        };
        let (id, name, created_at, owner_email, current_release, maintenance) =
            read(row).context("read app")?;
        Ok(Self {
            id,
            name,
            owner_email: owner_email.unwrap_or_default(),
            created_at: from_millis(created_at)?,
            current_release,
            maintenance: maintenance != 0,
        })
    }
}

impl Store {
    /// Creates an app owned by `owner_id`, with its audit entry, in one transaction.
    pub async fn create_app(
        &self,
        name: &str,
        owner_id: i64,
        audit: &AuditEntry,
    ) -> Result<AppRecord> {
        let _timer = timed("create_app");
        let now = to_millis(Utc::now());
        let mut tx = self.pool.begin().await.context("begin create app")?;
        // The first statement writes, so SQLite takes the write lock at once
        // (waiting out the busy timeout) instead of failing on a lock upgrade.
        let app_id: i64 =
            sqlx::query_scalar("INSERT INTO apps (name, created_at) VALUES ($1, $2) RETURNING id")
                .bind(name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .conflict_as("create app", || format!("an app named {name}"))?;
        sqlx::query(
            "INSERT INTO memberships (app_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(app_id)
        .bind(owner_id)
        .bind(AppRole::Owner.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .context("make the creator the app's owner")?;
        insert_audit(&mut tx, audit).await?;
        let row = sqlx::query(&format!("SELECT {APP_COLUMNS} FROM apps a WHERE a.id = $1"))
            .bind(app_id)
            .fetch_one(&mut *tx)
            .await
            .context("read created app")?;
        let app = AppRecord::from_row(&row)?;
        tx.commit().await.context("commit create app")?;
        Ok(app)
    }

    /// The app called `name` and the role `user_id` holds on it, if any.
    pub async fn app_with_role(
        &self,
        name: &str,
        user_id: i64,
    ) -> Result<Option<(AppRecord, Option<AppRole>)>> {
        let _timer = timed("app_with_role");
        let row = sqlx::query(&format!(
            "SELECT {APP_COLUMNS}, m.role AS actor_role FROM apps a \
             LEFT JOIN memberships m ON m.app_id = a.id AND m.user_id = $2 WHERE a.name = $1"
        ))
        .bind(name)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .context("find app")?;
        let Some(row) = row else { return Ok(None) };
        let role = row
            .try_get::<Option<String>, _>("actor_role")
            .context("read role")?
            .map(|role| role.parse::<AppRole>().map_err(StoreError::Corrupt))
            .transpose()?;
        Ok(Some((AppRecord::from_row(&row)?, role)))
    }

    /// Apps `user_id` has a role on (every app when `every_app`), oldest first.
    pub async fn apps_visible_to(&self, user_id: i64, every_app: bool) -> Result<Vec<AppRecord>> {
        let _timer = timed("apps_visible_to");
        let rows = if every_app {
            sqlx::query(&format!("SELECT {APP_COLUMNS} FROM apps a ORDER BY a.created_at, a.id"))
                .fetch_all(&self.pool)
                .await
        } else {
            sqlx::query(&format!(
                "SELECT {APP_COLUMNS} FROM apps a \
                 WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.app_id = a.id AND m.user_id = $1) \
                 ORDER BY a.created_at, a.id"
            ))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
        }
        .context("list apps")?;
        rows.iter().map(AppRecord::from_row).collect()
    }

    pub async fn set_maintenance(&self, app_id: i64, on: bool) -> Result<()> {
        let _timer = timed("set_maintenance");
        sqlx::query("UPDATE apps SET maintenance = $1 WHERE id = $2")
            .bind(i64::from(on))
            .bind(app_id)
            .execute(&self.pool)
            .await
            .context("set maintenance")?;
        Ok(())
    }

    /// Deletes an app (memberships go with it) and records the audit entry, in one transaction.
    pub async fn delete_app(&self, app_id: i64, audit: &AuditEntry) -> Result<()> {
        let _timer = timed("delete_app");
        let mut tx = self.pool.begin().await.context("begin delete app")?;
        // Recorded first, so that the entry still finds the app's id.
        insert_audit(&mut tx, audit).await?;
        sqlx::query("DELETE FROM apps WHERE id = $1")
            .bind(app_id)
            .execute(&mut *tx)
            .await
            .context("delete app")?;
        tx.commit().await.context("commit delete app")?;
        Ok(())
    }
}
