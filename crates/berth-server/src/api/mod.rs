//! The JSON API under `/api/v1`.

mod access;
mod account;
mod addons;
mod apps;
mod certs;
mod config;
mod domains;
mod drains;
mod error;
mod extract;
mod hosts;
mod logs;
mod metrics;
mod pipelines;
mod releases;
mod run;
mod terminal;
mod users;
mod volumes;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Router;

use crate::AppState;
pub(crate) use error::ApiError;
pub(crate) use extract::{client_address, Origin, PublicBase};

/// The API's router, remembering each path it routes: the authorization
/// matrix test starts from these, so a new route cannot go unchecked.
#[derive(Default)]
struct Routes {
    router: Router<AppState>,
    paths: Vec<&'static str>,
}

impl Routes {
    fn route(mut self, path: &'static str, methods: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, methods);
        self.paths.push(path);
        self
    }
}

pub(crate) fn routes() -> Router<AppState> {
    let v1 = v1()
        .router
        .fallback(|| async { ApiError::not_found("no such API endpoint") })
        .layer(DefaultBodyLimit::max(extract::JSON_BODY_LIMIT));
    Router::new()
        .nest("/api/v1", v1)
        .route("/metrics", get(metrics::prometheus))
}

/// Every path the API routes, e.g. `/api/v1/apps/{name}`.
pub fn paths() -> Vec<String> {
    v1().paths
        .into_iter()
        .map(|path| format!("/api/v1{path}"))
        .collect()
}

fn v1() -> Routes {
    Routes::default()
        .route("/login", post(account::login))
        .route("/logout", post(account::logout))
        .route("/account", get(account::show))
        .route("/tokens", get(account::tokens).post(account::create_token))
        .route("/tokens/{id}", delete(account::revoke_token))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/addons", get(addons::list_all))
        .route("/apps/{name}/metrics", get(metrics::app_metrics))
        .route(
            "/apps/{name}/addons",
            get(addons::list).post(addons::create),
        )
        .route(
            "/apps/{name}/addons/{addon}",
            get(addons::info).delete(addons::destroy),
        )
        .route(
            "/apps/{name}/addons/{addon}/attachments",
            post(addons::attach).delete(addons::detach),
        )
        .route("/apps/{name}/addons/{addon}/rotate", post(addons::rotate))
        .route(
            "/apps/{name}/addons/{addon}/backups",
            get(addons::backups).post(addons::capture),
        )
        .route(
            "/apps/{name}/addons/{addon}/backups/{backup}/restore",
            post(addons::restore),
        )
        .route("/apps/{name}", get(apps::show).delete(apps::destroy))
        .route("/apps/{name}/releases", get(releases::list))
        .route("/apps/{name}/releases/{version}", get(releases::show))
        .route("/apps/{name}/dynos", get(releases::dynos))
        .route("/apps/{name}/logs", get(logs::show))
        .route(
            "/apps/{name}/drains",
            get(drains::list).post(drains::add).delete(drains::remove),
        )
        .route(
            "/apps/{name}/domains",
            get(domains::list).post(domains::add),
        )
        .route(
            "/apps/{name}/domains/{hostname}",
            get(domains::info).delete(domains::remove),
        )
        .route(
            "/apps/{name}/volumes",
            get(volumes::list).post(volumes::create),
        )
        .route("/apps/{name}/volumes/{volume}", delete(volumes::destroy))
        .route(
            "/apps/{name}/certs",
            get(certs::list)
                .post(certs::add)
                .layer(DefaultBodyLimit::max(extract::LARGE_BODY_LIMIT)),
        )
        .route("/apps/{name}/certs/auto", get(certs::auto))
        .route("/apps/{name}/certs/auto/refresh", post(certs::refresh))
        .route(
            "/apps/{name}/certs/settings",
            get(certs::settings).patch(certs::change_settings),
        )
        .route("/apps/{name}/certs/{hostname}", delete(certs::remove))
        .route("/apps/{name}/dynos/restart", post(config::restart))
        .route("/apps/{name}/dynos/stop", post(config::stop))
        .route("/apps/{name}/dynos/run", post(run::run))
        .route("/apps/{name}/dynos/run/tty", post(terminal::run))
        .route("/apps/{name}/dynos/run/detached", post(run::run_detached))
        .route("/apps/{name}/maintenance", put(apps::maintenance))
        .route(
            "/apps/{name}/config",
            get(config::show)
                .patch(config::update)
                .layer(DefaultBodyLimit::max(extract::LARGE_BODY_LIMIT)),
        )
        .route("/apps/{name}/rollback", post(config::rollback))
        .route(
            "/apps/{name}/formation",
            get(config::formation).patch(config::scale),
        )
        .route("/apps/{name}/config/names", get(config::names))
        .route("/apps/{name}/limits", get(config::limits))
        .route(
            "/apps/{name}/limits/{process_type}",
            patch(config::set_limits),
        )
        .route("/apps/{name}/access", get(access::list).post(access::add))
        .route(
            "/apps/{name}/access/{email}",
            patch(access::update).delete(access::remove),
        )
        .route("/apps/{name}/audit", get(access::app_audit))
        .route("/audit", get(access::platform_audit))
        .route("/hosts", get(hosts::list).post(hosts::add))
        .route("/hosts/{host}", delete(hosts::remove))
        .route("/hosts/{host}/drain", post(hosts::drain))
        .route("/pipelines", get(pipelines::list).post(pipelines::create))
        .route(
            "/pipelines/{pipeline}",
            get(pipelines::show).delete(pipelines::destroy),
        )
        .route("/pipelines/{pipeline}/apps", post(pipelines::add_app))
        .route(
            "/pipelines/{pipeline}/review-apps",
            put(pipelines::enable_review_apps).delete(pipelines::disable_review_apps),
        )
        .route("/apps/{name}/pipeline", delete(pipelines::remove_app))
        .route("/apps/{name}/pipeline/diff", get(pipelines::diff))
        .route("/apps/{name}/pipeline/promote", post(pipelines::promote))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{email}", delete(users::remove))
}
