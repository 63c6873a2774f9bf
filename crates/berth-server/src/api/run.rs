//! One-off processes (`berth run`): the output streams back as JSON lines,
//! ending with the exit code. A client that goes away stops the process.
//! Detached ones (`berth run:detached`) answer with the dyno's name at once.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_api_types::{DetachedRun, RunEvent, RunRequest};
use berth_docker::LogStream;
use berth_platform::{Action, PlatformError};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
    Unavailable,
};
use super::ApiError;
use crate::AppState;

enum Message {
    Event(RunEvent),
    Failed(PlatformError),
}

/// Runs a one-off process of the current release; its output streams back. A client that goes
/// away stops it.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/dynos/run",
    operation_id = "run",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = RunRequest,
    responses(
        (
            status = 200,
            description = "One `RunEvent` a line as the process runs, the last its exit (or an \
                           error)",
            body = RunEvent,
            content_type = "application/x-ndjson",
        ),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, Invalid, ServerError,
        Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn run(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<RunRequest>,
) -> Result<Response, ApiError> {
    let app = state
        .platform
        .authorize_oneoff(&session.actor, &name)
        .await?;
    let (watcher, watched) = (state.clone(), session.clone());
    let (sender, mut messages) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let output = sender.clone();
        let running = state.platform.run_oneoff(
            &session.actor,
            &name,
            &request.command,
            request.env,
            move |line| {
                let stream = match line.stream {
                    LogStream::Stdout => "stdout",
                    LogStream::Stderr => "stderr",
                };
                let _ = output.send(Message::Event(RunEvent::Output {
                    stream: stream.into(),
                    line: line.text,
                }));
            },
        );
        // Dropping the run when the client has gone kills and removes its container.
        let message = tokio::select! {
            result = running => match result {
                Ok(code) => Message::Event(RunEvent::Exit { code }),
                Err(error) => Message::Failed(error),
            },
            () = sender.closed() => return,
        };
        let _ = sender.send(message);
    });
    // Errors before any output (no such app, no release) get their own status.
    let first = match messages.recv().await {
        Some(Message::Failed(error)) => return Err(error.into()),
        Some(Message::Event(event)) => event,
        None => {
            return Err(ApiError::from(PlatformError::Internal(
                "the run ended without a word".into(),
            )))
        }
    };
    // The output ends (and so the process) when the caller loses the right
    // to run it.
    let lost = async move {
        watcher
            .platform
            .access_lost(&watched, &app, Action::Configure)
            .await;
    };
    let stream = events(first, messages).take_until(lost);
    Ok((
        [(CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Starts a one-off process of the current release in the background.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/dynos/run/detached",
    operation_id = "run_detached",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
    ),
    request_body = RunRequest,
    responses(
        (status = 201, description = "The one-off dyno started", body = DetachedRun),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, Invalid, ServerError,
        Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn run_detached(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<RunRequest>,
) -> Result<(StatusCode, Json<DetachedRun>), ApiError> {
    let dyno = state
        .platform
        .run_detached(&session.actor, &name, &request.command, request.env)
        .await?;
    Ok((StatusCode::CREATED, Json(DetachedRun { dyno })))
}

/// The events as JSON lines: `first`, then the rest as they come.
fn events(
    first: RunEvent,
    messages: mpsc::UnboundedReceiver<Message>,
) -> impl futures_util::Stream<Item = Result<String, Infallible>> {
    let line = |event: &RunEvent| {
        format!(
            "{}\n",
            serde_json::to_string(event).expect("events serialize")
        )
    };
    let rest = futures_util::stream::unfold(messages, move |mut messages| async move {
        let event = match messages.recv().await? {
            Message::Event(event) => event,
            Message::Failed(error) => RunEvent::Error {
                message: error.to_string(),
            },
        };
        Some((Ok(line(&event)), messages))
    });
    futures_util::stream::once(std::future::ready(Ok::<_, Infallible>(line(&first)))).chain(rest)
}
