//! Pipelines: apps grouped by stage, and promotion — the release an app
//! runs, images and all, becomes a release of the next stage's apps with
//! their own config, without a build.
//!
//! A pipeline has no members of its own: who may see or change it follows
//! from the apps in it. Seeing it takes reading one of its apps (or having
//! created it); changing what is in it takes `Configure` on the apps
//! concerned; promoting takes `Deploy` on the source and on each target.

use std::collections::{BTreeMap, BTreeSet};

use berth_core::{Action, Actor, PipelineName, PipelineStage};
use berth_docker::Runtime;
use berth_git::CommitSummary;
use berth_store::{
    AppRecord, AuditEntry, NewRelease, PipelineApp, PipelineRecord, ReleaseProcess, ReleaseRecord,
    ReleaseStatus, ReviewAppRecord,
};
use chrono::{DateTime, Utc};

use crate::audit::app_entry;
use crate::progress::ReleaseOutput;
use crate::{Platform, PlatformError, Progress, Result};

/// The most commits a diff lists per target.
const DIFF_COMMITS: usize = 100;

/// A pipeline as one reader may see it: only the apps they may read.
#[derive(Debug, Clone)]
pub struct PipelineView {
    pub pipeline: PipelineRecord,
    pub apps: Vec<PipelineMember>,
}

#[derive(Debug, Clone)]
pub struct PipelineMember {
    pub app: AppRecord,
    pub stage: PipelineStage,
    /// The release it runs now, without its output.
    pub release: Option<ReleaseRecord>,
    pub review: Option<ReviewAppRecord>,
    /// When a review app goes if nothing is pushed to it before.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What an app runs that an app of the next stage lacks.
#[derive(Debug, Clone)]
pub struct StageDiff {
    pub target: PipelineMember,
    /// Newest first; `None` when the target runs a commit the source's
    /// history does not hold.
    pub commits: Option<Vec<CommitSummary>>,
    pub truncated: bool,
}

#[derive(Debug, Clone)]
pub struct PipelineDiff {
    pub source: PipelineMember,
    pub targets: Vec<StageDiff>,
}

/// A promotion done: the source's release and what it became on each target.
#[derive(Debug, Clone)]
pub struct Promotion {
    pub source: AppRecord,
    pub release: ReleaseRecord,
    pub promoted: Vec<(AppRecord, ReleaseRecord)>,
}

impl Platform {
    /// The pipelines `actor` may see, oldest first.
    pub async fn pipelines(&self, actor: &Actor) -> Result<Vec<PipelineView>> {
        let visible = self.visible_app_ids(actor).await?;
        let mut views = Vec::new();
        for pipeline in self.store.pipelines().await? {
            if let Some(view) = self.view_if_visible(actor, &visible, pipeline).await? {
                views.push(view);
            }
        }
        Ok(views)
    }

    pub async fn pipeline(&self, actor: &Actor, name: &str) -> Result<PipelineView> {
        let visible = self.visible_app_ids(actor).await?;
        let pipeline = self.store.pipeline_named(name).await?;
        match pipeline {
            Some(pipeline) => self.view_if_visible(actor, &visible, pipeline).await?,
            None => None,
        }
        .ok_or_else(|| pipeline_not_found(name))
    }

    /// The pipeline `app_name` is in, if any, as `actor` may see it.
    pub async fn pipeline_of(&self, actor: &Actor, app_name: &str) -> Result<Option<PipelineView>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        match self.store.pipeline_of_app(app.id).await? {
            Some((pipeline, _)) => Ok(Some(self.pipeline(actor, &pipeline.name).await?)),
            None => Ok(None),
        }
    }

    /// Creates a pipeline holding `app_name` at `stage`.
    pub async fn create_pipeline(
        &self,
        actor: &Actor,
        name: &str,
        app_name: &str,
        stage: &str,
    ) -> Result<PipelineView> {
        let name = PipelineName::parse(name).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let (app, stage, entry) = self
            .app_to_add(actor, app_name, stage, "pipeline.create", name.as_str())
            .await?;
        self.store
            .create_pipeline(name.as_str(), actor.user_id, app.id, stage, &entry)
            .await
            .map_err(|error| match error {
                berth_store::StoreError::Conflict(_) => PlatformError::Conflict(format!(
                    "the name {name} is already taken by a pipeline: choose another"
                )),
                other => other.into(),
            })?;
        self.pipeline(actor, name.as_str()).await
    }

    /// Adds `app_name` to the pipeline at `stage`.
    pub async fn add_to_pipeline(
        &self,
        actor: &Actor,
        name: &str,
        app_name: &str,
        stage: &str,
    ) -> Result<PipelineView> {
        let view = self.pipeline(actor, name).await?;
        let (app, stage, entry) = self
            .app_to_add(actor, app_name, stage, "pipeline.add", &view.pipeline.name)
            .await?;
        self.store
            .add_pipeline_app(view.pipeline.id, app.id, stage, &entry)
            .await?;
        self.pipeline(actor, name).await
    }

    /// Takes `app_name` out of its pipeline; the app stays as it is.
    pub async fn remove_from_pipeline(
        &self,
        actor: &Actor,
        app_name: &str,
    ) -> Result<PipelineView> {
        let app = self
            .authorize_app(actor, app_name, Action::Configure)
            .await?;
        let (pipeline, _) = self
            .store
            .pipeline_of_app(app.id)
            .await?
            .ok_or_else(|| not_in_a_pipeline(&app))?;
        if self.store.review_app(app.id).await?.is_some() {
            return Err(PlatformError::Invalid(format!(
                "{} is a review app: it leaves its pipeline when it is destroyed (berth \
                 apps:destroy -a {} --confirm {}) or its branch is deleted",
                app.name, app.name, app.name
            )));
        }
        let entry = app_entry(actor, &app.name, "pipeline.remove", pipeline.name.clone());
        self.store.remove_pipeline_app(app.id, &entry).await?;
        self.view_of(actor, pipeline).await
    }

    /// Destroys a pipeline and its review apps; its other apps stay, in no
    /// pipeline. Takes `Configure` on every app that stays.
    pub async fn destroy_pipeline(&self, actor: &Actor, name: &str) -> Result<PipelineView> {
        let view = self.pipeline(actor, name).await?;
        let apps = self.store.pipeline_apps(view.pipeline.id).await?;
        let kept = self.authorize_each(actor, &apps, Action::Configure).await?;
        for app in apps.iter().filter(|app| app.review.is_some()) {
            self.destroy_review_app(Some(actor), &app.app, "its pipeline was destroyed")
                .await?;
        }
        let entries: Vec<AuditEntry> = kept
            .iter()
            .map(|app| {
                app_entry(
                    actor,
                    &app.name,
                    "pipeline.destroy",
                    view.pipeline.name.clone(),
                )
            })
            .collect();
        self.store
            .delete_pipeline(view.pipeline.id, &entries)
            .await?;
        Ok(view)
    }

    /// Turns review apps on, with the time they live without a push, or off
    /// (the review apps there are stay until their branch or TTL ends them).
    pub async fn set_review_apps(
        &self,
        actor: &Actor,
        name: &str,
        enabled: bool,
        ttl: Option<&str>,
    ) -> Result<PipelineView> {
        let view = self.pipeline(actor, name).await?;
        let ttl_secs = match (enabled, ttl) {
            (true, Some(ttl)) => Some(
                berth_core::parse_ttl(ttl)
                    .map_err(|e| PlatformError::Invalid(e.to_string()))?
                    .as_secs() as i64,
            ),
            (true, None) => None,
            (false, Some(_)) => {
                return Err(PlatformError::Invalid(
                    "a time to live goes with enabling review apps, not disabling them".into(),
                ))
            }
            (false, None) => view.pipeline.review_app_ttl_secs,
        };
        let apps = self.store.pipeline_apps(view.pipeline.id).await?;
        let parents = self.authorize_each(actor, &apps, Action::Configure).await?;
        if enabled && parents.is_empty() {
            return Err(PlatformError::Invalid(format!(
                "{} has no app to push branches to: add one first (berth pipelines:add {} -a \
                 APP --stage staging)",
                view.pipeline.name, view.pipeline.name
            )));
        }
        let (action, detail) = if enabled {
            let detail = match ttl {
                Some(ttl) => format!("{}, destroyed after {ttl} without a push", name),
                None => name.to_string(),
            };
            ("reviewapps.enable", detail)
        } else {
            ("reviewapps.disable", name.to_string())
        };
        let entries: Vec<AuditEntry> = parents
            .iter()
            .map(|app| app_entry(actor, &app.name, action, detail.clone()))
            .collect();
        self.store
            .set_review_apps(view.pipeline.id, enabled, ttl_secs, &entries)
            .await?;
        self.pipeline(actor, name).await
    }

    /// The commits `app_name` runs that the apps of its pipeline's next
    /// stage (or `to` alone) lack.
    pub async fn pipeline_diff(
        &self,
        actor: &Actor,
        app_name: &str,
        to: Option<&str>,
    ) -> Result<PipelineDiff> {
        let (source, targets) = self.promotion_route(actor, app_name, to.as_slice()).await?;
        let view = self.pipeline(actor, &source.1.name).await?;
        let source_member = view
            .apps
            .iter()
            .find(|member| member.app.id == source.0.id)
            .cloned()
            .ok_or_else(|| PlatformError::app_not_found(app_name))?;
        // The source's commit is in the repository it was pushed to: its
        // own, its parent's for a review app, or an earlier stage's when it
        // was promoted there.
        let mut repositories: Vec<String> = vec![source.0.name.clone()];
        if let Some(review) = &source_member.review {
            repositories.push(review.parent_name.clone());
        }
        repositories.extend(
            self.store
                .pipeline_apps(view.pipeline.id)
                .await?
                .into_iter()
                .map(|member| member.app.name),
        );
        let from = source_member
            .release
            .as_ref()
            .and_then(|release| release.commit_sha.clone());
        let mut diffs = Vec::new();
        for target in targets {
            // A next-stage app the reader may not see is left out of the diff.
            let Some(member) = view
                .apps
                .iter()
                .find(|member| member.app.id == target.id)
                .cloned()
            else {
                continue;
            };
            let hide = member
                .release
                .as_ref()
                .and_then(|release| release.commit_sha.clone());
            let commits = match &from {
                Some(from) => self.commits_between(&repositories, from, hide.as_deref()),
                None => Some(Vec::new()),
            };
            let truncated = commits
                .as_ref()
                .is_some_and(|commits| commits.len() > DIFF_COMMITS);
            diffs.push(StageDiff {
                target: member,
                commits: commits.map(|mut commits| {
                    commits.truncate(DIFF_COMMITS);
                    commits
                }),
                truncated,
            });
        }
        Ok(PipelineDiff {
            source: source_member,
            targets: diffs,
        })
    }

    /// `git log hide..from` in the first repository that holds `from`;
    /// `None` when `hide` is in none of them alongside it.
    fn commits_between(
        &self,
        repositories: &[String],
        from: &str,
        hide: Option<&str>,
    ) -> Option<Vec<CommitSummary>> {
        let mut tried = BTreeSet::new();
        for repository in repositories {
            if !tried.insert(repository) {
                continue;
            }
            match self
                .repos
                .commits_between(repository, from, hide, DIFF_COMMITS + 1)
            {
                Ok(Some(commits)) => return Some(commits),
                Ok(None) => continue,
                Err(error) => {
                    tracing::debug!(%repository, %error, "a repository without the commit");
                }
            }
        }
        None
    }

    /// Promotes the release `app_name` runs to the apps of its pipeline's
    /// next stage (or those of them named in `to`), one after the other.
    pub async fn promote(
        &self,
        actor: &Actor,
        app_name: &str,
        to: &[String],
        progress: &Progress,
    ) -> Result<Promotion> {
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let ((source, _), targets) = self.promotion_route(actor, app_name, &to).await?;
        // Every target is authorized before anything is promoted.
        for target in &targets {
            self.authorize_app(actor, &target.name, Action::Deploy)
                .await
                .map_err(|error| match error {
                    PlatformError::NotFound(_) | PlatformError::Forbidden(_) => {
                        PlatformError::Forbidden(format!(
                            "promoting deploys {}, and you may not deploy it: ask one of its \
                             owners for the deployer role; nothing was promoted",
                            target.name
                        ))
                    }
                    other => other,
                })?;
        }
        let release = self
            .current_release(&source)
            .await?
            .filter(|release| release.status == ReleaseStatus::Succeeded)
            .ok_or_else(|| {
                PlatformError::Invalid(format!(
                    "{} has no release to promote: deploy it first",
                    source.name
                ))
            })?;
        let mut promoted = Vec::new();
        for target in targets {
            match self
                .promote_to(actor, &source, &release, &target, progress)
                .await
            {
                Ok(made) => promoted.push((target, made)),
                Err(error) => {
                    let done: Vec<String> = promoted
                        .iter()
                        .map(|(app, release): &(AppRecord, ReleaseRecord)| {
                            format!("{} v{}", app.name, release.version)
                        })
                        .collect();
                    return Err(match done.is_empty() {
                        true => error,
                        false => PlatformError::DeployFailed(format!(
                            "{error} (already promoted: {})",
                            done.join(", ")
                        )),
                    });
                }
            }
        }
        Ok(Promotion {
            source,
            release,
            promoted,
        })
    }

    /// The source app (with `Deploy` on it) and its pipeline, and the apps
    /// of the next stage to compare with or promote to: those named in
    /// `to`, or all of them.
    async fn promotion_route(
        &self,
        actor: &Actor,
        app_name: &str,
        to: &[&str],
    ) -> Result<((AppRecord, PipelineRecord), Vec<AppRecord>)> {
        let source = self.authorize_app(actor, app_name, Action::Deploy).await?;
        let (pipeline, stage) = self
            .store
            .pipeline_of_app(source.id)
            .await?
            .ok_or_else(|| not_in_a_pipeline(&source))?;
        let next = stage.next().ok_or_else(|| {
            PlatformError::Invalid(format!(
                "{} is at stage {stage} of {}, the last one: there is no stage to promote to",
                source.name, pipeline.name
            ))
        })?;
        // The apps of the next stage, or of the first stage after it that
        // has any (a pipeline need not use every stage).
        let apps = self.store.pipeline_apps(pipeline.id).await?;
        let next_apps: Vec<AppRecord> = PipelineStage::ALL
            .into_iter()
            .filter(|s| *s >= next)
            .map(|s| {
                apps.iter()
                    .filter(|member| member.stage == s)
                    .map(|member| member.app.clone())
                    .collect::<Vec<_>>()
            })
            .find(|apps| !apps.is_empty())
            .ok_or_else(|| {
                PlatformError::Invalid(format!(
                    "{} has no app after stage {stage}: add one with `berth pipelines:add {} -a \
                     APP --stage {next}`",
                    pipeline.name, pipeline.name
                ))
            })?;
        if to.is_empty() {
            return Ok(((source, pipeline), next_apps));
        }
        let mut targets: Vec<AppRecord> = Vec::new();
        for name in to {
            let Some(target) = next_apps.iter().find(|app| app.name == *name) else {
                return Err(PlatformError::Invalid(format!(
                    "{} is not an app of the stage after {} in {}: promote to {}",
                    name.chars().take(64).collect::<String>(),
                    source.name,
                    pipeline.name,
                    next_apps
                        .iter()
                        .map(|app| app.name.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                )));
            };
            if !targets.iter().any(|t| t.id == target.id) {
                targets.push(target.clone());
            }
        }
        Ok(((source, pipeline), targets))
    }

    /// One promotion, under the target's lease: the source release's images
    /// under the target's names, the target's config and add-ons, its release
    /// command, health-gated start, as any deploy.
    async fn promote_to(
        &self,
        actor: &Actor,
        source: &AppRecord,
        release: &ReleaseRecord,
        target: &AppRecord,
        progress: &Progress,
    ) -> Result<ReleaseRecord> {
        self.exclusively(target, progress, async {
            self.check_process_types(release, source, target).await?;
            let mut config = self.current_config(target).await?;
            config.extend(self.managed_config(target).await?);
            let description = format!("Promote {} v{}", source.name, release.version);
            let made = self
                .store
                .create_release(NewRelease {
                    app_id: target.id,
                    description: &description,
                    commit_sha: release.commit_sha.as_deref(),
                    config_sealed: &self.seal_config(target, &config)?,
                    created_by: &actor.email,
                    phase: "copying",
                })
                .await?;
            progress.say(&format!(
                "-----> {description} to {} as v{}",
                target.name, made.version
            ));
            let mut output = ReleaseOutput::new(self.release_output_bytes);
            let contents = self
                .copy_release_contents(source, release, target, made.version, progress, &mut output)
                .await;
            let (processes, release_image) = match contents {
                Ok(contents) => contents,
                Err(error) => {
                    self.store
                        .fail_release(made.id, &error.to_string(), output.as_str())
                        .await?;
                    return Err(error);
                }
            };
            self.store
                .set_release_contents(
                    made.id,
                    &self.with_set_limits(target, &processes).await?,
                    release_image.as_deref(),
                    release.release_command.as_deref(),
                )
                .await?;
            let made = self
                .store
                .release(target.id, made.version)
                .await?
                .ok_or_else(|| {
                    PlatformError::Internal(format!("release v{} vanished", made.version))
                })?;
            let version = made.version;
            let rolled_out = self
                .roll_out(actor, target, made, &config, None, progress, output)
                .await?;
            self.audit_app(
                actor,
                &target.name,
                "release.promote",
                format!("{description}: v{version}"),
            )
            .await?;
            self.audit_app(
                actor,
                &source.name,
                "pipeline.promote",
                format!("v{} to {} v{version}", release.version, target.name),
            )
            .await?;
            Ok(rolled_out)
        })
        .await
    }

    /// Refuses a promotion that would leave processes the target runs
    /// without code: the types its formation runs must be in the release.
    async fn check_process_types(
        &self,
        release: &ReleaseRecord,
        source: &AppRecord,
        target: &AppRecord,
    ) -> Result<()> {
        let promoted: BTreeSet<&str> = release
            .processes
            .iter()
            .map(|p| p.process_type.as_str())
            .collect();
        let missing: Vec<String> = self
            .store
            .formation(target.id)
            .await?
            .into_iter()
            .filter(|(process_type, quantity)| {
                *quantity > 0 && !promoted.contains(process_type.as_str())
            })
            .map(|(process_type, _)| process_type)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(PlatformError::Invalid(format!(
            "{} runs {} which {} v{} does not have (it has {}): scale {} to 0 first (berth \
             ps:scale {} -a {}); nothing was promoted",
            target.name,
            missing.join(", "),
            source.name,
            release.version,
            promoted.into_iter().collect::<Vec<_>>().join(", "),
            if missing.len() == 1 { "it" } else { "them" },
            missing
                .iter()
                .map(|t| format!("{t}=0"))
                .collect::<Vec<_>>()
                .join(" "),
            target.name
        )))
    }

    /// The source release's processes for the target: each image under the
    /// target's name (the same image), options sealed for the target, its
    /// volumes made there.
    async fn copy_release_contents(
        &self,
        source: &AppRecord,
        release: &ReleaseRecord,
        target: &AppRecord,
        version: i64,
        progress: &Progress,
        output: &mut ReleaseOutput,
    ) -> Result<(Vec<ReleaseProcess>, Option<String>)> {
        let engine = self.runtime()?;
        let mut copies: BTreeMap<String, String> = BTreeMap::new();
        let images = release
            .processes
            .iter()
            .map(|p| (p.image.clone(), p.process_type.clone()))
            .chain(
                release
                    .release_image
                    .clone()
                    .map(|image| (image, "release".to_string())),
            );
        for (image, process_type) in images {
            if copies.contains_key(&image) {
                continue;
            }
            let tag = format!(
                "berth/{}:v{version}-{}",
                target.name,
                image_key(&image).unwrap_or(&process_type)
            );
            progress.say(&format!("-----> Using the image of {image} as {tag}"));
            let copy = engine
                .copy_image(&image, &tag, |line| {
                    progress.say(line);
                    output.push_line(line);
                })
                .await
                .map_err(|error| {
                    PlatformError::DeployFailed(format!(
                        "the image {image} of {} v{} could not be copied: {error}",
                        source.name, release.version
                    ))
                })?;
            copies.insert(image, copy);
        }
        let mut processes = Vec::new();
        for process in &release.processes {
            let options = self.open_process_options(source, process)?;
            for (volume, path) in &options.volumes {
                self.ensure_volume(target, volume, &process.process_type, path)
                    .await?;
            }
            processes.push(ReleaseProcess {
                image: copies[&process.image].clone(),
                options_sealed: self.seal_process_options(target, &options)?,
                ..process.clone()
            });
        }
        let release_image = release.release_image.as_ref().map(|i| copies[i].clone());
        Ok((processes, release_image))
    }

    /// An app joining `pipeline` at `stage`: one `actor` may change, in no
    /// pipeline yet; with the audit entry that says so.
    async fn app_to_add(
        &self,
        actor: &Actor,
        app_name: &str,
        stage: &str,
        action: &str,
        pipeline: &str,
    ) -> Result<(AppRecord, PipelineStage, AuditEntry)> {
        let stage = stage_to_add(stage)?;
        let app = self
            .authorize_app(actor, app_name, Action::Configure)
            .await?;
        self.check_in_no_pipeline(&app).await?;
        let entry = app_entry(
            actor,
            &app.name,
            action,
            format!("{pipeline}, at stage {stage}"),
        );
        Ok((app, stage, entry))
    }

    async fn check_in_no_pipeline(&self, app: &AppRecord) -> Result<()> {
        match self.store.pipeline_of_app(app.id).await? {
            None => Ok(()),
            Some((pipeline, stage)) => Err(PlatformError::Conflict(format!(
                "{} is already in the pipeline {} at stage {stage}: take it out first (berth \
                 pipelines:remove -a {})",
                app.name, pipeline.name, app.name
            ))),
        }
    }

    /// The apps of a pipeline other than review apps, each authorized for
    /// `action`: changing the pipeline changes how they are deployed.
    async fn authorize_each(
        &self,
        actor: &Actor,
        apps: &[PipelineApp],
        action: Action,
    ) -> Result<Vec<AppRecord>> {
        let mut authorized = Vec::new();
        for member in apps.iter().filter(|member| member.review.is_none()) {
            let app = self
                .authorize_app(actor, &member.app.name, action)
                .await
                .map_err(|error| match error {
                    PlatformError::NotFound(_) | PlatformError::Forbidden(_) => {
                        PlatformError::Forbidden(format!(
                            "this changes how every app of the pipeline is deployed, and you \
                             may not change {}: ask one of its owners or admins",
                            member.app.name
                        ))
                    }
                    other => other,
                })?;
            authorized.push(app);
        }
        Ok(authorized)
    }

    async fn visible_app_ids(&self, actor: &Actor) -> Result<BTreeSet<i64>> {
        Ok(self
            .store
            .apps_visible_to(actor.user_id, actor.is_platform_admin)
            .await?
            .into_iter()
            .map(|app| app.id)
            .collect())
    }

    /// The pipeline with the apps `actor` may read; `None` when they may
    /// read none of them and did not create it.
    async fn view_if_visible(
        &self,
        actor: &Actor,
        visible: &BTreeSet<i64>,
        pipeline: PipelineRecord,
    ) -> Result<Option<PipelineView>> {
        let apps = self.store.pipeline_apps(pipeline.id).await?;
        let sees_it = actor.is_platform_admin
            || pipeline.created_by == Some(actor.user_id)
            || apps.iter().any(|member| visible.contains(&member.app.id));
        if !sees_it {
            return Ok(None);
        }
        let mut members = Vec::new();
        for member in apps
            .into_iter()
            .filter(|member| visible.contains(&member.app.id))
        {
            let expires_at = match (&member.review, pipeline.review_app_ttl_secs) {
                (Some(review), Some(ttl)) => {
                    Some(review.last_push_at + chrono::Duration::seconds(ttl))
                }
                _ => None,
            };
            members.push(PipelineMember {
                release: self.current_release_summary(&member.app).await?,
                stage: member.stage,
                review: member.review,
                app: member.app,
                expires_at,
            });
        }
        Ok(Some(PipelineView {
            pipeline,
            apps: members,
        }))
    }

    async fn view_of(&self, actor: &Actor, pipeline: PipelineRecord) -> Result<PipelineView> {
        let visible = self.visible_app_ids(actor).await?;
        let name = pipeline.name.clone();
        self.view_if_visible(actor, &visible, pipeline)
            .await?
            .ok_or_else(|| pipeline_not_found(&name))
    }

    /// The app's current release without its output (which may be large).
    async fn current_release_summary(&self, app: &AppRecord) -> Result<Option<ReleaseRecord>> {
        Ok(self.current_release(app).await?.map(|mut release| {
            release.output = String::new();
            release
        }))
    }
}

/// The part of a Berth image's tag after its release, `web` of
/// `berth/shop:v12-web` (or of `host:5000/berth/shop:v12-web`).
fn image_key(image: &str) -> Option<&str> {
    let (_, tag) = image.rsplit_once(':')?;
    let (version, key) = tag.split_once('-')?;
    let digits = version.strip_prefix('v')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty())
        .then_some(key)
}

/// Apps join a pipeline at a stage other than review: review apps are
/// made by pushing branches.
fn stage_to_add(stage: &str) -> Result<PipelineStage> {
    let stage: PipelineStage = stage
        .parse()
        .map_err(|e: berth_core::PipelineError| PlatformError::Invalid(e.to_string()))?;
    if stage == PipelineStage::Review {
        return Err(PlatformError::Invalid(
            "apps join the review stage by themselves: enable review apps (berth \
             reviewapps:enable -p PIPELINE) and push a branch; add this app at development, \
             staging or production"
                .into(),
        ));
    }
    Ok(stage)
}

fn pipeline_not_found(name: &str) -> PlatformError {
    PlatformError::NotFound(format!(
        "there is no pipeline named {}",
        name.chars().take(64).collect::<String>()
    ))
}

fn not_in_a_pipeline(app: &AppRecord) -> PlatformError {
    PlatformError::Invalid(format!(
        "{} is in no pipeline: add it with `berth pipelines:create NAME -a {} --stage STAGE` \
         or `berth pipelines:add NAME -a {} --stage STAGE`",
        app.name, app.name, app.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_keys_come_from_berth_tags() {
        assert_eq!(image_key("berth/shop:v12-web"), Some("web"));
        assert_eq!(
            image_key("127.0.0.1:5000/berth/shop:v3-worker-x"),
            Some("worker-x")
        );
        assert_eq!(image_key("berth/shop:latest"), None);
        assert_eq!(image_key("sha256:abc"), None);
        assert_eq!(image_key("berth/shop:v-web"), None);
    }
}
