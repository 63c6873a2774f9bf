//! Certificates end to end against a real ACME server (Debian's Pebble,
//! with its mock DNS): automatic issuance, HTTPS by SNI, renewal without
//! dropping connections, redirect and HSTS, removal, a domain the CA cannot
//! validate, and manual certificates.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use berth_testkit::{signed_certificate, Pebble, PebbleOptions};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use super::*;

/// A berthd with HTTPS and automatic TLS from its own Pebble.
fn world_with_acme(options: impl FnOnce(u16) -> PebbleOptions) -> (World, Pebble) {
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let pebble = Pebble::start(options(http.local_addr().unwrap().port()));
    let server = TestServer::start_with_router_listener(http, |settings| {
        settings.https_listen = Some("127.0.0.1:0".parse().unwrap());
        settings.acme_directory = Some(pebble.directory_url.clone());
        settings.acme_ca_bundle = Some(pebble.ca_bundle.clone());
        settings.acme_email = Some("ops@example.com".into());
        settings.dns_resolver = Some(pebble.dns_address);
    });
    let world = World {
        server,
        home: tempfile::tempdir().unwrap(),
        cwd: tempfile::tempdir().unwrap(),
    };
    (world, pebble)
}

/// Waits (bounded) until `certs:auto` shows `hostname` in `status`.
fn wait_for_auto_status(app: &AppCheckout, hostname: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let auto = app.berth(&["certs:auto", "--json"]).json();
        let domain = auto["domains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|domain| domain["hostname"] == hostname)
            .cloned()
            .unwrap();
        if domain["status"] == status {
            return domain;
        }
        assert!(
            Instant::now() < deadline,
            "{hostname} is not {status} after 90 s: {auto}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Accepts whatever certificate the server shows: the test looks at it
/// instead of trusting it.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS connection to the router with `sni`, speaking HTTP/1.1.
struct TlsClient(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl TlsClient {
    fn connect(address: SocketAddr, sni: &str) -> Self {
        Self::connect_offering(address, sni, &[b"http/1.1"])
    }

    fn connect_offering(address: SocketAddr, sni: &str, alpn: &[&[u8]]) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        let connection = rustls::ClientConnection::new(
            Arc::new(config),
            ServerName::try_from(sni.to_string()).unwrap(),
        )
        .unwrap();
        let tcp = TcpStream::connect(address).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).unwrap();
        }
        Self(stream)
    }

    /// The leaf certificate the router showed.
    fn leaf(&self) -> Vec<u8> {
        self.0.conn.peer_certificates().unwrap()[0].to_vec()
    }

    /// `GET path` on this connection, kept alive; the status line and body.
    fn get(&mut self, host: &str, path: &str) -> (String, String) {
        write!(
            self.0,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n"
        )
        .unwrap();
        self.0.flush().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            self.0.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().unwrap())
            })
            .expect("a Content-Length");
        let mut body = vec![0u8; length];
        self.0.read_exact(&mut body).unwrap();
        let status = head.lines().next().unwrap().to_string();
        (status, String::from_utf8(body).unwrap())
    }
}

/// A client that trusts `root_pem` and resolves `hostname` to the router.
fn https_client(root_pem: &str, hostname: &str, router: SocketAddr) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
        .resolve(hostname, router)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn leaf_of(chain_pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(chain_pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// The default certificate is self-signed for `berth.invalid`.
fn is_default_certificate(leaf: &[u8]) -> bool {
    leaf.windows(b"berth.invalid".len())
        .any(|window| window == b"berth.invalid")
}

#[test]
fn automatic_certificates_are_issued_served_renewed_and_go_with_their_domain() {
    let (world, pebble) = world_with_acme(|http_port| PebbleOptions {
        http_port,
        // Short-lived, so that renewal comes within the test.
        certificate_validity_secs: Some(45),
        // A real client retries Pebble's deliberate bad nonces.
        reject_nonces: true,
    });
    let https = world.server.https_address.unwrap();
    let app = AppCheckout::new(&world, "cli-acme", None);
    app.push();
    let hostname = "shop.example.test";
    let added = app.berth(&["domains:add", hostname]).ok();
    assert!(
        added.contains("A certificate is being ordered now"),
        "{added}"
    );

    let issued = wait_for_auto_status(&app, hostname, "issued");
    assert_eq!(issued["last_error"], Value::Null, "{issued}");
    assert_eq!(issued["failures"], 0);
    let certs = app.berth(&["certs", "--json"]).json();
    assert_eq!(certs[0]["hostname"], hostname, "{certs}");
    assert_eq!(certs[0]["source"], "acme");
    assert_eq!(certs[0]["status"], "serving");
    assert!(
        certs[0]["issuer"].as_str().unwrap().contains("Pebble"),
        "{certs}"
    );
    let table = app.berth(&["certs"]).ok();
    assert!(table.contains("HOSTNAME"), "{table}");
    assert!(table.contains("automatic"), "{table}");

    // Over HTTPS, verified against Pebble's root, the app answers; HTTP/2 by ALPN.
    let root = pebble.issuing_root();
    let client = https_client(&root, hostname, https);
    let url = format!("https://{hostname}:{}/version.txt", https.port());
    let page = client.get(&url).send().unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().unwrap(), "web.1 v1\n");
    let offered = TlsClient::connect_offering(https, hostname, &[b"h2", b"http/1.1"]);
    assert_eq!(offered.0.conn.alpn_protocol(), Some(&b"h2"[..]));

    // Plain HTTP to a host with a certificate is redirected, ACME's path is not.
    let plain = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirected = plain
        .get(format!("{}/version.txt?x=1", world.server.http_url))
        .header("host", hostname)
        .send()
        .unwrap();
    assert_eq!(redirected.status(), 301);
    assert_eq!(
        redirected.headers()["location"],
        format!("https://{hostname}:{}/version.txt?x=1", https.port()).as_str()
    );
    let posted = plain
        .post(format!("{}/form", world.server.http_url))
        .header("host", hostname)
        .send()
        .unwrap();
    assert_eq!(posted.status(), 308);
    let challenge = plain
        .get(format!(
            "{}/.well-known/acme-challenge/unknown-token",
            world.server.http_url
        ))
        .header("host", hostname)
        .send()
        .unwrap();
    assert_eq!(challenge.status(), 404, "challenges are never redirected");

    // The policy: no redirect, HSTS on.
    let settings = app.berth(&["certs:redirect", "off", "--json"]).json();
    assert_eq!(settings["redirect_http"], false);
    let settings = app.berth(&["certs:hsts", "on", "--json"]).json();
    assert_eq!(
        settings,
        serde_json::json!({"redirect_http": false, "hsts": true})
    );
    let page = plain
        .get(format!("{}/version.txt", world.server.http_url))
        .header("host", hostname)
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = client.get(&url).send().unwrap();
    assert_eq!(
        page.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    // Renewal: a connection opened on the first certificate keeps working
    // while a new one replaces it for new connections.
    let mut kept = TlsClient::connect(https, hostname);
    let first = kept.leaf();
    assert_eq!(kept.get(hostname, "/version.txt").1, "web.1 v1\n");
    let deadline = Instant::now() + Duration::from_secs(60);
    let renewed = loop {
        let leaf = TlsClient::connect(https, hostname).leaf();
        if leaf != first {
            break leaf;
        }
        assert!(
            Instant::now() < deadline,
            "the certificate was not renewed within 60 s"
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(!is_default_certificate(&renewed));
    let (status, body) = kept.get(hostname, "/version.txt");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, "web.1 v1\n");
    let renewed_client = https_client(&root, hostname, https);
    assert_eq!(renewed_client.get(&url).send().unwrap().status(), 200);

    // Removing the domain stops serving its certificate: the default answers.
    app.berth(&["domains:remove", hostname]).ok();
    let leaf = TlsClient::connect(https, hostname).leaf();
    assert!(is_default_certificate(&leaf));
    assert_eq!(
        app.berth(&["certs", "--json"]).json(),
        serde_json::json!([])
    );
}

#[test]
fn a_domain_the_ca_cannot_validate_backs_off_and_manual_certificates_serve() {
    let (world, pebble) = world_with_acme(|http_port| PebbleOptions {
        http_port,
        certificate_validity_secs: None,
        reject_nonces: false,
    });
    let https = world.server.https_address.unwrap();
    let app = AppCheckout::new(&world, "cli-certs", None);

    // DNS sends the CA elsewhere (a loopback address nothing listens on).
    pebble.set_dns_a("elsewhere.example.test", "127.0.0.2");
    app.berth(&["domains:add", "elsewhere.example.test"]).ok();
    let failing = wait_for_auto_status(&app, "elsewhere.example.test", "failing");
    let error = failing["last_error"].as_str().unwrap();
    assert!(
        error.contains("DNS for elsewhere.example.test does not point here"),
        "{failing}"
    );
    assert!(error.contains("the CA could not"), "{failing}");
    assert_eq!(failing["failures"], 1);
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(failing["next_attempt_at"].clone()).unwrap();
    assert!(
        next > chrono::Utc::now() + chrono::Duration::seconds(45),
        "{failing}"
    );
    // The task passes by every 5 s: it does not try again before the backoff ends.
    std::thread::sleep(Duration::from_secs(8));
    let still = wait_for_auto_status(&app, "elsewhere.example.test", "failing");
    assert_eq!(still["failures"], 1, "{still}");
    let text = app.berth(&["certs:auto"]).ok();
    assert!(text.contains("LAST ERROR"), "{text}");
    assert!(text.contains("does not point here"), "{text}");
    app.berth(&["certs:auto:refresh"]).ok();

    // A manual certificate: validated, then served by SNI instead of any other.
    app.push();
    let hostname = "manual.example.test";
    app.berth(&["domains:add", hostname]).ok();
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, contents: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (chain, key, ca) = signed_certificate(&[hostname], 30);
    let (_, other_key, _) = signed_certificate(&[hostname], 30);
    let (expired_chain, expired_key, _) = signed_certificate(&[hostname], -1);
    let (stranger_chain, stranger_key, _) = signed_certificate(&["stranger.example.test"], 30);
    let refused = app
        .berth(&[
            "certs:add",
            &write("a.pem", &chain),
            &write("b.key", &other_key),
        ])
        .fails();
    assert_eq!(
        refused.trim(),
        "error: the private key does not match the certificate"
    );
    let refused = app
        .berth(&[
            "certs:add",
            &write("c.pem", &expired_chain),
            &write("d.key", &expired_key),
        ])
        .fails();
    assert!(refused.contains("the certificate expired on"), "{refused}");
    let refused = app
        .berth(&[
            "certs:add",
            &write("e.pem", &stranger_chain),
            &write("f.key", &stranger_key),
        ])
        .fails();
    assert!(refused.contains("covers no domain of"), "{refused}");
    let refused = app
        .berth(&["certs:add", &write("g.pem", &key), &write("h.key", &key)])
        .fails();
    assert!(refused.contains("PRIVATE KEY block"), "{refused}");
    assert!(
        app.berth(&["certs", "--json"])
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["source"] != "manual"),
        "nothing was stored for refused certificates"
    );

    let added = app
        .berth(&[
            "certs:add",
            &write("cert.pem", &chain),
            &write("key.pem", &key),
            "--json",
        ])
        .json();
    assert_eq!(added[0]["hostname"], hostname, "{added}");
    assert_eq!(added[0]["source"], "manual");
    assert_eq!(added[0]["issuer"], "Berth test manual CA");
    assert_eq!(TlsClient::connect(https, hostname).leaf(), leaf_of(&chain));
    let client = https_client(&ca, hostname, https);
    let page = client
        .get(format!("https://{hostname}:{}/version.txt", https.port()))
        .send()
        .unwrap();
    assert_eq!(page.text().unwrap(), "web.1 v1\n");
    let auto = wait_for_auto_status(&app, hostname, "manual");
    assert_eq!(auto["next_attempt_at"], Value::Null);

    // Removed, the manual certificate no longer serves.
    app.berth(&["certs:remove", hostname]).ok();
    assert_ne!(TlsClient::connect(https, hostname).leaf(), leaf_of(&chain));
    let gone = app.berth(&["certs:remove", hostname]).fails();
    assert!(gone.contains("has no manual certificate"), "{gone}");
}
