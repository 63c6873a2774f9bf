//! Compose files as the manifest, and resource limits (issue 17), through
//! `git push`, the `berth` binary and a real engine: services become process
//! types with their options, a postgres service becomes an add-on, a named
//! volume keeps its data across releases, limits reach the containers, and
//! an out-of-memory kill is reported.

use super::*;

const COMPOSE: &str = r#"name: shop
services:
  app:
    build: .
    image: shop-web
    command: ["/bin/sh", "-c", "echo \"$$GREETING $$DYNO $$DATABASE_URL\" > /www/version.txt && exec httpd -f -v -p $$PORT -h /www"]
    ports: ["8080:8080"]
    container_name: shop-web
    environment:
      GREETING: ${GREETING:-hello}
      DATABASE_URL: postgres://localhost/dev
    deploy:
      resources:
        limits: {memory: 64m, cpus: "0.5"}
    depends_on:
      worker: {condition: service_healthy}
  worker:
    image: shop-web
    working_dir: /www
    command: ["/bin/sh", "-c", "date >> /data/starts; echo worker in $$(pwd) starts $$(wc -l < /data/starts); exec sleep 3600"]
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD-SHELL", "test -s /data/starts"]
      interval: 1s
  hog:
    image: shop-web
    entrypoint: ["/bin/sh", "-c"]
    command: ["echo eating; x=aaaaaaaaaaaaaaaa; while true; do x=$$x$$x; done"]
    deploy:
      resources:
        limits: {memory: 16m}
  tools:
    image: ${TOOLS_IMAGE}
    entrypoint: ["/bin/sh", "-c"]
    command: ["echo the pulled image runs; exec sleep 3600"]
  db:
    image: postgres:15
volumes:
  data: {}
x-berth:
  release: echo compose release phase
"#;

/// The engine's view of the app's container for `dyno`: its memory and CPU limits.
fn container_limits(app: &str, dyno: &str) -> (i64, i64) {
    let output = Command::new("docker")
        .args([
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=berth.app={app}"),
            "--filter",
            &format!("label=berth.dyno={dyno}"),
        ])
        .output()
        .unwrap();
    let ids = String::from_utf8_lossy(&output.stdout).to_string();
    let id = ids
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no container for {dyno}"));
    let inspect = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}",
            id,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&inspect.stdout).to_string();
    let mut figures = text.split_whitespace().map(|f| f.parse::<i64>().unwrap());
    (figures.next().unwrap(), figures.next().unwrap())
}

/// `git push platform main`: its success and everything git printed.
fn push(app: &AppCheckout) -> (bool, String) {
    let output = app
        .world
        .command("git", app.repo.path())
        .args(["push", "platform", "main"])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Polls (bounded) the app's log until it holds `line`.
fn wait_for_log_line(app: &AppCheckout, line: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let log = app.berth(&["logs", "-n", "1000"]).ok();
        if log.contains(line) {
            return log;
        }
        assert!(Instant::now() < deadline, "no {line:?} in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_compose_app_runs_its_services_with_their_options_limits_and_add_on() {
    addons::require_servers();
    let world = addons::addon_world(addons::postgres_admin_url());
    let app = AppCheckout::new(&world, "compose", None);
    // An image the engine has (nothing can be pulled from a registry here):
    // the one script/test builds for the Postgres add-on tests.
    let tools_image = std::env::var("BERTH_TEST_POSTGRES_IMAGE")
        .unwrap_or_else(|_| "berth-test/postgres:15".into());
    app.berth(&[
        "config:set",
        "GREETING=hi",
        &format!("TOOLS_IMAGE={tools_image}"),
    ])
    .ok();
    app.repo.write("compose.yaml", COMPOSE);
    app.repo.commit("Compose");
    let (pushed, output) = push(&app);
    assert!(pushed, "{output}");
    assert!(output.contains("-----> Using compose.yaml"), "{output}");
    assert!(
        output.contains("compose.yaml:8:5: services.app.container_name is ignored"),
        "{output}"
    );
    assert!(output.contains("host port 8080 is ignored"), "{output}");
    // The service with ports runs as web, which the router sends to.
    assert!(
        output.contains("services.app has ports: it runs as the process type web"),
        "{output}"
    );
    assert!(output.contains("compose release phase"), "{output}");
    assert!(
        output.contains(&format!("-----> Using the image {tools_image} for tools")),
        "{output}"
    );
    // web depends on the worker being healthy: it starts once the worker's check passed.
    let checked = output
        .find("worker.1 starting: waiting for its health check to pass")
        .expect(&output);
    let worker_started = output.find("worker.1 started").expect(&output);
    let web_starting = output.find("web.1 starting").expect(&output);
    assert!(
        checked < worker_started && worker_started < web_starting,
        "{output}"
    );

    // The postgres service is a managed add-on whose URL wins over the file's.
    let database_url = app.berth(&["config:get", "DATABASE_URL"]).ok();
    assert!(
        database_url.starts_with("postgres://") && !database_url.contains("localhost"),
        "{database_url}"
    );
    // PORT is the container port the service names; config vars interpolate and win.
    let page = visit(&world, &app.name).unwrap();
    assert_eq!(
        page.trim(),
        format!("hi web.1 {}", database_url.trim()),
        "{page}"
    );

    // Every service starts with one replica; the image-only worker runs web's image.
    wait_for_log_line(&app, "app[tools.1]: the pulled image runs");
    let log = wait_for_log_line(&app, "app[worker.1]: worker in /www starts 1");
    assert!(!log.contains("is not set"), "{log}");
    let volumes = app.berth(&["volumes", "--json"]).json();
    assert_eq!(volumes[0]["name"], "data", "{volumes}");
    assert_eq!(volumes[0]["process"], "worker", "{volumes}");
    assert_eq!(volumes[0]["path"], "/data", "{volumes}");
    let dynos = app.berth(&["ps", "--json"]).json();
    let web = dynos
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "web.1")
        .unwrap();
    assert_eq!(web["memory_limit_bytes"], 64 << 20, "{dynos}");
    assert_eq!(web["cpu_limit"], 0.5, "{dynos}");
    assert_eq!(
        container_limits(&app.name, "web.1"),
        (64 << 20, 500_000_000)
    );

    // The hog exceeds its 16 MiB, is killed, and the log says so.
    wait_for_log_line(
        &app,
        "berth[hog.1]: Process exceeded its memory limit (16 MiB) and was killed",
    );
    // ps says so too while it waits for its restart (the backoff grows).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let dynos = app.berth(&["ps", "--json"]).json();
        let hog = dynos
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "hog.1")
            .cloned()
            .unwrap_or_default();
        if hog["state"] == "crashed"
            && hog["reason"] == "Process exceeded its memory limit (16 MiB) and was killed"
        {
            break;
        }
        assert!(Instant::now() < deadline, "ps never showed why: {dynos}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // ps:limits shows and changes limits: a new release, health-gated.
    let limits = app.berth(&["ps:limits"]).ok();
    assert!(limits.contains("TYPE"), "{limits}");
    assert!(
        limits
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["web", "64m", "0.5"]),
        "{limits}"
    );
    app.berth(&["ps:limits", "worker", "--memory", "32m", "--cpus", "0.25"])
        .ok();
    let releases = app.berth(&["releases"]).ok();
    assert!(
        releases.contains("Set worker limits: memory 32m, cpus 0.25"),
        "{releases}"
    );
    // The worker's volume kept what its first start wrote.
    wait_for_log_line(&app, "worker in /www starts 2");
    assert_eq!(
        container_limits(&app.name, "worker.1"),
        (32 << 20, 250_000_000)
    );
    // Above the platform's quota per dyno, or not a size: refused, nothing changes.
    let refused = app
        .berth(&["ps:limits", "worker", "--memory", "64g"])
        .fails();
    assert!(
        refused.contains("above the platform's limit per dyno"),
        "{refused}"
    );
    let refused = app
        .berth(&["ps:limits", "worker", "--cpus", "lots"])
        .fails();
    assert!(refused.contains("is not a number of CPUs"), "{refused}");
    assert_eq!(app.berth(&["releases"]).ok(), releases);
    // More CPUs than the host has: the engine refuses the worker, the
    // release fails, and the limits stay as they were.
    let before = app.berth(&["ps:limits"]).ok();
    app.berth(&["ps:limits", "worker", "--cpus", "512"]).fails();
    assert_eq!(app.berth(&["ps:limits"]).ok(), before);
    let releases = app.berth(&["releases"]).ok();

    // A Compose file Berth refuses: the push fails at the line, the release serves on.
    app.repo.write(
        "compose.yaml",
        &COMPOSE.replace(
            "    working_dir: /www\n",
            "    working_dir: /www\n    privileged: true\n",
        ),
    );
    app.repo.commit("Privileged");
    let (pushed, output) = push(&app);
    assert!(!pushed);
    let privileged_line = COMPOSE
        .lines()
        .position(|line| line == "    working_dir: /www")
        .unwrap()
        + 2;
    assert!(
        output.contains(&format!("compose.yaml:{privileged_line}:5:")),
        "{output}"
    );
    assert!(output.contains("privileged"), "{output}");
    assert!(visit(&world, &app.name).unwrap().starts_with("hi web.1 "));
    assert_eq!(app.berth(&["releases"]).ok(), releases);

    // The volume's data survives a redeploy and a rollback too.
    app.repo.write("compose.yaml", COMPOSE);
    app.repo.write("NOTES", "a new commit");
    app.repo.commit("Redeploy");
    let (pushed, output) = push(&app);
    assert!(pushed, "{output}");
    wait_for_log_line(&app, "worker in /www starts 3");
    // The refused --cpus 512 is not applied by a later deploy either.
    assert_eq!(
        container_limits(&app.name, "worker.1"),
        (32 << 20, 250_000_000)
    );
    app.berth(&["releases:rollback"]).ok();
    wait_for_log_line(&app, "worker in /www starts 4");

    let addons = app.berth(&["addons", "--json"]).json();
    for addon in addons.as_array().unwrap() {
        let name = addon["name"].as_str().unwrap();
        app.berth(&["addons:destroy", name, "--confirm", &app.name])
            .ok();
    }
    app.berth(&["apps:destroy", "--confirm", &app.name, "--volumes"])
        .ok();
}

#[test]
fn a_postgres_service_in_its_own_container_answers_to_the_service_name() {
    let image = addons::postgres_image();
    let world = World {
        server: TestServer::start_with(|settings| {
            settings.addon_postgres_image = Some(image);
        }),
        home: tempfile::tempdir().unwrap(),
        cwd: tempfile::tempdir().unwrap(),
    };
    let app = AppCheckout::new(&world, "compose-db", None);
    app.repo.write(
        "compose.yaml",
        "services:\n  web:\n    build: .\n  db:\n    image: postgres:16\n",
    );
    app.repo.commit("Compose with a database");
    let (pushed, output) = push(&app);
    assert!(pushed, "{output}");
    let url = app.berth(&["config:get", "DATABASE_URL"]).ok();
    assert!(url.contains("@berth-addon-"), "{url}");
    // As in the local stack, `db` reaches the database on the app's network.
    let reached = app
        .berth(&[
            "run",
            "--no-tty",
            "nc -w 5 db 5432 -e true 2>&1; echo \"nc exit $?\"",
        ])
        .ok();
    assert_eq!(reached.trim(), "nc exit 0");
    let addons = app.berth(&["addons", "--json"]).json();
    let addon = addons[0]["name"].as_str().unwrap().to_string();
    app.berth(&["addons:destroy", &addon, "--confirm", &app.name])
        .ok();
}

#[test]
fn compose_replicas_beyond_the_dynos_an_app_may_run_are_refused_before_anything_is_built() {
    let world = World::new();
    let app = AppCheckout::new(&world, "compose-many", None);
    app.repo.write(
        "compose.yaml",
        "services:\n  web:\n    build: .\n    deploy: {replicas: 15}\n  worker:\n    build: .\n    deploy: {replicas: 6}\n",
    );
    app.repo.commit("Too many");
    let (pushed, output) = push(&app);
    assert!(!pushed, "{output}");
    assert!(
        output.contains(
            "compose.yaml asks for 21 dynos (deploy.replicas, 1 per service without it), more \
             than this platform allows an app (BERTH_MAX_DYNOS_PER_APP=20)"
        ),
        "{output}"
    );
    assert!(!output.contains("Building"), "{output}");
    let releases = app.berth(&["releases", "--json"]).json();
    assert_eq!(releases, serde_json::json!([]), "{releases}");
    assert_eq!(app.berth(&["ps:scale"]).ok().trim(), "");
}

#[test]
fn a_compose_push_whose_release_fails_leaves_no_volume_behind() {
    let world = World::new();
    let app = AppCheckout::new(&world, "compose-fail", None);
    app.repo.write(
        "compose.yaml",
        "services:\n  web:\n    build: .\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\nx-berth:\n  release: exit 3\n",
    );
    app.repo.commit("A release command that fails");
    let (pushed, output) = push(&app);
    assert!(!pushed, "{output}");
    assert!(output.contains("exit status 3"), "{output}");
    let volumes = app.berth(&["volumes", "--json"]).json();
    assert_eq!(volumes, serde_json::json!([]), "{volumes}");
    let engine = Command::new("docker")
        .args([
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=berth.app={}", app.name),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&engine.stdout).trim(), "");
}

#[test]
fn every_compose_setting_berth_refuses_fails_the_push_at_its_line_and_the_release_serves_on() {
    let world = World::new();
    let app = AppCheckout::new(&world, "compose-refuse", None);
    let good = "services:\n  web:\n    build: .\n    ports: [\"8080\"]\n    command: [\"/bin/sh\", \"-c\", \"echo $$DYNO > /www/version.txt && exec httpd -f -p $$PORT -h /www\"]\n";
    app.repo.write("compose.yaml", good);
    app.repo.commit("A good compose file");
    let (pushed, output) = push(&app);
    assert!(pushed, "{output}");
    let releases = app.berth(&["releases"]).ok();
    // (what is added under web, what the error says, at which line)
    let refusals = [
        (
            "    volumes: [\"./src:/src\"]\n",
            "bind mounts of host paths are not allowed",
            6,
        ),
        (
            "    volumes: [\"/etc:/etc\"]\n",
            "bind mounts of host paths are not allowed",
            6,
        ),
        ("    privileged: true\n", "privileged", 6),
        ("    network_mode: host\n", "network_mode", 6),
        ("    pid: host\n", "pid", 6),
        ("    devices: [\"/dev/kmsg:/dev/kmsg\"]\n", "devices", 6),
        ("    cap_add: [SYS_ADMIN]\n", "cap_add", 6),
    ];
    for (added, says, line) in refusals {
        app.repo.write("compose.yaml", &format!("{good}{added}"));
        app.repo.commit("Refused");
        let (pushed, output) = push(&app);
        assert!(!pushed, "{added}: {output}");
        assert!(
            output.contains(&format!("compose.yaml:{line}:")) && output.contains(says),
            "{added}: {output}"
        );
    }
    let low_port = good.replace("[\"8080\"]", "[\"80:8080\"]");
    let unknown_key = format!("{good}extras: {{}}\n");
    // Another app's image, as Berth built it: build from source instead.
    let platforms_image = format!("{good}  tools:\n    image: berth/someapp:v1-web\n");
    for (file, says) in [
        (low_port, "compose.yaml:4:"),
        (unknown_key, "unknown top-level key"),
        (
            platforms_image,
            "services.tools runs the image berth/someapp:v1-web, which Berth built for an app",
        ),
    ] {
        app.repo.write("compose.yaml", &file);
        app.repo.commit("Refused");
        let (pushed, output) = push(&app);
        assert!(!pushed && output.contains(says), "{output}");
    }
    assert_eq!(app.berth(&["releases"]).ok(), releases);
    assert_eq!(visit(&world, &app.name).unwrap().trim(), "web.1");
}
