//! `run`: a one-off process, its output streamed back or, from a terminal,
//! on a terminal of its own; `run:detached`: one in the background.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use berth_api_types::terminal::Frame;
use berth_api_types::{RunEvent, RunRequest, TerminalRunRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::Context;
use crate::api::Client;
use crate::cli::{RunArgs, RunDetachedArgs};
use crate::error::{Error, Result};
use crate::output::print_json;
use crate::terminal::{self, RawMode};

pub fn run(context: &Context, args: RunArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let request = RunRequest {
        command: command_line(&args.command),
        env: env_pairs(&args.env)?,
    };
    let client = context.client()?;
    let code = if !args.no_tty && terminal::attached() {
        on_terminal(&client, &name, request)?
    } else {
        piped(&client, &name, &request)?
    };
    if args.exit_code && code != 0 {
        let _ = std::io::stdout().flush();
        std::process::exit(i32::try_from(code.clamp(1, 255)).unwrap_or(1));
    }
    Ok(())
}

pub fn detached(context: &Context, args: RunDetachedArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let request = RunRequest {
        command: command_line(&args.command),
        env: env_pairs(&args.env)?,
    };
    let started = context.client()?.run_detached(&name, &request)?;
    if args.json {
        print_json(&started);
    } else {
        println!("{}", started.dyno);
    }
    Ok(())
}

fn env_pairs(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| Error::Input(format!("{pair:?} is not KEY=VALUE")))?;
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// Output streamed back line by line; returns the exit code.
fn piped(client: &Client, name: &str, request: &RunRequest) -> Result<i64> {
    let mut exit = None;
    let mut failure = None;
    client.run(name, request, |event| match event {
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
    exit.ok_or_else(|| Error::Input("the run ended without an exit status".into()))
}

/// The process on a terminal: the local one in raw mode while it runs;
/// returns the exit code.
fn on_terminal(client: &Client, name: &str, run: RunRequest) -> Result<i64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "cannot start the terminal session",
            source,
        })?;
    let request = TerminalRunRequest {
        run,
        size: terminal::size(),
    };
    runtime.block_on(terminal_session(client, name, &request))
}

async fn terminal_session(
    client: &Client,
    name: &str,
    request: &TerminalRunRequest,
) -> Result<i64> {
    let connection = client.run_on_terminal(name, request).await?;
    let lost = |source| Error::Io {
        context: "the terminal session's connection failed",
        source,
    };
    let mut resized = signal(SignalKind::window_change()).map_err(|source| Error::Io {
        context: "cannot watch the terminal's size",
        source,
    })?;
    let _raw = RawMode::enable()?;
    let keys = read_stdin();
    let mut keys = Some(keys);
    let (mut from_server, mut to_server) = tokio::io::split(connection);
    let mut stdout = std::io::stdout();
    let mut buffer = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = from_server.read(&mut chunk) => {
                let read = read.map_err(lost)?;
                if read == 0 {
                    return Err(Error::Input("the run ended without an exit status".into()));
                }
                buffer.extend_from_slice(&chunk[..read]);
                while let Some(frame) = Frame::decode(&mut buffer).map_err(|error| {
                    Error::Input(format!("the server broke the terminal protocol: {error}"))
                })? {
                    match frame {
                        Frame::Data(bytes) => {
                            // A terminal that stopped taking output is no reason to stop the process.
                            let _ = stdout.write_all(&bytes).and_then(|()| stdout.flush());
                        }
                        Frame::Exit(code) => return Ok(code),
                        Frame::Error(message) => return Err(Error::Input(message)),
                        Frame::Resize(_) => {}
                    }
                }
            }
            typed = recv(&mut keys) => match typed {
                Some(bytes) => to_server.write_all(&Frame::data(&bytes)).await.map_err(lost)?,
                // End of input: the process goes on, its output still matters.
                None => keys = None,
            },
            _ = resized.recv() => {
                let frame = Frame::Resize(terminal::size());
                to_server.write_all(&frame.encode()).await.map_err(lost)?;
            }
        }
    }
}

/// What is typed, read on a thread of its own (reading a terminal blocks).
fn read_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut chunk = vec![0u8; 4096];
        while let Ok(read @ 1..) = stdin.read(&mut chunk) {
            if sender.blocking_send(chunk[..read].to_vec()).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The next keystrokes, or never once input has ended.
async fn recv(keys: &mut Option<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match keys {
        Some(keys) => keys.recv().await,
        None => std::future::pending().await,
    }
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
