//! WebSocket endpoints: `/ws/visitor?site=KEY` and `/ws/staff`.
//!
//! Each connection is two tasks: the connection task runs the session
//! (decode a frame, hand it to an actor) and a writer task drains the
//! socket's bounded queue. When either ends, the other is stopped and the
//! actors are told.

mod conn;
mod echo;
mod remote;
mod staff;
mod visitor;
mod vouch;
pub mod wire;

use crate::api::error::ApiError;
use crate::api::principal::Caller;
use crate::state::App;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use fastwebsockets::upgrade::{IncomingUpgrade, UpgradeFut};
use parley_actors::{ClientInfo, Outbox};
use parley_engine::account::VisitorDevice;
use parley_engine::codes::error;
use parley_engine::records::SiteRecord;
pub use remote::{serve_tenant, tell, Router};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// Which session a connection runs.
enum Kind {
    /// A visitor of a site (`None`: the key was unknown), and what their
    /// browser's request said of it.
    Visitor(Option<SiteRecord>, Box<visitor::Browser>),
    /// A staff member, from this client.
    Staff(Arc<ClientInfo>),
    /// The test-only echo endpoint (`testing.echo_endpoint`).
    Echo,
}

/// `?site=` of the visitor endpoint.
#[derive(Deserialize)]
pub struct VisitorQuery {
    site: Option<String>,
}

/// What an open socket holds for its whole life: its place among all
/// connections, among its address's and (visitors) its tenant's.
struct Held {
    _total: OwnedSemaphorePermit,
    _ip: crate::accept::Slot<std::net::IpAddr>,
    _tenant: Option<crate::accept::Slot<parley_engine::TenantId>>,
}

fn accept(
    app: &App,
    up: Result<IncomingUpgrade, StatusCode>,
    ip: std::net::IpAddr,
    tenant: Option<parley_engine::TenantId>,
) -> Result<(IncomingUpgrade, Held, OwnedSemaphorePermit), ApiError> {
    let up = up.map_err(|_| {
        ApiError::bad_request(error::BAD_REQUEST, "expected a WebSocket upgrade request")
    })?;
    let busy = |what: &str| {
        metrics::counter!("parley_ws_refused_total", "reason" => what.to_string()).increment(1);
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error::UNAVAILABLE,
            format!("too many {what}; retry later"),
        )
    };
    let l = &app.config.limits;
    let handshake = app
        .handshakes
        .clone()
        .try_acquire_owned()
        .map_err(|_| busy("connections opening at once"))?;
    let total = app
        .connections
        .clone()
        .try_acquire_owned()
        .map_err(|_| busy("connections"))?;
    let Some(per_ip) = app
        .ws_per_ip
        .take(crate::proxies::budget_key(ip), l.max_connections_per_ip)
    else {
        metrics::counter!("parley_ws_refused_total", "reason" => "per_ip").increment(1);
        return Err(ApiError::too_many(5, "connections from your address"));
    };
    let per_tenant = match tenant {
        Some(t) => Some(
            app.ws_per_tenant
                .take(t, l.max_connections_per_tenant)
                .ok_or_else(|| busy("connections to this workspace"))?,
        ),
        None => None,
    };
    Ok((
        up,
        Held {
            _total: total,
            _ip: per_ip,
            _tenant: per_tenant,
        },
        handshake,
    ))
}

fn start(
    app: App,
    up: IncomingUpgrade,
    held: (Held, OwnedSemaphorePermit),
    kind: Kind,
) -> Result<Response, ApiError> {
    let (resp, fut) = up.upgrade().map_err(ApiError::internal)?;
    tokio::spawn(run(app, fut, held, kind));
    Ok(resp.map(|_| axum::body::Body::empty()))
}

/// `GET /ws/visitor?site=SITE_KEY`.
#[utoipa::path(get, path = "/ws/visitor", tag = "websocket",
    description = "Visitor WebSocket (frames: engine/PROTOCOL.md). An unknown key upgrades and closes with 4404; a suspended tenant closes with 4403.",
    params(("site" = String, Query, description = "the site's public key")),
    responses((status = 101, description = "switching protocols"), (status = 400, description = "not an upgrade request"),
        (status = 403, description = "`origin_not_allowed`"), (status = 503, description = "too many connections")))]
pub async fn visitor_upgrade(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<VisitorQuery>,
    headers: axum::http::HeaderMap,
    up: Result<IncomingUpgrade, StatusCode>,
) -> Result<Response, ApiError> {
    // An unknown key still upgrades: browsers cannot read an HTTP status, so
    // the answer is a close code (4404) the widget can act on. A page on an
    // origin the site does not allow is refused outright.
    let site = match q.site.as_deref() {
        Some(k) if !k.is_empty() && k.len() <= 128 => {
            match crate::api::public::site_for(&app, k, &headers) {
                Ok(s) => Some(s),
                Err(e) if e.status == StatusCode::NOT_FOUND => None,
                Err(e) => return Err(e),
            }
        }
        _ => None,
    };
    app.limiters.visitor_connect(caller.ip)?;
    // The loader's socket, from a page on another origin: the snippet is
    // installed on a real site (noted once; Parley's own pages don't count).
    if let (Some(s), Some(origin)) = (
        &site,
        headers
            .get(axum::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok()),
    ) {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok());
        crate::app::sites::note_origin(&app, s, origin, host).await;
    }
    let (up, held, handshake) = accept(&app, up, caller.ip, site.as_ref().map(|s| s.tenant_id))?;
    let header = |h: axum::http::header::HeaderName, max: usize| {
        let v = headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or("");
        v.chars().take(max).collect::<String>()
    };
    let language = header(axum::http::header::ACCEPT_LANGUAGE, 100);
    let device = Box::new(visitor::Browser {
        ip: caller.ip,
        device: VisitorDevice {
            user_agent: header(axum::http::header::USER_AGENT, 300),
            timezone: String::new(),
            language: language
                .split([',', ';'])
                .next()
                .map(str::trim)
                .filter(|l| *l != "*")
                .unwrap_or("")
                .to_string(),
        },
    });
    start(app, up, (held, handshake), Kind::Visitor(site, device))
}

/// `GET /ws/staff`.
#[utoipa::path(get, path = "/ws/staff", tag = "websocket",
    description = "Staff WebSocket: first frame `{\"type\":\"auth\",\"token\"}` within 10 s, else close 4401.",
    responses((status = 101, description = "switching protocols"), (status = 400, description = "not an upgrade request"),
        (status = 503, description = "too many connections")))]
pub async fn staff_upgrade(
    State(app): State<App>,
    caller: Caller,
    up: Result<IncomingUpgrade, StatusCode>,
) -> Result<Response, ApiError> {
    let (up, held, handshake) = accept(&app, up, caller.ip, None)?;
    let client = Arc::new(ClientInfo {
        ip: caller.ip.to_string(),
        user_agent: caller.user_agent,
    });
    start(app, up, (held, handshake), Kind::Staff(client))
}

/// `GET /ws/echo` (only with `testing.echo_endpoint`): echoes every message.
pub async fn echo_upgrade(
    State(app): State<App>,
    caller: Caller,
    up: Result<IncomingUpgrade, StatusCode>,
) -> Result<Response, ApiError> {
    let (up, held, handshake) = accept(&app, up, caller.ip, None)?;
    start(app, up, (held, handshake), Kind::Echo)
}

async fn run(
    app: App,
    fut: UpgradeFut,
    (_held, handshake): (Held, OwnedSemaphorePermit),
    kind: Kind,
) {
    // fastwebsockets did the handshake; the frames are ours (`wire`).
    let stream = match fut.await {
        Ok(ws) => ws.into_inner(),
        Err(e) => {
            tracing::debug!(error = %e, "websocket upgrade failed");
            return;
        }
    };
    let label = match kind {
        Kind::Visitor(..) => "visitor",
        Kind::Staff(_) => "staff",
        Kind::Echo => "echo",
    };
    metrics::counter!("parley_ws_connections_total", "kind" => label).increment(1);
    metrics::gauge!("parley_ws_open", "kind" => label).increment(1.0);
    let (r, w) = tokio::io::split(stream);
    let rd = wire::Reader::new(r, app.config.limits.max_frame_bytes);
    let wr = wire::Writer::new(w);
    let l = &app.config.limits;
    let (outbox, queue) = Outbox::bounded(l.outbound_queue, l.outbound_queue_bytes);
    let (prelude_tx, prelude_rx) = oneshot::channel();
    let mut writer = tokio::spawn(conn::write_loop(
        conn::WsSink {
            ws: wr,
            store: app.store.clone(),
        },
        queue,
        prelude_rx,
        outbox.closer().clone(),
        app.shutdown.clone(),
    ));
    let (give_back, reader_back) = oneshot::channel();
    let socket = conn::Socket::new(app.clone(), rd, outbox.clone(), handshake, give_back);
    // The session runs in this task; dropping it (when the writer ends
    // first) runs its drop guards, which tell the actors the socket is gone.
    // Boxed: the task then holds a pointer, not the session's whole state
    // machine beside everything else alive in this function, and a visitor
    // socket's allocation is sized for a visitor session, not a staff one.
    let session: std::pin::Pin<Box<dyn std::future::Future<Output = u16> + Send>> = match kind {
        // On a cluster, a tenant another node owns is relayed there.
        Kind::Visitor(site, device) if app.cluster.is_some() => {
            Box::pin(remote::visitor(socket, site, device, prelude_tx))
        }
        Kind::Visitor(site, device) => Box::pin(visitor::run(socket, site, device, prelude_tx)),
        Kind::Staff(client) if app.cluster.is_some() => {
            Box::pin(remote::staff(socket, client, prelude_tx))
        }
        Kind::Staff(client) => Box::pin(staff::run(socket, client, prelude_tx)),
        Kind::Echo => Box::pin(echo::run(socket, prelude_tx)),
    };
    tokio::select! {
        code = session => {
            outbox.close(code);
            if tokio::time::timeout(Duration::from_secs(2), &mut writer).await.is_err() {
                writer.abort();
            }
        }
        _ = &mut writer => {}
    }
    // The session is gone (dropped with the select): its reader came back.
    if let Ok(rd) = reader_back.await {
        conn::linger(rd).await;
    }
    metrics::gauge!("parley_ws_open", "kind" => label).decrement(1.0);
}
