//! A Docker engine of the test's own, which the test may stop, kill and
//! start again without touching the machine's shared engine.
//!
//! The engine runs in a network namespace the test creates, with its own
//! data root, exec root, pid file, socket, config file (so
//! `/etc/docker/daemon.json` is not read) and engine key, in a mount and UTS
//! namespace of its own (its overlay and netns mounts stay private), and
//! with a cgroup parent of its own. A veth pair with a /30 of 10.79.0.0/16
//! joins the namespace to the root namespace, so that a test reaches
//! servers listening inside (a berthd started with [`PrivateEngine::in_netns`])
//! while ports the engine publishes on 127.0.0.1 stay inside the namespace.
//!
//! Dropping it (also while a test panics) removes everything: the
//! engine, every process left in its namespaces or cgroups (containerd,
//! shims, docker-proxy, containers), the veth pair, the namespace, the
//! cgroups and the state directory.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long an engine has to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop may take before the engine is killed: it
/// stops its containers first (they have 10 s each, in parallel).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// The addresses of every engine's veth pair are a /30 of this /16.
const LINK_NETWORK: [u8; 2] = [10, 79];

/// A private `dockerd` in a network namespace of its own; see the module
/// documentation.
pub struct PrivateEngine {
    /// Names the network namespace and the cgroup parent, e.g. `berth-pe-1a2b3c`.
    name: String,
    /// The root namespace's end of the veth pair (the other end is `eth0`).
    veth: String,
    /// The root namespace's address on the veth pair.
    host_address: Ipv4Addr,
    /// The namespace's address on the veth pair.
    inside_address: Ipv4Addr,
    dir: tempfile::TempDir,
    dockerd: Option<Child>,
    /// The inode of each mount namespace an engine of this one ran in.
    mount_namespaces: Vec<u64>,
}

impl PrivateEngine {
    /// Creates the namespace and its link, starts the engine and waits
    /// (bounded) until it answers.
    pub fn start() -> Self {
        let name = crate::unique_app_name("berth-pe");
        let suffix = name.rsplit('-').next().unwrap().to_string();
        // Held until the link exists: another engine starting meanwhile must
        // not take the same addresses.
        let lock = allocation_lock();
        let (host_address, inside_address) = free_link_addresses();
        let dir = tempfile::Builder::new()
            .prefix("berth-pe-")
            .tempdir()
            .expect("state directory of a private engine");
        let mut engine = Self {
            veth: format!("bpe-{suffix}"),
            name,
            host_address,
            inside_address,
            dir,
            dockerd: None,
            mount_namespaces: Vec::new(),
        };
        // From here on, a panic leaves the cleanup to Drop.
        engine.create_network();
        drop(lock);
        engine.write_config();
        engine.start_again();
        engine
    }

    /// The network namespace's name (`ip netns`), also the engine's cgroup parent.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`, for `nsenter --net=…`.
    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// `unix:///…/docker.sock`, for `BERTH_DOCKER_HOST` or `docker -H`.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The namespace's address on its link to the root namespace: servers
    /// inside listen here to be reachable from the test.
    pub fn inside_address(&self) -> Ipv4Addr {
        self.inside_address
    }

    /// The root namespace's address on that link.
    pub fn host_address(&self) -> Ipv4Addr {
        self.host_address
    }

    /// The engine's own log (all its starts), e.g. to print when a test fails.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("dockerd.log")
    }

    /// The `docker` CLI pointed at this engine.
    pub fn docker(&self) -> Command {
        let mut command = Command::new("docker");
        command.arg("-H").arg(self.docker_host());
        command
    }

    /// `program` to be run inside the engine's network namespace.
    pub fn in_netns(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net={}", self.netns_path().display()))
            .arg("--")
            .arg(program);
        command
    }

    /// The engine's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.dockerd.as_ref().map(Child::id)
    }

    /// True when the engine answers `/_ping` within a second.
    pub fn answers(&self) -> bool {
        ping(&self.socket())
    }

    /// Graceful stop: SIGTERM, and waits until the engine has exited (it
    /// stops its containers first); SIGKILL after [`STOP_TIMEOUT`].
    pub fn stop(&mut self) {
        let Some(mut dockerd) = self.dockerd.take() else {
            return;
        };
        let pid = Pid::from_raw(dockerd.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if matches!(dockerd.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "private engine {} did not stop within {STOP_TIMEOUT:?}: killing it",
            self.name
        );
        let _ = dockerd.kill();
        let _ = dockerd.wait();
    }

    /// SIGKILL, and waits until the engine is gone. Its containers keep
    /// running under their shims until it starts again.
    pub fn kill(&mut self) {
        if let Some(mut dockerd) = self.dockerd.take() {
            let _ = dockerd.kill();
            let _ = dockerd.wait();
        }
    }

    /// Stops the engine gracefully and starts it again on the same state.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Starts the engine (again, after [`Self::stop`] or [`Self::kill`]) on
    /// the same state and waits (bounded) until it answers.
    pub fn start_again(&mut self) {
        assert!(self.dockerd.is_none(), "the private engine still runs");
        // A killed engine leaves its pid file, which a new one refuses if
        // the pid has been reused meanwhile.
        let _ = std::fs::remove_file(self.dir.path().join("docker.pid"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let dir = self.dir.path();
        let mut command = self.in_netns("unshare");
        command
            .args([
                "--uts",
                "--mount",
                "--propagation",
                "slave",
                "--",
                "dockerd",
            ])
            .args(own_state_args(dir, &self.name))
            .arg("--host")
            .arg(self.docker_host())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // nsenter and unshare exec: the child is dockerd itself.
        self.dockerd = Some(command.spawn().expect("nsenter, unshare and dockerd"));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.answers() {
                break;
            }
            if let Some(Ok(Some(status))) = self.dockerd.as_mut().map(Child::try_wait) {
                self.dockerd = None;
                panic!(
                    "private engine {} exited with {status} while starting:\n{}",
                    self.name,
                    self.log_tail(20)
                );
            }
            assert!(
                Instant::now() < deadline,
                "private engine {} did not answer within {START_TIMEOUT:?}:\n{}",
                self.name,
                self.log_tail(20)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some(inode) = self.pid().and_then(|pid| namespace_inode(pid, "mnt")) {
            self.mount_namespaces.push(inode);
        }
    }

    /// The last `lines` lines of the engine's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path(), lines)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn write_config(&self) {
        for sub in ["data", "exec"] {
            std::fs::create_dir_all(self.dir.path().join(sub)).unwrap();
        }
        // The engine key's path is settable only here; the default
        // (/etc/docker/key.json) would give the engine the shared one's ID.
        let config = serde_json::json!({
            "deprecated-key-path": self.dir.path().join("key.json"),
        });
        std::fs::write(self.dir.path().join("daemon.json"), config.to_string()).unwrap();
    }

    fn create_network(&self) {
        let (ns, veth) = (self.name.as_str(), self.veth.as_str());
        let host = format!("{}/30", self.host_address);
        let inside = format!("{}/30", self.inside_address);
        ip(&["netns", "add", ns]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        ip(&[
            "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ]);
        ip(&["addr", "add", &host, "dev", veth]);
        ip(&["link", "set", veth, "up"]);
        ip(&["-n", ns, "addr", "add", &inside, "dev", "eth0"]);
        ip(&["-n", ns, "link", "set", "eth0", "up"]);
        // Nothing is sent to the namespace unless it is routed into our veth.
        let route = ip(&["route", "get", &self.inside_address.to_string()]);
        assert!(
            route.contains(&format!(" dev {veth} ")),
            "{} is not routed through {veth}: {route}",
            self.inside_address
        );
    }

    /// Kills (SIGKILL) every process in the engine's network namespace, in
    /// its cgroups, or in a mount namespace one of its engines ran in:
    /// containerd, shims, docker-proxy and the containers' processes.
    fn kill_leftovers(&self) {
        let netns: Vec<u64> = std::fs::metadata(self.netns_path())
            .ok()
            .map(|meta| meta.ino())
            .into_iter()
            .collect();
        kill_leftovers(&self.name, &netns, &self.mount_namespaces, &[&self.name]);
    }
}

/// dockerd's arguments for an engine whose state lies under `dir` alone
/// (`daemon.json`, `data`, `exec`, `docker.pid`), its containers' cgroups
/// under `cgroup_parent`: nothing is shared with the machine's own engine.
pub(crate) fn own_state_args(dir: &Path, cgroup_parent: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    for (flag, path) in [
        ("--config-file", "daemon.json"),
        ("--data-root", "data"),
        ("--exec-root", "exec"),
        ("--pidfile", "docker.pid"),
    ] {
        args.push(flag.into());
        args.push(dir.join(path).into());
    }
    args.push("--cgroup-parent".into());
    args.push(cgroup_parent.into());
    args
}

/// Serialises choosing test networks (a private engine's link, a cluster's /24)
/// between the threads and processes of tests.
const ALLOCATION_LOCK: &str = "/run/lock/berth-multihost.lock";

/// An exclusive lock on [`ALLOCATION_LOCK`], held until dropped.
pub(crate) fn allocation_lock() -> nix::fcntl::Flock<std::fs::File> {
    if let Some(parent) = Path::new(ALLOCATION_LOCK).parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(ALLOCATION_LOCK)
        .unwrap_or_else(|error| panic!("cannot open {ALLOCATION_LOCK}: {error}"));
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, error)| panic!("cannot lock {ALLOCATION_LOCK}: {error}"))
}

/// Kills (SIGKILL) every process in one of the network namespaces
/// `netns_inodes`, in the cgroups under one of `cgroup_parents`, or in one
/// of the mount namespaces `mount_namespaces` that such a process still
/// holds, until none is left (bounded); `owner` names what they belonged
/// to in a warning.
pub(crate) fn kill_leftovers(
    owner: &str,
    netns_inodes: &[u64],
    mount_namespaces: &[u64],
    cgroup_parents: &[&str],
) {
    let own = std::process::id();
    for _ in 0..50 {
        let mut left: Vec<u32> = cgroup_parents
            .iter()
            .flat_map(|parent| cgroup_processes(parent))
            .collect();
        let mut in_mount_namespaces = Vec::new();
        for pid in live_processes() {
            if namespace_inode(pid, "net").is_some_and(|inode| netns_inodes.contains(&inode)) {
                left.push(pid);
            } else if let Some(inode) =
                namespace_inode(pid, "mnt").filter(|inode| mount_namespaces.contains(inode))
            {
                in_mount_namespaces.push((pid, inode));
            }
        }
        // A mount namespace an engine ran in is still its own only while one
        // of its processes holds it: once freed, its inode number goes to the
        // next namespace made anywhere (another test's build, say).
        let held: Vec<u64> = left
            .iter()
            .filter_map(|pid| namespace_inode(*pid, "mnt"))
            .collect();
        left.extend(
            in_mount_namespaces
                .into_iter()
                .filter(|(_, inode)| held.contains(inode))
                .map(|(pid, _)| pid),
        );
        left.retain(|pid| *pid != own && !is_zombie(*pid));
        if left.is_empty() {
            return;
        }
        for pid in left {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("warning: processes of {owner} survived SIGKILL");
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- the end of private engine {}'s log:\n{}",
                self.name,
                self.log_tail(30)
            );
        }
        self.stop();
        self.kill_leftovers();
        // Deleting one end of a veth pair deletes both.
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .stderr(Stdio::null())
            .status();
        if self.netns_path().exists() {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .status();
        }
        remove_cgroups(&self.name);
        // The engine's mounts lived in its own mount namespace; be defensive.
        unmount_under(self.dir.path());
    }
}

/// Unmounts (lazily) whatever is mounted under `dir` in this mount
/// namespace, deepest first.
pub(crate) fn unmount_under(dir: &Path) {
    let base = format!("{}/", dir.display());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut ours: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| point.starts_with(&base))
        .collect();
    ours.sort_by(|a, b| b.cmp(a));
    for point in ours {
        let _ = Command::new("umount").args(["-l", point]).status();
    }
}

/// Runs `ip ARGS`, asserts that it succeeded and returns its output.
pub(crate) fn ip(args: &[&str]) -> String {
    let output = Command::new("ip").args(args).output().expect("iproute2");
    assert!(
        output.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A /30 of 10.79.0.0/16 that nothing on this machine routes yet: the
/// root namespace's address and the namespace's.
fn free_link_addresses() -> (Ipv4Addr, Ipv4Addr) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        ^ std::process::id().rotate_left(16);
    for attempt in 0..64u32 {
        let block = (seed.wrapping_add(attempt.wrapping_mul(7919))) % (1 << 14);
        let base = u32::from(Ipv4Addr::new(LINK_NETWORK[0], LINK_NETWORK[1], 0, 0)) + block * 4;
        let (host, inside) = (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2));
        // An address nobody uses is unreachable or only behind a gateway
        // (the default route); a link of another test is directly connected.
        let route = Command::new("ip")
            .args(["route", "get", &inside.to_string()])
            .output()
            .expect("iproute2");
        let routed_here =
            route.status.success() && !String::from_utf8_lossy(&route.stdout).contains(" via ");
        let addresses = ip(&["-4", "-o", "addr", "show"]);
        if !routed_here
            && !addresses.contains(&format!(" {host}/"))
            && !addresses.contains(&format!(" {inside}/"))
        {
            return (host, inside);
        }
    }
    panic!("no free /30 left in 10.79.0.0/16");
}

/// `GET /_ping` on the engine's socket answers 200 within a second.
pub(crate) fn ping(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(1));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    if stream
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.take(4096).read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200")
}

pub(crate) fn live_processes() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The inode of process `pid`'s namespace of `kind` (`net`, `mnt`).
pub(crate) fn namespace_inode(pid: u32, kind: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|meta| meta.ino())
}

/// True for a zombie, and for a process that is gone.
pub(crate) fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name, which is in parentheses.
            let after = stat.rsplit_once(')')?.1;
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(true)
}

/// The cgroup directories named `name` (the engine's cgroup parent), in
/// every controller: relative to the engine's own cgroup, which differs
/// per controller (e.g. memory under `/process_api/<id>`).
fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, name: &str, depth: usize, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                continue;
            }
            if entry.file_name() == OsStr::new(name) {
                found.push(entry.path());
            } else if depth > 0 {
                walk(&entry.path(), name, depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), name, 4, &mut found);
    found
}

/// Every process in the cgroups under the engine's cgroup parent.
pub(crate) fn cgroup_processes(name: &str) -> Vec<u32> {
    fn collect(dir: &Path, pids: &mut Vec<u32>) {
        if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            pids.extend(
                procs
                    .lines()
                    .filter_map(|line| line.trim().parse::<u32>().ok()),
            );
        }
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    collect(&entry.path(), pids);
                }
            }
        }
    }
    let mut pids = Vec::new();
    for dir in cgroup_dirs(name) {
        collect(&dir, &mut pids);
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Removes the engine's (empty) cgroups, deepest first.
pub(crate) fn remove_cgroups(name: &str) {
    fn remove(dir: &Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    remove(&entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    for dir in cgroup_dirs(name) {
        remove(&dir);
    }
}

pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
