//! The wire format of `/api/v1`. Field names are part of the contract: they
//! are what `berth … --json` prints, so they stay stable and snake_case.
//! With the `openapi` feature (the server's) they also describe themselves
//! as JSON schemas, from which `GET /api/v1/openapi.json` is generated.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod pipelines;
pub mod terminal;

pub use pipelines::{
    AddPipelineAppRequest, Commit, CreatePipelineRequest, DiffTarget, EnableReviewAppsRequest,
    Pipeline, PipelineApp, PipelineDiff, PipelineDiffQuery, PromoteRequest, PromotedRelease,
    Promotion, ReviewAppsSettings, ReviewOf,
};

/// The body of every error response, e.g. `{"id": "not_found", "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub id: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub email: String,
    pub admin: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Where the token will live, e.g. `berth CLI on laptop`; shown in token lists.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateTokenRequest {
    #[serde(default)]
    pub description: Option<String>,
    /// `read`, `deploy` or `full` (the default).
    #[serde(default)]
    pub scope: Option<String>,
    /// Lifetime in seconds; none means the token does not expire.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

/// A freshly created token: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub id: String,
    pub token: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Token {
    pub id: String,
    pub description: String,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A user of the platform, as `berth users` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub email: String,
    /// Platform admins manage users and reach every app.
    pub admin: bool,
    pub created_at: DateTime<Utc>,
}

/// A host dynos run on, as `berth hosts` lists them (`GET /hosts`, platform
/// admins only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Host {
    pub name: String,
    /// Where berthd reaches the host's Docker engine.
    pub address: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `ready`, `down` or `unknown`.
    pub state: String,
    /// `active` (takes dynos) or `drain`.
    pub availability: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// Running dynos of the platform's apps there.
    pub dynos: usize,
}

/// `POST /hosts`: a platform admin adds a managed host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddHostRequest {
    pub name: String,
    /// `tcp://HOST:PORT` of the host's Docker engine (mutual TLS).
    pub docker_host: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// `POST /users`: a platform admin creates a user, who gets a first token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUserRequest {
    pub email: String,
    #[serde(default)]
    pub admin: bool,
    /// None: the user signs in with the token only until a password is set.
    #[serde(default)]
    pub password: Option<String>,
}

/// `DELETE /users/{email}?reassign_to=EMAIL`: apps the user alone owns pass
/// to `reassign_to`; without it such a user is not removed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RemoveUserQuery {
    /// The user who gets the apps the removed one alone owns.
    #[serde(default)]
    pub reassign_to: Option<String>,
}

/// What removing a user did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemovedUser {
    pub email: String,
    /// Apps the user alone owned, now owned by the `reassign_to` user.
    pub reassigned_apps: Vec<String>,
}

/// Someone's role on an app, as `berth access` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub email: String,
    /// `owner`, `admin`, `deployer` or `viewer`.
    pub role: String,
    /// When they got access.
    pub created_at: DateTime<Utc>,
}

/// `POST /apps/{name}/access`: give an existing user a role on the app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddMemberRequest {
    pub email: String,
    pub role: String,
}

/// `PATCH /apps/{name}/access/{email}`: change a member's role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateMemberRequest {
    pub role: String,
}

/// One line of the audit trail: who did what, when, from where. Names
/// things (config keys, token ids), never secret values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Its place in the trail: ids grow with time; page back with `?before=ID`.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who did it; none for failed sign-ins.
    pub actor: Option<String>,
    /// The client address, or `berthd admin`.
    pub source: String,
    pub app: Option<String>,
    /// e.g. `config.change`, `access.add`, `session.fail`.
    pub action: String,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateAppRequest {
    /// A name by Heroku's rule; none picks a random friendly one.
    #[serde(default)]
    pub name: Option<String>,
    /// A `heroku.yml`: its `setup` (add-ons, config vars) applies to the new app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct App {
    pub name: String,
    pub owner: String,
    pub web_url: String,
    pub git_url: String,
    pub created_at: DateTime<Utc>,
    /// In maintenance mode visitors get a 503 maintenance page.
    #[serde(default)]
    pub maintenance: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaintenanceRequest {
    pub enabled: bool,
}

/// A release: `v7`, what made it, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Release {
    pub version: i64,
    pub description: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// The pushed commit's sha, for deploys.
    pub commit: Option<String>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Whether this is the release that should be running.
    pub current: bool,
    /// Why it failed, for failed releases.
    pub failure: Option<String>,
}

/// A release in full: what `releases:info` and `releases:output` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseDetail {
    #[serde(flatten)]
    pub release: Release,
    /// Process type → image it runs.
    pub processes: std::collections::BTreeMap<String, String>,
    pub release_command: Option<String>,
    /// Build and release-phase output.
    pub output: String,
}

/// One process of an app, e.g. `web.1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dyno {
    pub name: String,
    #[serde(rename = "type")]
    pub process_type: String,
    /// `up`, `starting`, `crashed` or `down`.
    pub state: String,
    /// The release it runs, e.g. `v7`.
    pub release: String,
    pub created_at: DateTime<Utc>,
    /// When a running dyno last started (its uptime counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// How a crashed dyno last exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// The engine it runs on (`local` for the engine beside berthd).
    #[serde(default)]
    pub host: String,
    /// Why a crashed dyno stopped, when more is known than its exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its process type's memory limit, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_bytes: Option<u64>,
    /// Its process type's CPU limit, in CPUs (`1.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<f64>,
    /// Memory in use when last measured (every 10 s), in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// CPU in use between the last two measurements, in percent of one CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
}

/// `GET /apps/{name}/limits`: what each process type may use (none: no
/// limit of its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessLimits {
    #[serde(rename = "type")]
    pub process_type: String,
    pub memory_bytes: Option<u64>,
    /// The memory limit as people write it (`512m`).
    pub memory: Option<String>,
    pub cpus: Option<f64>,
}

/// `PATCH /apps/{name}/limits/{type}`: `512m`, `1g`; `1.5` CPUs. What is
/// not given stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitsUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
}

/// `PATCH /apps/{name}/config`: a value sets a var, `null` unsets it.
pub type ConfigUpdate = std::collections::BTreeMap<String, Option<String>>;

/// An app's config vars after a change, and the release the change made
/// (none before the app's first deploy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigChanged {
    pub config: std::collections::BTreeMap<String, String>,
    pub release: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollbackRequest {
    /// The release to return to; none means the previous successful one.
    #[serde(default)]
    pub version: Option<i64>,
}

/// Which processes `POST /apps/{name}/dynos/restart` and `…/stop` act on:
/// every one, one type, or one dyno.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DynoSelection {
    #[serde(default, rename = "type")]
    pub process_type: Option<String>,
    #[serde(default)]
    pub dyno: Option<String>,
}

/// `POST /apps/{name}/dynos/run`: a one-off process of the current release.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunRequest {
    /// Run under `/bin/sh -c`.
    pub command: String,
    /// Extra environment for this run only.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

/// `POST /apps/{name}/dynos/run/tty` with `Upgrade: berth-run`: a one-off
/// process on a terminal of this size; the session then speaks
/// [`terminal::Frame`]s.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TerminalRunRequest {
    #[serde(flatten)]
    pub run: RunRequest,
    pub size: terminal::TerminalSize,
}

/// `POST /apps/{name}/dynos/run/detached`: the one-off dyno started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DetachedRun {
    /// `run.4821`
    pub dyno: String,
}

/// What a one-off process reports, one JSON object per line of the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    /// A line of output; `stream` is `stdout` or `stderr`.
    Output { stream: String, line: String },
    /// The process ended with this exit code.
    Exit { code: i64 },
    /// The run failed on the platform's side.
    Error { message: String },
}

/// How many processes of a type should run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormationEntry {
    #[serde(rename = "type")]
    pub process_type: String,
    pub quantity: i64,
}

/// `PATCH /apps/{name}/formation`: Heroku's grammar, `web=2`, `worker+1`, `web-1`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScaleRequest {
    pub changes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_documented_shape() {
        let body = ErrorBody {
            id: "not_found".into(),
            message: "no app".into(),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"id":"not_found","message":"no app"}"#
        );
    }
}

/// One line of an app's log: `GET /apps/{name}/logs` lists them, and its
/// `tail=true` form streams them as server-sent events (`data: <json>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    pub at: DateTime<Utc>,
    /// `app` (the app's own output) or `berth` (the platform's).
    pub source: String,
    /// `web.1`, `build`, `release`, `router`, `api`…
    pub dyno: String,
    pub message: String,
}

/// A log drain: where an app's log stream is forwarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Drain {
    /// `syslog://HOST:PORT`, `syslog+tls://HOST:PORT` or `https://…`.
    pub url: String,
    /// Sent with every batch (`Logplex-Drain-Token`), to tell drains apart.
    pub token: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /apps/{name}/drains` and `DELETE /apps/{name}/drains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrainRequest {
    pub url: String,
}

/// A persistent volume of an app, mounted into every dyno of one process type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Volume {
    pub name: String,
    /// The process type whose dynos mount it.
    pub process: String,
    /// Where it is mounted in their containers.
    pub path: String,
    /// Bytes its files take; `null` when the server cannot tell.
    pub size_bytes: Option<u64>,
    /// The host that keeps it: its process type runs there.
    pub host: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /apps/{name}/volumes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateVolumeRequest {
    pub name: String,
    pub path: String,
    pub process_type: String,
}

/// `DELETE /apps/{name}/volumes/{volume}?confirm=APP`: the app's name,
/// since the volume's data goes with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DestroyVolumeQuery {
    /// The app's name.
    #[serde(default)]
    pub confirm: Option<String>,
}

/// `DELETE /apps/{name}?volumes=true`: destroy the app's volumes with it
/// (else an app with volumes is not destroyed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DestroyAppQuery {
    /// Destroy the app's volumes and their data with it.
    #[serde(default)]
    pub volumes: bool,
}

/// A custom domain of an app, with the DNS record that sends its traffic here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Domain {
    /// Lowercase, international names in punycode.
    pub hostname: String,
    /// `cname` for a subdomain; `a` for an apex domain, which cannot hold a
    /// CNAME and needs A/AAAA records to the edge's addresses.
    pub record_type: String,
    /// The CNAME target (`<app>.<base domain>`) for `cname`, else the edge's
    /// addresses (empty when the operator has not configured them).
    pub record_values: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// `POST /apps/{name}/domains`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddDomainRequest {
    pub hostname: String,
}

/// `GET /apps/{name}/domains/{hostname}`: the domain and what DNS says now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainInfo {
    #[serde(flatten)]
    pub domain: Domain,
    pub dns: DnsCheck,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsCheck {
    /// `system`, or the address of the DNS server asked.
    pub resolver: String,
    /// CNAME targets found (the system resolver reports none).
    pub cnames: Vec<String>,
    pub addresses: Vec<String>,
    pub points_here: bool,
    /// Why it does not point here.
    pub problem: Option<String>,
}

/// A certificate of one of an app's domains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Certificate {
    pub hostname: String,
    /// `acme` (automatic) or `manual`.
    pub source: String,
    pub issuer: String,
    pub expires_at: DateTime<Utc>,
    /// `serving`, `expired`, or `superseded` (an automatic one while a
    /// manual one serves).
    pub status: String,
}

/// `POST /apps/{name}/certs`: a manual certificate, PEM.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddCertificateRequest {
    /// The chain, leaf first.
    pub certificate_pem: String,
    pub private_key_pem: String,
}

/// `GET /apps/{name}/certs/auto`: automatic certificates of the app's domains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AutoCertificates {
    /// False when the platform has no ACME directory configured.
    pub enabled: bool,
    pub domains: Vec<AutoCertificate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AutoCertificate {
    pub hostname: String,
    /// `pending`, `issued`, `failing`, or `manual` (a manual certificate serves).
    pub status: String,
    /// The last failure, in plain words.
    pub last_error: Option<String>,
    /// Failed attempts in a row.
    pub failures: i64,
    /// When the next issuance, renewal or retry is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// An app's HTTPS policy (`GET`/`PATCH /apps/{name}/certs/settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TlsSettings {
    /// Plain HTTP to a hostname with a valid certificate is redirected to HTTPS.
    pub redirect_http: bool,
    /// HTTPS responses carry `Strict-Transport-Security`.
    pub hsts: bool,
}

/// `PATCH /apps/{name}/certs/settings`: what to change.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TlsSettingsChange {
    pub redirect_http: Option<bool>,
    pub hsts: Option<bool>,
}

/// An add-on: a database or cache provisioned for an app, and the apps it
/// is attached to. Never its credentials (see `AddonInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Addon {
    pub name: String,
    /// `postgres` or `redis`.
    pub service: String,
    pub plan: String,
    /// `server`: provisioned on the operator's server.
    pub mode: String,
    /// The app it belongs to.
    pub app: String,
    pub attachments: Vec<AddonAttachment>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonAttachment {
    pub app: String,
    /// The attachment's name, e.g. `DATABASE`.
    #[serde(rename = "as")]
    pub as_name: String,
    /// The config var it sets, e.g. `DATABASE_URL`.
    pub config_var: String,
}

/// `POST /apps/{name}/addons`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateAddonRequest {
    /// `postgres`, `redis`, or Heroku's `heroku-postgresql[:PLAN]`, `heroku-redis[:PLAN]`.
    pub service: String,
    #[serde(default, rename = "as")]
    pub as_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /apps/{name}/addons/{addon}/attachments`: attach to the app in the path.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachAddonRequest {
    #[serde(default, rename = "as")]
    pub as_name: Option<String>,
}

/// `GET /apps/{name}/addons/{addon}?reveal=true`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AddonInfoQuery {
    /// Include the credentials: this needs the right to read the app's config
    /// vars, and is audited.
    #[serde(default)]
    pub reveal: bool,
}

/// An add-on with its credentials when they were asked for (and may be read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonInfo {
    #[serde(flatten)]
    pub addon: Addon,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<AddonCredentials>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonCredentials {
    pub url: String,
    pub username: String,
    pub password: String,
    /// Postgres: the database; Redis: the key prefix the app's keys must start with (`PREFIX:`).
    pub resource: String,
}

/// A backup of a Postgres add-on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Backup {
    /// `b001`, `b002`…
    pub id: String,
    pub addon: String,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
}

/// `GET /apps/{name}/metrics?since=1h`: how an app behaved over a window,
/// as `berth metrics` and the dashboard's Metrics tab show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppMetrics {
    pub app: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// How many seconds each point covers (10, 60 or 600).
    pub resolution_seconds: u32,
    pub summary: MetricsSummary,
    /// One point per `resolution_seconds`, oldest first, gaps filled with zeros.
    pub requests: Vec<RequestPoint>,
    pub dynos: Vec<DynoMetrics>,
    /// Deploys and restarts within the window, oldest first.
    pub events: Vec<MetricsEvent>,
}

/// The whole window's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsSummary {
    pub requests: u64,
    pub requests_per_minute: f64,
    /// Response time percentiles (to the first byte), none without requests.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The share of responses that were 5xx, in percent.
    pub server_error_percent: f64,
    pub deploys: u64,
    /// Crashed dynos started again.
    pub restarts: u64,
}

/// The requests of one point's interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestPoint {
    pub at: DateTime<Utc>,
    /// 1xx (protocol upgrades) and 2xx.
    pub status_2xx: u64,
    pub status_3xx: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// One dyno's memory and CPU over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DynoMetrics {
    /// `web.1`.
    pub dyno: String,
    #[serde(rename = "type")]
    pub process_type: String,
    pub host: String,
    /// Its memory limit (the latest known), none when unlimited.
    pub memory_limit_bytes: Option<u64>,
    /// The latest measurement, none when it is not running now.
    pub memory_bytes: Option<u64>,
    pub cpu_percent: Option<f64>,
    /// Only the intervals it ran in, oldest first.
    pub points: Vec<DynoPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DynoPoint {
    pub at: DateTime<Utc>,
    /// Average and highest memory in use over the interval, in bytes.
    pub memory_bytes: u64,
    pub memory_bytes_max: u64,
    /// CPU used over the interval, in percent of one CPU.
    pub cpu_percent: f64,
}

/// Something that happened to the app, drawn on the charts' time axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsEvent {
    pub at: DateTime<Utc>,
    /// `deploy` or `restart`.
    pub kind: String,
    /// `Deploy v7`, `2 restarts`.
    pub description: String,
}

/// `?since=` of the metrics routes: `1h`, `24h` or `7d` (default `1h`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct MetricsQuery {
    /// The window: `1h` (the default), `24h` or `7d`.
    #[serde(default)]
    pub since: Option<String>,
}
