//! Custom domains: hostnames an app answers on besides `<app>.<base domain>`,
//! what DNS record each needs, and whether DNS has it yet. Their
//! certificates are in certs.rs and acme.rs.

use std::net::IpAddr;

use berth_core::{Action, Actor, Hostname};
use berth_store::DomainRecord;
use chrono::{DateTime, Utc};

use crate::audit::app_entry;
use crate::dns::{self, DnsAnswer};
use crate::{Platform, PlatformError, Result};

/// A custom domain and the DNS record that sends its traffic here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub hostname: String,
    pub record: DnsRecord,
    pub created_at: DateTime<Utc>,
}

/// The DNS record a domain needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsRecord {
    /// A subdomain: a CNAME to the app's default host.
    Cname(String),
    /// An apex (which cannot hold a CNAME): A/AAAA records to the edge's
    /// addresses, none when the operator has not configured them.
    Addresses(Vec<IpAddr>),
}

/// What DNS says about a domain now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainCheck {
    pub domain: Domain,
    /// `system`, or the DNS server's address.
    pub resolver: String,
    pub answer: DnsAnswer,
    pub points_here: bool,
    /// Why it does not point here, in words for the CLI.
    pub problem: Option<String>,
}

impl Platform {
    /// The app's custom domains, oldest first.
    pub async fn domains(&self, actor: &Actor, app_name: &str) -> Result<Vec<Domain>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        let records = self.store.domains(Some(app.id)).await?;
        Ok(records
            .into_iter()
            .map(|record| self.domain_view(&app.name, record))
            .collect())
    }

    /// Adds `hostname` to the app and routes it there at once.
    pub async fn add_domain(
        &self,
        actor: &Actor,
        app_name: &str,
        hostname: &str,
    ) -> Result<Domain> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageDomains)
            .await?;
        let hostname = self.custom_hostname(hostname)?;
        if let Some(taken) = self.store.domain(hostname.as_str()).await? {
            // Which app holds it is not said: the caller may have no access to it.
            return Err(PlatformError::Conflict(if taken.app_id == app.id {
                format!("{hostname} is already a domain of {}", app.name)
            } else {
                format!("{hostname} is already in use by another app")
            }));
        }
        let entry = app_entry(actor, &app.name, "domains.add", hostname.to_string());
        let record = self
            .store
            .add_domain(app.id, hostname.as_str(), &entry)
            .await
            .map_err(|error| match error {
                // Another request took it between the check and the insert.
                berth_store::StoreError::Conflict(_) => {
                    PlatformError::Conflict(format!("{hostname} is already in use by another app"))
                }
                other => other.into(),
            })?;
        self.refresh_routes_after_change().await;
        self.acme_wakeup.notify_one();
        Ok(self.domain_view(&app.name, record))
    }

    /// Removes `hostname` from the app; the router stops serving it at once.
    pub async fn remove_domain(&self, actor: &Actor, app_name: &str, hostname: &str) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageDomains)
            .await?;
        let hostname =
            Hostname::parse(hostname).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let entry = app_entry(actor, &app.name, "domains.remove", hostname.to_string());
        if !self
            .store
            .remove_domain(app.id, hostname.as_str(), &entry)
            .await?
        {
            return Err(domain_not_found(&hostname, &app.name));
        }
        self.refresh_routes_after_change().await;
        self.refresh_certificates_after_change().await;
        Ok(())
    }

    /// The domain, and what DNS says about it now.
    pub async fn domain_check(
        &self,
        actor: &Actor,
        app_name: &str,
        hostname: &str,
    ) -> Result<DomainCheck> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        let hostname =
            Hostname::parse(hostname).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        let record = self
            .store
            .domain(hostname.as_str())
            .await?
            .filter(|record| record.app_id == app.id)
            .ok_or_else(|| domain_not_found(&hostname, &app.name))?;
        let domain = self.domain_view(&app.name, record);
        let resolver = self
            .dns_resolver
            .map_or_else(|| "system".to_string(), |server| server.to_string());
        let (answer, points_here, problem) = self.dns_findings(&app.name, &domain).await;
        Ok(DomainCheck {
            domain,
            resolver,
            answer,
            points_here,
            problem,
        })
    }

    /// Why DNS for the app's `hostname` does not point here, if it does not.
    pub(crate) async fn dns_problem(&self, app_name: &str, hostname: &str) -> Option<String> {
        let record = DomainRecord {
            id: 0,
            app_id: 0,
            hostname: hostname.to_string(),
            created_at: Utc::now(),
        };
        let domain = self.domain_view(app_name, record);
        self.dns_findings(app_name, &domain).await.2
    }

    /// What DNS answers for the domain, whether that points here, and if
    /// not, what to do about it.
    async fn dns_findings(
        &self,
        app_name: &str,
        domain: &Domain,
    ) -> (DnsAnswer, bool, Option<String>) {
        let hostname = &domain.hostname;
        let answer = dns::lookup(hostname, self.dns_resolver).await;
        let default_host = self.default_host(app_name);
        match answer {
            Err(why) => (DnsAnswer::default(), false, Some(why)),
            Ok(answer) => {
                // Addresses of the default host count as the edge's too, for
                // platforms whose operator did not list the edge's addresses.
                let here: Vec<IpAddr> = match dns::lookup(&default_host, self.dns_resolver).await {
                    Ok(default) => default.addresses,
                    Err(_) => Vec::new(),
                };
                let points_here = answer.cnames.contains(&default_host)
                    || answer.addresses.iter().any(|address| {
                        self.edge_addresses.contains(address) || here.contains(address)
                    });
                let problem = (!points_here).then(|| match &domain.record {
                    DnsRecord::Cname(target) => format!(
                        "DNS for {hostname} does not point here: create a CNAME record to {target}"
                    ),
                    DnsRecord::Addresses(addresses) if addresses.is_empty() => format!(
                        "DNS for {hostname} does not point here: create A/AAAA records to this \
                         platform's addresses"
                    ),
                    DnsRecord::Addresses(addresses) => format!(
                        "DNS for {hostname} does not point here: create A/AAAA records to {}",
                        join(addresses)
                    ),
                });
                (answer, points_here, problem)
            }
        }
    }

    /// Every app's custom hostnames, by app id, for the router's table.
    pub(crate) async fn custom_hosts(&self) -> Result<Vec<(i64, String)>> {
        Ok(self
            .store
            .domains(None)
            .await?
            .into_iter()
            .map(|record| (record.app_id, record.hostname))
            .collect())
    }

    /// Parses a hostname a user wants to add: valid, and not under the base
    /// domain, whose names belong to apps.
    fn custom_hostname(&self, hostname: &str) -> Result<Hostname> {
        let hostname =
            Hostname::parse(hostname).map_err(|e| PlatformError::Invalid(e.to_string()))?;
        if hostname.is_within(&self.base_domain) {
            return Err(PlatformError::Invalid(format!(
                "{hostname} is under the platform's base domain {}, whose names are reserved \
                 for apps (<app>.{}): use a domain of your own",
                self.base_domain, self.base_domain
            )));
        }
        if self
            .reserved_hostnames
            .iter()
            .any(|reserved| reserved == hostname.as_str())
        {
            return Err(PlatformError::Invalid(format!(
                "{hostname} is the platform's own host name (the API and dashboard answer \
                 there): an app on it would receive the dashboard's cookies; use a domain of \
                 your own"
            )));
        }
        Ok(hostname)
    }

    fn domain_view(&self, app_name: &str, record: DomainRecord) -> Domain {
        let hostname = Hostname::parse(&record.hostname);
        let apex = hostname.as_ref().is_ok_and(Hostname::is_apex);
        Domain {
            record: if apex {
                DnsRecord::Addresses(self.edge_addresses.clone())
            } else {
                DnsRecord::Cname(self.default_host(app_name))
            },
            hostname: record.hostname,
            created_at: record.created_at,
        }
    }

    /// A domain change is stored whatever happens next; a failed refresh is
    /// only logged, and the periodic refresh catches up.
    async fn refresh_routes_after_change(&self) {
        if let Err(error) = self.refresh_routes().await {
            tracing::warn!(%error, "cannot refresh routes after a domain change");
        }
    }
}

fn domain_not_found(hostname: &Hostname, app_name: &str) -> PlatformError {
    PlatformError::NotFound(format!("{hostname} is not a domain of {app_name}"))
}

fn join(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
