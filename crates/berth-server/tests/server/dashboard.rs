//! The dashboard over plain HTTP: its security headers, cookies, CSRF
//! checks, sign-in throttle, and that it hides apps exactly as the API does.

use berth_testkit::TestServer;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

/// A browser without a browser: keeps the dashboard's cookies by hand and
/// never follows redirects, so each answer can be looked at.
pub(crate) struct Visitor {
    client: reqwest::Client,
    base: String,
    cookies: std::collections::BTreeMap<String, String>,
}

impl Visitor {
    pub(crate) fn new(server: &TestServer) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.api_url.clone(),
            cookies: Default::default(),
        }
    }

    fn keep_cookies(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, HeaderMap, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(response.headers());
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.text().await.unwrap())
    }

    /// Opens a stream (server-sent events) at `path`, for its headers and chunks.
    pub(crate) async fn open_stream(&mut self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap()
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(response.headers());
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.text().await.unwrap())
    }

    /// The CSRF token this browser's forms carry now: the sign-in form's
    /// before signing in, the session's after.
    pub(crate) async fn csrf(&mut self) -> String {
        let page = if self.cookies.contains_key("berth_session") {
            "/account"
        } else {
            "/"
        };
        let (_, _, html) = self.get(page).await;
        let start = html
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("a form on {page}: {html}"))
            + "name=\"csrf\" value=\"".len();
        html[start..start + 64].to_string()
    }

    pub(crate) async fn sign_in(
        &mut self,
        email: &str,
        password: &str,
    ) -> (StatusCode, HeaderMap, String) {
        let csrf = self.csrf().await;
        self.post(
            "/sign-in",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }
}

pub(crate) fn location(headers: &HeaderMap) -> &str {
    headers[LOCATION].to_str().unwrap()
}

#[tokio::test]
async fn pages_forbid_inline_scripts_and_keep_cookies_from_scripts() {
    let server = TestServer::start();
    let mut visitor = Visitor::new(&server);
    let (status, headers, html) = visitor.get("/").await;
    assert_eq!(status, StatusCode::OK);
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("style-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        !html.contains("<script>") && !html.contains(" style="),
        "{html}"
    );
    let csrf_cookie = headers[SET_COOKIE].to_str().unwrap();
    assert!(
        csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Lax"),
        "{csrf_cookie}"
    );
    assert!(!csrf_cookie.contains("Secure"), "plain HTTP: {csrf_cookie}");

    let over_tls = reqwest::Client::new()
        .get(format!("{}/", server.api_url))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = over_tls.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");

    server.create_user("dev@example.com", false, Some("correct horse"));
    let (status, headers, _) = visitor.sign_in("dev@example.com", "correct horse").await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/apps")
    );
    let session = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .find(|value| value.starts_with("berth_session="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    assert!(session.contains("Max-Age=1209600"), "two weeks: {session}");
    let (status, _, html) = visitor.get("/apps").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Signed in as dev@example.com."), "{html}");
    assert!(html.contains("No apps yet"), "{html}");
}

#[tokio::test]
async fn forms_without_this_browsers_csrf_token_are_refused() {
    let server = TestServer::start();
    server.create_user("dev@example.com", false, Some("correct horse"));
    let mut visitor = Visitor::new(&server);

    let (status, _, _) = visitor
        .post(
            "/sign-in",
            &[("email", "dev@example.com"), ("password", "correct horse")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a sign-in without a token");
    assert!(!visitor.cookies.contains_key("berth_session"));

    visitor.sign_in("dev@example.com", "correct horse").await;
    assert!(visitor.cookies.contains_key("berth_session"));
    let forged = "0".repeat(64);
    let (status, _, html) = visitor
        .post("/apps", &[("csrf", &forged), ("name", "forged")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("did not come from this site"), "{html}");
    let (status, _, _) = visitor.post("/apps", &[("name", "forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let csrf = visitor.csrf().await;
    let (status, headers, _) = visitor
        .post("/apps", &[("csrf", &csrf), ("name", "honest")])
        .await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/apps/honest")
    );
    let (_, _, html) = visitor.get("/apps").await;
    assert!(
        html.contains("/apps/honest") && !html.contains("forged"),
        "{html}"
    );

    // The session cookie opens API reads (the live log), never API changes:
    // those need the token in a header, which no other site can send.
    let session = format!("berth_session={}", visitor.cookies["berth_session"]);
    let client = reqwest::Client::new();
    let read = client
        .get(format!("{}/api/v1/apps", server.api_url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let tokens: Vec<berth_api_types::Token> = client
        .get(format!("{}/api/v1/tokens", server.api_url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let browser_token = tokens
        .iter()
        .find(|token| token.description == "dashboard session")
        .expect("the sign-in's token");
    assert!(browser_token.expires_at.is_some(), "a session expires");
    let change = client
        .post(format!("{}/api/v1/apps", server.api_url))
        .header("cookie", &session)
        .json(&serde_json::json!({"name": "sneaky"}))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), StatusCode::UNAUTHORIZED);

    let csrf = visitor.csrf().await;
    let (status, headers, _) = visitor.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!((status, location(&headers)), (StatusCode::SEE_OTHER, "/"));
    let revoked = client
        .get(format!("{}/api/v1/apps", server.api_url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        revoked.status(),
        StatusCode::UNAUTHORIZED,
        "signing out revokes the token"
    );
}

#[tokio::test]
async fn an_app_someone_cannot_see_is_the_same_404_page_as_one_that_does_not_exist() {
    let server = TestServer::start();
    let alice = server.create_user("alice@example.com", false, None);
    server.create_user("bob@example.com", false, Some("bob's password"));
    let created = reqwest::Client::new()
        .post(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(&alice)
        .json(&serde_json::json!({"name": "secret-shop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    let mut bob = Visitor::new(&server);
    bob.sign_in("bob@example.com", "bob's password").await;
    for tab in ["", "/releases", "/config", "/logs", "/domains", "/access"] {
        let (hidden_status, _, hidden) = bob.get(&format!("/apps/secret-shop{tab}")).await;
        let (missing_status, _, missing) = bob.get(&format!("/apps/no-such-app{tab}")).await;
        assert_eq!(hidden_status, StatusCode::NOT_FOUND);
        assert_eq!(missing_status, StatusCode::NOT_FOUND);
        assert_eq!(
            hidden.replace("secret-shop", "no-such-app"),
            missing,
            "tab {tab:?}"
        );
    }
    let csrf = bob.csrf().await;
    let (status, _, _) = bob
        .post(
            "/apps/secret-shop/destroy",
            &[("csrf", &csrf), ("confirm", "secret-shop")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = bob
        .post(
            "/apps/secret-shop/config",
            &[("csrf", &csrf), ("vars", "A=1")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, list) = bob.get("/apps").await;
    assert!(!list.contains("secret-shop"), "{list}");
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_throttled() {
    let server = TestServer::start();
    server.create_user("dev@example.com", false, Some("correct horse"));
    let mut visitor = Visitor::new(&server);
    for _ in 0..5 {
        let (status, headers, _) = visitor.sign_in("dev@example.com", "guess").await;
        assert_eq!((status, location(&headers)), (StatusCode::SEE_OTHER, "/"));
        let (_, _, html) = visitor.get("/").await;
        assert!(html.contains("Invalid email or password."), "{html}");
    }
    visitor.sign_in("dev@example.com", "correct horse").await;
    assert!(!visitor.cookies.contains_key("berth_session"));
    let (_, _, html) = visitor.get("/").await;
    assert!(html.contains("Too many failed sign-ins"), "{html}");
}

#[tokio::test]
async fn config_mistakes_are_shown_beside_the_form_and_the_account_manages_its_secrets() {
    let server = TestServer::start();
    server.create_user("dev@example.com", false, Some("correct horse"));
    let mut visitor = Visitor::new(&server);
    visitor.sign_in("dev@example.com", "correct horse").await;
    let csrf = visitor.csrf().await;
    visitor
        .post("/apps", &[("csrf", &csrf), ("name", "shop")])
        .await;

    let (status, _, html) = visitor
        .post(
            "/apps/shop/config",
            &[("csrf", &csrf), ("vars", "GOOD=1\nno equals sign")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"config-error\""), "{html}");
    assert!(
        html.contains("&#34;no equals sign&#34; has no &#39;=&#39;"),
        "{html}"
    );
    assert!(
        html.contains("GOOD=1\nno equals sign</textarea>"),
        "the draft is kept: {html}"
    );
    let (status, headers, _) = visitor
        .post(
            "/apps/shop/config",
            &[("csrf", &csrf), ("vars", "GOOD=1\nALSO=2")],
        )
        .await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/apps/shop/config")
    );
    let (_, _, html) = visitor.get("/apps/shop/config").await;
    assert!(
        html.contains("Config saved: the first deploy will use it."),
        "{html}"
    );
    assert!(
        html.contains("<code>GOOD</code>") && html.contains("<code>ALSO</code>"),
        "{html}"
    );

    visitor
        .post("/apps/shop/config", &[("csrf", &csrf), ("set.GOOD", "3")])
        .await;
    visitor
        .post("/apps/shop/config", &[("csrf", &csrf), ("unset", "ALSO")])
        .await;
    let config: std::collections::BTreeMap<String, String> = reqwest::Client::new()
        .get(format!("{}/api/v1/apps/shop/config", server.api_url))
        .header(
            "cookie",
            format!("berth_session={}", visitor.cookies["berth_session"]),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config, [("GOOD".to_string(), "3".to_string())].into());

    let (_, _, html) = visitor
        .post(
            "/account/tokens",
            &[("csrf", &csrf), ("description", "CI"), ("scope", "read")],
        )
        .await;
    let start = html.find("berth_").expect("the new token, shown once");
    let token: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let (_, _, again) = visitor.get("/account").await;
    assert!(!again.contains(&token), "shown only once");
    let id = token
        .trim_start_matches("berth_")
        .split('_')
        .next()
        .unwrap()
        .to_string();
    let (status, _, _) = visitor
        .post(&format!("/account/tokens/{id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let refused = reqwest::Client::new()
        .get(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    visitor
        .post(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", "wrong"),
                ("new", "new horse"),
                ("confirm", "new horse"),
            ],
        )
        .await;
    let (_, _, html) = visitor.get("/account").await;
    assert!(
        html.contains("The current password is not right."),
        "{html}"
    );
    visitor
        .post(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", "correct horse"),
                ("new", "new horse"),
                ("confirm", "new horse"),
            ],
        )
        .await;
    let mut fresh = Visitor::new(&server);
    fresh.sign_in("dev@example.com", "new horse").await;
    assert!(fresh.cookies.contains_key("berth_session"));
}

/// An app action: its path under the app, its form fields (`APP` stands
/// for the app's name, `matrix-ROLE.example.test` for a hostname of the
/// caller's own, `CERT` and `KEY` for a certificate of cert.example.test)
/// and the least role that may take it.
type DashboardAction = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// The dashboard's part of the route × role matrix: every app page and
/// every app action, for each role and for someone without access. Pages
/// need viewer; actions need what the API's routes for them need; someone
/// without access gets the 404 page; a role below the need gets the
/// policy's refusal as the flash message, and the change is not made.
#[tokio::test]
async fn every_app_page_and_action_answers_each_role_as_the_policy_says() {
    let server = TestServer::start();
    let owner_token = server.create_user("owner@example.com", false, Some("pw-owner"));
    let app = berth_testkit::unique_app_name("dash-matrix");
    let api = reqwest::Client::new();
    let created = api
        .post(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({"name": app}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    for role in ["admin", "deployer", "viewer"] {
        let email = format!("{role}@example.com");
        server.create_user(&email, false, Some(&format!("pw-{role}")));
        let added = api
            .post(format!("{}/api/v1/apps/{app}/access", server.api_url))
            .bearer_auth(&owner_token)
            .json(&serde_json::json!({"email": email, "role": role}))
            .send()
            .await
            .unwrap();
        assert!(added.status().is_success(), "{}", added.status());
    }
    server.create_user("stranger@example.com", false, Some("pw-stranger"));
    // Given, changed and taken a role by the owner's access actions.
    server.create_user("matrix-granted@example.com", false, None);
    let domain = api
        .post(format!("{}/api/v1/apps/{app}/domains", server.api_url))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({"hostname": "shop.example.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(domain.status(), StatusCode::CREATED);
    // A domain for the certificate the matrix uploads; shop.example.test keeps none.
    let covered = api
        .post(format!("{}/api/v1/apps/{app}/domains", server.api_url))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({"hostname": "cert.example.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(covered.status(), StatusCode::CREATED);
    let (chain_pem, key_pem, _) = berth_testkit::signed_certificate(&["cert.example.test"], 20);
    // In no pipeline, the Pipeline tab says how to make one.
    let mut owner = Visitor::new(&server);
    owner.sign_in("owner@example.com", "pw-owner").await;
    let (status, _, html) = owner.get(&format!("/apps/{app}/pipeline")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Not in a pipeline")
            && html.contains(&format!(
                "berth pipelines:create NAME -a {app} --stage staging"
            )),
        "{html}"
    );
    // Alone in its pipeline: the Pipeline tab has stages but nowhere to promote to.
    let pipeline = berth_testkit::unique_app_name("dash-matrix-pl");
    let made = api
        .post(format!("{}/api/v1/pipelines", server.api_url))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({"name": pipeline, "app": app, "stage": "staging"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);

    let ranks = ["owner", "admin", "deployer", "viewer"];
    let rank = |role: &str| ranks.iter().position(|r| *r == role).unwrap();
    let pages = [
        "",
        "/releases",
        "/pipeline",
        "/config",
        "/logs",
        "/metrics",
        "/metrics?since=7d",
        "/metrics?since=1h&fragment=charts",
        "/domains",
        "/domains?check=shop.example.test",
        "/addons",
        "/access",
    ];
    // The owner comes last of all callers, and destroy last of its actions.
    // This server has no add-on servers and the app no add-ons: whoever
    // may change add-ons hears that (not set up, no such add-on), the
    // others the policy's refusal.
    let actions: &[DashboardAction] = &[
        ("/scale", &[("quantity.web", "1")], "deployer"),
        ("/restart", &[], "deployer"),
        ("/redeploy", &[], "deployer"),
        ("/pipeline/promote", &[], "deployer"),
        ("/maintenance", &[("enabled", "false")], "admin"),
        ("/rollback", &[("version", "v1")], "admin"),
        ("/config", &[("vars", "MATRIX=1")], "admin"),
        (
            "/addons",
            &[("service", "postgres"), ("plan", "standard")],
            "admin",
        ),
        (
            "/addons/attach",
            &[("addon", "pg-matrix"), ("app", "APP"), ("as", "MATRIX")],
            "admin",
        ),
        (
            "/addons/detach",
            &[("addon", "pg-matrix"), ("app", "APP")],
            "admin",
        ),
        ("/addons/rotate", &[("addon", "pg-matrix")], "admin"),
        (
            "/addons/backups/capture",
            &[("addon", "pg-matrix")],
            "admin",
        ),
        (
            "/addons/backups/restore",
            &[
                ("addon", "pg-matrix"),
                ("backup", "b001"),
                ("confirm", "pg-matrix"),
            ],
            "admin",
        ),
        (
            "/addons/destroy",
            &[("addon", "pg-matrix"), ("confirm", "pg-matrix")],
            "admin",
        ),
        (
            "/domains",
            &[("hostname", "matrix-ROLE.example.test")],
            "admin",
        ),
        (
            "/domains/certificate",
            &[("certificate", "CERT"), ("private_key", "KEY")],
            "admin",
        ),
        (
            "/domains/tls-settings",
            &[("redirect_http", "on"), ("hsts", "on")],
            "admin",
        ),
        (
            "/domains/retry",
            &[("hostname", "shop.example.test")],
            "admin",
        ),
        (
            "/domains/remove",
            &[
                ("hostname", "matrix-ROLE.example.test"),
                ("confirm", "matrix-ROLE.example.test"),
            ],
            "admin",
        ),
        (
            "/access",
            &[("email", "matrix-granted@example.com"), ("role", "viewer")],
            "owner",
        ),
        (
            "/access/update",
            &[
                ("email", "matrix-granted@example.com"),
                ("role", "deployer"),
            ],
            "owner",
        ),
        (
            "/access/remove",
            &[("email", "matrix-granted@example.com")],
            "owner",
        ),
        ("/destroy", &[("confirm", "APP")], "owner"),
    ];
    let mut failures = Vec::new();
    for who in ["stranger", "viewer", "deployer", "admin", "owner"] {
        let mut visitor = Visitor::new(&server);
        let (status, _, _) = visitor
            .sign_in(&format!("{who}@example.com"), &format!("pw-{who}"))
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{who} signs in");
        for page in pages {
            let (status, _, html) = visitor.get(&format!("/apps/{app}{page}")).await;
            if page.is_empty() && status == StatusCode::OK {
                // Recent activity is the audit trail: who changed what (by
                // the owner's turn, the admin's domain changes are the latest).
                let entry = if who == "owner" {
                    "admin@example.com removed the domain matrix-admin.example.test"
                } else {
                    "owner@example.com added the domain shop.example.test"
                };
                assert!(html.contains(entry), "{html}");
                assert!(
                    html.contains(&format!("Pipeline {pipeline} · staging")),
                    "{html}"
                );
            }
            if page == "/domains" && status == StatusCode::OK {
                assert!(
                    html.contains("shop.example.test") && html.contains("CNAME "),
                    "{html}"
                );
                // This server has no ACME directory: the certificate column says so.
                assert!(html.contains("None (automatic TLS is off)"), "{html}");
                // The forms that change things are for those who may.
                let forms = html.contains(r#"id="add-domain""#)
                    && html.contains(r#"id="upload-certificate""#)
                    && html.contains(r#"id="tls-settings""#)
                    && html.contains("Remove shop.example.test");
                if forms != (rank(who) <= rank("admin")) {
                    failures.push(format!("{who} GET {page}: forms shown: {forms}"));
                }
                if who == "owner" {
                    // The admin before uploaded a certificate for it.
                    assert!(
                        html.contains("Manual from Berth test manual CA, expires ")
                            && html.contains(" UTC"),
                        "{html}"
                    );
                }
            }
            if page.starts_with("/domains?check=") && status == StatusCode::OK {
                // What `berth domains:info` says, whatever DNS answers here.
                assert!(
                    html.contains(r#"id="dns-check""#)
                        && html.contains("DNS of shop.example.test")
                        && html.contains("Points here")
                        && html.contains("None (automatic TLS is off)"),
                    "{html}"
                );
            }
            if page == "/pipeline" && status == StatusCode::OK {
                assert!(
                    html.contains(&format!("<dd>{pipeline}</dd>"))
                        && html.contains("id=\"stages\""),
                    "{html}"
                );
                // Promotion is for those who may deploy the app; here it says
                // there is no stage after this one's app to promote to.
                let promotion = html.contains("id=\"promotion\"");
                if promotion != (rank(who) <= rank("deployer")) {
                    failures.push(format!("{who} GET {page}: promotion shown: {promotion}"));
                }
                if promotion {
                    assert!(html.contains("has no app after stage staging"), "{html}");
                }
            }
            if page == "/access" && status == StatusCode::OK {
                // The forms that change access are for owners only.
                let forms = html.contains("id=\"grant-access\"") || html.contains("/access/remove");
                if forms != (who == "owner") {
                    failures.push(format!("{who} GET {page}: access forms shown: {forms}"));
                }
            }
            if page.starts_with("/metrics") {
                // Charts for members only; nobody else learns the app even exists.
                let charts = html.contains(r#"<div id="metrics-charts">"#);
                if charts == (who == "stranger") {
                    failures.push(format!("{who} GET {page}: charts shown: {charts}"));
                }
            }
            let want = if who == "stranger" {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            if status != want {
                failures.push(format!("{who} GET {page}: {status}, wanted {want}"));
            }
        }
        // A window that is not one is refused, after the app's own refusal.
        let (status, _, html) = visitor.get(&format!("/apps/{app}/metrics?since=2w")).await;
        let want = if who == "stranger" {
            StatusCode::NOT_FOUND
        } else {
            assert!(html.contains("such as 30m, 1h, 24h or 7d"), "{html}");
            StatusCode::UNPROCESSABLE_ENTITY
        };
        if status != want {
            failures.push(format!(
                "{who} GET /metrics?since=2w: {status}, wanted {want}"
            ));
        }
        let csrf = visitor.csrf().await;
        for &(action, fields, need) in actions {
            let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
            let matrix_host = format!("matrix-{who}.example.test");
            for &(field, value) in fields {
                form.push((
                    field,
                    match value {
                        "APP" => &app,
                        "matrix-ROLE.example.test" => &matrix_host,
                        "CERT" => &chain_pem,
                        "KEY" => &key_pem,
                        value => value,
                    },
                ));
            }
            let (status, headers, body) =
                visitor.post(&format!("/apps/{app}{action}"), &form).await;
            if who == "stranger" {
                if status != StatusCode::NOT_FOUND {
                    failures.push(format!("{who} POST {action}: {status}, wanted 404"));
                }
                continue;
            }
            // A mistake in a form of fields comes back beside the form;
            // everything else, refusals included, as the next page's flash.
            let next = if status == StatusCode::UNPROCESSABLE_ENTITY {
                body
            } else {
                assert_eq!(status, StatusCode::SEE_OTHER, "{who} POST {action}: {body}");
                visitor.get(location(&headers)).await.2
            };
            let refused = next.contains("flash-error") && next.contains(" you cannot ");
            let allowed = rank(who) <= rank(need);
            if action == "/domains/retry" && allowed {
                // Let through, to the platform's word that there is nothing to retry with.
                assert!(next.contains("Automatic TLS is off"), "{next}");
            }
            if refused == allowed {
                failures.push(format!(
                    "{who} POST {action}: {}, wanted {}",
                    if refused { "refused" } else { "let through" },
                    if allowed { "let through" } else { "refused" }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let gone = api
        .get(format!("{}/api/v1/apps/{app}", server.api_url))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        gone.status(),
        StatusCode::NOT_FOUND,
        "the owner destroyed it"
    );
}

/// The Access tab refuses what the API refuses, in the API's words, beside
/// the form: the last owner stays, an unknown email is said so with the
/// email kept, and nothing changes.
#[tokio::test]
async fn the_access_tab_keeps_the_last_owner_and_names_unknown_emails() {
    let server = TestServer::start();
    let owner_token = server.create_user("owner@example.com", false, Some("pw-owner"));
    let app = berth_testkit::unique_app_name("dash-access");
    let api = reqwest::Client::new();
    let created = api
        .post(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({"name": app}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let members = || async {
        let listed: Vec<berth_api_types::Member> = api
            .get(format!("{}/api/v1/apps/{app}/access", server.api_url))
            .bearer_auth(&owner_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        listed
            .into_iter()
            .map(|member| (member.email, member.role))
            .collect::<Vec<_>>()
    };
    let before = members().await;
    assert_eq!(
        before,
        [("owner@example.com".to_string(), "owner".to_string())]
    );

    let mut owner = Visitor::new(&server);
    owner.sign_in("owner@example.com", "pw-owner").await;
    let csrf = owner.csrf().await;
    let only_owner =
        format!("owner@example.com is the only owner of {app}: make someone else owner first.");
    for (action, role) in [("/access/remove", ""), ("/access/update", "viewer")] {
        let (status, _, html) = owner
            .post(
                &format!("/apps/{app}{action}"),
                &[
                    ("csrf", &csrf),
                    ("email", "owner@example.com"),
                    ("role", role),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{action}");
        assert!(
            html.contains(&format!(
                "<div class=\"field-error\" id=\"member-error\">{only_owner}</div>"
            )),
            "{action}: {html}"
        );
        assert_eq!(members().await, before, "{action} changed nothing");
    }

    let (status, _, html) = owner
        .post(
            &format!("/apps/{app}/access"),
            &[
                ("csrf", &csrf),
                ("email", "nobody@example.com"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("<p class=\"field-error\" id=\"grant-error\">No user with email nobody@example.com.</p>")
            && html.contains("value=\"nobody@example.com\"")
            && html.contains("<option value=\"admin\" selected>admin</option>"),
        "{html}"
    );
    assert_eq!(members().await, before);

    // Granted, then given twice: the API's conflict, in a sentence.
    server.create_user("ann@example.com", false, None);
    let grant = [
        ("csrf", csrf.as_str()),
        ("email", "ann@example.com"),
        ("role", "viewer"),
    ];
    let (status, headers, _) = owner.post(&format!("/apps/{app}/access"), &grant).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = owner.get(location(&headers)).await;
    assert!(
        html.contains(&format!("ann@example.com is now a viewer of {app}.")),
        "{html}"
    );
    let (status, _, html) = owner.post(&format!("/apps/{app}/access"), &grant).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains(&format!(
            "ann@example.com already has access to {app}: change the role with access:update."
        )),
        "{html}"
    );
    // Removed twice (as by two owners at once): the second finds no row to
    // speak beside, and says so at the top.
    let remove = [("csrf", csrf.as_str()), ("email", "ann@example.com")];
    for want in [
        "ann@example.com no longer has access to".to_string(),
        format!("ann@example.com has no access to {app}."),
    ] {
        let (status, headers, _) = owner
            .post(&format!("/apps/{app}/access/remove"), &remove)
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, _, html) = owner.get(location(&headers)).await;
        assert!(html.contains(&want), "{want}: {html}");
    }
    assert_eq!(members().await, before);
}

#[tokio::test]
async fn the_addons_tab_lists_addons_and_reveals_a_url_only_to_those_who_read_config() {
    let admin_url = std::env::var("BERTH_TEST_POSTGRES_ADMIN_URL").unwrap_or_else(|_| {
        "postgres://berth_test_admin:berth-test-admin@127.0.0.1:5432/postgres".into()
    });
    let server = TestServer::start_with(|settings| {
        settings.addon_postgres_admin_url = Some(admin_url);
    });
    let owner_token = server.create_user("owner@example.com", false, Some("pw-owner"));
    let app = berth_testkit::unique_app_name("dash-addons");
    let api = reqwest::Client::new();
    let created = api
        .post(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({"name": app}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    for role in ["viewer", "deployer"] {
        let email = format!("{role}@example.com");
        server.create_user(&email, false, Some(&format!("pw-{role}")));
        let added = api
            .post(format!("{}/api/v1/apps/{app}/access", server.api_url))
            .bearer_auth(&owner_token)
            .json(&serde_json::json!({"email": email, "role": role}))
            .send()
            .await
            .unwrap();
        assert!(added.status().is_success(), "{}", added.status());
    }
    server.create_user("stranger@example.com", false, Some("pw-stranger"));
    let addon = berth_testkit::unique_app_name("dash-pg");
    let provisioned = api
        .post(format!("{}/api/v1/apps/{app}/addons", server.api_url))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({"service": "postgres", "name": addon}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        provisioned.status(),
        StatusCode::CREATED,
        "the test needs Postgres on 127.0.0.1 (script/test starts it): {}",
        provisioned.text().await.unwrap()
    );
    let info: serde_json::Value = api
        .get(format!(
            "{}/api/v1/apps/{app}/addons/{addon}?reveal=true",
            server.api_url
        ))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = info["credentials"]["url"].as_str().unwrap().to_string();

    let mut viewer = Visitor::new(&server);
    viewer.sign_in("viewer@example.com", "pw-viewer").await;
    let (status, _, html) = viewer.get(&format!("/apps/{app}/addons")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&addon) && html.contains(&format!("{app}::DATABASE")),
        "{html}"
    );
    assert!(!html.contains(&url), "{html}");
    let reveal = format!("/apps/{app}/addons/reveal");
    let csrf = viewer.csrf().await;
    let (status, _, html) = viewer
        .post(&reveal, &[("csrf", &csrf), ("addon", &addon)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains(&url), "{html}");

    // Revealing is a form's POST: a link (a GET another site could make a
    // member's browser open) reveals nothing, and neither does a form
    // without the session's CSRF token.
    let mut owner = Visitor::new(&server);
    owner.sign_in("owner@example.com", "pw-owner").await;
    let (status, _, html) = owner
        .get(&format!("/apps/{app}/addons?reveal={addon}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains(&url), "{html}");
    let (status, _, html) = owner.post(&reveal, &[("addon", &addon)]).await;
    assert_ne!(status, StatusCode::OK);
    assert!(!html.contains(&url), "{html}");
    let csrf = owner.csrf().await;
    let (status, _, html) = owner
        .post(&reveal, &[("csrf", &csrf), ("addon", &addon)])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&url), "{html}");

    // Forms show only to the roles that may use them; a backup downloads
    // for those who may read credentials, as a pg_dump file.
    let captured = api
        .post(format!(
            "{}/api/v1/apps/{app}/addons/{addon}/backups",
            server.api_url
        ))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(captured.status(), StatusCode::CREATED);
    let backup: berth_api_types::Backup = captured.json().await.unwrap();
    let download = format!("/apps/{app}/addons/backups/download");
    let changes = [
        "id=\"create-addon\"",
        "/addons/rotate",
        "/addons/backups/capture",
        "/addons/backups/restore",
        "/addons/destroy",
    ];
    for (who, reads, changes_addons) in [
        ("viewer", false, false),
        ("deployer", true, false),
        ("owner", true, true),
    ] {
        let mut visitor = Visitor::new(&server);
        visitor
            .sign_in(&format!("{who}@example.com"), &format!("pw-{who}"))
            .await;
        let (_, _, html) = visitor.get(&format!("/apps/{app}/addons")).await;
        assert!(html.contains(&format!(">{}<", backup.id)), "{who}: {html}");
        assert_eq!(html.contains("Reveal URL"), reads, "{who}: {html}");
        assert_eq!(html.contains(&download), reads, "{who}: {html}");
        for form in changes {
            assert_eq!(html.contains(form), changes_addons, "{who} {form}: {html}");
        }
        let csrf = visitor.csrf().await;
        let (status, headers, body) = visitor
            .post(
                &download,
                &[("csrf", &csrf), ("addon", &addon), ("backup", &backup.id)],
            )
            .await;
        if reads {
            assert_eq!(status, StatusCode::OK, "{who}");
            assert_eq!(
                headers["content-disposition"],
                format!("attachment; filename=\"{addon}-{}.dump\"", backup.id).as_str()
            );
            assert!(body.starts_with("PGDMP"), "{who}: a pg_dump file");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
            assert!(!body.starts_with("PGDMP"));
        }
    }
    let mut stranger = Visitor::new(&server);
    stranger
        .sign_in("stranger@example.com", "pw-stranger")
        .await;
    let csrf = stranger.csrf().await;
    let (status, _, _) = stranger
        .post(
            &download,
            &[("csrf", &csrf), ("addon", &addon), ("backup", &backup.id)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A refused destroy (a deployer's, confirmed) leaves the add-on be.
    let mut deployer = Visitor::new(&server);
    deployer
        .sign_in("deployer@example.com", "pw-deployer")
        .await;
    let csrf = deployer.csrf().await;
    let (status, headers, _) = deployer
        .post(
            &format!("/apps/{app}/addons/destroy"),
            &[("csrf", &csrf), ("addon", &addon), ("confirm", &addon)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = deployer.get(location(&headers)).await;
    assert!(
        html.contains("flash-error") && html.contains("As deployer you cannot"),
        "{html}"
    );
    let still = api
        .get(format!(
            "{}/api/v1/apps/{app}/addons/{addon}",
            server.api_url
        ))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);

    let destroyed = api
        .delete(format!(
            "{}/api/v1/apps/{app}/addons/{addon}",
            server.api_url
        ))
        .bearer_auth(&owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(destroyed.status(), StatusCode::NO_CONTENT);
}
