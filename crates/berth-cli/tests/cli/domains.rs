//! Custom domains end to end: the real `berth` binary adds them, the router
//! serves the app on them, and `domains:info` asks a DNS server the test
//! runs on loopback.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::*;

/// What the test DNS server answers for a name.
#[derive(Clone)]
enum Record {
    Cname(String),
    A([u8; 4]),
}

/// A tiny DNS server on 127.0.0.1 that answers A/AAAA questions from a
/// table the test fills in: a CNAME, or an A record, or nothing.
struct DnsResponder {
    address: SocketAddr,
    records: Arc<Mutex<HashMap<String, Record>>>,
    stop: Arc<AtomicBool>,
}

impl DnsResponder {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let address = socket.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Record>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (table, stopped) = (records.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 512];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((length, from)) = socket.recv_from(&mut buffer) else {
                    continue;
                };
                let reply = Self::answer(&buffer[..length], &table.lock().unwrap());
                socket.send_to(&reply, from).unwrap();
            }
        });
        Self {
            address,
            records,
            stop,
        }
    }

    fn set(&self, name: &str, record: Record) {
        self.records.lock().unwrap().insert(name.into(), record);
    }

    fn answer(query: &[u8], table: &HashMap<String, Record>) -> Vec<u8> {
        let mut at = 12;
        let mut labels = Vec::new();
        while query[at] != 0 {
            let length = query[at] as usize;
            labels.push(String::from_utf8_lossy(&query[at + 1..at + 1 + length]).to_string());
            at += 1 + length;
        }
        let question_end = at + 5;
        let qtype = u16::from_be_bytes([query[at + 1], query[at + 2]]);
        let name = labels.join(".");
        let record = match table.get(&name) {
            Some(Record::A(_)) if qtype != 1 => None,
            other => other.cloned(),
        };
        let mut reply = query[..2].to_vec();
        reply.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(record.is_some()), 0, 0, 0, 0]);
        reply.extend_from_slice(&query[12..question_end]);
        if let Some(record) = record {
            reply.extend_from_slice(&query[12..at + 1]);
            let (record_type, data) = match record {
                Record::A(octets) => (1u16, octets.to_vec()),
                Record::Cname(target) => {
                    let mut data = Vec::new();
                    for label in target.split('.') {
                        data.push(label.len() as u8);
                        data.extend_from_slice(label.as_bytes());
                    }
                    data.push(0);
                    (5, data)
                }
            };
            reply.extend_from_slice(&record_type.to_be_bytes());
            reply.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            reply.extend_from_slice(&(data.len() as u16).to_be_bytes());
            reply.extend_from_slice(&data);
        }
        reply
    }
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn domains_route_to_their_app_and_dns_is_checked() {
    let dns = DnsResponder::start();
    let world = World {
        server: TestServer::start_with(|settings| {
            settings.dns_resolver = Some(dns.address);
            settings.edge_addresses = vec!["127.0.0.1".parse().unwrap()];
        }),
        home: tempfile::tempdir().unwrap(),
        cwd: tempfile::tempdir().unwrap(),
    };
    let app = AppCheckout::new(&world, "cli-domains", None);
    let default_host = format!("{}.localhost", app.name);
    let visit = |host: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}/version.txt", world.server.http_url))
            .header("host", host)
            .send()
            .unwrap()
    };

    // A subdomain: the CNAME to create is printed; the name is stored lowercase.
    let added = app.berth(&["domains:add", "Shop.Example.test"]).ok();
    assert!(
        added.contains(&format!("shop.example.test  CNAME  {default_host}")),
        "{added}"
    );
    assert!(
        added.contains("automatic TLS is off on this platform"),
        "{added}"
    );
    app.push();
    let page = visit("SHOP.example.test:8080");
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().unwrap(), "web.1 v1\n");

    // An apex: A/AAAA records to the edge's addresses, and why not a CNAME.
    let apex = app.berth(&["domains:add", "example.test"]).ok();
    assert!(apex.contains("example.test  A/AAAA  127.0.0.1"), "{apex}");
    assert!(apex.contains("ALIAS or ANAME"), "{apex}");
    let listed = app.berth(&["domains", "--json"]).json();
    let hostnames: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|domain| domain["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hostnames, ["shop.example.test", "example.test"]);
    assert_eq!(listed[0]["record_type"], "cname");
    assert_eq!(listed[0]["record_values"][0], default_host.as_str());
    assert_eq!(listed[1]["record_type"], "a");

    // DNS: nothing yet, then the CNAME; the apex by its A record.
    let info = app
        .berth(&["domains:info", "shop.example.test", "--json"])
        .json();
    assert_eq!(info["dns"]["points_here"], false);
    assert!(
        info["dns"]["problem"]
            .as_str()
            .unwrap()
            .contains(&format!("create a CNAME record to {default_host}")),
        "{info}"
    );
    dns.set("shop.example.test", Record::Cname(default_host.clone()));
    let info = app
        .berth(&["domains:info", "shop.example.test", "--json"])
        .json();
    assert_eq!(info["dns"]["points_here"], true, "{info}");
    assert_eq!(info["dns"]["cnames"][0], default_host.as_str());
    assert_eq!(info["dns"]["resolver"], dns.address.to_string());
    dns.set("example.test", Record::A([127, 0, 0, 1]));
    let text = app.berth(&["domains:info", "example.test"]).ok();
    assert!(text.contains("Points here: yes"), "{text}");
    assert!(
        text.contains("automatic TLS is off on this platform"),
        "{text}"
    );

    // Another user's app cannot take the hostname, and is not told whose it is.
    let eve = world.server.create_user("eve@example.com", false, None);
    let eves_app = berth_testkit::unique_app_name("cli-eve");
    world.berth_as(&eve, &["apps:create", &eves_app]).ok();
    let taken = world
        .berth_as(&eve, &["domains:add", "-a", &eves_app, "shop.example.test"])
        .fails();
    assert_eq!(
        taken,
        "error: shop.example.test is already in use by another app"
    );

    // Bad hostnames are refused with the reason, and nothing is stored.
    for (hostname, says) in [
        ("*.example.test", "DNS-01"),
        ("bad_name.example.test", "letters, digits and dashes"),
        ("other.localhost", "reserved for apps"),
    ] {
        let refused = app.berth(&["domains:add", hostname]).fails();
        assert!(refused.contains(says), "{hostname}: {refused}");
    }
    assert_eq!(
        app.berth(&["domains", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Removed: the router no longer knows the name.
    app.berth(&["domains:remove", "shop.example.test"]).ok();
    assert_eq!(visit("shop.example.test").status(), 404);
    assert_eq!(visit(&default_host).status(), 200);
    let gone = app.berth(&["domains:info", "shop.example.test"]).fails();
    assert!(gone.contains("is not a domain of"), "{gone}");
}
