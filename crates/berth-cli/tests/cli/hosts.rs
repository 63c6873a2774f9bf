//! `hosts`, `hosts:add`, `hosts:drain` and `hosts:remove` end to end: a
//! real berthd driving the first engine of a multi-host cluster (engines in
//! network namespaces, mutual TLS, a registry), the real `berth` binary.

use std::net::Ipv4Addr;

use berth_docker::Membership;
use berth_testkit::{Cluster, ENGINE_PORT};

use super::*;

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn membership(cluster: &Cluster, index: usize) -> Membership {
    block_on(async { cluster.engine(index).await.membership().await.unwrap() })
}

/// The hosts as `berth hosts --json` lists them: (name, role, state, availability).
fn hosts(world: &World, token: &str) -> Vec<(String, String, String, String)> {
    let listed = world.berth_as(token, &["hosts", "--json"]).json();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|host| {
            let field = |name: &str| host[name].as_str().unwrap().to_string();
            (
                field("name"),
                field("role"),
                field("state"),
                field("availability"),
            )
        })
        .collect()
}

fn host(
    name: &str,
    role: &str,
    state: &str,
    availability: &str,
) -> (String, String, String, String) {
    (
        name.to_string(),
        role.to_string(),
        state.to_string(),
        availability.to_string(),
    )
}

#[test]
fn a_host_joins_is_drained_and_leaves_and_what_cannot_join_changes_nothing() {
    let cluster = Cluster::start("bch", 3);
    let world = World::with_settings(|settings| {
        settings.docker_host = Some(cluster.docker_host(0));
        settings.docker_cert_path = Some(cluster.cert_dir().to_path_buf());
        settings.registry = Some(cluster.registry().to_string());
    });
    let admin = world.server.create_user("root@example.com", true, None);
    let member = world.server.create_user("member@example.com", false, None);
    let h2 = cluster.docker_host(1);
    let h3 = cluster.docker_host(2);
    cluster.check_route(cluster.address(1));

    // Only platform admins manage hosts.
    let refused = world
        .berth_as(&member, &["hosts:add", "h2", "--docker-host", &h2])
        .fails();
    assert_eq!(
        refused,
        "error: as member you cannot add, drain or remove hosts"
    );
    assert_eq!(membership(&cluster, 1), Membership::Alone);

    // An address where no engine answers, and one that does not speak TLS
    // (the registry's plain HTTP), are refused with what to check.
    let nowhere = format!("tcp://{}:{ENGINE_PORT}", nowhere_in(&cluster));
    let refused = world
        .berth_as(&admin, &["hosts:add", "ghost", "--docker-host", &nowhere])
        .fails();
    assert!(
        refused.contains(&format!("no Docker engine answers at {nowhere}"))
            || refused.contains(&format!("the Docker engine at {nowhere} did not answer")),
        "{refused}"
    );
    let plain = format!("tcp://{}", cluster.registry());
    let refused = world
        .berth_as(&admin, &["hosts:add", "plain", "--docker-host", &plain])
        .fails();
    assert!(refused.contains(&plain), "{refused}");
    assert!(
        refused.contains("TLS") || refused.contains("no Docker engine answers"),
        "{refused}"
    );

    // An engine already in a swarm of its own is refused and left as it was.
    block_on(async {
        let h3_engine = cluster.engine(2).await;
        h3_engine
            .init_swarm(&cluster.address(2).to_string())
            .await
            .unwrap();
    });
    let refused = world
        .berth_as(&admin, &["hosts:add", "h3", "--docker-host", &h3])
        .fails();
    assert!(
        refused.contains("is already part of another swarm")
            && refused.contains("docker swarm leave"),
        "{refused}"
    );
    assert!(matches!(membership(&cluster, 2), Membership::Member { .. }));
    assert_eq!(
        hosts(&world, &admin),
        [host("default", "manager", "ready", "active")]
    );

    // The first host added makes the default host a Swarm manager.
    let added = world
        .berth_as(
            &admin,
            &[
                "hosts:add",
                "h2",
                "--docker-host",
                &h2,
                "--label",
                "zone=b",
                "--json",
            ],
        )
        .json();
    assert_eq!(added["name"], "h2");
    assert_eq!(added["address"], h2.as_str());
    assert_eq!(added["role"], "worker");
    assert_eq!(added["state"], "ready");
    assert_eq!(added["labels"]["zone"], "b");
    assert!(
        matches!(
            membership(&cluster, 0),
            Membership::Member {
                is_manager: true,
                ..
            }
        ),
        "the default host manages the swarm"
    );
    let Membership::Member { node_id, .. } = membership(&cluster, 1) else {
        panic!("h2 joined no swarm");
    };
    let nodes = block_on(async { cluster.engine(0).await.swarm_nodes().await.unwrap() });
    let node = nodes.iter().find(|node| node.id == node_id).unwrap();
    assert_eq!(
        node.labels.get("berth.host").map(String::as_str),
        Some("h2")
    );
    assert_eq!(node.labels.get("zone").map(String::as_str), Some("b"));
    assert_eq!(
        hosts(&world, &admin),
        [
            host("default", "manager", "ready", "active"),
            host("h2", "worker", "ready", "active"),
        ]
    );
    let table = world.berth_as(&admin, &["hosts"]).ok();
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains(&h2), "{table}");

    // Names and engines are the platform's once.
    let refused = world
        .berth_as(&admin, &["hosts:add", "h2", "--docker-host", &h3])
        .fails();
    assert_eq!(
        refused,
        "error: a host named h2 already exists: choose another name"
    );
    let refused = world
        .berth_as(&admin, &["hosts:add", "again", "--docker-host", &h2])
        .fails();
    assert_eq!(
        refused,
        format!("error: the engine at {h2} is already the host h2")
    );
    let refused = world
        .berth_as(&admin, &["hosts:add", "Bad_Name", "--docker-host", &h3])
        .fails();
    assert!(refused.contains("host name \"Bad_Name\""), "{refused}");

    // A host that takes dynos is drained before it is removed.
    let refused = world.berth_as(&admin, &["hosts:remove", "h2"]).fails();
    assert!(
        refused.contains("run `berth hosts:drain h2` first"),
        "{refused}"
    );
    let refused = world.berth_as(&admin, &["hosts:remove", "default"]).fails();
    assert!(refused.contains("is the default host"), "{refused}");
    let drained = world
        .berth_as(&admin, &["hosts:drain", "h2", "--json"])
        .json();
    assert_eq!(drained["availability"], "drain");
    world.berth_as(&admin, &["hosts:remove", "h2"]).ok();
    assert_eq!(membership(&cluster, 1), Membership::Alone);
    let nodes = block_on(async { cluster.engine(0).await.swarm_nodes().await.unwrap() });
    assert!(nodes.iter().all(|node| node.id != node_id), "{nodes:?}");
    assert_eq!(
        hosts(&world, &admin),
        [host("default", "manager", "ready", "active")]
    );
    let refused = world.berth_as(&admin, &["hosts:drain", "h2"]).fails();
    assert!(refused.contains("host h2 not found"), "{refused}");

    // Every change is in the platform's audit trail, with who made it.
    let trail = world.berth_as(&admin, &["audit", "--json"]).json();
    let changes: Vec<(&str, &str)> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["action"].as_str().unwrap().starts_with("host."))
        .map(|event| {
            (
                event["action"].as_str().unwrap(),
                event["actor"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("host.add", "root@example.com"),
            ("host.drain", "root@example.com"),
            ("host.remove", "root@example.com"),
        ]
    );
}

#[test]
fn adding_a_host_needs_a_registry() {
    let world = World::new();
    let admin = world.server.create_user("root@example.com", true, None);
    let refused = world
        .berth_as(
            &admin,
            &["hosts:add", "h2", "--docker-host", "tcp://127.0.0.1:9"],
        )
        .fails();
    assert!(
        refused.contains("adding a host needs a registry: set BERTH_REGISTRY=HOST:PORT"),
        "{refused}"
    );
    let refused = world
        .berth_as(
            &admin,
            &[
                "hosts:add",
                "h2",
                "--docker-host",
                "unix:///var/run/docker.sock",
            ],
        )
        .fails();
    assert!(refused.contains("tcp://HOST:PORT"), "{refused}");
}

/// A cluster of two engines, berthd on the first, the second added as h2;
/// and a platform admin's token.
fn two_hosts(prefix: &str) -> (Cluster, World, String) {
    let cluster = Cluster::start(prefix, 2);
    let world = World::with_settings(|settings| {
        settings.docker_host = Some(cluster.docker_host(0));
        settings.docker_cert_path = Some(cluster.cert_dir().to_path_buf());
        settings.registry = Some(cluster.registry().to_string());
    });
    let admin = world.server.create_user("root@example.com", true, None);
    world
        .berth_as(
            &admin,
            &["hosts:add", "h2", "--docker-host", &cluster.docker_host(1)],
        )
        .ok();
    (cluster, world, admin)
}

/// Two checks on one cluster (each cluster is two more engines on a
/// 2-core machine): a volume pins its process type to the host that keeps
/// it, and a promotion runs the registry's copy on another host.
#[test]
fn a_volume_pins_its_process_type_and_a_promotion_runs_on_another_host() {
    let (cluster, world, _admin) = two_hosts("bvp");
    let app = AppCheckout::new(&world, "pinned", None);
    app.berth(&["volumes:create", "data", "--path", "/data", "-p", "web"])
        .ok();
    app.push();
    let volumes = app.berth(&["volumes", "--json"]).json();
    assert_eq!(volumes[0]["host"], "default", "{volumes}");
    // Spread over both hosts otherwise, web's three dynos all run where
    // the volume is.
    assert_eq!(app.berth(&["ps:scale", "web=3"]).ok(), "web=3\n");
    let placed = wait_for_dynos(&app, "three dynos up", |dynos| {
        dynos.len() == 3 && dynos.iter().all(|d| d.2 == "up")
    });
    assert!(placed.iter().all(|d| d.1 == "default"), "{placed:?}");
    app.berth(&["apps:destroy", "--confirm", &app.name, "--volumes"])
        .ok();

    promotion_runs_stagings_image_from_the_registry_on_another_host(&cluster, &world);
}

#[test]
fn a_push_the_registry_does_not_take_fails_and_the_old_release_serves_on() {
    let (mut cluster, world, _admin) = two_hosts("brg");
    let app = AppCheckout::new(&world, "registry", None);
    app.push();
    assert_eq!(visit(&world, &app.name).unwrap(), "web.1 v1\n");

    cluster.stop_registry();
    app.repo.write("www/release.txt", "v2");
    app.repo.commit("v2");
    let push = world
        .command("git", app.repo.path())
        .args(["push", "platform", "main"])
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&push.stderr);
    assert!(!push.status.success(), "{output}");
    assert!(
        output.contains(&format!("the registry at {}", cluster.registry())),
        "the push says the registry is why:\n{output}"
    );
    // v1 serves on, v2 is a failed release, and nothing of v2 runs anywhere.
    assert_eq!(visit(&world, &app.name).unwrap(), "web.1 v1\n");
    let releases = app.berth(&["releases", "--json"]).json();
    let summary: Vec<(i64, String, bool)> = releases
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["version"].as_i64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
                r["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        summary.contains(&(1, "succeeded".into(), true))
            && summary.contains(&(2, "failed".into(), false)),
        "{summary:?}"
    );
    let running = dynos(&app);
    assert_eq!(running.len(), 1, "{running:?}");

    // With the registry back, the next push deploys.
    cluster.start_registry();
    app.push();
    assert_eq!(visit(&world, &app.name).unwrap(), "web.1 v3\n");
}

/// An address of the cluster's network where nothing listens.
fn nowhere_in(cluster: &Cluster) -> Ipv4Addr {
    let [a, b, c, _] = cluster.address(0).octets();
    let address = Ipv4Addr::new(a, b, c, 250);
    cluster.check_route(address);
    address
}

/// `(dyno, host, state)` of each of the app's dynos, from `berth ps --json`.
fn dynos(app: &AppCheckout) -> Vec<(String, String, String)> {
    app.berth(&["ps", "--json"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|dyno| {
            let field = |name: &str| dyno[name].as_str().unwrap_or_default().to_string();
            (field("name"), field("host"), field("state"))
        })
        .collect()
}

/// Polls (bounded) until `done` holds of the app's dynos; panics with the last seen.
fn wait_for_dynos(
    app: &AppCheckout,
    what: &str,
    done: impl Fn(&[(String, String, String)]) -> bool,
) -> Vec<(String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let seen = dynos(app);
        if done(&seen) {
            return seen;
        }
        assert!(Instant::now() < deadline, "{what}: still {seen:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The app's dynos still running as plain containers on the default
/// host's engine (not as tasks of the swarm).
fn plain_dynos_on_default(cluster: &Cluster, app: &str) -> usize {
    block_on(async {
        let engine = cluster.engine(0).await;
        engine
            .containers(&[("berth.app", app)])
            .await
            .unwrap()
            .iter()
            .filter(|c| {
                !c.is_swarm_task() && c.process.as_ref().is_some_and(|p| p.is_formation_dyno())
            })
            .count()
    })
}

/// Runs `action` while a client requests the app every 20 ms (bounded in
/// count and time); the requests' failures, and how many were served.
fn while_requests_flow(world: &World, app: &str, action: impl FnOnce()) -> (Vec<String>, usize) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let requests = scope.spawn(|| {
            let (mut failures, mut served) = (Vec::new(), 0);
            let deadline = Instant::now() + Duration::from_secs(180);
            for _ in 0..5_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                match visit(world, app) {
                    Ok(_) => served += 1,
                    Err(error) => failures.push(error),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (failures, served)
        });
        action();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        requests.join().unwrap()
    })
}

/// Whether the engine of host `index` holds `image`.
fn has_image(cluster: &Cluster, index: usize, image: &str) -> bool {
    block_on(async {
        cluster
            .engine(index)
            .await
            .image_exists(image)
            .await
            .unwrap()
    })
}

#[test]
fn apps_move_onto_the_swarm_without_a_failed_request_spread_and_survive_a_host() {
    let mut cluster = Cluster::start("bsm", 2);
    let world = World::with_settings(|settings| {
        settings.image_retention = 1;
        settings.docker_host = Some(cluster.docker_host(0));
        settings.docker_cert_path = Some(cluster.cert_dir().to_path_buf());
        settings.registry = Some(cluster.registry().to_string());
    });
    let admin = world.server.create_user("root@example.com", true, None);
    let app = AppCheckout::new(&world, "swarm", None);
    app.push();
    assert!(visit(&world, &app.name).unwrap().starts_with("web.1 "));
    assert_eq!(plain_dynos_on_default(&cluster, &app.name), 1);

    // Requests keep coming while the platform grows.
    let (failures, served) = while_requests_flow(&world, &app.name, || {
        let added = Instant::now();
        world
            .berth_as(
                &admin,
                &["hosts:add", "h2", "--docker-host", &cluster.docker_host(1)],
            )
            .ok();
        // Any change refreshes the router's table (here maintenance:off) —
        // while web.1 still runs only on the default engine, it stays there.
        app.berth(&["maintenance:off"]).ok();
        // The reconciler moves web.1 onto a swarm service, then retires the old container.
        let deadline = Instant::now() + Duration::from_secs(120);
        while plain_dynos_on_default(&cluster, &app.name) > 0 {
            assert!(
                Instant::now() < deadline,
                "web.1 never moved onto the swarm"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!(
            "moved onto the swarm {:.1?} after hosts:add",
            added.elapsed()
        );
        std::thread::sleep(Duration::from_secs(2));
    });
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {failures:?}",
        failures.len(),
        failures.len() + served
    );
    assert!(served > 10, "only {served} requests were served");
    let moved = wait_for_dynos(&app, "web.1 up on the swarm", |dynos| {
        dynos.len() == 1 && dynos[0].2 == "up"
    });
    assert!(
        ["default", "h2"].contains(&moved[0].1.as_str()),
        "{moved:?}"
    );

    // Scaled, the dynos spread over both hosts and all of them serve.
    assert_eq!(app.berth(&["ps:scale", "web=2"]).ok(), "web=2\n");
    let spread = wait_for_dynos(&app, "two dynos up", |dynos| {
        dynos.len() == 2 && dynos.iter().all(|d| d.2 == "up")
    });
    let mut placed_on: Vec<&str> = spread.iter().map(|d| d.1.as_str()).collect();
    placed_on.sort_unstable();
    assert_eq!(placed_on, ["default", "h2"], "{spread:?}");
    let mut answered = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let text = visit(&world, &app.name).unwrap();
        answered.insert(
            text.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string(),
        );
        if answered.len() == 2 {
            break;
        }
    }
    assert_eq!(answered.into_iter().collect::<Vec<_>>(), ["web.1", "web.2"]);
    // Both dynos' output (httpd logs each request) is in the app's one log,
    // under the dyno names, whichever host each runs on.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = app.berth(&["logs", "-n", "1000"]).ok();
        if log.contains("app[web.1]:") && log.contains("app[web.2]:") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not both dynos in the log:\n{log}"
        );
        visit(&world, &app.name).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    // Each dyno's memory is read from the engine of the host it runs on.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let measured = app.berth(&["ps", "--json"]).json();
        let hosts_measured: Vec<&str> = measured
            .as_array()
            .unwrap()
            .iter()
            .filter(|dyno| dyno["memory_bytes"].as_u64().is_some_and(|bytes| bytes > 0))
            .filter_map(|dyno| dyno["host"].as_str())
            .collect();
        if hosts_measured.contains(&"h2") && hosts_measured.contains(&"default") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no memory measured on both hosts: {measured}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let listed = world.berth_as(&admin, &["hosts", "--json"]).json();
    let on_h2 = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "h2")
        .unwrap()["dynos"]
        .clone();
    assert_eq!(on_h2, 1, "{listed}");

    // One-offs work on a platform of many hosts as on one: piped, on a
    // terminal and detached, with their exit codes.
    let piped = app.berth(&[
        "run",
        "-x",
        "--",
        "/bin/sh",
        "-c",
        "echo from-$DYNO; exit 3",
    ]);
    assert_eq!(piped.code, Some(3), "{}", piped.stderr);
    assert!(piped.stdout.starts_with("from-run."), "{}", piped.stdout);
    let mut terminal = OnTerminal::spawn(&world, &["run", "-x", "-a", &app.name, "sh"], 24, 80);
    terminal.type_in("echo hi-$((6*7))\r");
    terminal.wait_for("hi-42", 1);
    terminal.type_in("exit 5\r");
    assert_eq!(terminal.exit_code(), Some(5), "{}", terminal.shown());
    let detached = app
        .berth(&["run:detached", "--json", "echo detached-$((2*3)); exit 4"])
        .json();
    let dyno = detached["dyno"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = app.berth(&["logs", "-n", "1000"]).ok();
        if log.contains(&format!("app[{dyno}]: detached-6"))
            && log.contains(&format!("berth[{dyno}]: Process exited with status 4"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "{dyno} not in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Old images go from every host, not only from the one that built them:
    // with one release kept, v1's image leaves h2 once v3 runs.
    let v1_image = format!("{}/berth/{}:v1-web", cluster.registry(), app.name);
    assert!(
        has_image(&cluster, 1, &v1_image),
        "h2 pulled v1 to run web.2"
    );
    // Deploys, a config change and a rollback on two hosts: not one failed request.
    let (failures, served) = while_requests_flow(&world, &app.name, || {
        for version in ["v2", "v3"] {
            app.repo.write("www/release.txt", version);
            app.repo.commit(version);
            app.push();
        }
        app.berth(&["config:set", "GREETING=hello"]).ok();
        app.berth(&["releases:rollback", "v3"]).ok();
    });
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during deploys, config:set and rollback: {failures:?}",
        failures.len(),
        failures.len() + served
    );
    let releases = app.berth(&["releases", "--json"]).json();
    assert!(
        releases
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["version"] == 5 && r["current"] == true && r["status"] == "succeeded"),
        "{releases}"
    );
    assert!(
        !has_image(&cluster, 1, &v1_image),
        "v1's image is still on h2"
    );
    let v1_built_as = format!("berth/{}:v1-web", app.name);
    assert!(
        !has_image(&cluster, 0, &v1_image) && !has_image(&cluster, 0, &v1_built_as),
        "v1's image is still on the default host"
    );

    // h2 dies: within 30 s its dyno is no longer routed to and runs again on
    // the default host; the swarm shows h2 down.
    cluster.kill_engine(1);
    let killed = Instant::now();
    wait_for_dynos(
        &app,
        "every dyno up on the default host once h2 died",
        |dynos| dynos.len() == 2 && dynos.iter().all(|d| d.1 == "default" && d.2 == "up"),
    );
    let moved_after = killed.elapsed();
    eprintln!("h2 died: every dyno up on the default host {moved_after:.1?} later");
    assert!(moved_after < Duration::from_secs(30), "{moved_after:?}");
    let log = app.berth(&["logs", "-n", "1000"]).ok();
    assert!(
        log.contains("State changed from up to starting: its host h2 is down"),
        "{log}"
    );
    assert!(!log.contains("crashed"), "a lost host is no crash:\n{log}");
    for _ in 0..10 {
        visit(&world, &app.name).unwrap();
    }
    assert!(
        hosts(&world, &admin).contains(&host("h2", "worker", "down", "active")),
        "{:?}",
        hosts(&world, &admin)
    );

    // Back again, h2 runs nothing twice: its old task is stopped.
    cluster.start_engine(1);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let running_on_h2 = block_on(async {
            cluster
                .engine(1)
                .await
                .containers(&[("berth.app", app.name.as_str())])
                .await
                .map(|containers| containers.iter().filter(|c| c.state == "running").count())
                .unwrap_or(usize::MAX)
        });
        let listed = hosts(&world, &admin);
        if running_on_h2 == 0 && listed.contains(&host("h2", "worker", "ready", "active")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "h2 still runs {running_on_h2} dyno(s): {listed:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(dynos(&app).len(), 2);

    // A third dyno goes to h2, the emptier host; drained, h2's dyno moves
    // to the default host, and then h2 leaves.
    assert_eq!(app.berth(&["ps:scale", "web=3"]).ok(), "web=3\n");
    wait_for_dynos(&app, "a dyno up on h2 again", |dynos| {
        dynos.len() == 3 && dynos.iter().all(|d| d.2 == "up") && dynos.iter().any(|d| d.1 == "h2")
    });
    // Drained under load, h2's dyno starts on the default host and serves
    // before the one on h2 stops: not one request fails.
    let (failures, served) = while_requests_flow(&world, &app.name, || {
        let drained = world
            .berth_as(&admin, &["hosts:drain", "h2", "--json"])
            .json();
        assert_eq!(drained["availability"], "drain", "{drained}");
        assert_eq!(drained["dynos"], 0, "{drained}");
    });
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during the drain: {failures:?}",
        failures.len(),
        failures.len() + served
    );
    let after = dynos(&app);
    assert!(
        after.len() == 3 && after.iter().all(|d| d.1 == "default" && d.2 == "up"),
        "{after:?}"
    );
    let log = app.berth(&["logs", "-n", "1000"]).ok();
    let (_, since_drain) = log
        .split_once("Moving off host h2, drained by root@example.com")
        .unwrap_or_else(|| panic!("no move in the log:\n{log}"));
    assert!(
        !since_drain.contains("crashed"),
        "a drain is no crash:\n{since_drain}"
    );
    // A destroyed app's images go from every host too.
    let v3_image = format!("{}/berth/{}:v3-web", cluster.registry(), app.name);
    assert!(
        has_image(&cluster, 1, &v3_image),
        "h2 pulled v3 to run a dyno"
    );
    app.berth(&["apps:destroy", "--confirm", &app.name]).ok();
    assert!(
        !has_image(&cluster, 1, &v3_image),
        "the destroyed app's image is still on h2"
    );
    world.berth_as(&admin, &["hosts:remove", "h2"]).ok();
    assert_eq!(membership(&cluster, 1), Membership::Alone);
}

fn promotion_runs_stagings_image_from_the_registry_on_another_host(
    cluster: &Cluster,
    world: &World,
) {
    let staging = berth_testkit::unique_app_name("stage");
    let prod = berth_testkit::unique_app_name("prod");
    for app in [&staging, &prod] {
        world.berth(&["apps:create", app, "--no-remote"]).ok();
    }
    let pipeline = format!("{prod}-p");
    world
        .berth(&[
            "pipelines:create",
            &pipeline,
            "-a",
            &staging,
            "--stage",
            "staging",
        ])
        .ok();
    world
        .berth(&[
            "pipelines:add",
            &pipeline,
            "-a",
            &prod,
            "--stage",
            "production",
        ])
        .ok();
    let repo = berth_testkit::AppRepo::from_fixture("procfile");
    let pushed = world
        .command("git", repo.path())
        .args([
            "push",
            &format!("{}/{staging}.git", world.server.api_url),
            "main",
        ])
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    world.berth(&["pipelines:promote", "-a", &staging]).ok();
    // Two dynos spread over both hosts: h2 pulls prod's copy of the image
    // from the registry, under prod's name.
    world.berth(&["ps:scale", "web=2", "-a", &prod]).ok();
    let deadline = Instant::now() + Duration::from_secs(120);
    let placed = loop {
        let seen: Vec<(String, String)> = world
            .berth(&["ps", "-a", &prod, "--json"])
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["host"].as_str().unwrap_or_default().to_string(),
                    d["state"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        if seen.len() == 2 && seen.iter().all(|(_, state)| state == "up") {
            break seen;
        }
        assert!(Instant::now() < deadline, "prod's dynos: still {seen:?}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(placed.iter().any(|(host, _)| host == "h2"), "{placed:?}");
    let copy = format!("{}/berth/{prod}:v1-web", cluster.registry());
    assert!(has_image(cluster, 1, &copy), "h2 ran {copy}");
    let served = visit(world, &prod).unwrap();
    assert!(served.ends_with(" v1\n"), "{served}");
    let release = world.berth(&["releases", "-a", &prod, "--json"]).json();
    assert_eq!(release[0]["description"], format!("Promote {staging} v1"));
}
