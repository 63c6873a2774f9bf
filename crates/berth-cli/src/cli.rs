//! The command line, in Heroku's grammar (`berth apps:create demo`).

use clap::{Args, Parser, Subcommand};

/// berth: the command-line companion of a Berth server.
///
/// Log in with `berth login`, create an app with `berth apps:create`, then
/// deploy with `git push platform main`.
#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    after_help = "Environment:\n  \
        BERTH_API_URL  the server's API (default http://127.0.0.1:7000, or the one you logged in to)\n  \
        BERTH_API_KEY  an API token to use instead of the stored login"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in to a Berth server and store an API token
    ///
    /// Logs in to BERTH_API_URL (default http://127.0.0.1:7000), stores the
    /// token in the berth configuration directory and adds an entry for the
    /// API host to ~/.netrc so that `git push` authenticates.
    Login(LoginArgs),

    /// Revoke the stored API token and forget it
    ///
    /// Also removes the API host's entry from ~/.netrc.
    Logout,

    /// Show the email address you are logged in as
    Whoami(JsonArgs),

    /// List your apps, oldest first
    Apps(JsonArgs),

    /// Create an app
    ///
    /// Without NAME the server picks a random one. Inside a git repository
    /// without a `platform` remote, adds one pointing at the new app.
    #[command(name = "apps:create")]
    AppsCreate(AppsCreateArgs),

    /// Show an app's details
    #[command(name = "apps:info")]
    AppsInfo(AppsInfoArgs),

    /// Permanently destroy an app and everything in it
    ///
    /// Needs --confirm with the app's name (or typing it, in a terminal).
    /// Removes the `platform` git remote when it points at the app.
    #[command(name = "apps:destroy")]
    AppsDestroy(AppsDestroyArgs),

    /// List an app's releases, oldest first
    Releases(ReleasesArgs),

    /// Show one release (default: the current one)
    #[command(name = "releases:info")]
    ReleasesInfo(ReleaseArgs),

    /// Print a release's build and release-phase output (default: the current one)
    #[command(name = "releases:output")]
    ReleasesOutput(ReleaseArgs),

    /// List an app's processes (dynos) with their state, release, memory and CPU
    Ps(AppJsonArgs),

    /// Show how an app behaved: requests per minute, response times, 5xx, each dyno's memory and CPU
    ///
    /// Figures are sampled every 10 s and kept for 7 days: at 10 s points for
    /// the last hour, minutes for a day, ten minutes for the week.
    Metrics(MetricsArgs),

    /// Show an app's log: its processes' output, builds, releases, the router and the platform
    ///
    /// Lines read `TIME source[dyno]: message`; the sources are `app` (the
    /// app's own output) and `berth` (the router and the platform). With
    /// --tail, new lines follow as they come until Ctrl-C.
    Logs(LogsArgs),

    /// List an app's log drains
    Drains(AppJsonArgs),

    /// Forward an app's log to syslog://HOST:PORT, syslog+tls://HOST:PORT or an https:// URL
    ///
    /// Syslog drains get RFC 5424 messages over TCP (octet-counted); HTTPS
    /// drains get batched POSTs in Heroku's application/logplex-1 framing.
    /// Lines are buffered and retried while the endpoint is down.
    #[command(name = "drains:add")]
    DrainsAdd(DrainArgs),

    /// Stop forwarding an app's log to a URL
    #[command(name = "drains:remove")]
    DrainsRemove(DrainArgs),

    /// List an app's add-ons (or, with --all, those of every app you can see)
    Addons(AddonsArgs),

    /// Provision an add-on and attach it to the app
    ///
    /// SERVICE is postgres or redis, or Heroku's heroku-postgresql[:PLAN] /
    /// heroku-redis[:PLAN]. The app gets <AS>_URL (DATABASE_URL, REDIS_URL by
    /// default) in a new release with a rolling restart. The var is managed:
    /// config:set and config:unset refuse it; use addons:rotate / addons:detach.
    #[command(name = "addons:create")]
    AddonsCreate(AddonsCreateArgs),

    /// Show an add-on, its attachments and (with --reveal) its credentials
    #[command(name = "addons:info")]
    AddonsInfo(AddonsInfoArgs),

    /// Destroy an add-on and all its data (once no other app has it attached)
    #[command(name = "addons:destroy")]
    AddonsDestroy(AddonsDestroyArgs),

    /// Attach an existing add-on to another app (needs rights on both apps)
    #[command(name = "addons:attach")]
    AddonsAttach(AddonsAttachArgs),

    /// Detach an add-on from the app: its var goes in a new release; the add-on stays
    #[command(name = "addons:detach")]
    AddonsDetach(AddonNameArgs),

    /// Give an add-on new credentials, roll them out to every attached app, then revoke the old ones
    #[command(name = "addons:rotate")]
    AddonsRotate(AddonNameArgs),

    /// List the backups of a Postgres add-on (default: the app's DATABASE)
    #[command(name = "pg:backups")]
    PgBackups(PgBackupsArgs),

    /// Back up a Postgres add-on now (one is also taken daily; the newest few are kept)
    #[command(name = "pg:backups:capture")]
    PgBackupsCapture(PgBackupsArgs),

    /// Restore a backup into its Postgres add-on, replacing what the database holds
    #[command(name = "pg:backups:restore")]
    PgBackupsRestore(PgRestoreArgs),

    /// List an app's custom domains and the DNS record each needs
    Domains(AppJsonArgs),

    /// Serve an app on a custom domain, and print the DNS record to create
    ///
    /// A subdomain needs a CNAME to <app>.<base domain>; an apex domain
    /// (example.com) needs A/AAAA records to the platform's addresses.
    /// Wildcards are not supported yet. With automatic TLS on, a certificate
    /// is ordered at once (see certs:auto).
    #[command(name = "domains:add")]
    DomainsAdd(DomainArgs),

    /// Stop serving an app on a custom domain
    #[command(name = "domains:remove")]
    DomainsRemove(DomainArgs),

    /// Show a custom domain and check whether its DNS points here
    #[command(name = "domains:info")]
    DomainsInfo(DomainArgs),

    /// List an app's persistent volumes: process type, mount path, size and host
    Volumes(AppJsonArgs),

    /// Create a persistent volume mounted into every dyno of a process type
    #[command(name = "volumes:create")]
    VolumesCreate(VolumesCreateArgs),

    /// Destroy a persistent volume and all its data
    #[command(name = "volumes:destroy")]
    VolumesDestroy(VolumesDestroyArgs),

    /// List your pipelines and their apps by stage
    ///
    /// A pipeline runs the same code through its stages, in promotion order:
    /// review, development, staging, production.
    Pipelines(JsonArgs),

    /// Create a pipeline with its first app in a stage
    ///
    /// Stages, in promotion order: review, development, staging, production.
    /// An app belongs to one pipeline at most.
    #[command(name = "pipelines:create")]
    PipelinesCreate(PipelineAppArgs),

    /// Add an app to a pipeline, in a stage
    ///
    /// Stages, in promotion order: review, development, staging, production.
    /// An app belongs to one pipeline at most.
    #[command(name = "pipelines:add")]
    PipelinesAdd(PipelineAppArgs),

    /// Show a pipeline: each stage's apps with their current release and commit
    ///
    /// Review apps also show their branch and when they expire.
    #[command(name = "pipelines:info")]
    PipelinesInfo(PipelineInfoArgs),

    /// List the commits an app runs that the apps of its pipeline's next stage lack
    ///
    /// Compares the app's current release with that of each app of the next
    /// stage (or only --to), newest commits first.
    #[command(name = "pipelines:diff")]
    PipelinesDiff(PipelinesDiffArgs),

    /// Promote an app's current release to the apps of its pipeline's next stage
    ///
    /// Each target gets a new release with the same image(s) — no build —
    /// and its own config vars and add-ons; its release command runs and its
    /// processes are replaced health-gated, as in a deploy. The release says
    /// `Promote APP vN`; roll it back as any release. Needs the deployer role
    /// (or above) on the app and on every target.
    #[command(name = "pipelines:promote")]
    PipelinesPromote(PipelinesPromoteArgs),

    /// Take an app out of its pipeline (the app stays)
    #[command(name = "pipelines:remove")]
    PipelinesRemove(AppArg),

    /// Destroy a pipeline and its review apps; its other apps stay
    #[command(name = "pipelines:destroy")]
    PipelinesDestroy(PipelineNameArg),

    /// Let a push of a branch other than main/master deploy a review app
    ///
    /// With review apps on, `git push platform feature-x` to an app of the
    /// pipeline creates (then deploys) the review app `<app>-feature-x`, with
    /// the app's config vars and its heroku.yml `setup` add-ons; deleting the
    /// branch (`git push platform :feature-x`) destroys it.
    #[command(name = "reviewapps:enable")]
    ReviewappsEnable(ReviewAppsEnableArgs),

    /// Refuse pushes of other branches again, as without a pipeline
    #[command(name = "reviewapps:disable")]
    ReviewappsDisable(PipelineOption),

    /// List the certificates of an app's domains
    Certs(AppJsonArgs),

    /// Add a certificate of your own (PEM chain, leaf first, and its PEM key)
    ///
    /// It serves every domain of the app it covers, instead of an automatic
    /// one. It must match its key, parse, be valid now, and cover a domain
    /// of the app.
    #[command(name = "certs:add")]
    CertsAdd(CertsAddArgs),

    /// Remove a domain's manual certificate (its automatic one serves again)
    #[command(name = "certs:remove")]
    CertsRemove(DomainArgs),

    /// Show automatic TLS (ACME) per domain, with the last error
    #[command(name = "certs:auto")]
    CertsAuto(AppJsonArgs),

    /// Retry automatic certificates of an app's domains now, without waiting out the backoff
    #[command(name = "certs:auto:refresh")]
    CertsAutoRefresh(AppArg),

    /// Redirect plain HTTP to HTTPS for domains with a valid certificate (on by default)
    #[command(name = "certs:redirect")]
    CertsRedirect(TlsToggleArgs),

    /// Send Strict-Transport-Security over HTTPS (off by default)
    #[command(name = "certs:hsts")]
    CertsHsts(TlsToggleArgs),

    /// Show an app's config vars
    Config(ConfigArgs),

    /// Print one config var's value
    #[command(name = "config:get")]
    ConfigGet(ConfigGetArgs),

    /// Set config vars (KEY=VALUE …), as a new release
    ///
    /// Values may contain `=`, spaces and newlines. The processes restart
    /// with the new config, health-gated.
    #[command(name = "config:set")]
    ConfigSet(ConfigSetArgs),

    /// Remove config vars (KEY …), as a new release
    #[command(name = "config:unset")]
    ConfigUnset(ConfigUnsetArgs),

    /// Roll back to an earlier release's code and config, as a new release
    ///
    /// Without a version, returns to the previous successful release.
    #[command(name = "releases:rollback")]
    ReleasesRollback(RollbackArgs),

    /// Scale process types: `web=2`, `worker+1`, `web-1`; with no argument, show the formation
    #[command(name = "ps:scale")]
    PsScale(ScaleArgs),

    /// Show or set what each process type may use: `web --memory 512m --cpus 1.5`
    ///
    /// A change is a new release, rolled out health-gated. Limits set here win
    /// over those the manifest gives; a process that exceeds its memory is
    /// killed, reported in the log and `ps`, and restarted.
    #[command(name = "ps:limits")]
    PsLimits(LimitsArgs),

    /// Restart processes one at a time (web ones health-gated): all, -p TYPE, or -d DYNO
    #[command(name = "ps:restart")]
    PsRestart(RestartArgs),

    /// Stop a dyno (web.2) or every dyno of a type (-p TYPE); each is replaced
    #[command(name = "ps:stop")]
    PsStop(StopArgs),

    /// Run a command in a one-off process of the current release
    ///
    /// The arguments are joined into one command line (each shell-quoted when
    /// there are several) and run under /bin/sh -c with the app's config.
    /// When stdin and stdout are terminals the process gets a terminal too
    /// (keystrokes, Ctrl-C and window size go to it); otherwise output
    /// streams back. The process is removed afterwards.
    Run(RunArgs),

    /// Run a command in a one-off process in the background; its output goes to the app's log
    ///
    /// Prints the dyno's name (run.NNNN). It shows in `berth ps` while it
    /// runs and is removed when it exits.
    #[command(name = "run:detached")]
    RunDetached(RunDetachedArgs),

    /// Show whether an app is in maintenance mode
    Maintenance(AppArg),

    /// Put an app in maintenance mode: visitors get a 503 maintenance page, processes keep running
    #[command(name = "maintenance:on")]
    MaintenanceOn(AppArg),

    /// Take an app out of maintenance mode
    #[command(name = "maintenance:off")]
    MaintenanceOff(AppArg),

    /// Point a git remote (default `platform`) at an app
    ///
    /// Adds the remote, or updates its URL, so that `git push platform main` deploys the app.
    #[command(name = "git:remote")]
    GitRemote(GitRemoteArgs),

    /// List who has access to an app, and their roles
    ///
    /// Roles: owner (everything, including access and destroy), admin (config,
    /// scale, domains, add-ons, rollback), deployer (push, restart, scale,
    /// logs), viewer (read the app; config var names but not values).
    Access(AppJsonArgs),

    /// Give an existing user a role on an app (owners only)
    #[command(name = "access:add")]
    AccessAdd(AccessArgs),

    /// Change a user's role on an app (owners only)
    #[command(name = "access:update")]
    AccessUpdate(AccessArgs),

    /// Take a user's access to an app away (owners only)
    ///
    /// An app's last owner cannot be removed: make someone else owner first.
    #[command(name = "access:remove")]
    AccessRemove(AccessRemoveArgs),

    /// List the hosts dynos run on, their state and dynos (platform admins only)
    ///
    /// The host berthd starts with is named by BERTH_HOST_NAME (default
    /// `default`); `berth ps` shows each dyno's host by this name.
    Hosts(JsonArgs),

    /// Add a managed host: its Docker engine joins the platform (platform admins only)
    ///
    /// berthd reaches the engine over mutual TLS with its own client
    /// certificate (DOCKER_CERT_PATH), and needs BERTH_REGISTRY: images are
    /// built once and every host pulls them from there. The first host added
    /// makes the default host a Docker Swarm manager.
    #[command(name = "hosts:add")]
    HostsAdd(HostsAddArgs),

    /// Stop placing dynos on a host and move its dynos to the others, health-gated (platform admins only)
    #[command(name = "hosts:drain")]
    HostsDrain(HostArgs),

    /// Take a drained host out of the platform (platform admins only)
    ///
    /// Its engine leaves the swarm and keeps none of the platform's
    /// containers or images. A host that still runs dynos is refused.
    #[command(name = "hosts:remove")]
    HostsRemove(HostArgs),

    /// List the platform's users (platform admins only)
    Users(JsonArgs),

    /// Create a user and print a first API token for them (platform admins only)
    ///
    /// The token is the last line of the output: hand it over, or give a
    /// password with --password-stdin so the user can run `berth login`.
    #[command(name = "users:create")]
    UsersCreate(UsersCreateArgs),

    /// Remove a user, their tokens and roles (platform admins only)
    ///
    /// The audit trail keeps their name. A user who is the only owner of
    /// some app is refused unless --reassign-to names who takes those apps.
    #[command(name = "users:remove")]
    UsersRemove(UsersRemoveArgs),

    /// List your API tokens, oldest first (their secrets are never shown again)
    Tokens(JsonArgs),

    /// Create an API token and print it once
    ///
    /// The token is the last line of the output. Its scope limits what it may
    /// do (read: read only; deploy: read, push, restart, scale; full:
    /// everything you may do); it never grants more than your roles.
    #[command(name = "tokens:create")]
    TokensCreate(TokensCreateArgs),

    /// Revoke one of your API tokens
    #[command(name = "tokens:revoke")]
    TokensRevoke(TokensRevokeArgs),

    /// Show an app's audit trail, or the whole platform's, oldest first
    ///
    /// Without an app (no -a and no `platform` remote here) shows the whole
    /// platform's trail, which only platform admins may read.
    Audit(AppJsonArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The account's email address (prompted for when omitted, in a terminal)
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,

    /// Read the password from the first line of stdin, for scripts
    #[arg(long, requires = "email")]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AppArg {
    /// The app (default: the one the `platform` git remote points at)
    #[arg(short, long, value_name = "APP")]
    pub app: Option<String>,
}

#[derive(Debug, Args)]
pub struct AppsCreateArgs {
    /// The app's name: 3 to 30 lowercase letters, digits and dashes (default: a random name)
    pub name: Option<String>,

    /// Do not add a `platform` git remote
    #[arg(long)]
    pub no_remote: bool,

    /// Set the app up as the repository's heroku.yml says: the add-ons and
    /// config vars under `setup` come with it (otherwise: on its first push)
    #[arg(long)]
    pub manifest: bool,

    /// Print the created app as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AppsInfoArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AppJsonArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DrainArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The drain's URL
    pub url: String,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddonsArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Every add-on of every app you can see
    #[arg(long, conflicts_with = "app")]
    pub all: bool,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddonsCreateArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// postgres, redis, heroku-postgresql[:PLAN] or heroku-redis[:PLAN]
    #[arg(value_name = "SERVICE[:PLAN]")]
    pub service: String,

    /// The attachment's name: the app's config var is <AS>_URL
    #[arg(long = "as", value_name = "NAME")]
    pub as_name: Option<String>,

    /// The add-on's name (default: a random one, e.g. postgres-quiet-harbor-4821)
    #[arg(long, value_name = "ADDON")]
    pub name: Option<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddonsInfoArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The add-on's name
    pub name: String,

    /// Also show its URL, login and password (needs the right to read config vars)
    #[arg(long)]
    pub reveal: bool,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddonsDestroyArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The add-on's name
    pub name: String,

    /// The name of the app it belongs to, to confirm
    #[arg(long, value_name = "APP")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddonsAttachArgs {
    /// The app to attach it to
    #[command(flatten)]
    pub app: AppArg,

    /// The add-on's name
    pub name: String,

    /// The attachment's name: the app's config var is <AS>_URL
    #[arg(long = "as", value_name = "NAME")]
    pub as_name: Option<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AddonNameArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The add-on's name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PgBackupsArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The Postgres add-on (default: the one attached to the app as DATABASE)
    pub addon: Option<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PgRestoreArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The backup, e.g. b003 (see pg:backups)
    pub id: String,

    /// The Postgres add-on (default: the one attached to the app as DATABASE)
    pub addon: Option<String>,

    /// The app's name again, to confirm
    #[arg(long, value_name = "APP")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct DomainArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The hostname, e.g. www.example.com
    pub hostname: String,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CertsAddArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The certificate chain, PEM, leaf first
    pub certificate: std::path::PathBuf,

    /// The private key, PEM
    pub key: std::path::PathBuf,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct TlsToggleArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// on or off (without it: show the current setting)
    pub state: Option<OnOff>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// How far back to look: 30m, 1h, 24h, 7d (at most 7d)
    #[arg(long, value_name = "WINDOW")]
    pub since: Option<String>,

    /// Print JSON: the summary, every point and every dyno's series
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// How many of the newest lines to show
    #[arg(short = 'n', long, default_value_t = 100, value_name = "N")]
    pub num: usize,

    /// Keep following: print new lines as they come
    #[arg(short, long)]
    pub tail: bool,

    /// Only this process type's lines (web, worker…)
    #[arg(short = 'p', long = "type", value_name = "TYPE")]
    pub process_type: Option<String>,

    /// Only this dyno's lines (web.1, router, build…)
    #[arg(short, long)]
    pub dyno: Option<String>,

    /// Only this source's lines
    #[arg(short, long, value_parser = ["app", "berth"])]
    pub source: Option<String>,

    /// Print JSON: an array, or with --tail one object per line
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Show only the latest N releases
    #[arg(short = 'n', long = "num", value_name = "N")]
    pub num: Option<usize>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The release, e.g. v3
    pub version: Option<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["dyno", "process_type"])))]
pub struct StopArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The dyno to stop, e.g. web.2
    pub dyno: Option<String>,

    /// Stop every dyno of this type
    #[arg(short = 'p', long = "process-type", value_name = "TYPE")]
    pub process_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Exit with the command's exit status
    #[arg(short = 'x', long = "exit-code")]
    pub exit_code: bool,

    /// Extra environment for this run, KEY=VALUE (repeatable)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Stream output back without a terminal, even from a terminal
    #[arg(long)]
    pub no_tty: bool,

    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunDetachedArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Extra environment for this run, KEY=VALUE (repeatable)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Print {"dyno": …} instead of the name
    #[arg(long)]
    pub json: bool,

    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Restart only processes of this type, e.g. web
    #[arg(
        short = 'p',
        long = "process-type",
        value_name = "TYPE",
        conflicts_with = "dyno"
    )]
    pub process_type: Option<String>,

    /// Restart only this dyno, e.g. web.2
    #[arg(short, long, value_name = "DYNO")]
    pub dyno: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Print KEY='value' lines for a shell
    #[arg(short, long)]
    pub shell: bool,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConfigGetArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The config var's name
    pub key: String,
}

#[derive(Debug, Args)]
pub struct ConfigSetArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// KEY=VALUE pairs
    #[arg(required = true, value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConfigUnsetArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Names of the config vars to remove
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The release to return to, e.g. v3 (default: the previous successful one)
    pub version: Option<String>,
}

#[derive(Debug, Args)]
pub struct LimitsArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The process type to change (with --memory and/or --cpus)
    #[arg(value_name = "TYPE")]
    pub process_type: Option<String>,

    /// Memory, e.g. 512m or 1g (binary units)
    #[arg(long, requires = "process_type")]
    pub memory: Option<String>,

    /// CPUs, e.g. 0.5 or 1.5
    #[arg(long, requires = "process_type")]
    pub cpus: Option<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Changes such as web=2 worker+1 web-1
    #[arg(value_name = "TYPE=N")]
    pub changes: Vec<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AppsDestroyArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The app's name again, to confirm
    #[arg(long, value_name = "APP")]
    pub confirm: Option<String>,

    /// Destroy its persistent volumes and their data too (else an app with
    /// volumes is not destroyed)
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Debug, Args)]
pub struct VolumesCreateArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The volume's name, e.g. uploads
    pub name: String,

    /// Where it is mounted in the containers, e.g. /data
    #[arg(long, value_name = "PATH")]
    pub path: String,

    /// The process type whose dynos mount it
    #[arg(short = 'p', long = "process-type", value_name = "TYPE")]
    pub process_type: String,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VolumesDestroyArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The volume's name
    pub name: String,

    /// The name of the app it belongs to, to confirm
    #[arg(long, value_name = "APP")]
    pub confirm: Option<String>,
}

#[derive(Debug, Args)]
pub struct GitRemoteArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The git remote to set
    #[arg(short, long, value_name = "REMOTE", default_value = crate::git::DEFAULT_REMOTE)]
    pub remote: String,
}

#[derive(Debug, Args)]
pub struct PipelineAppArgs {
    /// The pipeline's name: 3 to 30 lowercase letters, digits and dashes
    #[arg(value_name = "PIPELINE")]
    pub pipeline: String,

    #[command(flatten)]
    pub app: AppArg,

    /// review, development, staging or production
    #[arg(short, long, value_name = "STAGE")]
    pub stage: String,

    /// Print the pipeline as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PipelineInfoArgs {
    /// The pipeline's name
    #[arg(value_name = "PIPELINE")]
    pub pipeline: String,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PipelineNameArg {
    /// The pipeline's name
    #[arg(value_name = "PIPELINE")]
    pub pipeline: String,
}

#[derive(Debug, Args)]
pub struct PipelineOption {
    /// The pipeline
    #[arg(short, long, value_name = "PIPELINE")]
    pub pipeline: String,
}

#[derive(Debug, Args)]
pub struct ReviewAppsEnableArgs {
    #[command(flatten)]
    pub pipeline: PipelineOption,

    /// Destroy a review app after this long without a push: a number and
    /// s, m, h or d, e.g. 5d (default: only when its branch is deleted)
    #[arg(long, value_name = "TTL")]
    pub ttl: Option<String>,
}

#[derive(Debug, Args)]
pub struct PipelinesDiffArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Compare with only this app of the next stage
    #[arg(long, value_name = "APP")]
    pub to: Option<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PipelinesPromoteArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// Promote to only this app of the next stage (repeatable; default: every one)
    #[arg(long, value_name = "APP")]
    pub to: Vec<String>,

    /// Print the promotion as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The user's email address
    pub email: String,

    /// owner, admin, deployer or viewer
    #[arg(long, value_name = "ROLE")]
    pub role: String,
}

#[derive(Debug, Args)]
pub struct AccessRemoveArgs {
    #[command(flatten)]
    pub app: AppArg,

    /// The user's email address
    pub email: String,
}

#[derive(Debug, Args)]
pub struct HostsAddArgs {
    /// The host's name, shown in `berth hosts` and `berth ps` (lowercase letters, digits, dashes)
    pub name: String,

    /// The host's Docker engine, tcp://HOST:PORT (mutual TLS, usually port 2376)
    #[arg(long, value_name = "URL")]
    pub docker_host: String,

    /// A label for the host, KEY=VALUE (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,

    /// Print the added host as JSON
    #[arg(long)]
    pub json: bool,
}

fn parse_label(label: &str) -> Result<(String, String), String> {
    label
        .split_once('=')
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .ok_or_else(|| format!("{label:?} is not KEY=VALUE"))
}

#[derive(Debug, Args)]
pub struct HostArgs {
    /// The host's name, as `berth hosts` lists it
    pub name: String,

    /// Print the host as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UsersCreateArgs {
    /// The new user's email address
    pub email: String,

    /// Make the user a platform admin
    #[arg(long)]
    pub admin: bool,

    /// Read the user's password from the first line of stdin
    #[arg(long)]
    pub password_stdin: bool,

    /// Print {"id", "token", "email"} as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UsersRemoveArgs {
    /// The email address of the user to remove
    pub email: String,

    /// Who becomes owner of the apps the user alone owns
    #[arg(long, value_name = "EMAIL")]
    pub reassign_to: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokensCreateArgs {
    /// What the token is for, shown in `berth tokens`
    #[arg(short, long, value_name = "TEXT")]
    pub description: Option<String>,

    /// Lifetime such as 90m, 12h, 30d or 8w (default: no expiry)
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,

    /// read, deploy or full
    #[arg(long, value_name = "SCOPE", default_value = "full")]
    pub scope: String,

    /// Print {"id", "token"} as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TokensRevokeArgs {
    /// The token's id, as `berth tokens` lists it
    pub id: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_have_colons() {
        let cli = Cli::try_parse_from(["berth", "apps:destroy", "-a", "demo", "--confirm", "demo"])
            .unwrap();
        assert!(matches!(cli.command, Command::AppsDestroy(ref args)
            if args.app.app.as_deref() == Some("demo") && args.confirm.as_deref() == Some("demo")));
        assert!(Cli::try_parse_from(["berth", "login", "--password-stdin"]).is_err());
    }

    #[test]
    fn promotions_take_several_targets() {
        let cli = Cli::try_parse_from([
            "berth",
            "pipelines:promote",
            "-a",
            "shop-staging",
            "--to",
            "shop-eu",
            "--to",
            "shop-us",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::PipelinesPromote(ref args)
            if args.app.app.as_deref() == Some("shop-staging") && args.to == ["shop-eu", "shop-us"]));
    }
}
