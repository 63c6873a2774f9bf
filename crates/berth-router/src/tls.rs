//! The router's TLS side: certificates by hostname, swapped whole and
//! atomically so new and renewed ones serve from the next handshake on, a
//! self-signed default for names without one, and what a host's policy asks
//! of plain HTTP requests (redirect, HSTS).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// `Strict-Transport-Security` sent over TLS by hosts that ask for it.
pub(crate) const HSTS_VALUE: &str = "max-age=31536000";

/// The one crypto provider of the process (ring), for every TLS config
/// Berth builds; installed as the process default too, for libraries that
/// ask for that one.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let _ = rustls::crypto::CryptoProvider::install_default((*provider).clone());
    provider
}

/// A certificate chain and its key, checked to belong together.
#[derive(Clone)]
pub struct ServerCertificate(Arc<CertifiedKey>);

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerCertificate({} certificates)", self.0.cert.len())
    }
}

impl ServerCertificate {
    /// Reads a PEM chain (leaf first) and a PEM private key, and checks that
    /// the key is the leaf's.
    pub fn from_pem(chain_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate(format!("the chain is not PEM: {e}")))?;
        if chain.is_empty() {
            return Err(TlsError::Certificate(
                "the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| {
            TlsError::Key(format!(
                "no PEM private key found (PKCS#8, PKCS#1 or SEC1): {e}"
            ))
        })?;
        let certified = CertifiedKey::from_der(chain, key, &crypto_provider()).map_err(
            |error| match error {
                rustls::Error::InconsistentKeys(_) => {
                    TlsError::Key("the private key does not match the certificate".into())
                }
                other => TlsError::Key(format!("the private key cannot be used: {other}")),
            },
        )?;
        Ok(Self(Arc::new(certified)))
    }

    /// A self-signed certificate for `names`, e.g. the default one served
    /// for names without a certificate of their own.
    pub fn self_signed(names: Vec<String>) -> Result<Self, TlsError> {
        let key = rcgen::KeyPair::generate().map_err(|e| TlsError::Key(e.to_string()))?;
        let certificate = rcgen::CertificateParams::new(names)
            .and_then(|params| params.self_signed(&key))
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        Self::from_pem(&certificate.pem(), &key.serialize_pem())
    }

    /// The chain's DER certificates, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.0.cert
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{0}")]
    Certificate(String),
    #[error("{0}")]
    Key(String),
}

/// What the router serves for one hostname over TLS, and how it treats the
/// hostname's plain HTTP requests.
#[derive(Debug, Clone)]
pub struct HostTls {
    pub hostname: String,
    pub certificate: ServerCertificate,
    /// Plain HTTP requests get a redirect to HTTPS (ACME challenges never do).
    pub redirect_http: bool,
    /// Responses over TLS carry `Strict-Transport-Security`.
    pub hsts: bool,
}

pub(crate) type TlsHosts = ArcSwap<HashMap<String, Arc<HostTls>>>;

/// Picks the certificate by SNI from the current map; the default one for
/// unknown names and clients that send none.
#[derive(Debug)]
pub(crate) struct SniResolver {
    pub hosts: Arc<TlsHosts>,
    pub default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let found = hello.server_name().and_then(|name| {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            self.hosts
                .load()
                .get(&name)
                .map(|host| host.certificate.0.clone())
        });
        Some(found.unwrap_or_else(|| self.default.clone()))
    }
}

/// The server config of the TLS listener: HTTP/2 and HTTP/1.1 by ALPN.
pub(crate) fn server_config(resolver: SniResolver) -> Result<rustls::ServerConfig, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Certificate(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The default certificate's key, for the resolver.
pub(crate) fn default_key(certificate: &ServerCertificate) -> Arc<CertifiedKey> {
    certificate.0.clone()
}

/// The hostname of a `Host` header: no port, no trailing dot, lower case.
pub(crate) fn host_name(host: &str) -> String {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppRoute, Router, RouterConfig, Upstream};
    use bytes::Bytes;
    use http_body_util::Full;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    /// A backend answering with the forwarding headers it got.
    async fn backend() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let service = hyper::service::service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-")
                                .to_string()
                        };
                        let text = format!(
                            "{} {}",
                            header("x-forwarded-proto"),
                            header("x-forwarded-port")
                        );
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(text),
                        )))
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        address
    }

    #[tokio::test]
    async fn tls_requests_are_marked_and_plain_ones_redirected_per_host() {
        let upstream = backend().await;
        let router = Router::new(
            RouterConfig {
                workers: 1,
                ..RouterConfig::default()
            },
            Arc::new(|_: &str, _: String| {}),
        );
        router.set_routes(vec![AppRoute {
            app: "demo".into(),
            hosts: vec!["shop.example.test".into()],
            upstreams: vec![Upstream {
                address: upstream,
                dyno: "web.1".into(),
            }],
            maintenance: false,
        }]);
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (http_address, https_address) =
            (http.local_addr().unwrap(), https.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::watch::channel(());
        let wait = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
            let _ = stopped.changed().await;
        };
        tokio::spawn(router.clone().serve(http, wait(stopped.clone())));
        tokio::spawn(router.clone().serve_tls(https, wait(stopped)));
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .resolve("shop.example.test", https_address)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let over_tls = format!("https://shop.example.test:{}/", https_address.port());
        let response = client.get(&over_tls).send().await.unwrap();
        assert!(!response.headers().contains_key("strict-transport-security"));
        assert_eq!(
            response.text().await.unwrap(),
            format!("https {}", https_address.port())
        );
        let plain = format!("http://{http_address}/path?q=1");
        let response = client
            .get(&plain)
            .header("host", "shop.example.test")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.text().await.unwrap(),
            format!("http {}", http_address.port()),
            "no certificate for the host yet: no redirect"
        );

        router.set_tls_hosts(vec![HostTls {
            hostname: "Shop.Example.test".into(),
            certificate: ServerCertificate::self_signed(vec!["shop.example.test".into()]).unwrap(),
            redirect_http: true,
            hsts: true,
        }]);
        let response = client
            .get(&plain)
            .header("host", "shop.example.test")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 301);
        assert_eq!(
            response.headers()["location"],
            format!(
                "https://shop.example.test:{}/path?q=1",
                https_address.port()
            )
            .as_str()
        );
        let response = client.get(&over_tls).send().await.unwrap();
        assert_eq!(response.headers()["strict-transport-security"], HSTS_VALUE);
        drop(stop);
    }

    /// Takes any server certificate: the test is about what happens after
    /// the handshake.
    #[derive(Debug)]
    struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

    impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            certificate: &CertificateDer<'_>,
            signature: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                certificate,
                signature,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            certificate: &CertificateDer<'_>,
            signature: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                certificate,
                signature,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    #[tokio::test]
    async fn a_tls_client_silent_after_its_handshake_is_closed_at_the_head_deadline() {
        let router = Router::new(
            RouterConfig {
                head_timeout: std::time::Duration::from_secs(1),
                workers: 1,
                ..RouterConfig::default()
            },
            Arc::new(|_: &str, _: String| {}),
        );
        let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = https.local_addr().unwrap();
        tokio::spawn(router.clone().serve_tls(https, std::future::pending()));
        let provider = crypto_provider();
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect("shop.example.test".try_into().unwrap(), tcp)
            .await
            .expect("the handshake completes");
        // Then nothing: no request, not even the first byte of one.
        let reading = async {
            let mut chunk = [0u8; 4096];
            loop {
                match tokio::io::AsyncReadExt::read(&mut tls, &mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        assert!(
            tokio::time::timeout(std::time::Duration::from_secs(10), reading)
                .await
                .is_ok(),
            "still open 10 s after the handshake, with a head deadline of 1 s"
        );
    }

    #[test]
    fn a_key_that_is_not_the_leafs_is_refused() {
        let leaf = rcgen::KeyPair::generate().unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["shop.example.test".to_string()])
            .unwrap()
            .self_signed(&leaf)
            .unwrap();
        assert!(ServerCertificate::from_pem(&certificate.pem(), &leaf.serialize_pem()).is_ok());
        let error = ServerCertificate::from_pem(&certificate.pem(), &other.serialize_pem())
            .unwrap_err()
            .to_string();
        assert_eq!(error, "the private key does not match the certificate");
        let error = ServerCertificate::from_pem("not pem", &leaf.serialize_pem())
            .unwrap_err()
            .to_string();
        assert!(error.contains("no PEM certificate"), "{error}");
    }

    #[test]
    fn host_names_lose_port_dot_and_case() {
        assert_eq!(host_name("Shop.Example.test.:8443"), "shop.example.test");
        assert_eq!(host_name("shop.example.test"), "shop.example.test");
    }
}
