//! Starts a real `berthd` in-process, on ephemeral loopback ports, with a
//! temporary data directory, so tests drive it exactly as users do: with the
//! `berth` CLI, `git` and HTTP clients.

mod apps;
mod multihost;
mod pebble;
mod private_engine;
mod process;
mod swarm_setup;

use std::net::TcpListener;
use std::path::Path;
use std::thread::JoinHandle;

use berth_server::Listeners;
pub use berth_server::Settings;

pub use apps::{git_command, unique_app_name, with_credentials, AppRepo, EngineCleanup};
pub use multihost::{Cluster, Untrusted, ENGINE_PORT, REGISTRY_PORT};
pub use pebble::{signed_certificate, Pebble, PebbleOptions};
pub use private_engine::PrivateEngine;
pub use process::{berthd_command, free_addresses, wait_until_listening, BerthdProcess, InNetns};
pub use swarm_setup::{busybox_image, form_swarm, http_get, SWARM_PORT};

pub struct TestServer {
    /// e.g. `http://127.0.0.1:41234`: the API, dashboard and git endpoint.
    pub api_url: String,
    /// e.g. `http://127.0.0.1:41235`: the router.
    pub http_url: String,
    /// The router's TLS listener, when the settings ask for one
    /// (`https_listen`, e.g. `127.0.0.1:0`).
    pub https_address: Option<std::net::SocketAddr>,
    settings: Settings,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    data_dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server and returns once it accepts requests.
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// Starts a server with settings changed by `configure` (e.g. a short boot timeout).
    pub fn start_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let http = TcpListener::bind("127.0.0.1:0").expect("bind router listener");
        Self::start_with_router_listener(http, configure)
    }

    /// Starts a server whose router serves plain HTTP on `http`, bound by
    /// the caller (whose port, say, an ACME server must know first).
    pub fn start_with_router_listener(
        http: TcpListener,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        // `RUST_LOG=berth_platform=debug cargo test …` shows what berthd does.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let api = TcpListener::bind("127.0.0.1:0").expect("bind API listener");
        let api_url = format!("http://{}", api.local_addr().unwrap());
        let http_url = format!("http://{}", http.local_addr().unwrap());
        let mut settings = Settings::for_data_dir(data_dir.path().to_path_buf());
        configure(&mut settings);
        let https = settings
            .https_listen
            .map(|address| TcpListener::bind(address).expect("bind router TLS listener"));
        let https_address = https.as_ref().map(|https| https.local_addr().unwrap());
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let server_settings = settings.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(async move {
                let mut listeners = Listeners::from_std(api, http).expect("adopt listeners");
                if let Some(https) = https {
                    listeners = listeners.with_https(https).expect("adopt TLS listener");
                }
                let shutdown = async {
                    let _ = shutdown_rx.await;
                };
                let result = berth_server::launch(server_settings, listeners, shutdown, || {
                    let _ = ready_tx.send(Ok(()));
                })
                .await;
                if let Err(error) = result {
                    let _ = ready_tx.send(Err(format!("{error:#}")));
                }
            });
        });
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("berthd did not start: {error}"),
            Err(_) => panic!("berthd stopped before it was ready"),
        }
        Self {
            api_url,
            http_url,
            https_address,
            settings,
            shutdown: Some(shutdown),
            thread: Some(thread),
            data_dir,
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The settings the server runs with, e.g. to run `berthd admin` against its store.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Creates a user as `berthd admin create-user` does and returns a fresh API token.
    pub fn create_user(&self, email: &str, admin: bool, password: Option<&str>) -> String {
        let settings = self.settings.clone();
        let (email, password) = (email.to_string(), password.map(str::to_string));
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(berth_server::admin::create_user(
                    &settings,
                    &email,
                    admin,
                    password.as_deref(),
                ))
        })
        .join()
        .expect("create_user thread")
        .expect("create user")
        .token
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Add-ons a test left (it failed before destroying them) would stay
        // provisioned on the shared Postgres and Redis servers.
        let settings = self.settings.clone();
        let addons = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("tokio runtime")
                .block_on(berth_server::admin::remove_every_addon(&settings))
        })
        .join();
        if let Ok(Err(error)) = addons {
            eprintln!("warning: the test server's add-ons were not all removed: {error:#}");
        }
        // The reconciler may have started a process again after a test's
        // EngineCleanup ran: whatever this server's platform still owns goes,
        // app by app, now that it has stopped.
        let Ok(Some(platform)) = berth_platform::identity::read(self.data_dir.path()) else {
            return;
        };
        let mut apps = apps::apps_with_containers_of(&platform);
        apps.extend(apps::apps_with_volumes_of(&platform));
        for app in apps {
            drop(EngineCleanup::new(&app));
        }
    }
}
