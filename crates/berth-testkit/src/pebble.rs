//! A real ACME server for tests: Debian's `pebble`, with
//! `pebble-challtestsrv` as its mock DNS (every name answers 127.0.0.1
//! unless a test says otherwise), each on free loopback ports, both killed
//! when the guard drops. Pebble's own API is served with a leaf signed by a
//! throwaway CA made here, which `ca_bundle` holds for the ACME client.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How Pebble is set up.
#[derive(Debug, Clone)]
pub struct PebbleOptions {
    /// The port Pebble's HTTP-01 validation connects to (Berth's router).
    pub http_port: u16,
    /// Lifetime of the certificates it issues, in seconds (None: Pebble's default, 5 years).
    pub certificate_validity_secs: Option<u64>,
    /// Pebble's deliberate bad-nonce errors (a real client must retry them).
    pub reject_nonces: bool,
}

pub struct Pebble {
    /// The ACME directory URL.
    pub directory_url: String,
    /// The PEM CA certificate Pebble's API is served with.
    pub ca_bundle: PathBuf,
    /// The mock DNS server (for `BERTH_DNS_RESOLVER`).
    pub dns_address: SocketAddr,
    management: SocketAddr,
    challtestsrv_management: SocketAddr,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Pebble {
    /// Starts Pebble and its mock DNS, and returns once both accept connections.
    pub fn start(options: PebbleOptions) -> Self {
        let dir = tempfile::tempdir().expect("Pebble's directory");
        let (ca_pem, leaf_pem, leaf_key_pem) = api_certificates();
        let ca_bundle = dir.path().join("pebble-ca.pem");
        std::fs::write(&ca_bundle, ca_pem).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf_pem).unwrap();
        std::fs::write(dir.path().join("key.pem"), leaf_key_pem).unwrap();
        let [listen, management, dns_address, challtestsrv_management] = free_ports();
        let mut config = serde_json::json!({
            "pebble": {
                "listenAddress": listen.to_string(),
                "managementListenAddress": management.to_string(),
                "certificate": dir.path().join("cert.pem"),
                "privateKey": dir.path().join("key.pem"),
                "httpPort": options.http_port,
                "tlsPort": 5001,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        if let Some(secs) = options.certificate_validity_secs {
            config["pebble"]["certificateValidityPeriod"] = secs.into();
        }
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();

        let mut children = Vec::new();
        let log = |name: &str| {
            std::fs::File::create(dir.path().join(name))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null())
        };
        children.push(
            Command::new("pebble-challtestsrv")
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .args(["-dns01", &dns_address.to_string()])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &challtestsrv_management.to_string()])
                .stdout(log("challtestsrv.log"))
                .stderr(log("challtestsrv.err"))
                .spawn()
                .expect(
                    "pebble-challtestsrv runs (Debian's package pebble; script/test installs it)",
                ),
        );
        children.push(
            Command::new("pebble")
                .arg("-config")
                .arg(&config_path)
                .args(["-dnsserver", &dns_address.to_string()])
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env(
                    "PEBBLE_WFE_NONCEREJECT",
                    if options.reject_nonces { "15" } else { "0" },
                )
                .stdout(log("pebble.log"))
                .stderr(log("pebble.err"))
                .spawn()
                .expect("pebble runs (Debian's package pebble; script/test installs it)"),
        );
        let pebble = Self {
            directory_url: format!("https://{listen}/dir"),
            ca_bundle,
            dns_address,
            management,
            challtestsrv_management,
            children,
            dir,
        };
        for address in [listen, management, challtestsrv_management] {
            pebble.wait_for(address);
        }
        pebble
    }

    fn wait_for(&self, address: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Pebble did not listen on {address} within 20 s; its logs are in {}",
                self.dir.path().display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The root certificate Pebble issues under (PEM), to trust its certificates.
    pub fn issuing_root(&self) -> String {
        let ca = std::fs::read(&self.ca_bundle).unwrap();
        let client = reqwest::blocking::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        client
            .get(format!("https://{}/roots/0", self.management))
            .send()
            .and_then(|response| response.error_for_status())
            .and_then(|response| response.text())
            .expect("Pebble's issuing root")
    }

    /// Makes the mock DNS answer `hostname` with `address` (e.g. a loopback
    /// address nothing listens on, so validation fails).
    pub fn set_dns_a(&self, hostname: &str, address: &str) {
        let body = serde_json::json!({"host": format!("{hostname}."), "addresses": [address]});
        reqwest::blocking::Client::new()
            .post(format!("http://{}/add-a", self.challtestsrv_management))
            .json(&body)
            .timeout(Duration::from_secs(10))
            .send()
            .and_then(|response| response.error_for_status())
            .expect("pebble-challtestsrv takes the A record");
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Free loopback ports (bound, then released for the child to take).
fn free_ports<const N: usize>() -> [SocketAddr; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap())
}

/// A throwaway CA, and a leaf it signed for 127.0.0.1 and localhost:
/// (CA PEM, leaf PEM, leaf key PEM).
fn api_certificates() -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Berth test CA for Pebble");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pebble");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

/// A certificate for `names` signed by a throwaway CA: (chain PEM with
/// the CA after the leaf, key PEM, CA PEM). It is valid until `days` from
/// now (negative: it has expired), for 30 days before that.
pub fn signed_certificate(names: &[&str], days: i64) -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Berth test manual CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let not_after = time::OffsetDateTime::now_utc() + time::Duration::days(days);
    params.not_after = not_after;
    params.not_before = not_after - time::Duration::days(30);
    let leaf = params.signed_by(&key, &ca).unwrap();
    let chain = format!("{}{}", leaf.pem(), ca.pem());
    (chain, key.serialize_pem(), ca.pem())
}
