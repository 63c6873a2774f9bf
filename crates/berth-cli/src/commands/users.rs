//! `users`, `users:create`, `users:remove`: for platform admins.

use berth_api_types::CreateUserRequest;

use super::{read_line, Context};
use crate::cli::{JsonArgs, UsersCreateArgs, UsersRemoveArgs};
use crate::error::{Error, Result};
use crate::output;

pub fn list(context: &Context, args: JsonArgs) -> Result<()> {
    let users = context.client()?.users()?;
    if args.json {
        output::print_json(&users);
    } else {
        let rows: Vec<Vec<String>> = users
            .iter()
            .map(|user| {
                vec![
                    user.email.clone(),
                    if user.admin { "admin" } else { "member" }.to_string(),
                    output::time(&user.created_at),
                ]
            })
            .collect();
        crate::out!("{}", output::table(&["EMAIL", "ROLE", "CREATED"], &rows));
    }
    Ok(())
}

pub fn create(context: &Context, args: UsersCreateArgs) -> Result<()> {
    let password = if args.password_stdin {
        let password = read_line()?;
        if password.is_empty() {
            return Err(Error::Input("no password given on stdin".into()));
        }
        Some(password)
    } else {
        None
    };
    let request = CreateUserRequest {
        email: args.email,
        admin: args.admin,
        password,
    };
    let created = context.client()?.create_user(&request)?;
    if args.json {
        output::print_json(&created);
    } else {
        let role = if args.admin {
            "platform admin"
        } else {
            "member"
        };
        crate::outln!(
            "Created {} as {role}; their first API token:",
            created.email
        );
        crate::outln!("{}", created.token);
    }
    Ok(())
}

pub fn remove(context: &Context, args: UsersRemoveArgs) -> Result<()> {
    let removed = context
        .client()?
        .remove_user(&args.email, args.reassign_to.as_deref())?;
    eprintln!("Removing {}... done", removed.email);
    if let (false, Some(heir)) = (removed.reassigned_apps.is_empty(), &args.reassign_to) {
        eprintln!("{heir} now owns {}", removed.reassigned_apps.join(", "));
    }
    Ok(())
}
