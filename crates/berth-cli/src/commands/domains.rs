//! `domains`, `domains:add`, `domains:remove`, `domains:info`.

use berth_api_types::Domain;

use super::certs::AUTO_TLS_OFF;
use super::Context;
use crate::api::Client;
use crate::cli::{AppJsonArgs, DomainArgs};
use crate::error::Result;
use crate::output;

pub fn list(context: &Context, args: AppJsonArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let domains = context.client()?.domains(&name)?;
    if args.json {
        output::print_json(&domains);
    } else if domains.is_empty() {
        crate::outln!("{name} has no custom domains. Add one with: berth domains:add HOSTNAME");
    } else {
        let rows: Vec<Vec<String>> = domains
            .iter()
            .map(|domain| {
                vec![
                    domain.hostname.clone(),
                    record_type(domain).to_string(),
                    record_values(domain),
                    output::time(&domain.created_at),
                ]
            })
            .collect();
        crate::outln!("=== {name} Custom Domains");
        crate::out!(
            "{}",
            output::table(&["DOMAIN", "DNS RECORD", "DNS TARGET", "ADDED"], &rows)
        );
    }
    Ok(())
}

pub fn add(context: &Context, args: DomainArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let domain = client.add_domain(&name, &args.hostname)?;
    if args.json {
        output::print_json(&domain);
        return Ok(());
    }
    eprintln!("Adding {} to {name}... done", domain.hostname);
    crate::outln!("Create this DNS record at your DNS provider:");
    crate::outln!(
        "  {}  {}  {}",
        domain.hostname,
        record_type(&domain),
        record_values(&domain)
    );
    if domain.record_type == "a" {
        crate::outln!(
            "An apex domain cannot have a CNAME record; some DNS hosts offer ALIAS or ANAME \
             records, which act like one at the apex."
        );
    }
    crate::outln!("Then check it with: berth domains:info {}", domain.hostname);
    if client.auto_certificates(&name)?.enabled {
        crate::outln!(
            "A certificate is being ordered now; follow it with: berth certs:auto \
             (it needs the DNS record in place)"
        );
    } else {
        crate::outln!("Note: {AUTO_TLS_OFF}.");
    }
    Ok(())
}

pub fn remove(context: &Context, args: DomainArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    context.client()?.remove_domain(&name, &args.hostname)?;
    eprintln!("Removing {} from {name}... done", args.hostname);
    Ok(())
}

pub fn info(context: &Context, args: DomainArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let info = client.domain_info(&name, &args.hostname)?;
    if args.json {
        output::print_json(&info);
        return Ok(());
    }
    let found: Vec<String> = info
        .dns
        .cnames
        .iter()
        .map(|target| format!("CNAME {target}"))
        .chain(info.dns.addresses.iter().cloned())
        .collect();
    let mut pairs = vec![
        ("App", name.clone()),
        (
            "DNS record",
            format!(
                "{} {}",
                record_type(&info.domain),
                record_values(&info.domain)
            ),
        ),
        ("Resolver", info.dns.resolver.clone()),
        (
            "DNS says",
            if found.is_empty() {
                "nothing".to_string()
            } else {
                found.join(", ")
            },
        ),
        (
            "Points here",
            if info.dns.points_here { "yes" } else { "no" }.to_string(),
        ),
    ];
    if let Some(problem) = &info.dns.problem {
        pairs.push(("Problem", problem.clone()));
    }
    pairs.push((
        "Certificate",
        certificate_status(&client, &name, &info.domain.hostname)?,
    ));
    crate::outln!("=== {}", info.domain.hostname);
    crate::out!("{}", output::key_values(&pairs));
    Ok(())
}

/// The domain's serving certificate, else how automatic TLS fares for it.
fn certificate_status(client: &Client, app: &str, hostname: &str) -> Result<String> {
    let serving = client
        .certificates(app)?
        .into_iter()
        .find(|c| c.hostname == hostname && c.status == "serving");
    if let Some(certificate) = serving {
        return Ok(format!(
            "{} from {}, expires {}",
            if certificate.source == "acme" {
                "automatic"
            } else {
                "manual"
            },
            certificate.issuer,
            output::time(&certificate.expires_at)
        ));
    }
    let auto = client.auto_certificates(app)?;
    if !auto.enabled {
        return Ok(AUTO_TLS_OFF.to_string());
    }
    Ok(auto
        .domains
        .into_iter()
        .find(|domain| domain.hostname == hostname)
        .map_or_else(
            || "none yet".to_string(),
            |domain| match domain.last_error {
                Some(error) => format!("{}: {error}", domain.status),
                None => domain.status,
            },
        ))
}

fn record_type(domain: &Domain) -> &'static str {
    if domain.record_type == "cname" {
        "CNAME"
    } else {
        "A/AAAA"
    }
}

fn record_values(domain: &Domain) -> String {
    if domain.record_values.is_empty() {
        "(this platform's public addresses: ask its operator)".to_string()
    } else {
        domain.record_values.join(", ")
    }
}
