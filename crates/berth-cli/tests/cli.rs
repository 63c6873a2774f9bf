//! The `berth` binary against a real in-process `berthd`: each test has its
//! own server, its own temporary HOME and its own temporary working directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::TestServer;

#[path = "cli/access.rs"]
mod access;
#[path = "cli/addons.rs"]
mod addons;
#[path = "cli/certs.rs"]
mod certs;
#[path = "cli/compose.rs"]
mod compose;
#[path = "cli/domains.rs"]
mod domains;
#[path = "cli/hosts.rs"]
mod hosts;
#[path = "cli/metrics.rs"]
mod metrics;
#[path = "cli/pipelines.rs"]
mod pipelines;
#[path = "cli/review_apps.rs"]
mod review_apps;
#[path = "cli/volumes.rs"]
mod volumes;
use serde_json::Value;
use tempfile::TempDir;

const PASSWORD: &str = "correct horse battery staple";

struct World {
    server: TestServer,
    home: TempDir,
    /// The working directory `berth` runs in; never inside /work/main.
    cwd: TempDir,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    fn ok(self) -> String {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self.stdout
    }

    /// Asserts the failure contract (exit 1, exactly one `error:` line) and returns that line.
    #[track_caller]
    fn fails(self) -> String {
        assert_eq!(
            self.code,
            Some(1),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {:?}", self.stderr);
        assert!(lines[0].starts_with("error: "), "{:?}", self.stderr);
        lines[0].to_string()
    }

    #[track_caller]
    fn json(self) -> Value {
        let stdout = self.ok();
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }
}

impl World {
    fn new() -> Self {
        Self::with_settings(|_| {})
    }

    /// A world whose server runs with settings changed by `configure`.
    fn with_settings(configure: impl FnOnce(&mut berth_testkit::Settings)) -> Self {
        Self {
            server: TestServer::start_with(configure),
            home: tempfile::tempdir().unwrap(),
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn credentials_path(&self) -> PathBuf {
        self.home().join(".config/berth/credentials.json")
    }

    fn netrc(&self) -> String {
        fs::read_to_string(self.home().join(".netrc")).unwrap_or_default()
    }

    /// A command with a clean environment: this test's HOME and server only.
    fn command(&self, program: &str, dir: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("LANG", "C")
            .env("BERTH_API_URL", &self.server.api_url)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            // Never let git look above the temporary directory for a repository.
            .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap());
        command
    }

    fn berth_with(&self, args: &[&str], stdin: Option<&str>, envs: &[(&str, &str)]) -> Run {
        let mut command = self.command(env!("CARGO_BIN_EXE_berth"), self.cwd.path());
        command.args(args).envs(envs.iter().copied());
        command.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("run berth");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        Run::from(child.wait_with_output().unwrap())
    }

    fn berth(&self, args: &[&str]) -> Run {
        self.berth_with(args, None, &[])
    }

    /// `git push platform <refspec>` from the checkout in `dir`: whether it
    /// succeeded, and what git printed.
    fn push_in(&self, dir: &Path, refspec: &str) -> (bool, String) {
        let push = self
            .command("git", dir)
            .args(["push", "platform", refspec])
            .output()
            .unwrap();
        (
            push.status.success(),
            String::from_utf8_lossy(&push.stderr).to_string(),
        )
    }

    /// `berth` run inside `dir` (a checkout whose remotes it reads).
    fn berth_in(&self, dir: &Path, args: &[&str]) -> Run {
        let mut command = self.command(env!("CARGO_BIN_EXE_berth"), dir);
        Run::from(command.args(args).stdin(Stdio::null()).output().unwrap())
    }

    /// `berth` as the user holding `token`, without a stored login.
    fn berth_as(&self, token: &str, args: &[&str]) -> Run {
        self.berth_with(args, None, &[("BERTH_API_KEY", token)])
    }

    fn login(&self, email: &str, password: &str) -> Run {
        self.berth_with(
            &["login", "--email", email, "--password-stdin"],
            Some(&format!("{password}\n")),
            &[],
        )
    }

    fn git(&self, args: &[&str]) -> Output {
        let output = self
            .command("git", self.cwd.path())
            .args(args)
            .output()
            .expect("run git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn git_init(&self) {
        self.git(&["init", "-q"]);
    }

    fn remote_url(&self, remote: &str) -> Option<String> {
        let output = self
            .command("git", self.cwd.path())
            .args(["remote", "get-url", remote])
            .output()
            .unwrap();
        output
            .status
            .success()
            .then(|| String::from_utf8(output.stdout).unwrap().trim().into())
    }

    fn app_names(&self, token: &str) -> Vec<String> {
        let apps = self.berth_as(token, &["apps", "--json"]).json();
        apps.as_array()
            .unwrap()
            .iter()
            .map(|app| app["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A signed-in developer's app repository: `berth` and `git` run inside it.
struct AppCheckout<'w> {
    world: &'w World,
    name: String,
    repo: berth_testkit::AppRepo,
    _cleanup: berth_testkit::EngineCleanup,
}

impl<'w> AppCheckout<'w> {
    /// Signs `dev@example.com` in and makes a `procfile` fixture app named
    /// after `prefix` (created on the server, with the `platform` remote).
    fn new(world: &'w World, prefix: &str, procfile: Option<&str>) -> Self {
        world
            .server
            .create_user("dev@example.com", false, Some(PASSWORD));
        world.login("dev@example.com", PASSWORD).ok();
        let name = berth_testkit::unique_app_name(prefix);
        let cleanup = berth_testkit::EngineCleanup::new(&name);
        let repo = berth_testkit::AppRepo::from_fixture("procfile");
        if let Some(procfile) = procfile {
            repo.write("Procfile", procfile);
            repo.commit("The processes of this test");
        }
        let checkout = Self {
            world,
            name,
            repo,
            _cleanup: cleanup,
        };
        checkout.berth(&["apps:create", &checkout.name]).ok();
        checkout
    }

    fn berth(&self, args: &[&str]) -> Run {
        self.world.berth_in(self.repo.path(), args)
    }

    /// `git push platform main`, which must deploy.
    fn push(&self) {
        let (pushed, output) = self.push_ref("main");
        assert!(pushed, "{output}");
    }

    /// `git push platform <refspec>`: whether it succeeded, and what git printed.
    fn push_ref(&self, refspec: &str) -> (bool, String) {
        self.world.push_in(self.repo.path(), refspec)
    }
}

/// `GET /version.txt` of the app through the router: which dyno answered.
fn visit(world: &World, app: &str) -> Result<String, String> {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{}/version.txt", world.server.http_url))
        .header("host", format!("{app}.localhost"))
        .send()
        .and_then(|response| response.error_for_status())
        .and_then(|response| response.text())
        .map_err(|error| error.to_string())
}

fn api_host(api_url: &str) -> &str {
    let rest = api_url.split_once("://").unwrap().1;
    rest.split(':').next().unwrap()
}

#[test]
fn walk_through_from_login_to_logout() {
    let world = World::new();
    world
        .server
        .create_user("alice@example.com", false, Some(PASSWORD));
    let host = api_host(&world.server.api_url).to_string();
    fs::write(
        world.home().join(".netrc"),
        "machine github.com login octo password gh\n",
    )
    .unwrap();

    // login
    let out = world.login("alice@example.com", PASSWORD).ok();
    assert_eq!(out, "Logged in as alice@example.com\n");
    let credentials_path = world.credentials_path();
    let mode = fs::metadata(&credentials_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let stored: Value =
        serde_json::from_str(&fs::read_to_string(&credentials_path).unwrap()).unwrap();
    assert_eq!(stored["api_url"], world.server.api_url.as_str());
    assert_eq!(stored["email"], "alice@example.com");
    let token = stored["token"].as_str().unwrap().to_string();
    let netrc = world.netrc();
    assert!(
        netrc.starts_with("machine github.com login octo password gh\n"),
        "{netrc}"
    );
    assert!(
        netrc.contains(&format!(
            "machine {host}\n  login alice@example.com\n  password {token}\n"
        )),
        "{netrc}"
    );
    let netrc_mode = fs::metadata(world.home().join(".netrc"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(netrc_mode & 0o777, 0o600);

    // whoami
    assert_eq!(world.berth(&["whoami"]).ok(), "alice@example.com\n");
    let account = world.berth(&["whoami", "--json"]).json();
    assert_eq!(account["email"], "alice@example.com");
    assert_eq!(account["admin"], false);
    assert!(account["created_at"].is_string());

    // apps:create outside a git repository adds no remote
    assert_eq!(
        world.berth(&["apps"]).ok(),
        "You have no apps. Create one with: berth apps:create\n"
    );
    let out = world.berth(&["apps:create", "demo"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], "Creating demo... done");
    let (web_url, git_url) = lines[1].split_once(" | ").unwrap();
    assert!(web_url.contains("demo"), "{web_url}");
    assert!(git_url.ends_with("/demo.git"), "{git_url}");

    // apps, as a table and as JSON
    let table = world.berth(&["apps"]).ok();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].starts_with("NAME"), "{table}");
    assert_eq!(
        rows[0].find("OWNER"),
        rows[1].find("alice@example.com"),
        "{table}"
    );
    assert_eq!(rows[0].find("WEB URL"), rows[1].find(web_url), "{table}");
    assert!(rows[1].starts_with("demo "), "{table}");
    assert!(rows[1].ends_with(" UTC"), "{table}");
    let apps = world.berth(&["apps", "--json"]).json();
    let apps = apps.as_array().unwrap();
    assert_eq!(apps.len(), 1);
    for key in ["name", "owner", "web_url", "git_url", "created_at"] {
        assert!(apps[0].get(key).is_some(), "{key} in {}", apps[0]);
    }
    assert_eq!(apps[0]["git_url"], git_url);

    // apps:info -a
    let info = world.berth(&["apps:info", "-a", "demo"]).ok();
    let expected_start = format!(
        "=== demo\nOwner:   alice@example.com\nWeb URL: {web_url}\nGit URL: {git_url}\nCreated: "
    );
    assert!(info.starts_with(&expected_start), "{info}");
    assert!(info.ends_with(" UTC\n"), "{info}");

    // git:remote in a fresh repository, then the app comes from the remote
    assert_eq!(
        world.berth(&["git:remote", "-a", "demo"]).fails(),
        "error: not a git repository: run git init first"
    );
    world.git_init();
    assert_eq!(
        world.berth(&["git:remote", "-a", "demo"]).ok(),
        format!("set git remote platform to {git_url}\n")
    );
    assert_eq!(world.remote_url("platform").as_deref(), Some(git_url));
    let info = world.berth(&["apps:info", "--json"]).json();
    assert_eq!(info["name"], "demo");
    assert_eq!(info["git_url"], git_url);

    // apps:destroy removes the app and the remote pointing at it
    let out = world.berth(&["apps:destroy", "--confirm", "demo"]).ok();
    assert!(out.starts_with("Destroying demo... done\n"), "{out}");
    assert_eq!(world.remote_url("platform"), None);
    assert_eq!(
        world.berth(&["apps"]).ok(),
        "You have no apps. Create one with: berth apps:create\n"
    );

    // logout revokes the token and forgets it, keeping other netrc entries
    assert_eq!(world.berth(&["logout"]).ok(), "Logged out\n");
    assert!(!credentials_path.exists());
    assert_eq!(world.netrc(), "machine github.com login octo password gh\n");
    let error = world.berth_as(&token, &["whoami"]).fails();
    assert!(error.contains("login"), "{error}");
    assert_eq!(
        world.berth(&["whoami"]).fails(),
        "error: not logged in: run berth login (or set BERTH_API_KEY)"
    );
    assert_eq!(world.berth(&["logout"]).ok(), "Not logged in\n");
}

#[test]
fn bad_app_names_are_refused_and_nothing_is_created() {
    let world = World::new();
    let token = world
        .server
        .create_user("bad-names@example.com", false, None);
    let error = world.berth_as(&token, &["apps:create", "My_App"]).fails();
    assert!(error.contains("My_App"), "{error}");
    let error = world
        .berth_as(&token, &["apps:create", "ab", "--json"])
        .fails();
    assert!(error.contains("ab"), "{error}");
    assert!(world.app_names(&token).is_empty());
}

#[test]
fn a_taken_name_is_a_conflict() {
    let world = World::new();
    let token = world.server.create_user("dup@example.com", false, None);
    world
        .berth_as(&token, &["apps:create", "dup-app", "--no-remote"])
        .ok();
    let error = world.berth_as(&token, &["apps:create", "dup-app"]).fails();
    assert!(error.contains("dup-app"), "{error}");
    assert_eq!(world.app_names(&token), ["dup-app"]);
}

#[test]
fn an_unknown_app_is_an_error() {
    let world = World::new();
    let token = world.server.create_user("unknown@example.com", false, None);
    let error = world.berth_as(&token, &["apps:info", "-a", "nope"]).fails();
    assert!(error.contains("nope"), "{error}");
    world
        .berth_as(&token, &["apps:info", "-a", "nope", "--json"])
        .fails();
    world
        .berth_as(&token, &["apps:destroy", "-a", "nope", "--confirm", "nope"])
        .fails();
    world.git_init();
    world
        .berth_as(&token, &["git:remote", "-a", "nope"])
        .fails();
    assert_eq!(world.remote_url("platform"), None);
    assert_eq!(
        world.berth_as(&token, &["apps:info"]).fails(),
        "error: no app specified: use -a APP, or run inside a git repository with a platform \
         remote (berth git:remote -a APP)"
    );
}

#[test]
fn a_wrong_password_does_not_log_in() {
    let world = World::new();
    world
        .server
        .create_user("pw@example.com", false, Some(PASSWORD));
    world.login("pw@example.com", "not the password").fails();
    world.login("nobody@example.com", PASSWORD).fails();
    assert!(!world.credentials_path().exists());
    assert_eq!(world.netrc(), "");
    // Without a terminal, a password has to come from --password-stdin.
    let error = world.berth(&["login", "--email", "pw@example.com"]).fails();
    assert!(error.contains("--password-stdin"), "{error}");
}

#[test]
fn a_bogus_api_key_points_at_login() {
    let world = World::new();
    let error = world.berth_as("bogus", &["whoami"]).fails();
    assert!(error.contains("berth login"), "{error}");
    assert!(error.contains("BERTH_API_KEY"), "{error}");
    world.berth_as("bogus", &["apps", "--json"]).fails();
}

#[test]
fn another_users_app_is_invisible() {
    let world = World::new();
    let owner = world.server.create_user("owner@example.com", false, None);
    let stranger = world
        .server
        .create_user("stranger@example.com", false, None);
    world.berth_as(&owner, &["apps:create", "private-app"]).ok();
    assert!(world.app_names(&stranger).is_empty());
    let unknown = world
        .berth_as(&stranger, &["apps:info", "-a", "does-not-exist"])
        .fails();
    let hidden = world
        .berth_as(&stranger, &["apps:info", "-a", "private-app"])
        .fails();
    // The same answer as for an app that does not exist.
    assert_eq!(
        hidden.replace("private-app", "X"),
        unknown.replace("does-not-exist", "X")
    );
    world
        .berth_as(
            &stranger,
            &[
                "apps:destroy",
                "-a",
                "private-app",
                "--confirm",
                "private-app",
            ],
        )
        .fails();
    assert_eq!(world.app_names(&owner), ["private-app"]);
}

#[test]
fn apps_create_without_a_name_picks_one_and_adds_the_remote() {
    let world = World::new();
    let token = world.server.create_user("random@example.com", false, None);
    world.git_init();
    let out = world.berth_as(&token, &["apps:create"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let name = lines[0]
        .strip_prefix("Creating ")
        .unwrap()
        .strip_suffix("... done")
        .unwrap();
    assert!((3..=30).contains(&name.len()), "{name}");
    assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{name}");
    assert!(name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    assert_eq!(lines[2], "Git remote platform added");
    let git_url = lines[1].split_once(" | ").unwrap().1;
    assert_eq!(world.remote_url("platform").as_deref(), Some(git_url));
    assert_eq!(world.app_names(&token), [name]);

    // An existing remote is left alone; --no-remote adds none anyway.
    let app = world
        .berth_as(&token, &["apps:create", "second-app", "--json"])
        .json();
    assert_eq!(app["name"], "second-app");
    assert_eq!(world.remote_url("platform").as_deref(), Some(git_url));
    let out = world
        .berth_as(&token, &["apps:create", "third-app", "--no-remote"])
        .ok();
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn json_outputs_use_snake_case_keys() {
    let world = World::new();
    let token = world.server.create_user("json@example.com", true, None);
    let app = world
        .berth_as(
            &token,
            &["apps:create", "json-app", "--json", "--no-remote"],
        )
        .json();
    let info = world
        .berth_as(&token, &["apps:info", "-a", "json-app", "--json"])
        .json();
    assert_eq!(app, info);
    let keys: Vec<&String> = info.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6);
    for key in keys {
        assert!(
            key.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{key}"
        );
    }
    let account = world.berth_as(&token, &["whoami", "--json"]).json();
    assert_eq!(account["admin"], true);
    // Errors stay one `error:` line under --json.
    world
        .berth_as(&token, &["apps:info", "-a", "missing-app", "--json"])
        .fails();
}

#[test]
fn apps_destroy_with_a_wrong_confirmation_changes_nothing() {
    let world = World::new();
    let token = world.server.create_user("confirm@example.com", false, None);
    world
        .berth_as(&token, &["apps:create", "keep-me", "--no-remote"])
        .ok();
    assert_eq!(
        world
            .berth_as(
                &token,
                &["apps:destroy", "-a", "keep-me", "--confirm", "keep-you"]
            )
            .fails(),
        "error: confirmation \"keep-you\" does not match the app name \"keep-me\""
    );
    assert_eq!(
        world
            .berth_as(&token, &["apps:destroy", "-a", "keep-me"])
            .fails(),
        "error: this destroys keep-me and everything in it: run again with --confirm keep-me"
    );
    assert_eq!(world.app_names(&token), ["keep-me"]);
}

#[test]
fn git_remote_updates_an_existing_remote_and_destroy_keeps_other_remotes() {
    let world = World::new();
    let token = world.server.create_user("remote@example.com", false, None);
    world
        .berth_as(&token, &["apps:create", "first-app", "--no-remote"])
        .ok();
    world
        .berth_as(&token, &["apps:create", "second-app", "--no-remote"])
        .ok();
    world.git_init();
    world.git(&[
        "remote",
        "add",
        "platform",
        "https://elsewhere.example/x.git",
    ]);
    world
        .berth_as(&token, &["git:remote", "-a", "first-app"])
        .ok();
    let url = world.remote_url("platform").unwrap();
    assert!(url.ends_with("/first-app.git"), "{url}");
    let out = world
        .berth_as(&token, &["git:remote", "-a", "second-app", "-r", "staging"])
        .ok();
    assert!(out.starts_with("set git remote staging to "), "{out}");
    // Destroying an app the remote does not point at leaves the remote alone.
    world
        .berth_as(
            &token,
            &[
                "apps:destroy",
                "-a",
                "second-app",
                "--confirm",
                "second-app",
            ],
        )
        .ok();
    assert_eq!(world.remote_url("platform").as_deref(), Some(url.as_str()));
}

#[test]
fn logout_without_a_server_still_logs_out_locally() {
    let mut world = World::new();
    world
        .server
        .create_user("offline@example.com", false, Some(PASSWORD));
    world.login("offline@example.com", PASSWORD).ok();
    // Replace the server by a fresh one and stop it: the stored URL no longer answers.
    world.server = TestServer::start();
    let stored: Value =
        serde_json::from_str(&fs::read_to_string(world.credentials_path()).unwrap()).unwrap();
    let stored_url = stored["api_url"].as_str().unwrap().to_string();
    let run = world.berth(&["logout"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "Logged out\n");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("warning: cannot reach the Berth API at "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&stored_url), "{}", run.stderr);
    assert!(!world.credentials_path().exists());
    assert!(!world.netrc().contains("offline@example.com"));
}

#[test]
fn git_push_with_the_login_deploys_and_releases_and_ps_show_it() {
    let world = World::new();
    world
        .server
        .create_user("dev@example.com", false, Some(PASSWORD));
    world.login("dev@example.com", PASSWORD).ok();
    let name = berth_testkit::unique_app_name("cli-push");
    let _cleanup = berth_testkit::EngineCleanup::new(&name);
    let repo = berth_testkit::AppRepo::from_fixture("cmd-only");
    let in_repo = |args: &[&str]| {
        let mut command = world.command(env!("CARGO_BIN_EXE_berth"), repo.path());
        Run::from(command.args(args).stdin(Stdio::null()).output().unwrap())
    };

    let created = in_repo(&["apps:create", &name]).ok();
    assert!(created.contains("Git remote platform added"), "{created}");
    assert!(in_repo(&["releases"]).ok().contains("has no releases yet"));

    // git finds the token in the ~/.netrc entry `berth login` wrote.
    let push = world
        .command("git", repo.path())
        .args(["push", "platform", "main"])
        .output()
        .unwrap();
    let push_output = String::from_utf8_lossy(&push.stderr);
    assert!(push.status.success(), "{push_output}");
    assert!(
        push_output.contains("remote: -----> Released v1"),
        "{push_output}"
    );

    let releases = in_repo(&["releases"]).ok();
    let v1 = releases
        .lines()
        .find(|line| line.starts_with("v1"))
        .unwrap();
    assert!(
        v1.contains(&format!("Deploy {}", &repo.head()[..7])),
        "{releases}"
    );
    assert!(
        v1.contains("current") && v1.contains("dev@example.com"),
        "{releases}"
    );
    let json = in_repo(&["releases", "--json"]).json();
    assert_eq!(json[0]["version"], 1);
    assert_eq!(json[0]["status"], "succeeded");
    assert_eq!(json[0]["commit"], repo.head().as_str());

    let info = in_repo(&["releases:info", "v1"]).ok();
    assert!(info.starts_with("=== Release v1\n"), "{info}");
    assert!(
        info.contains("Status:") && info.contains("current"),
        "{info}"
    );
    let build_output = in_repo(&["releases:output"]).ok();
    assert!(build_output.contains("Step 1/"), "{build_output}");
    let missing = in_repo(&["releases:info", "v9"]).fails();
    assert!(missing.contains("has no release v9"), "{missing}");

    let ps = in_repo(&["ps"]).ok();
    let lines: Vec<&str> = ps.lines().collect();
    assert!(
        lines[0].starts_with("DYNO") && lines[0].contains("STATE"),
        "{ps}"
    );
    assert!(
        lines[1].starts_with("web.1") && lines[1].contains("up") && lines[1].contains("v1"),
        "{ps}"
    );
    let json = in_repo(&["ps", "--json"]).json();
    assert_eq!(
        (json[0]["name"].as_str(), json[0]["type"].as_str()),
        (Some("web.1"), Some("web"))
    );
    assert!(lines[1].contains(" default "), "{ps}");
    assert_eq!(json[0]["host"], "default");

    // The hosts, for platform admins: the one engine, with the dyno on it.
    let refused = in_repo(&["hosts"]).fails();
    assert_eq!(
        refused,
        "error: as member you cannot read the platform's users, hosts, audit trail and metrics"
    );
    let admin = world.server.create_user("ops@example.com", true, None);
    let hosts = world.berth_as(&admin, &["hosts"]).ok();
    let rows: Vec<Vec<&str>> = hosts
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "ADDRESS", "ROLE", "STATE", "AVAILABILITY", "DYNOS"],
        "{hosts}"
    );
    assert_eq!(rows.len(), 2, "{hosts}");
    assert_eq!(rows[1][0], "default", "{hosts}");
    assert_eq!(rows[1][2..4], ["manager", "ready"], "{hosts}");
    assert_eq!(rows[1][4], "active", "{hosts}");
    let json = world.berth_as(&admin, &["hosts", "--json"]).json();
    assert_eq!(json[0]["name"], "default");
    assert_eq!(json[0]["state"], "ready");
    assert!(json[0]["dynos"].as_u64().unwrap() >= 1, "{json}");
    assert_eq!(json[0]["labels"], serde_json::json!({}));

    in_repo(&["apps:destroy", "--confirm", &name]).ok();
    let left = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=berth.app={name}")])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "destroying the app removes its containers"
    );
}

#[test]
fn config_rollback_and_scale_change_what_runs() {
    let world = World::new();
    world
        .server
        .create_user("dev@example.com", false, Some(PASSWORD));
    world.login("dev@example.com", PASSWORD).ok();
    let name = berth_testkit::unique_app_name("cli-ops");
    let _cleanup = berth_testkit::EngineCleanup::new(&name);
    let repo = berth_testkit::AppRepo::from_fixture("procfile");
    repo.write(
        "Procfile",
        "web: echo \"$DYNO $BERTH_RELEASE_VERSION $GREETING\" > /www/version.txt && exec httpd -f -p $PORT -h /www\n",
    );
    repo.commit("Print the greeting");
    let in_repo = |args: &[&str]| {
        let mut command = world.command(env!("CARGO_BIN_EXE_berth"), repo.path());
        Run::from(command.args(args).stdin(Stdio::null()).output().unwrap())
    };
    let visit = || -> String {
        reqwest::blocking::Client::new()
            .get(format!("{}/version.txt", world.server.http_url))
            .header("host", format!("{name}.localhost"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    in_repo(&["apps:create", &name]).ok();
    let push = world
        .command("git", repo.path())
        .args(["push", "platform", "main"])
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "{}",
        String::from_utf8_lossy(&push.stderr)
    );
    assert_eq!(visit(), "web.1 v1 \n");

    // Values may hold spaces, `=` and quotes; each change is a release.
    let set = in_repo(&["config:set", "GREETING=hello world=1", "OTHER=x'y"]);
    assert!(
        set.stderr
            .contains("Setting GREETING, OTHER and restarting"),
        "{}",
        set.stderr
    );
    assert!(set.stderr.contains("done, v2"), "{}", set.stderr);
    assert_eq!(visit(), "web.1 v2 hello world=1\n");
    assert_eq!(in_repo(&["config:get", "GREETING"]).ok(), "hello world=1\n");
    assert_eq!(
        in_repo(&["config", "--shell"]).ok(),
        "GREETING='hello world=1'\nOTHER='x'\\''y'\n"
    );
    assert_eq!(in_repo(&["config", "--json"]).json()["OTHER"], "x'y");
    let database = fs::read(world.server.data_dir().join("berth.db")).unwrap();
    let wal = fs::read(world.server.data_dir().join("berth.db-wal")).unwrap_or_default();
    for bytes in [&database, &wal] {
        assert!(
            !String::from_utf8_lossy(bytes).contains("hello world=1"),
            "values are sealed at rest"
        );
    }
    let bad = in_repo(&["config:set", "PORT=1"]).fails();
    assert!(bad.contains("PORT is set by Berth"), "{bad}");
    let bad = in_repo(&["config:set", "1X=1"]).fails();
    assert!(bad.contains("not a valid config var name"), "{bad}");

    in_repo(&["config:unset", "OTHER"]).ok();
    // One-off processes run with the app's config and report their exit status.
    let echoed = in_repo(&["run", "-e", "EXTRA=more", "echo \"$GREETING $EXTRA $DYNO\""]).ok();
    assert!(echoed.starts_with("hello world=1 more run."), "{echoed}");
    let mut command = world.command(env!("CARGO_BIN_EXE_berth"), repo.path());
    let exited = command
        .args(["run", "-x", "--", "/bin/sh", "-c", "echo bye >&2; exit 3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        exited.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&exited.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&exited.stderr), "bye\n");
    assert_eq!(
        in_repo(&["run", "exit 3"]).ok(),
        "",
        "without -x the run itself succeeded"
    );
    let one_offs = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=berth.app={name}"),
            "--filter",
            "label=berth.process=run",
        ])
        .output()
        .unwrap();
    assert!(one_offs.stdout.is_empty(), "one-off containers are removed");

    let latest = in_repo(&["releases", "-n", "1", "--json"]).json();
    assert_eq!(latest.as_array().unwrap().len(), 1);
    assert_eq!(latest[0]["version"], 3);
    assert_eq!(latest[0]["description"], "Remove OTHER config vars");
    assert_eq!(
        in_repo(&["config", "--json"]).json(),
        serde_json::json!({"GREETING": "hello world=1"})
    );

    // Rolling back returns v1's code and config, as a new release.
    let rollback = in_repo(&["releases:rollback", "v1"]);
    assert!(
        rollback.stderr.contains("done, v4 (Rollback to v1)"),
        "{}",
        rollback.stderr
    );
    assert_eq!(visit(), "web.1 v4 \n");
    assert_eq!(in_repo(&["config", "--json"]).json(), serde_json::json!({}));

    // Scaling: the router spreads requests over every web process.
    assert_eq!(in_repo(&["ps:scale", "web=2"]).ok(), "web=2\n");
    let dynos: std::collections::BTreeSet<String> = (0..6)
        .map(|_| visit().split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(dynos.into_iter().collect::<Vec<_>>(), ["web.1", "web.2"]);
    let bad = in_repo(&["ps:scale", "worker=1"]).fails();
    assert!(bad.contains("no process type \"worker\""), "{bad}");
    in_repo(&["ps:scale", "web-1"]).ok();
    let ps = in_repo(&["ps", "--json"]).json();
    assert_eq!(ps.as_array().unwrap().len(), 1);
    assert_eq!(in_repo(&["ps:scale"]).ok(), "web=1\n");

    // A restart brings the process back, healthy, on a new port.
    let restarted = in_repo(&["ps:restart", "-p", "web"]);
    assert!(
        restarted.stderr.contains("Restarting web.1 on"),
        "{}",
        restarted.stderr
    );
    assert_eq!(visit(), "web.1 v4 \n");
    let bad = in_repo(&["ps:restart", "-d", "web.9"]).fails();
    assert!(bad.contains("has no running web.9"), "{bad}");

    // A stopped dyno is replaced, as on Heroku.
    let container_of = || {
        let output = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=berth.app={name}"),
                "--filter",
                "label=berth.dyno=web.1",
            ])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let before = container_of();
    let stopped = in_repo(&["ps:stop", "web.1"]);
    assert!(
        stopped.stderr.contains("Stopping web.1 on"),
        "{}",
        stopped.stderr
    );
    assert_ne!(container_of(), before, "a new container replaced it");
    assert_eq!(visit(), "web.1 v4 \n");

    // Maintenance: visitors get a 503 page while the process keeps running.
    in_repo(&["maintenance:on"]).ok();
    assert_eq!(in_repo(&["maintenance"]).ok(), "on\n");
    let page = reqwest::blocking::Client::new()
        .get(format!("{}/", world.server.http_url))
        .header("host", format!("{name}.localhost"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.text().unwrap().contains("Down for maintenance"));
    assert_eq!(in_repo(&["ps", "--json"]).json()[0]["state"], "up");
    in_repo(&["maintenance:off"]).ok();
    assert_eq!(visit(), "web.1 v4 \n");
}

#[test]
fn logs_show_filter_and_follow_an_apps_stream() {
    let world = World::new();
    let app = AppCheckout::new(
        &world,
        "cli-logs",
        Some("web: echo \"web says hi\" && exec httpd -f -p $PORT -h /www\nworker: echo \"worker says hi\"; exec sleep 1000\n"),
    );
    let (name, repo) = (&app.name, &app.repo);
    let in_repo = |args: &[&str]| app.berth(args);
    app.push();
    in_repo(&["ps:scale", "worker=1"]).ok();
    let visit = |path: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}{path}", world.server.http_url))
            .header("host", format!("{name}.localhost"))
            .send()
            .unwrap()
            .status()
    };
    visit("/index.html");

    // Lines reach the log through a queue: wait (bounded) for the last one.
    let deadline = Instant::now() + Duration::from_secs(20);
    let everything = loop {
        let everything = in_repo(&["logs", "-n", "1000"]).ok();
        if everything.contains("app[worker.1]: worker says hi")
            && everything.contains("berth[router]: at=info method=GET path=\"/index.html\"")
        {
            break everything;
        }
        assert!(Instant::now() < deadline, "lines missing:\n{everything}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for tag in [
        "app[build]:",
        "app[web.1]: web says hi",
        "berth[api]: Release v1 created by dev@example.com",
    ] {
        assert!(everything.contains(tag), "{tag} missing:\n{everything}");
    }
    let tags = |text: &str| -> Vec<String> {
        text.lines()
            .map(|line| line.split(' ').nth(1).unwrap().to_string())
            .collect()
    };
    let router = in_repo(&["logs", "-s", "berth", "-d", "router"]).ok();
    assert!(!router.is_empty());
    assert!(
        tags(&router).iter().all(|tag| tag == "berth[router]:"),
        "{router}"
    );
    let workers = in_repo(&["logs", "-p", "worker"]).ok();
    assert!(
        tags(&workers)
            .iter()
            .all(|tag| tag.ends_with("[worker.1]:")),
        "{workers}"
    );
    let last_two = in_repo(&["logs", "-n", "2"]).ok();
    assert_eq!(last_two.lines().count(), 2, "{last_two}");
    let json = in_repo(&["logs", "-d", "web.1", "-s", "app", "--json"]).json();
    assert_eq!(json[0]["dyno"], "web.1");
    assert_eq!(json[0]["source"], "app");
    assert_eq!(json[0]["message"], "web says hi");
    let bad = in_repo(&["logs", "-n", "100000"]).fails();
    assert!(bad.contains("at most 10000 lines"), "{bad}");

    // A tail shows the newest lines, then new ones as they come.
    let mut tail = world
        .command(env!("CARGO_BIN_EXE_berth"), repo.path())
        .args(["logs", "--tail", "-n", "1", "-s", "berth", "-d", "router"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let first = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(first.contains("path=\"/index.html\""), "{first}");
    for attempt in 0..3 {
        let path = format!("/tailed-{attempt}");
        visit(&path);
        let line = received.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(line.contains(&format!("path=\"{path}\"")), "{line}");
        assert!(line.contains(" status=404 "), "{line}");
    }
    tail.kill().unwrap();
    tail.wait().unwrap();
}

/// What a drain endpoint received, shared with the thread serving it.
type Received = std::sync::Arc<std::sync::Mutex<String>>;

/// A syslog-over-TCP endpoint on `listener`, keeping what it reads.
fn syslog_endpoint(listener: std::net::TcpListener) -> Received {
    let received = Received::default();
    let keep = received.clone();
    std::thread::spawn(move || {
        use std::io::Read;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 8192];
            while let Ok(read) = stream.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                keep.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        }
    });
    received
}

/// An HTTP endpoint answering 200 to every POST, keeping each request's
/// `content-type` and `logplex-msg-count` headers and its body.
fn http_endpoint() -> (String, Received) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/drain", listener.local_addr().unwrap());
    let received = Received::default();
    let keep = received.clone();
    std::thread::spawn(move || {
        use std::io::{BufRead, Read, Write};
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            loop {
                let mut head = Vec::new();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    head.push(line.trim_end().to_ascii_lowercase());
                    line.clear();
                }
                if head.is_empty() {
                    break;
                }
                let header = |name: &str| {
                    head.iter()
                        .find_map(|h| h.strip_prefix(&format!("{name}: ")).map(String::from))
                        .unwrap_or_default()
                };
                let mut body = vec![0u8; header("content-length").parse().unwrap_or(0)];
                reader.read_exact(&mut body).unwrap();
                keep.lock().unwrap().push_str(&format!(
                    "[{} {}]{}",
                    header("content-type"),
                    header("logplex-msg-count"),
                    String::from_utf8_lossy(&body)
                ));
                writer
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .unwrap();
            }
        }
    });
    (url, received)
}

#[test]
fn drains_forward_the_log_to_syslog_and_http_endpoints_and_retry() {
    let world = World::new();
    let app = AppCheckout::new(&world, "cli-drains", None);
    let name = &app.name;
    let in_repo = |args: &[&str]| app.berth(args);
    assert!(in_repo(&["drains"]).ok().contains("has no drains"));

    let syslog = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let syslog_url = format!("syslog://{}", syslog.local_addr().unwrap());
    let syslog_received = syslog_endpoint(syslog);
    let (http_url, http_received) = http_endpoint();
    // Nothing listens here yet: that drain must hold its lines and retry.
    let late = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let late_address = late.local_addr().unwrap();
    drop(late);
    let late_url = format!("syslog://{late_address}");
    for url in [&syslog_url, &http_url, &late_url] {
        let token = in_repo(&["drains:add", url]).ok();
        assert!(token.starts_with("d."), "{token}");
    }
    let listed = in_repo(&["drains", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!(listed[0]["url"], syslog_url.as_str());
    let bad = in_repo(&["drains:add", "ftp://example.com/"]).fails();
    assert!(bad.contains("is not a drain URL"), "{bad}");
    let again = in_repo(&["drains:add", &http_url]).fails();
    assert!(again.contains("already drains to that URL"), "{again}");

    app.push();
    let release_line = format!(" {name} berth api - - Release v1 created by dev@example.com");
    let late_received = syslog_endpoint(std::net::TcpListener::bind(late_address).unwrap());
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (syslog, http, late) = (
            syslog_received.lock().unwrap().clone(),
            http_received.lock().unwrap().clone(),
            late_received.lock().unwrap().clone(),
        );
        if [&syslog, &http, &late]
            .iter()
            .all(|text| text.contains(&release_line))
        {
            // Octet-counted RFC 5424 frames, and logplex batches over HTTP.
            let frame = syslog.split(" <").nth(1).unwrap();
            assert!(
                frame.starts_with("190>1 ") || frame.starts_with("189>1 "),
                "{syslog}"
            );
            assert!(http.starts_with("[application/logplex-1 "), "{http}");
            // The late drain kept what came while nothing listened.
            for text in [&syslog, &late] {
                assert!(text.contains(&format!(" {name} app build - - ")), "{text}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every drain got the release line:\nsyslog: {syslog}\nhttp: {http}\nlate: {late}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    in_repo(&["drains:remove", &late_url]).ok();
    assert_eq!(
        in_repo(&["drains", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let missing = in_repo(&["drains:remove", &late_url]).fails();
    assert!(missing.contains("has no drain"), "{missing}");
}

/// A user logged in, and an app of theirs deployed from the `cmd-only` fixture.
fn deployed_app(world: &World, prefix: &str) -> (String, berth_testkit::EngineCleanup) {
    world
        .server
        .create_user("dev@example.com", false, Some(PASSWORD));
    world.login("dev@example.com", PASSWORD).ok();
    deploy_cmd_only_app(world, prefix)
}

/// An app of the logged-in user, deployed from the `cmd-only` fixture.
fn deploy_cmd_only_app(world: &World, prefix: &str) -> (String, berth_testkit::EngineCleanup) {
    let name = berth_testkit::unique_app_name(prefix);
    let cleanup = berth_testkit::EngineCleanup::new(&name);
    let repo = berth_testkit::AppRepo::from_fixture("cmd-only");
    world.berth(&["apps:create", &name, "--no-remote"]).ok();
    let push = world
        .command("git", repo.path())
        .args([
            "push",
            &format!("{}/{name}.git", world.server.api_url),
            "main",
        ])
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "{}",
        String::from_utf8_lossy(&push.stderr)
    );
    (name, cleanup)
}

/// The app's one-off containers, running or not.
fn oneoff_containers(app: &str) -> String {
    let output = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=berth.app={app}"),
            "--filter",
            "label=berth.process=run",
        ])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

/// `berth` on a pseudo-terminal, as from a terminal: its own session with
/// the terminal as the controlling one (so window changes signal it).
struct OnTerminal {
    child: std::process::Child,
    master: fs::File,
    slave: fs::File,
    /// Everything the terminal showed so far.
    shown: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl OnTerminal {
    fn spawn(world: &World, args: &[&str], rows: u16, cols: u16) -> Self {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let slave_path = ptsname(&master, Vec::new()).unwrap();
        let slave = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(slave_path.to_str().unwrap())
            .unwrap();
        let master = fs::File::from(master);
        resize_terminal(&master, rows, cols);
        // setsid(1) makes berth a session leader and, with --ctty, its stdin
        // the controlling terminal: as a shell in a terminal would.
        let mut command = world.command("setsid", world.cwd.path());
        command
            .arg("--ctty")
            .arg(env!("CARGO_BIN_EXE_berth"))
            .args(args)
            .env("TERM", "xterm")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave.try_clone().unwrap());
        let child = command.spawn().expect("run berth under setsid");
        let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = shown.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut chunk = [0u8; 4096];
            // Ends with an error (EIO) once no process holds the terminal.
            while let Ok(read @ 1..) = reader.read(&mut chunk) {
                sink.lock().unwrap().extend_from_slice(&chunk[..read]);
            }
        });
        Self {
            child,
            master,
            slave,
            shown,
        }
    }

    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.shown.lock().unwrap()).into_owned()
    }

    fn type_in(&mut self, keys: &str) {
        use std::io::Write;
        self.master.write_all(keys.as_bytes()).unwrap();
    }

    /// Waits until the terminal has shown `text` `times` times in all.
    #[track_caller]
    fn wait_for(&self, text: &str, times: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while self.shown().matches(text).count() < times {
            assert!(
                std::time::Instant::now() < deadline,
                "{text:?} not shown {times}×; the terminal shows:\n{}",
                self.shown()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits (bounded) for berth to exit and returns its exit code.
    #[track_caller]
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "berth did not exit; the terminal shows:\n{}",
                self.shown()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Whether the terminal is back in cooked mode: lines, with echo.
    fn is_cooked(&self) -> bool {
        use rustix::termios::LocalModes;
        let modes = rustix::termios::tcgetattr(&self.slave).unwrap().local_modes;
        modes.contains(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG)
    }
}

fn resize_terminal(master: &fs::File, rows: u16, cols: u16) {
    let size = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(master, size).unwrap();
}

#[test]
fn run_from_a_terminal_is_an_interactive_session() {
    let world = World::new();
    let (name, _cleanup) = deployed_app(&world, "cli-tty");

    let mut terminal = OnTerminal::spawn(&world, &["run", "-x", "-a", &name, "sh"], 31, 97);
    // Keystrokes reach the remote shell and its output comes back.
    terminal.type_in("echo hi-$((6*7))\r");
    terminal.wait_for("hi-42", 1);
    // The remote terminal has the local one's size, and follows it.
    terminal.type_in("stty size\r");
    terminal.wait_for("31 97", 1);
    resize_terminal(&terminal.master, 40, 120);
    // SIGWINCH reaches berth asynchronously: ask until the new size shows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !terminal.shown().contains("40 120") {
        assert!(
            std::time::Instant::now() < deadline,
            "the resize never arrived:\n{}",
            terminal.shown()
        );
        terminal.type_in("stty size\r");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // Ctrl-C interrupts the remote command, not the session.
    terminal.type_in("sleep 100\r");
    std::thread::sleep(std::time::Duration::from_millis(500));
    terminal.type_in("\x03");
    terminal.type_in("echo after-$((1+1))\r");
    terminal.wait_for("after-2", 1);
    assert!(
        !oneoff_containers(&name).is_empty(),
        "the one-off runs while the session lasts"
    );
    // -x passes the remote exit code through; the terminal is cooked again.
    terminal.type_in("exit 5\r");
    assert_eq!(terminal.exit_code(), Some(5), "{}", terminal.shown());
    assert!(terminal.is_cooked(), "the terminal is restored");
    assert_eq!(oneoff_containers(&name), "", "the one-off is removed");

    // --no-tty streams output back as from a pipe, even from a terminal.
    let mut piped = OnTerminal::spawn(
        &world,
        &["run", "--no-tty", "-x", "-a", &name, "tty; exit 3"],
        24,
        80,
    );
    assert_eq!(piped.exit_code(), Some(3), "{}", piped.shown());
    piped.wait_for("not a tty", 1);
    assert_eq!(oneoff_containers(&name), "");

    // A refusal before the session starts reads as any error, in cooked mode.
    let mut refused = OnTerminal::spawn(&world, &["run", "-a", "no-such-app", "sh"], 24, 80);
    assert_eq!(refused.exit_code(), Some(1), "{}", refused.shown());
    refused.wait_for("error: ", 1);
    assert!(refused.is_cooked());

    // A client that vanishes mid-session takes its one-off with it.
    let mut vanishing = OnTerminal::spawn(&world, &["run", "-a", &name, "sh"], 24, 80);
    vanishing.type_in("echo up-$((3*3))\r");
    vanishing.wait_for("up-9", 1);
    assert!(!oneoff_containers(&name).is_empty());
    vanishing.child.kill().unwrap();
    vanishing.child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !oneoff_containers(&name).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned one-off is still there"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn run_detached_logs_its_output_and_goes_away_when_done() {
    let world = World::new();
    let (name, _cleanup) = deployed_app(&world, "cli-detached");
    let wait_for_log = |text: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let logged = world.berth(&["logs", "-a", &name, "-n", "1000"]).ok();
            if logged.contains(text) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{text:?} not in the log:\n{logged}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let wait_until_gone = || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !oneoff_containers(&name).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the one-off is still there"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };

    let started = world
        .berth(&[
            "run:detached",
            "-a",
            &name,
            "-e",
            "WHAT=detached",
            "echo \"$WHAT-$((2*3)) as $DYNO\"; sleep 3; exit 4",
        ])
        .ok();
    let dyno = started.trim().to_string();
    assert!(
        dyno.starts_with("run.") && dyno[4..].parse::<u16>().is_ok(),
        "{started}"
    );
    // It is a dyno like the others while it runs.
    let ps = world.berth(&["ps", "--json", "-a", &name]).json();
    let listed = ps
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == dyno.as_str())
        .unwrap_or_else(|| panic!("{dyno} not in ps: {ps}"));
    assert_eq!(listed["type"], "run");
    assert_eq!(listed["state"], "up");
    wait_for_log(&format!("app[{dyno}]: detached-6 as {dyno}"));
    wait_for_log(&format!("berth[{dyno}]: Process exited with status 4"));
    wait_until_gone();

    // A detached dyno is stopped by name, and --json says which it is.
    let started = world
        .berth(&["run:detached", "--json", "-a", &name, "sleep 100"])
        .json();
    let dyno = started["dyno"].as_str().unwrap().to_string();
    let refused = world
        .berth(&["ps:restart", "-a", &name, "-d", &dyno])
        .fails();
    assert!(refused.contains("is a one-off dyno"), "{refused}");
    let restarted = world.berth(&["ps:restart", "-a", &name]);
    assert!(!restarted.stderr.contains("run."), "{}", restarted.stderr);
    restarted.ok();
    assert!(!oneoff_containers(&name).is_empty(), "restarts leave it be");
    world.berth(&["ps:stop", "-a", &name, &dyno]).ok();
    wait_until_gone();
}
