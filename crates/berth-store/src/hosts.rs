//! The managed hosts added to the platform (the default host, berthd's own
//! engine, is not stored).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AuditEntry, QueryContext, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    pub id: i64,
    pub name: String,
    /// `tcp://HOST:PORT`: where berthd reaches the host's engine.
    pub docker_host: String,
    /// The host's node in the platform's swarm.
    pub node_id: String,
    pub labels: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
}

impl HostRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = || -> std::result::Result<(Self, String, i64), sqlx::Error> {
            let host = Self {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                docker_host: row.try_get("docker_host")?,
                node_id: row.try_get("node_id")?,
                labels: BTreeMap::new(),
                created_at: DateTime::UNIX_EPOCH,
            };
            Ok((host, row.try_get("labels")?, row.try_get("created_at")?))
        };
        let (mut host, labels, created_at) = read().context("read host")?;
        host.labels = serde_json::from_str(&labels).map_err(|error| {
            StoreError::Corrupt(format!("labels of host {}: {error}", host.name))
        })?;
        host.created_at = from_millis(created_at)?;
        Ok(host)
    }
}

const HOST_COLUMNS: &str = "id, name, docker_host, node_id, labels, created_at";

impl Store {
    /// The managed hosts, in the order they were added.
    pub async fn hosts(&self) -> Result<Vec<HostRecord>> {
        let _timer = timed("hosts");
        let rows = sqlx::query(&format!("SELECT {HOST_COLUMNS} FROM hosts ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .context("list hosts")?;
        rows.iter().map(HostRecord::from_row).collect()
    }

    /// Records a host that has joined the swarm; a name or node already
    /// known is a conflict.
    pub async fn add_host(
        &self,
        name: &str,
        docker_host: &str,
        node_id: &str,
        labels: &BTreeMap<String, String>,
        audit: &AuditEntry,
    ) -> Result<HostRecord> {
        let _timer = timed("add_host");
        let labels = serde_json::to_string(labels)
            .map_err(|error| StoreError::Corrupt(format!("labels of host {name}: {error}")))?;
        let mut tx = self.pool.begin().await.context("begin add host")?;
        let row = sqlx::query(&format!(
            "INSERT INTO hosts (name, docker_host, node_id, labels, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {HOST_COLUMNS}"
        ))
        .bind(name)
        .bind(docker_host)
        .bind(node_id)
        .bind(labels)
        .bind(to_millis(Utc::now()))
        .fetch_one(&mut *tx)
        .await
        .conflict_as("add host", || format!("a host named {name} or that engine"))?;
        let host = HostRecord::from_row(&row)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit add host")?;
        Ok(host)
    }

    /// Forgets a host; false when there is none of that name.
    pub async fn remove_host(&self, name: &str, audit: &AuditEntry) -> Result<bool> {
        let _timer = timed("remove_host");
        let mut tx = self.pool.begin().await.context("begin remove host")?;
        let removed = sqlx::query("DELETE FROM hosts WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .context("remove host")?
            .rows_affected()
            > 0;
        if removed {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.context("commit remove host")?;
        Ok(removed)
    }
}
