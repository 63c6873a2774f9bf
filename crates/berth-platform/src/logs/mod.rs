//! The per-app log stream. Everything an app produces — build and release
//! output, each container's stdout and stderr, the router's and the
//! platform's own events — becomes one line,
//! `2026-11-22T10:04:05.123456+00:00 app[web.1]: message`, appended to the
//! app's log segments and passed on to live tails. Writers never wait: lines
//! go through a bounded queue to one writer thread, and a full queue drops
//! lines (counted, and said in the log) rather than stall a container, the
//! router or a push. A tail that cannot keep up loses lines, with a marker,
//! and never holds anyone else up. When the logs directory cannot be written
//! (a full disk), live tails still get every line; the lines not stored are
//! dropped and counted, berthd says so once in its own log, and writing is
//! tried again at most once a second: once it works, each app's log says
//! how many of its lines are missing.

mod segments;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::sync::{broadcast, mpsc};

pub use segments::Retention;

/// Lines waiting for the writer before new ones are dropped.
const QUEUE_CAPACITY: usize = 65_536;
/// Lines written in one go when many are waiting.
const WRITE_BATCH: usize = 4_096;
/// Lines a live tail may fall behind before it loses some.
const TAIL_BACKLOG: usize = 4_096;
/// While the logs directory cannot be written, how long lines are dropped
/// (counted) before writing is tried again.
const RETRY_WRITES_AFTER: Duration = Duration::from_secs(1);
/// How many of a dyno's last lines say up to when its output is logged.
const RECENT_LINES: usize = 100;
/// Longer lines are cut here (and marked), so one runaway line cannot flood the log.
pub const MAX_LINE_BYTES: usize = 10_000;

/// Heroku's two sources: the app's own output, and the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    App,
    Berth,
}

impl LogSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::App => "app",
            LogSource::Berth => "berth",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "app" => Some(LogSource::App),
            "berth" => Some(LogSource::Berth),
            _ => None,
        }
    }
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

impl LogLine {
    /// Reads back a line as written to the log.
    pub fn parse(text: &str) -> Option<Self> {
        let (stamp, rest) = text.split_once(' ')?;
        let at = DateTime::parse_from_rfc3339(stamp)
            .ok()?
            .with_timezone(&Utc);
        let (tag, message) = rest.split_once("]: ")?;
        let (source, dyno) = tag.split_once('[')?;
        Some(Self {
            at,
            source: LogSource::parse(source)?,
            dyno: dyno.to_string(),
            message: message.to_string(),
        })
    }
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}[{}]: {}",
            self.at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"),
            self.source.as_str(),
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

/// Which lines a reader wants; unset fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// `web` matches `web.1`, `web.2`…
    pub process_type: Option<String>,
    pub dyno: Option<String>,
    pub source: Option<LogSource>,
}

impl LogFilter {
    pub fn matches(&self, line: &LogLine) -> bool {
        self.source.is_none_or(|source| source == line.source)
            && self.dyno.as_ref().is_none_or(|dyno| *dyno == line.dyno)
            && self.process_type.as_ref().is_none_or(|process_type| {
                line.dyno.split('.').next() == Some(process_type.as_str())
            })
    }
}

/// What a live tail receives: a line, or word that it fell behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailEvent {
    Line(Arc<LogLine>),
    Dropped(u64),
}

type LiveTails = Arc<Mutex<HashMap<String, broadcast::Sender<Arc<LogLine>>>>>;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabel {
    app: String,
}

/// Lines by app, a Prometheus counter for each.
pub type LineCounts = Family<AppLabel, Counter>;

/// What became of each app's lines: written, or lost.
#[derive(Clone, Default)]
struct Counts {
    written: LineCounts,
    dropped: LineCounts,
}

impl Counts {
    fn add(counts: &LineCounts, app: &str, lines: u64) {
        counts
            .get_or_create(&AppLabel {
                app: app.to_string(),
            })
            .inc_by(lines);
    }
}

#[derive(Clone)]
pub struct LogSink {
    queue: mpsc::Sender<(String, LogLine)>,
    dropped: Arc<AtomicU64>,
    counts: Counts,
    live: LiveTails,
    dir: PathBuf,
}

impl LogSink {
    /// Starts the writer thread; segments go to `dir/<app>.log*`.
    pub fn start(dir: PathBuf, retention: Retention) -> Self {
        let (queue, lines) = mpsc::channel(QUEUE_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let live = LiveTails::default();
        let counts = Counts::default();
        let writer = Writer {
            dir: dir.clone(),
            retention,
            dropped: dropped.clone(),
            counts: counts.clone(),
            live: live.clone(),
            segments: HashMap::new(),
            failing: None,
            unstored: HashMap::new(),
            rotation_failing: false,
        };
        std::thread::Builder::new()
            .name("berth-log-writer".into())
            .spawn(move || writer.run(lines))
            .expect("the log writer thread starts");
        Self {
            queue,
            dropped,
            counts,
            live,
            dir,
        }
    }

    /// Queues a line for `app`'s log without waiting.
    pub fn write(&self, app: &str, line: LogLine) {
        if self.queue.try_send((app.to_string(), line)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            Counts::add(&self.counts.dropped, app, 1);
        }
    }

    /// Lines stored in each app's log, and lines lost (the writer fell
    /// behind, or the log could not be written).
    pub fn line_counts(&self) -> (&LineCounts, &LineCounts) {
        (&self.counts.written, &self.counts.dropped)
    }

    /// Forgets a destroyed app's counts.
    pub fn forget_counts(&self, app: &str) {
        let label = AppLabel {
            app: app.to_string(),
        };
        self.counts.written.remove(&label);
        self.counts.dropped.remove(&label);
    }

    /// Lines of `app` written from now on, as they are written.
    pub fn subscribe(&self, app: &str) -> broadcast::Receiver<Arc<LogLine>> {
        let mut live = self.live.lock().expect("live tails lock");
        live.entry(app.to_string())
            .or_insert_with(|| broadcast::channel(TAIL_BACKLOG).0)
            .subscribe()
    }

    /// The newest `count` lines of `app`'s log that match `filter`, oldest first.
    pub async fn history(
        &self,
        app: &str,
        filter: &LogFilter,
        count: usize,
    ) -> std::io::Result<Vec<LogLine>> {
        let (dir, app, filter) = (self.dir.clone(), app.to_string(), filter.clone());
        tokio::task::spawn_blocking(move || {
            let mut newest_first = Vec::new();
            segments::read_newest_first(&dir, &app, |text| {
                for line in text.lines().rev().filter_map(LogLine::parse) {
                    if newest_first.len() == count {
                        return false;
                    }
                    if filter.matches(&line) {
                        newest_first.push(line);
                    }
                }
                newest_first.len() < count
            })?;
            newest_first.reverse();
            Ok(newest_first)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// The newest `count` matching lines, then every new matching line as it
    /// is written, until the stream is dropped.
    pub async fn follow(
        &self,
        app: &str,
        filter: LogFilter,
        count: usize,
    ) -> std::io::Result<impl futures_util::Stream<Item = TailEvent> + Send + 'static> {
        use futures_util::StreamExt;
        // Subscribe first: nothing written while the history is read is missed.
        let receiver = self.subscribe(app);
        let history = self.history(app, &filter, count).await?;
        // Lines written meanwhile are in both; they are skipped once, live.
        let overlap: std::collections::HashSet<String> = history
            .iter()
            .rev()
            .take(TAIL_BACKLOG)
            .map(LogLine::to_string)
            .collect();
        let past = futures_util::stream::iter(
            history
                .into_iter()
                .map(|line| TailEvent::Line(Arc::new(line))),
        );
        let live = futures_util::stream::unfold(
            (receiver, filter, overlap),
            |(mut receiver, filter, mut overlap)| async move {
                loop {
                    match receiver.recv().await {
                        Ok(line) => {
                            if !filter.matches(&line) {
                                continue;
                            }
                            if !overlap.is_empty() {
                                if overlap.remove(&line.to_string()) {
                                    continue;
                                }
                                overlap.clear();
                            }
                            return Some((TailEvent::Line(line), (receiver, filter, overlap)));
                        }
                        Err(broadcast::error::RecvError::Lagged(lost)) => {
                            return Some((TailEvent::Dropped(lost), (receiver, filter, overlap)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        );
        Ok(past.chain(live))
    }

    /// Up to when `dyno`'s output is in `app`'s log, if any of it is: the
    /// newest stamp among its last lines (lines of a dyno's stdout and
    /// stderr, and of dynos on different hosts, arrive a little out of
    /// order), as the last instant that stamp stands for: the log keeps
    /// microseconds and engines stamp nanoseconds, so a line stamped within
    /// that microsecond is already in the log.
    pub async fn output_logged_until(&self, app: &str, dyno: &str) -> Option<DateTime<Utc>> {
        let filter = LogFilter {
            dyno: Some(dyno.to_string()),
            source: Some(LogSource::App),
            ..LogFilter::default()
        };
        let last = self.history(app, &filter, RECENT_LINES).await.ok()?;
        last.iter()
            .map(|line| line.at)
            .max()
            .map(|at| at + chrono::TimeDelta::nanoseconds(999))
    }

    /// Forgets `app`'s log (when the app is destroyed).
    pub async fn remove(&self, app: &str) -> std::io::Result<()> {
        let (dir, app) = (self.dir.clone(), app.to_string());
        tokio::task::spawn_blocking(move || segments::remove_all(&dir, &app))
            .await
            .map_err(std::io::Error::other)?
    }
}

/// The one thread that appends to segments and feeds live tails, in the
/// order lines were queued.
struct Writer {
    dir: PathBuf,
    retention: Retention,
    dropped: Arc<AtomicU64>,
    counts: Counts,
    live: LiveTails,
    segments: HashMap<String, segments::Segment>,
    /// Set while the logs directory cannot be written.
    failing: Option<Failing>,
    /// Lines of each app that could not be stored, not yet said in its log.
    unstored: HashMap<String, u64>,
    /// Whether a failed rotation was reported (and none has worked since).
    rotation_failing: bool,
}

/// A spell in which the logs directory cannot be written.
struct Failing {
    since: Instant,
    /// When writing was last tried.
    tried: Instant,
    /// Lines not stored since it began, all apps together.
    dropped: u64,
}

impl Writer {
    fn run(mut self, mut lines: mpsc::Receiver<(String, LogLine)>) {
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        while lines.blocking_recv_many(&mut batch, WRITE_BATCH) > 0 {
            let lost = self.dropped.swap(0, Ordering::Relaxed);
            let mut by_app: HashMap<String, Vec<LogLine>> = HashMap::new();
            for (app, line) in batch.drain(..) {
                let lines = by_app.entry(app).or_default();
                if lost > 0 && lines.is_empty() {
                    lines.push(LogLine::now(
                        LogSource::Berth,
                        "logs",
                        &format!("Error L10 (output buffer overflow): {lost} lines dropped"),
                    ));
                }
                lines.push(line);
            }
            for (app, lines) in by_app {
                self.store(&app, &lines);
                self.publish(&app, lines);
            }
        }
    }

    /// Stores the lines in the app's log, or counts them as not stored when
    /// the logs directory cannot be written (trying again now and then).
    fn store(&mut self, app: &str, lines: &[LogLine]) {
        let count = lines.len() as u64;
        if let Some(failing) = &mut self.failing {
            if failing.tried.elapsed() < RETRY_WRITES_AFTER {
                failing.dropped += count;
                *self.unstored.entry(app.to_string()).or_default() += count;
                Counts::add(&self.counts.dropped, app, count);
                return;
            }
            failing.tried = Instant::now();
        }
        // Lines missing from the app's log are said first, where they are missing.
        let missing = self.unstored.remove(app).unwrap_or(0);
        let with_marker;
        let lines = if missing > 0 {
            let marker = LogLine::now(
                LogSource::Berth,
                "logs",
                &format!("{missing} lines were not stored: the log could not be written"),
            );
            with_marker = std::iter::once(marker)
                .chain(lines.iter().cloned())
                .collect::<Vec<_>>();
            &with_marker[..]
        } else {
            lines
        };
        match self.append(app, lines) {
            Ok(()) => {
                Counts::add(&self.counts.written, app, lines.len() as u64);
                if let Some(failing) = self.failing.take() {
                    tracing::warn!(
                        dir = %self.dir.display(),
                        not_stored = failing.dropped,
                        after = ?failing.since.elapsed(),
                        "app logs are stored again; each app's log says how many of its lines \
                         are missing"
                    );
                }
            }
            Err((written, error)) => {
                // The marker, if there was one, is the first line.
                let marker_stored = missing > 0 && written > 0;
                let lost = if missing > 0 && !marker_stored {
                    count
                } else {
                    (lines.len() - written) as u64
                };
                let still_missing = if marker_stored { 0 } else { missing };
                self.unstored.insert(app.to_string(), still_missing + lost);
                Counts::add(&self.counts.written, app, written as u64);
                Counts::add(&self.counts.dropped, app, lost);
                match &mut self.failing {
                    Some(failing) => failing.dropped += lost,
                    None => {
                        tracing::error!(
                            dir = %self.dir.display(),
                            %error,
                            retry_every = ?RETRY_WRITES_AFTER,
                            "cannot write app logs: live tails still get every line; lines \
                             that cannot be stored are dropped and counted until writing works \
                             again (said once more then)"
                        );
                        let now = Instant::now();
                        self.failing = Some(Failing {
                            since: now,
                            tried: now,
                            dropped: lost,
                        });
                    }
                }
            }
        }
    }

    /// Appends to the current segment, sealing it each time it is full.
    /// On failure, how many of the lines were stored (the first ones) and why not the rest.
    fn append(&mut self, app: &str, lines: &[LogLine]) -> Result<(), (usize, std::io::Error)> {
        let (segment_lines, retention) = (self.retention.segment_lines(), self.retention);
        let mut written = 0;
        while written < lines.len() {
            let segment = self.segment(app).map_err(|error| (written, error))?;
            let room = segment_lines.saturating_sub(segment.lines).max(1);
            let now = &lines[written..(written + room).min(lines.len())];
            let mut text = String::new();
            for line in now {
                text.push_str(&line.to_string());
                text.push('\n');
            }
            if let Err(error) = segment.append(&text, now.len()) {
                // Opened again next time, whatever state the failure left it in.
                self.segments.remove(app);
                return Err((written, error));
            }
            written += now.len();
            if segment.lines >= segment_lines {
                self.segments.remove(app);
                match segments::rotate(&self.dir, app, retention) {
                    Ok(()) => self.rotation_failing = false,
                    Err(error) if !self.rotation_failing => {
                        self.rotation_failing = true;
                        tracing::warn!(%app, %error, "cannot rotate the app's log");
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The app's current segment, opened if need be.
    fn segment(&mut self, app: &str) -> std::io::Result<&mut segments::Segment> {
        // A destroyed app's segment is gone: reopen rather than write into the void.
        if !segments::current_path(&self.dir, app).exists() {
            self.segments.remove(app);
        }
        match self.segments.entry(app.to_string()) {
            std::collections::hash_map::Entry::Occupied(entry) => Ok(entry.into_mut()),
            std::collections::hash_map::Entry::Vacant(entry) => {
                Ok(entry.insert(segments::Segment::open(&self.dir, app)?))
            }
        }
    }

    fn publish(&self, app: &str, lines: Vec<LogLine>) {
        let mut live = self.live.lock().expect("live tails lock");
        let Some(tails) = live.get(app) else { return };
        if tails.receiver_count() == 0 {
            live.remove(app);
            return;
        }
        for line in lines {
            // No receiver left is not an error: the tail went away.
            let _ = tails.send(Arc::new(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use futures_util::StreamExt;

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
        let sink = LogSink::start(dir.path().to_path_buf(), Retention::default());
        for i in 0..100 {
            sink.write(
                "demo",
                LogLine::now(LogSource::App, "web.1", &format!("line {i}")),
            );
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let tail = sink
                .history("demo", &LogFilter::default(), 3)
                .await
                .unwrap();
            if tail.len() == 3 && tail[2].message == "line 99" {
                assert_eq!(tail[0].to_string()[33..], *"app[web.1]: line 97");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "lines did not arrive: {tail:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn wait_for(sink: &LogSink, app: &str, last: &str) -> Vec<LogLine> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let lines = sink
                .history(app, &LogFilter::default(), MAX_HISTORY)
                .await
                .unwrap();
            if lines.last().is_some_and(|line| line.message == last) {
                return lines;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{last:?} never arrived"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    const MAX_HISTORY: usize = 100_000;

    #[test]
    fn written_lines_read_back_and_filter() {
        let line = LogLine::now(LogSource::Berth, "router", "at=info path=\"/a]: b\"");
        let parsed = LogLine::parse(&line.to_string()).unwrap();
        assert_eq!(parsed.to_string(), line.to_string());
        assert_eq!(parsed.dyno, "router");
        let web = LogLine::now(LogSource::App, "web.2", "hi");
        let filter = |process_type: Option<&str>, dyno: Option<&str>, source| LogFilter {
            process_type: process_type.map(String::from),
            dyno: dyno.map(String::from),
            source,
        };
        assert!(filter(Some("web"), None, None).matches(&web));
        assert!(!filter(Some("worker"), None, None).matches(&web));
        assert!(filter(None, Some("web.2"), Some(LogSource::App)).matches(&web));
        assert!(!filter(None, None, Some(LogSource::Berth)).matches(&web));
        assert!(!filter(Some("web"), None, None).matches(&line));
    }

    #[tokio::test]
    async fn retention_deletes_whole_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let retention = Retention {
            lines: 1_000,
            max_age: std::time::Duration::from_secs(3600),
        };
        let sink = LogSink::start(dir.path().to_path_buf(), retention);
        for i in 0..3_550 {
            sink.write(
                "demo",
                LogLine::now(LogSource::App, "web.1", &format!("line {i}")),
            );
        }
        let kept = wait_for(&sink, "demo", "line 3549").await;
        // Ten sealed segments of 100 lines, and the 50 lines of the current one.
        assert_eq!(kept.len(), 1_050);
        assert_eq!(kept[0].message, "line 2500");
        assert_eq!(segments::sealed(dir.path(), "demo").len(), 10);
        sink.remove("demo").await.unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn lines_that_cannot_be_stored_reach_tails_and_are_counted_in_the_log_once_it_can_be_written(
    ) {
        let parent = tempfile::tempdir().unwrap();
        // Not there yet: nothing can be written.
        let dir = parent.path().join("logs");
        let sink = LogSink::start(dir.clone(), Retention::default());
        let mut tail = Box::pin(sink.follow("demo", LogFilter::default(), 0).await.unwrap());
        for i in 0..10 {
            sink.write(
                "demo",
                LogLine::now(LogSource::App, "web.1", &format!("line {i}")),
            );
        }
        for i in 0..10 {
            match tokio::time::timeout(std::time::Duration::from_secs(10), tail.next()).await {
                Ok(Some(TailEvent::Line(line))) => assert_eq!(line.message, format!("line {i}")),
                other => panic!("expected line {i} on the tail, got {other:?}"),
            }
        }
        std::fs::create_dir(&dir).unwrap();
        tokio::time::sleep(RETRY_WRITES_AFTER + std::time::Duration::from_millis(100)).await;
        sink.write("demo", LogLine::now(LogSource::App, "web.1", "after"));
        let stored = wait_for(&sink, "demo", "after").await;
        assert_eq!(stored.len(), 2, "{stored:?}");
        assert_eq!(
            (stored[0].source, stored[0].dyno.as_str()),
            (LogSource::Berth, "logs")
        );
        assert_eq!(
            stored[0].message,
            "10 lines were not stored: the log could not be written"
        );
    }

    #[tokio::test]
    async fn a_stalled_tail_loses_lines_with_a_marker_and_holds_up_no_one() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LogSink::start(dir.path().to_path_buf(), Retention::default());
        sink.write("demo", LogLine::now(LogSource::App, "web.1", "before"));
        wait_for(&sink, "demo", "before").await;
        let stalled = Box::pin(sink.follow("demo", LogFilter::default(), 1).await.unwrap());
        let mut reading = Box::pin(sink.follow("demo", LogFilter::default(), 0).await.unwrap());
        let count = TAIL_BACKLOG * 3;
        let seen = Arc::new(AtomicU64::new(0));
        let counted = seen.clone();
        let reader = tokio::spawn(async move {
            while let Some(event) = reading.next().await {
                // "before" is stored before it is published to tails, so it
                // can reach this tail live although it was in the log first.
                if let TailEvent::Line(line) = event {
                    if line.message == "before" {
                        continue;
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                    if line.message == format!("line {}", count - 1) {
                        return;
                    }
                }
            }
        });
        // Written in steps the reading tail keeps up with; the stalled one never reads.
        for step in 0..count / 1024 {
            for i in step * 1024..(step + 1) * 1024 {
                sink.write(
                    "demo",
                    LogLine::now(LogSource::App, "web.1", &format!("line {i}")),
                );
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while seen.load(Ordering::SeqCst) < ((step + 1) * 1024) as u64 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the reading tail stalled"
                );
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        // The writer went on: every line is in the log, and the reading tail saw them.
        wait_for(&sink, "demo", &format!("line {}", count - 1)).await;
        tokio::time::timeout(std::time::Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), count as u64);
        let mut stalled = stalled;
        match stalled.next().await {
            Some(TailEvent::Line(line)) => assert_eq!(line.message, "before"),
            other => panic!("expected the history line, got {other:?}"),
        }
        match stalled.next().await {
            Some(TailEvent::Dropped(lost)) => assert!(lost > 0),
            other => panic!("expected a dropped-lines marker, got {other:?}"),
        }
    }
}
