//! The browser side: server-rendered pages (askama, `templates/`) and the
//! embedded files of `static/`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::api::ApiError;
use crate::AppState;

#[derive(rust_embed::Embed)]
#[folder = "../../static"]
struct StaticFiles;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(welcome))
        .route("/static/{*path}", get(static_file))
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct Welcome<'a> {
    version: &'a str,
    api_url: String,
    base_domain: &'a str,
    router_port_suffix: String,
}

async fn welcome(
    State(state): State<AppState>,
    crate::api::PublicBase(api_url): crate::api::PublicBase,
) -> Result<Html<String>, ApiError> {
    let page = Welcome {
        version: env!("CARGO_PKG_VERSION"),
        api_url,
        base_domain: &state.base_domain,
        router_port_suffix: match state.router_port {
            80 => String::new(),
            port => format!(":{port}"),
        },
    };
    render(&page)
}

fn render(page: &impl Template) -> Result<Html<String>, ApiError> {
    page.render().map(Html).map_err(|error| {
        tracing::error!(%error, "a page failed to render");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the page failed to render",
        )
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
        ],
        file.data,
    )
        .into_response()
}
