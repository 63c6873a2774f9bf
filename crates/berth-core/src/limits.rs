//! How much memory and CPU a process type may use: `ps:limits`, Compose's
//! `deploy.resources.limits` and heroku.yml's `run.<type>.limits`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The engine refuses less than 6 MiB; a process needs more than that to start.
pub const MIN_MEMORY_BYTES: u64 = 6 * 1024 * 1024;
/// A bound far above any machine, so that arithmetic on it cannot overflow.
pub const MAX_MEMORY_BYTES: u64 = 1 << 50;
/// At most this many CPUs (in billionths, as the engine counts them).
pub const MAX_NANO_CPUS: u64 = 1024 * 1_000_000_000;

/// The memory and CPU limits of every container of a process type; `None`:
/// no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// CPUs in billionths (`1.5` CPUs is 1 500 000 000), as the engine takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "memory {0:?} is not a size: give a number with an optional unit b, k, m or g \
         (e.g. 512m or 1g)"
    )]
    BadMemory(String),
    #[error("memory {0:?} is below 6m, the least a process can start with")]
    MemoryTooSmall(String),
    #[error("memory {0:?} is too large")]
    MemoryTooLarge(String),
    #[error("cpus {0:?} is not a number of CPUs: give e.g. 0.5, 1 or 2.5")]
    BadCpus(String),
    #[error("cpus {0:?} is out of range: give at least 0.01 and at most 1024")]
    CpusOutOfRange(String),
}

impl Limits {
    pub fn is_unlimited(&self) -> bool {
        self.memory_bytes.is_none() && self.nano_cpus.is_none()
    }

    /// These limits with `other`'s set values over them.
    pub fn overlaid_with(self, other: Limits) -> Limits {
        Limits {
            memory_bytes: other.memory_bytes.or(self.memory_bytes),
            nano_cpus: other.nano_cpus.or(self.nano_cpus),
        }
    }
}

/// A size as Docker and Compose write it: `512m`, `1g`, `1.5G`, `65536`,
/// `64MiB`, `100kb` (binary units; case and a trailing `b`/`ib` do not matter).
pub fn parse_memory(text: &str) -> Result<u64, LimitError> {
    let bad = || LimitError::BadMemory(text.to_string());
    let lower = text.trim().to_ascii_lowercase();
    let unit_start = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(unit_start);
    let multiplier: u64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(bad()),
    };
    if number.is_empty() || number.len() > 20 {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let bytes = value * multiplier as f64;
    if !bytes.is_finite() || bytes > MAX_MEMORY_BYTES as f64 {
        return Err(LimitError::MemoryTooLarge(text.to_string()));
    }
    let bytes = bytes as u64;
    if bytes < MIN_MEMORY_BYTES {
        return Err(LimitError::MemoryTooSmall(text.to_string()));
    }
    Ok(bytes)
}

/// A number of CPUs (`0.5`, `1`, `2.25`) in billionths.
pub fn parse_cpus(text: &str) -> Result<u64, LimitError> {
    let trimmed = text.trim();
    if trimmed.is_empty()
        || trimmed.len() > 20
        || !trimmed.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return Err(LimitError::BadCpus(text.to_string()));
    }
    let cpus: f64 = trimmed
        .parse()
        .map_err(|_| LimitError::BadCpus(text.to_string()))?;
    if !(0.01..=1024.0).contains(&cpus) {
        return Err(LimitError::CpusOutOfRange(text.to_string()));
    }
    Ok((cpus * 1e9).round() as u64)
}

/// A size in the largest binary unit that divides it (`512m`, `1g`,
/// `1536k`), as `ps:limits` shows it and [`parse_memory`] reads it back.
// `u64::is_multiple_of` is newer than the workspace's rust-version (1.85).
#[allow(clippy::manual_is_multiple_of)]
pub fn format_memory(bytes: u64) -> String {
    for (unit, size) in [
        ("t", 1u64 << 40),
        ("g", 1 << 30),
        ("m", 1 << 20),
        ("k", 1 << 10),
    ] {
        if bytes >= size && bytes % size == 0 {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// CPUs from billionths, without trailing zeros (`1.5`, `2`).
pub fn format_cpus(nano_cpus: u64) -> String {
    let text = format!("{:.3}", nano_cpus as f64 / 1e9);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let memory = self.memory_bytes.map_or("none".into(), format_memory);
        let cpus = self.nano_cpus.map_or("none".into(), format_cpus);
        write!(f, "memory {memory}, cpus {cpus}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_docker_writes_them() {
        assert_eq!(parse_memory("512m"), Ok(512 << 20));
        assert_eq!(parse_memory("512M"), Ok(512 << 20));
        assert_eq!(parse_memory("64MiB"), Ok(64 << 20));
        assert_eq!(parse_memory("1g"), Ok(1 << 30));
        assert_eq!(parse_memory("1.5gb"), Ok(3 << 29));
        assert_eq!(parse_memory("67108864"), Ok(64 << 20));
        assert_eq!(
            parse_memory("1mb"),
            Err(LimitError::MemoryTooSmall("1mb".into()))
        );
        assert!(matches!(
            parse_memory("lots"),
            Err(LimitError::BadMemory(_))
        ));
        assert!(matches!(parse_memory("12x"), Err(LimitError::BadMemory(_))));
        assert!(matches!(parse_memory("-5m"), Err(LimitError::BadMemory(_))));
        assert!(matches!(parse_memory(""), Err(LimitError::BadMemory(_))));
        assert!(matches!(
            parse_memory("99999999t"),
            Err(LimitError::MemoryTooLarge(_))
        ));
    }

    #[test]
    fn cpus_count_in_billionths() {
        assert_eq!(parse_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_cpus("0.25"), Ok(250_000_000));
        assert!(matches!(
            parse_cpus("0"),
            Err(LimitError::CpusOutOfRange(_))
        ));
        assert!(matches!(
            parse_cpus("2000"),
            Err(LimitError::CpusOutOfRange(_))
        ));
        assert!(matches!(parse_cpus("one"), Err(LimitError::BadCpus(_))));
        assert!(matches!(parse_cpus("-1"), Err(LimitError::BadCpus(_))));
        assert!(matches!(parse_cpus("NaN"), Err(LimitError::BadCpus(_))));
    }

    #[test]
    fn limits_format_and_read_back() {
        for bytes in [512u64 << 20, 1 << 30, 3 << 29, 1536 << 10, 7_000_001] {
            assert_eq!(
                parse_memory(&format_memory(bytes)).ok(),
                Some(bytes).filter(|b| *b >= MIN_MEMORY_BYTES)
            );
        }
        assert_eq!(format_memory(3 << 29), "1536m");
        assert_eq!(format_cpus(1_500_000_000), "1.5");
        assert_eq!(format_cpus(2_000_000_000), "2");
        let limits = Limits {
            memory_bytes: Some(64 << 20),
            nano_cpus: None,
        };
        assert_eq!(limits.to_string(), "memory 64m, cpus none");
        assert_eq!(Limits::default().overlaid_with(limits), limits);
        assert!(Limits::default().is_unlimited());
    }
}
