//! Review apps: a branch pushed to an app of a pipeline with review apps
//! enabled runs in an app of its own, `<app>-<branch slug>`, until the
//! branch is deleted, its time to live passes without a push, or someone
//! destroys it. Its events are also told in its parent's audit trail.

use std::collections::BTreeMap;
use std::path::Path;

use berth_core::{review_app_name, Action, Actor, AppName};
use berth_store::{AppRecord, AuditEntry, NewReviewApp, ReleaseRecord, ReviewAppRecord};

use crate::audit::app_entry;
use crate::deploy::{AppLease, RefUpdate, HELD_LEASE};
use crate::{Platform, PlatformError, Progress, Result};

/// The longest branch name a review app is made for (git allows far longer).
const MAX_BRANCH_BYTES: usize = 200;

/// A branch push's review app: made by this push or an earlier one.
pub(crate) struct ReviewTarget {
    pub app: AppRecord,
    pub created: bool,
}

impl Platform {
    /// Whether a push of `branch` to `parent` goes to a review app: the
    /// parent is in a pipeline with review apps on, and is no review app itself.
    pub(crate) async fn review_apps_enabled(&self, parent: &AppRecord) -> Result<bool> {
        let Some((pipeline, _)) = self.store.pipeline_of_app(parent.id).await? else {
            return Ok(false);
        };
        Ok(pipeline.review_apps && self.store.review_app(parent.id).await?.is_none())
    }

    /// Deploys a branch push to its review app, made first if this is the
    /// branch's first push. A first deploy that fails takes the new app
    /// with it, add-ons and all.
    pub(crate) async fn deploy_review_app(
        &self,
        actor: &Actor,
        parent: &AppRecord,
        branch: &str,
        update: &RefUpdate,
        quarantine: Option<&Path>,
        progress: &Progress,
    ) -> Result<(ReleaseRecord, AppLease, AppRecord, bool)> {
        let target = self.review_target(actor, parent, branch, progress).await?;
        let review = &target.app;
        let lease = self.lock_app(review, progress).await?;
        let (progress, _watch) = self.watch_deploy(
            review,
            crate::deploy::watched_as("Deploy", &update.new, actor),
            progress,
        );
        let progress = &progress;
        let deployed = HELD_LEASE
            .scope(lease.held.clone(), async {
                self.check_branch_unmoved(parent, update)?;
                let release = self
                    .deploy_commit(
                        actor,
                        review,
                        &parent.name,
                        &update.new,
                        quarantine,
                        progress,
                    )
                    .await?;
                self.store.touch_review_app(review.id).await?;
                let detail = format!("v{} from {}", release.version, update.new);
                self.audit_app(actor, &review.name, "release.deploy", detail.clone())
                    .await?;
                self.audit_app(
                    actor,
                    &parent.name,
                    "reviewapp.deploy",
                    format!("{} {detail} (branch {branch})", review.name),
                )
                .await?;
                Ok(release)
            })
            .await;
        progress.deploy_ended(&deployed);
        match deployed {
            Ok(release) => Ok((release, lease, target.app, target.created)),
            Err(error) => {
                lease.release().await?;
                if target.created {
                    progress.say(&format!(
                        "-----> Destroying {}: its first deploy failed",
                        review.name
                    ));
                    self.destroy_review_app(Some(actor), review, "its first deploy failed")
                        .await?;
                }
                Err(error)
            }
        }
    }

    /// The review app of `branch`, made if missing: owned by who pushed,
    /// with every role the parent's members hold, and the parent's config
    /// vars but those its add-ons set.
    async fn review_target(
        &self,
        actor: &Actor,
        parent: &AppRecord,
        branch: &str,
        progress: &Progress,
    ) -> Result<ReviewTarget> {
        if let Some(existing) = self.store.review_app_of_branch(parent.id, branch).await? {
            let app = self
                .authorize_app(actor, &existing.app_name, Action::Deploy)
                .await?;
            return Ok(ReviewTarget {
                app,
                created: false,
            });
        }
        if branch.len() > MAX_BRANCH_BYTES {
            return Err(PlatformError::Invalid(format!(
                "a review app's branch name may be {MAX_BRANCH_BYTES} bytes long at most: push \
                 this branch under a shorter name"
            )));
        }
        // A review app is its pusher's app: it counts toward what they may own.
        self.check_app_quota(actor).await?;
        let (pipeline, _) = self
            .store
            .pipeline_of_app(parent.id)
            .await?
            .ok_or_else(|| PlatformError::Internal("the parent left its pipeline".into()))?;
        let parent_name = AppName::parse(&parent.name)
            .map_err(|e| PlatformError::Internal(format!("the parent's name: {e}")))?;
        let name = review_app_name(&parent_name, branch);
        let entries = [
            app_entry(
                actor,
                parent.name.as_str(),
                "reviewapp.create",
                format!("{name} for the branch {branch}"),
            ),
            app_entry(
                actor,
                name.as_str(),
                "app.create",
                format!("review app of {}'s branch {branch}", parent.name),
            ),
        ];
        let app = self
            .store
            .create_review_app(
                &NewReviewApp {
                    name: name.as_str(),
                    owner_id: actor.user_id,
                    parent_app_id: parent.id,
                    pipeline_id: pipeline.id,
                    branch,
                },
                &entries,
            )
            .await
            .map_err(|error| match error {
                berth_store::StoreError::Conflict(_) => PlatformError::Conflict(format!(
                    "the review app of {branch} would be {name}, a name another app has: \
                     push the branch under another name"
                )),
                other => other.into(),
            })?;
        self.access_changed();
        progress.say(&format!(
            "-----> Creating the review app {name} for the branch {branch}"
        ));
        let copied = self.copy_parent_config(parent, &app).await;
        if let Err(error) = copied {
            self.destroy_review_app(Some(actor), &app, "its config could not be copied")
                .await?;
            return Err(error);
        }
        if let Err(error) = self.refresh_routes().await {
            tracing::warn!(app = %app.name, %error, "the router does not know the review app yet");
        }
        Ok(ReviewTarget { app, created: true })
    }

    /// The parent's config vars, but those its add-ons set: the review app
    /// gets add-ons of its own from its manifest's `setup`.
    async fn copy_parent_config(&self, parent: &AppRecord, review: &AppRecord) -> Result<()> {
        let managed = self.managed_config(parent).await?;
        let config: BTreeMap<String, String> = self
            .current_config(parent)
            .await?
            .into_iter()
            .filter(|(name, _)| !managed.contains_key(name))
            .collect();
        let sealed = self.seal_config_vars(review, &config);
        Ok(self.store.replace_config_vars(review.id, &sealed).await?)
    }

    /// The branch's review app goes with the branch. `None` when there is
    /// none to destroy.
    pub(crate) async fn destroy_review_app_of_branch(
        &self,
        actor: &Actor,
        parent: &AppRecord,
        branch: &str,
    ) -> Result<Option<String>> {
        let Some(review) = self.store.review_app_of_branch(parent.id, branch).await? else {
            return Ok(None);
        };
        let app = self
            .authorize_app(actor, &review.app_name, Action::Deploy)
            .await?;
        self.destroy_review_app(
            Some(actor),
            &app,
            &format!("its branch {branch} was deleted"),
        )
        .await?;
        Ok(Some(app.name))
    }

    /// Destroys a review app with its add-ons and volumes, telling its
    /// parent's audit trail why; `by` none is the platform itself (its TTL).
    pub(crate) async fn destroy_review_app(
        &self,
        by: Option<&Actor>,
        app: &AppRecord,
        why: &str,
    ) -> Result<()> {
        let review = self.store.review_app(app.id).await?;
        let entry = |app_name: &str, action: &str, detail: String| match by {
            Some(actor) => app_entry(actor, app_name, action, detail),
            None => AuditEntry {
                actor_email: None,
                source: "berthd".into(),
                app_name: Some(app_name.to_string()),
                action: action.into(),
                detail,
            },
        };
        if let Some(review) = &review {
            self.store
                .record_audit(&entry(
                    &review.parent_name,
                    "reviewapp.destroy",
                    format!("{}: {why}", app.name),
                ))
                .await?;
        }
        for addon in self.store.addons().await? {
            if addon.app_id != app.id {
                continue;
            }
            let provider = self.providers.of(&addon)?;
            provider
                .deprovision(&self.open_credentials(&addon)?)
                .await?;
            self.store
                .delete_addon(
                    addon.id,
                    &entry(
                        &app.name,
                        "addons.destroy",
                        format!("{}: {why}", addon.name),
                    ),
                )
                .await?;
            self.remove_backups(&addon);
        }
        self.tear_down_app(app, entry(&app.name, "app.destroy", why.to_string()))
            .await
    }

    /// Destroys the review apps whose time to live passed without a push.
    pub async fn expire_review_apps(&self) -> Result<Vec<String>> {
        let mut destroyed = Vec::new();
        for review in self.store.expired_review_apps(chrono::Utc::now()).await? {
            let Some((app, _)) = self.store.app_with_role(&review.app_name, 0).await? else {
                continue;
            };
            // A deploy in progress is a push: its TTL starts again.
            let Some(lease) = self.try_lock_app(&app).await? else {
                continue;
            };
            let destroyed_now = self
                .destroy_review_app(None, &app, &expired_reason(&review))
                .await;
            lease.release().await?;
            destroyed_now?;
            destroyed.push(app.name);
        }
        Ok(destroyed)
    }
}

fn expired_reason(review: &ReviewAppRecord) -> String {
    format!(
        "no push to the branch {} since {}, longer than its pipeline's review apps live",
        review.branch,
        review.last_push_at.format("%Y-%m-%d %H:%M UTC")
    )
}
