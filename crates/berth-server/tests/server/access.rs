//! Authorization as a matrix: every route of the API, found from the router
//! itself, and git's fetch and push, × every kind of caller, against what
//! the policy says. Plus sign-in throttling as a client meets it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use berth_api_types::{CreatedToken, ErrorBody};
use berth_testkit::{unique_app_name, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::routes_of_the_router;

const PASSWORD: &str = "correct horse battery staple";

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    /// A member with no role on the app.
    NoAccess,
    /// The owner of another app.
    OtherAppOwner,
    Viewer,
    Deployer,
    Admin,
    Owner,
    PlatformAdmin,
    /// The owner, through a token of read scope.
    OwnerReadToken,
    /// The owner, through an expired token.
    ExpiredToken,
    /// The owner, through a revoked token.
    RevokedToken,
}

const EVERYONE: [Who; 11] = [
    Who::Anonymous,
    Who::NoAccess,
    Who::OtherAppOwner,
    Who::Viewer,
    Who::Deployer,
    Who::Admin,
    Who::Owner,
    Who::PlatformAdmin,
    Who::OwnerReadToken,
    Who::ExpiredToken,
    Who::RevokedToken,
];

/// The least role on an app, in the policy's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Viewer,
    Deployer,
    Admin,
    Owner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Read,
    Deploy,
    Full,
}

/// What a route needs, per the policy.
#[derive(Debug, Clone, Copy)]
enum Need {
    Nothing,
    /// Any signed-in user, through a token of at least this scope.
    User(Scope),
    PlatformAdmin(Scope),
    /// At least this role on the app (platform admins have every app).
    App(Role, Scope),
}

/// How the server should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Unauthorized,
    /// The same answer as for an app that does not exist.
    NotFound,
    Forbidden,
}

/// The policy's expectations for every route. A route the router has and
/// this table lacks fails the test, as does an entry for a route that went.
fn matrix() -> BTreeMap<(&'static str, &'static str), Need> {
    use Need::*;
    use Role::*;
    use Scope::{Deploy, Full, Read};
    BTreeMap::from([
        (("GET", "/api/v1/openapi.json"), Nothing),
        (("POST", "/api/v1/login"), Nothing),
        (("POST", "/api/v1/logout"), User(Read)),
        (("GET", "/api/v1/account"), User(Read)),
        (("GET", "/api/v1/tokens"), User(Full)),
        (("POST", "/api/v1/tokens"), User(Full)),
        (("DELETE", "/api/v1/tokens/{id}"), User(Full)),
        (("GET", "/api/v1/apps"), User(Read)),
        (("POST", "/api/v1/apps"), User(Full)),
        (("GET", "/api/v1/apps/{name}"), App(Viewer, Read)),
        (("DELETE", "/api/v1/apps/{name}"), App(Owner, Full)),
        (("GET", "/api/v1/apps/{name}/releases"), App(Viewer, Read)),
        (
            ("GET", "/api/v1/apps/{name}/releases/{version}"),
            App(Viewer, Read),
        ),
        (("GET", "/api/v1/apps/{name}/dynos"), App(Viewer, Read)),
        (
            ("POST", "/api/v1/apps/{name}/dynos/restart"),
            App(Deployer, Deploy),
        ),
        (
            ("POST", "/api/v1/apps/{name}/dynos/stop"),
            App(Deployer, Deploy),
        ),
        (("POST", "/api/v1/apps/{name}/dynos/run"), App(Admin, Full)),
        (
            ("POST", "/api/v1/apps/{name}/dynos/run/tty"),
            App(Admin, Full),
        ),
        (
            ("POST", "/api/v1/apps/{name}/dynos/run/detached"),
            App(Admin, Full),
        ),
        (("PUT", "/api/v1/apps/{name}/maintenance"), App(Admin, Full)),
        (("GET", "/api/v1/apps/{name}/config"), App(Deployer, Deploy)),
        (("PATCH", "/api/v1/apps/{name}/config"), App(Admin, Full)),
        (
            ("GET", "/api/v1/apps/{name}/config/names"),
            App(Viewer, Read),
        ),
        (("POST", "/api/v1/apps/{name}/rollback"), App(Admin, Full)),
        (("GET", "/api/v1/apps/{name}/formation"), App(Viewer, Read)),
        (
            ("PATCH", "/api/v1/apps/{name}/formation"),
            App(Deployer, Deploy),
        ),
        (("GET", "/api/v1/apps/{name}/limits"), App(Viewer, Read)),
        (("GET", "/api/v1/apps/{name}/metrics"), App(Viewer, Read)),
        (
            ("PATCH", "/api/v1/apps/{name}/limits/{process_type}"),
            App(Deployer, Deploy),
        ),
        (("GET", "/api/v1/apps/{name}/access"), App(Viewer, Read)),
        (("POST", "/api/v1/apps/{name}/access"), App(Owner, Full)),
        (
            ("PATCH", "/api/v1/apps/{name}/access/{email}"),
            App(Owner, Full),
        ),
        (
            ("DELETE", "/api/v1/apps/{name}/access/{email}"),
            App(Owner, Full),
        ),
        (("GET", "/api/v1/apps/{name}/audit"), App(Viewer, Read)),
        (("GET", "/api/v1/apps/{name}/logs"), App(Viewer, Read)),
        (("GET", "/api/v1/apps/{name}/drains"), App(Admin, Full)),
        (("POST", "/api/v1/apps/{name}/drains"), App(Admin, Full)),
        (("DELETE", "/api/v1/apps/{name}/drains"), App(Admin, Full)),
        (("GET", "/api/v1/apps/{name}/domains"), App(Viewer, Read)),
        (("POST", "/api/v1/apps/{name}/domains"), App(Admin, Full)),
        (
            ("GET", "/api/v1/apps/{name}/domains/{hostname}"),
            App(Viewer, Read),
        ),
        (
            ("DELETE", "/api/v1/apps/{name}/domains/{hostname}"),
            App(Admin, Full),
        ),
        (("GET", "/api/v1/apps/{name}/volumes"), App(Viewer, Read)),
        (("POST", "/api/v1/apps/{name}/volumes"), App(Admin, Full)),
        (
            ("DELETE", "/api/v1/apps/{name}/volumes/{volume}"),
            App(Admin, Full),
        ),
        (("GET", "/api/v1/apps/{name}/certs"), App(Viewer, Read)),
        (("POST", "/api/v1/apps/{name}/certs"), App(Admin, Full)),
        (("GET", "/api/v1/apps/{name}/certs/auto"), App(Viewer, Read)),
        (
            ("POST", "/api/v1/apps/{name}/certs/auto/refresh"),
            App(Admin, Full),
        ),
        (
            ("GET", "/api/v1/apps/{name}/certs/settings"),
            App(Viewer, Read),
        ),
        (
            ("PATCH", "/api/v1/apps/{name}/certs/settings"),
            App(Admin, Full),
        ),
        (
            ("DELETE", "/api/v1/apps/{name}/certs/{hostname}"),
            App(Admin, Full),
        ),
        (("GET", "/api/v1/addons"), User(Read)),
        (("GET", "/api/v1/apps/{name}/addons"), App(Viewer, Read)),
        (("POST", "/api/v1/apps/{name}/addons"), App(Admin, Full)),
        (
            ("GET", "/api/v1/apps/{name}/addons/{addon}"),
            App(Viewer, Read),
        ),
        (
            ("DELETE", "/api/v1/apps/{name}/addons/{addon}"),
            App(Admin, Full),
        ),
        (
            ("POST", "/api/v1/apps/{name}/addons/{addon}/attachments"),
            App(Admin, Full),
        ),
        (
            ("DELETE", "/api/v1/apps/{name}/addons/{addon}/attachments"),
            App(Admin, Full),
        ),
        (
            ("POST", "/api/v1/apps/{name}/addons/{addon}/rotate"),
            App(Admin, Full),
        ),
        (
            ("GET", "/api/v1/apps/{name}/addons/{addon}/backups"),
            App(Viewer, Read),
        ),
        (
            ("POST", "/api/v1/apps/{name}/addons/{addon}/backups"),
            App(Admin, Full),
        ),
        (
            (
                "POST",
                "/api/v1/apps/{name}/addons/{addon}/backups/{backup}/restore",
            ),
            App(Admin, Full),
        ),
        (("GET", "/api/v1/audit"), PlatformAdmin(Read)),
        (("GET", "/api/v1/hosts"), PlatformAdmin(Read)),
        (("POST", "/api/v1/hosts"), PlatformAdmin(Full)),
        (("DELETE", "/api/v1/hosts/{host}"), PlatformAdmin(Full)),
        (("POST", "/api/v1/hosts/{host}/drain"), PlatformAdmin(Full)),
        (("GET", "/api/v1/users"), PlatformAdmin(Read)),
        (("POST", "/api/v1/users"), PlatformAdmin(Full)),
        (("DELETE", "/api/v1/users/{email}"), PlatformAdmin(Full)),
    ])
}

fn expected(need: Need, who: Who) -> Expect {
    let (role, scope, platform_admin) = match who {
        Who::Anonymous | Who::ExpiredToken | Who::RevokedToken => {
            return match need {
                Need::Nothing => Expect::Allowed,
                _ => Expect::Unauthorized,
            }
        }
        Who::NoAccess | Who::OtherAppOwner => (None, Scope::Full, false),
        Who::Viewer => (Some(Role::Viewer), Scope::Full, false),
        Who::Deployer => (Some(Role::Deployer), Scope::Full, false),
        Who::Admin => (Some(Role::Admin), Scope::Full, false),
        Who::Owner => (Some(Role::Owner), Scope::Full, false),
        Who::OwnerReadToken => (Some(Role::Owner), Scope::Read, false),
        Who::PlatformAdmin => (None, Scope::Full, true),
    };
    let verdict = |allowed: bool| {
        if allowed {
            Expect::Allowed
        } else {
            Expect::Forbidden
        }
    };
    match need {
        Need::Nothing => Expect::Allowed,
        Need::User(least) => verdict(scope >= least),
        Need::PlatformAdmin(least) => verdict(platform_admin && scope >= least),
        Need::App(_, _) if role.is_none() && !platform_admin => Expect::NotFound,
        Need::App(least_role, least_scope) => {
            verdict((platform_admin || role >= Some(least_role)) && scope >= least_scope)
        }
    }
}

struct Api {
    server: TestServer,
    client: reqwest::Client,
    /// Each user's first token, for setting up (never the token under test).
    tokens: BTreeMap<&'static str, String>,
    expired: String,
    revoked: String,
}

const USERS: [(&str, bool); 7] = [
    ("owner@example.com", false),
    ("admin@example.com", false),
    ("deployer@example.com", false),
    ("viewer@example.com", false),
    ("stranger@example.com", false),
    ("elsewhere@example.com", false),
    ("root@example.com", true),
];

impl Api {
    async fn start() -> Self {
        // owner@ creates an app per route and caller: more than a member's quota.
        let server = TestServer::start_with(|settings| settings.max_apps_per_user = 0);
        let mut tokens = BTreeMap::new();
        for (email, admin) in USERS {
            let password = (email == "owner@example.com").then_some(PASSWORD);
            tokens.insert(email, server.create_user(email, admin, password));
        }
        let mut api = Self {
            server,
            client: reqwest::Client::new(),
            tokens,
            expired: String::new(),
            revoked: String::new(),
        };
        api.expired = api
            .mint("owner@example.com", json!({"expires_in_secs": 1}))
            .await
            .token;
        let revoked = api.mint("owner@example.com", json!({})).await;
        let response = api
            .request(
                Method::DELETE,
                &format!("/api/v1/tokens/{}", revoked.id),
                Some(&api.tokens["owner@example.com"]),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        api.revoked = revoked.token;
        let elsewhere = api
            .request(
                Method::POST,
                "/api/v1/apps",
                Some(&api.tokens["elsewhere@example.com"]),
                Some(&json!({"name": unique_app_name("other")})),
            )
            .await;
        assert_eq!(elsewhere.status(), StatusCode::CREATED);
        // Let the expired token expire.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        api
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.server.api_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        let body = json!({"email": email, "password": password});
        self.request(Method::POST, "/api/v1/login", None, Some(&body))
            .await
    }

    /// A new token of `email`'s, made with their first one.
    async fn mint(&self, email: &str, body: Value) -> CreatedToken {
        let response = self
            .request(
                Method::POST,
                "/api/v1/tokens",
                Some(&self.tokens[email]),
                Some(&body),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// A new app owned by owner@, with admin@, deployer@ and viewer@ in
    /// their roles.
    async fn fresh_app(&self) -> String {
        let name = unique_app_name("matrix");
        let owner = &self.tokens["owner@example.com"];
        let created = self
            .request(
                Method::POST,
                "/api/v1/apps",
                Some(owner),
                Some(&json!({"name": name})),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        for role in ["admin", "deployer", "viewer"] {
            let added = self
                .request(
                    Method::POST,
                    &format!("/api/v1/apps/{name}/access"),
                    Some(owner),
                    Some(&json!({"email": format!("{role}@example.com"), "role": role})),
                )
                .await;
            assert_eq!(added.status(), StatusCode::CREATED);
        }
        name
    }

    /// The token `who` calls with: a fresh one where there is a user, as
    /// some routes (logout) revoke the token they are called with.
    async fn token_of(&self, who: Who) -> Option<String> {
        let email = match who {
            Who::Anonymous => return None,
            Who::ExpiredToken => return Some(self.expired.clone()),
            Who::RevokedToken => return Some(self.revoked.clone()),
            Who::OwnerReadToken => {
                let token = self
                    .mint("owner@example.com", json!({"scope": "read"}))
                    .await;
                return Some(token.token);
            }
            Who::NoAccess => "stranger@example.com",
            Who::OtherAppOwner => "elsewhere@example.com",
            Who::Viewer => "viewer@example.com",
            Who::Deployer => "deployer@example.com",
            Who::Admin => "admin@example.com",
            Who::Owner => "owner@example.com",
            Who::PlatformAdmin => "root@example.com",
        };
        Some(self.mint(email, json!({})).await.token)
    }

    /// The user a token of `who` belongs to, for routes about one's own tokens.
    fn email_of(who: Who) -> &'static str {
        match who {
            Who::NoAccess => "stranger@example.com",
            Who::OtherAppOwner => "elsewhere@example.com",
            Who::Viewer => "viewer@example.com",
            Who::Deployer => "deployer@example.com",
            Who::Admin => "admin@example.com",
            Who::PlatformAdmin => "root@example.com",
            _ => "owner@example.com",
        }
    }
}

/// A request body that is valid for the route, so that an allowed caller
/// gets past input checks to the use case.
fn body_for(method: &str, template: &str) -> Option<Value> {
    let body = match (method, template) {
        ("POST", "/api/v1/login") => json!({"email": "owner@example.com", "password": PASSWORD}),
        ("POST", "/api/v1/tokens") => json!({"description": "matrix"}),
        ("POST", "/api/v1/hosts") => {
            json!({"name": "matrix", "docker_host": "tcp://127.0.0.1:9"})
        }
        ("POST", "/api/v1/apps") => json!({"name": unique_app_name("made")}),
        ("POST", "/api/v1/users") => {
            json!({"email": format!("{}@example.com", unique_app_name("new"))})
        }
        ("POST", "/api/v1/apps/{name}/access") => {
            json!({"email": "stranger@example.com", "role": "viewer"})
        }
        ("PATCH", "/api/v1/apps/{name}/access/{email}") => json!({"role": "deployer"}),
        ("POST", "/api/v1/apps/{name}/dynos/stop") => json!({"dyno": "web.1"}),
        ("POST", "/api/v1/apps/{name}/dynos/run" | "/api/v1/apps/{name}/dynos/run/detached") => {
            json!({"command": "true"})
        }
        ("POST", "/api/v1/apps/{name}/dynos/run/tty") => {
            json!({"command": "true", "size": {"rows": 24, "cols": 80}})
        }
        ("PUT", "/api/v1/apps/{name}/maintenance") => json!({"enabled": true}),
        ("POST" | "DELETE", "/api/v1/apps/{name}/drains") => json!({"url": "syslog://127.0.0.1:9"}),
        ("POST", "/api/v1/apps/{name}/domains") => {
            json!({"hostname": format!("{}.example.test", unique_app_name("matrix"))})
        }
        ("POST", "/api/v1/apps/{name}/certs") => {
            json!({"certificate_pem": "not a certificate", "private_key_pem": "not a key"})
        }
        ("PATCH", "/api/v1/apps/{name}/certs/settings") => json!({"hsts": true}),
        ("PATCH", "/api/v1/apps/{name}/config") => json!({"GREETING": "hello"}),
        ("POST", "/api/v1/apps/{name}/addons") => json!({"service": "heroku-postgresql"}),
        ("POST", "/api/v1/apps/{name}/volumes") => {
            json!({"name": "matrix", "path": "/data", "process_type": "web"})
        }
        ("POST", "/api/v1/apps/{name}/addons/{addon}/attachments") => json!({"as": "MATRIX"}),
        ("PATCH", "/api/v1/apps/{name}/formation") => json!({"changes": ["web=1"]}),
        ("PATCH", "/api/v1/apps/{name}/limits/{process_type}") => json!({"memory": "64m"}),
        (_, _) if method == "GET" || method == "DELETE" => return None,
        _ => json!({}),
    };
    Some(body)
}

async fn error_of(response: reqwest::Response) -> (StatusCode, Option<ErrorBody>) {
    let status = response.status();
    (status, response.json::<ErrorBody>().await.ok())
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_policy_says() {
    let api = Api::start().await;
    let matrix = matrix();

    let routes = routes_of_the_router(&api.server).await;
    let listed: BTreeSet<(String, String)> = matrix
        .keys()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    let unlisted: Vec<_> = routes.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "routes without a matrix entry: {unlisted:?}"
    );
    let gone: Vec<_> = listed.difference(&routes).collect();
    assert!(gone.is_empty(), "matrix entries for no route: {gone:?}");

    let mut checked = 0;
    let mut failures = Vec::new();
    for (&(method, template), &need) in &matrix {
        for who in EVERYONE {
            let app = api.fresh_app().await;
            let spare = api.mint(Api::email_of(who), json!({})).await;
            let victim = format!("{}@example.com", unique_app_name("victim"));
            if template == "/api/v1/users/{email}" {
                let made = api
                    .request(
                        Method::POST,
                        "/api/v1/users",
                        Some(&api.tokens["root@example.com"]),
                        Some(&json!({"email": victim})),
                    )
                    .await;
                assert_eq!(made.status(), StatusCode::CREATED);
            }
            let concrete = |app: &str| {
                let member = if template.starts_with("/api/v1/users/") {
                    victim.as_str()
                } else {
                    "viewer@example.com"
                };
                template
                    .replace("{name}", app)
                    .replace("{id}", &spare.id)
                    .replace("{version}", "current")
                    .replace("{email}", member)
                    .replace("{hostname}", "shop.example.test")
                    .replace("{addon}", "postgres-matrix-probe")
                    .replace("{backup}", "b001")
                    .replace("{host}", "probe-host")
                    .replace("{volume}", "probe")
                    .replace("{process_type}", "web")
            };
            let path = concrete(&app);
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let body = body_for(method.as_str(), template);
            let token = api.token_of(who).await;
            let response = api
                .request(method.clone(), &path, token.as_deref(), body.as_ref())
                .await;
            let (status, error) = error_of(response).await;
            let app_not_found = error.as_ref().is_some_and(|e| {
                e.id == "not_found" && e.message == format!("app {app} not found")
            });
            let want = expected(need, who);
            let ok = match want {
                Expect::Allowed => {
                    !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                        && !app_not_found
                        && !status.is_server_error()
                }
                Expect::Unauthorized => status == StatusCode::UNAUTHORIZED,
                Expect::Forbidden => status == StatusCode::FORBIDDEN,
                Expect::NotFound => {
                    // Exactly what a caller gets for an app that does not exist.
                    let unknown = unique_app_name("nowhere");
                    let (unknown_status, unknown_error) = error_of(
                        api.request(
                            method.clone(),
                            &concrete(&unknown),
                            token.as_deref(),
                            body.as_ref(),
                        )
                        .await,
                    )
                    .await;
                    let same_words = unknown_error.map(|e| (e.id, e.message))
                        == error
                            .as_ref()
                            .map(|e| (e.id.clone(), e.message.replace(&app, &unknown)));
                    status == StatusCode::NOT_FOUND
                        && app_not_found
                        && unknown_status == status
                        && same_words
                }
            };
            if !ok {
                failures.push(format!(
                    "{method} {template} as {who:?}: expected {want:?}, got {status} {error:?}"
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} (route, caller) pairs disagree with the policy:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "checked {checked} (route, caller) pairs: {} routes x {} callers",
        matrix.len(),
        EVERYONE.len()
    );
}

#[tokio::test]
async fn git_fetch_and_push_answer_every_caller_as_the_policy_says() {
    let api = Api::start().await;
    let app = api.fresh_app().await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for (service, need) in [
        ("git-upload-pack", Need::App(Role::Viewer, Scope::Read)),
        ("git-receive-pack", Need::App(Role::Deployer, Scope::Deploy)),
    ] {
        for who in EVERYONE {
            let token = api.token_of(who).await;
            let refs = |app: &str| {
                let mut request = api.client.get(format!(
                    "{}/{app}.git/info/refs?service={service}",
                    api.server.api_url
                ));
                if let Some(token) = &token {
                    request = request.basic_auth("git", Some(token));
                }
                request.send()
            };
            let response = refs(&app).await.unwrap();
            let status = response.status();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = response.text().await.unwrap();
            let want = expected(need, who);
            let ok = match want {
                Expect::Allowed => status == StatusCode::OK,
                Expect::Unauthorized => {
                    status == StatusCode::UNAUTHORIZED
                        && challenge.is_some_and(|c| c.starts_with("Basic "))
                }
                Expect::Forbidden => status == StatusCode::FORBIDDEN,
                Expect::NotFound => {
                    let unknown = refs(&unique_app_name("nowhere")).await.unwrap();
                    status == StatusCode::NOT_FOUND
                        && unknown.status() == status
                        && unknown.text().await.unwrap() == body
                }
            };
            if !ok {
                failures.push(format!(
                    "{service} as {who:?}: expected {want:?}, got {status}"
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} git pairs disagree with the policy:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("checked {checked} (git service, caller) pairs");
}

#[tokio::test]
async fn viewers_see_config_names_and_never_values() {
    let api = Api::start().await;
    let app = api.fresh_app().await;
    let set = api
        .request(
            Method::PATCH,
            &format!("/api/v1/apps/{app}/config"),
            Some(&api.tokens["owner@example.com"]),
            Some(&json!({"DATABASE_PASSWORD": "hunter2"})),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let viewer = Some(api.tokens["viewer@example.com"].as_str());
    let names: Vec<String> = api
        .request(
            Method::GET,
            &format!("/api/v1/apps/{app}/config/names"),
            viewer,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names, ["DATABASE_PASSWORD"]);
    let values = api
        .request(
            Method::GET,
            &format!("/api/v1/apps/{app}/config"),
            viewer,
            None,
        )
        .await;
    assert_eq!(values.status(), StatusCode::FORBIDDEN);
    assert!(!values.text().await.unwrap().contains("hunter2"));

    let trail = api
        .request(
            Method::GET,
            &format!("/api/v1/apps/{app}/audit"),
            viewer,
            None,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(trail.contains("DATABASE_PASSWORD"), "{trail}");
    assert!(!trail.contains("hunter2"), "{trail}");
}

#[tokio::test]
async fn repeated_sign_in_failures_get_429_with_retry_after_and_one_message() {
    let api = Api::start().await;
    for _ in 0..5 {
        let (status, error) = error_of(api.login("owner@example.com", "guess").await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error.unwrap().message, "invalid email or password");
    }
    let throttled = api.login("owner@example.com", PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let message = throttled.json::<ErrorBody>().await.unwrap().message;
    // The address is held back as well, for accounts that do not exist.
    let (status, unknown) = error_of(api.login("nobody@example.com", "guess").await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(unknown.unwrap().message, message);

    let trail: Vec<Value> = api
        .request(
            Method::GET,
            "/api/v1/audit",
            Some(&api.tokens["root@example.com"]),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = trail
        .iter()
        .filter_map(|event| event["action"].as_str())
        .filter(|action| action.starts_with("session."))
        .collect();
    assert_eq!(
        actions,
        [
            "session.fail",
            "session.fail",
            "session.fail",
            "session.fail",
            "session.fail",
            "session.throttled",
            "session.throttled"
        ]
    );
    assert!(trail
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("session."))
        .all(|e| e["source"] == "127.0.0.1"));
}
