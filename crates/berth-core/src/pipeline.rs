//! Pipelines' pure rules: their names, their stages in promotion order, the
//! name of a branch's review app and how long review apps live.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::AppName;

/// A pipeline's name: the rule of app names (3–30 lowercase letters, digits
/// and dashes, starting with a letter).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineName(String);

impl PipelineName {
    pub fn parse(name: &str) -> Result<Self, PipelineError> {
        AppName::parse(name)
            .map(|_| Self(name.to_string()))
            .map_err(|error| {
                PipelineError(error.to_string().replacen("app name", "pipeline name", 1))
            })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PipelineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PipelineError(String);

/// Where an app stands in its pipeline; code moves from one stage to the
/// next by promotion, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineStage {
    Review,
    Development,
    Staging,
    Production,
}

impl PipelineStage {
    pub const ALL: [PipelineStage; 4] = [
        PipelineStage::Review,
        PipelineStage::Development,
        PipelineStage::Staging,
        PipelineStage::Production,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PipelineStage::Review => "review",
            PipelineStage::Development => "development",
            PipelineStage::Staging => "staging",
            PipelineStage::Production => "production",
        }
    }

    /// The stage a promotion from this one goes to; production is the last.
    pub fn next(self) -> Option<PipelineStage> {
        match self {
            PipelineStage::Review => Some(PipelineStage::Development),
            PipelineStage::Development => Some(PipelineStage::Staging),
            PipelineStage::Staging => Some(PipelineStage::Production),
            PipelineStage::Production => None,
        }
    }
}

impl fmt::Display for PipelineStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PipelineStage {
    type Err = PipelineError;

    fn from_str(stage: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == stage)
            .ok_or_else(|| {
                PipelineError(format!(
                    "there is no stage {:?}: use review, development, staging or production",
                    stage.chars().take(40).collect::<String>()
                ))
            })
    }
}

/// The name of the review app of `branch` (its name without `refs/heads/`)
/// of `parent`: `<parent>-<branch slug>`, the slug being the branch in
/// lowercase with every run of other characters a dash. When that is longer
/// than an app name may be, it is cut and ends with a short hash of the
/// branch, so two long branches still get different apps.
pub fn review_app_name(parent: &AppName, branch: &str) -> AppName {
    let mut slug = String::new();
    for c in branch.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "branch" } else { slug };
    let full = format!("{parent}-{slug}");
    let name = if full.len() <= AppName::MAX_LEN {
        full
    } else {
        let hash = short_hash(branch);
        let keep = AppName::MAX_LEN - hash.len() - 1;
        format!("{}-{hash}", full[..keep].trim_end_matches('-'))
    };
    AppName::parse(&name).expect("a parent's name, dashes, lowercase letters and digits")
}

/// Seven hex digits of the branch's FNV-1a hash: stable across releases of
/// Berth (a review app keeps its name) and needs no dependency.
fn short_hash(branch: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in branch.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{:07x}", hash & 0x0fff_ffff)
}

/// The shortest and longest time review apps may live without a push.
pub const REVIEW_APP_TTL_MIN: Duration = Duration::from_secs(10);
pub const REVIEW_APP_TTL_MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// Reads a review-app TTL: a whole number and a unit, `s`, `m`, `h` or `d`
/// (`5d`, `12h`, `30m`).
pub fn parse_ttl(text: &str) -> Result<Duration, PipelineError> {
    let invalid = || {
        PipelineError(format!(
            "{:?} is not a time to live: use a number and s, m, h or d, e.g. 5d or 12h",
            text.chars().take(40).collect::<String>()
        ))
    };
    let unit = text.chars().last().ok_or_else(invalid)?;
    let seconds_per_unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 24 * 3600,
        _ => return Err(invalid()),
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || number.len() > 9 {
        return Err(invalid());
    }
    let ttl = Duration::from_secs(number.parse::<u64>().map_err(|_| invalid())? * seconds_per_unit);
    if !(REVIEW_APP_TTL_MIN..=REVIEW_APP_TTL_MAX).contains(&ttl) {
        return Err(PipelineError(format!(
            "a review app's time to live is between {} s and 365 days, not {text}",
            REVIEW_APP_TTL_MIN.as_secs()
        )));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(name: &str) -> AppName {
        AppName::parse(name).unwrap()
    }

    #[test]
    fn stages_parse_and_follow_each_other() {
        assert_eq!(
            "staging".parse::<PipelineStage>().unwrap(),
            PipelineStage::Staging
        );
        assert_eq!(
            PipelineStage::Staging.next(),
            Some(PipelineStage::Production)
        );
        assert_eq!(PipelineStage::Production.next(), None);
        let error = "qa".parse::<PipelineStage>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "there is no stage \"qa\": use review, development, staging or production"
        );
    }

    #[test]
    fn pipeline_names_follow_the_app_name_rule() {
        assert_eq!(PipelineName::parse("shop").unwrap().as_str(), "shop");
        let error = PipelineName::parse("Shop").unwrap_err().to_string();
        assert!(error.starts_with("pipeline name \"Shop\""), "{error}");
    }

    #[test]
    fn review_apps_are_named_after_their_branch() {
        assert_eq!(
            review_app_name(&parent("shop-staging"), "feature-x").as_str(),
            "shop-staging-feature-x"
        );
        assert_eq!(
            review_app_name(&parent("shop"), "Fix/Login_Page").as_str(),
            "shop-fix-login-page"
        );
        assert_eq!(
            review_app_name(&parent("shop"), "--").as_str(),
            "shop-branch"
        );
    }

    #[test]
    fn long_review_app_names_are_cut_with_a_hash_of_the_branch() {
        let long = review_app_name(&parent("shop-staging"), "feature/a-very-long-branch-name");
        let other = review_app_name(&parent("shop-staging"), "feature/a-very-long-branch-other");
        assert!(long.as_str().len() <= AppName::MAX_LEN, "{long:?}");
        assert!(
            long.as_str().starts_with("shop-staging-feature-a"),
            "{long:?}"
        );
        assert_ne!(long, other);
        assert_eq!(
            long,
            review_app_name(&parent("shop-staging"), "feature/a-very-long-branch-name")
        );
        let at_limit = review_app_name(&parent("abcdefghijklmnopqrstuvwxyz-abc"), "x");
        assert_eq!(at_limit.as_str().len(), AppName::MAX_LEN);
    }

    #[test]
    fn ttls_have_a_unit_and_bounds() {
        assert_eq!(parse_ttl("5d").unwrap(), Duration::from_secs(5 * 86400));
        assert_eq!(parse_ttl("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_ttl("12h").unwrap(), Duration::from_secs(12 * 3600));
        for bad in ["", "d", "5", "5w", "-5d", "1.5d", "99999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
        assert!(parse_ttl("5s").unwrap_err().to_string().contains("between"));
        assert!(parse_ttl("400d").is_err());
    }
}
