//! Finding 9: access was checked once, when a stream opened. A log tail
//! stayed open after its token was revoked, its reader lost the role, or
//! the app was destroyed and its name taken again; and audit rows and
//! backups were keyed by names, which come back. Streams now check again
//! (on every change of access, and every few seconds), and records are
//! keyed by ids never reused.

use std::time::Duration;

use berth_api_types::{Addon, AuditEvent, Backup, CreatedToken};
use berth_testkit::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::addon_rights::{postgres_admin_url, Api};

/// How long a tail may take to end once access is gone: a guard against a
/// test hanging, far above the server's few seconds, not a speed claim.
const ENDS_WITHIN: Duration = Duration::from_secs(60);

/// A live tail of the app's log, as the CLI and the dashboard open it.
async fn tail(server: &TestServer, app: &str, token: &str) -> reqwest::Response {
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/apps/{app}/logs?tail=true",
            server.api_url
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response
}

/// Reads the tail until the server ends it; panics if it is still open
/// after `ENDS_WITHIN`.
async fn ends(mut tail: reqwest::Response) {
    let drained = tokio::time::timeout(ENDS_WITHIN, async {
        while let Ok(Some(_)) = tail.chunk().await {}
    })
    .await;
    assert!(drained.is_ok(), "the tail is still open after access ended");
}

#[tokio::test]
async fn a_log_tail_ends_when_its_token_is_revoked() {
    let server = TestServer::start();
    let owner = server.create_user("owner@example.com", false, None);
    let api = Api::new(&server);
    let (app, _cleanup) = api.create_app(&owner, "tail-revoked").await;
    let minted: CreatedToken = serde_json::from_value(
        api.send(
            Method::POST,
            "/tokens",
            &owner,
            json!({ "description": "log monitor", "scope": "read" }),
        )
        .await,
    )
    .unwrap();
    let open = tail(&server, &app.name, &minted.token).await;
    api.call(
        Method::DELETE,
        &format!("/tokens/{}", minted.id),
        &owner,
        None,
    )
    .await
    .error_for_status()
    .unwrap();
    ends(open).await;
}

#[tokio::test]
async fn a_log_tail_ends_when_its_reader_loses_the_role() {
    let server = TestServer::start();
    let owner = server.create_user("owner@example.com", false, None);
    let viewer = server.create_user("viewer@example.com", false, None);
    let api = Api::new(&server);
    let (app, _cleanup) = api.create_app(&owner, "tail-role").await;
    api.send(
        Method::POST,
        &format!("/apps/{}/access", app.name),
        &owner,
        json!({ "email": "viewer@example.com", "role": "viewer" }),
    )
    .await;
    let open = tail(&server, &app.name, &viewer).await;
    api.call(
        Method::DELETE,
        &format!("/apps/{}/access/viewer@example.com", app.name),
        &owner,
        None,
    )
    .await
    .error_for_status()
    .unwrap();
    ends(open).await;
}

#[tokio::test]
async fn a_destroyed_apps_tail_ends_and_its_successor_by_name_inherits_no_trail_or_backups() {
    let server = TestServer::start_with(|settings| {
        settings.addon_postgres_admin_url = Some(postgres_admin_url());
    });
    let owner = server.create_user("owner@example.com", false, None);
    let api = Api::new(&server);
    let (app, _cleanup) = api.create_app(&owner, "name-reuse").await;
    let name = app.name.clone();
    let addon_name = format!("{name}-db");
    let addons = format!("/apps/{name}/addons");
    api.send(
        Method::POST,
        &addons,
        &owner,
        json!({ "service": "postgres", "name": addon_name }),
    )
    .await;
    let backups = format!("{addons}/{addon_name}/backups");
    api.send(Method::POST, &backups, &owner, json!({})).await;
    let first: Vec<Addon> = api.get(&addons, &owner).await;
    // A backup left behind where backups used to be kept, by the add-on's
    // name (say a removal that failed): it belongs to this add-on, not to
    // a later one of the same name.
    let by_id = std::fs::read_dir(server.data_dir().join("backups"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.join("b001.dump").exists())
        .expect("the backup is on disk");
    let leftover = server.data_dir().join("backups").join(&addon_name);
    std::fs::create_dir(&leftover).unwrap();
    std::fs::copy(by_id.join("b001.dump"), leftover.join("b001.dump")).unwrap();
    let old_config = json!({ "OLD_SECRET_NAME": "x" });
    api.send(
        Method::PATCH,
        &format!("/apps/{name}/config"),
        &owner,
        old_config,
    )
    .await;

    let open = tail(&server, &name, &owner).await;
    api.call(
        Method::DELETE,
        &format!("{addons}/{addon_name}"),
        &owner,
        None,
    )
    .await
    .error_for_status()
    .unwrap();
    api.call(Method::DELETE, &format!("/apps/{name}"), &owner, None)
        .await
        .error_for_status()
        .unwrap();
    // The old app is gone before the tail notices: a new one of that name
    // must not keep it open.
    api.send(Method::POST, "/apps", &owner, json!({ "name": name }))
        .await;
    ends(open).await;

    let trail: Vec<AuditEvent> = api.get(&format!("/apps/{name}/audit"), &owner).await;
    let actions: Vec<&str> = trail.iter().map(|event| event.action.as_str()).collect();
    assert_eq!(actions, ["app.create"], "{trail:?}");

    api.send(
        Method::POST,
        &addons,
        &owner,
        json!({ "service": "postgres", "name": addon_name }),
    )
    .await;
    let seen: Vec<Backup> = api.get(&backups, &owner).await;
    let second: Vec<Addon> = api.get(&addons, &owner).await;
    let dropped = api
        .call(
            Method::DELETE,
            &format!("{addons}/{addon_name}"),
            &owner,
            None,
        )
        .await;
    assert_eq!(dropped.status(), StatusCode::NO_CONTENT);
    assert_eq!(first.len(), 1);
    assert_eq!(second.len(), 1);
    assert_eq!(
        seen,
        [],
        "the new add-on sees none of the old one's backups"
    );
}
