//! What a pushed commit says about how to build and run it, read Heroku's way.
//!
//! Two shapes of repository are understood:
//!
//! * a `heroku.yml` at the root ([`parse_heroku_yml`]): images to build (`build.docker`),
//!   their build args (`build.config`), a release command (`release`), process commands
//!   (`run`) and what to provision (`setup`, recorded only for now); Berth adds
//!   `run.<type>.healthcheck: /path` and `run.<type>.limits: {memory: 512m, cpus: 1.5}`;
//! * otherwise a Compose file (`compose.yaml`, ...) with Berth's override beside it
//!   (`compose.berth.yaml`), see [`parse_compose`];
//! * otherwise a root `Dockerfile` with an optional `Procfile` ([`parse_procfile`]).
//!
//! [`find_manifest`] is the one place that knows this order.
//!
//! Both yield a [`Manifest`]. Every error is a [`ManifestError`] naming the file, line and
//! column (1-based) and saying what was expected there.
//!
//! # Defaults
//!
//! * A `build.docker` key without a `run` entry is a process that runs its image's `CMD`.
//! * A `run` entry without `image` runs in the image built for the same key; if there is
//!   none, in `web`'s image (Heroku: "if you don't specify an image, web is used"); if there
//!   is no `web` build either, that is an error that lists the known keys.
//! * `release` without `image` runs in `web`'s image; without a `web` build, in the only
//!   image if exactly one is built; otherwise `image` is required.
//! * `release` is not a process type: a `release:` line of a Procfile is the release command,
//!   `run.release` in heroku.yml is an error (the release command has its own section), and
//!   a `build.docker.release` key builds an image (usable by `release.image`) without
//!   starting a process from it.
//! * `context` defaults to the repository root; Dockerfile and context paths are relative
//!   to the repository root.
//! * Without heroku.yml every process builds from the root `Dockerfile` with the
//!   repository root as context, under the build key `web`; without a Procfile, or with one
//!   that declares no process type, `web` runs the image's `CMD`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::limits::Limits;
use crate::volume_name::VolumeName;

mod compose;
mod heroku_yml;
mod paths;
mod procfile;
#[cfg(test)]
mod proptests;
mod yaml;

pub use compose::{
    find_manifest, parse_compose, COMPOSE_FILES, COMPOSE_OVERRIDES, MAX_COMPOSE_BYTES,
};
pub use heroku_yml::parse_heroku_yml;
pub use procfile::parse_procfile;

/// The file name heroku.yml errors carry.
pub const HEROKU_YML: &str = "heroku.yml";
/// The file name Procfile errors carry.
pub const PROCFILE: &str = "Procfile";
/// The Dockerfile used when there is no heroku.yml.
pub const ROOT_DOCKERFILE: &str = "Dockerfile";
/// The build key used when there is no heroku.yml.
pub const DEFAULT_BUILD: &str = "web";

/// How a commit is built and run.
///
/// Invariant: every [`ProcessSpec::build`] is a key of [`Manifest::builds`] or of
/// [`Manifest::pulls`], never both; every [`ReleaseSpec::build`] is a key of
/// [`Manifest::builds`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Build key → how to build that image. With heroku.yml the keys are those of
    /// `build.docker`; otherwise there is one, [`DEFAULT_BUILD`].
    pub builds: BTreeMap<String, BuildSpec>,
    /// `build.config`: passed to every image build as Docker build args.
    pub build_args: BTreeMap<String, String>,
    pub processes: BTreeMap<ProcessType, ProcessSpec>,
    pub release: Option<ReleaseSpec>,
    /// `setup`: recorded only, for now.
    pub setup: Setup,
    pub source: ManifestSource,
    /// Build key → an image reference run as is (a Compose service with only `image:`),
    /// pulled on deploy when the engine lacks it. Every [`ProcessSpec::build`] is a key of
    /// `builds` or of `pulls`, never both.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pulls: BTreeMap<String, String>,
    /// Compose services that become Berth add-ons: service name → kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addons: BTreeMap<String, AddonKind>,
    /// The files the manifest was read from, in order: `["heroku.yml"]`,
    /// `["Dockerfile", "Procfile"]`, `["Dockerfile"]`, `["compose.yaml", "compose.berth.yaml"]`.
    #[serde(default)]
    pub files: Vec<String>,
    /// What the manifest says that Berth ignores, each said once, e.g.
    /// `"compose.yaml:7:5: services.web.container_name is ignored: Berth names containers
    /// itself"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Manifest {
    /// The image a process type runs in, if the manifest declares that process type.
    pub fn build_for(&self, process: &ProcessType) -> Option<&BuildSpec> {
        self.processes
            .get(process)
            .and_then(|spec| self.builds.get(&spec.build))
    }

    /// The image reference a process type runs as is, if it is pulled rather than built.
    pub fn pull_for(&self, process: &ProcessType) -> Option<&str> {
        self.processes
            .get(process)
            .and_then(|spec| self.pulls.get(&spec.build))
            .map(String::as_str)
    }

    /// Every named volume a process type mounts: (volume, process type, path).
    pub fn volume_mounts(&self) -> impl Iterator<Item = (&VolumeName, &ProcessType, &str)> {
        self.processes.iter().flat_map(|(process_type, spec)| {
            spec.options
                .volumes
                .iter()
                .map(move |(volume, path)| (volume, process_type, path.as_str()))
        })
    }

    /// The image the release command runs in, if there is a release command.
    pub fn release_build(&self) -> Option<&BuildSpec> {
        self.release
            .as_ref()
            .and_then(|release| self.builds.get(&release.build))
    }
}

/// Which files the manifest was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ManifestSource {
    HerokuYml,
    DockerfileAndProcfile,
    DockerfileOnly,
    /// A Compose file, with Berth's override file beside it if there is one.
    Compose,
}

/// How to build one image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildSpec {
    /// Path of the Dockerfile from the repository root, normalised: no leading `./`, no
    /// `.` or `..` components, no trailing or doubled `/`. It need not lie inside `context`.
    pub dockerfile: String,
    /// Directory of the build context from the repository root, normalised like
    /// `dockerfile`; `""` for the root.
    pub context: String,
    /// The stage of a multi-stage Dockerfile to build.
    pub target: Option<String>,
    /// Compose `build.args`: Docker build args of this image only (over
    /// [`Manifest::build_args`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

impl BuildSpec {
    /// The root Dockerfile with the repository root as context.
    pub fn root_dockerfile() -> Self {
        Self {
            dockerfile: ROOT_DOCKERFILE.to_string(),
            context: String::new(),
            target: None,
            args: BTreeMap::new(),
        }
    }
}

/// The kind of add-on a Compose service stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddonKind {
    Postgres,
    Redis,
}

/// One process type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// Key into [`Manifest::builds`].
    pub build: String,
    /// `None`: run the image's own `CMD`.
    pub command: Option<Command>,
    /// Berth's extension (`run.web.healthcheck: /health`): a path that must
    /// answer 2xx or 3xx before a new web process takes traffic. Without
    /// one, any HTTP answer on `$PORT` will do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<String>,
    /// How the container is run beyond its command (mostly from Compose).
    #[serde(default, skip_serializing_if = "ProcessOptions::is_default")]
    pub options: ProcessOptions,
}

/// How a process type's containers are run, beyond the command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcessOptions {
    /// Replaces the image's ENTRYPOINT (exec form); `Some(vec![])` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's CMD (exec form). Used only when [`ProcessSpec::command`] is
    /// `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Compose `environment` merged over `env_file` (config vars win over these at run time).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// e.g. `"SIGINT"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_seconds: Option<u32>,
    /// Compose `healthcheck`, run by the engine; the health gate waits for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthCheck>,
    /// The container port the router sends to (Compose `ports:`); `PORT` is set to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `deploy.replicas`: how many start on the first deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Compose `depends_on`: started after these.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<ProcessType, DependsOn>,
    /// Named volume → absolute mount path in the container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<VolumeName, String>,
    #[serde(default, skip_serializing_if = "Limits::is_unlimited")]
    pub limits: Limits,
}

impl ProcessOptions {
    /// Whether nothing is set, so that the image runs as it is built.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A health check the engine runs in the container (Compose `healthcheck`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HealthCheck {
    /// Docker's form: `["CMD", "prog", "arg"]` or `["CMD-SHELL", "line"]`. Never `["NONE"]`
    /// (a disabled check is `ProcessOptions::health == None`).
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period_seconds: Option<u32>,
}

/// When a process that another depends on counts as ready (Compose `depends_on.condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependsOn {
    Started,
    Healthy,
    CompletedSuccessfully,
}

/// The command run once per release, before its processes start.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReleaseSpec {
    /// Key into [`Manifest::builds`].
    pub build: String,
    pub command: Command,
}

/// A shell command line, run as `/bin/sh -c <line>` the way Heroku runs it.
///
/// Never blank. A command given as a list is its items joined with single spaces, so items
/// like `./manage.py migrate && ./manage.py check` keep their shell meaning.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Command(String);

/// A blank command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a command may not be empty")]
pub struct EmptyCommand;

impl Command {
    /// A command line taken as is; `None` if it is blank.
    pub fn new(line: impl Into<String>) -> Option<Self> {
        let line = line.into();
        if line.trim().is_empty() {
            None
        } else {
            Some(Self(line))
        }
    }

    /// A command given as a list: its items joined with single spaces; `None` if blank.
    pub fn from_items<I>(items: I) -> Option<Self>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut line = String::new();
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(item.as_ref());
        }
        Self::new(line)
    }

    /// The command line.
    pub fn line(&self) -> &str {
        &self.0
    }

    /// What the container is started with: `["/bin/sh", "-c", line]`.
    pub fn argv(&self) -> Vec<String> {
        vec!["/bin/sh".to_string(), "-c".to_string(), self.0.clone()]
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Command {
    type Error = EmptyCommand;

    fn try_from(line: String) -> Result<Self, Self::Error> {
        Self::new(line).ok_or(EmptyCommand)
    }
}

impl From<Command> for String {
    fn from(command: Command) -> Self {
        command.0
    }
}

/// A process type such as `web` or `worker`: 1 to 30 lowercase letters, digits, `_` and
/// `-`, starting with a letter (Heroku's alphanumerics, `_` and `-`, lowercased as Berth
/// uses them in container and DNS-ish names). Ordered by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProcessType(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessTypeError {
    #[error("process type is empty: use 1 to 30 lowercase letters, digits, '_' and '-'")]
    Empty,
    #[error("process type {0:?} is too long: use at most 30 characters")]
    TooLong(String),
    #[error("process type {0:?} must start with a lowercase letter")]
    BadStart(String),
    #[error(
        "process type {name:?} has {found:?}: use only lowercase letters, digits, '_' and '-'"
    )]
    BadCharacter { name: String, found: char },
}

impl ProcessType {
    pub const MAX_LEN: usize = 30;
    /// The process type that receives HTTP traffic.
    pub const WEB: &'static str = "web";
    /// Not a process type in a manifest: names the release command instead.
    pub const RELEASE: &'static str = "release";

    pub fn parse(name: &str) -> Result<Self, ProcessTypeError> {
        if let Some(found) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
        {
            return Err(ProcessTypeError::BadCharacter {
                name: name.to_string(),
                found,
            });
        }
        if name.is_empty() {
            return Err(ProcessTypeError::Empty);
        }
        if name.len() > Self::MAX_LEN {
            return Err(ProcessTypeError::TooLong(name.to_string()));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(ProcessTypeError::BadStart(name.to_string()));
        }
        Ok(Self(name.to_string()))
    }

    /// The `web` process type.
    pub fn web() -> Self {
        Self(Self::WEB.to_string())
    }

    pub fn is_web(&self) -> bool {
        self.0 == Self::WEB
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProcessType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ProcessType {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ProcessType {
    type Err = ProcessTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ProcessType {
    type Error = ProcessTypeError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::parse(&name)
    }
}

impl From<ProcessType> for String {
    fn from(process: ProcessType) -> Self {
        process.0
    }
}

/// heroku.yml's `setup`: what to provision when the app is created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setup {
    pub addons: Vec<AddonRequest>,
    pub config: BTreeMap<String, String>,
}

/// One entry of `setup.addons`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddonRequest {
    /// e.g. `heroku-postgresql` or `heroku-postgresql:standard-0`.
    pub plan: String,
    /// `as`: the attachment name, e.g. `DATABASE`.
    pub as_name: Option<String>,
}

/// Why a manifest was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ManifestError {
    /// `heroku.yml` or `Procfile`.
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl ManifestError {
    fn new(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// `a, b and c` (with `conjunction` "and"), for messages that list what is known.
fn join_words<I>(items: I, conjunction: &str) -> String
where
    I: IntoIterator,
    I::Item: fmt::Display,
{
    let items: Vec<String> = items.into_iter().map(|item| item.to_string()).collect();
    match items.as_slice() {
        [] => "none".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
}

/// `"a", "b" or "c"`.
fn quoted_or<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    join_words(items.into_iter().map(|item| format!("{item:?}")), "or")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_types_follow_the_rule() {
        for ok in [
            "web",
            "worker",
            "w",
            "clock-2",
            "urgent_worker",
            &"a".repeat(30),
        ] {
            assert_eq!(ProcessType::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(ProcessType::parse(""), Err(ProcessTypeError::Empty));
        assert_eq!(
            ProcessType::parse(&"a".repeat(31)),
            Err(ProcessTypeError::TooLong("a".repeat(31)))
        );
        assert_eq!(
            ProcessType::parse("2web"),
            Err(ProcessTypeError::BadStart("2web".into()))
        );
        assert_eq!(
            ProcessType::parse("-web"),
            Err(ProcessTypeError::BadStart("-web".into()))
        );
        assert_eq!(
            ProcessType::parse("Web").unwrap_err().to_string(),
            "process type \"Web\" has 'W': use only lowercase letters, digits, '_' and '-'"
        );
        assert!(ProcessType::parse("web worker").is_err());
        assert!(ProcessType::parse("wéb").is_err());
    }

    #[test]
    fn process_types_display_order_and_serde() {
        let mut types = [ProcessType::parse("worker").unwrap(), ProcessType::web()];
        types.sort();
        assert_eq!(types[0].to_string(), "web");
        assert!(types[0].is_web());
        assert_eq!("clock".parse::<ProcessType>().unwrap().as_str(), "clock");
        assert!(ProcessType::try_from("Nope".to_string()).is_err());
        assert_eq!(String::from(ProcessType::web()), "web");
    }

    #[test]
    fn commands_run_under_sh() {
        let command = Command::new("bundle exec puma -C config/puma.rb").unwrap();
        assert_eq!(command.line(), "bundle exec puma -C config/puma.rb");
        assert_eq!(
            command.argv(),
            ["/bin/sh", "-c", "bundle exec puma -C config/puma.rb"]
        );
        assert_eq!(command.to_string(), command.line());
    }

    #[test]
    fn blank_commands_do_not_exist() {
        assert_eq!(Command::new(""), None);
        assert_eq!(Command::new(" \t\n"), None);
        assert_eq!(Command::from_items(Vec::<String>::new()), None);
        assert_eq!(Command::try_from(" ".to_string()), Err(EmptyCommand));
    }

    #[test]
    fn list_commands_join_with_single_spaces() {
        let command = Command::from_items(["./manage.py migrate &&", "./manage.py check"]).unwrap();
        assert_eq!(command.line(), "./manage.py migrate && ./manage.py check");
        assert_eq!(Command::from_items(["  a "]).unwrap().line(), "  a ");
    }

    #[test]
    fn errors_display_file_line_and_column() {
        let error = ManifestError::new("heroku.yml", 3, 5, "boom");
        assert_eq!(error.to_string(), "heroku.yml:3:5: boom");
        let _: &dyn std::error::Error = &error;
    }

    #[test]
    fn word_lists_read_naturally() {
        assert_eq!(quoted_or([]), "none");
        assert_eq!(quoted_or(["web"]), "\"web\"");
        assert_eq!(
            quoted_or(["web", "worker", "clock"]),
            "\"web\", \"worker\" or \"clock\""
        );
        assert_eq!(join_words(["a", "b"], "and"), "a and b");
    }

    #[test]
    fn build_for_follows_the_process_to_its_image() {
        let manifest = parse_procfile(Some("worker: ./work\nrelease: ./migrate\n")).unwrap();
        let worker = ProcessType::parse("worker").unwrap();
        assert_eq!(
            manifest.build_for(&worker),
            Some(&BuildSpec::root_dockerfile())
        );
        assert_eq!(manifest.build_for(&ProcessType::web()), None);
        assert_eq!(
            manifest.release_build(),
            Some(&BuildSpec::root_dockerfile())
        );
    }

    #[test]
    fn manifests_round_trip_through_json() {
        let manifest = parse_procfile(Some("web: run it\nrelease: ./migrate\n")).unwrap();
        let json = serde_json::to_string(&manifest).unwrap();
        assert!(json.contains(r#""processes":{"web":{"build":"web","command":"run it"}}"#));
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), manifest);
        assert!(serde_json::from_str::<ProcessType>(r#""Web""#).is_err());
        assert!(serde_json::from_str::<Command>(r#"" ""#).is_err());
        assert!(!json.contains("options") && !json.contains("pulls") && !json.contains("warnings"));
    }

    #[test]
    fn process_options_round_trip_through_json() {
        let options = ProcessOptions {
            entrypoint: Some(vec![]),
            args: Some(vec!["serve".into()]),
            environment: BTreeMap::from([("A".into(), "1".into())]),
            health: Some(HealthCheck {
                test: vec!["CMD-SHELL".into(), "true".into()],
                interval_seconds: Some(5),
                timeout_seconds: None,
                retries: Some(3),
                start_period_seconds: None,
            }),
            port: Some(8080),
            depends_on: BTreeMap::from([(ProcessType::web(), DependsOn::CompletedSuccessfully)]),
            volumes: BTreeMap::from([(VolumeName::parse("data").unwrap(), "/data".into())]),
            limits: Limits {
                memory_bytes: Some(64 << 20),
                nano_cpus: None,
            },
            ..ProcessOptions::default()
        };
        assert!(ProcessOptions::default().is_default() && !options.is_default());
        let json = serde_json::to_string(&options).unwrap();
        assert!(json.contains(r#""depends_on":{"web":"completed_successfully"}"#));
        assert!(json.contains(r#""volumes":{"data":"/data"}"#));
        assert_eq!(
            serde_json::from_str::<ProcessOptions>(&json).unwrap(),
            options
        );
        assert_eq!(
            serde_json::to_string(&AddonKind::Postgres).unwrap(),
            r#""postgres""#
        );
        assert_eq!(
            serde_json::from_str::<ProcessOptions>("{}").unwrap(),
            ProcessOptions::default()
        );
    }
}
