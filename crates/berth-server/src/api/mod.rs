//! The JSON API under `/api/v1`.

mod account;
mod apps;
mod config;
mod error;
mod extract;
mod logs;
mod releases;
mod run;

use axum::routing::{delete, get, post, put};
use axum::Router;

use crate::AppState;
pub(crate) use error::ApiError;
pub(crate) use extract::{Origin, PublicBase};

pub(crate) fn routes() -> Router<AppState> {
    let v1 = Router::new()
        .route("/login", post(account::login))
        .route("/logout", post(account::logout))
        .route("/account", get(account::show))
        .route("/tokens", get(account::tokens).post(account::create_token))
        .route("/tokens/{id}", delete(account::revoke_token))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/apps/{name}", get(apps::show).delete(apps::destroy))
        .route("/apps/{name}/releases", get(releases::list))
        .route("/apps/{name}/releases/{version}", get(releases::show))
        .route("/apps/{name}/dynos", get(releases::dynos))
        .route("/apps/{name}/logs", get(logs::show))
        .route("/apps/{name}/dynos/restart", post(config::restart))
        .route("/apps/{name}/dynos/stop", post(config::stop))
        .route("/apps/{name}/dynos/run", post(run::run))
        .route("/apps/{name}/maintenance", put(apps::maintenance))
        .route(
            "/apps/{name}/config",
            get(config::show).patch(config::update),
        )
        .route("/apps/{name}/rollback", post(config::rollback))
        .route(
            "/apps/{name}/formation",
            get(config::formation).patch(config::scale),
        )
        .fallback(|| async { ApiError::not_found("no such API endpoint") });
    Router::new().nest("/api/v1", v1)
}
