//! The outbound side of one WebSocket: a bounded queue of frames and a close
//! signal. Actors push pre-serialised frames (the same `Bytes` shared by
//! every subscriber); the socket's writer task drains the queue. A queue
//! that is full means the client is not reading: the socket is closed with
//! [`close::SLOW_CONSUMER`], never buffered without bound.

use bytes::Bytes;
use parley_engine::codes::close;
use parley_engine::{ConversationId, TenantId};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// One item for a socket's writer.
#[derive(Debug)]
pub enum Out {
    /// A serialised text frame.
    Frame(Bytes),
    /// Stored history to replay (boxed: rare, and it keeps every queue slot small).
    Replay(Box<Replay>),
    /// A pong the WebSocket layer owes the peer, with the ping's payload.
    Pong(Vec<u8>),
}

/// Replay stored messages `(after, upto]` of a conversation, read from
/// storage by the writer itself so a long history does not have to fit in
/// the bounded queue.
#[derive(Debug)]
pub struct Replay {
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub after: u64,
    pub upto: u64,
    /// Visitors never see private notes.
    pub public_only: bool,
}

/// Close request shared by a socket's owner and everyone who can push to it.
#[derive(Debug, Default)]
pub struct CloseSignal {
    code: AtomicU16,
    notify: Notify,
}

impl CloseSignal {
    /// Asks the socket to close with `code`; the first request wins.
    pub fn close(&self, code: u16) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.notify.notify_one();
        }
    }

    /// The requested close code, if any.
    pub fn code(&self) -> Option<u16> {
        match self.code.load(Ordering::Acquire) {
            0 => None,
            c => Some(c),
        }
    }

    /// Waits until a close is requested and returns its code.
    pub async fn wait(&self) -> u16 {
        loop {
            if let Some(c) = self.code() {
                return c;
            }
            self.notify.notified().await;
        }
    }
}

static NEXT_SOCKET_ID: AtomicU64 = AtomicU64::new(1);

/// A cheap, clonable handle for pushing frames to one socket.
#[derive(Clone, Debug)]
pub struct Outbox {
    id: u64,
    tx: mpsc::Sender<Out>,
    closer: Arc<CloseSignal>,
}

impl Outbox {
    /// A new outbox holding at most `capacity` queued items, and the
    /// receiving end for the socket's writer task.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Out>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let id = NEXT_SOCKET_ID.fetch_add(1, Ordering::Relaxed);
        (
            Self {
                id,
                tx,
                closer: Arc::new(CloseSignal::default()),
            },
            rx,
        )
    }

    /// The socket's process-unique id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The close signal the writer task waits on.
    pub fn closer(&self) -> &Arc<CloseSignal> {
        &self.closer
    }

    /// Queues an item without waiting. A full queue closes the socket as a
    /// slow consumer; returns whether the item was queued.
    pub fn push(&self, out: Out) -> bool {
        match self.tx.try_send(out) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if self.closer.code().is_none() {
                    metrics::counter!("parley_ws_slow_consumers_total").increment(1);
                    tracing::info!(socket = self.id, "closing slow consumer");
                }
                self.closer.close(close::SLOW_CONSUMER);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues a text frame.
    pub fn frame(&self, bytes: &Bytes) -> bool {
        self.push(Out::Frame(bytes.clone()))
    }

    /// Asks the socket to close with `code`.
    pub fn close(&self, code: u16) {
        self.closer.close(code);
    }

    /// Whether the socket's writer has gone away or a close was requested.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed() || self.closer.code().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_queue_closes_as_slow_consumer() {
        let (o, mut rx) = Outbox::new(2);
        let f = Bytes::from_static(b"{}");
        assert!(o.frame(&f));
        assert!(o.frame(&f));
        assert!(!o.frame(&f));
        assert_eq!(o.closer().wait().await, close::SLOW_CONSUMER);
        assert!(matches!(rx.recv().await, Some(Out::Frame(_))));
        let (a, _rx) = Outbox::new(1);
        assert_ne!(a.id(), o.id());
    }
}
