//! Test apps: a fixture copied into a temporary git work tree with Debian's
//! static busybox beside its Dockerfile, pushed with the real `git` client;
//! and a guard that removes every container, network and image an app left
//! in the engine, even when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BUSYBOX: &str = "/bin/busybox";

/// A unique app name: `<prefix>-<6 hex>`; the prefix says which test made it.
/// Never the same twice in one process (a test's server would refuse the
/// second app), and unlikely to meet another test process's names.
pub fn unique_app_name(prefix: &str) -> String {
    let mut issued = ISSUED.lock().expect("issued names lock");
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let counter = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let suffix =
            (nanos ^ (std::process::id() << 8) ^ counter.wrapping_mul(0x9e37_79b9)) & 0xff_ffff;
        let name = format!("{prefix}-{suffix:06x}");
        if issued.insert(name.clone()) {
            return name;
        }
    }
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static ISSUED: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// A git work tree made from `fixtures/<name>`.
pub struct AppRepo {
    dir: tempfile::TempDir,
    /// Labels the layers of this repository's builds (see `isolate_build_cache`).
    cache_marker: String,
}

impl AppRepo {
    /// Copies the fixture and busybox into a new repository and commits them on `main`.
    pub fn from_fixture(fixture: &str) -> Self {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(fixture);
        assert!(source.is_dir(), "no fixture {}", source.display());
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&source, dir.path());
        std::fs::copy(BUSYBOX, dir.path().join("busybox"))
            .expect("Debian's busybox-static provides /bin/busybox");
        let cache_marker = unique_app_name("cache");
        isolate_build_cache(&dir.path().join("Dockerfile"), &cache_marker);
        let repo = Self { dir, cache_marker };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.commit("Initial commit");
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file into the work tree; a Dockerfile gets this
    /// repository's cache isolation too.
    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        if relative.ends_with("Dockerfile") {
            isolate_build_cache(&path, &self.cache_marker);
        }
    }

    /// Commits everything in the work tree (an empty commit when nothing changed).
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        let output = self.git(&["rev-parse", "HEAD"]);
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// `git push <url> <refspec>` authenticated with `token`; returns git's output.
    pub fn push(&self, git_url: &str, token: &str, refspec: &str, extra: &[&str]) -> Output {
        let url = with_credentials(git_url, token);
        let mut args = vec!["push", "--porcelain"];
        args.extend_from_slice(extra);
        args.extend([url.as_str(), refspec]);
        self.git_unchecked(&args)
    }

    /// Runs git in the work tree (isolated from the user's configuration) and asserts success.
    pub fn git(&self, args: &[&str]) -> Output {
        let output = self.git_unchecked(args);
        assert!(
            output.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    pub fn git_unchecked(&self, args: &[&str]) -> Output {
        git_command(self.dir.path()).args(args).output().unwrap()
    }
}

/// Gives the Dockerfile's layers a parent of their own: tests build in
/// parallel in one engine, and removing one test's images must not pull a
/// shared cached layer from under another test's build.
fn isolate_build_cache(dockerfile: &Path, marker: &str) {
    let Ok(text) = std::fs::read_to_string(dockerfile) else {
        return;
    };
    let isolated: String = text
        .lines()
        .map(|line| {
            if line.trim_start().to_ascii_uppercase().starts_with("FROM ") {
                format!("{line}\nLABEL berth.test.cache={marker}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(dockerfile, isolated).unwrap();
}

/// `git` with no user or system configuration, credentials or prompts.
pub fn git_command(cwd: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(cwd)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CEILING_DIRECTORIES", cwd.parent().unwrap_or(cwd))
        .env("GIT_AUTHOR_NAME", "Berth Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Berth Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env_remove("HOME");
    command
}

/// `http://127.0.0.1:1234/demo.git` → `http://berth:<token>@127.0.0.1:1234/demo.git`.
pub fn with_credentials(git_url: &str, token: &str) -> String {
    git_url.replacen("://", &format!("://berth:{token}@"), 1)
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target: PathBuf = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Drop for AppRepo {
    /// Removes the layers a failed build of this repository left untagged;
    /// images still in use are `EngineCleanup`'s.
    fn drop(&mut self) {
        let label = format!("label=berth.test.cache={}", self.cache_marker);
        let images = docker_ids(&["images", "-aq", "--filter", &label]);
        if !images.is_empty() {
            let _ = Command::new("docker")
                .args(["rmi", "-f"])
                .args(&images)
                .output();
        }
    }
}

/// The apps whose containers carry `berth.platform=<platform>`.
pub(crate) fn apps_with_containers_of(platform: &str) -> std::collections::BTreeSet<String> {
    apps_labelled(&["ps", "-a"], platform)
}

/// The apps with volumes labelled `berth.platform=<platform>`.
pub(crate) fn apps_with_volumes_of(platform: &str) -> std::collections::BTreeSet<String> {
    apps_labelled(&["volume", "ls"], platform)
}

/// The `berth.app` labels of what `docker <listing>` lists of the platform.
fn apps_labelled(listing: &[&str], platform: &str) -> std::collections::BTreeSet<String> {
    let filter = format!("label=berth.platform={platform}");
    let format = "{{.Label \"berth.app\"}}";
    let mut args = listing.to_vec();
    args.extend(["--filter", &filter, "--format", format]);
    docker_ids(&args).into_iter().collect()
}

fn docker_ids(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Removes what Berth made in the engine for `app` when dropped.
pub struct EngineCleanup {
    app: String,
}

impl EngineCleanup {
    pub fn new(app: &str) -> Self {
        Self {
            app: app.to_string(),
        }
    }
}

impl Drop for EngineCleanup {
    fn drop(&mut self) {
        let label = format!("label=berth.app={}", self.app);
        let containers = docker_ids(&["ps", "-aq", "--filter", &label]);
        if !containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&containers)
                .output();
        }
        // Its persistent volumes, once no container uses them.
        let volumes = docker_ids(&["volume", "ls", "-q", "--filter", &label]);
        if !volumes.is_empty() {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f"])
                .args(&volumes)
                .output();
        }
        let _ = Command::new("docker")
            .args(["network", "rm", &format!("berth-{}", self.app)])
            .output();
        // Its images by label, and by its own repository: an image promoted
        // to this app carries the label of the app it was built for.
        let mut images = docker_ids(&["images", "-q", "--filter", &label]);
        images.extend(docker_ids(&[
            "images",
            "-q",
            "--filter",
            &format!("reference=berth/{}", self.app),
        ]));
        images.sort();
        images.dedup();
        if !images.is_empty() {
            let _ = Command::new("docker")
                .args(["rmi", "-f"])
                .args(&images)
                .output();
        }
    }
}
