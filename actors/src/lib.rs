//! Parley's actors: the live state of tenants, conversations, visitors and
//! staff, as ractor actors under supervisors.
//!
//! ```text
//! Root ─┬─ TenantRegistry ── Tenant(t) ─┬─ Conversation(c)
//!       │                               ├─ Visitor(v)
//!       │                               ├─ Staff(s)
//!       │                               ├─ Bookings (consultations' one writer)
//!       │                               └─ Billing (the subscription's one writer)
//!       └─ Drainer (the outbox: mail over SMTP, webhooks over HTTP, fair across tenants)
//! ```
//! The storage writer is a dedicated thread (see `parley_storage::writer`).
//! The edge talks to [`System`]: it resolves a Tenant, then holds leases on
//! conversations and pushes frames through [`Outbox`]es.
#![forbid(unsafe_code)]

pub mod billing;
pub mod bookings;
pub mod conversation;
pub mod drain;
pub mod hooks;
pub mod mailer;
pub mod outbox;
pub mod registry;
pub mod slot;
pub mod staff;
pub mod tenant;
pub mod visitor;

pub use conversation::{ClientInfo, ConversationMsg, StaffActor, StaffCommand};
pub use outbox::{CloseSignal, Inbox, Out, Outbox, Replay};
pub use registry::TenantHandle;
pub use slot::{ConvLease, Sub, SubKind};
pub use staff::StaffMsg;
pub use tenant::{Arrival, HelloReply, Tell, TenantMsg};

use parley_engine::TenantId;
use parley_storage::{Store, Writer};
use ractor::{Actor, ActorRef};
use registry::{RegistryMsg, Root, RootArgs, RootMsg};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Tuning for the actors.
#[derive(Clone, Debug)]
pub struct ActorConfig {
    /// A conversation with no subscribers, leases or writes for this long passivates.
    pub conversation_idle: Duration,
    /// A visitor actor with no events for this long passivates.
    pub visitor_idle: Duration,
    /// Most writes one conversation keeps in flight before answering `overloaded`.
    pub max_inflight: usize,
    /// Timeout for calls from the edge into actors.
    pub call_timeout: Duration,
    /// A visitor with an email who leaves with a conversation open is
    /// watched this long before staff replies are mailed to them.
    pub missed_reply_after: Duration,
    /// A conversation with no staff answer for this long counts as missed.
    pub missed_after: Duration,
    /// The plans, free first; none: no plan limits at all.
    pub plans: Vec<parley_engine::plans::Plan>,
    /// How many outbox deliveries run at once, per tenant and in all.
    pub drain: drain::DrainLimits,
    /// Seconds after a close within which a new message reopens the
    /// conversation instead of starting a new one (0: always a new one).
    pub reopen_window_secs: u64,
}

impl Default for ActorConfig {
    fn default() -> Self {
        Self {
            conversation_idle: Duration::from_secs(60),
            visitor_idle: Duration::from_secs(30),
            max_inflight: 1024,
            call_timeout: Duration::from_secs(5),
            missed_reply_after: Duration::from_secs(300),
            missed_after: Duration::from_secs(300),
            plans: Vec::new(),
            drain: drain::DrainLimits::default(),
            reopen_window_secs: 0,
        }
    }
}

/// What every actor shares: storage, the writer, tuning.
pub struct Ctx {
    pub store: Store,
    pub writer: Writer,
    pub cfg: ActorConfig,
    /// Webhook endpoints by tenant and how deliveries go out.
    pub hooks: hooks::Hooks,
    /// A cluster node's leases: a Tenant's actors run here only while this
    /// node holds its lease (`http/CLUSTER.md`). `None` on a single node.
    pub keeper: Option<Arc<parley_storage::postgres::keeper::Keeper>>,
}

impl Ctx {
    /// Whether this node acts for `t` now: always on a single node; on a
    /// cluster node while it holds `t`'s lease, taken here if nobody does.
    /// Background work (mail, webhooks, reminders, campaigns, sweeps) runs
    /// for a tenant only where this is true, so two nodes never both do it.
    pub async fn serves(&self, t: TenantId) -> bool {
        match &self.keeper {
            None => true,
            Some(k) => matches!(k.acquire(t).await, Ok(Some(_))),
        }
    }
}

/// Errors calling into the actor system.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    #[error("the actor system is not running")]
    Down,
    #[error("an actor did not answer in time")]
    Timeout,
    #[error("actor: {0}")]
    Other(String),
    /// Another node of the cluster holds the tenant's lease (or it is
    /// settling after a loss here): its actors cannot run on this node now.
    #[error("this node does not own the tenant now")]
    NotOwner,
}

/// Calls `actor` with a request built around a reply port, with the timeout.
pub async fn ask<M, T>(
    actor: &ActorRef<M>,
    timeout: Duration,
    build: impl FnOnce(ractor::RpcReplyPort<T>) -> M,
) -> Result<T, ActorError>
where
    M: ractor::Message,
    T: Send + 'static,
{
    match actor.call(build, Some(timeout)).await {
        Ok(ractor::rpc::CallResult::Success(v)) => Ok(v),
        Ok(ractor::rpc::CallResult::Timeout) => Err(ActorError::Timeout),
        Ok(ractor::rpc::CallResult::SenderError) => Err(ActorError::Other("no answer".into())),
        Err(e) => Err(ActorError::Other(e.to_string())),
    }
}

/// The running actor system.
pub struct System {
    pub ctx: Arc<Ctx>,
    root: ActorRef<RootMsg>,
    root_handle: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    registry: Arc<RwLock<Option<ActorRef<RegistryMsg>>>>,
    drainer: Arc<RwLock<Option<ActorRef<drain::DrainMsg>>>>,
}

impl System {
    /// Starts Root and the registry, with no mail deliverer.
    pub async fn start(ctx: Arc<Ctx>) -> Result<Self, ActorError> {
        Self::start_with_mail(ctx, None).await
    }

    /// Starts Root, the registry and, when `mail` is given, the deliverer.
    pub async fn start_with_mail(
        ctx: Arc<Ctx>,
        mail: Option<Arc<mailer::MailerConfig>>,
    ) -> Result<Self, ActorError> {
        let registry = Arc::new(RwLock::new(None));
        let drainer = Arc::new(RwLock::new(None));
        let (root, root_handle) = Actor::spawn(
            None,
            Root,
            RootArgs {
                ctx: ctx.clone(),
                registry: registry.clone(),
                mail,
                drainer: drainer.clone(),
            },
        )
        .await
        .map_err(|e| ActorError::Other(e.to_string()))?;
        Ok(Self {
            ctx,
            root,
            root_handle: std::sync::Mutex::new(Some(root_handle)),
            registry,
            drainer,
        })
    }

    /// Tells the outbox drainer that mail was queued (it also looks every
    /// second, so a lost poke only delays).
    pub fn poke_mail(&self) {
        let m = self
            .drainer
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(m) = m {
            let _ = m.cast(drain::DrainMsg::Poke);
        }
    }

    /// The live Tenant actor for `t`, with its gone signal.
    pub async fn tenant(&self, t: TenantId) -> Result<TenantHandle, ActorError> {
        let reg = self
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(ActorError::Down)?;
        ask(&reg, self.ctx.cfg.call_timeout, |reply| RegistryMsg::Get {
            tenant: t,
            reply,
        })
        .await?
    }

    /// Stops `t`'s actors here: its lease was lost ([`RegistryMsg::Lost`]).
    pub fn lease_lost(&self, t: TenantId) {
        let reg = self
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match reg {
            Some(reg) => {
                let _ = reg.cast(RegistryMsg::Lost { tenant: t });
            }
            None => {
                if let Some(k) = &self.ctx.keeper {
                    k.settled(t);
                }
            }
        }
    }

    /// The Bookings actor of tenant `t`: the one writer of its consultations.
    pub async fn bookings(
        &self,
        t: TenantId,
    ) -> Result<ActorRef<bookings::BookingsMsg>, ActorError> {
        let tenant = self.tenant(t).await?;
        ask(&tenant.actor, self.ctx.cfg.call_timeout, |reply| {
            TenantMsg::Bookings { reply }
        })
        .await
    }

    /// The Billing actor of tenant `t`: the one writer of its subscription.
    pub async fn billing(&self, t: TenantId) -> Result<ActorRef<billing::BillingMsg>, ActorError> {
        let tenant = self.tenant(t).await?;
        ask(&tenant.actor, self.ctx.cfg.call_timeout, |reply| {
            TenantMsg::Billing { reply }
        })
        .await
    }

    /// Stops every actor (children first) and waits for Root to finish.
    pub async fn stop(&self) {
        self.root
            .stop_children_and_wait(None, Some(Duration::from_secs(5)))
            .await;
        self.root.stop(None);
        let handle = self
            .root_handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.await;
        }
    }
}
