//! The Access tab, the overview's activity sentences, and the dashboard's
//! fit and finish, in a real browser: roles given, changed and taken away
//! through the forms; every page at phone width without sideways scroll;
//! the sign-in form keeping a failed attempt's email; the live log's
//! waiting note and search.

use std::time::{Duration, Instant};

use berth_testkit::{unique_app_name, EngineCleanup, TestServer};
use fantoccini::Locator;

use crate::browser::{push_procfile_app, Browser, PATIENCE};

/// The app tabs and their path suffixes, as the tabs row lists them.
const TABS: [(&str, &str); 9] = [
    ("overview", ""),
    ("releases", "/releases"),
    ("pipeline", "/pipeline"),
    ("config", "/config"),
    ("logs", "/logs"),
    ("metrics", "/metrics"),
    ("domains", "/domains"),
    ("addons", "/addons"),
    ("access", "/access"),
];

const LONG_HOSTNAME: &str = "a-rather-long-name-for-the-storefront-of-the-shop.example.test";

/// The value of the form field at `css`.
async fn value_of(browser: &Browser, css: &str) -> String {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("nothing matches {css:?}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Runs `script` (a function body that returns a value) in the page.
async fn evaluate(browser: &Browser, script: &str) -> serde_json::Value {
    browser.client.execute(script, Vec::new()).await.unwrap()
}

#[tokio::test]
async fn access_activity_and_the_dashboards_fit_and_finish_in_a_browser() {
    let server = TestServer::start();
    let token = server.create_user("dev@example.com", false, Some("correct horse"));
    server.create_user("ann@example.com", false, None);
    let name = unique_app_name("dash-acc");
    let _cleanup = EngineCleanup::new(&name);
    crate::browser::create_app(&server, &token, &name).await;
    push_procfile_app(&server, &token, &name);
    // A scale through the API, for a "scaled" line in the activity.
    let scaled = reqwest::Client::new()
        .patch(format!("{}/api/v1/apps/{name}/formation", server.api_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"changes": ["web=2"]}))
        .send()
        .await
        .unwrap();
    assert!(scaled.status().is_success(), "{}", scaled.status());
    // A hostname long enough to wrap in the activity at phone width.
    let domain = reqwest::Client::new()
        .post(format!("{}/api/v1/apps/{name}/domains", server.api_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"hostname": LONG_HOSTNAME}))
        .send()
        .await
        .unwrap();
    assert!(domain.status().is_success(), "{}", domain.status());
    let browser = Browser::start().await;
    let page = |path: &str| format!("{}{path}", server.api_url);

    // A failed sign-in says why beside the card, the email still typed in.
    browser.open(&page("/")).await;
    browser
        .submit(
            "#sign-in",
            &[("email", "dev@example.com"), ("password", "wrong horse")],
        )
        .await;
    browser
        .wait_for_text(".flash-error", "Invalid email or password.", false)
        .await;
    assert_eq!(
        value_of(&browser, "#sign-in input[name=email]").await,
        "dev@example.com"
    );
    assert_eq!(
        value_of(&browser, "#sign-in input[name=password]").await,
        ""
    );
    let aligned = "const flash = document.querySelector('.flash').getBoundingClientRect();
        const card = document.querySelector('.card.narrow').getBoundingClientRect();
        return Math.abs(flash.left - card.left) < 1 && Math.abs(flash.width - card.width) < 1;";
    let edges = "const flash = document.querySelector('.flash').getBoundingClientRect();
        const card = document.querySelector('.card.narrow').getBoundingClientRect();
        return [flash.left, flash.width, card.left, card.width].join(' ');";
    assert_eq!(
        evaluate(&browser, aligned).await,
        true,
        "flash and card align: {}",
        evaluate(&browser, edges).await
    );
    browser.shot("sign-in-failed").await;
    browser.client.set_window_size(390, 844).await.unwrap();
    assert_eq!(
        evaluate(&browser, aligned).await,
        true,
        "and at phone width"
    );
    assert!(!browser.scrolls_sideways().await);
    browser.shot("sign-in-failed-phone").await;
    browser.client.set_window_size(1280, 1000).await.unwrap();
    browser
        .submit("#sign-in", &[("password", "correct horse")])
        .await;
    browser
        .wait_for_text(".flash", "Signed in as dev@example.com.", false)
        .await;

    // Give ann a role, change it, take it away.
    let access = page(&format!("/apps/{name}/access"));
    browser.open(&access).await;
    browser
        .submit(
            "#grant-access",
            &[("email", "ann@example.com"), ("role", "viewer")],
        )
        .await;
    browser
        .wait_for_text(
            ".flash",
            &format!("ann@example.com is now a viewer of {name}."),
            false,
        )
        .await;
    let ann_row = "#members tr:has(input[value='ann@example.com'])";
    assert!(browser.text(ann_row).await.contains("ann@example.com"));
    browser
        .submit(
            &format!("{ann_row} form.member-role"),
            &[("role", "deployer")],
        )
        .await;
    browser
        .wait_for_text(
            ".flash",
            &format!("ann@example.com is now a deployer of {name}."),
            false,
        )
        .await;
    assert_eq!(
        value_of(&browser, &format!("{ann_row} select[name=role]")).await,
        "deployer"
    );
    browser.shot("access-forms").await;
    // Declining the confirmation sends nothing.
    evaluate(&browser, "window.confirm = () => false;").await;
    browser
        .click(&format!("{ann_row} button.button-danger"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        browser.has(ann_row).await,
        "a declined removal removes no one"
    );
    evaluate(&browser, "window.confirm = () => true;").await;
    browser
        .click(&format!("{ann_row} button.button-danger"))
        .await;
    browser
        .wait_for_text(
            ".flash",
            &format!("ann@example.com no longer has access to {name}."),
            false,
        )
        .await;
    assert!(!browser.text("#members").await.contains("ann@example.com"));
    // An unknown email: the sentence beside the form, the email kept.
    browser
        .submit(
            "#grant-access",
            &[("email", "nobody@example.com"), ("role", "admin")],
        )
        .await;
    browser
        .wait_for_text(
            "#grant-error",
            "No user with email nobody@example.com.",
            false,
        )
        .await;
    assert_eq!(
        value_of(&browser, "#grant-access input[name=email]").await,
        "nobody@example.com"
    );
    assert_eq!(
        value_of(&browser, "#grant-access select[name=role]").await,
        "admin"
    );
    browser.shot("access-refused").await;
    // The refused form's page comes with its 422, which Chromium logs; nothing else.
    let errors = browser.console_errors().await;
    assert!(
        errors.iter().all(|error| error.ends_with(
            "/access - Failed to load resource: the server responded with a status of 422 \
             (Unprocessable Entity)"
        )),
        "{errors:#?}"
    );

    // The activity reads as sentences, releases linked, exact times on hover.
    browser.open(&page(&format!("/apps/{name}"))).await;
    let activity = browser.text(".activity").await;
    for sentence in [
        "dev@example.com scaled web 1 → 2",
        "dev@example.com deployed v1 (",
        "dev@example.com gave ann@example.com the viewer role",
        "dev@example.com changed ann@example.com's role to deployer",
        "dev@example.com took ann@example.com's access away",
        &format!("dev@example.com added the domain {LONG_HOSTNAME}"),
    ] {
        assert!(activity.contains(sentence), "{sentence:?} in {activity}");
    }
    for raw in ["formation.scale", "release.deploy", "access.add"] {
        assert!(!activity.contains(raw), "{raw} in {activity}");
    }
    let exact = evaluate(
        &browser,
        "return [...document.querySelectorAll('.activity time')]
            .every((time) => /^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC$/.test(time.title)
                && time.textContent.endsWith(' ago'));",
    )
    .await;
    assert_eq!(exact, true, "relative times with the exact time on hover");
    let whole_url = evaluate(
        &browser,
        "const url = document.querySelector('.web-url dd');
        return url.scrollWidth <= url.clientWidth;",
    )
    .await;
    assert_eq!(whole_url, true, "the web URL is not cut where it fits");
    browser.shot("activity").await;
    browser
        .click(&format!(
            ".activity a[href='/apps/{name}/releases#v1'] code"
        ))
        .await;
    browser.wait_for_text("tr#v1", "v1", false).await;
    assert!(browser
        .client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with("/releases#v1"));

    // An open release output scrolls inside the releases card.
    evaluate(
        &browser,
        "document.querySelectorAll('details.output').forEach((d) => { d.open = true; });",
    )
    .await;
    let contained = "const card = document.querySelector('#releases').closest('.card');
        return card.scrollWidth <= card.clientWidth;";
    assert_eq!(evaluate(&browser, contained).await, true);
    browser.shot("releases-output").await;

    // The live log: a note while it is empty, then a search over its lines.
    browser.open(&page(&format!("/apps/{name}/logs"))).await;
    browser.wait_for_text("#log-state", "live", false).await;
    evaluate(
        &browser,
        "const filters = document.getElementById('log-filters');
        filters.elements.dyno.value = 'nothing.9';
        filters.dispatchEvent(new Event('change'));",
    )
    .await;
    browser
        .wait_for_text("#log-waiting", "Waiting for lines…", false)
        .await;
    browser.shot("logs-waiting").await;
    evaluate(
        &browser,
        "const filters = document.getElementById('log-filters');
        filters.elements.dyno.value = '';
        filters.dispatchEvent(new Event('change'));",
    )
    .await;
    let deadline = Instant::now() + PATIENCE;
    while browser.text("#log").await.is_empty() {
        assert!(Instant::now() < deadline, "no log line arrived");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(!browser.text("#log-waiting").await.contains("Waiting"));
    browser
        .client
        .find(Locator::Css("#log-search"))
        .await
        .unwrap()
        .send_keys("Scaled to")
        .await
        .unwrap();
    let filtered = evaluate(
        &browser,
        "const lines = [...document.querySelectorAll('#log .log-line')];
        const shown = lines.filter((line) => !line.classList.contains('log-miss'));
        return [lines.length, shown.length,
                shown.every((line) => line.textContent.toLowerCase().includes('scaled to'))];",
    )
    .await;
    let (all, shown) = (filtered[0].as_u64().unwrap(), filtered[1].as_u64().unwrap());
    assert!(shown >= 1 && shown < all, "{filtered}");
    assert_eq!(filtered[2], true, "{filtered}");
    assert_eq!(
        browser.text("#log-state").await,
        "live",
        "searching does not reconnect"
    );
    browser.shot("logs-search").await;
    assert_eq!(browser.console_errors().await, Vec::<String>::new());

    // Token times: relative, exact with the zone on hover; revoking asks first.
    browser.open(&page("/account")).await;
    let times = evaluate(
        &browser,
        "return [...document.querySelectorAll('#tokens time')]
            .map((time) => [time.textContent, time.title]);",
    )
    .await;
    let times = times.as_array().unwrap();
    assert!(
        times
            .iter()
            .all(|time| time[1].as_str().unwrap().ends_with(" UTC"))
            && times
                .iter()
                .any(|time| time[0].as_str().unwrap().starts_with("in 13d")),
        "{times:?} in {}",
        browser.text("#tokens").await
    );
    browser
        .submit("#create-token", &[("description", "to revoke")])
        .await;
    browser.wait_for_text("#new-token", "berth_", false).await;
    let revoke = "[...document.querySelectorAll('#tokens tr')]
        .find((row) => row.textContent.includes('to revoke'))
        .querySelector('form[data-confirm] button').click();";
    evaluate(&browser, "window.confirm = () => false;").await;
    evaluate(&browser, revoke).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        browser.has("#new-token").await,
        "a declined revoke sends nothing"
    );
    evaluate(&browser, "window.confirm = () => true;").await;
    evaluate(&browser, revoke).await;
    browser
        .wait_for_text(".flash", "Revoked token", false)
        .await;
    assert!(!browser.text("#tokens").await.contains("to revoke"));
    browser.shot("account-times").await;

    // At phone width no page scrolls sideways; the tabs scroll in their row.
    browser.client.set_window_size(390, 844).await.unwrap();
    for (label, suffix) in TABS {
        browser.open(&page(&format!("/apps/{name}{suffix}"))).await;
        assert!(browser.has(".tabs a.active").await, "{label}");
        assert!(
            !browser.scrolls_sideways().await,
            "{label} scrolls sideways"
        );
        browser.shot(&format!("{label}-phone")).await;
    }
    browser.open(&page(&format!("/apps/{name}"))).await;
    let hint = evaluate(
        &browser,
        "const tabs = document.querySelector('.tabs');
        return [tabs.scrollWidth > tabs.clientWidth, tabs.classList.contains('more-after')];",
    )
    .await;
    assert_eq!(
        hint,
        serde_json::json!([true, true]),
        "a fade hints at more tabs"
    );
    let fits = evaluate(
        &browser,
        "return [...document.querySelectorAll('.activity li, .facts > div')]
            .every((item) => item.scrollWidth <= item.clientWidth);",
    )
    .await;
    assert_eq!(fits, true, "no activity line or fact overflows its card");
    evaluate(
        &browser,
        "document.querySelector('.activity').scrollIntoView();",
    )
    .await;
    browser.shot("overview-activity-phone").await;
    // The dynos table's buttons are within reach: it scrolls inside its card.
    evaluate(
        &browser,
        "document.getElementById('dynos').scrollIntoView();",
    )
    .await;
    let reachable = evaluate(
        &browser,
        "const wrapper = document.getElementById('dynos').parentElement;
        return wrapper.classList.contains('table-scroll')
            && wrapper.getBoundingClientRect().right <= window.innerWidth;",
    )
    .await;
    assert_eq!(reachable, true);
    browser.shot("overview-dynos-phone").await;
    for (label, path) in [("apps", "/apps"), ("account", "/account")] {
        browser.open(&page(path)).await;
        assert!(
            !browser.scrolls_sideways().await,
            "{label} scrolls sideways"
        );
        browser.shot(&format!("{label}-phone")).await;
    }
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser.client.clone().close().await.unwrap();
}
