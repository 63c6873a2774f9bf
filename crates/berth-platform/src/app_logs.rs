//! Reading an app's log: its history and a live tail, for whoever may read the app.

use berth_core::{Action, Actor};
use futures_util::Stream;

use crate::logs::{LogFilter, LogLine, TailEvent};
use crate::{Platform, PlatformError, Result};

/// The most lines one request may ask for.
pub const MAX_LOG_LINES: usize = 10_000;

fn check_count(count: usize) -> Result<()> {
    if count > MAX_LOG_LINES {
        return Err(PlatformError::Invalid(format!(
            "at most {MAX_LOG_LINES} lines can be fetched at once (asked for {count})"
        )));
    }
    Ok(())
}

impl Platform {
    /// The newest `count` lines of the app's log that match `filter`, oldest first.
    pub async fn app_logs(
        &self,
        actor: &Actor,
        app_name: &str,
        filter: &LogFilter,
        count: usize,
    ) -> Result<Vec<LogLine>> {
        check_count(count)?;
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        self.logs
            .history(&app.name, filter, count)
            .await
            .map_err(|e| {
                PlatformError::Internal(format!("cannot read the log of {}: {e}", app.name))
            })
    }

    /// The newest `count` matching lines, then new ones as they come.
    pub async fn tail_app_logs(
        &self,
        actor: &Actor,
        app_name: &str,
        filter: LogFilter,
        count: usize,
    ) -> Result<impl Stream<Item = TailEvent> + Send + 'static> {
        check_count(count)?;
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        self.logs
            .follow(&app.name, filter, count)
            .await
            .map_err(|e| {
                PlatformError::Internal(format!("cannot read the log of {}: {e}", app.name))
            })
    }
}
