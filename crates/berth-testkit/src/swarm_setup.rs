//! What tests of many hosts share: a swarm over a [`Cluster`]'s engines,
//! an image of Debian's static busybox built `FROM scratch` (nothing can be
//! pulled here), and a bounded HTTP GET.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use berth_docker::BuildRequest;
use bollard::models::{SwarmInitRequest, SwarmJoinRequest, SwarmSpec, SwarmSpecDispatcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Cluster;

/// Swarm's port for its control plane.
pub const SWARM_PORT: u16 = 2377;

/// Makes host 0 of `cluster` a swarm's manager and joins every other host
/// as a worker, each advertising its cluster address. `heartbeat` is the
/// dispatcher's heartbeat period: a host that stops answering is marked
/// down after about 2.5 to 3.5 of them (Docker's default is 5 s).
pub async fn form_swarm(cluster: &Cluster, heartbeat: Duration) {
    let manager = cluster.engine(0).await;
    let heartbeat = i64::try_from(heartbeat.as_nanos()).expect("a heartbeat period");
    manager
        .api()
        .init_swarm(SwarmInitRequest {
            listen_addr: Some(format!("0.0.0.0:{SWARM_PORT}")),
            advertise_addr: Some(cluster.address(0).to_string()),
            spec: Some(SwarmSpec {
                dispatcher: Some(SwarmSpecDispatcher {
                    heartbeat_period: Some(heartbeat),
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("swarm init on host 0");
    let token = manager
        .api()
        .inspect_swarm()
        .await
        .expect("the swarm's join tokens")
        .join_tokens
        .and_then(|tokens| tokens.worker)
        .expect("a worker join token");
    for index in 1..cluster.len() {
        cluster
            .engine(index)
            .await
            .api()
            .join_swarm(SwarmJoinRequest {
                listen_addr: Some(format!("0.0.0.0:{SWARM_PORT}")),
                advertise_addr: Some(cluster.address(index).to_string()),
                remote_addrs: Some(vec![format!("{}:{SWARM_PORT}", cluster.address(0))]),
                join_token: Some(token.clone()),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|error| {
                panic!("{} joins the swarm: {error}", cluster.host_name(index))
            });
    }
}

/// A build of an image `FROM scratch` holding Debian's static busybox with
/// its applets installed in `/bin`, whose `CMD` runs `command` under
/// `/bin/sh -c` (`exec httpd -f -p $PORT -h /www`, say).
pub fn busybox_image(tag: &str, command: &str) -> BuildRequest {
    let command = serde_json::to_string(command).expect("a JSON string");
    let dockerfile = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         CMD [\"/bin/sh\", \"-c\", {command}]\n"
    );
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .expect("a Dockerfile in the context");
    tar.append_path_with_name("/bin/busybox", "busybox")
        .expect("Debian's busybox-static provides /bin/busybox");
    let context = bytes::Bytes::from(tar.into_inner().expect("a build context"));
    BuildRequest {
        context_tar: Box::pin(futures_util::stream::once(async move { Ok(context) })),
        dockerfile: "Dockerfile".into(),
        target: None,
        tag: tag.into(),
        labels: HashMap::new(),
        build_args: HashMap::new(),
    }
}

/// The body of `GET /` at `address`, retried for up to 10 s (a process
/// just started may not listen yet); panics if nothing answers HTTP.
pub async fn http_get(address: SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = async {
            let mut stream = tokio::net::TcpStream::connect(address).await?;
            stream
                .write_all(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
                .await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(response)) if response.starts_with("HTTP/1.") => {
                return response
                    .split_once("\r\n\r\n")
                    .map(|(_, body)| body.to_string())
                    .unwrap_or_default();
            }
            _ if Instant::now() > deadline => panic!("no HTTP answer at {address}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
