//! What the benches share: their command-line
//! scaffolding, Ctrl-C handling, and the app they push to with `git`.

mod cli;
mod interrupt;
mod remote;

pub use cli::{not_an_option, positive, run_main};
pub use interrupt::{interrupted, watch_interrupts};
pub use remote::{create_app, kill_group, sign_up, Remote};
