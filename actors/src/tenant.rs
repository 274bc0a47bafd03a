//! Tenant(t): the tenant's live directory and the supervisor of its
//! conversations, visitors and staff.
//!
//! It owns: which conversations are live (and hands out leases to them),
//! visitor presence (who is online, on which page), staff presence and
//! availability (for `agents_online`), and the staff-socket directory that
//! conversations fan out to. It never touches a message on the hot path.
//!
//! Supervision policy:
//! - Conversation panics: its subscribers are told to resync (close 1012),
//!   and it is restarted from storage at once; more than
//!   `MAX_RESTARTS` failures within `RESTART_WINDOW` leave it stopped until
//!   the next request for it (which starts it afresh).
//! - Visitor or Staff actor panics: forgotten; the next event re-spawns it
//!   from storage.
//! - Normal exits (passivation) only remove the entry.

use crate::conversation::{Conversation, ConversationArgs, ConversationMsg};
use crate::outbox::Outbox;
use crate::slot::{ConvLease, ConvSlot, Directory, StaffSocket, Sub, SubKind};
use crate::staff::{Staff, StaffMsg};
use crate::visitor::{Visitor, VisitorMsg};
use crate::Ctx;
use bytes::Bytes;
use parley_engine::codes::close;
use parley_engine::protocol::{Availability, ServerFrame, VisitorView};
use parley_engine::records::*;
use parley_engine::*;
use parley_storage::ConversationStore;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// What a visitor socket learns on `hello`.
pub struct HelloReply {
    /// The visitor's current conversation, if they have one.
    pub conversation: Option<ConvLease>,
    pub agents_online: bool,
}

/// Messages a Tenant handles.
pub enum TenantMsg {
    /// A lease on a conversation of this tenant (`None`: no such conversation).
    GetConversation {
        id: ConversationId,
        reply: RpcReplyPort<Option<ConvLease>>,
    },
    /// The visitor's conversation; with `create`, opens one if there is none
    /// and subscribes every open tab of the visitor to it.
    VisitorConversation {
        visitor: VisitorId,
        site: SiteId,
        create: bool,
        reply: RpcReplyPort<Option<ConvLease>>,
    },
    /// A conversation found itself idle.
    ConversationIdle { id: ConversationId },
    /// A conversation asked to passivate turned out busy after all.
    ConversationBusy { id: ConversationId },
    /// A visitor tab connected.
    VisitorHello {
        visitor: VisitorId,
        site: SiteId,
        page: PageInfo,
        outbox: Outbox,
        reply: RpcReplyPort<HelloReply>,
    },
    /// A visitor tab moved to another page.
    VisitorPage {
        visitor: VisitorId,
        socket: u64,
        page: PageInfo,
    },
    /// A visitor tab disconnected.
    VisitorBye { visitor: VisitorId, socket: u64 },
    /// A staff socket authenticated; answers the online visitors.
    StaffJoin {
        staff: StaffRecord,
        outbox: Outbox,
        reply: RpcReplyPort<Vec<VisitorView>>,
    },
    /// A staff socket disconnected.
    StaffLeave { staff: StaffId, socket: u64 },
    /// A staff socket asks to change its member's availability; the Staff actor decides.
    SetAvailability {
        staff: StaffId,
        availability: Availability,
    },
    /// A staff member's availability, from their Staff actor.
    StaffAvailability {
        staff: StaffId,
        availability: Availability,
    },
    /// Periodic housekeeping (visitor actor passivation).
    Tick,
    /// Fault injection for supervision tests: panics in the handler. No
    /// client frame maps to it.
    InjectPanic,
}

/// Start-up arguments.
pub struct TenantArgs {
    pub ctx: Arc<Ctx>,
    pub id: TenantId,
}

/// The actor.
pub struct Tenant;

struct ConvEntry {
    slot: Arc<ConvSlot>,
    actor: Option<ActorRef<ConversationMsg>>,
    passivating: bool,
    waiters: Vec<RpcReplyPort<Option<ConvLease>>>,
    failures: VecDeque<Instant>,
}

struct Presence {
    site: SiteId,
    tabs: Vec<(Outbox, PageInfo)>,
    since: Timestamp,
    conversation: Option<ConversationId>,
}

struct StaffEntry {
    actor: ActorRef<StaffMsg>,
    sockets: Vec<Outbox>,
    availability: Availability,
}

/// A tenant's live state.
pub struct TenantState {
    ctx: Arc<Ctx>,
    id: TenantId,
    conversations: HashMap<ConversationId, ConvEntry>,
    conv_by_actor: HashMap<ActorId, ConversationId>,
    visitors: HashMap<VisitorId, Presence>,
    visitor_actors: HashMap<VisitorId, (ActorRef<VisitorMsg>, Instant)>,
    visitor_by_actor: HashMap<ActorId, VisitorId>,
    staff: HashMap<StaffId, StaffEntry>,
    staff_by_actor: HashMap<ActorId, StaffId>,
    directory: Arc<Directory>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl TenantState {
    fn lease(&self, id: ConversationId) -> Option<ConvLease> {
        self.conversations.get(&id).map(|e| ConvLease {
            slot: e.slot.clone(),
        })
    }

    async fn spawn_conversation(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        record: ConversationRecord,
        persisted: bool,
    ) -> Result<(), ActorProcessingErr> {
        let id = record.id;
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
            actor: None,
            passivating: false,
            waiters: Vec::new(),
            failures: VecDeque::new(),
        });
        e.actor = Some(actor);
        e.passivating = false;
        Ok(())
    }

    /// Makes sure conversation `id` is live, starting it from storage.
    /// `Ok(false)`: no such conversation. A conversation being passivated
    /// parks `reply` until it has stopped or stayed.
    async fn ensure_conversation(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        id: ConversationId,
        reply: RpcReplyPort<Option<ConvLease>>,
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

    fn agents_online(&self) -> bool {
        self.staff
            .values()
            .any(|s| !s.sockets.is_empty() && s.availability == Availability::Available)
    }

    fn publish_directory(&self) {
        let mut v = Vec::new();
        for (id, s) in &self.staff {
            for o in &s.sockets {
                v.push(StaffSocket {
                    staff: *id,
                    outbox: o.clone(),
                });
            }
        }
        self.directory.publish(v);
    }

    fn visitor_view(&self, id: VisitorId, p: Option<&Presence>, site: SiteId) -> VisitorView {
        let rec = parley_storage::VisitorStore::visitor(&self.ctx.store, self.id, id)
            .ok()
            .flatten();
        VisitorView {
            id,
            site_id: site,
            online: p.is_some(),
            page: p.and_then(|p| p.tabs.last().map(|t| t.1.clone())),
            name: rec.as_ref().and_then(|r| r.name.clone()),
            email: rec.as_ref().and_then(|r| r.email.clone()),
            since: p.map(|p| p.since).unwrap_or_default(),
        }
    }

    /// Sends a `visitor` frame to every staff socket.
    fn broadcast_visitor(&self, id: VisitorId, site: SiteId) {
        let view = self.visitor_view(id, self.visitors.get(&id), site);
        let bytes = Bytes::from(ServerFrame::Visitor { visitor: &view }.to_json());
        for d in self.directory.snapshot().iter() {
            d.outbox.frame(&bytes);
        }
    }

    async fn visitor_seen(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        id: VisitorId,
        site: SiteId,
        page: PageInfo,
    ) -> Result<(), ActorProcessingErr> {
        let now = Instant::now();
        let msg = VisitorMsg::Seen {
            site,
            page,
            at: Timestamp::now(),
        };
        let msg = match self.visitor_actors.get_mut(&id) {
            Some((a, last)) => {
                *last = now;
                match a.cast(msg) {
                    Ok(()) => return Ok(()),
                    Err(ractor::MessagingErr::SendErr(m)) => m,
                    Err(_) => return Ok(()),
                }
            }
            None => msg,
        };
        let (a, _) = Actor::spawn_linked(
            None,
            Visitor,
            crate::visitor::VisitorArgs {
                ctx: self.ctx.clone(),
                tenant: self.id,
                id,
            },
            myself.get_cell(),
        )
        .await?;
        let _ = a.cast(msg);
        self.visitor_by_actor.insert(a.get_id(), id);
        self.visitor_actors.insert(id, (a, now));
        Ok(())
    }

    /// Records the page a tab opened with: through the Visitor actor when it
    /// is live, else written here without waking one.
    fn visitor_hello_page(
        &mut self,
        id: VisitorId,
        site: SiteId,
        page: PageInfo,
    ) -> Result<(), ActorProcessingErr> {
        let at = Timestamp::now();
        if let Some((a, _)) = self.visitor_actors.get(&id) {
            if a.cast(VisitorMsg::Seen {
                site,
                page: page.clone(),
                at,
            })
            .is_ok()
            {
                return Ok(());
            }
        }
        let mut known = crate::visitor::Known::load(&self.ctx, self.id, id)?;
        let b = known.seen(&self.ctx, (self.id, id), site, page, at);
        self.ctx.writer.submit(b, Box::new(|_| {}));
        Ok(())
    }

    fn conversation_failed(&mut self, id: ConversationId) -> bool {
        let Some(e) = self.conversations.get_mut(&id) else {
            return false;
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
        e.failures.len() <= MAX_RESTARTS
    }
}

impl Actor for Tenant {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = TenantArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TenantArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let period = (args.ctx.cfg.visitor_idle / 2).max(Duration::from_millis(100));
        let ticker = myself.send_interval(period, || TenantMsg::Tick);
        Ok(TenantState {
            ctx: args.ctx,
            id: args.id,
            conversations: HashMap::new(),
            conv_by_actor: HashMap::new(),
            visitors: HashMap::new(),
            visitor_actors: HashMap::new(),
            visitor_by_actor: HashMap::new(),
            staff: HashMap::new(),
            staff_by_actor: HashMap::new(),
            directory: Arc::new(Directory::default()),
            ticker: Some(ticker),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(t) = state.ticker.take() {
            t.abort();
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TenantMsg::GetConversation { id, reply } => {
                state.ensure_conversation(&myself, id, reply).await?;
            }
            TenantMsg::VisitorConversation {
                visitor,
                site,
                create,
                reply,
            } => {
                let known = match state.visitors.get(&visitor).and_then(|p| p.conversation) {
                    Some(c) => Some(c),
                    None => state.ctx.store.visitor_conversation(state.id, visitor)?,
                };
                if let Some(c) = known {
                    if let Some(p) = state.visitors.get_mut(&visitor) {
                        p.conversation = Some(c);
                    }
                    state.ensure_conversation(&myself, c, reply).await?;
                } else if create {
                    let rec =
                        ConversationRecord::new(ConversationId::new(), state.id, site, visitor);
                    let id = rec.id;
                    state.spawn_conversation(&myself, rec, false).await?;
                    let lease = state.lease(id);
                    if let Some(p) = state.visitors.get_mut(&visitor) {
                        p.conversation = Some(id);
                        // Every open tab of this visitor follows the new conversation.
                        if let Some(a) = lease.as_ref().and_then(|l| l.actor()) {
                            for (o, _) in &p.tabs {
                                let _ = a.cast(ConversationMsg::Subscribe {
                                    sub: Sub::new(o.clone(), SubKind::Visitor),
                                    replay_after: None,
                                    announce: true,
                                    reply: None,
                                });
                            }
                        }
                    }
                    let _ = reply.send(lease);
                } else {
                    let _ = reply.send(None);
                }
            }
            TenantMsg::ConversationIdle { id } => {
                if let Some(e) = state.conversations.get_mut(&id) {
                    // Two references are ours (the entry) and the actor's; any more are leases.
                    let leased = Arc::strong_count(&e.slot) > 2;
                    if !e.passivating && !leased {
                        if let Some(a) = &e.actor {
                            e.passivating = true;
                            let _ = a.cast(ConversationMsg::Passivate);
                        }
                    }
                }
            }
            TenantMsg::ConversationBusy { id } => {
                if let Some(e) = state.conversations.get_mut(&id) {
                    e.passivating = false;
                    let lease = ConvLease {
                        slot: e.slot.clone(),
                    };
                    for w in e.waiters.drain(..) {
                        let _ = w.send(Some(lease.clone()));
                    }
                }
            }
            TenantMsg::VisitorHello {
                visitor,
                site,
                page,
                outbox,
                reply,
            } => {
                let p = state.visitors.entry(visitor).or_insert_with(|| Presence {
                    site,
                    tabs: Vec::new(),
                    since: Timestamp::now(),
                    conversation: None,
                });
                p.tabs.retain(|(o, _)| !o.is_closed());
                p.tabs.push((outbox, page.clone()));
                let known = match p.conversation {
                    Some(c) => Some(c),
                    None => state.ctx.store.visitor_conversation(state.id, visitor)?,
                };
                if let Some(p) = state.visitors.get_mut(&visitor) {
                    p.conversation = known;
                }
                state.visitor_hello_page(visitor, site, page)?;
                state.broadcast_visitor(visitor, site);
                let conversation = match known {
                    Some(c) => {
                        if !state.conversations.contains_key(&c) {
                            if let Some(rec) = state.ctx.store.conversation(state.id, c)? {
                                state.spawn_conversation(&myself, rec, true).await?;
                            }
                        }
                        let e = state.conversations.get(&c);
                        match e {
                            Some(e) if !e.passivating && e.actor.is_some() => state.lease(c),
                            // Being passivated: the socket asks again when it needs it.
                            _ => None,
                        }
                    }
                    None => None,
                };
                let _ = reply.send(HelloReply {
                    conversation,
                    agents_online: state.agents_online(),
                });
            }
            TenantMsg::VisitorPage {
                visitor,
                socket,
                page,
            } => {
                let Some(p) = state.visitors.get_mut(&visitor) else {
                    return Ok(());
                };
                for t in p.tabs.iter_mut().filter(|t| t.0.id() == socket) {
                    t.1 = page.clone();
                }
                // The tab that moved becomes the visitor's current page.
                if let Some(i) = p.tabs.iter().position(|t| t.0.id() == socket) {
                    let t = p.tabs.remove(i);
                    p.tabs.push(t);
                }
                let site = p.site;
                state.visitor_seen(&myself, visitor, site, page).await?;
                state.broadcast_visitor(visitor, site);
            }
            TenantMsg::VisitorBye { visitor, socket } => {
                let Some(p) = state.visitors.get_mut(&visitor) else {
                    return Ok(());
                };
                let before = p.tabs.last().map(|t| t.0.id());
                p.tabs.retain(|(o, _)| o.id() != socket && !o.is_closed());
                let site = p.site;
                if p.tabs.is_empty() {
                    state.visitors.remove(&visitor);
                    state.broadcast_visitor(visitor, site);
                } else if before == Some(socket) {
                    state.broadcast_visitor(visitor, site);
                }
            }
            TenantMsg::StaffJoin {
                staff,
                outbox,
                reply,
            } => {
                let id = staff.id;
                if !state.staff.contains_key(&id) {
                    let (a, _) = Actor::spawn_linked(
                        None,
                        Staff,
                        crate::staff::StaffArgs {
                            tenant: myself.clone(),
                            record: staff,
                        },
                        myself.get_cell(),
                    )
                    .await?;
                    state.staff_by_actor.insert(a.get_id(), id);
                    state.staff.insert(
                        id,
                        StaffEntry {
                            actor: a,
                            sockets: Vec::new(),
                            availability: Availability::Available,
                        },
                    );
                }
                let e = state.staff.get_mut(&id).expect("inserted above");
                e.sockets.retain(|o| !o.is_closed());
                e.sockets.push(outbox.clone());
                let _ = e.actor.cast(StaffMsg::Joined(outbox));
                state.publish_directory();
                let visitors: Vec<VisitorView> = state
                    .visitors
                    .iter()
                    .map(|(v, p)| state.visitor_view(*v, Some(p), p.site))
                    .collect();
                let _ = reply.send(visitors);
            }
            TenantMsg::StaffLeave { staff, socket } => {
                if let Some(e) = state.staff.get_mut(&staff) {
                    e.sockets.retain(|o| o.id() != socket && !o.is_closed());
                    let _ = e.actor.cast(StaffMsg::Left(socket));
                    if e.sockets.is_empty() {
                        // Nobody is signed in on any device: the Staff actor passivates.
                        e.actor.stop(Some("offline".into()));
                        if let Some(e) = state.staff.remove(&staff) {
                            state.staff_by_actor.remove(&e.actor.get_id());
                        }
                    }
                    state.publish_directory();
                }
            }
            TenantMsg::SetAvailability {
                staff,
                availability,
            } => {
                if let Some(e) = state.staff.get(&staff) {
                    let _ = e.actor.cast(StaffMsg::SetAvailability(availability));
                }
            }
            TenantMsg::StaffAvailability {
                staff,
                availability,
            } => {
                if let Some(e) = state.staff.get_mut(&staff) {
                    e.availability = availability;
                }
            }
            TenantMsg::InjectPanic => panic!("fault injected into tenant {}", state.id),
            TenantMsg::Tick => {
                let idle = state.ctx.cfg.visitor_idle;
                let stale: Vec<VisitorId> = state
                    .visitor_actors
                    .iter()
                    .filter(|(_, (_, last))| last.elapsed() >= idle)
                    .map(|(v, _)| *v)
                    .collect();
                for v in stale {
                    if let Some((a, _)) = state.visitor_actors.remove(&v) {
                        // Drain: page views already queued are still written.
                        let _ = a.drain();
                    }
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                let aid = cell.get_id();
                if let Some(id) = state.conv_by_actor.remove(&aid) {
                    let waiters = state
                        .conversations
                        .get_mut(&id)
                        .map(|e| std::mem::take(&mut e.waiters))
                        .unwrap_or_default();
                    if let Some(e) = state.conversations.remove(&id) {
                        e.slot.set_actor(None);
                    }
                    // Someone asked while it was stopping: start it again from storage.
                    for w in waiters {
                        state.ensure_conversation(&myself, id, w).await?;
                    }
                } else if let Some(v) = state.visitor_by_actor.remove(&aid) {
                    if state
                        .visitor_actors
                        .get(&v)
                        .is_some_and(|(a, _)| a.get_id() == aid)
                    {
                        state.visitor_actors.remove(&v);
                    }
                } else {
                    state.staff_by_actor.remove(&aid);
                }
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                let aid = cell.get_id();
                if let Some(id) = state.conv_by_actor.remove(&aid) {
                    tracing::error!(tenant = %state.id, conversation = %id, error = %err, "conversation failed");
                    let restart = state.conversation_failed(id);
                    let record = state.ctx.store.conversation(state.id, id)?;
                    match (restart, record) {
                        (true, Some(rec)) => {
                            state.spawn_conversation(&myself, rec, true).await?;
                            let lease = state.lease(id);
                            if let Some(e) = state.conversations.get_mut(&id) {
                                for w in e.waiters.drain(..) {
                                    let _ = w.send(lease.clone());
                                }
                            }
                        }
                        _ => {
                            if let Some(e) = state.conversations.remove(&id) {
                                for w in e.waiters {
                                    let _ = w.send(None);
                                }
                            }
                            for p in state.visitors.values_mut() {
                                if p.conversation == Some(id) {
                                    p.conversation = None;
                                }
                            }
                        }
                    }
                } else if let Some(v) = state.visitor_by_actor.remove(&aid) {
                    metrics::counter!("parley_actor_restarts_total", "kind" => "visitor")
                        .increment(1);
                    tracing::error!(tenant = %state.id, visitor = %v, error = %err, "visitor actor failed");
                    state.visitor_actors.remove(&v);
                } else if let Some(s) = state.staff_by_actor.remove(&aid) {
                    metrics::counter!("parley_actor_restarts_total", "kind" => "staff")
                        .increment(1);
                    tracing::error!(tenant = %state.id, staff = %s, error = %err, "staff actor failed");
                    // Its sockets stay; a fresh Staff actor takes them over.
                    if let Some(e) = state.staff.get_mut(&s) {
                        if let Some(rec) =
                            parley_storage::AccountStore::staff(&state.ctx.store, state.id, s)?
                        {
                            let (a, _) = Actor::spawn_linked(
                                None,
                                Staff,
                                crate::staff::StaffArgs {
                                    tenant: myself.clone(),
                                    record: rec,
                                },
                                myself.get_cell(),
                            )
                            .await?;
                            for o in &e.sockets {
                                let _ = a.cast(StaffMsg::Joined(o.clone()));
                            }
                            state.staff_by_actor.insert(a.get_id(), s);
                            e.actor = a;
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
