//! `config`, `config:get`, `config:set`, `config:unset`, `releases:rollback`, `ps:scale`.

use berth_api_types::{ConfigUpdate, DynoSelection, FormationEntry, LimitsUpdate};

use super::Context;
use crate::cli::{
    AppArg, ConfigArgs, ConfigGetArgs, ConfigSetArgs, ConfigUnsetArgs, LimitsArgs, RestartArgs,
    RollbackArgs, ScaleArgs, StopArgs,
};
use crate::error::{Error, Result};
use crate::output;

pub fn show(context: &Context, args: ConfigArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let config = match client.config(&name) {
        // Viewers may not read values: they see the names.
        Err(Error::Api { status: 403, .. }) if !args.shell => {
            return show_names(&name, &client.config_names(&name)?, args.json);
        }
        other => other?,
    };
    if args.json {
        output::print_json(&config);
    } else if args.shell {
        for (key, value) in &config {
            crate::outln!("{key}={}", shell_quote(value));
        }
    } else {
        crate::outln!("=== {name} Config Vars");
        let pairs: Vec<(&str, String)> = config
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        crate::out!("{}", output::key_values(&pairs));
    }
    Ok(())
}

fn show_names(app: &str, names: &[String], json: bool) -> Result<()> {
    if json {
        let hidden: std::collections::BTreeMap<&str, Option<&str>> =
            names.iter().map(|name| (name.as_str(), None)).collect();
        output::print_json(&hidden);
    } else {
        crate::outln!("=== {app} Config Vars (values hidden from viewers)");
        let pairs: Vec<(&str, String)> = names
            .iter()
            .map(|name| (name.as_str(), "(hidden)".to_string()))
            .collect();
        crate::out!("{}", output::key_values(&pairs));
    }
    Ok(())
}

pub fn get(context: &Context, args: ConfigGetArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let config = context.client()?.config(&name)?;
    // Heroku prints an empty line for an unset var; a script sees it as empty.
    crate::outln!("{}", config.get(&args.key).map_or("", String::as_str));
    Ok(())
}

pub fn set(context: &Context, args: ConfigSetArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let mut update = ConfigUpdate::new();
    for pair in &args.pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Error::Input(format!("{pair:?} is not KEY=VALUE")))?;
        update.insert(key.to_string(), Some(value.to_string()));
    }
    let changed = context.client()?.update_config(&name, &update)?;
    let keys: Vec<&str> = update.keys().map(String::as_str).collect();
    report(
        &format!("Setting {} and restarting {name}", keys.join(", ")),
        changed.release,
    );
    Ok(())
}

pub fn unset(context: &Context, args: ConfigUnsetArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let update: ConfigUpdate = args.keys.iter().map(|key| (key.clone(), None)).collect();
    let changed = context.client()?.update_config(&name, &update)?;
    report(
        &format!("Unsetting {} and restarting {name}", args.keys.join(", ")),
        changed.release,
    );
    Ok(())
}

/// `Setting … and restarting APP... done, v7`, once it is done (a failure
/// is the one `error:` line instead).
fn report(what: &str, release: Option<i64>) {
    match release {
        Some(version) => eprintln!("{what}... done, v{version}"),
        None => eprintln!("{what}... done (the first deploy picks it up)"),
    }
}

pub fn rollback(context: &Context, args: RollbackArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let version =
        match &args.version {
            Some(text) => Some(text.trim_start_matches('v').parse::<i64>().map_err(|_| {
                Error::Input(format!("{text:?} is not a release: use vN, e.g. v3"))
            })?),
            None => None,
        };
    let release = context.client()?.rollback(&name, version)?;
    eprintln!(
        "Rolling back {name}... done, v{} ({})",
        release.version, release.description
    );
    Ok(())
}

pub fn restart(context: &Context, args: RestartArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let request = DynoSelection {
        process_type: args.process_type,
        dyno: args.dyno,
    };
    let restarted = context.client()?.restart(&name, &request)?;
    eprintln!("Restarting {} on {name}... done", restarted.join(", "));
    Ok(())
}

pub fn stop(context: &Context, args: StopArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let request = DynoSelection {
        process_type: args.process_type,
        dyno: args.dyno,
    };
    let stopped = context.client()?.stop(&name, &request)?;
    eprintln!(
        "Stopping {} on {name}... done, replaced",
        stopped.join(", ")
    );
    Ok(())
}

pub fn maintenance(context: &Context, app: AppArg) -> Result<()> {
    let name = context.app_name(&app)?;
    let app = context.client()?.app(&name)?;
    crate::outln!("{}", if app.maintenance { "on" } else { "off" });
    Ok(())
}

pub fn set_maintenance(context: &Context, app: AppArg, enabled: bool) -> Result<()> {
    let name = context.app_name(&app)?;
    context.client()?.set_maintenance(&name, enabled)?;
    let state = if enabled { "Enabling" } else { "Disabling" };
    eprintln!("{state} maintenance mode for {name}... done");
    Ok(())
}

pub fn scale(context: &Context, args: ScaleArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let formation = if args.changes.is_empty() {
        client.formation(&name)?
    } else {
        let formation = client.scale(&name, args.changes)?;
        eprintln!("Scaling {name}... done");
        formation
    };
    if args.json {
        output::print_json(&formation);
    } else {
        crate::outln!("{}", summary(&formation));
    }
    Ok(())
}

pub fn limits(context: &Context, args: LimitsArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let limits = match &args.process_type {
        None => client.limits(&name)?,
        Some(process_type) => {
            let update = LimitsUpdate {
                memory: args.memory.clone(),
                cpus: args.cpus.clone(),
            };
            let limits = client.set_limits(&name, process_type, &update)?;
            eprintln!("Setting {process_type} limits of {name}... done");
            limits
        }
    };
    if args.json {
        output::print_json(&limits);
    } else {
        let rows: Vec<Vec<String>> = limits
            .iter()
            .map(|entry| {
                vec![
                    entry.process_type.clone(),
                    entry.memory.clone().unwrap_or_else(|| "-".into()),
                    entry
                        .cpus
                        .map_or_else(|| "-".into(), |cpus| cpus.to_string()),
                ]
            })
            .collect();
        crate::out!("{}", output::table(&["TYPE", "MEMORY", "CPUS"], &rows));
    }
    Ok(())
}

/// `web=2 worker=0`, as Heroku prints a formation.
fn summary(formation: &[FormationEntry]) -> String {
    formation
        .iter()
        .map(|e| format!("{}={}", e.process_type, e.quantity))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Single-quotes a value for POSIX shells.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_output_quotes_everything() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
