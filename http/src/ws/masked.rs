//! The reading side of a client connection, checking what fastwebsockets
//! does not: every frame a client sends must be masked (RFC 6455 §5.1, "the
//! server MUST close the connection upon receiving a frame that is not
//! masked"). It follows the frame headers in the byte stream — payloads are
//! only counted, never copied — and fails the read with [`Unmasked`], which
//! the session answers with close 1002.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// The error a read fails with when the client sent an unmasked frame.
#[derive(Debug)]
pub struct Unmasked;

impl std::fmt::Display for Unmasked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client sent an unmasked frame")
    }
}

impl std::error::Error for Unmasked {}

/// Whether `e` is the [`Unmasked`] failure.
pub fn is_unmasked(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|x| x.is::<Unmasked>())
}

/// A reader that checks the mask bit of every frame header passing through.
pub struct Masked<R> {
    inner: R,
    /// The header read so far (at most 2 + 8 bytes of it are needed).
    head: [u8; 10],
    have: u8,
    /// Bytes of the current frame left to pass: mask key and payload.
    skip: u64,
}

impl<R> Masked<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            head: [0; 10],
            have: 0,
            skip: 0,
        }
    }

    /// Follows `bytes` through the frame structure; `Err` at an unmasked header.
    fn follow(&mut self, mut bytes: &[u8]) -> Result<(), Unmasked> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = (self.skip.min(bytes.len() as u64)) as usize;
                self.skip -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            self.head[self.have as usize] = bytes[0];
            self.have += 1;
            bytes = &bytes[1..];
            if self.have < 2 {
                continue;
            }
            if self.head[1] & 0x80 == 0 {
                return Err(Unmasked);
            }
            let ext = match self.head[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            if (self.have as usize) < 2 + ext {
                continue;
            }
            let len = match ext {
                0 => u64::from(self.head[1] & 0x7f),
                2 => u64::from(u16::from_be_bytes([self.head[2], self.head[3]])),
                _ => u64::from_be_bytes(self.head[2..10].try_into().expect("8 bytes")),
            };
            // The 4-byte masking key, then the payload.
            self.skip = len.saturating_add(4);
            self.have = 0;
        }
        Ok(())
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Masked<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let me = &mut *self;
        match Pin::new(&mut me.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => match me.follow(&buf.filled()[before..]) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(e) => Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e))),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(masked: bool, len: usize) -> Vec<u8> {
        let mut f = vec![0x81];
        let m = if masked { 0x80 } else { 0 };
        match len {
            0..=125 => f.push(m | len as u8),
            126..=65535 => {
                f.push(m | 126);
                f.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                f.push(m | 127);
                f.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        if masked {
            f.extend_from_slice(&[1, 2, 3, 4]);
        }
        f.extend(std::iter::repeat_n(b'x', len));
        f
    }

    #[test]
    fn masked_frames_pass_in_any_split_and_an_unmasked_one_is_caught() {
        let mut stream = Vec::new();
        for len in [0, 5, 125, 126, 300, 70_000] {
            stream.extend(frame(true, len));
        }
        for chunk in [1, 2, 3, 7, 1000, usize::MAX] {
            let mut m = Masked::new(());
            for part in stream.chunks(chunk.min(stream.len())) {
                assert!(m.follow(part).is_ok(), "chunk {chunk}");
            }
            assert_eq!((m.have, m.skip), (0, 0), "ends on a frame boundary");
            let mut bad = frame(true, 10);
            bad.extend(frame(false, 3));
            assert!(bad
                .chunks(chunk.min(bad.len()))
                .any(|p| m.follow(p).is_err()));
        }
    }
}
