//! Billing(t): the one writer of a tenant's subscription. The payment
//! provider delivers each event at least once, in any order and sometimes
//! several times at once; the operator can set a plan meanwhile. Every one
//! of those passes through this actor, one at a time, on the node that owns
//! the tenant, so "was this event seen, is it older than the last one
//! applied, apply it, mark it seen" is one step and one durable batch:
//! four concurrent deliveries of one event id are applied once, and a
//! retry of an old update after a deletion changes nothing (the rule is
//! `parley_engine::billing::decide`).

use parley_engine::account::AuditRecord;
use parley_engine::billing::{decide, ProviderEvent, Skip};
use parley_engine::plans::{BillingStatus, Subscription};
use parley_engine::{TenantId, Timestamp};
use parley_storage::{AuthStore, WriteBatch};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::time::Duration;

use crate::Ctx;

/// What became of a provider event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Applied: the subscription it made.
    Applied(Subscription),
    /// Its id was handled before: nothing changed.
    Duplicate,
    /// Out of order or about another subscription: marked seen, nothing
    /// else changed.
    Skipped(Skip),
}

/// Messages the actor handles. `audit` is the record the edge prepared
/// (who, from where); the actor fills in what changed and writes it with
/// the change.
pub enum BillingMsg {
    /// Applies a provider event once, in order.
    Event {
        event: Box<ProviderEvent>,
        grace: Duration,
        audit: Box<AuditRecord>,
        reply: RpcReplyPort<Result<Handled, String>>,
    },
    /// The operator puts the tenant on `plan` at once.
    SetPlan {
        plan: String,
        audit: Box<AuditRecord>,
        reply: RpcReplyPort<Result<Subscription, String>>,
    },
}

/// Start-up arguments.
pub struct BillingArgs {
    pub ctx: Arc<Ctx>,
    pub tenant: TenantId,
}

/// The actor.
pub struct Billing;

/// Whose subscription.
pub struct BillingState {
    ctx: Arc<Ctx>,
    tenant: TenantId,
}

/// The audit log's `changes` for a plan change.
fn changes(old: &Subscription, new: &Subscription) -> String {
    serde_json::json!({
        "plan": [old.plan, new.plan],
        "status": [old.status, new.status],
        "next_plan": [old.next_plan, new.next_plan],
    })
    .to_string()
}

impl BillingState {
    async fn event(
        &self,
        ev: &ProviderEvent,
        grace: Duration,
        mut audit: AuditRecord,
    ) -> parley_storage::Result<Handled> {
        let store = &self.ctx.store;
        if store.billing_event_seen(&ev.id)? {
            return Ok(Handled::Duplicate);
        }
        let now = Timestamp::now();
        let old = store.subscription(self.tenant)?;
        let order = store.billing_order(self.tenant)?;
        let mut b = WriteBatch::new();
        store.put_billing_event(&mut b, &ev.id, now);
        let plans = &self.ctx.cfg.plans;
        let handled = match decide(&old, &order, ev, plans, now, grace) {
            Ok(applied) => {
                store.put_subscription(&mut b, self.tenant, &applied.subscription);
                store.put_billing_order(&mut b, self.tenant, &applied.order);
                audit.changes = changes(&old, &applied.subscription);
                store.append_audit(&mut b, &audit);
                Handled::Applied(applied.subscription)
            }
            Err(skip) => Handled::Skipped(skip),
        };
        self.ctx.writer.write(b).await?;
        Ok(handled)
    }

    async fn set_plan(
        &self,
        plan: String,
        mut audit: AuditRecord,
    ) -> parley_storage::Result<Subscription> {
        let store = &self.ctx.store;
        let old = store.subscription(self.tenant)?;
        let new = Subscription {
            plan,
            next_plan: None,
            grace_until: None,
            status: BillingStatus::Active,
            updated_at: Some(Timestamp::now()),
            ..old.clone()
        };
        let mut b = WriteBatch::new();
        store.put_subscription(&mut b, self.tenant, &new);
        audit.changes = changes(&old, &new);
        store.append_audit(&mut b, &audit);
        self.ctx.writer.write(b).await?;
        Ok(new)
    }
}

impl Actor for Billing {
    type Msg = BillingMsg;
    type State = BillingState;
    type Arguments = BillingArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: BillingArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(BillingState {
            ctx: args.ctx,
            tenant: args.tenant,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BillingMsg::Event {
                event,
                grace,
                audit,
                reply,
            } => {
                let r = state.event(&event, grace, *audit).await;
                let _ = reply.send(r.map_err(|e| e.to_string()));
            }
            BillingMsg::SetPlan { plan, audit, reply } => {
                let r = state.set_plan(plan, *audit).await;
                let _ = reply.send(r.map_err(|e| e.to_string()));
            }
        }
        Ok(())
    }
}
