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

/// An address of the cluster's network where nothing listens.
fn nowhere_in(cluster: &Cluster) -> Ipv4Addr {
    let [a, b, c, _] = cluster.address(0).octets();
    let address = Ipv4Addr::new(a, b, c, 250);
    cluster.check_route(address);
    address
}
