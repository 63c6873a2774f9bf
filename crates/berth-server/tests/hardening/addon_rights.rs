//! Finding 8: a first push applied heroku.yml's `setup` (add-ons, config
//! vars) with only the right to deploy. It now needs the rights
//! `addons:create` and `config:set` need, or is refused naming what is missing.

use berth_api_types::{Addon, App, Release};
use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const POSTGRES_ADMIN_URL: &str =
    "postgres://berth_test_admin:berth-test-admin@127.0.0.1:5432/postgres";

/// The operator's Postgres server the add-on tests provision on (started by script/test).
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("BERTH_TEST_POSTGRES_ADMIN_URL").unwrap_or_else(|_| POSTGRES_ADMIN_URL.into())
}

/// A JSON client of one server's API.
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub(crate) fn new(server: &TestServer) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: format!("{}/api/v1", server.api_url),
        }
    }

    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// GETs `path` and reads the JSON answer, which must be a success.
    pub(crate) async fn get<T: serde::de::DeserializeOwned>(&self, path: &str, token: &str) -> T {
        let response = self.call(Method::GET, path, token, None).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }

    /// Sends `body` and asserts the answer is a success.
    pub(crate) async fn send(&self, method: Method, path: &str, token: &str, body: Value) -> Value {
        let response = self.call(method.clone(), path, token, Some(body)).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub(crate) async fn create_app(&self, token: &str, prefix: &str) -> (App, EngineCleanup) {
        let name = unique_app_name(prefix);
        let cleanup = EngineCleanup::new(&name);
        let app = self
            .send(Method::POST, "/apps", token, json!({ "name": name }))
            .await;
        (serde_json::from_value(app).unwrap(), cleanup)
    }
}

/// A repository whose heroku.yml sets up a Postgres add-on and a config var.
fn app_with_setup() -> AppRepo {
    let repo = AppRepo::from_fixture("cmd-only");
    repo.write(
        "heroku.yml",
        "setup:\n  addons:\n    - plan: heroku-postgresql\n  config:\n    GREETING: hello\n\
         build:\n  docker:\n    web: Dockerfile\n",
    );
    repo.commit("Set the app up from heroku.yml");
    repo
}

#[tokio::test]
async fn a_deployers_first_push_cannot_provision_setup_addons_and_an_owners_can() {
    let server = TestServer::start_with(|settings| {
        settings.addon_postgres_admin_url = Some(postgres_admin_url());
    });
    let owner = server.create_user("owner@example.com", false, None);
    let deployer = server.create_user("deployer@example.com", false, None);
    let api = Api::new(&server);
    let (app, _cleanup) = api.create_app(&owner, "setup-rights").await;
    let name = &app.name;
    api.send(
        Method::POST,
        &format!("/apps/{name}/access"),
        &owner,
        json!({ "email": "deployer@example.com", "role": "deployer" }),
    )
    .await;
    let repo = app_with_setup();

    let refused = repo.push(&app.git_url, &deployer, "main", &[]);
    let output = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{output}");
    let said = output
        .lines()
        .find(|line| line.starts_with("remote:") && line.contains("setup needs rights"))
        .unwrap_or_else(|| panic!("no remote: line names the missing rights: {output}"));
    assert!(
        said.contains("setup.addons: as deployer you cannot change this app's add-ons")
            && said.contains("setup.config: as deployer you cannot change this app's config"),
        "{said}"
    );
    let addons: Vec<Addon> = api.get(&format!("/apps/{name}/addons"), &owner).await;
    assert_eq!(addons, [], "no add-on was created");
    let releases: Vec<Release> = api.get(&format!("/apps/{name}/releases"), &owner).await;
    assert_eq!(releases.len(), 0, "nothing was released");
    let config: Value = api.get(&format!("/apps/{name}/config"), &owner).await;
    assert_eq!(config, json!({}), "no config var was set");

    let pushed = repo.push(&app.git_url, &owner, "main", &[]);
    let output = String::from_utf8_lossy(&pushed.stderr);
    let addons: Vec<Addon> = api.get(&format!("/apps/{name}/addons"), &owner).await;
    // Dropped before asserting, so a failure leaves no database behind.
    for addon in &addons {
        let response = api
            .call(
                Method::DELETE,
                &format!("/apps/{name}/addons/{}", addon.name),
                &owner,
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    assert!(pushed.status.success(), "{output}");
    assert_eq!(addons.len(), 1, "{addons:?}");
    assert_eq!(addons[0].service, "postgres");
}
