//! Getting a conversation's frames to the right sockets: explicit
//! subscribers (visitor tabs, staff who resumed) and, through the tenant's
//! staff directory, every staff socket while it waits or its assignee's
//! once held. Each frame is serialised once and its bytes shared.

use super::ConversationState;
use crate::outbox::{Out, Replay};
use crate::slot::{Sub, SubKind};
use bytes::Bytes;
use parley_engine::conversation::Status;
use parley_engine::protocol::{ConversationView, ServerFrame};
use parley_engine::StaffId;

impl ConversationState {
    /// Sends `bytes` to every socket that should see this conversation:
    /// explicit subscribers, plus staff in the directory when the
    /// conversation is waiting (everyone) or assigned (the assignee).
    pub(super) fn fan_out(&mut self, bytes: &Bytes, public: bool, skip: u64, seq: Option<u64>) {
        let dir = self.directory.snapshot();
        let (status, assignee) = (self.durable.status, self.durable.assignee);
        let live_since = &mut self.live_since;
        // Pushing is non-blocking, so it happens under the lock: no copy of
        // the subscriber list per message.
        self.slot.with_subs(|subs| {
            for s in subs.iter() {
                if s.outbox.id() == skip || (!public && s.kind == SubKind::Visitor) {
                    continue;
                }
                s.outbox.frame(bytes);
            }
            for d in dir.iter() {
                let id = d.outbox.id();
                if wanted(status, assignee, d.staff)
                    && id != skip
                    && !subs.iter().any(|s| s.outbox.id() == id)
                {
                    d.outbox.frame(bytes);
                    if let Some(seq) = seq {
                        live_since.entry(id).or_insert(seq);
                    }
                }
            }
        });
    }

    /// Drops the live marks of directory sockets no longer sent this
    /// conversation (after a status or assignee change, or once closed).
    pub(super) fn forget_unwanted(&mut self) {
        let dir = self.directory.snapshot();
        let (status, assignee) = (self.durable.status, self.durable.assignee);
        self.live_since.retain(|id, _| {
            dir.iter()
                .any(|d| d.outbox.id() == *id && wanted(status, assignee, d.staff))
        });
    }

    /// Sends a `conversation` frame to all the tenant's staff and to subscribers.
    pub(super) fn announce(&self) {
        let view = self.view();
        let bytes = Bytes::from(
            ServerFrame::Conversation {
                conversation: &view,
            }
            .to_json(),
        );
        let dir = self.directory.snapshot();
        self.slot.with_subs(|subs| {
            for s in subs.iter() {
                s.outbox.frame(&bytes);
            }
            for d in dir.iter() {
                if !subs.iter().any(|s| s.outbox.id() == d.outbox.id()) {
                    d.outbox.frame(&bytes);
                }
            }
        });
    }

    pub(super) fn subscribe(
        &mut self,
        mut sub: Sub,
        replay_after: Option<u64>,
        announce: bool,
    ) -> ConversationView {
        let view = self.view();
        if announce {
            sub.outbox.frame(&Bytes::from(
                ServerFrame::Conversation {
                    conversation: &view,
                }
                .to_json(),
            ));
        }
        let id = sub.outbox.id();
        let upto = self.durable.last_seq;
        // A socket already subscribed has had everything after `since` live:
        // replaying past it would show those messages twice.
        let already = self
            .slot
            .with_subs(|s| s.iter().find(|x| x.outbox.id() == id).map(|x| x.since));
        // A staff socket already sent this conversation live through the
        // directory has everything from its first live seq on.
        let live = self.live_since.remove(&id).map(|first| first - 1);
        let replay_upto = already.or(live).unwrap_or(upto).min(upto);
        if let Some(after) = replay_after {
            if after < replay_upto {
                sub.outbox.push(Out::Replay(Box::new(Replay {
                    tenant: self.tenant_id(),
                    conversation: self.rec.id,
                    after,
                    upto: replay_upto,
                    public_only: sub.kind == SubKind::Visitor,
                })));
            }
        }
        if already.is_none() {
            sub.since = upto;
            self.slot.with_subs(|s| {
                s.retain(|x| !x.outbox.is_closed());
                s.push(sub);
            });
        }
        view
    }
}

/// Whether a staff member's directory sockets are sent a conversation's
/// frames: everyone while it waits, the assignee once it is held.
fn wanted(status: Status, assignee: Option<StaffId>, staff: StaffId) -> bool {
    match status {
        Status::Waiting => true,
        _ => assignee == Some(staff),
    }
}
