//! Several Docker engines ("managed hosts") and a registry on this machine,
//! each in a network namespace of its own with an address of its own, for
//! tests of Berth on many hosts.
//!
//! ```text
//!  root ns  <cluster> X.1 --veth--+
//!                                 |  <cluster>-sw: bridge br0 (a switch)
//!  <cluster>-reg  eth0 X.10 ------+  docker-registry :5000
//!  <cluster>-h1   eth0 X.11 ------+  dockerd: tcp :2376, mutual TLS
//!  <cluster>-h2   eth0 X.12 ------+  ...
//! ```
//!
//! X is a /24 of 10.78.0.0/16 that nothing on the machine routes yet. The
//! bridge sits in a namespace of its own: in the root namespace, bridged
//! frames would cross the root namespace's FORWARD chain, which belongs to
//! the machine's own engine. The namespaces have no default route, so
//! nothing leaves the machine; a test checks with [`Cluster::check_route`]
//! that an address is reached through the cluster's veth before it sends.
//!
//! Each engine has its own data root, exec root, pid file, socket, config
//! file and engine key (distinct engine IDs), hostname (`h1`, … in a UTS
//! namespace) and mount namespace (its overlay and netns mounts stay
//! private), listens on `X.1N:2376` with mutual TLS (a throwaway CA, a
//! server certificate naming the host's address, one client certificate in
//! Docker's `DOCKER_CERT_PATH` layout) and trusts the registry as insecure.
//! The kernels here have no IPVS: Swarm's routing mesh and virtual IPs do
//! not work, so services publish in host mode and use DNS round robin.
//!
//! Dropping the cluster (also while a test panics) kills every process it
//! started and what they started, and removes the namespaces, the veth, the
//! cgroups, mounts and the state directory; starting one first removes what
//! crashed earlier runs with the same prefix left.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use berth_docker::{Engine, EngineTarget, EngineTls};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::private_engine::{
    allocation_lock, ip, is_zombie, kill_leftovers, namespace_inode, own_state_args, ping,
    remove_cgroups, tail, unmount_under,
};

/// Every cluster's /24 is in this /16 (private engines use 10.79, the
/// reference script 10.77).
const NETWORK: [u8; 2] = [10, 78];
/// The engines' TLS port, Docker's convention.
pub const ENGINE_PORT: u16 = 2376;
pub const REGISTRY_PORT: u16 = 5000;
/// How long an engine or the registry has to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

static NEXT_CLUSTER: AtomicU32 = AtomicU32::new(0);

/// Engines in network namespaces and a registry; see the module documentation.
pub struct Cluster {
    /// `<prefix>-<pid hex>-<counter hex>`: begins every namespace's name and
    /// names the root namespace's veth, so at most 15 characters.
    name: String,
    /// The cluster's /24: `X.0`.
    subnet: Ipv4Addr,
    dir: tempfile::TempDir,
    client_tls: EngineTls,
    registry: Option<Child>,
    hosts: Vec<Host>,
}

/// One engine of a cluster.
struct Host {
    /// `h1`, `h2`, …: the hostname, and the switch port's name.
    name: String,
    /// The network namespace, also the engine's cgroup parent.
    netns: String,
    address: Ipv4Addr,
    dockerd: Option<Child>,
    /// The inode of each mount namespace an engine of this host ran in.
    mount_namespaces: Vec<u64>,
}

/// Which half of the TLS material is not the cluster's, in
/// [`Cluster::untrusted_cert_dir`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    /// `ca.pem` is another CA's: the engines' certificates are not trusted.
    Ca,
    /// `cert.pem`/`key.pem` are signed by another CA: the engines refuse them.
    ClientCertificate,
}

impl Cluster {
    /// Creates the network, the certificates, the registry and `hosts`
    /// engines, and waits (bounded) until all answer. `prefix` (at most 5
    /// characters) begins the names of everything it makes; what an earlier
    /// run with the same prefix left behind is removed first.
    pub fn start(prefix: &str, hosts: usize) -> Self {
        assert!(
            (1..=5).contains(&prefix.len()) && prefix.chars().all(|c| c.is_ascii_alphanumeric()),
            "a cluster prefix is 1 to 5 letters or digits: {prefix:?}"
        );
        assert!((1..=200).contains(&hosts), "1 to 200 hosts");
        let started = Instant::now();
        remove_stale(prefix);
        let counter = NEXT_CLUSTER.fetch_add(1, Ordering::Relaxed);
        assert!(counter < 256, "at most 256 clusters per test process");
        let name = format!("{prefix}-{:x}-{counter:x}", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}."))
            .tempdir()
            .expect("state directory of a cluster");
        let lock = allocation_lock();
        let subnet = free_subnet();
        let host_list: Vec<Host> = (0..hosts)
            .map(|index| Host {
                name: format!("h{}", index + 1),
                netns: format!("{name}-h{}", index + 1),
                address: host_address(subnet, index),
                dockerd: None,
                mount_namespaces: Vec::new(),
            })
            .collect();
        let client_dir = dir.path().join("client");
        write_certificates(dir.path(), &client_dir, &host_list);
        let mut cluster = Self {
            client_tls: EngineTls::load(&client_dir).expect("the cluster's client TLS material"),
            name,
            subnet,
            dir,
            registry: None,
            hosts: host_list,
        };
        // From here on, a panic leaves the cleanup to Drop.
        cluster.create_network();
        drop(lock);
        cluster.start_registry();
        for index in 0..cluster.hosts.len() {
            cluster.spawn_engine(index);
        }
        for index in 0..cluster.hosts.len() {
            cluster.wait_for_engine(index);
        }
        eprintln!(
            "cluster {} ({} engines, {}/24): up in {:.1?}",
            cluster.name,
            hosts,
            cluster.subnet,
            started.elapsed()
        );
        cluster
    }

    /// `<prefix>-<pid>-<n>`: the start of every namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the cluster keeps its certificates, engine state and logs.
    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Host `index`'s (from 0) name and hostname: `h1`, `h2`, ….
    pub fn host_name(&self, index: usize) -> &str {
        &self.hosts[index].name
    }

    /// Host `index`'s address, where its engine and published ports listen.
    pub fn address(&self, index: usize) -> Ipv4Addr {
        self.hosts[index].address
    }

    /// `tcp://X.1N:2376`, for `BERTH_DOCKER_HOST`.
    pub fn docker_host(&self, index: usize) -> String {
        format!("tcp://{}:{ENGINE_PORT}", self.address(index))
    }

    /// Host `index`'s engine with the cluster's client TLS material.
    pub fn target(&self, index: usize) -> EngineTarget {
        EngineTarget::parse(&self.docker_host(index))
            .expect("a cluster's docker host")
            .with_tls(self.client_tls.clone())
    }

    /// `ca.pem`, `cert.pem` and `key.pem` of the cluster's client, for
    /// `DOCKER_CERT_PATH`/`BERTH_DOCKER_CERT_PATH`.
    pub fn cert_dir(&self) -> &Path {
        self.client_tls.cert_dir()
    }

    /// The client TLS material, read once, good for every engine.
    pub fn client_tls(&self) -> &EngineTls {
        &self.client_tls
    }

    /// Host `index`'s engine over TCP with mutual TLS, after checking the
    /// route to it.
    pub async fn engine(&self, index: usize) -> Engine {
        self.check_route(self.address(index));
        Engine::connect(&self.target(index))
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", self.hosts[index].name))
    }

    /// `X.10:5000`: the registry, for image names (`X.10:5000/app:v1`) and
    /// `BERTH_REGISTRY`.
    pub fn registry(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.registry_address(), REGISTRY_PORT)
    }

    /// Host `index`'s network namespace, for `nsenter --net=…`.
    pub fn netns_path(&self, index: usize) -> PathBuf {
        netns_path(&self.hosts[index].netns)
    }

    /// A directory like [`Self::cert_dir`] with one half from another CA:
    /// for tests of what a wrong certificate does.
    pub fn untrusted_cert_dir(&self, untrusted: Untrusted) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a certificate directory");
        let (foreign_ca, foreign_client) = foreign_material();
        let (ca, cert, key) = match untrusted {
            Untrusted::Ca => (
                foreign_ca,
                read(&self.cert_dir().join("cert.pem")),
                read(&self.cert_dir().join("key.pem")),
            ),
            Untrusted::ClientCertificate => (
                read(&self.cert_dir().join("ca.pem")),
                foreign_client.0,
                foreign_client.1,
            ),
        };
        write(&dir.path().join("ca.pem"), &ca);
        write(&dir.path().join("cert.pem"), &cert);
        write(&dir.path().join("key.pem"), &key);
        dir
    }

    /// Panics unless `address` is one of the cluster's and the root
    /// namespace routes it through the cluster's veth: nothing is sent
    /// anywhere else.
    pub fn check_route(&self, address: Ipv4Addr) {
        let [a, b, c, _] = address.octets();
        let [x, y, z, _] = self.subnet.octets();
        assert!(
            [a, b, c] == [x, y, z],
            "{address} is not in cluster {}'s {}/24",
            self.name,
            self.subnet
        );
        let route = ip(&["route", "get", &address.to_string()]);
        assert!(
            route.contains(&format!(" dev {} ", self.name)) && !route.contains(" via "),
            "{address} is not routed through cluster {}'s veth: {route}",
            self.name
        );
    }

    /// SIGKILL to host `index`'s engine; its containers keep running under
    /// their shims until it starts again.
    pub fn kill_engine(&mut self, index: usize) {
        let Some(mut dockerd) = self.hosts[index].dockerd.take() else {
            return;
        };
        let _ = dockerd.kill();
        let _ = dockerd.wait();
        // Its containerd dies with it (parent-death signal), but may linger
        // as a zombie that nobody reaps here: an engine started again would
        // find its pid file and wait for it forever.
        let pid_file = self.host_dir(index).join("exec/containerd/containerd.pid");
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
        {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !is_zombie(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = std::fs::remove_file(pid_file);
    }

    /// Starts host `index`'s engine again on the same state and waits
    /// (bounded) until it answers.
    pub fn start_engine(&mut self, index: usize) {
        self.spawn_engine(index);
        self.wait_for_engine(index);
    }

    /// Unplugs host `index` from the switch: nothing reaches it or leaves it
    /// until [`Self::restore_link`].
    pub fn cut_link(&self, index: usize) {
        self.set_link(index, "down");
    }

    pub fn restore_link(&self, index: usize) {
        self.set_link(index, "up");
    }

    /// The memory (resident set) of every process in host `index`'s network
    /// namespace: its engine, containerd and shims.
    pub fn resident_memory(&self, index: usize) -> u64 {
        let Some(inode) = netns_inode(&self.hosts[index].netns) else {
            return 0;
        };
        crate::private_engine::live_processes()
            .into_iter()
            .filter(|pid| namespace_inode(*pid, "net") == Some(inode))
            .filter_map(|pid| {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib * 1024)
            })
            .sum()
    }

    /// The last `lines` lines of host `index`'s engine log.
    pub fn log_tail(&self, index: usize, lines: usize) -> String {
        tail(&self.engine_log(index), lines)
    }

    fn registry_address(&self) -> Ipv4Addr {
        let [a, b, c, _] = self.subnet.octets();
        Ipv4Addr::new(a, b, c, 10)
    }

    fn switch_netns(&self) -> String {
        format!("{}-sw", self.name)
    }

    fn registry_netns(&self) -> String {
        format!("{}-reg", self.name)
    }

    fn host_dir(&self, index: usize) -> PathBuf {
        self.dir.path().join(&self.hosts[index].name)
    }

    fn engine_log(&self, index: usize) -> PathBuf {
        self.host_dir(index).join("dockerd.log")
    }

    fn set_link(&self, index: usize, state: &str) {
        let switch = self.switch_netns();
        let port = self.hosts[index].name.as_str();
        ip(&["-n", &switch, "link", "set", port, state]);
    }

    fn create_network(&self) {
        let switch = self.switch_netns();
        let root_veth = self.name.as_str();
        ip(&["netns", "add", &switch]);
        ip(&["-n", &switch, "link", "set", "lo", "up"]);
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &switch, "link", "set", "br0", "up"]);
        ip(&[
            "link", "add", root_veth, "type", "veth", "peer", "name", "root", "netns", &switch,
        ]);
        let [a, b, c, _] = self.subnet.octets();
        ip(&[
            "addr",
            "add",
            &format!("{}/24", Ipv4Addr::new(a, b, c, 1)),
            "dev",
            root_veth,
        ]);
        ip(&["link", "set", root_veth, "up"]);
        ip(&["-n", &switch, "link", "set", "root", "master", "br0", "up"]);
        let mut members = vec![(
            "reg".to_string(),
            self.registry_netns(),
            self.registry_address(),
        )];
        members.extend(
            self.hosts
                .iter()
                .map(|host| (host.name.clone(), host.netns.clone(), host.address)),
        );
        for (port, netns, address) in members {
            ip(&["netns", "add", &netns]);
            ip(&["-n", &netns, "link", "set", "lo", "up"]);
            // Made in the switch's namespace: port names need not be unique
            // on the machine.
            ip(&[
                "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &netns,
            ]);
            ip(&[
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &netns, "link", "set", "eth0", "up"]);
            ip(&["-n", &switch, "link", "set", &port, "master", "br0", "up"]);
        }
        self.check_route(self.registry_address());
    }

    /// Stops the registry (as when it is down or refuses pushes).
    pub fn stop_registry(&mut self) {
        if let Some(mut registry) = self.registry.take() {
            let _ = registry.kill();
            let _ = registry.wait();
        }
    }

    /// Starts the registry (again), with the images it held.
    pub fn start_registry(&mut self) {
        let dir = self.dir.path().join("registry");
        std::fs::create_dir_all(dir.join("data")).expect("the registry's directory");
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\nhttp:\n  addr: {}\n",
            dir.join("data").display(),
            self.registry()
        );
        write(&dir.join("config.yml"), config.as_bytes());
        let log = log_file(&dir.join("registry.log"));
        let child = Command::new("nsenter")
            .arg(format!(
                "--net={}",
                netns_path(&self.registry_netns()).display()
            ))
            .args(["--", "docker-registry", "serve"])
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the registry's log"))
            .stderr(log)
            .spawn()
            .expect("nsenter and docker-registry (Debian's docker-registry package)");
        self.registry = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        self.check_route(self.registry_address());
        while !registry_answers(self.registry()) {
            if let Some(Ok(Some(status))) = self.registry.as_mut().map(Child::try_wait) {
                panic!(
                    "the registry exited with {status}:\n{}",
                    tail(&dir.join("registry.log"), 20)
                );
            }
            assert!(
                Instant::now() < deadline,
                "the registry did not answer within {START_TIMEOUT:?}:\n{}",
                tail(&dir.join("registry.log"), 20)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn spawn_engine(&mut self, index: usize) {
        assert!(
            self.hosts[index].dockerd.is_none(),
            "{}'s engine still runs",
            self.hosts[index].name
        );
        let dir = self.host_dir(index);
        for sub in ["data", "exec"] {
            std::fs::create_dir_all(dir.join(sub)).expect("an engine's directories");
        }
        // The engine key's path is settable only in the config file; the
        // default would give every engine the machine engine's ID.
        let config = format!(
            "{{\"deprecated-key-path\": \"{}\"}}\n",
            dir.join("key.json").display()
        );
        write(&dir.join("daemon.json"), config.as_bytes());
        // A killed engine leaves its pid file, which a new one refuses if the
        // pid has been reused meanwhile.
        let _ = std::fs::remove_file(dir.join("docker.pid"));
        let host = &self.hosts[index];
        let log = log_file(&self.engine_log(index));
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net={}", netns_path(&host.netns).display()))
            .args([
                "--",
                "unshare",
                "--uts",
                "--mount",
                "--propagation",
                "slave",
                "--",
            ])
            // A fixed script: sets the hostname given as $1, then runs the
            // rest of its arguments (dockerd's argv) in its place.
            .args(["sh", "-c", "hostname \"$1\" && shift && exec \"$@\"", "sh"])
            .arg(&host.name)
            .arg("dockerd")
            .args(own_state_args(&dir, &host.netns))
            .arg("--host")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .arg("--host")
            .arg(format!("tcp://{}:{ENGINE_PORT}", host.address))
            .arg("--tlsverify")
            .arg("--tlscacert")
            .arg(self.dir.path().join("ca.pem"))
            .arg("--tlscert")
            .arg(dir.join("server-cert.pem"))
            .arg("--tlskey")
            .arg(dir.join("server-key.pem"))
            .arg("--insecure-registry")
            .arg(self.registry().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("an engine's log"))
            .stderr(log);
        // nsenter, unshare and sh exec: the child is dockerd itself.
        self.hosts[index].dockerd = Some(command.spawn().expect("nsenter, unshare and dockerd"));
    }

    fn wait_for_engine(&mut self, index: usize) {
        let socket = self.host_dir(index).join("docker.sock");
        let deadline = Instant::now() + START_TIMEOUT;
        let tcp = SocketAddrV4::new(self.address(index), ENGINE_PORT);
        self.check_route(*tcp.ip());
        // The TCP listener opens after the socket's.
        while !ping(&socket) || !accepts(tcp) {
            let host = &mut self.hosts[index];
            if let Some(Ok(Some(status))) = host.dockerd.as_mut().map(Child::try_wait) {
                host.dockerd = None;
                panic!(
                    "{}'s engine exited with {status} while starting:\n{}",
                    self.hosts[index].name,
                    self.log_tail(index, 20)
                );
            }
            assert!(
                Instant::now() < deadline,
                "{}'s engine did not answer within {START_TIMEOUT:?}:\n{}",
                self.hosts[index].name,
                self.log_tail(index, 20)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let host = &mut self.hosts[index];
        if let Some(inode) = host
            .dockerd
            .as_ref()
            .and_then(|dockerd| namespace_inode(dockerd.id(), "mnt"))
        {
            host.mount_namespaces.push(inode);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let started = Instant::now();
        if std::thread::panicking() {
            for index in 0..self.hosts.len() {
                eprintln!(
                    "--- the end of {}'s engine log:\n{}",
                    self.hosts[index].name,
                    self.log_tail(index, 30)
                );
            }
        }
        for index in 0..self.hosts.len() {
            self.kill_engine(index);
        }
        self.stop_registry();
        let mut namespaces = vec![self.switch_netns(), self.registry_netns()];
        namespaces.extend(self.hosts.iter().map(|host| host.netns.clone()));
        let mount_namespaces: Vec<u64> = self
            .hosts
            .iter()
            .flat_map(|host| host.mount_namespaces.iter().copied())
            .collect();
        let cgroup_parents: Vec<&str> = self.hosts.iter().map(|host| host.netns.as_str()).collect();
        remove_cluster(&self.name, &namespaces, &mount_namespaces, &cgroup_parents);
        // Mounts lived in the engines' own mount namespaces; be defensive.
        unmount_under(self.dir.path());
        eprintln!(
            "cluster {}: torn down in {:.1?}",
            self.name,
            started.elapsed()
        );
    }
}

/// Kills what is left of a cluster's processes and removes its namespaces,
/// root veth and cgroups.
fn remove_cluster(
    name: &str,
    namespaces: &[String],
    mount_namespaces: &[u64],
    cgroup_parents: &[&str],
) {
    let inodes: Vec<u64> = namespaces.iter().filter_map(|ns| netns_inode(ns)).collect();
    kill_leftovers(
        &format!("cluster {name}"),
        &inodes,
        mount_namespaces,
        cgroup_parents,
    );
    for netns in namespaces {
        if netns_path(netns).exists() {
            let _ = Command::new("ip").args(["netns", "del", netns]).status();
        }
    }
    // Gone with the switch's namespace, which held its peer; be defensive.
    let _ = Command::new("ip")
        .args(["link", "del", name])
        .stderr(Stdio::null())
        .status();
    for parent in cgroup_parents {
        remove_cgroups(parent);
    }
}

/// Removes what clusters named `<prefix>-<pid>-…` left when their process
/// died without dropping them: namespaces, processes, cgroups, state
/// directories.
fn remove_stale(prefix: &str) {
    let stale = |entry: &str| -> Option<String> {
        let rest = entry.strip_prefix(prefix)?.strip_prefix('-')?;
        let mut parts = rest.splitn(3, ['-', '.']);
        let pid = u32::from_str_radix(parts.next()?, 16).ok()?;
        let counter = parts.next()?;
        u32::from_str_radix(counter, 16).ok()?;
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        (!alive).then(|| format!("{prefix}-{pid:x}-{counter}"))
    };
    let names = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let netns_entries = names(Path::new("/run/netns"));
    let temp = std::env::temp_dir();
    let temp_entries = names(&temp);
    let mut clusters: Vec<String> = netns_entries
        .iter()
        .chain(&temp_entries)
        .filter_map(|entry| stale(entry))
        .collect();
    clusters.sort();
    clusters.dedup();
    for cluster in clusters {
        eprintln!("removing cluster {cluster}, left by a test process that died");
        let owned = |entry: &&String| {
            entry
                .strip_prefix(&cluster)
                .is_some_and(|rest| rest.starts_with('-') || rest.starts_with('.'))
        };
        let namespaces: Vec<String> = netns_entries.iter().filter(owned).cloned().collect();
        let cgroup_parents: Vec<&str> = namespaces
            .iter()
            .map(String::as_str)
            .filter(|ns| {
                ns.rsplit('-')
                    .next()
                    .is_some_and(|role| role.starts_with('h'))
            })
            .collect();
        let dirs: Vec<PathBuf> = temp_entries
            .iter()
            .filter(owned)
            .map(|e| temp.join(e))
            .collect();
        remove_cluster(&cluster, &namespaces, &[], &cgroup_parents);
        for dir in dirs {
            unmount_under(&dir);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

fn netns_path(name: &str) -> PathBuf {
    Path::new("/run/netns").join(name)
}

fn netns_inode(name: &str) -> Option<u64> {
    std::fs::metadata(netns_path(name))
        .ok()
        .map(|meta| meta.ino())
}

/// Host `index`'s (from 0) address: `X.11`, `X.12`, ….
fn host_address(subnet: Ipv4Addr, index: usize) -> Ipv4Addr {
    let [a, b, c, _] = subnet.octets();
    Ipv4Addr::new(a, b, c, 11 + index as u8)
}

/// A /24 of 10.78.0.0/16 that no address on the machine is in and that
/// nothing routes directly (call with the allocation lock held).
fn free_subnet() -> Ipv4Addr {
    let addresses = ip(&["-4", "-o", "addr", "show"]);
    let seed = std::process::id() ^ NEXT_CLUSTER.load(Ordering::Relaxed).rotate_left(8);
    for attempt in 0..256u32 {
        let third = ((seed.wrapping_add(attempt)) % 256) as u8;
        let subnet = Ipv4Addr::new(NETWORK[0], NETWORK[1], third, 0);
        let taken = addresses.contains(&format!(" {}.{}.{third}.", NETWORK[0], NETWORK[1]));
        let probe = Ipv4Addr::new(NETWORK[0], NETWORK[1], third, 11).to_string();
        let route = Command::new("ip")
            .args(["route", "get", &probe])
            .output()
            .expect("iproute2");
        // Unused: unreachable, or only behind a gateway (the default route).
        let routed_here =
            route.status.success() && !String::from_utf8_lossy(&route.stdout).contains(" via ");
        if !taken && !routed_here {
            return subnet;
        }
    }
    panic!("no free /24 left in 10.78.0.0/16");
}

/// A TCP connection to `address` opens within a second.
fn accepts(address: SocketAddrV4) -> bool {
    TcpStream::connect_timeout(&address.into(), Duration::from_secs(1)).is_ok()
}

/// `GET /v2/` on the registry answers 200 within a second.
fn registry_answers(address: SocketAddrV4) -> bool {
    let timeout = Duration::from_secs(1);
    let Ok(mut stream) = TcpStream::connect_timeout(&address.into(), timeout) else {
        return false;
    };
    if stream.set_read_timeout(Some(timeout)).is_err()
        || stream
            .write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n")
            .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.take(4096).read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200")
}

/// Writes the cluster's CA (`ca.pem` in `dir`), a server certificate and key
/// per host (`<host>/server-cert.pem`, naming its name and address) and the
/// client's material in Docker's layout (`client_dir`).
fn write_certificates(dir: &Path, client_dir: &Path, hosts: &[Host]) {
    let ca = rcgen::CertifiedIssuer::self_signed(
        ca_params("Berth multihost test CA"),
        rcgen::KeyPair::generate().expect("a key"),
    )
    .expect("the cluster's CA");
    write(&dir.join("ca.pem"), ca.pem().as_bytes());
    std::fs::create_dir_all(client_dir).expect("the client's certificate directory");
    let (cert, key) = client_certificate(&ca);
    write(&client_dir.join("ca.pem"), ca.pem().as_bytes());
    write(&client_dir.join("cert.pem"), cert.as_bytes());
    write(&client_dir.join("key.pem"), key.as_bytes());
    for host in hosts {
        let host_dir = dir.join(&host.name);
        std::fs::create_dir_all(&host_dir).expect("a host's directory");
        let key = rcgen::KeyPair::generate().expect("a key");
        let mut params =
            rcgen::CertificateParams::new(vec![host.name.clone(), host.address.to_string()])
                .expect("server certificate names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, host.name.as_str());
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &ca).expect("a server certificate");
        write(&host_dir.join("server-cert.pem"), cert.pem().as_bytes());
        write(
            &host_dir.join("server-key.pem"),
            key.serialize_pem().as_bytes(),
        );
    }
}

fn ca_params(common_name: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params
}

/// A client certificate signed by `ca`: (certificate PEM, key PEM).
fn client_certificate(ca: &rcgen::CertifiedIssuer<'_, rcgen::KeyPair>) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("a key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("client params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "berth");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, ca).expect("a client certificate");
    (cert.pem(), key.serialize_pem())
}

/// Another CA's certificate, and a client certificate and key it signed.
fn foreign_material() -> (Vec<u8>, (Vec<u8>, Vec<u8>)) {
    let ca = rcgen::CertifiedIssuer::self_signed(
        ca_params("Some other CA"),
        rcgen::KeyPair::generate().expect("a key"),
    )
    .expect("another CA");
    let (cert, key) = client_certificate(&ca);
    (ca.pem().into_bytes(), (cert.into_bytes(), key.into_bytes()))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn write(path: &Path, contents: &[u8]) {
    std::fs::write(path, contents)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display()))
}
