//! What every request handler and socket shares.

use crate::api::limits::Limiters;
use crate::auth::Tokens;
use crate::config::Config;
use metrics_exporter_prometheus::PrometheusHandle;
use parley_actors::System;
use parley_storage::{Store, Writer};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{watch, Semaphore};

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct App(pub Arc<AppInner>);

/// The shared parts.
pub struct AppInner {
    pub config: Config,
    pub store: Store,
    pub writer: Writer,
    pub system: System,
    /// This node's cluster parts; `None` on a single node.
    pub cluster: Option<crate::cluster::Node>,
    pub tokens: Tokens,
    pub metrics: Option<PrometheusHandle>,
    /// One permit per open WebSocket: bounds connections and lets shutdown wait for them.
    pub connections: Arc<Semaphore>,
    /// Open WebSockets per client address and per tenant.
    pub ws_per_ip: Arc<crate::accept::Tally<std::net::IpAddr>>,
    pub ws_per_tenant: Arc<crate::accept::Tally<parley_engine::TenantId>>,
    /// One permit per socket still in its handshake (`hello` / `auth`).
    pub handshakes: Arc<Semaphore>,
    /// Flips to `true` when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    pub started: Instant,
    /// Signs and checks the device cookies set at sign-in.
    pub devices: crate::device::DeviceCookies,
    /// The trusted reverse proxies: who the client is.
    pub proxies: crate::proxies::Proxies,
    /// Per-IP and per-account request budgets.
    pub limiters: Limiters,
    /// Per-tenant and per-email locks for changes that check an invariant
    /// first (at least one owner, unique email), so two requests cannot
    /// both pass it — and two tenants never wait for each other.
    pub locks: crate::app::locks::Locks,
    /// The threads that run argon2 (memory-hard: 19 MiB a job).
    pub hashers: crate::hashers::Hashers,
    /// The base of every link in a mail: `auth.public_url`, or the address
    /// actually bound.
    pub public_url: String,
    /// The host part of every `Message-ID`.
    pub mail_host: String,
    /// Whether an SMTP server is configured (else mail stays queued).
    pub smtp_configured: bool,
    pub mail_templates: crate::mail::Templates,
    /// Each tenant's bytes of mail queued today (`mail.tenant_bytes_per_day`).
    pub mail_budget: crate::mail::Budget,
    /// The plans (built-in, with the config's overrides), free first.
    pub plans: Vec<parley_engine::plans::Plan>,
    /// Analytics reports: made off the async threads a few per tenant at
    /// a time, and kept a minute.
    pub reports: crate::reports::Reports,
    /// Countries by address, when `analytics.geoip_path` is set.
    pub geoip: Option<maxminddb::Reader<Vec<u8>>>,
}

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    /// The visitor a widget token names on `site`: a token issued on another
    /// site names nobody here. A token from before tokens named their site
    /// is taken where its visitor's record was made (or has none yet).
    pub fn visitor_on(
        &self,
        site: &parley_engine::records::SiteRecord,
        token: &str,
    ) -> Option<crate::auth::VisitorToken> {
        use parley_storage::VisitorStore;
        let k = self.tokens.verify_visitor(site.tenant_id, site.id, token)?;
        let here = k.bound
            || match self.store.visitor(site.tenant_id, k.visitor) {
                Ok(r) => r.is_none_or(|r| r.site_id == site.id),
                Err(_) => false,
            };
        here.then_some(k)
    }

    /// A visitor's country: from the GeoIP database when there is one,
    /// else from their browser's time zone.
    pub fn country(&self, ip: std::net::IpAddr, timezone: &str) -> String {
        #[derive(serde::Deserialize)]
        struct Country<'a> {
            #[serde(borrow)]
            country: Option<Iso<'a>>,
        }
        #[derive(serde::Deserialize)]
        struct Iso<'a> {
            iso_code: Option<&'a str>,
        }
        match &self.geoip {
            Some(db) => db
                .lookup::<Country>(ip)
                .ok()
                .and_then(|c| c.country?.iso_code)
                .unwrap_or("")
                .to_string(),
            None => parley_engine::analytics::country_of_zone(timezone)
                .unwrap_or("")
                .to_string(),
        }
    }

    /// Where visitors' countries come from: `geoip` or `timezone`.
    pub fn geo_source(&self) -> &'static str {
        if self.geoip.is_some() {
            "geoip"
        } else {
            "timezone"
        }
    }

    /// WebSocket connections open now.
    pub fn open_connections(&self) -> usize {
        self.config.limits.max_connections - self.connections.available_permits()
    }
}
