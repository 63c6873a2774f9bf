//! What the CLI reads from its environment, read once, so the rest of the
//! code (and its tests) never touches process-global state.

use std::path::PathBuf;

/// Where `berth` talks to when neither `BERTH_API_URL` nor a stored login says otherwise.
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:7000";

#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `BERTH_API_URL`
    pub api_url: Option<String>,
    /// `BERTH_API_KEY`
    pub api_key: Option<String>,
    /// `BERTH_CONFIG_DIR`
    pub config_dir: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`
    pub xdg_config_home: Option<PathBuf>,
    /// `HOME`
    pub home: Option<PathBuf>,
    /// `HOSTNAME`, used only when `/etc/hostname` is unreadable.
    pub hostname: Option<String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            api_url: var("BERTH_API_URL"),
            api_key: var("BERTH_API_KEY"),
            config_dir: var("BERTH_CONFIG_DIR").map(PathBuf::from),
            xdg_config_home: var("XDG_CONFIG_HOME").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            hostname: var("HOSTNAME"),
        }
    }

    /// `$BERTH_CONFIG_DIR`, else `$XDG_CONFIG_HOME/berth`, else `$HOME/.config/berth`.
    pub fn berth_config_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.config_dir {
            return Some(dir.clone());
        }
        if let Some(dir) = &self.xdg_config_home {
            return Some(dir.join("berth"));
        }
        self.home
            .as_ref()
            .map(|home| home.join(".config").join("berth"))
    }

    /// `$HOME/.netrc`, which curl and git read.
    pub fn netrc_path(&self) -> Option<PathBuf> {
        self.home.as_ref().map(|home| home.join(".netrc"))
    }

    /// This machine's name, for token descriptions (`berth CLI on laptop`).
    pub fn machine_name(&self) -> String {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            .or_else(|| self.hostname.clone())
            .unwrap_or_else(|| "this machine".to_string())
    }
}

/// An environment variable, with empty meaning unset.
fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_dir_prefers_berth_then_xdg_then_home() {
        let mut env = Env {
            home: Some("/home/a".into()),
            ..Env::default()
        };
        assert_eq!(
            env.berth_config_dir(),
            Some(PathBuf::from("/home/a/.config/berth"))
        );
        env.xdg_config_home = Some("/xdg".into());
        assert_eq!(env.berth_config_dir(), Some(PathBuf::from("/xdg/berth")));
        env.config_dir = Some("/berth".into());
        assert_eq!(env.berth_config_dir(), Some(PathBuf::from("/berth")));
        assert_eq!(Env::default().berth_config_dir(), None);
    }
}
