//! Pipelines: apps grouped by stage, and the review apps branches make.

use berth_core::{AppRole, PipelineStage};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::audit::insert_audit;
use crate::query_durations::timed;
use crate::{from_millis, to_millis, AppRecord, AuditEntry, QueryContext, Result, Store};
use crate::{StoreError, APP_COLUMNS};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineRecord {
    pub id: i64,
    pub name: String,
    pub review_apps: bool,
    /// Review apps without a push for this many seconds are destroyed.
    pub review_app_ttl_secs: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

const PIPELINE_COLUMNS: &str = "id, name, review_apps, review_app_ttl_secs, created_by, created_at";

impl PipelineRecord {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let read = || -> std::result::Result<_, sqlx::Error> {
            Ok((
                row.try_get::<i64, _>("id")?,
                row.try_get::<String, _>("name")?,
                row.try_get::<i64, _>("review_apps")?,
                row.try_get::<Option<i64>, _>("review_app_ttl_secs")?,
                row.try_get::<Option<i64>, _>("created_by")?,
                row.try_get::<i64, _>("created_at")?,
            ))
        };
        let (id, name, review_apps, review_app_ttl_secs, created_by, created_at) =
            read().context("read pipeline")?;
        Ok(Self {
            id,
            name,
            review_apps: review_apps != 0,
            review_app_ttl_secs,
            created_by,
            created_at: from_millis(created_at)?,
        })
    }
}

/// An app of a pipeline, at its stage; a review app says which branch of
/// which app it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineApp {
    pub app: AppRecord,
    pub stage: PipelineStage,
    pub review: Option<ReviewAppRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewAppRecord {
    pub app_id: i64,
    pub app_name: String,
    pub parent_app_id: i64,
    pub parent_name: String,
    pub branch: String,
    pub last_push_at: DateTime<Utc>,
}

const REVIEW_COLUMNS: &str = "r.app_id AS review_app_id, ra.name AS review_app_name, \
    r.parent_app_id, pa.name AS parent_name, r.branch, r.last_push_at";
const REVIEW_JOINS: &str =
    "JOIN apps ra ON ra.id = r.app_id JOIN apps pa ON pa.id = r.parent_app_id";

impl ReviewAppRecord {
    fn from_row(row: &AnyRow) -> Result<Option<Self>> {
        let read = || -> std::result::Result<_, sqlx::Error> {
            Ok((
                row.try_get::<Option<i64>, _>("review_app_id")?,
                row.try_get::<Option<String>, _>("review_app_name")?,
                row.try_get::<Option<i64>, _>("parent_app_id")?,
                row.try_get::<Option<String>, _>("parent_name")?,
                row.try_get::<Option<String>, _>("branch")?,
                row.try_get::<Option<i64>, _>("last_push_at")?,
            ))
        };
        match read().context("read review app")? {
            (
                Some(app_id),
                Some(app_name),
                Some(parent_app_id),
                Some(parent_name),
                Some(branch),
                Some(last_push_at),
            ) => Ok(Some(Self {
                app_id,
                app_name,
                parent_app_id,
                parent_name,
                branch,
                last_push_at: from_millis(last_push_at)?,
            })),
            _ => Ok(None),
        }
    }
}

fn read_stage(row: &AnyRow) -> Result<PipelineStage> {
    let stage: String = row.try_get("stage").context("read stage")?;
    stage
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("pipeline stage {stage}")))
}

/// A review app to create: the app, its owner (who pushed), its parent.
pub struct NewReviewApp<'a> {
    pub name: &'a str,
    pub owner_id: i64,
    pub parent_app_id: i64,
    pub pipeline_id: i64,
    pub branch: &'a str,
}

impl Store {
    /// Creates a pipeline holding its first app, in one transaction.
    pub async fn create_pipeline(
        &self,
        name: &str,
        created_by: i64,
        app_id: i64,
        stage: PipelineStage,
        audit: &AuditEntry,
    ) -> Result<PipelineRecord> {
        let _timer = timed("create_pipeline");
        let mut tx = self.pool.begin().await.context("begin create pipeline")?;
        let row = sqlx::query(&format!(
            "INSERT INTO pipelines (name, created_by, created_at) VALUES ($1, $2, $3) \
             RETURNING {PIPELINE_COLUMNS}"
        ))
        .bind(name)
        .bind(created_by)
        .bind(to_millis(Utc::now()))
        .fetch_one(&mut *tx)
        .await
        .conflict_as("create pipeline", || format!("a pipeline named {name}"))?;
        let pipeline = PipelineRecord::from_row(&row)?;
        couple(&mut tx, pipeline.id, app_id, stage).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit create pipeline")?;
        Ok(pipeline)
    }

    /// Every pipeline, oldest first.
    pub async fn pipelines(&self) -> Result<Vec<PipelineRecord>> {
        let _timer = timed("pipelines");
        let rows = sqlx::query(&format!(
            "SELECT {PIPELINE_COLUMNS} FROM pipelines ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .context("list pipelines")?;
        rows.iter().map(PipelineRecord::from_row).collect()
    }

    pub async fn pipeline_named(&self, name: &str) -> Result<Option<PipelineRecord>> {
        let _timer = timed("pipeline_named");
        sqlx::query(&format!(
            "SELECT {PIPELINE_COLUMNS} FROM pipelines WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .context("find pipeline")?
        .as_ref()
        .map(PipelineRecord::from_row)
        .transpose()
    }

    /// The pipeline's apps, by stage in promotion order, then oldest first.
    pub async fn pipeline_apps(&self, pipeline_id: i64) -> Result<Vec<PipelineApp>> {
        let _timer = timed("pipeline_apps");
        let rows = sqlx::query(&format!(
            "SELECT {APP_COLUMNS}, c.stage, {REVIEW_COLUMNS} FROM pipeline_apps c \
             JOIN apps a ON a.id = c.app_id \
             LEFT JOIN (review_apps r {REVIEW_JOINS}) ON r.app_id = c.app_id \
             WHERE c.pipeline_id = $1 ORDER BY c.added_at, a.id"
        ))
        .bind(pipeline_id)
        .fetch_all(&self.pool)
        .await
        .context("list pipeline apps")?;
        let mut apps = rows
            .iter()
            .map(|row| {
                Ok(PipelineApp {
                    app: AppRecord::from_row(row)?,
                    stage: read_stage(row)?,
                    review: ReviewAppRecord::from_row(row)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        apps.sort_by_key(|app| app.stage);
        Ok(apps)
    }

    /// The pipeline the app is in and its stage there, if any.
    pub async fn pipeline_of_app(
        &self,
        app_id: i64,
    ) -> Result<Option<(PipelineRecord, PipelineStage)>> {
        let _timer = timed("pipeline_of_app");
        let row = sqlx::query(
            "SELECT p.id, p.name, p.review_apps, p.review_app_ttl_secs, p.created_by, \
             p.created_at, c.stage FROM pipeline_apps c JOIN pipelines p ON p.id = c.pipeline_id \
             WHERE c.app_id = $1",
        )
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await
        .context("find the app's pipeline")?;
        row.map(|row| Ok((PipelineRecord::from_row(&row)?, read_stage(&row)?)))
            .transpose()
    }

    /// Adds an app to a pipeline; an app already in one is a conflict.
    pub async fn add_pipeline_app(
        &self,
        pipeline_id: i64,
        app_id: i64,
        stage: PipelineStage,
        audit: &AuditEntry,
    ) -> Result<()> {
        let _timer = timed("add_pipeline_app");
        let mut tx = self.pool.begin().await.context("begin add pipeline app")?;
        couple(&mut tx, pipeline_id, app_id, stage).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await.context("commit add pipeline app")
    }

    /// Takes an app out of its pipeline; false when it was in none.
    pub async fn remove_pipeline_app(&self, app_id: i64, audit: &AuditEntry) -> Result<bool> {
        let _timer = timed("remove_pipeline_app");
        let mut tx = self
            .pool
            .begin()
            .await
            .context("begin remove pipeline app")?;
        let removed = sqlx::query("DELETE FROM pipeline_apps WHERE app_id = $1")
            .bind(app_id)
            .execute(&mut *tx)
            .await
            .context("remove pipeline app")?
            .rows_affected()
            > 0;
        if removed {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.context("commit remove pipeline app")?;
        Ok(removed)
    }

    /// Deletes a pipeline; its apps stay, in no pipeline.
    pub async fn delete_pipeline(&self, pipeline_id: i64, audit: &[AuditEntry]) -> Result<()> {
        let _timer = timed("delete_pipeline");
        let mut tx = self.pool.begin().await.context("begin delete pipeline")?;
        sqlx::query("DELETE FROM pipelines WHERE id = $1")
            .bind(pipeline_id)
            .execute(&mut *tx)
            .await
            .context("delete pipeline")?;
        for entry in audit {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await.context("commit delete pipeline")
    }

    /// Turns review apps on (with their TTL) or off.
    pub async fn set_review_apps(
        &self,
        pipeline_id: i64,
        enabled: bool,
        ttl_secs: Option<i64>,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let _timer = timed("set_review_apps");
        let mut tx = self.pool.begin().await.context("begin set review apps")?;
        sqlx::query(
            "UPDATE pipelines SET review_apps = $1, review_app_ttl_secs = $2 WHERE id = $3",
        )
        .bind(i64::from(enabled))
        .bind(ttl_secs)
        .bind(pipeline_id)
        .execute(&mut *tx)
        .await
        .context("set review apps")?;
        for entry in audit {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await.context("commit set review apps")
    }

    /// Creates a review app in one transaction: the app, owned by who
    /// pushed, with every role its parent's members hold; in the review
    /// stage of the parent's pipeline; with its audit entries.
    pub async fn create_review_app(
        &self,
        review: &NewReviewApp<'_>,
        audit: &[AuditEntry],
    ) -> Result<AppRecord> {
        let _timer = timed("create_review_app");
        let now = to_millis(Utc::now());
        let mut tx = self.pool.begin().await.context("begin create review app")?;
        let app_id: i64 =
            sqlx::query_scalar("INSERT INTO apps (name, created_at) VALUES ($1, $2) RETURNING id")
                .bind(review.name)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .conflict_as("create review app", || {
                    format!("an app named {}", review.name)
                })?;
        sqlx::query(
            "INSERT INTO memberships (app_id, user_id, role, created_at) \
             SELECT $1, user_id, role, $2 FROM memberships WHERE app_id = $3",
        )
        .bind(app_id)
        .bind(now)
        .bind(review.parent_app_id)
        .execute(&mut *tx)
        .await
        .context("give the parent's members their roles")?;
        sqlx::query(
            "INSERT INTO memberships (app_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (app_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(app_id)
        .bind(review.owner_id)
        .bind(AppRole::Owner.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .context("make who pushed the review app's owner")?;
        couple(&mut tx, review.pipeline_id, app_id, PipelineStage::Review).await?;
        sqlx::query(
            "INSERT INTO review_apps (app_id, parent_app_id, branch, last_push_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(app_id)
        .bind(review.parent_app_id)
        .bind(review.branch)
        .bind(now)
        .execute(&mut *tx)
        .await
        .conflict_as("record review app", || {
            format!("a review app of the branch {}", review.branch)
        })?;
        for entry in audit {
            insert_audit(&mut tx, entry).await?;
        }
        let row = sqlx::query(&format!("SELECT {APP_COLUMNS} FROM apps a WHERE a.id = $1"))
            .bind(app_id)
            .fetch_one(&mut *tx)
            .await
            .context("read created review app")?;
        let app = AppRecord::from_row(&row)?;
        tx.commit().await.context("commit create review app")?;
        Ok(app)
    }

    /// The review app `app_id` is, if it is one.
    pub async fn review_app(&self, app_id: i64) -> Result<Option<ReviewAppRecord>> {
        let _timer = timed("review_app");
        self.review_apps_where("r.app_id = $1", app_id, None)
            .await
            .map(|apps| apps.into_iter().next())
    }

    /// The review app of `branch` pushed to `parent_app_id`, if there is one.
    pub async fn review_app_of_branch(
        &self,
        parent_app_id: i64,
        branch: &str,
    ) -> Result<Option<ReviewAppRecord>> {
        let _timer = timed("review_app_of_branch");
        self.review_apps_where(
            "r.parent_app_id = $1 AND r.branch = $2",
            parent_app_id,
            Some(branch),
        )
        .await
        .map(|apps| apps.into_iter().next())
    }

    /// The review apps of `parent_app_id`, oldest first.
    pub async fn review_apps_of(&self, parent_app_id: i64) -> Result<Vec<ReviewAppRecord>> {
        let _timer = timed("review_apps_of");
        self.review_apps_where("r.parent_app_id = $1", parent_app_id, None)
            .await
    }

    async fn review_apps_where(
        &self,
        condition: &str,
        id: i64,
        branch: Option<&str>,
    ) -> Result<Vec<ReviewAppRecord>> {
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM review_apps r {REVIEW_JOINS} WHERE {condition} \
             ORDER BY r.app_id"
        );
        let mut query = sqlx::query(&sql).bind(id);
        if let Some(branch) = branch {
            query = query.bind(branch);
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .context("list review apps")?;
        Ok(rows
            .iter()
            .map(ReviewAppRecord::from_row)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Notes a push to a review app: its time to live starts again.
    pub async fn touch_review_app(&self, app_id: i64) -> Result<()> {
        let _timer = timed("touch_review_app");
        sqlx::query("UPDATE review_apps SET last_push_at = $1 WHERE app_id = $2")
            .bind(to_millis(Utc::now()))
            .bind(app_id)
            .execute(&self.pool)
            .await
            .context("touch review app")?;
        Ok(())
    }

    /// The review apps whose pipeline's TTL has passed since their last push.
    pub async fn expired_review_apps(&self, now: DateTime<Utc>) -> Result<Vec<ReviewAppRecord>> {
        let _timer = timed("expired_review_apps");
        let rows = sqlx::query(&format!(
            "SELECT {REVIEW_COLUMNS} FROM review_apps r {REVIEW_JOINS} \
             JOIN pipeline_apps c ON c.app_id = r.app_id \
             JOIN pipelines p ON p.id = c.pipeline_id \
             WHERE p.review_app_ttl_secs IS NOT NULL \
             AND r.last_push_at + p.review_app_ttl_secs * 1000 < $1 ORDER BY r.app_id"
        ))
        .bind(to_millis(now))
        .fetch_all(&self.pool)
        .await
        .context("list expired review apps")?;
        Ok(rows
            .iter()
            .map(ReviewAppRecord::from_row)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect())
    }
}

async fn couple(
    conn: &mut AnyConnection,
    pipeline_id: i64,
    app_id: i64,
    stage: PipelineStage,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO pipeline_apps (app_id, pipeline_id, stage, added_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(app_id)
    .bind(pipeline_id)
    .bind(stage.as_str())
    .bind(to_millis(Utc::now()))
    .execute(conn)
    .await
    .conflict_as("add app to pipeline", || {
        "this app's place in a pipeline".into()
    })?;
    Ok(())
}
