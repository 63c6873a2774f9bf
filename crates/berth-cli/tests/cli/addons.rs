//! Add-ons end to end against real servers (Debian's Postgres 15 and
//! redis-server on loopback, started by script/test): the `berth` binary
//! creates, attaches, rotates, detaches and destroys them, and the test
//! connects with the credentials the apps got, through 127.0.0.1.

use super::*;

const POSTGRES_ADMIN_URL: &str =
    "postgres://berth_test_admin:berth-test-admin@127.0.0.1:5432/postgres";
const REDIS_ADMIN_URL: &str = "redis://default:berth-test-admin@127.0.0.1:6379";

pub(super) fn postgres_admin_url() -> String {
    std::env::var("BERTH_TEST_POSTGRES_ADMIN_URL").unwrap_or_else(|_| POSTGRES_ADMIN_URL.into())
}

fn redis_admin_url() -> String {
    std::env::var("BERTH_TEST_REDIS_ADMIN_URL").unwrap_or_else(|_| REDIS_ADMIN_URL.into())
}

/// The parts of a `postgres://` or `redis://` URL a client is given.
pub(super) struct Login {
    user: String,
    password: String,
    host: String,
    port: String,
    path: String,
}

impl Login {
    pub(super) fn of(url: &str) -> Self {
        let url = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        Self {
            user: url.username().to_string(),
            password: url.password().unwrap_or_default().to_string(),
            host: url.host_str().unwrap().to_string(),
            port: url.port().unwrap().to_string(),
            path: url.path().trim_start_matches('/').to_string(),
        }
    }

    /// `psql` with this login (the password in the environment, never in argv).
    fn psql(&self, sql: &str) -> Output {
        Command::new("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", &self.host, "-p", &self.port, "-U", &self.user])
            .args(["-d", &self.path, "-c", sql])
            .env("PGPASSWORD", &self.password)
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .expect("run psql (Debian's postgresql-client)")
    }

    /// `redis-cli` with this login (the password in the environment).
    pub(super) fn redis(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-h", &self.host, "-p", &self.port, "--user", &self.user])
            .args(args)
            .env("REDISCLI_AUTH", &self.password)
            .output()
            .expect("run redis-cli (Debian's redis-tools)");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
            + &String::from_utf8_lossy(&output.stderr)
    }
}

#[track_caller]
fn sql_ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Fails (never skips) when the server the tests need is not there.
pub(super) fn require_servers() {
    let admin = Login::of(&postgres_admin_url());
    let reached = admin.psql("SELECT 1");
    assert!(
        reached.status.success(),
        "the add-on tests need Postgres at {}:{} with the admin role {} (script/test starts \
         it): {}",
        admin.host,
        admin.port,
        admin.user,
        String::from_utf8_lossy(&reached.stderr)
    );
    let redis = Login::of(&redis_admin_url());
    let pong = redis.redis(&["PING"]);
    assert!(
        pong.contains("PONG"),
        "the add-on tests need redis-server at {}:{} with the admin password (script/test \
         starts it): {pong}",
        redis.host,
        redis.port
    );
}

pub(super) fn addon_world(postgres_admin_url: String) -> World {
    World {
        server: TestServer::start_with(|settings| {
            settings.addon_postgres_admin_url = Some(postgres_admin_url);
            settings.addon_redis_admin_url = Some(redis_admin_url());
        }),
        home: tempfile::tempdir().unwrap(),
        cwd: tempfile::tempdir().unwrap(),
    }
}

/// One more app for a signed-in world (not deployed).
fn another_app(world: &World, prefix: &str) -> (String, berth_testkit::EngineCleanup) {
    let name = berth_testkit::unique_app_name(prefix);
    let cleanup = berth_testkit::EngineCleanup::new(&name);
    world.berth(&["apps:create", &name, "--no-remote"]).ok();
    (name, cleanup)
}

/// Signs dev@ in and deploys one app per prefix.
fn deployed_apps(world: &World, prefixes: &[&str]) -> Vec<(String, berth_testkit::EngineCleanup)> {
    world
        .server
        .create_user("dev@example.com", false, Some(PASSWORD));
    world.login("dev@example.com", PASSWORD).ok();
    prefixes
        .iter()
        .map(|prefix| super::deploy_cmd_only_app(world, prefix))
        .collect()
}

fn latest_release(world: &World, app: &str) -> Value {
    let releases = world.berth(&["releases", "-a", app, "--json"]).json();
    releases.as_array().unwrap().last().unwrap().clone()
}

pub(super) fn config_get(world: &World, app: &str, key: &str) -> String {
    world
        .berth(&["config:get", key, "-a", app])
        .ok()
        .trim_end_matches('\n')
        .to_string()
}

#[test]
fn a_postgres_addon_is_created_attached_rotated_detached_and_destroyed() {
    require_servers();
    let world = addon_world(postgres_admin_url());
    let apps = deployed_apps(&world, &["pg-one", "pg-two"]);
    let (one, two) = (&apps[0].0, &apps[1].0);
    let addon = berth_testkit::unique_app_name("pg");

    let created = world
        .berth(&[
            "addons:create",
            "heroku-postgresql:mini",
            "--name",
            &addon,
            "-a",
            one,
            "--json",
        ])
        .json();
    assert_eq!(created["name"], addon.as_str());
    assert_eq!(created["service"], "postgres");
    assert_eq!(created["plan"], "mini");
    assert_eq!(created["attachments"][0]["app"], one.as_str());
    assert_eq!(created["attachments"][0]["config_var"], "DATABASE_URL");
    assert_eq!(
        latest_release(&world, one)["description"],
        format!("Attach DATABASE ({addon})")
    );

    // The release's processes have the var; config:get prints the bare value.
    let url = config_get(&world, one, "DATABASE_URL");
    assert!(url.starts_with("postgres://berth_"), "{url}");
    let echoed = world
        .berth(&["run", "--no-tty", "-a", one, "echo \"$DATABASE_URL\""])
        .ok();
    assert_eq!(echoed.trim(), url);
    let revealed = world
        .berth(&["addons:info", &addon, "-a", one, "--reveal", "--json"])
        .json();
    assert_eq!(revealed["credentials"]["url"], url.as_str());
    let hidden = world.berth(&["addons:info", &addon, "-a", one]).ok();
    assert!(!hidden.contains(&Login::of(&url).password), "{hidden}");

    let login = Login::of(&url);
    sql_ok(login.psql("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')"));

    // A var an add-on manages is not the user's to change.
    let refused = world
        .berth(&["config:unset", "DATABASE_URL", "-a", one])
        .fails();
    assert!(
        refused.contains(&format!("managed by add-on {addon}")),
        "{refused}"
    );

    world.berth(&["addons:attach", &addon, "-a", two]).ok();
    assert_eq!(config_get(&world, two, "DATABASE_URL"), url);
    assert_eq!(
        latest_release(&world, two)["description"],
        format!("Attach DATABASE ({addon})")
    );
    let listed = world.berth(&["addons", "--all", "--json"]).json();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == addon.as_str())
        .unwrap();
    assert_eq!(entry["attachments"].as_array().unwrap().len(), 2);
    let table = world.berth(&["addons", "-a", two]).ok();
    assert!(table.contains(&format!("{two}::DATABASE")), "{table}");

    // Rotation: both apps get the new URL in a release; the old password is rejected.
    world.berth(&["addons:rotate", &addon, "-a", one]).ok();
    let rotated = config_get(&world, one, "DATABASE_URL");
    assert_ne!(rotated, url);
    assert_eq!(config_get(&world, two, "DATABASE_URL"), rotated);
    let old = login.psql("SELECT 1");
    assert!(!old.status.success(), "the old login still works");
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    let new_login = Login::of(&rotated);
    assert_eq!(sql_ok(new_login.psql("SELECT body FROM notes")), "kept");
    sql_ok(new_login.psql("INSERT INTO notes VALUES ('after rotation')"));
    // A rollback keeps the add-on's current credentials, not the revoked ones.
    world.berth(&["releases:rollback", "-a", one]).ok();
    assert_eq!(config_get(&world, one, "DATABASE_URL"), rotated);

    // It stays while attached elsewhere, and an app owning it is not destroyed.
    let refused = world
        .berth(&["addons:destroy", &addon, "-a", one, "--confirm", one])
        .fails();
    assert!(
        refused.contains(&format!("still attached to {two}")),
        "{refused}"
    );
    let refused = world
        .berth(&["apps:destroy", "-a", one, "--confirm", one])
        .fails();
    assert!(refused.contains(&addon), "{refused}");

    world.berth(&["addons:detach", &addon, "-a", two]).ok();
    assert_eq!(config_get(&world, two, "DATABASE_URL"), "");
    assert_eq!(
        latest_release(&world, two)["description"],
        format!("Detach DATABASE ({addon})")
    );
    world
        .berth(&["addons:destroy", &addon, "-a", one, "--confirm", one])
        .ok();
    assert_eq!(config_get(&world, one, "DATABASE_URL"), "");
    let admin = Login::of(&postgres_admin_url());
    let database = new_login.path.clone();
    let left = sql_ok(admin.psql(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{database}'"
    )));
    assert_eq!(left, "0", "the database is gone");
    let roles = sql_ok(admin.psql(&format!(
        "SELECT count(*) FROM pg_roles WHERE rolname LIKE '{database}%'"
    )));
    assert_eq!(roles, "0", "its roles are gone");
    let listed = world.berth(&["addons", "-a", one, "--json"]).json();
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn a_failed_provisioning_leaves_no_addon_and_no_config_var() {
    require_servers();
    let admin = Login::of(&postgres_admin_url());
    let wrong = format!(
        "postgres://{}:not-the-password@{}:{}/postgres",
        admin.user, admin.host, admin.port
    );
    let world = addon_world(wrong);
    let apps = deployed_apps(&world, &["pg-fail"]);
    let app = &apps[0].0;
    let before = latest_release(&world, app)["version"].clone();

    let error = world
        .berth(&["addons:create", "postgres", "-a", app])
        .fails();
    assert!(
        error.contains("cannot connect to the add-on Postgres server"),
        "{error}"
    );
    let error = world.berth(&["addons:create", "mysql", "-a", app]).fails();
    assert!(
        error.contains("unknown add-on service \"mysql\""),
        "{error}"
    );
    let error = world
        .berth(&["addons:create", "redis", "--as", "9lives", "-a", app])
        .fails();
    assert!(error.contains("--as \"9lives\""), "{error}");

    assert_eq!(
        world.berth(&["addons", "-a", app, "--json"]).json(),
        serde_json::json!([])
    );
    assert_eq!(config_get(&world, app, "DATABASE_URL"), "");
    assert_eq!(latest_release(&world, app)["version"], before);
}

#[test]
fn redis_addons_keep_to_their_key_prefix_and_rotate() {
    require_servers();
    let world = addon_world(postgres_admin_url());
    let apps = deployed_apps(&world, &["redis-one", "redis-two"]);
    let (one, two) = (&apps[0].0, &apps[1].0);
    let first = berth_testkit::unique_app_name("cache");
    let second = berth_testkit::unique_app_name("cache");
    world
        .berth(&["addons:create", "heroku-redis", "--name", &first, "-a", one])
        .ok();
    world
        .berth(&[
            "addons:create",
            "redis",
            "--name",
            &second,
            "--as",
            "CACHE",
            "-a",
            two,
        ])
        .ok();
    let url = config_get(&world, one, "REDIS_URL");
    let other_url = config_get(&world, two, "CACHE_URL");
    let prefix = |app: &str, addon: &str| {
        let info = world
            .berth(&["addons:info", addon, "-a", app, "--reveal", "--json"])
            .json();
        info["credentials"]["resource"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (mine, theirs) = (prefix(one, &first), prefix(two, &second));
    let (me, them) = (Login::of(&url), Login::of(&other_url));

    assert_eq!(
        me.redis(&["SET", &format!("{mine}:greeting"), "hello"]),
        "OK"
    );
    assert_eq!(
        them.redis(&["SET", &format!("{theirs}:secret"), "theirs"]),
        "OK"
    );
    let denied = me.redis(&["GET", &format!("{theirs}:secret")]);
    assert!(denied.contains("NOPERM"), "{denied}");
    let denied = me.redis(&["SET", "unprefixed", "x"]);
    assert!(denied.contains("NOPERM"), "{denied}");
    let denied = me.redis(&["FLUSHALL"]);
    assert!(denied.contains("NOPERM"), "{denied}");

    world.berth(&["addons:rotate", &first, "-a", one]).ok();
    let rotated = Login::of(&config_get(&world, one, "REDIS_URL"));
    assert_ne!(rotated.user, me.user);
    let old = me.redis(&["GET", &format!("{mine}:greeting")]);
    assert!(
        old.contains("WRONGPASS") || old.contains("invalid"),
        "{old}"
    );
    assert_eq!(
        rotated.redis(&["GET", &format!("{mine}:greeting")]),
        "hello"
    );

    for (app, addon) in [(one, &first), (two, &second)] {
        world
            .berth(&["addons:destroy", addon, "-a", app, "--confirm", app])
            .ok();
    }
    let admin = Login::of(&redis_admin_url());
    let users = admin.redis(&["ACL", "USERS"]);
    assert!(
        !users.contains(&rotated.user) && !users.contains(&them.user),
        "{users}"
    );
    assert_eq!(admin.redis(&["EXISTS", &format!("{mine}:greeting")]), "0");
    assert_eq!(admin.redis(&["EXISTS", &format!("{theirs}:secret")]), "0");
}

/// A heroku.yml for the `cmd-only` fixture with `setup` lines before it.
fn heroku_yml(setup: &str) -> String {
    format!("{setup}build:\n  docker:\n    web: Dockerfile\n")
}

/// Pushes the repository to the app; the push's output (stderr), and whether it succeeded.
fn push(world: &World, repo: &berth_testkit::AppRepo, app: &str) -> (bool, String) {
    let output = world
        .command("git", repo.path())
        .args([
            "push",
            &format!("{}/{app}.git", world.server.api_url),
            "main",
        ])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn addon_count(world: &World, app: &str) -> usize {
    let listed = world.berth(&["addons", "-a", app, "--json"]).json();
    listed.as_array().unwrap().len()
}

#[test]
fn heroku_yml_setup_applies_on_the_first_push_and_later_changes_are_reported() {
    require_servers();
    let world = addon_world(postgres_admin_url());
    world
        .server
        .create_user("dev@example.com", false, Some(PASSWORD));
    world.login("dev@example.com", PASSWORD).ok();
    let app = berth_testkit::unique_app_name("setup-push");
    let _cleanup = berth_testkit::EngineCleanup::new(&app);
    world.berth(&["apps:create", &app, "--no-remote"]).ok();
    let repo = berth_testkit::AppRepo::from_fixture("cmd-only");
    repo.write(
        "heroku.yml",
        &heroku_yml(
            "setup:\n  addons:\n    - plan: heroku-postgresql:mini\n  config:\n    GREETING: from-setup\n",
        ),
    );
    repo.commit("Set the app up from heroku.yml");

    let (pushed, output) = push(&world, &repo, &app);
    assert!(pushed, "{output}");
    assert!(
        output.contains("Setting up the app as its manifest says"),
        "{output}"
    );
    let url = config_get(&world, &app, "DATABASE_URL");
    assert_eq!(
        sql_ok(Login::of(&url).psql("SELECT 'reachable'")),
        "reachable"
    );
    assert_eq!(config_get(&world, &app, "GREETING"), "from-setup");
    let echoed = world
        .berth(&[
            "run",
            "--no-tty",
            "-a",
            &app,
            "echo \"$GREETING $DATABASE_URL\"",
        ])
        .ok();
    assert_eq!(echoed.trim(), format!("from-setup {url}"));

    repo.write(
        "heroku.yml",
        &heroku_yml(
            "setup:\n  addons:\n    - plan: heroku-postgresql:mini\n    - plan: heroku-redis\n",
        ),
    );
    repo.commit("Ask for a cache too");
    let (pushed, output) = push(&world, &repo, &app);
    assert!(pushed, "{output}");
    assert!(
        output.contains("setup applies only to a new app")
            && output.contains("heroku-redis as REDIS"),
        "{output}"
    );
    assert_eq!(addon_count(&world, &app), 1);
    assert_eq!(config_get(&world, &app, "DATABASE_URL"), url);
}

#[test]
fn a_setup_that_cannot_be_provisioned_rejects_the_first_push_and_leaves_nothing() {
    require_servers();
    let admin = Login::of(&postgres_admin_url());
    let wrong = format!(
        "postgres://{}:not-the-password@{}:{}/postgres",
        admin.user, admin.host, admin.port
    );
    let world = addon_world(wrong);
    world
        .server
        .create_user("dev@example.com", false, Some(PASSWORD));
    world.login("dev@example.com", PASSWORD).ok();
    let app = berth_testkit::unique_app_name("setup-fail");
    let _cleanup = berth_testkit::EngineCleanup::new(&app);
    world.berth(&["apps:create", &app, "--no-remote"]).ok();
    let repo = berth_testkit::AppRepo::from_fixture("cmd-only");

    repo.write(
        "heroku.yml",
        &heroku_yml("setup:\n  addons:\n    - plan: heroku-mongodb\n"),
    );
    repo.commit("An unknown service");
    let (pushed, output) = push(&world, &repo, &app);
    assert!(!pushed, "{output}");
    assert!(
        output.contains("unknown add-on service \"heroku-mongodb\""),
        "{output}"
    );

    // Redis is made first, then Postgres fails: the Redis add-on goes again.
    repo.write(
        "heroku.yml",
        &heroku_yml(
            "setup:\n  addons:\n    - plan: heroku-redis\n    - plan: heroku-postgresql\n  config:\n    GREETING: never\n",
        ),
    );
    repo.commit("A database the server refuses");
    let (pushed, output) = push(&world, &repo, &app);
    assert!(!pushed, "{output}");
    assert!(
        output.contains("the postgres add-on (DATABASE) could not be created, so none was"),
        "{output}"
    );
    assert_eq!(addon_count(&world, &app), 0);
    let config = world.berth(&["config", "-a", &app, "--json"]).json();
    assert_eq!(config, serde_json::json!({}));
}

#[test]
fn apps_create_with_the_manifest_sets_the_app_up_before_its_first_push() {
    require_servers();
    let world = addon_world(postgres_admin_url());
    world
        .server
        .create_user("dev@example.com", false, Some(PASSWORD));
    world.login("dev@example.com", PASSWORD).ok();
    let repo = berth_testkit::AppRepo::from_fixture("cmd-only");
    repo.write(
        "heroku.yml",
        &heroku_yml("setup:\n  addons:\n    - plan: heroku-redis\n      as: CACHE\n"),
    );
    repo.commit("Set up with a cache");
    let app = berth_testkit::unique_app_name("setup-create");
    let _cleanup = berth_testkit::EngineCleanup::new(&app);
    let in_repo = |args: &[&str]| {
        Run::from(
            world
                .command(env!("CARGO_BIN_EXE_berth"), repo.path())
                .args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        )
    };
    in_repo(&["apps:create", &app, "--manifest", "--no-remote"]).ok();
    let url = config_get(&world, &app, "CACHE_URL");
    assert!(url.starts_with("redis://"), "{url}");
    let (pushed, output) = push(&world, &repo, &app);
    assert!(pushed, "{output}");
    assert!(!output.contains("Setting up the app"), "{output}");
    assert_eq!(addon_count(&world, &app), 1);
    assert_eq!(config_get(&world, &app, "CACHE_URL"), url);

    // A manifest that does not parse creates nothing, and says where it is wrong.
    repo.write("heroku.yml", "setup:\n  addon: []\n");
    let other = berth_testkit::unique_app_name("setup-bad");
    let error = in_repo(&["apps:create", &other, "--manifest", "--no-remote"]).fails();
    assert!(
        error.contains("heroku.yml:2:3: unknown key \"addon\""),
        "{error}"
    );
    let apps = world.berth(&["apps", "--json"]).json();
    assert!(!apps.to_string().contains(&other), "{apps}");
}

#[test]
fn a_postgres_backup_brings_a_dropped_table_back_and_old_ones_expire() {
    require_servers();
    let world = World {
        server: TestServer::start_with(|settings| {
            settings.addon_postgres_admin_url = Some(postgres_admin_url());
            settings.addon_backup_retention = 2;
        }),
        home: tempfile::tempdir().unwrap(),
        cwd: tempfile::tempdir().unwrap(),
    };
    world
        .server
        .create_user("dev@example.com", false, Some(PASSWORD));
    world.login("dev@example.com", PASSWORD).ok();
    let app = berth_testkit::unique_app_name("pg-backup");
    world.berth(&["apps:create", &app, "--no-remote"]).ok();
    let addon = berth_testkit::unique_app_name("pg-backed");
    world
        .berth(&["addons:create", "postgres", "--name", &addon, "-a", &app])
        .ok();
    let login = Login::of(&config_get(&world, &app, "DATABASE_URL"));
    sql_ok(login.psql(
        "CREATE TABLE invoices (id int PRIMARY KEY, total int); \
         INSERT INTO invoices VALUES (1, 100), (2, 250)",
    ));
    assert_eq!(
        world.berth(&["pg:backups", "-a", &app]).ok().trim(),
        format!("{addon} has no backups yet. Take one with: berth pg:backups:capture {addon}")
    );

    let captured = world
        .berth(&["pg:backups:capture", "-a", &app, "--json"])
        .json();
    assert_eq!(captured["id"], "b001");
    assert!(captured["size_bytes"].as_u64().unwrap() > 0);
    // Kept under the add-on's id, which a later add-on of the same name never gets.
    let backups = world.server.data_dir().join("backups");
    let dirs: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let file = dirs[0].join("b001.dump");
    assert!(file.is_file(), "{}", file.display());
    assert_ne!(dirs[0].file_name().unwrap(), addon.as_str());
    let listed = world.berth(&["pg:backups", &addon, "-a", &app]).ok();
    assert!(listed.contains("b001"), "{listed}");

    sql_ok(login.psql("DROP TABLE invoices"));
    let refused = world
        .berth(&["pg:backups:restore", "b001", "-a", &app])
        .fails();
    assert!(refused.contains("--confirm"), "{refused}");
    let missing = world
        .berth(&["pg:backups:restore", "b009", "-a", &app, "--confirm", &app])
        .fails();
    assert!(missing.contains("has no backup b009"), "{missing}");
    world
        .berth(&["pg:backups:restore", "b001", "-a", &app, "--confirm", &app])
        .ok();
    assert_eq!(
        sql_ok(login.psql("SELECT sum(total) FROM invoices")),
        "350",
        "the table is back with its rows"
    );
    // What the restore made belongs to the add-on, so the app can keep writing.
    sql_ok(login.psql("INSERT INTO invoices VALUES (3, 1)"));

    // Retention 2: a third backup makes the first go.
    for _ in 0..2 {
        world.berth(&["pg:backups:capture", "-a", &app]).ok();
    }
    let kept = world.berth(&["pg:backups", "-a", &app, "--json"]).json();
    let ids: Vec<&str> = kept
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["b002", "b003"]);
    assert!(!file.exists());

    world
        .berth(&["addons:destroy", &addon, "-a", &app, "--confirm", &app])
        .ok();
    assert!(!file.parent().unwrap().exists(), "its backups went with it");
}

/// The image dedicated Postgres add-ons run in the tests (script/test builds it).
pub(super) fn postgres_image() -> String {
    std::env::var("BERTH_TEST_POSTGRES_IMAGE").unwrap_or_else(|_| "berth-test/postgres:15".into())
}

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn a_postgres_addon_in_its_own_container_is_reachable_rotated_backed_up_and_removed() {
    let image = postgres_image();
    assert!(
        !docker(&["image", "inspect", "--format", "{{.Id}}", &image]).is_empty(),
        "the test needs the image {image} (script/test builds it with debootstrap)"
    );
    let world = World {
        server: TestServer::start_with(|settings| {
            settings.addon_postgres_image = Some(image);
        }),
        home: tempfile::tempdir().unwrap(),
        cwd: tempfile::tempdir().unwrap(),
    };
    let apps = deployed_apps(&world, &["pg-container"]);
    let app = &apps[0].0;
    let created = world
        .berth(&["addons:create", "postgres", "-a", app, "--json"])
        .json();
    let addon = created["name"].as_str().unwrap().to_string();
    assert_eq!(created["mode"], "container");
    let url = config_get(&world, app, "DATABASE_URL");
    let login = Login::of(&url);
    let container = login.host.clone();
    assert!(container.starts_with("berth-addon-"), "{url}");

    // The app's processes reach it by name on their private network.
    let probe = format!("nc -w 5 {container} 5432 -e true 2>&1; echo \"nc exit $?\"");
    let reached = world.berth(&["run", "--no-tty", "-a", app, &probe]).ok();
    assert_eq!(reached.trim(), "nc exit 0");

    // The test reaches it through the port published on 127.0.0.1.
    let published = docker(&["port", &container, "5432/tcp"]);
    let port = published.rsplit(':').next().unwrap().to_string();
    assert!(published.starts_with("127.0.0.1:"), "{published}");
    let local = |login: &Login| Login {
        user: login.user.clone(),
        password: login.password.clone(),
        host: "127.0.0.1".into(),
        port: port.clone(),
        path: login.path.clone(),
    };
    sql_ok(local(&login).psql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('yes')"));

    world.berth(&["addons:rotate", &addon, "-a", app]).ok();
    let rotated = Login::of(&config_get(&world, app, "DATABASE_URL"));
    assert_ne!(rotated.user, login.user);
    assert!(
        !local(&login).psql("SELECT 1").status.success(),
        "the old login still works"
    );
    assert_eq!(sql_ok(local(&rotated).psql("SELECT v FROM kept")), "yes");

    // Backups reach it through the published port too.
    world.berth(&["pg:backups:capture", "-a", app]).ok();
    sql_ok(local(&rotated).psql("DROP TABLE kept"));
    world
        .berth(&["pg:backups:restore", "b001", "-a", app, "--confirm", app])
        .ok();
    assert_eq!(sql_ok(local(&rotated).psql("SELECT v FROM kept")), "yes");
    let other = another_app(&world, "pg-other");
    let refused = world
        .berth(&["addons:attach", &addon, "-a", &other.0])
        .fails();
    assert!(refused.contains("private network"), "{refused}");

    world
        .berth(&["addons:destroy", &addon, "-a", app, "--confirm", app])
        .ok();
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &format!("name=^{container}$")]),
        ""
    );
    assert_eq!(
        docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("name=^{container}$")
        ]),
        ""
    );
}
