//! Finding of the dashboard review: an add-on's backups were reached through
//! any app it was attached to, with that app's rights alone. A deployer of
//! the other app downloaded the owner's whole backup history (data the
//! add-on's URL no longer holds), an admin there captured until the owner's
//! backups fell out of retention or restored over the owner's data, and the
//! owner's audit trail recorded none of it. Through an attached app,
//! backups now need the same right on the owning app too, and their use is
//! recorded on both.

use berth_api_types::{Addon, AuditEvent, Backup};
use berth_testkit::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::addon_rights::{postgres_admin_url, Api};

#[tokio::test]
async fn an_attached_apps_members_reach_the_owners_backups_only_with_a_right_on_the_owner() {
    let server = TestServer::start_with(|settings| {
        settings.addon_postgres_admin_url = Some(postgres_admin_url());
    });
    let owner = server.create_user("owner@example.com", false, None);
    let deployer = server.create_user("deployer@example.com", false, None);
    let admin = server.create_user("admin@example.com", false, None);
    let api = Api::new(&server);
    let (home, _home_cleanup) = api.create_app(&owner, "bk-home").await;
    let (other, _other_cleanup) = api.create_app(&owner, "bk-other").await;
    let addon: Addon = serde_json::from_value(
        api.send(
            Method::POST,
            &format!("/apps/{}/addons", home.name),
            &owner,
            json!({ "service": "postgres" }),
        )
        .await,
    )
    .unwrap();
    let addon = addon.name;
    api.send(
        Method::POST,
        &format!("/apps/{}/addons/{addon}/attachments", other.name),
        &owner,
        json!({ "as": "SHARED" }),
    )
    .await;
    for (email, role) in [
        ("deployer@example.com", "deployer"),
        ("admin@example.com", "admin"),
    ] {
        api.send(
            Method::POST,
            &format!("/apps/{}/access", other.name),
            &owner,
            json!({ "email": email, "role": role }),
        )
        .await;
    }
    let home_backups = format!("/apps/{}/addons/{addon}/backups", home.name);
    let other_backups = format!("/apps/{}/addons/{addon}/backups", other.name);
    let first: Backup = serde_json::from_value(
        api.send(Method::POST, &home_backups, &owner, json!({}))
            .await,
    )
    .unwrap();

    let listed = api.call(Method::GET, &other_backups, &deployer, None).await;
    let captured = api
        .call(Method::POST, &other_backups, &admin, Some(json!({})))
        .await;
    let restored = api
        .call(
            Method::POST,
            &format!("{other_backups}/{}/restore", first.id),
            &admin,
            None,
        )
        .await;
    for (what, refused) in [
        ("list", listed),
        ("capture", captured),
        ("restore", restored),
    ] {
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{what}");
        let said = refused.text().await.unwrap();
        assert!(
            said.contains(&format!(
                "the backups of {addon} belong to the app it was created on"
            )),
            "{what}: {said}"
        );
    }
    let kept: Vec<Backup> = api.get(&home_backups, &owner).await;
    assert_eq!(kept, vec![first.clone()], "nothing captured or dropped");

    // Someone with the right on both apps still reaches them through
    // either, and the owning app's trail records it.
    let second: Backup = serde_json::from_value(
        api.send(Method::POST, &other_backups, &owner, json!({}))
            .await,
    )
    .unwrap();
    let listed: Vec<Backup> = api.get(&other_backups, &owner).await;
    assert_eq!(listed, vec![first, second.clone()]);
    let wanted = format!("{addon} {}", second.id);
    for app in [&home.name, &other.name] {
        let trail: Vec<AuditEvent> = api.get(&format!("/apps/{app}/audit"), &owner).await;
        assert!(
            trail
                .iter()
                .any(|event| event.action == "addons.backup" && event.detail == wanted),
            "{app}: {trail:?}"
        );
    }
    let dropped = api
        .call(
            Method::DELETE,
            &format!("/apps/{}/addons/{addon}/attachments", other.name),
            &owner,
            None,
        )
        .await;
    assert!(dropped.status().is_success(), "{}", dropped.status());
    let dropped = api
        .call(
            Method::DELETE,
            &format!("/apps/{}/addons/{addon}", home.name),
            &owner,
            None,
        )
        .await;
    assert_eq!(dropped.status(), StatusCode::NO_CONTENT);
}
