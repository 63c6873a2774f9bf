//! Persistent volumes end to end: the `berth` binary creates one for `web`,
//! a one-off writes into it, and the data is still there for the web
//! process after a restart, a redeploy and a rollback; the engine volume
//! goes only when the volume (or the app, with `--volumes`) is destroyed.

use super::*;

/// The engine volumes labelled as `app`'s.
fn engine_volumes(app: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["volume", "ls", "-q", "--filter"])
        .arg(format!("label=berth.app={app}"))
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The web process copies the volume's note where httpd serves it, and
/// counts its own starts in the volume.
const PROCFILE: &str = "web: cat /data/note.txt > /www/note.txt 2>/dev/null; \
                        echo \"$DYNO $BERTH_RELEASE_VERSION\" >> /data/starts; \
                        exec httpd -f -p $PORT -h /www\n";

fn note(world: &World, app: &str) -> String {
    reqwest::blocking::Client::new()
        .get(format!("{}/note.txt", world.server.http_url))
        .header("host", format!("{app}.localhost"))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

#[test]
fn a_volume_keeps_its_data_across_restarts_deploys_and_rollbacks() {
    let world = World::new();
    let app = AppCheckout::new(&world, "vol", Some(PROCFILE));
    let name = app.name.clone();
    app.push();
    assert_eq!(
        app.berth(&["volumes", "--json"]).json(),
        serde_json::json!([])
    );

    // Refusals change nothing.
    for (volume, path, process, expected) in [
        ("Uploads", "/data", "web", "use only lowercase letters"),
        ("1up", "/data", "web", "must start with a lowercase letter"),
        ("up/loads", "/data", "web", "use only lowercase letters"),
        ("uploads", "/proc", "web", "/proc"),
        ("uploads", "/data/../etc", "web", ".."),
        ("uploads", "data", "web", "absolute path"),
        ("uploads", "/data", "worker", "no process type \"worker\""),
    ] {
        let refused = app
            .berth(&["volumes:create", volume, "--path", path, "-p", process])
            .fails();
        assert!(refused.contains(expected), "{volume} {path}: {refused}");
    }
    assert_eq!(
        app.berth(&["volumes", "--json"]).json(),
        serde_json::json!([])
    );
    assert!(engine_volumes(&name).is_empty());

    let created = app
        .berth(&[
            "volumes:create",
            "uploads",
            "--path",
            "/data",
            "-p",
            "web",
            "--json",
        ])
        .json();
    assert_eq!(created["name"], "uploads");
    assert_eq!(created["process"], "web");
    assert_eq!(created["path"], "/data");
    assert_eq!(engine_volumes(&name), [format!("berth-{name}.uploads")]);
    let taken = app
        .berth(&["volumes:create", "uploads", "--path", "/other", "-p", "web"])
        .fails();
    assert!(taken.contains("already exists"), "{taken}");

    // A one-off mounts it; the web process (replaced to mount it) sees it
    // once it starts again.
    app.berth(&["run", "--no-tty", "echo kept > /data/note.txt"])
        .ok();
    app.berth(&["ps:restart", "-p", "web"]).ok();
    assert_eq!(note(&world, &name), "kept\n");

    app.repo.write("www/extra.txt", "v2\n");
    app.repo.commit("A second release");
    app.push();
    assert_eq!(note(&world, &name), "kept\n", "after a redeploy");

    app.berth(&["releases:rollback", "v1"]).ok();
    assert_eq!(note(&world, &name), "kept\n", "after a rollback");

    let starts = app.berth(&["run", "--no-tty", "cat /data/starts"]).ok();
    assert!(
        starts.contains("web.1 v2") && starts.contains("web.1 v3"),
        "{starts}"
    );

    let listed = app.berth(&["volumes", "--json"]).json();
    let volume = &listed[0];
    assert_eq!(volume["name"], "uploads");
    assert_eq!(volume["process"], "web");
    assert_eq!(volume["path"], "/data");
    assert!(volume["host"].is_string(), "{volume}");
    assert!(volume["created_at"].is_string(), "{volume}");
    assert!(
        volume["size_bytes"].as_u64().is_some_and(|size| size > 0),
        "{volume}"
    );
    let table = app.berth(&["volumes"]).ok();
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert!(rows[0].starts_with("NAME"), "{table}");
    for column in ["PROCESS", "PATH", "SIZE", "HOST"] {
        assert!(rows[0].contains(column), "{table}");
    }
    assert_eq!(rows[0].find("PATH"), rows[1].find("/data"), "{table}");

    // The app is not destroyed while it has volumes.
    let refused = app.berth(&["apps:destroy", "--confirm", &name]).fails();
    assert!(
        refused.contains("uploads") && refused.contains("--volumes"),
        "{refused}"
    );
    app.berth(&["apps:info"]).ok();
    assert_eq!(engine_volumes(&name).len(), 1);

    let wrong = app
        .berth(&["volumes:destroy", "uploads", "--confirm", "someone-else"])
        .fails();
    assert!(wrong.contains("does not match"), "{wrong}");
    let unconfirmed = app.berth(&["volumes:destroy", "uploads"]).fails();
    assert!(unconfirmed.contains("--confirm"), "{unconfirmed}");
    assert_eq!(engine_volumes(&name).len(), 1);

    app.berth(&["volumes:destroy", "uploads", "--confirm", &name])
        .ok();
    assert!(engine_volumes(&name).is_empty());
    assert_eq!(
        app.berth(&["volumes", "--json"]).json(),
        serde_json::json!([])
    );
    // The web process runs on without it.
    assert_eq!(note(&world, &name), "");
    app.berth(&["apps:destroy", "--confirm", &name]).ok();
}

#[test]
fn volumes_belong_to_their_app_and_go_with_it_when_asked() {
    let world = World::new();
    let app = AppCheckout::new(&world, "vol-own", None);
    let name = app.name.clone();
    let other = berth_testkit::unique_app_name("vol-other");
    let _other_cleanup = berth_testkit::EngineCleanup::new(&other);
    app.berth(&["apps:create", &other, "--no-remote"]).ok();

    // Before a first deploy any process type will do.
    for target in [name.as_str(), other.as_str()] {
        app.berth(&[
            "volumes:create",
            "uploads",
            "--path",
            "/data",
            "-p",
            "web",
            "-a",
            target,
        ])
        .ok();
    }
    assert_eq!(engine_volumes(&name), [format!("berth-{name}.uploads")]);
    assert_eq!(engine_volumes(&other), [format!("berth-{other}.uploads")]);

    // A deployer may deploy, not create or destroy volumes; a viewer reads them.
    let deployer = world
        .server
        .create_user("deployer@example.com", false, None);
    let viewer = world.server.create_user("viewer@example.com", false, None);
    for (email, role) in [
        ("deployer@example.com", "deployer"),
        ("viewer@example.com", "viewer"),
    ] {
        app.berth(&["access:add", email, "--role", role]).ok();
    }
    for token in [&deployer, &viewer] {
        let refused = world
            .berth_as(
                token,
                &[
                    "volumes:create",
                    "more",
                    "--path",
                    "/more",
                    "-p",
                    "web",
                    "-a",
                    &name,
                ],
            )
            .fails();
        assert!(refused.contains("volumes"), "{refused}");
        let refused = world
            .berth_as(
                token,
                &[
                    "volumes:destroy",
                    "uploads",
                    "--confirm",
                    &name,
                    "-a",
                    &name,
                ],
            )
            .fails();
        assert!(refused.contains("volumes"), "{refused}");
    }
    let seen = world
        .berth_as(&viewer, &["volumes", "-a", &name, "--json"])
        .json();
    assert_eq!(seen.as_array().unwrap().len(), 1);
    assert_eq!(engine_volumes(&name).len(), 1);

    app.berth(&["apps:destroy", "--confirm", &other, "-a", &other])
        .fails();
    assert_eq!(engine_volumes(&other).len(), 1);
    app.berth(&[
        "apps:destroy",
        "--confirm",
        &other,
        "-a",
        &other,
        "--volumes",
    ])
    .ok();
    assert!(engine_volumes(&other).is_empty());
    assert_eq!(
        engine_volumes(&name).len(),
        1,
        "another app's volume of the same name stays"
    );
    app.berth(&["apps:destroy", "--confirm", &name, "--volumes"])
        .ok();
    assert!(engine_volumes(&name).is_empty());
}
