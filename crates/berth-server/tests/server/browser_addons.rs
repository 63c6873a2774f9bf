//! The Add-ons tab in a real browser, against Postgres and Redis add-on
//! servers on loopback (script/test starts them): every add-on action the
//! CLI has, from the page.

use berth_testkit::{unique_app_name, TestServer};
use fantoccini::Locator;

use super::browser::{create_app, Browser};

const POSTGRES_ADMIN_URL: &str =
    "postgres://berth_test_admin:berth-test-admin@127.0.0.1:5432/postgres";
const REDIS_ADMIN_URL: &str = "redis://default:berth-test-admin@127.0.0.1:6379";

#[tokio::test]
async fn the_addons_tab_creates_attaches_rotates_backs_up_restores_and_destroys_addons() {
    let server = TestServer::start_with(|settings| {
        settings.addon_postgres_admin_url = Some(
            std::env::var("BERTH_TEST_POSTGRES_ADMIN_URL")
                .unwrap_or_else(|_| POSTGRES_ADMIN_URL.into()),
        );
        settings.addon_redis_admin_url = Some(
            std::env::var("BERTH_TEST_REDIS_ADMIN_URL").unwrap_or_else(|_| REDIS_ADMIN_URL.into()),
        );
    });
    let token = server.create_user("dev@example.com", false, Some("correct horse"));
    let shop = unique_app_name("dash-shop");
    let worker = unique_app_name("dash-worker");
    create_app(&server, &token, &shop).await;
    create_app(&server, &token, &worker).await;
    let database = unique_app_name("dash-pg");
    let cache = unique_app_name("dash-redis");
    let browser = Browser::start().await;
    let page = |path: &str| format!("{}{path}", server.api_url);
    browser.open(&page("/")).await;
    browser.sign_in_as_dev().await;
    browser.open(&page(&format!("/apps/{shop}/addons"))).await;
    assert!(browser.has("#no-addons").await);

    // A mistake comes back beside the form, with what was typed.
    browser
        .submit(
            "#create-addon",
            &[
                ("service", "postgres"),
                ("as", "9LIVES"),
                ("name", &database),
            ],
        )
        .await;
    browser
        .wait_for_text("#create-addon-error", "--as \"9LIVES\"", false)
        .await;
    let typed = browser
        .client
        .find(Locator::Css("#create-addon input[name=name]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(typed.as_deref(), Some(database.as_str()));
    browser
        .client
        .execute(
            "document.getElementById('create-addon').scrollIntoView()",
            Vec::new(),
        )
        .await
        .unwrap();
    browser.shot("addons-create-error").await;
    // Chromium logs the page's own 422 status; nothing else may be logged.
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().all(|error| error.contains("status of 422")),
        "{errors:?}"
    );

    // A Postgres database attached under a name of our choosing.
    browser
        .submit(
            "#create-addon",
            &[
                ("service", "postgres"),
                ("plan", "standard"),
                ("as", "MAIN_DB"),
                ("name", &database),
            ],
        )
        .await;
    browser
        .wait_for_text(
            ".flash",
            &format!(
                "Created {database} (postgres:standard), attached to {shop} as MAIN_DB (MAIN_DB_URL)."
            ),
            false,
        )
        .await;
    let card = format!("#addon-{database}");
    let text = browser.text(&card).await;
    assert!(
        text.contains(&format!("{shop}::MAIN_DB")) && text.contains("sets MAIN_DB_URL"),
        "{text}"
    );
    browser.click(&format!("#reveal-{database}")).await;
    let revealed = browser
        .wait_for_text("#revealed", "postgres://", false)
        .await;
    let first_url = revealed.rsplit(' ').next().unwrap().to_string();

    // A Redis cache, attached to a second app and detached from it again.
    browser
        .submit(
            "#create-addon",
            &[("service", "redis"), ("plan", ""), ("name", &cache)],
        )
        .await;
    browser
        .wait_for_text(
            ".flash",
            &format!("Created {cache} (redis:standard), attached to {shop} as REDIS"),
            false,
        )
        .await;
    let cache_card = format!("#addon-{cache}");
    browser
        .click(&format!("{cache_card} details.addon-form summary"))
        .await;
    browser
        .submit(
            &format!("{cache_card} .attach-form"),
            &[("app", &worker), ("as", "CACHE")],
        )
        .await;
    browser
        .wait_for_text(
            ".flash",
            &format!("Attached {cache} to {worker}: CACHE_URL is set."),
            false,
        )
        .await;
    let text = browser.text(&cache_card).await;
    assert!(text.contains(&format!("{worker}::CACHE")), "{text}");
    browser
        .click(&format!(
            "{cache_card} button[aria-label='Detach {cache} from {worker}']"
        ))
        .await;
    browser
        .wait_for_text(".flash", &format!("Detached {cache} from {worker}."), false)
        .await;
    assert!(!browser
        .text(&cache_card)
        .await
        .contains(&format!("{worker}::CACHE")));

    // Rotating asks first; the URL is new afterwards.
    browser
        .click(&format!("{card} form[action$='/rotate'] button"))
        .await;
    let question = browser.client.get_alert_text().await.unwrap();
    assert!(
        question.contains(&format!("Rotate the credentials of {database}?")),
        "{question}"
    );
    browser.client.accept_alert().await.unwrap();
    browser
        .wait_for_text(
            ".flash",
            &format!("Rotated the credentials of {database}"),
            false,
        )
        .await;
    browser.click(&format!("#reveal-{database}")).await;
    let revealed = browser
        .wait_for_text("#revealed", "postgres://", false)
        .await;
    assert!(!revealed.contains(&first_url), "{revealed}");

    // A backup, listed with its time and size, downloads as a pg_dump file.
    browser.click_button("Capture now").await;
    browser
        .wait_for_text(
            ".flash",
            &format!("Captured backup b001 of {database}"),
            false,
        )
        .await;
    let backups = browser.text(&format!("{card} .backups")).await;
    assert!(
        backups.contains("b001") && backups.contains(" UTC") && backups.contains("KiB"),
        "{backups}"
    );
    browser.shot("addons").await;
    browser.client.set_window_size(390, 900).await.unwrap();
    browser.client.refresh().await.unwrap();
    browser.shot("addons-phone").await;
    assert!(!browser.scrolls_sideways().await);
    browser.client.set_window_size(1280, 1000).await.unwrap();
    // The Download form, sent as the page would send it.
    let fetched = browser
        .client
        .execute(
            "const form = document.querySelector(arguments[0]);
             return fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)) })
               .then(async (response) => ({
                 status: response.status,
                 disposition: response.headers.get('content-disposition'),
                 magic: String.fromCharCode(...new Uint8Array(await response.arrayBuffer()).slice(0, 5)),
               }));",
            vec![serde_json::json!(format!("{card} .backups form.download-form"))],
        )
        .await
        .unwrap();
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert_eq!(
        fetched["disposition"],
        format!("attachment; filename=\"{database}-b001.dump\""),
        "{fetched}"
    );
    assert_eq!(fetched["magic"], "PGDMP", "a pg_dump file: {fetched}");

    // Restoring takes the add-on's name typed again.
    browser
        .click(&format!("{card} .backups details.addon-form summary"))
        .await;
    browser
        .submit(&format!("{card} .restore-form"), &[("confirm", &database)])
        .await;
    browser
        .wait_for_text(".flash", &format!("Restored b001 into {database}."), false)
        .await;

    // Destroying too: a wrong name destroys nothing, the right one does.
    browser
        .click(&format!("{card} summary.danger-summary"))
        .await;
    browser
        .submit(&format!("{card} .destroy-form"), &[("confirm", "wrong")])
        .await;
    browser
        .wait_for_text(
            ".flash",
            &format!("Type the add-on's name, {database}, to destroy it: nothing was destroyed"),
            false,
        )
        .await;
    assert!(browser.has(&card).await);
    browser
        .click(&format!("{card} summary.danger-summary"))
        .await;
    browser
        .submit(&format!("{card} .destroy-form"), &[("confirm", &database)])
        .await;
    browser
        .wait_for_text(
            ".flash",
            &format!("Destroyed {database} and its data."),
            false,
        )
        .await;
    assert!(!browser.has(&card).await);
    assert!(browser.has(&cache_card).await);
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
}
