//! Review apps (issue 19) through the real git client, the `berth` binary
//! and a real engine: a branch pushed to an app of a pipeline with review
//! apps on runs in an app of its own, serving that branch with the parent's
//! config, and goes when the branch is deleted, its TTL passes or it is destroyed.

use super::*;

const PROCFILE: &str = "web: echo \"$BRANCH_TEXT $BERTH_APP_NAME $GREETING\" > /www/version.txt && exec httpd -f -v -p $PORT -h /www\n";

impl AppCheckout<'_> {
    /// Commits `text` as what the web process says, on `branch` (made
    /// from main when it is new).
    fn branch_saying(&self, branch: &str, text: &str) {
        let exists = self
            .repo
            .git_unchecked(&[
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ])
            .status
            .success();
        if exists {
            self.repo.git(&["checkout", "-q", branch]);
        } else {
            self.repo.git(&["checkout", "-q", "-b", branch, "main"]);
        }
        self.repo
            .write("Procfile", &PROCFILE.replace("$BRANCH_TEXT", text));
        self.repo.commit(&format!("{branch} says {text}"));
    }

    fn app_names(&self) -> Vec<String> {
        self.berth(&["apps", "--json"])
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|app| app["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn audit_actions(&self) -> Vec<String> {
        self.berth(&["audit", "-a", &self.name, "--json"])
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|event| {
                format!(
                    "{} {}",
                    event["action"].as_str().unwrap(),
                    event["detail"].as_str().unwrap_or_default()
                )
            })
            .collect()
    }
}

/// The review app the push's output names: `Review app NAME created`.
fn review_app_in(output: &str, made: &str) -> String {
    output
        .lines()
        .find_map(|line| {
            line.trim_end()
                .split_once("Review app ")
                .and_then(|(_, rest)| rest.strip_suffix(&format!(" {made}")))
        })
        .unwrap_or_else(|| panic!("no review app {made} in: {output}"))
        .trim()
        .to_string()
}

fn engine_containers(app: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=berth.app={app}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn a_branch_push_runs_a_review_app_until_its_branch_or_ttl_ends_it() {
    // The parent and one review app at a time are all dev@ may own.
    let world = World::with_settings(|settings| settings.max_apps_per_user = 2);
    let checkout = AppCheckout::new(
        &world,
        "rv",
        Some(&PROCFILE.replace("$BRANCH_TEXT", "main")),
    );
    let parent = checkout.name.clone();
    checkout
        .berth(&["config:set", "GREETING=hello", "-a", &parent])
        .ok();
    checkout.push();
    checkout.branch_saying("feature-x", "feature");

    // Without a pipeline, and with review apps off, other branches are refused.
    let (pushed, output) = checkout.push_ref("feature-x");
    assert!(!pushed, "{output}");
    assert!(
        output.contains("heads/feature-x is not deployed"),
        "{output}"
    );
    let pipeline = format!("{parent}-p");
    checkout
        .berth(&[
            "pipelines:create",
            &pipeline,
            "-a",
            &parent,
            "--stage",
            "staging",
        ])
        .ok();
    let (pushed, output) = checkout.push_ref("feature-x");
    assert!(!pushed, "{output}");
    assert!(output.contains("enable review apps"), "{output}");
    assert_eq!(
        checkout.app_names(),
        std::slice::from_ref(&parent),
        "nothing was created"
    );

    // Enabled: the first push creates the review app, serving the branch.
    checkout.berth(&["reviewapps:enable", "-p", &pipeline]).ok();
    let (pushed, output) = checkout.push_ref("feature-x");
    assert!(pushed, "{output}");
    let review = review_app_in(&output, "created");
    let _review_cleanup = berth_testkit::EngineCleanup::new(&review);
    assert_eq!(review, format!("{parent}-feature-x"));
    assert!(
        output.contains(&format!("http://{review}.localhost")),
        "the push prints the review app's URL: {output}"
    );
    assert_eq!(
        visit(&world, &review).unwrap().trim(),
        format!("feature {review} hello"),
        "the branch's code, with the parent's config"
    );
    assert_eq!(
        visit(&world, &parent).unwrap().trim(),
        format!("main {parent} hello"),
        "the parent still runs main"
    );
    let info = checkout
        .berth(&["pipelines:info", &pipeline, "--json"])
        .json();
    let apps = info["apps"].as_array().unwrap();
    let listed = apps
        .iter()
        .find(|app| app["app"] == review.as_str())
        .unwrap_or_else(|| panic!("{info}"));
    assert_eq!(listed["stage"], "review");
    assert_eq!(listed["review"]["branch"], "feature-x");
    assert_eq!(listed["review"]["parent"], parent.as_str());

    // A review app is its pusher's: one more than they may own is refused.
    checkout.branch_saying("one-too-many", "extra");
    let (pushed, output) = checkout.push_ref("one-too-many");
    assert!(!pushed, "{output}");
    assert!(output.contains("BERTH_MAX_APPS_PER_USER=2"), "{output}");
    assert_eq!(checkout.app_names().len(), 2, "nothing was created");
    let long = "b".repeat(201);
    checkout.branch_saying(&long, "long");
    let (pushed, output) = checkout.push_ref(&long);
    assert!(!pushed, "{output}");
    assert!(output.contains("200 bytes long at most"), "{output}");

    // A later push deploys it again; deleting the branch destroys it.
    checkout.branch_saying("feature-x", "again");
    let (pushed, output) = checkout.push_ref("feature-x");
    assert!(pushed, "{output}");
    assert_eq!(review_app_in(&output, "updated"), review);
    assert_eq!(
        visit(&world, &review).unwrap().trim(),
        format!("again {review} hello")
    );
    let (pushed, output) = checkout.push_ref(":feature-x");
    assert!(pushed, "{output}");
    assert!(
        output.contains(&format!("Destroyed the review app {review}")),
        "{output}"
    );
    assert_eq!(checkout.app_names(), std::slice::from_ref(&parent));
    assert!(engine_containers(&review).is_empty(), "its containers went");
    let trail = checkout.audit_actions();
    for action in ["reviewapp.create", "reviewapp.deploy", "reviewapp.destroy"] {
        assert!(
            trail
                .iter()
                .any(|line| line.starts_with(action) && line.contains(&review)),
            "{action} in the parent's trail: {trail:?}"
        );
    }

    // apps:destroy takes a review app too.
    checkout.branch_saying("fix-1", "fix");
    let (pushed, output) = checkout.push_ref("fix-1");
    assert!(pushed, "{output}");
    let fix = review_app_in(&output, "created");
    let _fix_cleanup = berth_testkit::EngineCleanup::new(&fix);
    checkout
        .berth(&["apps:destroy", "-a", &fix, "--confirm", &fix])
        .ok();
    assert_eq!(checkout.app_names(), std::slice::from_ref(&parent));

    // With a time to live, a review app without pushes goes by itself.
    checkout
        .berth(&["reviewapps:enable", "-p", &pipeline, "--ttl", "10s"])
        .ok();
    checkout.branch_saying("short-lived", "brief");
    let (pushed, output) = checkout.push_ref("short-lived");
    assert!(pushed, "{output}");
    let brief = review_app_in(&output, "created");
    let _brief_cleanup = berth_testkit::EngineCleanup::new(&brief);
    let deadline = Instant::now() + Duration::from_secs(60);
    // The record goes first, then what ran: both within the deadline.
    while checkout.app_names().contains(&brief) || !engine_containers(&brief).is_empty() {
        assert!(Instant::now() < deadline, "{brief} outlived its TTL");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(checkout
        .audit_actions()
        .iter()
        .any(|line| line.starts_with("reviewapp.destroy") && line.contains("no push")));

    // Disabled: branches are refused again.
    checkout
        .berth(&["reviewapps:disable", "-p", &pipeline])
        .ok();
    checkout.branch_saying("late", "late");
    let (pushed, output) = checkout.push_ref("late");
    assert!(!pushed, "{output}");
    assert_eq!(checkout.app_names(), [parent]);
}

#[test]
fn a_review_app_gets_add_ons_of_its_own_and_they_go_with_it() {
    super::addons::require_servers();
    let world = super::addons::addon_world(super::addons::postgres_admin_url());
    world
        .server
        .create_user("dev@example.com", false, Some(PASSWORD));
    world.login("dev@example.com", PASSWORD).ok();
    let parent = berth_testkit::unique_app_name("rva");
    let _cleanup = berth_testkit::EngineCleanup::new(&parent);
    world.berth(&["apps:create", &parent, "--no-remote"]).ok();
    world
        .berth(&["config:set", "GREETING=hello", "-a", &parent])
        .ok();
    let repo = berth_testkit::AppRepo::from_fixture("cmd-only");
    repo.write(
        "heroku.yml",
        "setup:\n  addons:\n    - plan: heroku-redis\nbuild:\n  docker:\n    web: Dockerfile\n",
    );
    repo.commit("A cache from setup");
    let remote = format!("{}/{parent}.git", world.server.api_url);
    let push = |refspec: &str| {
        let output = world
            .command("git", repo.path())
            .args(["push", &remote, refspec])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    push("main");
    let parents_cache = super::addons::config_get(&world, &parent, "REDIS_URL");
    let pipeline = format!("{parent}-p");
    world
        .berth(&[
            "pipelines:create",
            &pipeline,
            "-a",
            &parent,
            "--stage",
            "staging",
        ])
        .ok();
    world.berth(&["reviewapps:enable", "-p", &pipeline]).ok();

    let output = push("main:refs/heads/cache-work");
    let review = review_app_in(&output, "created");
    let _review_cleanup = berth_testkit::EngineCleanup::new(&review);
    let own_cache = super::addons::config_get(&world, &review, "REDIS_URL");
    assert!(!own_cache.is_empty() && own_cache != parents_cache);
    assert_eq!(
        super::addons::config_get(&world, &review, "GREETING"),
        "hello"
    );
    let addons = |app: &str| {
        world
            .berth(&["addons", "-a", app, "--json"])
            .json()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(addons(&review), 1);

    let login = super::addons::Login::of(&own_cache);
    assert_eq!(login.redis(&["PING"]), "PONG");
    push(":cache-work");
    let gone = login.redis(&["PING"]);
    assert!(
        gone.contains("WRONGPASS") || gone.contains("invalid"),
        "the review app's cache login went with it: {gone}"
    );
    let everyone = world.berth(&["addons", "--all", "--json"]).json();
    let names: Vec<&str> = everyone
        .as_array()
        .unwrap()
        .iter()
        .map(|addon| addon["app"].as_str().unwrap_or_default())
        .collect();
    assert!(!names.contains(&review.as_str()), "{everyone}");
    assert_eq!(addons(&parent), 1, "the parent keeps its own");
    assert_eq!(
        super::addons::config_get(&world, &parent, "REDIS_URL"),
        parents_cache
    );
}
