//! Compose files as an owned tree that remembers where each value was written, with
//! variables interpolated, and merged the way `docker compose -f base -f override` merges.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use saphyr::YamlData;

use super::super::yaml::{kind, text, untag, Kind, Node, Reader};
use super::super::ManifestError;

/// An interpolated scalar may be at most this long.
pub(super) const MAX_SCALAR: usize = 64 * 1024;
/// Everything read into the tree, with `${VAR}`s substituted, from every Compose file and
/// env file of a manifest, may be at most this long in all: a short file that copies a long
/// config var into many values (or YAML aliases that copy such values) would otherwise
/// build gigabytes.
pub(super) const MAX_INTERPOLATED: usize = 4 << 20;
/// `${A:-${B:-${C}}}` nests at most this deep.
const MAX_NESTING: usize = 8;

/// Where a value was written: an index into the list of file names, and a 1-based line and
/// column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct At {
    pub(super) file: usize,
    pub(super) line: usize,
    pub(super) column: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Value {
    Null,
    /// The text as written (after interpolation) and what YAML read it as.
    Scalar(String, Kind),
    Map(Vec<Entry>),
    List(Vec<V>),
}

/// A value and where it was written.
#[derive(Debug, Clone)]
pub(super) struct V {
    pub(super) at: At,
    pub(super) value: Value,
}

/// A key of a mapping, where it was written, and its value.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) key: String,
    pub(super) key_at: At,
    pub(super) value: V,
}

impl Entry {
    /// Where to point at the value: the value, or its key where the value is empty.
    pub(super) fn at(&self) -> At {
        match self.value.value {
            Value::Null => self.key_at,
            _ => self.value.at,
        }
    }
}

impl Value {
    pub(super) fn describe(&self) -> &'static str {
        match self {
            Value::Null => "nothing",
            Value::Scalar(_, kind) => kind.describe(),
            Value::Map(_) => "a mapping",
            Value::List(_) => "a list",
        }
    }
}

/// Replaces `${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
/// `${VAR?error}`, `${VAR:+other}`, `${VAR+other}` and `$$` in scalars, as Compose does.
pub(super) struct Interpolator<'v> {
    vars: &'v BTreeMap<String, String>,
    warned: BTreeSet<String>,
    /// Variables found unset since the caller last took them, each once per manifest.
    pub(super) unset: Vec<String>,
    /// How many bytes of values have been read so far ([`MAX_INTERPOLATED`]).
    produced: usize,
}

impl<'v> Interpolator<'v> {
    pub(super) fn new(vars: &'v BTreeMap<String, String>) -> Self {
        Self {
            vars,
            warned: BTreeSet::new(),
            unset: Vec::new(),
            produced: 0,
        }
    }

    /// Counts `bytes` more of values read into the manifest from `file`; `Err` (the message)
    /// once the manifest's values total more than [`MAX_INTERPOLATED`].
    pub(super) fn charge(&mut self, bytes: usize, file: &str) -> Result<(), String> {
        self.produced = self.produced.saturating_add(bytes);
        if self.produced > MAX_INTERPOLATED {
            return Err(format!(
                "{file} expands to more than {} MiB once ${{VAR}}s are substituted (with the \
                 other Compose and env files): Berth reads at most that much; copy long config \
                 vars into fewer values",
                MAX_INTERPOLATED >> 20
            ));
        }
        Ok(())
    }

    /// `text` with its variables replaced; `Err` is the message.
    pub(super) fn interpolate(&mut self, text: &str) -> Result<String, String> {
        if !text.contains('$') {
            return Ok(text.to_string());
        }
        let mut out = String::new();
        self.expand(text, text, 0, &mut out)?;
        Ok(out)
    }

    fn expand(
        &mut self,
        whole: &str,
        text: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), String> {
        if depth > MAX_NESTING {
            return Err(format!(
                "interpolation in {} nests more than {MAX_NESTING} levels deep",
                shorten(whole)
            ));
        }
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            push(out, &rest[..dollar])?;
            let after = &rest[dollar + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                push(out, "$")?;
                rest = tail;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(end) = closing_brace(body) else {
                    return Err(format!(
                        "invalid interpolation in {}: \"${{\" without its \"}}\" (write $$ for a \
                         literal $)",
                        shorten(whole)
                    ));
                };
                self.braced(whole, &body[..end], depth, out)?;
                rest = &body[end + 1..];
            } else {
                let length = name_length(after);
                if length == 0 {
                    return Err(format!(
                        "invalid interpolation in {}: expected a variable name after $ (write $$ \
                         for a literal $)",
                        shorten(whole)
                    ));
                }
                let value = self.lookup(&after[..length]).unwrap_or_default();
                push(out, &value)?;
                rest = &after[length..];
            }
        }
        push(out, rest)
    }

    fn braced(
        &mut self,
        whole: &str,
        body: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), String> {
        let length = name_length(body);
        let (name, operation) = body.split_at(length);
        let invalid = || {
            format!(
                "invalid interpolation ${{{body}}} in {}: expected ${{NAME}}, ${{NAME:-default}}, \
                 ${{NAME-default}}, ${{NAME:?error}} or ${{NAME:+other}}",
                shorten(whole)
            )
        };
        if name.is_empty() {
            return Err(invalid());
        }
        let value = self.vars.get(name);
        let set = value.is_some();
        let filled = value.is_some_and(|value| !value.is_empty());
        let known = |out: &mut String| push(out, value.map(String::as_str).unwrap_or_default());
        if operation.is_empty() {
            let value = self.lookup(name).unwrap_or_default();
            return push(out, &value);
        }
        for (operator, needs_filled) in [(":-", true), ("-", false)] {
            if let Some(default) = operation.strip_prefix(operator) {
                let ok = if needs_filled { filled } else { set };
                return if ok {
                    known(out)
                } else {
                    self.expand(whole, default, depth + 1, out)
                };
            }
        }
        for (operator, needs_filled) in [(":?", true), ("?", false)] {
            if let Some(error) = operation.strip_prefix(operator) {
                let ok = if needs_filled { filled } else { set };
                if ok {
                    return known(out);
                }
                let mut message = String::new();
                self.expand(whole, error, depth + 1, &mut message)?;
                return Err(if message.is_empty() {
                    format!("required variable {name} is missing a value")
                } else {
                    format!("required variable {name} is missing a value: {message}")
                });
            }
        }
        for (operator, needs_filled) in [(":+", true), ("+", false)] {
            if let Some(other) = operation.strip_prefix(operator) {
                let ok = if needs_filled { filled } else { set };
                return if ok {
                    self.expand(whole, other, depth + 1, out)
                } else {
                    Ok(())
                };
            }
        }
        Err(invalid())
    }

    /// A variable's value, without a warning if it is not set.
    pub(super) fn get(&self, name: &str) -> Option<&String> {
        self.vars.get(name)
    }

    /// A variable's value; `None` (and a warning, once) if it is not set.
    pub(super) fn lookup(&mut self, name: &str) -> Option<String> {
        match self.vars.get(name) {
            Some(value) => Some(value.clone()),
            None => {
                if self.warned.insert(name.to_string()) {
                    self.unset.push(name.to_string());
                }
                None
            }
        }
    }
}

fn push(out: &mut String, text: &str) -> Result<(), String> {
    if out.len() + text.len() > MAX_SCALAR {
        return Err("value is longer than 64 KiB after interpolation".to_string());
    }
    out.push_str(text);
    Ok(())
}

/// The length of the variable name `text` starts with (0 if none).
fn name_length(text: &str) -> usize {
    if !text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return 0;
    }
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len())
}

/// Where the `}` closing a `${` is in `body` (what follows the `${`).
fn closing_brace(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// A value quoted for a message, cut short if long.
pub(super) fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}

/// Builds the owned tree of one file, interpolating every scalar value (not keys) except
/// under top-level `x-` keys (`x-berth` and extensions), which are taken as written.
pub(super) struct Builder<'r, 'i, 'v> {
    reader: &'r Reader,
    file: usize,
    interpolator: &'i mut Interpolator<'v>,
    /// Unset variables found, with where.
    pub(super) unset: Vec<(At, String)>,
    /// Whether the next node built is the document itself.
    top: bool,
    /// Whether scalars are taken as written (under a top-level `x-` key).
    literal: bool,
}

impl<'r, 'i, 'v> Builder<'r, 'i, 'v> {
    pub(super) fn new(
        reader: &'r Reader,
        file: usize,
        interpolator: &'i mut Interpolator<'v>,
    ) -> Self {
        Self {
            reader,
            file,
            interpolator,
            unset: Vec::new(),
            top: true,
            literal: false,
        }
    }

    fn at(&self, node: &Node<'_>) -> At {
        let (line, column) = self.reader.position(untag(node).span.start);
        At {
            file: self.file,
            line,
            column,
        }
    }

    pub(super) fn build(&mut self, node: &Node<'_>) -> Result<V, ManifestError> {
        let top = std::mem::replace(&mut self.top, false);
        let at = self.at(node);
        let error = |message: String| {
            let mark = untag(node).span.start;
            self.reader.error(mark, message)
        };
        let value = match (&untag(node).data, kind(node)) {
            (_, Kind::Null) => Value::Null,
            (YamlData::Mapping(mapping), _) => {
                let mut entries: Vec<Entry> = Vec::with_capacity(mapping.len());
                let mut seen: HashSet<String> = HashSet::with_capacity(mapping.len());
                for (key, value) in mapping {
                    let key_at = self.at(key);
                    let name = match kind(key) {
                        Kind::Str | Kind::Bool | Kind::Int | Kind::Float => {
                            text(key).unwrap_or_default().to_string()
                        }
                        found => {
                            let mark = untag(key).span.start;
                            return Err(self.reader.error(
                                mark,
                                format!("expected a key name, found {}", found.describe()),
                            ));
                        }
                    };
                    if !seen.insert(name.clone()) {
                        let mark = untag(key).span.start;
                        return Err(self.reader.error(mark, format!("duplicate key {name:?}")));
                    }
                    // Top-level `x-` values are not interpolated: `x-berth.release` is
                    // stored as written, so it must not hold config vars (the shell expands
                    // `$VAR` when the command runs), and other extensions are ignored.
                    let literal = self.literal;
                    self.literal = literal || (top && name.starts_with("x-"));
                    let value = self.build(value);
                    self.literal = literal;
                    let value = value?;
                    entries.push(Entry {
                        key: name,
                        key_at,
                        value,
                    });
                }
                merge_keys(&mut entries);
                Value::Map(entries)
            }
            (YamlData::Sequence(items), _) => Value::List(
                items
                    .iter()
                    .map(|item| self.build(item))
                    .collect::<Result<_, _>>()?,
            ),
            (_, found @ (Kind::Str | Kind::Bool | Kind::Int | Kind::Float)) => {
                let written = text(node).unwrap_or_default();
                if self.literal {
                    self.interpolator
                        .charge(written.len(), self.reader.file())
                        .map_err(error)?;
                    return Ok(V {
                        at,
                        value: Value::Scalar(written.to_string(), found),
                    });
                }
                let interpolated = self.interpolator.interpolate(written).map_err(error)?;
                self.interpolator
                    .charge(interpolated.len(), self.reader.file())
                    .map_err(error)?;
                for name in self.interpolator.unset.drain(..) {
                    self.unset.push((at, name));
                }
                if interpolated == written {
                    Value::Scalar(interpolated, found)
                } else {
                    Value::Scalar(interpolated, Kind::Str)
                }
            }
            (_, found) => return Err(error(format!("unexpected {}", found.describe()))),
        };
        Ok(V { at, value })
    }
}

/// YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`): the keys of the merged mappings that the
/// mapping does not set itself, the first merged mapping first.
fn merge_keys(entries: &mut Vec<Entry>) {
    let Some(index) = entries.iter().position(|entry| entry.key == "<<") else {
        return;
    };
    let sources = match &entries[index].value.value {
        Value::Map(_) => vec![entries[index].value.clone()],
        Value::List(items) if items.iter().all(|item| matches!(item.value, Value::Map(_))) => {
            items.clone()
        }
        // Anything else stays a key named "<<", which is then refused or ignored.
        _ => return,
    };
    entries.remove(index);
    for source in sources {
        if let Value::Map(merged) = source.value {
            for entry in merged {
                if !entries.iter().any(|old| old.key == entry.key) {
                    entries.push(entry);
                }
            }
        }
    }
}

/// `KEY=VAL` list items (and `KEY` alone: no value) as a mapping; a mapping as it is.
/// Items that are not scalars are left for the reader to refuse.
pub(super) fn list_to_map(v: &V) -> V {
    let Value::List(items) = &v.value else {
        return v.clone();
    };
    // A key given again moves to the end with its new value; found with an index, not by
    // scanning the entries, so a long list stays cheap.
    let mut slots: Vec<Option<Entry>> = Vec::with_capacity(items.len());
    let mut index: HashMap<String, usize> = HashMap::with_capacity(items.len());
    for item in items {
        let entry = match &item.value {
            Value::Scalar(text, _) => match text.split_once('=') {
                Some((key, value)) => Entry {
                    key: key.to_string(),
                    key_at: item.at,
                    value: V {
                        at: item.at,
                        value: Value::Scalar(value.to_string(), Kind::Str),
                    },
                },
                None => Entry {
                    key: text.clone(),
                    key_at: item.at,
                    value: V {
                        at: item.at,
                        value: Value::Null,
                    },
                },
            },
            _ => return v.clone(),
        };
        if let Some(old) = index.insert(entry.key.clone(), slots.len()) {
            slots[old] = None;
        }
        slots.push(Some(entry));
    }
    V {
        at: v.at,
        value: Value::Map(slots.into_iter().flatten().collect()),
    }
}

/// Mapping entries of `over` replace those of `base` with the same key; others are kept.
fn merge_by_key(base: &V, over: &V) -> V {
    let (base, over) = (list_to_map(base), list_to_map(over));
    match (base.value, over.value) {
        (Value::Map(mut entries), Value::Map(overs)) => {
            for entry in overs {
                match entries.iter_mut().find(|old| old.key == entry.key) {
                    Some(old) => *old = entry,
                    None => entries.push(entry),
                }
            }
            V {
                at: over.at,
                value: Value::Map(entries),
            }
        }
        (_, value) => V { at: over.at, value },
    }
}

/// Mappings merged key by key, recursively; anything else replaced.
pub(super) fn merge_deep(base: &V, over: &V) -> V {
    match (&base.value, &over.value) {
        (Value::Map(entries), Value::Map(overs)) => {
            let mut entries = entries.clone();
            for entry in overs {
                match entries.iter_mut().find(|old| old.key == entry.key) {
                    Some(old) => {
                        old.value = merge_deep(&old.value, &entry.value);
                        old.key_at = entry.key_at;
                    }
                    None => entries.push(entry.clone()),
                }
            }
            V {
                at: over.at,
                value: Value::Map(entries),
            }
        }
        _ => over.clone(),
    }
}

/// Two whole files: services merged by Compose's rules, the rest key by key.
pub(super) fn merge_files(base: &V, over: &V) -> V {
    let (Value::Map(entries), Value::Map(overs)) = (&base.value, &over.value) else {
        return merge_deep(base, over);
    };
    let mut entries = entries.clone();
    for entry in overs {
        match entries.iter_mut().find(|old| old.key == entry.key) {
            Some(old) if entry.key == "services" => {
                old.value = merge_services(&old.value, &entry.value);
            }
            Some(old) => old.value = merge_deep(&old.value, &entry.value),
            None => entries.push(entry.clone()),
        }
    }
    V {
        at: over.at,
        value: Value::Map(entries),
    }
}

fn merge_services(base: &V, over: &V) -> V {
    let (Value::Map(services), Value::Map(overs)) = (&base.value, &over.value) else {
        return merge_deep(base, over);
    };
    let mut services = services.clone();
    for service in overs {
        match services.iter_mut().find(|old| old.key == service.key) {
            Some(old) => old.value = merge_service(&old.value, &service.value),
            None => services.push(service.clone()),
        }
    }
    V {
        at: over.at,
        value: Value::Map(services),
    }
}

fn merge_service(base: &V, over: &V) -> V {
    let (Value::Map(keys), Value::Map(overs)) = (&base.value, &over.value) else {
        return over.clone();
    };
    let mut keys = keys.clone();
    for entry in overs {
        let Some(old) = keys.iter_mut().find(|old| old.key == entry.key) else {
            keys.push(entry.clone());
            continue;
        };
        let (a, b) = (&old.value, &entry.value);
        old.value = match entry.key.as_str() {
            "environment" | "labels" | "depends_on" => merge_by_key(a, b),
            "build" => merge_build(a, b),
            "ports" => merge_by_target(a, b, port_target),
            "volumes" => merge_by_target(a, b, volume_target),
            "env_file" => append(a, b),
            "healthcheck" | "deploy" | "develop" | "logging" => merge_deep(a, b),
            _ => b.clone(),
        };
        old.key_at = entry.key_at;
    }
    V {
        at: over.at,
        value: Value::Map(keys),
    }
}

/// `build: ./dir` as `build: {context: ./dir}`.
fn build_as_map(v: &V) -> V {
    match &v.value {
        Value::Scalar(..) => V {
            at: v.at,
            value: Value::Map(vec![Entry {
                key: "context".into(),
                key_at: v.at,
                value: v.clone(),
            }]),
        },
        _ => v.clone(),
    }
}

fn merge_build(base: &V, over: &V) -> V {
    let (base, over) = (build_as_map(base), build_as_map(over));
    let (Value::Map(keys), Value::Map(overs)) = (&base.value, &over.value) else {
        return over;
    };
    let mut keys = keys.clone();
    for entry in overs {
        match keys.iter_mut().find(|old| old.key == entry.key) {
            Some(old) => {
                old.value = if entry.key == "args" {
                    merge_by_key(&old.value, &entry.value)
                } else {
                    merge_deep(&old.value, &entry.value)
                };
                old.key_at = entry.key_at;
            }
            None => keys.push(entry.clone()),
        }
    }
    V {
        at: over.at,
        value: Value::Map(keys),
    }
}

fn as_list(v: &V) -> Vec<V> {
    match &v.value {
        Value::List(items) => items.clone(),
        Value::Null => Vec::new(),
        _ => vec![v.clone()],
    }
}

fn append(base: &V, over: &V) -> V {
    let mut items = as_list(base);
    items.extend(as_list(over));
    V {
        at: over.at,
        value: Value::List(items),
    }
}

/// Items of `base` whose target `over` does not have, then those of `over`.
fn merge_by_target(base: &V, over: &V, target: fn(&V) -> Option<String>) -> V {
    let overs = as_list(over);
    let replaced: BTreeSet<String> = overs.iter().filter_map(target).collect();
    let mut items: Vec<V> = as_list(base)
        .into_iter()
        .filter(|item| target(item).is_none_or(|t| !replaced.contains(&t)))
        .collect();
    items.extend(overs);
    V {
        at: over.at,
        value: Value::List(items),
    }
}

fn field<'v>(v: &'v V, key: &str) -> Option<&'v V> {
    match &v.value {
        Value::Map(entries) => entries
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| &entry.value),
        _ => None,
    }
}

fn scalar(v: &V) -> Option<&str> {
    match &v.value {
        Value::Scalar(text, _) => Some(text),
        _ => None,
    }
}

/// The container port of a `ports` item, as written.
fn port_target(v: &V) -> Option<String> {
    match &v.value {
        Value::Scalar(text, _) => {
            let text = text.split('/').next().unwrap_or_default();
            Some(text.rsplit(':').next().unwrap_or_default().to_string())
        }
        Value::Map(_) => field(v, "target").and_then(scalar).map(str::to_string),
        _ => None,
    }
}

/// The mount path of a service `volumes` item.
fn volume_target(v: &V) -> Option<String> {
    match &v.value {
        Value::Scalar(text, _) => {
            let parts: Vec<&str> = text.split(':').collect();
            Some(match parts.as_slice() {
                [target] => target.to_string(),
                [_, target, ..] => target.to_string(),
                [] => return None,
            })
        }
        Value::Map(_) => field(v, "target").and_then(scalar).map(str::to_string),
        _ => None,
    }
}
