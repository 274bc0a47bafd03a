//! Writing a conversation's log: new messages (deduped by `client_id`),
//! status changes as system messages, ratings and read marks, each handed
//! to the group-commit writer; and, when the writer reports them durable,
//! the acks and the fan-out, in seq order.

use super::{send_error, ConversationMsg, ConversationState, Pending, StaffActor, StaffCommand};
use crate::outbox::Outbox;
use bytes::Bytes;
use parley_engine::account::{AuditActor, AuditRecord};
use parley_engine::codes::error;
use parley_engine::conversation::{self as rules, Command, Status};
use parley_engine::log::{Post, Stored};
use parley_engine::permissions::{allowed, Action};
use parley_engine::protocol::ServerFrame;
use parley_engine::records::*;
use parley_engine::*;
use parley_storage::{AuthStore, ConversationStore, MessageLog, Store, WriteBatch};
use ractor::{ActorProcessingErr, ActorRef};

/// How long metadata whose only change is the log position may wait.
pub(super) const META_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The stored log, as the pure log asks for it: once per wake for the
/// stored `client_id`s, then only to confirm a match.
struct StoredLog<'a> {
    store: &'a Store,
    t: TenantId,
    c: ConversationId,
}

impl Stored for StoredLog<'_> {
    type Error = parley_storage::StorageError;

    fn client_ids(&mut self) -> Result<Vec<(String, u64)>, Self::Error> {
        self.store.client_ids(self.t, self.c)
    }

    fn has(&mut self, seq: u64, client_id: &str) -> Result<bool, Self::Error> {
        Ok(self
            .store
            .message(self.t, self.c, seq)?
            .is_some_and(|m| m.client_id.as_deref() == Some(client_id)))
    }
}

/// Whether two records differ only where the log is the truth.
fn same_but_log(a: &ConversationRecord, b: &ConversationRecord) -> bool {
    a.status == b.status
        && a.assignee == b.assignee
        && a.visitor_read_seq == b.visitor_read_seq
        && a.staff_read_seq == b.staff_read_seq
        && a.rating == b.rating
        && a.site_id == b.site_id
        && a.visitor_id == b.visitor_id
}

impl ConversationState {
    /// Whether this write must carry the metadata: always without a
    /// message, on any change beyond the log position, or when the last
    /// write of it is older than [`META_EVERY`].
    fn meta_due(&self, with_message: bool) -> bool {
        match &self.meta {
            Some((last, at)) if with_message => {
                !same_but_log(last, &self.rec) || at.elapsed() >= META_EVERY
            }
            _ => true,
        }
    }

    /// Writes the metadata behind the log when it changed and its last
    /// write is at least `age` old (nobody waits for it).
    pub(super) fn write_meta_if_stale(&mut self, age: std::time::Duration) {
        let stale = match &self.meta {
            Some((last, at)) => last != &self.rec && at.elapsed() >= age,
            None => true,
        };
        if self.persisted && stale {
            let mut b = WriteBatch::new();
            self.ctx.store.put_conversation(&mut b, &self.rec);
            self.ctx.writer.submit(b, Box::new(|_| {}));
            self.meta = Some((self.rec.clone(), std::time::Instant::now()));
        }
    }

    /// Appends `msg` (if any) with the current metadata as one write,
    /// through the log (which gives it its ticket and, with a message, its
    /// seq); `acks` wait for its ack.
    pub(super) fn write(
        &mut self,
        myself: &ActorRef<ConversationMsg>,
        msg: Option<MessageRecord>,
        acks: Vec<Outbox>,
        announce: bool,
        origin: Option<Outbox>,
    ) {
        let mut batch = WriteBatch::new();
        self.count(&mut batch, msg.as_ref());
        let store = &self.ctx.store;
        if let Some(m) = &msg {
            store.append(&mut batch, self.tenant_id(), m);
        }
        self.emit_hooks(&mut batch, msg.as_ref());
        if let Some(a) = self.audit.take() {
            store.append_audit(&mut batch, &a);
        }
        if self.meta_due(msg.is_some()) {
            store.put_conversation(&mut batch, &self.rec);
            self.meta = Some((self.rec.clone(), std::time::Instant::now()));
        }
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
        let client_id = msg.as_ref().and_then(|m| m.client_id.clone());
        let seq = msg.as_ref().map(|m| m.seq);
        let pending = Pending {
            msg,
            rec_after: self.rec.clone(),
            announce,
            origin,
        };
        let ticket = match seq {
            Some(seq) => {
                let (given, ticket) = self.log.append(client_id, acks, pending);
                debug_assert_eq!(given, seq, "the message was built with the log's next seq");
                ticket
            }
            None => self.log.write(acks, pending),
        };
        batch.in_chain(self.chain);
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
    }

    /// Adds the webhook deliveries of this write to its batch: the
    /// conversation's creation, a public message, a close.
    fn emit_hooks(&self, batch: &mut WriteBatch, msg: Option<&MessageRecord>) {
        let (hooks, store, t) = (&self.ctx.hooks, &self.ctx.store, self.tenant_id());
        let conv = || {
            serde_json::to_value(parley_engine::protocol::ConversationView::from(&self.rec))
                .unwrap_or_default()
        };
        if !self.persisted {
            hooks.emit(store, batch, t, "conversation.created", conv);
        }
        if let Some(m) = msg.filter(|m| !m.private) {
            hooks.emit(store, batch, t, "message.created", || {
                serde_json::json!({
                    "conversation_id": m.conversation_id, "id": m.id, "seq": m.seq,
                    "from": {"kind": m.from.kind, "id": m.from.id, "name": m.from.name},
                    "body": m.body, "ts": m.ts,
                })
            });
        }
        let before = self
            .log
            .last_in_flight()
            .map_or(self.durable.status, |w| w.payload.rec_after.status);
        if self.rec.status == Status::Closed && before != Status::Closed && self.persisted {
            hooks.emit(store, batch, t, "conversation.closed", conv);
        }
    }

    /// Adds the analytics counts of this write to its batch: a conversation
    /// started, a message by side, the first staff answer (and whether it
    /// came too late), a close's resolution time, a rating.
    fn count(&mut self, batch: &mut WriteBatch, msg: Option<&MessageRecord>) {
        use parley_engine::analytics::{hour_of, Event};
        use parley_storage::keys::{self, Tally};
        let t = self.tenant_id();
        let site = Tally::Site(self.rec.site_id);
        let now = msg.map_or_else(Timestamp::now, |m| m.ts);
        let (h, born) = (hour_of(now), hour_of(self.rec.created_at));
        let conv = self.rec.id.to_bytes();
        batch.counts.append(&mut self.counts);
        if !self.persisted {
            batch.count(keys::bucket(t, site, h), Event::Conversation);
        }
        if let Some(m) = msg.filter(|m| !m.private) {
            match m.from.kind {
                ParticipantKind::Visitor => {
                    batch.count(keys::bucket(t, site, h), Event::Message { staff: false })
                }
                ParticipantKind::Staff => {
                    batch.count(keys::bucket(t, site, h), Event::Message { staff: true });
                    if let Some(by) = m.from.id.as_deref().and_then(|s| s.parse::<StaffId>().ok()) {
                        let mine = Tally::Staff(by);
                        batch.count(keys::bucket(t, mine, h), Event::Message { staff: true });
                        let pair = [conv, by.to_bytes()].concat();
                        batch.count_once(
                            keys::bucket(t, mine, h),
                            keys::once(t, born, b'c', &pair),
                            Event::Chat,
                        );
                        if !self.answered {
                            self.answered = true;
                            let ms = now.millis().saturating_sub(self.rec.created_at.millis());
                            let e = Event::FirstResponse(ms);
                            let once = |tag| keys::once(t, born, tag, &conv);
                            batch.count_once(keys::bucket(t, site, born), once(b'f'), e.clone());
                            batch.count_once(keys::bucket(t, mine, born), once(b'F'), e);
                            if ms > self.ctx.cfg.missed_after.as_millis() as u64 {
                                batch.count_once(
                                    keys::bucket(t, site, born),
                                    once(b'm'),
                                    Event::Missed,
                                );
                            }
                        }
                    }
                }
                ParticipantKind::System => {}
            }
        }
        let before = self
            .log
            .last_in_flight()
            .map_or(self.durable.status, |w| w.payload.rec_after.status);
        if self.rec.status == Status::Closed && before != Status::Closed && self.persisted {
            let ms = now.millis().saturating_sub(self.rec.created_at.millis());
            batch.count(keys::bucket(t, site, h), Event::Resolution(ms));
            if let Some(a) = self.rec.assignee {
                batch.count(keys::bucket(t, Tally::Staff(a), h), Event::Resolution(ms));
            }
        }
    }

    pub(super) fn new_message(
        &mut self,
        client_id: Option<String>,
        from: Participant,
        body: String,
        private: bool,
    ) -> MessageRecord {
        // The log gives this seq when the message is written (`write`).
        let seq = self.log.last_seq() + 1;
        let now = Timestamp::now();
        self.rec.last_seq = seq;
        self.rec.updated_at = now;
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

    pub(super) fn post(
        &mut self,
        myself: &ActorRef<ConversationMsg>,
        client_id: String,
        body: String,
        private: bool,
        from: Participant,
        origin: Outbox,
    ) -> Result<(), ActorProcessingErr> {
        let (t, c) = (self.tenant_id(), self.rec.id);
        let mut stored = StoredLog {
            store: &self.ctx.store,
            t,
            c,
        };
        let origin = match self.log.post(&client_id, origin, &mut stored)? {
            Post::New(origin) => origin,
            Post::Joined => return Ok(()),
            Post::Stored { seq, reply } => {
                if let Some(m) = self.ctx.store.message(t, c, seq)? {
                    reply.frame(&Bytes::from(ServerFrame::ack(&m, &client_id).to_json()));
                }
                return Ok(());
            }
            Post::Overloaded(origin) => {
                send_error(
                    &origin,
                    error::OVERLOADED,
                    "too many messages are waiting for the disk; re-send shortly",
                    Some(&client_id),
                );
                return Ok(());
            }
        };
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

    pub(super) fn command(
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
        let (verb, changes) = match &cmd {
            StaffCommand::Claim => (
                "conversation.claim",
                format!("{{\"assignee\":\"{}\"}}", by.id),
            ),
            StaffCommand::Close => ("conversation.close", "{}".to_string()),
            StaffCommand::Reopen => ("conversation.reopen", "{}".to_string()),
            StaffCommand::Transfer { to, .. } => (
                "conversation.transfer",
                format!("{{\"assignee\":\"{to}\"}}"),
            ),
        };
        self.audit = Some(AuditRecord {
            id: AuditId::new(),
            tenant_id: self.tenant_id(),
            actor: AuditActor {
                kind: "staff".into(),
                id: Some(by.id.to_string()),
                email: None,
            },
            action: verb.into(),
            entity_type: "conversation".into(),
            entity_id: Some(self.rec.id.to_string()),
            changes,
            ip: by.client.ip.clone(),
            user_agent: by.client.user_agent.clone(),
            at: Timestamp::now(),
        });
        let msg = self.new_message(None, Participant::system(), body, false);
        self.write(myself, Some(msg), Vec::new(), true, Some(origin));
    }

    pub(super) fn durable(
        &mut self,
        ticket: u64,
        result: Result<(), String>,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(why) = result {
            let lost = self.log.failed(ticket);
            if lost.is_empty() {
                // Queued behind a refusal already handled.
                return Ok(());
            }
            tracing::warn!(conversation = %self.rec.id, error = %why, writes = lost.len(),
                "writes refused; the conversation goes on from what is on disk");
            for w in lost {
                for a in w.replies.iter().chain(w.payload.origin.iter()) {
                    send_error(
                        a,
                        error::UNAVAILABLE,
                        "storage refuses writes for now; re-send it later",
                        w.client_id.as_deref(),
                    );
                }
            }
            // Nothing refused reached the disk, and nobody was shown it:
            // carry on from what is durable, in a fresh writer generation.
            self.rec = self.durable.clone();
            self.persisted = self.landed;
            self.meta = None;
            self.audit = None;
            self.chain.generation = parley_storage::Chain::next_generation();
            return Ok(());
        }
        self.landed = true;
        for w in self.log.durable(ticket) {
            let p = w.payload;
            let meta_changed = p.rec_after.status != self.durable.status
                || p.rec_after.assignee != self.durable.assignee
                || p.rec_after.rating != self.durable.rating;
            let was = self.durable.status;
            self.durable = p.rec_after;
            if p.announce || was != self.durable.status {
                self.tell_queue(was);
            }
            // Clients learn of a conversation (or its new status) before its message.
            if p.announce || meta_changed {
                self.announce();
                self.forget_unwanted();
            }
            if let Some(m) = &p.msg {
                metrics::counter!("parley_messages_persisted_total").increment(1);
                if let (Some(cid), false) = (&w.client_id, w.replies.is_empty()) {
                    let ack = Bytes::from(ServerFrame::ack(m, cid).to_json());
                    for a in &w.replies {
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

    /// Tells the Tenant whether this conversation now waits for staff, and
    /// since when: its creation, or now when it was reopened.
    fn tell_queue(&self, was: Status) {
        let d = &self.durable;
        let waiting_since = (d.status == Status::Waiting).then(|| {
            if was == Status::Closed {
                d.updated_at
            } else {
                d.created_at
            }
        });
        let _ = self.tenant.cast(crate::tenant::TenantMsg::QueueChange {
            id: d.id,
            visitor: d.visitor_id,
            site: d.site_id,
            created: d.created_at,
            waiting_since,
        });
    }

    pub(super) fn read(&mut self, by: Participant, seq: u64, origin: u64) {
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
            self.meta = Some((self.rec.clone(), std::time::Instant::now()));
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

    pub(super) fn rate(
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
        {
            use parley_engine::analytics::{hour_of, Event};
            use parley_storage::keys::{self, Tally};
            let t = self.tenant_id();
            let mut owners = vec![Tally::Site(self.rec.site_id)];
            owners.extend(self.rec.assignee.map(Tally::Staff));
            let now = Timestamp::now();
            for who in owners {
                if let Some(old) = &self.rec.rating {
                    self.counts.push(parley_storage::Count {
                        key: keys::bucket(t, who, hour_of(old.at)),
                        once: None,
                        event: Event::Rating {
                            score: old.score,
                            add: false,
                        },
                    });
                }
                self.counts.push(parley_storage::Count {
                    key: keys::bucket(t, who, hour_of(now)),
                    once: None,
                    event: Event::Rating { score, add: true },
                });
            }
        }
        self.rec.rating = Some(Rating {
            score,
            comment,
            at: Timestamp::now(),
        });
        if let Some((at, _)) = self.slot.closed() {
            self.slot.mark(Some(at), true);
        }
        self.rec.updated_at = Timestamp::now();
        self.write(myself, None, Vec::new(), true, Some(origin));
    }
}
