//! The visitor session: `hello` → `welcome`, then chat frames for the
//! visitor's own conversation. Presence and pages go to the Tenant (and its
//! Visitor actor); chat frames go straight to the Conversation.

use super::conn::Prelude;
use super::conn::Socket;
use bytes::Bytes;
use parley_actors::{ask, ConvLease, ConversationMsg, Sub, SubKind, TenantMsg};
use parley_engine::account::VisitorDevice;
use parley_engine::codes::{close, error};
use parley_engine::protocol::{parse_client, ClientFrame, ConversationView, ServerFrame};
use parley_engine::records::{PageInfo, Participant, SiteRecord};
use parley_engine::validate;
use parley_engine::*;
use parley_storage::AuthStore;
use ractor::ActorRef;
use std::future::Future;
use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};

struct Session {
    s: Socket,
    tenant: ActorRef<TenantMsg>,
    site: SiteRecord,
    visitor: VisitorId,
    lease: Option<ConvLease>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(l) = &self.lease {
            l.unsubscribe(self.s.outbox.id());
        }
        let _ = self.tenant.cast(TenantMsg::VisitorBye {
            visitor: self.visitor,
            socket: self.s.outbox.id(),
        });
    }
}

fn clip(s: String, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => s[..i].to_string(),
        None => s,
    }
}

fn page(url: String, title: String, referrer: String) -> PageInfo {
    PageInfo {
        url: clip(validate::web_url(url), 2048),
        title: clip(title, 300),
        referrer: clip(validate::web_url(referrer), 2048),
    }
}

/// What a visitor's upgrade request said of their browser.
pub struct Browser {
    pub device: VisitorDevice,
    pub ip: std::net::IpAddr,
}

/// Runs a visitor connection to its end; returns the close code.
///
/// Not an `async fn`: an idle socket's task holds this future as long as
/// the socket is open, and an `async fn` would keep room for its arguments
/// (the socket, the site) and for a second copy of the session beside the
/// steady loop's. Here the handshake is boxed at once (its state is freed
/// once the visitor is in) and the steady loop owns the only session.
pub fn run(
    s: Socket,
    site: Option<SiteRecord>,
    device: Box<Browser>,
    prelude: oneshot::Sender<Prelude>,
) -> impl Future<Output = u16> + Send {
    let hello = Box::pin(hello(s, site, device, prelude, None));
    async move {
        // Taken out of the `Result` first: a `match` on the await would
        // keep the whole `Result` alive beside the steady loop.
        let v = match hello.await {
            Ok(v) => v,
            Err(code) => return code,
        };
        steady(v).await
    }
}

/// Runs a visitor connection relayed from another cluster node, whose
/// `hello` that node read and whose token it checked (`http/CLUSTER.md`:
/// the token never travels; `welcome` leaves it for that node to fill in).
pub fn run_greeted(
    s: Socket,
    site: Option<SiteRecord>,
    device: Box<Browser>,
    prelude: oneshot::Sender<Prelude>,
    greeting: Greeting,
) -> impl Future<Output = u16> + Send {
    let hello = Box::pin(hello(s, site, device, prelude, Some(greeting)));
    async move {
        // Taken out of the `Result` first: a `match` on the await would
        // keep the whole `Result` alive beside the steady loop.
        let v = match hello.await {
            Ok(v) => v,
            Err(code) => return code,
        };
        steady(v).await
    }
}

/// The visitor's frames after `welcome`. The session is the block's one
/// capture, used in place (an `async fn` would hold it twice).
#[allow(clippy::manual_async_fn)] // the point: see above
fn steady(mut v: Session) -> impl Future<Output = u16> + Send {
    // Each frame's handling is boxed too (one short-lived allocation per
    // frame): otherwise every idle socket's task would reserve room for the
    // largest frame's state machine while it waits (1.9 KiB instead of 0.9).
    async move {
        loop {
            match v.s.recv().await {
                Ok(text) => Box::pin(v.handle(&text)).await,
                Err(code) => return code,
            }
        }
    }
}

/// A visitor's `hello`, read and its token checked where the socket is.
#[derive(Debug)]
pub struct Greeting {
    /// The visitor the token names on this site, if it is genuine.
    pub known: Option<crate::auth::VisitorToken>,
    /// The token itself; `None` on a relayed socket (it stays with the gateway).
    pub token: Option<String>,
    /// The page the visitor opened, clipped.
    pub page: PageInfo,
    /// The browser's time zone, clipped.
    pub tz: String,
}

/// Reads frames until the visitor's `hello` (each other frame answered
/// with an early error), and checks its token on `site`. `Err` is the close code.
pub async fn greet(s: &mut Socket, site: &SiteRecord) -> Result<Greeting, u16> {
    let deadline =
        Instant::now() + std::time::Duration::from_secs(s.app.config.limits.handshake_timeout_secs);
    loop {
        let text = match timeout_at(deadline, s.recv()).await {
            Err(_) => return Err(close::BAD_HELLO),
            Ok(Err(code)) => return Err(code),
            Ok(Ok(t)) => t,
        };
        match parse_client(&text) {
            Ok(ClientFrame::Hello {
                visitor_token,
                page: p,
                tz,
            }) => {
                return Ok(Greeting {
                    known: visitor_token
                        .as_deref()
                        .and_then(|t| s.app.visitor_on(site, t)),
                    token: visitor_token,
                    page: page(p.url, p.title, p.referrer),
                    tz: clip(tz.unwrap_or_default(), 64),
                });
            }
            Ok(_) => {
                if !s.early_error(error::NOT_READY, "send `hello` first", None) {
                    return Err(close::BAD_HELLO);
                }
            }
            Err(e) => {
                if !s.early_error(e.code, &e.message, e.client_id.as_deref()) {
                    return Err(close::BAD_HELLO);
                }
            }
        }
    }
}

/// `hello` → `welcome`: who the visitor is, their conversation, and the
/// Tenant told of the new tab (`greeting` is the `hello` a relaying node
/// read; `None` reads it here). `Err` is the close code.
async fn hello(
    mut s: Socket,
    site: Option<SiteRecord>,
    mut browser: Box<Browser>,
    prelude: oneshot::Sender<Prelude>,
    greeting: Option<Greeting>,
) -> Result<Session, u16> {
    let Some(site) = site else {
        return Err(close::UNKNOWN_SITE);
    };
    let relayed = greeting.is_some();
    let Greeting {
        known,
        token,
        page: first_page,
        tz,
    } = match greeting {
        Some(g) => g,
        None => greet(&mut s, &site).await?,
    };
    browser.device.timezone = tz;
    let app = s.app.clone();
    if known.is_none() && !app.limiters.new_visitor(browser.ip) {
        return Err(close::TOO_MANY);
    }
    let visitor = known.map(|k| k.visitor).unwrap_or_default();
    // A token from another site starts a new visitor; one from before
    // tokens named their site is replaced by a bound one. A relayed
    // socket's gateway writes it in (it holds the token or makes it).
    let token = match (known, token) {
        _ if relayed => String::new(),
        (Some(k), Some(t)) if k.bound => t,
        _ => app.tokens.issue_visitor(site.tenant_id, site.id, visitor),
    };
    let Browser { device, ip } = *browser;
    let arrival = Box::new(parley_actors::Arrival {
        country: app.country(ip, &device.timezone),
        device,
    });
    let Ok(handle) = app.system.tenant(site.tenant_id).await else {
        return Err(close::INTERNAL_ERROR);
    };
    let timeout = app.system.ctx.cfg.call_timeout;
    let outbox = s.outbox.clone();
    // The session exists before the Tenant hears of the tab, so its drop
    // guard says goodbye however the connection ends.
    let mut v = Session {
        s,
        tenant: handle.actor.clone(),
        site,
        visitor,
        lease: None,
    };
    let reopen = first_page
        .url
        .contains(parley_engine::protocol::REOPEN_MARK);
    let Ok(hello) = ask(&v.tenant, timeout, |reply| TenantMsg::VisitorHello {
        visitor,
        site: v.site.id,
        page: first_page,
        arrival,
        outbox,
        reply,
    })
    .await
    else {
        return Err(close::INTERNAL_ERROR);
    };
    if hello.suspended {
        return Err(close::TENANT_SUSPENDED);
    }
    v.lease = hello.conversation;
    // A live conversation is joined now, for an exact `last_seq`; one that
    // sleeps is shown as stored and subscribes this tab when it wakes, so an
    // idle returning visitor keeps no conversation actor alive.
    let view = match v.lease {
        Some(_) => v.subscribe(None).await,
        None => hello.stored.as_ref().map(ConversationView::from),
    };
    let welcome = ServerFrame::Welcome {
        visitor_id: visitor,
        visitor_token: &token,
        conversation: view.as_ref(),
        agents_online: hello.agents_online,
        site: &hello.look,
        open: reopen,
    };
    v.s.opened();
    let _ = prelude.send(Prelude {
        frame: Bytes::from(welcome.to_json()),
        gone: Some(handle.gone),
    });
    Ok(v)
}

/// Whether the tenant refused a new conversation for its plan's quota.
pub(super) async fn over_quota(app: &crate::state::App, tenant: &ActorRef<TenantMsg>) -> bool {
    let timeout = app.system.ctx.cfg.call_timeout;
    ask(tenant, timeout, |reply| TenantMsg::OverQuota { reply })
        .await
        .unwrap_or(false)
}

impl Session {
    fn me(&self) -> Participant {
        Participant::visitor(self.visitor, None)
    }

    /// The visitor's conversation lease, resolving (and with `create`,
    /// opening) it through the Tenant when needed. While it is closed each
    /// frame asks the Tenant (one atomic load on the hot path otherwise): a
    /// message goes to the same one within the reopen window, else to a new
    /// conversation, which this tab then follows (as it does one staff start).
    async fn conversation(&mut self, create: bool) -> Option<ConvLease> {
        if let Some(l) = &self.lease {
            if l.actor().is_some() && l.closed().is_none() {
                return Some(l.clone());
            }
        }
        let before = self.lease.clone();
        let (visitor, site) = (self.visitor, self.site.id);
        let timeout = self.s.app.system.ctx.cfg.call_timeout;
        self.lease = ask(&self.tenant, timeout, |reply| {
            TenantMsg::VisitorConversation {
                visitor,
                site: Some(site),
                create,
                reply,
            }
        })
        .await
        .ok()
        .flatten();
        if let (Some(old), Some(new)) = (&before, &self.lease) {
            if old.id() != new.id() {
                // The closed conversation stays in the history; this tab
                // follows the visitor's new one only.
                old.unsubscribe(self.s.outbox.id());
            }
        }
        self.lease.clone()
    }

    /// Subscribes this socket to the visitor's conversation (if any),
    /// replaying after `replay_after` when given.
    async fn subscribe(&mut self, replay_after: Option<u64>) -> Option<ConversationView> {
        for _ in 0..2 {
            let lease = self.conversation(false).await?;
            let actor = lease.actor()?;
            let sub = Sub::new(self.s.outbox.clone(), SubKind::Visitor);
            let timeout = self.s.app.system.ctx.cfg.call_timeout;
            match ask(&actor, timeout, |reply| ConversationMsg::Subscribe {
                sub,
                replay_after,
                announce: false,
                reply: Some(reply),
            })
            .await
            {
                Ok(v) => return Some(v),
                Err(_) => self.lease = None,
            }
        }
        None
    }

    /// Casts `msg` to the conversation, re-resolving once if the actor was
    /// replaced; gives the message back when it could not be delivered (no
    /// conversation, or its actor is restarting).
    async fn cast(&mut self, create: bool, mut msg: ConversationMsg) -> Option<ConversationMsg> {
        for _ in 0..2 {
            let Some(l) = self.conversation(create).await else {
                return Some(msg);
            };
            match l.cast(msg) {
                None => return None,
                Some(back) => msg = back,
            }
            self.lease = None;
        }
        Some(msg)
    }

    /// Whether `id` (when given) names this visitor's own conversation.
    async fn owns(&mut self, id: Option<ConversationId>) -> bool {
        if id.is_some() {
            self.conversation(false).await;
        }
        match (id, &self.lease) {
            (None, _) => true,
            (Some(id), Some(l)) => l.id() == id,
            (Some(_), None) => false,
        }
    }

    /// `identify`: checks the fields and, when the site verifies
    /// identities, the `user_hash`; then the Tenant records it and tells
    /// the dashboards. A refusal changes nothing.
    fn identify(
        &mut self,
        name: Option<String>,
        email: Option<String>,
        user_id: Option<String>,
        user_hash: Option<String>,
    ) {
        let name = match name.as_deref().map(validate::name).transpose() {
            Ok(n) => n,
            Err(e) => return self.s.error(e.code, &e.message, None),
        };
        let email = match email.as_deref().map(validate::email).transpose() {
            Ok(e) => e,
            Err(e) => return self.s.error(e.code, &e.message, None),
        };
        let secret = match self
            .s
            .app
            .store
            .site_settings(self.site.tenant_id, self.site.id)
        {
            Ok(s) => s.identity_secret,
            Err(e) => {
                tracing::error!(error = %e, "reading site settings");
                return self.s.error(error::INTERNAL, "try again", None);
            }
        };
        if let Some(secret) = secret {
            let ok = matches!((&user_id, &user_hash), (Some(id), Some(h))
                if !id.is_empty() && crate::auth::identity_hash_ok(&secret, id, h));
            if !ok {
                return self.s.error(
                    error::IDENTITY_REFUSED,
                    "this site verifies identities: user_hash must be the HMAC-SHA256 of user_id",
                    None,
                );
            }
        }
        let _ = self.tenant.cast(TenantMsg::VisitorIdentify {
            visitor: self.visitor,
            site: self.site.id,
            name,
            email,
        });
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
                if private {
                    return self.s.error(
                        error::FORBIDDEN,
                        "visitors cannot send private notes",
                        Some(&client_id),
                    );
                }
                if !self.owns(conversation_id).await {
                    return self.s.error(
                        error::NOT_FOUND,
                        "no such conversation",
                        Some(&client_id),
                    );
                }
                let post = ConversationMsg::Post {
                    client_id,
                    body,
                    private: false,
                    from: self.me(),
                    origin: self.s.outbox.clone(),
                };
                if let Some(post) = self.cast(true, post).await {
                    if self.lease.is_none() && over_quota(&self.s.app, &self.tenant).await {
                        self.s.error(
                            error::QUOTA_EXCEEDED,
                            "we cannot start a new chat right now; please leave a message instead",
                            post.client_id(),
                        );
                    } else {
                        self.s.error(
                            error::INTERNAL,
                            "the conversation could not be opened; re-send",
                            post.client_id(),
                        );
                    }
                }
            }
            ClientFrame::Typing {
                conversation_id,
                on,
            } => {
                if self.owns(conversation_id).await {
                    let from = self.me();
                    self.cast(false, ConversationMsg::Typing { from, on, origin })
                        .await;
                }
            }
            ClientFrame::Read {
                conversation_id,
                seq,
            } => {
                if self.owns(conversation_id).await {
                    let by = self.me();
                    self.cast(false, ConversationMsg::Read { by, seq, origin })
                        .await;
                }
            }
            ClientFrame::Resume {
                conversation_id,
                after_seq,
            } => {
                if !self.owns(Some(conversation_id)).await
                    || self.subscribe(Some(after_seq)).await.is_none()
                {
                    self.s.error(error::NOT_FOUND, "no such conversation", None);
                }
            }
            ClientFrame::Page {
                url,
                title,
                referrer,
            } => {
                let _ = self.tenant.cast(TenantMsg::VisitorPage {
                    visitor: self.visitor,
                    socket: origin,
                    page: page(url, title, referrer),
                });
            }
            ClientFrame::Identify {
                name,
                email,
                user_id,
                user_hash,
            } => self.identify(name, email, user_id, user_hash),
            ClientFrame::Rate {
                conversation_id,
                score,
                comment,
            } => {
                if let Err(e) = validate::rating(score, &comment) {
                    return self.s.error(e.code, &e.message, None);
                }
                if !self.owns(conversation_id).await {
                    return self.s.error(error::NOT_FOUND, "no such conversation", None);
                }
                let origin = self.s.outbox.clone();
                let rate = ConversationMsg::Rate {
                    score,
                    comment,
                    origin,
                };
                if self.cast(false, rate).await.is_some() {
                    self.s
                        .error(error::NOT_FOUND, "there is no conversation to rate", None);
                }
            }
            ClientFrame::Ping => self.s.send(&ServerFrame::Pong),
            ClientFrame::Hello { .. } => {
                self.s
                    .error(error::INVALID, "this socket already said hello", None)
            }
            ClientFrame::Auth { .. }
            | ClientFrame::Claim { .. }
            | ClientFrame::Close { .. }
            | ClientFrame::Reopen { .. }
            | ClientFrame::Transfer { .. }
            | ClientFrame::Availability { .. }
            | ClientFrame::Start { .. } => {
                self.s
                    .error(error::FORBIDDEN, "that frame is for staff sockets", None)
            }
        }
    }
}
