//! The waiting line: the tenant's conversations nobody has taken yet,
//! oldest first, and the `queue` frames that tell each waiting visitor their
//! place in it.
//!
//! Conversations report their status changes once durable; the Tenant
//! re-ranks the line at most every [`FLUSH`] and tells only the visitors
//! whose place changed, so a busy line costs one pass per flush, not one per
//! claim.

use super::{TenantMsg, TenantState};
use bytes::Bytes;
use parley_engine::protocol::ServerFrame;
use parley_engine::*;
use parley_storage::ConversationStore;
use ractor::ActorRef;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// How often the line is re-ranked while it changes.
pub(super) const FLUSH: Duration = Duration::from_millis(300);

/// The waiting line.
#[derive(Default)]
pub(super) struct Queue {
    /// (waiting since, conversation), oldest first.
    line: BTreeSet<(Timestamp, ConversationId)>,
    entries: HashMap<ConversationId, (Timestamp, VisitorId)>,
    /// The place each waiting conversation's visitor was last told.
    told: HashMap<ConversationId, u32>,
    flush_due: bool,
}

impl Queue {
    /// The line as stored: every waiting conversation, by creation time.
    pub(super) fn load(
        store: &impl ConversationStore,
        t: TenantId,
    ) -> parley_storage::Result<Self> {
        let mut q = Self::default();
        for c in store.waiting_conversations(t)? {
            q.set(c.id, c.visitor_id, Some(c.created_at));
        }
        Ok(q)
    }

    /// Puts `id` in the line (waiting since `since`) or takes it out (`None`).
    /// `true` when the line changed.
    pub(super) fn set(
        &mut self,
        id: ConversationId,
        visitor: VisitorId,
        since: Option<Timestamp>,
    ) -> bool {
        match (since, self.entries.get(&id).copied()) {
            (Some(_), Some(_)) => false,
            (Some(at), None) => {
                self.entries.insert(id, (at, visitor));
                self.line.insert((at, id));
                true
            }
            (None, Some((at, _))) => {
                self.entries.remove(&id);
                self.line.remove(&(at, id));
                self.told.remove(&id);
                true
            }
            (None, None) => false,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.line.is_empty()
    }

    /// The place `id`'s visitor was last told, if it waits.
    pub(super) fn told(&self, id: ConversationId) -> Option<u32> {
        self.told.get(&id).copied()
    }

    /// Ranks the line: each conversation whose place changed since it was
    /// last told, with its visitor and new place (1 = next).
    fn rank(&mut self) -> Vec<(ConversationId, VisitorId, u32)> {
        let mut out = Vec::new();
        for (i, (_, id)) in self.line.iter().enumerate() {
            let place = u32::try_from(i + 1).unwrap_or(u32::MAX);
            if self.told.insert(*id, place) != Some(place) {
                if let Some((_, v)) = self.entries.get(id) {
                    out.push((*id, *v, place));
                }
            }
        }
        out
    }
}

/// A `queue` frame.
pub(super) fn frame(conversation_id: ConversationId, position: u32) -> Bytes {
    Bytes::from(
        ServerFrame::Queue {
            conversation_id,
            position,
        }
        .to_json(),
    )
}

impl TenantState {
    /// A conversation's status changed (durably): it joins or leaves the line.
    pub(super) fn queue_change(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        id: ConversationId,
        visitor: VisitorId,
        waiting_since: Option<Timestamp>,
    ) {
        if self.queue.set(id, visitor, waiting_since) && !self.queue.flush_due {
            self.queue.flush_due = true;
            myself.send_after(FLUSH, || TenantMsg::QueueFlush);
        }
    }

    /// Tells every online visitor whose place in the line changed.
    pub(super) fn queue_flush(&mut self) {
        self.queue.flush_due = false;
        for (id, visitor, place) in self.queue.rank() {
            if let Some(p) = self.visitors.get(&visitor) {
                let f = frame(id, place);
                for t in &p.tabs {
                    t.outbox.frame(&f);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_ranks_oldest_first_and_tells_only_changed_places() {
        let mut q = Queue::default();
        let (a, b, c) = (
            ConversationId::new(),
            ConversationId::new(),
            ConversationId::new(),
        );
        let v = VisitorId::new();
        assert!(q.set(b, v, Some(Timestamp(20))));
        assert!(q.set(a, v, Some(Timestamp(10))));
        assert!(!q.set(a, v, Some(Timestamp(30))), "already waiting");
        let first = q.rank();
        assert_eq!(
            first.iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
            [(a, 1), (b, 2)]
        );
        assert!(q.rank().is_empty(), "nothing changed");
        q.set(c, v, Some(Timestamp(40)));
        assert_eq!(
            q.rank().iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
            [(c, 3)]
        );
        // The first is taken: everyone behind moves up.
        assert!(q.set(a, v, None));
        assert_eq!(
            q.rank().iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
            [(b, 1), (c, 2)]
        );
        assert_eq!((q.told(b), q.told(a)), (Some(1), None));
    }
}
