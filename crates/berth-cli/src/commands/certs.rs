//! `certs`, `certs:add`, `certs:remove`, `certs:auto`, `certs:auto:refresh`,
//! `certs:redirect`, `certs:hsts`.

use berth_api_types::{AddCertificateRequest, Certificate, TlsSettings, TlsSettingsChange};

use super::Context;
use crate::cli::{AppArg, AppJsonArgs, CertsAddArgs, DomainArgs, OnOff, TlsToggleArgs};
use crate::error::{Error, Result};
use crate::output;

/// Said where automatic TLS would be, when the platform has no ACME directory.
pub(super) const AUTO_TLS_OFF: &str = "automatic TLS is off on this platform (berthd has no \
     BERTH_ACME_DIRECTORY): add a certificate of your own with berth certs:add CERT KEY";

pub fn list(context: &Context, args: AppJsonArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let certificates = context.client()?.certificates(&name)?;
    if args.json {
        output::print_json(&certificates);
    } else if certificates.is_empty() {
        crate::outln!(
            "{name} has no certificates. Custom domains get one automatically when automatic \
             TLS is on (berth certs:auto); or add your own with berth certs:add CERT KEY"
        );
    } else {
        crate::outln!("=== {name} Certificates");
        print_table(&certificates);
    }
    Ok(())
}

fn print_table(certificates: &[Certificate]) {
    let rows: Vec<Vec<String>> = certificates
        .iter()
        .map(|certificate| {
            vec![
                certificate.hostname.clone(),
                match certificate.source.as_str() {
                    "acme" => "automatic".to_string(),
                    other => other.to_string(),
                },
                certificate.issuer.clone(),
                output::time(&certificate.expires_at),
                certificate.status.clone(),
            ]
        })
        .collect();
    crate::out!(
        "{}",
        output::table(
            &["HOSTNAME", "SOURCE", "ISSUER", "EXPIRES", "STATUS"],
            &rows
        )
    );
}

pub fn add(context: &Context, args: CertsAddArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let request = AddCertificateRequest {
        certificate_pem: std::fs::read_to_string(&args.certificate)
            .map_err(Error::file("read", &args.certificate))?,
        private_key_pem: std::fs::read_to_string(&args.key)
            .map_err(Error::file("read", &args.key))?,
    };
    let added = context.client()?.add_certificate(&name, &request)?;
    if args.json {
        output::print_json(&added);
        return Ok(());
    }
    eprintln!("Adding a certificate to {name}... done");
    print_table(&added);
    Ok(())
}

pub fn remove(context: &Context, args: DomainArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    context
        .client()?
        .remove_certificate(&name, &args.hostname)?;
    eprintln!(
        "Removing the manual certificate of {} from {name}... done",
        args.hostname
    );
    Ok(())
}

pub fn auto(context: &Context, args: AppJsonArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let auto = context.client()?.auto_certificates(&name)?;
    if args.json {
        output::print_json(&auto);
        return Ok(());
    }
    if !auto.enabled {
        crate::outln!("{AUTO_TLS_OFF}");
        return Ok(());
    }
    if auto.domains.is_empty() {
        crate::outln!(
            "{name} has no custom domains. Add one with berth domains:add HOSTNAME: its \
             certificate is ordered at once"
        );
        return Ok(());
    }
    crate::outln!("=== Automatic TLS of {name}");
    let rows: Vec<Vec<String>> = auto
        .domains
        .iter()
        .map(|domain| {
            vec![
                domain.hostname.clone(),
                domain.status.clone(),
                domain
                    .expires_at
                    .as_ref()
                    .map_or_else(String::new, output::time),
                domain
                    .next_attempt_at
                    .as_ref()
                    .map_or_else(String::new, output::time),
                domain.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    crate::out!(
        "{}",
        output::table(
            &[
                "HOSTNAME",
                "STATUS",
                "EXPIRES",
                "NEXT ATTEMPT",
                "LAST ERROR"
            ],
            &rows
        )
    );
    Ok(())
}

pub fn refresh(context: &Context, app: AppArg) -> Result<()> {
    let name = context.app_name(&app)?;
    context.client()?.refresh_auto_certificates(&name)?;
    eprintln!("Retrying automatic certificates of {name} now... done (see berth certs:auto)");
    Ok(())
}

pub fn redirect(context: &Context, args: TlsToggleArgs) -> Result<()> {
    toggle(context, args, |state| TlsSettingsChange {
        redirect_http: Some(state),
        hsts: None,
    })
}

pub fn hsts(context: &Context, args: TlsToggleArgs) -> Result<()> {
    toggle(context, args, |state| TlsSettingsChange {
        redirect_http: None,
        hsts: Some(state),
    })
}

fn toggle(
    context: &Context,
    args: TlsToggleArgs,
    change: impl FnOnce(bool) -> TlsSettingsChange,
) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let settings = match args.state {
        None => client.tls_settings(&name)?,
        Some(state) => client.change_tls_settings(&name, &change(state == OnOff::On))?,
    };
    if args.json {
        output::print_json(&settings);
    } else {
        print_settings(&name, settings);
    }
    Ok(())
}

fn print_settings(name: &str, settings: TlsSettings) {
    let on_off = |on: bool| if on { "on" } else { "off" }.to_string();
    crate::outln!("=== HTTPS of {name}");
    crate::out!(
        "{}",
        output::key_values(&[
            ("Redirect HTTP to HTTPS", on_off(settings.redirect_http)),
            ("HSTS", on_off(settings.hsts)),
        ])
    );
}
