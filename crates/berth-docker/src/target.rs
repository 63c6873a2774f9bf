//! Where an engine listens, and the TLS material that reaches engines over
//! TCP the way the docker CLI does (`--tlsverify`: the engine's certificate
//! checked against `ca.pem`, `cert.pem`/`key.pem` presented as the client's).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::AlertDescription;

use crate::DockerError;

/// The socket of the machine's own engine.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How long a TCP connection to a remote engine may take to open: an engine
/// behind a cut link otherwise holds a request for the whole request timeout.
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where an engine listens.
#[derive(Clone, Debug)]
pub enum EngineTarget {
    /// A Unix socket, e.g. `/var/run/docker.sock`.
    Unix(PathBuf),
    /// `HOST:PORT` over TCP: plain HTTP without `tls`, else mutual TLS.
    Tcp {
        address: String,
        tls: Option<EngineTls>,
    },
}

impl EngineTarget {
    /// The machine's own engine.
    pub fn local() -> Self {
        Self::Unix(PathBuf::from(DEFAULT_SOCKET))
    }

    /// Reads `unix:///path/to/docker.sock` or `tcp://HOST:PORT` (without
    /// TLS: add it with [`Self::with_tls`], as Docker's convention keeps it
    /// in separate settings).
    pub fn parse(url: &str) -> Result<Self, DockerError> {
        let bad = |reason: &str| DockerError::BadHost {
            host: url.to_string(),
            reason: reason.to_string(),
        };
        if let Some(path) = url.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(bad(
                    "a socket path must be absolute: unix:///path/to/docker.sock",
                ));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        let Some(address) = url.strip_prefix("tcp://") else {
            return Err(bad("use unix:///path/to/docker.sock or tcp://HOST:PORT"));
        };
        let address = address.strip_suffix('/').unwrap_or(address);
        let Some((host, port)) = address.rsplit_once(':') else {
            return Err(bad("name the port too, e.g. tcp://HOST:2376"));
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad("expected tcp://HOST:PORT"));
        }
        if port.parse::<u16>().map_or(true, |port| port == 0) {
            return Err(bad("the port must be a number from 1 to 65535"));
        }
        Ok(Self::Tcp {
            address: address.to_string(),
            tls: None,
        })
    }

    /// The same TCP target, reached with mutual TLS. A Unix socket has no
    /// TLS: it stays as it is, as with the docker CLI.
    pub fn with_tls(self, tls: EngineTls) -> Self {
        match self {
            Self::Tcp { address, .. } => Self::Tcp {
                address,
                tls: Some(tls),
            },
            unix @ Self::Unix(_) => unix,
        }
    }

    /// The target as the docker CLI writes it: `unix:///…` or `tcp://HOST:PORT`.
    pub fn url(&self) -> String {
        match self {
            Self::Unix(path) => format!("unix://{}", path.display()),
            Self::Tcp { address, .. } => format!("tcp://{address}"),
        }
    }

    pub fn tls(&self) -> Option<&EngineTls> {
        match self {
            Self::Tcp { tls, .. } => tls.as_ref(),
            Self::Unix(_) => None,
        }
    }
}

impl fmt::Display for EngineTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())?;
        if let Some(tls) = self.tls() {
            write!(f, " (TLS with {})", tls.cert_dir.display())?;
        }
        Ok(())
    }
}

/// A client's TLS material for engines over TCP, read once from a directory
/// holding `ca.pem`, `cert.pem` and `key.pem` (Docker's `DOCKER_CERT_PATH`
/// layout) and used for every engine it reaches. Cheap to clone.
#[derive(Clone)]
pub struct EngineTls {
    cert_dir: PathBuf,
    connector: HttpsConnector<HttpConnector>,
}

impl fmt::Debug for EngineTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineTls")
            .field("cert_dir", &self.cert_dir)
            .finish_non_exhaustive()
    }
}

impl EngineTls {
    /// Reads and checks the three files: engines' certificates are trusted
    /// when `ca.pem` signed them (and only then), and `cert.pem` with
    /// `key.pem` is presented to them.
    pub fn load(cert_dir: &Path) -> Result<Self, DockerError> {
        let ca_path = cert_dir.join("ca.pem");
        let cert_path = cert_dir.join("cert.pem");
        let key_path = cert_dir.join("key.pem");
        let mut roots = rustls::RootCertStore::empty();
        for ca in certificates(&ca_path)? {
            roots
                .add(ca)
                .map_err(|error| cert_file(&ca_path, error.to_string()))?;
        }
        let chain = certificates(&cert_path)?;
        let key = PrivateKeyDer::from_pem_slice(&read(&key_path)?)
            .map_err(|error| cert_file(&key_path, format!("no private key in it ({error})")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| cert_file(cert_dir, error.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|error| {
                cert_file(
                    &key_path,
                    format!("it does not go with {} ({error})", cert_path.display()),
                )
            })?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(TCP_CONNECT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            cert_dir: cert_dir.to_path_buf(),
            connector,
        })
    }

    /// The directory the material was read from.
    pub fn cert_dir(&self) -> &Path {
        &self.cert_dir
    }

    pub(crate) fn connector(&self) -> HttpsConnector<HttpConnector> {
        self.connector.clone()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, DockerError> {
    std::fs::read(path).map_err(|error| cert_file(path, error.to_string()))
}

/// Every certificate of a PEM file; at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, DockerError> {
    let pem = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| cert_file(path, format!("not PEM certificates ({error})")))?;
    if certificates.is_empty() {
        return Err(cert_file(path, "no certificate in it".to_string()));
    }
    Ok(certificates)
}

fn cert_file(path: &Path, reason: String) -> DockerError {
    DockerError::CertFile {
        path: path.to_path_buf(),
        reason,
    }
}

/// Explains a failed TLS handshake found in `error`'s chain, if there is one:
/// which side refused, and the file that decides it.
pub(crate) fn tls_failure(
    error: &(dyn std::error::Error + 'static),
    tls: &EngineTls,
) -> Option<String> {
    let rustls_error = find_rustls_error(error)?;
    let dir = tls.cert_dir.display();
    Some(match rustls_error {
        rustls::Error::InvalidCertificate(_) => format!(
            "the engine's certificate is not valid for this address or not signed by \
             {dir}/ca.pem ({rustls_error})"
        ),
        rustls::Error::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::CertificateRequired
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::AccessDenied,
        ) => {
            format!("the engine refused the client certificate {dir}/cert.pem ({rustls_error})")
        }
        other => other.to_string(),
    })
}

/// The rustls error in `error`'s chain. hyper-rustls wraps it in an
/// `io::Error` inside another, and an `io::Error`'s `source()` skips the
/// error it wraps: look inside those.
fn find_rustls_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    if let Some(found) = error.downcast_ref::<rustls::Error>() {
        return Some(found);
    }
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        if let Some(found) = find_rustls_error(inner) {
            return Some(found);
        }
    }
    find_rustls_error(error.source()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_docker_cli_s_urls() {
        let EngineTarget::Unix(path) = EngineTarget::parse("unix:///run/docker.sock").unwrap()
        else {
            panic!("not a socket");
        };
        assert_eq!(path, Path::new("/run/docker.sock"));
        let target = EngineTarget::parse("tcp://h1.internal:2376").unwrap();
        assert!(
            matches!(&target, EngineTarget::Tcp { address, tls: None } if address == "h1.internal:2376")
        );
        assert_eq!(target.url(), "tcp://h1.internal:2376");
    }

    #[test]
    fn refuses_urls_it_cannot_reach() {
        for (url, reason) in [
            (
                "ftp://example",
                "use unix:///path/to/docker.sock or tcp://HOST:PORT",
            ),
            ("tcp://h1.internal", "name the port too"),
            ("tcp://h1.internal:0", "the port must be"),
            ("tcp://h1.internal:docker", "the port must be"),
            ("tcp://:2376", "expected tcp://HOST:PORT"),
            ("unix://docker.sock", "must be absolute"),
        ] {
            let error = EngineTarget::parse(url).unwrap_err();
            assert!(
                matches!(&error, DockerError::BadHost { host, .. } if host == url),
                "{url}: {error}"
            );
            assert!(error.to_string().contains(reason), "{url}: {error}");
        }
    }

    #[test]
    fn a_missing_ca_is_named_by_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let error = EngineTls::load(dir.path()).unwrap_err().to_string();
        let ca = dir.path().join("ca.pem");
        assert!(error.contains(&ca.display().to_string()), "{error}");
        assert!(error.contains("No such file"), "{error}");
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
        let error = EngineTls::load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("ca.pem"), "{error}");
        assert!(error.contains("no certificate in it"), "{error}");
    }
}
