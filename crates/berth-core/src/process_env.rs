//! What a process sees: the environment every container of a release gets.

use std::collections::BTreeMap;

/// The port a web process listens on inside its container (`PORT`).
pub const WEB_PORT: u16 = 5000;

/// Names Berth sets itself; config vars cannot override them.
pub fn is_reserved(key: &str) -> bool {
    key == "PORT" || key == "DYNO" || key.starts_with("BERTH_")
}

pub struct ProcessContext<'a> {
    pub app: &'a str,
    /// e.g. 7 for `v7`.
    pub release_version: i64,
    pub commit_sha: Option<&'a str>,
    /// `web.1`, or `release` for the release phase.
    pub dyno: &'a str,
    /// Set for web processes.
    pub port: Option<u16>,
    pub config: &'a BTreeMap<String, String>,
}

/// The environment of one process: config vars first, then what Berth sets
/// (which wins over a config var of the same name).
pub fn process_env(context: &ProcessContext<'_>) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = context
        .config
        .iter()
        .filter(|(key, _)| !is_reserved(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    env.insert("DYNO".into(), context.dyno.to_string());
    env.insert("BERTH_APP_NAME".into(), context.app.to_string());
    env.insert(
        "BERTH_RELEASE_VERSION".into(),
        format!("v{}", context.release_version),
    );
    if let Some(sha) = context.commit_sha {
        env.insert("BERTH_SLUG_COMMIT".into(), sha.to_string());
    }
    if let Some(port) = context.port {
        env.insert("PORT".into(), port.to_string());
    }
    env.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_web_process_sees_what_heroku_gives_and_config_cannot_spoof_it() {
        let config = BTreeMap::from([
            ("DATABASE_URL".to_string(), "postgres://x".to_string()),
            ("PORT".to_string(), "1".to_string()),
            ("BERTH_APP_NAME".to_string(), "spoof".to_string()),
        ]);
        let env = process_env(&ProcessContext {
            app: "demo",
            release_version: 7,
            commit_sha: Some("abc123"),
            dyno: "web.1",
            port: Some(WEB_PORT),
            config: &config,
        });
        let env: BTreeMap<_, _> = env.into_iter().collect();
        assert_eq!(env["PORT"], "5000");
        assert_eq!(env["DYNO"], "web.1");
        assert_eq!(env["BERTH_APP_NAME"], "demo");
        assert_eq!(env["BERTH_RELEASE_VERSION"], "v7");
        assert_eq!(env["BERTH_SLUG_COMMIT"], "abc123");
        assert_eq!(env["DATABASE_URL"], "postgres://x");
    }

    #[test]
    fn other_processes_get_no_port() {
        let env = process_env(&ProcessContext {
            app: "demo",
            release_version: 1,
            commit_sha: None,
            dyno: "worker.1",
            port: None,
            config: &BTreeMap::new(),
        });
        assert!(env
            .iter()
            .all(|(key, _)| key != "PORT" && key != "BERTH_SLUG_COMMIT"));
    }
}
