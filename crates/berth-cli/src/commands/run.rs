//! `run`: a one-off process, its output streamed back.

use std::collections::BTreeMap;
use std::io::Write;

use berth_api_types::{RunEvent, RunRequest};

use super::Context;
use crate::cli::RunArgs;
use crate::error::{Error, Result};

pub fn run(context: &Context, args: RunArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let mut env = BTreeMap::new();
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Error::Input(format!("{pair:?} is not KEY=VALUE")))?;
        env.insert(key.to_string(), value.to_string());
    }
    let request = RunRequest {
        command: command_line(&args.command),
        env,
    };
    let mut exit = None;
    let mut failure = None;
    context
        .client()?
        .run(&name, &request, |event| match event {
            RunEvent::Output { stream, line } => {
                // A reader that went away (`| head`) is no reason to stop the run's output handling.
                let _ = if stream == "stderr" {
                    writeln!(std::io::stderr(), "{line}")
                } else {
                    writeln!(std::io::stdout(), "{line}")
                };
            }
            RunEvent::Exit { code } => exit = Some(code),
            RunEvent::Error { message } => failure = Some(message),
        })?;
    if let Some(message) = failure {
        return Err(Error::Input(message));
    }
    let code = exit.ok_or_else(|| Error::Input("the run ended without an exit status".into()))?;
    if args.exit_code && code != 0 {
        let _ = std::io::stdout().flush();
        std::process::exit(i32::try_from(code.clamp(1, 255)).unwrap_or(1));
    }
    Ok(())
}

/// One argument is taken as the command line itself; several are each
/// shell-quoted where needed and joined, as the Heroku CLI does.
fn command_line(args: &[String]) -> String {
    if let [only] = args {
        return only.clone();
    }
    args.iter()
        .map(|arg| quote(arg))
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_join_as_herokus_cli_joins_them() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            command_line(&args(&["echo $HOME && exit 3"])),
            "echo $HOME && exit 3"
        );
        assert_eq!(
            command_line(&args(&["/bin/sh", "-c", "exit 3"])),
            "/bin/sh -c 'exit 3'"
        );
        assert_eq!(command_line(&args(&["echo", "it's"])), r"echo 'it'\''s'");
    }
}
