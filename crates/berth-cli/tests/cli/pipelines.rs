//! Pipelines end to end: the real `berth` binary and `git` against a real
//! berthd and engine. A promotion runs the very image staging built, with
//! production's own config and release command; refusals change nothing;
//! apps leave pipelines and pipelines go while their apps stay.

use std::collections::HashMap;

use bollard::query_parameters::ListContainersOptions;

use super::*;

/// The web process serves its GREETING and the build's note; the release
/// command says which app it ran for, with which config.
const HEROKU_YML: &str = "\
build:
  docker:
    web: Dockerfile
release:
  image: web
  command:
    - echo \"release of $BERTH_APP_NAME $BERTH_RELEASE_VERSION says $GREETING\"
run:
  web: echo \"$GREETING\" > /www/version.txt && exec httpd -f -v -p $PORT -h /www
";

/// A signed-in developer's two apps, `<pipeline>-staging` (the `platform`
/// remote of the checkout, deployed from it) and `<pipeline>-prod` (never
/// pushed to), in a pipeline of neither yet.
struct TwoStages<'w> {
    world: &'w World,
    pipeline: String,
    staging: String,
    prod: String,
    repo: berth_testkit::AppRepo,
    _cleanup: [berth_testkit::EngineCleanup; 2],
}

impl<'w> TwoStages<'w> {
    fn new(world: &'w World, prefix: &str) -> Self {
        world
            .server
            .create_user("dev@example.com", false, Some(PASSWORD));
        world.login("dev@example.com", PASSWORD).ok();
        let pipeline = berth_testkit::unique_app_name(prefix);
        let (staging, prod) = (format!("{pipeline}-staging"), format!("{pipeline}-prod"));
        // Production's containers go first: a promotion runs staging's image
        // there, and the engine keeps an image a running container uses.
        let cleanup = [
            berth_testkit::EngineCleanup::new(&prod),
            berth_testkit::EngineCleanup::new(&staging),
        ];
        let repo = berth_testkit::AppRepo::from_fixture("heroku-yml");
        repo.write("heroku.yml", HEROKU_YML);
        repo.write("www/build.txt", "build one\n");
        repo.commit("Serve the greeting and say where the release ran");
        let stages = Self {
            world,
            pipeline,
            staging,
            prod,
            repo,
            _cleanup: cleanup,
        };
        stages.berth(&["apps:create", &stages.staging]).ok();
        stages
            .berth(&["apps:create", &stages.prod, "--no-remote"])
            .ok();
        stages
    }

    /// `berth` in the checkout, whose `platform` remote is the staging app.
    fn berth(&self, args: &[&str]) -> Run {
        self.world.berth_in(self.repo.path(), args)
    }

    /// `pipelines:create` with staging, then `pipelines:add` of prod.
    fn form_pipeline(&self) {
        self.berth(&["pipelines:create", &self.pipeline, "--stage", "staging"])
            .ok();
        self.berth(&[
            "pipelines:add",
            &self.pipeline,
            "-a",
            &self.prod,
            "--stage",
            "production",
        ])
        .ok();
    }

    /// `git push platform main`: deploys staging.
    fn push(&self) {
        let (pushed, output) = self.world.push_in(self.repo.path(), "main");
        assert!(pushed, "{output}");
    }

    fn releases(&self, app: &str) -> Vec<Value> {
        let releases = self.berth(&["releases", "-a", app, "--json"]).json();
        releases.as_array().unwrap().clone()
    }
}

/// The image id of the app's running web container, as the engine has it.
fn web_image_id(app: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults()
            .unwrap()
            .negotiate_version()
            .await
            .unwrap();
        let filters = HashMap::from([
            (
                "label".to_string(),
                vec![format!("berth.app={app}"), "berth.process=web".to_string()],
            ),
            ("status".to_string(), vec!["running".to_string()]),
        ]);
        let containers = docker
            .list_containers(Some(ListContainersOptions {
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .unwrap();
        assert_eq!(
            containers.len(),
            1,
            "one running web of {app}: {containers:?}"
        );
        containers[0].image_id.clone().unwrap()
    })
}

/// `GET /build.txt` of the app through the router.
fn build_note(world: &World, app: &str) -> String {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{}/build.txt", world.server.http_url))
        .header("host", format!("{app}.localhost"))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

/// Every key of every object in `value` is snake_case.
#[track_caller]
fn assert_snake_case_keys(value: &Value) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                assert!(
                    key.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{key} in {value}"
                );
                assert_snake_case_keys(inner);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_snake_case_keys),
        _ => {}
    }
}

#[test]
fn a_promotion_runs_the_same_image_with_the_targets_config() {
    let world = World::new();
    let stages = TwoStages::new(&world, "pipe");
    let (staging, prod) = (stages.staging.as_str(), stages.prod.as_str());
    stages.form_pipeline();
    stages.berth(&["config:set", "GREETING=hello-staging"]).ok();
    stages
        .berth(&["config:set", "-a", prod, "GREETING=hello-prod"])
        .ok();
    stages.push();
    let first = stages.repo.head();
    let initial = String::from_utf8(stages.repo.git(&["rev-parse", "HEAD~1"]).stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(stages.releases(prod).is_empty());

    // The diff lists what staging runs and production lacks, newest first.
    let diff = stages.berth(&["pipelines:diff", "--json"]).json();
    assert_snake_case_keys(&diff);
    assert_eq!(diff["app"], staging);
    assert_eq!(diff["stage"], "staging");
    assert_eq!(diff["release"], 1);
    assert_eq!(diff["commit"], first.as_str());
    let target = &diff["targets"][0];
    assert_eq!(target["app"], prod);
    assert_eq!(target["release"], Value::Null);
    assert_eq!(target["unrelated"], false);
    let shas: Vec<&str> = target["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|commit| commit["sha"].as_str().unwrap())
        .collect();
    assert_eq!(shas, [first.as_str(), initial.as_str()]);
    assert_eq!(
        target["commits"][0]["author"],
        "Berth Test <test@example.com>"
    );
    let text = stages.berth(&["pipelines:diff"]).ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "{prod} (production) (no release yet) lacks 2 commits of {staging} v1 {}:",
            &first[..7]
        ),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!("  {}  20", &first[..7]))
            && lines[1].ends_with("  Berth Test  Serve the greeting and say where the release ran"),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!("  {}  ", &initial[..7])),
        "{text}"
    );

    // The promotion: production gets staging's release, no build.
    let promoted = stages.berth(&["pipelines:promote"]);
    assert_eq!(
        promoted.stderr,
        format!("Promoting {staging} v1 to {prod}... done\n")
    );
    assert_eq!(
        promoted.ok(),
        format!("{prod}: v1 (Promote {staging} v1)\n")
    );
    let releases = stages.releases(prod);
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert_eq!(releases[0]["description"], format!("Promote {staging} v1"));
    assert_eq!(releases[0]["commit"], first.as_str());
    assert_eq!(releases[0]["status"], "succeeded");
    assert_eq!(releases[0]["current"], true);
    let staging_image = web_image_id(staging);
    assert_eq!(web_image_id(prod), staging_image, "the same image runs");
    // Each with its own config: production's release command ran there.
    assert_eq!(visit(&world, staging).unwrap(), "hello-staging\n");
    assert_eq!(visit(&world, prod).unwrap(), "hello-prod\n");
    let output = stages.berth(&["releases:output", "-a", prod]).ok();
    assert!(
        output.contains(&format!("release of {prod} v1 says hello-prod")),
        "{output}"
    );

    let text = stages.berth(&["pipelines:diff"]).ok();
    assert_eq!(
        text,
        format!(
            "{prod} (production) v1 {short} is up to date with {staging} v1 {short}\n",
            short = &first[..7]
        )
    );
    let info = stages
        .berth(&["pipelines:info", &stages.pipeline, "--json"])
        .json();
    assert_snake_case_keys(&info);
    assert_eq!(info["name"], stages.pipeline.as_str());
    let apps: Vec<(&str, &str, i64, &str)> = info["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| {
            (
                app["app"].as_str().unwrap(),
                app["stage"].as_str().unwrap(),
                app["release"].as_i64().unwrap(),
                app["commit"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        apps,
        [
            (staging, "staging", 1, first.as_str()),
            (prod, "production", 1, first.as_str())
        ]
    );
    let text = stages.berth(&["pipelines:info", &stages.pipeline]).ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("=== {}", stages.pipeline), "{text}");
    assert_eq!(lines[1], "Review apps: off", "{text}");
    let staging_at = lines.iter().position(|l| *l == "=== staging").unwrap();
    let production_at = lines.iter().position(|l| *l == "=== production").unwrap();
    assert!(staging_at < production_at, "{text}");
    let header = lines[staging_at + 1];
    let row = lines[staging_at + 2];
    assert!(header.starts_with("APP"), "{text}");
    assert_eq!(header.find("RELEASE"), row.find(" v1 ").map(|at| at + 1));
    assert_eq!(header.find("COMMIT"), row.find(&first[..7]), "{text}");
    assert!(lines[production_at + 2].starts_with(prod), "{text}");

    // A second push, promoted too; rolling production back runs the
    // first build again.
    stages.repo.write("www/build.txt", "build two\n");
    stages.repo.commit("A second build");
    stages.push();
    let second = stages.repo.head();
    let text = stages.berth(&["pipelines:diff", "--to", prod]).ok();
    assert!(
        text.starts_with(&format!(
            "{prod} (production) v1 {} lacks 1 commit of {staging} v2 {}:\n  {}  ",
            &first[..7],
            &second[..7],
            &second[..7]
        )),
        "{text}"
    );
    let promotion = stages
        .berth(&["pipelines:promote", "--to", prod, "--json"])
        .json();
    assert_snake_case_keys(&promotion);
    assert_eq!(promotion["app"], staging);
    assert_eq!(promotion["release"], 2);
    assert_eq!(promotion["commit"], second.as_str());
    assert_eq!(promotion["promoted"][0]["app"], prod);
    assert_eq!(promotion["promoted"][0]["release"]["version"], 2);
    assert_eq!(
        promotion["promoted"][0]["release"]["description"],
        format!("Promote {staging} v2")
    );
    assert_eq!(build_note(&world, prod), "build two\n");
    assert_eq!(web_image_id(prod), web_image_id(staging));

    stages.berth(&["releases:rollback", "-a", prod, "v1"]).ok();
    assert_eq!(build_note(&world, prod), "build one\n");
    assert_eq!(visit(&world, prod).unwrap(), "hello-prod\n");
    assert_eq!(web_image_id(prod), staging_image);
}

#[test]
fn refused_pipeline_changes_change_nothing() {
    let world = World::new();
    let stages = TwoStages::new(&world, "pipe-no");
    let (pipeline, staging, prod) = (
        stages.pipeline.as_str(),
        stages.staging.as_str(),
        stages.prod.as_str(),
    );
    stages.form_pipeline();
    stages.push();
    let info = || stages.berth(&["pipelines:info", pipeline, "--json"]).json();
    let before = info();

    // A stage that does not exist is named with the ones that do.
    let other = format!("{pipeline}-other");
    stages.berth(&["apps:create", &other, "--no-remote"]).ok();
    let refused = stages
        .berth(&["pipelines:add", pipeline, "-a", &other, "--stage", "qa"])
        .fails();
    assert!(
        refused.contains("\"qa\"")
            && refused.contains("review, development, staging or production"),
        "{refused}"
    );
    let refused = stages
        .berth(&[
            "pipelines:create",
            &format!("{pipeline}-x"),
            "-a",
            &other,
            "--stage",
            "qa",
        ])
        .fails();
    assert!(refused.contains("\"qa\""), "{refused}");
    // An app is in one pipeline at most.
    let refused = stages
        .berth(&[
            "pipelines:create",
            &format!("{pipeline}-x"),
            "-a",
            prod,
            "--stage",
            "staging",
        ])
        .fails();
    assert!(refused.contains(pipeline), "{refused}");
    let refused = stages
        .berth(&["pipelines:add", pipeline, "-a", prod, "--stage", "staging"])
        .fails();
    assert!(refused.contains(pipeline), "{refused}");
    assert_eq!(
        stages.berth(&["pipelines", "--json"]).json(),
        Value::Array(vec![before.clone()])
    );

    // Production is the last stage; --to names an app of the next stage.
    let refused = stages.berth(&["pipelines:promote", "-a", prod]).fails();
    assert!(refused.contains("production"), "{refused}");
    let refused = stages.berth(&["pipelines:promote", "--to", &other]).fails();
    assert!(refused.contains(&other), "{refused}");
    let refused = stages.berth(&["pipelines:diff", "--to", &other]).fails();
    assert!(refused.contains(&other), "{refused}");

    // From a terminal the spinner turns, then a refusal reads as any error.
    let mut on_terminal = OnTerminal::spawn(
        &world,
        &["pipelines:promote", "-a", staging, "--to", &other],
        24,
        80,
    );
    assert_eq!(on_terminal.exit_code(), Some(1), "{}", on_terminal.shown());
    on_terminal.wait_for("error: ", 1);
    assert!(
        on_terminal
            .shown()
            .contains(&format!("Promoting {staging} ")),
        "{}",
        on_terminal.shown()
    );

    // A deployer of staging who only views production may not promote to it.
    let deployer = world
        .server
        .create_user("deployer@example.com", false, None);
    for (app, role) in [(staging, "deployer"), (prod, "viewer")] {
        stages
            .berth(&[
                "access:add",
                "deployer@example.com",
                "--role",
                role,
                "-a",
                app,
            ])
            .ok();
    }
    world
        .berth_as(&deployer, &["pipelines:diff", "-a", staging])
        .ok();
    let refused = world
        .berth_as(&deployer, &["pipelines:promote", "-a", staging])
        .fails();
    assert!(
        refused.contains(&format!(
            "promoting deploys {prod}, and you may not deploy it"
        )),
        "{refused}"
    );
    assert!(stages.releases(prod).is_empty());
    assert_eq!(info(), before);

    // Strangers see no pipeline, and this one is as unknown as any.
    let stranger = world
        .server
        .create_user("stranger@example.com", false, None);
    assert_eq!(
        world.berth_as(&stranger, &["pipelines", "--json"]).json(),
        serde_json::json!([])
    );
    assert_eq!(
        world.berth_as(&stranger, &["pipelines"]).ok(),
        "You have no pipelines. Create one with: berth pipelines:create NAME -a APP --stage STAGE\n"
    );
    let hidden = world
        .berth_as(&stranger, &["pipelines:info", pipeline])
        .fails();
    let unknown = world
        .berth_as(&stranger, &["pipelines:info", "no-such-pipeline"])
        .fails();
    assert!(hidden.contains("there is no pipeline named"), "{hidden}");
    assert_eq!(
        hidden.replace(pipeline, "X"),
        unknown.replace("no-such-pipeline", "X")
    );
    world
        .berth_as(&stranger, &["pipelines:destroy", pipeline])
        .fails();
    assert_eq!(info(), before);
}

#[test]
fn apps_leave_pipelines_and_pipelines_go_while_their_apps_stay() {
    let world = World::new();
    let stages = TwoStages::new(&world, "pipe-go");
    let (pipeline, staging, prod) = (
        stages.pipeline.as_str(),
        stages.staging.as_str(),
        stages.prod.as_str(),
    );
    let created = stages
        .berth(&["pipelines:create", pipeline, "--stage", "staging", "--json"])
        .json();
    assert_snake_case_keys(&created);
    assert_eq!(created["name"], pipeline);
    assert_eq!(created["apps"][0]["app"], staging);
    assert_eq!(
        created["review_apps"],
        serde_json::json!({"enabled": false, "ttl_seconds": null})
    );
    let added = stages
        .berth(&[
            "pipelines:add",
            pipeline,
            "-a",
            prod,
            "--stage",
            "production",
        ])
        .ok();
    assert_eq!(
        added,
        format!("Adding {prod} to pipeline {pipeline} in production... done\n")
    );

    let listed = stages.berth(&["pipelines", "--json"]).json();
    assert_snake_case_keys(&listed);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let table = stages.berth(&["pipelines"]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert_eq!(lines[0].find("APPS"), lines[1].find(staging), "{table}");
    assert!(
        lines[1].ends_with(&format!("{staging} (staging), {prod} (production)")),
        "{table}"
    );

    // Review apps: on with a time to live, and off again.
    let refused = stages
        .berth(&["reviewapps:enable", "-p", pipeline, "--ttl", "5w"])
        .fails();
    assert!(refused.contains("\"5w\""), "{refused}");
    let info = |pipeline: &str| stages.berth(&["pipelines:info", pipeline, "--json"]).json();
    assert_eq!(info(pipeline)["review_apps"]["enabled"], false);
    let enabled = stages
        .berth(&["reviewapps:enable", "-p", pipeline, "--ttl", "5d"])
        .ok();
    assert!(
        enabled.starts_with(&format!(
            "Enabling review apps on pipeline {pipeline}... done (on: each is destroyed after 5d"
        )),
        "{enabled}"
    );
    assert_eq!(
        info(pipeline)["review_apps"],
        serde_json::json!({"enabled": true, "ttl_seconds": 5 * 86_400})
    );
    let text = stages.berth(&["pipelines:info", pipeline]).ok();
    assert!(
        text.contains("Review apps: on: each is destroyed after 5d without a push"),
        "{text}"
    );
    stages.berth(&["reviewapps:disable", "-p", pipeline]).ok();
    assert_eq!(info(pipeline)["review_apps"]["enabled"], false);

    // An app leaves; the pipeline goes; the apps stay.
    let removed = stages.berth(&["pipelines:remove", "-a", prod]).ok();
    assert_eq!(
        removed,
        format!("Removing {prod} from pipeline {pipeline}... done (the app stays)\n")
    );
    let apps = info(pipeline)["apps"].clone();
    assert_eq!(apps.as_array().unwrap().len(), 1, "{apps}");
    assert_eq!(apps[0]["app"], staging);
    let refused = stages.berth(&["pipelines:remove", "-a", prod]).fails();
    assert!(refused.contains(prod), "{refused}");

    let destroyed = stages.berth(&["pipelines:destroy", pipeline]).ok();
    assert_eq!(
        destroyed,
        format!("Destroying pipeline {pipeline}... done; its apps stay: {staging}\n")
    );
    assert_eq!(
        stages.berth(&["pipelines", "--json"]).json(),
        serde_json::json!([])
    );
    let gone = stages.berth(&["pipelines:info", pipeline]).fails();
    assert!(gone.contains("there is no pipeline named"), "{gone}");
    for app in [staging, prod] {
        stages.berth(&["apps:info", "-a", app]).ok();
    }
    // The apps may join a pipeline again.
    stages
        .berth(&[
            "pipelines:create",
            pipeline,
            "-a",
            prod,
            "--stage",
            "production",
        ])
        .ok();
}
