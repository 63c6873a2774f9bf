//! Releases, the formation, and the per-app deploy lease.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::query_durations::timed;
use crate::{
    from_millis, from_optional_millis, to_millis, QueryContext, Result, Store, StoreError,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseStatus {
    Pending,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseProcess {
    pub process_type: String,
    pub image: String,
    /// Run under `/bin/sh -c`; none runs the image's CMD.
    pub command: Option<String>,
    /// A path that must answer 2xx/3xx before the process takes traffic.
    pub healthcheck: Option<String>,
    pub limits: berth_core::Limits,
    /// A Compose service's further options (JSON), sealed.
    pub options_sealed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub id: i64,
    pub app_id: i64,
    pub version: i64,
    pub description: String,
    pub commit_sha: Option<String>,
    pub status: ReleaseStatus,
    pub phase: String,
    pub release_image: Option<String>,
    pub release_command: Option<String>,
    pub config_sealed: String,
    pub output: String,
    pub failure: Option<String>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Each phase it went through and when it began, in order.
    pub phase_times: Vec<(String, DateTime<Utc>)>,
    pub processes: Vec<ReleaseProcess>,
}

pub struct NewRelease<'a> {
    pub app_id: i64,
    pub description: &'a str,
    pub commit_sha: Option<&'a str>,
    pub config_sealed: &'a str,
    pub created_by: &'a str,
    pub phase: &'a str,
}

const RELEASE_COLUMNS: &str = "id, app_id, version, description, commit_sha, status, phase, \
    release_image, release_command, config_sealed, output, failure, created_by, created_at, \
    finished_at, phase_times";

impl ReleaseStatus {
    fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Pending => "pending",
            ReleaseStatus::Succeeded => "succeeded",
            ReleaseStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ReleaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReleaseStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(ReleaseStatus::Pending),
            "succeeded" => Ok(ReleaseStatus::Succeeded),
            "failed" => Ok(ReleaseStatus::Failed),
            other => Err(StoreError::Corrupt(format!("release status {other:?}"))),
        }
    }
}

impl ReleaseRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let get = |row: &AnyRow| -> std::result::Result<_, sqlx::Error> {
            Ok((
                (
                    row.try_get::<i64, _>("id")?,
                    row.try_get::<i64, _>("app_id")?,
                    row.try_get::<i64, _>("version")?,
                    row.try_get::<String, _>("description")?,
                    row.try_get::<Option<String>, _>("commit_sha")?,
                    row.try_get::<String, _>("status")?,
                    row.try_get::<String, _>("phase")?,
                ),
                (
                    row.try_get::<Option<String>, _>("release_image")?,
                    row.try_get::<Option<String>, _>("release_command")?,
                    row.try_get::<String, _>("config_sealed")?,
                    row.try_get::<String, _>("output")?,
                    row.try_get::<Option<String>, _>("failure")?,
                    row.try_get::<Option<String>, _>("created_by")?,
                    row.try_get::<i64, _>("created_at")?,
                    row.try_get::<Option<i64>, _>("finished_at")?,
                    row.try_get::<String, _>("phase_times")?,
                ),
            ))
        };
        let (
            (id, app_id, version, description, commit_sha, status, phase),
            (
                release_image,
                release_command,
                config_sealed,
                output,
                failure,
                created_by,
                created,
                finished,
                phase_times,
            ),
        ) = get(row).context("read release")?;
        Ok(Self {
            id,
            app_id,
            version,
            description,
            commit_sha,
            status: status.parse()?,
            phase,
            release_image,
            release_command,
            config_sealed,
            output,
            failure,
            created_by,
            created_at: from_millis(created)?,
            finished_at: from_optional_millis(finished)?,
            phase_times: parse_phase_times(&phase_times)?,
            processes: Vec::new(),
        })
    }
}

/// `building@<ms>,starting@<ms>` → the phases and when each began.
fn parse_phase_times(text: &str) -> Result<Vec<(String, DateTime<Utc>)>> {
    text.split(',')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (phase, millis) = entry
                .split_once('@')
                .and_then(|(phase, millis)| Some((phase, millis.parse::<i64>().ok()?)))
                .ok_or_else(|| StoreError::Corrupt(format!("release phase time {entry:?}")))?;
            Ok((phase.to_string(), from_millis(millis)?))
        })
        .collect()
}

/// One entry of `phase_times`: `phase` began now.
fn phase_time(phase: &str, at: DateTime<Utc>) -> String {
    format!("{phase}@{}", to_millis(at))
}

impl Store {
    /// Creates the app's next release (numbered after its latest), pending.
    pub async fn create_release(&self, new: NewRelease<'_>) -> Result<ReleaseRecord> {
        let _timer = timed("create_release");
        let now = Utc::now();
        let row = sqlx::query(&format!(
            "INSERT INTO releases (app_id, version, description, commit_sha, status, phase, \
             config_sealed, created_by, created_at, phase_times) \
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, 'pending', $4, $5, $6, $7, $8 \
             FROM releases WHERE app_id = $1 RETURNING {RELEASE_COLUMNS}"
        ))
        .bind(new.app_id)
        .bind(new.description)
        .bind(new.commit_sha)
        .bind(new.phase)
        .bind(new.config_sealed)
        .bind(new.created_by)
        .bind(to_millis(now))
        .bind(phase_time(new.phase, now))
        .fetch_one(&self.pool)
        .await
        .context("create release")?;
        ReleaseRecord::from_row(&row)
    }

    pub async fn set_release_phase(&self, release_id: i64, phase: &str) -> Result<()> {
        let _timer = timed("set_release_phase");
        sqlx::query(
            "UPDATE releases SET phase = $1, phase_times = phase_times || ',' || $2 WHERE id = $3",
        )
        .bind(phase)
        .bind(phase_time(phase, Utc::now()))
        .bind(release_id)
        .execute(&self.pool)
        .await
        .context("record release phase")?;
        Ok(())
    }

    /// Records what the release runs: an image (and command) per process
    /// type, and its release-phase command.
    pub async fn set_release_contents(
        &self,
        release_id: i64,
        processes: &[ReleaseProcess],
        release_image: Option<&str>,
        release_command: Option<&str>,
    ) -> Result<()> {
        let _timer = timed("set_release_contents");
        let mut tx = self.pool.begin().await.context("begin release contents")?;
        sqlx::query("UPDATE releases SET release_image = $1, release_command = $2 WHERE id = $3")
            .bind(release_image)
            .bind(release_command)
            .bind(release_id)
            .execute(&mut *tx)
            .await
            .context("record release command")?;
        for process in processes {
            sqlx::query(
                "INSERT INTO release_processes \
                 (release_id, process_type, image, command, healthcheck, memory_bytes, \
                 nano_cpus, options_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(release_id)
            .bind(&process.process_type)
            .bind(&process.image)
            .bind(process.command.as_deref())
            .bind(process.healthcheck.as_deref())
            .bind(process.limits.memory_bytes.map(|bytes| bytes as i64))
            .bind(process.limits.nano_cpus.map(|cpus| cpus as i64))
            .bind(process.options_sealed.as_deref())
            .execute(&mut *tx)
            .await
            .context("record release process")?;
        }
        tx.commit().await.context("commit release contents")
    }

    /// Marks a release succeeded and makes it the app's current release, at once;
    /// with `config_vars` (sealed), they replace the app's config in the same transaction.
    pub async fn succeed_release(
        &self,
        release: &ReleaseRecord,
        output: &str,
        config_vars: Option<&[(String, String)]>,
    ) -> Result<()> {
        let _timer = timed("succeed_release");
        let mut tx = self.pool.begin().await.context("begin release success")?;
        sqlx::query(
            "UPDATE releases SET status = 'succeeded', phase = 'done', output = $1, \
             finished_at = $2 WHERE id = $3",
        )
        .bind(output)
        .bind(to_millis(Utc::now()))
        .bind(release.id)
        .execute(&mut *tx)
        .await
        .context("mark release succeeded")?;
        sqlx::query("UPDATE apps SET current_release = $1 WHERE id = $2")
            .bind(release.version)
            .bind(release.app_id)
            .execute(&mut *tx)
            .await
            .context("make release current")?;
        if let Some(vars) = config_vars {
            crate::config_vars::replace_config_vars_in(&mut tx, release.app_id, vars).await?;
        }
        tx.commit().await.context("commit release success")
    }

    pub async fn fail_release(&self, release_id: i64, failure: &str, output: &str) -> Result<()> {
        let _timer = timed("fail_release");
        sqlx::query(
            "UPDATE releases SET status = 'failed', failure = $1, output = $2, finished_at = $3 \
             WHERE id = $4",
        )
        .bind(failure)
        .bind(output)
        .bind(to_millis(Utc::now()))
        .bind(release_id)
        .execute(&self.pool)
        .await
        .context("mark release failed")?;
        Ok(())
    }

    /// Releases left pending by a deploy that never finished, of every app.
    pub async fn pending_releases(&self) -> Result<Vec<ReleaseRecord>> {
        let _timer = timed("pending_releases");
        let rows = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE status = 'pending' ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .context("list pending releases")?;
        rows.iter().map(ReleaseRecord::from_row).collect()
    }

    /// The app's releases, oldest first, with their processes.
    pub async fn releases(&self, app_id: i64) -> Result<Vec<ReleaseRecord>> {
        let _timer = timed("releases");
        let rows = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE app_id = $1 ORDER BY version"
        ))
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .context("list releases")?;
        let mut releases = rows
            .iter()
            .map(ReleaseRecord::from_row)
            .collect::<Result<Vec<_>>>()?;
        for release in &mut releases {
            release.processes = self.release_processes(release.id).await?;
        }
        Ok(releases)
    }

    /// The images each release of the app runs (processes and release phase),
    /// oldest release first; nothing else of the releases is read.
    pub async fn release_images(&self, app_id: i64) -> Result<Vec<Vec<String>>> {
        let _timer = timed("release_images");
        let rows = sqlx::query(
            "SELECT r.version, r.release_image AS image FROM releases r \
             WHERE r.app_id = $1 \
             UNION ALL SELECT r.version, p.image AS image FROM releases r \
             JOIN release_processes p ON p.release_id = r.id WHERE r.app_id = $1 \
             ORDER BY 1",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .context("list release images")?;
        let mut releases: Vec<(i64, Vec<String>)> = Vec::new();
        for row in &rows {
            let version: i64 = row.try_get(0).context("read release image")?;
            let image: Option<String> = row.try_get(1).context("read release image")?;
            if releases.last().map(|(v, _)| *v) != Some(version) {
                releases.push((version, Vec::new()));
            }
            if let (Some(image), Some((_, images))) = (image, releases.last_mut()) {
                images.push(image);
            }
        }
        Ok(releases.into_iter().map(|(_, images)| images).collect())
    }

    pub async fn release(&self, app_id: i64, version: i64) -> Result<Option<ReleaseRecord>> {
        let _timer = timed("release");
        let row = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE app_id = $1 AND version = $2"
        ))
        .bind(app_id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .context("find release")?;
        let Some(row) = row else { return Ok(None) };
        let mut release = ReleaseRecord::from_row(&row)?;
        release.processes = self.release_processes(release.id).await?;
        Ok(Some(release))
    }

    async fn release_processes(&self, release_id: i64) -> Result<Vec<ReleaseProcess>> {
        let rows = sqlx::query(
            "SELECT process_type, image, command, healthcheck, memory_bytes, nano_cpus, \
             options_sealed FROM release_processes \
             WHERE release_id = $1 ORDER BY process_type",
        )
        .bind(release_id)
        .fetch_all(&self.pool)
        .await
        .context("list release processes")?;
        rows.iter()
            .map(|row| {
                Ok(ReleaseProcess {
                    process_type: row.try_get("process_type")?,
                    image: row.try_get("image")?,
                    command: row.try_get("command")?,
                    healthcheck: row.try_get("healthcheck")?,
                    limits: crate::volumes::limits_from(
                        row.try_get("memory_bytes")?,
                        row.try_get("nano_cpus")?,
                    ),
                    options_sealed: row.try_get("options_sealed")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .context("read release process")
    }

    /// The app's formation: quantity per process type, by type.
    pub async fn formation(&self, app_id: i64) -> Result<Vec<(String, i64)>> {
        let _timer = timed("formation");
        let rows = sqlx::query(
            "SELECT process_type, quantity FROM formations WHERE app_id = $1 ORDER BY process_type",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await
        .context("read formation")?;
        rows.iter()
            .map(|row| Ok((row.try_get("process_type")?, row.try_get("quantity")?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .context("read formation entry")
    }

    /// Adds process types the formation does not have yet, at the given
    /// quantities; types already there keep theirs.
    pub async fn add_to_formation(&self, app_id: i64, entries: &[(String, i64)]) -> Result<()> {
        let _timer = timed("add_to_formation");
        for (process_type, quantity) in entries {
            sqlx::query(
                "INSERT INTO formations (app_id, process_type, quantity) VALUES ($1, $2, $3) \
                 ON CONFLICT (app_id, process_type) DO NOTHING",
            )
            .bind(app_id)
            .bind(process_type)
            .bind(quantity)
            .execute(&self.pool)
            .await
            .context("add to formation")?;
        }
        Ok(())
    }

    /// Sets the quantity of each given process type.
    pub async fn set_formation(&self, app_id: i64, entries: &[(String, i64)]) -> Result<()> {
        let _timer = timed("set_formation");
        for (process_type, quantity) in entries {
            sqlx::query(
                "INSERT INTO formations (app_id, process_type, quantity) VALUES ($1, $2, $3) \
                 ON CONFLICT (app_id, process_type) DO UPDATE SET quantity = excluded.quantity",
            )
            .bind(app_id)
            .bind(process_type)
            .bind(quantity)
            .execute(&self.pool)
            .await
            .context("set formation")?;
        }
        Ok(())
    }

    /// Takes the app's deploy lease for `ttl` if it is free or expired;
    /// returns whether `holder` has it now.
    pub async fn acquire_deploy_lease(
        &self,
        app_id: i64,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool> {
        let _timer = timed("acquire_deploy_lease");
        let now = Utc::now();
        let result = sqlx::query(
            "INSERT INTO deploy_leases (app_id, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (app_id) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE deploy_leases.expires_at < $4 OR deploy_leases.holder = excluded.holder",
        )
        .bind(app_id)
        .bind(holder)
        .bind(to_millis(now + ttl))
        .bind(to_millis(now))
        .execute(&self.pool)
        .await
        .context("take deploy lease")?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn release_deploy_lease(&self, app_id: i64, holder: &str) -> Result<()> {
        let _timer = timed("release_deploy_lease");
        sqlx::query("DELETE FROM deploy_leases WHERE app_id = $1 AND holder = $2")
            .bind(app_id)
            .bind(holder)
            .execute(&self.pool)
            .await
            .context("give back deploy lease")?;
        Ok(())
    }

    /// Drops every lease: at start-up, the holders belonged to a berthd that is gone.
    pub async fn clear_deploy_leases(&self) -> Result<()> {
        let _timer = timed("clear_deploy_leases");
        sqlx::query("DELETE FROM deploy_leases")
            .execute(&self.pool)
            .await
            .context("clear deploy leases")?;
        Ok(())
    }
}
