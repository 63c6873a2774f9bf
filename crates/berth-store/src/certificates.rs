//! Certificates of custom domains (automatic and manual, keys sealed by the
//! caller), the state of automatic issuance per domain, the platform's ACME
//! account, and each app's HTTPS policy. Removing a domain removes its
//! certificates and issuance state with it (foreign keys cascade).

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AuditEntry, QueryContext, Result, Store};

/// Where a certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateSource {
    Acme,
    Manual,
}

impl CertificateSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acme => "acme",
            Self::Manual => "manual",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "acme" => Ok(Self::Acme),
            "manual" => Ok(Self::Manual),
            other => Err(crate::StoreError::Corrupt(format!(
                "certificate source {other:?}"
            ))),
        }
    }
}

/// A certificate to store for a domain.
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    pub domain_id: i64,
    pub source: CertificateSource,
    pub chain_pem: &'a str,
    pub key_sealed: &'a str,
    pub issuer: &'a str,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub id: i64,
    pub domain_id: i64,
    pub app_id: i64,
    pub hostname: String,
    pub source: CertificateSource,
    pub chain_pem: String,
    pub key_sealed: String,
    pub issuer: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl CertificateRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = || -> std::result::Result<_, sqlx::Error> {
            Ok((
                row.try_get::<i64, _>("id")?,
                row.try_get::<i64, _>("domain_id")?,
                row.try_get::<i64, _>("app_id")?,
                row.try_get::<String, _>("hostname")?,
                row.try_get::<String, _>("source")?,
                row.try_get::<String, _>("chain_pem")?,
                row.try_get::<String, _>("key_sealed")?,
                row.try_get::<String, _>("issuer")?,
                [
                    row.try_get::<i64, _>("not_before")?,
                    row.try_get::<i64, _>("not_after")?,
                    row.try_get::<i64, _>("created_at")?,
                ],
            ))
        };
        let (id, domain_id, app_id, hostname, source, chain_pem, key_sealed, issuer, times) =
            read().context("read certificate")?;
        Ok(Self {
            id,
            domain_id,
            app_id,
            hostname,
            source: CertificateSource::parse(&source)?,
            chain_pem,
            key_sealed,
            issuer,
            not_before: from_millis(times[0])?,
            not_after: from_millis(times[1])?,
            created_at: from_millis(times[2])?,
        })
    }
}

const CERTIFICATE_COLUMNS: &str = "c.id, c.domain_id, d.app_id, d.hostname, c.source, \
     c.chain_pem, c.key_sealed, c.issuer, c.not_before, c.not_after, c.created_at";

/// Automatic issuance of one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeState {
    pub domain_id: i64,
    /// `pending`, `issued` or `failing`.
    pub status: String,
    /// Failed attempts in a row (the backoff grows with them).
    pub failures: i64,
    pub last_error: Option<String>,
    /// When to issue, renew or retry next.
    pub next_attempt_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AcmeState {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = || -> std::result::Result<_, sqlx::Error> {
            Ok((
                row.try_get::<i64, _>("domain_id")?,
                row.try_get::<String, _>("status")?,
                row.try_get::<i64, _>("failures")?,
                row.try_get::<Option<String>, _>("last_error")?,
                row.try_get::<i64, _>("next_attempt_at")?,
                row.try_get::<i64, _>("updated_at")?,
            ))
        };
        let (domain_id, status, failures, last_error, next, updated) =
            read().context("read ACME state")?;
        Ok(Self {
            domain_id,
            status,
            failures,
            last_error,
            next_attempt_at: from_millis(next)?,
            updated_at: from_millis(updated)?,
        })
    }
}

/// An app's HTTPS policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsSettings {
    /// Plain HTTP requests to a hostname with a valid certificate are redirected.
    pub redirect_http: bool,
    pub hsts: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            redirect_http: true,
            hsts: false,
        }
    }
}

impl Store {
    /// Certificates of the app's domains (every app's when None), oldest first.
    pub async fn certificates(&self, app_id: Option<i64>) -> Result<Vec<CertificateRecord>> {
        let _timer = timed("certificates");
        let sql = format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM certificates c JOIN domains d ON d.id = c.domain_id \
             WHERE $1 IS NULL OR d.app_id = $1 ORDER BY c.id"
        );
        let rows = sqlx::query(&sql)
            .bind(app_id)
            .fetch_all(&self.pool)
            .await
            .context("list certificates")?;
        rows.iter().map(CertificateRecord::from_row).collect()
    }

    /// Stores a domain's certificate, replacing the one it had from the
    /// same source (a renewal, or a new manual certificate).
    pub async fn put_certificate(
        &self,
        certificate: &NewCertificate<'_>,
        audit: &AuditEntry,
    ) -> Result<()> {
        let _timer = timed("put_certificate");
        let mut tx = self.pool.begin().await.context("begin store certificate")?;
        sqlx::query("DELETE FROM certificates WHERE domain_id = $1 AND source = $2")
            .bind(certificate.domain_id)
            .bind(certificate.source.as_str())
            .execute(&mut *tx)
            .await
            .context("replace certificate")?;
        sqlx::query(
            "INSERT INTO certificates (domain_id, source, chain_pem, key_sealed, issuer, \
             not_before, not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(certificate.domain_id)
        .bind(certificate.source.as_str())
        .bind(certificate.chain_pem)
        .bind(certificate.key_sealed)
        .bind(certificate.issuer)
        .bind(to_millis(certificate.not_before))
        .bind(to_millis(certificate.not_after))
        .bind(to_millis(Utc::now()))
        .execute(&mut *tx)
        .await
        .context("store certificate")?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit store certificate")
    }

    /// Removes a domain's certificate from `source`; false when it had none.
    pub async fn remove_certificate(
        &self,
        domain_id: i64,
        source: CertificateSource,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let _timer = timed("remove_certificate");
        let mut tx = self
            .pool
            .begin()
            .await
            .context("begin remove certificate")?;
        let removed = sqlx::query("DELETE FROM certificates WHERE domain_id = $1 AND source = $2")
            .bind(domain_id)
            .bind(source.as_str())
            .execute(&mut *tx)
            .await
            .context("remove certificate")?
            .rows_affected()
            > 0;
        if removed {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.context("commit remove certificate")?;
        Ok(removed)
    }

    /// Issuance state of every domain that has one.
    pub async fn acme_states(&self) -> Result<Vec<AcmeState>> {
        let _timer = timed("acme_states");
        let rows = sqlx::query(
            "SELECT domain_id, status, failures, last_error, next_attempt_at, updated_at \
             FROM acme_states ORDER BY domain_id",
        )
        .fetch_all(&self.pool)
        .await
        .context("list ACME states")?;
        rows.iter().map(AcmeState::from_row).collect()
    }

    /// Records a domain's issuance state (inserted or replaced).
    pub async fn put_acme_state(&self, state: &AcmeState) -> Result<()> {
        let _timer = timed("put_acme_state");
        sqlx::query(
            "INSERT INTO acme_states (domain_id, status, failures, last_error, next_attempt_at, \
             updated_at) SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS \
             (SELECT 1 FROM domains WHERE id = $1) \
             ON CONFLICT (domain_id) DO UPDATE SET status = excluded.status, \
             failures = excluded.failures, last_error = excluded.last_error, \
             next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at",
        )
        .bind(state.domain_id)
        .bind(&state.status)
        .bind(state.failures)
        .bind(state.last_error.as_deref())
        .bind(to_millis(state.next_attempt_at))
        .bind(to_millis(state.updated_at))
        .execute(&self.pool)
        .await
        .context("store ACME state")?;
        Ok(())
    }

    /// Makes the app's domains due for an attempt now, their backoff reset.
    pub async fn retry_acme_now(&self, app_id: i64, audit: &AuditEntry) -> Result<()> {
        let _timer = timed("retry_acme_now");
        let mut tx = self.pool.begin().await.context("begin ACME refresh")?;
        sqlx::query(
            "UPDATE acme_states SET failures = 0, next_attempt_at = $1 \
             WHERE domain_id IN (SELECT id FROM domains WHERE app_id = $2)",
        )
        .bind(to_millis(Utc::now()))
        .bind(app_id)
        .execute(&mut *tx)
        .await
        .context("refresh ACME states")?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit ACME refresh")
    }

    /// The sealed credentials of the platform's account at `directory`.
    pub async fn acme_account(&self, directory: &str) -> Result<Option<String>> {
        let _timer = timed("acme_account");
        let row = sqlx::query("SELECT credentials_sealed FROM acme_accounts WHERE directory = $1")
            .bind(directory)
            .fetch_optional(&self.pool)
            .await
            .context("find ACME account")?;
        row.map(|row| row.try_get("credentials_sealed"))
            .transpose()
            .context("read ACME account")
    }

    /// Stores the account at `directory`; the first one stored wins.
    pub async fn add_acme_account(&self, directory: &str, credentials_sealed: &str) -> Result<()> {
        let _timer = timed("add_acme_account");
        sqlx::query(
            "INSERT INTO acme_accounts (directory, credentials_sealed, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT (directory) DO NOTHING",
        )
        .bind(directory)
        .bind(credentials_sealed)
        .bind(to_millis(Utc::now()))
        .execute(&self.pool)
        .await
        .context("store ACME account")?;
        Ok(())
    }

    /// Every app's HTTPS policy that differs from the default, by app id.
    pub async fn tls_settings(&self) -> Result<Vec<(i64, TlsSettings)>> {
        let _timer = timed("tls_settings");
        let rows = sqlx::query("SELECT app_id, redirect_http, hsts FROM app_tls_settings")
            .fetch_all(&self.pool)
            .await
            .context("list HTTPS settings")?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("app_id")?,
                    TlsSettings {
                        redirect_http: row.try_get::<i64, _>("redirect_http")? != 0,
                        hsts: row.try_get::<i64, _>("hsts")? != 0,
                    },
                ))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .context("read HTTPS settings")
    }

    pub async fn set_tls_settings(
        &self,
        app_id: i64,
        settings: TlsSettings,
        audit: &AuditEntry,
    ) -> Result<()> {
        let _timer = timed("set_tls_settings");
        let mut tx = self.pool.begin().await.context("begin HTTPS settings")?;
        sqlx::query(
            "INSERT INTO app_tls_settings (app_id, redirect_http, hsts) VALUES ($1, $2, $3) \
             ON CONFLICT (app_id) DO UPDATE SET redirect_http = excluded.redirect_http, \
             hsts = excluded.hsts",
        )
        .bind(app_id)
        .bind(i64::from(settings.redirect_http))
        .bind(i64::from(settings.hsts))
        .execute(&mut *tx)
        .await
        .context("store HTTPS settings")?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit HTTPS settings")
    }
}
