//! `hosts`: the hosts dynos run on, for platform admins.

use super::Context;
use crate::cli::JsonArgs;
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
