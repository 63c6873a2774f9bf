//! Large secrets at rest (Postgres backups), sealed as a stream so they are
//! never held whole in memory. Each file gets its own random data key,
//! sealed with the platform key under the file's place (`context`) and kept
//! in the header; the body is XChaCha20-Poly1305 in chunks whose nonce is a
//! per-file prefix, the chunk's number and a last-chunk flag, so chunks can
//! be neither reordered, dropped nor cut off at the end unnoticed.
//!
//! Layout: `MAGIC`, header length (u16, big-endian), the sealed data key and
//! nonce prefix (a `SecretKey::seal` string), then frames of
//! `[last flag: u8][length: u32 BE][ciphertext]`.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::secrets::{SecretKey, SecretsError};
use crate::{PlatformError, Result};

/// What a sealed stream starts with; anything else is read as plaintext
/// (backups written before they were sealed).
pub(crate) const MAGIC: &[u8; 8] = b"BERTHSS1";
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const PREFIX: usize = 15;
const DATA_KEY: usize = 32;

fn read_failed(source: std::io::Error) -> PlatformError {
    PlatformError::Io {
        context: "cannot read a stream to seal or open".into(),
        source,
    }
}

fn write_failed(source: std::io::Error) -> PlatformError {
    PlatformError::Io {
        context: "cannot write a sealed or opened stream".into(),
        source,
    }
}

fn nonce(prefix: &[u8; PREFIX], counter: u64, last: bool) -> XNonce {
    let mut nonce = [0u8; 24];
    nonce[..PREFIX].copy_from_slice(prefix);
    nonce[PREFIX..PREFIX + 8].copy_from_slice(&counter.to_be_bytes());
    nonce[23] = u8::from(last);
    XNonce::from(nonce)
}

/// Reads until `buffer` is full or the input ends; returns how much it holds.
async fn read_full(input: &mut (impl AsyncRead + Unpin), buffer: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        let read = input
            .read(&mut buffer[filled..])
            .await
            .map_err(read_failed)?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    Ok(filled)
}

/// Seals everything `plain` yields into `sealed`, for the place `context`.
pub(crate) async fn seal(
    key: &SecretKey,
    context: &str,
    mut plain: impl AsyncRead + Unpin,
    mut sealed: impl AsyncWrite + Unpin,
) -> Result<()> {
    let mut secret = [0u8; DATA_KEY + PREFIX];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let cipher = XChaCha20Poly1305::new(secret[..DATA_KEY].into());
    let prefix: [u8; PREFIX] = secret[DATA_KEY..].try_into().expect("prefix length");
    let header = key.seal(context, &secret);
    let header_len = u16::try_from(header.len()).expect("a sealed data key is short");
    sealed.write_all(MAGIC).await.map_err(write_failed)?;
    sealed
        .write_all(&header_len.to_be_bytes())
        .await
        .map_err(write_failed)?;
    sealed
        .write_all(header.as_bytes())
        .await
        .map_err(write_failed)?;
    let mut buffer = vec![0u8; CHUNK];
    let mut counter = 0u64;
    loop {
        let filled = read_full(&mut plain, &mut buffer).await?;
        // A short chunk is the last; input of whole chunks ends with an empty one.
        let last = filled < CHUNK;
        let ciphertext = cipher
            .encrypt(&nonce(&prefix, counter, last), &buffer[..filled])
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory input");
        let length = u32::try_from(ciphertext.len()).expect("chunks are small");
        let mut frame = Vec::with_capacity(5 + ciphertext.len());
        frame.push(u8::from(last));
        frame.extend_from_slice(&length.to_be_bytes());
        frame.extend_from_slice(&ciphertext);
        sealed.write_all(&frame).await.map_err(write_failed)?;
        if last {
            break;
        }
        counter += 1;
    }
    sealed.flush().await.map_err(write_failed)
}

/// Opens what `seal` wrote for the same `context` into `plain`. `sealed`
/// is read from its start, magic included. Damage anywhere, or a stream cut
/// short, is an error (and `plain` then holds a part only: callers discard it).
pub(crate) async fn open(
    key: &SecretKey,
    context: &str,
    mut sealed: impl AsyncRead + Unpin,
    mut plain: impl AsyncWrite + Unpin,
) -> Result<()> {
    let damaged = || PlatformError::Secrets(SecretsError::Damaged);
    let mut magic = [0u8; MAGIC.len()];
    if read_full(&mut sealed, &mut magic).await? != MAGIC.len() || &magic != MAGIC {
        return Err(damaged());
    }
    let mut header_len = [0u8; 2];
    if read_full(&mut sealed, &mut header_len).await? != 2 {
        return Err(damaged());
    }
    let mut header = vec![0u8; usize::from(u16::from_be_bytes(header_len))];
    if read_full(&mut sealed, &mut header).await? != header.len() {
        return Err(damaged());
    }
    let header = String::from_utf8(header).map_err(|_| damaged())?;
    let secret = key.open(context, &header)?;
    if secret.len() != DATA_KEY + PREFIX {
        return Err(damaged());
    }
    let cipher = XChaCha20Poly1305::new(secret[..DATA_KEY].into());
    let prefix: [u8; PREFIX] = secret[DATA_KEY..].try_into().expect("prefix length");
    let mut counter = 0u64;
    let mut frame = vec![0u8; CHUNK + TAG];
    loop {
        let mut frame_header = [0u8; 5];
        if read_full(&mut sealed, &mut frame_header).await? != frame_header.len() {
            // Cut off before the last chunk.
            return Err(damaged());
        }
        let last = match frame_header[0] {
            0 => false,
            1 => true,
            _ => return Err(damaged()),
        };
        let length = u32::from_be_bytes(frame_header[1..].try_into().expect("four bytes"));
        let length = usize::try_from(length).map_err(|_| damaged())?;
        if length > CHUNK + TAG {
            return Err(damaged());
        }
        if read_full(&mut sealed, &mut frame[..length]).await? != length {
            return Err(damaged());
        }
        let chunk = cipher
            .decrypt(&nonce(&prefix, counter, last), &frame[..length])
            .map_err(|_| damaged())?;
        plain.write_all(&chunk).await.map_err(write_failed)?;
        if last {
            let mut trailing = [0u8; 1];
            if read_full(&mut sealed, &mut trailing).await? != 0 {
                return Err(damaged());
            }
            break;
        }
        counter += 1;
    }
    plain.flush().await.map_err(write_failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(key: &SecretKey, plaintext: &[u8]) -> Vec<u8> {
        let mut sealed = Vec::new();
        seal(key, "backup/1/b001", plaintext, &mut sealed)
            .await
            .unwrap();
        sealed
    }

    #[tokio::test]
    async fn sealed_streams_hide_their_content_and_open_whole() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_create(dir.path(), None).unwrap();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let plaintext: Vec<u8> = b"secret row ".iter().copied().cycle().take(size).collect();
            let sealed = round_trip(&key, &plaintext).await;
            assert!(sealed.starts_with(MAGIC));
            if size > 0 {
                assert!(!sealed.windows(10).any(|w| w == b"secret row"));
            }
            let mut opened = Vec::new();
            open(&key, "backup/1/b001", sealed.as_slice(), &mut opened)
                .await
                .unwrap();
            assert_eq!(opened, plaintext, "size {size}");
        }
    }

    #[tokio::test]
    async fn cut_moved_or_altered_streams_do_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_create(dir.path(), None).unwrap();
        let plaintext = vec![7u8; 2 * CHUNK + 5];
        let sealed = round_trip(&key, &plaintext).await;
        let fails = |bytes: Vec<u8>, context: &'static str| {
            let key = &key;
            async move {
                open(key, context, bytes.as_slice(), &mut Vec::new())
                    .await
                    .is_err()
            }
        };
        assert!(fails(sealed.clone(), "backup/2/b001").await, "moved");
        assert!(
            fails(sealed[..sealed.len() - CHUNK].to_vec(), "backup/1/b001").await,
            "cut short"
        );
        let whole_chunks = sealed.len() - (5 + 5 + TAG);
        assert!(
            fails(sealed[..whole_chunks].to_vec(), "backup/1/b001").await,
            "last chunk dropped"
        );
        let mut altered = sealed.clone();
        let middle = altered.len() / 2;
        altered[middle] ^= 1;
        assert!(fails(altered, "backup/1/b001").await, "altered");
        let mut extended = sealed;
        extended.push(0);
        assert!(fails(extended, "backup/1/b001").await, "trailing bytes");
    }
}
