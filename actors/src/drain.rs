//! The outbox drainer: one actor that delivers the outbox's mail (SMTP,
//! [`crate::mailer::deliver`]) and webhook deliveries (HTTP,
//! [`crate::hooks::deliver`]) fairly across tenants.
//!
//! Each kind is a lane of the global due index (soonest first). A lane runs
//! up to `total` attempts at once, at most `per_tenant` of one tenant's, and
//! never the same item twice: its scan passes over items of a tenant at its
//! cap, so one tenant's backlog or never-answering endpoints hold at most
//! `per_tenant` slots while other tenants' items go out beside them. An
//! attempt that fails or times out is written back with its next attempt
//! due later (backoff with jitter), so it goes behind the rest rather than
//! first. Each attempt is a task; when one ends the actor hears of it and
//! fills the slot. It also looks every second and when poked.
//!
//! On a cluster an item goes out only on the node that serves its tenant;
//! a tenant served elsewhere is not asked about again for a second.
//!
//! Supervision: Root restarts it when it fails; its attempts in flight are
//! aborted with it and their items, still pending in storage, go again.

use crate::hooks;
use crate::mailer::{self, MailerConfig};
use crate::Ctx;
use parley_engine::{TenantId, Timestamp};
use parley_storage::{OutboxStore, WebhookStore};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// A number in [0, 1) for jitter (no need for a real random source).
pub fn jitter() -> f64 {
    use std::hash::BuildHasher;
    let h = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// How many attempts run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrainLimits {
    /// At most this many of one tenant's, per kind (mail, webhooks).
    pub per_tenant: usize,
    /// At most this many in all, per kind.
    pub total: usize,
}

impl Default for DrainLimits {
    fn default() -> Self {
        Self {
            per_tenant: 4,
            total: 32,
        }
    }
}

/// Index entries a lane looks at per scan, at most: past this many items
/// skipped for their tenant's cap, the rest waits for the next scan.
const SCAN: usize = 20_000;

/// The in-flight bookkeeping of one lane: which items are under way and
/// how many per tenant. Pure, tested without a runtime.
#[derive(Debug, Default)]
pub struct Fair {
    limits: DrainLimits,
    per_tenant: HashMap<TenantId, usize>,
    busy: HashSet<[u8; 16]>,
}

impl Fair {
    /// An empty lane with `limits`.
    pub fn new(limits: DrainLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Whether the lane runs as many attempts as it may.
    pub fn full(&self) -> bool {
        self.busy.len() >= self.limits.total.max(1)
    }

    /// Whether item `key` of `t` may not start now (under way, or `t` at its cap).
    pub fn blocked(&self, t: TenantId, key: [u8; 16]) -> bool {
        self.busy.contains(&key)
            || self.per_tenant.get(&t).copied().unwrap_or(0) >= self.limits.per_tenant.max(1)
    }

    /// Starts item `key` of `t` if the limits allow; false if not.
    pub fn start(&mut self, t: TenantId, key: [u8; 16]) -> bool {
        if self.full() || self.blocked(t, key) {
            return false;
        }
        self.busy.insert(key);
        *self.per_tenant.entry(t).or_default() += 1;
        true
    }

    /// Item `key` of `t` is no longer under way.
    pub fn end(&mut self, t: TenantId, key: [u8; 16]) {
        if self.busy.remove(&key) {
            if let Some(n) = self.per_tenant.get_mut(&t) {
                *n -= 1;
                if *n == 0 {
                    self.per_tenant.remove(&t);
                }
            }
        }
    }

    /// Attempts under way.
    pub fn in_flight(&self) -> usize {
        self.busy.len()
    }
}

/// The two kinds the drainer delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    Mail,
    Webhooks,
}

/// What the drainer is told.
pub enum DrainMsg {
    /// The periodic look (it schedules the next one).
    Tick,
    /// New mail or deliveries were queued: look now.
    Poke,
    /// An attempt ended: its slot is free.
    Done(Lane, TenantId, [u8; 16]),
}

/// The drainer actor.
pub struct Drainer;

/// What it is started with.
pub struct DrainArgs {
    pub ctx: Arc<Ctx>,
    /// `None`: no SMTP server is configured; mail stays queued.
    pub mail: Option<Arc<MailerConfig>>,
}

/// Its state: the two lanes' bookkeeping and the attempts under way.
pub struct DrainState {
    ctx: Arc<Ctx>,
    mail: Option<Arc<MailerConfig>>,
    client: reqwest::Client,
    mail_lane: Fair,
    hook_lane: Fair,
    tasks: JoinSet<()>,
    /// Tenants another node serves, not asked about again until then.
    elsewhere: HashMap<TenantId, Instant>,
}

impl DrainState {
    /// Whether this node delivers `t`'s items now (remembered a second when not).
    async fn serves(&mut self, t: TenantId) -> bool {
        if self.ctx.keeper.is_none() {
            return true;
        }
        let now = Instant::now();
        if self.elsewhere.get(&t).is_some_and(|until| *until > now) {
            return false;
        }
        let ok = self.ctx.serves(t).await;
        if ok {
            self.elsewhere.remove(&t);
        } else {
            self.elsewhere.insert(t, now + Duration::from_secs(1));
        }
        ok
    }

    /// Starts as many due items as the limits allow, in both lanes.
    async fn fill(&mut self, myself: &ActorRef<DrainMsg>) {
        self.elsewhere.retain(|_, until| *until > Instant::now());
        if self.mail.is_some() {
            self.fill_mail(myself).await;
        }
        self.fill_hooks(myself).await;
    }

    async fn fill_mail(&mut self, myself: &ActorRef<DrainMsg>) {
        let Some(cfg) = self.mail.clone() else { return };
        while !self.mail_lane.full() {
            let lane = &self.mail_lane;
            let elsewhere = &self.elsewhere;
            let due = self.ctx.store.mails_due_except(
                Timestamp::now(),
                self.mail_lane.limits.total,
                SCAN,
                &|t, id| lane.blocked(t, id.to_bytes()) || elsewhere.contains_key(&t),
            );
            let due = match due {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "reading the mail queue");
                    return;
                }
            };
            let mut started = 0;
            for (at, t, id) in due {
                let key = id.to_bytes();
                if !self.serves(t).await || !self.mail_lane.start(t, key) {
                    continue;
                }
                started += 1;
                let (ctx, cfg, me) = (self.ctx.clone(), cfg.clone(), myself.clone());
                self.tasks.spawn(async move {
                    mailer::deliver(&ctx, &cfg, at, t, id).await;
                    let _ = me.cast(DrainMsg::Done(Lane::Mail, t, key));
                });
            }
            if started == 0 {
                return;
            }
        }
    }

    async fn fill_hooks(&mut self, myself: &ActorRef<DrainMsg>) {
        while !self.hook_lane.full() {
            let lane = &self.hook_lane;
            let elsewhere = &self.elsewhere;
            let due = self.ctx.store.deliveries_due_except(
                Timestamp::now(),
                self.hook_lane.limits.total,
                SCAN,
                &|t, id| lane.blocked(t, id.to_bytes()) || elsewhere.contains_key(&t),
            );
            let due = match due {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "reading the webhook queue");
                    return;
                }
            };
            let mut started = 0;
            for (at, t, w, id) in due {
                let key = id.to_bytes();
                if !self.serves(t).await || !self.hook_lane.start(t, key) {
                    continue;
                }
                started += 1;
                let (ctx, client, me) = (self.ctx.clone(), self.client.clone(), myself.clone());
                self.tasks.spawn(async move {
                    hooks::deliver(&ctx, &client, at, t, w, id).await;
                    let _ = me.cast(DrainMsg::Done(Lane::Webhooks, t, key));
                });
            }
            if started == 0 {
                return;
            }
        }
    }
}

impl Actor for Drainer {
    type Msg = DrainMsg;
    type State = DrainState;
    type Arguments = DrainArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: DrainArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let limits = args.ctx.cfg.drain;
        let client = hooks::client(&args.ctx.hooks.cfg)?;
        let _ = myself.cast(DrainMsg::Tick);
        Ok(DrainState {
            ctx: args.ctx,
            mail: args.mail,
            client,
            mail_lane: Fair::new(limits),
            hook_lane: Fair::new(limits),
            tasks: JoinSet::new(),
            elsewhere: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DrainMsg::Tick => {
                myself.send_after(Duration::from_secs(1), || DrainMsg::Tick);
            }
            DrainMsg::Poke => {}
            DrainMsg::Done(lane, t, key) => match lane {
                Lane::Mail => state.mail_lane.end(t, key),
                Lane::Webhooks => state.hook_lane.end(t, key),
            },
        }
        // Reap finished tasks; a panicked attempt is logged, its item retried.
        while let Some(r) = state.tasks.try_join_next() {
            if let Err(e) = r {
                if e.is_panic() {
                    tracing::error!(error = %e, "an outbox delivery attempt panicked");
                }
            }
        }
        state.fill(&myself).await;
        metrics::gauge!("parley_outbox_in_flight", "kind" => "mail")
            .set(state.mail_lane.in_flight() as f64);
        metrics::gauge!("parley_outbox_in_flight", "kind" => "webhooks")
            .set(state.hook_lane.in_flight() as f64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_at_most_its_share_and_the_lane_its_total() {
        let mut f = Fair::new(DrainLimits {
            per_tenant: 2,
            total: 3,
        });
        let (a, b, c) = (TenantId::new(), TenantId::new(), TenantId::new());
        assert!(f.start(a, [1; 16]));
        assert!(!f.start(a, [1; 16]), "never the same item twice");
        assert!(f.start(a, [2; 16]));
        assert!(
            f.blocked(a, [3; 16]) && !f.start(a, [3; 16]),
            "a at its cap"
        );
        assert!(!f.blocked(b, [4; 16]));
        assert!(f.start(b, [4; 16]), "b goes beside a");
        assert!(f.full() && !f.start(c, [5; 16]), "the lane is full");
        f.end(a, [1; 16]);
        f.end(a, [1; 16]);
        assert_eq!(f.in_flight(), 2, "ending twice frees one slot");
        assert!(f.start(c, [5; 16]));
        f.end(a, [2; 16]);
        assert!(!f.blocked(a, [3; 16]));
    }
}
