//! One-off processes on a terminal (`berth run` from a terminal): the
//! request upgrades the connection (`Upgrade: berth-run`), then keystrokes,
//! window sizes and output travel as [`Frame`]s until the process ends and
//! its exit code is sent. A client that goes away kills and removes the
//! container.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{CONNECTION, UPGRADE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_api_types::terminal::{Frame, UPGRADE_PROTOCOL};
use berth_api_types::{ErrorBody, TerminalRunRequest};
use berth_docker::TerminalSession;
use berth_platform::Action;
use futures_util::StreamExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::extract::{Authenticated, JsonBody};
use super::openapi::errors::{
    BadRequest, Forbidden, Invalid, NotFound, PayloadTooLarge, ServerError, Unauthorized,
    Unavailable,
};
use super::ApiError;
use crate::AppState;

/// The upgrade to the terminal protocol, if the request asks for it.
pub(super) struct TerminalUpgrade(Option<OnUpgrade>);

impl<S: Send + Sync> FromRequestParts<S> for TerminalUpgrade {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let asks = parts
            .headers
            .get(UPGRADE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.eq_ignore_ascii_case(UPGRADE_PROTOCOL));
        Ok(Self(
            asks.then(|| parts.extensions.remove::<OnUpgrade>())
                .flatten(),
        ))
    }
}

/// Runs a one-off process on a terminal: the connection upgrades to `berth-run`, whose frames
/// carry keystrokes, window sizes, output and, last, the exit code.
#[utoipa::path(
    post,
    path = "/api/v1/apps/{name}/dynos/run/tty",
    operation_id = "run_on_terminal",
    tag = "dynos",
    params(
        ("name" = String, Path, description = "The app's name"),
        ("Upgrade" = String, Header, description = "`berth-run`, with `Connection: upgrade`"),
    ),
    request_body = TerminalRunRequest,
    responses(
        (status = 101, description = "The connection speaks `berth-run` frames from here on"),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, Invalid,
        (
            status = 426,
            description = "The request did not ask for `Upgrade: berth-run`",
            body = ErrorBody,
        ),
        ServerError, Unavailable,
    ),
    security(("token" = [])),
)]
pub(super) async fn run(
    State(state): State<AppState>,
    Authenticated(session): Authenticated,
    Path(name): Path<String>,
    TerminalUpgrade(upgrade): TerminalUpgrade,
    JsonBody(request): JsonBody<TerminalRunRequest>,
) -> Result<Response, ApiError> {
    let Some(upgrade) = upgrade else {
        // Who may not run one-offs of the app hears that, as on any app route.
        state
            .platform
            .authorize_oneoff(&session.actor, &name)
            .await?;
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            format!("a terminal session needs an HTTP/1.1 `Upgrade: {UPGRADE_PROTOCOL}`"),
        ));
    };
    let app = state
        .platform
        .authorize_oneoff(&session.actor, &name)
        .await?;
    // Errors before the process starts (no such app, no release) get their own status.
    let terminal = state
        .platform
        .run_on_terminal(
            &session.actor,
            &name,
            &request.run.command,
            request.run.env,
            (request.size.rows, request.size.cols),
        )
        .await?;
    tokio::spawn(async move {
        let lost = state
            .platform
            .access_lost(&session, &app, Action::Configure);
        match upgrade.await {
            Ok(upgraded) => shuttle(terminal, TokioIo::new(upgraded), lost).await,
            // Dropping the session removes the container.
            Err(error) => tracing::debug!(%error, "a terminal client left before the upgrade"),
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static(UPGRADE_PROTOCOL));
    Ok(response)
}

/// Moves keystrokes and sizes to the process and output to the client until
/// either ends, or the caller's access (`lost`); then removes the container
/// and, if the client is still there, tells it the exit code.
async fn shuttle(
    terminal: TerminalSession,
    client: impl AsyncRead + AsyncWrite,
    lost: impl std::future::Future<Output = ()>,
) {
    let TerminalSession {
        mut input,
        mut output,
        control,
    } = terminal;
    let (mut from_client, mut to_client) = tokio::io::split(client);
    let upstream = async {
        let mut buffer = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            match from_client.read(&mut chunk).await {
                Ok(0) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                Err(error) => {
                    tracing::debug!(%error, "a terminal client's connection failed");
                    return;
                }
            }
            loop {
                match Frame::decode(&mut buffer) {
                    Ok(Some(Frame::Data(bytes))) => {
                        if let Err(error) = input.write_all(&bytes).await {
                            // The process may have closed its stdin: output still matters.
                            tracing::debug!(%error, "cannot type into a one-off");
                        }
                    }
                    Ok(Some(Frame::Resize(size))) => {
                        if let Err(error) = control.resize(size.rows, size.cols).await {
                            tracing::warn!(%error, "cannot resize a one-off's terminal");
                        }
                    }
                    // Only the server ends a session.
                    Ok(Some(Frame::Exit(_) | Frame::Error(_))) => {}
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, "a terminal client sent a bad frame");
                        return;
                    }
                }
            }
        }
    };
    let downstream = async {
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(bytes) => {
                    if to_client.write_all(&Frame::data(&bytes)).await.is_err() {
                        return None;
                    }
                }
                Err(error) => return Some(Frame::Error(error.to_string())),
            }
        }
        // The output ends with the process.
        Some(match control.exit_code().await {
            Ok(code) => Frame::Exit(code),
            Err(error) => Frame::Error(error.to_string()),
        })
    };
    let last = tokio::select! {
        () = upstream => None,
        last = downstream => last,
        () = lost => Some(Frame::Error(
            "your access to this app ended: the one-off was stopped".into(),
        )),
    };
    // Dropping what is left of the session removes the container: the
    // client went away, or the output failed.
    drop((input, output));
    let Some(mut last) = last else { return };
    // Removed before the client hears the end, so that a finished `berth
    // run` leaves nothing behind.
    if let Err(error) = control.finish().await {
        tracing::warn!(%error, "cannot remove a finished one-off");
        if matches!(last, Frame::Exit(_)) {
            last = Frame::Error(error.to_string());
        }
    }
    let _ = to_client.write_all(&last.encode()).await;
    let _ = to_client.shutdown().await;
}
