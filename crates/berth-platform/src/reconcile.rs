//! The reconciler: each app's processes in the engine are brought in line
//! with its desired state in the store — the current release and the
//! formation — every few seconds and after berthd starts. A process
//! removed by hand is started again, one too many is stopped, leftovers of
//! an earlier release are removed, and a crashed process is restarted on an
//! exponential backoff (1 s, doubling, at most 5 min; reset once it has
//! stayed up 10 min). A process the container engine stopped when it went
//! away (see `engine_watch`) is no crash: it is started again at once.
//! Changes to the engine are made only while holding the app's lease, so
//! they never interleave with a push, scale or restart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use berth_docker::{ContainerSelector, ContainerSummary, LogStream, Placement, Runtime};
use berth_store::{AppRecord, ReleaseRecord};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::logs::{LogLine, LogSink, LogSource};
use crate::progress::Progress;
use crate::release::STOP_GRACE;
use crate::{Platform, Result};

/// The first restart of a crashed process waits this long; each further
/// crash doubles the wait, up to [`RESTART_BACKOFF_CAP`].
const RESTART_BACKOFF_START: Duration = Duration::from_secs(1);
const RESTART_BACKOFF_CAP: Duration = Duration::from_secs(5 * 60);
/// A process that stays up this long starts its backoff afresh.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10 * 60);

/// The wait before restarting a process that has crashed `crashes` times in a row.
fn restart_delay(crashes: u32) -> Duration {
    let doublings = crashes.saturating_sub(1).min(16);
    (RESTART_BACKOFF_START * 2u32.pow(doublings)).min(RESTART_BACKOFF_CAP)
}

/// What the reconciler remembers between passes, in memory: crashes,
/// which containers' output is being copied into the logs, and which
/// processes the engine stopped when it went away.
#[derive(Default)]
pub(crate) struct Supervision {
    /// By container id: a new container starts with a clean record.
    crashes: Mutex<HashMap<String, Crash>>,
    followers: Mutex<HashMap<String, Follower>>,
    /// The containers seen running, by the passes and the engine's events.
    running: Mutex<HashSet<String>>,
    /// Containers that were running when the engine went away: found
    /// stopped once it is back, they are started again at once.
    stopped_by_engine: Mutex<HashSet<String>>,
    /// The containers the first pass found: those that ran before this
    /// berthd (some of their output may be in the log already). Every
    /// later one is started, and followed, by this berthd.
    found_at_start: OnceLock<HashSet<String>>,
}

impl Supervision {
    /// The engine reports (or a pass found) the container running.
    pub(crate) fn seen_running(&self, id: &str) {
        self.running
            .lock()
            .expect("running lock")
            .insert(id.to_string());
    }

    /// The engine reports (or a pass found) the container stopped.
    pub(crate) fn seen_stopped(&self, id: &str) {
        self.running.lock().expect("running lock").remove(id);
    }

    /// The engine went away: whatever ran then and is found stopped later
    /// was stopped by the engine, not by a crash.
    pub(crate) fn engine_went_away(&self) {
        let running = self.running.lock().expect("running lock").clone();
        self.stopped_by_engine
            .lock()
            .expect("stopped-by-engine lock")
            .extend(running);
    }

    fn stopped_by_engine(&self, id: &str) -> bool {
        self.stopped_by_engine
            .lock()
            .expect("stopped-by-engine lock")
            .contains(id)
    }

    /// Whether the container was there when this berthd first looked.
    fn found_at_start(&self, id: &str) -> bool {
        self.found_at_start
            .get()
            .is_none_or(|found| found.contains(id))
    }

    fn no_longer_stopped_by_engine(&self, id: &str) {
        self.stopped_by_engine
            .lock()
            .expect("stopped-by-engine lock")
            .remove(id);
    }
}

/// A dyno's run of crashes.
struct Crash {
    /// Crashes in a row.
    count: u32,
    /// When the crashed container may be started again.
    restart_at: Instant,
    /// When it was last started again: a crash seen after this is a new one.
    restarted_at: Option<Instant>,
}

/// A container whose output is (or was) copied into its app's log.
struct Follower {
    active: bool,
    /// The newest line copied per stream: the engine replays a container's
    /// log from its creation, and what was copied is not copied again.
    copied_until: HashMap<LogStream, DateTime<Utc>>,
}

/// Why a dyno of the formation is found stopped.
#[derive(Debug, PartialEq, Eq)]
enum Stopped {
    /// Its process exited: started again after its backoff.
    Crashed,
    /// The container engine stopped it when it went away: at once.
    ByEngine,
    /// Its host is down: at once, on another host.
    HostLost(String),
}

/// What one pass decided to do about a container or dyno.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// A dyno of the formation has no container: create one.
    Start { process_type: String, index: i64 },
    /// A crashed container whose backoff has passed, or one the engine
    /// stopped when it went away: start it again.
    StartAgain {
        id: String,
        dyno: String,
        why: Stopped,
    },
    /// A container that the desired state has no place for.
    Remove { id: String, dyno: String },
}

impl Platform {
    /// One pass over every app: converge, follow output, report crashes.
    /// Also removes this platform's containers of apps that no longer exist.
    pub async fn reconcile(&self) -> Result<()> {
        let apps = self.store.apps_visible_to(0, true).await?;
        let engine = self.runtime()?;
        let containers = engine
            .containers_of(ContainerSelector::platform(&self.platform_id))
            .await?;
        self.forget_gone(&containers.iter().map(|c| c.id.as_str()).collect());
        let _ = self
            .supervision
            .found_at_start
            .set(containers.iter().map(|c| c.id.clone()).collect());
        for container in &containers {
            if container.state == "running" {
                self.supervision.seen_running(&container.id);
            } else {
                self.supervision.seen_stopped(&container.id);
            }
        }
        let mut by_app: HashMap<&str, Vec<&ContainerSummary>> = HashMap::new();
        for container in &containers {
            let Some(owner) = container
                .process
                .as_ref()
                .map(|process| process.app.as_str())
            else {
                continue;
            };
            if apps.iter().any(|app| app.name == owner) {
                by_app.entry(owner).or_default().push(container);
            } else {
                tracing::warn!(app = %owner, container = %container.name, "removing a container of an app that no longer exists");
                engine.stop_and_remove(&container.id, STOP_GRACE).await?;
            }
        }
        // Apps still moving onto the swarm: dynos of theirs on the default engine.
        let moving: HashSet<String> = self
            .engine_dynos(None)
            .await?
            .into_iter()
            .filter_map(|c| c.process.map(|process| process.app))
            .collect();
        for app in &apps {
            let containers = by_app.remove(app.name.as_str()).unwrap_or_default();
            let moving = moving.contains(&app.name);
            if let Err(error) = self.reconcile_app(app, &containers, moving).await {
                tracing::warn!(app = %app.name, %error, "cannot converge the app's processes");
            }
        }
        self.sync_drains().await
    }

    /// `moving`: the app still has dynos on the default engine to retire.
    async fn reconcile_app(
        &self,
        app: &AppRecord,
        containers: &[&ContainerSummary],
        moving: bool,
    ) -> Result<()> {
        let Some((release, formation)) = self.desired(app).await? else {
            return Ok(());
        };
        self.follow_running(app, &release, containers).await;
        let oom = self.out_of_memory_kills(&release, containers).await;
        if self
            .plan(app, &release, &formation, containers, &oom)
            .is_empty()
            && !moving
        {
            return Ok(());
        }
        // Another change of the app is under way: it converges the app itself.
        let Some(lease) = self.try_lock_app(app).await? else {
            return Ok(());
        };
        let outcome = self.converge_locked(app).await;
        lease.release().await?;
        outcome
    }

    /// The app's current release and formation, if it has a release.
    async fn desired(
        &self,
        app: &AppRecord,
    ) -> Result<Option<(ReleaseRecord, Vec<(String, i64)>)>> {
        let Some(version) = app.current_release else {
            return Ok(None);
        };
        let Some(release) = self.store.release(app.id, version).await? else {
            return Ok(None);
        };
        Ok(Some((release, self.store.formation(app.id).await?)))
    }

    /// Plans again from what the store and engine say now that the lease is
    /// held (a change may have finished meanwhile, or the app gone), and acts.
    async fn converge_locked(&self, app: &AppRecord) -> Result<()> {
        let Some(app) = self
            .store
            .apps_visible_to(0, true)
            .await?
            .into_iter()
            .find(|a| a.id == app.id)
        else {
            return Ok(());
        };
        let Some((release, formation)) = self.desired(&app).await? else {
            return Ok(());
        };
        let containers = self.app_containers(&app.name, None).await?;
        let containers: Vec<&ContainerSummary> = containers.iter().collect();
        let oom = self.out_of_memory_kills(&release, &containers).await;
        let steps = self.plan(&app, &release, &formation, &containers, &oom);
        if steps.iter().any(|step| matches!(step, Step::Start { .. })) {
            self.join_addons_to_swarm(&app).await?;
        }
        self.converge(&app, &release, steps).await?;
        // Dynos that moved onto the swarm now serve: the old ones go.
        self.retire_engine_dynos(&app).await
    }

    /// Reports new crashes and decides what to change. Changes nothing.
    fn plan(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        formation: &[(String, i64)],
        containers: &[&ContainerSummary],
        out_of_memory: &HashMap<String, String>,
    ) -> Vec<Step> {
        let wanted = |process_type: &str, index: i64| {
            release
                .processes
                .iter()
                .any(|p| p.process_type == process_type)
                && formation
                    .iter()
                    .any(|(t, quantity)| t == process_type && index <= *quantity)
        };
        let mut steps = Vec::new();
        let mut present = Vec::new();
        for container in containers {
            // One-off dynos (`run.1234`) come and go on their own.
            let Some(process) = container
                .process
                .as_ref()
                .filter(|process| process.is_formation_dyno() && process.process_type != "run")
            else {
                continue;
            };
            let Some(dyno) = &process.dyno else { continue };
            let index = process.index().unwrap_or(0);
            let in_current = process.release == release.version;
            if !in_current || !wanted(&process.process_type, index) || present.contains(dyno) {
                steps.push(Step::Remove {
                    id: container.id.clone(),
                    dyno: dyno.clone(),
                });
                continue;
            }
            present.push(dyno.clone());
            match container.state.as_str() {
                "exited" | "dead" if self.supervision.stopped_by_engine(&container.id) => {
                    steps.push(Step::StartAgain {
                        id: container.id.clone(),
                        dyno: dyno.clone(),
                        why: Stopped::ByEngine,
                    });
                }
                "exited" if container.lost_with_host().is_some() => {
                    steps.push(Step::StartAgain {
                        id: container.id.clone(),
                        dyno: dyno.clone(),
                        why: Stopped::HostLost(
                            container.lost_with_host().unwrap_or_default().to_string(),
                        ),
                    });
                }
                "exited" | "dead"
                    if self.crashed_and_due(
                        app,
                        dyno,
                        container,
                        out_of_memory.get(&container.id),
                    ) =>
                {
                    steps.push(Step::StartAgain {
                        id: container.id.clone(),
                        dyno: dyno.clone(),
                        why: Stopped::Crashed,
                    });
                }
                "running" => {
                    self.supervision.no_longer_stopped_by_engine(&container.id);
                    self.still_up(&container.id);
                }
                _ => {}
            }
        }
        for process in &release.processes {
            let quantity = formation
                .iter()
                .find(|(t, _)| *t == process.process_type)
                .map_or(0, |(_, quantity)| *quantity);
            for index in 1..=quantity {
                if !present.contains(&format!("{}.{index}", process.process_type)) {
                    steps.push(Step::Start {
                        process_type: process.process_type.clone(),
                        index,
                    });
                }
            }
        }
        steps
    }

    /// For the dynos that newly stopped killed for their memory: why, by
    /// container id (crashes already reported are not asked about again).
    async fn out_of_memory_kills(
        &self,
        release: &ReleaseRecord,
        containers: &[&ContainerSummary],
    ) -> HashMap<String, String> {
        let new: Vec<&ContainerSummary> = {
            let crashes = self.supervision.crashes.lock().expect("crash records lock");
            containers
                .iter()
                .copied()
                .filter(|c| !crashes.contains_key(&c.id))
                .collect()
        };
        self.out_of_memory_reasons(Some(release), new).await
    }

    /// Records a crash of `dyno` the first time it is seen (and logs it);
    /// true once its backoff has passed.
    fn crashed_and_due(
        &self,
        app: &AppRecord,
        dyno: &str,
        container: &ContainerSummary,
        out_of_memory: Option<&String>,
    ) -> bool {
        let now = Instant::now();
        let mut crashes = self.supervision.crashes.lock().expect("crash records lock");
        let key = container.id.clone();
        let new_crash = match crashes.get(&key) {
            None => Some(1),
            Some(Crash {
                restarted_at: Some(restarted_at),
                count,
                ..
            }) => Some(if restarted_at.elapsed() >= BACKOFF_RESET_AFTER {
                1
            } else {
                count + 1
            }),
            Some(Crash {
                restarted_at: None, ..
            }) => None,
        };
        if let Some(count) = new_crash {
            let delay = restart_delay(count);
            let code = container
                .exit_code()
                .map_or_else(String::new, |code| format!(" (exit code {code})"));
            if let Some(why) = out_of_memory {
                self.logs
                    .write(&app.name, LogLine::now(LogSource::Berth, dyno, why));
            }
            let message = format!(
                "State changed from up to crashed{code}; restarting in {} s",
                delay.as_secs()
            );
            self.logs
                .write(&app.name, LogLine::now(LogSource::Berth, dyno, &message));
            crashes.insert(
                key,
                Crash {
                    count,
                    restart_at: now + delay,
                    restarted_at: None,
                },
            );
            return false;
        }
        crashes
            .get(&key)
            .is_some_and(|crash| now >= crash.restart_at)
    }

    /// A running container that has stayed up long enough forgets its crashes.
    fn still_up(&self, id: &str) {
        let mut crashes = self.supervision.crashes.lock().expect("crash records lock");
        if crashes
            .get(id)
            .and_then(|crash| crash.restarted_at)
            .is_some_and(|at| at.elapsed() >= BACKOFF_RESET_AFTER)
        {
            crashes.remove(id);
        }
    }

    async fn converge(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        steps: Vec<Step>,
    ) -> Result<()> {
        let engine = self.runtime()?;
        // Stopped dynos leave the router's table before any is started
        // again (each start waits for its process): until then the router
        // would keep sending to the dynos of a host that is down.
        if steps
            .iter()
            .any(|step| matches!(step, Step::StartAgain { .. }))
        {
            self.refresh_routes().await?;
        }
        let mut config: Option<BTreeMap<String, String>> = None;
        for step in steps {
            match step {
                Step::Remove { id, dyno } => {
                    tracing::info!(app = %app.name, %dyno, "stopping a process the formation has no place for");
                    engine.stop_and_remove(&id, STOP_GRACE).await?;
                }
                Step::StartAgain { id, dyno, why } => {
                    let message = match &why {
                        Stopped::ByEngine => "State changed from down to starting: the container \
                                              engine restarted"
                            .to_string(),
                        Stopped::HostLost(host) => format!(
                            "State changed from up to starting: its host {host} is down, so it \
                             starts on another host"
                        ),
                        Stopped::Crashed => "State changed from crashed to starting".to_string(),
                    };
                    self.logs
                        .write(&app.name, LogLine::now(LogSource::Berth, &dyno, &message));
                    match why {
                        Stopped::ByEngine => self.supervision.no_longer_stopped_by_engine(&id),
                        Stopped::HostLost(_) => {}
                        Stopped::Crashed => {
                            if let Some(crash) = self
                                .supervision
                                .crashes
                                .lock()
                                .expect("crash records lock")
                                .get_mut(&id)
                            {
                                crash.restarted_at = Some(Instant::now());
                            }
                        }
                    }
                    engine.start_again(&id).await?;
                    if matches!(why, Stopped::Crashed) {
                        self.metrics.dyno_restarted(&app.name, &dyno);
                    }
                    self.follow_output(&app.name, &dyno, &id, None);
                }
                Step::Start {
                    process_type,
                    index,
                } => {
                    let Some(process) = release
                        .processes
                        .iter()
                        .find(|p| p.process_type == process_type)
                    else {
                        continue;
                    };
                    let config = match &config {
                        Some(config) => config,
                        None => config.insert(self.open_release_config(app, release)?),
                    };
                    let progress = Progress::channel().0;
                    self.start_dyno(app, release, process, index, config, &progress)
                        .await?;
                }
            }
        }
        self.refresh_routes().await
    }

    /// Follows the output of running containers of the current release
    /// that nothing follows yet: after berthd restarts (lines already in the
    /// log are not copied again) and after a crashed process runs again.
    async fn follow_running(
        &self,
        app: &AppRecord,
        release: &ReleaseRecord,
        containers: &[&ContainerSummary],
    ) {
        for container in containers {
            // A one-off's output goes to its client, or (detached) is
            // copied by the one-off's own watcher.
            let Some(dyno) = container
                .process
                .as_ref()
                .filter(|process| process.is_formation_dyno() && process.release == release.version)
                .and_then(|process| process.dyno.as_ref())
            else {
                continue;
            };
            if container.state != "running" {
                continue;
            }
            let known = self
                .supervision
                .followers
                .lock()
                .expect("followers lock")
                .get(&container.id)
                .map(|follower| follower.active);
            match known {
                Some(true) => {}
                Some(false) => self.follow_output(&app.name, dyno, &container.id, None),
                // Started by this berthd, and not followed yet by its
                // starter (a swarm's task runs a while before its service
                // is said started): nothing of its output is in the log,
                // from its creation on (the dyno's newest line there may
                // be another container's, newer than its first ones).
                None if !self.supervision.found_at_start(&container.id) => {
                    self.follow_output(&app.name, dyno, &container.id, None);
                }
                None => {
                    let since = self.logs.output_logged_until(&app.name, dyno).await;
                    self.follow_output(&app.name, dyno, &container.id, since);
                }
            }
        }
    }

    /// Copies a container's output into the app's log until the container
    /// stops. Following again later goes on where it left off; a container
    /// never followed before starts after `since` (None: from its creation).
    pub(crate) fn follow_output(
        &self,
        app: &str,
        dyno: &str,
        container_id: &str,
        since: Option<DateTime<Utc>>,
    ) {
        let Ok(engine) = self.runtime() else {
            return;
        };
        let copied_until = {
            let mut followers = self.supervision.followers.lock().expect("followers lock");
            let follower = followers
                .entry(container_id.to_string())
                .or_insert_with(|| Follower {
                    active: false,
                    copied_until: since
                        .map(|at| HashMap::from([(LogStream::Stdout, at), (LogStream::Stderr, at)]))
                        .unwrap_or_default(),
                });
            if follower.active {
                return;
            }
            follower.active = true;
            follower.copied_until.clone()
        };
        let supervision = self.supervision.clone();
        let (sink, app, dyno, id) = (
            self.logs.clone(),
            app.to_string(),
            dyno.to_string(),
            container_id.to_string(),
        );
        tokio::spawn(async move {
            let copied_until = copy_output(&engine, &sink, &app, &dyno, &id, copied_until).await;
            let mut followers = supervision.followers.lock().expect("followers lock");
            followers.insert(
                id,
                Follower {
                    active: false,
                    copied_until,
                },
            );
        });
    }

    /// Forgets what it knew of containers that no longer exist.
    fn forget_gone(&self, live: &HashSet<&str>) {
        let mut followers = self.supervision.followers.lock().expect("followers lock");
        followers.retain(|id, follower| follower.active || live.contains(id.as_str()));
        let mut crashes = self.supervision.crashes.lock().expect("crash records lock");
        crashes.retain(|id, _| live.contains(id.as_str()));
        self.supervision
            .stopped_by_engine
            .lock()
            .expect("stopped-by-engine lock")
            .retain(|id| live.contains(id.as_str()));
        self.supervision
            .running
            .lock()
            .expect("running lock")
            .retain(|id| live.contains(id.as_str()));
    }
}

async fn copy_output(
    engine: &Placement,
    sink: &LogSink,
    app: &str,
    dyno: &str,
    id: &str,
    mut copied_until: HashMap<LogStream, DateTime<Utc>>,
) -> HashMap<LogStream, DateTime<Utc>> {
    let mut lines = Box::pin(engine.follow_logs(id));
    while let Some(line) = lines.next().await {
        let Ok(line) = line else { break };
        if copied_until
            .get(&line.stream)
            .is_some_and(|until| line.at <= *until)
        {
            continue;
        }
        copied_until.insert(line.stream, line.at);
        sink.write(app, LogLine::at(line.at, LogSource::App, dyno, &line.text));
    }
    copied_until
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_back_off_from_one_second_doubling_up_to_five_minutes() {
        let delays: Vec<u64> = (1..=11).map(|n| restart_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(restart_delay(u32::MAX), RESTART_BACKOFF_CAP);
    }
}
