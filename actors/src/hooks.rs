//! Webhooks out. [`Hooks`] keeps each tenant's endpoints in memory (loaded
//! on first use, dropped when they change) so the actors that see an event
//! — a conversation created, a message durable — can add its deliveries to
//! the very batch that writes the event, at the cost of one map lookup when
//! the tenant has no endpoint for it. [`deliver`] makes one attempt at a
//! due delivery: a signed `POST` each (Standard Webhooks), every attempt
//! written back, retried with backoff, failed after the last. Which
//! delivery goes when is the outbox drainer's ([`crate::drain`]).
//!
//! Targets on loopback, private, link-local or otherwise internal addresses
//! are refused unless `allow_private` is set: checked on the URL's address
//! and on every address its name resolves to, at each attempt, with no
//! redirects followed.

use crate::Ctx;
use parley_engine::mail::RetryPolicy;
use parley_engine::webhook::{
    ip_allowed, signature, DeliveryAttempt, DeliveryRecord, DeliveryStatus, WebhookEndpoint,
};
use parley_engine::{DeliveryId, TenantId, Timestamp, WebhookId};
use parley_storage::{keys, Store, WebhookStore, WriteBatch};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How webhooks are delivered.
#[derive(Clone, Debug)]
pub struct HookConfig {
    pub policy: RetryPolicy,
    /// Whether loopback and private addresses may be targets.
    pub allow_private: bool,
    /// How long one attempt may take.
    pub timeout: Duration,
}

impl Default for HookConfig {
    fn default() -> Self {
        Self {
            policy: RetryPolicy {
                max_attempts: 8,
                base: Duration::from_secs(10),
                cap: Duration::from_secs(6 * 3600),
            },
            allow_private: false,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Endpoints by tenant, and the delivery settings.
#[derive(Default)]
pub struct Hooks {
    pub cfg: HookConfig,
    cache: RwLock<HashMap<TenantId, Arc<Vec<WebhookEndpoint>>>>,
}

impl Hooks {
    pub fn new(cfg: HookConfig) -> Self {
        Self {
            cfg,
            cache: RwLock::default(),
        }
    }

    fn endpoints(&self, store: &Store, t: TenantId) -> Arc<Vec<WebhookEndpoint>> {
        if let Some(v) = self.cache.read().unwrap_or_else(|e| e.into_inner()).get(&t) {
            return v.clone();
        }
        let v = Arc::new(store.webhooks(t).unwrap_or_else(|e| {
            tracing::error!(tenant = %t, error = %e, "reading webhooks");
            Vec::new()
        }));
        let mut c = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if c.len() > 10_000 {
            c.clear();
        }
        c.insert(t, v.clone());
        v
    }

    /// Forgets a tenant's endpoints (call after changing them).
    pub fn invalidate(&self, t: TenantId) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&t);
    }

    /// Adds a delivery of `event` to every endpoint of `t` that takes it,
    /// to `batch`; `data` is built only when one does. Returns how many.
    pub fn emit(
        &self,
        store: &Store,
        batch: &mut WriteBatch,
        t: TenantId,
        event: &str,
        data: impl FnOnce() -> serde_json::Value,
    ) -> usize {
        let eps = self.endpoints(store, t);
        let targets: Vec<&WebhookEndpoint> = eps.iter().filter(|e| e.wants(event)).collect();
        if targets.is_empty() {
            return 0;
        }
        let now = Timestamp::now();
        let body = serde_json::json!({
            "type": event,
            "timestamp": now,
            "data": data(),
        })
        .to_string();
        for e in &targets {
            store.put_delivery(
                batch,
                &DeliveryRecord {
                    id: DeliveryId::new(),
                    tenant_id: t,
                    webhook_id: e.id,
                    event: event.into(),
                    body: body.clone(),
                    status: DeliveryStatus::Pending,
                    attempts: Vec::new(),
                    next_attempt_at: now,
                    created_at: now,
                },
            );
        }
        targets.len()
    }
}

/// Resolves names for the deliverer, keeping only addresses it may call.
struct Guard {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let host = format!("{}:0", name.as_str());
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host(host)
                .await?
                .filter(|a| allow || ip_allowed(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!(
                    "{} resolves to no public address (webhooks.allow_private_targets is off)",
                    name.as_str()
                )
                .into());
            }
            let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// The HTTP client deliveries go out with: `cfg.timeout` per attempt, no
/// redirects, names resolved only to addresses `cfg` allows.
pub fn client(cfg: &HookConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(cfg.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guard {
            allow_private: cfg.allow_private,
        }))
        .build()
}

/// One attempt at one delivery, written back before it returns (an
/// endpoint that fails or times out is tried again later, with backoff,
/// behind other deliveries). The outbox drainer ([`crate::drain`]) decides
/// which delivery goes when.
pub async fn deliver(
    ctx: &Ctx,
    client: &reqwest::Client,
    at: Timestamp,
    t: TenantId,
    w: WebhookId,
    id: DeliveryId,
) {
    DelivererState { ctx, client }.deliver(at, t, w, id).await
}

struct DelivererState<'a> {
    ctx: &'a Ctx,
    client: &'a reqwest::Client,
}

impl DelivererState<'_> {
    async fn deliver(&self, at: Timestamp, t: TenantId, w: WebhookId, id: DeliveryId) {
        let store = &self.ctx.store;
        let rec = store.delivery(t, w, id).ok().flatten();
        let endpoint = store.webhook(t, w).ok().flatten();
        let mut batch = WriteBatch::new();
        let (Some(old), Some(ep)) = (
            rec.filter(|d| d.status == DeliveryStatus::Pending && d.next_attempt_at == at),
            endpoint,
        ) else {
            batch.delete_global(keys::delivery_due(at, t, id));
            let _ = self.ctx.writer.write(batch).await;
            return;
        };
        let started = Instant::now();
        let now = Timestamp::now();
        let ts = now.millis() / 1000;
        let sig = signature(
            &ep.signing_secrets(now),
            &id.to_string(),
            ts,
            old.body.as_bytes(),
        );
        let result = self
            .post(&ep.url, &id.to_string(), ts, &sig, &old.body)
            .await;
        let ms = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
        let attempt = match result {
            Ok(status) => DeliveryAttempt {
                at: now,
                status: Some(status),
                ms,
                error: String::new(),
            },
            Err(e) => DeliveryAttempt {
                at: now,
                status: None,
                ms,
                error: e,
            },
        };
        tracing::info!(webhook = %w, delivery = %id, event = %old.event, status = ?attempt.status, ms, "webhook attempt");
        let mut new = old.clone();
        new.record(attempt, &self.ctx.hooks.cfg.policy, crate::drain::jitter());
        store.update_delivery(&mut batch, &old, &new);
        if let Err(e) = self.ctx.writer.write(batch).await {
            tracing::error!(error = %e, delivery = %id, "recording a webhook attempt");
        }
    }

    async fn post(
        &self,
        url: &str,
        id: &str,
        ts: u64,
        sig: &str,
        body: &str,
    ) -> Result<u16, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        let literal = parsed
            .host_str()
            .unwrap_or("")
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>();
        if let Ok(ip) = literal {
            // An address in the URL is never resolved: check it here.
            if !self.ctx.hooks.cfg.allow_private && !ip_allowed(ip) {
                return Err(format!(
                    "{ip} is not a public address (webhooks.allow_private_targets is off)"
                ));
            }
        }
        let r = self
            .client
            .post(parsed)
            .header("content-type", "application/json")
            .header("user-agent", "Parley-Webhooks/1")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                let mut s = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(inner) = src {
                    s = format!("{s}: {inner}");
                    src = inner.source();
                }
                s
            })?;
        Ok(r.status().as_u16())
    }
}
