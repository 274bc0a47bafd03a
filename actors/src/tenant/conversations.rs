//! The Tenant's conversations: starting them from storage, handing out
//! leases, passivating idle ones and restarting crashed ones.
//!
//! Passivation is a handshake so no message is ever sent to an actor that is
//! stopping: the conversation reports itself idle, the Tenant checks that no
//! socket holds a lease and marks it passivating (new requests wait), the
//! conversation re-checks and stops — or reports itself busy again.

use super::{ConvEntry, TenantMsg, TenantState};
use crate::conversation::{Conversation, ConversationArgs, ConversationMsg};
use crate::slot::{ConvLease, ConvSlot, Sub, SubKind};
use parley_engine::codes::close;
use parley_engine::conversation::{after_close, AfterClose, Status};
use parley_engine::records::ConversationRecord;
use parley_engine::*;
use parley_storage::{AuthStore, ConversationStore, VisitorStore};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A conversation failing more often than this within [`RESTART_WINDOW`]
/// stays down until it is next asked for.
const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(60);

type LeaseReply = RpcReplyPort<Option<ConvLease>>;

impl TenantState {
    pub(super) fn lease(&self, id: ConversationId) -> Option<ConvLease> {
        self.conversations.get(&id).map(|e| ConvLease {
            slot: e.slot.clone(),
        })
    }

    pub(super) async fn spawn_conversation(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        record: ConversationRecord,
        persisted: bool,
    ) -> Result<(), ActorProcessingErr> {
        let (id, visitor) = (record.id, record.visitor_id);
        let slot = match self.conversations.get(&id) {
            Some(e) => e.slot.clone(),
            None => ConvSlot::new(id),
        };
        let (actor, _) = Actor::spawn_linked(
            None,
            Conversation,
            ConversationArgs {
                ctx: self.ctx.clone(),
                slot: slot.clone(),
                directory: self.directory.clone(),
                tenant: myself.clone(),
                record,
                persisted,
            },
            myself.get_cell(),
        )
        .await?;
        self.conv_by_actor.insert(actor.get_id(), id);
        let e = self.conversations.entry(id).or_insert_with(|| ConvEntry {
            slot,
            visitor,
            actor: None,
            passivating: false,
            waiters: Vec::new(),
            failures: VecDeque::new(),
        });
        e.actor = Some(actor);
        e.passivating = false;
        self.subscribe_tabs(id, !persisted);
        Ok(())
    }

    /// Subscribes every open tab of the conversation's visitor to it. Tabs
    /// are not subscribed at `hello` when the conversation is not live (an
    /// idle returning visitor costs no conversation actor); this is where
    /// they start receiving it. `announce` tells each tab the conversation
    /// exists (a new one).
    fn subscribe_tabs(&self, id: ConversationId, announce: bool) {
        let Some(e) = self.conversations.get(&id) else {
            return;
        };
        let Some(actor) = &e.actor else {
            return;
        };
        if let Some(p) = self.visitors.get(&e.visitor) {
            for t in &p.tabs {
                let _ = actor.cast(ConversationMsg::Subscribe {
                    sub: Sub::new(t.outbox.clone(), SubKind::Visitor),
                    replay_after: None,
                    announce,
                    reply: None,
                });
            }
        }
    }

    /// Makes sure conversation `id` is live, starting it from storage, and
    /// answers `reply` with a lease (`None`: no such conversation). A
    /// conversation being passivated parks `reply` until it has stopped or
    /// stayed.
    pub(super) async fn ensure_conversation(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        id: ConversationId,
        reply: LeaseReply,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(e) = self.conversations.get_mut(&id) {
            if e.passivating || e.actor.is_none() {
                e.waiters.push(reply);
                return Ok(());
            }
            let _ = reply.send(self.lease(id));
            return Ok(());
        }
        match self.ctx.store.conversation(self.id, id)? {
            Some(rec) => {
                self.spawn_conversation(myself, rec, true).await?;
                let _ = reply.send(self.lease(id));
            }
            None => {
                let _ = reply.send(None);
            }
        }
        Ok(())
    }

    /// The visitor's conversation; with `create`, opens one if there is none
    /// (or theirs is closed for good: [`Self::finished`]) and subscribes every
    /// open tab of the visitor to it. The closed one stays in the history.
    pub(super) async fn visitor_conversation(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        visitor: VisitorId,
        site: Option<SiteId>,
        create: bool,
        reply: LeaseReply,
    ) -> Result<(), ActorProcessingErr> {
        let site = match site {
            Some(s) => Some(s),
            None => match self.visitors.get(&visitor) {
                Some(p) => Some(p.site),
                None => self.ctx.store.visitor(self.id, visitor)?.map(|v| v.site_id),
            },
        };
        let Some(site) = site else {
            let _ = reply.send(None);
            return Ok(());
        };
        let known = match self.visitors.get(&visitor).and_then(|p| p.conversation) {
            Some(c) => Some(c),
            None => self.ctx.store.visitor_conversation(self.id, visitor)?,
        };
        if let Some(c) = known.filter(|c| !create || !self.finished(*c, site)) {
            if let Some(p) = self.visitors.get_mut(&visitor) {
                p.conversation = Some(c);
            }
            return self.ensure_conversation(myself, c, reply).await;
        }
        if !create || !self.quota_check(true)? {
            // Past the plan's conversations this month: existing ones go on.
            let _ = reply.send(None);
            return Ok(());
        }
        let rec = ConversationRecord::new(ConversationId::new(), self.id, site, visitor);
        let id = rec.id;
        if let Some(p) = self.visitors.get_mut(&visitor) {
            p.conversation = Some(id);
        }
        // Spawning subscribes (and tells) every open tab of the visitor.
        self.spawn_conversation(myself, rec, false).await?;
        let lease = self.lease(id);
        let _ = reply.send(lease);
        Ok(())
    }

    /// Whether a new message for conversation `c` starts a new conversation
    /// instead (it is closed, and past the reopen window or rated; see
    /// `engine::conversation::after_close`). Read from the live slot, else
    /// from storage (a passivated conversation wrote its last state). The
    /// window is site `site`'s, read only once the conversation is closed.
    fn finished(&mut self, c: ConversationId, site: SiteId) -> bool {
        let closed = match self.conversations.get(&c) {
            Some(e) if e.actor.is_some() && !e.passivating => e.slot.closed(),
            _ => match self.ctx.store.conversation(self.id, c) {
                Ok(Some(r)) if r.status == Status::Closed => {
                    Some((r.updated_at, r.rating.is_some()))
                }
                _ => None,
            },
        };
        let Some((at, rated)) = closed else {
            return false;
        };
        // Rated: finished whatever the window, so no settings are read.
        rated
            || after_close(at, rated, Timestamp::now(), self.reopen_window(site)) == AfterClose::New
    }

    /// Site `site`'s reopen window: its own setting, else the server's
    /// `conversation.reopen_window_secs`; read once, kept until the site
    /// changes.
    fn reopen_window(&mut self, site: SiteId) -> u64 {
        if let Some(w) = self.reopen_windows.get(&site) {
            return *w;
        }
        let w = self
            .ctx
            .store
            .site_settings(self.id, site)
            .ok()
            .and_then(|s| s.reopen_window_secs)
            .unwrap_or(self.ctx.cfg.reopen_window_secs);
        self.reopen_windows.insert(site, w);
        w
    }

    /// A conversation found itself idle: passivate it unless a socket holds a lease.
    pub(super) fn conversation_idle(&mut self, id: ConversationId) {
        let Some(e) = self.conversations.get_mut(&id) else {
            return;
        };
        // Two references are ours (the entry) and the actor's; any more are leases.
        let leased = Arc::strong_count(&e.slot) > 2;
        if !e.passivating && !leased {
            if let Some(a) = &e.actor {
                e.passivating = true;
                let _ = a.cast(ConversationMsg::Passivate);
            }
        }
    }

    /// A conversation asked to passivate turned out busy: answer whoever waited.
    pub(super) fn conversation_busy(&mut self, id: ConversationId) {
        if let Some(e) = self.conversations.get_mut(&id) {
            e.passivating = false;
            let lease = ConvLease {
                slot: e.slot.clone(),
            };
            for w in e.waiters.drain(..) {
                let _ = w.send(Some(lease.clone()));
            }
            // Tabs that said hello meanwhile were not subscribed.
            self.subscribe_tabs(id, false);
        }
    }

    /// A conversation stopped normally (passivated).
    pub(super) async fn conversation_stopped(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        id: ConversationId,
    ) -> Result<(), ActorProcessingErr> {
        let Some(e) = self.conversations.remove(&id) else {
            return Ok(());
        };
        e.slot.set_actor(None);
        // Someone asked while it was stopping: start it again from storage.
        for w in e.waiters {
            self.ensure_conversation(myself, id, w).await?;
        }
        Ok(())
    }

    /// A conversation panicked: its subscribers resync, and it restarts from
    /// storage unless it keeps failing.
    pub(super) async fn conversation_crashed(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        id: ConversationId,
    ) -> Result<(), ActorProcessingErr> {
        let Some(e) = self.conversations.get_mut(&id) else {
            return Ok(());
        };
        metrics::counter!("parley_actor_restarts_total", "kind" => "conversation").increment(1);
        e.slot.close_subscribers(close::RESTART);
        e.slot.set_actor(None);
        e.actor = None;
        let now = Instant::now();
        e.failures.push_back(now);
        while e
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
        {
            e.failures.pop_front();
        }
        let restart = e.failures.len() <= MAX_RESTARTS;
        match (restart, self.ctx.store.conversation(self.id, id)?) {
            (true, Some(rec)) => {
                self.spawn_conversation(myself, rec, true).await?;
                let lease = self.lease(id);
                if let Some(e) = self.conversations.get_mut(&id) {
                    for w in e.waiters.drain(..) {
                        let _ = w.send(lease.clone());
                    }
                }
            }
            _ => {
                if let Some(e) = self.conversations.remove(&id) {
                    for w in e.waiters {
                        let _ = w.send(None);
                    }
                }
                for p in self.visitors.values_mut() {
                    if p.conversation == Some(id) {
                        p.conversation = None;
                    }
                }
            }
        }
        Ok(())
    }
}
