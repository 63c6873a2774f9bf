//! A real `berthd` process on loopback ports, for the tests that kill it:
//! the binary's path comes from the test (`CARGO_BIN_EXE_berthd` exists only
//! in the server crate's tests). It can also run inside a network namespace
//! (next to a [`crate::PrivateEngine`]), listening on an address there.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two free loopback addresses, for the API and the router of a real berthd.
pub fn free_addresses() -> (String, String) {
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    (
        format!("127.0.0.1:{}", port()),
        format!("127.0.0.1:{}", port()),
    )
}

/// The `berthd` binary at `binary` on `data_dir`, listening on `api` and `http`.
pub fn berthd_command(binary: &Path, data_dir: &Path, api: &str, http: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .env("BERTH_DATA_DIR", data_dir)
        .env("BERTH_API_LISTEN", api)
        .env("BERTH_HTTP_LISTEN", http);
    command
}

/// Waits (bounded) until something accepts connections at `address`.
pub fn wait_until_listening(address: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(
            Instant::now() < deadline,
            "berthd did not listen on {address} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where a [`BerthdProcess`] runs other than on loopback: inside the
/// network namespace at `netns` (`/run/netns/NAME`), listening on `api` and
/// `http` there (addresses the test can reach, e.g. the namespace's end of
/// a veth pair).
#[derive(Debug, Clone)]
pub struct InNetns {
    pub netns: PathBuf,
    pub api: String,
    pub http: String,
}

/// A real `berthd` process, killed with SIGKILL when dropped; it can be
/// started again on the same data directory and addresses.
pub struct BerthdProcess {
    binary: PathBuf,
    data_dir: PathBuf,
    pub api: String,
    pub http: String,
    env: Vec<(OsString, OsString)>,
    netns: Option<PathBuf>,
    /// Where its output goes (appended); none: discarded.
    log: Option<PathBuf>,
    child: Option<Child>,
}

impl BerthdProcess {
    /// Starts `binary` on `data_dir` and free loopback ports, with `env` set
    /// on top of the data directory and listen addresses.
    pub fn start(binary: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let (api, http) = free_addresses();
        Self::launch(binary, data_dir, env, api, http, None, None)
    }

    /// Like [`Self::start`], with berthd's own log (its stdout and stderr,
    /// `RUST_LOG=warn`) appended to the file at `log`, for a test to read.
    pub fn start_logging_to(
        binary: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
        log: &Path,
    ) -> Self {
        let (api, http) = free_addresses();
        Self::launch(
            binary,
            data_dir,
            env,
            api,
            http,
            None,
            Some(log.to_path_buf()),
        )
    }

    /// Starts `binary` on `data_dir` inside a network namespace (see
    /// [`InNetns`]), with `env` set as for [`Self::start`]. Its output is
    /// appended to `log` (`RUST_LOG` in `env` sets how much).
    pub fn start_in_netns(
        binary: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
        place: InNetns,
        log: &Path,
    ) -> Self {
        Self::launch(
            binary,
            data_dir,
            env,
            place.api,
            place.http,
            Some(place.netns),
            Some(log.to_path_buf()),
        )
    }

    fn launch(
        binary: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
        api: String,
        http: String,
        netns: Option<PathBuf>,
        log: Option<PathBuf>,
    ) -> Self {
        let mut berthd = Self {
            binary: binary.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            api,
            http,
            env: env
                .iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
            netns,
            log,
            child: None,
        };
        berthd.restart();
        berthd
    }

    /// Starts it again (after [`Self::kill`]) and waits until its API listens.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "berthd is still running");
        let mut command = match &self.netns {
            // nsenter execs berthd: the child is berthd itself.
            Some(netns) => {
                let mut command = Command::new("nsenter");
                command
                    .arg(format!("--net={}", netns.display()))
                    .arg("--")
                    .arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        command
            .env("BERTH_DATA_DIR", &self.data_dir)
            .env("BERTH_API_LISTEN", &self.api)
            .env("BERTH_HTTP_LISTEN", &self.http);
        let (stdout, stderr) = match &self.log {
            Some(log) => {
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap();
                (Stdio::from(log.try_clone().unwrap()), Stdio::from(log))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = command
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_until_listening(&self.api);
    }

    /// The process id while it runs (to read its CPU time and memory in `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still alive (it has not exited or crashed).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// SIGKILL, and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `berthd admin create-user EMAIL` on this data directory: the new
    /// user's API token.
    pub fn create_user(&self, email: &str) -> String {
        self.create_account(&["admin", "create-user", email])
    }

    /// The same for a platform admin.
    pub fn create_admin(&self, email: &str) -> String {
        self.create_account(&["admin", "create-user", email, "--admin"])
    }

    fn create_account(&self, args: &[&str]) -> String {
        let created = Command::new(&self.binary)
            .args(args)
            .env("BERTH_DATA_DIR", &self.data_dir)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
        String::from_utf8(created.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_string()
    }
}

impl Drop for BerthdProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
