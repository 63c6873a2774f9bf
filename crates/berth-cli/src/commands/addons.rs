//! `addons`, `addons:create`, `addons:info`, `addons:destroy`,
//! `addons:attach`, `addons:detach`, `addons:rotate`.

use berth_api_types::{Addon, CreateAddonRequest};

use super::{interactive, prompt_line, Context};
use crate::api::Client;
use crate::cli::{
    AddonNameArgs, AddonsArgs, AddonsAttachArgs, AddonsCreateArgs, AddonsDestroyArgs,
    AddonsInfoArgs, PgBackupsArgs, PgRestoreArgs,
};
use crate::error::{Error, Result};
use crate::output;

pub fn list(context: &Context, args: AddonsArgs) -> Result<()> {
    let app = if args.all {
        None
    } else {
        Some(context.app_name(&args.app)?)
    };
    let addons = context.client()?.addons(app.as_deref())?;
    if args.json {
        output::print_json(&addons);
        return Ok(());
    }
    let whose = app.as_deref().unwrap_or("your apps");
    if addons.is_empty() {
        crate::outln!("{whose} has no add-ons. Create one with: berth addons:create postgres");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = addons
        .iter()
        .map(|addon| {
            vec![
                addon.name.clone(),
                addon.service.clone(),
                addon.plan.clone(),
                addon.app.clone(),
                attachments(addon),
            ]
        })
        .collect();
    crate::outln!("=== Add-ons of {whose}");
    crate::out!(
        "{}",
        output::table(&["ADD-ON", "SERVICE", "PLAN", "APP", "ATTACHED AS"], &rows)
    );
    Ok(())
}

pub fn create(context: &Context, args: AddonsCreateArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let request = CreateAddonRequest {
        service: args.service,
        as_name: args.as_name,
        name: args.name,
    };
    let addon = context.client()?.create_addon(&name, &request)?;
    if args.json {
        output::print_json(&addon);
        return Ok(());
    }
    crate::outln!(
        "Created {} ({}:{}) as {}",
        addon.name,
        addon.service,
        addon.plan,
        attachments(&addon)
    );
    crate::outln!(
        "Use `berth addons:info {} --reveal` to see its credentials",
        addon.name
    );
    Ok(())
}

pub fn info(context: &Context, args: AddonsInfoArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let info = context
        .client()?
        .addon_info(&name, &args.name, args.reveal)?;
    if args.json {
        output::print_json(&info);
        return Ok(());
    }
    let addon = &info.addon;
    let mut pairs = vec![
        ("Service", addon.service.clone()),
        ("Plan", addon.plan.clone()),
        ("Mode", addon.mode.clone()),
        ("App", addon.app.clone()),
        ("Attached as", attachments(addon)),
        ("Created", output::time(&addon.created_at)),
    ];
    if let Some(credentials) = &info.credentials {
        pairs.push(("URL", credentials.url.clone()));
        pairs.push(("Username", credentials.username.clone()));
        pairs.push(("Password", credentials.password.clone()));
        let resource = if addon.service == "redis" {
            ("Key prefix", format!("{}:", credentials.resource))
        } else {
            ("Database", credentials.resource.clone())
        };
        pairs.push(resource);
    }
    crate::outln!("=== {}", addon.name);
    crate::out!("{}", output::key_values(&pairs));
    Ok(())
}

pub fn destroy(context: &Context, args: AddonsDestroyArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let confirmation = match args.confirm {
        Some(confirmation) => confirmation,
        None if interactive() => {
            eprintln!("This destroys {} and all its data.", args.name);
            prompt_line(&format!("Type {name} to confirm: "))?
                .trim()
                .to_string()
        }
        None => {
            return Err(Error::AddonConfirmationRequired {
                addon: args.name,
                app: name,
            })
        }
    };
    if confirmation != name {
        return Err(Error::ConfirmationMismatch {
            given: confirmation,
            app: name,
        });
    }
    context.client()?.destroy_addon(&name, &args.name)?;
    crate::outln!("Destroying {} on {name}... done", args.name);
    Ok(())
}

pub fn attach(context: &Context, args: AddonsAttachArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let addon = context
        .client()?
        .attach_addon(&name, &args.name, args.as_name.as_deref())?;
    if args.json {
        output::print_json(&addon);
        return Ok(());
    }
    let var = addon
        .attachments
        .iter()
        .find(|a| a.app == name)
        .map_or_else(String::new, |a| a.config_var.clone());
    crate::outln!("Attaching {} to {name}... done: {var} is set", addon.name);
    Ok(())
}

pub fn detach(context: &Context, args: AddonNameArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    context.client()?.detach_addon(&name, &args.name)?;
    crate::outln!("Detaching {} from {name}... done", args.name);
    Ok(())
}

pub fn rotate(context: &Context, args: AddonNameArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    context.client()?.rotate_addon(&name, &args.name)?;
    crate::outln!(
        "Rotating the credentials of {}... done: every attached app has the new ones, the old \
         ones are revoked",
        args.name
    );
    Ok(())
}

pub fn backups(context: &Context, args: PgBackupsArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let addon = postgres_addon(&client, &name, args.addon)?;
    let backups = client.backups(&name, &addon)?;
    if args.json {
        output::print_json(&backups);
    } else if backups.is_empty() {
        crate::outln!(
            "{addon} has no backups yet. Take one with: berth pg:backups:capture {addon}"
        );
    } else {
        let rows: Vec<Vec<String>> = backups
            .iter()
            .map(|b| {
                vec![
                    b.id.clone(),
                    output::time(&b.created_at),
                    format!("{} bytes", b.size_bytes),
                ]
            })
            .collect();
        crate::outln!("=== Backups of {addon}");
        crate::out!("{}", output::table(&["ID", "TAKEN", "SIZE"], &rows));
    }
    Ok(())
}

pub fn capture(context: &Context, args: PgBackupsArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let addon = postgres_addon(&client, &name, args.addon)?;
    let backup = client.capture_backup(&name, &addon)?;
    if args.json {
        output::print_json(&backup);
    } else {
        crate::outln!(
            "Backing up {addon}... done: {} ({} bytes)",
            backup.id,
            backup.size_bytes
        );
        crate::outln!(
            "Restore it with: berth pg:backups:restore {} {addon} -a {name}",
            backup.id
        );
    }
    Ok(())
}

pub fn restore(context: &Context, args: PgRestoreArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let client = context.client()?;
    let addon = postgres_addon(&client, &name, args.addon)?;
    let confirmation = match args.confirm {
        Some(confirmation) => confirmation,
        None if interactive() => {
            eprintln!("This replaces what {addon} holds with backup {}.", args.id);
            prompt_line(&format!("Type {name} to confirm: "))?
                .trim()
                .to_string()
        }
        None => {
            return Err(Error::Input(format!(
                "this replaces what {addon} holds with backup {}: run again with --confirm {name}",
                args.id
            )))
        }
    };
    if confirmation != name {
        return Err(Error::ConfirmationMismatch {
            given: confirmation,
            app: name,
        });
    }
    client.restore_backup(&name, &addon, &args.id)?;
    crate::outln!("Restoring {} into {addon}... done", args.id);
    Ok(())
}

/// The add-on named, else the app's Postgres add-on attached as DATABASE,
/// else its only Postgres add-on.
fn postgres_addon(client: &Client, app: &str, named: Option<String>) -> Result<String> {
    if let Some(name) = named {
        return Ok(name);
    }
    let addons = client.addons(Some(app))?;
    let postgres: Vec<&Addon> = addons.iter().filter(|a| a.service == "postgres").collect();
    let attached = postgres.iter().find(|a| {
        a.attachments
            .iter()
            .any(|t| t.app == app && t.as_name == "DATABASE")
    });
    match (attached, postgres.as_slice()) {
        (Some(addon), _) | (None, [addon]) => Ok(addon.name.clone()),
        (None, []) => Err(Error::Input(format!(
            "{app} has no Postgres add-on: create one with berth addons:create postgres"
        ))),
        (None, _) => Err(Error::Input(format!(
            "{app} has several Postgres add-ons: name one (berth addons -a {app} lists them)"
        ))),
    }
}

/// `app::AS` for each attachment, e.g. `web::DATABASE, worker::DATABASE`.
fn attachments(addon: &Addon) -> String {
    if addon.attachments.is_empty() {
        return "(not attached)".to_string();
    }
    addon
        .attachments
        .iter()
        .map(|a| format!("{}::{}", a.app, a.as_name))
        .collect::<Vec<_>>()
        .join(", ")
}
