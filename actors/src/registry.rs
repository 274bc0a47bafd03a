//! The top of the tree: `Root` supervises the `TenantRegistry`, which spawns
//! and looks up `Tenant` actors on demand, and the outbox drainer.
//!
//! Supervision policy: a Tenant that fails is forgotten and started afresh
//! on the next request for it (its state is rebuilt from storage and from
//! sockets reconnecting). If the registry itself fails, Root starts a new
//! one and publishes it where the edge looks it up; likewise the outbox
//! drainer (its work is all in storage, so a fresh one picks it up).

use crate::drain::{DrainArgs, DrainMsg, Drainer};
use crate::mailer::MailerConfig;
use crate::tenant::{Tenant, TenantArgs, TenantMsg};
use crate::{ActorError, Ctx};
use parley_engine::TenantId;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

/// A live Tenant actor and a signal that flips to `true` when that
/// incarnation is gone (stopped or crashed): sockets holding it then close
/// with 1012 so their clients reconnect to the Tenant's successor.
#[derive(Clone)]
pub struct TenantHandle {
    pub actor: ActorRef<TenantMsg>,
    pub gone: watch::Receiver<bool>,
}

/// Messages the registry handles.
pub enum RegistryMsg {
    /// The live Tenant actor for `tenant`, started if needed (on a cluster
    /// node, only once it holds the tenant's lease).
    Get {
        tenant: TenantId,
        reply: RpcReplyPort<Result<TenantHandle, ActorError>>,
    },
    /// The node lost `tenant`'s lease: its actors stop (their sockets get
    /// 1012 and reconnect, to whichever node owns it next), then the keeper
    /// hears it is settled.
    Lost { tenant: TenantId },
}

/// The registry actor.
pub struct TenantRegistry;

/// The registry's state.
pub struct RegistryState {
    ctx: Arc<Ctx>,
    tenants: HashMap<TenantId, (TenantHandle, watch::Sender<bool>)>,
    by_actor: HashMap<ActorId, TenantId>,
    /// Tenants whose lease was lost, stopping: settled once they have.
    settling: std::collections::HashSet<TenantId>,
}

impl Actor for TenantRegistry {
    type Msg = RegistryMsg;
    type State = RegistryState;
    type Arguments = Arc<Ctx>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<Ctx>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(RegistryState {
            ctx,
            tenants: HashMap::new(),
            by_actor: HashMap::new(),
            settling: Default::default(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RegistryMsg::Lost { tenant } => match state.tenants.get(&tenant) {
                Some((h, _)) => {
                    tracing::warn!(tenant = %tenant, "lease lost: stopping the tenant's actors here");
                    state.settling.insert(tenant);
                    h.actor.stop(Some("lease lost".into()));
                }
                None => {
                    if let Some(k) = &state.ctx.keeper {
                        k.settled(tenant);
                    }
                }
            },
            RegistryMsg::Get { tenant, reply } => {
                if let Some((h, _)) = state.tenants.get(&tenant) {
                    let _ = reply.send(Ok(h.clone()));
                    return Ok(());
                }
                if state.settling.contains(&tenant) {
                    let _ = reply.send(Err(ActorError::NotOwner));
                    return Ok(());
                }
                if let Some(k) = &state.ctx.keeper {
                    match k.acquire(tenant).await {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            let _ = reply.send(Err(ActorError::NotOwner));
                            return Ok(());
                        }
                        Err(e) => {
                            let why = parley_storage::postgres::describe(&e);
                            let _ = reply.send(Err(ActorError::Other(why)));
                            return Ok(());
                        }
                    }
                }
                let (t, _) = Actor::spawn_linked(
                    None,
                    Tenant,
                    TenantArgs {
                        ctx: state.ctx.clone(),
                        id: tenant,
                    },
                    myself.get_cell(),
                )
                .await?;
                state.by_actor.insert(t.get_id(), tenant);
                let (tx, gone) = watch::channel(false);
                let handle = TenantHandle { actor: t, gone };
                state.tenants.insert(tenant, (handle.clone(), tx));
                let _ = reply.send(Ok(handle));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failed) = match evt {
            SupervisionEvent::ActorTerminated(c, _, _) => (c, false),
            SupervisionEvent::ActorFailed(c, err) => {
                tracing::error!(error = %err, "tenant actor failed");
                (c, true)
            }
            _ => return Ok(()),
        };
        if let Some(t) = state.by_actor.remove(&cell.get_id()) {
            if failed {
                metrics::counter!("parley_actor_restarts_total", "kind" => "tenant").increment(1);
            }
            if let Some((_, gone)) = state.tenants.remove(&t) {
                let _ = gone.send(true);
            }
            if state.settling.remove(&t) {
                if let Some(k) = &state.ctx.keeper {
                    k.settled(t);
                }
            }
        }
        Ok(())
    }
}

/// Root supervisor messages (it only supervises).
pub enum RootMsg {}

/// The root supervisor.
pub struct Root;

/// Root's state: where it publishes the current registry and deliverer.
pub struct RootState {
    ctx: Arc<Ctx>,
    registry: Arc<RwLock<Option<ActorRef<RegistryMsg>>>>,
    mail: Option<Arc<MailerConfig>>,
    drainer: Arc<RwLock<Option<ActorRef<DrainMsg>>>>,
}

/// Root's arguments.
pub struct RootArgs {
    pub ctx: Arc<Ctx>,
    pub registry: Arc<RwLock<Option<ActorRef<RegistryMsg>>>>,
    /// `None`: no SMTP server is configured and mail stays queued.
    pub mail: Option<Arc<MailerConfig>>,
    pub drainer: Arc<RwLock<Option<ActorRef<DrainMsg>>>>,
}

impl Root {
    async fn start_registry(
        myself: &ActorRef<RootMsg>,
        state: &RootState,
    ) -> Result<(), ActorProcessingErr> {
        let (r, _) =
            Actor::spawn_linked(None, TenantRegistry, state.ctx.clone(), myself.get_cell()).await?;
        *state.registry.write().unwrap_or_else(|e| e.into_inner()) = Some(r);
        Ok(())
    }

    async fn start_drainer(
        myself: &ActorRef<RootMsg>,
        state: &RootState,
    ) -> Result<(), ActorProcessingErr> {
        let args = DrainArgs {
            ctx: state.ctx.clone(),
            mail: state.mail.clone(),
        };
        let (d, _) = Actor::spawn_linked(None, Drainer, args, myself.get_cell()).await?;
        *state.drainer.write().unwrap_or_else(|e| e.into_inner()) = Some(d);
        Ok(())
    }
}

impl Actor for Root {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: RootArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let state = RootState {
            ctx: args.ctx,
            registry: args.registry,
            mail: args.mail,
            drainer: args.drainer,
        };
        Root::start_registry(&myself, &state).await?;
        Root::start_drainer(&myself, &state).await?;
        Ok(state)
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, err) = evt {
            let is_drainer = state
                .drainer
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|m| m.get_id() == cell.get_id());
            if is_drainer {
                tracing::error!(error = %err, "outbox drainer failed; restarting it");
                metrics::counter!("parley_actor_restarts_total", "kind" => "outbox").increment(1);
                Root::start_drainer(&myself, state).await?;
            } else {
                tracing::error!(error = %err, "tenant registry failed; restarting it");
                metrics::counter!("parley_actor_restarts_total", "kind" => "registry").increment(1);
                Root::start_registry(&myself, state).await?;
            }
        }
        Ok(())
    }
}
