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
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

/// How often the line is re-ranked while it changes.
pub(super) const FLUSH: Duration = Duration::from_millis(300);

/// A conversation in the line.
#[derive(Clone, Copy)]
pub(super) struct Waiting {
    pub since: Timestamp,
    pub visitor: VisitorId,
    pub site: SiteId,
    pub created: Timestamp,
}

/// The waiting line.
#[derive(Default)]
pub(super) struct Queue {
    /// (waiting since, conversation), oldest first.
    line: BTreeSet<(Timestamp, ConversationId)>,
    entries: HashMap<ConversationId, Waiting>,
    /// Waiting conversations already counted as missed by this Tenant.
    missed: HashSet<ConversationId>,
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
            let w = Waiting {
                since: c.created_at,
                visitor: c.visitor_id,
                site: c.site_id,
                created: c.created_at,
            };
            q.set(c.id, Some(w));
        }
        Ok(q)
    }

    /// Puts `id` in the line or takes it out (`None`). `true` when the
    /// line changed.
    pub(super) fn set(&mut self, id: ConversationId, waiting: Option<Waiting>) -> bool {
        match (waiting, self.entries.get(&id).copied()) {
            (Some(_), Some(_)) => false,
            (Some(w), None) => {
                self.entries.insert(id, w);
                self.line.insert((w.since, id));
                true
            }
            (None, Some(w)) => {
                self.entries.remove(&id);
                self.line.remove(&(w.since, id));
                self.told.remove(&id);
                self.missed.remove(&id);
                true
            }
            (None, None) => false,
        }
    }

    /// The conversations waiting longer than `after` at `now` that were not
    /// yet reported, oldest first (each is reported once).
    pub(super) fn newly_missed(
        &mut self,
        now: Timestamp,
        after: Duration,
    ) -> Vec<(ConversationId, Waiting)> {
        let limit = now.millis().saturating_sub(after.as_millis() as u64);
        let mut out = Vec::new();
        for (since, id) in &self.line {
            if since.millis() > limit {
                break;
            }
            if self.missed.insert(*id) {
                if let Some(w) = self.entries.get(id) {
                    out.push((*id, *w));
                }
            }
        }
        out
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
                if let Some(w) = self.entries.get(id) {
                    out.push((*id, w.visitor, place));
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
        waiting: Option<Waiting>,
    ) {
        if self.queue.set(id, waiting) && !self.queue.flush_due {
            self.queue.flush_due = true;
            myself.send_after(FLUSH, || TenantMsg::QueueFlush);
        }
    }

    /// Counts the conversations that waited past `missed_after` with no
    /// staff answer (once each: the writer's marker holds across restarts;
    /// a late first answer in the conversation uses the same marker).
    pub(super) fn count_missed(&mut self) {
        use parley_engine::analytics::{hour_of, Event};
        use parley_storage::keys::{self, Tally};
        let missed = self
            .queue
            .newly_missed(Timestamp::now(), self.ctx.cfg.missed_after);
        if missed.is_empty() {
            return;
        }
        let mut b = parley_storage::WriteBatch::new();
        for (id, w) in missed {
            let born = hour_of(w.created);
            b.count_once(
                keys::bucket(self.id, Tally::Site(w.site), born),
                keys::once(self.id, born, b'm', &id.to_bytes()),
                Event::Missed,
            );
        }
        self.ctx.writer.submit(b, Box::new(|_| {}));
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
        let w = |ms| {
            Some(Waiting {
                since: Timestamp(ms),
                visitor: v,
                site: SiteId::new(),
                created: Timestamp(ms),
            })
        };
        assert!(q.set(b, w(20)));
        assert!(q.set(a, w(10)));
        assert!(!q.set(a, w(30)), "already waiting");
        let first = q.rank();
        assert_eq!(
            first.iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
            [(a, 1), (b, 2)]
        );
        assert!(q.rank().is_empty(), "nothing changed");
        q.set(c, w(40));
        assert_eq!(
            q.rank().iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
            [(c, 3)]
        );
        // Missed: waiting 25 ms at 45, reported once.
        let late = |q: &mut Queue| {
            q.newly_missed(Timestamp(45), Duration::from_millis(25))
                .iter()
                .map(|x| x.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(late(&mut q), [a, b]);
        assert!(late(&mut q).is_empty());
        // The first is taken: everyone behind moves up.
        assert!(q.set(a, None));
        assert_eq!(
            q.rank().iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(),
            [(b, 1), (c, 2)]
        );
        assert_eq!((q.told(b), q.told(a)), (Some(1), None));
    }
}
