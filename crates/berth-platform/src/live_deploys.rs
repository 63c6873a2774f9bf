//! Deploys in progress, as someone watching from the dashboard sees them:
//! the same lines `git push` shows, kept while the deploy runs (bounded) so
//! a page opened halfway starts from the beginning, and its outcome once
//! it ends. Held in this berthd's memory: a page served by another berthd
//! on the same store sees the release's phase, and its output once stored.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::{Action, Actor};
use berth_store::{AppRecord, ReleaseRecord};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::{Platform, Progress, Result};

/// The most lines a watched deploy keeps; older ones give way (the pusher
/// and the stored release output are not bounded by this).
const KEPT_LINES: usize = 2000;
/// The longest line kept, in bytes; longer ones are cut.
const LINE_BYTES: usize = 4096;
/// How long a finished deploy stays to be seen (its end, by a page that
/// looks just after).
const KEPT_AFTER_END: Duration = Duration::from_secs(600);
/// The lines a finished deploy keeps meanwhile: the end of its story (the
/// release's stored output has the rest).
const KEPT_LINES_AFTER_END: usize = 200;
/// A deploy that ended longer ago than this is no news to a page opening.
const RECENT_END: Duration = Duration::from_secs(60);

/// The deploys of this berthd, one per app at most (the app's lease
/// serialises them).
#[derive(Clone, Default)]
pub(crate) struct LiveDeploys {
    by_app: Arc<Mutex<HashMap<i64, Arc<LiveDeploy>>>>,
    /// Bumped when a deploy begins anywhere: watchers waiting for one wake.
    begun: Arc<watch::Sender<u64>>,
}

/// One deploy in progress or just finished.
pub struct LiveDeploy {
    /// What runs, e.g. `Deploy of 1a2b3c4 by dev@example.com`.
    pub what: String,
    pub started_at: DateTime<Utc>,
    state: Mutex<WatchedState>,
    /// Bumped on every new line and at the end.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct WatchedState {
    /// The kept lines, and how many came before them (given way).
    lines: VecDeque<String>,
    dropped: usize,
    /// The release it made, once made.
    release: Option<i64>,
    outcome: Option<DeployOutcome>,
    ended_at: Option<std::time::Instant>,
}

/// How a watched deploy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployOutcome {
    Released { version: i64 },
    Failed { message: String },
}

/// What a watcher has not seen yet of a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployUpdate {
    /// Lines after the ones already seen; `skipped` more gave way before
    /// the watcher could see them.
    pub lines: Vec<String>,
    pub skipped: usize,
    /// Where the next look starts.
    pub next: usize,
    pub release: Option<i64>,
    pub outcome: Option<DeployOutcome>,
}

impl LiveDeploy {
    fn push_line(&self, line: &str) {
        let mut state = self.state.lock().expect("live deploy lock");
        let mut end = line.len().min(LINE_BYTES);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        state.lines.push_back(line[..end].to_string());
        if state.lines.len() > KEPT_LINES {
            state.lines.pop_front();
            state.dropped += 1;
        }
        drop(state);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn set_release(&self, version: i64) {
        self.state.lock().expect("live deploy lock").release = Some(version);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Records how it ended; the first end counts. Only the last lines
    /// stay kept from then on.
    pub(crate) fn finish(&self, outcome: DeployOutcome) {
        let mut state = self.state.lock().expect("live deploy lock");
        if state.outcome.is_some() {
            return;
        }
        state.outcome = Some(outcome);
        state.ended_at = Some(std::time::Instant::now());
        while state.lines.len() > KEPT_LINES_AFTER_END {
            state.lines.pop_front();
            state.dropped += 1;
        }
        drop(state);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The lines from line `from` on (counting lines that gave way), as
    /// many as fit in `byte_budget`, one at least.
    pub fn since(&self, from: usize, byte_budget: usize) -> DeployUpdate {
        let state = self.state.lock().expect("live deploy lock");
        let first_kept = state.dropped;
        let start = from.max(first_kept);
        let mut bytes = 0;
        DeployUpdate {
            lines: state
                .lines
                .iter()
                .skip(start - first_kept)
                .take_while(|line| {
                    let first = bytes == 0;
                    bytes += line.len().max(1);
                    first || bytes <= byte_budget
                })
                .cloned()
                .collect(),
            skipped: start - from,
            next: first_kept + state.lines.len(),
            release: state.release,
            outcome: state.outcome.clone(),
        }
    }

    /// Whether it ended long enough ago to be no news to a page opening now.
    pub fn ended_a_while_ago(&self) -> bool {
        let state = self.state.lock().expect("live deploy lock");
        state
            .ended_at
            .is_some_and(|ended| ended.elapsed() > RECENT_END)
    }

    pub fn has_ended(&self) -> bool {
        self.state
            .lock()
            .expect("live deploy lock")
            .outcome
            .is_some()
    }

    /// A receiver that changes at each new line, the release, and the end.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn expired(&self) -> bool {
        let state = self.state.lock().expect("live deploy lock");
        state
            .ended_at
            .is_some_and(|ended| ended.elapsed() > KEPT_AFTER_END)
    }
}

impl LiveDeploys {
    /// Starts watching a deploy of `app_id`; it replaces the app's last one.
    pub(crate) fn begin(&self, app_id: i64, what: String) -> Arc<LiveDeploy> {
        let deploy = Arc::new(LiveDeploy {
            what,
            started_at: Utc::now(),
            state: Mutex::default(),
            changed: watch::Sender::new(0),
        });
        let mut by_app = self.by_app.lock().expect("live deploys lock");
        by_app.retain(|_, deploy| !deploy.expired());
        by_app.insert(app_id, deploy.clone());
        drop(by_app);
        self.begun.send_modify(|n| *n = n.wrapping_add(1));
        deploy
    }

    fn of(&self, app_id: i64) -> Option<Arc<LiveDeploy>> {
        let mut by_app = self.by_app.lock().expect("live deploys lock");
        by_app.retain(|_, deploy| !deploy.expired());
        by_app.get(&app_id).cloned()
    }

    /// The app's deploy if one runs now.
    pub(crate) fn running(&self, app_id: i64) -> Option<Arc<LiveDeploy>> {
        self.of(app_id).filter(|deploy| !deploy.has_ended())
    }

    /// Forgets a destroyed app's deploy.
    pub(crate) fn forget(&self, app_id: i64) {
        self.by_app
            .lock()
            .expect("live deploys lock")
            .remove(&app_id);
    }
}

/// A deploy being watched. Dropped before the deploy said how it ended (a
/// task that failed or was cut short), it ends as failed, so no page shows
/// it running forever.
pub(crate) struct Watch {
    deploy: Arc<LiveDeploy>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.deploy.finish(DeployOutcome::Failed {
            message: "the deploy stopped without an outcome: berthd's log says more".into(),
        });
    }
}

impl Progress {
    /// This progress, and every line of it also kept for `deploy`'s watchers.
    pub(crate) fn watched_as(&self, deploy: Arc<LiveDeploy>) -> Progress {
        Progress {
            lines: self.lines.clone(),
            watched: Some(deploy),
        }
    }

    pub(crate) fn tee(&self, line: &str) {
        if let Some(deploy) = &self.watched {
            deploy.push_line(line);
        }
    }

    /// Tells the watchers which release the deploy made.
    pub(crate) fn release_made(&self, version: i64) {
        if let Some(deploy) = &self.watched {
            deploy.set_release(version);
        }
    }

    /// Tells the watchers how the deploy ended.
    pub(crate) fn deploy_ended(&self, result: &Result<ReleaseRecord>) {
        if let Some(deploy) = &self.watched {
            deploy.finish(match result {
                Ok(release) => DeployOutcome::Released {
                    version: release.version,
                },
                Err(error) => DeployOutcome::Failed {
                    message: error.to_string(),
                },
            });
        }
    }
}

impl Platform {
    /// `progress`, also shown to whoever watches `app`'s deploys, while the
    /// `Watch` is held: called once the deploy holds the app's lease, so it
    /// never hides the one running.
    pub(crate) fn watch_deploy(
        &self,
        app: &AppRecord,
        what: String,
        progress: &Progress,
    ) -> (Progress, Watch) {
        let deploy = self.live_deploys.begin(app.id, what);
        (progress.watched_as(deploy.clone()), Watch { deploy })
    }

    /// The app's deploy in progress, or just finished, on this berthd: for
    /// those who may read the app.
    pub async fn live_deploy(
        &self,
        actor: &Actor,
        app_name: &str,
    ) -> Result<Option<Arc<LiveDeploy>>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        Ok(self.live_deploys.of(app.id))
    }

    /// A receiver that changes whenever a deploy begins on this berthd.
    pub fn deploys_begun(&self) -> watch::Receiver<u64> {
        self.live_deploys.begun.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_watcher_sees_the_kept_lines_and_how_many_gave_way() {
        let deploys = LiveDeploys::default();
        let deploy = deploys.begin(1, "Deploy".into());
        for n in 0..KEPT_LINES + 5 {
            deploy.push_line(&format!("line {n}"));
        }
        let update = deploy.since(0, usize::MAX);
        assert_eq!(update.skipped, 5);
        assert_eq!(update.lines.len(), KEPT_LINES);
        assert_eq!(update.lines[0], "line 5");
        assert_eq!(update.next, KEPT_LINES + 5);
        deploy.push_line("last");
        let update = deploy.since(update.next, usize::MAX);
        assert_eq!(
            (update.lines, update.skipped),
            (vec!["last".to_string()], 0)
        );
        assert_eq!(update.outcome, None);
    }

    #[test]
    fn a_deploy_dropped_without_an_end_ends_as_failed_keeping_its_last_lines() {
        let deploys = LiveDeploys::default();
        let deploy = deploys.begin(7, "Deploy".into());
        let watch = Watch {
            deploy: deploy.clone(),
        };
        for n in 0..KEPT_LINES_AFTER_END + 10 {
            deploy.push_line(&format!("line {n}"));
        }
        assert!(deploys.running(7).is_some());
        drop(watch);
        assert!(deploys.running(7).is_none());
        let update = deploy.since(0, 50 * "line 10".len());
        assert!(matches!(update.outcome, Some(DeployOutcome::Failed { .. })));
        assert_eq!((update.skipped, update.lines.len()), (10, 50));
        assert_eq!(update.lines[0], "line 10");
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary_and_the_first_end_counts() {
        let deploys = LiveDeploys::default();
        let deploy = deploys.begin(1, "Deploy".into());
        deploy.push_line(&"é".repeat(LINE_BYTES));
        deploy.push_line("next");
        let update = deploy.since(0, 10);
        assert_eq!(update.lines.len(), 1, "one line at least, then the budget");
        assert_eq!(update.lines[0].len(), LINE_BYTES);
        deploy.set_release(3);
        deploy.finish(DeployOutcome::Released { version: 3 });
        assert!(!deploy.ended_a_while_ago());
        deploy.finish(DeployOutcome::Failed {
            message: "late".into(),
        });
        let update = deploy.since(1, usize::MAX);
        assert_eq!(update.release, Some(3));
        assert_eq!(update.outcome, Some(DeployOutcome::Released { version: 3 }));
        assert!(deploys.of(1).is_some());
        assert!(deploys.running(1).is_none());
        deploys.forget(1);
        assert!(deploys.of(1).is_none());
    }
}
