//! The cluster's bus on NATS core (`http/CLUSTER.md`, "Routing and
//! fan-out"): the subjects, and the three things a node does on them.
//!
//! - A gateway **forwards** a client's frame to the tenant's owner by
//!   request/reply on `parley.t.<tenant>.in`, and waits at most a timeout.
//! - The owner **serves** that subject, in a queue group, while it holds the
//!   tenant's lease, and answers each request.
//! - The owner **publishes** outbound frames once per node on
//!   `parley.n.<node>.out`; each node reads its own subject and hands the
//!   bytes to its sockets.
//!
//! The bus carries chat text and who is speaking, so a production NATS asks
//! every node for credentials over TLS ([`crate::config::ClusterConfig`]'s
//! `nats_*` keys) and lets each node only its own subjects (`CLUSTER.md`,
//! "The bus's credentials"); no access or visitor token travels on it.
//!
//! Nothing durable travels here: a lost delivery is repaired by `resume`,
//! a lost request times out and is re-sent with its `client_id`. After a
//! reconnect the bus's generation moves ([`Bus::reconnects`]) so a router
//! can tell its sockets to resync.

use bytes::Bytes;
use parley_engine::TenantId;
use std::time::Duration;
use tokio::sync::watch;

/// The queue group a tenant's owner serves in: one member at a time.
const OWNER_GROUP: &str = "owner";

/// The prefix of the subjects `node`'s requests are answered on: its own,
/// so NATS can let each node read only its answers.
pub fn inbox_prefix(node: &str) -> String {
    format!("_INBOX.{node}")
}

/// The subject a tenant's owner serves client frames on.
pub fn tenant_in(t: TenantId) -> String {
    format!("parley.t.{t}.in")
}

/// The subject a node reads its sockets' outbound frames from.
pub fn node_out(node: &str) -> String {
    format!("parley.n.{node}.out")
}

/// Why a frame did not get where it was going.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Nobody serves the tenant now: its owner must be found (or become one).
    #[error("no node serves this tenant")]
    NoOwner,
    /// The owner did not answer in time; the client re-sends.
    #[error("the tenant's owner did not answer in time")]
    TimedOut,
    #[error("nats: {0}")]
    Nats(String),
}

/// Why a node could not join the bus, in words an operator can act on.
pub fn describe(e: &async_nats::ConnectError) -> String {
    use async_nats::ConnectErrorKind as K;
    match e.kind() {
        K::AuthorizationViolation => "refused this node's credentials: check cluster.nats_user and cluster.nats_password (or nats_nkey_seed_file) against the server's authorization".into(),
        K::Authentication => format!(
            "cannot sign in with cluster.nats_nkey_seed_file ({e}): it must hold the node's nkey seed (SU…)"
        ),
        K::Tls => format!(
            "TLS failed ({e}): check cluster.nats_ca_file (and nats_cert_file / nats_key_file when the server verifies clients)"
        ),
        _ => e.to_string(),
    }
}

/// This node's connection to NATS.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    node: String,
    reconnects: watch::Receiver<u64>,
}

impl Bus {
    /// Connects to `url` as `node`, with the credentials and TLS `c` names.
    /// The client reconnects by itself after a NATS restart (retrying every
    /// 100 ms, backing off to 1 s) and subscribes again to what it had.
    pub async fn connect(
        url: &str,
        node: &str,
        c: &crate::config::ClusterConfig,
    ) -> Result<Self, async_nats::ConnectError> {
        let (tx, rx) = watch::channel(0u64);
        let mut options = async_nats::ConnectOptions::new();
        if let (Some(user), Some(password)) = (&c.nats_user, &c.nats_password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(file) = &c.nats_nkey_seed_file {
            let seed = tokio::fs::read_to_string(file).await.map_err(|e| {
                async_nats::ConnectError::with_source(
                    async_nats::ConnectErrorKind::Authentication,
                    e,
                )
            })?;
            options = options.nkey(seed.trim().to_string());
        }
        if let Some(ca) = &c.nats_ca_file {
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&c.nats_cert_file, &c.nats_key_file) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let tls = c.nats_tls || c.nats_ca_file.is_some() || c.nats_cert_file.is_some();
        let client = options
            .require_tls(tls)
            .custom_inbox_prefix(inbox_prefix(node))
            .name(format!("parley {node}"))
            .reconnect_delay_callback(|attempt| {
                Duration::from_millis((100 * attempt as u64).min(1000))
            })
            .event_callback(move |event| {
                let tx = tx.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tx.send_modify(|g| *g += 1);
                            tracing::info!("connected to NATS");
                        }
                        async_nats::Event::Disconnected => {
                            tracing::warn!("lost NATS; reconnecting")
                        }
                        other => tracing::debug!(event = %other, "NATS"),
                    }
                }
            })
            .connect(url)
            .await?;
        Ok(Self {
            client,
            node: node.to_string(),
            reconnects: rx,
        })
    }

    /// Moves each time the connection comes back after a loss.
    pub fn reconnects(&self) -> watch::Receiver<u64> {
        self.reconnects.clone()
    }

    /// Sends `frame` to `tenant`'s owner and waits up to `timeout` for its answer.
    pub async fn forward(
        &self,
        tenant: TenantId,
        frame: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, BusError> {
        let req = async_nats::Request::new()
            .payload(frame)
            .timeout(Some(timeout));
        match self.client.send_request(tenant_in(tenant), req).await {
            Ok(m) => Ok(m.payload),
            Err(e) => Err(match e.kind() {
                async_nats::RequestErrorKind::NoResponders => BusError::NoOwner,
                async_nats::RequestErrorKind::TimedOut => BusError::TimedOut,
                async_nats::RequestErrorKind::Other => BusError::Nats(e.to_string()),
            }),
        }
    }

    /// Serves `tenant`'s frames (while this node holds its lease): every
    /// request forwarded to it, with the subject to answer on.
    pub async fn serve(&self, tenant: TenantId) -> Result<Requests, async_nats::SubscribeError> {
        let sub = self
            .client
            .queue_subscribe(tenant_in(tenant), OWNER_GROUP.to_string())
            .await?;
        Ok(Requests {
            sub,
            client: self.client.clone(),
        })
    }

    /// Publishes one outbound frame for the sockets on `node`.
    pub async fn publish_out(&self, node: &str, frame: Bytes) -> Result<(), BusError> {
        self.client
            .publish(node_out(node), frame)
            .await
            .map_err(|e| BusError::Nats(e.to_string()))
    }

    /// The outbound frames other nodes publish for this node's sockets.
    pub async fn outbound(&self) -> Result<async_nats::Subscriber, async_nats::SubscribeError> {
        self.client.subscribe(node_out(&self.node)).await
    }

    /// Waits until everything published so far reached the server.
    pub async fn flush(&self) -> Result<(), BusError> {
        self.client
            .flush()
            .await
            .map_err(|e| BusError::Nats(e.to_string()))
    }
}

/// The requests forwarded to a tenant this node owns.
pub struct Requests {
    sub: async_nats::Subscriber,
    client: async_nats::Client,
}

/// One forwarded frame, and where its answer goes.
pub struct Request {
    pub frame: Bytes,
    reply: Option<async_nats::Subject>,
}

impl Requests {
    /// The next request; `None` once the subscription ended.
    pub async fn next(&mut self) -> Option<Request> {
        use futures_util::StreamExt;
        let m = self.sub.next().await?;
        Some(Request {
            frame: m.payload,
            reply: m.reply,
        })
    }

    /// Answers `req` (a request without a reply subject needs none).
    pub async fn answer(&self, req: Request, answer: Bytes) -> Result<(), BusError> {
        let Some(to) = req.reply else {
            return Ok(());
        };
        self.client
            .publish(to, answer)
            .await
            .map_err(|e| BusError::Nats(e.to_string()))
    }

    /// Stops serving (the lease was lost or given up).
    pub async fn stop(mut self) {
        let _ = self.sub.unsubscribe().await;
    }
}
