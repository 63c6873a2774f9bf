//! `ps:scale`'s grammar (`web=3`, `worker+2`, `web-1`) and config var names.

use std::fmt;

/// The most processes of one type an app may ask for.
pub const MAX_QUANTITY: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quantity {
    Exactly(i64),
    More(i64),
    Fewer(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleChange {
    pub process_type: String,
    pub quantity: Quantity,
}

impl ScaleChange {
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected =
            || format!("{text:?} is not a scale change: use TYPE=N, TYPE+N or TYPE-N (e.g. web=2)");
        let at = text.find(['=', '+', '-']).ok_or_else(expected)?;
        let (process_type, rest) = text.split_at(at);
        let (sign, number) = rest.split_at(1);
        if process_type.is_empty() {
            return Err(expected());
        }
        let number: i64 = number.parse().map_err(|_| expected())?;
        if number < 0 {
            return Err(expected());
        }
        let quantity = match sign {
            "=" => Quantity::Exactly(number),
            "+" => Quantity::More(number),
            _ => Quantity::Fewer(number),
        };
        Ok(Self {
            process_type: process_type.to_string(),
            quantity,
        })
    }

    /// The new quantity from the current one; never below zero or above the maximum.
    pub fn apply(&self, current: i64) -> Result<i64, String> {
        let wanted = match self.quantity {
            Quantity::Exactly(n) => n,
            Quantity::More(n) => current.saturating_add(n),
            Quantity::Fewer(n) => (current - n).max(0),
        };
        if wanted > MAX_QUANTITY {
            return Err(format!(
                "{} processes of {} is over the limit of {MAX_QUANTITY}",
                wanted, self.process_type
            ));
        }
        Ok(wanted)
    }
}

impl fmt::Display for ScaleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.quantity {
            Quantity::Exactly(n) => write!(f, "{}={n}", self.process_type),
            Quantity::More(n) => write!(f, "{}+{n}", self.process_type),
            Quantity::Fewer(n) => write!(f, "{}-{n}", self.process_type),
        }
    }
}

/// Checks a config var name: an environment variable name that Berth does
/// not set itself.
pub fn check_config_key(key: &str) -> Result<(), String> {
    let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "{key:?} is not a valid config var name: use letters, digits and underscores, not starting with a digit"
        ));
    }
    if crate::process_env::is_reserved(key) {
        return Err(format!("{key} is set by Berth and cannot be a config var"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn herokus_scale_grammar() {
        let change = ScaleChange::parse("web=3").unwrap();
        assert_eq!(change.apply(1), Ok(3));
        assert_eq!(ScaleChange::parse("worker+2").unwrap().apply(1), Ok(3));
        assert_eq!(ScaleChange::parse("web-1").unwrap().apply(2), Ok(1));
        assert_eq!(
            ScaleChange::parse("web-5").unwrap().apply(2),
            Ok(0),
            "never below zero"
        );
        assert!(ScaleChange::parse("web=101").unwrap().apply(0).is_err());
        for bad in ["web", "=2", "web=x", "web=-1", "web=", "web=1.5"] {
            assert!(ScaleChange::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ScaleChange::parse("web+2").unwrap().to_string(), "web+2");
    }

    #[test]
    fn config_keys_are_env_names_berth_does_not_own() {
        for good in ["DATABASE_URL", "_X", "a1"] {
            assert_eq!(check_config_key(good), Ok(()));
        }
        for bad in ["1A", "A-B", "", "A B", "PORT", "DYNO", "BERTH_APP_NAME"] {
            assert!(check_config_key(bad).is_err(), "{bad}");
        }
    }
}
