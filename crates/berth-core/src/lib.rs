//! Berth's domain: the values a user names and the rules that hold for them.
//! Everything here is pure so it can be tested without a server, engine or store.

mod app_name;
mod email;
mod policy;

pub use app_name::{AppName, AppNameError};
pub use email::{Email, EmailError};
pub use policy::{authorize, Action, Actor, AppRole, Denied, TokenScope};
