//! Watching the container engine. berthd keeps a subscription to the
//! engine's events for its containers, which also say which of them run.
//! The subscription breaks when the engine goes away (it closes its API
//! first thing when it stops, and a killed one drops the connection), and a
//! new one succeeds once it answers again. Then the reconciler runs at once
//! instead of at its next tick, and the processes that were running when
//! the engine went away and that it stopped (a restarted engine has stopped
//! every container) are started again straight away, as stopped by the
//! engine rather than crashed: no crash is logged and no restart backoff
//! grows.

use std::future::Future;
use std::time::Duration;

use berth_docker::{ContainerSelector, Runtime};
use futures_util::StreamExt;

use crate::Platform;

/// The first wait before asking an engine that went away again; each
/// further failure doubles it, up to [`RECONNECT_CAP`].
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_CAP: Duration = Duration::from_secs(2);

impl Platform {
    /// Follows the engine until `stop` resolves: notices when it goes away
    /// and when it answers again (see the module documentation).
    pub async fn watch_engine(&self, stop: impl Future<Output = ()>) {
        let Ok(runtime) = self.runtime() else {
            return;
        };
        let engine = runtime.engine();
        tokio::pin!(stop);
        let mut away = false;
        let mut wait = RECONNECT_FIRST;
        loop {
            let answered = tokio::select! {
                () = &mut stop => return,
                answered = engine.info() => answered,
            };
            match answered {
                Err(error) if !away => {
                    tracing::warn!(host = engine.host(), %error, "the container engine went away; waiting for it");
                    self.supervision.engine_went_away();
                    away = true;
                }
                Err(_) => {}
                Ok(_) => {
                    if away {
                        tracing::info!(host = engine.host(), "the container engine answers again");
                        away = false;
                        self.reconcile_wanted.notify_one();
                    }
                    wait = RECONNECT_FIRST;
                    let mut events =
                        Box::pin(runtime.events_of(ContainerSelector::platform(&self.platform_id)));
                    let ended = loop {
                        tokio::select! {
                            () = &mut stop => return,
                            event = events.next() => match event {
                                // A stop is left to the passes: an engine
                                // that stops reports each container's `die`
                                // on this stream before it closes it.
                                Some(Ok(event)) if event.action == "start" => {
                                    self.supervision.seen_running(&event.id);
                                }
                                Some(Ok(_)) => {}
                                Some(Err(error)) => break error.to_string(),
                                None => break "the engine ended the stream".to_string(),
                            },
                        }
                    };
                    // A stream can also end with the engine still there
                    // (a proxy's idle timeout): only an engine that does not
                    // answer has gone away.
                    if engine.info().await.is_err() {
                        tracing::warn!(host = engine.host(), error = %ended, "the container engine went away; waiting for it");
                        self.supervision.engine_went_away();
                        away = true;
                    }
                }
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(RECONNECT_CAP);
        }
    }

    /// Resolves when the reconciler should run now rather than at its next
    /// tick: the engine answers again after it went away.
    pub async fn reconcile_wanted(&self) {
        self.reconcile_wanted.notified().await;
    }
}
