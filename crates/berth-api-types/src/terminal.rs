//! The framing of an interactive `berth run` session. After the HTTP/1.1
//! upgrade (`Upgrade: berth-run`) both sides exchange frames: one type byte,
//! the payload's length as four big-endian bytes, then the payload. The client
//! sends keystrokes and window sizes; the server sends the terminal's output
//! and, last, the exit code (or an error) before it closes the connection.

/// The `Upgrade` header's value for a terminal session.
pub const UPGRADE_PROTOCOL: &str = "berth-run";

/// Larger payloads are refused: a peer cannot make the other side buffer
/// without bound. Writers cut their data into frames of this size at most.
pub const MAX_PAYLOAD: usize = 64 * 1024;

const HEADER_LEN: usize = 5;

const DATA: u8 = 0;
const RESIZE: u8 = 1;
const EXIT: u8 = 2;
const ERROR: u8 = 3;

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TerminalSize {
    pub rows: u16,
    pub cols: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Bytes typed (client to server) or shown (server to client).
    Data(Vec<u8>),
    /// The client's window changed size.
    Resize(TerminalSize),
    /// The process ended with this exit code; the last frame of a session.
    Exit(i64),
    /// The session failed on the platform's side; the last frame of a session.
    Error(String),
}

/// What is wrong with bytes that should hold a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("a frame of {0} bytes is larger than {MAX_PAYLOAD}")]
    TooLarge(usize),
    #[error("a {kind} frame of {len} bytes is malformed")]
    Malformed { kind: &'static str, len: usize },
}

impl Frame {
    /// The frame as bytes on the wire. A `Data` payload longer than
    /// [`MAX_PAYLOAD`] is the caller's mistake: cut it with [`Frame::data`].
    pub fn encode(&self) -> Vec<u8> {
        let (kind, payload): (u8, std::borrow::Cow<'_, [u8]>) = match self {
            Frame::Data(bytes) => (DATA, bytes.into()),
            Frame::Resize(size) => {
                let mut payload = size.rows.to_be_bytes().to_vec();
                payload.extend(size.cols.to_be_bytes());
                (RESIZE, payload.into())
            }
            Frame::Exit(code) => (EXIT, code.to_be_bytes().to_vec().into()),
            Frame::Error(message) => (ERROR, message.as_bytes().into()),
        };
        debug_assert!(payload.len() <= MAX_PAYLOAD);
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
        bytes.push(kind);
        bytes.extend(
            u32::try_from(payload.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        bytes.extend_from_slice(&payload);
        bytes
    }

    /// `Data` frames holding `bytes`, each within [`MAX_PAYLOAD`], as wire bytes.
    pub fn data(bytes: &[u8]) -> Vec<u8> {
        bytes
            .chunks(MAX_PAYLOAD)
            .flat_map(|chunk| Frame::Data(chunk.to_vec()).encode())
            .collect()
    }

    /// Takes the first whole frame off the front of `buffer`; `None` when
    /// the buffer does not hold a whole frame yet.
    pub fn decode(buffer: &mut Vec<u8>) -> Result<Option<Frame>, FrameError> {
        let Some(header) = buffer.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let kind = header[0];
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if !matches!(kind, DATA | RESIZE | EXIT | ERROR) {
            return Err(FrameError::UnknownType(kind));
        }
        if len > MAX_PAYLOAD {
            return Err(FrameError::TooLarge(len));
        }
        if buffer.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload: Vec<u8> = buffer.drain(..HEADER_LEN + len).skip(HEADER_LEN).collect();
        let malformed = |kind| FrameError::Malformed { kind, len };
        Ok(Some(match kind {
            DATA => Frame::Data(payload),
            RESIZE => {
                let [r0, r1, c0, c1] = payload[..] else {
                    return Err(malformed("resize"));
                };
                Frame::Resize(TerminalSize {
                    rows: u16::from_be_bytes([r0, r1]),
                    cols: u16::from_be_bytes([c0, c1]),
                })
            }
            EXIT => {
                let code: [u8; 8] = payload[..].try_into().map_err(|_| malformed("exit"))?;
                Frame::Exit(i64::from_be_bytes(code))
            }
            _ => Frame::Error(String::from_utf8_lossy(&payload).into_owned()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_the_wire_whole_and_in_pieces() {
        let frames = [
            Frame::Data(b"echo hi\r".to_vec()),
            Frame::Resize(TerminalSize { rows: 31, cols: 97 }),
            Frame::Data(Vec::new()),
            Frame::Exit(-1),
            Frame::Error("no such app".into()),
        ];
        let wire: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        // Fed one byte at a time, as a slow connection would.
        let mut buffer = Vec::new();
        let mut decoded = Vec::new();
        for byte in wire {
            buffer.push(byte);
            while let Some(frame) = Frame::decode(&mut buffer).unwrap() {
                decoded.push(frame);
            }
        }
        assert_eq!(decoded, frames);
        assert!(buffer.is_empty());
    }

    #[test]
    fn long_data_is_cut_into_frames_within_the_limit() {
        let bytes = vec![7u8; MAX_PAYLOAD * 2 + 1];
        let mut wire = Frame::data(&bytes);
        let mut lengths = Vec::new();
        while let Some(Frame::Data(chunk)) = Frame::decode(&mut wire).unwrap() {
            lengths.push(chunk.len());
        }
        assert_eq!(lengths, [MAX_PAYLOAD, MAX_PAYLOAD, 1]);
    }

    #[test]
    fn bad_frames_are_refused() {
        assert_eq!(
            Frame::decode(&mut vec![9, 0, 0, 0, 0]),
            Err(FrameError::UnknownType(9))
        );
        assert_eq!(
            Frame::decode(&mut vec![0, 0xff, 0, 0, 0]),
            Err(FrameError::TooLarge(0xff00_0000))
        );
        assert_eq!(
            Frame::decode(&mut vec![1, 0, 0, 0, 1, 5]),
            Err(FrameError::Malformed {
                kind: "resize",
                len: 1
            })
        );
    }
}
