//! An app's Pipeline tab: the stages of its pipeline with each app's
//! current release, its review apps, and for the app itself the commits the
//! next stage lacks and the promotion that copies its release there.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use berth_core::PipelineStage;
use berth_platform::{PipelineMember, PipelineView, PlatformError, Progress, StageDiff};
use chrono::Utc;
use serde::Deserialize;

use super::apps::AppHeader;
use super::browser::{CheckedForm, Chrome, SignedIn};
use super::error::DashboardError;
use super::moments::Moment;
use super::session::capitalized;
use super::{after_action, render};
use crate::AppState;

struct ReleaseCell {
    version: i64,
    /// The full sha, empty for a release without a commit.
    sha: String,
    short_sha: String,
    released: Moment,
}

struct AppCard {
    name: String,
    web_url: String,
    /// The app whose tab this is.
    current: bool,
    release: Option<ReleaseCell>,
}

struct StageColumn {
    stage: &'static str,
    apps: Vec<AppCard>,
}

struct ReviewCard {
    app: AppCard,
    branch: String,
    parent: String,
    owner: String,
    last_push: Moment,
    /// When it goes without another push; none without a time to live.
    expires: Option<Moment>,
}

struct CommitRow {
    sha: String,
    short_sha: String,
    /// The author's name; `author` is the whole `name <email>`.
    author_name: String,
    author: String,
    summary: String,
}

/// What one app of the next stage lacks of the current app's release.
struct TargetDiff {
    name: String,
    /// `3 commits not yet in shop-prod`, or why there is no list.
    headline: String,
    commits: Vec<CommitRow>,
}

/// What the current app can promote, for someone who may deploy it.
enum Promotion {
    /// The release to promote, what each target lacks of it, and the form.
    Ready {
        version: i64,
        targets: Vec<TargetDiff>,
    },
    /// Why nothing can be promoted from here, in a sentence.
    Nothing(String),
}

struct PipelineSection {
    name: String,
    review_apps_enabled: bool,
    /// When review apps go: `destroyed after 5d without a push, or…`.
    review_apps_lifetime: String,
    /// The current app's stage.
    stage: &'static str,
    stages: Vec<StageColumn>,
    review_apps: Vec<ReviewCard>,
    /// `None` when the viewer may not deploy the current app.
    promotion: Option<Promotion>,
}

#[derive(Template)]
#[template(path = "app_pipeline.html")]
struct PipelinePage {
    chrome: Chrome,
    app: AppHeader,
    pipeline: Option<PipelineSection>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    let app = state.platform.app(actor, &name).await?;
    let pipeline = match state.platform.pipeline_of(actor, &name).await? {
        Some(view) => {
            // Deploy rights on the app are what reading its diff takes:
            // without them the page shows no promotion at all.
            let promotion = match state.platform.pipeline_diff(actor, &name, None).await {
                Ok(diff) => Some(promotion_of(&diff.source, diff.targets)),
                // The last stage, or no app after this one's.
                Err(PlatformError::Invalid(reason)) => {
                    Some(Promotion::Nothing(capitalized(&reason)))
                }
                // No deploy rights here, or an app of the next stage this
                // viewer may not see (and so may not promote to).
                Err(PlatformError::Forbidden(_) | PlatformError::NotFound(_)) => None,
                Err(error) => return Err(error.into()),
            };
            Some(section(&state, view, app.id, promotion))
        }
        None => None,
    };
    let page = PipelinePage {
        chrome: signed_in.chrome,
        app: AppHeader::new(&state, &app, "Pipeline"),
        pipeline,
    };
    Ok(render(&page)?.into_response())
}

fn section(
    state: &AppState,
    view: PipelineView,
    current: i64,
    promotion: Option<Promotion>,
) -> PipelineSection {
    let now = Utc::now();
    let stage = view
        .apps
        .iter()
        .find(|member| member.app.id == current)
        .map_or("", |member| member.stage.as_str());
    let card = |member: &PipelineMember| AppCard {
        name: member.app.name.clone(),
        web_url: state.web_url(&member.app.name),
        current: member.app.id == current,
        release: member.release.as_ref().map(|release| {
            let sha = release.commit_sha.clone().unwrap_or_default();
            ReleaseCell {
                version: release.version,
                short_sha: berth_core::short_commit(&sha).to_string(),
                sha,
                released: Moment::new(release.finished_at.unwrap_or(release.created_at), now),
            }
        }),
    };
    let stages = PipelineStage::ALL
        .into_iter()
        .filter(|stage| *stage != PipelineStage::Review)
        .map(|stage| StageColumn {
            stage: stage.as_str(),
            apps: view
                .apps
                .iter()
                .filter(|member| member.stage == stage)
                .map(card)
                .collect(),
        })
        .filter(|column| !column.apps.is_empty())
        .collect();
    let review_apps = view
        .apps
        .iter()
        .filter_map(|member| {
            let review = member.review.as_ref()?;
            Some(ReviewCard {
                app: card(member),
                branch: review.branch.clone(),
                parent: review.parent_name.clone(),
                owner: member.app.owner_email.clone(),
                last_push: Moment::new(review.last_push_at, now),
                expires: member.expires_at.map(|at| Moment::new(at, now)),
            })
        })
        .collect();
    let pipeline = view.pipeline;
    PipelineSection {
        review_apps_lifetime: match pipeline.review_app_ttl_secs {
            Some(seconds) => format!(
                "each is destroyed after {} without a push, or when its branch is deleted",
                ttl_text(seconds)
            ),
            None => "each is destroyed when its branch is deleted".to_string(),
        },
        review_apps_enabled: pipeline.review_apps,
        name: pipeline.name,
        stage,
        stages,
        review_apps,
        promotion,
    }
}

/// What promoting the source's release would bring to each target.
fn promotion_of(source: &PipelineMember, targets: Vec<StageDiff>) -> Promotion {
    let Some(release) = &source.release else {
        return Promotion::Nothing(format!(
            "{} has no release to promote yet: deploy it first.",
            source.app.name
        ));
    };
    let targets = targets
        .into_iter()
        .map(|diff| {
            let target = diff.target.app.name;
            let (headline, commits) = match diff.commits {
                None => (
                    format!(
                        "{target} runs a commit that is not in the history of {} v{}",
                        source.app.name, release.version
                    ),
                    Vec::new(),
                ),
                Some(commits) if commits.is_empty() => (
                    format!(
                        "{target} already has every commit of {} v{}",
                        source.app.name, release.version
                    ),
                    Vec::new(),
                ),
                Some(commits) => {
                    let headline = match (commits.len(), diff.truncated) {
                        (n, true) => {
                            format!("More than {n} commits not yet in {target}; the newest {n}:")
                        }
                        (1, false) => format!("1 commit not yet in {target}"),
                        (n, false) => format!("{n} commits not yet in {target}"),
                    };
                    (
                        headline,
                        commits
                            .into_iter()
                            .map(|commit| CommitRow {
                                author_name: commit
                                    .author
                                    .split_once(" <")
                                    .map_or(commit.author.as_str(), |(name, _)| name)
                                    .to_string(),
                                author: commit.author,
                                sha: commit.sha,
                                short_sha: commit.short_sha,
                                summary: commit.summary,
                            })
                            .collect(),
                    )
                }
            };
            TargetDiff {
                name: target,
                headline,
                commits,
            }
        })
        .collect();
    Promotion::Ready {
        version: release.version,
        targets,
    }
}

/// Seconds as the largest whole unit `--ttl` takes: `5d`, `12h`, `30m`, `45s`.
fn ttl_text(seconds: i64) -> String {
    match seconds {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[derive(Deserialize)]
pub(super) struct PromoteForm {
    /// One app of the next stage; empty for all of them.
    #[serde(default)]
    to: String,
}

/// Promotes the app's release to the next stage, waiting for the roll-out
/// (as long as a deploy) before coming back to the tab with the outcome.
pub(super) async fn promote(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
    CheckedForm(form): CheckedForm<PromoteForm>,
) -> Result<Response, DashboardError> {
    let actor = &signed_in.session.actor;
    // Someone who may not see the app gets the same 404 as for a missing one.
    state.platform.app(actor, &name).await?;
    let to: Vec<String> = match form.to.trim() {
        "" => Vec::new(),
        target => vec![target.to_string()],
    };
    let (progress, _) = Progress::channel();
    let result = state
        .platform
        .promote(actor, &name, &to, &progress)
        .await
        .map(|promotion| {
            let promoted: Vec<String> = promotion
                .promoted
                .iter()
                .map(|(app, release)| format!("{} as v{}", app.name, release.version))
                .collect();
            format!(
                "Promoted {} v{} to {}.",
                promotion.source.name,
                promotion.release.version,
                promoted.join(" and ")
            )
        })
        // A target this person may not see is a mistake to tell on the tab,
        // not a missing page: the app they are on exists.
        .map_err(|error| match error {
            PlatformError::NotFound(message) => PlatformError::Invalid(message),
            other => other,
        });
    after_action(&format!("/apps/{name}/pipeline"), result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn member(id: i64, name: &str, stage: PipelineStage, version: Option<i64>) -> PipelineMember {
        let at = DateTime::parse_from_rfc3339("2026-12-07T10:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        PipelineMember {
            app: berth_platform::AppRecord {
                id,
                name: name.to_string(),
                owner_email: "dev@example.com".to_string(),
                created_at: at,
                current_release: version,
                maintenance: false,
            },
            stage,
            release: version.map(|version| berth_platform::ReleaseRecord {
                id,
                app_id: id,
                version,
                description: "Deploy".to_string(),
                commit_sha: Some("0123456789abcdef0123456789abcdef01234567".to_string()),
                status: berth_platform::ReleaseStatus::Succeeded,
                phase: String::new(),
                release_image: None,
                release_command: None,
                config_sealed: String::new(),
                output: String::new(),
                failure: None,
                created_by: None,
                created_at: at,
                finished_at: Some(at),
                phase_times: Vec::new(),
                processes: Vec::new(),
            }),
            review: None,
            expires_at: None,
        }
    }

    fn headlines(promotion: Promotion) -> Vec<String> {
        match promotion {
            Promotion::Ready { targets, .. } => targets.into_iter().map(|t| t.headline).collect(),
            Promotion::Nothing(reason) => vec![reason],
        }
    }

    #[test]
    fn promotion_headlines_say_what_the_next_stage_lacks_or_why_nothing() {
        let staging = member(1, "shop-staging", PipelineStage::Staging, Some(12));
        let diff = |commits| StageDiff {
            target: member(2, "shop-prod", PipelineStage::Production, Some(4)),
            commits,
            truncated: false,
        };
        assert_eq!(
            headlines(promotion_of(&staging, vec![diff(None)])),
            ["shop-prod runs a commit that is not in the history of shop-staging v12"]
        );
        assert_eq!(
            headlines(promotion_of(&staging, vec![diff(Some(Vec::new()))])),
            ["shop-prod already has every commit of shop-staging v12"]
        );
        let undeployed = member(1, "shop-staging", PipelineStage::Staging, None);
        assert_eq!(
            headlines(promotion_of(&undeployed, vec![diff(Some(Vec::new()))])),
            ["shop-staging has no release to promote yet: deploy it first."]
        );
    }

    #[test]
    fn ttls_read_as_they_are_written() {
        assert_eq!(ttl_text(5 * 86_400), "5d");
        assert_eq!(ttl_text(12 * 3_600), "12h");
        assert_eq!(ttl_text(90 * 60), "90m");
        assert_eq!(ttl_text(45), "45s");
    }
}
