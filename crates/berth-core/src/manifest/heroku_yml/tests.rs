use super::*;
use crate::limits::Limits;

const FILES: [&str; 5] = [
    "Dockerfile",
    "worker/Dockerfile",
    "app/Dockerfile",
    "Dockerfile.release",
    "docker/web/Dockerfile",
];

fn exists(path: &str) -> bool {
    FILES.contains(&path)
}

fn parse(text: &str) -> Manifest {
    match parse_heroku_yml(text, exists) {
        Ok(manifest) => manifest,
        Err(error) => panic!("{error}\n--- in ---\n{text}"),
    }
}

fn error(text: &str) -> String {
    match parse_heroku_yml(text, exists) {
        Ok(manifest) => panic!("expected an error, got {manifest:#?}\n--- in ---\n{text}"),
        Err(error) => error.to_string(),
    }
}

fn pt(name: &str) -> ProcessType {
    ProcessType::parse(name).unwrap()
}

fn command_of(manifest: &Manifest, process: &str) -> Option<String> {
    let spec = &manifest.processes[&pt(process)];
    spec.command
        .as_ref()
        .map(|command| command.line().to_string())
}

fn build_of(manifest: &Manifest, process: &str) -> String {
    manifest.processes[&pt(process)].build.clone()
}

const HEROKU_EXAMPLE: &str = "\
setup:
  addons:
    - plan: heroku-postgresql
      as: DATABASE
  config:
    S3_BUCKET: my-bucket
build:
  docker:
    web: Dockerfile
    worker:
      dockerfile: worker/Dockerfile
      target: prod          # optional multi-stage target
      context: worker
  config:
    RAILS_ENV: development
release:
  command:
    - ./deployment-tasks.sh
  image: worker
run:
  web: bundle exec puma -C config/puma.rb
  worker:
    command:
      - python myworker.py
    image: worker
";

#[test]
fn reads_herokus_example() {
    let manifest = parse(HEROKU_EXAMPLE);
    assert_eq!(manifest.source, ManifestSource::HerokuYml);
    assert_eq!(manifest.files, ["heroku.yml"]);
    assert!(manifest.warnings.is_empty() && manifest.pulls.is_empty());
    assert_eq!(
        manifest.builds,
        BTreeMap::from([
            ("web".to_string(), BuildSpec::root_dockerfile()),
            (
                "worker".to_string(),
                BuildSpec {
                    dockerfile: "worker/Dockerfile".into(),
                    context: "worker".into(),
                    target: Some("prod".into()),
                    args: BTreeMap::new(),
                }
            ),
        ])
    );
    assert_eq!(
        manifest.build_args,
        BTreeMap::from([("RAILS_ENV".to_string(), "development".to_string())])
    );
    assert_eq!(manifest.processes.len(), 2);
    assert_eq!(
        command_of(&manifest, "web").unwrap(),
        "bundle exec puma -C config/puma.rb"
    );
    assert_eq!(build_of(&manifest, "web"), "web");
    assert_eq!(
        command_of(&manifest, "worker").unwrap(),
        "python myworker.py"
    );
    assert_eq!(build_of(&manifest, "worker"), "worker");
    let release = manifest.release.as_ref().unwrap();
    assert_eq!(release.build, "worker");
    assert_eq!(release.command.line(), "./deployment-tasks.sh");
    assert_eq!(
        release.command.argv(),
        ["/bin/sh", "-c", "./deployment-tasks.sh"]
    );
    assert_eq!(
        manifest.setup,
        Setup {
            addons: vec![AddonRequest {
                plan: "heroku-postgresql".into(),
                as_name: Some("DATABASE".into()),
            }],
            config: BTreeMap::from([("S3_BUCKET".to_string(), "my-bucket".to_string())]),
        }
    );
    assert_eq!(
        manifest.build_for(&pt("worker")).unwrap().dockerfile,
        "worker/Dockerfile"
    );
}

#[test]
fn without_run_every_build_runs_its_cmd() {
    let manifest = parse("build:\n  docker:\n    web: Dockerfile\n    worker: worker/Dockerfile\n");
    assert_eq!(manifest.processes.len(), 2);
    for name in ["web", "worker"] {
        assert_eq!(command_of(&manifest, name), None);
        assert_eq!(build_of(&manifest, name), name);
    }
    assert_eq!(manifest.release, None);
    assert_eq!(manifest.setup, Setup::default());
    assert!(manifest.build_args.is_empty());
}

#[test]
fn a_build_without_run_entry_keeps_its_cmd_next_to_run_entries() {
    let manifest = parse(
        "build:\n  docker:\n    web: Dockerfile\n    worker: worker/Dockerfile\nrun:\n  web: ./serve\n",
    );
    assert_eq!(command_of(&manifest, "web").unwrap(), "./serve");
    assert_eq!(command_of(&manifest, "worker"), None);
}

#[test]
fn string_commands_are_taken_as_is() {
    let manifest = parse(
        "build:\n  docker:\n    web: Dockerfile\nrun:\n  web: \"  exec ./serve --port $PORT  \"\n  \
         script: |\n    set -e\n    ./a\n",
    );
    assert_eq!(
        command_of(&manifest, "web").unwrap(),
        "  exec ./serve --port $PORT  "
    );
    assert_eq!(command_of(&manifest, "script").unwrap(), "set -e\n./a\n");
}

#[test]
fn list_commands_join_their_items_with_single_spaces() {
    let manifest = parse(
        "build:\n  docker:\n    web: Dockerfile\nrelease:\n  command:\n    - ./manage.py migrate &&\n    \
         - ./manage.py check\nrun:\n  web:\n    command: [gunicorn, 'app:app', --bind, '0.0.0.0:$PORT']\n",
    );
    let release = manifest.release.clone().unwrap();
    assert_eq!(release.build, "web");
    assert_eq!(
        release.command.line(),
        "./manage.py migrate && ./manage.py check"
    );
    assert_eq!(
        release.command.argv(),
        ["/bin/sh", "-c", "./manage.py migrate && ./manage.py check"]
    );
    assert_eq!(
        command_of(&manifest, "web").unwrap(),
        "gunicorn app:app --bind 0.0.0.0:$PORT"
    );
}

#[test]
fn run_without_image_uses_its_own_build_then_webs() {
    let manifest = parse(
        "build:\n  docker:\n    web: Dockerfile\n    worker: worker/Dockerfile\nrun:\n  \
         worker: ./work\n  clock: ./tick\n  urgent:\n    command: ./urgent\n",
    );
    assert_eq!(build_of(&manifest, "worker"), "worker");
    assert_eq!(build_of(&manifest, "clock"), "web");
    assert_eq!(build_of(&manifest, "urgent"), "web");
    assert_eq!(command_of(&manifest, "clock").unwrap(), "./tick");
    assert_eq!(manifest.processes.len(), 4);
}

#[test]
fn run_with_image_but_no_command_runs_that_images_cmd() {
    let manifest = parse(
        "build:\n  docker:\n    web: Dockerfile\n    worker: worker/Dockerfile\nrun:\n  \
         other:\n    image: worker\n",
    );
    assert_eq!(build_of(&manifest, "other"), "worker");
    assert_eq!(command_of(&manifest, "other"), None);
}

#[test]
fn run_without_image_and_without_web_is_refused() {
    assert_eq!(
        error(
            "build:\n  docker:\n    worker: worker/Dockerfile\n    app: app/Dockerfile\nrun:\n  \
             clock: ./tick\n"
        ),
        "heroku.yml:6:3: run.clock has no image and build.docker has neither \"clock\" nor \
         \"web\": add image: with one of \"app\" or \"worker\""
    );
}

#[test]
fn image_naming_an_unknown_build_is_refused_with_the_known_keys() {
    assert_eq!(
        error(
            "build:\n  docker:\n    web: Dockerfile\n    worker: worker/Dockerfile\nrun:\n  \
             clock:\n    command: ./tick\n    image: clock\n"
        ),
        "heroku.yml:8:12: image \"clock\" is not built: expected one of the build.docker keys \
         \"web\" or \"worker\""
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\nrelease:\n  command: ./m\n  image: wrker\n"),
        "heroku.yml:6:10: image \"wrker\" is not built: expected one of the build.docker keys \
         \"web\""
    );
}

#[test]
fn release_defaults_to_web_then_the_only_image() {
    let manifest = parse(
        "build:\n  docker:\n    worker: worker/Dockerfile\n    web: Dockerfile\nrelease:\n  \
         command: ./migrate\n",
    );
    assert_eq!(manifest.release.unwrap().build, "web");
    let manifest =
        parse("build:\n  docker:\n    worker: worker/Dockerfile\nrelease:\n  command: ./migrate\n");
    assert_eq!(manifest.release.unwrap().build, "worker");
    assert_eq!(
        error(
            "build:\n  docker:\n    worker: worker/Dockerfile\n    app: app/Dockerfile\n\
             release:\n  command: ./migrate\n"
        ),
        "heroku.yml:5:1: release has no image and build.docker has no \"web\": add image: with \
         one of \"app\" or \"worker\""
    );
}

#[test]
fn release_needs_a_command() {
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\nrelease:\n  image: web\n"),
        "heroku.yml:4:1: missing key \"command\" in release: expected the release command"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\nrelease: ./migrate\n"),
        "heroku.yml:4:10: expected a mapping with command and image for release, found a string"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\nrelease:\n"),
        "heroku.yml:4:1: expected a mapping with command and image for release, found nothing"
    );
}

#[test]
fn a_release_build_key_is_an_image_not_a_process() {
    let manifest = parse(
        "build:\n  docker:\n    web: Dockerfile\n    release: Dockerfile.release\nrelease:\n  \
         image: release\n  command: ./migrate\n",
    );
    assert_eq!(manifest.builds.len(), 2);
    assert_eq!(manifest.processes.keys().collect::<Vec<_>>(), [&pt("web")]);
    assert_eq!(manifest.release.as_ref().unwrap().build, "release");
    assert_eq!(
        manifest.release_build().unwrap().dockerfile,
        "Dockerfile.release"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\nrun:\n  release: ./migrate\n"),
        "heroku.yml:5:3: \"release\" is not a process type: put the release command under the \
         top-level release key"
    );
}

#[test]
fn unknown_top_level_keys_are_refused() {
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\ndeploy:\n  x: 1\n"),
        "heroku.yml:4:1: unknown top-level key \"deploy\": expected setup, build, release or run"
    );
}

#[test]
fn unknown_keys_inside_sections_are_refused() {
    let base = "build:\n  docker:\n    web: Dockerfile\n";
    assert_eq!(
        error("build:\n  languages:\n    - ruby\n  docker:\n    web: Dockerfile\n"),
        "heroku.yml:2:3: unknown key \"languages\" in build: expected docker or config"
    );
    assert_eq!(
        error("build:\n  docker:\n    web:\n      dockerfile: Dockerfile\n      args: x\n"),
        "heroku.yml:5:7: unknown key \"args\" in build.docker.web: expected dockerfile, target \
         or context"
    );
    assert_eq!(
        error(&format!("{base}release:\n  command: x\n  run: y\n")),
        "heroku.yml:6:3: unknown key \"run\" in release: expected command or image"
    );
    assert_eq!(
        error(&format!("{base}run:\n  web:\n    cmd: x\n")),
        "heroku.yml:6:5: unknown key \"cmd\" in run.web: expected command, image, healthcheck or limits"
    );
    assert_eq!(
        error(&format!("setup:\n  addon:\n    - x\n{base}")),
        "heroku.yml:2:3: unknown key \"addon\" in setup: expected addons or config"
    );
    assert_eq!(
        error(&format!(
            "setup:\n  addons:\n    - plan: x\n      name: y\n{base}"
        )),
        "heroku.yml:4:7: unknown key \"name\" in setup.addons[0]: expected plan or as"
    );
}

#[test]
fn process_types_follow_the_rule() {
    assert_eq!(
        error("build:\n  docker:\n    Web: Dockerfile\n"),
        "heroku.yml:3:5: process type \"Web\" has 'W': use only lowercase letters, digits, '_' \
         and '-' (in build.docker.Web)"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\nrun:\n  2nd: x\n"),
        "heroku.yml:5:3: process type \"2nd\" must start with a lowercase letter (in run.2nd)"
    );
    assert!(error("build:\n  docker:\n    web worker: Dockerfile\n")
        .starts_with("heroku.yml:3:5: process type \"web worker\" has ' '"));
}

#[test]
fn build_and_docker_are_required() {
    assert_eq!(
        error("run:\n  web: ./serve\n"),
        "heroku.yml:1:1: missing key \"build\": expected build.docker to name the Dockerfile of \
         each process type"
    );
    assert_eq!(
        error("run:\n  web: ./serve\nbuild:\n  config:\n    A: b\n"),
        "heroku.yml:3:1: missing key \"docker\" in build: expected build.docker to name the \
         Dockerfile of each process type"
    );
    assert_eq!(
        error("build:\n"),
        "heroku.yml:1:1: expected a mapping with docker and config for build, found nothing"
    );
    assert_eq!(
        error("build: Dockerfile\n"),
        "heroku.yml:1:8: expected a mapping with docker and config for build, found a string"
    );
}

#[test]
fn build_docker_may_not_be_empty() {
    let expected =
        "heroku.yml:2:3: build.docker is empty: expected at least one process type and its \
         Dockerfile";
    assert_eq!(error("build:\n  docker:\n"), expected);
    assert_eq!(error("build:\n  docker: {}\n"), expected);
    assert_eq!(
        error("build:\n  docker: [Dockerfile]\n"),
        "heroku.yml:2:11: expected a mapping of process types to Dockerfiles for build.docker, \
         found a list"
    );
}

#[test]
fn dockerfiles_must_exist_in_the_commit() {
    assert_eq!(
        error("build:\n  docker:\n    web: web.Dockerfile\n"),
        "heroku.yml:3:10: Dockerfile \"web.Dockerfile\" does not exist in this commit"
    );
    assert_eq!(
        error("build:\n  docker:\n    worker:\n      dockerfile: worker/Dockerfile.prod\n"),
        "heroku.yml:4:19: Dockerfile \"worker/Dockerfile.prod\" does not exist in this commit"
    );
    assert_eq!(
        error("build:\n  docker:\n    worker:\n      context: worker\n"),
        "heroku.yml:3:5: missing key \"dockerfile\" in build.docker.worker: expected the path \
         of its Dockerfile"
    );
}

#[test]
fn paths_are_normalised_from_the_repository_root() {
    let manifest = parse(
        "build:\n  docker:\n    web: ./docker//web/./Dockerfile\n    worker:\n      \
         dockerfile: ./worker/Dockerfile\n      context: ./worker/\n    app:\n      \
         dockerfile: app/../app/Dockerfile\n      context: .\n",
    );
    assert_eq!(manifest.builds["web"].dockerfile, "docker/web/Dockerfile");
    assert_eq!(manifest.builds["web"].context, "");
    assert_eq!(manifest.builds["worker"].dockerfile, "worker/Dockerfile");
    assert_eq!(manifest.builds["worker"].context, "worker");
    assert_eq!(manifest.builds["app"].dockerfile, "app/Dockerfile");
    assert_eq!(manifest.builds["app"].context, "");
}

#[test]
fn paths_may_not_leave_the_repository() {
    assert_eq!(
        error("build:\n  docker:\n    web: ../Dockerfile\n"),
        "heroku.yml:3:10: path \"../Dockerfile\" leads out of the repository: expected a path \
         inside it"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: /etc/Dockerfile\n"),
        "heroku.yml:3:10: path \"/etc/Dockerfile\" is absolute: expected a path relative to the \
         repository root"
    );
    assert_eq!(
        error("build:\n  docker:\n    web:\n      dockerfile: Dockerfile\n      context: ../..\n"),
        "heroku.yml:5:16: path \"../..\" leads out of the repository: expected a path inside it"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: ./\n"),
        "heroku.yml:3:10: path \"./\" is the repository root: expected the path of a Dockerfile"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: ''\n"),
        "heroku.yml:3:10: empty path: expected a path relative to the repository root"
    );
}

#[test]
fn targets_may_not_be_empty() {
    assert_eq!(
        error("build:\n  docker:\n    web:\n      dockerfile: Dockerfile\n      target: ''\n"),
        "heroku.yml:5:15: empty value for build.docker.web.target: expected the name of a build \
         stage"
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    let base = "build:\n  docker:\n    web: Dockerfile\n";
    assert_eq!(
        error(&format!("{base}run:\n  web: 42\n")),
        "heroku.yml:5:8: expected a command or a mapping with command and image for run.web, \
         found an integer"
    );
    assert_eq!(
        error(&format!("{base}run:\n  web: [a, b]\n")),
        "heroku.yml:5:8: expected a command or a mapping with command and image for run.web, \
         found a list"
    );
    assert_eq!(
        error(&format!("{base}run:\n  web:\n    command: true\n")),
        "heroku.yml:6:14: expected a command (a string or a list of strings) in \
         run.web.command, found a boolean"
    );
    assert_eq!(
        error(&format!(
            "{base}release:\n  command:\n    - ./a\n    - 3.5\n"
        )),
        "heroku.yml:7:7: expected a string as item 1 of the command list in release.command, \
         found a number"
    );
    assert_eq!(
        error(&format!("{base}release:\n  command:\n    - [a]\n")),
        "heroku.yml:6:7: expected a string as item 0 of the command list in release.command, \
         found a list"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: 7\n"),
        "heroku.yml:3:10: Dockerfile \"7\" does not exist in this commit"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: [Dockerfile]\n"),
        "heroku.yml:3:10: expected a Dockerfile path or a mapping with dockerfile, target and \
         context for build.docker.web, found a list"
    );
    assert_eq!(
        error("- build\n- run\n"),
        "heroku.yml:1:1: expected a mapping with the keys setup, build, release and run, found a \
         list"
    );
    assert_eq!(
        error("just text\n"),
        "heroku.yml:1:1: expected a mapping with the keys setup, build, release and run, found a \
         string"
    );
    assert_eq!(
        error(&format!("{base}run: ./serve\n")),
        "heroku.yml:4:6: expected a mapping of process types to commands for run, found a string"
    );
    assert_eq!(
        error(&format!("{base}run:\n  web:\n")),
        "heroku.yml:5:3: expected a command or a mapping with command and image for run.web, \
         found nothing"
    );
}

#[test]
fn quoted_or_tagged_numbers_are_commands() {
    let manifest =
        parse("build:\n  docker:\n    web: Dockerfile\nrun:\n  web: '42'\n  two: !!str 42\n");
    assert_eq!(command_of(&manifest, "web").unwrap(), "42");
    assert_eq!(command_of(&manifest, "two").unwrap(), "42");
}

#[test]
fn empty_commands_are_refused() {
    let base = "build:\n  docker:\n    web: Dockerfile\n";
    assert_eq!(
        error(&format!("{base}run:\n  web: ''\n")),
        "heroku.yml:5:8: empty command in run.web: expected a shell command line"
    );
    assert_eq!(
        error(&format!("{base}run:\n  web:\n    command: []\n")),
        "heroku.yml:6:14: empty command in run.web.command: expected a shell command line"
    );
    assert_eq!(
        error(&format!("{base}release:\n  command:\n")),
        "heroku.yml:5:3: expected a command (a string or a list of strings) in release.command, \
         found nothing"
    );
    assert_eq!(
        error(&format!(
            "{base}release:\n  command:\n    - ./a\n    - '  '\n"
        )),
        "heroku.yml:7:7: empty item 1 in the command list in release.command: expected part of \
         a shell command line"
    );
}

#[test]
fn yaml_syntax_errors_carry_the_parsers_position() {
    let message = error("build:\n  docker:\n    web: Dockerfile\n  run: [a\n");
    assert!(message.starts_with("heroku.yml:"), "{message}");
    assert!(message.contains("invalid YAML: "), "{message}");
    assert_eq!(
        error("build:\n  docker: \"Dockerfile\n"),
        "heroku.yml:2:11: invalid YAML: while scanning a quoted scalar, found unexpected end of \
         stream"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\n   bad: indentation\n"),
        "heroku.yml:4:4: invalid YAML: while parsing a block mapping, did not find expected key"
    );
}

#[test]
fn duplicate_keys_are_refused() {
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\n    web: Dockerfile\n"),
        "heroku.yml:4:5: invalid YAML: duplicated key in mapping"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\n    'web': Dockerfile\n"),
        "heroku.yml:4:5: duplicate key \"web\" in build.docker"
    );
}

#[test]
fn empty_and_multi_document_files_are_refused() {
    let empty = "heroku.yml:1:1: heroku.yml is empty: expected a mapping with build (and \
                 optionally setup, release and run)";
    assert_eq!(error(""), empty);
    assert_eq!(error("# nothing yet\n\n"), empty);
    assert_eq!(error("---\n...\n"), empty);
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\n---\nrun:\n  web: x\n"),
        "heroku.yml:5:1: expected one YAML document, found a second one"
    );
    // A leading marker or a trailing empty document is fine.
    let manifest = parse("---\nbuild:\n  docker:\n    web: Dockerfile\n---\n");
    assert_eq!(manifest.processes.len(), 1);
}

#[test]
fn config_values_are_kept_as_written() {
    let manifest = parse(
        "setup:\n  config:\n    VERSION: 1.10\n    DEBUG: true\n    WORKERS: 04\n    EMPTY: ''\n\
         build:\n  docker:\n    web: Dockerfile\n  config:\n    NODE_ENV: production\n    \
         JOBS: 2\n",
    );
    assert_eq!(
        manifest.setup.config,
        BTreeMap::from([
            ("VERSION".to_string(), "1.10".to_string()),
            ("DEBUG".to_string(), "true".to_string()),
            ("WORKERS".to_string(), "04".to_string()),
            ("EMPTY".to_string(), String::new()),
        ])
    );
    assert_eq!(
        manifest.build_args,
        BTreeMap::from([
            ("NODE_ENV".to_string(), "production".to_string()),
            ("JOBS".to_string(), "2".to_string()),
        ])
    );
}

#[test]
fn config_values_and_names_are_checked() {
    let base = "build:\n  docker:\n    web: Dockerfile\n";
    assert_eq!(
        error(&format!("{base}  config:\n    RAILS_ENV:\n")),
        "heroku.yml:5:5: RAILS_ENV in build.config has no value: write RAILS_ENV: \"\" for an \
         empty one"
    );
    assert_eq!(
        error(&format!("{base}  config:\n    'A=B': c\n")),
        "heroku.yml:5:5: invalid variable name \"A=B\" in build.config: expected a name without \
         '=', spaces or NUL, e.g. RAILS_ENV"
    );
    assert_eq!(
        error(&format!("setup:\n  config:\n    LIST: [a]\n{base}")),
        "heroku.yml:3:11: expected a string for setup.config.LIST, found a list"
    );
    assert_eq!(
        error(&format!("{base}  config: [A]\n")),
        "heroku.yml:4:11: expected a mapping of variable names to values for build.config, \
         found a list"
    );
}

#[test]
fn addons_may_be_plans_or_mappings() {
    let manifest = parse(
        "setup:\n  addons:\n    - heroku-redis:mini\n    - plan: heroku-postgresql\n\
         build:\n  docker:\n    web: Dockerfile\n",
    );
    assert_eq!(
        manifest.setup.addons,
        [
            AddonRequest {
                plan: "heroku-redis:mini".into(),
                as_name: None
            },
            AddonRequest {
                plan: "heroku-postgresql".into(),
                as_name: None
            },
        ]
    );
    assert_eq!(
        error("setup:\n  addons:\n    - as: DATABASE\nbuild:\n  docker:\n    web: Dockerfile\n"),
        "heroku.yml:3:7: missing key \"plan\" in setup.addons[0]: expected the add-on plan, e.g. \
         heroku-postgresql"
    );
    assert_eq!(
        error("setup:\n  addons: heroku-postgresql\nbuild:\n  docker:\n    web: Dockerfile\n"),
        "heroku.yml:2:11: expected a list of add-ons for setup.addons, found a string"
    );
    assert_eq!(
        error("setup:\n  addons:\n    - plan: ''\nbuild:\n  docker:\n    web: Dockerfile\n"),
        "heroku.yml:3:13: empty value for setup.addons[0].plan: expected an add-on plan, e.g. \
         heroku-postgresql"
    );
}

#[test]
fn empty_optional_sections_are_empty() {
    let manifest = parse(
        "setup:\n  addons:\n  config:\nbuild:\n  docker:\n    web: Dockerfile\n  config:\nrun:\n",
    );
    assert_eq!(manifest.setup, Setup::default());
    assert!(manifest.build_args.is_empty());
    assert_eq!(manifest.processes.len(), 1);
    let manifest = parse("setup:\nbuild:\n  docker:\n    web: Dockerfile\n");
    assert_eq!(manifest.setup, Setup::default());
}

#[test]
fn anchors_and_aliases_are_followed() {
    let manifest = parse(
        "build:\n  docker:\n    web: Dockerfile\nrun:\n  web: &serve ./serve --fast\n  \
         web2: *serve\n",
    );
    assert_eq!(command_of(&manifest, "web2").unwrap(), "./serve --fast");
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..12 {
        let previous = level - 1;
        text.push_str(&format!(
            "a{level}: &a{level} [*a{previous}, *a{previous}, *a{previous}, *a{previous}, \
             *a{previous}, *a{previous}, *a{previous}, *a{previous}, *a{previous}]\n"
        ));
    }
    let message = error(&text);
    assert!(
        message.contains("invalid YAML: alias expansion exceeded"),
        "{message}"
    );
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let text = "[".repeat(200_000);
    let message = error(&text);
    assert!(message.starts_with("heroku.yml:1:"), "{message}");
    let text = "- ".repeat(100_000) + "x\n";
    assert_eq!(
        error(&text),
        "heroku.yml:1:65: YAML nested more than 32 levels deep: expected a heroku.yml"
    );
}

#[test]
fn positions_count_characters_and_all_line_breaks() {
    assert_eq!(
        error("# ünïcödé\r\nbuild:\r\n  docker:\r\n    wëb: Dockerfile\r\n"),
        "heroku.yml:4:5: process type \"wëb\" has 'ë': use only lowercase letters, digits, '_' \
         and '-' (in build.docker.wëb)"
    );
    assert_eq!(
        error("build:\r  docker:\r    web: x/Dockerfile\r"),
        "heroku.yml:3:10: Dockerfile \"x/Dockerfile\" does not exist in this commit"
    );
    assert_eq!(
        error("build: {docker: {web: \"ü/Dockerfile\"}}"),
        "heroku.yml:1:23: Dockerfile \"ü/Dockerfile\" does not exist in this commit"
    );
}

#[test]
fn flow_style_works_like_block_style() {
    let manifest = parse(
        "{build: {docker: {web: Dockerfile}}, run: {web: {command: [a, '&&', b]}}, release: \
         {command: ./m}}",
    );
    assert_eq!(command_of(&manifest, "web").unwrap(), "a && b");
    assert_eq!(manifest.release.unwrap().command.line(), "./m");
}

#[test]
fn file_exists_is_asked_for_the_normalised_path() {
    let asked = std::cell::RefCell::new(Vec::new());
    parse_heroku_yml(
        "build:\n  docker:\n    web: ./a//Dockerfile\n",
        |path: &str| {
            asked.borrow_mut().push(path.to_string());
            true
        },
    )
    .unwrap();
    assert_eq!(asked.into_inner(), ["a/Dockerfile"]);
}

#[test]
fn a_web_process_may_declare_a_health_check_path() {
    let manifest = parse_heroku_yml(
        "build:\n  docker:\n    web: Dockerfile\nrun:\n  web:\n    command: ./serve\n    healthcheck: /health\n",
        |_| true,
    )
    .unwrap();
    let web = &manifest.processes[&ProcessType::web()];
    assert_eq!(web.healthcheck.as_deref(), Some("/health"));

    let error = parse_heroku_yml(
        "build:\n  docker:\n    web: Dockerfile\nrun:\n  web:\n    command: ./serve\n    healthcheck: health\n",
        |_| true,
    )
    .unwrap_err();
    assert_eq!((error.line, error.column), (7, 18));
    assert!(error.message.contains("a path such as /health"), "{error}");
}

#[test]
fn a_process_may_declare_limits() {
    let manifest = parse(
        "build:\n  docker:\n    web: Dockerfile\nrun:\n  web:\n    command: ./serve\n    limits:\n      memory: 512m\n      cpus: 1.5\n  worker:\n    command: ./work\n    limits: {cpus: 2}\n",
    );
    assert_eq!(
        manifest.processes[&pt("web")].options.limits,
        Limits {
            memory_bytes: Some(512 << 20),
            nano_cpus: Some(1_500_000_000),
        }
    );
    assert_eq!(
        manifest.processes[&pt("worker")].options.limits,
        Limits {
            memory_bytes: None,
            nano_cpus: Some(2_000_000_000),
        }
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\nrun:\n  web:\n    command: ./serve\n    limits:\n      memory: lots\n"),
        "heroku.yml:8:15: memory \"lots\" is not a size: give a number with an optional unit b, k, m or g (e.g. 512m or 1g)"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\nrun:\n  web:\n    command: ./serve\n    limits: {cpus: 0}\n"),
        "heroku.yml:7:20: cpus \"0\" is out of range: give at least 0.01 and at most 1024"
    );
    assert_eq!(
        error("build:\n  docker:\n    web: Dockerfile\nrun:\n  web:\n    command: ./serve\n    limits: {disk: 1g}\n"),
        "heroku.yml:7:14: unknown key \"disk\" in run.web.limits: expected memory or cpus"
    );
}
