use std::fmt;

use rand::seq::SliceRandom;
use rand::Rng;

/// An app's name, valid by Heroku's rule: 3–30 characters of lowercase letters,
/// digits and dashes, starting with a letter. It also becomes a DNS label
/// (`<app>.<base domain>`), so it may not end with a dash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppNameError {
    #[error("app name {0:?} is too short: use 3 to 30 characters")]
    TooShort(String),
    #[error("app name {0:?} is too long: use 3 to 30 characters")]
    TooLong(String),
    #[error("app name {0:?} must start with a lowercase letter")]
    BadStart(String),
    #[error("app name {0:?} must not end with a dash")]
    BadEnd(String),
    #[error("app name {name:?} has {found:?}: use only lowercase letters, digits and dashes")]
    BadCharacter { name: String, found: char },
}

impl AppName {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 30;

    pub fn parse(name: &str) -> Result<Self, AppNameError> {
        let owned = || name.to_string();
        if let Some(found) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(AppNameError::BadCharacter {
                name: owned(),
                found,
            });
        }
        if name.len() < Self::MIN_LEN {
            return Err(AppNameError::TooShort(owned()));
        }
        if name.len() > Self::MAX_LEN {
            return Err(AppNameError::TooLong(owned()));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(AppNameError::BadStart(owned()));
        }
        if name.ends_with('-') {
            return Err(AppNameError::BadEnd(owned()));
        }
        Ok(Self(owned()))
    }

    /// A friendly random name in Heroku's style, e.g. `quiet-harbor-4821`.
    pub fn random(rng: &mut impl Rng) -> Self {
        const ADJECTIVES: &[&str] = &[
            "amber", "ancient", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp",
            "dapper", "eager", "fancy", "gentle", "glad", "golden", "happy", "hidden", "humble",
            "jolly", "kind", "lively", "lucky", "mellow", "misty", "nimble", "polar", "proud",
            "quiet", "rapid", "shiny", "silent", "sunny", "swift", "tidy", "vast", "warm",
        ];
        const NOUNS: &[&str] = &[
            "anchor", "bay", "beacon", "breeze", "brook", "canyon", "cove", "dawn", "delta",
            "dune", "falls", "fjord", "forest", "garden", "glacier", "harbor", "island", "lagoon",
            "meadow", "mesa", "ocean", "peak", "pier", "plains", "reef", "ridge", "river", "shore",
            "sound", "spring", "summit", "tide", "valley", "wave", "wharf", "woods",
        ];
        let adjective = ADJECTIVES.choose(rng).expect("non-empty list");
        let noun = NOUNS.choose(rng).expect("non-empty list");
        let number: u16 = rng.gen_range(1000..10000);
        Self(format!("{adjective}-{noun}-{number}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for AppName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_heroku_style_names() {
        for name in [
            "abc",
            "my-app",
            "app2",
            "a1-b2-c3",
            "abcdefghijklmnopqrstuvwxyz1234",
        ] {
            assert_eq!(AppName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn rejects_each_broken_rule_with_its_own_reason() {
        assert_eq!(
            AppName::parse("ab"),
            Err(AppNameError::TooShort("ab".into()))
        );
        assert!(matches!(
            AppName::parse(&"a".repeat(31)),
            Err(AppNameError::TooLong(_))
        ));
        assert_eq!(
            AppName::parse("1app"),
            Err(AppNameError::BadStart("1app".into()))
        );
        assert_eq!(
            AppName::parse("-app"),
            Err(AppNameError::BadStart("-app".into()))
        );
        assert_eq!(
            AppName::parse("app-"),
            Err(AppNameError::BadEnd("app-".into()))
        );
        assert_eq!(
            AppName::parse("My-App"),
            Err(AppNameError::BadCharacter {
                name: "My-App".into(),
                found: 'M'
            })
        );
        assert!(matches!(
            AppName::parse("my_app"),
            Err(AppNameError::BadCharacter { found: '_', .. })
        ));
        assert!(matches!(
            AppName::parse("app.x"),
            Err(AppNameError::BadCharacter { .. })
        ));
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let message = AppName::parse("My_App").unwrap_err().to_string();
        assert_eq!(
            message,
            "app name \"My_App\" has 'M': use only lowercase letters, digits and dashes"
        );
    }

    proptest! {
        #[test]
        fn random_names_are_valid(seed in any::<u64>()) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let name = AppName::random(&mut rng);
            prop_assert_eq!(AppName::parse(name.as_str()), Ok(name));
        }

        #[test]
        fn parse_accepts_exactly_the_rule(name in "[a-z0-9_A-Z.-]{0,34}") {
            let rule = (3..=30).contains(&name.len())
                && name.starts_with(|c: char| c.is_ascii_lowercase())
                && !name.ends_with('-')
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            prop_assert_eq!(AppName::parse(&name).is_ok(), rule);
        }
    }
}
