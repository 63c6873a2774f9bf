//! Pipelines, promotions and review apps on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Release;

/// A pipeline and the apps in it that the reader may see, by stage in
/// promotion order (review, development, staging, production).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pipeline {
    pub name: String,
    pub review_apps: ReviewAppsSettings,
    pub apps: Vec<PipelineApp>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewAppsSettings {
    pub enabled: bool,
    /// Review apps without a push for this long are destroyed; none: never.
    pub ttl_seconds: Option<u64>,
}

/// An app of a pipeline with what it runs now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelineApp {
    pub app: String,
    /// `review`, `development`, `staging` or `production`.
    pub stage: String,
    /// The version of its current release, if it has one.
    pub release: Option<i64>,
    /// The commit its current release runs.
    pub commit: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
    pub web_url: String,
    /// For a review app: the app and branch it runs.
    pub review: Option<ReviewOf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewOf {
    pub parent: String,
    pub branch: String,
    pub last_push_at: DateTime<Utc>,
    /// When it is destroyed if nothing is pushed before; none: never.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatePipelineRequest {
    pub name: String,
    pub app: String,
    pub stage: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddPipelineAppRequest {
    pub app: String,
    pub stage: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnableReviewAppsRequest {
    /// How long a review app lives without a push: a number and s, m, h or
    /// d (`5d`); none: until its branch is deleted.
    pub ttl: Option<String>,
}

/// `GET /apps/{name}/pipeline/diff?to=APP`: which app of the next stage to
/// compare with (every one without it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct PipelineDiffQuery {
    pub to: Option<String>,
}

/// What an app runs that the apps of its pipeline's next stage lack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PipelineDiff {
    pub app: String,
    pub stage: String,
    pub release: Option<i64>,
    pub commit: Option<String>,
    pub targets: Vec<DiffTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffTarget {
    pub app: String,
    pub stage: String,
    pub release: Option<i64>,
    pub commit: Option<String>,
    /// The commits the source runs that this app does not, newest first.
    pub commits: Vec<Commit>,
    /// More commits than listed differ.
    pub truncated: bool,
    /// This app runs a commit the source's history does not hold, so the
    /// two cannot be compared.
    pub unrelated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Commit {
    pub sha: String,
    pub author: String,
    pub summary: String,
    pub time: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromoteRequest {
    /// The apps to promote to, all of the next stage; none: every app of it.
    #[serde(default)]
    pub to: Vec<String>,
}

/// A promotion: the source's release, and the release it became on each target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Promotion {
    pub app: String,
    pub release: i64,
    pub commit: Option<String>,
    pub promoted: Vec<PromotedRelease>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromotedRelease {
    pub app: String,
    pub release: Release,
}
