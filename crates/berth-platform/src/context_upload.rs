//! Build contexts streamed straight from git to the engine: a blocking thread
//! writes the tar into a small bounded channel that the engine's upload reads.
//! Nothing is written to disk (a killed berthd leaves no large file behind
//! for the kernel to tear down), and memory stays at a few chunks whatever the
//! size of the context.

use std::io::Write;
use std::path::PathBuf;

use berth_docker::ContextStream;
use berth_git::{GitError, Repos};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The size of one chunk of the tar handed to the engine.
const CHUNK_BYTES: usize = 64 * 1024;
/// How many chunks wait for the engine at most.
const CHUNKS_IN_FLIGHT: usize = 8;

/// Where a push's build contexts come from: one commit of an app's repository
/// (its objects possibly still in the push's quarantine).
#[derive(Debug, Clone)]
pub(crate) struct ContextSource {
    pub repos: Repos,
    pub app: String,
    pub commit: String,
    pub quarantine: Option<PathBuf>,
}

/// A context being made: the tar for the engine, and the thread making it,
/// which ends with what went wrong on git's side, if anything.
pub(crate) struct ContextUpload {
    pub tar: ContextStream,
    pub producer: JoinHandle<Result<(), GitError>>,
}

impl ContextSource {
    /// Starts making the context of `context_dir` with `dockerfile` in it.
    /// The tar stops (with an error item, so the engine never builds from a
    /// part of it) when git fails; the thread stops when the engine's side of
    /// the channel is dropped, e.g. when the build is cancelled.
    pub fn upload(&self, context_dir: &str, dockerfile: &str) -> ContextUpload {
        let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let source = self.clone();
        let (context_dir, dockerfile) = (context_dir.to_string(), dockerfile.to_string());
        let producer = tokio::task::spawn_blocking(move || {
            let made = source.write_context(&context_dir, &dockerfile, sender.clone());
            if let Err(error) = &made {
                // Nobody listens any more when the engine went away first.
                let _ = sender.blocking_send(Err(std::io::Error::other(error.to_string())));
            }
            made
        });
        let tar = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        });
        ContextUpload {
            tar: Box::pin(tar),
            producer,
        }
    }

    fn write_context(
        &self,
        context_dir: &str,
        dockerfile: &str,
        sender: mpsc::Sender<std::io::Result<Bytes>>,
    ) -> Result<(), GitError> {
        let snapshot = self
            .repos
            .snapshot(&self.app, &self.commit, self.quarantine.as_deref())?;
        let writer = ChunkWriter {
            sender,
            chunk: Vec::with_capacity(CHUNK_BYTES),
        };
        let context = snapshot.build_context(context_dir, dockerfile, writer)?;
        let mut writer = context.tar;
        writer.flush().map_err(GitError::Tar)
    }
}

/// Cuts what is written into chunks and sends them, waiting while the
/// channel is full; fails as a closed pipe once the receiver is gone.
struct ChunkWriter {
    sender: mpsc::Sender<std::io::Result<Bytes>>,
    chunk: Vec<u8>,
}

impl ChunkWriter {
    fn send_chunk(&mut self) -> std::io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_BYTES));
        self.sender
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let taken = buf.len().min(CHUNK_BYTES - self.chunk.len());
        self.chunk.extend_from_slice(&buf[..taken]);
        if self.chunk.len() == CHUNK_BYTES {
            self.send_chunk()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_chunk()
    }
}
