//! Shared handles between a Tenant and its live conversations.
//!
//! - [`ConvSlot`]: one per live conversation, owned by the Tenant's entry.
//!   It holds the conversation's subscriber list, so a supervisor that
//!   restarts a crashed conversation can tell those sockets to resync.
//! - [`ConvLease`]: what a socket holds to talk to a conversation directly
//!   (one actor hop). While any lease exists the Tenant will not passivate
//!   the conversation, so a message is never sent to an actor that is
//!   stopping.
//! - [`Directory`]: the tenant's staff sockets, published by the Tenant
//!   as an immutable snapshot and read by conversations for fan-out.

use crate::conversation::ConversationMsg;
use crate::outbox::Outbox;
use parley_engine::{ConversationId, StaffId, Timestamp};
use ractor::ActorRef;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Who a subscriber is, which decides what it may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubKind {
    /// A visitor tab: public frames only.
    Visitor,
    /// A staff socket.
    Staff(StaffId),
}

/// A socket subscribed to a conversation.
#[derive(Clone, Debug)]
pub struct Sub {
    pub outbox: Outbox,
    pub kind: SubKind,
    /// Every message with a greater seq has been pushed to this socket live;
    /// a later `resume` on the same socket replays only up to here.
    pub(crate) since: u64,
}

impl Sub {
    /// A subscription request for `outbox`.
    pub fn new(outbox: Outbox, kind: SubKind) -> Self {
        Self {
            outbox,
            kind,
            since: 0,
        }
    }
}

/// The shared part of one live conversation.
#[derive(Debug)]
pub struct ConvSlot {
    pub id: ConversationId,
    pub(crate) subs: Mutex<Vec<Sub>>,
    pub(crate) actor: RwLock<Option<ActorRef<ConversationMsg>>>,
    /// When the conversation was closed (unix ms; 0 while open), kept by its
    /// actor so a visitor's socket sees a close with one atomic load and asks
    /// the Tenant where its next message goes (`engine::conversation::after_close`).
    pub(crate) closed_at: AtomicU64,
    /// Whether the visitor rated it (a rated conversation never reopens by a message).
    pub(crate) rated: AtomicBool,
}

impl ConvSlot {
    pub(crate) fn new(id: ConversationId) -> Arc<Self> {
        Arc::new(Self {
            id,
            subs: Mutex::new(Vec::new()),
            actor: RwLock::new(None),
            closed_at: AtomicU64::new(0),
            rated: AtomicBool::new(false),
        })
    }

    /// Records the conversation's close (`None`: open) and rating.
    pub(crate) fn mark(&self, closed_at: Option<Timestamp>, rated: bool) {
        self.closed_at.store(
            closed_at.map_or(0, |t| t.millis().max(1)),
            Ordering::Relaxed,
        );
        self.rated.store(rated, Ordering::Relaxed);
    }

    /// When it was closed and whether it was rated; `None` while open.
    pub fn closed(&self) -> Option<(Timestamp, bool)> {
        match self.closed_at.load(Ordering::Relaxed) {
            0 => None,
            ms => Some((Timestamp(ms), self.rated.load(Ordering::Relaxed))),
        }
    }

    pub(crate) fn set_actor(&self, a: Option<ActorRef<ConversationMsg>>) {
        *self.actor.write().unwrap_or_else(|e| e.into_inner()) = a;
    }

    pub(crate) fn with_subs<R>(&self, f: impl FnOnce(&mut Vec<Sub>) -> R) -> R {
        f(&mut self.subs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Tells every subscriber to reconnect (close code `code`) and forgets them.
    pub(crate) fn close_subscribers(&self, code: u16) {
        for s in self.with_subs(std::mem::take) {
            s.outbox.close(code);
        }
    }
}

/// A socket's right to talk to a live conversation.
#[derive(Clone, Debug)]
pub struct ConvLease {
    pub(crate) slot: Arc<ConvSlot>,
}

impl ConvLease {
    /// The conversation's id.
    pub fn id(&self) -> ConversationId {
        self.slot.id
    }

    /// When the conversation was closed and whether it was rated; `None` while open.
    pub fn closed(&self) -> Option<(Timestamp, bool)> {
        self.slot.closed()
    }

    /// The conversation actor, while it runs.
    pub fn actor(&self) -> Option<ActorRef<ConversationMsg>> {
        self.slot
            .actor
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends a message to the conversation. When the actor is gone (crashed,
    /// not yet restarted) the message comes back (`Some`), so the caller can
    /// re-resolve the lease through the Tenant and send it again without
    /// having copied it.
    pub fn cast(&self, msg: ConversationMsg) -> Option<ConversationMsg> {
        let Some(actor) = self.actor() else {
            return Some(msg);
        };
        match actor.cast(msg) {
            Ok(()) => None,
            Err(ractor::MessagingErr::SendErr(m)) => Some(m),
            // A typed reference never gets a type error, and a cast never
            // reports a closed receiving side; nothing left to hand back.
            Err(_) => None,
        }
    }

    /// Whether socket `socket_id` is subscribed to this conversation.
    pub fn slot_subscribed(&self, socket_id: u64) -> bool {
        self.slot
            .with_subs(|s| s.iter().any(|x| x.outbox.id() == socket_id))
    }

    /// Stops delivering this conversation to socket `socket_id`.
    pub fn unsubscribe(&self, socket_id: u64) {
        self.slot
            .with_subs(|s| s.retain(|x| x.outbox.id() != socket_id));
    }
}

/// A staff socket in the tenant directory.
#[derive(Clone, Debug)]
pub struct StaffSocket {
    pub staff: StaffId,
    pub outbox: Outbox,
}

/// The tenant's staff sockets, as an immutable snapshot.
#[derive(Debug, Default)]
pub struct Directory {
    staff: RwLock<Arc<Vec<StaffSocket>>>,
}

impl Directory {
    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Vec<StaffSocket>> {
        self.staff.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn publish(&self, v: Vec<StaffSocket>) {
        *self.staff.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(v);
    }
}
