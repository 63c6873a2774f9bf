//! Forged dashboard forms: a cookie planted by a same-site app, a token of
//! another session, a post from a foreign origin — each is refused, and
//! the dashboard's own forms still work.

use std::collections::BTreeMap;

use berth_testkit::TestServer;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

/// A browser without a browser: keeps the dashboard's cookies by hand,
/// never follows redirects, and sends `Origin` as a browser does (unless
/// told otherwise), so each answer can be looked at.
pub(crate) struct Browser {
    client: reqwest::Client,
    pub base: String,
    pub cookies: BTreeMap<String, String>,
    /// Extra headers sent with every request (e.g. `x-forwarded-proto`).
    pub headers: Vec<(&'static str, String)>,
    pub origin: Option<String>,
}

impl Browser {
    pub(crate) fn new(server: &TestServer) -> Self {
        Self::at(&server.api_url)
    }

    /// A browser on the dashboard at `base` (e.g. `http://127.0.0.1:7000`).
    pub(crate) fn at(base: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_string(),
            cookies: BTreeMap::new(),
            headers: Vec::new(),
            origin: Some(base.to_string()),
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

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let cookie = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("cookie", cookie);
        for (name, value) in &self.headers {
            request = request.header(*name, value);
        }
        request
    }

    pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, HeaderMap, String) {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        self.keep_cookies(response.headers());
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.text().await.unwrap())
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = self.request(reqwest::Method::POST, path).form(form);
        if let Some(origin) = &self.origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        self.keep_cookies(response.headers());
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.text().await.unwrap())
    }

    /// The token the forms of `page` carry.
    pub(crate) async fn form_token(&mut self, page: &str) -> String {
        let (_, _, html) = self.get(page).await;
        let marker = "name=\"csrf\" value=\"";
        let start = html
            .find(marker)
            .unwrap_or_else(|| panic!("a form on {page}: {html}"))
            + marker.len();
        html[start..start + 64].to_string()
    }

    pub(crate) async fn sign_in(&mut self, email: &str, password: &str) -> (StatusCode, String) {
        let token = self.form_token("/").await;
        let (status, headers, _) = self
            .post(
                "/sign-in",
                &[("csrf", &token), ("email", email), ("password", password)],
            )
            .await;
        (status, location(&headers))
    }
}

pub(crate) fn location(headers: &HeaderMap) -> String {
    headers
        .get(LOCATION)
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn app_names(server: &TestServer, token: &str) -> Vec<String> {
    let apps: Vec<serde_json::Value> = reqwest::Client::new()
        .get(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    apps.iter()
        .map(|app| app["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_planted_csrf_cookie_with_a_matching_form_field_is_refused() {
    let server = TestServer::start();
    let token = server.create_user("dev@example.com", false, Some("correct horse"));
    let mut browser = Browser::new(&server);
    assert_eq!(
        browser.sign_in("dev@example.com", "correct horse").await,
        (StatusCode::SEE_OTHER, "/apps".to_string())
    );
    // What a same-site app can do: set a cookie of its choosing and post a
    // form carrying the same value (the old double-submit scheme's hole).
    let planted = "ab".repeat(32);
    for name in ["berth_csrf", "berth_presession"] {
        browser.cookies.insert(name.into(), planted.clone());
        let (status, _, html) = browser
            .post("/apps", &[("csrf", &planted), ("name", "planted")])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {html}");
        assert!(html.contains("did not come from this site"), "{html}");
    }
    assert!(app_names(&server, &token).await.is_empty());

    let honest = browser.form_token("/apps").await;
    let (status, headers, _) = browser
        .post("/apps", &[("csrf", &honest), ("name", "honest")])
        .await;
    assert_eq!(
        (status, location(&headers)),
        (StatusCode::SEE_OTHER, "/apps/honest".to_string())
    );
    assert_eq!(app_names(&server, &token).await, ["honest"]);
}

#[tokio::test]
async fn a_form_token_of_another_session_is_refused() {
    let server = TestServer::start();
    let alice_token = server.create_user("alice@example.com", false, Some("alice pw"));
    server.create_user("mallory@example.com", false, Some("mallory pw"));
    let mut alice = Browser::new(&server);
    alice.sign_in("alice@example.com", "alice pw").await;
    let mut mallory = Browser::new(&server);
    mallory.sign_in("mallory@example.com", "mallory pw").await;
    let mallorys = mallory.form_token("/apps").await;
    assert_ne!(alice.form_token("/apps").await, mallorys);

    let (status, _, _) = alice
        .post("/apps", &[("csrf", &mallorys), ("name", "forged")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A second session of the same user has its own token too.
    let mut alice_elsewhere = Browser::new(&server);
    alice_elsewhere
        .sign_in("alice@example.com", "alice pw")
        .await;
    let other_session = alice_elsewhere.form_token("/apps").await;
    let (status, _, _) = alice
        .post("/apps", &[("csrf", &other_session), ("name", "forged")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The sign-in form's token is not a signed-in form's.
    let mut stranger = Browser::new(&server);
    let sign_in_token = stranger.form_token("/").await;
    alice.cookies.insert(
        "berth_presession".into(),
        stranger.cookies["berth_presession"].clone(),
    );
    let (status, _, _) = alice
        .post("/apps", &[("csrf", &sign_in_token), ("name", "forged")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(app_names(&server, &alice_token).await.is_empty());
}

#[tokio::test]
async fn a_change_from_a_foreign_origin_is_refused() {
    let server = TestServer::start();
    let token = server.create_user("dev@example.com", false, Some("correct horse"));
    let mut browser = Browser::new(&server);
    browser.sign_in("dev@example.com", "correct horse").await;
    let csrf = browser.form_token("/apps").await;
    // An app on the router's port of the same host, and one under the base domain.
    let router_origin = server.http_url.clone();
    for foreign in [router_origin.as_str(), "http://shop.localhost:8080", "null"] {
        browser.origin = Some(foreign.to_string());
        let (status, _, html) = browser
            .post("/apps", &[("csrf", &csrf), ("name", "foreign")])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{foreign}: {html}");
        assert!(html.contains("another site"), "{html}");
    }
    // Without Origin, the Referer speaks for the page.
    browser.origin = None;
    browser
        .headers
        .push(("referer", format!("{router_origin}/evil")));
    let (status, _, _) = browser
        .post("/apps", &[("csrf", &csrf), ("name", "foreign")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(app_names(&server, &token).await.is_empty());

    browser.headers.clear();
    browser
        .headers
        .push(("referer", format!("{}/apps", server.api_url)));
    let (status, _, _) = browser
        .post("/apps", &[("csrf", &csrf), ("name", "own")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app_names(&server, &token).await, ["own"]);
}

#[tokio::test]
async fn a_sign_in_from_a_foreign_origin_or_with_a_planted_pre_session_is_refused() {
    let server = TestServer::start();
    server.create_user("dev@example.com", false, Some("correct horse"));
    // The attacker's own visit gives a pre-session cookie and its token,
    // which it then plants in the victim's browser with a form of its own.
    let mut attacker = Browser::new(&server);
    let token = attacker.form_token("/").await;
    let planted = attacker.cookies["berth_presession"].clone();

    let mut victim = Browser::new(&server);
    victim.cookies.insert("berth_presession".into(), planted);
    victim.origin = Some("http://shop.localhost:8080".into());
    let form = [
        ("csrf", token.as_str()),
        ("email", "dev@example.com"),
        ("password", "correct horse"),
    ];
    let (status, _, _) = victim.post("/sign-in", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!victim.cookies.contains_key("berth_session"));

    // A token minted for another browser's pre-session does not sign this one in.
    let mut other = Browser::new(&server);
    other.form_token("/").await;
    let (status, _, _) = other.post("/sign-in", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!other.cookies.contains_key("berth_session"));

    assert_eq!(
        other.sign_in("dev@example.com", "correct horse").await,
        (StatusCode::SEE_OTHER, "/apps".to_string())
    );
    assert!(other.cookies.contains_key("berth_session"));
}
