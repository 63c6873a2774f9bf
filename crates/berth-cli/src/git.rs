//! The few `git` operations the CLI needs: always the `git` program with an
//! argument vector, never a shell command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The remote `berth apps:create` adds and app commands read their app from.
pub const DEFAULT_REMOTE: &str = "platform";

/// A directory we run `git` in (the current directory, normally).
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
}

impl Git {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the directory is inside a git work tree. `false` also when git is missing.
    pub fn is_work_tree(&self) -> bool {
        self.run(&["rev-parse", "--is-inside-work-tree"])
            .is_ok_and(|out| out.trim() == "true")
    }

    /// The URL of `remote`, if the directory is in a repository that has it.
    pub fn remote_url(&self, remote: &str) -> Option<String> {
        if !is_valid_remote_name(remote) {
            return None;
        }
        self.run(&["remote", "get-url", "--", remote])
            .ok()
            .map(|url| url.trim().to_string())
            .filter(|url| !url.is_empty())
    }

    pub fn add_remote(&self, remote: &str, url: &str) -> Result<()> {
        check_remote_name(remote)?;
        self.run(&["remote", "add", "--", remote, url]).map(drop)
    }

    pub fn set_remote_url(&self, remote: &str, url: &str) -> Result<()> {
        check_remote_name(remote)?;
        self.run(&["remote", "set-url", "--", remote, url])
            .map(drop)
    }

    pub fn remove_remote(&self, remote: &str) -> Result<()> {
        check_remote_name(remote)?;
        self.run(&["remote", "remove", "--", remote]).map(drop)
    }

    /// The root of the work tree the directory is in.
    pub fn top_level(&self) -> Result<PathBuf> {
        Ok(PathBuf::from(
            self.run(&["rev-parse", "--show-toplevel"])?.trim_end(),
        ))
    }

    /// Runs git with `args` in the directory; its stdout on success.
    fn run(&self, args: &[&str]) -> Result<String> {
        let failed = |reason: String| Error::Git {
            args: args.join(" "),
            reason,
        };
        let output = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|error| failed(format!("cannot run git: {error}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason = stderr
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .map_or_else(|| output.status.to_string(), str::to_string);
            return Err(failed(reason));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// A remote name git accepts and that cannot be mistaken for an option.
fn is_valid_remote_name(remote: &str) -> bool {
    !remote.is_empty() && !remote.starts_with('-') && !remote.contains(char::is_whitespace)
}

fn check_remote_name(remote: &str) -> Result<()> {
    if is_valid_remote_name(remote) {
        Ok(())
    } else {
        Err(Error::Input(format!("invalid git remote name {remote:?}")))
    }
}

/// The app a git remote URL points at: its last path segment without `.git`,
/// e.g. `https://berth.example.com/demo.git` → `demo`. Also reads scp-like
/// URLs (`git@host:demo.git`) and ignores a trailing slash, a query and a fragment.
pub fn app_name_from_remote_url(url: &str) -> Option<String> {
    let url = url.trim();
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map(|(_, path)| path)?,
        None => url,
    };
    let last = path.trim_end_matches('/').rsplit(['/', ':']).next()?;
    let name = last.strip_suffix(".git").unwrap_or(last);
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_come_from_the_last_path_segment() {
        for (url, expected) in [
            ("http://127.0.0.1:7000/demo.git", Some("demo")),
            ("https://berth.example.com/demo.git/", Some("demo")),
            ("https://user:token@berth.example.com/demo", Some("demo")),
            (
                "https://berth.example.com/prefix/my-app-2.git",
                Some("my-app-2"),
            ),
            ("https://berth.example.com/demo.git?x=1", Some("demo")),
            ("git@berth.example.com:demo.git", Some("demo")),
            ("ssh://git@berth.example.com/demo.git", Some("demo")),
            ("/srv/git/demo.git", Some("demo")),
            ("  http://h/demo.git\n", Some("demo")),
            ("http://h", None),
            ("http://h/", None),
            ("http://h/.git", None),
            ("", None),
        ] {
            assert_eq!(app_name_from_remote_url(url).as_deref(), expected, "{url}");
        }
    }

    #[test]
    fn remote_names_that_look_like_options_are_refused() {
        assert!(is_valid_remote_name("platform"));
        assert!(!is_valid_remote_name("--upload-pack=x"));
        assert!(!is_valid_remote_name(""));
        assert!(!is_valid_remote_name("a b"));
    }
}
