//! The Domains tab in a real browser, against a berthd with automatic TLS
//! from its own Pebble (whose mock DNS answers 127.0.0.1 for every name
//! unless told otherwise): adding domains, an invalid one refused beside
//! the form, an automatic certificate issued and one failing with Retry
//! now, Check DNS, the HTTPS switches, a certificate uploaded, and a domain
//! removed once confirmed.

use berth_testkit::{signed_certificate, unique_app_name, Pebble, PebbleOptions, TestServer};
use chrono::{Duration, Utc};
use fantoccini::Locator;

use super::browser::{create_app, Browser};

/// Days from now the uploaded certificate is valid until (it became valid
/// 30 days before that).
const MANUAL_DAYS: i64 = 20;

/// Reads the console so far, where a form sent back with a mistake (422,
/// as the page answers on purpose) is the only error Chromium may have logged.
async fn only_refusals_logged(browser: &Browser) {
    for error in browser.console_errors().await {
        assert!(
            error.contains("status of 422 (Unprocessable Entity)"),
            "{error}"
        );
    }
}

/// The Domains tab's row of `hostname`, or a part of it.
fn row(hostname: &str, part: &str) -> String {
    format!("#domains tr[data-hostname='{hostname}'] {part}")
}

// Several threads: Pebble's helpers block on HTTP calls of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_domains_tab_adds_checks_secures_and_removes_domains() {
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http.local_addr().unwrap().port();
    let pebble = tokio::task::block_in_place(|| {
        Pebble::start(PebbleOptions {
            http_port,
            certificate_validity_secs: None,
            reject_nonces: false,
        })
    });
    let server = TestServer::start_with_router_listener(http, |settings| {
        settings.https_listen = Some("127.0.0.1:0".parse().unwrap());
        settings.acme_directory = Some(pebble.directory_url.clone());
        settings.acme_ca_bundle = Some(pebble.ca_bundle.clone());
        settings.acme_email = Some("ops@example.com".into());
        settings.dns_resolver = Some(pebble.dns_address);
    });
    let token = server.create_user("dev@example.com", false, Some("correct horse"));
    let name = unique_app_name("dash-domains");
    create_app(&server, &token, &name).await;
    let tab = format!("{}/apps/{name}/domains", server.api_url);
    let browser = Browser::start().await;
    browser.open(&format!("{}/", server.api_url)).await;
    browser.sign_in_as_dev().await;
    browser.open(&tab).await;
    assert!(
        browser.text("#domains").await.is_empty(),
        "no domains to list yet"
    );

    // Added: the flash says which DNS record to create.
    browser
        .submit("#add-domain", &[("hostname", "www.example.test")])
        .await;
    let flash = browser
        .wait_for_text(".flash", "Added www.example.test", false)
        .await;
    assert!(
        flash.contains(&format!(
            "Create this DNS record at your DNS provider: www.example.test CNAME {name}."
        )) && flash.contains("A certificate is being ordered now"),
        "{flash}"
    );
    assert!(browser
        .text(&row("www.example.test", ".record"))
        .await
        .starts_with(&format!("CNAME {name}.")));

    // Not a hostname: the sentence beside the field, what was typed kept, nothing added.
    browser
        .submit("#add-domain", &[("hostname", "not a host!")])
        .await;
    let error = browser
        .wait_for_text("#hostname-error", "not a", false)
        .await;
    assert!(error.contains("\"not a host!\""), "{error}");
    let kept = browser
        .client
        .execute(
            "return document.querySelector('#add-domain input[name=hostname]').value",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(kept, "not a host!");
    assert!(!browser.text("#domains").await.contains("not a host"));
    // Taken: the same.
    browser
        .submit("#add-domain", &[("hostname", "www.example.test")])
        .await;
    browser
        .wait_for_text(
            "#hostname-error",
            &format!("www.example.test is already a domain of {name}."),
            false,
        )
        .await;
    only_refusals_logged(&browser).await;

    // One whose DNS sends the CA elsewhere (an address nothing listens on),
    // and one to upload a certificate for.
    tokio::task::block_in_place(|| pebble.set_dns_a("elsewhere.example.test", "127.0.0.2"));
    for hostname in ["elsewhere.example.test", "shop.example.test"] {
        browser.open(&tab).await;
        browser
            .submit("#add-domain", &[("hostname", hostname)])
            .await;
        browser
            .wait_for_text(".flash", &format!("Added {hostname}"), false)
            .await;
    }

    // Automatic TLS: issued for one, failing for the other, with the
    // reason and a button to try again now.
    browser
        .wait_for_text(
            &row("www.example.test", ".certificate"),
            "Automatic from Pebble",
            true,
        )
        .await;
    let failing = browser
        .wait_for_text(
            &row("elsewhere.example.test", ".certificate"),
            "Failing, next try at ",
            true,
        )
        .await;
    assert!(
        failing.contains("DNS for elsewhere.example.test does not point here")
            && failing.contains(" UTC"),
        "{failing}"
    );
    browser
        .click(&row("elsewhere.example.test", ".certificate button"))
        .await;
    browser
        .wait_for_text(
            ".flash",
            "Ordering a certificate for elsewhere.example.test now",
            false,
        )
        .await;

    // The HTTPS switches: redirecting is on from the start, HSTS off.
    let checked = browser
        .client
        .execute(
            "return [...document.querySelectorAll('#tls-settings input[type=checkbox]')]\
             .map((box) => box.name + '=' + box.checked).join(' ')",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(checked, "redirect_http=true hsts=false");
    browser
        .click("#tls-settings input[name=redirect_http]")
        .await;
    browser.click("#tls-settings input[name=hsts]").await;
    browser.click_button("Save HTTPS settings").await;
    browser
        .wait_for_text(
            ".flash",
            &format!("HTTPS of {name}: redirect from HTTP off, HSTS on."),
            false,
        )
        .await;
    let settings: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/apps/{name}/certs/settings",
            server.api_url
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        settings,
        serde_json::json!({"redirect_http": false, "hsts": true})
    );

    // A certificate whose key is another's: refused beside the form, the
    // chain kept, the key neither stored nor shown again.
    let (chain_pem, key_pem, _) = signed_certificate(&["shop.example.test"], MANUAL_DAYS);
    let (_, other_key_pem, _) = signed_certificate(&["shop.example.test"], MANUAL_DAYS);
    browser
        .submit(
            "#upload-certificate",
            &[("certificate", &chain_pem), ("private_key", &other_key_pem)],
        )
        .await;
    let refused = browser
        .wait_for_text("#certificate-error", ".", false)
        .await;
    assert!(!refused.is_empty());
    let source = browser.client.source().await.unwrap();
    let key_body = other_key_pem.lines().nth(1).unwrap();
    assert!(!source.contains(key_body), "the key is not echoed");
    assert!(source.contains(chain_pem.lines().nth(1).unwrap()));
    assert!(!browser
        .text(&row("shop.example.test", ".certificate"))
        .await
        .contains("Manual"));
    only_refusals_logged(&browser).await;
    // The right key: it serves, as Manual, with its issuer and expiry.
    let expiry_dates = [Utc::now(), Utc::now() + Duration::minutes(1)].map(|now| {
        (now + Duration::days(MANUAL_DAYS))
            .format("%Y-%m-%d")
            .to_string()
    });
    // Chosen as files: the page reads each into its field.
    let files = tempfile::tempdir().unwrap();
    for (field, pem) in [("certificate", &chain_pem), ("private_key", &key_pem)] {
        let path = files.path().join(format!("{field}.pem"));
        std::fs::write(&path, pem).unwrap();
        browser
            .client
            .find(Locator::Css(&format!(
                "#upload-certificate input[data-fills={field}]"
            )))
            .await
            .unwrap()
            .send_keys(path.to_str().unwrap())
            .await
            .unwrap();
    }
    let read = |field: &str| {
        format!("return document.querySelector('#upload-certificate [name={field}]').value")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let chain = browser
            .client
            .execute(&read("certificate"), Vec::new())
            .await;
        let key = browser
            .client
            .execute(&read("private_key"), Vec::new())
            .await;
        if chain.unwrap() == chain_pem.as_str() && key.unwrap() == key_pem.as_str() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the files are read");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    browser.click_button("Upload certificate").await;
    browser
        .wait_for_text(
            ".flash",
            "The certificate serves shop.example.test now",
            false,
        )
        .await;
    let manual = browser
        .text(&row("shop.example.test", ".certificate"))
        .await;
    assert!(
        manual.starts_with("Manual from Berth test manual CA, expires ")
            && manual.ends_with(" UTC")
            && expiry_dates.iter().any(|date| manual.contains(date)),
        "{manual}"
    );

    // Check DNS: what `berth domains:info` says.
    browser
        .click(&row("www.example.test", "form[method=get] button"))
        .await;
    let check = browser
        .wait_for_text("#dns-check", "DNS of www.example.test", false)
        .await;
    assert!(
        check.contains(&format!("CNAME {name}.")) && check.contains("Automatic from Pebble"),
        "{check}"
    );
    for (fact, says) in [
        ("resolver", pebble.dns_address.to_string()),
        ("found", "127.0.0.1".to_string()),
        ("points-here", "yes".to_string()),
    ] {
        let text = browser.text(&format!("#dns-check .{fact}")).await;
        assert_eq!(text, says, "{fact} in {check}");
    }
    // A hostname that is not one of the app's is said so, where the check would be.
    browser
        .open(&format!("{tab}?check=nowhere.example.test"))
        .await;
    browser
        .wait_for_text(
            "#dns-check .field-error",
            &format!("nowhere.example.test is not a domain of {name}."),
            false,
        )
        .await;
    browser.client.back().await.unwrap();
    // Tall enough for the whole tab: the check, the domains and the forms.
    browser.client.set_window_size(1280, 2100).await.unwrap();
    browser.shot("domains").await;
    assert_eq!(browser.console_errors().await, Vec::<String>::new());

    // On a phone: one block per domain, nothing wider than the screen (the
    // window tall enough to show the forms too).
    browser.client.set_window_size(390, 2600).await.unwrap();
    browser.open(&tab).await;
    assert!(!browser.scrolls_sideways().await);
    browser.shot("domains-phone").await;
    browser.client.set_window_size(1280, 1000).await.unwrap();

    // Removing asks for the hostname typed again.
    browser.open(&tab).await;
    for (typed, outcome) in [
        (
            "shop",
            "Type the hostname, shop.example.test, to remove it.",
        ),
        ("shop.example.test", "Removed shop.example.test from"),
    ] {
        browser
            .click(&row("shop.example.test", "details.remove-domain summary"))
            .await;
        browser
            .submit(
                &row("shop.example.test", "details.remove-domain form"),
                &[("confirm", typed)],
            )
            .await;
        browser.wait_for_text(".flash", outcome, false).await;
    }
    assert!(!browser.has(&row("shop.example.test", "td")).await);
    assert!(browser.has(&row("www.example.test", "td")).await);
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
}
