//! `releases` and `ps`.

use super::Context;
use crate::cli::AppJsonArgs;
use crate::error::Result;
use crate::output;

pub fn list(context: &Context, args: AppJsonArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let releases = context.client()?.releases(&name)?;
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
                vec![
                    dyno.name.clone(),
                    dyno.state.clone(),
                    dyno.release.clone(),
                    output::age(now - dyno.created_at),
                ]
            })
            .collect();
        crate::out!(
            "{}",
            output::table(&["DYNO", "STATE", "RELEASE", "AGE"], &rows)
        );
    }
    Ok(())
}
