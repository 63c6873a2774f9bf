//! The one error type of the CLI. Every failure ends as a single
//! `error: <Display>` line on stderr and exit status 1, so each message reads
//! as a sentence that says what went wrong and, where we know it, what to do.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not logged in: run berth login (or set BERTH_API_KEY)")]
    NotLoggedIn,

    /// The server refused the token (401 on an authenticated request).
    #[error("{message}{}", unauthorized_hint(message, *from_env))]
    Unauthorized { message: String, from_env: bool },

    /// The server answered with its JSON error body.
    #[error("{message}")]
    Api {
        status: u16,
        id: String,
        message: String,
    },

    /// The server (or something in front of it) answered without a JSON error body.
    #[error("{status} from {url}")]
    HttpStatus {
        status: reqwest::StatusCode,
        url: String,
    },

    #[error(
        "cannot reach the Berth API at {url}: {reason} (is berthd running? set BERTH_API_URL)"
    )]
    Unreachable { url: String, reason: String },

    #[error("unexpected response from {url}: {reason}")]
    BadResponse { url: String, reason: String },

    #[error("invalid API URL {url:?}: {reason}")]
    BadApiUrl { url: String, reason: String },

    #[error(
        "no app specified: use -a APP, or run inside a git repository with a platform remote \
         (berth git:remote -a APP)"
    )]
    NoApp,

    #[error("confirmation {given:?} does not match the app name {app:?}")]
    ConfirmationMismatch { given: String, app: String },

    #[error("this destroys {app} and everything in it: run again with --confirm {app}")]
    ConfirmationRequired { app: String },

    #[error(
        "this destroys add-on {addon} and all its data: run again with --confirm {app} \
         (the app it belongs to)"
    )]
    AddonConfirmationRequired { addon: String, app: String },

    #[error(
        "this destroys volume {volume} and all its data: run again with --confirm {app} \
         (the app it belongs to)"
    )]
    VolumeConfirmationRequired { volume: String, app: String },

    #[error("not a git repository: run git init first")]
    NotAGitRepository,

    #[error("git {args} failed: {reason}")]
    Git { args: String, reason: String },

    #[error(
        "cannot prompt for a password: stdin is not a terminal; \
         use berth login --email E --password-stdin"
    )]
    NoTerminal,

    #[error("{0}")]
    Input(String),

    #[error("{action} {}: {source}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot find a configuration directory: set HOME or BERTH_CONFIG_DIR")]
    NoConfigDir,

    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// What to do about a refused token, unless the server's message says it already.
fn unauthorized_hint(message: &str, from_env: bool) -> &'static str {
    match (message.contains("berth login"), from_env) {
        (true, true) => " (the token came from BERTH_API_KEY)",
        (true, false) => "",
        (false, true) => ": check BERTH_API_KEY, or unset it and run berth login",
        (false, false) => ": run berth login",
    }
}

impl Error {
    pub fn file(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::File {
            action,
            path,
            source,
        }
    }

    /// The message as one line, whatever the server put in it.
    pub fn one_line(&self) -> String {
        self.to_string().replace(['\r', '\n'], " ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_token_says_what_to_do_once() {
        let refused = |message: &str, from_env| {
            Error::Unauthorized {
                message: message.into(),
                from_env,
            }
            .to_string()
        };
        assert_eq!(refused("bad token", false), "bad token: run berth login");
        assert_eq!(
            refused("bad token", true),
            "bad token: check BERTH_API_KEY, or unset it and run berth login"
        );
        assert_eq!(
            refused("bad token: run `berth login`", false),
            "bad token: run `berth login`"
        );
        assert_eq!(
            refused("bad token: run `berth login`", true),
            "bad token: run `berth login` (the token came from BERTH_API_KEY)"
        );
    }

    #[test]
    fn messages_are_one_line() {
        let error = Error::Api {
            status: 500,
            id: "x".into(),
            message: "a\nb\r\nc".into(),
        };
        assert_eq!(error.one_line(), "a b  c");
    }
}
