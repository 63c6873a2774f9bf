//! `berth`, the command-line companion of a Berth server: a thin client of
//! its JSON API (`api`), the stored login and `~/.netrc` (`credentials`), the
//! few git operations it needs (`git`), text output (`output`) and the local
//! terminal during `berth run` (`terminal`).

pub mod api;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod env;
pub mod error;
pub mod git;
pub mod output;
pub mod terminal;

use std::process::ExitCode;

use clap::Parser;

pub use error::{Error, Result};

/// Parses the command line, runs the command, and reports a failure as one
/// `error: …` line on stderr with exit status 1.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let context = commands::Context::from_process();
    match commands::run(cli.command, &context) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error.one_line());
            ExitCode::FAILURE
        }
    }
}
