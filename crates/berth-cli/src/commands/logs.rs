//! `logs`: an app's log, once or followed; `drains`: where it is forwarded.

use std::io::IsTerminal;
use std::time::Duration;

use berth_api_types::LogEntry;

use super::Context;
use crate::api::LogQuery;
use crate::cli::{AppJsonArgs, DrainArgs, LogsArgs};
use crate::error::{Error, Result};
use crate::output;

/// How long a dropped tail waits before it reconnects.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// Lines asked for again on reconnecting, to find where the tail left off.
const RECONNECT_OVERLAP: usize = 1_000;

pub fn show(context: &Context, args: LogsArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let mut query = LogQuery {
        lines: args.num,
        process_type: args.process_type,
        dyno: args.dyno,
        source: args.source,
    };
    let colour = !args.json && std::io::stdout().is_terminal();
    let print = |entry: &LogEntry| {
        if args.json {
            crate::outln!(
                "{}",
                serde_json::to_string(entry).expect("entries serialize")
            );
        } else {
            crate::outln!("{}", format_entry(entry, colour));
        }
    };
    if !args.tail {
        let entries = client.logs(&name, &query)?;
        if args.json {
            output::print_json(&entries);
        } else {
            entries.iter().for_each(print);
        }
        return Ok(());
    }
    // A dropped connection reconnects and goes on after the last line shown.
    let mut last: Option<LogEntry> = None;
    loop {
        let mut skipping = last.clone();
        let ended = client.tail_logs(&name, &query, |entry| {
            if let Some(seen) = &skipping {
                if entry.at <= seen.at {
                    if entry == *seen {
                        skipping = None;
                    }
                    return;
                }
                skipping = None;
            }
            print(&entry);
            last = Some(entry);
        });
        match ended {
            Err(Error::BadResponse { .. } | Error::Unreachable { .. }) => {
                std::thread::sleep(RECONNECT_AFTER);
                query.lines = RECONNECT_OVERLAP;
            }
            Err(other) => return Err(other),
            Ok(()) => return Ok(()),
        }
    }
}

pub fn drains(context: &Context, args: AppJsonArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let drains = context.client()?.drains(&name)?;
    if args.json {
        output::print_json(&drains);
    } else if drains.is_empty() {
        crate::outln!("{name} has no drains. Add one with: berth drains:add URL");
    } else {
        let rows: Vec<Vec<String>> = drains
            .iter()
            .map(|drain| {
                vec![
                    drain.url.clone(),
                    drain.token.clone(),
                    output::time(&drain.created_at),
                ]
            })
            .collect();
        crate::out!("{}", output::table(&["URL", "TOKEN", "ADDED"], &rows));
    }
    Ok(())
}

pub fn add_drain(context: &Context, args: DrainArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let drain = context.client()?.add_drain(&name, &args.url)?;
    if args.json {
        output::print_json(&drain);
    } else {
        eprintln!("Successfully added drain {}", drain.url);
        crate::outln!("{}", drain.token);
    }
    Ok(())
}

pub fn remove_drain(context: &Context, args: DrainArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    context.client()?.remove_drain(&name, &args.url)?;
    eprintln!("Successfully removed drain {}", args.url);
    Ok(())
}

/// `TIME source[dyno]: message`, the tag coloured by source on a terminal.
fn format_entry(entry: &LogEntry, colour: bool) -> String {
    let time = entry.at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00");
    let tag = format!("{}[{}]:", entry.source, entry.dyno);
    if !colour {
        return format!("{time} {tag} {}", entry.message);
    }
    let tint = if entry.source == "berth" { "35" } else { "36" };
    format!(
        "\x1b[2m{time}\x1b[0m \x1b[{tint}m{tag}\x1b[0m {}",
        entry.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_print_as_the_log_reads() {
        let entry = LogEntry {
            at: "2026-11-22T10:04:05.123456Z".parse().unwrap(),
            source: "app".into(),
            dyno: "web.1".into(),
            message: "hello".into(),
        };
        assert_eq!(
            format_entry(&entry, false),
            "2026-11-22T10:04:05.123456+00:00 app[web.1]: hello"
        );
        assert!(format_entry(&entry, true).contains("\x1b[36mapp[web.1]:\x1b[0m hello"));
    }
}
