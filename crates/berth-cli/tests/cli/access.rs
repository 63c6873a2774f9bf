//! `access`, `users`, `tokens` and `audit` end to end: the real `berth`
//! binary against a real server, as the roles the policy names.

use super::*;

fn emails(listing: &Value) -> Vec<(String, String)> {
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|member| {
            (
                member["email"].as_str().unwrap().to_string(),
                member["role"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn owners_grant_roles_and_viewers_see_config_names_only() {
    let world = World::new();
    let owner = world.server.create_user("owner@example.com", false, None);
    let member = world.server.create_user("member@example.com", false, None);
    world.berth_as(&owner, &["apps:create", "shared-app"]).ok();
    world
        .berth_as(
            &owner,
            &["config:set", "-a", "shared-app", "API_SECRET=hunter2"],
        )
        .ok();

    let hidden = world
        .berth_as(&member, &["access", "-a", "shared-app"])
        .fails();
    assert_eq!(hidden, "error: app shared-app not found");

    let bad_role = world
        .berth_as(
            &owner,
            &[
                "access:add",
                "member@example.com",
                "--role",
                "boss",
                "-a",
                "shared-app",
            ],
        )
        .fails();
    assert!(bad_role.contains("unknown role \"boss\""), "{bad_role}");
    world
        .berth_as(
            &owner,
            &[
                "access:add",
                "member@example.com",
                "--role",
                "viewer",
                "-a",
                "shared-app",
            ],
        )
        .ok();
    let listing = world
        .berth_as(&member, &["access", "-a", "shared-app", "--json"])
        .json();
    assert_eq!(
        emails(&listing),
        [
            ("owner@example.com".to_string(), "owner".to_string()),
            ("member@example.com".to_string(), "viewer".to_string())
        ]
    );
    let table = world
        .berth_as(&member, &["access", "-a", "shared-app"])
        .ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "=== shared-app Access");
    assert!(
        lines[1].starts_with("EMAIL               ROLE    SINCE"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("member@example.com  viewer  "),
        "{table}"
    );

    // A viewer sees the names of config vars, never their values.
    let config = world
        .berth_as(&member, &["config", "-a", "shared-app"])
        .ok();
    assert!(config.contains("API_SECRET: (hidden)"), "{config}");
    assert!(!config.contains("hunter2"));
    let config = world
        .berth_as(&member, &["config", "-a", "shared-app", "--json"])
        .json();
    assert_eq!(config, serde_json::json!({"API_SECRET": null}));
    let refused = world
        .berth_as(&member, &["config:get", "-a", "shared-app", "API_SECRET"])
        .fails();
    assert_eq!(
        refused,
        "error: as viewer you cannot read this app's config vars"
    );
    let refused = world
        .berth_as(&member, &["config:set", "-a", "shared-app", "X=1"])
        .fails();
    assert_eq!(
        refused,
        "error: as viewer you cannot change this app's config"
    );
    let refused = world
        .berth_as(
            &member,
            &[
                "access:add",
                "owner@example.com",
                "--role",
                "viewer",
                "-a",
                "shared-app",
            ],
        )
        .fails();
    assert_eq!(
        refused,
        "error: as viewer you cannot change who has access to this app"
    );

    world
        .berth_as(
            &owner,
            &[
                "access:update",
                "member@example.com",
                "--role",
                "admin",
                "-a",
                "shared-app",
            ],
        )
        .ok();
    world
        .berth_as(&member, &["config:set", "-a", "shared-app", "X=1"])
        .ok();
    assert_eq!(
        world
            .berth_as(&member, &["config:get", "-a", "shared-app", "API_SECRET"])
            .ok(),
        "hunter2\n"
    );

    let last_owner = world
        .berth_as(
            &owner,
            &["access:remove", "owner@example.com", "-a", "shared-app"],
        )
        .fails();
    assert_eq!(
        last_owner,
        "error: owner@example.com is the only owner of shared-app: make someone else owner first"
    );
    world
        .berth_as(
            &owner,
            &["access:remove", "member@example.com", "-a", "shared-app"],
        )
        .ok();
    let gone = world
        .berth_as(&member, &["apps:info", "-a", "shared-app"])
        .fails();
    assert_eq!(gone, "error: app shared-app not found");

    let trail = world
        .berth_as(&owner, &["audit", "-a", "shared-app", "--json"])
        .json();
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "app.create",
            "config.change",
            "access.add",
            "access.update",
            "config.change",
            "config.read",
            "access.remove"
        ]
    );
    assert!(!trail.to_string().contains("hunter2"));
    let text = world.berth_as(&owner, &["audit", "-a", "shared-app"]).ok();
    assert!(
        text.starts_with("=== shared-app Audit Trail\nAT "),
        "{text}"
    );
    let added: Vec<&str> = text
        .lines()
        .find(|line| line.contains("access.add"))
        .unwrap()
        .split_whitespace()
        .skip(3)
        .collect();
    assert_eq!(
        added,
        [
            "owner@example.com",
            "127.0.0.1",
            "access.add",
            "member@example.com",
            "as",
            "viewer"
        ]
    );
}

#[test]
fn platform_admins_create_and_remove_users_keeping_the_trail() {
    let world = World::new();
    let root = world.server.create_user("root@example.com", true, None);
    let created = world
        .berth_as(&root, &["users:create", "bob@example.com"])
        .ok();
    let bob = created.lines().last().unwrap().to_string();
    assert!(bob.starts_with("berth_"), "{created}");
    assert_eq!(world.berth_as(&bob, &["whoami"]).ok(), "bob@example.com\n");
    let refused = world.berth_as(&bob, &["users"]).fails();
    assert_eq!(
        refused,
        "error: as member you cannot read the platform's users, hosts, audit trail and metrics"
    );
    let refused = world
        .berth_as(&bob, &["users:create", "eve@example.com", "--admin"])
        .fails();
    assert_eq!(refused, "error: as member you cannot manage users");
    let refused = world.berth_as(&bob, &["audit"]).fails();
    assert_eq!(
        refused,
        "error: as member you cannot read the platform's users, hosts, audit trail and metrics"
    );

    world.berth_as(&bob, &["apps:create", "bobs-app"]).ok();
    let refused = world
        .berth_as(&root, &["users:remove", "bob@example.com"])
        .fails();
    assert_eq!(
        refused,
        "error: bob@example.com is the only owner of bobs-app: add another owner first, \
         or pass the apps on with --reassign-to EMAIL"
    );
    let removed = world.berth_as(
        &root,
        &[
            "users:remove",
            "bob@example.com",
            "--reassign-to",
            "root@example.com",
        ],
    );
    assert_eq!(removed.code, Some(0), "{}", removed.stderr);
    assert_eq!(
        removed.stderr,
        "Removing bob@example.com... done\nroot@example.com now owns bobs-app\n"
    );
    let bobs_token = world.berth_as(&bob, &["whoami"]).fails();
    assert!(
        bobs_token.contains("invalid or expired API token"),
        "{bobs_token}"
    );

    let users = world.berth_as(&root, &["users", "--json"]).json();
    let listed: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["email"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["root@example.com"]);
    let members = world
        .berth_as(&root, &["access", "-a", "bobs-app", "--json"])
        .json();
    assert_eq!(
        emails(&members),
        [("root@example.com".to_string(), "owner".to_string())]
    );

    let trail = world.berth_as(&root, &["audit", "--json"]).json();
    let bobs: Vec<(&str, &str)> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| {
            event["detail"]
                .as_str()
                .unwrap()
                .contains("bob@example.com")
        })
        .map(|event| {
            (
                event["actor"].as_str().unwrap(),
                event["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        bobs,
        [
            ("root@example.com", "user.create"),
            ("root@example.com", "user.remove")
        ],
        "the trail keeps naming the removed user"
    );
    world
        .berth_with(
            &["users:create", "carol@example.com", "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
            &[("BERTH_API_KEY", &root)],
        )
        .ok();
    assert_eq!(
        world.login("carol@example.com", PASSWORD).ok(),
        "Logged in as carol@example.com\n"
    );

    let table = world.berth_as(&root, &["audit"]).ok();
    assert!(
        table.starts_with("=== Platform Audit Trail\nAT "),
        "{table}"
    );
    assert!(table.contains("bobs-app"), "{table}");
}

#[test]
fn tokens_are_created_listed_scoped_and_revoked() {
    let world = World::new();
    let alice = world.server.create_user("alice@example.com", false, None);

    let bad = world
        .berth_as(&alice, &["tokens:create", "--expires-in", "3y"])
        .fails();
    assert!(bad.contains("\"3y\" is not a lifetime"), "{bad}");
    let bad = world
        .berth_as(&alice, &["tokens:create", "--scope", "root"])
        .fails();
    assert!(bad.contains("unknown token scope \"root\""), "{bad}");
    assert_eq!(
        world
            .berth_as(&alice, &["tokens", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1,
        "refused requests create nothing"
    );

    let created = world
        .berth_as(
            &alice,
            &[
                "tokens:create",
                "--description",
                "ci",
                "--expires-in",
                "30d",
                "--scope",
                "read",
                "--json",
            ],
        )
        .json();
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "token"]);
    let (id, read_token) = (
        created["id"].as_str().unwrap(),
        created["token"].as_str().unwrap(),
    );

    assert_eq!(world.app_names(read_token), Vec::<String>::new());
    let refused = world
        .berth_as(read_token, &["apps:create", "from-ci"])
        .fails();
    assert_eq!(
        refused,
        "error: this API token has read scope and cannot create apps: use a token with full scope"
    );

    let listing = world.berth_as(&alice, &["tokens", "--json"]).json();
    let entry = listing
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["id"] == id)
        .unwrap();
    let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "created_at",
            "description",
            "expires_at",
            "id",
            "last_used_at",
            "scope"
        ]
    );
    assert_eq!(entry["description"], "ci");
    assert_eq!(entry["scope"], "read");
    assert!(entry["last_used_at"].is_string(), "used by `apps` above");
    assert!(entry["expires_at"].is_string());
    assert!(!listing.to_string().contains(read_token));
    let table = world.berth_as(&alice, &["tokens"]).ok();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID",
            "DESCRIPTION",
            "SCOPE",
            "CREATED",
            "LAST",
            "USED",
            "EXPIRES"
        ]
    );
    assert!(
        table.contains(" never"),
        "the first token does not expire: {table}"
    );

    world.berth_as(&alice, &["tokens:revoke", id]).ok();
    let revoked = world.berth_as(read_token, &["apps"]).fails();
    assert!(
        revoked.contains("invalid or expired API token"),
        "{revoked}"
    );
    let again = world.berth_as(&alice, &["tokens:revoke", id]).fails();
    assert_eq!(again, format!("error: no token {id}"));
}
