//! `volumes`, `volumes:create`, `volumes:destroy`.

use berth_api_types::{CreateVolumeRequest, Volume};

use super::{interactive, prompt_line, Context};
use crate::cli::{AppJsonArgs, VolumesCreateArgs, VolumesDestroyArgs};
use crate::error::{Error, Result};
use crate::output;

pub fn list(context: &Context, args: AppJsonArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let volumes = context.client()?.volumes(&name)?;
    if args.json {
        output::print_json(&volumes);
    } else if volumes.is_empty() {
        crate::outln!(
            "{name} has no volumes. Create one with: berth volumes:create NAME --path /data -p web"
        );
    } else {
        let rows: Vec<Vec<String>> = volumes
            .iter()
            .map(|volume| {
                vec![
                    volume.name.clone(),
                    volume.process.clone(),
                    volume.path.clone(),
                    size(volume),
                    volume.host.clone(),
                ]
            })
            .collect();
        crate::outln!("=== {name} Volumes");
        crate::out!(
            "{}",
            output::table(&["NAME", "PROCESS", "PATH", "SIZE", "HOST"], &rows)
        );
    }
    Ok(())
}

pub fn create(context: &Context, args: VolumesCreateArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let request = CreateVolumeRequest {
        name: args.name,
        path: args.path,
        process_type: args.process_type,
    };
    let volume = context.client()?.create_volume(&name, &request)?;
    if args.json {
        output::print_json(&volume);
    } else {
        crate::outln!(
            "Creating volume {} on {name}, mounted at {} in {} on host {}... done \
             (its dynos were restarted with it)",
            volume.name,
            volume.path,
            volume.process,
            volume.host
        );
    }
    Ok(())
}

pub fn destroy(context: &Context, args: VolumesDestroyArgs) -> Result<()> {
    let name = context.app_name(&args.app)?;
    let confirmation = match args.confirm {
        Some(confirmation) => confirmation,
        None if interactive() => {
            eprintln!("This destroys volume {} and all its data.", args.name);
            prompt_line(&format!("Type {name} to confirm: "))?
                .trim()
                .to_string()
        }
        None => {
            return Err(Error::VolumeConfirmationRequired {
                volume: args.name,
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
    context
        .client()?
        .destroy_volume(&name, &args.name, &confirmation)?;
    crate::outln!("Destroying volume {} on {name}... done", args.name);
    Ok(())
}

/// `12.0 KB`, `3.4 MB`; `-` when the server cannot tell.
fn size(volume: &Volume) -> String {
    volume.size_bytes.map_or_else(|| "-".into(), output::size)
}
