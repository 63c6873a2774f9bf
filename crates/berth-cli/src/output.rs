//! Human output: aligned tables and `Key: value` blocks, times as
//! `2026-11-22 10:04 UTC`; and machine output: pretty JSON.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Writes to stdout like `print!`; a reader that went away (`berth apps |
/// head`) ends the program quietly instead of panicking.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!($($arg)*)) };
}

/// `println!` through [`out!`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

pub fn write_stdout(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(error) => {
            eprintln!("error: cannot write to stdout: {error}");
            std::process::exit(1);
        }
    }
}

/// A table with a header row; columns are left-aligned and separated by two
/// spaces, and no line ends with blanks.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|header| width(header)).collect();
    for row in rows {
        for (column, cell) in row.iter().enumerate() {
            if column < widths.len() {
                widths[column] = widths[column].max(width(cell));
            } else {
                widths.push(width(cell));
            }
        }
    }
    let header: Vec<String> = headers.iter().map(|header| header.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', widths[column] - width(cell)));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `Key: value` lines with the values aligned, e.g. for `apps:info`.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let key_width = pairs
        .iter()
        .map(|(key, _)| width(key) + 1)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        let label = format!("{key}:");
        out.push_str(format!("{label:<key_width$} {value}").trim_end());
        out.push('\n');
    }
    out
}

/// A time as the CLI shows it: `2026-11-22 10:04 UTC`.
pub fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A duration as `45s`, `12m`, `3h`, `2d`.
pub fn age(elapsed: chrono::Duration) -> String {
    let seconds = elapsed.num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}

/// A size in bytes as `812 B`, `12.0 KB`, `3.4 MB` (units of 1024).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) {
    crate::outln!(
        "{}",
        serde_json::to_string_pretty(value).expect("API types serialize")
    );
}

fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn tables_align_every_column_and_trim_line_ends() {
        let rows = vec![
            vec![
                "demo".to_string(),
                "alice@example.com".to_string(),
                "x".to_string(),
            ],
            vec![
                "a-much-longer-name".to_string(),
                "bo@b.org".to_string(),
                "yy".to_string(),
            ],
        ];
        assert_eq!(
            table(&["NAME", "OWNER", "CREATED"], &rows),
            "\
NAME                OWNER              CREATED
demo                alice@example.com  x
a-much-longer-name  bo@b.org           yy
"
        );
    }

    #[test]
    fn tables_count_characters_not_bytes() {
        let rows = vec![vec!["é".to_string(), "1".to_string()]];
        assert_eq!(table(&["AB", "N"], &rows), "AB  N\né   1\n");
    }

    #[test]
    fn key_values_align_the_values() {
        assert_eq!(
            key_values(&[
                ("Owner", "a@b.c".to_string()),
                ("Web URL", "http://x/".to_string())
            ]),
            "Owner:   a@b.c\nWeb URL: http://x/\n"
        );
    }

    #[test]
    fn times_are_minutes_in_utc() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 4, 5).unwrap();
        assert_eq!(time(&at), "2026-11-22 10:04 UTC");
    }
}
