//! The local terminal while a remote process owns it: raw mode (keystrokes,
//! Ctrl-C included, go to the remote process as bytes, unechoed), restored
//! however the session ends, and the window's size.

use std::io::IsTerminal;

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
