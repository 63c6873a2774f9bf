//! Finding 10: a Redis add-on's ACL user could list every tenant's keys
//! (SCAN, RANDOMKEY), and load or flush the server-wide functions and
//! script cache.

use std::process::Command;

use berth_testkit::{unique_app_name, EngineCleanup, TestServer};

use super::containers::Member;

const REDIS_ADMIN_URL: &str = "redis://default:berth-test-admin@127.0.0.1:6379";

fn redis_admin_url() -> String {
    std::env::var("BERTH_TEST_REDIS_ADMIN_URL").unwrap_or_else(|_| REDIS_ADMIN_URL.into())
}

/// One Redis login, driven with `redis-cli` (an argv, no shell).
struct Tenant {
    url: String,
    /// The key prefix its user owns: the user name is `<prefix>_<hex>`.
    prefix: String,
}

impl Tenant {
    fn of(url: &str) -> Self {
        let parsed = reqwest::Url::parse(url).unwrap();
        let prefix = parsed.username().rsplit_once('_').unwrap().0.to_string();
        Self {
            url: url.to_string(),
            prefix,
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    fn redis(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["--no-auth-warning", "-u", &self.url])
            .args(args)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .trim()
        .to_string()
    }

    fn refused(&self, args: &[&str]) {
        let answer = self.redis(args);
        assert!(answer.contains("NOPERM"), "{args:?} was allowed: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_addon_can_neither_list_nor_touch_another_addons_keys_or_functions() {
    let server = TestServer::start_with(|settings| {
        settings.addon_redis_admin_url = Some(redis_admin_url());
    });
    let member = Member::new(&server, "dev@example.com", false);
    let name = unique_app_name("redis");
    let _cleanup = EngineCleanup::new(&name);
    member.create_app(&name).await;
    for as_name in ["REDIS", "CACHE"] {
        let (status, body) = member
            .send(
                reqwest::Method::POST,
                &format!("apps/{name}/addons"),
                Some(serde_json::json!({ "service": "redis", "as": as_name })),
            )
            .await;
        assert!(status.is_success(), "{status} {body}");
    }
    let config = member.get(&format!("apps/{name}/config")).await;
    let a = Tenant::of(config["REDIS_URL"].as_str().unwrap());
    let b = Tenant::of(config["CACHE_URL"].as_str().unwrap());

    assert_eq!(b.redis(&["SET", &b.key("secret"), "theirs"]), "OK");
    // What A may still do with its own keys and channels.
    assert_eq!(a.redis(&["SET", &a.key("greeting"), "hello"]), "OK");
    assert_eq!(a.redis(&["GET", &a.key("greeting")]), "hello");
    assert_eq!(a.redis(&["RPUSH", &a.key("queue"), "job"]), "1");
    assert_eq!(a.redis(&["HSET", &a.key("hash"), "field", "v"]), "1");
    assert_eq!(a.redis(&["SADD", &a.key("set"), "m"]), "1");
    assert!(!a
        .redis(&["XADD", &a.key("stream"), "*", "f", "v"])
        .contains("NOPERM"));
    assert_eq!(a.redis(&["PUBLISH", &a.key("events"), "hi"]), "0");
    assert_eq!(a.redis(&["DEL", &a.key("greeting")]), "1");

    // Listing the keyspace, which would show B's keys.
    a.refused(&["SCAN", "0"]);
    a.refused(&["SCAN", "0", "MATCH", "*"]);
    a.refused(&["KEYS", "*"]);
    a.refused(&["RANDOMKEY"]);
    a.refused(&["DBSIZE"]);
    a.refused(&["PUBSUB", "CHANNELS"]);
    // B's keys themselves.
    a.refused(&["GET", &b.key("secret")]);
    a.refused(&["SET", &b.key("secret"), "mine"]);
    a.refused(&["DEL", &b.key("secret")]);
    // Server-wide functions, scripts and data.
    a.refused(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=stolen\nredis.register_function('f', function() return 1 end)",
    ]);
    a.refused(&["FUNCTION", "FLUSH"]);
    a.refused(&["SCRIPT", "FLUSH"]);
    a.refused(&[
        "EVAL",
        "return redis.call('GET', KEYS[1])",
        "1",
        &a.key("x"),
    ]);
    a.refused(&["FCALL", "f", "0"]);
    a.refused(&["FLUSHALL"]);
    a.refused(&["FLUSHDB"]);
    assert_eq!(b.redis(&["GET", &b.key("secret")]), "theirs");

    for addon in member
        .get(&format!("apps/{name}/addons"))
        .await
        .as_array()
        .unwrap()
    {
        let addon = addon["name"].as_str().unwrap();
        let (status, body) = member
            .send(
                reqwest::Method::DELETE,
                &format!("apps/{name}/addons/{addon}?confirm={name}"),
                None,
            )
            .await;
        assert!(status.is_success(), "{status} {body}");
    }
}
