//! An app's persistent volumes and the limits set on its process types with
//! `ps:limits`.

use berth_core::Limits;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AuditEntry, QueryContext, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRecord {
    pub id: i64,
    pub app_id: i64,
    pub name: String,
    pub process_type: String,
    /// Where it is mounted in the containers.
    pub path: String,
    /// The host that keeps it: its process type runs there.
    pub host: String,
    pub created_at: DateTime<Utc>,
}

impl VolumeRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = || -> std::result::Result<(Self, i64), sqlx::Error> {
            Ok((
                Self {
                    id: row.try_get("id")?,
                    app_id: row.try_get("app_id")?,
                    name: row.try_get("name")?,
                    process_type: row.try_get("process_type")?,
                    path: row.try_get("path")?,
                    host: row.try_get("host")?,
                    created_at: DateTime::UNIX_EPOCH,
                },
                row.try_get("created_at")?,
            ))
        };
        let (mut volume, created_at) = read().context("read volume")?;
        volume.created_at = from_millis(created_at)?;
        Ok(volume)
    }
}

/// A volume to record.
pub struct NewVolume<'a> {
    pub app_id: i64,
    pub name: &'a str,
    pub process_type: &'a str,
    pub path: &'a str,
    pub host: &'a str,
}

const VOLUME_COLUMNS: &str = "id, app_id, name, process_type, path, host, created_at";

impl Store {
    /// The app's volumes, oldest first.
    pub async fn volumes(&self, app_id: i64) -> Result<Vec<VolumeRecord>> {
        let _timer = timed("volumes");
        let rows = sqlx::query(&format!(
            "SELECT {VOLUME_COLUMNS} FROM volumes WHERE app_id = $1 ORDER BY id"
        ))
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .context("list volumes")?;
        rows.iter().map(VolumeRecord::from_row).collect()
    }

    /// Records a volume; a name, or a path of the process type, already
    /// taken is a conflict.
    pub async fn add_volume(
        &self,
        volume: &NewVolume<'_>,
        audit: Option<&AuditEntry>,
    ) -> Result<VolumeRecord> {
        let _timer = timed("add_volume");
        let mut tx = self.pool.begin().await.context("begin add volume")?;
        let row = sqlx::query(&format!(
            "INSERT INTO volumes (app_id, name, process_type, path, host, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {VOLUME_COLUMNS}"
        ))
        .bind(volume.app_id)
        .bind(volume.name)
        .bind(volume.process_type)
        .bind(volume.path)
        .bind(volume.host)
        .bind(to_millis(Utc::now()))
        .fetch_one(&mut *tx)
        .await
        .conflict_as("add volume", || {
            format!(
                "a volume named {} or mounted at {} in {}",
                volume.name, volume.path, volume.process_type
            )
        })?;
        let record = VolumeRecord::from_row(&row)?;
        if let Some(audit) = audit {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.context("commit add volume")?;
        Ok(record)
    }

    /// Forgets a volume; false when the app has none of that name.
    pub async fn remove_volume(&self, app_id: i64, name: &str, audit: &AuditEntry) -> Result<bool> {
        let _timer = timed("remove_volume");
        let mut tx = self.pool.begin().await.context("begin remove volume")?;
        let removed = sqlx::query("DELETE FROM volumes WHERE app_id = $1 AND name = $2")
            .bind(app_id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .context("remove volume")?
            .rows_affected()
            > 0;
        if removed {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.context("commit remove volume")?;
        Ok(removed)
    }

    /// The limits set with `ps:limits`, by process type.
    pub async fn process_limits(&self, app_id: i64) -> Result<Vec<(String, Limits)>> {
        let _timer = timed("process_limits");
        let rows = sqlx::query(
            "SELECT process_type, memory_bytes, nano_cpus FROM process_limits \
             WHERE app_id = $1 ORDER BY process_type",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .context("list process limits")?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("process_type")?,
                    limits_from(row.try_get("memory_bytes")?, row.try_get("nano_cpus")?),
                ))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .context("read process limits")
    }

    /// Sets the limits of a process type (the set values of `limits` over
    /// those already set).
    pub async fn set_process_limits(
        &self,
        app_id: i64,
        process_type: &str,
        limits: Limits,
    ) -> Result<()> {
        let _timer = timed("set_process_limits");
        sqlx::query(
            "INSERT INTO process_limits (app_id, process_type, memory_bytes, nano_cpus) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (app_id, process_type) DO UPDATE SET \
             memory_bytes = COALESCE(excluded.memory_bytes, process_limits.memory_bytes), \
             nano_cpus = COALESCE(excluded.nano_cpus, process_limits.nano_cpus)",
        )
        .bind(app_id)
        .bind(process_type)
        .bind(limits.memory_bytes.map(|bytes| bytes as i64))
        .bind(limits.nano_cpus.map(|cpus| cpus as i64))
        .execute(&self.pool)
        .await
        .context("set process limits")?;
        Ok(())
    }
}

impl Store {
    /// Puts a process type's `ps:limits` back as they were (`None`: none set).
    pub async fn restore_process_limits(
        &self,
        app_id: i64,
        process_type: &str,
        limits: Option<Limits>,
    ) -> Result<()> {
        let _timer = timed("restore_process_limits");
        sqlx::query("DELETE FROM process_limits WHERE app_id = $1 AND process_type = $2")
            .bind(app_id)
            .bind(process_type)
            .execute(&self.pool)
            .await
            .context("restore process limits")?;
        match limits {
            Some(limits) => self.set_process_limits(app_id, process_type, limits).await,
            None => Ok(()),
        }
    }
}

/// Limits from their columns (negative values cannot be stored: read as none).
pub(crate) fn limits_from(memory_bytes: Option<i64>, nano_cpus: Option<i64>) -> Limits {
    Limits {
        memory_bytes: memory_bytes.and_then(|bytes| u64::try_from(bytes).ok()),
        nano_cpus: nano_cpus.and_then(|cpus| u64::try_from(cpus).ok()),
    }
}
