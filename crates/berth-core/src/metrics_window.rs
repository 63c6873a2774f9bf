//! The time window metrics are shown for (`berth metrics --since 6h`, the
//! dashboard's last hour / 24 hours / 7 days) and the resolution it is read at.

use std::fmt;
use std::time::Duration;

/// Samples are kept this long at most, so no window reaches further.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// A window ending now: how far back it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsWindow {
    length: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a time window: give minutes, hours or days, such as 30m, 1h, 24h or 7d (at most 7d)")]
pub struct MetricsWindowError {
    given: String,
}

impl MetricsWindow {
    pub const HOUR: MetricsWindow = MetricsWindow {
        length: Duration::from_secs(3600),
    };
    pub const DAY: MetricsWindow = MetricsWindow {
        length: Duration::from_secs(24 * 3600),
    };
    pub const WEEK: MetricsWindow = MetricsWindow {
        length: LONGEST_WINDOW,
    };

    /// `30m`, `1h`, `24h`, `7d`: from one minute to seven days.
    pub fn parse(text: &str) -> Result<Self, MetricsWindowError> {
        let invalid = || MetricsWindowError {
            given: text.to_string(),
        };
        let text = text.trim();
        let unit_at = text.len().checked_sub(1).ok_or_else(invalid)?;
        let (number, unit) = text.split_at(unit_at);
        let seconds_per_unit = match unit {
            "m" => 60,
            "h" => 3600,
            "d" => 24 * 3600,
            _ => return Err(invalid()),
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || number.len() > 4 {
            return Err(invalid());
        }
        let count: u64 = number.parse().map_err(|_| invalid())?;
        let length = Duration::from_secs(count * seconds_per_unit);
        if count == 0 || length > LONGEST_WINDOW {
            return Err(invalid());
        }
        Ok(Self { length })
    }

    pub fn length(self) -> Duration {
        self.length
    }

    /// The finest resolution kept for the whole window, in seconds: 10 s
    /// samples reach back an hour, minutes a day, ten minutes a week.
    pub fn resolution_seconds(self) -> u32 {
        if self.length <= Self::HOUR.length {
            10
        } else if self.length <= Self::DAY.length {
            60
        } else {
            600
        }
    }
}

impl Default for MetricsWindow {
    fn default() -> Self {
        Self::HOUR
    }
}

impl fmt::Display for MetricsWindow {
    // `u64::is_multiple_of` is newer than the workspace's rust-version (1.85).
    #[allow(clippy::manual_is_multiple_of)]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.length.as_secs();
        if seconds % (24 * 3600) == 0 {
            write!(f, "{}d", seconds / (24 * 3600))
        } else if seconds % 3600 == 0 {
            write!(f, "{}h", seconds / 3600)
        } else {
            write!(f, "{}m", seconds / 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_people_write_parse_and_print_back() {
        for text in ["30m", "1h", "6h", "24h", "2d", "7d"] {
            let window = MetricsWindow::parse(text).unwrap();
            let printed = window.to_string();
            assert_eq!(MetricsWindow::parse(&printed).unwrap(), window, "{text}");
        }
        assert_eq!(MetricsWindow::parse("24h").unwrap(), MetricsWindow::DAY);
        assert_eq!(MetricsWindow::parse("1d").unwrap().to_string(), "1d");
        assert_eq!(MetricsWindow::parse("90m").unwrap().to_string(), "90m");
    }

    #[test]
    fn the_resolution_is_the_finest_kept_for_the_whole_window() {
        assert_eq!(MetricsWindow::parse("5m").unwrap().resolution_seconds(), 10);
        assert_eq!(MetricsWindow::HOUR.resolution_seconds(), 10);
        assert_eq!(MetricsWindow::parse("2h").unwrap().resolution_seconds(), 60);
        assert_eq!(MetricsWindow::DAY.resolution_seconds(), 60);
        assert_eq!(MetricsWindow::WEEK.resolution_seconds(), 600);
    }

    #[test]
    fn anything_else_is_refused_with_what_to_write() {
        for text in [
            "",
            "h",
            "0h",
            "8d",
            "169h",
            "1w",
            "1.5h",
            "-1h",
            "99999999m",
            "1 h",
            "1H",
        ] {
            let error = MetricsWindow::parse(text).unwrap_err().to_string();
            assert!(
                error.contains("such as 30m, 1h, 24h or 7d"),
                "{text}: {error}"
            );
        }
    }
}
