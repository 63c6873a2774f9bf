//! `heroku.yml`: Heroku's manifest for apps built from Dockerfiles.

use std::collections::BTreeMap;

use saphyr::YamlData;

use crate::limits::{parse_cpus, parse_memory, Limits};

use super::yaml::{find, kind, text, untag, Field, Kind, Node, Reader};
use super::{
    join_words, paths, quoted_or, AddonRequest, BuildSpec, Command, Manifest, ManifestError,
    ManifestSource, ProcessOptions, ProcessSpec, ProcessType, ReleaseSpec, Setup, HEROKU_YML,
};

const TOP_LEVEL_KEYS: [&str; 4] = ["setup", "build", "release", "run"];

type Builds = BTreeMap<String, BuildSpec>;

/// The manifest described by a `heroku.yml`.
///
/// `file_exists(path)` says whether the commit has a file at `path` (relative to the
/// repository root, normalised: no leading `./`), so that a Dockerfile named under
/// `build.docker` can be checked. See the [module documentation](super) for the defaults.
pub fn parse_heroku_yml(
    text: &str,
    file_exists: impl Fn(&str) -> bool,
) -> Result<Manifest, ManifestError> {
    let reader = HerokuYml {
        yaml: Reader::new(HEROKU_YML, text),
    };
    let documents = reader.load(text, "a heroku.yml")?;
    let root = reader.document(
        &documents,
        "heroku.yml is empty: expected a mapping with build (and optionally setup, release and \
         run)",
    )?;
    reader.manifest(root, &file_exists)
}

/// heroku.yml's own sections, read with the shared [`Reader`].
struct HerokuYml {
    yaml: Reader,
}

impl std::ops::Deref for HerokuYml {
    type Target = Reader;

    fn deref(&self) -> &Reader {
        &self.yaml
    }
}

impl HerokuYml {
    fn manifest(
        &self,
        root: &Node<'_>,
        file_exists: &dyn Fn(&str) -> bool,
    ) -> Result<Manifest, ManifestError> {
        let root_mark = untag(root).span.start;
        if kind(root) != Kind::Map {
            return Err(self.error(
                root_mark,
                format!(
                    "expected a mapping with the keys setup, build, release and run, found {}",
                    kind(root).describe()
                ),
            ));
        }
        let document = Field {
            path: String::new(),
            key: "",
            key_mark: root_mark,
            value: root,
        };
        let fields = self.mapping(&document, "a mapping")?;
        for field in &fields {
            if !TOP_LEVEL_KEYS.contains(&field.key) {
                return Err(self.error(
                    field.key_mark,
                    format!(
                        "unknown top-level key {:?}: expected {}",
                        field.key,
                        join_words(TOP_LEVEL_KEYS, "or")
                    ),
                ));
            }
        }
        let setup = match find(&fields, "setup") {
            Some(field) => self.setup(field)?,
            None => Setup::default(),
        };
        let Some(build) = find(&fields, "build") else {
            return Err(self.error(
                root_mark,
                "missing key \"build\": expected build.docker to name the Dockerfile of each \
                 process type",
            ));
        };
        let (builds, build_args) = self.build(build, file_exists)?;
        let release = find(&fields, "release")
            .map(|field| self.release(field, &builds))
            .transpose()?;
        let mut processes: BTreeMap<ProcessType, ProcessSpec> = builds
            .keys()
            .filter(|key| key.as_str() != ProcessType::RELEASE)
            .filter_map(|key| ProcessType::parse(key).ok())
            .map(|name| {
                let build = name.as_str().to_string();
                (
                    name,
                    ProcessSpec {
                        build,
                        command: None,
                        healthcheck: None,
                        options: ProcessOptions::default(),
                    },
                )
            })
            .collect();
        if let Some(run) = find(&fields, "run") {
            self.run(run, &builds, &mut processes)?;
        }
        Ok(Manifest {
            builds,
            build_args,
            processes,
            release,
            setup,
            source: ManifestSource::HerokuYml,
            pulls: BTreeMap::new(),
            addons: BTreeMap::new(),
            files: vec![HEROKU_YML.to_string()],
            warnings: Vec::new(),
        })
    }

    fn setup(&self, field: &Field<'_, '_>) -> Result<Setup, ManifestError> {
        if kind(field.value) == Kind::Null {
            return Ok(Setup::default());
        }
        let fields = self.mapping(field, "a mapping with addons and config")?;
        self.check_keys(&fields, "setup", &["addons", "config"])?;
        let addons = match find(&fields, "addons") {
            Some(addons) => self.addons(addons)?,
            None => Vec::new(),
        };
        let config = match find(&fields, "config") {
            Some(config) => self.variables(config)?,
            None => BTreeMap::new(),
        };
        Ok(Setup { addons, config })
    }

    fn addons(&self, field: &Field<'_, '_>) -> Result<Vec<AddonRequest>, ManifestError> {
        let items = match &untag(field.value).data {
            _ if kind(field.value) == Kind::Null => return Ok(Vec::new()),
            YamlData::Sequence(items) => items,
            _ => return Err(self.expected(field, "a list of add-ons")),
        };
        let mut addons = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let item = Field {
                path: format!("{}[{index}]", field.path),
                key: "",
                key_mark: untag(item).span.start,
                value: item,
            };
            let what = "an add-on plan or a mapping with plan and as";
            let addon = if kind(item.value) == Kind::Map {
                let fields = self.mapping(&item, what)?;
                self.check_keys(&fields, &item.path, &["plan", "as"])?;
                let Some(plan) = find(&fields, "plan") else {
                    return Err(self.error(
                        item.key_mark,
                        format!(
                            "missing key \"plan\" in {}: expected the add-on plan, e.g. \
                             heroku-postgresql",
                            item.path
                        ),
                    ));
                };
                let as_name = find(&fields, "as")
                    .map(|name| self.non_empty(name, "an attachment name, e.g. DATABASE"))
                    .transpose()?;
                AddonRequest {
                    plan: self.non_empty(plan, "an add-on plan, e.g. heroku-postgresql")?,
                    as_name,
                }
            } else {
                AddonRequest {
                    plan: self.non_empty(&item, what)?,
                    as_name: None,
                }
            };
            addons.push(addon);
        }
        Ok(addons)
    }

    /// `setup.config` or `build.config`: names to values. Numbers and booleans are kept as
    /// written.
    fn variables(&self, field: &Field<'_, '_>) -> Result<BTreeMap<String, String>, ManifestError> {
        let mut variables = BTreeMap::new();
        if kind(field.value) == Kind::Null {
            return Ok(variables);
        }
        for variable in self.mapping(field, "a mapping of variable names to values")? {
            let name = variable.key;
            if name.is_empty()
                || name.contains(|c: char| c == '=' || c == '\0' || c.is_whitespace())
            {
                return Err(self.error(
                    variable.key_mark,
                    format!(
                        "invalid variable name {name:?} in {}: expected a name without '=', \
                         spaces or NUL, e.g. RAILS_ENV",
                        field.path
                    ),
                ));
            }
            if kind(variable.value) == Kind::Null {
                return Err(self.error(
                    variable.key_mark,
                    format!(
                        "{name} in {} has no value: write {name}: \"\" for an empty one",
                        field.path
                    ),
                ));
            }
            let value = self.string(&variable, "a string")?;
            if value.contains('\0') {
                return Err(self.error(
                    variable.mark(),
                    format!("the value of {} contains NUL: expected text", variable.path),
                ));
            }
            variables.insert(name.to_string(), value.to_string());
        }
        Ok(variables)
    }

    fn build(
        &self,
        field: &Field<'_, '_>,
        file_exists: &dyn Fn(&str) -> bool,
    ) -> Result<(Builds, BTreeMap<String, String>), ManifestError> {
        let fields = self.mapping(field, "a mapping with docker and config")?;
        self.check_keys(&fields, "build", &["docker", "config"])?;
        let Some(docker) = find(&fields, "docker") else {
            return Err(self.error(
                field.key_mark,
                "missing key \"docker\" in build: expected build.docker to name the Dockerfile \
                 of each process type",
            ));
        };
        let empty = || {
            self.error(
                docker.key_mark,
                "build.docker is empty: expected at least one process type and its Dockerfile",
            )
        };
        if kind(docker.value) == Kind::Null {
            return Err(empty());
        }
        let images = self.mapping(docker, "a mapping of process types to Dockerfiles")?;
        if images.is_empty() {
            return Err(empty());
        }
        let mut builds = BTreeMap::new();
        for image in &images {
            let name = self.process_type(image)?;
            builds.insert(name.to_string(), self.build_spec(image, file_exists)?);
        }
        let args = match find(&fields, "config") {
            Some(config) => self.variables(config)?,
            None => BTreeMap::new(),
        };
        Ok((builds, args))
    }

    fn build_spec(
        &self,
        field: &Field<'_, '_>,
        file_exists: &dyn Fn(&str) -> bool,
    ) -> Result<BuildSpec, ManifestError> {
        let what = "a Dockerfile path or a mapping with dockerfile, target and context";
        if kind(field.value) != Kind::Map {
            return Ok(BuildSpec {
                dockerfile: self.dockerfile(field, what, file_exists)?,
                context: String::new(),
                target: None,
                args: BTreeMap::new(),
            });
        }
        let fields = self.mapping(field, what)?;
        self.check_keys(&fields, &field.path, &["dockerfile", "target", "context"])?;
        let Some(dockerfile) = find(&fields, "dockerfile") else {
            return Err(self.error(
                field.key_mark,
                format!(
                    "missing key \"dockerfile\" in {}: expected the path of its Dockerfile",
                    field.path
                ),
            ));
        };
        let dockerfile = self.dockerfile(dockerfile, "the path of a Dockerfile", file_exists)?;
        let target = find(&fields, "target")
            .map(|target| self.non_empty(target, "the name of a build stage"))
            .transpose()?;
        let context = match find(&fields, "context") {
            Some(context) => {
                let path = self.string(context, "a directory")?;
                paths::normalise(path).map_err(|message| self.error(context.mark(), message))?
            }
            None => String::new(),
        };
        Ok(BuildSpec {
            dockerfile,
            context,
            target,
            args: BTreeMap::new(),
        })
    }

    fn dockerfile(
        &self,
        field: &Field<'_, '_>,
        what: &str,
        file_exists: &dyn Fn(&str) -> bool,
    ) -> Result<String, ManifestError> {
        let written = self.string(field, what)?;
        let path =
            paths::normalise(written).map_err(|message| self.error(field.mark(), message))?;
        if path.is_empty() {
            return Err(self.error(
                field.mark(),
                format!(
                    "path {written:?} is the repository root: expected the path of a Dockerfile"
                ),
            ));
        }
        if !file_exists(&path) {
            return Err(self.error(
                field.mark(),
                format!("Dockerfile {written:?} does not exist in this commit"),
            ));
        }
        Ok(path)
    }

    fn release(
        &self,
        field: &Field<'_, '_>,
        builds: &Builds,
    ) -> Result<ReleaseSpec, ManifestError> {
        let fields = self.mapping(field, "a mapping with command and image")?;
        self.check_keys(&fields, "release", &["command", "image"])?;
        let Some(command) = find(&fields, "command") else {
            return Err(self.error(
                field.key_mark,
                "missing key \"command\" in release: expected the release command",
            ));
        };
        let command = self.command(command)?;
        let build = match find(&fields, "image") {
            Some(image) => self.image(image, builds)?,
            None if builds.contains_key(ProcessType::WEB) => ProcessType::WEB.to_string(),
            None if builds.len() == 1 => builds.keys().next().cloned().unwrap_or_default(),
            None => {
                return Err(self.error(
                    field.key_mark,
                    format!(
                        "release has no image and build.docker has no \"web\": add image: with \
                         one of {}",
                        quoted_or(builds.keys().map(String::as_str))
                    ),
                ))
            }
        };
        Ok(ReleaseSpec { build, command })
    }

    fn run(
        &self,
        field: &Field<'_, '_>,
        builds: &Builds,
        processes: &mut BTreeMap<ProcessType, ProcessSpec>,
    ) -> Result<(), ManifestError> {
        if kind(field.value) == Kind::Null {
            return Ok(());
        }
        for entry in self.mapping(field, "a mapping of process types to commands")? {
            if entry.key == ProcessType::RELEASE {
                return Err(self.error(
                    entry.key_mark,
                    "\"release\" is not a process type: put the release command under the \
                     top-level release key",
                ));
            }
            let name = self.process_type(&entry)?;
            let mut healthcheck = None;
            let mut options = ProcessOptions::default();
            let (command, image) = if kind(entry.value) == Kind::Map {
                let fields = self.mapping(&entry, "a mapping with command and image")?;
                self.check_keys(
                    &fields,
                    &entry.path,
                    &["command", "image", "healthcheck", "limits"],
                )?;
                healthcheck = find(&fields, "healthcheck")
                    .map(|path| self.healthcheck(path))
                    .transpose()?;
                if let Some(limits) = find(&fields, "limits") {
                    options.limits = self.limits(limits)?;
                }
                let command = find(&fields, "command")
                    .map(|command| self.command(command))
                    .transpose()?;
                let image = find(&fields, "image")
                    .map(|image| self.image(image, builds))
                    .transpose()?;
                (command, image)
            } else if kind(entry.value) == Kind::Str {
                (Some(self.command(&entry)?), None)
            } else {
                return Err(self.expected(&entry, "a command or a mapping with command and image"));
            };
            let build = match image {
                Some(image) => image,
                None if builds.contains_key(entry.key) => entry.key.to_string(),
                None if builds.contains_key(ProcessType::WEB) => ProcessType::WEB.to_string(),
                None => {
                    return Err(self.error(
                        entry.key_mark,
                        format!(
                            "{} has no image and build.docker has neither {:?} nor \"web\": add \
                             image: with one of {}",
                            entry.path,
                            entry.key,
                            quoted_or(builds.keys().map(String::as_str))
                        ),
                    ))
                }
            };
            processes.insert(
                name,
                ProcessSpec {
                    build,
                    command,
                    healthcheck,
                    options,
                },
            );
        }
        Ok(())
    }

    /// Berth's `limits: {memory: 512m, cpus: 1.5}`, as `ps:limits` takes them.
    fn limits(&self, field: &Field<'_, '_>) -> Result<Limits, ManifestError> {
        let mut limits = Limits::default();
        if kind(field.value) == Kind::Null {
            return Ok(limits);
        }
        let fields = self.mapping(field, "a mapping with memory and cpus")?;
        self.check_keys(&fields, &field.path, &["memory", "cpus"])?;
        if let Some(memory) = find(&fields, "memory") {
            let size = self.string(memory, "a size such as 512m or 1g")?;
            limits.memory_bytes =
                Some(parse_memory(size).map_err(|e| self.error(memory.mark(), e.to_string()))?);
        }
        if let Some(cpus) = find(&fields, "cpus") {
            let number = self.string(cpus, "a number of CPUs such as 0.5 or 2")?;
            limits.nano_cpus =
                Some(parse_cpus(number).map_err(|e| self.error(cpus.mark(), e.to_string()))?);
        }
        Ok(limits)
    }

    /// A `healthcheck:` value: an absolute URL path, e.g. `/health`.
    fn healthcheck(&self, field: &Field<'_, '_>) -> Result<String, ManifestError> {
        let path = self.string(field, "a path such as /health")?;
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.expected(field, "a path such as /health (starting with /, no spaces)"));
        }
        Ok(path.to_string())
    }

    /// An `image:` value: a key of `build.docker`.
    fn image(&self, field: &Field<'_, '_>, builds: &Builds) -> Result<String, ManifestError> {
        let name = self.string(field, "the name of a build.docker key")?;
        if builds.contains_key(name) {
            Ok(name.to_string())
        } else {
            Err(self.error(
                field.mark(),
                format!(
                    "image {name:?} is not built: expected one of the build.docker keys {}",
                    quoted_or(builds.keys().map(String::as_str))
                ),
            ))
        }
    }

    /// A command: a string taken as is, or a list of strings joined with single spaces.
    fn command(&self, field: &Field<'_, '_>) -> Result<Command, ManifestError> {
        let empty = || {
            self.error(
                field.mark(),
                format!(
                    "empty command in {}: expected a shell command line",
                    field.path
                ),
            )
        };
        match (&untag(field.value).data, kind(field.value)) {
            (_, Kind::Str) => Command::new(text(field.value).unwrap_or_default()).ok_or_else(empty),
            (YamlData::Sequence(items), _) => {
                let mut parts = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let mark = untag(item).span.start;
                    let item_kind = kind(item);
                    if item_kind != Kind::Str {
                        return Err(self.error(
                            mark,
                            format!(
                                "expected a string as item {index} of the command list in {}, \
                                 found {}",
                                field.path,
                                item_kind.describe()
                            ),
                        ));
                    }
                    let part = text(item).unwrap_or_default();
                    if part.trim().is_empty() {
                        return Err(self.error(
                            mark,
                            format!(
                                "empty item {index} in the command list in {}: expected part of \
                                 a shell command line",
                                field.path
                            ),
                        ));
                    }
                    parts.push(part);
                }
                Command::from_items(parts).ok_or_else(empty)
            }
            (_, found) => Err(self.error(
                field.mark(),
                format!(
                    "expected a command (a string or a list of strings) in {}, found {}",
                    field.path,
                    found.describe()
                ),
            )),
        }
    }

    fn process_type(&self, field: &Field<'_, '_>) -> Result<ProcessType, ManifestError> {
        ProcessType::parse(field.key)
            .map_err(|invalid| self.error(field.key_mark, format!("{invalid} (in {})", field.path)))
    }
}

#[cfg(test)]
mod tests;
