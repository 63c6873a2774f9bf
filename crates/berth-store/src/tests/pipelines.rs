use super::*;
use berth_core::PipelineStage;

#[tokio::test]
async fn a_pipeline_holds_each_app_once_by_stage() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    let staging = store
        .create_app("shop-staging", alice.id, &audit("app.create"))
        .await
        .unwrap();
    let prod = store
        .create_app("shop-prod", alice.id, &audit("app.create"))
        .await
        .unwrap();
    let shop = store
        .create_pipeline(
            "shop",
            alice.id,
            prod.id,
            PipelineStage::Production,
            &audit("pipeline.create"),
        )
        .await
        .unwrap();
    store
        .add_pipeline_app(
            shop.id,
            staging.id,
            PipelineStage::Staging,
            &audit("pipeline.add"),
        )
        .await
        .unwrap();
    let apps = store.pipeline_apps(shop.id).await.unwrap();
    let stages: Vec<_> = apps
        .iter()
        .map(|a| (a.app.name.as_str(), a.stage))
        .collect();
    assert_eq!(
        stages,
        [
            ("shop-staging", PipelineStage::Staging),
            ("shop-prod", PipelineStage::Production)
        ]
    );
    let twice = store
        .create_pipeline(
            "other",
            alice.id,
            staging.id,
            PipelineStage::Staging,
            &audit("x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(twice, StoreError::Conflict(_)), "{twice}");
    assert_eq!(
        store.pipelines().await.unwrap().len(),
        1,
        "nothing half made"
    );
    let same_name = store
        .create_pipeline(
            "shop",
            alice.id,
            staging.id,
            PipelineStage::Staging,
            &audit("x"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        same_name.to_string(),
        "a pipeline named shop already exists"
    );

    assert!(store
        .remove_pipeline_app(staging.id, &audit("pipeline.remove"))
        .await
        .unwrap());
    assert!(!store
        .remove_pipeline_app(staging.id, &audit("pipeline.remove"))
        .await
        .unwrap());
    let (found, stage) = store.pipeline_of_app(prod.id).await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_str(), stage),
        ("shop", PipelineStage::Production)
    );
    store
        .delete_pipeline(shop.id, &[audit("pipeline.destroy")])
        .await
        .unwrap();
    assert_eq!(store.pipeline_of_app(prod.id).await.unwrap(), None);
    assert!(store
        .app_with_role("shop-prod", alice.id)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_review_app_gets_its_parents_members_its_pusher_as_owner_and_expires() {
    let (_dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    let bob = store
        .create_user("bob@example.com", None, false)
        .await
        .unwrap();
    let carol = store
        .create_user("carol@example.com", None, false)
        .await
        .unwrap();
    let staging = store
        .create_app("shop-staging", alice.id, &audit("app.create"))
        .await
        .unwrap();
    store
        .add_member(staging.id, bob.id, AppRole::Deployer, &audit("access.add"))
        .await
        .unwrap();
    store
        .add_member(staging.id, carol.id, AppRole::Viewer, &audit("access.add"))
        .await
        .unwrap();
    let shop = store
        .create_pipeline(
            "shop",
            alice.id,
            staging.id,
            PipelineStage::Staging,
            &audit("x"),
        )
        .await
        .unwrap();
    store
        .set_review_apps(shop.id, true, Some(60), &[audit("reviewapps.enable")])
        .await
        .unwrap();
    let review = store
        .create_review_app(
            &NewReviewApp {
                name: "shop-staging-feature-x",
                owner_id: bob.id,
                parent_app_id: staging.id,
                pipeline_id: shop.id,
                branch: "feature-x",
            },
            &[audit("reviewapp.create")],
        )
        .await
        .unwrap();
    let roles: Vec<_> = store
        .members(review.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.email, m.role))
        .collect();
    assert!(
        roles.contains(&("alice@example.com".into(), AppRole::Owner)),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("bob@example.com".into(), AppRole::Owner)),
        "{roles:?}"
    );
    assert!(
        roles.contains(&("carol@example.com".into(), AppRole::Viewer)),
        "{roles:?}"
    );
    let record = store
        .review_app_of_branch(staging.id, "feature-x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.app_name, "shop-staging-feature-x");
    assert_eq!(record.parent_name, "shop-staging");
    assert_eq!(
        store.review_app(review.id).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        store.review_apps_of(staging.id).await.unwrap(),
        std::slice::from_ref(&record)
    );
    let apps = store.pipeline_apps(shop.id).await.unwrap();
    assert_eq!(apps[0].stage, PipelineStage::Review);
    assert_eq!(apps[0].review.as_ref(), Some(&record));
    assert_eq!(apps[1].review, None);

    let now = chrono::Utc::now();
    assert!(store.expired_review_apps(now).await.unwrap().is_empty());
    let later = now + chrono::Duration::seconds(61);
    assert_eq!(store.expired_review_apps(later).await.unwrap(), [record]);
    store
        .set_review_apps(shop.id, true, None, &[audit("reviewapps.enable")])
        .await
        .unwrap();
    assert!(store.expired_review_apps(later).await.unwrap().is_empty());

    let parent_first = store
        .delete_app(staging.id, &audit("app.destroy"))
        .await
        .unwrap_err();
    assert!(
        parent_first.to_string().contains("delete app"),
        "{parent_first}"
    );
    store
        .delete_app(review.id, &audit("app.destroy"))
        .await
        .unwrap();
    assert!(store.review_apps_of(staging.id).await.unwrap().is_empty());
    store
        .delete_app(staging.id, &audit("app.destroy"))
        .await
        .unwrap();
}
