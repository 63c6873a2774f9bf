//! `access`, `access:add`, `access:update`, `access:remove`, `audit`.

use berth_api_types::AddMemberRequest;

use super::Context;
use crate::cli::{AccessArgs, AccessRemoveArgs, AppJsonArgs};
use crate::error::{Error, Result};
use crate::output;

pub fn list(context: &Context, args: AppJsonArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let members = context.client()?.members(&name)?;
    if args.json {
        output::print_json(&members);
    } else {
        let rows: Vec<Vec<String>> = members
            .iter()
            .map(|member| {
                vec![
                    member.email.clone(),
                    member.role.clone(),
                    output::time(&member.created_at),
                ]
            })
            .collect();
        crate::outln!("=== {name} Access");
        crate::out!("{}", output::table(&["EMAIL", "ROLE", "SINCE"], &rows));
    }
    Ok(())
}

pub fn add(context: &Context, args: AccessArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let request = AddMemberRequest {
        email: args.email.clone(),
        role: args.role.clone(),
    };
    context.client()?.add_member(&name, &request)?;
    eprintln!("Adding {} to {name} as {}... done", args.email, args.role);
    Ok(())
}

pub fn update(context: &Context, args: AccessArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    context
        .client()?
        .update_member(&name, &args.email, &args.role)?;
    eprintln!("Changing {} on {name} to {}... done", args.email, args.role);
    Ok(())
}

pub fn remove(context: &Context, args: AccessRemoveArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    context.client()?.remove_member(&name, &args.email)?;
    eprintln!("Removing {} from {name}... done", args.email);
    Ok(())
}

pub fn audit(context: &Context, args: AppJsonArgs) -> Result<()> {
    let app = match context.app_name(&args.app) {
        Ok(name) => Some(name),
        Err(Error::NoApp) => None,
        Err(error) => return Err(error),
    };
    let events = context.client()?.audit(app.as_deref())?;
    if args.json {
        output::print_json(&events);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|event| {
            let mut row = vec![output::time(&event.at)];
            if app.is_none() {
                row.push(event.app.clone().unwrap_or_default());
            }
            row.extend([
                event.actor.clone().unwrap_or_else(|| "-".into()),
                event.source.clone(),
                event.action.clone(),
                event.detail.replace(['\r', '\n'], " "),
            ]);
            row
        })
        .collect();
    match &app {
        Some(name) => {
            crate::outln!("=== {name} Audit Trail");
            crate::out!(
                "{}",
                output::table(&["AT", "BY", "FROM", "ACTION", "DETAIL"], &rows)
            );
        }
        None => {
            crate::outln!("=== Platform Audit Trail");
            crate::out!(
                "{}",
                output::table(&["AT", "APP", "BY", "FROM", "ACTION", "DETAIL"], &rows)
            );
        }
    }
    Ok(())
}
