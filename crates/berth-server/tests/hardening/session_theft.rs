//! Stealing the dashboard session through an app: an app served on an IP
//! literal or on the dashboard's own host name would receive its cookies
//! (browsers send a host's cookies to every port), and a same-site app
//! could plant a session cookie. Such domains are refused, and over TLS the
//! session cookie is `__Host-` prefixed.

use berth_testkit::TestServer;
use reqwest::header::SET_COOKIE;
use reqwest::StatusCode;

use crate::csrf::Browser;

async fn add_domain(
    server: &TestServer,
    token: &str,
    app: &str,
    hostname: &str,
) -> (StatusCode, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/apps/{app}/domains", server.api_url))
        .bearer_auth(token)
        .json(&serde_json::json!({ "hostname": hostname }))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn ip_literal_domains_are_refused() {
    let server = TestServer::start();
    let token = server.create_user("dev@example.com", false, None);
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": "shop" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    for address in [
        "127.0.0.1",
        "127.1",
        "1.2.3.04",
        "0x7f.1",
        "2130706433",
        "::1",
        "[::1]",
        "[::ffff:127.0.0.1]",
    ] {
        let (status, body) = add_domain(&server, &token, "shop", address).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{address}: {body}"
        );
        assert_eq!(body["id"], "invalid_params", "{address}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("is an IP address") && message.contains("cookies"),
            "{address}: {message}"
        );
    }
    let domains: Vec<serde_json::Value> = client
        .get(format!("{}/api/v1/apps/shop/domains", server.api_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(domains.is_empty(), "{domains:?}");

    // A name that only starts with digits is a name.
    let (status, body) = add_domain(&server, &token, "shop", "127.example.com").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn the_dashboards_own_host_name_is_never_a_custom_domain() {
    let server = TestServer::start_with(|settings| {
        settings.base_domain = "apps.berth.test".into();
    });
    let token = server.create_user("dev@example.com", false, None);
    reqwest::Client::new()
        .post(format!("{}/api/v1/apps", server.api_url))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": "shop" }))
        .send()
        .await
        .unwrap();
    for own in ["apps.berth.test", "shop.apps.berth.test"] {
        let (status, body) = add_domain(&server, &token, "shop", own).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{own}: {body}");
    }
}

#[tokio::test]
async fn the_session_cookie_is_host_prefixed_over_tls_and_a_planted_plain_one_is_ignored() {
    let server = TestServer::start();
    server.create_user("dev@example.com", false, Some("correct horse"));

    let mut over_tls = Browser::new(&server);
    over_tls.headers.push(("x-forwarded-proto", "https".into()));
    over_tls.origin = Some(server.api_url.replacen("http://", "https://", 1));
    let token = over_tls.form_token("/").await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/sign-in", server.api_url))
        .header("x-forwarded-proto", "https")
        .header("origin", over_tls.origin.clone().unwrap())
        .header(
            "cookie",
            format!(
                "__Host-berth_presession={}",
                over_tls.cookies["__Host-berth_presession"]
            ),
        )
        .form(&[
            ("csrf", token.as_str()),
            ("email", "dev@example.com"),
            ("password", "correct horse"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<&str> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|cookie| cookie.starts_with("__Host-berth_session="))
        .unwrap_or_else(|| panic!("a __Host- session cookie: {cookies:?}"));
    assert!(
        session.contains("; Secure") && session.contains("Path=/") && !session.contains("Domain"),
        "{session}"
    );
    for cookie in &cookies {
        assert!(cookie.starts_with("__Host-berth_"), "{cookie}");
    }
    let session_token = session
        .trim_start_matches("__Host-berth_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string();

    // The prefixed cookie opens the dashboard over TLS ...
    over_tls
        .cookies
        .insert("__Host-berth_session".into(), session_token.clone());
    let (status, _, _) = over_tls.get("/apps").await;
    assert_eq!(status, StatusCode::OK);
    // ... and the same token under the plain name, as another host could
    // plant it, does not.
    let mut planted = Browser::new(&server);
    planted.headers.push(("x-forwarded-proto", "https".into()));
    planted
        .cookies
        .insert("berth_session".into(), session_token.clone());
    let (status, headers, _) = planted.get("/apps").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(crate::csrf::location(&headers), "/");

    // Over plain HTTP the names keep their `berth_` prefix.
    let mut plain = Browser::new(&server);
    plain.sign_in("dev@example.com", "correct horse").await;
    assert!(plain.cookies.contains_key("berth_session"));
    assert!(plain.cookies.keys().all(|name| name.starts_with("berth_")));
}
