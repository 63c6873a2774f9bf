//! `berth_docker::Swarm`, the runtime of many hosts, against real engines:
//! a swarm over a cluster of engines in network namespaces, images through
//! the cluster's registry. Each test brings its own cluster (about 1 s to
//! start) and tears it down when it ends, also when it fails.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use berth_docker::{
    app_labels, Attachment, Availability, ContainerSelector, ContainerSummary, DockerError, Engine,
    ImageRegistry, Limits, LogLine, ProcessIdentity, ProcessSpec, RunOptions, Runtime, Swarm,
};
use berth_testkit::{busybox_image, form_swarm, http_get, Cluster};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptions, ListServicesOptions, ListTasksOptions,
};
use futures_util::StreamExt;

/// The port web dynos listen on (`$PORT`).
const PORT: u16 = 5000;
/// The swarm's heartbeat: a dead host is marked down within about 7 s.
const HEARTBEAT: Duration = Duration::from_secs(2);
const APP: &str = "shop";
/// Serves a page naming its dyno and its host (Swarm fills in
/// `{{.Node.Hostname}}`), after saying so on stdout.
const WEB: &str = "mkdir -p /www && echo \"$DYNO on $NODE\" > /www/index.html \
                   && echo \"listening on $PORT\" && exec httpd -f -v -p $PORT -h /www";

/// A swarm over a fresh cluster of `hosts` engines, and the image of the
/// web process built and pushed through it.
async fn swarm(prefix: &str, hosts: usize) -> (Cluster, Swarm, String) {
    let cluster = Cluster::start(prefix, hosts);
    form_swarm(&cluster, HEARTBEAT).await;
    let swarm = Swarm::new(
        cluster.engine(0).await,
        ImageRegistry::new(cluster.registry().to_string()),
    );
    let mut output = Vec::new();
    let mut request = busybox_image(&format!("berth/{APP}:v1-web"), WEB);
    request.labels = app_labels(APP);
    let image = swarm
        .build_image(request, |line| output.push(line.to_string()))
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", output.join("\n")));
    assert_eq!(image, format!("{}/berth/{APP}:v1-web", cluster.registry()));
    assert!(
        output.iter().any(|line| line.contains("digest: sha256:")),
        "the push is reported: {output:?}"
    );
    swarm.ensure_app_network(APP).await.unwrap();
    (cluster, swarm, image)
}

fn platform(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

fn dyno(platform: &str, image: &str, dyno: &str) -> ProcessSpec {
    let process_type = dyno.split_once('.').map_or(dyno, |(t, _)| t);
    let web = process_type == "web";
    let mut env = vec![
        ("DYNO".to_string(), dyno.to_string()),
        ("NODE".to_string(), "{{.Node.Hostname}}".to_string()),
    ];
    if web {
        env.push(("PORT".into(), PORT.to_string()));
    }
    ProcessSpec {
        identity: ProcessIdentity {
            platform: platform.into(),
            app: APP.into(),
            release: 1,
            process_type: process_type.into(),
            dyno: Some(dyno.into()),
            oneoff: None,
        },
        image: image.into(),
        cmd: None,
        env,
        web_port: web.then_some(PORT),
        stop_grace: Duration::from_secs(5),
        limits: Limits {
            memory_bytes: Some(64 << 20),
            pids: Some(64),
            nano_cpus: Some(500_000_000),
        },
        run: RunOptions {
            working_dir: Some("/bin".into()),
            ..RunOptions::default()
        },
        mounts: Vec::new(),
        pinned_host: None,
    }
}

fn with_command(mut spec: ProcessSpec, command: &str) -> ProcessSpec {
    spec.cmd = Some(vec!["/bin/sh".into(), "-c".into(), command.into()]);
    spec
}

async fn dynos(swarm: &Swarm, platform: &str) -> HashMap<String, ContainerSummary> {
    swarm
        .containers_of(ContainerSelector::app(platform, APP))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| Some((c.process.as_ref()?.dyno.clone()?, c)))
        .collect()
}

/// Waits (up to `limit`) until `dyno` is listed as `ready` says; the listing.
async fn wait_for(
    swarm: &Swarm,
    platform: &str,
    dyno: &str,
    limit: Duration,
    ready: impl Fn(&ContainerSummary) -> bool,
) -> ContainerSummary {
    let deadline = Instant::now() + limit;
    loop {
        let listed = dynos(swarm, platform).await.remove(dyno);
        match listed {
            Some(container) if ready(&container) => return container,
            listed if Instant::now() > deadline => {
                panic!("{dyno} not as expected within {limit:?}: {listed:#?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The index of the cluster's host called `name`.
fn host_index(cluster: &Cluster, name: &str) -> usize {
    (0..cluster.len())
        .find(|index| cluster.host_name(*index) == name)
        .unwrap_or_else(|| panic!("no host {name}"))
}

/// Sends only to the cluster's addresses.
async fn get(cluster: &Cluster, address: SocketAddr) -> String {
    let IpAddr::V4(ip) = address.ip() else {
        panic!("{address} is no cluster address")
    };
    cluster.check_route(ip);
    http_get(address).await
}

/// The containers carrying `berth.app=shop` on host `index`'s engine:
/// (labels, running).
async fn app_containers_on(engine: &Engine) -> Vec<(HashMap<String, String>, bool)> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![format!("berth.app={APP}")],
        )])),
        ..Default::default()
    };
    engine
        .api()
        .list_containers(Some(options))
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            let running = c.state.is_some_and(|s| s.as_ref() == "running");
            (c.labels.unwrap_or_default(), running)
        })
        .collect()
}

/// Reads `stream` (bounded) until a line contains `wanted`.
async fn line_containing(
    stream: impl futures_util::Stream<Item = Result<LogLine, DockerError>>,
    wanted: &str,
    limit: Duration,
) -> LogLine {
    let mut stream = std::pin::pin!(stream);
    let mut seen = Vec::new();
    let found = tokio::time::timeout(limit, async {
        while let Some(line) = stream.next().await {
            let line = line.expect("a log line");
            if line.text.contains(wanted) {
                return Some(line);
            }
            seen.push(line.text);
        }
        None
    })
    .await;
    match found {
        Ok(Some(line)) => line,
        _ => panic!("no line with {wanted:?} within {limit:?}; saw {seen:?}"),
    }
}

#[tokio::test]
async fn dynos_run_as_services_spread_over_the_hosts() {
    let started = Instant::now();
    let (cluster, swarm, image) = swarm("bsw", 3).await;
    let platform = platform("bsw");
    // Idempotent, and an attachable overlay network.
    swarm.ensure_app_network(APP).await.unwrap();
    let network = swarm
        .manager()
        .api()
        .inspect_network(
            &berth_docker::swarm_network(APP),
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .unwrap();
    assert_eq!(network.driver.as_deref(), Some("overlay"));
    assert_eq!(network.attachable, Some(true));
    assert_eq!(network.labels.unwrap_or_default()["berth.app"], APP);
    assert!(swarm.image_exists(&image).await.unwrap());
    eprintln!("swarm, image, network: {:.1?}", started.elapsed());

    let placed = Instant::now();
    let (spec1, spec2) = (
        dyno(&platform, &image, "web.1"),
        dyno(&platform, &image, "web.2"),
    );
    let (web1, web2) = tokio::join!(swarm.start_process(&spec1), swarm.start_process(&spec2));
    let (web1, web2) = (web1.unwrap(), web2.unwrap());
    eprintln!("two web dynos running: {:.1?}", placed.elapsed());
    let listed = dynos(&swarm, &platform).await;
    assert_eq!(listed.len(), 2, "{listed:#?}");
    let mut hosts = HashSet::new();
    for (started, name) in [(&web1, "web.1"), (&web2, "web.2")] {
        let container = &listed[name];
        assert_eq!(container.id, started.id, "the id is the service's");
        assert_eq!(container.name, started.name);
        assert_eq!(container.state, "running", "{container:#?}");
        assert!(container.status.starts_with("Up"), "{}", container.status);
        assert_eq!(container.address, started.address);
        let host = container.host.clone().expect("the host it runs on");
        let address = container.address.expect("a web dyno's address");
        let index = host_index(&cluster, &host);
        assert_eq!(address.ip(), IpAddr::V4(cluster.address(index)));
        assert_eq!(
            swarm.published_address(&container.id, PORT).await.unwrap(),
            Some(address)
        );
        assert!(swarm.started_at(&container.id).await.unwrap().is_some());
        let process = container.process.as_ref().unwrap();
        assert_eq!(process.dyno.as_deref(), Some(name));
        assert_eq!(container.labels["berth.release"], "v1");
        assert_eq!(
            get(&cluster, address).await.trim(),
            format!("{name} on {host}")
        );
        hosts.insert(host);
    }
    assert_eq!(hosts.len(), 2, "one dyno per host: {hosts:?}");

    // On the worker's own engine, the task's container carries the dyno's
    // labels and the single engine's hardening.
    let (name, on_worker) = listed
        .iter()
        .find(|(_, c)| c.host.as_deref() != Some(cluster.host_name(0)))
        .expect("a dyno on a worker");
    let worker = cluster
        .engine(host_index(&cluster, on_worker.host.as_deref().unwrap()))
        .await;
    let containers = app_containers_on(&worker).await;
    assert_eq!(containers.len(), 1, "{containers:?}");
    let (labels, running) = &containers[0];
    assert!(running);
    for (key, value) in [
        ("berth.platform", platform.as_str()),
        ("berth.app", APP),
        ("berth.process", "web"),
        ("berth.release", "v1"),
        ("berth.dyno", name.as_str()),
    ] {
        assert_eq!(
            labels.get(key).map(String::as_str),
            Some(value),
            "{labels:?}"
        );
    }
    let task_container = labels["com.docker.swarm.task.name"].clone();
    let inspected = worker
        .api()
        .inspect_container(&task_container, None::<InspectContainerOptions>)
        .await
        .unwrap();
    let host_config = inspected.host_config.unwrap();
    assert_eq!(host_config.init, Some(true));
    assert_eq!(host_config.cap_drop, Some(vec!["ALL".to_string()]));
    assert_eq!(host_config.memory, Some(64 << 20));
    assert_eq!(host_config.pids_limit, Some(64));
    assert_eq!(host_config.nano_cpus, Some(500_000_000));
    assert_eq!(
        inspected
            .config
            .and_then(|config| config.working_dir)
            .as_deref(),
        Some("/bin")
    );
    let log_config = host_config.log_config.unwrap();
    assert_eq!(log_config.typ.as_deref(), Some("json-file"));

    // Its output, from another host, through the manager.
    let line = line_containing(
        swarm.follow_logs(&on_worker.id),
        "listening on 5000",
        Duration::from_secs(15),
    )
    .await;
    assert!(
        (chrono::Utc::now() - line.at).num_seconds() < 120,
        "stamped when written: {}",
        line.at
    );

    // A one-off runs on the manager, on the app's overlay network, where
    // the web dynos answer as `web`; its exit code passes through.
    let mut oneoff = with_command(
        dyno(&platform, &image, "run.1"),
        "wget -qO- http://web:5000/ && exit 7",
    );
    oneoff.identity.oneoff = Some(Attachment::Attached);
    let mut output = Vec::new();
    let code = swarm
        .run_process(&oneoff, Duration::from_secs(30), |line| {
            output.push(line.text)
        })
        .await
        .unwrap();
    assert_eq!(code, 7, "{output:?}");
    assert!(
        output.iter().any(|line| line.starts_with("web.")),
        "a web dyno answered over the overlay network: {output:?}"
    );

    // A detached one-off is a container on the manager, listed with the
    // manager's host name, and stopped and removed by its container id.
    let mut detached = with_command(dyno(&platform, &image, "run.2"), "sleep 60");
    detached.identity.oneoff = Some(Attachment::Detached);
    let started_oneoff = swarm.start_process(&detached).await.unwrap();
    assert_eq!(started_oneoff.id.len(), 64, "a container id");
    let listed = dynos(&swarm, &platform).await;
    assert_eq!(listed["run.2"].state, "running");
    assert_eq!(listed["run.2"].host.as_deref(), Some(cluster.host_name(0)));
    swarm
        .stop_and_remove(&started_oneoff.id, Duration::from_secs(1))
        .await
        .unwrap();

    // Removing the dynos leaves no service, and no container on any host.
    let removed = Instant::now();
    for started in [&web1, &web2] {
        swarm
            .stop_and_remove(&started.id, Duration::from_secs(5))
            .await
            .unwrap();
    }
    eprintln!("two dynos removed: {:.1?}", removed.elapsed());
    assert!(dynos(&swarm, &platform).await.is_empty());
    let services = swarm
        .manager()
        .api()
        .list_services(None::<ListServicesOptions>)
        .await
        .unwrap();
    assert!(services.is_empty(), "{services:#?}");
    for index in 0..cluster.len() {
        let engine = cluster.engine(index).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = app_containers_on(&engine).await;
            if left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} keeps {left:?}",
                cluster.host_name(index)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    swarm.remove_app_network(APP).await.unwrap();
    swarm.remove_app_images(APP).await.unwrap();
    assert!(!swarm.image_exists(&image).await.unwrap());
    eprintln!("all: {:.1?}", started.elapsed());
}

#[tokio::test]
async fn a_crashed_dyno_is_exited_with_its_code_and_starts_again() {
    let (_cluster, swarm, image) = swarm("bsc", 2).await;
    let platform = platform("bsc");
    // Events are read from the start, as berthd's engine watch reads them.
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut stream = swarm
        .events_of(ContainerSelector::app(&platform, APP))
        .boxed();
    let watch = tokio::spawn(async move {
        while let Some(event) = stream.next().await {
            if sender.send(event.unwrap()).is_err() {
                return;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let crashing = with_command(
        dyno(&platform, &image, "worker.1"),
        "echo started; sleep 2; exit 3",
    );
    let started = swarm.start_process(&crashing).await.unwrap();
    assert_eq!(started.address, None, "a worker publishes nothing");

    let crashed = wait_for(
        &swarm,
        &platform,
        "worker.1",
        Duration::from_secs(20),
        |c| c.state == "exited",
    )
    .await;
    assert_eq!(crashed.exit_code(), Some(3), "{}", crashed.status);
    assert_eq!(swarm.exit_code(&started.id, "worker.1").await.unwrap(), 3);
    assert_eq!(swarm.started_at(&started.id).await.unwrap(), None);
    // Swarm does not restart it by itself: the platform does, on its backoff.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(tasks_of(&swarm, &started.id).await, 1);

    // The events saw it come and go.
    let mut seen = Vec::new();
    let died = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.recv().await {
            seen.push(event.action.clone());
            if event.id == started.id && event.action == "die" {
                return;
            }
        }
    })
    .await;
    assert!(died.is_ok(), "events: {seen:?}");
    assert!(seen.contains(&"create".to_string()), "events: {seen:?}");
    watch.abort();

    swarm.start_again(&started.id).await.unwrap();
    assert_eq!(tasks_of(&swarm, &started.id).await, 2, "a new task");
    let again = wait_for(
        &swarm,
        &platform,
        "worker.1",
        Duration::from_secs(20),
        |c| c.state == "running" || c.exit_code().is_some(),
    )
    .await;
    assert_eq!(again.id, started.id, "the same dyno");
    // Its output is the new task's, and ends when the task stops, as a
    // container's does.
    let lines: Vec<String> = tokio::time::timeout(
        Duration::from_secs(20),
        swarm
            .follow_logs(&started.id)
            .map(|line| line.unwrap().text)
            .collect(),
    )
    .await
    .expect("the output ends when the task stops");
    assert_eq!(lines, ["started"]);
    assert_eq!(swarm.exit_code(&started.id, "worker.1").await.unwrap(), 3);

    // An image the registry does not have: a clear error, and no service left.
    let missing = dyno(
        &platform,
        &image.replace(":v1-web", ":v9-missing"),
        "worker.2",
    );
    let error = swarm.start_process(&missing).await.unwrap_err();
    let message = error.to_string();
    eprintln!("{message}");
    assert!(matches!(error, DockerError::Swarm { .. }), "{message}");
    assert!(
        message.contains("berth-shop-v1-worker-2-"),
        "names the service: {message}"
    );
    assert!(message.contains("v9-missing"), "says why: {message}");
    assert!(!dynos(&swarm, &platform).await.contains_key("worker.2"));
}

/// How many tasks service `id` has had.
async fn tasks_of(swarm: &Swarm, id: &str) -> usize {
    let options = ListTasksOptions {
        filters: Some(HashMap::from([(
            "service".to_string(),
            vec![id.to_string()],
        )])),
    };
    swarm
        .manager()
        .api()
        .list_tasks(Some(options))
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_dyno_on_a_dead_host_is_lost_and_placed_elsewhere() {
    let (mut cluster, swarm, image) = swarm("bsd", 2).await;
    let platform = platform("bsd");
    let (spec1, spec2) = (
        dyno(&platform, &image, "web.1"),
        dyno(&platform, &image, "web.2"),
    );
    let (web1, web2) = tokio::join!(swarm.start_process(&spec1), swarm.start_process(&spec2));
    let (web1, web2) = (web1.unwrap(), web2.unwrap());
    let listed = dynos(&swarm, &platform).await;
    let (lost_dyno, survivor) = if listed["web.1"].host.as_deref() == Some(cluster.host_name(1)) {
        (&web1, "web.2")
    } else {
        (&web2, "web.1")
    };
    let lost_name = if lost_dyno.id == web1.id {
        "web.1"
    } else {
        "web.2"
    };
    assert_eq!(
        listed[lost_name].host.as_deref(),
        Some(cluster.host_name(1)),
        "one dyno per host: {listed:#?}"
    );

    let killed = Instant::now();
    cluster.kill_engine(1);
    let lost = wait_for(&swarm, &platform, lost_name, Duration::from_secs(30), |c| {
        c.state != "running"
    })
    .await;
    eprintln!(
        "a dead host's dyno not running after {:.1?}",
        killed.elapsed()
    );
    assert_eq!(lost.state, "exited", "{lost:#?}");
    assert_eq!(lost.address, None);
    assert!(lost.status.contains("h2 is down"), "{}", lost.status);
    assert_eq!(dynos(&swarm, &platform).await[survivor].state, "running");

    // Started again, it runs on the host that is left.
    let moved = Instant::now();
    swarm.start_again(&lost_dyno.id).await.unwrap();
    let again = wait_for(&swarm, &platform, lost_name, Duration::from_secs(30), |c| {
        c.state == "running"
    })
    .await;
    eprintln!("running again elsewhere after {:.1?}", moved.elapsed());
    assert_eq!(again.host.as_deref(), Some(cluster.host_name(0)));
    let address = again.address.expect("its new address");
    assert_eq!(
        get(&cluster, address).await.trim(),
        format!("{lost_name} on {}", cluster.host_name(0))
    );

    // The host comes back: its old task is stopped, nothing runs twice.
    cluster.start_engine(1);
    let back = cluster.engine(1).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let running = app_containers_on(&back)
            .await
            .into_iter()
            .filter(|(_, running)| *running)
            .count();
        if running == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old task still runs on the host that came back"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let listed = dynos(&swarm, &platform).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.values().all(|c| c.state == "running"), "{listed:#?}");

    // The manager's engine restarts: a dyno on the worker runs on, and is
    // never taken for a crashed one (to be restarted) meanwhile.
    let spec3 = dyno(&platform, &image, "web.3");
    let web3 = swarm.start_process(&spec3).await.unwrap();
    let on = dynos(&swarm, &platform).await["web.3"].host.clone();
    assert_eq!(
        on.as_deref(),
        Some(cluster.host_name(1)),
        "placed on the emptier host"
    );
    let since = swarm.started_at(&web3.id).await.unwrap();
    let restarted = Instant::now();
    cluster.kill_engine(0);
    cluster.start_engine(0);
    let mut states = Vec::new();
    loop {
        if let Ok(listed) = swarm
            .containers_of(ContainerSelector::app(&platform, APP))
            .await
        {
            let state = listed
                .into_iter()
                .find(|c| c.id == web3.id)
                .map(|c| c.state)
                .unwrap_or_default();
            if states.last() != Some(&state) {
                states.push(state.clone());
            }
            if state == "running" {
                break;
            }
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(40),
            "web.3 not running again: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "the manager restarted: web.3 listed as {states:?}, running after {:.1?}",
        restarted.elapsed()
    );
    assert!(!states.iter().any(|s| s == "exited"), "{states:?}");
    assert_eq!(tasks_of(&swarm, &web3.id).await, 1, "not restarted");
    assert_eq!(swarm.started_at(&web3.id).await.unwrap(), since);
}

#[tokio::test]
async fn a_registry_that_refuses_the_push_is_a_clear_error() {
    let cluster = Cluster::start("bsr", 1);
    // Nothing listens there.
    let wrong = format!("{}:5001", cluster.registry().ip());
    let swarm = Swarm::new(cluster.engine(0).await, ImageRegistry::new(wrong.clone()));
    let error = swarm
        .build_image(busybox_image("berth/shop:v2-web", WEB), |_| {})
        .await
        .unwrap_err();
    let message = error.to_string();
    eprintln!("{message}");
    assert!(matches!(error, DockerError::Push { .. }), "{message}");
    assert!(
        message.starts_with(&format!(
            "the registry at {wrong} refused the push of {wrong}/berth/shop:v2-web: "
        )),
        "{message}"
    );
}

/// The id of the image named `name` on `engine`.
async fn image_id(engine: &Engine, name: &str) -> String {
    engine
        .api()
        .inspect_image(name)
        .await
        .unwrap_or_else(|error| panic!("inspect {name}: {error}"))
        .id
        .unwrap()
}

#[tokio::test]
async fn a_copied_image_goes_through_the_registry_as_the_same_image() {
    let (cluster, swarm, image) = swarm("bsi", 2).await;
    let built = image_id(swarm.manager(), &image).await;
    let mut output = Vec::new();
    let copy = swarm
        .copy_image(&image, "berth/shop-prod:v7-web", |line| {
            output.push(line.to_string())
        })
        .await
        .unwrap();
    assert_eq!(
        copy,
        format!("{}/berth/shop-prod:v7-web", cluster.registry())
    );
    assert!(output.contains(&format!("Pushing {copy}")), "{output:?}");
    assert!(swarm.image_exists(&copy).await.unwrap());
    assert_eq!(
        image_id(swarm.manager(), "berth/shop-prod:v7-web").await,
        built
    );
    let other_host = cluster.engine(1).await;
    other_host.pull_image(&copy, None).await.unwrap();
    assert_eq!(image_id(&other_host, &copy).await, built);

    // The source app's images go, the copy stays.
    swarm.remove_app_images(APP).await.unwrap();
    assert!(!swarm.image_exists(&image).await.unwrap());
    assert_eq!(image_id(swarm.manager(), &copy).await, built);

    // A manager without the source image pulls it from the registry.
    swarm.remove_app_images("shop-prod").await.unwrap();
    assert!(!swarm.image_exists(&built).await.unwrap());
    let mut output = Vec::new();
    let again = swarm
        .copy_image(&image, "berth/shop-next:v1-web", |line| {
            output.push(line.to_string())
        })
        .await
        .unwrap();
    assert!(output.contains(&format!("Pulling {image}")), "{output:?}");
    assert_eq!(image_id(swarm.manager(), &again).await, built);

    let missing = format!("{}/berth/{APP}:v9-web", cluster.registry());
    let error = swarm
        .copy_image(&missing, "berth/shop-next:v2-web", |_| {})
        .await
        .unwrap_err();
    eprintln!("{error}");
    assert!(
        matches!(&error, DockerError::Pull { image, .. } if *image == missing),
        "{error:?}"
    );
}

/// Sets the availability of the node of host `index`.
async fn set_availability(cluster: &Cluster, index: usize, availability: Availability) {
    let manager = cluster.engine(0).await;
    let node = manager
        .swarm_nodes()
        .await
        .unwrap()
        .into_iter()
        .find(|node| {
            node.hostname == cluster.host_name(index) || node.name == cluster.host_name(index)
        })
        .unwrap_or_else(|| panic!("no node for {}", cluster.host_name(index)));
    manager
        .update_node(&node, &node.name.clone(), node.labels.clone(), availability)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_apps_dynos_spread_over_the_hosts_whatever_else_runs_there() {
    let (cluster, swarm, image) = swarm("bsd", 2).await;
    let platform = platform("bsd");
    // Two workers on h2 only (the default host takes nothing meanwhile):
    // by its count of tasks, Swarm alone would put both web dynos on the
    // default host.
    set_availability(&cluster, 0, Availability::Pause).await;
    for worker in ["worker.1", "worker.2"] {
        let spec = with_command(dyno(&platform, &image, worker), "exec sleep 300");
        swarm.start_process(&spec).await.unwrap();
    }
    set_availability(&cluster, 0, Availability::Active).await;
    let placed = dynos(&swarm, &platform).await;
    assert!(
        placed
            .values()
            .all(|dyno| dyno.host.as_deref() == Some(cluster.host_name(1))),
        "{placed:#?}"
    );

    for web in ["web.1", "web.2"] {
        swarm
            .start_process(&dyno(&platform, &image, web))
            .await
            .unwrap();
    }
    let placed = dynos(&swarm, &platform).await;
    let hosts: HashSet<&str> = ["web.1", "web.2"]
        .iter()
        .filter_map(|web| placed.get(*web)?.host.as_deref())
        .collect();
    assert_eq!(hosts.len(), 2, "one web dyno on each host: {placed:#?}");
}
