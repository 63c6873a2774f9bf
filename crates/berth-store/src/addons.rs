//! Add-ons and their attachments to apps. Credentials are sealed by the
//! caller; an attachment names the config var (`<AS>_URL`) it sets.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AuditEntry, QueryContext, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonRecord {
    pub id: i64,
    pub name: String,
    pub service: String,
    pub plan: String,
    /// `server` (on an operator's server) or `container`.
    pub provider_mode: String,
    pub credentials_sealed: String,
    /// The app that created it.
    pub app_id: i64,
    pub app_name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRecord {
    pub addon_id: i64,
    pub addon_name: String,
    pub app_id: i64,
    pub app_name: String,
    /// The attachment's name: the app's config var is `<as_name>_URL`.
    pub as_name: String,
}

/// What an add-on is created with.
pub struct NewAddon<'a> {
    pub name: &'a str,
    pub service: &'a str,
    pub plan: &'a str,
    pub provider_mode: &'a str,
    pub credentials_sealed: &'a str,
    pub app_id: i64,
    /// The owning app's attachment.
    pub as_name: &'a str,
}

impl AddonRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = || -> std::result::Result<(Self, i64), sqlx::Error> {
            let addon = Self {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                service: row.try_get("service")?,
                plan: row.try_get("plan")?,
                provider_mode: row.try_get("provider_mode")?,
                credentials_sealed: row.try_get("credentials_sealed")?,
                app_id: row.try_get("app_id")?,
                app_name: row.try_get("app_name")?,
                created_at: DateTime::UNIX_EPOCH,
            };
            Ok((addon, row.try_get("created_at")?))
        };
        let (mut addon, created_at) = read().context("read add-on")?;
        addon.created_at = from_millis(created_at)?;
        Ok(addon)
    }
}

impl AttachmentRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = || -> std::result::Result<Self, sqlx::Error> {
            Ok(Self {
                addon_id: row.try_get("addon_id")?,
                addon_name: row.try_get("addon_name")?,
                app_id: row.try_get("app_id")?,
                app_name: row.try_get("app_name")?,
                as_name: row.try_get("as_name")?,
            })
        };
        read().context("read add-on attachment")
    }
}

const ADDON_SELECT: &str = "SELECT a.id, a.name, a.service, a.plan, a.provider_mode, \
     a.credentials_sealed, a.app_id, apps.name AS app_name, a.created_at \
     FROM addons a JOIN apps ON apps.id = a.app_id";

const ATTACHMENT_SELECT: &str = "SELECT t.addon_id, a.name AS addon_name, t.app_id, \
     apps.name AS app_name, t.as_name \
     FROM addon_attachments t JOIN addons a ON a.id = t.addon_id JOIN apps ON apps.id = t.app_id";

impl Store {
    /// Every add-on, by name.
    pub async fn addons(&self) -> Result<Vec<AddonRecord>> {
        let _timer = timed("addons");
        let rows = sqlx::query(&format!("{ADDON_SELECT} ORDER BY a.name"))
            .fetch_all(&self.pool)
            .await
            .context("list add-ons")?;
        rows.iter().map(AddonRecord::from_row).collect()
    }

    /// The add-on with this name, whichever app it belongs to.
    pub async fn addon(&self, name: &str) -> Result<Option<AddonRecord>> {
        let _timer = timed("addon");
        let row = sqlx::query(&format!("{ADDON_SELECT} WHERE a.name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .context("read add-on")?;
        row.as_ref().map(AddonRecord::from_row).transpose()
    }

    /// Attachments, by add-on then app name: of one app, or every one.
    pub async fn addon_attachments(&self, app_id: Option<i64>) -> Result<Vec<AttachmentRecord>> {
        let _timer = timed("addon_attachments");
        let rows = match app_id {
            Some(app_id) => {
                sqlx::query(&format!(
                    "{ATTACHMENT_SELECT} WHERE t.app_id = $1 ORDER BY a.name, apps.name"
                ))
                .bind(app_id)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!("{ATTACHMENT_SELECT} ORDER BY a.name, apps.name"))
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .context("list add-on attachments")?;
        rows.iter().map(AttachmentRecord::from_row).collect()
    }

    /// Records a provisioned add-on and its owning app's attachment.
    pub async fn create_addon(
        &self,
        addon: &NewAddon<'_>,
        audit: &AuditEntry,
    ) -> Result<AddonRecord> {
        let _timer = timed("create_addon");
        let mut tx = self.pool.begin().await.context("begin create add-on")?;
        let id: i64 = sqlx::query(
            "INSERT INTO addons (name, service, plan, provider_mode, credentials_sealed, \
             app_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(addon.name)
        .bind(addon.service)
        .bind(addon.plan)
        .bind(addon.provider_mode)
        .bind(addon.credentials_sealed)
        .bind(addon.app_id)
        .bind(to_millis(Utc::now()))
        .fetch_one(&mut *tx)
        .await
        .conflict_as("create add-on", || {
            format!("an add-on named {}", addon.name)
        })?
        .try_get("id")
        .context("read add-on id")?;
        insert_attachment(&mut tx, id, addon.app_id, addon.as_name).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit create add-on")?;
        let row = sqlx::query(&format!("{ADDON_SELECT} WHERE a.id = $1"))
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .context("read new add-on")?;
        AddonRecord::from_row(&row)
    }

    /// Attaches an add-on to an app as `as_name`.
    pub async fn attach_addon(
        &self,
        addon_id: i64,
        app_id: i64,
        as_name: &str,
        audit: &AuditEntry,
    ) -> Result<()> {
        let _timer = timed("attach_addon");
        let mut tx = self.pool.begin().await.context("begin attach add-on")?;
        insert_attachment(&mut tx, addon_id, app_id, as_name).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit attach add-on")
    }

    /// Removes an add-on's attachment to an app; false when there was none.
    pub async fn detach_addon(
        &self,
        addon_id: i64,
        app_id: i64,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let _timer = timed("detach_addon");
        let mut tx = self.pool.begin().await.context("begin detach add-on")?;
        let removed =
            sqlx::query("DELETE FROM addon_attachments WHERE addon_id = $1 AND app_id = $2")
                .bind(addon_id)
                .bind(app_id)
                .execute(&mut *tx)
                .await
                .context("detach add-on")?
                .rows_affected()
                > 0;
        if removed {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.context("commit detach add-on")?;
        Ok(removed)
    }

    /// Deletes an add-on's record and its attachments.
    pub async fn delete_addon(&self, addon_id: i64, audit: &AuditEntry) -> Result<()> {
        let _timer = timed("delete_addon");
        let mut tx = self.pool.begin().await.context("begin delete add-on")?;
        sqlx::query("DELETE FROM addons WHERE id = $1")
            .bind(addon_id)
            .execute(&mut *tx)
            .await
            .context("delete add-on")?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit delete add-on")
    }

    /// Replaces an add-on's sealed credentials (after a rotation).
    pub async fn set_addon_credentials(
        &self,
        addon_id: i64,
        credentials_sealed: &str,
        audit: &AuditEntry,
    ) -> Result<()> {
        let _timer = timed("set_addon_credentials");
        let mut tx = self.pool.begin().await.context("begin rotate add-on")?;
        sqlx::query("UPDATE addons SET credentials_sealed = $1 WHERE id = $2")
            .bind(credentials_sealed)
            .bind(addon_id)
            .execute(&mut *tx)
            .await
            .context("store rotated add-on credentials")?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit rotate add-on")
    }
}

async fn insert_attachment(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    addon_id: i64,
    app_id: i64,
    as_name: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO addon_attachments (addon_id, app_id, as_name, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(addon_id)
    .bind(app_id)
    .bind(as_name)
    .bind(to_millis(Utc::now()))
    .execute(&mut **tx)
    .await
    .conflict_as("attach add-on", || {
        format!("an attachment {as_name} (or of this add-on) on the app")
    })?;
    Ok(())
}
