//! The multi-host harness end to end: engines in network namespaces reached
//! over mutual TLS through `berth_docker::Engine`, a Swarm across them, an
//! image pushed to the cluster's registry and served by a service's tasks on
//! both hosts; and teardown leaving nothing behind.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_docker::{DockerError, Engine, EngineTarget, EngineTls};
use berth_testkit::{busybox_image, form_swarm, http_get, Cluster, TestServer, Untrusted};
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement, TaskState,
};
use bollard::query_parameters::{ListTasksOptions, PushImageOptions};
use futures_util::StreamExt;

/// The port the app listens on inside its container.
const APP_PORT: i64 = 8000;

#[tokio::test]
async fn a_two_host_swarm_serves_an_image_from_the_registry_on_both_hosts() {
    let started = Instant::now();
    let cluster = Cluster::start("bmh", 2);
    let bring_up = started.elapsed();
    let (h1, h2) = (cluster.engine(0).await, cluster.engine(1).await);

    let (info1, info2) = (
        h1.api().info().await.unwrap(),
        h2.api().info().await.unwrap(),
    );
    assert_eq!(info1.name.as_deref(), Some("h1"));
    assert_eq!(info2.name.as_deref(), Some("h2"));
    assert_ne!(info1.id, info2.id, "each engine has an ID of its own");
    eprintln!(
        "memory: h1 {} MiB, h2 {} MiB (engine, containerd)",
        cluster.resident_memory(0) >> 20,
        cluster.resident_memory(1) >> 20
    );

    let swarm_started = Instant::now();
    form_swarm(&cluster, Duration::from_secs(5)).await;
    eprintln!("swarm of 2: {:.1?}", swarm_started.elapsed());

    let image_started = Instant::now();
    let repository = format!("{}/bmh-web", cluster.registry());
    let image = format!("{repository}:1");
    h1.build_image(busybox_image(&image, &served_by_msg()), |_| {})
        .await
        .unwrap();
    push(&h1, &repository, "1").await;
    eprintln!("build and push: {:.1?}", image_started.elapsed());

    let service_started = Instant::now();
    h1.api()
        .create_service(web_service(&image), None)
        .await
        .unwrap();
    let tasks = running_tasks(&h1, "web", 2).await;
    eprintln!("2 tasks running: {:.1?}", service_started.elapsed());

    let nodes: HashMap<String, Ipv4Addr> = h1
        .api()
        .list_nodes(None)
        .await
        .unwrap()
        .into_iter()
        .map(|node| {
            let address = node.status.and_then(|status| status.addr).unwrap();
            (node.id.unwrap(), address.parse().unwrap())
        })
        .collect();
    let mut answered = BTreeSet::new();
    for (node, port) in tasks {
        let address = nodes[&node];
        cluster.check_route(address);
        let body = http_get((address, port).into()).await;
        answered.insert(body.trim().to_string());
    }
    assert_eq!(
        answered,
        BTreeSet::from(["served by h1".to_string(), "served by h2".to_string()]),
        "one task on each host, each reached at its host's address"
    );

    let (name, state_dir) = (
        cluster.name().to_string(),
        cluster.state_dir().to_path_buf(),
    );
    let teardown_started = Instant::now();
    drop((h1, h2));
    drop(cluster);
    let teardown = teardown_started.elapsed();
    assert_nothing_left(&name, &state_dir);
    eprintln!(
        "bring-up {bring_up:.1?}, teardown {teardown:.1?}, all {:.1?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn engines_take_only_the_cluster_s_certificates() {
    let mut cluster = Cluster::start("bmt", 1);
    let engine = cluster.engine(0).await;
    let info = engine.info().await.unwrap();
    assert!(!info.version.is_empty());
    assert_eq!(engine.host(), cluster.docker_host(0));

    // The material read once reaches another address too (here: the same
    // engine through a second target); an engine with another CA's
    // certificate would be refused with it.
    let again = EngineTarget::parse(&cluster.docker_host(0))
        .unwrap()
        .with_tls(cluster.client_tls().clone());
    Engine::connect(&again).await.unwrap();

    let wrong_ca = cluster.untrusted_cert_dir(Untrusted::Ca);
    let error = connect_with(&cluster, wrong_ca.path()).await;
    assert!(matches!(error, DockerError::Tls { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("not signed by"), "{message}");
    assert!(
        message.contains(&wrong_ca.path().join("ca.pem").display().to_string()),
        "{message}"
    );

    let foreign_client = cluster.untrusted_cert_dir(Untrusted::ClientCertificate);
    let error = connect_with(&cluster, foreign_client.path()).await;
    assert!(matches!(error, DockerError::Tls { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("refused the client certificate"),
        "{message}"
    );

    // Without a client certificate there is nothing to connect with.
    let no_client = tempfile::tempdir().unwrap();
    std::fs::copy(
        cluster.cert_dir().join("ca.pem"),
        no_client.path().join("ca.pem"),
    )
    .unwrap();
    let error = EngineTls::load(no_client.path()).unwrap_err().to_string();
    assert!(error.contains("cert.pem"), "{error}");

    // berthd itself, set up as a user would (BERTH_DOCKER_HOST and
    // BERTH_DOCKER_CERT_PATH), starts only once the engine answered it.
    let server = TestServer::start_with(|settings| {
        settings.docker_host = Some(cluster.docker_host(0));
        settings.docker_cert_path = Some(cluster.cert_dir().to_path_buf());
    });
    drop(server);

    // A host cut off at the link does not answer; plugged in again, it does.
    let engine_address = (cluster.address(0), berth_testkit::ENGINE_PORT);
    cluster.cut_link(0);
    let cut_off = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect(engine_address),
    )
    .await;
    assert!(
        !matches!(cut_off, Ok(Ok(_))),
        "a host cut off still answers"
    );
    cluster.restore_link(0);
    cluster.engine(0).await;

    // A killed engine is unreachable, not a TLS failure; started again, it answers.
    cluster.kill_engine(0);
    let error = Engine::connect(&cluster.target(0)).await.err().unwrap();
    assert!(error.is_unreachable(), "{error}");
    cluster.start_engine(0);
    cluster.engine(0).await;
}

async fn connect_with(cluster: &Cluster, cert_dir: &Path) -> DockerError {
    cluster.check_route(cluster.address(0));
    let tls = EngineTls::load(cert_dir).unwrap();
    let target = EngineTarget::parse(&cluster.docker_host(0))
        .unwrap()
        .with_tls(tls);
    Engine::connect(&target)
        .await
        .err()
        .expect("the connection fails")
}

/// An httpd saying which node (`$MSG`, set per task by Swarm) serves it.
fn served_by_msg() -> String {
    format!(
        "mkdir -p /www && echo \"served by $MSG\" > /www/index.html && exec httpd -f -p {APP_PORT} -h /www"
    )
}

async fn push(engine: &Engine, repository: &str, tag: &str) {
    let options = PushImageOptions {
        tag: Some(tag.into()),
        ..Default::default()
    };
    let mut progress = engine.api().push_image(repository, Some(options), None);
    while let Some(message) = progress.next().await {
        let message = message.unwrap();
        assert!(message.error_detail.is_none(), "push: {message:?}");
    }
}

/// Two replicas, at most one per node, each publishing the app's port on
/// an ephemeral port of its host (host mode: no routing mesh here).
fn web_service(image: &str) -> ServiceSpec {
    ServiceSpec {
        name: Some("web".into()),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(2) }),
            ..Default::default()
        }),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image.into()),
                env: Some(vec!["MSG={{.Node.Hostname}}".into()]),
                ..Default::default()
            }),
            placement: Some(TaskSpecPlacement {
                max_replicas: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ports: Some(vec![EndpointPortConfig {
                protocol: Some(EndpointPortConfigProtocolEnum::TCP),
                target_port: Some(APP_PORT),
                publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
                ..Default::default()
            }]),
        }),
        ..Default::default()
    }
}

/// Waits (bounded) until `count` tasks of `service` run and returns each
/// one's node id and published port.
async fn running_tasks(engine: &Engine, service: &str, count: usize) -> Vec<(String, u16)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let filters = HashMap::from([
        ("service".to_string(), vec![service.to_string()]),
        ("desired-state".to_string(), vec!["running".to_string()]),
    ]);
    loop {
        let tasks = engine
            .api()
            .list_tasks(Some(ListTasksOptions {
                filters: Some(filters.clone()),
            }))
            .await
            .unwrap();
        let running: Vec<(String, u16)> = tasks
            .iter()
            .filter_map(|task| {
                let status = task.status.as_ref()?;
                if status.state != Some(TaskState::RUNNING) {
                    return None;
                }
                let port = status
                    .port_status
                    .as_ref()?
                    .ports
                    .as_ref()?
                    .first()?
                    .published_port?;
                Some((task.node_id.clone()?, u16::try_from(port).ok()?))
            })
            .collect();
        if running.len() >= count {
            return running;
        }
        assert!(
            Instant::now() < deadline,
            "{count} tasks of {service} did not run within 60 s: {tasks:#?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// No namespace, process, mount or state directory of cluster `name` is left.
fn assert_nothing_left(name: &str, state_dir: &Path) {
    let namespaces: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|entry| entry.starts_with(name))
                .collect()
        })
        .unwrap_or_default();
    assert!(namespaces.is_empty(), "namespaces left: {namespaces:?}");
    let links = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(!links.contains(&format!(" {name}@")), "veth left: {links}");
    let state = state_dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&state), "mounts left under {state}");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(command) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let command = String::from_utf8_lossy(&command).replace('\0', " ");
        assert!(!command.contains(&state), "process left: {command}");
    }
    assert!(!state_dir.exists(), "{state} is left");
}

#[test]
fn what_a_crashed_run_left_is_removed_at_the_next_start() {
    // A process id nobody has: a child that exited and was reaped.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let stale = format!("bst-{pid:x}-0");
    let (switch, host) = (format!("{stale}-sw"), format!("{stale}-h1"));
    for netns in [&switch, &host] {
        run("ip", &["netns", "add", netns]);
    }
    run(
        "ip",
        &[
            "link", "add", &stale, "type", "veth", "peer", "name", "root", "netns", &switch,
        ],
    );
    let mut left_running = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{host}"))
        .args(["--", "sleep", "120"])
        .spawn()
        .unwrap();
    // The clean-up finds processes by their network namespace: wait until
    // nsenter has entered it (under load that can take a moment).
    let netns = std::fs::metadata(format!("/run/netns/{host}"))
        .unwrap()
        .ino();
    let entered = format!("net:[{netns}]");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_link(format!("/proc/{}/ns/net", left_running.id()))
        .map_or(true, |link| link.to_string_lossy() != entered)
    {
        assert!(Instant::now() < deadline, "nsenter never entered {host}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let state_dir = std::env::temp_dir().join(format!("{stale}.crashed"));
    std::fs::create_dir_all(state_dir.join("h1")).unwrap();

    let cluster = Cluster::start("bst", 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while left_running.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "a process of the crashed run still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(cluster);
    assert_nothing_left(&stale, &state_dir);
}

/// Runs `program` with `args` and asserts that it succeeded.
fn run(program: &str, args: &[&str]) {
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "{program} {args:?}: {status}");
}
