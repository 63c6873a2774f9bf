//! Properties of both parsers over generated input.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

fn process_type() -> impl Strategy<Value = ProcessType> {
    "[a-z][a-z0-9_-]{0,29}"
        .prop_filter("release is not a process type", |name| name != "release")
        .prop_map(|name| ProcessType::parse(&name).unwrap())
}

/// A one-line command as a Procfile can hold it: no line breaks, no surrounding blanks.
fn procfile_command() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9./$&|;:=#'\"-][ a-zA-Z0-9./$&|;:=#'\"_-]{0,40}"
        .prop_map(|command| command.trim().to_string())
        .prop_filter("non-blank", |command| !command.is_empty())
}

/// Any text that is not blank: what a YAML string may carry into a command.
fn any_command_text() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("non-blank", |text| !text.trim().is_empty())
}

/// `text` as a YAML double-quoted scalar (JSON strings are YAML).
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// Lines as the YAML reader counts them: broken at `\r\n`, `\n` or `\r`.
fn yaml_lines(text: &str) -> Vec<usize> {
    text.replace("\r\n", "\n")
        .split(['\n', '\r'])
        .map(|line| line.chars().count())
        .collect()
}

fn procfile_lines(text: &str) -> Vec<usize> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line).chars().count())
        .collect()
}

fn assert_within(error: &ManifestError, file: &str, lines: &[usize]) -> Result<(), TestCaseError> {
    prop_assert_eq!(&error.file, file);
    prop_assert!(
        (1..=lines.len()).contains(&error.line),
        "line {} outside 1..={}: {}",
        error.line,
        lines.len(),
        error
    );
    let length = lines[error.line - 1];
    prop_assert!(
        (1..=length + 1).contains(&error.column),
        "column {} outside 1..={}: {}",
        error.column,
        length + 1,
        error
    );
    prop_assert!(!error.message.is_empty());
    Ok(())
}

/// Pieces of heroku.yml syntax and vocabulary.
fn fragment() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("build"),
        Just("docker"),
        Just("web"),
        Just("worker"),
        Just("run"),
        Just("release"),
        Just("setup"),
        Just("addons"),
        Just("config"),
        Just("command"),
        Just("image"),
        Just("dockerfile"),
        Just("context"),
        Just("target"),
        Just("plan"),
        Just("Dockerfile"),
        Just("../"),
        Just("/"),
        Just(": "),
        Just(":"),
        Just("- "),
        Just("\n"),
        Just("\r\n"),
        Just("\r"),
        Just("  "),
        Just("    "),
        Just("\t"),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just(", "),
        Just("'"),
        Just("\""),
        Just("#"),
        Just("&a "),
        Just("*a"),
        Just("!!str "),
        Just("!x "),
        Just("---\n"),
        Just("? "),
        Just("|\n"),
        Just(">-\n"),
        Just("42"),
        Just("true"),
        Just("~"),
        Just("é"),
        Just("\u{feff}"),
    ]
}

/// Garbage that looks like a heroku.yml.
fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..60).prop_map(|fragments| fragments.concat())
}

const VALID: [&str; 3] = [
    "setup:\n  addons:\n    - plan: heroku-postgresql\n      as: DATABASE\n  config:\n    \
     S3_BUCKET: b\nbuild:\n  docker:\n    web: Dockerfile\n    worker:\n      dockerfile: \
     worker/Dockerfile\n      target: prod\n      context: worker\n  config:\n    A: b\n\
     release:\n  command:\n    - ./deploy.sh\n  image: worker\nrun:\n  web: ./serve\n  \
     worker:\n    command:\n      - python w.py\n    image: worker\n",
    "build:\n  docker:\n    web: Dockerfile\nrun:\n  web: ./serve\n  clock: ./tick\n",
    "{build: {docker: {web: Dockerfile, app: {dockerfile: a/Dockerfile}}}, release: {command: \
     [a, b]}, run: {web: {image: app}}}",
];

/// A valid heroku.yml with a few random edits: reaches the rules behind the YAML syntax.
fn mutated() -> impl Strategy<Value = String> {
    let edit = (any::<prop::sample::Index>(), 0..3u8, fragment());
    (0..VALID.len(), prop::collection::vec(edit, 1..4)).prop_map(|(base, edits)| {
        let mut chars: Vec<char> = VALID[base].chars().collect();
        for (index, operation, fragment) in edits {
            let at = index.index(chars.len() + 1);
            let end = (at + 3).min(chars.len());
            match operation {
                0 => drop(chars.splice(at..at, fragment.chars())),
                1 => drop(chars.drain(at..end)),
                _ => drop(chars.splice(at..(at + 1).min(chars.len()), fragment.chars())),
            }
        }
        chars.into_iter().collect()
    })
}

fn procfileish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("web"),
        Just("worker"),
        Just("release"),
        Just("Web"),
        Just("1x"),
        Just(":"),
        Just(": "),
        Just(" "),
        Just("\t"),
        Just("\n"),
        Just("\r\n"),
        Just("\r"),
        Just("#"),
        Just("./run"),
        Just("é"),
        Just("\u{feff}"),
    ];
    prop::collection::vec(fragment, 0..40).prop_map(|fragments| fragments.concat())
}

proptest! {
    #[test]
    fn procfiles_round_trip_to_the_same_processes(
        processes in prop::collection::btree_map(process_type(), procfile_command(), 1..8),
        release in prop::option::of(procfile_command()),
        indents in prop::collection::vec("[ \t]{0,2}", 8),
        gaps in prop::collection::vec("[ \t]{0,3}", 8),
        noise in prop::collection::vec(prop_oneof![Just(""), Just("\n"), Just("# note: x\n"), Just("  #\n")], 8),
        crlf in any::<bool>(),
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        for (i, (name, command)) in processes.iter().enumerate() {
            text.push_str(noise[i]);
            text.push_str(&format!("{}{name}:{}{command}{newline}", indents[i], gaps[i]));
        }
        if let Some(release) = &release {
            text.push_str(&format!("release: {release}{newline}"));
        }
        let manifest = parse_procfile(Some(&text)).unwrap();
        let parsed: BTreeMap<ProcessType, String> = manifest
            .processes
            .iter()
            .map(|(name, spec)| {
                assert_eq!(spec.build, DEFAULT_BUILD);
                (name.clone(), spec.command.as_ref().unwrap().line().to_string())
            })
            .collect();
        prop_assert_eq!(parsed, processes);
        prop_assert_eq!(
            manifest.release.map(|release| release.command.line().to_string()),
            release
        );
        prop_assert_eq!(manifest.source, ManifestSource::DockerfileAndProcfile);
    }

    #[test]
    fn procfile_garbage_never_panics_and_errors_point_into_it(
        text in prop_oneof![procfileish(), any::<String>()]
    ) {
        match parse_procfile(Some(&text)) {
            Ok(manifest) => {
                prop_assert!(!manifest.processes.is_empty());
                for spec in manifest.processes.values() {
                    prop_assert!(manifest.builds.contains_key(&spec.build));
                }
            }
            Err(error) => assert_within(&error, PROCFILE, &procfile_lines(&text))?,
        }
    }

    #[test]
    fn heroku_yml_garbage_never_panics_and_errors_point_into_it(
        text in prop_oneof![2 => mutated(), 1 => yamlish(), 1 => any::<String>()],
        exists in any::<bool>(),
    ) {
        match parse_heroku_yml(&text, |_| exists) {
            Ok(manifest) => {
                prop_assert!(!manifest.builds.is_empty());
                for spec in manifest.processes.values() {
                    prop_assert!(manifest.builds.contains_key(&spec.build));
                }
                if let Some(release) = &manifest.release {
                    prop_assert!(manifest.builds.contains_key(&release.build));
                }
            }
            Err(error) => assert_within(&error, HEROKU_YML, &yaml_lines(&text))?,
        }
    }

    #[test]
    fn list_commands_are_their_items_joined_by_spaces(
        items in prop::collection::vec(any_command_text(), 1..6),
    ) {
        let list: Vec<String> = items.iter().map(|item| format!("      - {}\n", yaml_string(item))).collect();
        let text = format!(
            "build:\n  docker:\n    web: Dockerfile\nrun:\n  web:\n    command:\n{}",
            list.concat()
        );
        let manifest = parse_heroku_yml(&text, |_| true).unwrap();
        let command = manifest.processes[&ProcessType::web()].command.clone().unwrap();
        let joined = items.join(" ");
        prop_assert_eq!(command.line(), joined.as_str());
        prop_assert_eq!(command.argv(), vec!["/bin/sh".to_string(), "-c".to_string(), joined.clone()]);
        prop_assert_eq!(Command::from_items(&items).unwrap(), command);
    }

    #[test]
    fn string_commands_are_taken_as_is(command in any_command_text()) {
        let text = format!(
            "build:\n  docker:\n    web: Dockerfile\nrelease:\n  command: {}\n",
            yaml_string(&command)
        );
        let manifest = parse_heroku_yml(&text, |_| true).unwrap();
        let release = manifest.release.unwrap();
        prop_assert_eq!(release.command.line(), command.as_str());
    }

    #[test]
    fn images_resolve_by_the_documented_rules(
        builds in prop::collection::btree_set(
            prop_oneof![Just("web".to_string()), Just("worker".to_string()), "[a-z]{1,6}"],
            1..5,
        ),
        runs in prop::collection::btree_map(
            prop_oneof![Just("web".to_string()), Just("clock".to_string()), "[a-z]{1,6}"],
            (prop::option::of(procfile_command()), prop::option::of(0usize..8)),
            0..5,
        ),
    ) {
        let runs: BTreeMap<String, _> =
            runs.into_iter().filter(|(name, _)| name != "release").collect();
        let build_names: Vec<&String> = builds.iter().collect();
        let mut text = String::from("build:\n  docker:\n");
        for name in &builds {
            text.push_str(&format!("    {name}: {name}/Dockerfile\n"));
        }
        // What the rules say each process runs.
        let mut expected: BTreeMap<String, (String, Option<String>)> = builds
            .iter()
            .filter(|name| name.as_str() != "release")
            .map(|name| (name.clone(), (name.clone(), None)))
            .collect();
        let mut unresolved = BTreeSet::new();
        if !runs.is_empty() {
            text.push_str("run:\n");
        }
        for (name, (command, image)) in &runs {
            let image = image.map(|index| build_names[index % build_names.len()].clone());
            let mut body = String::new();
            if let Some(command) = command {
                body.push_str(&format!("    command: {}\n", yaml_string(command)));
            }
            if let Some(image) = &image {
                body.push_str(&format!("    image: {image}\n"));
            }
            if body.is_empty() {
                // Neither command nor image: the image's CMD, in the default image.
                text.push_str(&format!("  {name}: {{}}\n"));
            } else {
                text.push_str(&format!("  {name}:\n{body}"));
            }
            let resolved = image.or_else(|| {
                [name.as_str(), "web"]
                    .into_iter()
                    .find(|candidate| builds.contains(*candidate))
                    .map(str::to_string)
            });
            match resolved {
                Some(build) => {
                    expected.insert(name.clone(), (build, command.clone()));
                }
                None => {
                    unresolved.insert(name.clone());
                }
            }
        }
        let files: BTreeSet<String> = builds.iter().map(|name| format!("{name}/Dockerfile")).collect();
        let result = parse_heroku_yml(&text, |path| files.contains(path));
        if unresolved.is_empty() {
            let manifest = result.unwrap();
            let actual: BTreeMap<String, (String, Option<String>)> = manifest
                .processes
                .iter()
                .map(|(name, spec)| {
                    let command = spec.command.as_ref().map(|command| command.line().to_string());
                    (name.to_string(), (spec.build.clone(), command))
                })
                .collect();
            prop_assert_eq!(actual, expected, "{}", text);
        } else {
            let error = result.unwrap_err();
            prop_assert!(error.message.contains("has no image"), "{}", error);
        }
    }
}
