//! Metric samples behind the charts: per app and per dyno, in buckets of 10 s
//! (kept 1 h), 1 min (kept 24 h) and 10 min (kept 7 days).
//!
//! Size: each resolution keeps `retention / resolution + 1` buckets, so an
//! app holds at most 361 + 1441 + 1009 = 2811 rows of app samples, and as
//! many per dyno name; measured with their indexes, ~90 bytes a row (~250 KiB
//! an app) and ~80 bytes a dyno row (~230 KiB a dyno). A dyno that is scaled
//! away leaves its rows until they age out.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::query_durations::timed;
use crate::{QueryContext, Result, Store, StoreError};

/// How many latency buckets a sample has: the router's bounds and the
/// unbounded bucket above the last.
pub const LATENCY_BUCKET_COUNT: usize = 13;

/// A resolution and how long rows of it are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleResolution {
    pub seconds: u32,
    pub retention: Duration,
}

pub const SAMPLE_RESOLUTIONS: [SampleResolution; 3] = [
    SampleResolution {
        seconds: 10,
        retention: Duration::from_secs(60 * 60),
    },
    SampleResolution {
        seconds: 60,
        retention: Duration::from_secs(24 * 60 * 60),
    },
    SampleResolution {
        seconds: 600,
        retention: Duration::from_secs(7 * 24 * 60 * 60),
    },
];

/// The resolution of the app list's sparkline.
const SPARKLINE_RESOLUTION: u32 = 60;

/// One app's traffic and restarts since the previous tick.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSample {
    pub app_id: i64,
    /// Responses by status class: index 0 = 1xx … 4 = 5xx.
    pub responses: [u64; 5],
    /// Responses per router latency bucket (not cumulative), `LATENCY_BUCKET_COUNT` of them.
    pub latency_buckets: Vec<u64>,
    pub latency_sum_seconds: f64,
    pub restarts: u64,
}

/// One dyno's resource use at a tick: memory as seen then, CPU time used since the previous tick.
#[derive(Debug, Clone, PartialEq)]
pub struct DynoSample {
    pub app_id: i64,
    pub dyno: String,
    pub process_type: String,
    pub host: String,
    pub memory_bytes: u64,
    pub memory_limit_bytes: Option<u64>,
    pub cpu_seconds: f64,
}

/// One bucket of an app's samples.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSampleRow {
    /// Start of the bucket.
    pub at: DateTime<Utc>,
    pub responses: [u64; 5],
    pub latency_buckets: Vec<u64>,
    pub latency_sum_seconds: f64,
    pub restarts: u64,
}

/// One bucket of a dyno's samples.
#[derive(Debug, Clone, PartialEq)]
pub struct DynoSampleRow {
    /// Start of the bucket.
    pub at: DateTime<Utc>,
    pub dyno: String,
    pub process_type: String,
    pub host: String,
    pub memory_bytes_max: u64,
    pub memory_bytes_avg: u64,
    pub cpu_seconds: f64,
    pub memory_limit_bytes: Option<u64>,
}

const RESPONSE_COLUMNS: [&str; 5] = [
    "responses_1xx",
    "responses_2xx",
    "responses_3xx",
    "responses_4xx",
    "responses_5xx",
];

/// The columns of an app sample after its key, in the order they are bound and read.
static APP_SAMPLE_COLUMNS: LazyLock<Vec<String>> = LazyLock::new(|| {
    RESPONSE_COLUMNS
        .iter()
        .map(|column| column.to_string())
        .chain((0..LATENCY_BUCKET_COUNT).map(|bucket| format!("latency_bucket_{bucket}")))
        .chain(["latency_sum_seconds".into(), "restarts".into()])
        .collect()
});

/// Adds a sample to its bucket; inserts nothing for an app that does not exist.
static UPSERT_APP_SAMPLE: LazyLock<String> = LazyLock::new(|| {
    let columns = APP_SAMPLE_COLUMNS.join(", ");
    let values = (4..4 + APP_SAMPLE_COLUMNS.len())
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sums = APP_SAMPLE_COLUMNS
        .iter()
        .map(|column| format!("{column} = app_metric_samples.{column} + excluded.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO app_metric_samples (app_id, resolution, at, {columns}) \
         SELECT $1, $2, $3, {values} FROM apps WHERE apps.id = $1 \
         ON CONFLICT (app_id, resolution, at) DO UPDATE SET {sums}"
    )
});

static SELECT_APP_SAMPLES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT at, {} FROM app_metric_samples \
         WHERE app_id = $1 AND resolution = $2 AND at >= $3 ORDER BY at",
        APP_SAMPLE_COLUMNS.join(", ")
    )
});

/// Adds a sample to its bucket; inserts nothing for an app that does not exist.
const UPSERT_DYNO_SAMPLE: &str = "INSERT INTO dyno_metric_samples \
    (app_id, resolution, at, dyno, process_type, host, memory_bytes_max, memory_bytes_sum, \
     observations, cpu_seconds, memory_limit_bytes) \
    SELECT $1, $2, $3, $4, $5, $6, $7, $7, 1, $8, $9 FROM apps WHERE apps.id = $1 \
    ON CONFLICT (app_id, resolution, at, dyno) DO UPDATE SET \
    process_type = excluded.process_type, host = excluded.host, \
    memory_bytes_max = CASE WHEN excluded.memory_bytes_max > dyno_metric_samples.memory_bytes_max \
        THEN excluded.memory_bytes_max ELSE dyno_metric_samples.memory_bytes_max END, \
    memory_bytes_sum = dyno_metric_samples.memory_bytes_sum + excluded.memory_bytes_sum, \
    observations = dyno_metric_samples.observations + 1, \
    cpu_seconds = dyno_metric_samples.cpu_seconds + excluded.cpu_seconds, \
    memory_limit_bytes = excluded.memory_limit_bytes";

impl AppSampleRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let mut responses = [0; 5];
        for (count, column) in responses.iter_mut().zip(RESPONSE_COLUMNS) {
            *count = count_in(row, column)?;
        }
        let latency_buckets = APP_SAMPLE_COLUMNS
            [RESPONSE_COLUMNS.len()..RESPONSE_COLUMNS.len() + LATENCY_BUCKET_COUNT]
            .iter()
            .map(|column| count_in(row, column))
            .collect::<Result<_>>()?;
        let read = |row: &AnyRow| -> std::result::Result<_, sqlx::Error> {
            Ok((
                row.try_get::<i64, _>("at")?,
                row.try_get::<f64, _>("latency_sum_seconds")?,
            ))
        };
        let (at, latency_sum_seconds) = read(row).context("read app sample")?;
        Ok(Self {
            at: from_seconds(at)?,
            responses,
            latency_buckets,
            latency_sum_seconds,
            restarts: count_in(row, "restarts")?,
        })
    }
}

impl DynoSampleRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = |row: &AnyRow| -> std::result::Result<_, sqlx::Error> {
            Ok((
                row.try_get::<i64, _>("at")?,
                row.try_get::<String, _>("dyno")?,
                row.try_get::<String, _>("process_type")?,
                row.try_get::<String, _>("host")?,
                row.try_get::<i64, _>("memory_bytes_max")?,
                row.try_get::<i64, _>("memory_bytes_sum")?,
                row.try_get::<i64, _>("observations")?,
                row.try_get::<f64, _>("cpu_seconds")?,
                row.try_get::<Option<i64>, _>("memory_limit_bytes")?,
            ))
        };
        let (at, dyno, process_type, host, max, sum, observations, cpu_seconds, limit) =
            read(row).context("read dyno sample")?;
        let observations = from_count(observations)?.max(1);
        Ok(Self {
            at: from_seconds(at)?,
            dyno,
            process_type,
            host,
            memory_bytes_max: from_count(max)?,
            memory_bytes_avg: from_count(sum)? / observations,
            cpu_seconds,
            memory_limit_bytes: limit.map(from_count).transpose()?,
        })
    }
}

impl Store {
    /// Adds one tick's deltas (taken at `at`) to the bucket holding `at` at
    /// every resolution, in one write transaction: counts and CPU seconds add
    /// up, latency buckets add element-wise, memory max/sum/observations
    /// accumulate, the limit (and process type, host) is the latest. Samples
    /// of apps that no longer exist are skipped. Then deletes the buckets
    /// each resolution no longer keeps: those starting more than its
    /// retention before the bucket of `at`. A sample with other than
    /// `LATENCY_BUCKET_COUNT` latency buckets, or with seconds that are
    /// negative or not a number, refuses the whole tick (`MalformedSample`).
    pub async fn record_metric_samples(
        &self,
        at: DateTime<Utc>,
        apps: &[AppSample],
        dynos: &[DynoSample],
    ) -> Result<()> {
        let _timer = timed("record_metric_samples");
        validate(apps, dynos)?;
        let mut tx = self.pool.begin().await.context("begin metric samples")?;
        // Every statement here writes, so SQLite takes the write lock at the
        // first (waiting out the busy timeout) instead of failing on a lock upgrade.
        for resolution in SAMPLE_RESOLUTIONS {
            let seconds = i64::from(resolution.seconds);
            let bucket = at.timestamp().div_euclid(seconds) * seconds;
            for sample in apps {
                let mut query = sqlx::query(&UPSERT_APP_SAMPLE)
                    .bind(sample.app_id)
                    .bind(seconds)
                    .bind(bucket);
                for count in sample.responses.iter().chain(&sample.latency_buckets) {
                    query = query.bind(to_count(*count));
                }
                query
                    .bind(sample.latency_sum_seconds)
                    .bind(to_count(sample.restarts))
                    .execute(&mut *tx)
                    .await
                    .context("add app metric sample")?;
            }
            for sample in dynos {
                sqlx::query(UPSERT_DYNO_SAMPLE)
                    .bind(sample.app_id)
                    .bind(seconds)
                    .bind(bucket)
                    .bind(&sample.dyno)
                    .bind(&sample.process_type)
                    .bind(&sample.host)
                    .bind(to_count(sample.memory_bytes))
                    .bind(sample.cpu_seconds)
                    .bind(sample.memory_limit_bytes.map(to_count))
                    .execute(&mut *tx)
                    .await
                    .context("add dyno metric sample")?;
            }
            let retention = i64::try_from(resolution.retention.as_secs()).unwrap_or(i64::MAX);
            let oldest_kept = bucket.saturating_sub(retention);
            for prune in [
                "DELETE FROM app_metric_samples WHERE resolution = $1 AND at < $2",
                "DELETE FROM dyno_metric_samples WHERE resolution = $1 AND at < $2",
            ] {
                sqlx::query(prune)
                    .bind(seconds)
                    .bind(oldest_kept)
                    .execute(&mut *tx)
                    .await
                    .context("prune metric samples")?;
            }
        }
        tx.commit().await.context("commit metric samples")
    }

    /// The buckets of one app at one resolution (in seconds) starting at or
    /// after `since`, oldest first.
    pub async fn app_metric_samples(
        &self,
        app_id: i64,
        resolution: u32,
        since: DateTime<Utc>,
    ) -> Result<Vec<AppSampleRow>> {
        let _timer = timed("app_metric_samples");
        let rows = sqlx::query(&SELECT_APP_SAMPLES)
            .bind(app_id)
            .bind(i64::from(resolution))
            .bind(since.timestamp())
            .fetch_all(&self.pool)
            .await
            .context("list app metric samples")?;
        rows.iter().map(AppSampleRow::from_row).collect()
    }

    /// The buckets of one app's dynos at one resolution (in seconds) starting
    /// at or after `since`, oldest first (then by dyno).
    pub async fn dyno_metric_samples(
        &self,
        app_id: i64,
        resolution: u32,
        since: DateTime<Utc>,
    ) -> Result<Vec<DynoSampleRow>> {
        let _timer = timed("dyno_metric_samples");
        let rows = sqlx::query(
            "SELECT at, dyno, process_type, host, memory_bytes_max, memory_bytes_sum, \
             observations, cpu_seconds, memory_limit_bytes FROM dyno_metric_samples \
             WHERE app_id = $1 AND resolution = $2 AND at >= $3 ORDER BY at, dyno",
        )
        .bind(app_id)
        .bind(i64::from(resolution))
        .bind(since.timestamp())
        .fetch_all(&self.pool)
        .await
        .context("list dyno metric samples")?;
        rows.iter().map(DynoSampleRow::from_row).collect()
    }

    /// Per app, the responses of each 1 min bucket starting at or after
    /// `since` (for the app list's sparkline): `(app_id, bucket start,
    /// responses)`, by app then oldest first. Buckets without a sample are absent.
    pub async fn response_counts_by_app(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(i64, DateTime<Utc>, u64)>> {
        let _timer = timed("response_counts_by_app");
        let rows = sqlx::query(&format!(
            "SELECT app_id, at, {} AS responses FROM app_metric_samples \
             WHERE resolution = $1 AND at >= $2 ORDER BY app_id, at",
            RESPONSE_COLUMNS.join(" + ")
        ))
        .bind(i64::from(SPARKLINE_RESOLUTION))
        .bind(since.timestamp())
        .fetch_all(&self.pool)
        .await
        .context("count responses by app")?;
        rows.iter()
            .map(|row| {
                let read = || -> std::result::Result<_, sqlx::Error> {
                    Ok((
                        row.try_get::<i64, _>("app_id")?,
                        row.try_get::<i64, _>("at")?,
                        row.try_get::<i64, _>("responses")?,
                    ))
                };
                let (app_id, at, responses) = read().context("read response count")?;
                Ok((app_id, from_seconds(at)?, from_count(responses)?))
            })
            .collect()
    }
}

/// Refuses what would fail the write half-way or spoil the charts: a
/// latency vector of another length, or seconds that are negative or not a number.
fn validate(apps: &[AppSample], dynos: &[DynoSample]) -> Result<()> {
    let malformed = |message: String| Err(StoreError::MalformedSample(message));
    let seconds_valid = |seconds: f64| seconds.is_finite() && seconds >= 0.0;
    for sample in apps {
        if sample.latency_buckets.len() != LATENCY_BUCKET_COUNT {
            return malformed(format!(
                "app {} has {} latency buckets, not {LATENCY_BUCKET_COUNT}",
                sample.app_id,
                sample.latency_buckets.len()
            ));
        }
        if !seconds_valid(sample.latency_sum_seconds) {
            return malformed(format!(
                "app {} has a latency sum of {} s",
                sample.app_id, sample.latency_sum_seconds
            ));
        }
    }
    if let Some(sample) = dynos
        .iter()
        .find(|sample| !seconds_valid(sample.cpu_seconds))
    {
        return malformed(format!(
            "dyno {} of app {} used {} CPU seconds",
            sample.dyno, sample.app_id, sample.cpu_seconds
        ));
    }
    Ok(())
}

/// SQL integers are signed; a count beyond them is not a real one, so it saturates.
fn to_count(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn count_in(row: &AnyRow, column: &str) -> Result<u64> {
    from_count(row.try_get(column).context("read metric sample")?)
}

fn from_count(count: i64) -> Result<u64> {
    u64::try_from(count).map_err(|_| StoreError::Corrupt(format!("negative count {count}")))
}

fn from_seconds(seconds: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("time {seconds} is out of range")))
}
