//! The staff session: `auth` → `ready`, then chat and conversation commands
//! on any conversation of the tenant. Every command is checked by the one
//! permission function (inside the Conversation) and tenant isolation is
//! structural: conversations are only looked up within the staff member's
//! own Tenant, so another tenant's id answers `not_found`.

use super::conn::Prelude;
use super::conn::Socket;
use bytes::Bytes;
use parley_actors::{
    ask, ClientInfo, ConvLease, ConversationMsg, StaffActor, StaffCommand, Sub, SubKind, TenantMsg,
};
use parley_engine::codes::{close, error};
use parley_engine::conversation::Status;
use parley_engine::protocol::{
    parse_client, ClientFrame, ConversationView, ServerFrame, StaffView,
};
use parley_engine::records::{Participant, StaffRecord};
use parley_engine::*;
use parley_storage::{AccountStore, ConversationStore, DeskStore};
use ractor::ActorRef;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};

/// Most conversations the `ready` frame lists.
const READY_CONVERSATIONS: usize = 500;
/// Most conversation leases one socket keeps.
const MAX_LEASES: usize = 256;

struct Session {
    s: Socket,
    tenant: ActorRef<TenantMsg>,
    staff: StaffRecord,
    client: Arc<ClientInfo>,
    leases: HashMap<ConversationId, ConvLease>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for l in self.leases.values() {
            l.unsubscribe(self.s.outbox.id());
        }
        let _ = self.tenant.cast(TenantMsg::StaffLeave {
            staff: self.staff.id,
            socket: self.s.outbox.id(),
        });
    }
}

/// Runs a staff connection to its end; returns the close code.
pub async fn run(mut s: Socket, client: Arc<ClientInfo>, prelude: oneshot::Sender<Prelude>) -> u16 {
    let deadline =
        Instant::now() + std::time::Duration::from_secs(s.app.config.limits.handshake_timeout_secs);
    let text = match timeout_at(deadline, s.recv()).await {
        Err(_) => return close::UNAUTHORIZED,
        Ok(Err(code)) => return code,
        Ok(Ok(t)) => t,
    };
    let Ok(ClientFrame::Auth { token }) = parse_client(&text) else {
        return close::UNAUTHORIZED;
    };
    let Some(claims) = s.app.tokens.verify_staff(&token) else {
        return close::UNAUTHORIZED;
    };
    signed_in(s, client, prelude, claims).await
}

/// Runs a staff connection whose access token was checked, here or by the
/// cluster node that relays it (`http/CLUSTER.md`: only the token's claims
/// travel); the claims are checked against the records here all the same.
pub async fn signed_in(
    s: Socket,
    client: Arc<ClientInfo>,
    prelude: oneshot::Sender<Prelude>,
    claims: crate::auth::StaffClaims,
) -> u16 {
    let app = s.app.clone();
    // The checks REST's bearer tokens go through too.
    let (staff, sid) = match crate::app::principal::admit(&app, &claims) {
        Ok(found) => found,
        Err(e) if e.code == parley_engine::codes::error::TENANT_SUSPENDED => {
            return close::TENANT_SUSPENDED
        }
        Err(_) => return close::UNAUTHORIZED,
    };
    let Ok(handle) = app.system.tenant(staff.tenant_id).await else {
        return close::INTERNAL_ERROR;
    };
    let (outbox, record) = (s.outbox.clone(), staff.clone());
    let timeout = app.system.ctx.cfg.call_timeout;
    // The session exists before the Tenant hears of the socket, so its drop
    // guard says goodbye however the connection ends.
    let mut session = Session {
        s,
        tenant: handle.actor.clone(),
        staff,
        client,
        leases: HashMap::new(),
    };
    // Join first, then read: a change made after the snapshot is queued behind `ready`.
    let Ok((visitors, visitors_online)) =
        ask(&session.tenant, timeout, |reply| TenantMsg::StaffJoin {
            staff: record,
            session: sid,
            outbox,
            reply,
        })
        .await
    else {
        return close::INTERNAL_ERROR;
    };
    let open = |c: &parley_engine::records::ConversationRecord| c.status != Status::Closed;
    let conversations: Vec<ConversationView> =
        match app
            .store
            .conversations(session.staff.tenant_id, READY_CONVERSATIONS, &open)
        {
            Ok(list) => list.iter().map(ConversationView::from).collect(),
            Err(e) => {
                tracing::error!(error = %e, "reading conversations for ready");
                return close::INTERNAL_ERROR;
            }
        };
    let mut me = StaffView::from(&session.staff);
    me.timezone = app
        .store
        .staff_prefs(session.staff.tenant_id, session.staff.id)
        .ok()
        .map(|p| p.timezone)
        .filter(|tz| !tz.is_empty());
    let ready = ServerFrame::Ready {
        staff: &me,
        conversations: &conversations,
        visitors: &visitors,
        visitors_online,
    };
    session.s.opened();
    let _ = prelude.send(Prelude {
        frame: Bytes::from(ready.to_json()),
        gone: Some(handle.gone),
    });
    loop {
        match session.s.recv().await {
            Ok(text) => session.handle(&text).await,
            Err(code) => return code,
        }
    }
}

impl Session {
    fn me(&self) -> Participant {
        Participant::staff(self.staff.id, self.staff.name.clone())
    }

    fn actor(&self) -> StaffActor {
        StaffActor {
            id: self.staff.id,
            name: self.staff.name.clone(),
            role: self.staff.role,
            client: self.client.clone(),
        }
    }

    /// A lease on conversation `id` of this tenant; `None` if it does not exist.
    async fn lease(&mut self, id: ConversationId) -> Option<ConvLease> {
        if let Some(l) = self.leases.get(&id) {
            if l.actor().is_some() {
                return Some(l.clone());
            }
        }
        let timeout = self.s.app.system.ctx.cfg.call_timeout;
        let l = ask(&self.tenant, timeout, |reply| TenantMsg::GetConversation {
            id,
            reply,
        })
        .await
        .ok()
        .flatten()?;
        if self.leases.len() >= MAX_LEASES {
            let socket = self.s.outbox.id();
            self.leases.retain(|_, l| l.slot_subscribed(socket));
        }
        self.leases.insert(id, l.clone());
        Some(l)
    }

    /// Casts to conversation `id`, re-resolving once if its actor was
    /// replaced; answers `not_found` when there is no such conversation.
    async fn cast(&mut self, id: ConversationId, mut msg: ConversationMsg) {
        for _ in 0..2 {
            let Some(l) = self.lease(id).await else {
                return self
                    .s
                    .error(error::NOT_FOUND, "no such conversation", msg.client_id());
            };
            match l.cast(msg) {
                None => return,
                Some(back) => msg = back,
            }
            self.leases.remove(&id);
        }
        self.s.error(
            error::INTERNAL,
            "the conversation is restarting; retry",
            msg.client_id(),
        );
    }

    async fn handle(&mut self, text: &str) {
        let Some(frame) = self.s.accept(text) else {
            return;
        };
        let origin = self.s.outbox.id();
        match frame {
            ClientFrame::Send {
                client_id,
                body,
                conversation_id,
                private,
            } => {
                if !self.s.valid_send(&client_id, &body) {
                    return;
                }
                let Some(id) = conversation_id else {
                    return self.s.error(
                        error::INVALID,
                        "staff messages need a conversation_id",
                        Some(&client_id),
                    );
                };
                let post = ConversationMsg::Post {
                    client_id,
                    body,
                    private,
                    from: self.me(),
                    origin: self.s.outbox.clone(),
                };
                self.cast(id, post).await;
            }
            ClientFrame::Typing {
                conversation_id,
                on,
            } => {
                let Some(id) = conversation_id else {
                    return self
                        .s
                        .error(error::INVALID, "typing needs a conversation_id", None);
                };
                let from = self.me();
                self.cast(id, ConversationMsg::Typing { from, on, origin })
                    .await;
            }
            ClientFrame::Read {
                conversation_id,
                seq,
            } => {
                let Some(id) = conversation_id else {
                    return self
                        .s
                        .error(error::INVALID, "read needs a conversation_id", None);
                };
                let by = self.me();
                self.cast(id, ConversationMsg::Read { by, seq, origin })
                    .await;
            }
            ClientFrame::Resume {
                conversation_id,
                after_seq,
            } => {
                let Some(l) = self.lease(conversation_id).await else {
                    return self.s.error(error::NOT_FOUND, "no such conversation", None);
                };
                let Some(actor) = l.actor() else {
                    return self.s.error(
                        error::INTERNAL,
                        "the conversation is restarting; retry",
                        None,
                    );
                };
                let sub = Sub::new(self.s.outbox.clone(), SubKind::Staff(self.staff.id));
                let timeout = self.s.app.system.ctx.cfg.call_timeout;
                if ask(&actor, timeout, |reply| ConversationMsg::Subscribe {
                    sub,
                    replay_after: Some(after_seq),
                    announce: false,
                    reply: Some(reply),
                })
                .await
                .is_err()
                {
                    self.leases.remove(&conversation_id);
                    self.s.error(
                        error::INTERNAL,
                        "the conversation is restarting; retry",
                        None,
                    );
                }
            }
            ClientFrame::Claim { conversation_id } => {
                self.command(conversation_id, StaffCommand::Claim).await
            }
            ClientFrame::Close { conversation_id } => {
                self.command(conversation_id, StaffCommand::Close).await
            }
            ClientFrame::Reopen { conversation_id } => {
                self.command(conversation_id, StaffCommand::Reopen).await
            }
            ClientFrame::Transfer {
                conversation_id,
                to_staff_id,
            } => {
                let to = match self.s.app.store.staff(self.staff.tenant_id, to_staff_id) {
                    Ok(Some(st)) if st.active => st,
                    Ok(_) => return self.s.error(error::NOT_FOUND, "no such staff member", None),
                    Err(e) => {
                        tracing::error!(error = %e, "reading staff");
                        return self.s.error(error::INTERNAL, "could not read staff", None);
                    }
                };
                let cmd = StaffCommand::Transfer {
                    to: to.id,
                    to_name: to.name,
                };
                self.command(conversation_id, cmd).await;
            }
            ClientFrame::Start {
                visitor_id,
                client_id,
                body,
            } => self.start(visitor_id, client_id, body).await,
            ClientFrame::Availability { status } => {
                let _ = self.tenant.cast(TenantMsg::SetAvailability {
                    staff: self.staff.id,
                    availability: status,
                });
            }
            ClientFrame::Ping => self.s.send(&ServerFrame::Pong),
            ClientFrame::Auth { .. } => {
                self.s
                    .error(error::INVALID, "this socket is already authenticated", None)
            }
            ClientFrame::Hello { .. }
            | ClientFrame::Page { .. }
            | ClientFrame::Identify { .. }
            | ClientFrame::Rate { .. } => {
                self.s
                    .error(error::FORBIDDEN, "that frame is for visitor sockets", None)
            }
        }
    }

    /// A proactive message: the visitor's conversation (opened if need be)
    /// is engaged by this staff member, then the message is posted.
    async fn start(&mut self, visitor: VisitorId, client_id: String, body: String) {
        if !self.s.valid_send(&client_id, &body) {
            return;
        }
        let timeout = self.s.app.system.ctx.cfg.call_timeout;
        let lease = ask(&self.tenant, timeout, |reply| {
            TenantMsg::VisitorConversation {
                visitor,
                site: None,
                create: true,
                reply,
            }
        })
        .await;
        let l = match lease {
            Ok(Some(l)) => l,
            Ok(None) if super::visitor::over_quota(&self.s.app, &self.tenant).await => {
                return self.s.error(
                    error::QUOTA_EXCEEDED,
                    "the plan allows no more conversations this month",
                    Some(&client_id),
                )
            }
            Ok(None) => {
                return self
                    .s
                    .error(error::NOT_FOUND, "no such visitor", Some(&client_id))
            }
            Err(_) => {
                return self.s.error(
                    error::INTERNAL,
                    "could not open the conversation; retry",
                    Some(&client_id),
                )
            }
        };
        let id = l.id();
        self.leases.insert(id, l);
        let engage = ConversationMsg::Engage {
            by: self.actor(),
            origin: self.s.outbox.clone(),
        };
        self.cast(id, engage).await;
        let post = ConversationMsg::Post {
            client_id,
            body,
            private: false,
            from: self.me(),
            origin: self.s.outbox.clone(),
        };
        self.cast(id, post).await;
    }

    async fn command(&mut self, id: ConversationId, cmd: StaffCommand) {
        let command = ConversationMsg::Command {
            cmd,
            by: self.actor(),
            origin: self.s.outbox.clone(),
        };
        self.cast(id, command).await;
    }
}
