//! The runtime against the machine's real Docker engine. Images are built
//! `FROM scratch` with Debian's static busybox; every test labels what it
//! makes with its own id and a `Scope` removes all of it, even on failure.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_docker::{
    BuildRequest, ContainerSpec, ContainerStats, DockerError, Engine, Limits, LogLine, LogStream,
    Runtime,
};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TEST_LABEL: &str = "berth.test";
const BUSYBOX: &str = "/bin/busybox";

/// One test's resources: named and labelled with a unique id, removed on drop.
struct Scope {
    id: String,
}

impl Scope {
    fn new() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        );
        Self {
            id: format!("berth-test-{:012x}", hasher.finish() & 0xffff_ffff_ffff),
        }
    }

    fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(TEST_LABEL.to_string(), self.id.clone())])
    }

    fn label(&self) -> (&str, &str) {
        (TEST_LABEL, &self.id)
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.id)
    }

    fn tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.id)
    }

    /// A build context: the Dockerfile, busybox and a page for httpd. The
    /// Dockerfile starts `FROM scratch` and labels every layer with the
    /// test's id, so that even the layers of a failed build can be found.
    fn context(&self, steps: &str) -> std::fs::File {
        let dockerfile = format!(
            "FROM scratch\nLABEL {TEST_LABEL}={id}\nCOPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n{steps}",
            id = self.id
        );
        let busybox = std::fs::read(BUSYBOX).expect("busybox-static is installed");
        let mut tar = tar::Builder::new(Vec::new());
        for (path, mode, data) in [
            ("Dockerfile", 0o644, dockerfile.as_bytes()),
            ("busybox", 0o755, &busybox[..]),
            ("www/index.html", 0o644, b"hello from berth\n".as_slice()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(mode);
            header.set_cksum();
            tar.append_data(&mut header, path, data).unwrap();
        }
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &tar.into_inner().unwrap()).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        file
    }

    fn build_request(&self, tag: &str, steps: &str) -> BuildRequest {
        BuildRequest {
            context_tar: Box::pin(tokio_util::io::ReaderStream::new(
                tokio::fs::File::from_std(self.context(steps)),
            )),
            dockerfile: "Dockerfile".into(),
            target: None,
            tag: self.tag(tag),
            labels: self.labels(),
            build_args: HashMap::new(),
        }
    }

    /// A build of a release of `app` (one of [`Scope::name`]'s), tagged
    /// and labelled as the platform does: `berth/<app>:<tag>`.
    fn app_build_request(&self, app: &str, tag: &str, steps: &str) -> BuildRequest {
        let mut request = self.build_request(tag, steps);
        request.tag = format!("berth/{app}:{tag}");
        request.labels.extend(berth_docker::app_labels(app));
        request
    }

    /// Builds the httpd image and returns its tag.
    async fn build_web(&self, engine: &Engine) -> String {
        let request = self.build_request("web", WEB_STEPS);
        let tag = request.tag.clone();
        engine.build_image(request, |_| {}).await.unwrap();
        tag
    }

    fn spec(&self, suffix: &str, image: &str, cmd: Option<&str>) -> ContainerSpec {
        ContainerSpec {
            name: self.name(suffix),
            image: image.to_string(),
            cmd: cmd.map(|cmd| vec!["/bin/sh".into(), "-c".into(), cmd.into()]),
            labels: self.labels(),
            ..Default::default()
        }
    }
}

const WEB_STEPS: &str =
    "COPY www /www\nCMD [\"/bin/sh\",\"-c\",\"exec httpd -f -v -p $PORT -h /www\"]\n";

impl Drop for Scope {
    fn drop(&mut self) {
        let filter = format!("label={TEST_LABEL}={}", self.id);
        let containers = docker(&["ps", "-aq", "--filter", &filter]);
        if !containers.is_empty() {
            docker(&[&["rm", "-f", "-v"][..], &refs(&containers)].concat());
        }
        let networks = docker(&["network", "ls", "-q", "--filter", &filter]);
        if !networks.is_empty() {
            docker(&[&["network", "rm"][..], &refs(&networks)].concat());
        }
        // Children before parents: repeat until nothing labelled is left.
        for _ in 0..5 {
            let images = docker(&["images", "-aq", "--filter", &filter]);
            if images.is_empty() {
                break;
            }
            for image in images {
                docker(&["rmi", "-f", &image]);
            }
        }
    }
}

fn refs(items: &[String]) -> Vec<&str> {
    items.iter().map(String::as_str).collect()
}

/// Runs the docker CLI (an argv, no shell) and returns its output's lines.
fn docker(args: &[&str]) -> Vec<String> {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

async fn engine() -> Engine {
    Engine::connect(&berth_docker::EngineTarget::local())
        .await
        .expect("a Docker engine runs here")
}

/// An HTTP GET to 127.0.0.1:port, retried for up to 10 s: docker-proxy
/// accepts connections before the app listens, so only a response counts.
async fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            stream
                .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                .await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(response)) if response.starts_with("HTTP/1.") => return response,
            _ if Instant::now() > deadline => panic!("no HTTP answer on 127.0.0.1:{port}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test]
async fn a_build_streams_its_output_and_a_rebuild_uses_the_cache() {
    let scope = Scope::new();
    let engine = engine().await;
    let mut lines = Vec::new();
    let id = engine
        .build_image(scope.build_request("web", WEB_STEPS), |line| {
            lines.push(line.to_string())
        })
        .await
        .unwrap();
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(lines[0], "Step 1/7 : FROM scratch", "{lines:#?}");
    assert!(lines.iter().any(|l| l.starts_with(" ---> ")), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("Step 4/7 : RUN")),
        "{lines:#?}"
    );
    assert!(engine.image_exists(&scope.tag("web")).await.unwrap());
    assert!(!engine
        .image_exists(&scope.tag("never-built"))
        .await
        .unwrap());

    let mut again = Vec::new();
    let same = engine
        .build_image(scope.build_request("web", WEB_STEPS), |line| {
            again.push(line.to_string())
        })
        .await
        .unwrap();
    assert_eq!(same, id);
    assert!(
        again.iter().any(|l| l.contains("Using cache")),
        "{again:#?}"
    );
}

#[tokio::test]
async fn a_failing_step_is_a_build_error_with_dockers_text() {
    let scope = Scope::new();
    let engine = engine().await;
    let mut lines = Vec::new();
    let steps = "RUN [\"/bin/sh\",\"-c\",\"echo about to fail; exit 7\"]\n";
    let error = engine
        .build_image(scope.build_request("broken", steps), |line| {
            lines.push(line.to_string())
        })
        .await
        .unwrap_err();
    let DockerError::Build { message } = &error else {
        panic!("not a build error: {error:?}");
    };
    assert!(message.contains("returned a non-zero code: 7"), "{message}");
    assert!(lines.iter().any(|l| l == "about to fail"), "{lines:#?}");
    assert!(!engine.image_exists(&scope.tag("broken")).await.unwrap());

    let mut request = scope.build_request("broken", "");
    request.dockerfile = "missing/Dockerfile".into();
    let error = engine.build_image(request, |_| {}).await.unwrap_err();
    assert!(matches!(error, DockerError::Build { .. }), "{error:?}");
}

#[tokio::test]
async fn a_web_container_serves_on_loopback_and_stops_fast() {
    let scope = Scope::new();
    let engine = engine().await;
    let image = scope.build_web(&engine).await;
    let network = scope.name("net");
    engine
        .ensure_network(&network, scope.labels())
        .await
        .unwrap();
    let spec = ContainerSpec {
        env: vec![("PORT".into(), "5000".into())],
        network: Some(network.clone()),
        network_alias: Some("web".into()),
        publish_port: Some(5000),
        stop_timeout_secs: Some(30),
        ..scope.spec("web.1", &image, None)
    };
    let started = engine.start_container(&spec).await.unwrap();
    assert_eq!(started.name, spec.name);
    let address = started.address.expect("a published port");
    assert!(address.ip().is_loopback(), "{address}");
    let response = http_get(address.port()).await;
    assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"));
    assert!(response.ends_with("hello from berth\n"), "{response}");
    assert_eq!(
        engine.published_address(&started.id, 5000).await.unwrap(),
        Some(address)
    );
    assert_eq!(
        engine.published_address(&started.id, 6000).await.unwrap(),
        None
    );

    let listed = engine.containers(&[scope.label()]).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, started.id);
    assert_eq!(listed[0].name, spec.name);
    assert_eq!(listed[0].state, "running");
    assert_eq!(listed[0].address, Some(address));
    assert_eq!(listed[0].labels, scope.labels());
    assert!((chrono::Utc::now() - listed[0].created).num_seconds() < 60);
    let attached = docker(&[
        "inspect",
        "--format",
        &format!("{{{{json (index .NetworkSettings.Networks \"{network}\").Aliases}}}}"),
        &started.id,
    ]);
    assert!(attached[0].contains("\"web\""), "{attached:?}");
    let policy = docker(&[
        "inspect",
        "--format",
        "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Init}}",
        &started.id,
    ]);
    assert_eq!(policy, ["no true"]);

    let stopping = Instant::now();
    engine
        .stop_and_remove(&started.id, Duration::from_secs(10))
        .await
        .unwrap();
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(3), "stopping took {took:?}");
    assert!(engine
        .containers(&[scope.label()])
        .await
        .unwrap()
        .is_empty());
    // Gone already: not an error.
    engine
        .stop_and_remove(&started.id, Duration::from_secs(10))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_one_off_returns_its_exit_code_and_its_output_in_order() {
    let scope = Scope::new();
    let engine = engine().await;
    let image = scope.build_web(&engine).await;
    let script = "for i in $(seq 1 20); do echo line $i; done; echo oops >&2; exit 3";
    let spec = ContainerSpec {
        env: vec![("GREETING".into(), "hi there".into())],
        ..scope.spec("release", &image, Some(script))
    };
    let mut lines: Vec<LogLine> = Vec::new();
    let code = engine
        .run_to_completion(&spec, Duration::from_secs(30), |line| lines.push(line))
        .await
        .unwrap();
    assert_eq!(code, 3);
    let stdout: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == LogStream::Stdout)
        .map(|l| l.text.as_str())
        .collect();
    let expected: Vec<String> = (1..=20).map(|i| format!("line {i}")).collect();
    assert_eq!(stdout, expected);
    let stderr: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == LogStream::Stderr)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(stderr, ["oops"]);
    // Each output is stamped in order (the two are stamped separately).
    let stdout_times: Vec<_> = lines
        .iter()
        .filter(|l| l.stream == LogStream::Stdout)
        .map(|l| l.at)
        .collect();
    assert!(stdout_times.is_sorted());
    assert!((chrono::Utc::now() - lines[0].at).num_seconds() < 60);
    assert!(engine
        .containers(&[scope.label()])
        .await
        .unwrap()
        .is_empty());

    // The same name again (it was removed), exit 0.
    let spec = ContainerSpec {
        cmd: Some(vec!["/bin/sh".into(), "-c".into(), "echo $GREETING".into()]),
        ..spec
    };
    let mut lines = Vec::new();
    let code = engine
        .run_to_completion(&spec, Duration::from_secs(30), |line| lines.push(line.text))
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert_eq!(lines, ["hi there"]);
    assert!(engine
        .containers(&[scope.label()])
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_one_off_that_runs_too_long_is_killed_and_removed() {
    let scope = Scope::new();
    let engine = engine().await;
    let image = scope.build_web(&engine).await;
    let spec = scope.spec("slow", &image, Some("echo started; sleep 60"));
    let mut lines = Vec::new();
    let began = Instant::now();
    let error = engine
        .run_to_completion(&spec, Duration::from_secs(2), |line| lines.push(line.text))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DockerError::Timeout { after, .. } if *after == Duration::from_secs(2)),
        "{error:?}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(lines, ["started"]);
    assert!(engine
        .containers(&[scope.label()])
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_dropped_one_off_is_removed_anyway() {
    let scope = Scope::new();
    let engine = engine().await;
    let image = scope.build_web(&engine).await;
    let spec = scope.spec("dropped", &image, Some("sleep 60"));
    let run = engine.run_to_completion(&spec, Duration::from_secs(60), |_| {});
    assert!(tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .is_err());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !engine
        .containers(&[scope.label()])
        .await
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the one-off was left behind");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn containers_are_found_by_their_labels() {
    let scope = Scope::new();
    let engine = engine().await;
    let image = scope.build_web(&engine).await;
    let mut ids = Vec::new();
    for process in ["web", "worker"] {
        let mut spec = scope.spec(process, &image, Some("exec sleep 300"));
        spec.labels.insert("berth.process".into(), process.into());
        ids.push(engine.start_container(&spec).await.unwrap().id);
    }
    let exited = scope.spec("exited", &image, Some("exit 0"));
    let exited = engine.start_container(&exited).await.unwrap();

    let all = engine.containers(&[scope.label()]).await.unwrap();
    assert_eq!(all.len(), 3);
    let web = engine
        .containers(&[scope.label(), ("berth.process", "web")])
        .await
        .unwrap();
    assert_eq!(web.len(), 1);
    assert_eq!(web[0].id, ids[0]);
    assert_eq!(web[0].state, "running");
    assert!(web[0].status.starts_with("Up"), "{}", web[0].status);
    assert_eq!(web[0].address, None);
    assert!(engine
        .containers(&[scope.label(), ("berth.process", "clock")])
        .await
        .unwrap()
        .is_empty());

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = engine.containers(&[scope.label()]).await.unwrap();
        let state = listed.iter().find(|c| c.id == exited.id).unwrap();
        if state.state == "exited" {
            assert!(state.status.starts_with("Exited (0)"), "{}", state.status);
            break;
        }
        assert!(Instant::now() < deadline, "still {}", state.state);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let stops = all
        .iter()
        .map(|c| engine.stop_and_remove(&c.id, Duration::from_secs(10)));
    for result in futures_util::future::join_all(stops).await {
        result.unwrap();
    }
    assert!(engine
        .containers(&[scope.label()])
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn networks_are_ensured_once_and_removed() {
    let scope = Scope::new();
    let filter = format!("label={TEST_LABEL}={}", scope.id);
    let engine = engine().await;
    let network = scope.name("net");
    engine
        .ensure_network(&network, scope.labels())
        .await
        .unwrap();
    engine
        .ensure_network(&network, scope.labels())
        .await
        .unwrap();
    assert_eq!(
        docker(&["network", "ls", "-q", "--filter", &filter]).len(),
        1
    );

    // Separate connections racing: the engine would accept duplicates.
    let racer = self::engine().await;
    let other = scope.name("raced");
    let (a, b) = tokio::join!(
        engine.ensure_network(&other, scope.labels()),
        racer.ensure_network(&other, scope.labels()),
    );
    a.unwrap();
    b.unwrap();
    let named = docker(&["network", "ls", "-q", "--filter", &format!("name={other}")]);
    assert_eq!(named.len(), 1, "{named:?}");

    engine.remove_network(&network).await.unwrap();
    engine.remove_network(&other).await.unwrap();
    assert!(docker(&["network", "ls", "-q", "--filter", &filter]).is_empty());
    engine.remove_network(&network).await.unwrap();
}

#[tokio::test]
async fn logs_are_followed_until_the_container_stops() {
    let scope = Scope::new();
    let engine = engine().await;
    let image = scope.build_web(&engine).await;
    let script = "echo one; echo two >&2; sleep 1; printf 'three\\nfour'";
    let started = engine
        .start_container(&scope.spec("logs", &image, Some(script)))
        .await
        .unwrap();
    let lines: Vec<LogLine> = tokio::time::timeout(
        Duration::from_secs(20),
        engine
            .follow_logs(&started.id)
            .map(Result::unwrap)
            .collect(),
    )
    .await
    .expect("the stream ends when the container stops");
    // The engine orders each stream, not the two against each other.
    let of = |stream: LogStream| -> Vec<&str> {
        lines
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| l.text.as_str())
            .collect()
    };
    assert_eq!(of(LogStream::Stdout), ["one", "three", "four"]);
    assert_eq!(of(LogStream::Stderr), ["two"]);
    let at = |text: &str| lines.iter().find(|l| l.text == text).unwrap().at;
    let pause = at("three") - at("one");
    assert!(pause.num_milliseconds() >= 900, "{pause}");

    // Following a stopped container replays its output and ends.
    let replay: Vec<_> = engine.follow_logs(&started.id).collect().await;
    assert_eq!(replay.len(), 4);
    engine
        .stop_and_remove(&started.id, Duration::from_secs(1))
        .await
        .unwrap();
    let missing: Vec<_> = engine.follow_logs(&started.id).collect().await;
    assert!(
        matches!(&missing[..], [Err(error)] if error.is_not_found()),
        "{missing:?}"
    );
}

/// The id of the image named `name`.
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
async fn a_copy_is_the_same_image_and_a_missing_source_is_named() {
    let scope = Scope::new();
    let engine = engine().await;
    let (staging, prod) = (scope.name("staging"), scope.name("prod"));
    let request = scope.app_build_request(&staging, "v3-web", WEB_STEPS);
    let source = request.tag.clone();
    let built = engine.build_image(request, |_| {}).await.unwrap();

    let tag = format!("berth/{prod}:v7-web");
    let copy = Runtime::copy_image(&engine, &source, &tag, |_| {})
        .await
        .unwrap();
    assert_eq!(copy, tag);
    assert_eq!(image_id(&engine, &copy).await, built);

    let missing = format!("berth/{staging}:v4-web");
    let never = format!("berth/{prod}:v8-web");
    let error = Runtime::copy_image(&engine, &missing, &never, |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DockerError::NoImage { image, .. } if *image == missing),
        "{error:?}"
    );
    assert!(error.to_string().contains(&missing), "{error}");
    assert!(error.is_not_found());
    assert!(!engine.image_exists(&never).await.unwrap());
}

#[tokio::test]
async fn an_apps_images_go_by_its_own_tags_and_another_apps_copy_stays() {
    let scope = Scope::new();
    let engine = engine().await;
    let (staging, prod) = (scope.name("staging"), scope.name("prod"));
    let build = |tag: &str, steps: &str| {
        let request = scope.app_build_request(&staging, tag, steps);
        let tag = request.tag.clone();
        let engine = engine.clone();
        async move { (tag, engine.build_image(request, |_| {}).await.unwrap()) }
    };
    let (v1, web) = build("v1-web", WEB_STEPS).await;
    // The same image under a second tag, as an unchanged redeploy makes.
    let (v2, _) = build("v2-web", WEB_STEPS).await;
    // A tag built again names the new image: the old one is left with no tag.
    let (_, untagged) = build("v3-worker", "CMD [\"/bin/sh\",\"-c\",\"exec sleep 301\"]\n").await;
    build("v3-worker", "CMD [\"/bin/sh\",\"-c\",\"exec sleep 302\"]\n").await;
    let (used, _) = build("v4-worker", "CMD [\"/bin/sh\",\"-c\",\"exec sleep 300\"]\n").await;
    let user = engine
        .start_container(&scope.spec("user", &used, None))
        .await
        .unwrap();
    // Promoted: prod runs v1's image as its own v7.
    let copy = Runtime::copy_image(&engine, &v1, &format!("berth/{prod}:v7-web"), |_| {})
        .await
        .unwrap();

    Runtime::remove_app_images(&engine, &staging).await.unwrap();
    for gone in [&v1, &v2, &untagged] {
        assert!(!engine.image_exists(gone).await.unwrap(), "{gone} is left");
    }
    assert_eq!(image_id(&engine, &copy).await, web);
    assert!(engine.image_exists(&used).await.unwrap());

    engine
        .stop_and_remove(&user.id, Duration::from_secs(1))
        .await
        .unwrap();
    Runtime::remove_app_images(&engine, &staging).await.unwrap();
    assert!(!engine.image_exists(&used).await.unwrap());
    assert!(engine.image_exists(&copy).await.unwrap());

    Runtime::remove_app_images(&engine, &prod).await.unwrap();
    assert!(!engine.image_exists(&copy).await.unwrap());
    assert!(!engine.image_exists(&web).await.unwrap());
}

#[tokio::test]
async fn a_terminal_one_off_takes_keystrokes_and_sizes_and_is_removed() {
    let scope = Scope::new();
    let engine = engine().await;
    let image = scope.build_web(&engine).await;
    let spec = scope.spec("terminal", &image, Some("read line; stty size; exit 7"));
    let mut session = engine.start_terminal(&spec, 31, 97).await.unwrap();
    session.control.resize(40, 120).await.unwrap();
    session.input.write_all(b"typed\r").await.unwrap();
    session.input.flush().await.unwrap();
    let mut shown = Vec::new();
    while let Some(chunk) = session.output.next().await {
        shown.extend_from_slice(&chunk.unwrap());
    }
    let shown = String::from_utf8_lossy(&shown);
    // A terminal echoes what is typed, and turns newlines into CR LF.
    assert!(shown.contains("typed\r\n"), "{shown:?}");
    assert!(shown.contains("40 120\r\n"), "{shown:?}");
    assert_eq!(session.control.exit_code().await.unwrap(), 7);
    session.control.finish().await.unwrap();
    assert!(engine
        .containers(&[scope.label()])
        .await
        .unwrap()
        .is_empty());

    // Dropped while it runs, it is removed all the same.
    let spec = scope.spec("dropped-terminal", &image, Some("sleep 60"));
    drop(engine.start_terminal(&spec, 24, 80).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !engine
        .containers(&[scope.label()])
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the terminal one-off was left behind"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads the container's stats until `done` says they are what the test
/// waits for (a pipe filling, a loop burning CPU), for up to 15 s.
async fn stats_until(
    engine: &Engine,
    id: &str,
    done: impl Fn(&ContainerStats) -> bool,
) -> ContainerStats {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let stats = engine.container_stats(id).await.unwrap();
        if done(&stats) || Instant::now() > deadline {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn stats_report_memory_in_use_the_limit_and_cpu_time() {
    let scope = Scope::new();
    let engine = engine().await;
    let image = scope.build_web(&engine).await;
    // tail keeps the line it is reading, 64 MiB without a newline, and the
    // input stays open: held until the container goes.
    let hog = "(head -c 67108864 /dev/zero; exec sleep 3600) | tail";
    let unlimited = engine
        .start_container(&scope.spec("unlimited", &image, Some(hog)))
        .await
        .unwrap();
    let limited = engine
        .start_container(&ContainerSpec {
            limits: Limits {
                memory_bytes: Some(128 << 20),
                ..Default::default()
            },
            ..scope.spec("limited", &image, Some(hog))
        })
        .await
        .unwrap();
    let busy = engine
        .start_container(&scope.spec("busy", &image, Some("while :; do :; done")))
        .await
        .unwrap();

    let held = |stats: &ContainerStats| stats.memory_bytes >= 48 << 20;
    let stats = stats_until(&engine, &unlimited.id, held).await;
    assert!(held(&stats), "{stats:?}");
    assert_eq!(stats.memory_limit_bytes, None, "{stats:?}");
    let stats = stats_until(&engine, &limited.id, held).await;
    assert!(held(&stats), "{stats:?}");
    assert_eq!(stats.memory_limit_bytes, Some(128 << 20), "{stats:?}");

    let first = engine.container_stats(&busy.id).await.unwrap();
    let later = stats_until(&engine, &busy.id, |stats| {
        stats.cpu_seconds_total >= first.cpu_seconds_total + 0.2
    })
    .await;
    assert!(
        later.cpu_seconds_total >= first.cpu_seconds_total + 0.2,
        "{first:?} then {later:?}"
    );

    engine.remove_container(&busy.id).await.unwrap();
    let gone = engine.container_stats(&busy.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
}
