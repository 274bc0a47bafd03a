//! The WebSocket frame layer of a client connection (RFC 6455 §5), once
//! fastwebsockets has done the handshake: [`Reader`] takes frames off the
//! byte stream, [`Writer`] gathers outgoing frames and hands them to the
//! kernel in one write when flushed.
//!
//! Both hold no buffer while the socket waits: the reader reads into the
//! stack when it has nothing pending and keeps heap bytes only while a
//! frame is incomplete; the writer frees what it gathered after every
//! flush. An idle visitor therefore costs no read or write buffer at all
//! (fastwebsockets' own reader keeps a fixed 8 KiB one per socket).

use parley_engine::codes::close;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A frame's opcode (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Op {
    fn of(bits: u8) -> Option<Op> {
        Some(match bits {
            0 => Op::Continuation,
            1 => Op::Text,
            2 => Op::Binary,
            8 => Op::Close,
            9 => Op::Ping,
            10 => Op::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Op::Continuation => 0,
            Op::Text => 1,
            Op::Binary => 2,
            Op::Close => 8,
            Op::Ping => 9,
            Op::Pong => 10,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, Op::Close | Op::Ping | Op::Pong)
    }
}

/// One frame from the client, its payload unmasked.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub op: Op,
    pub payload: Vec<u8>,
}

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;

/// Whether a peer may close with `code` (RFC 6455 §7.4).
fn allowed_close(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1013 | 3000..=4999)
}

/// Reads client frames. Errors are the close code to answer with:
/// `NORMAL` when the peer vanished, `PROTOCOL_ERROR` for a frame the RFC
/// forbids (unmasked, reserved bits, unknown opcode, a fragmented or long
/// control frame, a bad close frame), `TOO_BIG` past the size limit.
pub struct Reader<R> {
    inner: R,
    /// Bytes read and not yet taken, from `start`.
    buf: Vec<u8>,
    start: usize,
    /// The largest payload accepted.
    max: usize,
    /// The peer's close frame came (the close handshake is its to finish).
    pub closed: bool,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            start: 0,
            max,
            closed: false,
        }
    }

    /// The next frame.
    pub async fn frame(&mut self) -> Result<Frame, u16> {
        loop {
            if let Some(frame) = self.parse()? {
                return Ok(frame);
            }
            poll_fn(|cx| self.poll_fill(cx)).await?;
        }
    }

    /// Takes one whole frame off the buffer, if it holds one.
    fn parse(&mut self) -> Result<Option<Frame>, u16> {
        let b = &self.buf[self.start..];
        if b.len() < 2 {
            return Ok(None);
        }
        let fin = b[0] & 0x80 != 0;
        if b[0] & 0x70 != 0 {
            return Err(close::PROTOCOL_ERROR);
        }
        let op = Op::of(b[0] & 0x0f).ok_or(close::PROTOCOL_ERROR)?;
        // Every client frame must be masked (§5.1).
        if b[1] & 0x80 == 0 {
            return Err(close::PROTOCOL_ERROR);
        }
        let (len, at) = match b[1] & 0x7f {
            126 if b.len() < 4 => return Ok(None),
            126 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() < 10 => return Ok(None),
            127 => (
                u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")),
                10,
            ),
            n => (u64::from(n), 2),
        };
        if op.is_control() && (!fin || len > 125) {
            return Err(close::PROTOCOL_ERROR);
        }
        if len > self.max as u64 {
            return Err(close::TOO_BIG);
        }
        let len = len as usize;
        let end = at + 4 + len;
        if b.len() < end {
            // Room for the rest of this frame, read in as few calls as it takes.
            self.buf.reserve(end - b.len());
            return Ok(None);
        }
        let mask = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        let mut payload = b[at + 4..end].to_vec();
        for (i, x) in payload.iter_mut().enumerate() {
            *x ^= mask[i & 3];
        }
        self.start += end;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        if op == Op::Close {
            self.closed = true;
            check_close(&payload)?;
        }
        Ok(Some(Frame { fin, op, payload }))
    }

    /// Reads more bytes. With nothing pending they go to the stack first,
    /// and a read that must wait drops the (empty) buffer.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), u16>> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.is_empty() {
            let mut chunk = [0u8; READ_CHUNK];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                Poll::Pending => {
                    if self.buf.capacity() > 0 {
                        self.buf = Vec::new();
                    }
                    Poll::Pending
                }
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                    self.buf.extend_from_slice(rb.filled());
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(_) => Poll::Ready(Err(close::NORMAL)),
            }
        } else {
            let have = self.buf.len();
            let room = (self.buf.capacity() - have).max(READ_CHUNK);
            self.buf.resize(have + room, 0);
            let mut rb = ReadBuf::new(&mut self.buf[have..]);
            let got = match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                Poll::Pending => None,
                Poll::Ready(Ok(())) => Some(rb.filled().len()),
                Poll::Ready(Err(_)) => Some(0),
            };
            self.buf.truncate(have + got.unwrap_or(0));
            match got {
                None => Poll::Pending,
                Some(0) => Poll::Ready(Err(close::NORMAL)),
                Some(_) => Poll::Ready(Ok(())),
            }
        }
    }
}

/// A close frame's body is empty, or a code a peer may send and a UTF-8 reason.
fn check_close(payload: &[u8]) -> Result<(), u16> {
    match payload {
        [] => Ok(()),
        [_] => Err(close::PROTOCOL_ERROR),
        [a, b, reason @ ..] => {
            if !allowed_close(u16::from_be_bytes([*a, *b])) {
                return Err(close::PROTOCOL_ERROR);
            }
            std::str::from_utf8(reason).map(|_| ()).map_err(|_| 1007)
        }
    }
}

/// Gathered bytes past this are written before taking more.
const HIGH_WATER: usize = 64 * 1024;

/// Writes server frames (unmasked, unfragmented), gathered until
/// [`Writer::flush`]: an `ack` and its `message`, or a burst for a busy
/// staff dashboard, cost one syscall.
pub struct Writer<W> {
    inner: W,
    buf: Vec<u8>,
    /// How much of `buf` the kernel has taken.
    written: usize,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            written: 0,
        }
    }

    /// Adds a frame (written out first if much is gathered already).
    pub async fn frame(&mut self, op: Op, payload: &[u8]) -> io::Result<()> {
        if self.buf.len() >= HIGH_WATER {
            poll_fn(|cx| self.poll_drain(cx)).await?;
        }
        self.buf.push(0x80 | op.bits());
        match payload.len() {
            n @ 0..=125 => self.buf.push(n as u8),
            n @ 126..=65535 => {
                self.buf.push(126);
                self.buf.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.buf.push(127);
                self.buf.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.buf.extend_from_slice(payload);
        Ok(())
    }

    /// A close frame with `code` and `reason` (at most 123 bytes of it).
    pub async fn close(&mut self, code: u16, reason: &[u8]) -> io::Result<()> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(&reason[..reason.len().min(123)]);
        self.frame(Op::Close, &body).await
    }

    /// Writes out everything gathered.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_drain(cx)).await?;
        poll_fn(|cx| Pin::new(&mut self.inner).poll_flush(cx)).await
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buf = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests;
