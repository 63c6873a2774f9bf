//! The client of Berth's JSON API (`<api url>/api/v1/…`), and the mapping of
//! everything that can go wrong on the way into [`Error`].

use std::time::Duration;

use berth_api_types::{
    Account, AddCertificateRequest, AddDomainRequest, AddHostRequest, AddMemberRequest,
    AddPipelineAppRequest, Addon, AddonInfo, App, AppMetrics, AttachAddonRequest, AuditEvent,
    AutoCertificates, Backup, Certificate, ConfigChanged, ConfigUpdate, CreateAddonRequest,
    CreateAppRequest, CreatePipelineRequest, CreateTokenRequest, CreateUserRequest,
    CreateVolumeRequest, CreatedToken, DetachedRun, Domain, DomainInfo, Drain, DrainRequest, Dyno,
    DynoSelection, EnableReviewAppsRequest, ErrorBody, FormationEntry, Host, LimitsUpdate,
    LogEntry, LoginRequest, MaintenanceRequest, Member, Pipeline, PipelineDiff, ProcessLimits,
    PromoteRequest, Promotion, Release, ReleaseDetail, RemovedUser, RollbackRequest, RunEvent,
    RunRequest, ScaleRequest, TerminalRunRequest, TlsSettings, TlsSettingsChange, Token,
    UpdateMemberRequest, User, Volume,
};
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use url::Url;

use crate::error::{Error, Result};

/// The API token a request carries, and whether it came from `BERTH_API_KEY`
/// (so that a refused token points at the right fix).
#[derive(Debug, Clone)]
pub struct Auth {
    pub token: String,
    pub from_env: bool,
}

/// How long an ordinary request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a promotion may take: a deploy (release command, health-gated
/// cutover) on each target of the next stage, one after the other.
const PROMOTE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub struct Client {
    http: reqwest::blocking::Client,
    /// The API URL as configured, for messages.
    api_url: String,
    base: Url,
    auth: Option<Auth>,
}

impl Client {
    pub fn new(api_url: &str, auth: Option<Auth>) -> Result<Self> {
        let base = parse_api_url(api_url)?;
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("berth-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| Error::Input(format!("cannot set up an HTTP client: {error}")))?;
        Ok(Self {
            http,
            api_url: api_url.to_string(),
            base,
            auth,
        })
    }

    pub fn login(&self, request: &LoginRequest) -> Result<CreatedToken> {
        self.json(Method::POST, &["login"], Some(request))
    }

    /// Revokes the token this client carries.
    pub fn logout(&self) -> Result<()> {
        self.send(Method::POST, &["logout"], None::<&()>).map(drop)
    }

    pub fn account(&self) -> Result<Account> {
        self.json(Method::GET, &["account"], None::<&()>)
    }

    pub fn apps(&self) -> Result<Vec<App>> {
        self.json(Method::GET, &["apps"], None::<&()>)
    }

    pub fn create_app(&self, name: Option<String>, manifest: Option<String>) -> Result<App> {
        self.json(
            Method::POST,
            &["apps"],
            Some(&CreateAppRequest { name, manifest }),
        )
    }

    pub fn app(&self, name: &str) -> Result<App> {
        self.json(Method::GET, &["apps", name], None::<&()>)
    }

    pub fn destroy_app(&self, name: &str) -> Result<App> {
        self.json(Method::DELETE, &["apps", name], None::<&()>)
    }

    /// Destroys the app and its persistent volumes with their data.
    pub fn destroy_app_and_volumes(&self, name: &str) -> Result<App> {
        let mut url = self.url(&["apps", name])?;
        url.query_pairs_mut().append_pair("volumes", "true");
        let response = self.send_to(Method::DELETE, url, None::<&()>, REQUEST_TIMEOUT)?;
        self.read_json(response)
    }

    pub fn volumes(&self, app: &str) -> Result<Vec<Volume>> {
        self.json(Method::GET, &["apps", app, "volumes"], None::<&()>)
    }

    pub fn create_volume(&self, app: &str, request: &CreateVolumeRequest) -> Result<Volume> {
        self.json(Method::POST, &["apps", app, "volumes"], Some(request))
    }

    pub fn destroy_volume(&self, app: &str, volume: &str, confirm: &str) -> Result<()> {
        let mut url = self.url(&["apps", app, "volumes", volume])?;
        url.query_pairs_mut().append_pair("confirm", confirm);
        self.send_to(Method::DELETE, url, None::<&()>, REQUEST_TIMEOUT)
            .map(drop)
    }

    pub fn pipelines(&self) -> Result<Vec<Pipeline>> {
        self.json(Method::GET, &["pipelines"], None::<&()>)
    }

    pub fn create_pipeline(&self, request: &CreatePipelineRequest) -> Result<Pipeline> {
        self.json(Method::POST, &["pipelines"], Some(request))
    }

    pub fn pipeline(&self, name: &str) -> Result<Pipeline> {
        self.json(Method::GET, &["pipelines", name], None::<&()>)
    }

    /// Destroys the pipeline and its review apps; returns it as it was.
    pub fn destroy_pipeline(&self, name: &str) -> Result<Pipeline> {
        self.json(Method::DELETE, &["pipelines", name], None::<&()>)
    }

    pub fn add_pipeline_app(
        &self,
        pipeline: &str,
        request: &AddPipelineAppRequest,
    ) -> Result<Pipeline> {
        self.json(
            Method::POST,
            &["pipelines", pipeline, "apps"],
            Some(request),
        )
    }

    /// Takes the app out of its pipeline; returns the pipeline without it.
    pub fn remove_pipeline_app(&self, app: &str) -> Result<Pipeline> {
        self.json(Method::DELETE, &["apps", app, "pipeline"], None::<&()>)
    }

    /// What `app` runs that the apps of the next stage (or only `to`) lack.
    pub fn pipeline_diff(&self, app: &str, to: Option<&str>) -> Result<PipelineDiff> {
        let mut url = self.url(&["apps", app, "pipeline", "diff"])?;
        if let Some(to) = to {
            url.query_pairs_mut().append_pair("to", to);
        }
        let response = self.send_to(Method::GET, url, None::<&()>, REQUEST_TIMEOUT)?;
        self.read_json(response)
    }

    pub fn promote(&self, app: &str, request: &PromoteRequest) -> Result<Promotion> {
        let response = self.send_within(
            Method::POST,
            &["apps", app, "pipeline", "promote"],
            Some(request),
            PROMOTE_TIMEOUT,
        )?;
        self.read_json(response)
    }

    pub fn enable_review_apps(
        &self,
        pipeline: &str,
        request: &EnableReviewAppsRequest,
    ) -> Result<Pipeline> {
        self.json(
            Method::PUT,
            &["pipelines", pipeline, "review-apps"],
            Some(request),
        )
    }

    pub fn disable_review_apps(&self, pipeline: &str) -> Result<Pipeline> {
        self.json(
            Method::DELETE,
            &["pipelines", pipeline, "review-apps"],
            None::<&()>,
        )
    }

    pub fn releases(&self, app: &str) -> Result<Vec<Release>> {
        self.json(Method::GET, &["apps", app, "releases"], None::<&()>)
    }

    pub fn config(&self, app: &str) -> Result<BTreeMap<String, String>> {
        self.json(Method::GET, &["apps", app, "config"], None::<&()>)
    }

    /// The names of the app's config vars, for those who may not read values.
    pub fn config_names(&self, app: &str) -> Result<Vec<String>> {
        self.json(Method::GET, &["apps", app, "config", "names"], None::<&()>)
    }

    pub fn update_config(&self, app: &str, update: &ConfigUpdate) -> Result<ConfigChanged> {
        self.json(Method::PATCH, &["apps", app, "config"], Some(update))
    }

    pub fn rollback(&self, app: &str, version: Option<i64>) -> Result<Release> {
        self.json(
            Method::POST,
            &["apps", app, "rollback"],
            Some(&RollbackRequest { version }),
        )
    }

    pub fn formation(&self, app: &str) -> Result<Vec<FormationEntry>> {
        self.json(Method::GET, &["apps", app, "formation"], None::<&()>)
    }

    pub fn scale(&self, app: &str, changes: Vec<String>) -> Result<Vec<FormationEntry>> {
        self.json(
            Method::PATCH,
            &["apps", app, "formation"],
            Some(&ScaleRequest { changes }),
        )
    }

    pub fn limits(&self, app: &str) -> Result<Vec<ProcessLimits>> {
        self.json(Method::GET, &["apps", app, "limits"], None::<&()>)
    }

    pub fn set_limits(
        &self,
        app: &str,
        process_type: &str,
        update: &LimitsUpdate,
    ) -> Result<Vec<ProcessLimits>> {
        self.json(
            Method::PATCH,
            &["apps", app, "limits", process_type],
            Some(update),
        )
    }

    /// `version` is `vN`, or `current`.
    pub fn release(&self, app: &str, version: &str) -> Result<ReleaseDetail> {
        self.json(
            Method::GET,
            &["apps", app, "releases", version],
            None::<&()>,
        )
    }

    pub fn drains(&self, app: &str) -> Result<Vec<Drain>> {
        self.json(Method::GET, &["apps", app, "drains"], None::<&()>)
    }

    pub fn add_drain(&self, app: &str, url: &str) -> Result<Drain> {
        let request = DrainRequest { url: url.into() };
        self.json(Method::POST, &["apps", app, "drains"], Some(&request))
    }

    pub fn remove_drain(&self, app: &str, url: &str) -> Result<()> {
        let request = DrainRequest { url: url.into() };
        self.send(Method::DELETE, &["apps", app, "drains"], Some(&request))?;
        Ok(())
    }

    pub fn set_maintenance(&self, app: &str, enabled: bool) -> Result<App> {
        let request = MaintenanceRequest { enabled };
        self.json(Method::PUT, &["apps", app, "maintenance"], Some(&request))
    }

    pub fn restart(&self, app: &str, request: &DynoSelection) -> Result<Vec<String>> {
        self.json(
            Method::POST,
            &["apps", app, "dynos", "restart"],
            Some(request),
        )
    }

    pub fn stop(&self, app: &str, request: &DynoSelection) -> Result<Vec<String>> {
        self.json(Method::POST, &["apps", app, "dynos", "stop"], Some(request))
    }

    pub fn dynos(&self, app: &str) -> Result<Vec<Dyno>> {
        self.json(Method::GET, &["apps", app, "dynos"], None::<&()>)
    }

    /// How the app behaved over the window `since` (`1h` when none).
    pub fn app_metrics(&self, app: &str, since: Option<&str>) -> Result<AppMetrics> {
        let request = self
            .http
            .get(self.url(&["apps", app, "metrics"])?)
            .query(&[("since", since.unwrap_or("1h"))]);
        let response = self.dispatch(request, None::<&()>)?;
        let url = response.url().to_string();
        response.json().map_err(|error| Error::BadResponse {
            url,
            reason: error.to_string(),
        })
    }

    /// The newest lines of an app's log that match `query`.
    pub fn logs(&self, app: &str, query: &LogQuery) -> Result<Vec<LogEntry>> {
        let request = self
            .http
            .get(self.url(&["apps", app, "logs"])?)
            .query(&query.params(false))
            .timeout(Duration::from_secs(60));
        let response = self.dispatch(request, None::<&()>)?;
        let url = response.url().to_string();
        response.json().map_err(|error| Error::BadResponse {
            url,
            reason: error.to_string(),
        })
    }

    /// Follows an app's log: the newest lines that match `query`, then new
    /// ones as they come, each handed to `on_entry`, until the server ends
    /// the stream or the connection drops (then an error).
    pub fn tail_logs(
        &self,
        app: &str,
        query: &LogQuery,
        mut on_entry: impl FnMut(LogEntry),
    ) -> Result<()> {
        use std::io::BufRead;
        // A tail runs until it is stopped: no overall time limit.
        let request = self
            .http
            .get(self.url(&["apps", app, "logs"])?)
            .query(&query.params(true))
            .timeout(Duration::from_secs(365 * 24 * 3600));
        let response = self.dispatch(request, None::<&()>)?;
        let url = response.url().to_string();
        let broken = |reason: String| Error::BadResponse {
            url: url.clone(),
            reason,
        };
        for line in std::io::BufReader::new(response).lines() {
            let line = line.map_err(|error| broken(error.to_string()))?;
            // Server-sent events: `data:` lines carry entries; comments keep the stream alive.
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let entry = serde_json::from_str(data.trim_start())
                .map_err(|error| broken(error.to_string()))?;
            on_entry(entry);
        }
        Err(broken("the log stream ended".into()))
    }

    pub fn addons(&self, app: Option<&str>) -> Result<Vec<Addon>> {
        match app {
            Some(app) => self.json(Method::GET, &["apps", app, "addons"], None::<&()>),
            None => self.json(Method::GET, &["addons"], None::<&()>),
        }
    }

    pub fn create_addon(&self, app: &str, request: &CreateAddonRequest) -> Result<Addon> {
        self.json(Method::POST, &["apps", app, "addons"], Some(request))
    }

    pub fn addon_info(&self, app: &str, addon: &str, reveal: bool) -> Result<AddonInfo> {
        let mut url = self.url(&["apps", app, "addons", addon])?;
        if reveal {
            url.query_pairs_mut().append_pair("reveal", "true");
        }
        let response = self.send_to(Method::GET, url, None::<&()>, REQUEST_TIMEOUT)?;
        self.read_json(response)
    }

    pub fn destroy_addon(&self, app: &str, addon: &str) -> Result<()> {
        self.send(Method::DELETE, &["apps", app, "addons", addon], None::<&()>)
            .map(drop)
    }

    pub fn attach_addon(&self, app: &str, addon: &str, as_name: Option<&str>) -> Result<Addon> {
        let request = AttachAddonRequest {
            as_name: as_name.map(str::to_string),
        };
        self.json(
            Method::POST,
            &["apps", app, "addons", addon, "attachments"],
            Some(&request),
        )
    }

    pub fn detach_addon(&self, app: &str, addon: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            &["apps", app, "addons", addon, "attachments"],
            None::<&()>,
        )
        .map(drop)
    }

    pub fn rotate_addon(&self, app: &str, addon: &str) -> Result<()> {
        self.send(
            Method::POST,
            &["apps", app, "addons", addon, "rotate"],
            None::<&()>,
        )
        .map(drop)
    }

    pub fn backups(&self, app: &str, addon: &str) -> Result<Vec<Backup>> {
        self.json(
            Method::GET,
            &["apps", app, "addons", addon, "backups"],
            None::<&()>,
        )
    }

    pub fn capture_backup(&self, app: &str, addon: &str) -> Result<Backup> {
        self.json(
            Method::POST,
            &["apps", app, "addons", addon, "backups"],
            None::<&()>,
        )
    }

    pub fn restore_backup(&self, app: &str, addon: &str, id: &str) -> Result<()> {
        self.send(
            Method::POST,
            &["apps", app, "addons", addon, "backups", id, "restore"],
            None::<&()>,
        )
        .map(drop)
    }

    pub fn domains(&self, app: &str) -> Result<Vec<Domain>> {
        self.json(Method::GET, &["apps", app, "domains"], None::<&()>)
    }

    pub fn add_domain(&self, app: &str, hostname: &str) -> Result<Domain> {
        let request = AddDomainRequest {
            hostname: hostname.into(),
        };
        self.json(Method::POST, &["apps", app, "domains"], Some(&request))
    }

    pub fn domain_info(&self, app: &str, hostname: &str) -> Result<DomainInfo> {
        self.json(
            Method::GET,
            &["apps", app, "domains", hostname],
            None::<&()>,
        )
    }

    pub fn remove_domain(&self, app: &str, hostname: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            &["apps", app, "domains", hostname],
            None::<&()>,
        )
        .map(drop)
    }

    pub fn certificates(&self, app: &str) -> Result<Vec<Certificate>> {
        self.json(Method::GET, &["apps", app, "certs"], None::<&()>)
    }

    pub fn add_certificate(
        &self,
        app: &str,
        request: &AddCertificateRequest,
    ) -> Result<Vec<Certificate>> {
        self.json(Method::POST, &["apps", app, "certs"], Some(request))
    }

    pub fn remove_certificate(&self, app: &str, hostname: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            &["apps", app, "certs", hostname],
            None::<&()>,
        )
        .map(drop)
    }

    pub fn auto_certificates(&self, app: &str) -> Result<AutoCertificates> {
        self.json(Method::GET, &["apps", app, "certs", "auto"], None::<&()>)
    }

    pub fn refresh_auto_certificates(&self, app: &str) -> Result<()> {
        self.send(
            Method::POST,
            &["apps", app, "certs", "auto", "refresh"],
            None::<&()>,
        )
        .map(drop)
    }

    pub fn tls_settings(&self, app: &str) -> Result<TlsSettings> {
        self.json(
            Method::GET,
            &["apps", app, "certs", "settings"],
            None::<&()>,
        )
    }

    pub fn change_tls_settings(
        &self,
        app: &str,
        change: &TlsSettingsChange,
    ) -> Result<TlsSettings> {
        self.json(
            Method::PATCH,
            &["apps", app, "certs", "settings"],
            Some(change),
        )
    }

    pub fn members(&self, app: &str) -> Result<Vec<Member>> {
        self.json(Method::GET, &["apps", app, "access"], None::<&()>)
    }

    pub fn add_member(&self, app: &str, request: &AddMemberRequest) -> Result<()> {
        self.send(Method::POST, &["apps", app, "access"], Some(request))
            .map(drop)
    }

    pub fn update_member(&self, app: &str, email: &str, role: &str) -> Result<()> {
        let request = UpdateMemberRequest { role: role.into() };
        self.send(
            Method::PATCH,
            &["apps", app, "access", email],
            Some(&request),
        )
        .map(drop)
    }

    pub fn remove_member(&self, app: &str, email: &str) -> Result<()> {
        self.send(Method::DELETE, &["apps", app, "access", email], None::<&()>)
            .map(drop)
    }

    pub fn tokens(&self) -> Result<Vec<Token>> {
        self.json(Method::GET, &["tokens"], None::<&()>)
    }

    pub fn create_token(&self, request: &CreateTokenRequest) -> Result<CreatedToken> {
        self.json(Method::POST, &["tokens"], Some(request))
    }

    pub fn revoke_token(&self, id: &str) -> Result<()> {
        self.send(Method::DELETE, &["tokens", id], None::<&()>)
            .map(drop)
    }

    pub fn hosts(&self) -> Result<Vec<Host>> {
        self.json(Method::GET, &["hosts"], None::<&()>)
    }

    pub fn add_host(&self, request: &AddHostRequest) -> Result<Host> {
        self.json(Method::POST, &["hosts"], Some(request))
    }

    pub fn drain_host(&self, name: &str) -> Result<Host> {
        self.json(Method::POST, &["hosts", name, "drain"], None::<&()>)
    }

    pub fn remove_host(&self, name: &str) -> Result<()> {
        self.send(Method::DELETE, &["hosts", name], None::<&()>)
            .map(drop)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        self.json(Method::GET, &["users"], None::<&()>)
    }

    pub fn create_user(&self, request: &CreateUserRequest) -> Result<CreatedToken> {
        self.json(Method::POST, &["users"], Some(request))
    }

    pub fn remove_user(&self, email: &str, reassign_to: Option<&str>) -> Result<RemovedUser> {
        let mut url = self.url(&["users", email])?;
        if let Some(heir) = reassign_to {
            url.query_pairs_mut().append_pair("reassign_to", heir);
        }
        let response = self.send_to(Method::DELETE, url, None::<&()>, REQUEST_TIMEOUT)?;
        self.read_json(response)
    }

    /// The app's audit trail, or the whole platform's without an app.
    pub fn audit(&self, app: Option<&str>) -> Result<Vec<AuditEvent>> {
        match app {
            Some(app) => self.json(Method::GET, &["apps", app, "audit"], None::<&()>),
            None => self.json(Method::GET, &["audit"], None::<&()>),
        }
    }

    /// `<api url>/api/v1/<segments…>`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<Url> {
        if let Some(dots) = segments
            .iter()
            .find(|segment| matches!(**segment, "" | "." | ".."))
        {
            // URLs resolve these away (even percent-encoded): never a valid name.
            return Err(Error::Input(format!("invalid name {dots:?}")));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .pop_if_empty()
            .extend(["api", "v1"])
            .extend(segments);
        Ok(url)
    }

    fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        let response = self.send(method, segments, body)?;
        self.read_json(response)
    }

    fn read_json<T: DeserializeOwned>(&self, response: Response) -> Result<T> {
        let url = response.url().to_string();
        let bytes = response
            .bytes()
            .map_err(|error| self.transport_error(error))?;
        serde_json::from_slice(&bytes).map_err(|error| Error::BadResponse {
            url,
            reason: error.to_string(),
        })
    }

    /// Runs a one-off process, passing each event to `on_event` as it comes.
    pub fn run(
        &self,
        app: &str,
        request: &RunRequest,
        mut on_event: impl FnMut(RunEvent),
    ) -> Result<()> {
        use std::io::BufRead;
        // A one-off may run for hours: no overall time limit on its stream.
        let response = self.send_within(
            Method::POST,
            &["apps", app, "dynos", "run"],
            Some(request),
            Duration::from_secs(7 * 24 * 3600),
        )?;
        let url = response.url().to_string();
        for line in std::io::BufReader::new(response).lines() {
            let line = line.map_err(|error| Error::BadResponse {
                url: url.clone(),
                reason: error.to_string(),
            })?;
            if line.is_empty() {
                continue;
            }
            let event = serde_json::from_str(&line).map_err(|error| Error::BadResponse {
                url: url.clone(),
                reason: error.to_string(),
            })?;
            on_event(event);
        }
        Ok(())
    }

    /// Starts a one-off dyno in the background; returns its name.
    pub fn run_detached(&self, app: &str, request: &RunRequest) -> Result<DetachedRun> {
        self.json(
            Method::POST,
            &["apps", app, "dynos", "run", "detached"],
            Some(request),
        )
    }

    /// Starts a one-off process on a terminal and returns the connection,
    /// upgraded to carry [`berth_api_types::terminal::Frame`]s. Runs on the
    /// caller's Tokio runtime, as the upgraded connection lives there.
    pub async fn run_on_terminal(
        &self,
        app: &str,
        request: &TerminalRunRequest,
    ) -> Result<reqwest::Upgraded> {
        use berth_api_types::terminal::UPGRADE_PROTOCOL;
        use reqwest::header::{CONNECTION, UPGRADE};
        let http = reqwest::Client::builder()
            .user_agent(concat!("berth-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // Upgrades are HTTP/1.1's.
            .http1_only()
            .build()
            .map_err(|error| Error::Input(format!("cannot set up an HTTP client: {error}")))?;
        let mut request = http
            .post(self.url(&["apps", app, "dynos", "run", "tty"])?)
            .header(CONNECTION, "upgrade")
            .header(UPGRADE, UPGRADE_PROTOCOL)
            .json(request);
        if let Some(auth) = &self.auth {
            request = request.bearer_auth(&auth.token);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.transport_error(error))?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            let (status, url) = (response.status(), response.url().to_string());
            let body = response.bytes().await.ok();
            return Err(self.error_from(status, url, body.as_deref()));
        }
        response
            .upgrade()
            .await
            .map_err(|error| self.transport_error(error))
    }

    fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<Response> {
        self.send_within(method, segments, body, REQUEST_TIMEOUT)
    }

    fn send_within(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
        timeout: Duration,
    ) -> Result<Response> {
        self.send_to(method, self.url(segments)?, body, timeout)
    }

    fn send_to(
        &self,
        method: Method,
        url: Url,
        body: Option<&impl Serialize>,
        timeout: Duration,
    ) -> Result<Response> {
        self.dispatch(self.http.request(method, url).timeout(timeout), body)
    }

    fn dispatch(
        &self,
        mut request: RequestBuilder,
        body: Option<&impl Serialize>,
    ) -> Result<Response> {
        if let Some(auth) = &self.auth {
            request = request.bearer_auth(&auth.token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .map_err(|error| self.transport_error(error))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.status_error(response))
        }
    }

    fn status_error(&self, response: Response) -> Error {
        let status = response.status();
        let url = response.url().to_string();
        let body = response.bytes().ok();
        self.error_from(status, url, body.as_deref())
    }

    /// The error an answer with `status` and `body` stands for.
    fn error_from(&self, status: StatusCode, url: String, body: Option<&[u8]>) -> Error {
        let body: Option<ErrorBody> = body.and_then(|bytes| serde_json::from_slice(bytes).ok());
        match (body, &self.auth) {
            (body, Some(auth)) if status == StatusCode::UNAUTHORIZED => Error::Unauthorized {
                message: body.map_or_else(
                    || "the server refused the API token".to_string(),
                    |body| body.message,
                ),
                from_env: auth.from_env,
            },
            (Some(body), _) => Error::Api {
                status: status.as_u16(),
                id: body.id,
                message: body.message,
            },
            (None, _) => Error::HttpStatus { status, url },
        }
    }

    fn transport_error(&self, error: reqwest::Error) -> Error {
        let reason = if error.is_timeout() {
            "timed out".to_string()
        } else {
            root_cause(&error)
        };
        Error::Unreachable {
            url: self.api_url.clone(),
            reason,
        }
    }
}

/// Checks an API URL (`BERTH_API_URL` or a stored one) is an http(s) URL.
pub fn parse_api_url(api_url: &str) -> Result<Url> {
    let bad = |reason: &str| Error::BadApiUrl {
        url: api_url.to_string(),
        reason: reason.into(),
    };
    let url = Url::parse(api_url).map_err(|error| bad(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("use an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    Ok(url)
}

/// The host name of an API URL without its port, as `~/.netrc` names machines.
pub fn api_host(api_url: &str) -> Result<String> {
    let url = parse_api_url(api_url)?;
    let host = url.host_str().unwrap_or_default();
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string())
}

/// The innermost cause of a transport error, e.g. `Connection refused (os error 111)`.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(api_url: &str) -> Client {
        Client::new(api_url, None).unwrap()
    }

    #[test]
    fn urls_live_under_api_v1_and_encode_app_names() {
        assert_eq!(
            client("http://127.0.0.1:7000")
                .url(&["apps", "demo"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:7000/api/v1/apps/demo"
        );
        assert_eq!(
            client("https://h.example/berth/")
                .url(&["apps"])
                .unwrap()
                .as_str(),
            "https://h.example/berth/api/v1/apps"
        );
        assert_eq!(
            client("http://h").url(&["apps", "a/b?c"]).unwrap().as_str(),
            "http://h/api/v1/apps/a%2Fb%3Fc"
        );
        assert!(client("http://h").url(&["apps", ".."]).is_err());
    }

    #[test]
    fn api_urls_must_be_http_with_a_host() {
        assert!(parse_api_url("ftp://h").is_err());
        assert!(parse_api_url("127.0.0.1:7000").is_err());
        assert_eq!(api_host("http://127.0.0.1:41234").unwrap(), "127.0.0.1");
        assert_eq!(
            api_host("https://Berth.Example.com/").unwrap(),
            "berth.example.com"
        );
        assert_eq!(api_host("http://[::1]:7000").unwrap(), "::1");
    }

    #[test]
    fn an_unreachable_server_is_named_with_a_hint() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let api_url = format!("http://127.0.0.1:{port}");
        let message = client(&api_url).apps().unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("cannot reach the Berth API at {api_url}: ")),
            "{message}"
        );
        assert!(
            message.ends_with("(is berthd running? set BERTH_API_URL)"),
            "{message}"
        );
    }
}

/// Which lines of an app's log to ask for.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub lines: usize,
    pub process_type: Option<String>,
    pub dyno: Option<String>,
    pub source: Option<String>,
}

impl LogQuery {
    fn params(&self, tail: bool) -> Vec<(&'static str, String)> {
        let mut params = vec![("lines", self.lines.to_string())];
        for (name, value) in [
            ("type", &self.process_type),
            ("dyno", &self.dyno),
            ("source", &self.source),
        ] {
            if let Some(value) = value {
                params.push((name, value.clone()));
            }
        }
        if tail {
            params.push(("tail", "true".into()));
        }
        params
    }
}
