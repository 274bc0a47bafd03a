//! Conversation(c): the ordered log of one conversation.
//!
//! - Its sequencing, dedupe and durability are the pure
//!   [`ConversationLog`](parley_engine::log::ConversationLog): this actor
//!   runs its effects. Each message gets the next seq (1, 2, 3… no gap),
//!   `client_id`s are deduped from memory (loaded from the stored log once
//!   after a wake, so dedupe survives restarts), and the write goes to the
//!   group-commit writer without waiting: several writes are in flight.
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

// The state's methods live beside this file: `conversation/log.rs` (writes
// and durability) and `conversation/delivery.rs` (who gets which frame).
mod delivery;
mod log;

use crate::outbox::Outbox;
use crate::slot::{ConvSlot, Directory, Sub, SubKind};
use crate::tenant::TenantMsg;
use crate::Ctx;
use bytes::Bytes;
use parley_engine::conversation::{Phase, Status};
use parley_engine::log::ConversationLog;
use parley_engine::permissions::Role;
use parley_engine::protocol::{ConversationView, ServerFrame};
use parley_engine::records::*;
use parley_engine::*;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::HashMap;
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
    /// The client the command came from, for the audit log.
    pub client: Arc<ClientInfo>,
}

/// A client's address and user agent.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
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
    /// A staff member starts talking to the visitor (a proactive message):
    /// a waiting conversation is claimed, a closed one reopened, an active
    /// one left as it is.
    Engage { by: StaffActor, origin: Outbox },
    /// Periodic idleness check.
    Tick,
    /// The Tenant agrees to passivate: stop if still idle.
    Passivate,
    /// Fault injection for supervision tests: panics in the handler. No
    /// client frame maps to it.
    InjectPanic,
}

impl ConversationMsg {
    /// The `client_id` a message carries, for error frames.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Post { client_id, .. } => Some(client_id),
            _ => None,
        }
    }
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

/// What a write in flight carries for its effects once durable (the
/// log keeps its ticket, seq, `client_id` and the sockets awaiting its ack).
struct Pending {
    msg: Option<MessageRecord>,
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
    /// Whether any write of this conversation is on disk.
    landed: bool,
    /// This conversation's log as a writer chain: refused writes take the
    /// rest of their generation with them (see `parley_storage::Chain`).
    chain: parley_storage::Chain,
    /// The metadata last written, and when: a message whose only change to
    /// it is the log position skips rewriting it for a while (the log is
    /// the truth for `last_seq`).
    meta: Option<(ConversationRecord, Instant)>,
    /// The audit entry of a staff command, written with its system message.
    audit: Option<parley_engine::account::AuditRecord>,
    /// Analytics counts waiting for the next write (a rating's).
    counts: Vec<parley_storage::Count>,
    /// Whether staff answered since this actor started (the writer's
    /// count-once marker is the truth across restarts).
    answered: bool,
    /// Seqs, dedupe and the writes in flight.
    log: ConversationLog<Outbox, Pending>,
    /// For staff sockets reached through the directory (not subscribed):
    /// the first seq each was sent live, so a later `resume` on that socket
    /// replays only what came before it.
    live_since: HashMap<u64, u64>,
    last_activity: Instant,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl ConversationState {
    pub(super) fn view(&self) -> ConversationView {
        ConversationView::from(&self.durable)
    }

    pub(super) fn tenant_id(&self) -> TenantId {
        self.rec.tenant_id
    }

    pub(super) fn phase(&self) -> Phase {
        Phase {
            status: self.rec.status,
            assignee: self.rec.assignee,
        }
    }

    pub(super) fn set_phase(&mut self, p: Phase) {
        if p.status != self.rec.status {
            let closed = (p.status == Status::Closed).then(Timestamp::now);
            self.slot.mark(closed, self.rec.rating.is_some());
        }
        self.rec.status = p.status;
        self.rec.assignee = p.assignee;
    }

    /// Idle: nothing in flight, no staff socket following it, no activity
    /// for a while. Visitor tabs do not keep it awake: the Tenant subscribes
    /// them again whenever it wakes.
    pub(super) fn is_idle(&self) -> bool {
        self.log.is_settled()
            && self.slot.with_subs(|s| {
                s.retain(|x| !x.outbox.is_closed());
                s.iter().all(|x| x.kind == SubKind::Visitor)
            })
            && self.last_activity.elapsed() >= self.ctx.cfg.conversation_idle
    }
}

pub(crate) fn send_error(to: &Outbox, code: &str, message: &str, client_id: Option<&str>) {
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
        // A persisted record comes from `ConversationStore::conversation`,
        // which already takes `last_seq` from the log.
        let rec = args.record;
        args.slot.set_actor(Some(myself.clone()));
        // A closed conversation's last change is its close (or its rating,
        // which makes the close final anyway).
        args.slot.mark(
            (rec.status == Status::Closed).then_some(rec.updated_at),
            rec.rating.is_some(),
        );
        let period = (args.ctx.cfg.conversation_idle / 4).max(std::time::Duration::from_millis(50));
        let ticker = myself.send_interval(period, || ConversationMsg::Tick);
        let max = args.ctx.cfg.max_inflight;
        let log = match args.persisted {
            true => ConversationLog::resume(rec.last_seq, max),
            false => ConversationLog::new(max),
        };
        metrics::gauge!("parley_conversations_live").increment(1.0);
        Ok(ConversationState {
            ctx: args.ctx,
            slot: args.slot,
            directory: args.directory,
            tenant: args.tenant,
            chain: parley_storage::Chain {
                id: rec.id.to_bytes(),
                generation: parley_storage::Chain::next_generation(),
            },
            durable: rec.clone(),
            rec,
            persisted: args.persisted,
            landed: args.persisted,
            meta: None,
            audit: None,
            counts: Vec::new(),
            answered: false,
            log,
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
        state.write_meta_if_stale(std::time::Duration::ZERO);
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
            ConversationMsg::Engage { by, origin } => {
                let cmd = match state.rec.status {
                    Status::Waiting => StaffCommand::Claim,
                    Status::Closed => StaffCommand::Reopen,
                    Status::Active => return Ok(()),
                };
                state.command(&myself, cmd, by, origin)
            }
            ConversationMsg::Rate {
                score,
                comment,
                origin,
            } => state.rate(&myself, score, comment, origin),
            ConversationMsg::Tick => {
                state.forget_unwanted();
                state.write_meta_if_stale(log::META_EVERY);
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
