//! A node's side of its leases (`http/CLUSTER.md`, "Ownership"): it
//! acquires tenants when the node needs them, renews every lease it holds
//! in one statement every third of a lease, and says — on a channel — when
//! one is lost, so the node stops that tenant's actors:
//!
//! - taken over: a renewal no longer finds it at its epoch;
//! - out of time: no renewal got through (PostgreSQL down, the network cut,
//!   a renewal hanging) and the lease would run out before the next round
//!   could renew it, with a tenth of a lease to spare. That is measured from
//!   when the last successful renewal was *sent*, which is no later than
//!   PostgreSQL's own clock started it, so the node gives a tenant up before
//!   anyone else may take it.
//!
//! A renewal gets half a round to answer; the connection is made again after
//! an error or a renewal that did not answer, on the next round.

use super::connect;
use super::lease::{self, Held};
use parley_engine::TenantId;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

struct Lease {
    epoch: i64,
    /// When the lease runs out by this node's reckoning.
    until: Instant,
}

struct Inner {
    url: String,
    node: String,
    secs: f64,
    client: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    held: Mutex<HashMap<TenantId, Lease>>,
    /// Lost, and not yet known to be let go of here ([`Keeper::settled`]):
    /// not acquired again meanwhile, so nothing of the node's that still
    /// runs on the old lease ever writes under a new one.
    settling: Mutex<HashSet<TenantId>>,
    /// Tenants another node held a live lease on, and until when that
    /// answer is trusted without asking again (every socket of a tenant
    /// owned elsewhere asks).
    elsewhere: Mutex<HashMap<TenantId, Instant>>,
    lost: mpsc::UnboundedSender<TenantId>,
    /// Told of every lease newly acquired (see [`Keeper::acquired`]).
    acquired: mpsc::UnboundedSender<TenantId>,
}

/// How long taking a tenant for a write may hold the writer up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Holds this node's leases while it lives; dropping it stops renewing
/// (the leases then run out by themselves).
pub struct Keeper {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
    acquired: Mutex<Option<mpsc::UnboundedReceiver<TenantId>>>,
}

impl Keeper {
    /// Connects to `url` as `node` with leases of `secs` seconds; the
    /// receiver hears of every lease lost.
    pub async fn start(
        url: &str,
        node: &str,
        secs: f64,
    ) -> Result<(Self, mpsc::UnboundedReceiver<TenantId>), tokio_postgres::Error> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (acquired, acquired_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            url: url.to_string(),
            node: node.to_string(),
            secs,
            client: tokio::sync::Mutex::new(Some(connect(url).await?)),
            held: Mutex::new(HashMap::new()),
            settling: Mutex::new(HashSet::new()),
            elsewhere: Mutex::new(HashMap::new()),
            lost: tx,
            acquired,
        });
        let i = inner.clone();
        let task = tokio::spawn(async move {
            let every = Duration::from_secs_f64(secs / 3.0);
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                i.renew().await;
            }
        });
        let acquired = Mutex::new(Some(acquired_rx));
        Ok((
            Self {
                inner,
                task,
                acquired,
            },
            rx,
        ))
    }

    /// The lease on `tenant`: the one held, or a new one when nobody else
    /// holds it. `None` when another node does.
    /// Not while a loss of `tenant` is settling ([`Keeper::settled`]).
    pub async fn acquire(&self, tenant: TenantId) -> Result<Option<Held>, tokio_postgres::Error> {
        self.inner.acquire(tenant).await
    }

    /// Every tenant this node takes a lease on from now (the node starts
    /// serving it); `None` after the first call.
    pub fn acquired(&self) -> Option<mpsc::UnboundedReceiver<TenantId>> {
        self.acquired.lock().ok()?.take()
    }

    /// Says the node has let go of everything it ran on `tenant`'s lost
    /// lease (its actors stopped): it may be acquired again.
    pub fn settled(&self, tenant: TenantId) {
        if let Ok(mut s) = self.inner.settling.lock() {
            s.remove(&tenant);
        }
    }

    /// The fences of this node's writer ([`crate::Writer::start_fenced`])
    /// when a write may take a tenant nobody holds: its lease is acquired
    /// on the spot (on `rt`, from the writer's thread), as a request for
    /// one of its actors would.
    pub fn fences_acquiring(&self, rt: tokio::runtime::Handle) -> Arc<dyn super::Fences> {
        Arc::new(Acquiring {
            inner: self.inner.clone(),
            rt,
        })
    }
}

/// See [`Keeper::fences_acquiring`].
struct Acquiring {
    inner: Arc<Inner>,
    rt: tokio::runtime::Handle,
}

impl super::Fences for Acquiring {
    fn node(&self) -> &str {
        &self.inner.node
    }

    fn epoch(&self, tenant: TenantId) -> Option<i64> {
        let known = self.inner.held.lock().ok()?.contains_key(&tenant);
        if known {
            // Held, or running out: never taken again behind the renewals' back.
            return super::Fences::epoch(&*self.inner, tenant);
        }
        let got = self.rt.block_on(async {
            tokio::time::timeout(ACQUIRE_TIMEOUT, self.inner.acquire(tenant)).await
        });
        match got {
            Ok(Ok(Some(h))) => Some(h.epoch),
            Ok(Err(e)) => {
                tracing::warn!(error = %super::describe(&e), "taking a tenant lease failed");
                None
            }
            _ => None,
        }
    }
}

impl Inner {
    async fn acquire(&self, tenant: TenantId) -> Result<Option<Held>, tokio_postgres::Error> {
        let known = self
            .held
            .lock()
            .ok()
            .and_then(|h| h.get(&tenant).map(|l| l.epoch));
        if let Some(epoch) = known {
            return Ok(Some(Held { tenant, epoch }));
        }
        if self.settling.lock().is_ok_and(|s| s.contains(&tenant)) {
            return Ok(None);
        }
        let now = Instant::now();
        if let Ok(mut e) = self.elsewhere.lock() {
            match e.get(&tenant) {
                Some(until) if *until > now => return Ok(None),
                Some(_) => {
                    e.remove(&tenant);
                }
                None => {}
            }
        }
        let i = self;
        let mut client = i.client.lock().await;
        let c = match client.as_ref() {
            Some(c) if !c.is_closed() => c,
            _ => client.insert(connect(&i.url).await?),
        };
        let sent = Instant::now();
        let Some(epoch) = lease::acquire(c, tenant, &i.node, i.secs).await? else {
            // Held elsewhere: believed for a moment (at most a second, and a
            // third of a lease), so a dead owner is still noticed in time.
            let trust = Duration::from_secs_f64((i.secs / 3.0).min(1.0));
            if let Ok(mut e) = i.elsewhere.lock() {
                e.insert(tenant, sent + trust);
            }
            return Ok(None);
        };
        let until = sent + Duration::from_secs_f64(i.secs);
        if let Ok(mut held) = i.held.lock() {
            held.insert(tenant, Lease { epoch, until });
        }
        let _ = i.acquired.send(tenant);
        Ok(Some(Held { tenant, epoch }))
    }
}

impl Keeper {
    /// What the node's writer checks its writes against: these leases.
    pub fn fences(&self) -> Arc<dyn super::Fences> {
        self.inner.clone()
    }

    /// How many leases this node holds.
    pub fn held_count(&self) -> usize {
        self.inner.held.lock().map_or(0, |h| h.len())
    }

    /// The lease held on `tenant`, if any.
    pub fn held(&self, tenant: TenantId) -> Option<Held> {
        let held = self.inner.held.lock().ok()?;
        held.get(&tenant).map(|l| Held {
            tenant,
            epoch: l.epoch,
        })
    }

    /// Gives every lease up at once (a clean stop).
    pub async fn release_all(&self) {
        let all: Vec<Held> = match self.inner.held.lock() {
            Ok(mut held) => held
                .drain()
                .map(|(tenant, l)| Held {
                    tenant,
                    epoch: l.epoch,
                })
                .collect(),
            Err(_) => return,
        };
        let client = self.inner.client.lock().await;
        if let Some(c) = client.as_ref() {
            for h in all {
                let _ = lease::release(c, &self.inner.node, h).await;
            }
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl super::Fences for Inner {
    fn node(&self) -> &str {
        &self.node
    }

    fn epoch(&self, tenant: TenantId) -> Option<i64> {
        let held = self.held.lock().ok()?;
        let l = held.get(&tenant)?;
        // One this node's own reckoning has run out is not used either.
        (l.until > Instant::now()).then_some(l.epoch)
    }
}

impl Inner {
    /// One round: renews what is held, then gives up what was taken over
    /// or is about to run out.
    async fn renew(&self) {
        let now: Vec<Held> = match self.held.lock() {
            Ok(held) => held
                .iter()
                .map(|(t, l)| Held {
                    tenant: *t,
                    epoch: l.epoch,
                })
                .collect(),
            Err(_) => return,
        };
        if now.is_empty() {
            return;
        }
        let round = Duration::from_secs_f64(self.secs / 3.0);
        let sent = Instant::now();
        let renewed = {
            let mut client = self.client.lock().await;
            let attempt = async {
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    *client = connect(&self.url).await.ok();
                }
                match client.as_ref() {
                    Some(c) => Some(lease::renew(c, &self.node, &now, self.secs).await),
                    None => None,
                }
            };
            match tokio::time::timeout(round / 2, attempt).await {
                Ok(Some(Ok(r))) => Some(r),
                Ok(Some(Err(e))) => {
                    tracing::warn!(error = %super::describe(&e), "renewing tenant leases failed");
                    None
                }
                Ok(None) => None,
                Err(_) => {
                    tracing::warn!("renewing tenant leases did not answer in time");
                    // A connection that hangs is made again next round.
                    *client = None;
                    None
                }
            }
        };
        // Give up what the next round could not save in time.
        let margin = round + Duration::from_secs_f64(self.secs / 10.0);
        let mut lost = Vec::new();
        if let Ok(mut held) = self.held.lock() {
            if let Some(renewed) = renewed {
                let renewed: HashSet<Held> = renewed.into_iter().collect();
                let until = sent + Duration::from_secs_f64(self.secs);
                for h in &now {
                    if renewed.contains(h) {
                        if let Some(l) = held.get_mut(&h.tenant) {
                            l.until = until;
                        }
                    } else if held.get(&h.tenant).is_some_and(|l| l.epoch == h.epoch) {
                        held.remove(&h.tenant);
                        lost.push(h.tenant);
                    }
                }
            }
            let late = Instant::now() + margin;
            held.retain(|t, l| {
                let keep = l.until > late;
                if !keep {
                    lost.push(*t);
                }
                keep
            });
        }
        if let Ok(mut s) = self.settling.lock() {
            s.extend(lost.iter().copied());
        }
        for t in lost {
            tracing::warn!(tenant = %t, "a tenant lease was lost; its actors stop here");
            let _ = self.lost.send(t);
        }
    }
}
