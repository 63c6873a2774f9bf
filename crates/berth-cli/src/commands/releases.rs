//! `releases` and `ps`.

use super::Context;
use berth_api_types::ReleaseDetail;

use crate::cli::{AppJsonArgs, ReleaseArgs, ReleasesArgs};
use crate::error::Result;
use crate::output;

pub fn list(context: &Context, args: ReleasesArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let mut releases = context.client()?.releases(&name)?;
    if let Some(latest) = args.num {
        releases.drain(..releases.len().saturating_sub(latest));
    }
    if args.json {
        output::print_json(&releases);
    } else if releases.is_empty() {
        crate::outln!("{name} has no releases yet. Deploy with: git push platform main");
    } else {
        let rows: Vec<Vec<String>> = releases
            .iter()
            .map(|release| {
                let status = match (release.status.as_str(), release.current) {
                    (_, true) => "current".to_string(),
                    ("succeeded", false) => String::new(),
                    (other, false) => other.to_string(),
                };
                vec![
                    format!("v{}", release.version),
                    release.description.clone(),
                    status,
                    release.created_by.clone().unwrap_or_default(),
                    output::time(&release.created_at),
                ]
            })
            .collect();
        crate::outln!("=== {name} Releases");
        crate::out!(
            "{}",
            output::table(
                &["VERSION", "DESCRIPTION", "STATUS", "BY", "CREATED"],
                &rows
            )
        );
    }
    Ok(())
}

fn detail(context: &Context, args: &ReleaseArgs) -> Result<ReleaseDetail> {
    let name = context.app_name(&args.app)?;
    let version = args
        .version
        .clone()
        .unwrap_or_else(|| "current".to_string());
    context.client()?.release(&name, &version)
}

pub fn info(context: &Context, args: ReleaseArgs) -> Result<()> {
    let detail = detail(context, &args)?;
    if args.json {
        output::print_json(&detail);
        return Ok(());
    }
    let release = &detail.release;
    crate::outln!("=== Release v{}", release.version);
    let mut pairs = vec![
        ("Description", release.description.clone()),
        (
            "Status",
            if release.current {
                "current".to_string()
            } else {
                release.status.clone()
            },
        ),
        ("By", release.created_by.clone().unwrap_or_default()),
        ("When", output::time(&release.created_at)),
        ("Commit", release.commit.clone().unwrap_or_default()),
    ];
    if let Some(command) = &detail.release_command {
        pairs.push(("Release command", command.clone()));
    }
    if let Some(failure) = &release.failure {
        pairs.push(("Failure", failure.clone()));
    }
    for (process_type, image) in &detail.processes {
        pairs.push(("Process", format!("{process_type}: {image}")));
    }
    crate::out!("{}", output::key_values(&pairs));
    Ok(())
}

pub fn output(context: &Context, args: ReleaseArgs) -> Result<()> {
    let detail = detail(context, &args)?;
    if args.json {
        output::print_json(&detail.output);
    } else {
        crate::out!("{}", detail.output);
    }
    Ok(())
}

pub fn ps(context: &Context, args: AppJsonArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let dynos = context.client()?.dynos(&name)?;
    if args.json {
        output::print_json(&dynos);
    } else if dynos.is_empty() {
        crate::outln!("{name} has no running processes.");
    } else {
        let now = chrono::Utc::now();
        let rows: Vec<Vec<String>> = dynos
            .iter()
            .map(|dyno| {
                let mut state = match dyno.exit_code {
                    Some(code) => format!("{} (exit code {code})", dyno.state),
                    None => dyno.state.clone(),
                };
                if let Some(reason) = &dyno.reason {
                    state = format!("{state}: {reason}");
                }
                vec![
                    dyno.name.clone(),
                    state,
                    dyno.release.clone(),
                    dyno.started_at
                        .map_or_else(|| "-".to_string(), |at| output::age(now - at)),
                    dyno.host.clone(),
                    match (dyno.memory_bytes, dyno.memory_limit_bytes) {
                        (Some(used), Some(limit)) => {
                            format!("{} of {}", output::size(used), output::size(limit))
                        }
                        (Some(used), None) => output::size(used),
                        (None, _) => "-".to_string(),
                    },
                    dyno.cpu_percent
                        .map_or_else(|| "-".to_string(), |cpu| format!("{cpu:.1} %")),
                ]
            })
            .collect();
        crate::out!(
            "{}",
            output::table(
                &["DYNO", "STATE", "RELEASE", "UPTIME", "HOST", "MEMORY", "CPU"],
                &rows
            )
        );
    }
    Ok(())
}
