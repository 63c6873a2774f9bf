//! An app's log: the newest lines, or a live tail as server-sent events
//! that starts with them.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_api_types::LogEntry;
use berth_platform::{Action, LogFilter, LogLine, LogSource, TailEvent};
use futures_util::StreamExt;
use serde::Deserialize;

use super::extract::Authenticated;
use super::ApiError;
use crate::AppState;

/// Lines given when the request does not say.
const DEFAULT_LINES: usize = 100;
/// A comment on an idle tail, so proxies and clients know it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
pub(super) struct LogQuery {
    lines: Option<usize>,
    #[serde(rename = "type")]
    process_type: Option<String>,
    dyno: Option<String>,
    source: Option<String>,
    #[serde(default)]
    tail: bool,
}

impl LogQuery {
    fn filter(&self) -> Result<LogFilter, ApiError> {
        let source = match self.source.as_deref() {
            None | Some("") => None,
            Some(text) => Some(LogSource::parse(text).ok_or_else(|| {
                ApiError::invalid(format!("unknown source {text:?}: use app or berth"))
            })?),
        };
        let given = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        Ok(LogFilter {
            process_type: given(&self.process_type),
            dyno: given(&self.dyno),
            source,
        })
    }
}

fn entry(line: &LogLine) -> LogEntry {
    LogEntry {
        at: line.at,
        source: line.source.as_str().to_string(),
        dyno: line.dyno.clone(),
        message: line.message.clone(),
    }
}

pub(super) async fn show(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let filter = query.filter()?;
    let lines = query.lines.unwrap_or(DEFAULT_LINES);
    if !query.tail {
        let lines = state
            .platform
            .app_logs(&session.actor, &name, &filter, lines)
            .await?;
        return Ok(Json(lines.iter().map(entry).collect::<Vec<_>>()).into_response());
    }
    let app = state.platform.app(&session.actor, &name).await?;
    let events = state
        .platform
        .tail_app_logs(&session.actor, &name, filter, lines)
        .await?;
    // The tail ends when its reader loses access to this app.
    let lost = async move {
        state
            .platform
            .access_lost(&session, &app, Action::ReadApp)
            .await;
    };
    let events = events.take_until(lost).map(|event| {
        let entry = match event {
            TailEvent::Line(line) => entry(&line),
            TailEvent::Dropped(lost) => entry(&LogLine::now(
                LogSource::Berth,
                "logs",
                &format!("… {lost} lines dropped: this tail fell behind"),
            )),
        };
        Ok::<_, Infallible>(
            Event::default().data(serde_json::to_string(&entry).expect("entries serialize")),
        )
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}
