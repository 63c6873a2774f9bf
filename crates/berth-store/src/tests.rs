use super::*;
use berth_core::AppRole;

mod metrics;
mod pipelines;

async fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Store::sqlite_url(dir.path())).await.unwrap();
    (dir, store)
}

fn audit(action: &str) -> AuditEntry {
    AuditEntry {
        actor_email: Some("alice@example.com".into()),
        source: "127.0.0.1".into(),
        app_name: Some("demo".into()),
        action: action.into(),
        detail: String::new(),
    }
}

#[tokio::test]
async fn users_are_unique_by_email() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, true)
        .await
        .unwrap();
    assert!(alice.is_admin);
    assert_eq!(alice.password_hash, None);
    let again = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap_err();
    assert_eq!(
        again.to_string(),
        "a user with email alice@example.com already exists"
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
}

#[tokio::test]
async fn an_app_is_created_with_its_owner_and_audit_entry_or_not_at_all() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    let bob = store
        .create_user("bob@example.com", None, false)
        .await
        .unwrap();

    let app = store
        .create_app("demo", alice.id, &audit("app.create"))
        .await
        .unwrap();
    assert_eq!(app.owner_email, "alice@example.com");
    let duplicate = store
        .create_app("demo", bob.id, &audit("app.create"))
        .await
        .unwrap_err();
    assert!(matches!(duplicate, StoreError::Conflict(_)), "{duplicate}");

    let (_, role) = store
        .app_with_role("demo", alice.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(role, Some(AppRole::Owner));
    let (_, role) = store.app_with_role("demo", bob.id).await.unwrap().unwrap();
    assert_eq!(
        role, None,
        "the failed duplicate must not have made bob a member"
    );
    assert_eq!(store.audit_trail(Some(app.id)).await.unwrap().len(), 1);

    assert_eq!(store.apps_visible_to(bob.id, false).await.unwrap(), vec![]);
    assert_eq!(
        store.apps_visible_to(bob.id, true).await.unwrap(),
        vec![app.clone()]
    );
    assert_eq!(
        store.apps_visible_to(alice.id, false).await.unwrap(),
        vec![app.clone()]
    );

    store
        .delete_app(app.id, &audit("app.destroy"))
        .await
        .unwrap();
    assert_eq!(store.app_with_role("demo", alice.id).await.unwrap(), None);
    let actions: Vec<_> = store
        .audit_trail(Some(app.id))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.action)
        .collect();
    assert_eq!(
        actions,
        ["app.create", "app.destroy"],
        "the trail outlives the app"
    );
}

#[tokio::test]
async fn an_app_reusing_a_destroyed_apps_name_starts_with_an_empty_trail() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    let old = store
        .create_app("demo", alice.id, &audit("app.create"))
        .await
        .unwrap();
    store.record_audit(&audit("config.change")).await.unwrap();
    store
        .delete_app(old.id, &audit("app.destroy"))
        .await
        .unwrap();
    let new = store
        .create_app("demo", alice.id, &audit("app.create"))
        .await
        .unwrap();
    assert_ne!(old.id, new.id, "app ids are never reused");
    let actions = |trail: Vec<AuditEvent>| -> Vec<String> {
        trail.into_iter().map(|e| e.entry.action).collect()
    };
    assert_eq!(
        actions(store.audit_trail(Some(new.id)).await.unwrap()),
        ["app.create"]
    );
    assert_eq!(
        actions(store.audit_trail(Some(old.id)).await.unwrap()),
        ["app.create", "config.change", "app.destroy"]
    );
}

#[tokio::test]
async fn tokens_are_listed_until_revoked() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    for id in ["t1", "t2"] {
        store
            .insert_token(NewToken {
                id,
                user_id: alice.id,
                secret_sha256: "00",
                description: "laptop",
                scope: "full",
                expires_at: None,
            })
            .await
            .unwrap();
    }
    let (token, user) = store.token_with_user("t1").await.unwrap().unwrap();
    assert_eq!(
        (token.user_id, user.email.as_str()),
        (alice.id, "alice@example.com")
    );
    assert_eq!(token.last_used_at, None);

    let now = Utc::now();
    store.touch_token("t1", now).await.unwrap();
    let (token, _) = store.token_with_user("t1").await.unwrap().unwrap();
    assert_eq!(
        token.last_used_at.map(|t| t.timestamp_millis()),
        Some(now.timestamp_millis())
    );

    assert!(store.revoke_token(alice.id, "t1").await.unwrap());
    assert!(
        !store.revoke_token(alice.id, "t1").await.unwrap(),
        "already revoked"
    );
    let live: Vec<_> = store
        .tokens_of_user(alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(live, ["t2"]);
}

#[tokio::test]
async fn expired_tokens_are_deleted_and_live_ones_kept() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    let now = Utc::now();
    for (id, expires_at) in [
        ("expired-session", Some(now - chrono::Duration::minutes(1))),
        ("live-session", Some(now + chrono::Duration::days(14))),
        ("no-expiry", None),
    ] {
        store
            .insert_token(NewToken {
                id,
                user_id: alice.id,
                secret_sha256: "00",
                description: "dashboard session",
                scope: "full",
                expires_at,
            })
            .await
            .unwrap();
    }
    assert_eq!(store.delete_expired_tokens(now).await.unwrap(), 1);
    assert!(store
        .token_with_user("expired-session")
        .await
        .unwrap()
        .is_none());
    let left: Vec<_> = store
        .tokens_of_user(alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(left, ["live-session", "no-expiry"]);
    assert_eq!(store.delete_expired_tokens(now).await.unwrap(), 0);
}

#[tokio::test]
async fn two_processes_can_write_the_same_file_at_once() {
    // `berthd admin create-user` opens the store while the server has it open.
    let (dir, server) = temp_store().await;
    let admin = Store::open(&Store::sqlite_url(dir.path())).await.unwrap();
    let owner = server
        .create_user("owner@example.com", None, false)
        .await
        .unwrap();
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = if i % 2 == 0 {
            server.clone()
        } else {
            admin.clone()
        };
        writes.spawn(async move {
            store
                .create_app(&format!("app-{i}"), owner.id, &audit("app.create"))
                .await
        });
    }
    while let Some(result) = writes.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(
        server.apps_visible_to(owner.id, false).await.unwrap().len(),
        20
    );
}

#[tokio::test]
async fn releases_are_numbered_per_app_and_only_successes_become_current() {
    let (_dir, store) = temp_store().await;
    let owner = store
        .create_user("o@example.com", None, false)
        .await
        .unwrap();
    let app = store
        .create_app("demo", owner.id, &audit("app.create"))
        .await
        .unwrap();
    let other = store
        .create_app("other", owner.id, &audit("app.create"))
        .await
        .unwrap();
    let new = |app_id| NewRelease {
        app_id,
        description: "Deploy 1a2b3c4",
        commit_sha: Some("1a2b3c4d"),
        config_sealed: "sealed",
        created_by: "o@example.com",
        phase: "building",
    };
    let v1 = store.create_release(new(app.id)).await.unwrap();
    let v2 = store.create_release(new(app.id)).await.unwrap();
    let other_v1 = store.create_release(new(other.id)).await.unwrap();
    assert_eq!((v1.version, v2.version, other_v1.version), (1, 2, 1));
    assert_eq!(v1.status, ReleaseStatus::Pending);

    let web = ReleaseProcess {
        process_type: "web".into(),
        image: "berth/demo:v1-web".into(),
        command: None,
        healthcheck: None,
        limits: berth_core::Limits {
            memory_bytes: Some(64 << 20),
            nano_cpus: None,
        },
        options_sealed: Some("sealed".into()),
    };
    store
        .set_release_contents(v1.id, std::slice::from_ref(&web), None, None)
        .await
        .unwrap();
    store.set_release_phase(v1.id, "releasing").await.unwrap();
    store.set_release_phase(v1.id, "starting").await.unwrap();
    store.succeed_release(&v1, "built", None).await.unwrap();
    store
        .fail_release(v2.id, "release command exited with 1", "boom")
        .await
        .unwrap();

    let current = store
        .app_with_role("demo", owner.id)
        .await
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(current.current_release, Some(1));
    let releases = store.releases(app.id).await.unwrap();
    assert_eq!(releases[0].processes, vec![web]);
    assert_eq!(releases[0].output, "built");
    // Each phase with when it began, in order, from the release's creation on.
    let phases: Vec<&str> = releases[0]
        .phase_times
        .iter()
        .map(|(phase, _)| phase.as_str())
        .collect();
    assert_eq!(phases, ["building", "releasing", "starting"]);
    assert_eq!(releases[0].phase_times[0].1, releases[0].created_at);
    assert!(releases[0]
        .phase_times
        .windows(2)
        .all(|pair| pair[0].1 <= pair[1].1));
    assert_eq!(releases[1].status, ReleaseStatus::Failed);
    assert_eq!(
        releases[1].failure.as_deref(),
        Some("release command exited with 1")
    );
}

#[tokio::test]
async fn the_formation_keeps_quantities_it_has() {
    let (_dir, store) = temp_store().await;
    let owner = store
        .create_user("o@example.com", None, false)
        .await
        .unwrap();
    let app = store
        .create_app("demo", owner.id, &audit("app.create"))
        .await
        .unwrap();
    store
        .add_to_formation(app.id, &[("web".into(), 1), ("worker".into(), 0)])
        .await
        .unwrap();
    store
        .add_to_formation(app.id, &[("web".into(), 5), ("clock".into(), 0)])
        .await
        .unwrap();
    let formation = store.formation(app.id).await.unwrap();
    assert_eq!(
        formation,
        [("clock".into(), 0), ("web".into(), 1), ("worker".into(), 0)]
    );
}

#[tokio::test]
async fn one_deploy_lease_per_app_until_given_back_or_expired() {
    let (_dir, store) = temp_store().await;
    let owner = store
        .create_user("o@example.com", None, false)
        .await
        .unwrap();
    let app = store
        .create_app("demo", owner.id, &audit("app.create"))
        .await
        .unwrap();
    let minute = chrono::Duration::minutes(1);
    assert!(store
        .acquire_deploy_lease(app.id, "push-a", minute)
        .await
        .unwrap());
    assert!(!store
        .acquire_deploy_lease(app.id, "push-b", minute)
        .await
        .unwrap());
    assert!(
        store
            .acquire_deploy_lease(app.id, "push-a", minute)
            .await
            .unwrap(),
        "renewal"
    );
    store.release_deploy_lease(app.id, "push-a").await.unwrap();
    assert!(store
        .acquire_deploy_lease(app.id, "push-b", -minute)
        .await
        .unwrap());
    assert!(
        store
            .acquire_deploy_lease(app.id, "push-c", minute)
            .await
            .unwrap(),
        "b's expired"
    );
}

#[tokio::test]
async fn config_vars_are_replaced_whole_and_scaling_sets_quantities() {
    let (_dir, store) = temp_store().await;
    let owner = store
        .create_user("o@example.com", None, false)
        .await
        .unwrap();
    let app = store
        .create_app("demo", owner.id, &audit("app.create"))
        .await
        .unwrap();
    let vars = vec![
        ("A".to_string(), "sealed-a".to_string()),
        ("B".to_string(), "sealed-b".to_string()),
    ];
    store.replace_config_vars(app.id, &vars).await.unwrap();
    store.replace_config_vars(app.id, &vars[1..]).await.unwrap();
    assert_eq!(store.config_vars(app.id).await.unwrap(), &vars[1..]);

    store
        .add_to_formation(app.id, &[("web".into(), 1)])
        .await
        .unwrap();
    store
        .set_formation(app.id, &[("web".into(), 3), ("worker".into(), 2)])
        .await
        .unwrap();
    assert_eq!(
        store.formation(app.id).await.unwrap(),
        [("web".into(), 3), ("worker".into(), 2)]
    );
}

#[tokio::test]
async fn two_processes_may_open_a_new_store_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = Store::sqlite_url(dir.path());
    let (first, second) = tokio::join!(Store::open(&url), Store::open(&url));
    first.unwrap();
    second.unwrap();
}

#[tokio::test]
async fn an_app_always_keeps_an_owner() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    let bob = store
        .create_user("bob@example.com", None, false)
        .await
        .unwrap();
    let app = store
        .create_app("demo", alice.id, &audit("app.create"))
        .await
        .unwrap();
    store
        .add_member(app.id, bob.id, AppRole::Viewer, &audit("access.add"))
        .await
        .unwrap();
    let again = store
        .add_member(app.id, bob.id, AppRole::Admin, &audit("access.add"))
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again}");

    for change in [None, Some(AppRole::Admin)] {
        assert_eq!(
            store
                .change_member(app.id, alice.id, change, &audit("access.change"))
                .await
                .unwrap(),
            MembershipChange::LastOwner
        );
    }
    let members = store.members(app.id).await.unwrap();
    let roles: Vec<_> = members.iter().map(|m| (m.email.as_str(), m.role)).collect();
    assert_eq!(
        roles,
        [
            ("alice@example.com", AppRole::Owner),
            ("bob@example.com", AppRole::Viewer)
        ]
    );

    store
        .change_member(
            app.id,
            bob.id,
            Some(AppRole::Owner),
            &audit("access.update"),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .change_member(app.id, alice.id, None, &audit("access.remove"))
            .await
            .unwrap(),
        MembershipChange::Done
    );
    assert_eq!(
        store
            .change_member(app.id, alice.id, None, &audit("access.remove"))
            .await
            .unwrap(),
        MembershipChange::NotAMember
    );
    let actions: Vec<_> = store
        .audit_trail(Some(app.id))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.action)
        .collect();
    assert_eq!(
        actions,
        ["app.create", "access.add", "access.update", "access.remove"],
        "refused changes leave no entry"
    );
}

#[tokio::test]
async fn removing_a_sole_owner_needs_an_heir() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    let bob = store
        .create_user("bob@example.com", None, false)
        .await
        .unwrap();
    let solo = store
        .create_app("solo", alice.id, &audit("app.create"))
        .await
        .unwrap();
    let shared = store
        .create_app("shared", alice.id, &audit("app.create"))
        .await
        .unwrap();
    store
        .add_member(shared.id, bob.id, AppRole::Owner, &audit("access.add"))
        .await
        .unwrap();

    assert_eq!(
        store
            .remove_user(alice.id, None, &audit("user.remove"))
            .await
            .unwrap(),
        UserRemoval::LastOwnerOf(vec!["solo".into()])
    );
    assert_eq!(store.count_users().await.unwrap(), 2, "nothing changed");

    assert_eq!(
        store
            .remove_user(alice.id, Some(bob.id), &audit("user.remove"))
            .await
            .unwrap(),
        UserRemoval::Removed {
            passed_on: vec!["solo".into()]
        }
    );
    let (_, role) = store.app_with_role("solo", bob.id).await.unwrap().unwrap();
    assert_eq!(role, Some(AppRole::Owner));
    assert_eq!(store.members(solo.id).await.unwrap().len(), 1);
    let emails: Vec<_> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(emails, ["bob@example.com"]);
    assert_eq!(
        store
            .remove_user(alice.id, None, &audit("user.remove"))
            .await
            .unwrap(),
        UserRemoval::NoSuchUser
    );
    let trail = store.audit_trail(None).await.unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.entry.action == "user.remove")
            .count(),
        1
    );
    assert!(
        trail
            .iter()
            .any(|e| e.entry.actor_email.as_deref() == Some("alice@example.com")),
        "the trail keeps naming removed users"
    );
}

#[tokio::test]
async fn addons_are_unique_attach_once_per_app_and_keep_their_owner_from_deletion() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    let web = store
        .create_app("web", alice.id, &audit("app.create"))
        .await
        .unwrap();
    let worker = store
        .create_app("worker", alice.id, &audit("app.create"))
        .await
        .unwrap();
    let new = NewAddon {
        name: "postgres-one",
        service: "postgres",
        plan: "standard",
        provider_mode: "server",
        credentials_sealed: "sealed",
        app_id: web.id,
        as_name: "DATABASE",
    };
    let addon = store
        .create_addon(&new, &audit("addons.create"))
        .await
        .unwrap();
    assert_eq!(addon.app_name, "web");
    let again = store
        .create_addon(&new, &audit("addons.create"))
        .await
        .unwrap_err();
    assert_eq!(
        again.to_string(),
        "an add-on named postgres-one already exists"
    );

    store
        .attach_addon(addon.id, worker.id, "DATABASE", &audit("addons.attach"))
        .await
        .unwrap();
    let twice = store
        .attach_addon(addon.id, worker.id, "OTHER", &audit("addons.attach"))
        .await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let attached: Vec<(String, String)> = store
        .addon_attachments(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.app_name, t.as_name))
        .collect();
    assert_eq!(
        attached,
        [
            ("web".to_string(), "DATABASE".to_string()),
            ("worker".to_string(), "DATABASE".to_string())
        ]
    );

    // The owning app cannot go while its add-on is recorded; an attached one can.
    assert!(store
        .delete_app(web.id, &audit("app.destroy"))
        .await
        .is_err());
    store
        .delete_app(worker.id, &audit("app.destroy"))
        .await
        .unwrap();
    assert_eq!(store.addon_attachments(None).await.unwrap().len(), 1);
    assert!(store
        .detach_addon(addon.id, web.id, &audit("addons.detach"))
        .await
        .unwrap());
    store
        .delete_addon(addon.id, &audit("addons.destroy"))
        .await
        .unwrap();
    assert_eq!(store.addon("postgres-one").await.unwrap(), None);
    store
        .delete_app(web.id, &audit("app.destroy"))
        .await
        .unwrap();
}

#[tokio::test]
async fn audit_pruning_drops_entries_past_their_age_and_beyond_the_count() {
    let (_dir, store) = temp_store().await;
    for action in ["old.1", "old.2"] {
        store.record_audit(&audit(action)).await.unwrap();
    }
    let old = store.audit_trail(None).await.unwrap();
    // Entries are stamped in milliseconds: a cutoff after the last old one.
    let cutoff = old.last().unwrap().at + chrono::Duration::milliseconds(1);
    while chrono::Utc::now() < cutoff {
        tokio::task::yield_now().await;
    }
    for action in ["new.1", "new.2", "new.3"] {
        store.record_audit(&audit(action)).await.unwrap();
    }
    assert_eq!(store.prune_audit(cutoff, 100).await.unwrap(), 2);
    let actions = |trail: Vec<AuditEvent>| -> Vec<String> {
        trail.into_iter().map(|event| event.entry.action).collect()
    };
    assert_eq!(
        actions(store.audit_trail(None).await.unwrap()),
        ["new.1", "new.2", "new.3"]
    );
    assert_eq!(store.prune_audit(cutoff, 2).await.unwrap(), 1);
    assert_eq!(
        actions(store.audit_trail(None).await.unwrap()),
        ["new.2", "new.3"]
    );
    let newest = store.audit_page(None, None, Some(1)).await.unwrap();
    assert_eq!(actions(newest.clone()), ["new.3"]);
    let before = store
        .audit_page(None, Some(newest[0].id), Some(5))
        .await
        .unwrap();
    assert_eq!(actions(before), ["new.2"]);
}

#[tokio::test]
async fn volumes_and_limits_belong_to_their_app_and_go_with_it() {
    let (_dir, store) = temp_store().await;
    let owner = store
        .create_user("o@example.com", None, false)
        .await
        .unwrap();
    let app = store
        .create_app("demo", owner.id, &audit("app.create"))
        .await
        .unwrap();
    let volume = |name, path| NewVolume {
        app_id: app.id,
        name,
        process_type: "web",
        path,
        host: "default",
    };
    let uploads = store
        .add_volume(&volume("uploads", "/data"), Some(&audit("volume.create")))
        .await
        .unwrap();
    assert_eq!(
        (uploads.name.as_str(), uploads.host.as_str()),
        ("uploads", "default")
    );
    for clash in [volume("uploads", "/other"), volume("more", "/data")] {
        assert!(matches!(
            store.add_volume(&clash, None).await,
            Err(StoreError::Conflict(_))
        ));
    }
    assert_eq!(store.volumes(app.id).await.unwrap(), vec![uploads]);

    let memory = berth_core::Limits {
        memory_bytes: Some(64 << 20),
        nano_cpus: None,
    };
    let cpus = berth_core::Limits {
        memory_bytes: None,
        nano_cpus: Some(1_500_000_000),
    };
    store
        .set_process_limits(app.id, "web", memory)
        .await
        .unwrap();
    store.set_process_limits(app.id, "web", cpus).await.unwrap();
    assert_eq!(
        store.process_limits(app.id).await.unwrap(),
        vec![("web".to_string(), memory.overlaid_with(cpus))]
    );

    assert!(!store
        .remove_volume(app.id, "nope", &audit("volume.destroy"))
        .await
        .unwrap());
    store
        .delete_app(app.id, &audit("app.destroy"))
        .await
        .unwrap();
    assert!(store.volumes(app.id).await.unwrap().is_empty());
    assert!(store.process_limits(app.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn store_operations_are_timed_under_their_own_name() {
    let (_dir, store) = temp_store().await;
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register(
        "berth_store_query_duration_seconds",
        "Store operations",
        store_query_durations().clone(),
    );
    let count = || {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text.lines()
            .find_map(|line| {
                line.strip_prefix(
                    "berth_store_query_duration_seconds_count{operation=\"count_users\"} ",
                )
            })
            .map_or(0, |count| count.parse::<u64>().unwrap())
    };
    let before = count();
    store.count_users().await.unwrap();
    assert!(count() > before);
}
