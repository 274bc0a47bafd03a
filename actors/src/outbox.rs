//! The outbound side of one WebSocket: a bounded queue of frames and a close
//! signal. Actors push pre-serialised frames (the same `Bytes` shared by
//! every subscriber); the socket's writer task drains the queue. A queue
//! that is full — in frames or in bytes — means the client is not reading:
//! the socket is closed with [`close::SLOW_CONSUMER`], never buffered
//! without bound.
//!
//! The queue is a mutex-guarded `VecDeque` that owns no memory while empty
//! (a tokio channel preallocates a 32-slot block: 1.3 KiB for every idle
//! socket).

use bytes::Bytes;
use parley_engine::codes::close;
use parley_engine::{ConversationId, TenantId};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// One item for a socket's writer.
#[derive(Debug)]
pub enum Out {
    /// A serialised text frame.
    Frame(Bytes),
    /// A binary frame (only the test-only echo endpoint sends one).
    Binary(Bytes),
    /// Stored history to replay (boxed: rare, and it keeps every queue slot small).
    Replay(Box<Replay>),
    /// A pong the WebSocket layer owes the peer, with the ping's payload.
    Pong(Vec<u8>),
    /// A frame the session answers before its first frame (`welcome` /
    /// `ready`), such as `not_ready`: written at once, where everything else
    /// waits for that first frame.
    Early(Bytes),
}

impl Out {
    /// Whether the writer may send it before the session's first frame.
    pub fn is_early(&self) -> bool {
        matches!(self, Out::Early(_) | Out::Pong(_))
    }
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

/// Slots an empty queue may keep.
const KEEP_SLOTS: usize = 8;

impl Out {
    /// Bytes this item holds while queued.
    fn weight(&self) -> usize {
        match self {
            Out::Frame(b) | Out::Early(b) | Out::Binary(b) => b.len(),
            Out::Replay(_) => std::mem::size_of::<Replay>(),
            Out::Pong(p) => p.len(),
        }
    }
}

/// Queued items and the bytes they hold.
#[derive(Debug, Default)]
struct Items {
    q: VecDeque<Out>,
    bytes: usize,
}

/// The queue between a socket's pushers and its writer.
#[derive(Debug)]
struct Queue {
    items: Mutex<Items>,
    capacity: usize,
    /// Most bytes queued at once (a frame alone may exceed it).
    capacity_bytes: usize,
    /// Live [`Outbox`] handles; the writer's [`Inbox`] ends when none remain.
    senders: AtomicUsize,
    /// The writer went away: pushes are refused.
    receiver_gone: AtomicBool,
    /// An item was queued, or the last sender went away.
    ready: Notify,
}

impl Queue {
    fn items(&self) -> std::sync::MutexGuard<'_, Items> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The oldest item. An emptied queue that grew past a few slots gives
    /// its memory back; a small one (an ack and its message) is kept, so a
    /// steady socket does not reallocate per batch.
    fn pop(&self) -> Option<Out> {
        let mut items = self.items();
        let item = items.q.pop_front();
        if let Some(i) = &item {
            items.bytes -= i.weight();
        }
        if items.q.is_empty() && items.q.capacity() > KEEP_SLOTS {
            items.q = VecDeque::new();
        }
        item
    }
}

/// A cheap, clonable handle for pushing frames to one socket.
#[derive(Debug)]
pub struct Outbox {
    id: u64,
    queue: Arc<Queue>,
    closer: Arc<CloseSignal>,
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.queue.senders.fetch_add(1, Ordering::Relaxed);
        Self {
            id: self.id,
            queue: self.queue.clone(),
            closer: self.closer.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.queue.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.queue.ready.notify_one();
        }
    }
}

/// The writer's end of a socket's queue.
#[derive(Debug)]
pub struct Inbox {
    queue: Arc<Queue>,
}

impl Inbox {
    /// The next item; `None` once every [`Outbox`] is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Out> {
        let queue = &*self.queue;
        loop {
            let notified = queue.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(item) = queue.pop() {
                return Some(item);
            }
            if queue.senders.load(Ordering::Acquire) == 0 {
                return None;
            }
            notified.await;
        }
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Option<Out> {
        self.queue.pop()
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.queue.receiver_gone.store(true, Ordering::Release);
        let drained = std::mem::take(&mut *self.queue.items());
        drop(drained);
    }
}

impl Outbox {
    /// A new outbox holding at most `capacity` queued items, and the
    /// receiving end for the socket's writer task.
    pub fn new(capacity: usize) -> (Self, Inbox) {
        Self::bounded(capacity, usize::MAX)
    }

    /// A new outbox holding at most `capacity` items and `capacity_bytes`
    /// bytes (one item alone may be larger), and the writer's end.
    pub fn bounded(capacity: usize, capacity_bytes: usize) -> (Self, Inbox) {
        let queue = Arc::new(Queue {
            items: Mutex::new(Items::default()),
            capacity: capacity.max(1),
            capacity_bytes,
            senders: AtomicUsize::new(1),
            receiver_gone: AtomicBool::new(false),
            ready: Notify::new(),
        });
        let id = NEXT_SOCKET_ID.fetch_add(1, Ordering::Relaxed);
        (
            Self {
                id,
                queue: queue.clone(),
                closer: Arc::new(CloseSignal::default()),
            },
            Inbox { queue },
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
        if self.queue.receiver_gone.load(Ordering::Acquire) {
            return false;
        }
        {
            let mut items = self.queue.items();
            let weight = out.weight();
            let over_bytes =
                !items.q.is_empty() && items.bytes + weight > self.queue.capacity_bytes;
            if items.q.len() >= self.queue.capacity || over_bytes {
                drop(items);
                if self.closer.code().is_none() {
                    metrics::counter!("parley_ws_slow_consumers_total").increment(1);
                    tracing::info!(socket = self.id, "closing slow consumer");
                }
                self.closer.close(close::SLOW_CONSUMER);
                return false;
            }
            items.bytes += weight;
            items.q.push_back(out);
        }
        self.queue.ready.notify_one();
        true
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
        self.queue.receiver_gone.load(Ordering::Acquire) || self.closer.code().is_some()
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

    #[tokio::test]
    async fn too_many_bytes_close_as_slow_consumer_and_popping_gives_them_back() {
        let (o, mut rx) = Outbox::bounded(100, 10);
        let big = Bytes::from(vec![b'x'; 25]);
        assert!(o.frame(&big), "one frame alone may exceed the byte bound");
        assert!(matches!(rx.recv().await, Some(Out::Frame(_))));
        let six = Bytes::from(vec![b'x'; 6]);
        assert!(o.frame(&six));
        assert!(rx.try_recv().is_some());
        assert!(o.frame(&six), "popped bytes no longer count");
        assert!(o.closer().code().is_none());
        assert!(!o.frame(&six), "12 bytes would be over the bound of 10");
        assert_eq!(o.closer().wait().await, close::SLOW_CONSUMER);
    }

    #[tokio::test]
    async fn ends_when_every_sender_is_gone_and_refuses_after_the_writer() {
        let (o, mut rx) = Outbox::new(8);
        let o2 = o.clone();
        let f = Bytes::from_static(b"{}");
        let waiter = tokio::spawn(async move {
            let mut n = 0;
            while rx.recv().await.is_some() {
                n += 1;
            }
            n
        });
        assert!(o.frame(&f));
        drop(o);
        assert!(o2.frame(&f));
        drop(o2);
        assert_eq!(waiter.await.unwrap(), 2);

        let (o, rx) = Outbox::new(8);
        drop(rx);
        assert!(o.is_closed());
        assert!(!o.frame(&f));
    }
}
