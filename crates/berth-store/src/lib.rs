//! Berth's desired state. One `Store` over an sqlx `Any` pool: the embedded
//! SQLite file by default; the SQL is kept portable (numbered `$n`
//! parameters, integer times) so a Postgres store needs only its own
//! migration set.

mod addons;
mod apps;
mod audit;
mod certificates;
mod config_vars;
mod domains;
mod drains;
mod hosts;
mod memberships;
mod metrics;
mod pipelines;
mod query_durations;
mod releases;
mod tokens;
mod users;
mod volumes;

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use apps::APP_COLUMNS;
use query_durations::timed;

pub use addons::{AddonRecord, AttachmentRecord, NewAddon};
pub use apps::AppRecord;
pub use audit::{AuditEntry, AuditEvent, PRUNE_BATCH as AUDIT_PRUNE_BATCH};
pub use certificates::{
    AcmeState, CertificateRecord, CertificateSource, NewCertificate, TlsSettings,
};
pub use config_vars::SealedValues;
pub use domains::DomainRecord;
pub use drains::DrainRecord;
pub use hosts::HostRecord;
pub use memberships::{Member, MembershipChange};
pub use metrics::{
    AppSample, AppSampleRow, DynoSample, DynoSampleRow, SampleResolution, LATENCY_BUCKET_COUNT,
    SAMPLE_RESOLUTIONS,
};
pub use pipelines::{NewReviewApp, PipelineApp, PipelineRecord, ReviewAppRecord};
pub use query_durations::{store_query_durations, StoreOperationLabels, StoreQueryDurations};
pub use releases::{NewRelease, ReleaseProcess, ReleaseRecord, ReleaseStatus};
pub use tokens::{NewToken, TokenRecord};
pub use users::{UserRecord, UserRemoval};
pub use volumes::{NewVolume, VolumeRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("the store at {url} cannot be opened: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("the store's schema cannot be migrated: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{url}: this kind of store is not supported yet; use sqlite://PATH")]
    UnsupportedUrl { url: String },
    #[error("store query failed ({context}): {source}")]
    Query {
        context: &'static str,
        source: sqlx::Error,
    },
    #[error("the store holds a value it cannot read ({0})")]
    Corrupt(String),
    #[error("a metric sample is malformed: {0}")]
    MalformedSample(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Adds what was being done to a database error, and turns a unique-key
/// violation into a `Conflict` naming the thing that already exists.
trait QueryContext<T> {
    fn context(self, context: &'static str) -> Result<T>;
    fn conflict_as(self, context: &'static str, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> QueryContext<T> for std::result::Result<T, sqlx::Error> {
    fn context(self, context: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Query { context, source })
    }

    fn conflict_as(self, context: &'static str, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| match &source {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what()),
            _ => StoreError::Query { context, source },
        })
    }
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

impl Store {
    /// The URL of the embedded store inside a data directory.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("berth.db").display())
    }

    /// Opens (creating if needed) the store at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self> {
        let _timer = timed("open");
        if !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl {
                url: url.to_string(),
            });
        }
        sqlx::any::install_default_drivers();
        let open_error = |source| StoreError::Open {
            url: url.to_string(),
            source,
        };
        let options = AnyConnectOptions::from_str(url).map_err(open_error)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; the busy timeout makes
                    // a second writer (say `berthd admin` beside the server) wait its turn.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA busy_timeout = 10000",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA synchronous = NORMAL",
                    ] {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(open_error)?;
        // Another process (`berthd admin` beside a starting server) may be
        // migrating the same file: SQLite offers sqlx no migration lock, so
        // the loser of that race finds the tables made and tries again, when
        // the migrations it lacked are recorded as applied.
        let mut attempts = 0;
        loop {
            match SQLITE_MIGRATIONS.run(&pool).await {
                Ok(()) => break,
                Err(_) if attempts < 5 => {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(millis: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("time {millis} is out of range")))
}

fn from_optional_millis(millis: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    millis.map(from_millis).transpose()
}

#[cfg(test)]
mod tests;
