//! `login`, `logout`, `whoami`.

use berth_api_types::LoginRequest;

use super::{interactive, prompt_line, read_line, warn, Context};
use crate::api::{api_host, Auth, Client};
use crate::cli::{JsonArgs, LoginArgs};
use crate::credentials::{self, netrc, Credentials};
use crate::env::DEFAULT_API_URL;
use crate::error::{Error, Result};
use crate::output;

pub fn login(context: &Context, args: LoginArgs) -> Result<()> {
    let env = &context.env;
    let api_url = env
        .api_url
        .clone()
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    let host = api_host(&api_url)?;
    // Know where the token will go before asking the server for one.
    let path = context.credentials_path()?;

    let (email, password) = if args.password_stdin {
        (args.email.unwrap_or_default(), read_line()?)
    } else if interactive() {
        let email = match args.email {
            Some(email) => email,
            None => prompt_line("Email: ")?,
        };
        let password = rpassword::prompt_password("Password: ").map_err(|source| Error::Io {
            context: "cannot read the password",
            source,
        })?;
        (email, password)
    } else {
        return Err(Error::NoTerminal);
    };
    let email = email.trim().to_string();
    if email.is_empty() {
        return Err(Error::Input("no email address given".into()));
    }
    if password.is_empty() {
        return Err(Error::Input("no password given".into()));
    }

    let request = LoginRequest {
        email,
        password,
        description: Some(format!("berth CLI on {}", env.machine_name())),
    };
    let created = Client::new(&api_url, None)?.login(&request)?;
    let stored = Credentials {
        api_url,
        email: created.email,
        token: created.token,
    };
    credentials::save(&path, &stored)?;
    match env.netrc_path() {
        Some(netrc_path) => {
            if let Err(error) = netrc::set_in_file(&netrc_path, &host, &stored.email, &stored.token)
            {
                warn(format_args!("{error} (git push will ask for credentials)"));
            }
        }
        None => {
            warn("HOME is not set: no ~/.netrc entry written (git push will ask for credentials)")
        }
    }
    crate::outln!("Logged in as {}", stored.email);
    Ok(())
}

pub fn logout(context: &Context) -> Result<()> {
    let path = context.credentials_path()?;
    let Some(stored) = credentials::load(&path)? else {
        crate::outln!("Not logged in");
        if context.env.api_key.is_some() {
            warn("BERTH_API_KEY is set: unset it to stop using that token");
        }
        return Ok(());
    };
    let auth = Auth {
        token: stored.token.clone(),
        from_env: false,
    };
    match Client::new(&stored.api_url, Some(auth)).and_then(|client| client.logout()) {
        // Already revoked or expired: nothing left to do on the server.
        Ok(()) | Err(Error::Unauthorized { .. }) => {}
        Err(error @ Error::Unreachable { .. }) => warn(format_args!(
            "{}; logged out locally only",
            error.one_line()
        )),
        Err(error) => warn(format_args!(
            "the server did not revoke the token: {}; logged out locally only",
            error.one_line()
        )),
    }
    credentials::remove(&path)?;
    if let (Some(netrc_path), Ok(host)) = (context.env.netrc_path(), api_host(&stored.api_url)) {
        if let Err(error) = netrc::remove_from_file(&netrc_path, &host) {
            warn(error);
        }
    }
    crate::outln!("Logged out");
    Ok(())
}

pub fn whoami(context: &Context, args: JsonArgs) -> Result<()> {
    let account = context.client()?.account()?;
    if args.json {
        output::print_json(&account);
    } else {
        crate::outln!("{}", account.email);
    }
    Ok(())
}
