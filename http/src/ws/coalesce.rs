//! A write half that gathers frames and hands them to the kernel in one
//! write when flushed. The writer task writes every frame it can take from
//! the outbox without waiting, then flushes once: an `ack` and its
//! `message`, or a burst for a busy staff dashboard, cost one syscall.
//!
//! The buffer starts empty and is freed after every flush, so an idle
//! socket owns no write buffer at all.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWrite;

/// Gathered bytes past this are written before taking more.
const HIGH_WATER: usize = 64 * 1024;

pub struct Coalesce<W> {
    inner: W,
    buf: Vec<u8>,
    /// How much of `buf` the kernel has taken.
    written: usize,
}

impl<W> Coalesce<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            written: 0,
        }
    }
}

impl<W: AsyncWrite + Unpin> Coalesce<W> {
    /// Writes out everything gathered.
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

impl<W: AsyncWrite + Unpin> AsyncWrite for Coalesce<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.buf.len() >= HIGH_WATER {
            ready!(self.poll_drain(cx))?;
        }
        self.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn gathers_until_flushed_and_keeps_order() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut w = Coalesce::new(a);
        w.write_all(b"one ").await.unwrap();
        w.write_all(b"two").await.unwrap();
        let mut got = [0u8; 7];
        // Nothing reached the peer before the flush.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), b.read(&mut got))
                .await
                .is_err()
        );
        w.flush().await.unwrap();
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"one two");
        // A large burst is written past the high-water mark and freed after.
        let big = vec![7u8; 3 * HIGH_WATER];
        for chunk in big.chunks(1000) {
            w.write_all(chunk).await.unwrap();
        }
        w.flush().await.unwrap();
        assert_eq!(w.buf.capacity(), 0);
        let mut back = vec![0u8; big.len()];
        b.read_exact(&mut back).await.unwrap();
        assert_eq!(back, big);
    }
}
