//! Certificates of custom domains: manual ones users upload, automatic
//! ones from ACME (acme.rs), which of them the router serves for each
//! hostname (a valid manual one wins), and each app's HTTPS policy.

use std::collections::HashMap;

use berth_core::{Action, Actor, Hostname};
use berth_router::{HostTls, ServerCertificate};
use berth_store::{CertificateRecord, CertificateSource, NewCertificate, TlsSettings};
use chrono::{DateTime, Utc};

use crate::audit::app_entry;
use crate::{Platform, PlatformError, Result};

/// A certificate as users see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub hostname: String,
    /// `acme` or `manual`.
    pub source: String,
    pub issuer: String,
    pub not_after: DateTime<Utc>,
    /// `serving`, `expired`, or `superseded` (an automatic one while a
    /// manual one serves).
    pub status: String,
}

/// What a chain says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainFacts {
    /// DNS names of the leaf (its subject alternative names).
    pub names: Vec<String>,
    /// The issuer's common name, else its whole distinguished name.
    pub issuer: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// Reads the facts of a PEM chain's leaf, checking every certificate parses.
pub(crate) fn chain_facts(chain_pem: &str) -> std::result::Result<ChainFacts, String> {
    let mut leaf = None;
    for (index, pem) in x509_parser::pem::Pem::iter_from_buffer(chain_pem.as_bytes()).enumerate() {
        let pem = pem.map_err(|e| format!("certificate {} is not valid PEM: {e}", index + 1))?;
        if pem.label != "CERTIFICATE" {
            return Err(format!(
                "the certificate file holds a {} block: give the private key as the second file",
                pem.label
            ));
        }
        let (_, certificate) = x509_parser::parse_x509_certificate(&pem.contents)
            .map_err(|e| format!("certificate {} of the chain cannot be read: {e}", index + 1))?;
        if index == 0 {
            let names = certificate
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|san| {
                    san.value
                        .general_names
                        .iter()
                        .filter_map(|name| match name {
                            x509_parser::extensions::GeneralName::DNSName(name) => {
                                Some(name.to_ascii_lowercase())
                            }
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let issuer = certificate
                .issuer()
                .iter_common_name()
                .next()
                .and_then(|name| name.as_str().ok())
                .map(str::to_string)
                .unwrap_or_else(|| certificate.issuer().to_string());
            let time = |at: x509_parser::time::ASN1Time| {
                DateTime::from_timestamp(at.timestamp(), 0)
                    .ok_or_else(|| "the certificate's validity is out of range".to_string())
            };
            leaf = Some(ChainFacts {
                names,
                issuer,
                not_before: time(certificate.validity().not_before)?,
                not_after: time(certificate.validity().not_after)?,
            });
        }
    }
    leaf.ok_or_else(|| "the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into())
}

/// Whether a certificate name (maybe `*.example.com`) covers `hostname`.
pub(crate) fn covers(name: &str, hostname: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(parent) => hostname
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == hostname,
    }
}

impl Platform {
    /// Certificates of the app's domains, oldest first.
    pub async fn certificates(&self, actor: &Actor, app_name: &str) -> Result<Vec<Certificate>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        let records = self.store.certificates(Some(app.id)).await?;
        let now = Utc::now();
        let manual_serving: Vec<i64> = records
            .iter()
            .filter(|r| r.source == CertificateSource::Manual && r.not_after > now)
            .map(|r| r.domain_id)
            .collect();
        Ok(records
            .into_iter()
            .map(|record| {
                let status = if record.not_after <= now {
                    "expired"
                } else if record.source == CertificateSource::Acme
                    && manual_serving.contains(&record.domain_id)
                {
                    "superseded"
                } else {
                    "serving"
                };
                Certificate {
                    hostname: record.hostname,
                    source: record.source.as_str().to_string(),
                    issuer: record.issuer,
                    not_after: record.not_after,
                    status: status.to_string(),
                }
            })
            .collect())
    }

    /// Adds a manual certificate (PEM chain, leaf first, and its PEM key)
    /// for every domain of the app it covers; it serves at once, instead of
    /// any automatic one. Returns the certificates added.
    pub async fn add_certificate(
        &self,
        actor: &Actor,
        app_name: &str,
        chain_pem: &str,
        key_pem: &str,
    ) -> Result<Vec<Certificate>> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageDomains)
            .await?;
        let facts = chain_facts(chain_pem).map_err(PlatformError::Invalid)?;
        ServerCertificate::from_pem(chain_pem, key_pem)
            .map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let now = Utc::now();
        if facts.not_after <= now {
            return Err(PlatformError::Invalid(format!(
                "the certificate expired on {}: renew it first",
                facts.not_after.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if facts.not_before > now {
            return Err(PlatformError::Invalid(format!(
                "the certificate is not valid before {}",
                facts.not_before.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        let domains = self.store.domains(Some(app.id)).await?;
        let covered: Vec<_> = domains
            .iter()
            .filter(|domain| {
                facts
                    .names
                    .iter()
                    .any(|name| covers(name, &domain.hostname))
            })
            .collect();
        if covered.is_empty() {
            let names = if facts.names.is_empty() {
                "no DNS name".to_string()
            } else {
                facts.names.join(", ")
            };
            return Err(PlatformError::Invalid(format!(
                "the certificate (for {names}) covers no domain of {}: add the domain first \
                 with `berth domains:add`",
                app.name
            )));
        }
        let key_pem = key_pem.trim().to_string() + "\n";
        let mut added = Vec::new();
        for domain in covered {
            let entry = app_entry(
                actor,
                &app.name,
                "certs.add",
                format!("{} (issuer {})", domain.hostname, facts.issuer),
            );
            let key_sealed = self
                .secrets
                .seal(&certificate_key_context(domain.id), key_pem.as_bytes());
            self.store
                .put_certificate(
                    &NewCertificate {
                        domain_id: domain.id,
                        source: CertificateSource::Manual,
                        chain_pem,
                        key_sealed: &key_sealed,
                        issuer: &facts.issuer,
                        not_before: facts.not_before,
                        not_after: facts.not_after,
                    },
                    &entry,
                )
                .await?;
            added.push(Certificate {
                hostname: domain.hostname.clone(),
                source: "manual".into(),
                issuer: facts.issuer.clone(),
                not_after: facts.not_after,
                status: "serving".into(),
            });
        }
        self.refresh_certificates_after_change().await;
        Ok(added)
    }

    /// Removes the manual certificate of `hostname`; its automatic one, if
    /// any, serves again.
    pub async fn remove_certificate(
        &self,
        actor: &Actor,
        app_name: &str,
        hostname: &str,
    ) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageDomains)
            .await?;
        let hostname =
            Hostname::parse(hostname).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let domain = self
            .store
            .domain(hostname.as_str())
            .await?
            .filter(|domain| domain.app_id == app.id)
            .ok_or_else(|| {
                PlatformError::NotFound(format!("{hostname} is not a domain of {}", app.name))
            })?;
        let entry = app_entry(actor, &app.name, "certs.remove", hostname.to_string());
        if !self
            .store
            .remove_certificate(domain.id, CertificateSource::Manual, &entry)
            .await?
        {
            return Err(PlatformError::NotFound(format!(
                "{hostname} has no manual certificate (automatic ones go with their domain)"
            )));
        }
        self.refresh_certificates_after_change().await;
        Ok(())
    }

    /// The app's HTTPS policy.
    pub async fn tls_settings(&self, actor: &Actor, app_name: &str) -> Result<TlsSettings> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        Ok(self.app_tls_settings(app.id).await?)
    }

    /// Changes the app's HTTPS policy: redirecting plain HTTP to HTTPS
    /// (for hostnames with a valid certificate), and HSTS.
    pub async fn set_tls_settings(
        &self,
        actor: &Actor,
        app_name: &str,
        redirect_http: Option<bool>,
        hsts: Option<bool>,
    ) -> Result<TlsSettings> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageDomains)
            .await?;
        let mut settings = self.app_tls_settings(app.id).await?;
        settings.redirect_http = redirect_http.unwrap_or(settings.redirect_http);
        settings.hsts = hsts.unwrap_or(settings.hsts);
        let on_off = |on: bool| if on { "on" } else { "off" };
        let entry = app_entry(
            actor,
            &app.name,
            "certs.settings",
            format!(
                "redirect {}, hsts {}",
                on_off(settings.redirect_http),
                on_off(settings.hsts)
            ),
        );
        self.store
            .set_tls_settings(app.id, settings, &entry)
            .await?;
        self.refresh_certificates_after_change().await;
        Ok(settings)
    }

    async fn app_tls_settings(&self, app_id: i64) -> berth_store::Result<TlsSettings> {
        Ok(self
            .store
            .tls_settings()
            .await?
            .into_iter()
            .find(|(id, _)| *id == app_id)
            .map(|(_, settings)| settings)
            .unwrap_or_default())
    }

    /// Gives the router every hostname's serving certificate (a valid
    /// manual one, else a valid automatic one) with its app's policy.
    pub async fn refresh_certificates(&self) -> Result<()> {
        let Some(router) = &self.router else {
            return Ok(());
        };
        let _serial = self.certificate_refresh.lock().await;
        let settings: HashMap<i64, TlsSettings> =
            self.store.tls_settings().await?.into_iter().collect();
        let now = Utc::now();
        let mut serving: HashMap<i64, CertificateRecord> = HashMap::new();
        for record in self.store.certificates(None).await? {
            if record.not_after <= now {
                continue;
            }
            let wins = serving.get(&record.domain_id).is_none_or(|held| {
                held.source == CertificateSource::Acme && record.source == CertificateSource::Manual
            });
            if wins {
                serving.insert(record.domain_id, record);
            }
        }
        let mut hosts = Vec::with_capacity(serving.len());
        for record in serving.into_values() {
            let key = self.secrets.open(
                &certificate_key_context(record.domain_id),
                &record.key_sealed,
            )?;
            let key = String::from_utf8_lossy(&key);
            let certificate = match ServerCertificate::from_pem(&record.chain_pem, &key) {
                Ok(certificate) => certificate,
                Err(error) => {
                    tracing::warn!(hostname = %record.hostname, %error, "a stored certificate cannot be served");
                    continue;
                }
            };
            let policy = settings.get(&record.app_id).copied().unwrap_or_default();
            hosts.push(HostTls {
                hostname: record.hostname,
                certificate,
                redirect_http: policy.redirect_http,
                hsts: policy.hsts,
            });
        }
        router.set_tls_hosts(hosts);
        Ok(())
    }

    /// A certificate change is stored whatever happens next; a failed
    /// refresh is logged, and the certificate task's next pass catches up.
    pub(crate) async fn refresh_certificates_after_change(&self) {
        if let Err(error) = self.refresh_certificates().await {
            tracing::warn!(%error, "cannot give the router the certificates after a change");
        }
    }
}

/// Where a domain's certificate key is sealed (bound to the domain).
pub(crate) fn certificate_key_context(domain_id: i64) -> String {
    format!("certificate-key/{domain_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(covers("shop.example.com", "shop.example.com"));
        assert!(covers("*.example.com", "shop.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("*.example.com", "a.shop.example.com"));
        assert!(!covers("example.com", "shop.example.com"));
    }

    #[test]
    fn chain_facts_name_the_leaf_and_refuse_what_is_not_a_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["Shop.Example.test".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let facts = chain_facts(&certificate.pem()).unwrap();
        assert_eq!(facts.names, ["shop.example.test"]);
        assert!(facts.not_after > facts.not_before);
        let error = chain_facts(&key.serialize_pem()).unwrap_err();
        assert!(error.contains("PRIVATE KEY block"), "{error}");
        assert!(chain_facts("nothing")
            .unwrap_err()
            .contains("no PEM certificate"));
    }
}
