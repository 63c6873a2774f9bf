//! Compose files (`compose.yaml` and friends), with Berth's override file beside them.
//!
//! A Compose file becomes a [`Manifest`] this way:
//!
//! * each service is a process type of the same name, except a service that only names a
//!   `postgres` or `redis` image, which becomes an add-on ([`Manifest::addons`]); an app
//!   has one add-on of each kind, so a second `postgres` (or `redis`) service is refused;
//! * a service with `build:` is built (build key: the service name); a service with only
//!   `image:` runs that image as is ([`Manifest::pulls`]), or the image another service
//!   builds if that service names the same `image:`;
//! * the routed process is `web`: the one service with `ports:` runs as the process type
//!   `web` whatever its name (unless another service is `web`), and its container port is
//!   [`ProcessOptions::port`];
//! * what Berth cannot honour safely (privileged containers, the host's network, devices,
//!   bind mounts, ...) is refused with an error at its line; what does not matter to Berth
//!   (`container_name`, `restart`, `networks`, ...) is ignored with one warning each
//!   ([`Manifest::warnings`]).
//!
//! Values are interpolated from the app's config vars first (`${VAR}`, `${VAR:-default}`,
//! `$$`, ...), then the files are merged as `docker compose -f base -f override` merges them.
//! Values under top-level `x-` keys are not interpolated but taken fully literally (`$$`
//! stays `$$`): `x-berth.release` is stored as written, so a config var such as
//! `$DATABASE_URL` in it is expanded by the shell when the release command runs, never
//! written to disk; other `x-` keys are ignored.

use std::collections::{BTreeMap, BTreeSet};

use crate::limits::{parse_cpus, parse_memory, Limits};
use crate::volume_name::{check_mount_path, VolumeName};

use super::yaml::Reader;
use super::{
    join_words, parse_heroku_yml, parse_procfile, paths, quoted_or, AddonKind, BuildSpec, Command,
    DependsOn, HealthCheck, Manifest, ManifestError, ManifestSource, ProcessOptions, ProcessSpec,
    ProcessType, ReleaseSpec, Setup, HEROKU_YML, PROCFILE, ROOT_DOCKERFILE,
};

#[cfg(test)]
mod tests;
mod tree;

use tree::{list_to_map, merge_files, shorten, At, Builder, Entry, Interpolator, Value, V};

/// Compose's own lookup order, then the Berth override beside it.
pub const COMPOSE_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];
/// Berth's override files, merged over the Compose file; the first that exists is used
/// (`compose.berth.yml` and `docker-compose.berth.yaml` are accepted too, after these).
pub const COMPOSE_OVERRIDES: [&str; 2] = ["compose.berth.yaml", "docker-compose.berth.yml"];
/// Every override name, in the order they are looked for.
const OVERRIDE_LOOKUP: [&str; 4] = [
    "compose.berth.yaml",
    "compose.berth.yml",
    "docker-compose.berth.yaml",
    "docker-compose.berth.yml",
];

/// A Compose file or env file may be at most this large.
pub const MAX_COMPOSE_BYTES: usize = 1 << 20;
const MAX_ENV_FILE_LINES: usize = 10_000;
/// A service's environment (`env_file` and `environment` together) may be at most this large
/// (each variable counted as `NAME=value` and a NUL)...
const MAX_ENVIRONMENT_BYTES: usize = 1 << 20;
/// ... and have at most this many variables.
const MAX_ENVIRONMENT_VARIABLES: usize = 10_000;
const MAX_SERVICES: usize = 100;
const MAX_REPLICAS: u32 = 100;

/// Reads a pushed commit's manifest: `heroku.yml`; else the first Compose file of
/// [`COMPOSE_FILES`] merged with the first existing override ([`COMPOSE_OVERRIDES`]); else
/// `Dockerfile` (+ `Procfile`); else an error saying to add one. A root `Procfile` beside a
/// Compose file is not used, which is said as a warning.
///
/// `read(path)` gives a root-relative file's text (`None`: absent); `exists(path)` whether a
/// file exists; `vars` are the app's config vars, for interpolation.
pub fn find_manifest(
    read: impl Fn(&str) -> Result<Option<String>, ManifestError>,
    exists: impl Fn(&str) -> bool,
    vars: &BTreeMap<String, String>,
) -> Result<Manifest, ManifestError> {
    if let Some(text) = read(HEROKU_YML)? {
        return parse_heroku_yml(&text, &exists);
    }
    for name in COMPOSE_FILES {
        let Some(base) = read(name)? else {
            continue;
        };
        let mut override_file = None;
        for candidate in OVERRIDE_LOOKUP {
            if let Some(text) = read(candidate)? {
                override_file = Some((candidate, text));
                break;
            }
        }
        let mut files = vec![(name, base.as_str())];
        if let Some((candidate, text)) = &override_file {
            files.push((candidate, text.as_str()));
        }
        let mut manifest = parse_compose(&files, &read, &exists, vars)?;
        if exists(PROCFILE) {
            manifest.warnings.push(format!(
                "{PROCFILE} is not used: {name} is (Berth reads {HEROKU_YML}, else a Compose \
                 file, else {ROOT_DOCKERFILE} with {PROCFILE}); remove one of them to choose"
            ));
        }
        return Ok(manifest);
    }
    if exists(ROOT_DOCKERFILE) {
        return parse_procfile(read(PROCFILE)?.as_deref());
    }
    Err(ManifestError::new(
        ROOT_DOCKERFILE,
        1,
        1,
        "this commit has no heroku.yml, compose.yaml (or compose.yml, docker-compose.yaml, \
         docker-compose.yml) nor Dockerfile at its root: add one to say how to build and run \
         the app",
    ))
}

/// The manifest described by Compose files: `files` are `(name, text)`, the base first, then
/// overrides merged over it in order. `read` gives the text of `env_file`s, `exists` checks
/// Dockerfiles, and `vars` (the app's config vars) fill `${VAR}`s.
///
/// Each service is a process type of the same name, except a service that only names a
/// `postgres` or `redis` image, which is an add-on ([`Manifest::addons`]). A service with
/// `build:` is built under its own name; one with only `image:` runs that image
/// ([`Manifest::pulls`]), or the image another service builds under the same `image:`. The
/// one service with `ports:` runs as `web`. Unsafe settings are errors at their line;
/// settings Berth does not need are [`Manifest::warnings`].
///
/// Nothing under a top-level `x-` key is interpolated: `x-berth.release` is kept as written
/// (`$$` included) and stored as the release command, so `$VAR` in it is expanded by the
/// shell when the command runs, with the config vars in its environment.
pub fn parse_compose(
    files: &[(&str, &str)],
    read: impl Fn(&str) -> Result<Option<String>, ManifestError>,
    exists: impl Fn(&str) -> bool,
    vars: &BTreeMap<String, String>,
) -> Result<Manifest, ManifestError> {
    let names: Vec<String> = files.iter().map(|(name, _)| name.to_string()).collect();
    let mut interpolator = Interpolator::new(vars);
    let mut cx = Cx {
        files: names.clone(),
        warnings: Vec::new(),
        read: &read,
        exists: &exists,
        vars,
        env_cache: BTreeMap::new(),
    };
    let mut merged: Option<V> = None;
    for (index, (name, text)) in files.iter().enumerate() {
        if text.len() > MAX_COMPOSE_BYTES {
            return Err(ManifestError::new(
                name,
                1,
                1,
                format!("{name} is larger than 1 MiB: expected a Compose file"),
            ));
        }
        let reader = Reader::new(name, text);
        let documents = reader.load(text, "a Compose file")?;
        let root = reader.document(
            &documents,
            &format!("{name} is empty: expected a mapping with services"),
        )?;
        let mut builder = Builder::new(&reader, index, &mut interpolator);
        let tree = builder.build(root)?;
        for (at, name) in std::mem::take(&mut builder.unset) {
            cx.warn(at, format!("{name} is not set, using an empty string"));
        }
        if !matches!(tree.value, Value::Map(_)) {
            return Err(cx.error(
                tree.at,
                format!(
                    "expected a mapping with services, found {}",
                    tree.value.describe()
                ),
            ));
        }
        merged = Some(match merged {
            None => tree,
            Some(base) => merge_files(&base, &tree),
        });
    }
    let Some(root) = merged else {
        return Err(ManifestError::new(
            COMPOSE_FILES[0],
            1,
            1,
            "no Compose file given",
        ));
    };
    let mut manifest = cx.manifest(&root, &mut interpolator)?;
    manifest.files = names;
    Ok(manifest)
}

/// Top-level keys other than `x-*`.
const TOP_LEVEL_KEYS: [&str; 7] = [
    "name", "version", "services", "volumes", "networks", "configs", "secrets",
];

/// Service keys that are refused when set.
const REFUSED: [(&str, &str); 11] = [
    (
        "privileged",
        "privileged containers are not allowed: remove privileged",
    ),
    (
        "network_mode",
        "network_mode is not allowed: every app runs on its own network, where its services \
         reach each other by name; remove network_mode",
    ),
    (
        "pid",
        "pid is not allowed: a process may not share the host's or another container's \
         processes; remove pid",
    ),
    (
        "ipc",
        "ipc is not allowed: a process may not share the host's or another container's IPC; \
         remove ipc",
    ),
    ("userns_mode", "userns_mode is not allowed: remove it"),
    ("devices", "host devices are not allowed: remove devices"),
    (
        "cap_add",
        "extra capabilities are not allowed: remove cap_add",
    ),
    (
        "security_opt",
        "security_opt is not allowed: containers run with the engine's default security \
         profile; remove security_opt",
    ),
    (
        "volumes_from",
        "volumes_from is not allowed: mount a named volume instead",
    ),
    (
        "secrets",
        "Compose secrets are not supported: set them as config vars (berth config:set) and \
         read them from the environment",
    ),
    (
        "configs",
        "Compose configs are not supported: commit the file into the image or set config vars",
    ),
];

/// Service keys that are ignored, with why.
const IGNORED: [(&str, &str); 33] = [
    ("container_name", "Berth names containers itself"),
    ("restart", "Berth restarts processes that exit"),
    ("hostname", "Berth names containers itself"),
    ("domainname", "Berth names containers itself"),
    ("labels", "Berth labels containers itself"),
    ("annotations", "Berth labels containers itself"),
    (
        "logging",
        "Berth collects every process's output (berth logs)",
    ),
    ("networks", "every app has its own network"),
    ("expose", "an app's processes reach each other on any port"),
    (
        "cap_drop",
        "containers run with the engine's default capabilities",
    ),
    ("init", "containers run with the engine's defaults"),
    ("tty", "processes run without a terminal"),
    ("stdin_open", "processes run without input"),
    ("extra_hosts", "every app has its own network"),
    ("dns", "every app has its own network"),
    ("dns_search", "every app has its own network"),
    ("dns_opt", "every app has its own network"),
    (
        "links",
        "services reach each other by name on the app's network",
    ),
    (
        "external_links",
        "services reach each other by name on the app's network",
    ),
    ("profiles", "every service is deployed"),
    (
        "pull_policy",
        "Berth pulls an image when the engine lacks it",
    ),
    ("platform", "images run on the engine's platform"),
    ("develop", "it is for docker compose watch"),
    ("tmpfs", "Berth mounts only named volumes"),
    ("ulimits", "containers run with the engine's defaults"),
    ("shm_size", "containers run with the engine's defaults"),
    ("sysctls", "containers run with the engine's defaults"),
    ("read_only", "containers run with the engine's defaults"),
    ("oom_score_adj", "containers run with the engine's defaults"),
    ("group_add", "containers run with the engine's defaults"),
    ("mac_address", "every app has its own network"),
    (
        "attach",
        "Berth collects every process's output (berth logs)",
    ),
    ("scale", "use deploy.replicas (or berth ps:scale)"),
];

/// What reading one service yields, before services are related to each other.
struct Service {
    name: ProcessType,
    spec: ProcessSpec,
    /// The `ports:` key, if the service has ports.
    ports_at: Option<At>,
    /// Named volumes with where they are mounted.
    volumes: Vec<(VolumeName, At)>,
    /// `depends_on` entries: service name, condition, where.
    depends_on: Vec<(String, DependsOn, At)>,
}

/// What reading needs: the file names for errors, the warnings so far, and the commit.
struct Cx<'a> {
    files: Vec<String>,
    warnings: Vec<String>,
    read: &'a dyn Fn(&str) -> Result<Option<String>, ManifestError>,
    exists: &'a dyn Fn(&str) -> bool,
    vars: &'a BTreeMap<String, String>,
    /// Env files read so far, by path (`None`: absent).
    env_cache: BTreeMap<String, Option<std::rc::Rc<BTreeMap<String, String>>>>,
}

impl Cx<'_> {
    fn error(&self, at: At, message: impl Into<String>) -> ManifestError {
        ManifestError::new(&self.files[at.file], at.line, at.column, message)
    }

    /// A warning, unless the same one was given already.
    fn warn(&mut self, at: At, message: String) {
        let warning = format!(
            "{}:{}:{}: {message}",
            self.files[at.file], at.line, at.column
        );
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    fn ignored(&mut self, entry: &Entry, path: &str, why: &str) {
        self.warn(
            entry.key_at,
            format!("{path}.{} is ignored: {why}", entry.key),
        );
    }

    fn expected(&self, v: &V, path: &str, expected: &str) -> ManifestError {
        self.error(
            v.at,
            format!(
                "expected {expected} for {path}, found {}",
                v.value.describe()
            ),
        )
    }

    /// The entries of a mapping (none for an empty value).
    fn map<'v>(&self, v: &'v V, path: &str, expected: &str) -> Result<&'v [Entry], ManifestError> {
        match &v.value {
            Value::Map(entries) => Ok(entries),
            Value::Null => Ok(&[]),
            _ => Err(self.expected(v, path, expected)),
        }
    }

    fn list<'v>(&self, v: &'v V, path: &str, expected: &str) -> Result<&'v [V], ManifestError> {
        match &v.value {
            Value::List(items) => Ok(items),
            Value::Null => Ok(&[]),
            _ => Err(self.expected(v, path, expected)),
        }
    }

    /// A scalar as written (numbers and booleans too).
    fn text<'v>(&self, v: &'v V, path: &str, expected: &str) -> Result<&'v str, ManifestError> {
        match &v.value {
            Value::Scalar(text, _) => Ok(text),
            _ => Err(self.expected(v, path, expected)),
        }
    }

    fn non_empty(&self, v: &V, path: &str, expected: &str) -> Result<String, ManifestError> {
        let text = self.text(v, path, expected)?;
        if text.trim().is_empty() {
            return Err(self.error(v.at, format!("empty value for {path}: expected {expected}")));
        }
        Ok(text.to_string())
    }

    fn truthy(&self, v: &V, path: &str) -> Result<bool, ManifestError> {
        match &v.value {
            Value::Null => Ok(false),
            Value::Scalar(text, _) => match text.as_str() {
                "true" | "True" | "TRUE" | "yes" => Ok(true),
                "false" | "False" | "FALSE" | "no" => Ok(false),
                _ => Err(self.expected(v, path, "true or false")),
            },
            _ => Err(self.expected(v, path, "true or false")),
        }
    }

    fn number(&self, v: &V, path: &str, expected: &str) -> Result<u64, ManifestError> {
        let text = self.text(v, path, expected)?;
        text.trim().parse::<u64>().map_err(|_| {
            self.error(
                v.at,
                format!("expected {expected} for {path}, found {text:?}"),
            )
        })
    }

    /// A Compose duration (`1m30s`, `10s`, `500ms`, or a number of seconds) in whole
    /// seconds, rounded up.
    fn seconds(&self, v: &V, path: &str) -> Result<u32, ManifestError> {
        let text = self.text(v, path, "a duration such as 10s or 1m30s")?;
        duration_seconds(text).ok_or_else(|| {
            self.error(
                v.at,
                format!(
                    "{path}: {} is not a duration: expected e.g. 10s, 1m30s or 500ms",
                    shorten(text)
                ),
            )
        })
    }

    fn manifest(
        &mut self,
        root: &V,
        interpolator: &mut Interpolator<'_>,
    ) -> Result<Manifest, ManifestError> {
        let top = self.map(root, "the top level", "a mapping with services")?;
        let mut services_v = None;
        let mut declared_volumes: BTreeSet<String> = BTreeSet::new();
        let mut berth = None;
        for entry in top {
            match entry.key.as_str() {
                "services" => services_v = Some(entry),
                "name" => self.ignored(entry, "", "the app's name is Berth's"),
                "version" => self.warn(
                    entry.key_at,
                    "version is obsolete and ignored (as by Compose)".to_string(),
                ),
                "networks" => self.ignored(entry, "", "every app has its own network"),
                "volumes" => {
                    for volume in self.map(&entry.value, "volumes", "a mapping of volume names")? {
                        if let Value::Map(options) = &volume.value.value {
                            for option in options {
                                let path = format!("volumes.{}", volume.key);
                                self.ignored(
                                    option,
                                    &path,
                                    "Berth creates each app's volumes itself",
                                );
                            }
                        }
                        declared_volumes.insert(volume.key.clone());
                    }
                }
                "configs" | "secrets" => {
                    return Err(self.error(
                        entry.key_at,
                        format!(
                            "Compose {} are not supported: set config vars (berth config:set) \
                             and read them from the environment instead",
                            entry.key
                        ),
                    ))
                }
                "x-berth" => berth = Some(entry),
                key if key.starts_with("x-") => {}
                key => {
                    return Err(self.error(
                        entry.key_at,
                        format!(
                            "unknown top-level key {key:?}: expected {} or an x- extension",
                            join_words(TOP_LEVEL_KEYS, "or")
                        ),
                    ))
                }
            }
        }
        let Some(services_entry) = services_v else {
            return Err(self.error(
                root.at,
                "missing key \"services\": expected the services to run",
            ));
        };
        let services = self.map(
            &services_entry.value,
            "services",
            "a mapping of service names to services",
        )?;
        if services.is_empty() {
            return Err(self.error(
                services_entry.key_at,
                "services is empty: expected at least one service",
            ));
        }
        if services.len() > MAX_SERVICES {
            return Err(self.error(
                services[MAX_SERVICES].key_at,
                format!("more than {MAX_SERVICES} services: Berth runs at most {MAX_SERVICES}"),
            ));
        }

        // Names, add-ons and what is built, before the services refer to each other.
        let mut addons = BTreeMap::new();
        let mut builds = BTreeMap::new();
        let mut built_images: BTreeMap<String, String> = BTreeMap::new();
        for entry in services {
            let path = format!("services.{}", entry.key);
            let name = ProcessType::parse(&entry.key)
                .map_err(|invalid| self.error(entry.key_at, format!("{invalid} (in services)")))?;
            let keys = self.map(&entry.value, &path, "a mapping")?;
            let build = keys.iter().find(|key| key.key == "build");
            let image = keys
                .iter()
                .find(|key| key.key == "image")
                .map(|image| self.non_empty(&image.value, &format!("{path}.image"), "an image"))
                .transpose()?;
            match (build, &image) {
                (Some(build), _) => {
                    let spec = self.build(build, &path)?;
                    builds.insert(name.to_string(), spec);
                    if let Some(image) = &image {
                        built_images
                            .entry(image.clone())
                            .or_insert_with(|| name.to_string());
                    }
                }
                (None, Some(image)) => {
                    if let Some(kind) = addon_kind(image) {
                        if let Some((first, _)) = addons.iter().find(|(_, k)| **k == kind) {
                            return Err(self.error(
                                entry.key_at,
                                format!(
                                    "services {first} and {} are both {} add-ons: Berth gives an \
                                     app one managed {} ({}); keep one service and point both \
                                     services' environment at {}",
                                    entry.key,
                                    kind_name(kind),
                                    kind_name(kind),
                                    addon_variable(kind),
                                    addon_variable(kind),
                                ),
                            ));
                        }
                        addons.insert(name.to_string(), kind);
                        let ignored: Vec<&str> = keys
                            .iter()
                            .map(|key| key.key.as_str())
                            .filter(|key| *key != "image" && !key.starts_with("x-"))
                            .collect();
                        if !ignored.is_empty() {
                            self.warn(
                                entry.key_at,
                                format!(
                                    "{path}: {} ignored: Berth provisions {} as a {} add-on",
                                    if ignored.len() == 1 {
                                        format!("{} is", ignored[0])
                                    } else {
                                        format!("{} are", join_words(&ignored, "and"))
                                    },
                                    entry.key,
                                    kind_name(kind)
                                ),
                            );
                        }
                    }
                }
                (None, None) => {
                    return Err(self.error(
                        entry.key_at,
                        format!(
                            "{path} has neither build nor image: expected build: (a directory \
                             with a Dockerfile) or image:"
                        ),
                    ))
                }
            }
        }

        let mut read_services: Vec<Service> = Vec::new();
        let mut pulls = BTreeMap::new();
        for entry in services {
            if addons.contains_key(&entry.key) {
                continue;
            }
            let service = self.service(entry, &builds, &built_images, &mut pulls, interpolator)?;
            read_services.push(service);
        }

        // The routed service.
        let mut routed: Option<&Service> = None;
        for service in &read_services {
            let Some(at) = service.ports_at else {
                continue;
            };
            if let Some(first) = routed {
                return Err(self.error(
                    at,
                    format!(
                        "services {} and {} both have ports: only the web service may have \
                         ports (Berth routes HTTP to it); remove ports from one",
                        first.name, service.name
                    ),
                ));
            }
            routed = Some(service);
        }
        // The service with ports runs as the process type web, whatever its
        // name (Berth routes HTTP to web), unless another service is web.
        let routed_as_web = match routed {
            Some(service) if !service.name.is_web() => {
                let at = service.ports_at.unwrap_or(services_entry.key_at);
                if read_services.iter().any(|s| s.name.is_web()) {
                    return Err(self.error(
                        at,
                        format!(
                            "services.{} has ports, but services.web has none: Berth routes \
                             HTTP to the process type web; move the ports to web",
                            service.name
                        ),
                    ));
                }
                self.warn(
                    at,
                    format!(
                        "services.{} has ports: it runs as the process type web, which Berth \
                         routes HTTP to",
                        service.name
                    ),
                );
                Some(service.name.to_string())
            }
            _ => None,
        };
        if let Some(old) = &routed_as_web {
            for service in &mut read_services {
                if service.name.as_str() == old {
                    service.name = ProcessType::web();
                }
                for (dependency, _, _) in &mut service.depends_on {
                    if dependency == old {
                        *dependency = ProcessType::WEB.to_string();
                    }
                }
            }
        }

        // Volumes belong to one process type each.
        let mut mounted: BTreeMap<VolumeName, &ProcessType> = BTreeMap::new();
        for service in &read_services {
            for (volume, at) in &service.volumes {
                if !declared_volumes.contains(volume.as_str()) {
                    return Err(self.error(
                        *at,
                        format!(
                            "volume {volume} is not declared: add it under the top-level \
                             volumes: (volumes: {{{volume}: {{}}}})"
                        ),
                    ));
                }
                if let Some(other) = mounted.get(volume) {
                    if *other != &service.name {
                        return Err(self.error(
                            *at,
                            format!(
                                "volume {volume} is mounted by services {other} and {}: Berth \
                                 pins a volume to one process type; give each service its own \
                                 volume",
                                service.name
                            ),
                        ));
                    }
                }
                mounted.insert(volume.clone(), &service.name);
            }
        }

        // depends_on: known services, add-ons dropped, no cycles.
        let names: BTreeSet<&str> = read_services.iter().map(|s| s.name.as_str()).collect();
        let mut edges: BTreeMap<String, Vec<(String, At)>> = BTreeMap::new();
        let mut processes = BTreeMap::new();
        for service in &read_services {
            let mut spec = service.spec.clone();
            for (dependency, condition, at) in &service.depends_on {
                if addons.contains_key(dependency) {
                    continue;
                }
                if !names.contains(dependency.as_str()) {
                    return Err(self.error(
                        *at,
                        format!(
                            "services.{} depends on {dependency:?}, which is not a service: \
                             expected one of {}",
                            service.name,
                            quoted_or(names.iter().copied())
                        ),
                    ));
                }
                let Ok(process) = ProcessType::parse(dependency) else {
                    continue;
                };
                spec.options.depends_on.insert(process, *condition);
                edges
                    .entry(service.name.to_string())
                    .or_default()
                    .push((dependency.clone(), *at));
            }
            processes.insert(service.name.clone(), spec);
        }
        self.check_cycles(&edges)?;

        let release = match berth {
            Some(entry) => self.release(entry, &builds)?,
            None => None,
        };
        if processes.is_empty() {
            return Err(self.error(
                services_entry.key_at,
                "every service is an add-on: add a service with build: to run the app",
            ));
        }
        Ok(Manifest {
            builds,
            build_args: BTreeMap::new(),
            processes,
            release,
            setup: Setup::default(),
            source: ManifestSource::Compose,
            pulls,
            addons,
            files: Vec::new(),
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    fn check_cycles(
        &self,
        edges: &BTreeMap<String, Vec<(String, At)>>,
    ) -> Result<(), ManifestError> {
        // Depth-first, with the path walked so far; the edge that closes a cycle is reported.
        fn visit<'e>(
            node: &'e str,
            edges: &'e BTreeMap<String, Vec<(String, At)>>,
            path: &mut Vec<&'e str>,
            done: &mut BTreeSet<&'e str>,
        ) -> Option<(Vec<String>, At)> {
            if done.contains(node) {
                return None;
            }
            path.push(node);
            for (next, at) in edges.get(node).map(Vec::as_slice).unwrap_or_default() {
                if let Some(start) = path.iter().position(|n| *n == next.as_str()) {
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|n| n.to_string()).collect();
                    cycle.push(next.clone());
                    return Some((cycle, *at));
                }
                if let Some(found) = visit(next, edges, path, done) {
                    return Some(found);
                }
            }
            path.pop();
            done.insert(node);
            None
        }
        let mut done = BTreeSet::new();
        for node in edges.keys() {
            if let Some((cycle, at)) = visit(node, edges, &mut Vec::new(), &mut done) {
                return Err(self.error(
                    at,
                    format!(
                        "depends_on makes a cycle: {}; remove one of these dependencies",
                        cycle.join(" → ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `build:` of a service.
    fn build(&mut self, entry: &Entry, service: &str) -> Result<BuildSpec, ManifestError> {
        let path = format!("{service}.build");
        let mut context_v = None;
        let mut dockerfile_v = None;
        let mut target = None;
        let mut args = BTreeMap::new();
        match &entry.value.value {
            Value::Scalar(..) => context_v = Some(&entry.value),
            Value::Map(keys) => {
                for key in keys {
                    let key_path = format!("{path}.{}", key.key);
                    match key.key.as_str() {
                        "context" => context_v = Some(&key.value),
                        "dockerfile" => dockerfile_v = Some(&key.value),
                        "target" => {
                            target = Some(self.non_empty(&key.value, &key_path, "a build stage")?)
                        }
                        "args" => args = self.variables(&key.value, &key_path, None)?,
                        "dockerfile_inline" => {
                            return Err(self.error(
                                key.key_at,
                                "dockerfile_inline is not supported: commit the Dockerfile and \
                                 name it with dockerfile:",
                            ))
                        }
                        key_name if key_name.starts_with("x-") => {}
                        _ => self.ignored(key, &path, "Berth builds with its own settings"),
                    }
                }
            }
            _ => {
                return Err(self.expected(
                    &entry.value,
                    &path,
                    "a directory or a mapping with context, dockerfile, args and target",
                ))
            }
        }
        let context_written = match context_v {
            Some(v) => self.text(v, &format!("{path}.context"), "a directory")?,
            None => ".",
        };
        let context_at = context_v.map_or(entry.key_at, |v| v.at);
        if context_written.contains("://") || context_written.starts_with("git@") {
            return Err(self.error(
                context_at,
                "remote build contexts are not supported: build from a directory of this \
                 repository",
            ));
        }
        let context =
            paths::normalise(context_written).map_err(|message| self.error(context_at, message))?;
        let (dockerfile_written, dockerfile_at) = match dockerfile_v {
            Some(v) => (
                self.text(v, &format!("{path}.dockerfile"), "a Dockerfile path")?,
                v.at,
            ),
            None => (ROOT_DOCKERFILE, context_at),
        };
        if dockerfile_written.starts_with('/') {
            return Err(self.error(
                dockerfile_at,
                format!(
                    "path {dockerfile_written:?} is absolute: expected a path relative to the \
                     build context"
                ),
            ));
        }
        let joined = if context.is_empty() {
            dockerfile_written.to_string()
        } else {
            format!("{context}/{dockerfile_written}")
        };
        let dockerfile =
            paths::normalise(&joined).map_err(|message| self.error(dockerfile_at, message))?;
        if dockerfile.is_empty() || !(self.exists)(&dockerfile) {
            return Err(self.error(
                dockerfile_at,
                format!("Dockerfile {dockerfile:?} does not exist in this commit"),
            ));
        }
        Ok(BuildSpec {
            dockerfile,
            context,
            target,
            args,
        })
    }

    /// `environment`, `build.args`: a mapping or a `KEY=VAL` list. A key without a value is
    /// taken from `from` (the config vars) if given and set, else left out.
    fn variables(
        &self,
        v: &V,
        path: &str,
        from: Option<&BTreeMap<String, String>>,
    ) -> Result<BTreeMap<String, String>, ManifestError> {
        let map = list_to_map(v);
        let entries = self.map(&map, path, "a mapping or a list of KEY=VALUE")?;
        let mut variables = BTreeMap::new();
        for entry in entries {
            let name = &entry.key;
            if name.is_empty() || name.contains(|c: char| c == '\0' || c.is_whitespace()) {
                return Err(self.error(
                    entry.key_at,
                    format!("invalid variable name {name:?} in {path}: expected e.g. RAILS_ENV"),
                ));
            }
            match &entry.value.value {
                Value::Null => {
                    if let Some(value) = from.and_then(|vars| vars.get(name)) {
                        variables.insert(name.clone(), value.clone());
                    }
                }
                Value::Scalar(value, _) => {
                    if value.contains('\0') {
                        return Err(self.error(
                            entry.at(),
                            format!("the value of {path}.{name} contains NUL: expected text"),
                        ));
                    }
                    variables.insert(name.clone(), value.clone());
                }
                _ => {
                    return Err(self.expected(&entry.value, &format!("{path}.{name}"), "a string"))
                }
            }
        }
        Ok(variables)
    }

    fn service(
        &mut self,
        entry: &Entry,
        builds: &BTreeMap<String, BuildSpec>,
        built_images: &BTreeMap<String, String>,
        pulls: &mut BTreeMap<String, String>,
        interpolator: &mut Interpolator<'_>,
    ) -> Result<Service, ManifestError> {
        let name = ProcessType::parse(&entry.key)
            .map_err(|invalid| self.error(entry.key_at, invalid.to_string()))?;
        let path = format!("services.{name}");
        let keys = self.map(&entry.value, &path, "a mapping")?;
        let mut options = ProcessOptions::default();
        let mut env_files: BTreeMap<String, String> = BTreeMap::new();
        let mut environment = BTreeMap::new();
        let mut ports_at = None;
        let mut volumes = Vec::new();
        let mut depends_on = Vec::new();
        let mut service_limits = Limits::default();
        let mut deploy_limits = Limits::default();
        let mut image = None;
        for key in keys {
            let key_path = format!("{path}.{}", key.key);
            let v = &key.value;
            match key.key.as_str() {
                "build" => {}
                "image" => image = Some(self.non_empty(v, &key_path, "an image")?),
                "command" => options.args = self.words(v, &key_path)?,
                "entrypoint" => options.entrypoint = self.words(v, &key_path)?,
                "environment" => environment = self.variables(v, &key_path, Some(self.vars))?,
                "env_file" => env_files = self.env_files(v, &key_path, &path, interpolator)?,
                "working_dir" => {
                    let dir = self.non_empty(v, &key_path, "an absolute directory")?;
                    if !dir.starts_with('/') {
                        return Err(self.error(
                            v.at,
                            format!("{key_path} {dir:?} is not absolute: expected e.g. /app"),
                        ));
                    }
                    options.working_dir = Some(dir);
                }
                "user" => options.user = Some(self.non_empty(v, &key_path, "a user")?),
                "stop_signal" => {
                    options.stop_signal = Some(self.non_empty(v, &key_path, "e.g. SIGINT")?)
                }
                "stop_grace_period" => {
                    options.stop_grace_seconds = Some(self.seconds(v, &key_path)?)
                }
                "healthcheck" => options.health = self.healthcheck(v, &key_path)?,
                "ports" => {
                    options.port = self.ports(v, &key_path)?;
                    ports_at = options.port.map(|_| key.key_at);
                }
                "deploy" => {
                    let (replicas, limits) = self.deploy(v, &key_path)?;
                    options.replicas = replicas;
                    deploy_limits = limits;
                }
                "mem_limit" => {
                    service_limits.memory_bytes = Some(self.memory(v, &key_path)?);
                }
                "cpus" => service_limits.nano_cpus = Some(self.cpus(v, &key_path)?),
                "depends_on" => depends_on = self.depends_on(v, &key_path)?,
                "volumes" => volumes = self.volumes(v, &key_path, &mut options)?,
                "privileged" => {
                    if self.truthy(v, &key_path)? {
                        return Err(self.error(key.key_at, refusal("privileged")));
                    }
                }
                "pid" | "ipc" | "userns_mode" => {
                    let mode = self.text(v, &key_path, "a mode")?;
                    if mode == "host"
                        || mode.starts_with("container:")
                        || mode.starts_with("service:")
                    {
                        return Err(self.error(key.key_at, refusal(&key.key)));
                    }
                    self.ignored(key, &path, "containers run with the engine's defaults");
                }
                "devices" | "cap_add" | "security_opt" => {
                    if !matches!(&v.value, Value::Null)
                        && !matches!(&v.value, Value::List(items) if items.is_empty())
                    {
                        return Err(self.error(key.key_at, refusal(&key.key)));
                    }
                }
                refused if REFUSED.iter().any(|(name, _)| *name == refused) => {
                    return Err(self.error(key.key_at, refusal(refused)));
                }
                ignored if IGNORED.iter().any(|(name, _)| *name == ignored) => {
                    let why = IGNORED
                        .iter()
                        .find(|(name, _)| *name == ignored)
                        .map(|(_, why)| *why)
                        .unwrap_or_default();
                    self.ignored(key, &path, why);
                }
                extension if extension.starts_with("x-") => {}
                _ => self.warn(key.key_at, format!("{key_path}: unknown key, ignored")),
            }
        }
        options.limits = service_limits.overlaid_with(deploy_limits);
        env_files.extend(environment);
        let environment_at = keys
            .iter()
            .find(|key| key.key == "environment")
            .map_or(entry.key_at, |key| key.key_at);
        self.check_environment(&env_files, environment_at, &path)?;
        options.environment = env_files;
        let build = if builds.contains_key(name.as_str()) {
            name.to_string()
        } else {
            let image = image.unwrap_or_default();
            match built_images.get(&image) {
                Some(builder) => builder.clone(),
                None => {
                    pulls.insert(name.to_string(), image);
                    name.to_string()
                }
            }
        };
        Ok(Service {
            name,
            spec: ProcessSpec {
                build,
                command: None,
                healthcheck: None,
                options,
            },
            ports_at,
            volumes,
            depends_on,
        })
    }

    /// `command`/`entrypoint`: a list as is, a string split into words as Compose does.
    fn words(&self, v: &V, path: &str) -> Result<Option<Vec<String>>, ManifestError> {
        match &v.value {
            Value::Null => Ok(None),
            Value::Scalar(line, _) => split_words(line)
                .map(Some)
                .map_err(|message| self.error(v.at, format!("{path}: {message}"))),
            Value::List(items) => items
                .iter()
                .map(|item| self.text(item, path, "a string").map(str::to_string))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Value::Map(_) => Err(self.expected(v, path, "a string or a list of strings")),
        }
    }

    /// `env_file`: files read in order, later ones over earlier ones.
    fn env_files(
        &mut self,
        v: &V,
        path: &str,
        service: &str,
        interpolator: &mut Interpolator<'_>,
    ) -> Result<BTreeMap<String, String>, ManifestError> {
        let items: Vec<&V> = match &v.value {
            Value::List(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            _ => vec![v],
        };
        let mut files: Vec<(String, &str, At, bool)> = Vec::new();
        for item in items {
            let (file_v, required) = match &item.value {
                Value::Map(keys) => {
                    let mut file_v = None;
                    let mut required = true;
                    for key in keys {
                        match key.key.as_str() {
                            "path" => file_v = Some(&key.value),
                            "required" => {
                                required = self.truthy(&key.value, &format!("{path}.required"))?
                            }
                            "format" => self.ignored(key, path, "env files are read as KEY=VALUE"),
                            _ => self.warn(
                                key.key_at,
                                format!("{path}.{}: unknown key, ignored", key.key),
                            ),
                        }
                    }
                    let Some(file_v) = file_v else {
                        return Err(self.error(
                            item.at,
                            format!("missing key \"path\" in {path}: expected the env file's path"),
                        ));
                    };
                    (file_v, required)
                }
                _ => (item, true),
            };
            let written = self.text(file_v, path, "a file path")?;
            let file =
                paths::normalise(written).map_err(|message| self.error(file_v.at, message))?;
            files.push((file, written, file_v.at, required));
        }
        // A file named again is read where it is named last: reading it twice gives what
        // reading it the last time does.
        let mut last: BTreeMap<&str, usize> = BTreeMap::new();
        for (index, (file, ..)) in files.iter().enumerate() {
            last.insert(file, index);
        }
        let mut variables = BTreeMap::new();
        for (index, (file, written, at, required)) in files.iter().enumerate() {
            if last.get(file.as_str()) != Some(&index) {
                continue;
            }
            match self.env_file(file, interpolator)? {
                Some(read) => {
                    variables.extend(read.iter().map(|(k, v)| (k.clone(), v.clone())));
                    self.check_environment(&variables, *at, service)?;
                }
                None if *required => {
                    return Err(self.error(
                        *at,
                        format!(
                            "env file {written:?} does not exist in this commit: add it, or \
                             write {{path: {written}, required: false}}"
                        ),
                    ))
                }
                None => {}
            }
        }
        Ok(variables)
    }

    /// The variables of an env file (`None`: it does not exist), read and interpolated once
    /// per manifest however many services name it.
    fn env_file(
        &mut self,
        file: &str,
        interpolator: &mut Interpolator<'_>,
    ) -> Result<Option<std::rc::Rc<BTreeMap<String, String>>>, ManifestError> {
        if let Some(read) = self.env_cache.get(file) {
            return Ok(read.clone());
        }
        let read = match (self.read)(file)? {
            Some(text) => {
                let (read, unset) = parse_env_file(file, &text, interpolator)?;
                for (line, name) in unset {
                    let warning =
                        format!("{file}:{line}:1: {name} is not set, using an empty string");
                    if !self.warnings.contains(&warning) {
                        self.warnings.push(warning);
                    }
                }
                Some(std::rc::Rc::new(read))
            }
            None => None,
        };
        self.env_cache.insert(file.to_string(), read.clone());
        Ok(read)
    }

    /// A service's environment may be at most [`MAX_ENVIRONMENT_BYTES`] and
    /// [`MAX_ENVIRONMENT_VARIABLES`]; `at` is what made it too large.
    fn check_environment(
        &self,
        variables: &BTreeMap<String, String>,
        at: At,
        service: &str,
    ) -> Result<(), ManifestError> {
        let bytes: usize = variables
            .iter()
            .map(|(name, value)| name.len() + value.len() + 2)
            .sum();
        if variables.len() > MAX_ENVIRONMENT_VARIABLES || bytes > MAX_ENVIRONMENT_BYTES {
            return Err(self.error(
                at,
                format!(
                    "{service} has more than {} MiB or {MAX_ENVIRONMENT_VARIABLES} environment \
                     variables (env_file and environment together; {} variables, {bytes} \
                     bytes): Berth passes at most that to a process; keep large data in files \
                     or a volume",
                    MAX_ENVIRONMENT_BYTES >> 20,
                    variables.len()
                ),
            ));
        }
        Ok(())
    }

    fn healthcheck(&mut self, v: &V, path: &str) -> Result<Option<HealthCheck>, ManifestError> {
        let keys = self.map(
            v,
            path,
            "a mapping with test, interval, timeout and retries",
        )?;
        let mut check = HealthCheck {
            test: Vec::new(),
            interval_seconds: None,
            timeout_seconds: None,
            retries: None,
            start_period_seconds: None,
        };
        let mut test_at = v.at;
        for key in keys {
            let key_path = format!("{path}.{}", key.key);
            match key.key.as_str() {
                "disable" => {
                    if self.truthy(&key.value, &key_path)? {
                        return Ok(None);
                    }
                }
                "test" => {
                    test_at = key.at();
                    check.test = match &key.value.value {
                        Value::Scalar(line, _) => vec!["CMD-SHELL".to_string(), line.clone()],
                        Value::List(items) => items
                            .iter()
                            .map(|item| self.text(item, &key_path, "a string").map(str::to_string))
                            .collect::<Result<_, _>>()?,
                        _ => {
                            return Err(self.expected(
                                &key.value,
                                &key_path,
                                "a command line or a list such as [\"CMD\", \"curl\", \"-f\", \
                                 \"http://localhost/\"]",
                            ))
                        }
                    };
                }
                "interval" => check.interval_seconds = Some(self.seconds(&key.value, &key_path)?),
                "timeout" => check.timeout_seconds = Some(self.seconds(&key.value, &key_path)?),
                "start_period" => {
                    check.start_period_seconds = Some(self.seconds(&key.value, &key_path)?)
                }
                "retries" => {
                    let retries = self.number(&key.value, &key_path, "a number of retries")?;
                    check.retries = Some(u32::try_from(retries).map_err(|_| {
                        self.error(key.value.at, format!("{key_path} is too large"))
                    })?);
                }
                "start_interval" => self.ignored(key, path, "the engine's default is used"),
                _ => self.warn(key.key_at, format!("{key_path}: unknown key, ignored")),
            }
        }
        match check.test.first().map(String::as_str) {
            Some("NONE") => Ok(None),
            Some("CMD") if check.test.len() > 1 => Ok(Some(check)),
            Some("CMD-SHELL") if check.test.len() == 2 && !check.test[1].trim().is_empty() => {
                Ok(Some(check))
            }
            None => Err(self.error(
                test_at,
                format!(
                    "{path} has no test: expected test: (the command that checks health), or \
                     disable: true"
                ),
            )),
            _ => Err(self.error(
                test_at,
                format!(
                    "{path}.test: expected a command line, [\"CMD\", program, args...], \
                     [\"CMD-SHELL\", line] or [\"NONE\"]"
                ),
            )),
        }
    }

    /// `ports`: the container port the router sends to.
    fn ports(&mut self, v: &V, path: &str) -> Result<Option<u16>, ManifestError> {
        let items = self.list(v, path, "a list of ports")?;
        let mut port: Option<(u16, At)> = None;
        for item in items {
            let (target, host, at) = match &item.value {
                Value::Scalar(text, _) => {
                    let (target, host) = short_port(text)
                        .map_err(|message| self.error(item.at, format!("{path}: {message}")))?;
                    (target, host, item.at)
                }
                Value::Map(keys) => {
                    let mut target = None;
                    let mut host = None;
                    let mut host_at = item.at;
                    for key in keys {
                        let key_path = format!("{path}.{}", key.key);
                        match key.key.as_str() {
                            "target" => {
                                let text = self.text(&key.value, &key_path, "a port")?;
                                target = Some(parse_port(text).map_err(|message| {
                                    self.error(key.value.at, format!("{key_path}: {message}"))
                                })?);
                            }
                            "published" => {
                                let text = self.text(&key.value, &key_path, "a port")?;
                                if !text.is_empty() {
                                    host = Some(parse_port(text).map_err(|message| {
                                        self.error(key.value.at, format!("{key_path}: {message}"))
                                    })?);
                                    host_at = key.value.at;
                                }
                            }
                            "protocol" => {
                                let protocol = self.text(&key.value, &key_path, "tcp")?;
                                if !protocol.eq_ignore_ascii_case("tcp") {
                                    return Err(self.error(
                                        key.value.at,
                                        format!(
                                            "{key_path}: {protocol} is not supported: the router \
                                             forwards HTTP over tcp"
                                        ),
                                    ));
                                }
                            }
                            "host_ip" | "mode" | "name" | "app_protocol" => {}
                            _ => self.warn(key.key_at, format!("{key_path}: unknown key, ignored")),
                        }
                    }
                    let Some(target) = target else {
                        return Err(self.error(
                            item.at,
                            format!(
                                "missing key \"target\" in {path}: expected the container port"
                            ),
                        ));
                    };
                    (target, host, host_at)
                }
                _ => return Err(self.expected(item, path, "a port such as \"8080:80\"")),
            };
            if let Some(host) = host {
                if host < 1024 {
                    return Err(self.error(
                        at,
                        format!(
                            "{path}: host port {host} is below 1024: drop the host port (write \
                             \"{target}\"); Berth's router serves the app on ports 80 and 443 \
                             itself"
                        ),
                    ));
                }
                self.warn(
                    at,
                    format!(
                        "{path}: host port {host} is ignored: Berth routes to the container \
                         port {target}"
                    ),
                );
            }
            match port {
                Some((first, _)) if first != target => {
                    return Err(self.error(
                        item.at,
                        format!(
                            "{path} has container ports {first} and {target}: Berth routes to \
                             one port per app; keep the one that serves HTTP"
                        ),
                    ))
                }
                _ => port = Some((target, item.at)),
            }
        }
        Ok(port.map(|(port, _)| port))
    }

    fn deploy(&mut self, v: &V, path: &str) -> Result<(Option<u32>, Limits), ManifestError> {
        let mut replicas = None;
        let mut limits = Limits::default();
        for key in self.map(v, path, "a mapping")? {
            let key_path = format!("{path}.{}", key.key);
            match key.key.as_str() {
                "replicas" => {
                    let count = self.number(&key.value, &key_path, "a number from 0 to 100")?;
                    if count > u64::from(MAX_REPLICAS) {
                        return Err(self.error(
                            key.value.at,
                            format!("{key_path} is {count}: Berth runs at most {MAX_REPLICAS}"),
                        ));
                    }
                    replicas = Some(count as u32);
                }
                "resources" => {
                    for resource in self.map(&key.value, &key_path, "a mapping with limits")? {
                        let resource_path = format!("{key_path}.{}", resource.key);
                        match resource.key.as_str() {
                            "limits" => {
                                for limit in
                                    self.map(&resource.value, &resource_path, "memory and cpus")?
                                {
                                    let limit_path = format!("{resource_path}.{}", limit.key);
                                    match limit.key.as_str() {
                                        "memory" => {
                                            limits.memory_bytes =
                                                Some(self.memory(&limit.value, &limit_path)?)
                                        }
                                        "cpus" => {
                                            limits.nano_cpus =
                                                Some(self.cpus(&limit.value, &limit_path)?)
                                        }
                                        _ => self.ignored(
                                            limit,
                                            &resource_path,
                                            "Berth limits memory and cpus only",
                                        ),
                                    }
                                }
                            }
                            "reservations" => self.ignored(
                                resource,
                                &key_path,
                                "Berth does not reserve resources",
                            ),
                            _ => self.warn(
                                resource.key_at,
                                format!("{resource_path}: unknown key, ignored"),
                            ),
                        }
                    }
                }
                "restart_policy" => self.ignored(key, path, "Berth restarts processes that exit"),
                "placement" => self.ignored(key, path, "Berth places processes itself"),
                _ => self.ignored(key, path, "Berth deploys with its own settings"),
            }
        }
        Ok((replicas, limits))
    }

    fn memory(&self, v: &V, path: &str) -> Result<u64, ManifestError> {
        let text = self.text(v, path, "a size such as 512m")?;
        parse_memory(text).map_err(|error| self.error(v.at, error.to_string()))
    }

    fn cpus(&self, v: &V, path: &str) -> Result<u64, ManifestError> {
        let text = self.text(v, path, "a number of CPUs such as 0.5")?;
        parse_cpus(text).map_err(|error| self.error(v.at, error.to_string()))
    }

    fn depends_on(&self, v: &V, path: &str) -> Result<Vec<(String, DependsOn, At)>, ManifestError> {
        let map = list_to_map(v);
        let mut found = Vec::new();
        for entry in self.map(&map, path, "a list of services or a mapping")? {
            let mut condition = DependsOn::Started;
            if let Value::Map(keys) = &entry.value.value {
                for key in keys {
                    let key_path = format!("{path}.{}.{}", entry.key, key.key);
                    if key.key == "condition" {
                        let written = self.text(&key.value, &key_path, "a condition")?;
                        condition = match written {
                            "service_started" => DependsOn::Started,
                            "service_healthy" => DependsOn::Healthy,
                            "service_completed_successfully" => {
                                return Err(self.error(
                                    key.value.at,
                                    format!(
                                        "{key_path}: service_completed_successfully is not \
                                         supported: Berth runs every service as a process that \
                                         is restarted when it exits; a one-shot command such as \
                                         a migration belongs in x-berth: {{release: ...}}, which \
                                         runs before the processes start"
                                    ),
                                ))
                            }
                            _ => {
                                return Err(self.error(
                                    key.value.at,
                                    format!(
                                        "{key_path}: unknown condition {written:?}: expected \
                                         service_started or service_healthy"
                                    ),
                                ))
                            }
                        };
                    }
                }
            } else if !matches!(entry.value.value, Value::Null) {
                return Err(self.expected(
                    &entry.value,
                    &format!("{path}.{}", entry.key),
                    "a mapping with condition",
                ));
            }
            found.push((entry.key.clone(), condition, entry.key_at));
        }
        Ok(found)
    }

    /// Service `volumes`: named volumes only.
    fn volumes(
        &mut self,
        v: &V,
        path: &str,
        options: &mut ProcessOptions,
    ) -> Result<Vec<(VolumeName, At)>, ManifestError> {
        let bind = "bind mounts of host paths are not allowed: use a named volume (name:/path \
                    and a top-level volumes: entry)";
        let mut found = Vec::new();
        for item in self.list(v, path, "a list of volumes")? {
            let (source, target, at) = match &item.value {
                Value::Scalar(text, _) => {
                    let parts: Vec<&str> = text.split(':').collect();
                    let (source, target, mode) = match parts.as_slice() {
                        [target] => (None, *target, None),
                        [source, target] => (Some(*source), *target, None),
                        [source, target, mode] => (Some(*source), *target, Some(*mode)),
                        _ => {
                            return Err(self.error(
                                item.at,
                                format!("{path}: {} is not name:/path[:ro]", shorten(text)),
                            ))
                        }
                    };
                    if let Some(mode) = mode {
                        if mode.split(',').any(|m| m == "ro") {
                            self.warn(
                                item.at,
                                format!("{path}: read-only mode is ignored: volumes are mounted read-write"),
                            );
                        }
                    }
                    let source = match source {
                        Some(source)
                            if source.starts_with(['.', '/', '~', '$']) || source.contains('/') =>
                        {
                            return Err(self.error(item.at, format!("{path}: {bind}")))
                        }
                        source => source.map(str::to_string),
                    };
                    (source, target.to_string(), item.at)
                }
                Value::Map(keys) => {
                    let mut kind = "volume".to_string();
                    let mut source = None;
                    let mut target = None;
                    for key in keys {
                        let key_path = format!("{path}.{}", key.key);
                        match key.key.as_str() {
                            "type" => {
                                kind = self.text(&key.value, &key_path, "volume")?.to_string()
                            }
                            "source" => {
                                source =
                                    Some(self.text(&key.value, &key_path, "a name")?.to_string())
                            }
                            "target" => {
                                target =
                                    Some(self.text(&key.value, &key_path, "a path")?.to_string())
                            }
                            "read_only" => {
                                if self.truthy(&key.value, &key_path)? {
                                    self.ignored(key, path, "volumes are mounted read-write");
                                }
                            }
                            _ => {
                                self.ignored(key, path, "Berth mounts volumes with its own options")
                            }
                        }
                    }
                    match kind.as_str() {
                        "volume" => {}
                        "bind" => return Err(self.error(item.at, format!("{path}: {bind}"))),
                        "tmpfs" => {
                            self.warn(
                                item.at,
                                format!("{path}: a tmpfs mount is ignored: Berth mounts only named volumes"),
                            );
                            continue;
                        }
                        other => {
                            return Err(self.error(
                                item.at,
                                format!(
                                    "{path}: volumes of type {other:?} are not supported: use a \
                                     named volume"
                                ),
                            ))
                        }
                    }
                    let Some(target) = target else {
                        return Err(self.error(
                            item.at,
                            format!("missing key \"target\" in {path}: expected the mount path"),
                        ));
                    };
                    (source, target, item.at)
                }
                _ => return Err(self.expected(item, path, "a volume such as data:/var/lib/data")),
            };
            let Some(source) = source else {
                return Err(self.error(
                    at,
                    format!(
                        "{path}: anonymous volume {target:?} is not kept by Berth: name it \
                         (name:{target} and a top-level volumes: entry)"
                    ),
                ));
            };
            let volume = VolumeName::parse(&source)
                .map_err(|error| self.error(at, format!("{path}: {error}")))?;
            check_mount_path(&target)
                .map_err(|error| self.error(at, format!("{path}: {error}")))?;
            if options.volumes.contains_key(&volume) {
                return Err(self.error(
                    at,
                    format!("{path}: volume {volume} is mounted twice: mount it once"),
                ));
            }
            options.volumes.insert(volume.clone(), target);
            found.push((volume, at));
        }
        Ok(found)
    }

    /// `x-berth: {release: ..., release_service: NAME}`.
    fn release(
        &self,
        entry: &Entry,
        builds: &BTreeMap<String, BuildSpec>,
    ) -> Result<Option<ReleaseSpec>, ManifestError> {
        let mut command = None;
        let mut service = None;
        for key in self.map(&entry.value, "x-berth", "a mapping with release")? {
            let path = format!("x-berth.{}", key.key);
            match key.key.as_str() {
                "release" => {
                    let empty = || {
                        self.error(
                            key.at(),
                            "empty release command: expected a shell command line",
                        )
                    };
                    command = Some(match &key.value.value {
                        Value::Scalar(line, _) => Command::new(line.clone()).ok_or_else(empty)?,
                        Value::List(items) => {
                            let parts = items
                                .iter()
                                .map(|item| self.text(item, &path, "a string"))
                                .collect::<Result<Vec<_>, _>>()?;
                            Command::from_items(parts).ok_or_else(empty)?
                        }
                        _ => return Err(self.expected(&key.value, &path, "a command")),
                    });
                }
                "release_service" => {
                    let name = self.non_empty(&key.value, &path, "a service name")?;
                    if !builds.contains_key(&name) {
                        return Err(self.error(
                            key.value.at,
                            format!(
                                "{path}: {name:?} is not a service with build: expected one of {}",
                                quoted_or(builds.keys().map(String::as_str))
                            ),
                        ));
                    }
                    service = Some((name, key.key_at));
                }
                _ => {
                    return Err(self.error(
                        key.key_at,
                        format!(
                            "unknown key {:?} in x-berth: expected release or release_service",
                            key.key
                        ),
                    ))
                }
            }
        }
        let Some(command) = command else {
            if let Some((_, at)) = service {
                return Err(self.error(at, "x-berth.release_service without x-berth.release"));
            }
            return Ok(None);
        };
        let build = match service {
            Some((name, _)) => name,
            None if builds.contains_key(ProcessType::WEB) => ProcessType::WEB.to_string(),
            None if builds.len() == 1 => builds.keys().next().cloned().unwrap_or_default(),
            None => {
                return Err(self.error(
                    entry.key_at,
                    format!(
                        "the release command needs an image: add x-berth.release_service with one \
                         of {}",
                        quoted_or(builds.keys().map(String::as_str))
                    ),
                ))
            }
        };
        Ok(Some(ReleaseSpec { build, command }))
    }
}

fn refusal(key: &str) -> String {
    REFUSED
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, message)| message.to_string())
        .unwrap_or_else(|| format!("{key} is not allowed"))
}

fn kind_name(kind: AddonKind) -> &'static str {
    match kind {
        AddonKind::Postgres => "postgres",
        AddonKind::Redis => "redis",
    }
}

/// The config var an add-on of this kind sets.
fn addon_variable(kind: AddonKind) -> &'static str {
    match kind {
        AddonKind::Postgres => "DATABASE_URL",
        AddonKind::Redis => "REDIS_URL",
    }
}

/// The add-on an image reference stands for: repository `postgres` or `redis` on Docker Hub
/// (`postgres:16`, `library/redis`, `docker.io/library/postgres@sha256:...`).
fn addon_kind(image: &str) -> Option<AddonKind> {
    let image = image.split('@').next().unwrap_or_default();
    let mut parts: Vec<&str> = image.split('/').collect();
    let last = parts.pop()?;
    let repository = last.split(':').next().unwrap_or_default();
    let registry_less: Vec<&str> = match parts.first() {
        Some(first) if first.contains(['.', ':']) || *first == "localhost" => {
            if !matches!(
                *first,
                "docker.io" | "index.docker.io" | "registry-1.docker.io"
            ) {
                return None;
            }
            parts[1..].to_vec()
        }
        _ => parts,
    };
    if !(registry_less.is_empty() || registry_less == ["library"]) {
        return None;
    }
    match repository {
        "postgres" => Some(AddonKind::Postgres),
        "redis" => Some(AddonKind::Redis),
        _ => None,
    }
}

/// A Compose duration in whole seconds, rounded up: `1m30s`, `10s`, `500ms`, `1.5h`, or a
/// bare number of seconds.
fn duration_seconds(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() || text.len() > 40 {
        return None;
    }
    if let Ok(seconds) = text.parse::<u32>() {
        return Some(seconds);
    }
    let mut nanos: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_end == 0 {
            return None;
        }
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        nanos += number * scale;
    }
    let seconds = (nanos / 1e9).ceil();
    if !seconds.is_finite() || seconds > f64::from(u32::MAX) {
        return None;
    }
    Some(seconds as u32)
}

/// A string command split into words the way Compose does: whitespace separates, quotes
/// group, backslashes escape; nothing is expanded.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(next) => word.push(next),
                    None => word.push('\\'),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(next) => word.push(next),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(next @ ('"' | '\\' | '$' | '`')) => word.push(next),
                            Some('\n') => {}
                            Some(next) => {
                                word.push('\\');
                                word.push(next);
                            }
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(next) => word.push(next),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A port number 1 to 65535.
fn parse_port(text: &str) -> Result<u16, String> {
    if text.contains('-') {
        return Err(format!(
            "port range {text:?} is not supported: give one container port"
        ));
    }
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("{text:?} is not a port: expected 1 to 65535")),
    }
}

/// Short port syntax: `"80"`, `"8080:80"`, `"127.0.0.1:8080:80/tcp"`, `"[::1]:8080:80"`:
/// the container port and the host port if one is published.
fn short_port(text: &str) -> Result<(u16, Option<u16>), String> {
    let (ports, protocol) = match text.split_once('/') {
        Some((ports, protocol)) => (ports, protocol),
        None => (text, "tcp"),
    };
    if !protocol.eq_ignore_ascii_case("tcp") {
        return Err(format!(
            "{protocol} is not supported: the router forwards HTTP over tcp"
        ));
    }
    // Drop a host IP: everything up to the last two `:`-separated parts.
    let ports = match ports.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once("]:") {
            Some((_, rest)) => rest,
            None => return Err(format!("{text:?} is not a port mapping")),
        },
        None => ports,
    };
    let parts: Vec<&str> = ports.split(':').collect();
    let (host, target) = match parts.as_slice() {
        [target] => (None, *target),
        [host, target] => (Some(*host), *target),
        [_ip, host, target] => (Some(*host), *target),
        _ => {
            return Err(format!(
                "{text:?} is not a port mapping such as \"8080:80\""
            ))
        }
    };
    let target = parse_port(target)?;
    let host = match host {
        Some("") | None => None,
        Some(host) => Some(parse_port(host)?),
    };
    Ok((target, host))
}

/// Variables of an env file (`KEY=VALUE` lines, `#` comments, optional quotes, optional
/// `export `), with the unset variables its values refer to (line, name).
#[allow(clippy::type_complexity)]
fn parse_env_file(
    file: &str,
    text: &str,
    interpolator: &mut Interpolator<'_>,
) -> Result<(BTreeMap<String, String>, Vec<(usize, String)>), ManifestError> {
    if text.len() > MAX_COMPOSE_BYTES {
        return Err(ManifestError::new(
            file,
            1,
            1,
            "env file is larger than 1 MiB",
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut variables = BTreeMap::new();
    let mut unset = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if number > MAX_ENV_FILE_LINES {
            return Err(ManifestError::new(
                file,
                number,
                1,
                format!("env file has more than {MAX_ENV_FILE_LINES} lines"),
            ));
        }
        let content = line.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let column = line.chars().count() - line.trim_start().chars().count() + 1;
        let content = content
            .strip_prefix("export ")
            .unwrap_or(content)
            .trim_start();
        let Some((name, value)) = content.split_once('=') else {
            // `KEY` alone: from the config vars, or left out.
            if content.contains(char::is_whitespace) {
                return Err(ManifestError::new(
                    file,
                    number,
                    column,
                    format!("invalid variable name {content:?}: expected KEY=VALUE"),
                ));
            }
            if let Some(value) = interpolator.get(content).cloned() {
                interpolator
                    .charge(value.len(), file)
                    .map_err(|message| ManifestError::new(file, number, column, message))?;
                variables.insert(content.to_string(), value);
            }
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ManifestError::new(
                file,
                number,
                column,
                format!("invalid variable name {name:?}: expected KEY=VALUE"),
            ));
        }
        let value = value.trim();
        let value = if let Some(quoted) = value.strip_prefix('\'') {
            match quoted.find('\'') {
                Some(end) => quoted[..end].to_string(),
                None => {
                    return Err(ManifestError::new(
                        file,
                        number,
                        column,
                        format!("unterminated ' quote in the value of {name}"),
                    ))
                }
            }
        } else {
            let raw = if let Some(quoted) = value.strip_prefix('"') {
                let Some(end) = quoted.find('"') else {
                    return Err(ManifestError::new(
                        file,
                        number,
                        column,
                        format!("unterminated \" quote in the value of {name}"),
                    ));
                };
                quoted[..end].replace("\\n", "\n")
            } else {
                match value.find(" #") {
                    Some(comment) => value[..comment].trim_end().to_string(),
                    None => value.to_string(),
                }
            };
            let value = interpolator
                .interpolate(&raw)
                .map_err(|message| ManifestError::new(file, number, column, message))?;
            unset.extend(interpolator.unset.drain(..).map(|name| (number, name)));
            value
        };
        interpolator
            .charge(value.len(), file)
            .map_err(|message| ManifestError::new(file, number, column, message))?;
        variables.insert(name.to_string(), value);
    }
    Ok((variables, unset))
}
