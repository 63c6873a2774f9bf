//! The YAML machinery manifests share: loading with bounds (depth, aliases), walking
//! mappings with the path and position of each value, and errors that point into the text.

use std::collections::BTreeSet;

use saphyr::{MarkedYaml, Marker, Scalar, YamlData, YamlLoader};
use saphyr_parser::{Event, Parser, Span, SpannedEventReceiver};

use super::{join_words, ManifestError};

/// Deeper YAML is refused before it is built into a tree: manifests need a handful of
/// levels, and a tree thousands of levels deep would overflow the stack when dropped.
pub(super) const MAX_DEPTH: usize = 32;
/// How many nodes anchors and aliases may copy in all ("billion laughs").
pub(super) const ALIAS_LIMIT: usize = 10_000;

pub(super) type Node<'t> = MarkedYaml<'t>;

/// Turns positions into errors that lie within the text, and walks the tree.
pub(super) struct Reader {
    /// The file errors name, e.g. `heroku.yml`.
    file: String,
    /// Length in characters of each line, as YAML breaks lines (`\n`, `\r\n` or `\r`).
    line_lengths: Vec<usize>,
}

/// A value in the tree with the key it was found under.
pub(super) struct Field<'n, 't> {
    /// Dotted path from the top, e.g. `build.docker.web`; `""` for the document itself.
    pub(super) path: String,
    pub(super) key: &'n str,
    pub(super) key_mark: Marker,
    pub(super) value: &'n Node<'t>,
}

impl Field<'_, '_> {
    /// Where to point at the value: the value itself, or its key where the value is empty.
    pub(super) fn mark(&self) -> Marker {
        if kind(self.value) == Kind::Null {
            self.key_mark
        } else {
            untag(self.value).span.start
        }
    }
}

impl Reader {
    /// A reader for `text`, the contents of `file`.
    pub(super) fn new(file: &str, text: &str) -> Self {
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
        Self {
            file: file.to_string(),
            line_lengths,
        }
    }

    /// The file errors name.
    pub(super) fn file(&self) -> &str {
        &self.file
    }

    /// An error at a 1-based line and column, moved into the text if it lies past its end.
    pub(super) fn error_at(
        &self,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> ManifestError {
        let (line, column) = self.clamp(line, column);
        ManifestError::new(&self.file, line, column, message)
    }

    /// A 1-based line and column moved into the text if they lie past its end.
    fn clamp(&self, line: usize, column: usize) -> (usize, usize) {
        let last = self.line_lengths.len();
        if line == 0 {
            (1, 1)
        } else if line > last {
            (last, self.line_lengths[last - 1] + 1)
        } else {
            (line, column.clamp(1, self.line_lengths[line - 1] + 1))
        }
    }

    /// The 1-based line and column of `mark`, within the text.
    pub(super) fn position(&self, mark: Marker) -> (usize, usize) {
        self.clamp(mark.line(), mark.col() + 1)
    }

    pub(super) fn error(&self, mark: Marker, message: impl Into<String>) -> ManifestError {
        self.error_at(mark.line(), mark.col() + 1, message)
    }

    pub(super) fn yaml_error(&self, error: &saphyr::ScanError) -> ManifestError {
        self.error(*error.marker(), format!("invalid YAML: {}", error.info()))
    }

    /// The documents of `text`; `expected` names what the file should be, for the error
    /// about nesting too deep (e.g. "a heroku.yml").
    pub(super) fn load<'t>(
        &self,
        text: &'t str,
        expected: &str,
    ) -> Result<Vec<Node<'t>>, ManifestError> {
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
                    format!("YAML nested more than {MAX_DEPTH} levels deep: expected {expected}"),
                ));
            }
        }
        if let Some(error) = receiver.loader.error() {
            return Err(self.yaml_error(error));
        }
        Ok(receiver.loader.into_documents())
    }

    /// The one document that is not empty; `empty` is the error message when there is none.
    pub(super) fn document<'n, 't>(
        &self,
        documents: &'n [Node<'t>],
        empty: &str,
    ) -> Result<&'n Node<'t>, ManifestError> {
        let mut found = documents
            .iter()
            .filter(|document| !matches!(kind(document), Kind::Null | Kind::Invalid));
        let Some(first) = found.next() else {
            return Err(self.error_at(1, 1, empty));
        };
        if let Some(second) = found.next() {
            return Err(self.error(
                second.span.start,
                "expected one YAML document, found a second one",
            ));
        }
        Ok(first)
    }
    /// The entries of a mapping, in document order, with their keys as written.
    pub(super) fn mapping<'n, 't>(
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

    pub(super) fn check_keys(
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
    pub(super) fn string<'n>(
        &self,
        field: &Field<'n, '_>,
        expected: &str,
    ) -> Result<&'n str, ManifestError> {
        match kind(field.value) {
            Kind::Str | Kind::Bool | Kind::Int | Kind::Float => {
                Ok(text(field.value).unwrap_or_default())
            }
            _ => Err(self.expected(field, expected)),
        }
    }

    pub(super) fn non_empty(
        &self,
        field: &Field<'_, '_>,
        expected: &str,
    ) -> Result<String, ManifestError> {
        let value = self.string(field, expected)?;
        if value.trim().is_empty() {
            return Err(self.error(
                field.mark(),
                format!("empty value for {}: expected {expected}", field.path),
            ));
        }
        Ok(value.to_string())
    }

    pub(super) fn expected(&self, field: &Field<'_, '_>, expected: &str) -> ManifestError {
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

pub(super) fn place(path: &str) -> &str {
    if path.is_empty() {
        "the top level"
    } else {
        path
    }
}

pub(super) fn find<'a, 'n, 't>(
    fields: &'a [Field<'n, 't>],
    key: &str,
) -> Option<&'a Field<'n, 't>> {
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
pub(super) enum Kind {
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
    pub(super) fn describe(self) -> &'static str {
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
pub(super) fn untag<'n, 't>(mut node: &'n Node<'t>) -> &'n Node<'t> {
    while let YamlData::Tagged(_, inner) = &node.data {
        node = inner;
    }
    node
}

pub(super) fn kind(node: &Node<'_>) -> Kind {
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
pub(super) fn text<'n>(node: &'n Node<'_>) -> Option<&'n str> {
    match &untag(node).data {
        YamlData::Representation(written, ..) => Some(written),
        YamlData::Value(Scalar::String(written)) => Some(written),
        _ => None,
    }
}
