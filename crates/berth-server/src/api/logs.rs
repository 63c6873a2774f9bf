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
use utoipa::IntoParams;

use super::extract::Authenticated;
use super::openapi::errors::{Invalid, NotFound, ServerError, Unauthorized};
use super::ApiError;
use crate::AppState;

/// Lines given when the request does not say.
const DEFAULT_LINES: usize = 100;
/// A comment on an idle tail, so proxies and clients know it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LogQuery {
    /// How many of the newest lines (default 100).
    lines: Option<usize>,
    /// Only this process type's lines, e.g. `web`.
    #[serde(rename = "type")]
    process_type: Option<String>,
    /// Only this dyno's lines, e.g. `web.1` or `router`.
    dyno: Option<String>,
    /// Only `app` or only `berth` lines.
    source: Option<String>,
    /// Go on with new lines as they come, as server-sent events.
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

/// The app's newest log lines; with `tail=true`, those and then new ones live.
#[utoipa::path(
    get,
    path = "/api/v1/apps/{name}/logs",
    operation_id = "show_logs",
    tag = "logs",
    params(
        ("name" = String, Path, description = "The app's name"),
        LogQuery,
    ),
    responses(
        (
            status = 200,
            description = "The lines, oldest first; with `tail=true` a stream of server-sent \
                           events, each one's `data` a log entry as JSON",
            content(([LogEntry] = "application/json"), (String = "text/event-stream")),
        ),
        Unauthorized, NotFound, Invalid, ServerError,
    ),
    security(("token" = [])),
)]
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
