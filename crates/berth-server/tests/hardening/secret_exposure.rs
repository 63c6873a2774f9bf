//! Finding 13: secrets leaked further than they should. Read-scope tokens
//! read config values and revealed add-on credentials; nothing recorded
//! who read them; a changed password left every other session alive; and
//! Postgres backups lay on disk in plaintext.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use berth_api_types::{AddonInfo, AuditEvent, Backup, CreatedToken};
use berth_testkit::TestServer;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::addon_rights::{postgres_admin_url, Api};

fn addon_server() -> TestServer {
    TestServer::start_with(|settings| {
        settings.addon_postgres_admin_url = Some(postgres_admin_url());
    })
}

/// A Postgres login from an add-on URL; the password goes to the tools in
/// their environment.
struct Pg {
    url_without_password: String,
    password: String,
}

impl Pg {
    fn of(url: &str) -> Self {
        let rest = url.strip_prefix("postgres://").expect("a postgres:// URL");
        let (login, address) = rest.split_once('@').expect("a login in the URL");
        let (user, password) = login.split_once(':').expect("a password in the URL");
        Self {
            url_without_password: format!("postgres://{user}@{address}"),
            password: password.to_string(),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let output = Command::new(program)
            .args(args)
            .env("PGPASSWORD", &self.password)
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .unwrap_or_else(|e| panic!("run {program} (Debian's postgresql-client): {e}"));
        assert!(
            output.status.success(),
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn sql(&self, sql: &str) -> String {
        let output = self.run(
            "psql",
            &[
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url_without_password,
                "-c",
                sql,
            ],
        );
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }
}

#[tokio::test]
async fn read_scope_tokens_get_no_secrets_and_every_secret_read_is_audited() {
    let server = addon_server();
    let owner = server.create_user("owner@example.com", false, None);
    let api = Api::new(&server);
    let (app, _cleanup) = api.create_app(&owner, "secret-reads").await;
    let name = &app.name;
    let addon = format!("{name}-db");
    api.send(
        Method::PATCH,
        &format!("/apps/{name}/config"),
        &owner,
        json!({ "API_KEY": "value-never-in-the-trail" }),
    )
    .await;
    api.send(
        Method::POST,
        &format!("/apps/{name}/addons"),
        &owner,
        json!({ "service": "postgres", "name": addon }),
    )
    .await;
    let read: CreatedToken = serde_json::from_value(
        api.send(
            Method::POST,
            "/tokens",
            &owner,
            json!({ "description": "status page", "scope": "read" }),
        )
        .await,
    )
    .unwrap();
    let config = format!("/apps/{name}/config");
    let reveal = format!("/apps/{name}/addons/{addon}?reveal=true");

    let refused_config = api.call(Method::GET, &config, &read.token, None).await;
    let refused_reveal = api.call(Method::GET, &reveal, &read.token, None).await;
    let shown: AddonInfo = api
        .get(&format!("/apps/{name}/addons/{addon}"), &read.token)
        .await;
    let values: BTreeMap<String, String> = api.get(&config, &owner).await;
    let revealed: AddonInfo = api.get(&reveal, &owner).await;
    let trail: Vec<AuditEvent> = api.get(&format!("/apps/{name}/audit"), &owner).await;
    let dropped = api
        .call(
            Method::DELETE,
            &format!("/apps/{name}/addons/{addon}"),
            &owner,
            None,
        )
        .await;
    assert_eq!(dropped.status(), StatusCode::NO_CONTENT);

    assert_eq!(refused_config.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused_reveal.status(), StatusCode::FORBIDDEN);
    assert_eq!(shown.credentials, None, "{shown:?}");
    assert_eq!(values["API_KEY"], "value-never-in-the-trail");
    let credentials = revealed.credentials.expect("the owner sees credentials");

    let read_by_owner = |action: &str| {
        trail
            .iter()
            .filter(|event| event.action == action)
            .inspect(|event| assert_eq!(event.actor.as_deref(), Some("owner@example.com")))
            .map(|event| event.detail.clone())
            .collect::<Vec<_>>()
    };
    let config_reads = read_by_owner("config.read");
    assert_eq!(config_reads.len(), 1, "{trail:?}");
    assert!(
        config_reads[0].contains("API_KEY") && config_reads[0].contains("DATABASE_URL"),
        "the keys read are named: {}",
        config_reads[0]
    );
    let reveals = read_by_owner("addons.reveal");
    assert_eq!(reveals.len(), 1, "{trail:?}");
    assert!(reveals[0].contains(&addon), "{}", reveals[0]);
    for event in &trail {
        assert!(
            !event.detail.contains("value-never-in-the-trail")
                && !event.detail.contains(&credentials.password),
            "a secret value reached the audit trail: {event:?}"
        );
    }
}

/// A browser on the dashboard: its cookies, and the CSRF token its forms carry.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(server: &TestServer) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.api_url.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        pairs.join("; ")
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header());
        if !form.is_empty() {
            request = request.form(form);
        }
        let response = request.send().await.unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap_or("");
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// The CSRF token in the forms of the page at `path`.
    async fn csrf_of(&mut self, path: &str) -> String {
        let (_, html) = self.request(Method::GET, path, &[]).await;
        let marker = "name=\"csrf\" value=\"";
        let start = html
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field: {html}"))
            + marker.len();
        html[start..].split('"').next().unwrap().to_string()
    }

    async fn sign_in(&mut self, email: &str, password: &str) {
        let csrf = self.csrf_of("/").await;
        let (status, html) = self
            .request(
                Method::POST,
                "/sign-in",
                &[("csrf", &csrf), ("email", email), ("password", password)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
        assert!(self.signed_in().await, "signed in as {email}");
    }

    async fn signed_in(&mut self) -> bool {
        self.request(Method::GET, "/account", &[]).await.0 == StatusCode::OK
    }

    async fn change_password(&mut self, current: &str, new: &str) {
        let csrf = self.csrf_of("/account").await;
        let (status, html) = self
            .request(
                Method::POST,
                "/account/password",
                &[
                    ("csrf", &csrf),
                    ("current", current),
                    ("new", new),
                    ("confirm", new),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    }
}

async fn token_works(api: &Api, token: &str) -> bool {
    let status = api
        .call(Method::GET, "/account", token, None)
        .await
        .status();
    assert!(
        status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
        "{status}"
    );
    status == StatusCode::OK
}

#[tokio::test]
async fn changing_a_password_keeps_only_the_session_that_changed_it_and_a_reset_keeps_none() {
    let server = TestServer::start();
    let first_token = server.create_user("dev@example.com", false, Some("old horse"));
    let api = Api::new(&server);
    let ci: CreatedToken = serde_json::from_value(
        api.send(
            Method::POST,
            "/tokens",
            &first_token,
            json!({ "description": "CI" }),
        )
        .await,
    )
    .unwrap();
    let mut here = Browser::new(&server);
    let mut elsewhere = Browser::new(&server);
    here.sign_in("dev@example.com", "old horse").await;
    elsewhere.sign_in("dev@example.com", "old horse").await;

    here.change_password("old horse", "new horse").await;
    assert!(here.signed_in().await, "the session that changed it stays");
    assert!(
        !elsewhere.signed_in().await,
        "another browser is signed out"
    );
    assert!(!token_works(&api, &first_token).await);
    assert!(!token_works(&api, &ci.token).await);
    let mut again = Browser::new(&server);
    again.sign_in("dev@example.com", "new horse").await;

    // An operator's reset (`berthd admin set-password`) trusts no session.
    let settings = server.settings().clone();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(berth_server::admin::set_password(
                &settings,
                "dev@example.com",
                "reset horse",
            ))
    })
    .join()
    .unwrap()
    .unwrap();
    assert!(!here.signed_in().await);
    assert!(!again.signed_in().await);
}

#[tokio::test]
async fn postgres_backups_are_sealed_at_rest_and_restore_as_do_older_plain_ones() {
    let server = addon_server();
    let owner = server.create_user("owner@example.com", false, None);
    let api = Api::new(&server);
    let (app, _cleanup) = api.create_app(&owner, "sealed-backups").await;
    let name = &app.name;
    let addon = format!("{name}-db");
    let addon_path = format!("/apps/{name}/addons/{addon}");
    api.send(
        Method::POST,
        &format!("/apps/{name}/addons"),
        &owner,
        json!({ "service": "postgres", "name": addon }),
    )
    .await;
    let checked = async {
        let revealed: AddonInfo = api.get(&format!("{addon_path}?reveal=true"), &owner).await;
        let pg = Pg::of(&revealed.credentials.unwrap().url);
        pg.sql(
            "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('row-known-plaintext-4242')",
        );

        let backup: Backup = serde_json::from_value(
            api.send(
                Method::POST,
                &format!("{addon_path}/backups"),
                &owner,
                json!({}),
            )
            .await,
        )
        .unwrap();
        let dir = std::fs::read_dir(server.data_dir().join("backups"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.join(format!("{}.dump", backup.id)).exists())
            .expect("the backup is on disk");
        let sealed = std::fs::read(dir.join(format!("{}.dump", backup.id))).unwrap();
        assert!(!sealed.starts_with(b"PGDMP"), "a plain pg_dump archive");
        assert!(
            !sealed
                .windows(b"row-known-plaintext".len())
                .any(|window| window == b"row-known-plaintext"),
            "the row's text is readable in the backup file"
        );

        pg.sql("UPDATE notes SET body = 'changed since'");
        let restore = format!("{addon_path}/backups/{}/restore", backup.id);
        let restored = api.call(Method::POST, &restore, &owner, None).await;
        assert_eq!(restored.status(), StatusCode::NO_CONTENT);
        assert_eq!(pg.sql("SELECT body FROM notes"), "row-known-plaintext-4242");

        // A backup written before sealing: a plain pg_dump archive.
        let plain = dir.join("b999.dump");
        pg.run(
            "pg_dump",
            &[
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                "--file",
                plain.to_str().unwrap(),
                "-d",
                &pg.url_without_password,
            ],
        );
        pg.sql("UPDATE notes SET body = 'changed again'");
        let restore = format!("{addon_path}/backups/b999/restore");
        let restored = api.call(Method::POST, &restore, &owner, None).await;
        assert_eq!(restored.status(), StatusCode::NO_CONTENT);
        assert_eq!(pg.sql("SELECT body FROM notes"), "row-known-plaintext-4242");
    };
    // The add-on goes even when a check fails.
    let outcome =
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(checked)).await;
    let dropped = api.call(Method::DELETE, &addon_path, &owner, None).await;
    assert_eq!(dropped.status(), StatusCode::NO_CONTENT);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
