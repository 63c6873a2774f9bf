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
mod openapi;
mod pipelines;
mod releases;
mod run;
mod terminal;
mod users;
mod volumes;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use utoipa_axum::router::{UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;
pub(crate) use error::ApiError;
pub(crate) use extract::{client_address, Origin, PublicBase};

/// The API's router and its OpenAPI document, built together, remembering
/// each path it routes: the authorization matrix and OpenAPI tests start
/// from these, so a new route can go neither unchecked nor undocumented.
struct Routes {
    router: Router<AppState>,
    paths: Vec<&'static str>,
    document: utoipa::openapi::OpenApi,
}

impl Routes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            paths: Vec::new(),
            document: <openapi::Base as utoipa::OpenApi>::openapi(),
        }
    }

    /// Routes `path` (under `/api/v1`) to the handlers of `routes!(...)`,
    /// each answering the method its `#[utoipa::path]` names, and adds
    /// their operations and the schemas they use to the document.
    fn route(
        mut self,
        path: &'static str,
        (schemas, operations, methods): UtoipaMethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, methods);
        self.paths.push(path);
        for (documented, item) in operations.paths {
            match self.document.paths.paths.get_mut(&documented) {
                Some(known) => known.merge_operations(item),
                None => {
                    self.document.paths.paths.insert(documented, item);
                }
            }
        }
        self.document
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
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

/// Every route of `/api/v1`. To add one: give each handler a
/// `#[utoipa::path(...)]` (its method; its path as served, with the
/// `/api/v1` prefix; its parameters, request body, success and error
/// responses from `openapi.rs`; `security(("token" = []))` unless it is
/// public), then route its path here with `routes!(handler, …)`, the
/// handlers of one path together. The OpenAPI test fails for a route whose
/// methods or path differ from what its handlers' annotations say, and the
/// authorization matrix test for one it has no entry for.
fn v1() -> Routes {
    Routes::new()
        .route("/openapi.json", routes!(openapi::document))
        .route("/login", routes!(account::login))
        .route("/logout", routes!(account::logout))
        .route("/account", routes!(account::show))
        .route("/tokens", routes!(account::tokens, account::create_token))
        .route("/tokens/{id}", routes!(account::revoke_token))
        .route("/apps", routes!(apps::list, apps::create))
        .route("/addons", routes!(addons::list_all))
        .route("/apps/{name}/metrics", routes!(metrics::app_metrics))
        .route("/apps/{name}/addons", routes!(addons::list, addons::create))
        .route(
            "/apps/{name}/addons/{addon}",
            routes!(addons::info, addons::destroy),
        )
        .route(
            "/apps/{name}/addons/{addon}/attachments",
            routes!(addons::attach, addons::detach),
        )
        .route(
            "/apps/{name}/addons/{addon}/rotate",
            routes!(addons::rotate),
        )
        .route(
            "/apps/{name}/addons/{addon}/backups",
            routes!(addons::backups, addons::capture),
        )
        .route(
            "/apps/{name}/addons/{addon}/backups/{backup}/restore",
            routes!(addons::restore),
        )
        .route("/apps/{name}", routes!(apps::show, apps::destroy))
        .route("/apps/{name}/releases", routes!(releases::list))
        .route("/apps/{name}/releases/{version}", routes!(releases::show))
        .route("/apps/{name}/dynos", routes!(releases::dynos))
        .route("/apps/{name}/logs", routes!(logs::show))
        .route(
            "/apps/{name}/drains",
            routes!(drains::list, drains::add, drains::remove),
        )
        .route("/apps/{name}/domains", routes!(domains::list, domains::add))
        .route(
            "/apps/{name}/domains/{hostname}",
            routes!(domains::info, domains::remove),
        )
        .route(
            "/apps/{name}/volumes",
            routes!(volumes::list, volumes::create),
        )
        .route("/apps/{name}/volumes/{volume}", routes!(volumes::destroy))
        .route(
            "/apps/{name}/certs",
            routes!(certs::list, certs::add)
                .layer(DefaultBodyLimit::max(extract::LARGE_BODY_LIMIT)),
        )
        .route("/apps/{name}/certs/auto", routes!(certs::auto))
        .route("/apps/{name}/certs/auto/refresh", routes!(certs::refresh))
        .route(
            "/apps/{name}/certs/settings",
            routes!(certs::settings, certs::change_settings),
        )
        .route("/apps/{name}/certs/{hostname}", routes!(certs::remove))
        .route("/apps/{name}/dynos/restart", routes!(config::restart))
        .route("/apps/{name}/dynos/stop", routes!(config::stop))
        .route("/apps/{name}/dynos/run", routes!(run::run))
        .route("/apps/{name}/dynos/run/tty", routes!(terminal::run))
        .route(
            "/apps/{name}/dynos/run/detached",
            routes!(run::run_detached),
        )
        .route("/apps/{name}/maintenance", routes!(apps::maintenance))
        .route(
            "/apps/{name}/config",
            routes!(config::show, config::update)
                .layer(DefaultBodyLimit::max(extract::LARGE_BODY_LIMIT)),
        )
        .route("/apps/{name}/rollback", routes!(config::rollback))
        .route(
            "/apps/{name}/formation",
            routes!(config::formation, config::scale),
        )
        .route("/apps/{name}/config/names", routes!(config::names))
        .route("/apps/{name}/limits", routes!(config::limits))
        .route(
            "/apps/{name}/limits/{process_type}",
            routes!(config::set_limits),
        )
        .route("/apps/{name}/access", routes!(access::list, access::add))
        .route(
            "/apps/{name}/access/{email}",
            routes!(access::update, access::remove),
        )
        .route("/apps/{name}/audit", routes!(access::app_audit))
        .route("/audit", routes!(access::platform_audit))
        .route("/hosts", routes!(hosts::list, hosts::add))
        .route("/hosts/{host}", routes!(hosts::remove))
        .route("/hosts/{host}/drain", routes!(hosts::drain))
        .route("/pipelines", routes!(pipelines::list, pipelines::create))
        .route(
            "/pipelines/{pipeline}",
            routes!(pipelines::show, pipelines::destroy),
        )
        .route("/pipelines/{pipeline}/apps", routes!(pipelines::add_app))
        .route(
            "/pipelines/{pipeline}/review-apps",
            routes!(
                pipelines::enable_review_apps,
                pipelines::disable_review_apps
            ),
        )
        .route("/apps/{name}/pipeline", routes!(pipelines::remove_app))
        .route("/apps/{name}/pipeline/diff", routes!(pipelines::diff))
        .route("/apps/{name}/pipeline/promote", routes!(pipelines::promote))
        .route("/users", routes!(users::list, users::create))
        .route("/users/{email}", routes!(users::remove))
}
