//! A cluster node's parts (`parley serve --cluster`, `http/CLUSTER.md`):
//! its records in PostgreSQL (migrated at start), its lease keeper, and its
//! bus on NATS. The server builds its writer on the keeper's fences and its
//! actors on the keeper, so a tenant's actors run only where its lease is.

use crate::config::Config;
use crate::fatal::Fatal;
use crate::state::App;
use parley_engine::TenantId;
use parley_storage::postgres::{self, keeper::Keeper};
use parley_storage::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedReceiver;

/// What a cluster node runs beside the single-node server.
pub struct Node {
    pub id: String,
    pub keeper: Arc<Keeper>,
    pub bus: crate::bus::Bus,
    /// The sockets this node relays to other nodes' tenants.
    pub router: crate::ws::Router,
    lost: Mutex<Option<UnboundedReceiver<TenantId>>>,
}

impl Node {
    /// Brings the schema up to date, opens the records and joins the
    /// cluster; every failure names what could not be reached.
    pub async fn start(cfg: &Config) -> Result<(Self, Store), Fatal> {
        let c = &cfg.cluster;
        let (Some(id), Some(url), Some(nats_url)) = (&c.node_id, &c.postgres_url, &c.nats_url)
        else {
            return Err(Fatal::Usage(
                "--cluster needs [cluster] node_id, postgres_url and nats_url".into(),
            ));
        };
        let shown = postgres::redacted(url);
        let pg = |e: postgres::PgError| {
            Fatal::Other(format!("PostgreSQL at {shown}: {}", postgres::describe(&e)))
        };
        let done = postgres::migrate(url).await.map_err(pg)?;
        if !done.applied.is_empty() {
            tracing::info!(applied = ?done.applied, version = done.version, "schema migrated");
        }
        // An ack means committed: never on a server that does not wait for its log.
        let client = postgres::connect(url).await.map_err(pg)?;
        let sync: String = client
            .query_one("SHOW synchronous_commit", &[])
            .await
            .map_err(pg)?
            .get(0);
        if sync == "off" {
            return Err(Fatal::Usage(format!(
                "PostgreSQL at {shown} has synchronous_commit = off: an acknowledged message could be lost; turn it on"
            )));
        }
        drop(client);
        crate::datadir::prepare(&cfg.data_dir, true)?;
        let store = Store::open_postgres(url, c.readers, &cfg.data_dir)
            .map_err(|e| Fatal::Other(format!("PostgreSQL at {shown}: {e}")))?;
        let (keeper, lost) = Keeper::start(url, id, c.lease_secs).await.map_err(pg)?;
        let nats = postgres::redacted(nats_url);
        let bus = crate::bus::Bus::connect(nats_url, id, c)
            .await
            .map_err(|e| Fatal::Other(format!("NATS at {nats}: {}", crate::bus::describe(&e))))?;
        tracing::info!(node = %id, postgres = %shown, %nats, "joined the cluster");
        Ok((
            Self {
                id: id.clone(),
                keeper: Arc::new(keeper),
                bus,
                router: Default::default(),
                lost: Mutex::new(Some(lost)),
            },
            store,
        ))
    }

    /// Serves each tenant on the bus from when this node takes its lease
    /// (other nodes relay its sockets here), and stops serving it and its
    /// actors here when the lease is lost (their sockets reconnect; the next
    /// request takes the tenant wherever it is free). Runs for the node's life.
    pub async fn watch_leases(app: App) {
        let Some(node) = app.cluster.as_ref() else {
            return;
        };
        let lost = node.lost.lock().ok().and_then(|mut l| l.take());
        let (Some(mut lost), Some(mut acquired)) = (lost, node.keeper.acquired()) else {
            return;
        };
        let mut serving: HashMap<TenantId, tokio::task::JoinHandle<()>> = HashMap::new();
        loop {
            tokio::select! {
                t = acquired.recv() => {
                    let Some(t) = t else { return };
                    if let Some(old) = serving.insert(t, tokio::spawn(crate::ws::serve_tenant(app.clone(), t))) {
                        old.abort();
                    }
                }
                t = lost.recv() => {
                    let Some(t) = t else { return };
                    if let Some(s) = serving.remove(&t) {
                        s.abort();
                    }
                    app.system.lease_lost(t);
                }
            }
        }
    }
}
