//! Pages that change by themselves, in a real browser: a push watched on
//! the releases page as it builds, a redeploy, a failed build, and dynos
//! arriving on the overview, none of it needing a reload. And their streams'
//! access: only members open them, and a member removed is cut off.

use std::time::{Duration, Instant};

use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};
use reqwest::StatusCode;

use crate::browser::{create_app, Browser, PATIENCE};
use crate::dashboard::Visitor;

/// A value set on the page's window: still there later means no reload happened.
async fn mark_page(browser: &Browser) {
    browser
        .client
        .execute(
            "window.berthTestMark = 'unreloaded'; return true;",
            Vec::new(),
        )
        .await
        .unwrap();
}

async fn page_was_not_reloaded(browser: &Browser) -> bool {
    browser
        .client
        .execute("return window.berthTestMark === 'unreloaded';", Vec::new())
        .await
        .unwrap()
        .as_bool()
        .unwrap()
}

/// Commits one more build step, `step` (a `RUN` line), after the app's files are copied.
fn add_build_step(repo: &AppRepo, step: &str) {
    let dockerfile = repo.path().join("Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    let text = text.replace("COPY www /www", &format!("COPY www /www\n{step}"));
    std::fs::write(&dockerfile, text).unwrap();
    repo.commit("One more build step");
}

/// Pushes `repo` to `name` on a thread of its own; joined for git's output.
fn push_in_background(
    server: &TestServer,
    token: &str,
    name: &str,
    repo: AppRepo,
) -> std::thread::JoinHandle<(AppRepo, std::process::Output)> {
    let url = format!("{}/{name}.git", server.api_url);
    let token = token.to_string();
    std::thread::spawn(move || {
        let output = repo.push(&url, &token, "main", &[]);
        (repo, output)
    })
}

#[tokio::test]
async fn a_push_streams_on_the_releases_page_and_dynos_change_on_the_overview_without_reload() {
    let server = TestServer::start();
    let token = server.create_user("dev@example.com", false, Some("correct horse"));
    let name = unique_app_name("dash-live");
    let _cleanup = EngineCleanup::new(&name);
    create_app(&server, &token, &name).await;
    let browser = Browser::start().await;
    let page = |path: &str| format!("{}{path}", server.api_url);
    browser.open(&page("/")).await;
    browser.sign_in_as_dev().await;

    // The releases page is open before the push begins: the push arrives on it.
    browser.open(&page(&format!("/apps/{name}/releases"))).await;
    mark_page(&browser).await;
    let repo = AppRepo::from_fixture("procfile");
    add_build_step(
        &repo,
        "RUN echo live-build-$((40+2))-begins && sleep 4 && echo live-build-$((40+2))-ends",
    );
    let commit = repo.head();
    let pushing = push_in_background(&server, &token, &name, repo);
    browser
        .wait_for_text("#deploy-output", "live-build-42-begins", false)
        .await;
    // Seen together, so the phase is the one of the lines shown.
    let (phase, output) = {
        let seen = browser
            .client
            .execute(
                "return [document.getElementById('deploy-phase').textContent, \
                 document.getElementById('deploy-output').textContent];",
                Vec::new(),
            )
            .await
            .unwrap();
        (
            seen[0].as_str().unwrap().to_string(),
            seen[1].as_str().unwrap().to_string(),
        )
    };
    if !output.contains("live-build-42-ends") {
        assert_eq!(phase, "building", "{output}");
    }
    assert!(
        output.contains(&format!("-----> Building {name} v1 from {}", &commit[..7])),
        "as git push shows it: {output}"
    );
    let what = browser.text("#deploy-what").await;
    assert_eq!(
        what,
        format!("Deploy of {} by dev@example.com", &commit[..7])
    );
    assert!(!browser.text("#deploy-elapsed").await.is_empty());
    browser.shot("releases-live").await;
    browser
        .wait_for_text("#deploy-outcome", "Released v1", false)
        .await;
    let output = browser.text("#deploy-output").await;
    assert!(
        output.contains("live-build-42-ends") && output.contains("procfile release phase"),
        "the build and the release command: {output}"
    );
    // The list below took the new release in, with how long it took and
    // each phase's part.
    let releases = browser.wait_for_text("#releases", "v1", false).await;
    assert!(
        releases.contains("took ")
            && releases.contains("building ")
            && releases.contains("releasing ")
            && releases.contains("starting "),
        "{releases}"
    );
    assert!(page_was_not_reloaded(&browser).await);
    let (repo, pushed) = pushing.join().unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    // Redeploy the current commit (offered once there is one): the page follows it too.
    browser.open(&page(&format!("/apps/{name}/releases"))).await;
    browser.click_button("Redeploy the current commit").await;
    browser
        .wait_for_text(".flash", &format!("Redeploying {}", &commit[..7]), false)
        .await;
    browser
        .wait_for_text("#deploy-what", "Redeploy of", false)
        .await;
    browser
        .wait_for_text("#deploy-outcome", "Released v2", false)
        .await;
    browser.wait_for_text("#releases", "v2", false).await;

    // A build that fails says why at a glance, in the panel and the list.
    browser.open(&page(&format!("/apps/{name}/releases"))).await;
    mark_page(&browser).await;
    add_build_step(
        &repo,
        "RUN echo about-to-fail-$((6*7)) && sleep 3 && exit 3",
    );
    let pushing = push_in_background(&server, &token, &name, repo);
    browser
        .wait_for_text("#deploy-output", "about-to-fail-42", false)
        .await;
    // A redeploy asked for meanwhile is refused, not queued behind it.
    let answer = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const form = document.getElementById('redeploy');
             fetch(form.action, { method: 'POST', credentials: 'same-origin',
                                  body: new URLSearchParams(new FormData(form)) })
               .then((response) => response.text()).then(done, (error) => done(String(error)));",
            Vec::new(),
        )
        .await
        .unwrap();
    let answer = answer.as_str().unwrap();
    assert!(
        answer.contains(&format!("is running for {name}: wait for it to end")),
        "{answer}"
    );
    let outcome = browser
        .wait_for_text("#deploy-outcome", "Failed: ", false)
        .await;
    assert!(outcome.contains("the build of web failed"), "{outcome}");
    let releases = browser.wait_for_text("#releases", "v3", false).await;
    assert!(
        releases.contains("failed") && releases.contains("the build of web failed"),
        "{releases}"
    );
    assert!(page_was_not_reloaded(&browser).await);
    browser.shot("releases-failed").await;
    let (_, pushed) = pushing.join().unwrap();
    assert!(!pushed.status.success(), "the broken push is refused");

    // Opened within the minute, the page shows that deploy too, but does
    // not fetch its list again: it shows the release settled already.
    browser.open(&page(&format!("/apps/{name}/releases"))).await;
    browser
        .wait_for_text("#deploy-outcome", "Failed: ", false)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fetched = browser
        .client
        .execute(
            "return performance.getEntriesByType('resource')
               .filter((entry) => entry.initiatorType === 'fetch').map((entry) => entry.name);",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(fetched, serde_json::json!([]), "the list was fetched again");

    // The overview says it is live, and a dyno started elsewhere arrives.
    browser.open(&page(&format!("/apps/{name}"))).await;
    mark_page(&browser).await;
    browser.wait_for_text("#live-state", "Live", false).await;
    let activity = browser.text(".activity").await;
    assert!(
        activity.contains(&format!("dev@example.com redeployed v2 ({})", &commit[..7])),
        "{activity}"
    );
    browser.wait_for_text("#dynos", "web.1", false).await;
    let scaled = reqwest::Client::new()
        .patch(format!("{}/api/v1/apps/{name}/formation", server.api_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"changes": ["web=2"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(scaled.status(), StatusCode::OK);
    browser.wait_for_text("#dynos", "web.2", false).await;
    let deadline = Instant::now() + PATIENCE;
    while browser.text("#dynos").await.matches("up").count() < 2 {
        assert!(Instant::now() < deadline, "web.2 never came up on the page");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(page_was_not_reloaded(&browser).await);
    browser.shot("overview-live").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    assert!(!browser.scrolls_sideways().await);
    browser.shot("overview-live-phone").await;
    browser.open(&page(&format!("/apps/{name}/releases"))).await;
    assert!(!browser.scrolls_sideways().await);
    browser.shot("releases-phone").await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test]
async fn live_streams_open_for_members_only_and_end_when_access_does() {
    let server = TestServer::start();
    let owner_token = server.create_user("owner@example.com", false, Some("pw-owner"));
    server.create_user("viewer@example.com", false, Some("pw-viewer"));
    server.create_user("stranger@example.com", false, Some("pw-stranger"));
    let name = unique_app_name("dash-live-access");
    create_app(&server, &owner_token, &name).await;
    let api = reqwest::Client::new();
    let granted = api
        .post(format!("{}/api/v1/apps/{name}/access", server.api_url))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({"email": "viewer@example.com", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert!(granted.status().is_success());

    let mut stranger = Visitor::new(&server);
    stranger
        .sign_in("stranger@example.com", "pw-stranger")
        .await;
    for stream in ["overview/live", "releases/live"] {
        let (status, _, _) = stranger.get(&format!("/apps/{name}/{stream}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{stream}");
    }

    let mut viewer = Visitor::new(&server);
    viewer.sign_in("viewer@example.com", "pw-viewer").await;
    let mut streams = Vec::new();
    for stream in ["overview/live", "releases/live"] {
        let response = viewer.open_stream(&format!("/apps/{name}/{stream}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{stream}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        streams.push(response);
    }
    // The overview's stream starts with the state at once.
    let first = tokio::time::timeout(PATIENCE, streams[0].chunk())
        .await
        .expect("a first event")
        .unwrap()
        .unwrap();
    let first = String::from_utf8_lossy(&first);
    assert!(
        first.contains("event: state") && first.contains("Deploy your first release"),
        "{first}"
    );

    // A user holds at most 16 live streams open at once (each looks at the
    // engine every few seconds); one closed makes room for another.
    let mut more = Vec::new();
    for _ in 2..16 {
        let response = viewer
            .open_stream(&format!("/apps/{name}/overview/live"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        more.push(response);
    }
    let refused = viewer
        .open_stream(&format!("/apps/{name}/overview/live"))
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("You have 16 live pages open already: close some tabs"),
        "{page}"
    );
    drop(more.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = viewer
            .open_stream(&format!("/apps/{name}/releases/live"))
            .await;
        if again.status() == StatusCode::OK {
            more.push(again);
            break;
        }
        assert!(Instant::now() < deadline, "a closed stream never made room");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(more);

    // The viewer loses access: both streams end soon after.
    let removed = api
        .delete(format!(
            "{}/api/v1/apps/{name}/access/viewer@example.com",
            server.api_url
        ))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap();
    assert!(removed.status().is_success(), "{}", removed.status());
    for mut stream in streams {
        let ended = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(_chunk) = stream.chunk().await.unwrap_or(None) {}
        })
        .await;
        assert!(ended.is_ok(), "a stream outlived the viewer's access");
    }
}
