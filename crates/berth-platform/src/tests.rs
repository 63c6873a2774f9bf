//! The use cases against a real store and real repositories in a temporary data directory.

use super::*;
use chrono::Duration;

async fn platform() -> (tempfile::TempDir, Platform) {
    let dir = tempfile::tempdir().unwrap();
    let config = PlatformConfig {
        data_dir: dir.path().join("data"),
        database_url: None,
        secret_key: None,
        release_timeout: std::time::Duration::from_secs(60),
        boot_timeout: std::time::Duration::from_secs(60),
        base_domain: "localhost".into(),
        image_retention: 10,
        log_retention: crate::Retention::default(),
    };
    let platform = Platform::open(&config).await.unwrap();
    (dir, platform)
}

async fn signed_in(platform: &Platform, email: &str, admin: bool) -> Session {
    let issued = platform
        .create_user(email, admin, Some("pw"), "test")
        .await
        .unwrap();
    platform.authenticate(&issued.token).await.unwrap()
}

#[tokio::test]
async fn an_empty_data_dir_is_initialised_private() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, platform) = platform().await;
    assert!(platform.needs_first_user().await.unwrap());
    let data = dir.path().join("data");
    for path in ["", "repos"] {
        let mode = std::fs::metadata(data.join(path))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{path}");
    }
    assert!(data.join("berth.db").exists());
    assert!(data.join("secret.key").exists());
}

#[tokio::test]
async fn sign_in_issues_tokens_that_authenticate_until_revoked() {
    let (_dir, platform) = platform().await;
    platform
        .create_user("Alice@Example.com", false, Some("s3cret"), "test")
        .await
        .unwrap();
    let wrong = platform
        .login("alice@example.com", "nope", "cli", "127.0.0.1")
        .await
        .unwrap_err();
    let unknown = platform
        .login("bob@example.com", "s3cret", "cli", "127.0.0.1")
        .await
        .unwrap_err();
    assert_eq!(
        wrong.to_string(),
        unknown.to_string(),
        "failures must not reveal which emails exist"
    );

    let issued = platform
        .login("ALICE@example.com", "s3cret", "cli", "127.0.0.1")
        .await
        .unwrap();
    let session = platform.authenticate(&issued.token).await.unwrap();
    assert_eq!(session.actor.email, "alice@example.com");
    assert_eq!(session.actor.scope, TokenScope::Full);

    platform.logout(&session, "127.0.0.1").await.unwrap();
    assert!(matches!(
        platform.authenticate(&issued.token).await,
        Err(PlatformError::Unauthorized(_))
    ));
    let tampered = format!("{}0", &issued.token[..issued.token.len() - 1]);
    assert!(platform.authenticate(&tampered).await.is_err());
}

#[tokio::test]
async fn a_user_without_a_password_cannot_sign_in_until_one_is_set() {
    let (_dir, platform) = platform().await;
    platform
        .create_user("ops@example.com", true, None, "berthd admin")
        .await
        .unwrap();
    assert!(platform
        .login("ops@example.com", "", "cli", "x")
        .await
        .is_err());
    platform
        .set_password("ops@example.com", "finally", "berthd admin")
        .await
        .unwrap();
    platform
        .login("ops@example.com", "finally", "cli", "x")
        .await
        .unwrap();
}

#[tokio::test]
async fn tokens_carry_scope_and_expiry() {
    let (_dir, platform) = platform().await;
    let alice = signed_in(&platform, "alice@example.com", false).await;
    let read = platform
        .create_token(&alice.actor, "ci", TokenScope::Read, None, "x")
        .await
        .unwrap();
    let reader = platform.authenticate(&read.token).await.unwrap();
    let refused = platform
        .create_app(&reader.actor, Some("demo"), "x")
        .await
        .unwrap_err();
    assert!(matches!(refused, PlatformError::Forbidden(_)), "{refused}");
    assert!(platform
        .create_token(&reader.actor, "more", TokenScope::Full, None, "x")
        .await
        .is_err());

    let expired = platform
        .create_token(
            &alice.actor,
            "old",
            TokenScope::Full,
            Some(Duration::seconds(-1)),
            "x",
        )
        .await
        .unwrap();
    assert!(platform.authenticate(&expired.token).await.is_err());

    let ids: Vec<_> = platform
        .tokens(&alice.actor)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(
        ids.len(),
        3,
        "the account's first token, ci and old: {ids:?}"
    );
    platform
        .revoke_token(&alice.actor, &read.id, "x")
        .await
        .unwrap();
    assert!(platform.authenticate(&read.token).await.is_err());
    assert!(matches!(
        platform.revoke_token(&alice.actor, &read.id, "x").await,
        Err(PlatformError::NotFound(_))
    ));
}

#[tokio::test]
async fn apps_are_created_with_a_repository_and_seen_only_by_their_members() {
    let (dir, platform) = platform().await;
    let alice = signed_in(&platform, "alice@example.com", false).await.actor;
    let bob = signed_in(&platform, "bob@example.com", false).await.actor;
    let admin = signed_in(&platform, "root@example.com", true).await.actor;

    let app = platform
        .create_app(&alice, Some("demo"), "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(
        (app.name.as_str(), app.owner_email.as_str()),
        ("demo", "alice@example.com")
    );
    assert!(dir.path().join("data/repos/demo.git/HEAD").exists());

    let hidden = platform.app(&bob, "demo").await.unwrap_err();
    let missing = platform.app(&bob, "nothing-here").await.unwrap_err();
    assert_eq!(hidden.to_string(), "app demo not found");
    assert_eq!(missing.to_string(), "app nothing-here not found");
    assert!(matches!(
        platform.destroy_app(&bob, "demo", "x").await,
        Err(PlatformError::NotFound(_))
    ));
    assert!(platform.apps(&bob).await.unwrap().is_empty());
    assert_eq!(platform.apps(&admin).await.unwrap().len(), 1);

    let taken = platform
        .create_app(&bob, Some("demo"), "x")
        .await
        .unwrap_err();
    assert_eq!(
        taken.to_string(),
        "the name demo is already taken: choose another"
    );
    let invalid = platform
        .create_app(&bob, Some("Demo"), "x")
        .await
        .unwrap_err();
    assert!(matches!(invalid, PlatformError::Invalid(_)));
    assert!(
        platform.apps(&bob).await.unwrap().is_empty(),
        "failed creations leave nothing"
    );

    let random = platform.create_app(&bob, None, "x").await.unwrap();
    assert!(AppName::parse(&random.name).is_ok());

    platform
        .destroy_app(&alice, "demo", "127.0.0.1")
        .await
        .unwrap();
    assert!(!dir.path().join("data/repos/demo.git").exists());
    assert!(matches!(
        platform.app(&alice, "demo").await,
        Err(PlatformError::NotFound(_))
    ));
}

#[tokio::test]
async fn every_change_is_audited_without_secrets() {
    let (_dir, platform) = platform().await;
    let admin = signed_in(&platform, "root@example.com", true).await.actor;
    platform
        .create_app(&admin, Some("demo"), "10.0.0.7")
        .await
        .unwrap();
    platform
        .destroy_app(&admin, "demo", "10.0.0.7")
        .await
        .unwrap();
    let _ = platform
        .login("root@example.com", "wrong-password", "cli", "10.0.0.9")
        .await;

    let trail = platform.audit_trail(&admin, None).await.unwrap();
    let actions: Vec<_> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.create",
            "token.create",
            "app.create",
            "app.destroy",
            "session.fail"
        ]
    );
    assert_eq!(trail[2].source, "10.0.0.7");
    assert_eq!(trail[2].app_name.as_deref(), Some("demo"));
    assert!(trail
        .iter()
        .all(|e| !e.detail.contains("wrong-password") && !e.detail.contains("berth_")));

    let member = signed_in(&platform, "bob@example.com", false).await.actor;
    assert!(matches!(
        platform.audit_trail(&member, None).await,
        Err(PlatformError::Forbidden(_))
    ));
}

#[tokio::test]
async fn rotating_the_key_reseals_every_secret_and_keeps_them_readable() {
    let dir = tempfile::tempdir().unwrap();
    let config = PlatformConfig {
        data_dir: dir.path().join("data"),
        database_url: None,
        secret_key: None,
        release_timeout: std::time::Duration::from_secs(60),
        boot_timeout: std::time::Duration::from_secs(60),
        base_domain: "localhost".into(),
        image_retention: 10,
        log_retention: crate::Retention::default(),
    };
    let platform = Platform::open(&config).await.unwrap();
    let owner = signed_in(&platform, "o@example.com", false).await.actor;
    platform
        .create_app(&owner, Some("demo"), "x")
        .await
        .unwrap();
    let changes =
        std::collections::BTreeMap::from([("TOKEN".to_string(), Some("s3cret".to_string()))]);
    platform
        .set_config(&owner, "demo", changes, &Progress::channel().0)
        .await
        .unwrap();
    let app = platform.app(&owner, "demo").await.unwrap();
    let snapshot = std::collections::BTreeMap::from([("TOKEN".to_string(), "s3cret".to_string())]);
    let sealed = platform.seal_config(&app, &snapshot).unwrap();
    let release = berth_store::NewRelease {
        app_id: app.id,
        description: "Deploy abc",
        commit_sha: None,
        config_sealed: &sealed,
        created_by: "o@example.com",
        phase: "done",
    };
    let release = platform.store.create_release(release).await.unwrap();
    let old_id = platform.secrets().id().to_string();

    let new_id = platform.rotate_key().await.unwrap();
    assert_ne!(new_id, old_id);
    platform.close().await;

    let reopened = Platform::open(&config).await.unwrap();
    assert_eq!(reopened.secrets().id(), new_id);
    assert_eq!(
        reopened.config(&owner, "demo").await.unwrap()["TOKEN"],
        "s3cret"
    );
    let stored = reopened
        .store
        .release(app.id, release.version)
        .await
        .unwrap()
        .unwrap();
    assert!(stored
        .config_sealed
        .starts_with(&format!("berth1:{new_id}:")));
    assert_eq!(
        reopened.open_release_config(&app, &stored).unwrap(),
        snapshot
    );
    assert!(dir.path().join("data/secret.key.previous").exists());
    assert!(!dir.path().join("data/secret.key.next").exists());
}
