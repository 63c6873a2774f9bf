//! Moments as pages show them: relative (`3m ago`), the exact time with
//! its zone on hover, and the machine-readable form for `<time datetime>`.

use chrono::{DateTime, Utc};

pub(super) struct Moment {
    pub relative: String,
    /// `2026-12-07 05:12:03 UTC`.
    pub exact: String,
    /// RFC 3339, for `<time datetime>`.
    pub machine: String,
}

impl Moment {
    pub(super) fn new(at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let relative = if at <= now {
            format!("{} ago", elapsed_since(at, now))
        } else {
            format!("in {}", elapsed_since(now, at))
        };
        Self {
            relative,
            exact: exact(at),
            machine: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// `at` as seen from now.
    pub(super) fn of(at: DateTime<Utc>) -> Self {
        Self::new(at, Utc::now())
    }

    /// `at` as seen from now, to the minute (`under 1m ago`): for parts of
    /// live pages, sent again only when what they say changes.
    pub(super) fn to_the_minute(at: DateTime<Utc>) -> Self {
        let now = Utc::now();
        let mut moment = Self::new(at, now);
        if (now - at).num_seconds() < 60 {
            moment.relative = "under 1m ago".to_string();
        }
        moment
    }
}

/// The time from `at` to `now`, e.g. `3m` or `2h 5m`.
pub(super) fn elapsed_since(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h {}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d {}h", seconds / 86400, seconds % 86400 / 3600),
    }
}

/// An absolute time as a page writes it, zone included.
pub(super) fn exact(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_read_relative_both_ways_with_the_exact_time() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let past = Moment::new(now - chrono::Duration::minutes(3), now);
        assert_eq!(past.relative, "3m ago");
        assert_eq!(past.exact, "2026-12-07 10:01:05 UTC");
        assert_eq!(past.machine, "2026-12-07T10:01:05Z");
        let future = Moment::new(now + chrono::Duration::hours(26), now);
        assert_eq!(future.relative, "in 1d 2h");
    }
}
