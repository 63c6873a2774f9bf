//! Custom domains: the hostnames, besides `<app>.<base domain>`, an app
//! answers on. A hostname belongs to one app at most.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AuditEntry, QueryContext, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRecord {
    pub id: i64,
    pub app_id: i64,
    pub hostname: String,
    pub created_at: DateTime<Utc>,
}

impl DomainRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = || -> std::result::Result<(Self, i64), sqlx::Error> {
            let domain = Self {
                id: row.try_get("id")?,
                app_id: row.try_get("app_id")?,
                hostname: row.try_get("hostname")?,
                created_at: DateTime::UNIX_EPOCH,
            };
            Ok((domain, row.try_get("created_at")?))
        };
        let (mut domain, created_at) = read().context("read domain")?;
        domain.created_at = from_millis(created_at)?;
        Ok(domain)
    }
}

const DOMAIN_COLUMNS: &str = "id, app_id, hostname, created_at";

impl Store {
    /// The app's domains, oldest first; every app's when `app_id` is None.
    pub async fn domains(&self, app_id: Option<i64>) -> Result<Vec<DomainRecord>> {
        let _timer = timed("domains");
        let rows = match app_id {
            Some(app_id) => {
                sqlx::query(&format!(
                    "SELECT {DOMAIN_COLUMNS} FROM domains WHERE app_id = $1 ORDER BY id"
                ))
                .bind(app_id)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(&format!("SELECT {DOMAIN_COLUMNS} FROM domains ORDER BY id"))
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .context("list domains")?;
        rows.iter().map(DomainRecord::from_row).collect()
    }

    /// The domain with this hostname, on whichever app holds it.
    pub async fn domain(&self, hostname: &str) -> Result<Option<DomainRecord>> {
        let _timer = timed("domain");
        sqlx::query(&format!(
            "SELECT {DOMAIN_COLUMNS} FROM domains WHERE hostname = $1"
        ))
        .bind(hostname)
        .fetch_optional(&self.pool)
        .await
        .context("find domain")?
        .as_ref()
        .map(DomainRecord::from_row)
        .transpose()
    }

    /// Adds a domain to the app; a hostname some app already has is a conflict.
    pub async fn add_domain(
        &self,
        app_id: i64,
        hostname: &str,
        audit: &AuditEntry,
    ) -> Result<DomainRecord> {
        let _timer = timed("add_domain");
        let mut tx = self.pool.begin().await.context("begin add domain")?;
        let row = sqlx::query(&format!(
            "INSERT INTO domains (app_id, hostname, created_at) VALUES ($1, $2, $3) \
             RETURNING {DOMAIN_COLUMNS}"
        ))
        .bind(app_id)
        .bind(hostname)
        .bind(to_millis(Utc::now()))
        .fetch_one(&mut *tx)
        .await
        .conflict_as("add domain", || format!("domain {hostname}"))?;
        let domain = DomainRecord::from_row(&row)?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit add domain")?;
        Ok(domain)
    }

    /// Removes a domain from the app; false when the app has no such domain.
    pub async fn remove_domain(
        &self,
        app_id: i64,
        hostname: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let _timer = timed("remove_domain");
        let mut tx = self.pool.begin().await.context("begin remove domain")?;
        let removed = sqlx::query("DELETE FROM domains WHERE app_id = $1 AND hostname = $2")
            .bind(app_id)
            .bind(hostname)
            .execute(&mut *tx)
            .await
            .context("remove domain")?
            .rows_affected()
            > 0;
        if removed {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.context("commit remove domain")?;
        Ok(removed)
    }
}
