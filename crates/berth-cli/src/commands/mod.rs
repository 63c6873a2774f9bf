//! One module per group of verbs; [`Context`] is what they share: the
//! environment, the stored login, the API client and the app being acted on.

mod access;
mod addons;
mod apps;
mod auth;
mod certs;
mod config;
mod domains;
mod git_remote;
mod hosts;
mod logs;
mod metrics;
mod pipelines;
mod releases;
mod run;
mod tokens;
mod users;
mod volumes;

use std::io::{BufRead, Write};
use std::path::PathBuf;

use crate::api::{Auth, Client};
use crate::cli::{AppArg, Command};
use crate::credentials::{self, Credentials};
use crate::env::{Env, DEFAULT_API_URL};
use crate::error::{Error, Result};
use crate::git::{self, Git};

/// Runs one command.
pub fn run(command: Command, context: &Context) -> Result<()> {
    match command {
        Command::Login(args) => auth::login(context, args),
        Command::Logout => auth::logout(context),
        Command::Whoami(args) => auth::whoami(context, args),
        Command::Apps(args) => apps::list(context, args),
        Command::AppsCreate(args) => apps::create(context, args),
        Command::AppsInfo(args) => apps::info(context, args),
        Command::AppsDestroy(args) => apps::destroy(context, args),
        Command::GitRemote(args) => git_remote::set(context, args),
        Command::Releases(args) => releases::list(context, args),
        Command::ReleasesInfo(args) => releases::info(context, args),
        Command::ReleasesOutput(args) => releases::output(context, args),
        Command::Config(args) => config::show(context, args),
        Command::ConfigGet(args) => config::get(context, args),
        Command::ConfigSet(args) => config::set(context, args),
        Command::ConfigUnset(args) => config::unset(context, args),
        Command::ReleasesRollback(args) => config::rollback(context, args),
        Command::PsScale(args) => config::scale(context, args),
        Command::PsLimits(args) => config::limits(context, args),
        Command::PsRestart(args) => config::restart(context, args),
        Command::Run(args) => run::run(context, args),
        Command::RunDetached(args) => run::detached(context, args),
        Command::PsStop(args) => config::stop(context, args),
        Command::Maintenance(app) => config::maintenance(context, app),
        Command::MaintenanceOn(app) => config::set_maintenance(context, app, true),
        Command::MaintenanceOff(app) => config::set_maintenance(context, app, false),
        Command::Ps(args) => releases::ps(context, args),
        Command::Metrics(args) => metrics::show(context, args),
        Command::Logs(args) => logs::show(context, args),
        Command::Addons(args) => addons::list(context, args),
        Command::AddonsCreate(args) => addons::create(context, args),
        Command::AddonsInfo(args) => addons::info(context, args),
        Command::AddonsDestroy(args) => addons::destroy(context, args),
        Command::AddonsAttach(args) => addons::attach(context, args),
        Command::AddonsDetach(args) => addons::detach(context, args),
        Command::AddonsRotate(args) => addons::rotate(context, args),
        Command::PgBackups(args) => addons::backups(context, args),
        Command::PgBackupsCapture(args) => addons::capture(context, args),
        Command::PgBackupsRestore(args) => addons::restore(context, args),
        Command::Volumes(args) => volumes::list(context, args),
        Command::VolumesCreate(args) => volumes::create(context, args),
        Command::VolumesDestroy(args) => volumes::destroy(context, args),
        Command::Domains(args) => domains::list(context, args),
        Command::DomainsAdd(args) => domains::add(context, args),
        Command::DomainsRemove(args) => domains::remove(context, args),
        Command::DomainsInfo(args) => domains::info(context, args),
        Command::Pipelines(args) => pipelines::list(context, args),
        Command::PipelinesCreate(args) => pipelines::create(context, args),
        Command::PipelinesAdd(args) => pipelines::add(context, args),
        Command::PipelinesInfo(args) => pipelines::info(context, args),
        Command::PipelinesDiff(args) => pipelines::diff(context, args),
        Command::PipelinesPromote(args) => pipelines::promote(context, args),
        Command::PipelinesRemove(app) => pipelines::remove(context, app),
        Command::PipelinesDestroy(args) => pipelines::destroy(context, args),
        Command::ReviewappsEnable(args) => pipelines::enable_review_apps(context, args),
        Command::ReviewappsDisable(args) => pipelines::disable_review_apps(context, args),
        Command::Certs(args) => certs::list(context, args),
        Command::CertsAdd(args) => certs::add(context, args),
        Command::CertsRemove(args) => certs::remove(context, args),
        Command::CertsAuto(args) => certs::auto(context, args),
        Command::CertsAutoRefresh(app) => certs::refresh(context, app),
        Command::CertsRedirect(args) => certs::redirect(context, args),
        Command::CertsHsts(args) => certs::hsts(context, args),
        Command::Drains(args) => logs::drains(context, args),
        Command::DrainsAdd(args) => logs::add_drain(context, args),
        Command::DrainsRemove(args) => logs::remove_drain(context, args),
        Command::Access(args) => access::list(context, args),
        Command::AccessAdd(args) => access::add(context, args),
        Command::AccessUpdate(args) => access::update(context, args),
        Command::AccessRemove(args) => access::remove(context, args),
        Command::Audit(args) => access::audit(context, args),
        Command::Hosts(args) => hosts::list(context, args),
        Command::HostsAdd(args) => hosts::add(context, args),
        Command::HostsDrain(args) => hosts::drain(context, args),
        Command::HostsRemove(args) => hosts::remove(context, args),
        Command::Users(args) => users::list(context, args),
        Command::UsersCreate(args) => users::create(context, args),
        Command::UsersRemove(args) => users::remove(context, args),
        Command::Tokens(args) => tokens::list(context, args),
        Command::TokensCreate(args) => tokens::create(context, args),
        Command::TokensRevoke(args) => tokens::revoke(context, args),
    }
}

pub struct Context {
    pub env: Env,
    /// Git in the current directory.
    pub git: Git,
}

impl Context {
    pub fn from_process() -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self {
            env: Env::from_process(),
            git: Git::new(cwd),
        }
    }

    pub fn credentials_path(&self) -> Result<PathBuf> {
        credentials::path(&self.env)
    }

    /// The stored login, if there is one (and a place to store it).
    pub fn stored(&self) -> Result<Option<Credentials>> {
        match self.credentials_path() {
            Ok(path) => credentials::load(&path),
            Err(Error::NoConfigDir) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A client for `BERTH_API_URL`, else the stored login's server, else the
    /// default; with `BERTH_API_KEY`, else the stored token.
    pub fn client(&self) -> Result<Client> {
        let stored = self.stored()?;
        let api_url = self
            .env
            .api_url
            .clone()
            .or_else(|| stored.as_ref().map(|stored| stored.api_url.clone()))
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let auth = match (&self.env.api_key, stored) {
            (Some(token), _) => Auth {
                token: token.clone(),
                from_env: true,
            },
            (None, Some(stored)) => Auth {
                token: stored.token,
                from_env: false,
            },
            (None, None) => return Err(Error::NotLoggedIn),
        };
        Client::new(&api_url, Some(auth))
    }

    /// The app named by `-a`, else the one the `platform` remote points at.
    pub fn app_name(&self, arg: &AppArg) -> Result<String> {
        if let Some(app) = arg
            .app
            .as_deref()
            .map(str::trim)
            .filter(|app| !app.is_empty())
        {
            return Ok(app.to_string());
        }
        self.git
            .remote_url(git::DEFAULT_REMOTE)
            .and_then(|url| git::app_name_from_remote_url(&url))
            .ok_or(Error::NoApp)
    }
}

/// Whether stdin is a terminal we may prompt on.
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// Shows `prompt` on stderr and reads one line from stdin, without its line ending.
pub fn prompt_line(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    read_line()
}

/// Reads one line from stdin, without its line ending.
pub fn read_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|source| Error::Io {
            context: "cannot read stdin",
            source,
        })?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_string())
}

/// A warning that does not fail the command: one line on stderr.
pub fn warn(message: impl std::fmt::Display) {
    eprintln!(
        "warning: {}",
        message.to_string().replace(['\r', '\n'], " ")
    );
}
