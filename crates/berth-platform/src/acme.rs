//! Automatic certificates (ACME, HTTP-01 answered by the router): one
//! account per platform, an order per custom domain, renewal when a third of
//! the lifetime remains (jittered), failures backed off. The state of each
//! domain lives in the store, so a restarted berthd carries on where it was.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use berth_core::{Action, Actor};
use berth_store::{AcmeState, AuditEntry, CertificateSource, DomainRecord, NewCertificate};
use chrono::{DateTime, Utc};
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use rand::Rng;

use crate::audit::app_entry;
use crate::certs::{certificate_key_context, chain_facts};
use crate::{Platform, PlatformError, Result};

/// Where automatic certificates come from.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// The ACME directory URL.
    pub directory: String,
    /// The account's contact, without `mailto:`.
    pub email: Option<String>,
    /// A PEM CA certificate to trust for the directory's own TLS (a test CA).
    pub ca_bundle: Option<PathBuf>,
}

/// The first retry after a failure; each further failure doubles it. From
/// two minutes, attempts come at 0, 2, 6, 14, 30, 62 … minutes: at most five
/// failed validations of a host in any hour, Let's Encrypt's limit.
const FIRST_BACKOFF: Duration = Duration::from_secs(120);
/// The longest wait between attempts for a failing domain.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// How long one order may take from creation to certificate.
const ORDER_TIMEOUT: Duration = Duration::from_secs(90);

/// Automatic issuance of one domain, as users see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoCertificate {
    pub hostname: String,
    /// `pending` (not tried yet), `issued`, `failing`, or `manual` (a
    /// manual certificate serves instead).
    pub status: String,
    pub last_error: Option<String>,
    pub failures: i64,
    /// When the next issuance, renewal or retry is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
}

/// Automatic issuance of an app's domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoCertificates {
    /// False when the platform has no ACME directory (`BERTH_ACME_DIRECTORY`).
    pub enabled: bool,
    pub domains: Vec<AutoCertificate>,
}

impl Platform {
    /// Automatic certificates of the app's domains, with the last error.
    pub async fn auto_certificates(
        &self,
        actor: &Actor,
        app_name: &str,
    ) -> Result<AutoCertificates> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        let states: HashMap<i64, AcmeState> = self
            .store
            .acme_states()
            .await?
            .into_iter()
            .map(|state| (state.domain_id, state))
            .collect();
        let certificates = self.store.certificates(Some(app.id)).await?;
        let now = Utc::now();
        let domains = self
            .store
            .domains(Some(app.id))
            .await?
            .into_iter()
            .map(|domain| {
                let certificate = |source| {
                    certificates
                        .iter()
                        .find(|c| c.domain_id == domain.id && c.source == source)
                };
                let manual = certificate(CertificateSource::Manual).filter(|c| c.not_after > now);
                let state = states.get(&domain.id);
                let status = if manual.is_some() {
                    "manual"
                } else {
                    state.map_or("pending", |state| state.status.as_str())
                };
                AutoCertificate {
                    hostname: domain.hostname,
                    status: status.to_string(),
                    last_error: state.and_then(|state| state.last_error.clone()),
                    failures: state.map_or(0, |state| state.failures),
                    next_attempt_at: state
                        .filter(|_| manual.is_none())
                        .map(|state| state.next_attempt_at),
                    not_after: certificate(CertificateSource::Acme).map(|c| c.not_after),
                }
            })
            .collect();
        Ok(AutoCertificates {
            enabled: self.acme.is_some(),
            domains,
        })
    }

    /// Tries every domain of the app again now, without waiting out its backoff.
    pub async fn refresh_auto_certificates(&self, actor: &Actor, app_name: &str) -> Result<()> {
        let app = self
            .authorize_app(actor, app_name, Action::ManageDomains)
            .await?;
        if self.acme.is_none() {
            return Err(automatic_tls_off());
        }
        let entry = app_entry(actor, &app.name, "certs.auto.refresh", String::new());
        self.store.retry_acme_now(app.id, &entry).await?;
        self.acme_wakeup.notify_one();
        Ok(())
    }

    /// Resolves when a domain may need a certificate at once (one was added,
    /// or a refresh was asked for).
    pub async fn certificates_wanted(&self) {
        self.acme_wakeup.notified().await;
    }

    /// One pass of the certificate task: issues, renews or retries every
    /// domain that is due, one at a time, and gives the router what
    /// changed. Idempotent: what is due is read from the store each time.
    pub async fn tend_certificates(&self) -> Result<()> {
        let Some(acme) = &self.acme else {
            return Ok(());
        };
        let now = Utc::now();
        let states: HashMap<i64, AcmeState> = self
            .store
            .acme_states()
            .await?
            .into_iter()
            .map(|state| (state.domain_id, state))
            .collect();
        let manual: Vec<i64> = self
            .store
            .certificates(None)
            .await?
            .into_iter()
            .filter(|c| c.source == CertificateSource::Manual && c.not_after > now)
            .map(|c| c.domain_id)
            .collect();
        for domain in self.store.domains(None).await? {
            if manual.contains(&domain.id) {
                continue;
            }
            let state = states.get(&domain.id);
            if state.is_some_and(|state| state.next_attempt_at > Utc::now()) {
                continue;
            }
            let failures = state.map_or(0, |state| state.failures);
            let outcome = tokio::time::timeout(ORDER_TIMEOUT, self.issue(acme, &domain)).await;
            let outcome = outcome.unwrap_or_else(|_| {
                Err(format!(
                    "the CA did not finish the order within {} s",
                    ORDER_TIMEOUT.as_secs()
                ))
            });
            self.clear_challenges();
            let next = match outcome {
                Ok(RenewAt(renew_at)) => {
                    tracing::info!(hostname = %domain.hostname, %renew_at, "certificate issued");
                    AcmeState {
                        domain_id: domain.id,
                        status: "issued".into(),
                        failures: 0,
                        last_error: None,
                        next_attempt_at: renew_at,
                        updated_at: Utc::now(),
                    }
                }
                Err(why) => {
                    let why = self.with_dns_hint(&domain, why).await;
                    tracing::warn!(hostname = %domain.hostname, error = %why, "certificate not issued");
                    let failures = failures + 1;
                    AcmeState {
                        domain_id: domain.id,
                        status: "failing".into(),
                        failures,
                        last_error: Some(why),
                        next_attempt_at: Utc::now() + backoff(failures),
                        updated_at: Utc::now(),
                    }
                }
            };
            self.store.put_acme_state(&next).await?;
        }
        Ok(())
    }

    /// Orders a certificate for the domain and stores it; returns when to
    /// renew it.
    async fn issue(
        &self,
        acme: &AcmeConfig,
        domain: &DomainRecord,
    ) -> std::result::Result<RenewAt, String> {
        let account = self.acme_account(acme).await?;
        let identifiers = [Identifier::Dns(domain.hostname.clone())];
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(|e| ca_error("the CA refused the order", e))?;
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization =
                authorization.map_err(|e| ca_error("cannot read the authorization", e))?;
            match authorization.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => {
                    return Err(format!(
                        "the CA says the authorization for {} is {other:?}",
                        domain.hostname
                    ))
                }
            }
            let mut challenge = authorization
                .challenge(ChallengeType::Http01)
                .ok_or_else(|| "the CA offers no HTTP-01 challenge for this name".to_string())?;
            self.add_challenge(
                challenge.token.clone(),
                challenge.key_authorization().as_str().to_string(),
            );
            challenge
                .set_ready()
                .await
                .map_err(|e| ca_error("the challenge was refused", e))?;
        }
        let polling = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(1.5)
            .timeout(Duration::from_secs(60));
        let status = order.poll_ready(&polling).await;
        let status = match status {
            Ok(status) => status,
            Err(error) => return Err(self.validation_error(&mut order, error).await),
        };
        if status != OrderStatus::Ready {
            let reason = challenge_problem(&mut order).await;
            return Err(reason.unwrap_or_else(|| {
                format!(
                    "the CA could not validate {}: order {status:?}",
                    domain.hostname
                )
            }));
        }
        let key_pem = order
            .finalize()
            .await
            .map_err(|e| ca_error("the CA refused to finalize the order", e))?;
        let chain_pem = order
            .poll_certificate(&polling)
            .await
            .map_err(|e| ca_error("the CA did not deliver the certificate", e))?;
        let facts = chain_facts(&chain_pem)
            .map_err(|why| format!("the CA sent a certificate that cannot be read: {why}"))?;
        let key_sealed = self
            .secrets
            .seal(&certificate_key_context(domain.id), key_pem.as_bytes());
        let entry = AuditEntry {
            actor_email: None,
            source: "acme".into(),
            app_name: self.app_name_of(domain.app_id).await,
            action: "certs.issue".into(),
            detail: format!("{} (issuer {})", domain.hostname, facts.issuer),
        };
        self.store
            .put_certificate(
                &NewCertificate {
                    domain_id: domain.id,
                    source: CertificateSource::Acme,
                    chain_pem: &chain_pem,
                    key_sealed: &key_sealed,
                    issuer: &facts.issuer,
                    not_before: facts.not_before,
                    not_after: facts.not_after,
                },
                &entry,
            )
            .await
            .map_err(|e| format!("cannot store the certificate: {e}"))?;
        self.refresh_certificates_after_change().await;
        Ok(renew_at(facts.not_before, facts.not_after))
    }

    /// The platform's account at the directory: restored from the store,
    /// else created and stored (sealed).
    async fn acme_account(&self, acme: &AcmeConfig) -> std::result::Result<Account, String> {
        let mut cached = self.acme_account.lock().await;
        if let Some(account) = cached.as_ref() {
            return Ok(account.clone());
        }
        berth_router::crypto_provider();
        let builder = || match &acme.ca_bundle {
            Some(path) => Account::builder_with_root(path).map_err(|e| {
                format!(
                    "cannot trust the CA bundle {} (BERTH_ACME_CA_BUNDLE): {e}",
                    path.display()
                )
            }),
            None => Account::builder().map_err(|e| format!("cannot set up TLS for ACME: {e}")),
        };
        let context = account_context(&acme.directory);
        let stored = self
            .store
            .acme_account(&acme.directory)
            .await
            .map_err(|e| e.to_string())?;
        let account = match stored {
            Some(sealed) => {
                let json = self
                    .secrets
                    .open(&context, &sealed)
                    .map_err(|e| format!("cannot open the stored ACME account: {e}"))?;
                let credentials = serde_json::from_slice(&json)
                    .map_err(|e| format!("the stored ACME account cannot be read: {e}"))?;
                builder()?
                    .from_credentials(credentials)
                    .await
                    .map_err(|e| ca_error("cannot reach the ACME directory", e))?
            }
            None => {
                let contact = acme.email.as_ref().map(|email| format!("mailto:{email}"));
                let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
                let (account, credentials) = builder()?
                    .create(
                        &NewAccount {
                            contact: &contacts,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        acme.directory.clone(),
                        None,
                    )
                    .await
                    .map_err(|e| ca_error("cannot create the ACME account", e))?;
                let json = serde_json::to_vec(&credentials)
                    .map_err(|e| format!("cannot encode the ACME account: {e}"))?;
                self.store
                    .add_acme_account(&acme.directory, &self.secrets.seal(&context, &json))
                    .await
                    .map_err(|e| e.to_string())?;
                account
            }
        };
        *cached = Some(account.clone());
        Ok(account)
    }

    async fn app_name_of(&self, app_id: i64) -> Option<String> {
        let apps = self.store.apps_visible_to(0, true).await.ok()?;
        apps.into_iter()
            .find(|app| app.id == app_id)
            .map(|app| app.name)
    }

    fn add_challenge(&self, token: String, key_authorization: String) {
        let mut challenges = self.challenges.lock().expect("challenges lock");
        challenges.insert(token, key_authorization);
        if let Some(router) = &self.router {
            router.set_challenges(challenges.clone());
        }
    }

    fn clear_challenges(&self) {
        let mut challenges = self.challenges.lock().expect("challenges lock");
        challenges.clear();
        if let Some(router) = &self.router {
            router.set_challenges(HashMap::new());
        }
    }

    /// Why an order did not become ready: the challenge's own problem
    /// when the CA gives one.
    async fn validation_error(
        &self,
        order: &mut instant_acme::Order,
        error: instant_acme::Error,
    ) -> String {
        match challenge_problem(order).await {
            Some(reason) => reason,
            None => ca_error("the CA could not validate the domain", error),
        }
    }

    /// Adds the DNS check's finding to a failure when DNS does not point here.
    async fn with_dns_hint(&self, domain: &DomainRecord, why: String) -> String {
        let Some(app_name) = self.app_name_of(domain.app_id).await else {
            return why;
        };
        match self.dns_problem(&app_name, &domain.hostname).await {
            Some(problem) => format!("{problem} (likely why: {why})"),
            None => why,
        }
    }
}

/// When to renew: when a third of the lifetime remains, a little earlier
/// by a random amount (up to a tenth of that third) so renewals of many
/// domains spread out.
pub(crate) struct RenewAt(DateTime<Utc>);

fn renew_at(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> RenewAt {
    let third = (not_after - not_before) / 3;
    let jitter_ms = third.num_milliseconds().max(0) / 10;
    let jitter = chrono::Duration::milliseconds(rand::thread_rng().gen_range(0..=jitter_ms));
    RenewAt(not_after - third - jitter)
}

/// 2 min, 4, 8, … up to 6 h after the latest of `failures` failures in a row.
fn backoff(failures: i64) -> chrono::Duration {
    let doublings = u32::try_from(failures.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    let wait = FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_BACKOFF);
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(6))
}

/// The problem the CA recorded on the order's HTTP-01 challenge, in words.
async fn challenge_problem(order: &mut instant_acme::Order) -> Option<String> {
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authorization)) = authorizations.next().await {
        if authorization.refresh().await.is_err() {
            continue;
        }
        let problem = authorization
            .challenges
            .iter()
            .find_map(|challenge| challenge.error.clone());
        if let Some(problem) = problem {
            return Some(problem_words(&problem));
        }
    }
    None
}

/// An ACME problem in plain words.
fn problem_words(problem: &instant_acme::Problem) -> String {
    let kind = problem
        .r#type
        .as_deref()
        .and_then(|kind| kind.rsplit(':').next())
        .unwrap_or("");
    let detail = problem.detail.as_deref().unwrap_or("no detail given");
    match kind {
        "rateLimited" => format!("rate limited by the CA: {detail}"),
        "connection" | "unauthorized" | "incorrectResponse" => {
            format!("the CA could not fetch the HTTP-01 challenge from this platform: {detail}")
        }
        "dns" => format!("the CA cannot resolve the domain: {detail}"),
        _ => format!("the CA said: {detail}"),
    }
}

fn ca_error(doing: &str, error: instant_acme::Error) -> String {
    match error {
        instant_acme::Error::Api(problem) => problem_words(&problem),
        other => format!("{doing}: {other}"),
    }
}

/// Where the account at `directory` is sealed.
pub(crate) fn account_context(directory: &str) -> String {
    format!("acme-account/{directory}")
}

pub(crate) fn automatic_tls_off() -> PlatformError {
    PlatformError::Invalid(
        "automatic TLS is off: berthd needs BERTH_ACME_DIRECTORY (an ACME directory URL) to \
         issue certificates; `berth certs:add` takes a certificate of your own"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_minutes_up_to_six_hours() {
        assert_eq!(backoff(1).num_seconds(), 120);
        assert_eq!(backoff(2).num_seconds(), 240);
        assert_eq!(backoff(4).num_seconds(), 960);
        assert_eq!(backoff(30).num_seconds(), 6 * 3600);
        // Never more than five attempts in the first hour.
        let mut at = 0;
        let mut attempts = 0;
        for failures in 1.. {
            attempts += 1;
            at += backoff(failures).num_seconds();
            if at >= 3600 {
                break;
            }
        }
        assert_eq!(attempts, 5);
    }

    #[test]
    fn renewal_comes_when_a_third_of_the_lifetime_remains() {
        let not_before = Utc::now();
        let not_after = not_before + chrono::Duration::days(90);
        let RenewAt(at) = renew_at(not_before, not_after);
        assert!(at <= not_after - chrono::Duration::days(30));
        assert!(at >= not_after - chrono::Duration::days(33));
    }

    #[test]
    fn problems_read_as_plain_words() {
        let problem: instant_acme::Problem = serde_json::from_value(serde_json::json!({
            "type": "urn:ietf:params:acme:error:rateLimited",
            "detail": "too many certificates",
            "status": 429,
        }))
        .unwrap();
        assert_eq!(
            problem_words(&problem),
            "rate limited by the CA: too many certificates"
        );
    }
}
