//! An app's log on disk: append-only segment files in the logs directory.
//! `<app>.log` takes new lines; when it holds [`Retention::segment_lines`]
//! lines it becomes `<app>.log.<n>` (n counting up) and a new one starts.
//! Whole segments beyond the retention (in lines or age) are deleted, so
//! disk use is bounded and nothing is ever rewritten.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How much of each app's log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// At least this many of the newest lines are kept…
    pub lines: usize,
    /// …unless they are older than this.
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            lines: 10_000,
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Retention {
    /// Lines per segment: a tenth of the retention, so at most a tenth more
    /// than asked for is ever kept.
    pub fn segment_lines(&self) -> usize {
        (self.lines / 10).max(100)
    }
}

/// The segment being appended to.
pub(super) fn current_path(dir: &Path, app: &str) -> PathBuf {
    dir.join(format!("{app}.log"))
}

/// The app's sealed segments, oldest first, with their numbers.
pub(super) fn sealed(dir: &Path, app: &str) -> Vec<(u64, PathBuf)> {
    let prefix = format!("{app}.log.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut segments: Vec<(u64, PathBuf)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let number = name.strip_prefix(&prefix)?.parse().ok()?;
            Some((number, entry.path()))
        })
        .collect();
    segments.sort();
    segments
}

/// An app's open current segment: how many lines and bytes it holds.
pub(super) struct Segment {
    file: std::fs::File,
    pub lines: usize,
    bytes: u64,
}

impl Segment {
    /// Opens the current segment, first cutting off a half-written last
    /// line (a write the disk had no room for, or a crash), so the next
    /// line does not run into it.
    pub fn open(dir: &Path, app: &str) -> std::io::Result<Self> {
        let path = current_path(dir, app);
        let (lines, whole) = match std::fs::read(&path) {
            Ok(bytes) => {
                let whole = bytes
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |at| at + 1);
                (bytes.iter().filter(|b| **b == b'\n').count(), whole)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, 0),
            Err(e) => return Err(e),
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let bytes = whole as u64;
        if file.metadata()?.len() != bytes {
            file.set_len(bytes)?;
        }
        Ok(Self { file, lines, bytes })
    }

    /// Appends whole lines, or nothing: a write cut short (no space left)
    /// is taken back.
    pub fn append(&mut self, text: &str, lines: usize) -> std::io::Result<()> {
        if let Err(error) = self.file.write_all(text.as_bytes()) {
            // If even this fails, the caller drops the segment and `open`
            // cuts the half line off when it is opened again.
            let _ = self.file.set_len(self.bytes);
            return Err(error);
        }
        self.bytes += text.len() as u64;
        self.lines += lines;
        Ok(())
    }
}

/// Seals the current segment and deletes what the retention no longer covers.
pub(super) fn rotate(dir: &Path, app: &str, retention: Retention) -> std::io::Result<()> {
    let segments = sealed(dir, app);
    let next = segments.last().map_or(1, |(number, _)| number + 1);
    std::fs::rename(
        current_path(dir, app),
        dir.join(format!("{app}.log.{next}")),
    )?;
    prune(dir, app, retention)
}

/// Deletes sealed segments beyond the retention: those not needed to hold
/// `retention.lines` lines, and those whose newest line is too old.
pub(super) fn prune(dir: &Path, app: &str, retention: Retention) -> std::io::Result<()> {
    let segments = sealed(dir, app);
    let keep = retention.lines.div_ceil(retention.segment_lines());
    let too_many = segments.len().saturating_sub(keep);
    let now = SystemTime::now();
    for (index, (_, path)) in segments.iter().enumerate() {
        let expired = std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > retention.max_age);
        if index < too_many || expired {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// Reads lines newest segment first, handing each segment's lines (oldest
/// first) to `take` until it says it has enough.
pub(super) fn read_newest_first(
    dir: &Path,
    app: &str,
    mut take: impl FnMut(&str) -> bool,
) -> std::io::Result<()> {
    let mut paths = vec![current_path(dir, app)];
    paths.extend(sealed(dir, app).into_iter().rev().map(|(_, path)| path));
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !take(&text) {
            break;
        }
    }
    Ok(())
}

/// Deletes every segment of the app.
pub(super) fn remove_all(dir: &Path, app: &str) -> std::io::Result<()> {
    let mut paths = vec![current_path(dir, app)];
    paths.extend(sealed(dir, app).into_iter().map(|(_, path)| path));
    for path in paths {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_written_last_line_is_cut_off_when_the_segment_opens() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(current_path(dir.path(), "demo"), "one\ntwo\nthr").unwrap();
        let mut segment = Segment::open(dir.path(), "demo").unwrap();
        assert_eq!(segment.lines, 2);
        segment.append("three\n", 1).unwrap();
        assert_eq!(
            std::fs::read_to_string(current_path(dir.path(), "demo")).unwrap(),
            "one\ntwo\nthree\n"
        );
        assert_eq!(segment.lines, 3);
    }
}
