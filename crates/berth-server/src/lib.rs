//! `berthd`: the JSON API, dashboard and git endpoint (axum) on one
//! listener, the router on another, over the platform's use cases.
//! `launch` is what the binary and the tests both run.

pub mod admin;
mod api;
mod api_listener;
mod dashboard;
mod git_http;
mod settings;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use berth_docker::Engine;
use berth_platform::{LogLine, LogSource, Platform};
use berth_router::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use api::paths as api_paths;
pub use settings::{Settings, SettingsError};

/// How long open requests get to finish once shutdown begins; open log
/// streams and long pushes would otherwise hold the server forever.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The sockets berthd serves on, bound before launch so that tests can use port 0.
pub struct Listeners {
    pub api: TcpListener,
    pub http: TcpListener,
    /// The router's TLS listener, when HTTPS is on.
    pub https: Option<TcpListener>,
}

impl Listeners {
    pub async fn bind(settings: &Settings) -> anyhow::Result<Self> {
        let bind = |address: SocketAddr, variable: &'static str| async move {
            TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} ({variable})"))
        };
        let https = match settings.https_listen {
            Some(address) => Some(bind(address, "BERTH_HTTPS_LISTEN").await?),
            None => None,
        };
        Ok(Self {
            api: bind(settings.api_listen, "BERTH_API_LISTEN").await?,
            http: bind(settings.http_listen, "BERTH_HTTP_LISTEN").await?,
            https,
        })
    }

    /// Adds the router's TLS listener.
    pub fn with_https(mut self, https: std::net::TcpListener) -> std::io::Result<Self> {
        https.set_nonblocking(true)?;
        self.https = Some(TcpListener::from_std(https)?);
        Ok(self)
    }

    pub fn from_std(
        api: std::net::TcpListener,
        http: std::net::TcpListener,
    ) -> std::io::Result<Self> {
        api.set_nonblocking(true)?;
        http.set_nonblocking(true)?;
        Ok(Self {
            api: TcpListener::from_std(api)?,
            http: TcpListener::from_std(http)?,
            https: None,
        })
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState(Arc<ServerState>);

pub(crate) struct ServerState {
    pub platform: Platform,
    pub base_domain: String,
    /// The router's port, as apps' web URLs need it (omitted when 80).
    pub router_port: u16,
    /// The most bytes a git request body may hold once decoded.
    pub max_git_body_bytes: u64,
    /// The dashboard's live streams open, per user.
    pub live_streams: dashboard::LiveStreams,
}

impl ServerState {
    /// Where an app answers: `http://<app>.<base domain>[:port]/`.
    pub(crate) fn web_url(&self, app: &str) -> String {
        match self.router_port {
            80 => format!("http://{app}.{}/", self.base_domain),
            port => format!("http://{app}.{}:{port}/", self.base_domain),
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = ServerState;
    fn deref(&self) -> &ServerState {
        &self.0
    }
}

/// Runs berthd until `shutdown` resolves: checks the Docker engine, opens
/// the platform's state, serves, then shuts down gracefully (bounded).
/// `on_ready` is called once requests are being accepted.
pub async fn launch(
    settings: Settings,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(),
) -> anyhow::Result<()> {
    let engine_target = settings.engine_target()?;
    let engine = Engine::connect(&engine_target).await?;
    let engine_info = engine.info().await?;
    tracing::info!(
        host = engine.host(),
        version = %engine_info.version,
        api = %engine_info.api_version,
        "Docker engine {} ({}/{})",
        engine_info.version,
        engine_info.os,
        engine_info.arch
    );

    let mut platform_config = settings.platform_config();
    platform_config.cluster.host_tls = settings.host_tls(&engine_target)?;
    let platform = Platform::open(&platform_config)
        .await
        .with_context(|| {
            format!(
                "cannot open Berth's data in {}",
                settings.data_dir.display()
            )
        })?
        .with_engine(engine);
    platform.resume_placement().await?;
    let logs = platform.logs().clone();
    let router = Router::new(
        settings.router_config(),
        Arc::new(move |app: &str, line: String| {
            logs.write(app, LogLine::now(LogSource::Berth, "router", &line));
        }),
    );
    let mut platform = platform.with_router(router.clone());
    if let Some(acme) = settings.acme_config() {
        tracing::info!(directory = %acme.directory, "automatic TLS from {}", acme.directory);
        platform = platform.with_acme(acme);
    }
    // Adopt what already runs: a restarted berthd routes to the containers
    // it finds instead of restarting them, and cleans up after a deploy it
    // was stopped in the middle of.
    platform.recover().await?;
    if let Err(error) = platform.refresh_certificates().await {
        tracing::warn!(%error, "cannot give the router its certificates");
    }
    if platform.needs_first_user().await? {
        tracing::info!(
            "No user exists yet. Create the first one with: berthd admin create-user you@example.com --admin"
        );
    }

    let api_address = listeners.api.local_addr().context("API listener address")?;
    let http_address = listeners
        .http
        .local_addr()
        .context("router listener address")?;
    let state = AppState(Arc::new(ServerState {
        platform,
        base_domain: settings.base_domain.clone(),
        router_port: http_address.port(),
        max_git_body_bytes: settings.max_push_bytes,
        live_streams: dashboard::LiveStreams::default(),
    }));

    let (stop, stopped) = watch::channel(false);
    let wait_for_stop = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let app = api::routes()
        .merge(dashboard::routes(state.clone()))
        .merge(git_http::routes())
        .with_state(state.clone());
    let mut api_server = tokio::spawn(api_listener::serve(
        listeners.api,
        app,
        Duration::from_secs(settings.api_head_timeout),
        wait_for_stop(stopped.clone()),
    ));
    let https_address = match &listeners.https {
        Some(https) => Some(https.local_addr().context("router TLS listener address")?),
        None => None,
    };
    let mut router_tls = listeners.https.map(|https| {
        tokio::spawn(
            router
                .clone()
                .serve_tls(https, wait_for_stop(stopped.clone())),
        )
    });
    let mut router = tokio::spawn(router.serve(listeners.http, wait_for_stop(stopped.clone())));
    tracing::info!("API, dashboard and git on http://{api_address}");
    tracing::info!(
        "router on http://{http_address} (apps at http://<app>.{}:{})",
        settings.base_domain,
        http_address.port()
    );
    if let Some(https_address) = https_address {
        tracing::info!("router on https://{https_address}");
    }
    let reconciler = tokio::spawn(converge_periodically(
        state.clone(),
        wait_for_stop(stopped.clone()),
    ));
    let engine_watch = {
        let (state, stop) = (state.clone(), wait_for_stop(stopped.clone()));
        tokio::spawn(async move { state.platform.watch_engine(stop).await })
    };
    let certificates = tokio::spawn(tend_certificates_periodically(
        state.clone(),
        wait_for_stop(stopped.clone()),
    ));
    let backups = tokio::spawn(back_up_daily(state.clone(), wait_for_stop(stopped.clone())));
    let audit_pruning = tokio::spawn(prune_audit_trail_hourly(
        state.clone(),
        wait_for_stop(stopped.clone()),
    ));
    let token_expiry = tokio::spawn(delete_expired_tokens_hourly(
        state.clone(),
        wait_for_stop(stopped.clone()),
    ));
    let metrics_sampler = tokio::spawn(sample_metrics_periodically(
        state.clone(),
        wait_for_stop(stopped.clone()),
    ));
    let review_app_expiry = tokio::spawn(expire_review_apps_periodically(
        state.clone(),
        wait_for_stop(stopped),
    ));
    on_ready();

    tokio::select! {
        () = shutdown => tracing::info!("shutting down"),
        result = &mut api_server => {
            result.context("API server task")?;
            anyhow::bail!("the API server stopped unexpectedly");
        }
        result = &mut router => {
            result.context("router task")?;
            anyhow::bail!("the router stopped unexpectedly");
        }
        Some(result) = optional_task(&mut router_tls) => {
            result.context("router TLS task")?.context("router TLS listener")?;
            anyhow::bail!("the router's TLS listener stopped unexpectedly");
        }
    }
    let _ = stop.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        let _ = (&mut api_server).await;
        let _ = (&mut router).await;
        let _ = optional_task(&mut router_tls).await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still open after {SHUTDOWN_GRACE:?} were cut off");
        api_server.abort();
        router.abort();
        if let Some(router_tls) = &router_tls {
            router_tls.abort();
        }
    }
    reconciler.abort();
    engine_watch.abort();
    certificates.abort();
    backups.abort();
    audit_pruning.abort();
    token_expiry.abort();
    metrics_sampler.abort();
    review_app_expiry.abort();
    state.platform.close().await;
    Ok(())
}

/// A task that may not exist: its outcome, or `None` at once without it.
async fn optional_task<T>(
    task: &mut Option<tokio::task::JoinHandle<T>>,
) -> Option<Result<T, tokio::task::JoinError>> {
    match task {
        Some(task) => Some(task.await),
        None => None,
    }
}

/// How often the engine is converged to the store (crashed processes
/// restarted, missing ones started) and the route table rebuilt from it;
/// also at once when the engine answers again after it went away.
const CONVERGE_EVERY: Duration = Duration::from_secs(2);

/// How often Postgres add-ons are checked for a backup due (one a day each).
const BACKUP_CHECK_EVERY: Duration = Duration::from_secs(3600);

/// How often the audit trail is cut to its retention as a whole (each
/// entry recorded also trims a little).
const PRUNE_AUDIT_EVERY: Duration = Duration::from_secs(3600);

/// Samples every app's requests and dynos for its charts, as often as the
/// finest resolution the samples are kept at.
async fn sample_metrics_periodically(state: AppState, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let mut ticks = tokio::time::interval(berth_platform::METRICS_SAMPLE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = &mut stop => return,
        }
        if let Err(error) = state.platform.sample_metrics().await {
            tracing::warn!(%error, "cannot sample the apps' metrics");
        }
    }
}

/// How often review apps past their time to live are looked for.
const EXPIRE_REVIEW_APPS_EVERY: Duration = Duration::from_secs(5);

async fn expire_review_apps_periodically(state: AppState, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(EXPIRE_REVIEW_APPS_EVERY) => {}
        }
        match state.platform.expire_review_apps().await {
            Ok(destroyed) if !destroyed.is_empty() => {
                tracing::info!(apps = %destroyed.join(", "), "destroyed review apps past their time to live");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot destroy expired review apps"),
        }
    }
}

async fn prune_audit_trail_hourly(state: AppState, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        if let Err(error) = state.platform.prune_audit_trail().await {
            tracing::warn!(%error, "cannot prune the audit trail");
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(PRUNE_AUDIT_EVERY) => {}
        }
    }
}

/// How often tokens past their expiry (dashboard sessions above all) are
/// deleted.
const DELETE_EXPIRED_TOKENS_EVERY: Duration = Duration::from_secs(3600);

async fn delete_expired_tokens_hourly(state: AppState, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        match state.platform.delete_expired_tokens().await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "deleted expired API tokens and sessions"),
            Err(error) => tracing::warn!(%error, "cannot delete expired API tokens"),
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(DELETE_EXPIRED_TOKENS_EVERY) => {}
        }
    }
}

async fn back_up_daily(state: AppState, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(BACKUP_CHECK_EVERY) => {}
        }
        if let Err(error) = state.platform.capture_due_backups().await {
            tracing::warn!(%error, "cannot take the daily add-on backups");
        }
    }
}

async fn converge_periodically(state: AppState, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(CONVERGE_EVERY) => {}
            () = state.platform.reconcile_wanted() => {}
        }
        if let Err(error) = state.platform.reconcile().await {
            tracing::warn!(%error, "cannot converge the engine to the desired state");
        }
        if let Err(error) = state.platform.refresh_routes().await {
            tracing::warn!(%error, "cannot refresh the route table");
        }
    }
}

/// How often the certificate task looks for domains whose certificate is
/// due (issuance, renewal, retry after backoff); adding a domain wakes it.
const TEND_CERTIFICATES_EVERY: Duration = Duration::from_secs(5);

async fn tend_certificates_periodically(state: AppState, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        // Also drops certificates that expired from the router's map.
        if let Err(error) = state.platform.refresh_certificates().await {
            tracing::warn!(%error, "cannot give the router its certificates");
        }
        if let Err(error) = state.platform.tend_certificates().await {
            tracing::warn!(%error, "cannot tend the certificates");
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(TEND_CERTIFICATES_EVERY) => {}
            () = state.platform.certificates_wanted() => {}
        }
    }
}
