//! `tokens`, `tokens:create`, `tokens:revoke`.

use berth_api_types::CreateTokenRequest;

use super::Context;
use crate::cli::{JsonArgs, TokensCreateArgs, TokensRevokeArgs};
use crate::error::{Error, Result};
use crate::output;

pub fn list(context: &Context, args: JsonArgs) -> Result<()> {
    let tokens = context.client()?.tokens()?;
    if args.json {
        output::print_json(&tokens);
    } else {
        let never = || "never".to_string();
        let rows: Vec<Vec<String>> = tokens
            .iter()
            .map(|token| {
                vec![
                    token.id.clone(),
                    token.description.replace(['\r', '\n'], " "),
                    token.scope.clone(),
                    output::time(&token.created_at),
                    token.last_used_at.as_ref().map_or_else(never, output::time),
                    token.expires_at.as_ref().map_or_else(never, output::time),
                ]
            })
            .collect();
        crate::out!(
            "{}",
            output::table(
                &[
                    "ID",
                    "DESCRIPTION",
                    "SCOPE",
                    "CREATED",
                    "LAST USED",
                    "EXPIRES"
                ],
                &rows
            )
        );
    }
    Ok(())
}

pub fn create(context: &Context, args: TokensCreateArgs) -> Result<()> {
    let expires_in_secs = args.expires_in.as_deref().map(parse_lifetime).transpose()?;
    let request = CreateTokenRequest {
        description: args.description,
        scope: Some(args.scope.clone()),
        expires_in_secs,
    };
    let created = context.client()?.create_token(&request)?;
    if args.json {
        output::print_json(&serde_json::json!({"id": created.id, "token": created.token}));
    } else {
        crate::outln!(
            "Created token {} ({} scope); it is shown this once:",
            created.id,
            args.scope
        );
        crate::outln!("{}", created.token);
    }
    Ok(())
}

pub fn revoke(context: &Context, args: TokensRevokeArgs) -> Result<()> {
    context.client()?.revoke_token(&args.id)?;
    eprintln!("Revoking token {}... done", args.id);
    Ok(())
}

/// `90m`, `12h`, `30d`, `8w` (or `45s`) in seconds.
fn parse_lifetime(text: &str) -> Result<u64> {
    let bad = || {
        Error::Input(format!(
            "{text:?} is not a lifetime: use a number and a unit, e.g. 90m, 12h, 30d or 8w"
        ))
    };
    let text = text.trim();
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at_checked(split).ok_or_else(bad)?;
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    match number.checked_mul(unit_secs) {
        Some(0) | None => Err(bad()),
        Some(secs) => Ok(secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_take_a_unit() {
        assert_eq!(parse_lifetime("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_lifetime("90m").unwrap(), 5400);
        assert_eq!(parse_lifetime("2w").unwrap(), 14 * 86_400);
        for bad in ["", "30", "d", "0d", "-1d", "1.5h", "3y", "é"] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?}");
        }
    }
}
