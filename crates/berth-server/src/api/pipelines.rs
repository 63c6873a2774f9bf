//! Pipelines, promotion between their stages, and review apps.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use berth_api_types::{
    AddPipelineAppRequest, Commit, CreatePipelineRequest, DiffTarget, EnableReviewAppsRequest,
    Pipeline, PipelineApp, PipelineDiff, PipelineDiffQuery, PromoteRequest, PromotedRelease,
    Promotion, ReviewAppsSettings, ReviewOf,
};
use berth_platform::{PipelineMember, PipelineView, Progress};

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
    Unavailable,
};
use super::releases::release_view;
use super::ApiError;
use crate::AppState;

pub(crate) fn pipeline_view(state: &AppState, view: PipelineView) -> Pipeline {
    Pipeline {
        name: view.pipeline.name,
        review_apps: ReviewAppsSettings {
            enabled: view.pipeline.review_apps,
            ttl_seconds: view
                .pipeline
                .review_app_ttl_secs
                .and_then(|secs| u64::try_from(secs).ok()),
        },
        apps: view
            .apps
            .into_iter()
            .map(|member| member_view(state, member))
            .collect(),
        created_at: view.pipeline.created_at,
    }
}

fn member_view(state: &AppState, member: PipelineMember) -> PipelineApp {
    PipelineApp {
        web_url: state.web_url(&member.app.name),
        app: member.app.name,
        stage: member.stage.to_string(),
        release: member.release.as_ref().map(|release| release.version),
        commit: member
            .release
            .as_ref()
            .and_then(|release| release.commit_sha.clone()),
        released_at: member
            .release
            .as_ref()
            .map(|release| release.finished_at.unwrap_or(release.created_at)),
        review: member.review.map(|review| ReviewOf {
            parent: review.parent_name,
            branch: review.branch,
            last_push_at: review.last_push_at,
            expires_at: member.expires_at,
        }),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/pipelines",
    operation_id = "list_pipelines",
    tag = "pipelines",
    responses(
        (status = 200, description = "The pipelines the caller can see", body = [Pipeline]),
        Unauthorized, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
) -> Result<Json<Vec<Pipeline>>, ApiError> {
    let pipelines = state.platform.pipelines(&session.actor).await?;
    Ok(Json(
        pipelines
            .into_iter()
            .map(|view| pipeline_view(&state, view))
            .collect(),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/pipelines",
    operation_id = "create_pipeline",
    tag = "pipelines",
    request_body = CreatePipelineRequest,
    responses(
        (status = 201, description = "The pipeline", body = Pipeline),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn create(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    JsonBody(request): JsonBody<CreatePipelineRequest>,
) -> Result<(StatusCode, Json<Pipeline>), ApiError> {
    let view = state
        .platform
        .create_pipeline(&session.actor, &request.name, &request.app, &request.stage)
        .await?;
    Ok((StatusCode::CREATED, Json(pipeline_view(&state, view))))
}

#[utoipa::path(
    get,
    path = "/api/v1/pipelines/{pipeline}",
    operation_id = "show_pipeline",
    tag = "pipelines",
    params(
        ("pipeline" = String, Path, description = "The pipeline's name"),
    ),
    responses(
        (status = 200, description = "The pipeline", body = Pipeline),
        Unauthorized, NotFound, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn show(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(pipeline): Path<String>,
) -> Result<Json<Pipeline>, ApiError> {
    let view = state.platform.pipeline(&session.actor, &pipeline).await?;
    Ok(Json(pipeline_view(&state, view)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/pipelines/{pipeline}",
    operation_id = "destroy_pipeline",
    tag = "pipelines",
    params(
        ("pipeline" = String, Path, description = "The pipeline's name"),
    ),
    responses(
        (status = 200, description = "The pipeline as it was; its review apps are destroyed, its other apps stay", body = Pipeline),
        Unauthorized, Forbidden, NotFound, ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn destroy(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(pipeline): Path<String>,
) -> Result<Json<Pipeline>, ApiError> {
    let view = state
        .platform
        .destroy_pipeline(&session.actor, &pipeline)
        .await?;
    Ok(Json(pipeline_view(&state, view)))
}

#[utoipa::path(
    post,
    path = "/api/v1/pipelines/{pipeline}/apps",
    operation_id = "add_pipeline_app",
    tag = "pipelines",
    params(
        ("pipeline" = String, Path, description = "The pipeline's name"),
    ),
    request_body = AddPipelineAppRequest,
    responses(
        (status = 200, description = "The pipeline with the app", body = Pipeline),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn add_app(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(pipeline): Path<String>,
    JsonBody(request): JsonBody<AddPipelineAppRequest>,
) -> Result<Json<Pipeline>, ApiError> {
    let view = state
        .platform
        .add_to_pipeline(&session.actor, &pipeline, &request.app, &request.stage)
        .await?;
    Ok(Json(pipeline_view(&state, view)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/apps/{name}/pipeline",
    operation_id = "remove_pipeline_app",
    tag = "pipelines",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    responses(
        (status = 200, description = "The pipeline the app left", body = Pipeline),
        Unauthorized, Forbidden, NotFound, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn remove_app(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Pipeline>, ApiError> {
    let view = state
        .platform
        .remove_from_pipeline(&session.actor, &name)
        .await?;
    Ok(Json(pipeline_view(&state, view)))
}

#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/pipeline/diff",
    operation_id = "pipeline_diff",
    tag = "pipelines",
    params(
        ("name" = String, Path, description = "The app's name"),
        PipelineDiffQuery,
    ),
    responses(
        (status = 200, description = "The commits the app runs that the next stage lacks", body = PipelineDiff),
        BadRequest, Unauthorized, Forbidden, NotFound, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn diff(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    query: Result<Query<PipelineDiffQuery>, QueryRejection>,
) -> Result<Json<PipelineDiff>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let diff = state
        .platform
        .pipeline_diff(&session.actor, &name, query.to.as_deref())
        .await?;
    let source = member_view(&state, diff.source);
    Ok(Json(PipelineDiff {
        app: source.app,
        stage: source.stage,
        release: source.release,
        commit: source.commit,
        targets: diff
            .targets
            .into_iter()
            .map(|target| {
                let unrelated = target.commits.is_none();
                let member = member_view(&state, target.target);
                DiffTarget {
                    app: member.app,
                    stage: member.stage,
                    release: member.release,
                    commit: member.commit,
                    commits: target
                        .commits
                        .unwrap_or_default()
                        .into_iter()
                        .map(|commit| Commit {
                            sha: commit.sha,
                            author: commit.author,
                            summary: commit.summary,
                            time: commit.time,
                        })
                        .collect(),
                    truncated: target.truncated,
                    unrelated,
                }
            })
            .collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/pipeline/promote",
    operation_id = "promote",
    tag = "pipelines",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = PromoteRequest,
    responses(
        (status = 200, description = "The release the app runs, and the release it became on each app of the next stage", body = Promotion),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, Invalid, ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn promote(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<PromoteRequest>,
) -> Result<Json<Promotion>, ApiError> {
    let (progress, _) = Progress::channel();
    let promotion = state
        .platform
        .promote(&session.actor, &name, &request.to, &progress)
        .await?;
    Ok(Json(Promotion {
        app: promotion.source.name,
        release: promotion.release.version,
        commit: promotion.release.commit_sha,
        promoted: promotion
            .promoted
            .into_iter()
            .map(|(app, release)| PromotedRelease {
                app: app.name,
                release: release_view(release, true),
            })
            .collect(),
    }))
}

#[utoipa::path(
    put,
    path = "/api/v1/pipelines/{pipeline}/review-apps",
    operation_id = "enable_review_apps",
    tag = "pipelines",
    params(
        ("pipeline" = String, Path, description = "The pipeline's name"),
    ),
    request_body = EnableReviewAppsRequest,
    responses(
        (status = 200, description = "The pipeline, review apps on", body = Pipeline),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn enable_review_apps(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(pipeline): Path<String>,
    JsonBody(request): JsonBody<EnableReviewAppsRequest>,
) -> Result<Json<Pipeline>, ApiError> {
    let view = state
        .platform
        .set_review_apps(&session.actor, &pipeline, true, request.ttl.as_deref())
        .await?;
    Ok(Json(pipeline_view(&state, view)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/pipelines/{pipeline}/review-apps",
    operation_id = "disable_review_apps",
    tag = "pipelines",
    params(
        ("pipeline" = String, Path, description = "The pipeline's name"),
    ),
    responses(
        (status = 200, description = "The pipeline, review apps off", body = Pipeline),
        Unauthorized, Forbidden, NotFound, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
pub(super) async fn disable_review_apps(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(pipeline): Path<String>,
) -> Result<Json<Pipeline>, ApiError> {
    let view = state
        .platform
        .set_review_apps(&session.actor, &pipeline, false, None)
        .await?;
    Ok(Json(pipeline_view(&state, view)))
}
