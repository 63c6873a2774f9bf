//! `hosts`, `hosts:add`, `hosts:drain`, `hosts:remove`: the hosts dynos
//! run on, for platform admins.

use berth_api_types::{AddHostRequest, Host};

use super::Context;
use crate::cli::{HostArgs, HostsAddArgs, JsonArgs};
use crate::error::Result;
use crate::output;

pub fn list(context: &Context, args: JsonArgs) -> Result<()> {
    let hosts = context.client()?.hosts()?;
    if args.json {
        output::print_json(&hosts);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = hosts
        .iter()
        .map(|host| {
            vec![
                host.name.clone(),
                host.address.clone(),
                host.role.clone(),
                host.state.clone(),
                host.availability.clone(),
                host.dynos.to_string(),
            ]
        })
        .collect();
    crate::out!(
        "{}",
        output::table(
            &["NAME", "ADDRESS", "ROLE", "STATE", "AVAILABILITY", "DYNOS"],
            &rows
        )
    );
    Ok(())
}

pub fn add(context: &Context, args: HostsAddArgs) -> Result<()> {
    let request = AddHostRequest {
        name: args.name,
        docker_host: args.docker_host,
        labels: args.labels.into_iter().collect(),
    };
    let host = context.client()?.add_host(&request)?;
    show(&host, args.json, "joined the platform")
}

pub fn drain(context: &Context, args: HostArgs) -> Result<()> {
    let host = context.client()?.drain_host(&args.name)?;
    show(
        &host,
        args.json,
        "takes no more dynos; its dynos move to the other hosts",
    )
}

pub fn remove(context: &Context, args: HostArgs) -> Result<()> {
    context.client()?.remove_host(&args.name)?;
    if args.json {
        output::print_json(&serde_json::json!({ "name": args.name, "removed": true }));
    } else {
        crate::outln!("Removed host {}: its engine left the platform", args.name);
    }
    Ok(())
}

fn show(host: &Host, json: bool, what: &str) -> Result<()> {
    if json {
        output::print_json(host);
    } else {
        crate::outln!(
            "Host {} {what} ({}, {}).",
            host.name,
            host.state,
            host.availability
        );
    }
    Ok(())
}
