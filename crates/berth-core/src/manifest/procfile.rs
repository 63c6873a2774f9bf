//! The Dockerfile (+ Procfile) case: every process builds from the root `Dockerfile`.

use std::collections::BTreeMap;

use super::{
    BuildSpec, Command, Manifest, ManifestError, ManifestSource, ProcessOptions, ProcessSpec,
    ProcessType, ReleaseSpec, Setup, DEFAULT_BUILD, PROCFILE, ROOT_DOCKERFILE,
};

/// The manifest of a commit without heroku.yml: its root `Dockerfile` built once (build key
/// [`DEFAULT_BUILD`], repository root as context) and `text`, the root `Procfile` if the
/// commit has one.
///
/// A Procfile has one `type: command` line per process type; blank lines and lines starting
/// with `#` are ignored, and a `release:` line is the release command rather than a process.
/// Without a Procfile, or with one that declares no process type, `web` runs the image's
/// `CMD`. Errors name the `Procfile`, the line, and the column.
pub fn parse_procfile(text: Option<&str>) -> Result<Manifest, ManifestError> {
    let mut manifest = Manifest {
        builds: BTreeMap::from([(DEFAULT_BUILD.to_string(), BuildSpec::root_dockerfile())]),
        build_args: BTreeMap::new(),
        processes: BTreeMap::new(),
        release: None,
        setup: Setup::default(),
        source: ManifestSource::DockerfileOnly,
        pulls: BTreeMap::new(),
        addons: BTreeMap::new(),
        files: vec![ROOT_DOCKERFILE.to_string()],
        warnings: Vec::new(),
    };
    if let Some(text) = text {
        manifest.source = ManifestSource::DockerfileAndProcfile;
        manifest.files.push(PROCFILE.to_string());
        let lines = read_lines(text)?;
        for line in lines.processes {
            manifest.processes.insert(
                line.name,
                ProcessSpec {
                    build: DEFAULT_BUILD.to_string(),
                    command: Some(line.command),
                    healthcheck: None,
                    options: ProcessOptions::default(),
                },
            );
        }
        manifest.release = lines.release.map(|command| ReleaseSpec {
            build: DEFAULT_BUILD.to_string(),
            command,
        });
    }
    if manifest.processes.is_empty() {
        manifest.processes.insert(
            ProcessType::web(),
            ProcessSpec {
                build: DEFAULT_BUILD.to_string(),
                command: None,
                healthcheck: None,
                options: ProcessOptions::default(),
            },
        );
    }
    Ok(manifest)
}

struct ProcessLine {
    name: ProcessType,
    command: Command,
}

struct Lines {
    processes: Vec<ProcessLine>,
    release: Option<Command>,
}

fn read_lines(text: &str) -> Result<Lines, ManifestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut processes: Vec<ProcessLine> = Vec::new();
    let mut first_seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut release = None;
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        let error = |column: usize, message: String| {
            Err(ManifestError::new(PROCFILE, number, column, message))
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.chars().count() - content.chars().count();
        let Some((raw_name, rest)) = content.split_once(':') else {
            return error(indent + 1, expected_line(content));
        };
        let name = raw_name.trim_end();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return error(indent + 1, expected_line(content));
        }
        let after_colon = indent + raw_name.chars().count() + 2;
        let Some(command) = Command::new(rest.trim()) else {
            return error(
                after_colon,
                format!("empty command for {name:?}: expected a command after the colon"),
            );
        };
        if let Some(first) = first_seen.get(name) {
            let what = if name == ProcessType::RELEASE {
                "release command".to_string()
            } else {
                format!("process type {name:?}")
            };
            return error(
                indent + 1,
                format!("duplicate {what}: already defined on line {first}"),
            );
        }
        first_seen.insert(name.to_string(), number);
        if name == ProcessType::RELEASE {
            release = Some(command);
            continue;
        }
        match ProcessType::parse(name) {
            Ok(name) => processes.push(ProcessLine { name, command }),
            Err(invalid) => return error(indent + 1, invalid.to_string()),
        }
    }
    Ok(Lines { processes, release })
}

fn expected_line(found: &str) -> String {
    const SHOWN: usize = 40;
    let shown: String = found.chars().take(SHOWN).collect();
    let ellipsis = if found.chars().count() > SHOWN {
        "…"
    } else {
        ""
    };
    format!("expected a line \"<process type>: <command>\", found {shown:?}{ellipsis}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(manifest: &Manifest, name: &str) -> Option<String> {
        let spec = manifest.processes.get(&ProcessType::parse(name).unwrap())?;
        assert_eq!(spec.build, "web");
        Some(spec.command.as_ref()?.line().to_string())
    }

    fn error(text: &str) -> String {
        parse_procfile(Some(text)).unwrap_err().to_string()
    }

    #[test]
    fn without_a_procfile_web_runs_the_image_cmd() {
        let manifest = parse_procfile(None).unwrap();
        assert_eq!(manifest.source, ManifestSource::DockerfileOnly);
        assert_eq!(manifest.files, ["Dockerfile"]);
        assert_eq!(manifest.builds.len(), 1);
        assert_eq!(manifest.builds["web"], BuildSpec::root_dockerfile());
        assert_eq!(manifest.builds["web"].dockerfile, "Dockerfile");
        assert_eq!(manifest.builds["web"].context, "");
        assert_eq!(manifest.processes.len(), 1);
        assert_eq!(manifest.processes[&ProcessType::web()].command, None);
        assert_eq!(manifest.release, None);
        assert!(manifest.build_args.is_empty());
        assert_eq!(manifest.setup, Setup::default());
    }

    #[test]
    fn reads_process_lines_comments_and_blank_lines() {
        let text =
            "# processes\n\nweb: bundle exec puma -C config/puma.rb\r\n  worker:python w.py  \n\
                    \t# indented comment\nclock-2: ./clock --every 5m # not a comment\n";
        let manifest = parse_procfile(Some(text)).unwrap();
        assert_eq!(manifest.source, ManifestSource::DockerfileAndProcfile);
        assert_eq!(manifest.files, ["Dockerfile", "Procfile"]);
        assert_eq!(manifest.processes.len(), 3);
        assert_eq!(
            process(&manifest, "web").unwrap(),
            "bundle exec puma -C config/puma.rb"
        );
        assert_eq!(process(&manifest, "worker").unwrap(), "python w.py");
        assert_eq!(
            process(&manifest, "clock-2").unwrap(),
            "./clock --every 5m # not a comment"
        );
        assert_eq!(manifest.release, None);
    }

    #[test]
    fn colons_after_the_first_belong_to_the_command() {
        let manifest = parse_procfile(Some("web: serve --bind 0.0.0.0:$PORT")).unwrap();
        assert_eq!(
            process(&manifest, "web").unwrap(),
            "serve --bind 0.0.0.0:$PORT"
        );
    }

    #[test]
    fn release_line_is_the_release_command_not_a_process() {
        let manifest =
            parse_procfile(Some("release: ./manage.py migrate\nweb: gunicorn app\n")).unwrap();
        let release = manifest.release.unwrap();
        assert_eq!(release.build, "web");
        assert_eq!(release.command.line(), "./manage.py migrate");
        assert_eq!(
            release.command.argv(),
            ["/bin/sh", "-c", "./manage.py migrate"]
        );
        assert_eq!(manifest.processes.len(), 1);
        assert!(manifest.processes.contains_key(&ProcessType::web()));
    }

    #[test]
    fn a_procfile_without_processes_runs_web_from_cmd() {
        for text in ["", "\n# nothing\n", "release: ./migrate"] {
            let manifest = parse_procfile(Some(text)).unwrap();
            assert_eq!(manifest.source, ManifestSource::DockerfileAndProcfile);
            assert_eq!(manifest.processes.len(), 1, "{text:?}");
            assert_eq!(manifest.processes[&ProcessType::web()].command, None);
        }
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let manifest = parse_procfile(Some("\u{feff}web: run")).unwrap();
        assert_eq!(process(&manifest, "web").unwrap(), "run");
    }

    #[test]
    fn duplicates_name_both_lines() {
        assert_eq!(
            error("web: a\n\nworker: b\nweb: c\n"),
            "Procfile:4:1: duplicate process type \"web\": already defined on line 1"
        );
        assert_eq!(
            error("release: a\n  release: b\n"),
            "Procfile:2:3: duplicate release command: already defined on line 1"
        );
    }

    #[test]
    fn invalid_process_types_are_refused_where_they_start() {
        assert_eq!(
            error("web: a\n  Web: b\n"),
            "Procfile:2:3: process type \"Web\" has 'W': use only lowercase letters, digits, \
             '_' and '-'"
        );
        assert_eq!(
            error("1web: a"),
            "Procfile:1:1: process type \"1web\" must start with a lowercase letter"
        );
        assert_eq!(
            error(&format!("{}: a", "w".repeat(31))),
            format!(
                "Procfile:1:1: process type \"{}\" is too long: use at most 30 characters",
                "w".repeat(31)
            )
        );
        assert!(error("wörker: a").starts_with("Procfile:1:1: process type \"wörker\" has 'ö'"));
    }

    #[test]
    fn lines_without_a_type_are_refused() {
        assert_eq!(
            error("web: a\nbundle exec puma\n"),
            "Procfile:2:1: expected a line \"<process type>: <command>\", found \
             \"bundle exec puma\""
        );
        assert_eq!(
            error(": a"),
            "Procfile:1:1: expected a line \"<process type>: <command>\", found \": a\""
        );
        assert!(error("echo http://example.com").starts_with("Procfile:1:1: expected a line"));
        let long = format!("{}\n", "x".repeat(100));
        assert!(error(&long).ends_with(&format!("found \"{}\"…", "x".repeat(40))));
    }

    #[test]
    fn empty_commands_are_refused_after_the_colon() {
        assert_eq!(
            error("web:\n"),
            "Procfile:1:5: empty command for \"web\": expected a command after the colon"
        );
        assert_eq!(
            error("web: a\n worker :   \r\n"),
            "Procfile:2:10: empty command for \"worker\": expected a command after the colon"
        );
        assert_eq!(
            error("release:"),
            "Procfile:1:9: empty command for \"release\": expected a command after the colon"
        );
    }
}
