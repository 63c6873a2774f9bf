//! The dashboard in a real browser: Debian's Chromium, headless, driven
//! through chromedriver, against a real berthd deploying with real git and
//! Docker. Screenshots of each main page land in `target/screenshots/`.
//! Console errors of a page are read from Chromium's browser log.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};
use fantoccini::{Client, ClientBuilder, Locator};

/// How long the page may take to show what an action should have done (a
/// roll-out on a busy machine can take a while).
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub(crate) async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Its own process group, which the Chromium it starts joins: a
        // failed test still takes the whole browser down with it.
        let driver = Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver) is installed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:loggingPrefs".to_string(),
            serde_json::json!({"browser": "ALL"}),
        );
        capabilities.insert(
            "goog:chromeOptions".to_string(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        client.set_window_size(1280, 1000).await.unwrap();
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Self {
            client,
            driver,
            shots,
            _profile: profile,
        }
    }

    pub(crate) async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the element at `css` shows `needle`, reloading the page
    /// between looks when `reload` (for state that changes server-side).
    pub(crate) async fn wait_for_text(&self, css: &str, needle: &str, reload: bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text(css).await;
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline {
                self.shot("failure").await;
                let url = self.client.current_url().await.unwrap();
                panic!("{css} never showed {needle:?} at {url}; it shows {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            if reload {
                self.client.refresh().await.unwrap();
            }
        }
    }

    /// Whether the element at `css` exists on the page now.
    pub(crate) async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// The errors the pages wrote to the console since the last call. A
    /// load cut short because Docker added a network interface meanwhile
    /// (other tests start containers) is the machine's doing, not the page's.
    pub(crate) async fn console_errors(&self) -> Vec<String> {
        let entries = self.client.issue_cmd(BrowserLog).await.unwrap();
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
            .filter(|message| !message.contains("net::ERR_NETWORK_CHANGED"))
            .collect()
    }

    /// Whether the page is wider than the window (it would scroll sideways).
    pub(crate) async fn scrolls_sideways(&self) -> bool {
        let wider = self
            .client
            .execute(
                "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
                Vec::new(),
            )
            .await
            .unwrap();
        wider.as_bool().unwrap()
    }

    pub(crate) async fn submit(&self, form: &str, fields: &[(&str, &str)]) {
        let form = self.client.form(Locator::Css(form)).await.unwrap();
        for (name, value) in fields {
            form.set_by_name(name, value).await.unwrap();
        }
        form.submit().await.unwrap();
    }

    /// Signs dev@example.com in on the sign-in page that is open.
    pub(crate) async fn sign_in_as_dev(&self) {
        self.submit(
            "#sign-in",
            &[("email", "dev@example.com"), ("password", "correct horse")],
        )
        .await;
        self.wait_for_text(".flash", "Signed in as dev@example.com.", false)
            .await;
    }

    pub(crate) async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub(crate) async fn click(&self, css: &str) {
        self.click_at(Locator::Css(css), css).await;
    }

    pub(crate) async fn click_button(&self, label: &str) {
        let xpath = format!("//button[normalize-space()='{label}']");
        self.click_at(Locator::XPath(&xpath), label).await;
    }

    /// Clicks what `locator` finds. A live page may replace the element
    /// between finding and clicking it: then it is found again.
    async fn click_at(&self, locator: Locator<'_>, what: &str) {
        for _ in 0..5 {
            let element = self
                .client
                .find(locator)
                .await
                .unwrap_or_else(|_| panic!("nothing matches {what:?}"));
            match element.click().await {
                Ok(()) => return,
                Err(fantoccini::error::CmdError::Standard(error))
                    if error.error == fantoccini::error::ErrorStatus::StaleElementReference =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("clicking {what:?}: {error}"),
            }
        }
        panic!("{what:?} was replaced each time it was clicked");
    }
}

/// ChromeDriver's command for the browser's console log (`goog:loggingPrefs`).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_string()),
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}

/// Pushes the `procfile` fixture to `name`, which must deploy.
pub(crate) fn push_procfile_app(server: &TestServer, token: &str, name: &str) {
    let repo = AppRepo::from_fixture("procfile");
    let pushed = repo.push(
        &format!("{}/{name}.git", server.api_url),
        token,
        "main",
        &[],
    );
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
}

#[tokio::test]
async fn the_dashboard_runs_an_app_from_sign_in_to_rollback() {
    let server = TestServer::start();
    let token = server.create_user("dev@example.com", false, Some("correct horse"));
    let name = unique_app_name("dash");
    let _cleanup = EngineCleanup::new(&name);
    let browser = Browser::start().await;
    let page = |path: &str| format!("{}{path}", server.api_url);

    // Sign in.
    browser.open(&page("/")).await;
    browser.shot("sign-in").await;
    browser.sign_in_as_dev().await;
    browser.shot("apps-empty").await;

    // Create an app: its overview says how to deploy it.
    browser.submit("#create-app", &[("name", &name)]).await;
    browser
        .wait_for_text(".flash", &format!("Created {name}."), false)
        .await;
    let first_deploy = browser.text("#first-deploy").await;
    assert!(
        first_deploy.contains(&format!(
            "git remote add platform {}/{name}.git",
            server.api_url
        )),
        "{first_deploy}"
    );
    browser.shot("app-new").await;

    push_procfile_app(&server, &token, &name);
    browser.client.refresh().await.unwrap();
    browser.wait_for_text("#dynos", "web.1", true).await;
    browser.wait_for_text("#dynos", "up", true).await;
    // Where each dyno runs, by the host's name.
    browser.wait_for_text("#dynos", "default", true).await;

    // Set a config var, then delete it: each is one new release.
    browser.open(&page(&format!("/apps/{name}/config"))).await;
    browser
        .submit("#add-config", &[("vars", "GREETING=hello")])
        .await;
    browser
        .wait_for_text(".flash", "Set GREETING config vars: released v2.", false)
        .await;
    assert!(browser.text("#config").await.contains("GREETING"));
    browser.click_button("Reveal values").await;
    assert!(browser.text("#config").await.contains("hello"));
    browser.shot("config").await;
    // Deleting asks first (`data-confirm`): yes.
    browser
        .client
        .execute("window.confirm = () => true;", Vec::new())
        .await
        .unwrap();
    browser.click_button("Delete").await;
    browser
        .wait_for_text(".flash", "Remove GREETING config vars: released v3.", false)
        .await;
    assert!(!browser.text(".page").await.contains("hello"));
    browser.open(&page(&format!("/apps/{name}/releases"))).await;
    // A deploy that ended within the minute shows above the list, which is
    // fetched again then: looked at until it reads whole.
    let releases = browser
        .wait_for_text("#releases", "Remove GREETING", false)
        .await;
    assert!(
        releases.contains("v3") && releases.contains("Remove GREETING"),
        "{releases}"
    );

    // Scale web to 2: two dynos.
    browser.open(&page(&format!("/apps/{name}"))).await;
    browser.click("button[aria-label='One more web']").await;
    browser.submit("#scale", &[]).await;
    browser
        .wait_for_text(".flash", "Scaled to web=2.", false)
        .await;
    browser.wait_for_text("#dynos", "web.2", true).await;
    let deadline = Instant::now() + PATIENCE;
    while browser.text("#dynos").await.matches("up").count() < 2 {
        assert!(Instant::now() < deadline, "two dynos never came up");
        tokio::time::sleep(Duration::from_millis(500)).await;
        browser.client.refresh().await.unwrap();
    }
    browser.shot("app-overview").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.shot("app-overview-phone").await;
    browser.client.set_window_size(1280, 1000).await.unwrap();

    // A line the app writes appears live in the log page, filtered to the app's output.
    browser.open(&page(&format!("/apps/{name}/logs"))).await;
    browser
        .client
        .find(Locator::Css("select[name=source]"))
        .await
        .unwrap()
        .select_by_value("app")
        .await
        .unwrap();
    browser.wait_for_text("#log-state", "live", false).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!browser.text("#log").await.contains("response:404"));
    let visit = reqwest::Client::new()
        .get(format!("{}/no-such-page", server.http_url))
        .header("host", format!("{name}.localhost"))
        .send()
        .await
        .unwrap();
    assert_eq!(visit.status(), reqwest::StatusCode::NOT_FOUND);
    let log = browser.wait_for_text("#log", "response:404", false).await;
    assert!(log.contains("app[web."), "{log}");
    assert!(!log.contains("berth[router]"), "filtered to the app: {log}");
    browser.shot("logs").await;

    // Roll back to the first release.
    browser.open(&page(&format!("/apps/{name}/releases"))).await;
    browser.click_button("Roll back to v1").await;
    browser
        .wait_for_text(".flash", "Rolled back to v1: this is now v4.", false)
        .await;
    let current = browser.text("#releases tr.current").await;
    assert!(current.contains("v4"), "{current}");
    browser.shot("releases").await;

    // Restart one dyno; turn maintenance on.
    browser.open(&page(&format!("/apps/{name}"))).await;
    browser
        .click("#dynos form:has(input[value='web.1']) button")
        .await;
    browser
        .wait_for_text(".flash", "Restarted web.1.", false)
        .await;
    browser.click_button("Turn maintenance on").await;
    browser
        .wait_for_text(".flash", "Maintenance mode is on", false)
        .await;
    assert!(browser.text("h1").await.contains("maintenance"));
    let visit = reqwest::Client::new()
        .get(format!("{}/", server.http_url))
        .header("host", format!("{name}.localhost"))
        .send()
        .await
        .unwrap();
    assert_eq!(visit.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);

    browser.open(&page(&format!("/apps/{name}/access"))).await;
    assert!(browser.text("#members").await.contains("dev@example.com"));
    browser.shot("access").await;
    browser.open(&page("/apps/no-such-app")).await;
    assert!(browser.text("h1").await.contains("Not found"));
    browser.shot("not-found").await;

    // The app list, and a token shown once on the account page.
    browser.open(&page("/apps")).await;
    let apps = browser.text("#apps").await;
    assert!(apps.contains(&name) && apps.contains("v4"), "{apps}");
    browser.shot("apps").await;
    browser.open(&page("/account")).await;
    browser
        .submit("#create-token", &[("description", "CI")])
        .await;
    let created = browser.wait_for_text("#new-token", "berth_", false).await;
    assert!(created.contains("shown only this once"), "{created}");
    browser.shot("account").await;

    // Destroying asks for the app's name first.
    browser.open(&page(&format!("/apps/{name}"))).await;
    browser
        .submit("#destroy", &[("confirm", "not-the-name")])
        .await;
    browser
        .wait_for_text(
            ".flash-error",
            &format!("Type the app's name, {name}"),
            false,
        )
        .await;
    browser.submit("#destroy", &[("confirm", &name)]).await;
    browser
        .wait_for_text(".flash", &format!("Destroyed {name}."), false)
        .await;
    assert!(browser.text(".page").await.contains("No apps yet"));

    browser.click_button("Sign out").await;
    browser.wait_for_text(".flash", "Signed out.", false).await;
    browser.open(&page("/apps")).await;
    assert!(browser.text("h1").await.contains("Sign in"));
    browser.client.clone().close().await.unwrap();
}

/// Makes an app through the API as `token`'s user.
pub(crate) async fn create_app(server: &TestServer, token: &str, name: &str) {
    let created = reqwest::Client::new()
        .post(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
}

/// A request to the pipelines API that must succeed.
pub(crate) async fn pipelines_api(
    server: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) {
    let response = reqwest::Client::new()
        .request(method, format!("{}/api/v1{path}", server.api_url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "{path}: {status} {}",
        response.text().await.unwrap()
    );
}

#[tokio::test]
async fn the_pipeline_tab_shows_stages_and_review_apps_and_promotes_staging_to_production() {
    let server = TestServer::start();
    let token = server.create_user("dev@example.com", false, Some("correct horse"));
    let staging = unique_app_name("dash-stg");
    let production = unique_app_name("dash-prod");
    let review = format!("{staging}-feature-x");
    let pipeline = unique_app_name("dash-pl");
    // Dropped in this order: production runs staging's image (labelled
    // staging's), which can only go once production's containers have.
    let _cleanups = [&production, &review, &staging].map(|app| EngineCleanup::new(app));
    create_app(&server, &token, &staging).await;
    create_app(&server, &token, &production).await;
    let post = reqwest::Method::POST;
    pipelines_api(
        &server,
        &token,
        post.clone(),
        "/pipelines",
        serde_json::json!({"name": pipeline, "app": staging, "stage": "staging"}),
    )
    .await;
    pipelines_api(
        &server,
        &token,
        post,
        &format!("/pipelines/{pipeline}/apps"),
        serde_json::json!({"app": production, "stage": "production"}),
    )
    .await;
    pipelines_api(
        &server,
        &token,
        reqwest::Method::PUT,
        &format!("/pipelines/{pipeline}/review-apps"),
        serde_json::json!({"ttl": "5d"}),
    )
    .await;

    // Staging runs main; a branch pushed to it runs in its review app.
    let repo = AppRepo::from_fixture("procfile");
    let commit = repo.head();
    let git_url = format!("{}/{staging}.git", server.api_url);
    for refspec in ["main", "feature-x"] {
        if refspec != "main" {
            repo.git(&["checkout", "-q", "-b", refspec]);
            repo.write("www/feature.txt", "feature x\n");
            repo.commit("Feature x");
        }
        let pushed = repo.push(&git_url, &token, refspec, &[]);
        assert!(
            pushed.status.success(),
            "{}",
            String::from_utf8_lossy(&pushed.stderr)
        );
    }

    let browser = Browser::start().await;
    let page = |path: &str| format!("{}{path}", server.api_url);
    browser.open(&page("/")).await;
    browser.sign_in_as_dev().await;

    // Each stage's column with its app's release; the app itself outlined.
    browser.open(&page(&format!("/apps/{staging}"))).await;
    let line = browser.text("#pipeline-line").await;
    assert_eq!(line, format!("Pipeline {pipeline} · staging"));
    browser.click("#pipeline-line a").await;
    assert!(browser.text(".tabs a.active").await.contains("Pipeline"));
    let facts = browser.text("#pipeline-facts").await;
    assert!(
        facts.contains(&pipeline) && facts.contains("destroyed after 5d without a push"),
        "{facts}"
    );
    let short = &commit[..7];
    let staging_card = browser.text("#stage-staging .pipeline-app.current").await;
    assert!(
        staging_card.contains(&staging)
            && staging_card.contains(&format!("v1 {short}"))
            && staging_card.contains("ago")
            && staging_card.contains(&format!("http://{staging}.localhost")),
        "{staging_card}"
    );
    let full_sha = browser
        .client
        .find(Locator::Css("#stage-staging .release-line code"))
        .await
        .unwrap()
        .attr("title")
        .await
        .unwrap();
    assert_eq!(full_sha.as_deref(), Some(commit.as_str()));
    let production_card = browser.text("#stage-production").await;
    assert!(
        production_card.contains(&production) && production_card.contains("No release yet"),
        "{production_card}"
    );

    // What production lacks, and the review app of the branch.
    let promotion = browser.text("#promotion").await;
    assert!(
        promotion.contains(&format!("1 commit not yet in {production}"))
            && promotion.contains(&format!("{short} Initial commit Berth Test")),
        "{promotion}"
    );
    let reviews = browser.text("#review-apps").await;
    assert!(
        reviews.contains(&review)
            && reviews.contains("feature-x")
            && reviews.contains("Expires")
            && reviews.contains("in 4d 23h")
            && reviews.contains("dev@example.com"),
        "{reviews}"
    );
    assert!(
        browser
            .has(&format!("#review-apps a[href='/apps/{staging}']"))
            .await,
        "the review app links to the app its branch was pushed to"
    );
    browser.shot("pipeline").await;
    browser
        .client
        .execute(
            "document.getElementById('review-apps').scrollIntoView()",
            Vec::new(),
        )
        .await
        .unwrap();
    browser.shot("pipeline-review-apps").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.client.refresh().await.unwrap();
    assert!(browser.has("#stage-production").await);
    assert!(
        !browser.scrolls_sideways().await,
        "the Pipeline tab fits a phone"
    );
    browser.shot("pipeline-phone").await;
    browser.client.set_window_size(1280, 1000).await.unwrap();

    // Promote: production runs staging's release, its commit and all.
    browser
        .click_button(&format!("Promote to {production}"))
        .await;
    browser
        .wait_for_text(
            ".flash",
            &format!("Promoted {staging} v1 to {production} as v1."),
            false,
        )
        .await;
    let production_card = browser.text("#stage-production").await;
    assert!(
        production_card.contains(&format!("v1 {short}")),
        "{production_card}"
    );
    assert!(browser.text("#promotion").await.contains(&format!(
        "{production} already has every commit of {staging} v1"
    )));
    browser.shot("pipeline-promoted").await;

    // Production is the last stage; the review app says whose it is.
    browser
        .open(&page(&format!("/apps/{production}/pipeline")))
        .await;
    assert!(browser
        .text("#promotion")
        .await
        .contains("the last one: there is no stage to promote to"));
    browser.open(&page(&format!("/apps/{review}"))).await;
    assert_eq!(
        browser.text("#pipeline-line").await,
        format!("Pipeline {pipeline} · review · Review app of {staging} for branch feature-x")
    );
    browser
        .click(&format!("#pipeline-line a[href='/apps/{staging}']"))
        .await;
    assert!(browser.text("h1").await.contains(&staging));

    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.client.clone().close().await.unwrap();
}

/// How long the metrics sampler (every 10 s) may take to show traffic.
const SAMPLER_PATIENCE: Duration = Duration::from_secs(40);

#[tokio::test]
async fn the_metrics_tab_charts_an_apps_traffic_memory_and_cpu() {
    let server = TestServer::start();
    let token = server.create_user("dev@example.com", false, Some("correct horse"));
    let name = unique_app_name("dash-metrics");
    let _cleanup = EngineCleanup::new(&name);
    let api = reqwest::Client::new();
    let created = api
        .post(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    push_procfile_app(&server, &token, &name);

    // Traffic through the router: pages that exist and some that do not.
    let visit = |path: &'static str| {
        api.get(format!("{}{path}", server.http_url))
            .header("host", format!("{name}.localhost"))
            .send()
    };
    let deadline = Instant::now() + PATIENCE;
    while visit("/version.txt").await.map(|r| r.status()).ok() != Some(reqwest::StatusCode::OK) {
        assert!(Instant::now() < deadline, "the app never answered");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for _ in 0..30 {
        assert_eq!(visit("/version.txt").await.unwrap().status(), 200);
    }
    for _ in 0..5 {
        assert_eq!(visit("/no-such-page").await.unwrap().status(), 404);
    }

    let browser = Browser::start().await;
    let page = |path: &str| format!("{}{path}", server.api_url);
    browser.open(&page("/")).await;
    browser.sign_in_as_dev().await;

    // The sampler records the requests and the dyno within a few of its rounds.
    browser.open(&page(&format!("/apps/{name}/metrics"))).await;
    assert!(browser.text(".tabs a.active").await.contains("Metrics"));
    let deadline = Instant::now() + SAMPLER_PATIENCE;
    while !(browser.has("#chart-requests path.line.s-2xx").await
        && browser.has("#chart-memory path.line").await
        && browser.has("#chart-cpu path.line").await)
    {
        if Instant::now() > deadline {
            browser.shot("failure").await;
            panic!(
                "the charts never showed the traffic and the dyno: {}",
                browser.text("#metrics-charts").await
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        browser.client.refresh().await.unwrap();
    }
    let requests = browser.text("#chart-requests").await;
    assert!(
        requests.contains("2xx") && requests.contains("4xx") && requests.contains("UTC"),
        "{requests}"
    );
    assert!(browser.has("#chart-requests path.line.s-4xx").await);
    assert!(browser.has("#chart-latency path.line.s-p50").await);
    assert!(
        browser.has("#chart-requests g.mark-deploy").await,
        "the deploy is marked"
    );
    let memory = browser.text("#chart-memory").await;
    assert!(
        memory.contains("web.1") && memory.contains("iB"),
        "{memory}"
    );
    let summary = browser.text("#metrics-summary").await;
    assert!(
        summary.to_lowercase().contains("p95") && summary.contains(" ms"),
        "{summary}"
    );
    assert!(browser
        .text("#metrics-window a.active")
        .await
        .contains("Last hour"));

    // The open page refreshes its charts by itself, with the traffic since.
    let first = browser.text("#metrics-charts p.muted").await;
    for _ in 0..10 {
        assert_eq!(visit("/version.txt").await.unwrap().status(), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while browser.text("#metrics-charts p.muted").await == first {
        assert!(
            Instant::now() < deadline,
            "the charts never refreshed: {first}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(browser.has("#chart-requests path.line.s-2xx").await);
    browser.shot("metrics").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.client.refresh().await.unwrap();
    assert!(browser.has("#chart-requests svg").await);
    assert!(
        !browser.scrolls_sideways().await,
        "the Metrics tab fits a phone"
    );
    browser.shot("metrics-phone").await;
    browser.client.set_window_size(1280, 1000).await.unwrap();

    // Another window, at its coarser resolution.
    browser.click("#metrics-window a[href$='since=24h']").await;
    browser
        .wait_for_text("#metrics-window a.active", "24 hours", false)
        .await;
    assert!(browser.has("#chart-requests path.line.s-2xx").await);
    assert!(browser
        .text("#metrics-charts")
        .await
        .contains("One point per 1 min"));

    // The app list draws the last hour's requests.
    browser.open(&page("/apps")).await;
    let sparkline = browser
        .client
        .find(Locator::Css("#apps svg.sparkline title"))
        .await
        .unwrap()
        .html(true)
        .await
        .unwrap();
    assert!(
        sparkline.ends_with("requests in the last hour"),
        "{sparkline}"
    );
    assert!(!sparkline.starts_with("No "), "{sparkline}");
    browser.shot("apps-sparkline").await;

    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.client.clone().close().await.unwrap();
}
