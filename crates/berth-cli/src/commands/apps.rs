//! `apps`, `apps:create`, `apps:info`, `apps:destroy`.

use berth_api_types::App;

use super::{interactive, prompt_line, warn, Context};
use crate::cli::{AppsCreateArgs, AppsDestroyArgs, AppsInfoArgs, JsonArgs};
use crate::error::{Error, Result};
use crate::git::{self, DEFAULT_REMOTE};
use crate::output;

pub fn list(context: &Context, args: JsonArgs) -> Result<()> {
    let apps = context.client()?.apps()?;
    if args.json {
        output::print_json(&apps);
    } else if apps.is_empty() {
        crate::outln!("You have no apps. Create one with: berth apps:create");
    } else {
        let rows: Vec<Vec<String>> = apps
            .iter()
            .map(|app| {
                vec![
                    app.name.clone(),
                    app.owner.clone(),
                    app.web_url.clone(),
                    output::time(&app.created_at),
                ]
            })
            .collect();
        crate::out!(
            "{}",
            output::table(&["NAME", "OWNER", "WEB URL", "CREATED"], &rows)
        );
    }
    Ok(())
}

pub fn create(context: &Context, args: AppsCreateArgs) -> Result<()> {
    let git = &context.git;
    let manifest = if args.manifest {
        if !git.is_work_tree() {
            return Err(Error::NotAGitRepository);
        }
        let path = git.top_level()?.join("heroku.yml");
        Some(
            std::fs::read_to_string(&path).map_err(|source| Error::File {
                action: "cannot read the manifest",
                path,
                source,
            })?,
        )
    } else {
        None
    };
    let app = context.client()?.create_app(args.name, manifest)?;
    // As `heroku create` does: a repository without the remote gets it.
    let remote_added = !args.no_remote
        && git.is_work_tree()
        && git.remote_url(DEFAULT_REMOTE).is_none()
        && match git.add_remote(DEFAULT_REMOTE, &app.git_url) {
            Ok(()) => true,
            Err(error) => {
                warn(format_args!("app created, but {error}"));
                false
            }
        };
    if args.json {
        output::print_json(&app);
    } else {
        crate::outln!("Creating {}... done", app.name);
        crate::outln!("{} | {}", app.web_url, app.git_url);
        if remote_added {
            crate::outln!("Git remote {DEFAULT_REMOTE} added");
        }
    }
    Ok(())
}

pub fn info(context: &Context, args: AppsInfoArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let app = context.client()?.app(&name)?;
    if args.json {
        output::print_json(&app);
    } else {
        crate::outln!("=== {}", app.name);
        crate::out!(
            "{}",
            output::key_values(&[
                ("Owner", app.owner.clone()),
                ("Web URL", app.web_url.clone()),
                ("Git URL", app.git_url.clone()),
                ("Created", output::time(&app.created_at)),
            ])
        );
    }
    Ok(())
}

pub fn destroy(context: &Context, args: AppsDestroyArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let confirmation = match args.confirm {
        Some(confirmation) => confirmation,
        None if interactive() => {
            eprintln!("This destroys {name} and everything in it.");
            prompt_line(&format!("Type {name} to confirm: "))?
                .trim()
                .to_string()
        }
        None => return Err(Error::ConfirmationRequired { app: name }),
    };
    if confirmation != name {
        return Err(Error::ConfirmationMismatch {
            given: confirmation,
            app: name,
        });
    }
    let client = context.client()?;
    let app = if args.volumes {
        client.destroy_app_and_volumes(&name)?
    } else {
        client.destroy_app(&name)?
    };
    crate::outln!("Destroying {}... done", app.name);
    let git = &context.git;
    if git
        .remote_url(DEFAULT_REMOTE)
        .is_some_and(|url| points_at(&url, &app))
    {
        match git.remove_remote(DEFAULT_REMOTE) {
            Ok(()) => crate::outln!("Git remote {DEFAULT_REMOTE} removed"),
            Err(error) => warn(error),
        }
    }
    Ok(())
}

/// Whether a git remote URL is the app's: its git URL, or a URL for the same
/// app name on the same host (e.g. with credentials written into it).
fn points_at(remote_url: &str, app: &App) -> bool {
    if remote_url.trim_end_matches('/') == app.git_url.trim_end_matches('/') {
        return true;
    }
    let host = |url: &str| {
        url::Url::parse(url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_string))
    };
    git::app_name_from_remote_url(remote_url).as_deref() == Some(app.name.as_str())
        && host(remote_url).is_some()
        && host(remote_url) == host(&app.git_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_points_at_an_app_by_url_or_by_name_on_the_same_host() {
        let app = App {
            name: "demo".into(),
            owner: "a@b.c".into(),
            web_url: "http://demo.localhost:8080/".into(),
            git_url: "http://127.0.0.1:7000/demo.git".into(),
            created_at: chrono::Utc::now(),
            maintenance: false,
        };
        assert!(points_at("http://127.0.0.1:7000/demo.git", &app));
        assert!(points_at("http://x:token@127.0.0.1:7000/demo.git/", &app));
        assert!(!points_at("http://127.0.0.1:7000/other.git", &app));
        assert!(!points_at("https://elsewhere.example/demo.git", &app));
        assert!(!points_at("git@elsewhere:demo.git", &app));
    }
}
