//! `heroku.yml`: Heroku's manifest for apps built from Dockerfiles.

use std::collections::{BTreeMap, BTreeSet};

use saphyr::{MarkedYaml, Marker, Scalar, YamlData, YamlLoader};
use saphyr_parser::{Event, Parser, Span, SpannedEventReceiver};

use super::{
    join_words, paths, quoted_or, AddonRequest, BuildSpec, Command, Manifest, ManifestError,
    ManifestSource, ProcessOptions, ProcessSpec, ProcessType, ReleaseSpec, Setup, HEROKU_YML,
};

/// Deeper YAML is refused before it is built into a tree: heroku.yml needs four levels, and
/// a tree thousands of levels deep would overflow the stack when dropped.
const MAX_DEPTH: usize = 32;
/// How many nodes anchors and aliases may copy in all ("billion laughs").
const ALIAS_LIMIT: usize = 10_000;
const TOP_LEVEL_KEYS: [&str; 4] = ["setup", "build", "release", "run"];

type Node<'t> = MarkedYaml<'t>;
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
    let reader = Reader::new(text);
    let documents = reader.load(text)?;
    let root = reader.document(&documents)?;
    reader.manifest(root, &file_exists)
}

/// Turns positions into errors that lie within the text, and walks the tree.
struct Reader {
    /// Length in characters of each line, as YAML breaks lines (`\n`, `\r\n` or `\r`).
    line_lengths: Vec<usize>,
}

/// A value in the tree with the key it was found under.
struct Field<'n, 't> {
    /// Dotted path from the top, e.g. `build.docker.web`; `""` for the document itself.
    path: String,
    key: &'n str,
    key_mark: Marker,
    value: &'n Node<'t>,
}

impl Field<'_, '_> {
    /// Where to point at the value: the value itself, or its key where the value is empty.
    fn mark(&self) -> Marker {
        if kind(self.value) == Kind::Null {
            self.key_mark
        } else {
            untag(self.value).span.start
        }
    }
}

impl Reader {
    fn new(text: &str) -> Self {
        let mut line_lengths = Vec::new();
        let mut length = 0;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\n' => {
                    line_lengths.push(length);
                    length = 0;
                }
                '\r' => {
                    chars.next_if_eq(&'\n');
                    line_lengths.push(length);
                    length = 0;
                }
                _ => length += 1,
            }
        }
        line_lengths.push(length);
        Self { line_lengths }
    }

    /// An error at a 1-based line and column, moved into the text if it lies past its end.
    fn error_at(&self, line: usize, column: usize, message: impl Into<String>) -> ManifestError {
        let last = self.line_lengths.len();
        let (line, column) = if line == 0 {
            (1, 1)
        } else if line > last {
            (last, self.line_lengths[last - 1] + 1)
        } else {
            (line, column.clamp(1, self.line_lengths[line - 1] + 1))
        };
        ManifestError::new(HEROKU_YML, line, column, message)
    }

    fn error(&self, mark: Marker, message: impl Into<String>) -> ManifestError {
        self.error_at(mark.line(), mark.col() + 1, message)
    }

    fn yaml_error(&self, error: &saphyr::ScanError) -> ManifestError {
        self.error(*error.marker(), format!("invalid YAML: {}", error.info()))
    }

    fn load<'t>(&self, text: &'t str) -> Result<Vec<Node<'t>>, ManifestError> {
        let mut loader = YamlLoader::default();
        // Keep scalars as written: `1.10` is a version, not the number 1.1.
        loader.early_parse(false);
        loader.alias_limit(ALIAS_LIMIT);
        let mut receiver = DepthGuard {
            loader,
            depth: 0,
            too_deep: None,
        };
        // Events are pulled one by one: `Parser::load` recurses once per nesting level.
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|error| self.yaml_error(&error))?;
            receiver.on_event(event, span);
            if let Some(mark) = receiver.too_deep {
                return Err(self.error(
                    mark,
                    format!("YAML nested more than {MAX_DEPTH} levels deep: expected a heroku.yml"),
                ));
            }
        }
        if let Some(error) = receiver.loader.error() {
            return Err(self.yaml_error(error));
        }
        Ok(receiver.loader.into_documents())
    }

    /// The one document that is not empty.
    fn document<'n, 't>(&self, documents: &'n [Node<'t>]) -> Result<&'n Node<'t>, ManifestError> {
        let mut found = documents
            .iter()
            .filter(|document| !matches!(kind(document), Kind::Null | Kind::Invalid));
        let Some(first) = found.next() else {
            return Err(self.error_at(
                1,
                1,
                "heroku.yml is empty: expected a mapping with build (and optionally setup, \
                 release and run)",
            ));
        };
        if let Some(second) = found.next() {
            return Err(self.error(
                second.span.start,
                "expected one YAML document, found a second one",
            ));
        }
        Ok(first)
    }

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
            let (command, image) = if kind(entry.value) == Kind::Map {
                let fields = self.mapping(&entry, "a mapping with command and image")?;
                self.check_keys(&fields, &entry.path, &["command", "image", "healthcheck"])?;
                healthcheck = find(&fields, "healthcheck")
                    .map(|path| self.healthcheck(path))
                    .transpose()?;
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
                    options: ProcessOptions::default(),
                },
            );
        }
        Ok(())
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

    /// The entries of a mapping, in document order, with their keys as written.
    fn mapping<'n, 't>(
        &self,
        field: &Field<'n, 't>,
        expected: &str,
    ) -> Result<Vec<Field<'n, 't>>, ManifestError> {
        let YamlData::Mapping(mapping) = &untag(field.value).data else {
            return Err(self.expected(field, expected));
        };
        let mut fields: Vec<Field<'n, 't>> = Vec::with_capacity(mapping.len());
        let mut seen = BTreeSet::new();
        for (key, value) in mapping {
            let key_mark = untag(key).span.start;
            let name = match kind(key) {
                Kind::Str | Kind::Bool | Kind::Int | Kind::Float => text(key).unwrap_or_default(),
                found => {
                    return Err(self.error(
                        key_mark,
                        format!(
                            "expected a key name in {}, found {}",
                            place(&field.path),
                            found.describe()
                        ),
                    ))
                }
            };
            if !seen.insert(name) {
                return Err(self.error(
                    key_mark,
                    format!("duplicate key {name:?} in {}", place(&field.path)),
                ));
            }
            let path = if field.path.is_empty() {
                name.to_string()
            } else {
                format!("{}.{name}", field.path)
            };
            fields.push(Field {
                path,
                key: name,
                key_mark,
                value,
            });
        }
        Ok(fields)
    }

    fn check_keys(
        &self,
        fields: &[Field<'_, '_>],
        section: &str,
        allowed: &[&str],
    ) -> Result<(), ManifestError> {
        match fields.iter().find(|field| !allowed.contains(&field.key)) {
            Some(unknown) => Err(self.error(
                unknown.key_mark,
                format!(
                    "unknown key {:?} in {section}: expected {}",
                    unknown.key,
                    join_words(allowed, "or")
                ),
            )),
            None => Ok(()),
        }
    }

    /// A scalar as written; numbers and booleans are text here too.
    fn string<'n>(&self, field: &Field<'n, '_>, expected: &str) -> Result<&'n str, ManifestError> {
        match kind(field.value) {
            Kind::Str | Kind::Bool | Kind::Int | Kind::Float => {
                Ok(text(field.value).unwrap_or_default())
            }
            _ => Err(self.expected(field, expected)),
        }
    }

    fn non_empty(&self, field: &Field<'_, '_>, expected: &str) -> Result<String, ManifestError> {
        let value = self.string(field, expected)?;
        if value.trim().is_empty() {
            return Err(self.error(
                field.mark(),
                format!("empty value for {}: expected {expected}", field.path),
            ));
        }
        Ok(value.to_string())
    }

    fn expected(&self, field: &Field<'_, '_>, expected: &str) -> ManifestError {
        self.error(
            field.mark(),
            format!(
                "expected {expected} for {}, found {}",
                place(&field.path),
                kind(field.value).describe()
            ),
        )
    }
}

fn place(path: &str) -> &str {
    if path.is_empty() {
        "the top level"
    } else {
        path
    }
}

fn find<'a, 'n, 't>(fields: &'a [Field<'n, 't>], key: &str) -> Option<&'a Field<'n, 't>> {
    fields.iter().find(|field| field.key == key)
}

/// Feeds the loader until the document nests deeper than [`MAX_DEPTH`]; the loader's tree is
/// dropped recursively.
struct DepthGuard<'t> {
    loader: YamlLoader<'t, Node<'t>>,
    depth: usize,
    too_deep: Option<Marker>,
}

impl<'t> SpannedEventReceiver<'t> for DepthGuard<'t> {
    fn on_event(&mut self, event: Event<'t>, span: Span) {
        if self.too_deep.is_some() {
            return;
        }
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    self.too_deep = Some(span.start);
                    return;
                }
            }
            Event::MappingEnd | Event::SequenceEnd => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        self.loader.on_event(event, span);
    }
}

/// What a node holds, as far as a manifest cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Str,
    Bool,
    Int,
    Float,
    Map,
    List,
    Invalid,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Null => "nothing",
            Kind::Str => "a string",
            Kind::Bool => "a boolean",
            Kind::Int => "an integer",
            Kind::Float => "a number",
            Kind::Map => "a mapping",
            Kind::List => "a list",
            Kind::Invalid => "an invalid value",
        }
    }
}

/// The node under any tags (`!custom` tags are ignored).
fn untag<'n, 't>(mut node: &'n Node<'t>) -> &'n Node<'t> {
    while let YamlData::Tagged(_, inner) = &node.data {
        node = inner;
    }
    node
}

fn kind(node: &Node<'_>) -> Kind {
    let scalar_kind = |scalar: Option<&Scalar<'_>>| match scalar {
        None => Kind::Invalid,
        Some(Scalar::Null) => Kind::Null,
        Some(Scalar::Boolean(_)) => Kind::Bool,
        Some(Scalar::Integer(_)) => Kind::Int,
        Some(Scalar::FloatingPoint(_)) => Kind::Float,
        Some(Scalar::String(_)) => Kind::Str,
    };
    match &untag(node).data {
        YamlData::Representation(written, style, tag) => scalar_kind(
            Scalar::parse_from_cow_and_metadata(written.clone(), *style, tag.as_ref()).as_ref(),
        ),
        YamlData::Value(scalar) => scalar_kind(Some(scalar)),
        YamlData::Mapping(_) => Kind::Map,
        YamlData::Sequence(_) => Kind::List,
        YamlData::Tagged(..) | YamlData::Alias(_) | YamlData::BadValue => Kind::Invalid,
    }
}

/// A scalar's text as written (after YAML's quoting and folding).
fn text<'n>(node: &'n Node<'_>) -> Option<&'n str> {
    match &untag(node).data {
        YamlData::Representation(written, ..) => Some(written),
        YamlData::Value(Scalar::String(written)) => Some(written),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
