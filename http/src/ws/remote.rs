//! Sockets whose tenant another node owns (`http/CLUSTER.md`, "Routing and
//! fan-out"). Every session of a tenant runs on its owner, next to the
//! tenant's actors; a node a client happens to connect to is that socket's
//! **gateway**: it keeps the WebSocket (handshake, frames, limits, the
//! writer and its replays from the shared records) and relays whole text
//! messages over the bus.
//!
//! - In: each client message is a request to the owner
//!   (`parley.t.<tenant>.in`), answered once the owner's session has it
//!   queued, so one socket's messages arrive in order and a lost one is
//!   known at once: the gateway then closes the socket with 1012 and the
//!   client resumes.
//! - Out: the owner's session writes through a [`RelaySink`], which
//!   publishes each item on the gateway's `parley.n.<node>.out`; the
//!   gateway's [`Router`] hands it to the socket's outbox. A replay travels
//!   as its bounds and is read on the gateway, from PostgreSQL.
//! - Liveness: every [`PING_EVERY`] each gateway asks the owner of each
//!   tenant it relays for; an owner that is gone, or restarted, closes those
//!   sockets with 1012 (their clients reconnect and resume). An owner drops
//!   the sessions of a gateway it has not heard from in three rounds.
//!   After a reconnect to NATS every relayed socket closes with 1012 too:
//!   frames may have been lost meanwhile, and `resume` repairs exactly that.
//! - Tokens stay on the gateway: it reads a staff socket's `auth` and a
//!   visitor's `hello` itself, checks the token, and sends the owner what
//!   it proved ([`Claims`], [`Hello`]); the owner checks those against its
//!   records as it would a token's claims. The visitor token in `welcome`
//!   is written in by the gateway, and a token a client sends again later
//!   is blanked before it is relayed.

use super::conn::{Prelude, Sink, Socket};
use super::vouch::{blank_tokens, Claims, Fill, Hello};
use crate::bus::BusError;
use crate::state::App;
use bytes::Bytes;
use parley_actors::{ClientInfo, Out, Outbox, Replay};
use parley_engine::account::VisitorDevice;
use parley_engine::codes::close;
use parley_engine::protocol::{parse_client, ClientFrame};
use parley_engine::{ConversationId, SiteId, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How often a gateway checks the owners of what it relays.
pub const PING_EVERY: Duration = Duration::from_secs(2);
/// How long a relayed request may wait for the owner.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);
/// Client messages an owner's session holds unread before it answers busy.
const RELAYED_QUEUE: usize = 64;

/// What a gateway asks of a tenant's owner.
#[derive(Serialize, Deserialize)]
enum ToOwner {
    /// A client connected at `gateway`, signed in or greeted there.
    Open {
        gateway: String,
        session: u64,
        who: Who,
    },
    Frame {
        gateway: String,
        session: u64,
        text: Vec<u8>,
    },
    /// The client's socket closed.
    Bye { gateway: String, session: u64 },
    /// The gateway is alive and relays this tenant's sockets.
    Ping { gateway: String },
    /// A change stored through another node, for the tenant's actors.
    Tell(parley_actors::Tell),
}

/// Who a relayed socket is, as its upgrade request said and as its
/// gateway checked.
#[derive(Clone, Serialize, Deserialize)]
enum Who {
    Visitor {
        site: [u8; 16],
        ip: String,
        user_agent: String,
        language: String,
        hello: Hello,
    },
    Staff {
        ip: String,
        user_agent: String,
        claims: Claims,
    },
}

/// The owner's answer.
#[derive(Serialize, Deserialize)]
enum Answer {
    /// Taken, by this incarnation of the tenant's serving.
    Ok { incarnation: u64 },
    /// No such session here (the owner restarted or dropped it).
    Unknown,
    /// The session has too much unread: ask again shortly.
    Busy,
}

/// One item for a relayed socket.
#[derive(Serialize, Deserialize)]
struct ToGateway {
    session: u64,
    relay: Relay,
}

#[derive(Serialize, Deserialize)]
enum Relay {
    Prelude(Vec<u8>),
    Frame(Vec<u8>),
    Early(Vec<u8>),
    Replay {
        tenant: [u8; 16],
        conversation: [u8; 16],
        after: u64,
        upto: u64,
        public_only: bool,
    },
    Close(u16),
}

fn encode<T: Serialize>(v: &T) -> Bytes {
    Bytes::from(postcard::to_stdvec(v).unwrap_or_default())
}

/// The sockets this node relays, by session.
#[derive(Default)]
pub struct Router {
    next: AtomicU64,
    sessions: Mutex<HashMap<u64, Relayed>>,
}

struct Relayed {
    tenant: TenantId,
    /// The owner's serving incarnation that opened it.
    incarnation: u64,
    tx: mpsc::UnboundedSender<Relay>,
}

impl Router {
    fn register(&self, tenant: TenantId) -> (u64, mpsc::UnboundedReceiver<Relay>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(
                id,
                Relayed {
                    tenant,
                    incarnation: 0,
                    tx,
                },
            );
        }
        (id, rx)
    }

    fn opened(&self, id: u64, incarnation: u64) {
        if let Some(r) = self
            .sessions
            .lock()
            .ok()
            .as_mut()
            .and_then(|s| s.get_mut(&id))
        {
            r.incarnation = incarnation;
        }
    }

    fn forget(&self, id: u64) {
        if let Ok(mut s) = self.sessions.lock() {
            s.remove(&id);
        }
    }

    /// Closes with 1012 every relayed socket `which` picks.
    fn restart(&self, which: impl Fn(&Relayed) -> bool) {
        if let Ok(s) = self.sessions.lock() {
            for r in s.values().filter(|r| which(r)) {
                let _ = r.tx.send(Relay::Close(close::RESTART));
            }
        }
    }

    /// Relays what owners publish for this node, checks on the owners, and
    /// restarts every relayed socket after a reconnect; runs for the node's life.
    pub async fn run(app: App) {
        let Some(node) = app.cluster.as_ref() else {
            return;
        };
        let mut sub = match node.bus.outbound().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot subscribe to this node's outbound frames");
                return;
            }
        };
        let mut reconnects = node.bus.reconnects();
        reconnects.borrow_and_update();
        let mut ping = tokio::time::interval(PING_EVERY);
        use futures_util::StreamExt;
        loop {
            tokio::select! {
                m = sub.next() => {
                    let Some(m) = m else { return };
                    let Ok(g) = postcard::from_bytes::<ToGateway>(&m.payload) else { continue };
                    if let Some(r) = node.router.sessions.lock().ok().and_then(|s| s.get(&g.session).map(|r| r.tx.clone())) {
                        let _ = r.send(g.relay);
                    }
                }
                changed = reconnects.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    tracing::warn!("NATS reconnected: relayed sockets resync");
                    node.router.restart(|_| true);
                }
                _ = ping.tick() => {
                    let tenants: HashMap<TenantId, ()> = node
                        .router
                        .sessions
                        .lock()
                        .map(|s| s.values().map(|r| (r.tenant, ())).collect())
                        .unwrap_or_default();
                    for t in tenants.into_keys() {
                        let app = app.clone();
                        tokio::spawn(async move { check_owner(&app, t).await });
                    }
                }
            }
        }
    }
}

/// Asks `t`'s owner whether it still serves this node's sockets of `t`.
async fn check_owner(app: &App, t: TenantId) {
    let Some(node) = app.cluster.as_ref() else {
        return;
    };
    let ping = ToOwner::Ping {
        gateway: node.id.clone(),
    };
    let live = match node.bus.forward(t, encode(&ping), ASK_TIMEOUT).await {
        Ok(b) => match postcard::from_bytes::<Answer>(&b) {
            Ok(Answer::Ok { incarnation }) => Some(incarnation),
            _ => None,
        },
        Err(_) => None,
    };
    node.router
        .restart(|r| r.tenant == t && r.incarnation != 0 && Some(r.incarnation) != live);
}

/// The tenant of a socket opening here, when another node owns it (the
/// socket then runs as a gateway); `None` when it runs here.
pub async fn owned_elsewhere(app: &App, t: TenantId) -> Option<TenantId> {
    app.cluster.as_ref()?;
    match app.system.tenant(t).await {
        Err(parley_actors::ActorError::NotOwner) => Some(t),
        _ => None,
    }
}

/// A visitor socket on a cluster node: it runs here when this node owns
/// the site's tenant, else it is relayed to the owner. (The choice's await
/// and the relay are boxed: this future lives as long as the socket.)
pub async fn visitor(
    s: Socket,
    site: Option<parley_engine::records::SiteRecord>,
    browser: Box<super::visitor::Browser>,
    prelude: oneshot::Sender<Prelude>,
) -> u16 {
    let elsewhere = match &site {
        Some(site) => Box::pin(owned_elsewhere(&s.app, site.tenant_id)).await,
        None => None,
    };
    match (elsewhere, site) {
        (Some(t), Some(site)) => {
            let mut s = s;
            // The hello is read here, so its token stays here.
            let g = match Box::pin(super::visitor::greet(&mut s, &site)).await {
                Ok(g) => g,
                Err(code) => return code,
            };
            let (hello, fill) = Hello::checked(g, &site);
            let who = Who::Visitor {
                site: site.id.to_bytes(),
                ip: browser.ip.to_string(),
                user_agent: browser.device.user_agent.clone(),
                language: browser.device.language.clone(),
                hello,
            };
            Box::pin(gateway(s, prelude, t, who, Some(fill))).await
        }
        (_, site) => super::visitor::run(s, site, browser, prelude).await,
    }
}

/// A staff socket on a cluster node: its `auth` says whose it is; it runs
/// here when this node owns that tenant, else it is relayed to the owner.
pub async fn staff(
    mut s: Socket,
    client: Arc<ClientInfo>,
    prelude: oneshot::Sender<Prelude>,
) -> u16 {
    let app = s.app.clone();
    let wait = Duration::from_secs(app.config.limits.handshake_timeout_secs);
    let text = match tokio::time::timeout(wait, s.recv()).await {
        Err(_) => return close::UNAUTHORIZED,
        Ok(Err(code)) => return code,
        Ok(Ok(t)) => t,
    };
    // The token is checked here, and only its claims travel.
    let claims = match parse_client(&text) {
        Ok(ClientFrame::Auth { token }) => app
            .tokens
            .verify_staff(&token)
            .filter(|c| crate::app::principal::admit(&app, c).is_ok()),
        _ => None,
    };
    let elsewhere = match &claims {
        Some(c) => Box::pin(owned_elsewhere(&app, c.tid)).await,
        None => None,
    };
    match (elsewhere, claims) {
        (Some(t), Some(c)) => {
            let who = Who::Staff {
                ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
                claims: Claims::from(c),
            };
            Box::pin(gateway(s, prelude, t, who, None)).await
        }
        // Here, or refused here: the session answers for itself.
        _ => {
            s.unread(text.into_bytes());
            super::staff::run(s, client, prelude).await
        }
    }
}

/// Ends a relayed socket's registration however its session ends.
struct Relaying {
    app: App,
    tenant: TenantId,
    session: u64,
    applier: tokio::task::JoinHandle<()>,
}

impl Drop for Relaying {
    fn drop(&mut self) {
        self.applier.abort();
        let Some(node) = self.app.cluster.as_ref() else {
            return;
        };
        node.router.forget(self.session);
        let bye = ToOwner::Bye {
            gateway: node.id.clone(),
            session: self.session,
        };
        let (bus, t) = (node.bus.clone(), self.tenant);
        tokio::spawn(async move {
            let _ = bus.forward(t, encode(&bye), ASK_TIMEOUT).await;
        });
    }
}

/// Runs this node's half of a relayed socket: opens the session at the
/// owner, sends it every client message in order, and applies what it
/// relays back. Returns the close code.
async fn gateway(
    mut s: Socket,
    prelude: oneshot::Sender<Prelude>,
    t: TenantId,
    who: Who,
    fill: Option<Fill>,
) -> u16 {
    let app = s.app.clone();
    let Some(node) = app.cluster.as_ref() else {
        return close::INTERNAL_ERROR;
    };
    let (session, relays) = node.router.register(t);
    let outbox = s.outbox.clone();
    let relaying = Relaying {
        app: app.clone(),
        tenant: t,
        session,
        applier: tokio::spawn(apply(relays, outbox, prelude, fill, app.clone())),
    };
    let ask = |msg: ToOwner| {
        let bus = node.bus.clone();
        async move {
            let b = bus.forward(t, encode(&msg), ASK_TIMEOUT).await?;
            postcard::from_bytes::<Answer>(&b).map_err(|e| BusError::Nats(e.to_string()))
        }
    };
    let who_again = who.clone();
    let open = ToOwner::Open {
        gateway: node.id.clone(),
        session,
        who,
    };
    // The owner may be a moment from serving (it took the lease just now).
    let mut answer = ask(open).await;
    for _ in 0..10 {
        if !matches!(answer, Err(BusError::NoOwner)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let open = ToOwner::Open {
            gateway: node.id.clone(),
            session,
            who: who_again.clone(),
        };
        answer = ask(open).await;
    }
    match answer {
        Ok(Answer::Ok { incarnation }) => node.router.opened(session, incarnation),
        other => {
            tracing::info!(tenant = %t, ok = other.is_ok(), "the tenant's owner did not take a relayed socket");
            // Try again shortly: the owner is moving or starting.
            return close::INTERNAL_ERROR;
        }
    }
    s.opened();
    loop {
        let text = match s.recv().await {
            Ok(t) => blank_tokens(t.into_bytes()),
            Err(code) => return code,
        };
        let mut tries = 0;
        loop {
            let frame = ToOwner::Frame {
                gateway: node.id.clone(),
                session,
                text: text.clone(),
            };
            match ask(frame).await {
                Ok(Answer::Ok { .. }) => break,
                Ok(Answer::Busy) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                // Lost, refused or unknown: the client reconnects and resumes.
                _ => {
                    relaying.applier.abort();
                    return close::RESTART;
                }
            }
        }
    }
}

/// Applies what the owner relays to the local socket's outbox.
async fn apply(
    mut relays: mpsc::UnboundedReceiver<Relay>,
    outbox: Outbox,
    prelude: oneshot::Sender<Prelude>,
    fill: Option<Fill>,
    app: App,
) {
    let mut prelude = Some(prelude);
    while let Some(r) = relays.recv().await {
        match r {
            Relay::Prelude(f) => {
                let f = match &fill {
                    Some(fill) => fill.welcome(&app, f),
                    None => f,
                };
                if let Some(p) = prelude.take() {
                    let _ = p.send(Prelude {
                        frame: Bytes::from(f),
                        gone: None,
                    });
                }
            }
            Relay::Frame(f) => {
                outbox.frame(&Bytes::from(f));
            }
            Relay::Early(f) => {
                outbox.push(Out::Early(Bytes::from(f)));
            }
            Relay::Replay {
                tenant,
                conversation,
                after,
                upto,
                public_only,
            } => {
                outbox.push(Out::Replay(Box::new(Replay {
                    tenant: TenantId::from_bytes(tenant),
                    conversation: ConversationId::from_bytes(conversation),
                    after,
                    upto,
                    public_only,
                })));
            }
            Relay::Close(code) => {
                outbox.close(code);
                return;
            }
        }
    }
}

/// A session's writer on the owner, for a client connected to `gateway`:
/// each item published there.
struct RelaySink {
    bus: crate::bus::Bus,
    gateway: String,
    session: u64,
    failed: bool,
}

impl RelaySink {
    async fn send(&mut self, relay: Relay) -> bool {
        let m = ToGateway {
            session: self.session,
            relay,
        };
        if self
            .bus
            .publish_out(&self.gateway, encode(&m))
            .await
            .is_err()
        {
            self.failed = true;
        }
        !self.failed
    }
}

impl Sink for RelaySink {
    async fn item(&mut self, out: Out) -> bool {
        let relay = match out {
            Out::Frame(b) => Relay::Frame(b.to_vec()),
            Out::Early(b) => Relay::Early(b.to_vec()),
            Out::Replay(r) => Relay::Replay {
                tenant: r.tenant.to_bytes(),
                conversation: r.conversation.to_bytes(),
                after: r.after,
                upto: r.upto,
                public_only: r.public_only,
            },
            // The gateway answers pings itself; binary frames are the echo
            // endpoint's, never relayed.
            Out::Pong(_) | Out::Binary(_) => return true,
        };
        self.send(relay).await
    }

    async fn prelude(&mut self, frame: &[u8]) -> bool {
        self.send(Relay::Prelude(frame.to_vec())).await
    }

    async fn flush(&mut self) -> bool {
        !self.failed
    }

    async fn close(&mut self, code: u16) {
        self.send(Relay::Close(code)).await;
    }
}

/// Tells `t`'s running actors of a change just stored: a cast where they
/// run here, else carried to the node that owns the tenant. Nobody owning
/// it (it is moving) needs nothing: the next owner's actors read the change
/// when they start.
pub async fn tell(app: &App, t: TenantId, what: parley_actors::Tell) {
    match app.system.tenant(t).await {
        Ok(h) => {
            let _ = h.actor.cast(what.into());
        }
        Err(parley_actors::ActorError::NotOwner) => {
            let Some(node) = app.cluster.as_ref() else {
                return;
            };
            match node
                .bus
                .forward(t, encode(&ToOwner::Tell(what)), ASK_TIMEOUT)
                .await
            {
                Ok(_) | Err(BusError::NoOwner) => {}
                Err(e) => {
                    tracing::warn!(tenant = %t, error = %e, "could not tell the tenant's owner of a change")
                }
            }
        }
        Err(e) => {
            tracing::warn!(tenant = %t, error = %e, "could not reach the tenant to tell it of a change")
        }
    }
}

/// Serves the sockets other nodes relay for `t`, while this node owns it;
/// ends when the lease is lost (the task is aborted) or NATS ends it.
pub async fn serve_tenant(app: App, t: TenantId) {
    let Some(node) = app.cluster.as_ref() else {
        return;
    };
    let mut reqs = match node.bus.serve(t).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(tenant = %t, error = %e, "cannot serve the tenant on the bus");
            return;
        }
    };
    let mut incarnation = rand::random::<u64>() | 1;
    let mut sessions: HashMap<(String, u64), mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut heard: HashMap<String, Instant> = HashMap::new();
    let mut sweep = tokio::time::interval(PING_EVERY);
    let mut reconnects = node.bus.reconnects();
    reconnects.borrow_and_update();
    loop {
        let req = tokio::select! {
            r = reqs.next() => match r {
                Some(r) => r,
                None => return,
            },
            changed = reconnects.changed() => {
                if changed.is_err() {
                    return;
                }
                // Gateways restart every relayed socket after a reconnect,
                // and their goodbyes may have been lost meanwhile.
                sessions.clear();
                // A new incarnation: each gateway's next check restarts
                // what it still relays here.
                incarnation = rand::random::<u64>() | 1;
                continue;
            }
            _ = sweep.tick() => {
                // A gateway not heard from in three rounds is gone: its
                // sessions end (dropping the sender ends each).
                let stale = Instant::now() - 3 * PING_EVERY;
                heard.retain(|_, at| *at > stale);
                sessions.retain(|(g, _), tx| heard.contains_key(g) && !tx.is_closed());
                continue;
            }
        };
        let answer = match postcard::from_bytes::<ToOwner>(&req.frame) {
            Ok(ToOwner::Open {
                gateway,
                session,
                who,
            }) => {
                heard.insert(gateway.clone(), Instant::now());
                let (tx, rx) = mpsc::channel(RELAYED_QUEUE);
                sessions.insert((gateway.clone(), session), tx);
                tokio::spawn(run_relayed(app.clone(), t, gateway, session, who, rx));
                Answer::Ok { incarnation }
            }
            Ok(ToOwner::Frame {
                gateway,
                session,
                text,
            }) => match sessions.get(&(gateway, session)) {
                Some(tx) => match tx.try_send(text) {
                    Ok(()) => Answer::Ok { incarnation },
                    Err(mpsc::error::TrySendError::Full(_)) => Answer::Busy,
                    Err(mpsc::error::TrySendError::Closed(_)) => Answer::Unknown,
                },
                None => Answer::Unknown,
            },
            Ok(ToOwner::Bye { gateway, session }) => {
                sessions.remove(&(gateway, session));
                Answer::Ok { incarnation }
            }
            Ok(ToOwner::Ping { gateway }) => {
                heard.insert(gateway, Instant::now());
                Answer::Ok { incarnation }
            }
            Ok(ToOwner::Tell(what)) => {
                if let Ok(h) = app.system.tenant(t).await {
                    let _ = h.actor.cast(what.into());
                }
                Answer::Ok { incarnation }
            }
            Err(_) => Answer::Unknown,
        };
        let _ = reqs.answer(req, encode(&answer)).await;
    }
}

/// One relayed socket's session, run here for a client at `gateway`.
async fn run_relayed(
    app: App,
    t: TenantId,
    gateway: String,
    session: u64,
    who: Who,
    rx: mpsc::Receiver<Vec<u8>>,
) {
    let Some(node) = app.cluster.as_ref() else {
        return;
    };
    let l = &app.config.limits;
    let (outbox, queue) = Outbox::bounded(l.outbound_queue, l.outbound_queue_bytes);
    let (prelude_tx, prelude_rx) = oneshot::channel();
    let sink = RelaySink {
        bus: node.bus.clone(),
        gateway,
        session,
        failed: false,
    };
    let mut writer = tokio::spawn(super::conn::write_loop(
        sink,
        queue,
        prelude_rx,
        outbox.closer().clone(),
        app.shutdown.clone(),
    ));
    let socket = Socket::relayed(app.clone(), outbox.clone(), Some(rx));
    let run: std::pin::Pin<Box<dyn std::future::Future<Output = u16> + Send>> = match who {
        Who::Visitor {
            site,
            ip,
            user_agent,
            language,
            hello,
        } => {
            let site = parley_storage::AccountStore::site(&app.store, t, SiteId::from_bytes(site))
                .ok()
                .flatten();
            let browser = Box::new(super::visitor::Browser {
                ip: ip
                    .parse()
                    .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                device: VisitorDevice {
                    user_agent,
                    timezone: String::new(),
                    language,
                },
            });
            Box::pin(super::visitor::run_greeted(
                socket,
                site,
                browser,
                prelude_tx,
                hello.greeting(),
            ))
        }
        Who::Staff {
            ip,
            user_agent,
            claims,
        } => {
            let client = Arc::new(ClientInfo { ip, user_agent });
            match claims.on(t) {
                Some(c) => Box::pin(super::staff::signed_in(socket, client, prelude_tx, c)),
                None => Box::pin(async { close::UNAUTHORIZED }),
            }
        }
    };
    tokio::select! {
        code = run => {
            outbox.close(code);
            if tokio::time::timeout(Duration::from_secs(2), &mut writer).await.is_err() {
                writer.abort();
            }
        }
        _ = &mut writer => {}
    }
}
