//! `git push` → a release: check the push, read the manifest, build the
//! images, then hand the release to the roll-out (`release.rs`), which any
//! other release (config change, rollback) goes through as well.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_core::{
    find_manifest, AddonKind, AddonRequest, Manifest, ManifestError, ManifestSource, Setup,
};
use berth_core::{short_commit, Action, Actor};
use berth_docker::{app_labels, BuildRequest, Runtime};
use berth_git::{GitError, Snapshot};
use berth_store::{AppRecord, NewRelease, ReleaseProcess, ReleaseRecord};
use rand::RngCore;

use crate::context_upload::ContextSource;
use crate::logs::{LogLine, LogSource};
use crate::progress::{Progress, ReleaseOutput};
use crate::{Platform, PlatformError, Result};

/// How a deploy of `commit` is named to those watching it: `Deploy of
/// 1a2b3c4 by dev@example.com`.
pub(crate) fn watched_as(kind: &str, commit: &str, actor: &Actor) -> String {
    format!("{kind} of {} by {}", short_commit(commit), actor.email)
}

/// Branches whose push deploys, as on Heroku.
const DEPLOY_BRANCHES: [&str; 2] = ["refs/heads/main", "refs/heads/master"];
const NULL_SHA: &str = "0000000000000000000000000000000000000000";
/// How long a deploy holds its lease between renewals; a crashed deployer
/// blocks the app for at most this long.
const LEASE_TTL: chrono::Duration = chrono::Duration::seconds(120);
const LEASE_RENEW_EVERY: Duration = Duration::from_secs(30);
/// How long a push waits for another deploy of the same app to finish.
const LEASE_WAIT: Duration = Duration::from_secs(15 * 60);

/// The app's lease, renewed while held. Dropping it stops the renewal, so a
/// lease never given back expires on its own.
pub struct AppLease {
    pub(crate) held: HeldLease,
    renewal: tokio::task::JoinHandle<()>,
}

impl AppLease {
    pub async fn release(self) -> Result<()> {
        self.renewal.abort();
        Ok(self
            .held
            .store
            .release_deploy_lease(self.held.app_id, &self.held.holder)
            .await?)
    }
}

/// The lease a change of an app runs under, as the change's steps see it.
#[derive(Clone)]
pub(crate) struct HeldLease {
    store: berth_store::Store,
    app_id: i64,
    holder: String,
    /// Set once a renewal failed or found another holder: from then on the
    /// change may not start anything nor make its release current.
    lost: Arc<AtomicBool>,
}

impl HeldLease {
    /// Renews the lease now; an error if it is lost.
    async fn confirm(&self) -> Result<()> {
        if !self.lost.load(Ordering::SeqCst) {
            match self
                .store
                .acquire_deploy_lease(self.app_id, &self.holder, LEASE_TTL)
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "cannot renew the deploy lease"),
            }
            self.lost.store(true, Ordering::SeqCst);
        }
        Err(PlatformError::Conflict(
            "this deploy lost the app's lease (it could not be renewed, or another deploy took \
             it): stopped before starting anything more or making its release current"
                .into(),
        ))
    }
}

tokio::task_local! {
    /// The lease of the change running in this task, set by `deploy_push` and
    /// `exclusively`, so the roll-out's steps can check it wherever they are called from.
    pub(crate) static HELD_LEASE: HeldLease;
}

/// Checks, before a step that starts containers or makes a release current,
/// that the change running here still holds its app's lease (when it runs under one).
pub(crate) async fn confirm_lease() -> Result<()> {
    match HELD_LEASE.try_with(HeldLease::clone) {
        Ok(held) => held.confirm().await,
        Err(_) => Ok(()),
    }
}

impl Drop for AppLease {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

/// A redeploy checked and ready to run (`plan_redeploy`), holding the
/// app's lease.
pub struct Redeploy {
    app: AppRecord,
    /// The app's own repository, or a review app's parent's.
    repository: String,
    commit: String,
    lease: AppLease,
    progress: Progress,
    _watch: crate::live_deploys::Watch,
}

impl Redeploy {
    pub fn commit(&self) -> &str {
        &self.commit
    }
}

/// One ref update of a push, as git's pre-receive hook reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub old: String,
    pub new: String,
    pub name: String,
}

impl RefUpdate {
    /// Parses a hook input line: `<old sha> <new sha> <ref name>`.
    pub fn parse(line: &str) -> Option<Self> {
        let mut parts = line.split_whitespace();
        let (old, new, name) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Self {
            old: old.into(),
            new: new.into(),
            name: name.into(),
        })
    }
}

/// What a push asks for, if the push may do anything at all.
#[derive(Debug, PartialEq, Eq)]
pub enum PushTarget<'a> {
    /// main or master: the app itself deploys this commit.
    Deploy(&'a str),
    /// Another branch: its review app deploys it, when review apps are on.
    Branch { branch: &'a str, commit: &'a str },
    /// Another branch deleted: its review app goes.
    BranchDeleted(&'a str),
}

/// What a push asks for: one branch at a time; the deploy branch is never
/// deleted; tags are not deployed.
pub fn push_target(refs: &[RefUpdate]) -> Result<PushTarget<'_>> {
    let refused = |message: String| Err(PlatformError::Invalid(message));
    let [update] = refs else {
        return refused(format!(
            "push one branch at a time: Berth deploys main or master (this push updates {})",
            refs.iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let deleted = update.new == NULL_SHA;
    if DEPLOY_BRANCHES.contains(&update.name.as_str()) {
        if deleted {
            return refused("the deploy branch cannot be deleted".to_string());
        }
        return Ok(PushTarget::Deploy(&update.new));
    }
    match update.name.strip_prefix("refs/heads/") {
        Some(branch) if deleted => Ok(PushTarget::BranchDeleted(branch)),
        Some(branch) => Ok(PushTarget::Branch {
            branch,
            commit: &update.new,
        }),
        None => refused(not_deployed(&update.name)),
    }
}

fn not_deployed(name: &str) -> String {
    let what = name.strip_prefix("refs/").unwrap_or(name);
    format!(
        "{what} is not deployed: push to main or master (git push platform HEAD:main), or \
         enable review apps on the app's pipeline to deploy branches"
    )
}

/// What a push did.
pub enum PushOutcome {
    /// A release of `app` (the pushed app, or a branch's review app) runs;
    /// its lease is held until git has moved the ref.
    Released {
        app: AppRecord,
        release: Box<ReleaseRecord>,
        lease: AppLease,
        review_app_created: bool,
    },
    /// A branch was deleted, and with it its review app, if it had one.
    BranchDeleted { review_app: Option<String> },
}

impl Platform {
    /// Deploys a push: the ref moves only if this succeeds. Progress goes to
    /// the pusher line by line as it happens. On success the app stays locked
    /// until the caller releases the lease, once git has moved the ref: a push
    /// waiting its turn must see the branch where this one leaves it.
    pub async fn deploy_push(
        &self,
        actor: &Actor,
        app_name: &str,
        refs: &[RefUpdate],
        quarantine: Option<&Path>,
        progress: &Progress,
    ) -> Result<PushOutcome> {
        let app = self.authorize_app(actor, app_name, Action::Deploy).await?;
        let target = push_target(refs)?;
        let started = std::time::Instant::now();
        let (deployed_app, deployed, review_app_created) = match target {
            PushTarget::Deploy(commit) => {
                let deployed = self
                    .deploy_main(actor, &app, commit, &refs[0], quarantine, progress)
                    .await;
                (app.name.clone(), deployed, false)
            }
            PushTarget::BranchDeleted(branch) => {
                let review_app = self
                    .destroy_review_app_of_branch(actor, &app, branch)
                    .await?;
                if review_app.is_none() && !self.review_apps_enabled(&app).await? {
                    return Err(PlatformError::Invalid(not_deployed(&refs[0].name)));
                }
                return Ok(PushOutcome::BranchDeleted { review_app });
            }
            PushTarget::Branch { branch, .. } => {
                if !self.review_apps_enabled(&app).await? {
                    return Err(PlatformError::Invalid(not_deployed(&refs[0].name)));
                }
                match self
                    .deploy_review_app(actor, &app, branch, &refs[0], quarantine, progress)
                    .await
                {
                    Ok((release, lease, review, created)) => {
                        (review.name.clone(), Ok((release, lease, review)), created)
                    }
                    Err(error) => (app.name.clone(), Err(error), false),
                }
            }
        };
        self.metrics
            .deploy_finished(&deployed_app, deployed.is_ok(), started.elapsed());
        let (release, lease, app) = deployed?;
        Ok(PushOutcome::Released {
            app,
            release: Box::new(release),
            lease,
            review_app_created,
        })
    }

    /// A push of main or master: the app's own deploy.
    async fn deploy_main(
        &self,
        actor: &Actor,
        app: &AppRecord,
        commit: &str,
        update: &RefUpdate,
        quarantine: Option<&Path>,
        progress: &Progress,
    ) -> Result<(ReleaseRecord, AppLease, AppRecord)> {
        let lease = self.lock_app(app, progress).await?;
        let (progress, _watch) =
            self.watch_deploy(app, watched_as("Deploy", commit, actor), progress);
        let progress = &progress;
        let deployed = HELD_LEASE
            .scope(lease.held.clone(), async {
                self.check_branch_unmoved(app, update)?;
                let release = self
                    .deploy_commit(actor, app, &app.name, commit, quarantine, progress)
                    .await?;
                self.repos.point_head(&app.name, &update.name)?;
                let detail = format!("v{} from {commit}", release.version);
                self.audit_app(actor, &app.name, "release.deploy", detail)
                    .await?;
                Ok(release)
            })
            .await;
        progress.deploy_ended(&deployed);
        match deployed {
            Ok(release) => Ok((release, lease, app.clone())),
            Err(error) => {
                lease.release().await?;
                Err(error)
            }
        }
    }

    /// Checks that `app_name`'s current release can be built again from its
    /// commit, by this actor, and takes the app's lease for it without
    /// waiting: a redeploy asked for while another change runs is refused,
    /// not queued. Watchers see it from here on; `redeploy` then runs it.
    pub async fn plan_redeploy(
        &self,
        actor: &Actor,
        app_name: &str,
        progress: &Progress,
    ) -> Result<Redeploy> {
        let app = self.authorize_app(actor, app_name, Action::Deploy).await?;
        let release = self.current_release(&app).await?.ok_or_else(|| {
            PlatformError::Invalid(format!(
                "{} has no release to redeploy yet: push one first",
                app.name
            ))
        })?;
        let repository = match self.store.review_app(app.id).await? {
            Some(review) => review.parent_name,
            None => app.name.clone(),
        };
        let commit = release
            .commit_sha
            .filter(|commit| self.repos.snapshot(&repository, commit, None).is_ok())
            .ok_or_else(|| {
                PlatformError::Invalid(format!(
                    "v{} of {} was not built from a commit of its repository (it was \
                     promoted from another app): promote again, or push, instead",
                    release.version, app.name
                ))
            })?;
        let Some(lease) = self.try_lock_app(&app).await? else {
            let running = self.live_deploys.running(app.id).map_or_else(
                || "Another deploy or change".to_string(),
                |d| d.what.clone(),
            );
            return Err(PlatformError::Conflict(format!(
                "{running} is running for {}: wait for it to end, then redeploy if still needed",
                app.name
            )));
        };
        let (progress, watch) =
            self.watch_deploy(&app, watched_as("Redeploy", &commit, actor), progress);
        Ok(Redeploy {
            app,
            repository,
            commit,
            lease,
            progress,
            _watch: watch,
        })
    }

    /// Builds the planned commit again and rolls it out as a new release,
    /// as a push of it would (the branch does not move).
    pub async fn redeploy(&self, actor: &Actor, plan: Redeploy) -> Result<ReleaseRecord> {
        let started = std::time::Instant::now();
        let Redeploy {
            app,
            repository,
            commit,
            lease,
            progress,
            _watch,
        } = plan;
        let deployed = HELD_LEASE
            .scope(lease.held.clone(), async {
                let release = self
                    .deploy_commit(actor, &app, &repository, &commit, None, &progress)
                    .await?;
                let detail = format!("v{} from {commit}", release.version);
                self.audit_app(actor, &app.name, "release.redeploy", detail)
                    .await?;
                Ok(release)
            })
            .await;
        progress.deploy_ended(&deployed);
        self.metrics
            .deploy_finished(&app.name, deployed.is_ok(), started.elapsed());
        if let Err(error) = lease.release().await {
            tracing::warn!(app = %app.name, %error, "cannot give back the deploy lease: it expires");
        }
        deployed
    }

    /// Runs `change` holding the app's lease: pushes, config changes,
    /// rollbacks and scaling of one app never interleave.
    pub(crate) async fn exclusively<T>(
        &self,
        app: &AppRecord,
        progress: &Progress,
        change: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let lease = self.lock_app(app, progress).await?;
        let result = HELD_LEASE.scope(lease.held.clone(), change).await;
        lease.release().await?;
        result
    }

    /// Takes the app's lease (waiting for another holder to finish) and keeps renewing it.
    pub(crate) async fn lock_app(&self, app: &AppRecord, progress: &Progress) -> Result<AppLease> {
        let holder = self.take_deploy_lease(app, progress).await?;
        Ok(self.hold_lease(app, holder))
    }

    /// Takes the app's lease if nobody holds it; never waits.
    pub(crate) async fn try_lock_app(&self, app: &AppRecord) -> Result<Option<AppLease>> {
        let holder = lease_holder();
        if !self
            .store
            .acquire_deploy_lease(app.id, &holder, LEASE_TTL)
            .await?
        {
            return Ok(None);
        }
        Ok(Some(self.hold_lease(app, holder)))
    }

    async fn take_deploy_lease(&self, app: &AppRecord, progress: &Progress) -> Result<String> {
        let holder = lease_holder();
        let deadline = tokio::time::Instant::now() + LEASE_WAIT;
        let mut said = false;
        while !self
            .store
            .acquire_deploy_lease(app.id, &holder, LEASE_TTL)
            .await?
        {
            if !said {
                progress.say(&format!(
                    "Another deploy or change of {} is in progress: waiting for it to finish...",
                    app.name
                ));
                said = true;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(PlatformError::Conflict(format!(
                    "another deploy of {} has been running for over {} minutes: try again later",
                    app.name,
                    LEASE_WAIT.as_secs() / 60
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(holder)
    }

    /// A push that waited for another deploy may find its branch moved:
    /// deploying it would run code the branch does not hold.
    pub(crate) fn check_branch_unmoved(&self, app: &AppRecord, update: &RefUpdate) -> Result<()> {
        let current = self.repos.branch_head(&app.name, &update.name)?;
        if current.as_deref().unwrap_or(NULL_SHA) == update.old {
            return Ok(());
        }
        let branch = update
            .name
            .strip_prefix("refs/heads/")
            .unwrap_or(&update.name);
        Err(PlatformError::Conflict(format!(
            "{branch} moved while this push waited for another deploy: fetch, then push again"
        )))
    }

    /// The lease `holder` has just taken, renewed in the background until a
    /// renewal fails: then it is marked lost, and the change stops at its next step.
    fn hold_lease(&self, app: &AppRecord, holder: String) -> AppLease {
        let held = HeldLease {
            store: self.store.clone(),
            app_id: app.id,
            holder,
            lost: Arc::default(),
        };
        let renewing = held.clone();
        let renewal = tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE_RENEW_EVERY).await;
                if renewing.confirm().await.is_err() {
                    tracing::warn!(app_id = renewing.app_id, "the deploy lease was lost");
                    return;
                }
            }
        });
        AppLease { held, renewal }
    }

    /// Builds `commit` of the repository of `repository` (the app's own, or
    /// a review app's parent's) and rolls it out as a release of `app`.
    pub(crate) async fn deploy_commit(
        &self,
        actor: &Actor,
        app: &AppRecord,
        repository: &str,
        commit: &str,
        quarantine: Option<&Path>,
        progress: &Progress,
    ) -> Result<ReleaseRecord> {
        let source = ContextSource {
            repos: self.repos.clone(),
            app: repository.to_string(),
            commit: commit.to_string(),
            quarantine: quarantine.map(Path::to_path_buf),
        };
        let max_bytes = self.max_push_bytes;
        let reading = source.clone();
        // Compose files interpolate `${VAR}` from the config vars.
        let vars = self.current_config(app).await?;
        let push =
            tokio::task::spawn_blocking(move || PreparedPush::read(&reading, max_bytes, &vars))
                .await
                .map_err(|e| PlatformError::Internal(format!("reading the push failed: {e}")))??;
        say_manifest(&push.manifest, progress);
        self.check_compose_replicas(app, &push.manifest).await?;
        self.check_pulled_images(&push.manifest)?;
        self.setup_on_push(actor, app, &setup_of(&push.manifest), progress)
            .await?;
        self.alias_compose_addons(app, &push.manifest.addons)
            .await?;
        let config = self.current_config(app).await?;
        let release = self
            .store
            .create_release(NewRelease {
                app_id: app.id,
                description: &format!("Deploy {}", push.short_sha),
                commit_sha: Some(&push.commit_sha),
                config_sealed: &self.seal_config(app, &config)?,
                created_by: &actor.email,
                phase: "building",
            })
            .await?;
        progress.release_made(release.version);
        progress.say(&format!(
            "-----> Building {} v{} from {} ({})",
            app.name, release.version, push.short_sha, push.summary
        ));
        let mut output = ReleaseOutput::new(self.release_output_bytes);
        // Dropping the builds at the deadline closes their connections to the
        // engine, which cancels them.
        let built = tokio::time::timeout(
            self.build_timeout,
            self.build_images(app, &release, &source, &push, progress, &mut output),
        )
        .await
        .unwrap_or_else(|_| {
            Err(PlatformError::DeployFailed(format!(
                "the build did not finish within {} s (BERTH_BUILD_TIMEOUT)",
                self.build_timeout.as_secs()
            )))
        });
        let images = match built {
            Ok(images) => images,
            Err(error) => {
                self.store
                    .fail_release(release.id, &error.to_string(), output.as_str())
                    .await?;
                return Err(error);
            }
        };
        let manifest = push.manifest;
        // Compose's named volumes exist before the processes that mount them start.
        let mut made_volumes = Vec::new();
        for (name, process_type, path) in manifest.volume_mounts() {
            match self
                .ensure_volume(app, name, process_type.as_str(), path)
                .await
            {
                Ok(made) => made_volumes.extend(made),
                Err(error) => {
                    self.forget_volumes_of_failed_push(actor, app, &made_volumes)
                        .await?;
                    self.store
                        .fail_release(release.id, &error.to_string(), output.as_str())
                        .await?;
                    return Err(error);
                }
            }
        }
        let mut processes = Vec::new();
        for (process_type, spec) in &manifest.processes {
            processes.push(ReleaseProcess {
                process_type: process_type.to_string(),
                image: images[&spec.build].clone(),
                command: spec
                    .command
                    .as_ref()
                    .map(|command| command.line().to_string()),
                healthcheck: spec.healthcheck.clone(),
                limits: spec.options.limits,
                options_sealed: self.seal_process_options(app, &spec.options)?,
            });
        }
        let processes = self.with_set_limits(app, &processes).await?;
        if let Some(replicas) = compose_replicas(&manifest) {
            self.store.add_to_formation(app.id, &replicas).await?;
        }
        let release_phase = manifest
            .release
            .as_ref()
            .map(|spec| (images[&spec.build].clone(), spec.command.line().to_string()));
        self.store
            .set_release_contents(
                release.id,
                &processes,
                release_phase.as_ref().map(|(image, _)| image.as_str()),
                release_phase.as_ref().map(|(_, command)| command.as_str()),
            )
            .await?;
        let release = self
            .store
            .release(app.id, release.version)
            .await?
            .ok_or_else(|| {
                PlatformError::Internal(format!("release v{} vanished", release.version))
            })?;
        let rolled_out = self
            .roll_out(actor, app, release, &config, None, progress, output)
            .await;
        if rolled_out.is_err() {
            self.forget_volumes_of_failed_push(actor, app, &made_volumes)
                .await?;
        }
        rolled_out
    }

    /// Builds each image the manifest needs once, tagged `berth/<app>:v<N>-<key>`.
    async fn build_images(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        source: &ContextSource,
        push: &PreparedPush,
        progress: &Progress,
        output: &mut ReleaseOutput,
    ) -> Result<HashMap<String, String>> {
        let engine = self.runtime()?;
        let mut images = HashMap::new();
        let manifest = &push.manifest;
        for (key, dockerfile_in_context) in &push.builds {
            let spec = &manifest.builds[key];
            let tag = format!("berth/{}:v{}-{key}", app.name, release.version);
            progress.say(&format!(
                "-----> Building {key} ({}) as {tag}",
                spec.dockerfile
            ));
            let upload = source.upload(&spec.context, &spec.dockerfile);
            let request = BuildRequest {
                context_tar: upload.tar,
                dockerfile: dockerfile_in_context.clone(),
                target: spec.target.clone(),
                tag: tag.clone(),
                // The release is in the tag, not a label: a label that changes
                // with every release would rebuild the last layer each time.
                labels: app_labels(&app.name),
                // heroku.yml's `build.config`, then a Compose service's `build.args` over it.
                build_args: manifest
                    .build_args
                    .iter()
                    .chain(&spec.args)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            };
            let sink = self.logs.clone();
            let app_name = app.name.clone();
            let result = engine
                .build_image(request, |line| {
                    progress.say(line);
                    output.push_line(line);
                    sink.write(&app_name, LogLine::now(LogSource::App, "build", line));
                })
                .await;
            // Once the build is over, the engine has dropped the upload, so
            // the producer is done or about to be.
            let produced = upload.producer.await.map_err(|e| {
                PlatformError::Internal(format!("making the build context of {key} failed: {e}"))
            })?;
            let image = match result {
                Ok(image) => image,
                Err(error) => {
                    let message = match (produced, error) {
                        // The engine only saw the context stop: git's error says why.
                        (Err(git), _) if !is_closed_pipe(&git) => {
                            format!("the build context of {key} could not be read: {git}")
                        }
                        (_, berth_docker::DockerError::Build { message }) => {
                            format!("the build of {key} failed: {message}")
                        }
                        (_, other) => other.to_string(),
                    };
                    return Err(PlatformError::DeployFailed(message));
                }
            };
            images.insert(key.clone(), image);
        }
        for (key, image) in &manifest.pulls {
            let tag = format!("berth/{}:v{}-{key}", app.name, release.version);
            progress.say(&format!(
                "-----> Using the image {image} for {key} as {tag}"
            ));
            // Built `FROM` it, the image is named, labelled, pushed to the
            // registry and pruned like a built one; the engine pulls it if missing.
            let request = BuildRequest {
                context_tar: berth_docker::image_only_context(image),
                dockerfile: berth_docker::IMAGE_ONLY_DOCKERFILE.to_string(),
                target: None,
                tag,
                labels: app_labels(&app.name),
                build_args: HashMap::new(),
            };
            let built = engine
                .build_image(request, |line| {
                    progress.say(line);
                    output.push_line(line);
                })
                .await
                .map_err(|error| {
                    PlatformError::DeployFailed(format!(
                        "the image {image} of {key} could not be pulled: {error}"
                    ))
                })?;
            images.insert(key.clone(), built);
        }
        Ok(images)
    }
}

/// Compose starts every service with its `deploy.replicas` (default 1):
/// the formation of the process types an app runs for the first time.
fn compose_replicas(manifest: &Manifest) -> Option<Vec<(String, i64)>> {
    (manifest.source == ManifestSource::Compose).then(|| {
        manifest
            .processes
            .iter()
            .map(|(t, spec)| (t.to_string(), i64::from(spec.options.replicas.unwrap_or(1))))
            .collect()
    })
}

impl Platform {
    /// Refuses images that are the platform's own builds of apps (`berth/…`,
    /// or anything in the platform's registry): one app may not run
    /// another's image, with whatever its build baked in.
    fn check_pulled_images(&self, manifest: &Manifest) -> Result<()> {
        let registry = self
            .cluster
            .registry
            .as_ref()
            .map(|registry| format!("{}/", registry.address));
        for (service, image) in &manifest.pulls {
            let platforms = image.starts_with("berth/")
                || registry
                    .as_deref()
                    .is_some_and(|registry| image.starts_with(registry));
            if platforms {
                return Err(PlatformError::Invalid(format!(
                    "{}: services.{service} runs the image {image}, which Berth built for an \
                     app: build it from source (build:) instead; nothing was built or changed",
                    manifest.files.join(" with ")
                )));
            }
        }
        Ok(())
    }

    /// Refuses, before anything is built or changed, a Compose file whose
    /// replicas would take the app past the platform's dynos per app.
    async fn check_compose_replicas(&self, app: &AppRecord, manifest: &Manifest) -> Result<()> {
        let (Some(limit), Some(replicas)) = (self.quotas.dynos_per_app, compose_replicas(manifest))
        else {
            return Ok(());
        };
        let formation = self.store.formation(app.id).await?;
        let total: i64 = replicas
            .iter()
            .map(|(process_type, wanted)| {
                formation
                    .iter()
                    .find(|(t, _)| t == process_type)
                    .map_or(*wanted, |(_, quantity)| *quantity)
            })
            .sum();
        if total > limit {
            return Err(PlatformError::Invalid(format!(
                "{} asks for {total} dynos (deploy.replicas, 1 per service without it), more \
                 than this platform allows an app (BERTH_MAX_DYNOS_PER_APP={limit}): lower the \
                 replicas; nothing was built or changed",
                manifest.files.join(" with ")
            )));
        }
        Ok(())
    }
}

/// Which files the manifest came from, and what in them Berth ignores.
fn say_manifest(manifest: &Manifest, progress: &Progress) {
    progress.say(&format!("-----> Using {}", manifest.files.join(" with ")));
    for warning in &manifest.warnings {
        progress.say(&format!("-----> Warning: {warning}"));
    }
}

/// What to provision on push: heroku.yml's `setup`, or the Compose
/// services that become add-ons (their kind's default attachment, so
/// `DATABASE_URL` / `REDIS_URL`, which win over the file's `environment`).
fn setup_of(manifest: &Manifest) -> Setup {
    let mut setup = manifest.setup.clone();
    let kinds: BTreeSet<AddonKind> = manifest.addons.values().copied().collect();
    for kind in kinds {
        setup.addons.push(AddonRequest {
            plan: crate::addons::compose_addon_plan(kind).to_string(),
            as_name: None,
        });
    }
    setup
}

/// What a push holds, read out of git: its manifest and, for each image the
/// manifest needs (built once each, however many process types use it), the
/// Dockerfile's path in its build context.
struct PreparedPush {
    commit_sha: String,
    short_sha: String,
    summary: String,
    manifest: Manifest,
    builds: BTreeMap<String, String>,
}

impl PreparedPush {
    /// Refuses a push whose files hold more than `max_bytes`, whose manifest
    /// is wrong, or whose build contexts cannot be made, before anything is
    /// built or changed. File contents are not read here: the builds stream
    /// them from git.
    fn read(
        source: &ContextSource,
        max_bytes: u64,
        vars: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let snapshot =
            source
                .repos
                .snapshot(&source.app, &source.commit, source.quarantine.as_deref())?;
        let refused = |error: GitError| {
            PlatformError::Invalid(format!("{error}: nothing was built or changed"))
        };
        snapshot
            .unpacked_size(max_bytes)
            .map_err(|error| match error {
                GitError::TooLarge { limit } => PlatformError::Invalid(format!(
                    "this push holds more than {limit} bytes of files, the server's limit \
                 (BERTH_MAX_PUSH_BYTES): nothing was built or changed"
                )),
                other => refused(other),
            })?;
        let manifest = read_manifest(&snapshot, vars)?;
        let needed: BTreeSet<&String> = manifest
            .processes
            .values()
            .map(|spec| &spec.build)
            .chain(manifest.release.as_ref().map(|spec| &spec.build))
            .filter(|key| manifest.builds.contains_key(*key))
            .collect();
        let mut builds = BTreeMap::new();
        for key in needed {
            let spec = &manifest.builds[key];
            let dockerfile = snapshot
                .check_build_context(&spec.context, &spec.dockerfile)
                .map_err(refused)?;
            builds.insert(key.clone(), dockerfile);
        }
        Ok(Self {
            commit_sha: snapshot.commit_sha().to_string(),
            short_sha: snapshot.short_sha().to_string(),
            summary: snapshot.message_summary(),
            manifest,
            builds,
        })
    }
}

/// Whether making a context stopped only because its reader went away.
fn is_closed_pipe(error: &GitError) -> bool {
    matches!(error, GitError::Tar(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The commit's manifest, found as [`find_manifest`] says.
fn read_manifest(snapshot: &Snapshot, vars: &BTreeMap<String, String>) -> Result<Manifest> {
    let read = |path: &str| -> std::result::Result<Option<String>, ManifestError> {
        let unreadable = |message: String| ManifestError {
            file: path.to_string(),
            line: 1,
            column: 1,
            message,
        };
        match snapshot.read_file(path) {
            Ok(Some(bytes)) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| unreadable("is not UTF-8 text".into())),
            Ok(None) => Ok(None),
            Err(error) => Err(unreadable(error.to_string())),
        }
    };
    find_manifest(read, |path| snapshot.file_exists(path), vars)
        .map_err(|error| PlatformError::Invalid(error.to_string()))
}

/// A fresh holder id for the app's lease.
fn lease_holder() -> String {
    let mut id = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut id);
    hex::encode(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(name: &str, new: &str) -> RefUpdate {
        RefUpdate {
            old: NULL_SHA.into(),
            new: new.into(),
            name: name.into(),
        }
    }

    #[test]
    fn main_or_master_deploy_and_other_branches_are_review_apps() {
        let sha = "a".repeat(40);
        for branch in ["refs/heads/main", "refs/heads/master"] {
            assert_eq!(
                push_target(&[update(branch, &sha)]).unwrap(),
                PushTarget::Deploy(&sha)
            );
        }
        assert_eq!(
            push_target(&[update("refs/heads/feature/x", &sha)]).unwrap(),
            PushTarget::Branch {
                branch: "feature/x",
                commit: &sha
            }
        );
        assert_eq!(
            push_target(&[update("refs/heads/feature", NULL_SHA)]).unwrap(),
            PushTarget::BranchDeleted("feature")
        );
        let tag = push_target(&[update("refs/tags/v1", &sha)]).unwrap_err();
        assert!(
            tag.to_string()
                .starts_with("tags/v1 is not deployed: push to main or master"),
            "{tag}"
        );
        let deletion = push_target(&[update("refs/heads/main", NULL_SHA)]).unwrap_err();
        assert_eq!(deletion.to_string(), "the deploy branch cannot be deleted");
        let two = [
            update("refs/heads/main", &sha),
            update("refs/tags/v1", &sha),
        ];
        assert!(push_target(&two)
            .unwrap_err()
            .to_string()
            .contains("one branch at a time"));
    }

    #[test]
    fn hook_lines_parse() {
        let line = format!("{} {} refs/heads/main", NULL_SHA, "b".repeat(40));
        assert_eq!(
            RefUpdate::parse(&line),
            Some(update("refs/heads/main", &"b".repeat(40)))
        );
        assert_eq!(RefUpdate::parse("garbage"), None);
    }
}
