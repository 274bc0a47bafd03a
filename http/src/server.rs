//! `parley serve`: open storage, start the actor system, bind, serve until
//! a signal, then shut down gracefully — stop accepting, close every
//! WebSocket with 1001, stop the actors, flush storage.

use crate::api;
use crate::api::limits::Limiters;
use crate::auth::{fresh_secret, Tokens};
use crate::config::Config;
use crate::datadir;
use crate::fatal::Fatal;
use crate::state::{App, AppInner};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use parley_actors::mailer::{smtp_transport, MailerConfig};
use parley_actors::{Ctx, System};
use parley_engine::mail::RetryPolicy;
use parley_storage::{StoreConfig, Writer, WriterConfig};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// A server that is bound and ready to run.
pub struct Server {
    listener: TcpListener,
    app: App,
    shutdown: watch::Sender<bool>,
}

/// How often histogram samples are folded into their buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

fn metrics_recorder() -> Option<PrometheusHandle> {
    let flush = [
        0.0002, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.5, 1.0,
    ];
    let sizes = [
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("parley_storage_flush_seconds".into()), &flush)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Prefix("parley_storage_batch".into()), &sizes)
        })
        .and_then(|b| b.install_recorder())
        .ok()?;
    // The recorder is the process's, so is its upkeep: without it every
    // histogram sample is kept until `/metrics` is scraped (about 2 KiB per
    // idle connection in a 10k run, and growing under chat load).
    let upkeep = handle.clone();
    let _ = std::thread::Builder::new()
        .name("parley-metrics".into())
        .spawn(move || loop {
            std::thread::sleep(METRICS_UPKEEP);
            upkeep.run_upkeep();
        });
    metrics::describe_counter!(
        "parley_ws_connections_total",
        "WebSocket connections accepted"
    );
    metrics::describe_gauge!("parley_ws_connections", "WebSocket connections open");
    metrics::describe_counter!("parley_ws_frames_in_total", "WebSocket frames received");
    metrics::describe_counter!("parley_ws_frames_out_total", "WebSocket frames sent");
    metrics::describe_counter!(
        "parley_ws_slow_consumers_total",
        "Sockets closed for not reading"
    );
    metrics::describe_counter!("parley_messages_persisted_total", "Messages made durable");
    metrics::describe_counter!(
        "parley_actor_restarts_total",
        "Actors restarted after a failure"
    );
    metrics::describe_histogram!(
        "parley_storage_flush_seconds",
        "Time to apply and flush one group commit"
    );
    metrics::describe_histogram!("parley_storage_batch_ops", "Operations per group commit");
    metrics::describe_histogram!("parley_storage_batch_requests", "Requests per group commit");
    metrics::gauge!("parley_ws_connections").set(0.0);
    metrics::counter!("parley_messages_persisted_total").absolute(0);
    metrics::counter!("parley_actor_restarts_total").absolute(0);
    Some(handle)
}

impl Server {
    /// Opens storage, starts the actors and binds the listener.
    pub async fn start(config: Config) -> Result<Self, Fatal> {
        config.validate().map_err(Fatal::Usage)?;
        let (cluster, store) = if config.cluster.enabled {
            let (node, store) = crate::cluster::Node::start(&config).await?;
            (Some(node), store)
        } else {
            let store = datadir::open_with_room(
                &config.data_dir,
                &StoreConfig {
                    cache_bytes: config.storage.cache_mb << 20,
                },
                config.storage.min_free_mb << 20,
            )?;
            (None, store)
        };
        let secret = match &config.auth.token_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => store.instance_secret(fresh_secret)?,
        };
        let listener = listen(config.listen, config.limits.listen_backlog)
            .map_err(|e| Fatal::Usage(format!("cannot listen on {}: {e}", config.listen)))?;
        let writer_cfg = WriterConfig {
            max_batch: config.storage.batch_max_ops.max(1),
            window: Duration::from_micros(config.storage.batch_window_us),
            min_free_bytes: config.storage.min_free_mb << 20,
            segment_bytes: config.storage.log_segment_mb.max(1) << 20,
        };
        let writer = match &cluster {
            Some(node) => Writer::start_fenced(
                store.clone(),
                writer_cfg,
                node.keeper
                    .fences_acquiring(tokio::runtime::Handle::current()),
            ),
            None => Writer::start(store.clone(), writer_cfg),
        };
        let bound = listener
            .local_addr()
            .map_err(|e| Fatal::Other(format!("cannot read the bound address: {e}")))?;
        let public_url = config
            .auth
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        let mail_host = public_url
            .split_once("://")
            .map_or(public_url.as_str(), |x| x.1)
            .split(['/', ':'])
            .next()
            .filter(|h| !h.is_empty())
            .unwrap_or("parley.invalid")
            .to_string();
        let mailer = match &config.mail.smtp_url {
            Some(url) => Some(Arc::new(MailerConfig {
                transport: smtp_transport(url).map_err(Fatal::Usage)?,
                from: config.mail.from.parse().map_err(|_| {
                    Fatal::Usage(format!(
                        "mail.from {:?} is not a mail address",
                        config.mail.from
                    ))
                })?,
                policy: RetryPolicy {
                    max_attempts: config.mail.max_attempts,
                    base: Duration::from_secs(config.mail.retry_base_secs.max(1)),
                    cap: Duration::from_secs(6 * 3600),
                },
            })),
            None => {
                tracing::warn!(
                    "no SMTP server configured (mail.smtp_url): mail stays queued in the outbox"
                );
                None
            }
        };
        let smtp_configured = mailer.is_some();
        let mail_templates = crate::mail::Templates::new()
            .map_err(|e| Fatal::Other(format!("mail templates: {e}")))?;
        let system = System::start_with_mail(
            Arc::new(Ctx {
                store: store.clone(),
                writer: writer.clone(),
                cfg: config.actor_config(),
                hooks: parley_actors::hooks::Hooks::new(config.hook_config()),
                keeper: cluster.as_ref().map(|n| n.keeper.clone()),
            }),
            mailer,
        )
        .await
        .map_err(|e| Fatal::Other(format!("cannot start the actor system: {e}")))?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let hashers = crate::hashers::Hashers::start(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
            256,
        )
        .map_err(|e| Fatal::Other(format!("cannot start the hashing threads: {e}")))?;
        let tokens = Tokens::new(&secret, config.auth.access_token_ttl_secs);
        for (t, v) in parley_storage::PrivacyStore::erased_visitors(&store)? {
            tokens.forget_visitor(t, v);
        }
        let app = App(Arc::new(AppInner {
            tokens,
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            ws_per_ip: Default::default(),
            ws_per_tenant: Default::default(),
            handshakes: Arc::new(Semaphore::new(config.limits.max_handshakes.max(1))),
            limiters: Limiters::new(&config.limits),
            devices: crate::device::DeviceCookies::new(
                &secret,
                config.limits.device_cookie_days,
                public_url.starts_with("https://"),
            ),
            proxies: crate::proxies::Proxies::new(&config.limits).map_err(Fatal::Usage)?,
            locks: Default::default(),
            hashers,
            public_url,
            mail_host,
            smtp_configured,
            mail_templates,
            mail_budget: Default::default(),
            plans: config.plans().map_err(Fatal::Usage)?,
            reports: crate::reports::Reports::new(&config.analytics),
            geoip: match &config.analytics.geoip_path {
                Some(p) => Some(maxminddb::Reader::open_readfile(p).map_err(|e| {
                    Fatal::Usage(format!("analytics.geoip_path {}: {e}", p.display()))
                })?),
                None => None,
            },
            config,
            cluster,
            store,
            // The REST edge writes what any node may (sessions, settings,
            // forms); only the actors' writes carry the lease fences.
            writer: writer.unfenced(),
            system,
            metrics: metrics_recorder(),
            shutdown: shutdown_rx,
            started: Instant::now(),
        }));
        Ok(Self {
            listener,
            app,
            shutdown,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run(self, signal: impl Future<Output = ()> + Send + 'static) -> Result<(), Fatal> {
        let Server {
            listener,
            app,
            shutdown,
        } = self;
        let router = api::router(app.clone());
        let recover = match listener.local_addr() {
            Ok(bound) => Some(tokio::spawn(crate::recover::watch(
                app.clone(),
                bound,
                Duration::from_secs(1),
            ))),
            Err(_) => None,
        };
        let prune = tokio::spawn(janitor(app.clone()));
        let leases = tokio::spawn(crate::cluster::Node::watch_leases(app.clone()));
        let relays = tokio::spawn(crate::ws::Router::run(app.clone()));
        let every = app
            .system
            .ctx
            .cfg
            .missed_reply_after
            .min(Duration::from_secs(15));
        let missed = tokio::spawn(crate::app::missed::run(app.clone(), every));
        let reminders = tokio::spawn(crate::app::bookings::run(
            app.clone(),
            Duration::from_secs(app.config.bookings.sweep_secs.max(1)),
        ));
        let retention = tokio::spawn(crate::app::retention::run(
            app.clone(),
            Duration::from_secs(app.config.retention.sweep_secs.max(1)),
        ));
        let campaigns = tokio::spawn(crate::app::newsletter::run(
            app.clone(),
            app.config.newsletter.per_second,
        ));
        let tx = shutdown.clone();
        tokio::spawn(async move {
            signal.await;
            tracing::info!("shutting down");
            let _ = tx.send(true);
        });
        let l = &app.config.limits;
        let limits = crate::accept::HttpLimits {
            header_timeout: Duration::from_secs(l.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(l.body_timeout_secs.max(1)),
            max_connections: l.max_http_connections,
            max_per_ip: l.max_http_connections_per_ip,
            proxies: app.proxies.clone(),
            parser_max_headers: l.max_headers.saturating_mul(2).max(100),
        };
        crate::accept::serve(
            listener,
            router,
            limits,
            app.shutdown.clone(),
            Duration::from_secs(5),
        )
        .await;
        let _ = shutdown.send(true);
        prune.abort();
        leases.abort();
        relays.abort();
        missed.abort();
        reminders.abort();
        campaigns.abort();
        retention.abort();
        if let Some(r) = recover {
            r.abort();
        }
        // Wait for every WebSocket to close (each holds a permit).
        let all = app.config.limits.max_connections as u32;
        let drained =
            tokio::time::timeout(Duration::from_secs(5), app.connections.acquire_many(all)).await;
        if drained.is_err() {
            tracing::warn!(
                open = app.open_connections(),
                "sockets still open after 5 s; closing anyway"
            );
        }
        app.system.stop().await;
        app.writer.shutdown();
        app.store.flush()?;
        if let Some(node) = &app.cluster {
            // The next node need not wait for these to run out.
            node.keeper.release_all().await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Housekeeping: every minute the rate limiters forget full budgets;
/// every hour expired one-time tokens and dead sessions are deleted.
async fn janitor(app: App) {
    use parley_storage::AuthStore;
    let mut every = tokio::time::interval(Duration::from_secs(60));
    for tick in 0u64.. {
        every.tick().await;
        app.limiters.prune();
        if tick % 60 != 0 {
            continue;
        }
        let mut batch = parley_storage::WriteBatch::new();
        match app
            .store
            .purge_expired(&mut batch, parley_engine::Timestamp::now())
        {
            Ok(0) => {}
            Ok(n) => match app.writer.write(batch).await {
                Ok(()) => tracing::info!(deleted = n, "expired sessions and tokens purged"),
                Err(e) => tracing::warn!(error = %e, "purging expired sessions"),
            },
            Err(e) => tracing::warn!(error = %e, "scanning for expired sessions"),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Binds `addr` with room for `backlog` connections not yet accepted
/// (tokio's `bind` asks for 1,024, which a burst of connects overflows
/// while the server is busy: the kernel then resets them).
fn listen(addr: std::net::SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog.max(1))
}
