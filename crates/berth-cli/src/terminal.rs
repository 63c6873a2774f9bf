//! The local terminal while a remote process owns it: raw mode (keystrokes,
//! Ctrl-C included, go to the remote process as bytes, unechoed), restored
//! however the session ends, and the window's size. And a spinner on stderr
//! while a long request runs.

use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use berth_api_types::terminal::TerminalSize;
use rustix::termios::{self, OptionalActions, Termios};

use crate::error::{Error, Result};

/// The size assumed when the terminal does not say (some report 0×0).
const FALLBACK_SIZE: TerminalSize = TerminalSize { rows: 24, cols: 80 };

/// Whether both stdin and stdout are a terminal: only then is a remote
/// terminal what the user sees (`berth run cmd > file` wants plain output).
pub fn attached() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The terminal's size now.
pub fn size() -> TerminalSize {
    match termios::tcgetwinsize(std::io::stdin()) {
        Ok(size) if size.ws_row > 0 && size.ws_col > 0 => TerminalSize {
            rows: size.ws_row,
            cols: size.ws_col,
        },
        _ => FALLBACK_SIZE,
    }
}

/// Raw mode on stdin's terminal until dropped, which puts back the settings
/// found (also when the session fails or panics).
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    pub fn enable() -> Result<Self> {
        let stdin = std::io::stdin();
        let failed = |source: rustix::io::Errno| Error::Io {
            context: "cannot put the terminal in raw mode",
            source: source.into(),
        };
        let saved = termios::tcgetattr(&stdin).map_err(failed)?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(&stdin, OptionalActions::Now, &raw).map_err(failed)?;
        Ok(Self { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Drain: output still queued is written with the raw settings.
        if let Err(error) =
            termios::tcsetattr(std::io::stdin(), OptionalActions::Drain, &self.saved)
        {
            eprintln!("warning: cannot restore the terminal ({error}): run `stty sane`");
        }
    }
}

/// `MESSAGE...` with a turning bar on stderr while a long request runs, when
/// stderr is a terminal; elsewhere nothing until it ends, so that a failure
/// stays the one `error:` line. [`Spinner::done`] leaves `MESSAGE... done`.
pub struct Spinner {
    message: String,
    ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl Spinner {
    pub fn start(message: impl Into<String>) -> Self {
        let message: String = message.into().replace(['\r', '\n'], " ");
        let ticker = std::io::stderr().is_terminal().then(|| {
            let (stop, stopped) = mpsc::channel::<()>();
            let text = message.clone();
            let turning = std::thread::spawn(move || {
                for frame in ['|', '/', '-', '\\'].iter().cycle() {
                    let mut stderr = std::io::stderr().lock();
                    let _ = write!(stderr, "\r{frame} {text}...");
                    let _ = stderr.flush();
                    drop(stderr);
                    if stopped.recv_timeout(Duration::from_millis(120))
                        != Err(mpsc::RecvTimeoutError::Timeout)
                    {
                        break;
                    }
                }
                // Clear the line: what follows (done, or the error) takes it.
                let mut stderr = std::io::stderr().lock();
                let _ = write!(stderr, "\r\x1b[2K");
                let _ = stderr.flush();
            });
            (stop, turning)
        });
        Self { message, ticker }
    }

    /// Stops turning and says `MESSAGE... done`.
    pub fn done(mut self) {
        self.stop();
        eprintln!("{}... done", self.message);
    }

    fn stop(&mut self) {
        if let Some((stop, turning)) = self.ticker.take() {
            let _ = stop.send(());
            let _ = turning.join();
        }
    }
}

impl Drop for Spinner {
    /// A failed request leaves a clean line for its `error:`.
    fn drop(&mut self) {
        self.stop();
    }
}
