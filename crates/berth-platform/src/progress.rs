//! Lines of progress for whoever waits on a long use case (a `git push`
//! shows them as `remote:` lines). Sending never blocks the work.

use tokio::sync::mpsc;

#[derive(Clone)]
pub struct Progress {
    lines: mpsc::UnboundedSender<String>,
}

impl Progress {
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (lines, receiver) = mpsc::unbounded_channel();
        (Self { lines }, receiver)
    }

    /// Sends each line of `text`; a listener that went away is not an error.
    pub fn say(&self, text: &str) {
        for line in text.lines() {
            let _ = self.lines.send(line.to_string());
        }
    }
}
