//! The order of a deploy's steps under faults: a build that never ends is
//! cut off, and a deploy that lost its app's lease starts nothing more.

use std::time::{Duration, Instant};

use berth_store::Store;
use berth_testkit::AppRepo;

use crate::push_limits::Pusher;

#[tokio::test]
async fn a_build_past_the_build_timeout_is_cancelled_and_the_old_release_serves_on() {
    let pusher = Pusher::start("buildtimeout", |settings| {
        settings.build_timeout = 30;
    })
    .await;
    let repo = AppRepo::from_fixture("cmd-only");
    let (ok, output, repo) = pusher.push(repo).await;
    assert!(ok, "the first push failed:\n{output}");
    let first = pusher.remote_main().unwrap();

    let dockerfile = std::fs::read_to_string(repo.path().join("Dockerfile")).unwrap();
    repo.write(
        "Dockerfile",
        &dockerfile.replace("COPY www /www", "RUN sleep 600\nCOPY www /www"),
    );
    repo.commit("A build that takes ten minutes");
    let (ok, output, _repo) = pusher.push(repo).await;
    assert!(!ok, "the slow build should be rejected:\n{output}");
    assert!(
        output.contains("remote:") && output.contains("BERTH_BUILD_TIMEOUT"),
        "the rejection names the timeout:\n{output}"
    );
    assert_eq!(pusher.remote_main(), Some(first), "the branch did not move");
    let releases = pusher.releases().await;
    assert_eq!(releases.len(), 2);
    assert!(releases[0].current, "v1 is still current: {releases:?}");
    assert_eq!(releases[1].status, "failed");
    let running = pusher.engine_objects("containers");
    assert_eq!(running.len(), 1, "only v1's web.1 runs: {running:?}");
}

#[tokio::test]
async fn a_deploy_that_lost_its_lease_starts_no_container_and_does_not_go_live() {
    let pusher = Pusher::start("leaselost", |_| {}).await;
    let repo = AppRepo::from_fixture("heroku-yml");
    let manifest = std::fs::read_to_string(repo.path().join("heroku.yml")).unwrap();
    repo.write(
        "heroku.yml",
        &manifest.replace(
            "    - echo \"release phase",
            "    - sleep 4 && echo \"release phase",
        ),
    );
    repo.commit("A slow release phase");

    let settings = pusher.server.settings();
    let url = settings
        .database_url
        .clone()
        .unwrap_or_else(|| Store::sqlite_url(pusher.server.data_dir()));
    let store = Store::open(&url).await.unwrap();
    let (app, _) = store
        .app_with_role(&pusher.app.name, 0)
        .await
        .unwrap()
        .unwrap();

    let push = tokio::spawn({
        let pusher_repo = repo;
        let url = pusher.app.git_url.clone();
        let token = pusher.token.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let output = pusher_repo.push(&url, &token, "main", &[]);
                (
                    output.status.success(),
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&output.stdout),
                        String::from_utf8_lossy(&output.stderr)
                    ),
                )
            })
            .await
            .unwrap()
        }
    });

    // Wait (bounded) for the release phase, then take the lease as another deployer would.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pending = store.pending_releases().await.unwrap();
        if pending
            .iter()
            .any(|r| r.app_id == app.id && r.phase == "releasing")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deploy never reached its release phase"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.clear_deploy_leases().await.unwrap();
    assert!(store
        .acquire_deploy_lease(app.id, "another-deployer", chrono::Duration::minutes(10))
        .await
        .unwrap());

    let (ok, output) = push.await.unwrap();
    assert!(!ok, "the deploy should have stopped:\n{output}");
    assert!(
        output.contains("lost the app's lease"),
        "the rejection says why:\n{output}"
    );
    assert_eq!(pusher.remote_main(), None);
    let releases = pusher.releases().await;
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].status, "failed");
    assert!(!releases[0].current);
    let containers = pusher.engine_objects("containers");
    assert!(
        containers.is_empty(),
        "no process was started: {containers:?}"
    );
}
