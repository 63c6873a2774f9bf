//! Container output as lines: following a container's logs, and cutting the
//! engine's frames into timestamped lines.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};

use crate::error::{api, status_of};
use crate::{DockerError, Engine};

/// Which of a container's outputs a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line of a container's output, without its newline, stamped by the
/// engine when it received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: LogStream,
    pub text: String,
    pub at: DateTime<Utc>,
}

impl Engine {
    /// Follows a container's stdout and stderr from its creation until it
    /// stops, where the stream ends. To go on after a restart, follow again:
    /// that replays from creation, so skip what was already seen (by time
    /// per output: stdout and stderr are stamped separately, so their times
    /// interleave out of order by a few milliseconds).
    pub fn follow_logs(
        &self,
        id: &str,
    ) -> impl Stream<Item = Result<LogLine, DockerError>> + Send + 'static {
        follow_lines(
            self.docker.clone(),
            LogSource::Container(id.to_string()),
            None,
        )
    }
}

/// Whose output to read: a container of the engine, or a Swarm task, whose
/// output the manager fetches from whichever host runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogSource {
    Container(String),
    Task(String),
}

impl LogSource {
    fn frames(
        &self,
        docker: &Docker,
        options: LogsOptions,
    ) -> BoxStream<'static, Result<LogOutput, BollardError>> {
        match self {
            LogSource::Container(id) => docker.logs(id, Some(options)).boxed(),
            LogSource::Task(id) => docker.task_logs(id, Some(options)).boxed(),
        }
    }
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogSource::Container(id) => write!(f, "container {id}"),
            LogSource::Task(id) => write!(f, "task {id}"),
        }
    }
}

/// Resolves when a followed source has stopped, for sources whose followed
/// log does not end by itself (a Swarm task's stays open after it exits).
pub(crate) type Stopped = Pin<Box<dyn Future<Output = ()> + Send>>;

fn logs_options(follow: bool, since: i64) -> LogsOptions {
    LogsOptions {
        follow,
        stdout: true,
        stderr: true,
        timestamps: true,
        since: i32::try_from(since.max(0)).unwrap_or(0),
        tail: "all".into(),
        ..Default::default()
    }
}

/// Margin for `since` when re-reading the end of a log: it has whole-second
/// resolution, and stdout and stderr are stamped separately.
const REPLAY_MARGIN_SECS: i64 = 2;
/// How long re-reading the end of a log may wait for its next frame: a
/// task's host may have gone away, and the manager waits for it.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(10);

/// A container's (or task's) output as lines, from its creation until it
/// stops: until its followed log ends, or `stopped` resolves.
///
/// A followed log can end before the engine wrote the very last of it: an
/// unfinished last line (no newline before the exit) was seen lost about
/// once in three runs. So when following ends, the end of the log is read
/// again, and the lines after the last one already given are added.
pub(crate) fn follow_lines(
    docker: Docker,
    source: LogSource,
    stopped: Option<Stopped>,
) -> impl Stream<Item = Result<LogLine, DockerError>> + Send + 'static {
    enum Phase {
        Follow,
        Replay,
        Done,
    }
    struct State {
        docker: Docker,
        source: LogSource,
        frames: BoxStream<'static, Result<LogOutput, BollardError>>,
        stopped: Option<Stopped>,
        phase: Phase,
        lines: LineAssembler,
        ready: VecDeque<LogLine>,
        replayed: VecDeque<LogLine>,
        /// The last line given while following.
        last: Option<LogLine>,
        error: Option<DockerError>,
    }
    let state = State {
        frames: source.frames(&docker, logs_options(true, 0)),
        docker,
        source,
        stopped,
        phase: Phase::Follow,
        lines: LineAssembler::default(),
        ready: VecDeque::new(),
        replayed: VecDeque::new(),
        last: None,
        error: None,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(line) = state.ready.pop_front() {
                if matches!(state.phase, Phase::Follow) {
                    state.last = Some(line.clone());
                }
                return Some((Ok(line), state));
            }
            if let Some(error) = state.error.take() {
                return Some((Err(error), state));
            }
            if matches!(state.phase, Phase::Done) {
                return None;
            }
            let frame = match (&state.phase, state.stopped.as_mut()) {
                (Phase::Follow, Some(stopped)) => {
                    let frame = tokio::select! {
                        frame = state.frames.next() => Some(frame),
                        () = stopped => None,
                    };
                    // Stopped: its log ends here, as a container's does.
                    frame.unwrap_or_else(|| {
                        state.stopped = None;
                        None
                    })
                }
                (Phase::Replay, _) => {
                    match tokio::time::timeout(REPLAY_TIMEOUT, state.frames.next()).await {
                        Ok(frame) => frame,
                        Err(_) => {
                            tracing::debug!(source = %state.source, "the end of its log did not come");
                            None
                        }
                    }
                }
                _ => state.frames.next().await,
            };
            match (&state.phase, frame) {
                (Phase::Done, _) => return None,
                (Phase::Follow, Some(Ok(frame))) => state.lines.push(frame, &mut state.ready),
                (Phase::Replay, Some(Ok(frame))) => state.lines.push(frame, &mut state.replayed),
                (Phase::Follow, Some(Err(error))) => {
                    let context = format!("follow the logs of {}", state.source);
                    state.error = Some(api(context)(error));
                    state.phase = Phase::Done;
                }
                (Phase::Follow, None) => {
                    // Unfinished lines come back complete from the replay.
                    state.lines = LineAssembler::default();
                    let since = state
                        .last
                        .as_ref()
                        .map_or(0, |line| line.at.timestamp() - REPLAY_MARGIN_SECS);
                    let options = logs_options(false, since);
                    state.frames = state.source.frames(&state.docker, options);
                    state.phase = Phase::Replay;
                }
                (Phase::Replay, Some(Err(error))) => {
                    // Removed right after it stopped: what was seen is all.
                    if status_of(&error) != Some(404) {
                        let context = format!("read the logs of {}", state.source);
                        state.error = Some(api(context)(error));
                    }
                    state.phase = Phase::Done;
                }
                (Phase::Replay, None) => {
                    state.lines.finish(&mut state.replayed);
                    let replayed = std::mem::take(&mut state.replayed);
                    state.ready = lines_after(replayed, state.last.as_ref());
                    state.phase = Phase::Done;
                }
            }
        }
    })
}

/// The lines of `replayed` that come after `last`, the last line already
/// given. Timestamps have nanoseconds, so a line is found by its time,
/// stream and text; if it is not there, the lines stamped later.
fn lines_after(replayed: VecDeque<LogLine>, last: Option<&LogLine>) -> VecDeque<LogLine> {
    let Some(last) = last else {
        return replayed;
    };
    match replayed.iter().rposition(|line| line == last) {
        Some(position) => replayed.into_iter().skip(position + 1).collect(),
        None => replayed
            .into_iter()
            .filter(|line| line.at > last.at)
            .collect(),
    }
}

/// The unfinished line of each output, with the time its first part came.
#[derive(Default)]
struct LineAssembler {
    stdout: Option<(DateTime<Utc>, Vec<u8>)>,
    stderr: Option<(DateTime<Utc>, Vec<u8>)>,
}

impl LineAssembler {
    fn push(&mut self, frame: LogOutput, ready: &mut VecDeque<LogLine>) {
        let (stream, bytes) = match frame {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                (LogStream::Stdout, message)
            }
            LogOutput::StdErr { message } => (LogStream::Stderr, message),
            LogOutput::StdIn { .. } => return,
        };
        let (at, mut text) = split_timestamp(&bytes);
        let partial = match stream {
            LogStream::Stdout => &mut self.stdout,
            LogStream::Stderr => &mut self.stderr,
        };
        while !text.is_empty() {
            let (piece, complete) = match text.iter().position(|b| *b == b'\n') {
                Some(end) => (&text[..end], Some(end + 1)),
                None => (text, None),
            };
            let (started, line) = partial.get_or_insert_with(|| (at, Vec::new()));
            line.extend_from_slice(piece);
            let Some(rest) = complete else { break };
            let started = *started;
            if let Some((_, line)) = partial.take() {
                ready.push_back(make_line(stream, started, line));
            }
            text = &text[rest..];
        }
    }

    fn finish(&mut self, ready: &mut VecDeque<LogLine>) {
        for (stream, partial) in [
            (LogStream::Stdout, self.stdout.take()),
            (LogStream::Stderr, self.stderr.take()),
        ] {
            if let Some((at, line)) = partial {
                ready.push_back(make_line(stream, at, line));
            }
        }
    }
}

fn make_line(stream: LogStream, at: DateTime<Utc>, mut line: Vec<u8>) -> LogLine {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    LogLine {
        stream,
        text: String::from_utf8_lossy(&line).into_owned(),
        at,
    }
}

/// `2026-11-22T10:04:05.123456789Z hello\n` → (that time, `hello\n`). A frame
/// without a readable timestamp is stamped now.
fn split_timestamp(frame: &[u8]) -> (DateTime<Utc>, &[u8]) {
    if let Some(space) = frame.iter().position(|b| *b == b' ') {
        if let Some(at) = std::str::from_utf8(&frame[..space])
            .ok()
            .and_then(|stamp| DateTime::parse_from_rfc3339(stamp).ok())
        {
            return (at.with_timezone(&Utc), &frame[space + 1..]);
        }
    }
    (Utc::now(), frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(text: &str) -> LogOutput {
        LogOutput::StdOut {
            message: text.to_string().into_bytes().into(),
        }
    }

    fn err(text: &str) -> LogOutput {
        LogOutput::StdErr {
            message: text.to_string().into_bytes().into(),
        }
    }

    fn assemble(frames: Vec<LogOutput>) -> Vec<LogLine> {
        let mut lines = LineAssembler::default();
        let mut ready = VecDeque::new();
        for frame in frames {
            lines.push(frame, &mut ready);
        }
        lines.finish(&mut ready);
        ready.into()
    }

    #[test]
    fn frames_become_timestamped_lines() {
        let lines = assemble(vec![
            out("2026-11-22T10:04:05.123456789Z hello\n"),
            err("2026-11-22T10:04:06.5Z oops\r\n"),
        ]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].stream, LogStream::Stdout);
        assert_eq!(lines[0].text, "hello");
        assert_eq!(
            lines[0]
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "2026-11-22T10:04:05.123456789Z"
        );
        assert_eq!(lines[1].stream, LogStream::Stderr);
        assert_eq!(lines[1].text, "oops");
    }

    #[test]
    fn a_line_split_over_frames_is_joined_per_stream() {
        let lines = assemble(vec![
            out("2026-11-22T10:04:05Z first half"),
            err("2026-11-22T10:04:05.1Z other\n"),
            out("2026-11-22T10:04:05.2Z , second half\n"),
            out("2026-11-22T10:04:06Z no newline at the end"),
        ]);
        let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            ["other", "first half, second half", "no newline at the end"]
        );
        assert_eq!(lines[1].at.timestamp(), 1_795_341_845);
    }

    #[test]
    fn a_replay_adds_only_what_follows_the_last_line_seen() {
        let lines = assemble(vec![
            out("2026-11-22T10:04:05.1Z one\n"),
            err("2026-11-22T10:04:05.3Z two\n"),
            out("2026-11-22T10:04:05.2Z three\n"),
            out("2026-11-22T10:04:06Z four"),
        ]);
        let replayed: VecDeque<LogLine> = lines.iter().cloned().collect();
        let texts = |lines: VecDeque<LogLine>| -> Vec<String> {
            lines.into_iter().map(|line| line.text).collect()
        };
        assert_eq!(
            texts(lines_after(replayed.clone(), Some(&lines[2]))),
            ["four"]
        );
        assert_eq!(
            texts(lines_after(replayed.clone(), Some(&lines[3]))),
            [""; 0]
        );
        assert_eq!(texts(lines_after(replayed.clone(), None)).len(), 4);
        // Not found (rotated away): by time.
        let mut gone = lines[1].clone();
        gone.text = "rotated".into();
        assert_eq!(texts(lines_after(replayed, Some(&gone))), ["four"]);
    }

    #[test]
    fn empty_lines_are_kept() {
        let lines = assemble(vec![out("2026-11-22T10:04:05Z \n")]);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "");
    }
}
