//! Finding 1 (the router's half): the router forwarded `Cookie` untouched,
//! so an app served on a host that shares the dashboard's cookie scope read
//! the dashboard's session. Berth's own cookies never reach an app now.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use berth_testkit::{unique_app_name, AppRepo, EngineCleanup, TestServer};

use super::containers::Member;

/// A CGI script of the app that answers with the cookies it was sent.
const COOKIE_ECHO: &str =
    "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s' \"$HTTP_COOKIE\"\n";

const SENT: &str =
    "berth_session=stolen; theme=dark; __Host-berth_session=x; berth_csrf=y; app_id=7";

#[tokio::test]
async fn berths_own_cookies_never_reach_an_app() {
    let server = TestServer::start();
    let member = Member::new(&server, "cookies@example.com", false);
    let name = unique_app_name("cookie-echo");
    let _cleanup = EngineCleanup::new(&name);
    let app = member.create_app(&name).await;

    let repo = AppRepo::from_fixture("cmd-only");
    repo.write("www/cgi-bin/cookies", COOKIE_ECHO);
    let script = repo.path().join("www/cgi-bin/cookies");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.commit("a CGI script that echoes its cookies");
    let pushed = repo.push(&app.git_url, &member.token, "main", &[]);
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let url = format!("{}/cgi-bin/cookies", server.http_url);
    let host = format!("{name}.localhost");
    // GET goes through the router's fast path, POST with a body through hyper.
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let response = client
            .request(method.clone(), &url)
            .header("host", &host)
            .header("cookie", SENT)
            .body(if method == reqwest::Method::POST {
                "x=1"
            } else {
                ""
            })
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{method}: {}",
            response.status()
        );
        assert_eq!(
            response.text().await.unwrap().trim(),
            "theme=dark; app_id=7",
            "{method}: the app's own cookies arrive, Berth's do not"
        );
    }
}
