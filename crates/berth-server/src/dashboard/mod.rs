//! The browser side: server-rendered pages (askama, `templates/`) over the
//! same platform use cases as the JSON API, and the embedded files of
//! `static/`. A signed-in browser holds an API token in an HttpOnly cookie,
//! so pages and API pass the one authorization policy the same way.

mod access;
mod account;
mod activity;
mod addons;
mod apps;
mod browser;
mod charts;
mod config;
mod domains;
mod error;
mod live;
mod logs;
mod metrics;
mod moments;
mod pipeline;
mod releases;
mod session;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;
use error::DashboardError;
pub(crate) use live::LiveStreams;

#[derive(rust_embed::Embed)]
#[folder = "../../static"]
struct StaticFiles;

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(apps::home))
        .route("/sign-in", post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/account", get(account::show))
        .route("/account/password", post(account::change_password))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/apps/{name}", get(apps::overview))
        .route("/apps/{name}/destroy", post(apps::destroy))
        .route("/apps/{name}/scale", post(apps::scale))
        .route("/apps/{name}/restart", post(apps::restart))
        .route("/apps/{name}/maintenance", post(apps::maintenance))
        .route("/apps/{name}/overview/live", get(live::overview))
        .route("/apps/{name}/releases", get(releases::list))
        .route("/apps/{name}/releases/live", get(live::releases))
        .route("/apps/{name}/redeploy", post(releases::redeploy))
        .route("/apps/{name}/rollback", post(releases::rollback))
        .route("/apps/{name}/pipeline", get(pipeline::show))
        .route("/apps/{name}/pipeline/promote", post(pipeline::promote))
        .route(
            "/apps/{name}/config",
            get(config::show).post(config::update),
        )
        .route("/apps/{name}/logs", get(logs::show))
        .route("/apps/{name}/metrics", get(metrics::show))
        .route(
            "/apps/{name}/addons",
            get(addons::show).post(addons::create),
        )
        .route("/apps/{name}/addons/attach", post(addons::attach))
        .route("/apps/{name}/addons/detach", post(addons::detach))
        .route("/apps/{name}/addons/reveal", post(addons::reveal))
        .route("/apps/{name}/addons/rotate", post(addons::rotate))
        .route("/apps/{name}/addons/destroy", post(addons::destroy))
        .route("/apps/{name}/addons/backups/capture", post(addons::capture))
        .route("/apps/{name}/addons/backups/restore", post(addons::restore))
        .route(
            "/apps/{name}/addons/backups/download",
            post(addons::download),
        )
        .route(
            "/apps/{name}/domains",
            get(domains::show).post(domains::add),
        )
        .route("/apps/{name}/domains/remove", post(domains::remove))
        .route("/apps/{name}/domains/retry", post(domains::retry))
        .route(
            "/apps/{name}/domains/certificate",
            post(domains::upload_certificate),
        )
        .route(
            "/apps/{name}/domains/tls-settings",
            post(domains::tls_settings),
        )
        .route("/apps/{name}/access", get(access::show).post(access::grant))
        .route("/apps/{name}/access/update", post(access::update))
        .route("/apps/{name}/access/remove", post(access::remove))
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state,
            browser::browser_state,
        ))
        .route("/static/{*path}", get(static_file))
}

/// The largest form a page posts (config vars are the largest).
const FORM_BODY_LIMIT: usize = 1024 * 1024;

/// The token of the dashboard session a request carries, if any.
pub(crate) fn session_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    browser::session_token(headers)
}

/// Where an action leaves the browser: back at `to`, saying what happened.
/// Mistakes the user can fix come back as an error message there; a
/// missing app is the same 404 page as anywhere else.
fn after_action(
    to: &str,
    result: Result<String, berth_platform::PlatformError>,
) -> Result<Response, DashboardError> {
    use berth_platform::PlatformError;
    match result {
        Ok(message) => Ok(browser::redirect_with(to, browser::success(message))),
        Err(
            error @ (PlatformError::Invalid(_)
            | PlatformError::Conflict(_)
            | PlatformError::Forbidden(_)
            | PlatformError::DeployFailed(_)),
        ) => Ok(browser::redirect_with(
            to,
            browser::failure(session::capitalized(&error.to_string())),
        )),
        Err(error) => Err(error.into()),
    }
}

fn render(page: &impl Template) -> Result<Html<String>, DashboardError> {
    page.render().map(Html).map_err(|error| {
        tracing::error!(%error, "a page failed to render");
        DashboardError::Render
    })
}

async fn static_file(Path(path): Path<String>) -> Response {
    let Some(file) = StaticFiles::get(&path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let content_type = match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        file.data,
    )
        .into_response()
}
