//! The per-app log sink. Everything an app produces — build and release
//! output, each container's stdout and stderr, the platform's own events —
//! becomes one line, `2026-11-22T10:04:05.123456+00:00 app[web.1]: message`,
//! appended to the app's log file. Writers never wait on the disk: lines go
//! through a bounded queue to one writer task, and a full queue drops lines
//! (counted and reported in the log) rather than stall a container or a push.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

/// Lines waiting for the writer before new ones are dropped.
const QUEUE_CAPACITY: usize = 16_384;
/// Longer lines are cut here (and marked), so one runaway line cannot flood the log.
pub const MAX_LINE_BYTES: usize = 10_000;

/// Heroku's two sources: the app's own output, and the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    App,
    Berth,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub source: LogSource,
    /// `web.1`, `build`, `release`, `api`, `router`…
    pub dyno: String,
    pub message: String,
}

impl LogLine {
    pub fn now(source: LogSource, dyno: &str, message: &str) -> Self {
        Self::at(Utc::now(), source, dyno, message)
    }

    pub fn at(at: DateTime<Utc>, source: LogSource, dyno: &str, message: &str) -> Self {
        let message = truncate(message.trim_end_matches(['\n', '\r']));
        Self {
            at,
            source,
            dyno: dyno.to_string(),
            message,
        }
    }
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match self.source {
            LogSource::App => "app",
            LogSource::Berth => "berth",
        };
        write!(
            f,
            "{} {source}[{}]: {}",
            self.at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"),
            self.dyno,
            self.message
        )
    }
}

fn truncate(message: &str) -> String {
    if message.len() <= MAX_LINE_BYTES {
        return message.to_string();
    }
    let mut end = MAX_LINE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} [line truncated at {MAX_LINE_BYTES} bytes]",
        &message[..end]
    )
}

#[derive(Clone)]
pub struct LogSink {
    queue: mpsc::Sender<(String, LogLine)>,
    dropped: Arc<AtomicU64>,
    dir: PathBuf,
}

impl LogSink {
    /// Starts the writer task; files go to `dir/<app>.log`.
    pub fn start(dir: PathBuf) -> Self {
        let (queue, lines) = mpsc::channel(QUEUE_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_lines(dir.clone(), lines, dropped.clone()));
        Self {
            queue,
            dropped,
            dir,
        }
    }

    /// Queues a line for `app`'s log without waiting.
    pub fn write(&self, app: &str, line: LogLine) {
        if self.queue.try_send((app.to_string(), line)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// When the newest line of `app`'s log was written, if it has any.
    pub async fn last_written_at(&self, app: &str) -> Option<DateTime<Utc>> {
        let last = self.tail(app, 1).await.ok()?.pop()?;
        let (stamp, _) = last.split_once(' ')?;
        DateTime::parse_from_rfc3339(stamp)
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }

    /// The last `count` lines of `app`'s log, oldest first.
    pub async fn tail(&self, app: &str, count: usize) -> std::io::Result<Vec<String>> {
        let path = log_path(&self.dir, app);
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let lines: Vec<&str> = text.lines().collect();
        Ok(lines[lines.len().saturating_sub(count)..]
            .iter()
            .map(|l| l.to_string())
            .collect())
    }

    /// Forgets `app`'s log (when the app is destroyed).
    pub async fn remove(&self, app: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(log_path(&self.dir, app)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn log_path(dir: &Path, app: &str) -> PathBuf {
    dir.join(format!("{app}.log"))
}

async fn write_lines(
    dir: PathBuf,
    mut lines: mpsc::Receiver<(String, LogLine)>,
    dropped: Arc<AtomicU64>,
) {
    let mut files: HashMap<String, std::fs::File> = HashMap::new();
    while let Some((app, line)) = lines.recv().await {
        let lost = dropped.swap(0, Ordering::Relaxed);
        let mut text = String::new();
        if lost > 0 {
            let marker = LogLine::now(LogSource::Berth, "logs", &format!("{lost} lines dropped"));
            text.push_str(&format!("{marker}\n"));
        }
        text.push_str(&format!("{line}\n"));
        let path = log_path(&dir, &app);
        // A destroyed app's file is gone: reopen rather than write into the void.
        if !path.exists() {
            files.remove(&app);
        }
        let file = match files.entry(app) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                match std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                {
                    Ok(file) => entry.insert(file),
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "cannot open app log");
                        continue;
                    }
                }
            }
        };
        if let Err(error) = file.write_all(text.as_bytes()) {
            tracing::warn!(path = %path.display(), %error, "cannot write app log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn lines_read_as_herokus() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 4, 5).unwrap()
            + chrono::Duration::microseconds(123_456);
        let line = LogLine::at(at, LogSource::App, "web.1", "hello\n");
        assert_eq!(
            line.to_string(),
            "2026-11-22T10:04:05.123456+00:00 app[web.1]: hello"
        );
        let line = LogLine::at(at, LogSource::Berth, "api", "Release v7 created by a@b.c");
        assert_eq!(
            line.to_string(),
            "2026-11-22T10:04:05.123456+00:00 berth[api]: Release v7 created by a@b.c"
        );
    }

    #[test]
    fn very_long_lines_are_cut_and_marked() {
        let line = LogLine::now(LogSource::App, "web.1", &"é".repeat(MAX_LINE_BYTES));
        assert!(line.message.len() < MAX_LINE_BYTES + 50);
        assert!(line.message.ends_with("[line truncated at 10000 bytes]"));
    }

    #[tokio::test]
    async fn lines_land_in_the_apps_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LogSink::start(dir.path().to_path_buf());
        for i in 0..100 {
            sink.write(
                "demo",
                LogLine::now(LogSource::App, "web.1", &format!("line {i}")),
            );
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let tail = sink.tail("demo", 3).await.unwrap();
            if tail.len() == 3 && tail[2].ends_with("line 99") {
                assert!(tail[0].ends_with("app[web.1]: line 97"));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "lines did not arrive: {tail:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
