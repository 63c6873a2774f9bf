//! What changes on an app's pages while they are open, sent as server-sent
//! events: the overview's current release and dynos (`state`, the same
//! fragments the page was rendered with), and a deploy in progress with its
//! output as `git push` sees it (`deploy`). Each stream ends when its
//! session may no longer read the app.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use berth_platform::{Action, Actor, DeployOutcome, LiveDeploy, PlatformError};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::browser::SignedIn;
use super::error::DashboardError;
use super::moments::{elapsed_since, Moment};
use crate::api::PublicBase;
use crate::AppState;

/// How often the overview looks at the app's dynos again.
const STATE_EVERY: Duration = Duration::from_secs(2);
/// How often a watched deploy's phase and elapsed time are looked at
/// when no line arrives.
const DEPLOY_TICK: Duration = Duration::from_secs(1);
/// How long a releases page waits for a deploy before looking again (a
/// deploy's beginning wakes it sooner).
const DEPLOY_WAIT: Duration = Duration::from_secs(5);
/// The most bytes of lines one `deploy` event carries (more follow in the
/// next): JSON may escape a byte in six, and every open page catches up.
const LINE_BYTES_PER_EVENT: usize = 64 * 1024;
/// A comment on an idle stream, so proxies and browsers know it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The most live streams one user holds open at once (pages in open tabs):
/// each looks at the engine and the store every few seconds.
pub(crate) const STREAMS_PER_USER: usize = 16;

/// How many live streams each user has open.
#[derive(Clone, Default)]
pub(crate) struct LiveStreams {
    open: Arc<Mutex<HashMap<i64, usize>>>,
}

/// One open stream of a user, counted until it is dropped.
struct StreamPermit {
    streams: LiveStreams,
    user_id: i64,
}

impl LiveStreams {
    fn open(&self, user_id: i64) -> Result<StreamPermit, DashboardError> {
        let mut open = self.open.lock().expect("live streams lock");
        let count = open.entry(user_id).or_default();
        if *count >= STREAMS_PER_USER {
            return Err(DashboardError::TooManyStreams);
        }
        *count += 1;
        Ok(StreamPermit {
            streams: self.clone(),
            user_id,
        })
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().expect("live streams lock");
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// The overview's parts that change by themselves.
pub(super) struct LiveState {
    pub app_name: String,
    pub csrf: String,
    pub web_url: String,
    pub git_url: String,
    pub release: Option<ReleaseSummary>,
    pub dynos: Vec<DynoRow>,
    /// A deploy running now, in words.
    pub deploying: Option<String>,
    /// Whether this user may restart dynos.
    pub can_restart: bool,
}

pub(super) struct ReleaseSummary {
    pub version: i64,
    pub description: String,
    pub commit: String,
    pub created: Moment,
}

pub(super) struct DynoRow {
    pub name: String,
    pub state: String,
    pub release: String,
    pub uptime: String,
    pub restarts: u64,
    pub exit_code: Option<i64>,
    /// Why it crashed, when more is known than its exit code.
    pub reason: Option<String>,
    /// `512m · 1.5 CPUs`; empty without limits of its own.
    pub limits: String,
    /// The name of the host it runs on.
    pub host: String,
}

/// A process type's limits as the dynos table shows them.
fn limits_text(limits: &berth_core::Limits) -> String {
    let memory = limits.memory_bytes.map(berth_core::limits::format_memory);
    let cpus = limits
        .nano_cpus
        .map(|cpus| format!("{} CPUs", berth_core::limits::format_cpus(cpus)));
    memory
        .into_iter()
        .chain(cpus)
        .collect::<Vec<_>>()
        .join(" · ")
}

/// How long a dyno has been up, to the minute: the overview's dynos are
/// sent again when this changes, so not every second.
fn uptime(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if (now - since).num_seconds() < 60 {
        "under 1m".to_string()
    } else {
        elapsed_since(since, now)
    }
}

impl LiveState {
    /// The app's current release, dynos and deploy in progress, as `actor` may see them.
    pub(super) async fn of(
        state: &AppState,
        actor: &Actor,
        name: &str,
        csrf: &str,
        base: &str,
    ) -> Result<Self, DashboardError> {
        let app = state.platform.app(actor, name).await?;
        let release = match app.current_release {
            Some(_) => {
                let (release, _) = state.platform.release(actor, name, None).await?;
                Some(ReleaseSummary {
                    version: release.version,
                    description: release.description,
                    commit: release
                        .commit_sha
                        .map(|sha| berth_core::short_commit(&sha).to_string())
                        .unwrap_or_default(),
                    created: Moment::to_the_minute(release.created_at),
                })
            }
            None => None,
        };
        let now = Utc::now();
        let dynos = state
            .platform
            .dynos(actor, name)
            .await?
            .into_iter()
            .map(|dyno| DynoRow {
                // Since the last start, as `berth ps` counts it: a restart resets it.
                uptime: match (dyno.state.as_str(), dyno.started_at) {
                    ("up", Some(started)) => uptime(started, now),
                    ("up", None) => uptime(dyno.created_at, now),
                    _ => String::new(),
                },
                name: dyno.name,
                state: dyno.state,
                release: dyno.release,
                restarts: dyno.restarts,
                exit_code: dyno.exit_code,
                reason: dyno.reason,
                limits: limits_text(&dyno.limits),
                host: dyno.host,
            })
            .collect();
        let deploying = state
            .platform
            .live_deploy(actor, name)
            .await?
            .filter(|deploy| !deploy.has_ended())
            .map(|deploy| deploy.what.clone());
        let can_restart = state
            .platform
            .authorize_app(actor, name, Action::Deploy)
            .await
            .is_ok();
        Ok(Self {
            can_restart,
            web_url: state.web_url(&app.name),
            git_url: format!("{base}/{}.git", app.name),
            app_name: app.name,
            csrf: csrf.to_string(),
            release,
            dynos,
            deploying,
        })
    }
}

#[derive(Template)]
#[template(path = "app_live_release.html")]
struct ReleaseFragment<'a> {
    live: &'a LiveState,
}

#[derive(Template)]
#[template(path = "app_live_dynos.html")]
struct DynosFragment<'a> {
    live: &'a LiveState,
}

/// A `state` event: the overview's live parts, rendered as the page renders them.
#[derive(Serialize)]
pub(super) struct StateEvent {
    release_html: String,
    dynos_html: String,
}

impl StateEvent {
    pub(super) fn of(live: &LiveState) -> Result<Self, DashboardError> {
        let render = |html: askama::Result<String>| {
            html.map_err(|error| {
                tracing::error!(%error, "a live fragment failed to render");
                DashboardError::Render
            })
        };
        Ok(Self {
            release_html: render(ReleaseFragment { live }.render())?,
            dynos_html: render(DynosFragment { live }.render())?,
        })
    }

    /// A short name for this state: the page says which state it shows, and
    /// its stream sends only a different one.
    pub(super) fn digest(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (&self.release_html, &self.dynos_html).hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }
}

#[derive(Deserialize)]
pub(super) struct OverviewLiveQuery {
    /// The digest of the state the page shows already.
    seen: Option<String>,
}

/// `/apps/{name}/overview/live`: a `state` event whenever the state differs
/// from what the page shows.
pub(super) async fn overview(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Path(name): Path<String>,
    Query(query): Query<OverviewLiveQuery>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = signed_in.session.actor.clone();
    let app = state.platform.app(&actor, &name).await?;
    let csrf = signed_in.chrome.csrf.clone();
    let looks = stream::unfold(
        (state.clone(), query.seen, false),
        move |(state, mut shown, mut looked)| {
            let (actor, name, csrf, base) =
                (actor.clone(), name.clone(), csrf.clone(), base.clone());
            async move {
                loop {
                    if looked {
                        tokio::time::sleep(STATE_EVERY).await;
                    }
                    looked = true;
                    // An engine that does not answer skips a look; the app
                    // gone or out of reach ends the stream.
                    let live = match LiveState::of(&state, &actor, &name, &csrf, &base).await {
                        Ok(live) => live,
                        Err(DashboardError::Platform(PlatformError::EngineUnavailable {
                            ..
                        })) => continue,
                        Err(_) => return None,
                    };
                    let event = StateEvent::of(&live).ok()?;
                    let digest = event.digest();
                    if shown.as_deref() != Some(digest.as_str()) {
                        let data = serde_json::to_string(&event).expect("state serializes");
                        let sse = Event::default().event("state").data(data);
                        shown = Some(digest);
                        return Some((sse, (state, shown, looked)));
                    }
                }
            }
        },
    );
    stream_until_access_lost(state, signed_in, app, looks)
}

/// The events of `events`, until `signed_in` may no longer read `app`;
/// counted among the user's open streams while open.
fn stream_until_access_lost(
    state: AppState,
    signed_in: SignedIn,
    app: berth_platform::AppRecord,
    events: impl Stream<Item = Event> + Send + 'static,
) -> Result<Response, DashboardError> {
    let permit = state.live_streams.open(signed_in.session.actor.user_id)?;
    let lost = async move {
        state
            .platform
            .access_lost(&signed_in.session, &app, Action::ReadApp)
            .await;
    };
    let events = events.take_until(lost).map(move |event| {
        let _open = &permit;
        Ok::<_, Infallible>(event)
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// A `deploy` event: what is new of the deploy being watched.
#[derive(Serialize)]
struct DeployEvent {
    /// Set on the first event of each deploy: the page starts afresh.
    begins: bool,
    what: String,
    started_at: DateTime<Utc>,
    /// preparing, building, releasing or starting; finishing while the last
    /// lines are still to come; then released or failed.
    phase: String,
    release: Option<i64>,
    lines: Vec<String>,
    /// Lines that gave way before this page could see them.
    skipped: usize,
    /// How it ended: `Released v5`, or why it failed.
    outcome: Option<String>,
    failed: bool,
}

/// Where a releases page's stream stands.
struct Watching {
    state: AppState,
    actor: Actor,
    name: String,
    deploy: Option<Arc<LiveDeploy>>,
    /// The deploy seen last, so an ended one is not shown twice.
    seen: Option<Arc<LiveDeploy>>,
    next: usize,
    phase: String,
    begun: tokio::sync::watch::Receiver<u64>,
    first_look: bool,
}

impl Watching {
    /// The next event, waiting as long as it takes; none once the app is
    /// gone or out of reach.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            let Some(deploy) = self.deploy.clone() else {
                let found = self
                    .state
                    .platform
                    .live_deploy(&self.actor, &self.name)
                    .await
                    .ok()?;
                let seen = |deploy: &Arc<LiveDeploy>| {
                    self.seen.as_ref().is_some_and(|s| Arc::ptr_eq(s, deploy))
                };
                let fresh = match found {
                    Some(deploy) if seen(&deploy) => None,
                    // To a page opening, a deploy that ended a while ago is not news.
                    Some(deploy) if self.first_look && deploy.ended_a_while_ago() => {
                        self.seen = Some(deploy);
                        None
                    }
                    found => found,
                };
                self.first_look = false;
                match fresh {
                    Some(deploy) => {
                        self.deploy = Some(deploy);
                        self.next = 0;
                        self.phase = String::new();
                        continue;
                    }
                    None => {
                        let _ = tokio::time::timeout(DEPLOY_WAIT, self.begun.changed()).await;
                        continue;
                    }
                }
            };
            let begins = self.next == 0 && self.phase.is_empty();
            let mut changed = deploy.subscribe();
            let update = deploy.since(self.next, LINE_BYTES_PER_EVENT);
            let phase = match (&update.outcome, update.release) {
                (Some(DeployOutcome::Released { .. }), _) => "released".to_string(),
                (Some(DeployOutcome::Failed { .. }), _) => "failed".to_string(),
                (None, None) => "preparing".to_string(),
                (None, Some(version)) => {
                    self.state
                        .platform
                        .release(&self.actor, &self.name, Some(version))
                        .await
                        .ok()?
                        .0
                        .phase
                }
            };
            let ended = update.outcome.is_some();
            let news = begins || ended || !update.lines.is_empty() || phase != self.phase;
            if news {
                self.next += update.skipped + update.lines.len();
                let caught_up = self.next >= update.next;
                self.phase.clone_from(&phase);
                let (outcome, failed) = match &update.outcome {
                    Some(_) if !caught_up => (None, false),
                    Some(DeployOutcome::Released { version }) => {
                        (Some(format!("Released v{version}")), false)
                    }
                    Some(DeployOutcome::Failed { message }) => (Some(message.clone()), true),
                    None => (None, false),
                };
                if outcome.is_some() {
                    self.seen = self.deploy.take();
                }
                let event = DeployEvent {
                    begins,
                    what: deploy.what.clone(),
                    started_at: deploy.started_at,
                    phase: if outcome.is_some() || !ended {
                        phase
                    } else {
                        "finishing".to_string()
                    },
                    release: update.release,
                    lines: update.lines,
                    skipped: update.skipped,
                    outcome,
                    failed,
                };
                let data = serde_json::to_string(&event).expect("deploy event serializes");
                return Some(Event::default().event("deploy").data(data));
            }
            let _ = tokio::time::timeout(DEPLOY_TICK, changed.changed()).await;
        }
    }
}

/// `/apps/{name}/releases/live`: `deploy` events of each deploy of the app
/// this berthd runs while the page is open.
pub(super) async fn releases(
    State(state): State<AppState>,
    Path(name): Path<String>,
    signed_in: SignedIn,
) -> Result<Response, DashboardError> {
    let actor = signed_in.session.actor.clone();
    let app = state.platform.app(&actor, &name).await?;
    let watching = Watching {
        begun: state.platform.deploys_begun(),
        state: state.clone(),
        actor,
        name,
        deploy: None,
        seen: None,
        next: 0,
        phase: String::new(),
        first_look: true,
    };
    let events = stream::unfold(watching, |mut watching| async move {
        let event = watching.next_event().await?;
        Some((event, watching))
    });
    stream_until_access_lost(state, signed_in, app, events)
}
