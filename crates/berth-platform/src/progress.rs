//! Lines of progress for whoever waits on a long use case (a `git push`
//! shows them as `remote:` lines). Sending never blocks the work.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::live_deploys::LiveDeploy;

#[derive(Clone)]
pub struct Progress {
    pub(crate) lines: mpsc::UnboundedSender<String>,
    /// The deploy whose watchers see these lines too (the dashboard's).
    pub(crate) watched: Option<Arc<LiveDeploy>>,
}

impl Progress {
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (lines, receiver) = mpsc::unbounded_channel();
        (
            Self {
                lines,
                watched: None,
            },
            receiver,
        )
    }

    /// Sends each line of `text`; a listener that went away is not an error.
    pub fn say(&self, text: &str) {
        for line in text.lines() {
            self.tee(line);
            let _ = self.lines.send(line.to_string());
        }
    }
}

/// The build and release output kept with a release, bounded: past `limit`
/// bytes the rest is dropped and one marker line says so. (The pusher's live
/// `remote:` lines still show everything.)
pub(crate) struct ReleaseOutput {
    text: String,
    limit: usize,
    truncated: bool,
}

/// The line that ends output cut at the limit.
pub const OUTPUT_TRUNCATED_MARKER: &str =
    "[berth: output truncated here: BERTH_RELEASE_OUTPUT_BYTES reached]";

impl ReleaseOutput {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            text: String::new(),
            limit,
            truncated: false,
        }
    }

    pub(crate) fn push_line(&mut self, line: &str) {
        if self.truncated {
            return;
        }
        // Room is kept for the marker, so the kept text stays within the limit.
        if self.text.len() + line.len() + OUTPUT_TRUNCATED_MARKER.len() + 2 > self.limit {
            self.text.push_str(OUTPUT_TRUNCATED_MARKER);
            self.text.push('\n');
            self.truncated = true;
            return;
        }
        self.text.push_str(line);
        self.text.push('\n');
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_limit_ends_with_the_marker() {
        let mut output = ReleaseOutput::new(OUTPUT_TRUNCATED_MARKER.len() + 1 + 12);
        output.push_line("12345");
        output.push_line("67890");
        output.push_line("more");
        assert_eq!(
            output.as_str(),
            format!("12345\n67890\n{OUTPUT_TRUNCATED_MARKER}\n")
        );
        assert_eq!(output.as_str().len(), output.limit);
    }
}
