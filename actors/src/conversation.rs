//! Conversation(c): the ordered log of one conversation.
//!
//! - Gives each message the next seq (1, 2, 3… no gap), dedupes on
//!   `client_id` (in memory for recent ones, in storage for older ones, so
//!   dedupe survives restarts), and hands the write to the group-commit
//!   writer without waiting: several writes are in flight at once.
//! - When the writer reports a write durable (`Durable { ticket }`), it
//!   acks the sender and fans the message out, in seq order, serialising
//!   each frame once and sharing the bytes with every subscriber.
//! - Status changes (claim, transfer, close, reopen) are logged as system
//!   messages in the same way, with the metadata in the same atomic batch.
//! - It passivates when idle (no subscribers, no leases, nothing in flight)
//!   through its Tenant, and comes back from storage on demand.
//!
//! Failure policy: a storage error fails every pending write with an
//! `internal` error and stops the actor with an error; its Tenant restarts
//! it from storage and tells its subscribers to resync (close 1012).

use crate::outbox::{Out, Outbox};
use crate::slot::{ConvSlot, Directory, Sub, SubKind};
use crate::tenant::TenantMsg;
use crate::Ctx;
use bytes::Bytes;
use parley_engine::codes::error;
use parley_engine::conversation::{self as rules, Command, Phase, Status};
use parley_engine::permissions::{allowed, Action, Role};
use parley_engine::protocol::{ConversationView, ServerFrame};
use parley_engine::records::*;
use parley_engine::*;
use parley_storage::{ConversationStore, MessageLog, WriteBatch};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// A staff command on a conversation.
#[derive(Clone, Debug)]
pub enum StaffCommand {
    Claim,
    Close,
    Reopen,
    Transfer { to: StaffId, to_name: String },
}

/// Who sent a staff command.
#[derive(Clone, Debug)]
pub struct StaffActor {
    pub id: StaffId,
    pub name: String,
    pub role: Role,
}

/// Messages a Conversation handles.
pub enum ConversationMsg {
    /// A new message from a visitor or staff member.
    Post {
        client_id: String,
        body: String,
        private: bool,
        from: Participant,
        origin: Outbox,
    },
    /// The writer finished write `ticket` (and every earlier one).
    Durable {
        ticket: u64,
        result: Result<(), String>,
    },
    /// Subscribe a socket; optionally replay history and announce the conversation first.
    Subscribe {
        sub: Sub,
        replay_after: Option<u64>,
        announce: bool,
        reply: Option<RpcReplyPort<ConversationView>>,
    },
    Typing {
        from: Participant,
        on: bool,
        origin: u64,
    },
    Read {
        by: Participant,
        seq: u64,
        origin: u64,
    },
    Command {
        cmd: StaffCommand,
        by: StaffActor,
        origin: Outbox,
    },
    Rate {
        score: u8,
        comment: String,
        origin: Outbox,
    },
    /// Periodic idleness check.
    Tick,
    /// The Tenant agrees to passivate: stop if still idle.
    Passivate,
    /// Fault injection for supervision tests: panics in the handler. No
    /// client frame maps to it.
    InjectPanic,
}

/// Start-up arguments.
pub struct ConversationArgs {
    pub ctx: Arc<Ctx>,
    pub slot: Arc<ConvSlot>,
    pub directory: Arc<Directory>,
    pub tenant: ActorRef<TenantMsg>,
    /// The record; `persisted` says whether it is already on disk.
    pub record: ConversationRecord,
    pub persisted: bool,
}

/// The actor (stateless; all state is in [`ConversationState`]).
pub struct Conversation;

struct Pending {
    ticket: u64,
    msg: Option<MessageRecord>,
    /// Sockets waiting for this message's `ack`.
    acks: Vec<Outbox>,
    /// The metadata as this write leaves it.
    rec_after: ConversationRecord,
    /// Announce a `conversation` frame once durable.
    announce: bool,
    /// Answers a `rate` (or other meta-only write) requester on failure.
    origin: Option<Outbox>,
}

/// A conversation's live state.
pub struct ConversationState {
    ctx: Arc<Ctx>,
    slot: Arc<ConvSlot>,
    directory: Arc<Directory>,
    tenant: ActorRef<TenantMsg>,
    /// Latest metadata, including writes still in flight.
    rec: ConversationRecord,
    /// Metadata as last made durable: what clients are shown.
    durable: ConversationRecord,
    persisted: bool,
    next_ticket: u64,
    pending: VecDeque<Pending>,
    /// Recent `client_id` → seq; older ones are found in storage.
    recent: HashMap<String, u64>,
    /// For staff sockets reached through the directory (not subscribed):
    /// the first seq each was sent live, so a later `resume` on that socket
    /// replays only what came before it.
    live_since: HashMap<u64, u64>,
    last_activity: Instant,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl ConversationState {
    fn view(&self) -> ConversationView {
        ConversationView::from(&self.durable)
    }

    fn tenant_id(&self) -> TenantId {
        self.rec.tenant_id
    }

    /// Sends `bytes` to every socket that should see this conversation:
    /// explicit subscribers, plus staff in the directory when the
    /// conversation is waiting (everyone) or assigned (the assignee).
    fn fan_out(&mut self, bytes: &Bytes, public: bool, skip: u64, seq: Option<u64>) {
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
    fn forget_unwanted(&mut self) {
        let dir = self.directory.snapshot();
        let (status, assignee) = (self.durable.status, self.durable.assignee);
        self.live_since.retain(|id, _| {
            dir.iter()
                .any(|d| d.outbox.id() == *id && wanted(status, assignee, d.staff))
        });
    }

    /// Sends a `conversation` frame to all the tenant's staff and to subscribers.
    fn announce(&self) {
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

    /// Appends `msg` (if any) with the current metadata as one write.
    fn write(
        &mut self,
        myself: &ActorRef<ConversationMsg>,
        msg: Option<MessageRecord>,
        acks: Vec<Outbox>,
        announce: bool,
        origin: Option<Outbox>,
    ) {
        let store = &self.ctx.store;
        let mut batch = WriteBatch::new();
        if let Some(m) = &msg {
            store.append(&mut batch, self.tenant_id(), m);
        }
        store.put_conversation(&mut batch, &self.rec);
        let announce = announce || !self.persisted;
        if !self.persisted {
            store.put_visitor_conversation(
                &mut batch,
                self.tenant_id(),
                self.rec.visitor_id,
                self.rec.id,
            );
            self.persisted = true;
        }
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        let me = myself.clone();
        self.ctx.writer.submit(
            batch,
            Box::new(move |r| {
                let _ = me.cast(ConversationMsg::Durable {
                    ticket,
                    result: r.map_err(|e| e.to_string()),
                });
            }),
        );
        self.pending.push_back(Pending {
            ticket,
            msg,
            acks,
            rec_after: self.rec.clone(),
            announce,
            origin,
        });
    }

    fn new_message(
        &mut self,
        client_id: Option<String>,
        from: Participant,
        body: String,
        private: bool,
    ) -> MessageRecord {
        let seq = self.rec.last_seq + 1;
        let now = Timestamp::now();
        self.rec.last_seq = seq;
        self.rec.updated_at = now;
        if let Some(c) = &client_id {
            if self.recent.len() >= 4096 {
                self.recent.clear();
            }
            self.recent.insert(c.clone(), seq);
        }
        MessageRecord {
            id: MessageId::new(),
            conversation_id: self.rec.id,
            seq,
            client_id,
            from,
            body,
            private,
            ts: now,
        }
    }

    fn post(
        &mut self,
        myself: &ActorRef<ConversationMsg>,
        client_id: String,
        body: String,
        private: bool,
        from: Participant,
        origin: Outbox,
    ) -> Result<(), ActorProcessingErr> {
        // Duplicate of something in flight or recently written?
        if let Some(&seq) = self.recent.get(&client_id) {
            if let Some(p) = self
                .pending
                .iter_mut()
                .find(|p| p.msg.as_ref().is_some_and(|m| m.seq == seq))
            {
                p.acks.push(origin);
                return Ok(());
            }
        }
        if self.persisted {
            if let Some(m) =
                self.ctx
                    .store
                    .by_client_id(self.tenant_id(), self.rec.id, &client_id)?
            {
                origin.frame(&Bytes::from(ServerFrame::ack(&m, &client_id).to_json()));
                return Ok(());
            }
        }
        if self.pending.len() >= self.ctx.cfg.max_inflight {
            send_error(
                &origin,
                error::OVERLOADED,
                "too many messages are waiting for the disk; re-send shortly",
                Some(&client_id),
            );
            return Ok(());
        }
        let mut announce = false;
        if !private && self.rec.status == Status::Closed {
            let p =
                rules::apply(self.phase(), Command::Reopen).expect("closed conversations reopen");
            self.set_phase(p);
            announce = true;
        }
        let msg = self.new_message(Some(client_id), from, body, private);
        self.write(myself, Some(msg), vec![origin], announce, None);
        Ok(())
    }

    fn phase(&self) -> Phase {
        Phase {
            status: self.rec.status,
            assignee: self.rec.assignee,
        }
    }

    fn set_phase(&mut self, p: Phase) {
        self.rec.status = p.status;
        self.rec.assignee = p.assignee;
    }

    fn command(
        &mut self,
        myself: &ActorRef<ConversationMsg>,
        cmd: StaffCommand,
        by: StaffActor,
        origin: Outbox,
    ) {
        let (action, rule) = match &cmd {
            StaffCommand::Claim => (
                Action::Claim,
                Command::Claim {
                    by: by.id,
                    take_over: allowed(by.role, Action::TakeOver),
                },
            ),
            StaffCommand::Close => (Action::Close, Command::Close),
            StaffCommand::Reopen => (Action::Close, Command::Reopen),
            StaffCommand::Transfer { to, .. } => (Action::Transfer, Command::Transfer { to: *to }),
        };
        if !allowed(by.role, action) {
            send_error(
                &origin,
                error::FORBIDDEN,
                "your role does not allow that",
                None,
            );
            return;
        }
        let next = match rules::apply(self.phase(), rule) {
            Ok(p) => p,
            Err(e) => {
                send_error(&origin, e.code(), &e.to_string(), None);
                return;
            }
        };
        self.set_phase(next);
        let body = match &cmd {
            StaffCommand::Claim => format!("{} joined the conversation", by.name),
            StaffCommand::Close => format!("{} closed the conversation", by.name),
            StaffCommand::Reopen => format!("{} reopened the conversation", by.name),
            StaffCommand::Transfer { to_name, .. } => {
                format!("{} transferred the conversation to {}", by.name, to_name)
            }
        };
        let msg = self.new_message(None, Participant::system(), body, false);
        self.write(myself, Some(msg), Vec::new(), true, Some(origin));
    }

    fn durable(
        &mut self,
        ticket: u64,
        result: Result<(), String>,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(why) = result {
            for p in self.pending.drain(..) {
                for a in p.acks.iter().chain(p.origin.iter()) {
                    let cid = p.msg.as_ref().and_then(|m| m.client_id.as_deref());
                    send_error(
                        a,
                        error::INTERNAL,
                        "the message could not be stored; re-send it",
                        cid,
                    );
                }
            }
            return Err(format!("storage write failed: {why}").into());
        }
        while self.pending.front().is_some_and(|p| p.ticket <= ticket) {
            let p = self.pending.pop_front().expect("checked front");
            let meta_changed = p.rec_after.status != self.durable.status
                || p.rec_after.assignee != self.durable.assignee
                || p.rec_after.rating != self.durable.rating;
            self.durable = p.rec_after;
            // Clients learn of a conversation (or its new status) before its message.
            if p.announce || meta_changed {
                self.announce();
                self.forget_unwanted();
            }
            if let Some(m) = &p.msg {
                metrics::counter!("parley_messages_persisted_total").increment(1);
                if let (Some(cid), false) = (&m.client_id, p.acks.is_empty()) {
                    let ack = Bytes::from(ServerFrame::ack(m, cid).to_json());
                    for a in &p.acks {
                        a.frame(&ack);
                    }
                }
                let frame = Bytes::from(ServerFrame::message(m).to_json());
                // Acked senders that also subscribe get the message frame too:
                // every participant sees the whole ordered log.
                self.fan_out(&frame, !m.private, 0, Some(m.seq));
            }
        }
        Ok(())
    }

    fn subscribe(
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
                sub.outbox.push(Out::Replay {
                    tenant: self.tenant_id(),
                    conversation: self.rec.id,
                    after,
                    upto: replay_upto,
                    public_only: sub.kind == SubKind::Visitor,
                });
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

    fn read(&mut self, by: Participant, seq: u64, origin: u64) {
        let seq = seq.min(self.durable.last_seq);
        let field = match by.kind {
            ParticipantKind::Visitor => &mut self.rec.visitor_read_seq,
            _ => &mut self.rec.staff_read_seq,
        };
        if seq <= *field {
            return;
        }
        *field = seq;
        self.durable.visitor_read_seq = self.rec.visitor_read_seq;
        self.durable.staff_read_seq = self.rec.staff_read_seq;
        if self.persisted {
            // Read marks are advisory: written behind the log, nobody waits for them.
            let mut b = WriteBatch::new();
            self.ctx.store.put_conversation(&mut b, &self.rec);
            self.ctx.writer.submit(b, Box::new(|_| {}));
        }
        let frame = Bytes::from(
            ServerFrame::Read {
                conversation_id: self.rec.id,
                by: &by,
                seq,
            }
            .to_json(),
        );
        self.fan_out(&frame, true, origin, None);
    }

    fn rate(
        &mut self,
        myself: &ActorRef<ConversationMsg>,
        score: u8,
        comment: String,
        origin: Outbox,
    ) {
        if self.rec.status != Status::Closed {
            send_error(
                &origin,
                error::INVALID_STATE,
                "a conversation can be rated once it is closed",
                None,
            );
            return;
        }
        self.rec.rating = Some(Rating {
            score,
            comment,
            at: Timestamp::now(),
        });
        self.rec.updated_at = Timestamp::now();
        self.write(myself, None, Vec::new(), true, Some(origin));
    }

    fn is_idle(&self) -> bool {
        self.pending.is_empty()
            && self.slot.with_subs(|s| {
                s.retain(|x| !x.outbox.is_closed());
                s.is_empty()
            })
            && self.last_activity.elapsed() >= self.ctx.cfg.conversation_idle
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

fn send_error(to: &Outbox, code: &str, message: &str, client_id: Option<&str>) {
    to.frame(&Bytes::from(
        ServerFrame::Error {
            code,
            message,
            client_id,
        }
        .to_json(),
    ));
}

impl Actor for Conversation {
    type Msg = ConversationMsg;
    type State = ConversationState;
    type Arguments = ConversationArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: ConversationArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut rec = args.record;
        if args.persisted {
            // The log is the truth for the last seq; metadata is written in the
            // same batch, this only guards against an older layout.
            let last = args.ctx.store.last_seq(rec.tenant_id, rec.id)?;
            rec.last_seq = rec.last_seq.max(last);
        }
        args.slot.set_actor(Some(myself.clone()));
        let period = (args.ctx.cfg.conversation_idle / 4).max(std::time::Duration::from_millis(50));
        let ticker = myself.send_interval(period, || ConversationMsg::Tick);
        metrics::gauge!("parley_conversations_live").increment(1.0);
        Ok(ConversationState {
            ctx: args.ctx,
            slot: args.slot,
            directory: args.directory,
            tenant: args.tenant,
            durable: rec.clone(),
            rec,
            persisted: args.persisted,
            next_ticket: 0,
            pending: VecDeque::new(),
            recent: HashMap::new(),
            live_since: HashMap::new(),
            last_activity: Instant::now(),
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
        metrics::gauge!("parley_conversations_live").decrement(1.0);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if !matches!(msg, ConversationMsg::Tick | ConversationMsg::Passivate) {
            state.last_activity = Instant::now();
        }
        match msg {
            ConversationMsg::Post {
                client_id,
                body,
                private,
                from,
                origin,
            } => state.post(&myself, client_id, body, private, from, origin)?,
            ConversationMsg::Durable { ticket, result } => state.durable(ticket, result)?,
            ConversationMsg::Subscribe {
                sub,
                replay_after,
                announce,
                reply,
            } => {
                let view = state.subscribe(sub, replay_after, announce);
                if let Some(r) = reply {
                    let _ = r.send(view);
                }
            }
            ConversationMsg::Typing { from, on, origin } => {
                let frame = Bytes::from(
                    ServerFrame::Typing {
                        conversation_id: state.rec.id,
                        from: &from,
                        on,
                    }
                    .to_json(),
                );
                // A visitor's own tabs need not hear that the visitor types.
                state.fan_out(&frame, from.kind != ParticipantKind::Visitor, origin, None);
            }
            ConversationMsg::Read { by, seq, origin } => state.read(by, seq, origin),
            ConversationMsg::Command { cmd, by, origin } => state.command(&myself, cmd, by, origin),
            ConversationMsg::Rate {
                score,
                comment,
                origin,
            } => state.rate(&myself, score, comment, origin),
            ConversationMsg::Tick => {
                state.forget_unwanted();
                if state.is_idle() {
                    let _ = state
                        .tenant
                        .cast(TenantMsg::ConversationIdle { id: state.rec.id });
                }
            }
            ConversationMsg::Passivate => {
                if state.is_idle() {
                    myself.stop(Some("passivated".into()));
                } else {
                    let _ = state
                        .tenant
                        .cast(TenantMsg::ConversationBusy { id: state.rec.id });
                }
            }
            ConversationMsg::InjectPanic => {
                panic!("fault injected into conversation {}", state.rec.id)
            }
        }
        Ok(())
    }
}
