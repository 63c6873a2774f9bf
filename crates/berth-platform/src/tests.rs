//! The use cases against a real store and real repositories in a temporary data directory.

use super::*;
use chrono::Duration;

async fn platform() -> (tempfile::TempDir, Platform) {
    let dir = tempfile::tempdir().unwrap();
    let config = PlatformConfig {
        data_dir: dir.path().join("data"),
        log_dir: None,
        database_url: None,
        secret_key: None,
        release_timeout: std::time::Duration::from_secs(60),
        boot_timeout: std::time::Duration::from_secs(60),
        base_domain: "localhost".into(),
        host_name: berth_core::HostName::default(),
        dns_resolver: None,
        edge_addresses: Vec::new(),
        image_retention: 10,
        log_retention: crate::Retention::default(),
        max_push_bytes: 1 << 30,
        release_output_bytes: 1 << 20,
        build_timeout: std::time::Duration::from_secs(1800),
        addons: AddonSettings::default(),
        quotas: Quotas::default(),
        reserved_hostnames: vec!["berth.example.com".into()],
        audit_retention: AuditRetention::default(),
        cluster: crate::ClusterSettings::default(),
        metrics_token: None,
    };
    let platform = Platform::open(&config).await.unwrap();
    (dir, platform)
}

async fn signed_in(platform: &Platform, email: &str, admin: bool) -> Session {
    let issued = platform
        .create_user(email, admin, Some("pw"), "test")
        .await
        .unwrap();
    platform
        .authenticate(&issued.token, "127.0.0.1")
        .await
        .unwrap()
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
    let session = platform
        .authenticate(&issued.token, "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(session.actor.email, "alice@example.com");
    assert_eq!(session.actor.scope, TokenScope::Full);

    platform.logout(&session).await.unwrap();
    assert!(matches!(
        platform.authenticate(&issued.token, "127.0.0.1").await,
        Err(PlatformError::Unauthorized(_))
    ));
    let tampered = format!("{}0", &issued.token[..issued.token.len() - 1]);
    assert!(platform.authenticate(&tampered, "127.0.0.1").await.is_err());
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
        .create_token(&alice.actor, "ci", TokenScope::Read, None)
        .await
        .unwrap();
    let reader = platform
        .authenticate(&read.token, "127.0.0.1")
        .await
        .unwrap();
    let refused = platform
        .create_app(&reader.actor, Some("demo"))
        .await
        .unwrap_err();
    assert!(matches!(refused, PlatformError::Forbidden(_)), "{refused}");
    assert!(platform
        .create_token(&reader.actor, "more", TokenScope::Full, None)
        .await
        .is_err());

    let expired = platform
        .create_token(
            &alice.actor,
            "old",
            TokenScope::Full,
            Some(Duration::seconds(-1)),
        )
        .await
        .unwrap();
    assert!(platform
        .authenticate(&expired.token, "127.0.0.1")
        .await
        .is_err());

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
    platform.revoke_token(&alice.actor, &read.id).await.unwrap();
    assert!(platform
        .authenticate(&read.token, "127.0.0.1")
        .await
        .is_err());
    assert!(matches!(
        platform.revoke_token(&alice.actor, &read.id).await,
        Err(PlatformError::NotFound(_))
    ));
}

#[tokio::test]
async fn apps_are_created_with_a_repository_and_seen_only_by_their_members() {
    let (dir, platform) = platform().await;
    let alice = signed_in(&platform, "alice@example.com", false).await.actor;
    let bob = signed_in(&platform, "bob@example.com", false).await.actor;
    let admin = signed_in(&platform, "root@example.com", true).await.actor;

    let app = platform.create_app(&alice, Some("demo")).await.unwrap();
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
        platform.destroy_app(&bob, "demo").await,
        Err(PlatformError::NotFound(_))
    ));
    assert!(platform.apps(&bob).await.unwrap().is_empty());
    assert_eq!(platform.apps(&admin).await.unwrap().len(), 1);

    let taken = platform.create_app(&bob, Some("demo")).await.unwrap_err();
    assert_eq!(
        taken.to_string(),
        "the name demo is already taken: choose another"
    );
    let invalid = platform.create_app(&bob, Some("Demo")).await.unwrap_err();
    assert!(matches!(invalid, PlatformError::Invalid(_)));
    assert!(
        platform.apps(&bob).await.unwrap().is_empty(),
        "failed creations leave nothing"
    );

    let random = platform.create_app(&bob, None).await.unwrap();
    assert!(AppName::parse(&random.name).is_ok());

    platform.destroy_app(&alice, "demo").await.unwrap();
    assert!(!dir.path().join("data/repos/demo.git").exists());
    assert!(matches!(
        platform.app(&alice, "demo").await,
        Err(PlatformError::NotFound(_))
    ));
}

#[tokio::test]
async fn every_change_is_audited_without_secrets() {
    let (_dir, platform) = platform().await;
    let mut admin = signed_in(&platform, "root@example.com", true).await.actor;
    admin.source = "10.0.0.7".into();
    platform.create_app(&admin, Some("demo")).await.unwrap();
    platform.destroy_app(&admin, "demo").await.unwrap();
    let _ = platform
        .login("root@example.com", "wrong-password", "cli", "10.0.0.9")
        .await;

    let trail = platform.audit_trail(&admin, None).await.unwrap();
    let actions: Vec<_> = trail.iter().map(|e| e.entry.action.as_str()).collect();
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
    assert_eq!(trail[2].entry.source, "10.0.0.7");
    assert_eq!(trail[2].entry.app_name.as_deref(), Some("demo"));
    assert!(trail
        .iter()
        .all(|e| !e.entry.detail.contains("wrong-password") && !e.entry.detail.contains("berth_")));

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
        log_dir: None,
        database_url: None,
        secret_key: None,
        release_timeout: std::time::Duration::from_secs(60),
        boot_timeout: std::time::Duration::from_secs(60),
        base_domain: "localhost".into(),
        host_name: berth_core::HostName::default(),
        dns_resolver: None,
        edge_addresses: Vec::new(),
        image_retention: 10,
        log_retention: crate::Retention::default(),
        max_push_bytes: 1 << 30,
        release_output_bytes: 1 << 20,
        build_timeout: std::time::Duration::from_secs(1800),
        addons: AddonSettings::default(),
        quotas: Quotas::default(),
        reserved_hostnames: vec!["berth.example.com".into()],
        audit_retention: AuditRetention::default(),
        cluster: crate::ClusterSettings::default(),
        metrics_token: None,
    };
    let platform = Platform::open(&config).await.unwrap();
    let owner = signed_in(&platform, "o@example.com", false).await.actor;
    platform.create_app(&owner, Some("demo")).await.unwrap();
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
    platform
        .add_domain(&owner, "demo", "shop.example.test")
        .await
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["shop.example.test".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    platform
        .add_certificate(&owner, "demo", &certificate.pem(), &key.serialize_pem())
        .await
        .unwrap();
    let credentials = AddonCredentials {
        url: "postgres://login:pw@127.0.0.1:5432/db".into(),
        username: "login".into(),
        password: "pw".into(),
        resource: "db".into(),
        owner: Some("db_owner".into()),
        container: None,
    };
    let addon = berth_store::NewAddon {
        name: "postgres-demo",
        service: "postgres",
        plan: "standard",
        provider_mode: "server",
        credentials_sealed: &platform
            .seal_credentials("postgres-demo", &credentials)
            .unwrap(),
        app_id: app.id,
        as_name: "DATABASE",
    };
    let entry = crate::audit::app_entry(&owner, "demo", "addons.create", String::new());
    platform.store.create_addon(&addon, &entry).await.unwrap();
    let old_id = platform.secrets().id().to_string();

    let new_id = platform.rotate_key().await.unwrap();
    assert_ne!(new_id, old_id);
    platform.close().await;

    let reopened = Platform::open(&config).await.unwrap();
    assert_eq!(reopened.secrets().id(), new_id);
    assert_eq!(
        reopened.platform_id, platform.platform_id,
        "the platform's id, which labels its containers, outlives the key"
    );
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
    let stored = reopened.store.certificates(None).await.unwrap().remove(0);
    assert!(stored.key_sealed.starts_with(&format!("berth1:{new_id}:")));
    let opened = reopened
        .secrets()
        .open(
            &crate::certs::certificate_key_context(stored.domain_id),
            &stored.key_sealed,
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(opened).unwrap().trim(),
        key.serialize_pem().trim()
    );
    let addon = reopened
        .store
        .addon("postgres-demo")
        .await
        .unwrap()
        .unwrap();
    assert!(addon
        .credentials_sealed
        .starts_with(&format!("berth1:{new_id}:")));
    assert_eq!(reopened.open_credentials(&addon).unwrap(), credentials);
    assert!(dir.path().join("data/secret.key.previous").exists());
    assert!(!dir.path().join("data/secret.key.next").exists());
}

#[tokio::test]
async fn owners_manage_access_and_viewers_see_config_names_only() {
    let (_dir, platform) = platform().await;
    let owner = signed_in(&platform, "owner@example.com", false).await.actor;
    let viewer = signed_in(&platform, "viewer@example.com", false)
        .await
        .actor;
    platform.create_app(&owner, Some("demo")).await.unwrap();
    platform
        .set_config(
            &owner,
            "demo",
            [("SECRET".to_string(), Some("hunter2".to_string()))].into(),
            &Progress::channel().0,
        )
        .await
        .unwrap();
    assert!(matches!(
        platform.config_names(&viewer, "demo").await,
        Err(PlatformError::NotFound(_))
    ));
    platform
        .add_member(&owner, "demo", "Viewer@Example.com", AppRole::Viewer)
        .await
        .unwrap();
    assert_eq!(
        platform.config_names(&viewer, "demo").await.unwrap(),
        ["SECRET"]
    );
    assert!(matches!(
        platform.config(&viewer, "demo").await,
        Err(PlatformError::Forbidden(_))
    ));
    assert!(matches!(
        platform
            .add_member(&viewer, "demo", "owner@example.com", AppRole::Owner)
            .await,
        Err(PlatformError::Forbidden(_))
    ));
    assert!(matches!(
        platform
            .change_member(&owner, "demo", "owner@example.com", None)
            .await,
        Err(PlatformError::Conflict(_))
    ));
    assert!(matches!(
        platform
            .add_member(&owner, "demo", "nobody@example.com", AppRole::Viewer)
            .await,
        Err(PlatformError::NotFound(_))
    ));

    let trail = platform.audit_trail(&viewer, Some("demo")).await.unwrap();
    let actions: Vec<_> = trail.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(actions, ["app.create", "config.change", "access.add"]);
    assert!(trail.iter().all(|e| !e.entry.detail.contains("hunter2")));
    assert_eq!(trail[1].entry.detail, "Set SECRET config vars");
}

#[tokio::test]
async fn repeated_sign_in_failures_are_throttled_with_one_message() {
    let (_dir, platform) = platform().await;
    platform
        .create_user("alice@example.com", false, Some("s3cret"), "test")
        .await
        .unwrap();
    for _ in 0..throttle::MAX_FAILURES {
        let refused = platform
            .login("alice@example.com", "guess", "cli", "10.0.0.1")
            .await
            .unwrap_err();
        assert!(matches!(refused, PlatformError::Unauthorized(_)));
    }
    // Even the right password waits, from any address.
    let throttled = platform
        .login("alice@example.com", "s3cret", "cli", "10.0.0.2")
        .await
        .unwrap_err();
    let PlatformError::Throttled { retry_after_secs } = throttled else {
        panic!("expected throttling, got {throttled}");
    };
    assert!(retry_after_secs > 0 && retry_after_secs <= throttle::WINDOW.as_secs());
    let unknown = platform
        .login("nobody@example.com", "guess", "cli", "10.0.0.1")
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        throttled.to_string(),
        "the address is held back too, with the same words"
    );
    platform
        .login("alice@example.com", "s3cret", "cli", "10.0.0.3")
        .await
        .unwrap_err();
}

#[tokio::test]
async fn users_are_managed_by_platform_admins_and_sole_owners_need_an_heir() {
    let (_dir, platform) = platform().await;
    let admin = signed_in(&platform, "root@example.com", true).await.actor;
    let member = signed_in(&platform, "bob@example.com", false).await.actor;
    assert!(matches!(
        platform
            .add_user(&member, "eve@example.com", true, None)
            .await,
        Err(PlatformError::Forbidden(_))
    ));
    platform
        .add_user(&admin, "carol@example.com", false, None)
        .await
        .unwrap();
    platform.create_app(&member, Some("bobs")).await.unwrap();
    assert!(matches!(
        platform
            .remove_user(&admin, "bob@example.com", None)
            .await,
        Err(PlatformError::Conflict(message)) if message.contains("bobs")
    ));
    assert!(matches!(
        platform.remove_user(&admin, "root@example.com", None).await,
        Err(PlatformError::Invalid(_))
    ));
    let passed_on = platform
        .remove_user(&admin, "bob@example.com", Some("carol@example.com"))
        .await
        .unwrap();
    assert_eq!(passed_on, ["bobs"]);
    let emails: Vec<_> = platform
        .users(&admin)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(emails, ["root@example.com", "carol@example.com"]);
    let trail = platform.audit_trail(&admin, None).await.unwrap();
    let created = trail
        .iter()
        .find(|e| e.entry.action == "user.create" && e.entry.detail.starts_with("carol"))
        .unwrap();
    assert_eq!(
        created.entry.actor_email.as_deref(),
        Some("root@example.com")
    );
    assert!(trail.iter().any(|e| e.entry.action == "user.remove"));
}

#[tokio::test]
async fn a_hostname_belongs_to_one_app_and_the_conflict_names_no_app() {
    let (_dir, platform) = platform().await;
    let alice = signed_in(&platform, "alice@example.com", false).await.actor;
    let bob = signed_in(&platform, "bob@example.com", false).await.actor;
    platform.create_app(&alice, Some("shop")).await.unwrap();
    platform.create_app(&bob, Some("copycat")).await.unwrap();
    let added = platform
        .add_domain(&alice, "shop", "Shop.Example.TEST")
        .await
        .unwrap();
    assert_eq!(added.hostname, "shop.example.test");
    assert_eq!(
        added.record,
        crate::DnsRecord::Cname("shop.localhost".into())
    );
    let taken = platform
        .add_domain(&bob, "copycat", "shop.example.test")
        .await;
    match taken {
        Err(PlatformError::Conflict(message)) => {
            assert_eq!(
                message,
                "shop.example.test is already in use by another app"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(platform.domains(&bob, "copycat").await.unwrap().is_empty());
    let trail = platform.audit_trail(&alice, Some("shop")).await.unwrap();
    assert!(trail
        .iter()
        .any(|event| event.entry.action == "domains.add"
            && event.entry.detail == "shop.example.test"));
}

#[tokio::test]
async fn bad_and_reserved_hostnames_are_refused_and_nothing_is_stored() {
    let (_dir, platform) = platform().await;
    let alice = signed_in(&platform, "alice@example.com", false).await.actor;
    platform.create_app(&alice, Some("shop")).await.unwrap();
    for (hostname, says) in [
        ("*.example.test", "DNS-01"),
        ("under_score.example.test", "letters, digits and dashes"),
        ("example", "at least two labels"),
        ("other.localhost", "reserved for apps"),
        ("localhost.", "at least two labels"),
    ] {
        match platform.add_domain(&alice, "shop", hostname).await {
            Err(PlatformError::Invalid(message)) => {
                assert!(message.contains(says), "{hostname}: {message}");
            }
            other => panic!("{hostname}: expected it refused, got {other:?}"),
        }
    }
    assert!(platform.domains(&alice, "shop").await.unwrap().is_empty());
}

#[tokio::test]
async fn deployers_see_domains_but_do_not_change_them() {
    let (_dir, platform) = platform().await;
    let owner = signed_in(&platform, "owner@example.com", false).await.actor;
    let deployer = signed_in(&platform, "dep@example.com", false).await.actor;
    platform.create_app(&owner, Some("shop")).await.unwrap();
    platform
        .add_member(&owner, "shop", "dep@example.com", AppRole::Deployer)
        .await
        .unwrap();
    platform
        .add_domain(&owner, "shop", "www.example.test")
        .await
        .unwrap();
    assert_eq!(platform.domains(&deployer, "shop").await.unwrap().len(), 1);
    assert!(matches!(
        platform
            .remove_domain(&deployer, "shop", "www.example.test")
            .await,
        Err(PlatformError::Forbidden(_))
    ));
    platform
        .remove_domain(&owner, "shop", "www.example.test")
        .await
        .unwrap();
    assert!(matches!(
        platform
            .remove_domain(&owner, "shop", "www.example.test")
            .await,
        Err(PlatformError::NotFound(_))
    ));
}

/// What a test started on the local engine (containers by name, an image by
/// tag), removed when it ends, also when it fails.
struct EngineLeftovers {
    containers: Vec<String>,
    image: String,
}

impl Drop for EngineLeftovers {
    fn drop(&mut self) {
        let docker = |args: &[&str]| {
            std::process::Command::new("docker")
                .args(args)
                .output()
                .ok();
        };
        for name in &self.containers {
            docker(&["rm", "-f", "-v", name]);
        }
        docker(&["rmi", "-f", &self.image]);
    }
}

/// Builds an image holding a static busybox (Debian's `busybox-static`)
/// with the docker CLI; nothing can be pulled here.
fn build_busybox_image(dir: &std::path::Path, tag: &str) {
    let context = dir.join("busybox-image");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::copy("/bin/busybox", context.join("busybox")).expect("busybox-static is installed");
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n",
    )
    .unwrap();
    let built = std::process::Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(&context)
        .output()
        .expect("the docker CLI runs");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

#[tokio::test]
async fn running_dynos_report_their_use_from_the_engine_and_one_offs_are_left_out() {
    use berth_docker::{Attachment, ContainerSpec, Engine, EngineTarget, ProcessIdentity};
    let (dir, platform) = platform().await;
    let engine = Engine::connect(&EngineTarget::local())
        .await
        .expect("a Docker engine runs here");
    let platform = platform.with_engine(engine.clone());
    let id = &platform.platform_id;
    let leftovers = EngineLeftovers {
        containers: vec![
            format!("berth-test-{id}-web.1"),
            format!("berth-test-{id}-run.1"),
        ],
        image: format!("berth-test-stats-{id}:1"),
    };
    build_busybox_image(dir.path(), &leftovers.image);
    let web = ProcessIdentity {
        platform: id.clone(),
        app: "shop".into(),
        release: 1,
        process_type: "web".into(),
        dyno: Some("web.1".into()),
        oneoff: None,
    };
    let oneoff = ProcessIdentity {
        process_type: "run".into(),
        dyno: Some("run.1".into()),
        oneoff: Some(Attachment::Detached),
        ..web.clone()
    };
    let mut started = Vec::new();
    for (name, identity) in leftovers.containers.iter().zip([&web, &oneoff]) {
        let spec = ContainerSpec {
            name: name.clone(),
            image: leftovers.image.clone(),
            // Holds 16 MiB until the container goes: tail keeps the line it
            // is reading, and its input stays open.
            cmd: Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                "(head -c 16777216 /dev/zero; exec sleep 3600) | tail".into(),
            ]),
            labels: identity.labels(),
            ..Default::default()
        };
        started.push(engine.start_container(&spec).await.unwrap());
    }

    // The pipe takes a moment to fill: read the figures until it has.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let reported = loop {
        let stats = platform.dyno_stats().await;
        let ours: Vec<_> = stats.into_iter().filter(|s| s.app == "shop").collect();
        let full = ours.iter().any(|s| s.memory_bytes >= 12 << 20);
        if full || std::time::Instant::now() > deadline {
            break ours;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(reported.len(), 1, "the one-off is left out: {reported:#?}");
    let dyno = &reported[0];
    assert_eq!(
        (
            dyno.process_type.as_str(),
            dyno.dyno.as_str(),
            dyno.host.as_str()
        ),
        ("web", "web.1", "default"),
        "{dyno:#?}"
    );
    assert_eq!(dyno.container_id, started[0].id);
    assert!(dyno.memory_bytes >= 12 << 20, "{dyno:#?}");
    assert_eq!(dyno.memory_limit_bytes, None, "it has no limit");
    assert!(dyno.cpu_seconds_total > 0.0, "{dyno:#?}");
}
