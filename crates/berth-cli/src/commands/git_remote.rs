//! `git:remote`.

use super::Context;
use crate::cli::GitRemoteArgs;
use crate::error::{Error, Result};

pub fn set(context: &Context, args: GitRemoteArgs) -> Result<()> {
    let git = &context.git;
    if !git.is_work_tree() {
        return Err(Error::NotAGitRepository);
    }
    let name = context.app_name(&args.app)?;
    let app = context.client()?.app(&name)?;
    if git.remote_url(&args.remote).is_some() {
        git.set_remote_url(&args.remote, &app.git_url)?;
    } else {
        git.add_remote(&args.remote, &app.git_url)?;
    }
    crate::outln!("set git remote {} to {}", args.remote, app.git_url);
    Ok(())
}
