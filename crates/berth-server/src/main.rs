//! `berthd`: runs the Berth server, or (`berthd admin …`) changes its store directly.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use berth_server::{admin, launch, Listeners, Settings};
use clap::{Parser, Subcommand};

/// Berth: a self-hosted, Heroku-style platform. With no command, runs the server.
#[derive(Parser)]
#[command(name = "berthd", version)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Administer the store directly (works while the server runs).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user and print a new API token as the last line.
    CreateUser {
        email: String,
        /// Make the user a platform admin (all apps, users and hosts).
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of stdin. Without it, a
        /// terminal is asked for one; otherwise the user has no password
        /// (API tokens only) until one is set.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Re-seal every secret (config vars, release configs) with a new key.
    ///
    /// Stop berthd first, then start it again: the old key is kept as
    /// secret.key.previous so nothing sealed meanwhile becomes unreadable.
    RotateKey,
    /// Set or replace a user's password.
    SetPassword {
        email: String,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            None => serve(cli.settings).await,
            Some(Command::Admin(command)) => run_admin(&cli.settings, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(format!("{error:#}")),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,hyper=warn,bollard=warn".into()),
        )
        .init();
    let shutdown = shutdown_signal()?;
    let listeners = Listeners::bind(&settings).await?;
    launch(settings, listeners, shutdown, || {}).await
}

/// Watches for SIGINT and SIGTERM from now on (before the listeners open,
/// so an early signal is not fatal) and resolves on the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

async fn run_admin(settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateUser {
            email,
            admin: is_admin,
            password_stdin,
        } => {
            let password = read_password(password_stdin, true)?;
            let issued =
                admin::create_user(settings, &email, is_admin, password.as_deref()).await?;
            let role = if is_admin { "platform admin" } else { "member" };
            println!("Created user {} ({role}).", issued.email);
            if password.is_none() {
                println!("It has no password yet: sign in with the token, or set one with `berthd admin set-password`.");
            }
            println!("API token (shown once):");
            println!("{}", issued.token);
        }
        AdminCommand::RotateKey => {
            let id = admin::rotate_key(settings).await?;
            println!("Every secret is now sealed with key {id}. Start berthd again to use it.");
        }
        AdminCommand::SetPassword {
            email,
            password_stdin,
        } => {
            let password = read_password(password_stdin, false)?.ok_or_else(|| {
                anyhow::anyhow!("no password given: pass it on stdin with --password-stdin")
            })?;
            admin::set_password(settings, &email, &password).await?;
            println!("Password set for {email}.");
        }
    }
    Ok(())
}

/// The password from stdin (`--password-stdin`), or asked at a terminal;
/// never asked for when stdin is not a terminal.
fn read_password(from_stdin: bool, may_be_empty: bool) -> anyhow::Result<Option<String>> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\n', '\r']).to_string();
        anyhow::ensure!(
            !password.is_empty(),
            "the password read from stdin is empty"
        );
        return Ok(Some(password));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let prompt = if may_be_empty {
        "Password (empty for none): "
    } else {
        "Password: "
    };
    let password = rpassword::prompt_password(prompt)?;
    if password.is_empty() {
        return Ok(None);
    }
    let again = rpassword::prompt_password("Password again: ")?;
    anyhow::ensure!(
        password == again,
        "the passwords differ; nothing was changed"
    );
    Ok(Some(password))
}
