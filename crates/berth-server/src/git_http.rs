//! Git over smart HTTP at `/<app>.git`: `info/refs`, `git-upload-pack`
//! (clone, fetch) and `git-receive-pack` (push), served by the `git`
//! program run with an argv.
//!
//! A push deploys before any ref moves: the repository's pre-receive hook
//! (a few lines of `sh`) hands the ref updates to berthd through a pair of
//! FIFOs in a private per-push directory, prints berthd's progress as it
//! comes (the pusher sees `remote:` lines, live) and exits with the
//! deploy's status, so git moves the ref only when the deploy succeeded.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use berth_core::Action;
use berth_platform::{AppLease, PlatformError, Progress, PushOutcome, RefUpdate, Session};
use futures_util::TryStreamExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::Command;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::api::Origin;
use crate::AppState;

const PRE_RECEIVE_HOOK: &str = r#"#!/bin/sh
# Installed by Berth: hands each push to berthd, which builds and releases it
# before any ref moves. berthd's progress becomes the pusher's remote: lines.
if [ -z "$BERTH_PUSH_DIR" ]; then
  echo "This repository takes pushes only through Berth." >&2
  exit 1
fi
{ printf '%s\n' "$GIT_QUARANTINE_PATH"; cat; echo berth-end; } > "$BERTH_PUSH_DIR/in"
status=1
while IFS= read -r line; do
  case "$line" in
    "berth-exit "*) status=${line#berth-exit } ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$BERTH_PUSH_DIR/out"
exit "$status"
"#;

/// How long the hook may take between handing over the push and listening for the outcome.
const HOOK_ATTACH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Clone, Copy)]
enum Service {
    UploadPack,
    ReceivePack,
}

impl Service {
    fn from_query(name: &str) -> Option<Self> {
        match name {
            "git-upload-pack" => Some(Service::UploadPack),
            "git-receive-pack" => Some(Service::ReceivePack),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::UploadPack => "git-upload-pack",
            Service::ReceivePack => "git-receive-pack",
        }
    }

    /// The `git` subcommand that serves it.
    fn command(self) -> &'static str {
        &self.name()[4..]
    }

    fn action(self) -> Action {
        match self {
            Service::UploadPack => Action::ReadApp,
            Service::ReceivePack => Action::Deploy,
        }
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/{repo}/info/refs", get(info_refs))
        .route("/{repo}/git-upload-pack", post(upload_pack))
        .route("/{repo}/git-receive-pack", post(receive_pack))
}

/// Why a git request was refused, in the statuses git understands.
enum GitRefusal {
    /// git sends credentials only after a 401 with `WWW-Authenticate: Basic`.
    Unauthorized(String),
    NotFound,
    Forbidden(String),
    BadRequest(String),
    TooLarge(String),
    /// The container engine does not answer: worth trying again.
    Unavailable(String),
    Internal(String),
}

impl IntoResponse for GitRefusal {
    fn into_response(self) -> Response {
        match self {
            GitRefusal::Unauthorized(message) => (
                StatusCode::UNAUTHORIZED,
                [(WWW_AUTHENTICATE, "Basic realm=\"Berth\"")],
                format!("{message}\n"),
            )
                .into_response(),
            GitRefusal::NotFound => {
                (StatusCode::NOT_FOUND, "Repository not found\n").into_response()
            }
            GitRefusal::Forbidden(message) => {
                (StatusCode::FORBIDDEN, format!("{message}\n")).into_response()
            }
            GitRefusal::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
            }
            GitRefusal::TooLarge(message) => {
                (StatusCode::PAYLOAD_TOO_LARGE, format!("{message}\n")).into_response()
            }
            GitRefusal::Unavailable(message) => {
                (StatusCode::SERVICE_UNAVAILABLE, format!("{message}\n")).into_response()
            }
            GitRefusal::Internal(message) => {
                tracing::error!(error = %message, "git request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The server failed; its log has the details\n",
                )
                    .into_response()
            }
        }
    }
}

impl From<PlatformError> for GitRefusal {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::Unauthorized(message) => GitRefusal::Unauthorized(message),
            PlatformError::NotFound(_) => GitRefusal::NotFound,
            PlatformError::Forbidden(message) => GitRefusal::Forbidden(message),
            PlatformError::EngineUnavailable { detail } => {
                tracing::warn!(error = %detail, "the container engine does not answer");
                GitRefusal::Unavailable(PlatformError::EngineUnavailable { detail }.to_string())
            }
            other => GitRefusal::Internal(other.to_string()),
        }
    }
}

/// Authenticates (HTTP basic, any user name, an API token as the password)
/// and authorizes `service` on the app the repository belongs to.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    origin: &str,
    repo: &str,
    service: Service,
) -> Result<(Session, String, PathBuf), GitRefusal> {
    let app = repo.strip_suffix(".git").unwrap_or(repo);
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(decode_basic_password)
        .ok_or_else(|| {
            GitRefusal::Unauthorized(
                "Authentication required: use an API token as the password".into(),
            )
        })?;
    let session = state.platform.authenticate(&token, origin).await?;
    state
        .platform
        .authorize_app(&session.actor, app, service.action())
        .await?;
    let path = state.platform.repository(app)?;
    Ok((session, app.to_string(), path))
}

fn decode_basic_password(encoded: &str) -> Option<String> {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

#[derive(serde::Deserialize)]
struct InfoRefsQuery {
    service: Option<String>,
}

async fn info_refs(
    State(state): State<AppState>,
    Origin(origin): Origin,
    UrlPath(repo): UrlPath<String>,
    Query(query): Query<InfoRefsQuery>,
    headers: HeaderMap,
) -> Result<Response, GitRefusal> {
    let service = query
        .service
        .as_deref()
        .and_then(Service::from_query)
        .ok_or_else(|| {
            GitRefusal::BadRequest(
                "Berth speaks git's smart HTTP protocol only (git 1.6.6 or newer)".into(),
            )
        })?;
    let (_, _, path) = authorize(&state, &headers, &origin, &repo, service).await?;
    let output = Command::new("git")
        .args([service.command(), "--stateless-rpc", "--advertise-refs"])
        .arg(&path)
        .output()
        .await
        .map_err(|e| GitRefusal::Internal(format!("cannot run git {}: {e}", service.command())))?;
    if !output.status.success() {
        return Err(GitRefusal::Internal(format!(
            "git {} --advertise-refs failed: {}",
            service.command(),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let mut body = pkt_line(&format!("# service={}\n", service.name()));
    body.extend_from_slice(b"0000");
    body.extend_from_slice(&output.stdout);
    Ok((
        [
            (
                CONTENT_TYPE,
                format!("application/x-{}-advertisement", service.name()),
            ),
            (CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response())
}

fn pkt_line(text: &str) -> Vec<u8> {
    format!("{:04x}{text}", text.len() + 4).into_bytes()
}

async fn upload_pack(
    State(state): State<AppState>,
    Origin(origin): Origin,
    UrlPath(repo): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GitRefusal> {
    let (_, _, path) = authorize(&state, &headers, &origin, &repo, Service::UploadPack).await?;
    let mut child = spawn_service(Service::UploadPack, &path, None)?;
    let fed = feed_request_body(&mut child, &headers, body, state.max_git_body_bytes);
    let stdout = refuse_oversized_body(&mut child, fed, state.max_git_body_bytes).await?;
    tokio::spawn(async move {
        if let Err(error) = child.wait().await {
            tracing::warn!(%error, "git upload-pack did not finish");
        }
    });
    Ok(service_response(Service::UploadPack, stdout))
}

async fn receive_pack(
    State(state): State<AppState>,
    Origin(origin): Origin,
    UrlPath(repo): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GitRefusal> {
    let (session, app, path) =
        authorize(&state, &headers, &origin, &repo, Service::ReceivePack).await?;
    install_hook(&path)
        .map_err(|e| GitRefusal::Internal(format!("cannot install the pre-receive hook: {e}")))?;
    let push_dir = PushDir::create()
        .map_err(|e| GitRefusal::Internal(format!("cannot prepare the push: {e}")))?;
    let hook_input = push_dir
        .open_input()
        .map_err(|e| GitRefusal::Internal(format!("cannot open the hook FIFO: {e}")))?;
    let mut child = spawn_service(Service::ReceivePack, &path, Some(push_dir.path()))?;
    let fed = feed_request_body(&mut child, &headers, body, state.max_git_body_bytes);
    let stdout = refuse_oversized_body(&mut child, fed, state.max_git_body_bytes).await?;
    tokio::spawn(async move {
        let exited = child.wait();
        tokio::pin!(exited);
        tokio::select! {
            input = read_hook_input(hook_input) => {
                let lease = match input {
                    Ok(input) => run_push(&state, &session, &app, input, &push_dir).await,
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the pre-receive hook's input");
                        None
                    }
                };
                let _ = exited.await;
                // git has moved the ref (or failed to): the next push may go.
                if let Some(lease) = lease {
                    if let Err(error) = lease.release().await {
                        tracing::warn!(%error, "cannot give back the deploy lease; it expires on its own");
                    }
                }
            }
            // receive-pack ended without running the hook: nothing to deploy.
            _ = &mut exited => {}
        }
        drop(push_dir);
    });
    Ok(service_response(Service::ReceivePack, stdout))
}

fn spawn_service(
    service: Service,
    repo: &Path,
    push_dir: Option<&Path>,
) -> Result<tokio::process::Child, GitRefusal> {
    let mut command = Command::new("git");
    command
        .args([service.command(), "--stateless-rpc"])
        .arg(repo)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some(dir) = push_dir {
        command.env("BERTH_PUSH_DIR", dir);
    }
    command
        .spawn()
        .map_err(|e| GitRefusal::Internal(format!("cannot run git {}: {e}", service.command())))
}

/// Streams the request body (gzip-decoded if the client compressed it) into the
/// child, at most `limit` decoded bytes: a small compressed body must not
/// inflate without bound. The task's result says whether the body fit.
fn feed_request_body(
    child: &mut tokio::process::Child,
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> tokio::task::JoinHandle<bool> {
    let stdin = child.stdin.take().expect("piped stdin");
    let gzipped = headers
        .get(CONTENT_ENCODING)
        .is_some_and(|value| value == "gzip");
    let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    tokio::spawn(async move {
        let mut reader: std::pin::Pin<Box<dyn AsyncRead + Send>> = if gzipped {
            Box::pin(async_compression::tokio::bufread::GzipDecoder::new(
                BufReader::new(reader),
            ))
        } else {
            Box::pin(reader)
        };
        // Decoding goes on when git stops reading early, so that the verdict
        // covers the whole body (bounded by `limit` all the same).
        let mut stdin = Some(stdin);
        let mut buffer = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let read = match reader.read(&mut buffer).await {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) => {
                    tracing::debug!(%error, "git request body ended early");
                    break;
                }
            };
            total += read as u64;
            if total > limit {
                return false;
            }
            if let Some(pipe) = &mut stdin {
                if pipe.write_all(&buffer[..read]).await.is_err() {
                    stdin = None;
                }
            }
        }
        if let Some(mut pipe) = stdin {
            let _ = pipe.shutdown().await;
        }
        true
    })
}

/// Waits until git answers or the whole body went in, whichever comes first
/// (git answers only once it has read its input): a body over the limit is
/// refused with 413 and git stopped, before any answer went out.
async fn refuse_oversized_body(
    child: &mut tokio::process::Child,
    fed: tokio::task::JoinHandle<bool>,
    limit: u64,
) -> Result<BufReader<tokio::process::ChildStdout>, GitRefusal> {
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut fed = fed;
    let answered = tokio::select! {
        fed = &mut fed => Some(fed.unwrap_or(true)),
        filled = stdout.fill_buf() => filled.is_ok_and(|bytes| !bytes.is_empty()).then_some(true),
    };
    // git ended without answering: the body's verdict decides.
    let fits = match answered {
        Some(fits) => fits,
        None => fed.await.unwrap_or(true),
    };
    if !fits {
        let _ = child.start_kill();
        return Err(GitRefusal::TooLarge(format!(
            "the request body is larger than {limit} bytes once decoded (BERTH_MAX_PUSH_BYTES)"
        )));
    }
    Ok(stdout)
}

fn service_response(service: Service, stdout: BufReader<tokio::process::ChildStdout>) -> Response {
    (
        [
            (
                CONTENT_TYPE,
                format!("application/x-{}-result", service.name()),
            ),
            (CACHE_CONTROL, "no-cache".to_string()),
        ],
        Body::from_stream(ReaderStream::new(stdout)),
    )
        .into_response()
}

fn install_hook(repo: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let hooks = repo.join("hooks");
    std::fs::create_dir_all(&hooks)?;
    let path = hooks.join("pre-receive");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(PRE_RECEIVE_HOOK) {
        let staging = hooks.join(".pre-receive.new");
        std::fs::write(&staging, PRE_RECEIVE_HOOK)?;
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&staging, &path)?;
    }
    Ok(())
}

/// A private directory holding the two FIFOs of one push; removed when dropped.
struct PushDir(tempfile::TempDir);

impl PushDir {
    fn create() -> std::io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("berth-push-").tempdir()?;
        for name in ["in", "out"] {
            nix::unistd::mkfifo(&dir.path().join(name), nix::sys::stat::Mode::S_IRWXU)
                .map_err(std::io::Error::from)?;
        }
        Ok(Self(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Opened before git starts, read and write, so the hook's open never
    /// blocks and our reads never see a premature end of file.
    fn open_input(&self) -> std::io::Result<pipe::Receiver> {
        pipe::OpenOptions::new()
            .read_write(true)
            .open_receiver(self.path().join("in"))
    }

    /// Waits for the hook to open its end: a pipe opened read-write by us
    /// alone would lose what we write if we closed it before the hook came.
    async fn open_output(&self) -> std::io::Result<pipe::Sender> {
        let deadline = tokio::time::Instant::now() + HOOK_ATTACH_TIMEOUT;
        loop {
            match pipe::OpenOptions::new().open_sender(self.path().join("out")) {
                Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => {
                    if tokio::time::Instant::now() > deadline {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the pre-receive hook did not open its output",
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                other => return other,
            }
        }
    }
}

struct HookInput {
    quarantine: Option<PathBuf>,
    refs: Vec<RefUpdate>,
}

async fn read_hook_input(input: pipe::Receiver) -> std::io::Result<HookInput> {
    let mut lines = BufReader::new(input).lines();
    let quarantine = lines
        .next_line()
        .await?
        .filter(|line| !line.is_empty())
        .map(PathBuf::from);
    let mut refs = Vec::new();
    while let Some(line) = lines.next_line().await? {
        if line == "berth-end" {
            return Ok(HookInput { quarantine, refs });
        }
        if let Some(update) = RefUpdate::parse(&line) {
            refs.push(update);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the hook's input ended early",
    ))
}

/// Deploys the push and tells the hook how it went; after a successful
/// deploy, returns the app's lease, to be given back once git moved the ref.
async fn run_push(
    state: &AppState,
    session: &Session,
    app: &str,
    input: HookInput,
    dir: &PushDir,
) -> Option<AppLease> {
    let output = match dir.open_output().await {
        Ok(output) => output,
        Err(error) => {
            tracing::error!(%error, "cannot open the hook's output FIFO");
            return None;
        }
    };
    let (progress, mut lines) = Progress::channel();
    let forward = tokio::spawn(async move {
        let mut output = output;
        while let Some(line) = lines.recv().await {
            // `berth-exit` is the hook's status marker: never let output pose as it.
            let line = if line.starts_with("berth-exit") {
                format!(" {line}")
            } else {
                line
            };
            if output
                .write_all(format!("{line}\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
        output
    });
    let result = state
        .platform
        .deploy_push(
            &session.actor,
            app,
            &input.refs,
            input.quarantine.as_deref(),
            &progress,
        )
        .await;
    let (status, lease) = match result {
        Ok(PushOutcome::Released {
            app: deployed,
            release,
            lease,
            review_app_created,
        }) => {
            progress.say(&format!("-----> Released v{}", release.version));
            let url = state.web_url(&deployed.name);
            if deployed.name == app {
                progress.say(&format!("       {url} deployed to Berth"));
            } else {
                let made = if review_app_created {
                    "created"
                } else {
                    "updated"
                };
                progress.say(&format!("       Review app {} {made}", deployed.name));
                progress.say(&format!("       {url} deployed to Berth"));
            }
            (0, Some(lease))
        }
        Ok(PushOutcome::BranchDeleted { review_app }) => {
            if let Some(review_app) = review_app {
                progress.say(&format!("-----> Destroyed the review app {review_app}"));
            }
            (0, None)
        }
        Err(error) => {
            progress.say(&format!(" !     Push rejected: {error}"));
            (1, None)
        }
    };
    drop(progress);
    if let Ok(mut output) = forward.await {
        let _ = output
            .write_all(format!("berth-exit {status}\n").as_bytes())
            .await;
    }
    lease
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkt_lines_carry_their_length() {
        assert_eq!(
            pkt_line("# service=git-receive-pack\n"),
            b"001f# service=git-receive-pack\n"
        );
    }

    #[test]
    fn basic_auth_yields_the_password() {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode("anyone:berth_abc");
        assert_eq!(
            decode_basic_password(&encoded).as_deref(),
            Some("berth_abc")
        );
        let empty = base64::engine::general_purpose::STANDARD.encode("anyone:");
        assert_eq!(decode_basic_password(&empty), None);
        assert_eq!(decode_basic_password("%%%"), None);
    }
}
