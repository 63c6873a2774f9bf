use super::*;

const DOCKERFILES: [&str; 3] = ["Dockerfile", "worker/Dockerfile", "docker/Dockerfile.prod"];

fn exists(path: &str) -> bool {
    DOCKERFILES.contains(&path)
}

fn no_files(_: &str) -> Result<Option<String>, ManifestError> {
    Ok(None)
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse_with(files: &[(&str, &str)], vars: &BTreeMap<String, String>) -> Manifest {
    match parse_compose(files, no_files, exists, vars) {
        Ok(manifest) => manifest,
        Err(error) => panic!("{error}\n--- in ---\n{files:?}"),
    }
}

fn parse(text: &str) -> Manifest {
    parse_with(&[("compose.yaml", text)], &BTreeMap::new())
}

fn error(text: &str) -> String {
    match parse_compose(
        &[("compose.yaml", text)],
        no_files,
        exists,
        &BTreeMap::new(),
    ) {
        Ok(manifest) => panic!("expected an error, got {manifest:#?}\n--- in ---\n{text}"),
        Err(error) => error.to_string(),
    }
}

fn pt(name: &str) -> ProcessType {
    ProcessType::parse(name).unwrap()
}

fn s(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

const REALISTIC: &str = "\
name: shop
services:
  web:
    build:
      context: .
      args:
        RUBY_VERSION: \"3.3\"
    command: bundle exec puma -C config/puma.rb
    environment:
      RAILS_ENV: production
      SECRET: ${SECRET_KEY_BASE}
    ports:
      - \"3000\"
    depends_on:
      db:
        condition: service_healthy
      cache:
        condition: service_started
    healthcheck:
      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:3000/up\"]
      interval: 10s
      timeout: 5s
      retries: 3
      start_period: 1m30s
    deploy:
      replicas: 2
      resources:
        limits:
          memory: 512m
          cpus: \"1.5\"
    volumes:
      - uploads:/app/public/uploads
  worker:
    build: ./worker
    entrypoint: [\"/usr/bin/tini\", \"--\"]
    command: [\"bundle\", \"exec\", \"sidekiq\"]
    environment:
      - RAILS_ENV=production
      - QUEUES
    stop_signal: SIGTERM
    stop_grace_period: 500ms
    depends_on:
      - web
      - db
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: example
    volumes:
      - pgdata:/var/lib/postgresql/data
  cache:
    image: redis:7-alpine
volumes:
  uploads:
  pgdata:
x-berth:
  release: bundle exec rails db:migrate
";

#[test]
fn reads_a_realistic_compose_file() {
    let manifest = parse_with(
        &[("compose.yaml", REALISTIC)],
        &vars(&[("SECRET_KEY_BASE", "s3cret"), ("QUEUES", "default")]),
    );
    let web_options = ProcessOptions {
        args: Some(s(&["bundle", "exec", "puma", "-C", "config/puma.rb"])),
        environment: vars(&[("RAILS_ENV", "production"), ("SECRET", "s3cret")]),
        health: Some(HealthCheck {
            test: s(&["CMD", "curl", "-f", "http://localhost:3000/up"]),
            interval_seconds: Some(10),
            timeout_seconds: Some(5),
            retries: Some(3),
            start_period_seconds: Some(90),
        }),
        port: Some(3000),
        replicas: Some(2),
        volumes: BTreeMap::from([(
            VolumeName::parse("uploads").unwrap(),
            "/app/public/uploads".to_string(),
        )]),
        limits: Limits {
            memory_bytes: Some(512 << 20),
            nano_cpus: Some(1_500_000_000),
        },
        ..ProcessOptions::default()
    };
    let worker_options = ProcessOptions {
        entrypoint: Some(s(&["/usr/bin/tini", "--"])),
        args: Some(s(&["bundle", "exec", "sidekiq"])),
        environment: vars(&[("RAILS_ENV", "production"), ("QUEUES", "default")]),
        stop_signal: Some("SIGTERM".into()),
        stop_grace_seconds: Some(1),
        depends_on: BTreeMap::from([(pt("web"), DependsOn::Started)]),
        ..ProcessOptions::default()
    };
    let expected = Manifest {
        builds: BTreeMap::from([
            (
                "web".to_string(),
                BuildSpec {
                    dockerfile: "Dockerfile".into(),
                    context: "".into(),
                    target: None,
                    args: vars(&[("RUBY_VERSION", "3.3")]),
                },
            ),
            (
                "worker".to_string(),
                BuildSpec {
                    dockerfile: "worker/Dockerfile".into(),
                    context: "worker".into(),
                    target: None,
                    args: BTreeMap::new(),
                },
            ),
        ]),
        build_args: BTreeMap::new(),
        processes: BTreeMap::from([
            (
                pt("web"),
                ProcessSpec {
                    build: "web".into(),
                    command: None,
                    healthcheck: None,
                    options: web_options,
                },
            ),
            (
                pt("worker"),
                ProcessSpec {
                    build: "worker".into(),
                    command: None,
                    healthcheck: None,
                    options: worker_options,
                },
            ),
        ]),
        release: Some(ReleaseSpec {
            build: "web".into(),
            command: Command::new("bundle exec rails db:migrate").unwrap(),
        }),
        setup: Setup::default(),
        source: ManifestSource::Compose,
        pulls: BTreeMap::new(),
        addons: BTreeMap::from([
            ("cache".to_string(), AddonKind::Redis),
            ("db".to_string(), AddonKind::Postgres),
        ]),
        files: s(&["compose.yaml"]),
        warnings: s(&[
            "compose.yaml:1:1: .name is ignored: the app's name is Berth's",
            "compose.yaml:45:3: services.db: environment and volumes are ignored: Berth \
             provisions db as a postgres add-on",
        ]),
    };
    assert_eq!(manifest, expected);
    // The platform stores it as JSON.
    let json = serde_json::to_string(&manifest).unwrap();
    assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), manifest);
}

const BASE: &str = "\
services:
  web:
    build: .
    command: ./serve --port 80
    environment:
      A: base
      B: base
    ports: [\"80\"]
    deploy:
      replicas: 1
  worker:
    build: .
    command: ./work
    env_file: base.env
";

const OVERRIDE: &str = "\
services:
  web:
    command: [\"./serve\", \"--port\", \"8080\"]
    environment:
      - B=override
      - C=override
    deploy:
      replicas: 3
  worker:
    env_file: [override.env]
";

fn env_files(path: &str) -> Result<Option<String>, ManifestError> {
    Ok(match path {
        "base.env" => Some("# base\nX=base\nY=base\n".to_string()),
        "override.env" => Some("Y=override\n".to_string()),
        "quoted.env" => Some(
            "export A='single $NOPE'\nB=\"double ${NAME}\"\nC=plain # comment\n\nD\n".to_string(),
        ),
        "bad.env" => Some("GOOD=1\nnot a line\n".to_string()),
        _ => None,
    })
}

#[test]
fn an_override_merges_over_the_base() {
    let files = [("compose.yaml", BASE), ("compose.berth.yaml", OVERRIDE)];
    let manifest = parse_compose(&files, env_files, exists, &BTreeMap::new()).unwrap();
    assert_eq!(manifest.files, s(&["compose.yaml", "compose.berth.yaml"]));
    let web = &manifest.processes[&pt("web")].options;
    assert_eq!(web.args, Some(s(&["./serve", "--port", "8080"])));
    assert_eq!(
        web.environment,
        vars(&[("A", "base"), ("B", "override"), ("C", "override")])
    );
    assert_eq!(web.replicas, Some(3));
    assert_eq!(web.port, Some(80));
    let worker = &manifest.processes[&pt("worker")].options;
    assert_eq!(worker.args, Some(s(&["./work"])));
    assert_eq!(
        worker.environment,
        vars(&[("X", "base"), ("Y", "override")])
    );
    assert!(manifest.warnings.is_empty(), "{:?}", manifest.warnings);
}

#[test]
fn errors_in_an_override_name_the_override() {
    let files = [
        ("compose.yaml", BASE),
        (
            "compose.berth.yaml",
            "services:\n  web:\n    privileged: true\n",
        ),
    ];
    assert_eq!(
        parse_compose(&files, env_files, exists, &BTreeMap::new())
            .unwrap_err()
            .to_string(),
        "compose.berth.yaml:3:5: privileged containers are not allowed: remove privileged"
    );
    // A value kept from the base still points into the base.
    let files = [
        (
            "compose.yaml",
            "services:\n  web:\n    build: .\n    deploy: {replicas: 500}\n",
        ),
        (
            "compose.berth.yaml",
            "services:\n  web:\n    deploy: {resources: {}}\n",
        ),
    ];
    assert_eq!(
        parse_compose(&files, env_files, exists, &BTreeMap::new())
            .unwrap_err()
            .to_string(),
        "compose.yaml:4:24: services.web.deploy.replicas is 500: Berth runs at most 100"
    );
}

#[test]
fn ports_and_volumes_merge_by_target() {
    let base = "services:\n  web:\n    build: .\n    ports: [\"9000:80\"]\n    volumes: [\"a:/data\", \"b:/cache\"]\nvolumes: {a: {}, b: {}, c: {}}\n";
    let over = "services:\n  web:\n    ports: [\"80\"]\n    volumes: [\"c:/data\"]\n";
    let manifest = parse_with(
        &[("compose.yaml", base), ("compose.berth.yaml", over)],
        &BTreeMap::new(),
    );
    let web = &manifest.processes[&pt("web")].options;
    assert_eq!(web.port, Some(80));
    assert_eq!(
        web.volumes,
        BTreeMap::from([
            (VolumeName::parse("b").unwrap(), "/cache".to_string()),
            (VolumeName::parse("c").unwrap(), "/data".to_string()),
        ])
    );
    assert!(manifest.warnings.is_empty(), "{:?}", manifest.warnings);
}

#[test]
fn env_files_read_quotes_comments_and_bare_names() {
    let text = "services:\n  web:\n    build: .\n    env_file:\n      - quoted.env\n      - path: missing.env\n        required: false\n    environment: {C: env-wins}\n";
    let manifest = parse_compose(
        &[("compose.yaml", text)],
        env_files,
        exists,
        &vars(&[("NAME", "x"), ("D", "from-config")]),
    )
    .unwrap();
    assert_eq!(
        manifest.processes[&pt("web")].options.environment,
        vars(&[
            ("A", "single $NOPE"),
            ("B", "double x"),
            ("C", "env-wins"),
            ("D", "from-config"),
        ])
    );
    let missing = "services:\n  web:\n    build: .\n    env_file: missing.env\n";
    assert_eq!(
        parse_compose(
            &[("compose.yaml", missing)],
            env_files,
            exists,
            &BTreeMap::new()
        )
        .unwrap_err()
        .to_string(),
        "compose.yaml:4:15: env file \"missing.env\" does not exist in this commit: add it, or \
         write {path: missing.env, required: false}"
    );
    let bad = "services:\n  web:\n    build: .\n    env_file: bad.env\n";
    assert_eq!(
        parse_compose(
            &[("compose.yaml", bad)],
            env_files,
            exists,
            &BTreeMap::new()
        )
        .unwrap_err()
        .to_string(),
        "bad.env:2:1: invalid variable name \"not a line\": expected KEY=VALUE"
    );
}

#[test]
fn interpolation_follows_compose() {
    let text = "services:\n  web:\n    build: .\n    environment:\n      SET: ${SET}\n      BARE: $SET-x\n      DEFAULT: ${UNSET:-fallback}\n      EMPTY_DEFAULT: ${EMPTY:-fallback}\n      DASH: ${EMPTY-fallback}\n      NESTED: ${UNSET:-${SET}}\n      DOLLAR: $$HOME\n      PLUS: ${SET:+yes}\n      MISSING: a${NOPE}b\n    command: echo ${NOPE}\n";
    let manifest = parse_with(
        &[("compose.yaml", text)],
        &vars(&[("SET", "v"), ("EMPTY", "")]),
    );
    let web = &manifest.processes[&pt("web")].options;
    assert_eq!(
        web.environment,
        vars(&[
            ("SET", "v"),
            ("BARE", "v-x"),
            ("DEFAULT", "fallback"),
            ("EMPTY_DEFAULT", "fallback"),
            ("DASH", ""),
            ("NESTED", "v"),
            ("DOLLAR", "$HOME"),
            ("PLUS", "yes"),
            ("MISSING", "ab"),
        ])
    );
    assert_eq!(web.args, Some(s(&["echo"])));
    assert_eq!(
        manifest.warnings,
        s(&["compose.yaml:13:16: NOPE is not set, using an empty string"])
    );
    assert_eq!(
        error("services:\n  web:\n    build: .\n    environment:\n      DB: ${DATABASE_URL:?set it with berth config:set}\n"),
        "compose.yaml:5:11: required variable DATABASE_URL is missing a value: set it with \
         berth config:set"
    );
    assert_eq!(
        error("services:\n  web:\n    image: \"${TAG\"\n"),
        "compose.yaml:3:12: invalid interpolation in \"${TAG\": \"${\" without its \"}\" (write \
         $$ for a literal $)"
    );
    assert_eq!(
        error("services:\n  web:\n    image: \"a $ b\"\n"),
        "compose.yaml:3:12: invalid interpolation in \"a $ b\": expected a variable name after \
         $ (write $$ for a literal $)"
    );
    let big = vars(&[("BIG", &"x".repeat(40_000))]);
    let result = parse_compose(
        &[("compose.yaml", "services:\n  web:\n    image: $BIG$BIG\n")],
        no_files,
        exists,
        &big,
    );
    assert_eq!(
        result.unwrap_err().to_string(),
        "compose.yaml:3:12: value is longer than 64 KiB after interpolation"
    );
}

#[test]
fn refusals_point_at_the_key() {
    let service = |line: &str| format!("services:\n  web:\n    build: .\n    {line}\n");
    for (line, message) in [
        (
            "privileged: true",
            "4:5: privileged containers are not allowed: remove privileged",
        ),
        (
            "network_mode: host",
            "4:5: network_mode is not allowed: every app runs on its own network, where its \
             services reach each other by name; remove network_mode",
        ),
        (
            "network_mode: bridge",
            "4:5: network_mode is not allowed: every app runs on its own network, where its \
             services reach each other by name; remove network_mode",
        ),
        (
            "pid: host",
            "4:5: pid is not allowed: a process may not share the host's or another \
             container's processes; remove pid",
        ),
        (
            "ipc: host",
            "4:5: ipc is not allowed: a process may not share the host's or another \
             container's IPC; remove ipc",
        ),
        (
            "userns_mode: host",
            "4:5: userns_mode is not allowed: remove it",
        ),
        (
            "devices: [\"/dev/fuse:/dev/fuse\"]",
            "4:5: host devices are not allowed: remove devices",
        ),
        (
            "cap_add: [NET_ADMIN]",
            "4:5: extra capabilities are not allowed: remove cap_add",
        ),
        (
            "security_opt: [\"seccomp:unconfined\"]",
            "4:5: security_opt is not allowed: containers run with the engine's default \
             security profile; remove security_opt",
        ),
        (
            "volumes: [\"./src:/app\"]",
            "4:15: services.web.volumes: bind mounts of host paths are not allowed: use a named \
             volume (name:/path and a top-level volumes: entry)",
        ),
        (
            "volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]",
            "4:15: services.web.volumes: bind mounts of host paths are not allowed: use a named \
             volume (name:/path and a top-level volumes: entry)",
        ),
        (
            "volumes: [{type: bind, source: ., target: /app}]",
            "4:15: services.web.volumes: bind mounts of host paths are not allowed: use a named \
             volume (name:/path and a top-level volumes: entry)",
        ),
        (
            "volumes: [\"/data\"]",
            "4:15: services.web.volumes: anonymous volume \"/data\" is not kept by Berth: name \
             it (name:/data and a top-level volumes: entry)",
        ),
        (
            "volumes: [\"data:/data\"]",
            "4:15: volume data is not declared: add it under the top-level volumes: (volumes: \
             {data: {}})",
        ),
        (
            "ports: [\"80:80\"]",
            "4:13: services.web.ports: host port 80 is below 1024: drop the host port (write \
             \"80\"); Berth's router serves the app on ports 80 and 443 itself",
        ),
        (
            "ports: [{target: 80, published: 443}]",
            "4:37: services.web.ports: host port 443 is below 1024: drop the host port (write \
             \"80\"); Berth's router serves the app on ports 80 and 443 itself",
        ),
        (
            "ports: [\"80\", \"81\"]",
            "4:19: services.web.ports has container ports 80 and 81: Berth routes to one port \
             per app; keep the one that serves HTTP",
        ),
        (
            "ports: [\"53/udp\"]",
            "4:13: services.web.ports: udp is not supported: the router forwards HTTP over tcp",
        ),
        (
            "deploy: {replicas: 101}",
            "4:24: services.web.deploy.replicas is 101: Berth runs at most 100",
        ),
        (
            "deploy: {resources: {limits: {memory: 1kb}}}",
            "4:43: memory \"1kb\" is below 6m, the least a process can start with",
        ),
        (
            "secrets: [token]",
            "4:5: Compose secrets are not supported: set them as config vars (berth \
             config:set) and read them from the environment",
        ),
        (
            "command: \"echo 'unterminated\"",
            "4:14: services.web.command: unterminated ' quote",
        ),
        (
            "healthcheck: {interval: 5s}",
            "4:18: services.web.healthcheck has no test: expected test: (the command that \
             checks health), or disable: true",
        ),
        (
            "stop_grace_period: soon",
            "4:24: services.web.stop_grace_period: \"soon\" is not a duration: expected e.g. \
             10s, 1m30s or 500ms",
        ),
        (
            "depends_on: [nowhere]",
            "4:18: services.web depends on \"nowhere\", which is not a service: expected one of \"web\"",
        ),
    ] {
        assert_eq!(
            error(&service(line)),
            format!("compose.yaml:{message}"),
            "for {line}"
        );
    }
    // Harmless values of refusable keys pass.
    parse(&service("privileged: false"));
    parse(&service("cap_add: []"));
}

#[test]
fn top_level_keys_are_checked() {
    assert_eq!(
        error("services:\n  web:\n    build: .\nbogus: 1\n"),
        "compose.yaml:4:1: unknown top-level key \"bogus\": expected name, version, services, \
         volumes, networks, configs or secrets or an x- extension"
    );
    assert_eq!(
        error("services:\n  web:\n    build: .\nconfigs:\n  a: {file: ./a}\n"),
        "compose.yaml:4:1: Compose configs are not supported: set config vars (berth \
         config:set) and read them from the environment instead"
    );
    assert_eq!(
        error("volumes: {}\n"),
        "compose.yaml:1:1: missing key \"services\": expected the services to run"
    );
    assert_eq!(
        error(""),
        "compose.yaml:1:1: compose.yaml is empty: expected a mapping with services"
    );
    let manifest = parse(
        "version: \"3.8\"\nx-common: &common\n  restart: always\n  environment: {A: common}\nnetworks: {front: {}}\nservices:\n  web:\n    <<: *common\n    build: .\n  worker:\n    <<: [*common]\n    build: .\n    environment: {A: own}\n",
    );
    assert_eq!(
        manifest.warnings,
        s(&[
            "compose.yaml:1:1: version is obsolete and ignored (as by Compose)",
            "compose.yaml:5:1: .networks is ignored: every app has its own network",
            "compose.yaml:3:3: services.web.restart is ignored: Berth restarts processes that \
             exit",
            "compose.yaml:3:3: services.worker.restart is ignored: Berth restarts processes \
             that exit",
        ])
    );
    assert_eq!(
        manifest.processes[&pt("web")].options.environment,
        vars(&[("A", "common")])
    );
    assert_eq!(
        manifest.processes[&pt("worker")].options.environment,
        vars(&[("A", "own")])
    );
}

#[test]
fn ignored_keys_warn_once_each() {
    let manifest = parse(
        "services:\n  web:\n    build: .\n    container_name: shop\n    restart: always\n    labels: [a=b]\n    networks: [front]\n    frobnicate: yes\n    deploy:\n      placement: {}\n      restart_policy: {condition: any}\n      resources: {reservations: {memory: 1g}}\n    volumes:\n      - type: tmpfs\n        target: /tmp\n    ports: [\"8080:80\"]\n",
    );
    assert_eq!(
        manifest.warnings,
        s(&[
            "compose.yaml:4:5: services.web.container_name is ignored: Berth names containers \
             itself",
            "compose.yaml:5:5: services.web.restart is ignored: Berth restarts processes that \
             exit",
            "compose.yaml:6:5: services.web.labels is ignored: Berth labels containers itself",
            "compose.yaml:7:5: services.web.networks is ignored: every app has its own network",
            "compose.yaml:8:5: services.web.frobnicate: unknown key, ignored",
            "compose.yaml:10:7: services.web.deploy.placement is ignored: Berth places \
             processes itself",
            "compose.yaml:11:7: services.web.deploy.restart_policy is ignored: Berth restarts \
             processes that exit",
            "compose.yaml:12:19: services.web.deploy.resources.reservations is ignored: Berth \
             does not reserve resources",
            "compose.yaml:14:9: services.web.volumes: a tmpfs mount is ignored: Berth mounts \
             only named volumes",
            "compose.yaml:16:13: services.web.ports: host port 8080 is ignored: Berth routes to \
             the container port 80",
        ])
    );
}

#[test]
fn image_only_and_shared_image_services() {
    let manifest = parse(
        "services:\n  app:\n    build: {context: docker, dockerfile: Dockerfile.prod, target: prod}\n    image: shop/app:latest\n  worker:\n    image: shop/app:latest\n    command: ./work\n  proxy:\n    image: nginx:1.27\n  db:\n    image: docker.io/library/postgres@sha256:abc\n  cache:\n    image: library/redis\n  notpg:\n    image: bitnami/postgresql\n",
    );
    assert_eq!(manifest.processes[&pt("worker")].build, "app");
    assert_eq!(manifest.processes[&pt("proxy")].build, "proxy");
    assert_eq!(manifest.processes[&pt("notpg")].build, "notpg");
    assert_eq!(
        manifest.builds["app"],
        BuildSpec {
            dockerfile: "docker/Dockerfile.prod".into(),
            context: "docker".into(),
            target: Some("prod".into()),
            args: BTreeMap::new(),
        }
    );
    assert_eq!(
        manifest.pulls,
        vars(&[("proxy", "nginx:1.27"), ("notpg", "bitnami/postgresql")])
    );
    assert_eq!(
        manifest.addons,
        BTreeMap::from([
            ("db".to_string(), AddonKind::Postgres),
            ("cache".to_string(), AddonKind::Redis),
        ])
    );
    assert!(!manifest.processes.contains_key(&pt("db")));
    assert_eq!(manifest.pull_for(&pt("proxy")), Some("nginx:1.27"));
    assert_eq!(
        manifest.build_for(&pt("worker")),
        Some(&manifest.builds["app"])
    );
    // Every process's build key is in builds or in pulls, never both.
    for spec in manifest.processes.values() {
        assert!(
            manifest.builds.contains_key(&spec.build) != manifest.pulls.contains_key(&spec.build)
        );
    }
    assert_eq!(addon_kind("redis"), Some(AddonKind::Redis));
    assert_eq!(addon_kind("ghcr.io/library/redis"), None);
    assert_eq!(addon_kind("localhost:5000/postgres"), None);
}

#[test]
fn builds_must_exist_and_stay_in_the_repository() {
    assert_eq!(
        error("services:\n  web:\n    build: ./nowhere\n"),
        "compose.yaml:3:12: Dockerfile \"nowhere/Dockerfile\" does not exist in this commit"
    );
    assert_eq!(
        error("services:\n  web:\n    build: ../outside\n"),
        "compose.yaml:3:12: path \"../outside\" leads out of the repository: expected a path \
         inside it"
    );
    assert_eq!(
        error("services:\n  web:\n    build: https://github.com/x/y.git\n"),
        "compose.yaml:3:12: remote build contexts are not supported: build from a directory of \
         this repository"
    );
    assert_eq!(
        error("services:\n  Web:\n    build: .\n"),
        "compose.yaml:2:3: process type \"Web\" has 'W': use only lowercase letters, digits, \
         '_' and '-' (in services)"
    );
    assert_eq!(
        error("services:\n  web:\n    restart: always\n"),
        "compose.yaml:2:3: services.web has neither build nor image: expected build: (a \
         directory with a Dockerfile) or image:"
    );
    assert_eq!(
        error("services:\n  db:\n    image: postgres\n"),
        "compose.yaml:1:1: every service is an add-on: add a service with build: to run the app"
    );
}

#[test]
fn only_web_is_routed() {
    let manifest = parse(
        "services:\n  api:\n    build: .\n    ports: [\"8000\"]\n  worker:\n    build: .\n    depends_on: [api]\n",
    );
    assert_eq!(manifest.processes[&pt("web")].options.port, Some(8000));
    assert_eq!(manifest.processes[&pt("web")].build, "api");
    assert!(!manifest.processes.contains_key(&pt("api")));
    assert_eq!(
        manifest.processes[&pt("worker")]
            .options
            .depends_on
            .keys()
            .collect::<Vec<_>>(),
        [&pt("web")]
    );
    assert!(manifest.warnings.contains(
        &"compose.yaml:4:5: services.api has ports: it runs as the process type web, which \
          Berth routes HTTP to"
            .to_string()
    ));
    assert_eq!(
        error("services:\n  web:\n    build: .\n  api:\n    build: .\n    ports: [\"8000\"]\n"),
        "compose.yaml:6:5: services.api has ports, but services.web has none: Berth routes \
         HTTP to the process type web; move the ports to web"
    );
    assert_eq!(
        error("services:\n  web:\n    build: .\n    ports: [\"8000\"]\n  admin:\n    build: .\n    ports: [\"9000\"]\n"),
        "compose.yaml:7:5: services web and admin both have ports: only the web service may \
         have ports (Berth routes HTTP to it); remove ports from one"
    );
    let manifest = parse(
        "services:\n  web:\n    build: .\n  db:\n    image: redis\n    ports: [\"6379:6379\"]\n",
    );
    assert_eq!(manifest.processes[&pt("web")].options.port, None);
    let manifest = parse(
        "services:\n  web:\n    build: .\n    ports: [\"127.0.0.1:8080:8000/tcp\", \"[::1]:8080:8000\", {target: 8000}]\n",
    );
    assert_eq!(manifest.processes[&pt("web")].options.port, Some(8000));
    assert_eq!(manifest.warnings.len(), 2, "{:?}", manifest.warnings);
}

#[test]
fn volumes_belong_to_one_service() {
    assert_eq!(
        error("services:\n  web:\n    build: .\n    volumes: [\"data:/data\"]\n  worker:\n    build: .\n    volumes: [{type: volume, source: data, target: /srv}]\nvolumes: {data: }\n"),
        "compose.yaml:7:15: volume data is mounted by services web and worker: Berth pins a \
         volume to one process type; give each service its own volume"
    );
    assert_eq!(
        error(
            "services:\n  web:\n    build: .\n    volumes: [\"data:/proc/x\"]\nvolumes: {data: }\n"
        ),
        "compose.yaml:4:15: services.web.volumes: a volume cannot be mounted under /proc: the \
         container needs it"
    );
    assert_eq!(
        error("services:\n  web:\n    build: .\n    volumes: [\"Data:/x\"]\nvolumes: {Data: }\n"),
        "compose.yaml:4:15: services.web.volumes: volume name \"Data\" has 'D': use only \
         lowercase letters, digits, '_' and '-'"
    );
}

#[test]
fn depends_on_may_not_cycle() {
    assert_eq!(
        error("services:\n  web:\n    build: .\n    depends_on: [worker]\n  worker:\n    build: .\n    depends_on:\n      clock: {condition: service_healthy}\n  clock:\n    build: .\n    depends_on: [web]\n"),
        "compose.yaml:8:7: depends_on makes a cycle: clock → web → worker → clock; remove one of \
         these dependencies"
    );
    assert_eq!(
        error("services:\n  web:\n    build: .\n    depends_on: [web]\n"),
        "compose.yaml:4:18: depends_on makes a cycle: web → web; remove one of these \
         dependencies"
    );
    let manifest = parse("services:\n  web:\n    build: .\n    depends_on:\n      worker: {condition: service_healthy}\n      db: {condition: service_healthy}\n  worker:\n    build: .\n  db:\n    image: postgres\n");
    assert_eq!(
        manifest.processes[&pt("web")].options.depends_on,
        BTreeMap::from([(pt("worker"), DependsOn::Healthy)])
    );
}

#[test]
fn service_completed_successfully_is_refused() {
    assert_eq!(
        error("services:\n  web:\n    build: .\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n  migrate:\n    build: .\n"),
        "compose.yaml:6:20: services.web.depends_on.migrate.condition: \
         service_completed_successfully is not supported: Berth runs every service as a process \
         that is restarted when it exits; a one-shot command such as a migration belongs in \
         x-berth: {release: ...}, which runs before the processes start"
    );
}

#[test]
fn commands_split_like_compose() {
    assert_eq!(
        split_words(r#"sh -c "echo \"hi\" $HOME" 'a b'  c\ d"#).unwrap(),
        s(&["sh", "-c", "echo \"hi\" $HOME", "a b", "c d"])
    );
    assert_eq!(split_words("").unwrap(), Vec::<String>::new());
    assert_eq!(split_words("''").unwrap(), s(&[""]));
    let manifest = parse("services:\n  web:\n    build: .\n    entrypoint: \"\"\n");
    assert_eq!(
        manifest.processes[&pt("web")].options.entrypoint,
        Some(Vec::new())
    );
}

#[test]
fn health_checks_and_durations() {
    let manifest = parse("services:\n  web:\n    build: .\n    healthcheck:\n      test: curl -f http://localhost/\n      interval: 1m\n      timeout: 1500ms\n  worker:\n    build: .\n    healthcheck: {test: [\"NONE\"]}\n  clock:\n    build: .\n    healthcheck: {test: [\"CMD\", \"true\"], disable: true}\n");
    assert_eq!(
        manifest.processes[&pt("web")].options.health,
        Some(HealthCheck {
            test: s(&["CMD-SHELL", "curl -f http://localhost/"]),
            interval_seconds: Some(60),
            timeout_seconds: Some(2),
            retries: None,
            start_period_seconds: None,
        })
    );
    assert_eq!(manifest.processes[&pt("worker")].options.health, None);
    assert_eq!(manifest.processes[&pt("clock")].options.health, None);
    assert_eq!(duration_seconds("1m30s"), Some(90));
    assert_eq!(duration_seconds("1h"), Some(3600));
    assert_eq!(duration_seconds("10"), Some(10));
    assert_eq!(duration_seconds("1ns"), Some(1));
    assert_eq!(duration_seconds("0s"), Some(0));
    assert_eq!(duration_seconds("1.5s"), Some(2));
    assert_eq!(duration_seconds("s"), None);
    assert_eq!(duration_seconds("5 s"), None);
    assert_eq!(duration_seconds("99999999h"), None);
}

#[test]
fn release_runs_in_web_or_the_named_service() {
    let two = "services:\n  api:\n    build: .\n  worker:\n    build: ./worker\n";
    assert_eq!(
        error(&format!("{two}x-berth:\n  release: [./migrate, --all]\n")),
        "compose.yaml:6:1: the release command needs an image: add x-berth.release_service with \
         one of \"api\" or \"worker\""
    );
    let manifest = parse(&format!(
        "{two}x-berth:\n  release: [./migrate, --all]\n  release_service: worker\n"
    ));
    assert_eq!(
        manifest.release,
        Some(ReleaseSpec {
            build: "worker".into(),
            command: Command::new("./migrate --all").unwrap(),
        })
    );
    assert_eq!(
        error(&format!("{two}x-berth:\n  release: x\n  image: y\n")),
        "compose.yaml:8:3: unknown key \"image\" in x-berth: expected release or release_service"
    );
}

#[test]
fn bounds_are_enforced() {
    let many: String = (0..101).fold("services:\n".to_string(), |text, i| {
        text + &format!("  s{i}:\n    build: .\n")
    });
    assert_eq!(
        error(&many),
        "compose.yaml:202:3: more than 100 services: Berth runs at most 100"
    );
    let deep = format!("services: {}{}\n", "[".repeat(40), "]".repeat(40));
    assert!(error(&deep).contains("YAML nested more than 32 levels deep: expected a Compose file"));
    let huge = format!("services: {{}}\n# {}\n", "x".repeat(MAX_COMPOSE_BYTES));
    assert_eq!(
        error(&huge),
        "compose.yaml:1:1: compose.yaml is larger than 1 MiB: expected a Compose file"
    );
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
    assert!(error(laughs).starts_with("compose.yaml:"));
    let long_env = (0..10_001).fold(String::new(), |text, i| text + &format!("K{i}=v\n"));
    let read = move |path: &str| -> Result<Option<String>, ManifestError> {
        Ok((path == "big.env").then(|| long_env.clone()))
    };
    assert_eq!(
        parse_compose(
            &[(
                "compose.yaml",
                "services:\n  web:\n    build: .\n    env_file: big.env\n"
            )],
            read,
            exists,
            &BTreeMap::new()
        )
        .unwrap_err()
        .to_string(),
        "big.env:10001:1: env file has more than 10000 lines"
    );
}

#[test]
fn find_manifest_looks_in_order() {
    let with = |files: &'static [(&'static str, &'static str)]| {
        let read = move |path: &str| -> Result<Option<String>, ManifestError> {
            Ok(files
                .iter()
                .find(|(name, _)| *name == path)
                .map(|(_, text)| text.to_string()))
        };
        let exists =
            move |path: &str| path == "Dockerfile" || files.iter().any(|(n, _)| *n == path);
        find_manifest(read, exists, &BTreeMap::new())
    };
    const HEROKU: (&str, &str) = ("heroku.yml", "build:\n  docker:\n    web: Dockerfile\n");
    const COMPOSE: (&str, &str) = ("compose.yaml", "services:\n  web:\n    build: .\n");
    const LEGACY: (&str, &str) = (
        "docker-compose.yml",
        "services:\n  web:\n    build: .\n  worker:\n    build: .\n",
    );
    const OVERRIDE_YML: (&str, &str) = (
        "compose.berth.yml",
        "services:\n  web:\n    command: ./serve\n",
    );
    const PROCFILE_FILE: (&str, &str) = ("Procfile", "web: ./serve\n");
    assert_eq!(
        with(&[HEROKU, COMPOSE]).unwrap().source,
        ManifestSource::HerokuYml
    );
    let manifest = with(&[COMPOSE, LEGACY]).unwrap();
    assert_eq!(manifest.files, s(&["compose.yaml"]));
    assert_eq!(manifest.processes.len(), 1);
    let manifest = with(&[LEGACY, OVERRIDE_YML]).unwrap();
    assert_eq!(
        manifest.files,
        s(&["docker-compose.yml", "compose.berth.yml"])
    );
    assert_eq!(
        manifest.processes[&pt("web")].options.args,
        Some(s(&["./serve"]))
    );
    assert!(manifest.warnings.is_empty(), "{:?}", manifest.warnings);
    let manifest = with(&[LEGACY, PROCFILE_FILE]).unwrap();
    assert_eq!(manifest.files, s(&["docker-compose.yml"]));
    assert_eq!(
        manifest.warnings,
        s(&[
            "Procfile is not used: docker-compose.yml is (Berth reads heroku.yml, else a \
             Compose file, else Dockerfile with Procfile); remove one of them to choose"
        ])
    );
    let manifest = with(&[PROCFILE_FILE, OVERRIDE_YML]).unwrap();
    assert_eq!(manifest.source, ManifestSource::DockerfileAndProcfile);
    assert_eq!(manifest.files, s(&["Dockerfile", "Procfile"]));
    let nothing = find_manifest(no_files, |_| false, &BTreeMap::new()).unwrap_err();
    assert!(nothing.message.contains("add one"), "{nothing}");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    const WORDS: [&str; 24] = [
        "services:",
        "\n",
        "  ",
        "web",
        "db",
        ":",
        " ",
        "- ",
        "build: .",
        "image: postgres",
        "ports: [\"80\"]",
        "\"8080:80\"",
        "${A:-x}",
        "$$",
        "${",
        "}",
        "volumes:",
        "data:/d",
        "depends_on: [web]",
        "<<: *a",
        "&a",
        "[",
        "{",
        "x-berth: {release: x}",
    ];

    /// A realistic file with a few random edits, so that the rules behind the syntax are
    /// reached.
    fn mutated() -> impl Strategy<Value = String> {
        let edit = (
            any::<prop::sample::Index>(),
            0..3u8,
            prop::sample::select(WORDS.to_vec()),
        );
        prop::collection::vec(edit, 1..5).prop_map(|edits| {
            let mut chars: Vec<char> = REALISTIC.chars().collect();
            for (index, operation, word) in edits {
                let at = index.index(chars.len() + 1);
                let end = (at + 3).min(chars.len());
                match operation {
                    0 => drop(chars.splice(at..at, word.chars())),
                    1 => drop(chars.drain(at..end)),
                    _ => drop(chars.splice(at..(at + 1).min(chars.len()), word.chars())),
                }
            }
            chars.into_iter().collect()
        })
    }

    fn lines(text: &str) -> Vec<usize> {
        text.replace("\r\n", "\n")
            .split(['\n', '\r'])
            .map(|line| line.chars().count())
            .collect()
    }

    proptest! {
        #[test]
        fn compose_garbage_never_panics_and_errors_point_into_it(
            text in prop_oneof![3 => mutated(), 1 => any::<String>()],
        ) {
            match parse_compose(&[("compose.yaml", &text)], no_files, exists, &BTreeMap::new()) {
                Ok(manifest) => {
                    for spec in manifest.processes.values() {
                        prop_assert!(
                            manifest.builds.contains_key(&spec.build)
                                != manifest.pulls.contains_key(&spec.build)
                        );
                    }
                    if let Some(release) = &manifest.release {
                        prop_assert!(manifest.builds.contains_key(&release.build));
                    }
                }
                Err(error) => {
                    prop_assert_eq!(&error.file, "compose.yaml");
                    let lines = lines(&text);
                    prop_assert!((1..=lines.len()).contains(&error.line), "{}", error);
                    prop_assert!(
                        (1..=lines[error.line - 1] + 1).contains(&error.column),
                        "{}",
                        error
                    );
                }
            }
        }
    }
}

#[test]
fn one_addon_of_each_kind() {
    assert_eq!(
        error("services:\n  web:\n    build: .\n  db:\n    image: postgres:16\n  analytics:\n    image: postgres\n"),
        "compose.yaml:6:3: services db and analytics are both postgres add-ons: Berth gives an \
         app one managed postgres (DATABASE_URL); keep one service and point both services' \
         environment at DATABASE_URL"
    );
    assert_eq!(
        error("services:\n  web:\n    build: .\n  cache:\n    image: redis\n  queue:\n    image: redis:7\n"),
        "compose.yaml:6:3: services cache and queue are both redis add-ons: Berth gives an app \
         one managed redis (REDIS_URL); keep one service and point both services' environment \
         at REDIS_URL"
    );
    let manifest = parse(
        "services:\n  web:\n    build: .\n  db:\n    image: postgres\n  cache:\n    image: redis\n",
    );
    assert_eq!(manifest.addons.len(), 2);
}

#[test]
fn top_level_extensions_are_not_interpolated() {
    let text = "x-env: &env\n  URL: ${DATABASE_URL}\nx-junk: [\"${\", $NOPE]\nservices:\n  web:\n    build: .\n    environment: *env\nx-berth:\n  release: ./migrate --url \"${DATABASE_URL}\" --pid $$ $UNSET\n";
    let manifest = parse_with(
        &[("compose.yaml", text)],
        &vars(&[("DATABASE_URL", "postgres://secret")]),
    );
    let release = manifest.release.unwrap();
    assert_eq!(
        release.command.line(),
        "./migrate --url \"${DATABASE_URL}\" --pid $$ $UNSET"
    );
    assert!(!format!("{:?}", release).contains("secret"));
    // What an alias copies into a service is interpolated there.
    assert_eq!(
        manifest.processes[&pt("web")].options.environment,
        vars(&[("URL", "postgres://secret")])
    );
    assert!(manifest.warnings.is_empty(), "{:?}", manifest.warnings);
    let list = "services:\n  web:\n    build: .\nx-berth:\n  release: [./migrate, $DATABASE_URL]\n";
    let manifest = parse_with(
        &[("compose.yaml", list)],
        &vars(&[("DATABASE_URL", "postgres://secret")]),
    );
    assert_eq!(
        manifest.release.unwrap().command.line(),
        "./migrate $DATABASE_URL"
    );
}

#[test]
fn interpolation_has_one_budget_for_the_manifest() {
    let big = vars(&[("B", &"x".repeat(60_000))]);
    // Each value is short of 64 KiB, but 70 of them are more than 4 MiB.
    let labels = (0..100).fold(
        "services:\n  web:\n    build: .\n    labels:\n".to_string(),
        |text, _| text + "      - $B\n",
    );
    let result = parse_compose(&[("compose.yaml", &labels)], no_files, exists, &big);
    assert_eq!(
        result.unwrap_err().to_string(),
        "compose.yaml:74:9: compose.yaml expands to more than 4 MiB once ${VAR}s are \
         substituted (with the other Compose and env files): Berth reads at most that much; \
         copy long config vars into fewer values"
    );
    // YAML aliases copy values, and each copy counts.
    let aliases = (0..100).fold(
        "services:\n  web:\n    build: .\n    x-a: &a $B\n".to_string(),
        |text, i| text + &format!("    x-{i}: *a\n"),
    );
    let error = parse_compose(&[("compose.yaml", &aliases)], no_files, exists, &big)
        .unwrap_err()
        .to_string();
    assert!(error.contains("expands to more than 4 MiB"), "{error}");
    // Values read from env files count too, where they are read.
    let lines = (0..100).fold(String::new(), |text, i| text + &format!("K{i}=$B\n"));
    let read = move |path: &str| -> Result<Option<String>, ManifestError> {
        Ok((path == "big.env").then(|| lines.clone()))
    };
    let error = parse_compose(
        &[(
            "compose.yaml",
            "services:\n  web:\n    build: .\n    env_file: big.env\n",
        )],
        read,
        exists,
        &big,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("big.env:70:1: big.env expands to more than 4 MiB"),
        "{error}"
    );
    // Top-level x- values are not interpolated, so they cost what is written.
    let junk = (0..100_000).fold(
        "services:\n  web:\n    build: .\nx-junk:\n".to_string(),
        |text, _| text + "  - $B\n",
    );
    parse_with(&[("compose.yaml", &junk)], &big);
}

#[test]
fn a_service_environment_is_bounded() {
    let value = "x".repeat(60_000);
    // Each file is short of 1 MiB, but together they are more.
    let read = move |path: &str| -> Result<Option<String>, ManifestError> {
        let prefix = path.strip_suffix(".env").unwrap_or_default().to_uppercase();
        Ok(["a.env", "b.env"].contains(&path).then(|| {
            (0..10).fold(String::new(), |text, i| {
                text + &format!("{prefix}{i}='{value}'\n")
            })
        }))
    };
    assert_eq!(
        parse_compose(
            &[(
                "compose.yaml",
                "services:\n  web:\n    build: .\n    env_file: [a.env, b.env]\n",
            )],
            read,
            exists,
            &BTreeMap::new(),
        )
        .unwrap_err()
        .to_string(),
        "compose.yaml:4:23: services.web has more than 1 MiB or 10000 environment variables \
         (env_file and environment together; 20 variables, 1200080 bytes): Berth passes at \
         most that to a process; keep large data in files or a volume"
    );
    let many = (0..10_001).fold(
        "services:\n  web:\n    build: .\n    environment:\n".to_string(),
        |text, i| text + &format!("      K{i}: v\n"),
    );
    let error = error(&many);
    assert!(
        error.starts_with("compose.yaml:4:5: services.web has more than 1 MiB or 10000"),
        "{error}"
    );
}

#[test]
fn an_env_file_is_read_once_per_manifest() {
    let reads = std::cell::Cell::new(0);
    let read = |path: &str| -> Result<Option<String>, ManifestError> {
        reads.set(reads.get() + 1);
        Ok((path == "a.env").then(|| "A=1\n".to_string()))
    };
    let manifest = parse_compose(
        &[(
            "compose.yaml",
            "services:\n  web:\n    build: .\n    env_file: [a.env, a.env, ./a.env]\n  worker:\n    build: .\n    env_file: a.env\n",
        )],
        read,
        exists,
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(reads.get(), 1);
    assert_eq!(
        manifest.processes[&pt("worker")].options.environment,
        vars(&[("A", "1")])
    );
}
