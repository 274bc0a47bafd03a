//! The HTTP accept loop: hyper's HTTP/1 connections with the limits a
//! public server needs against clients that are silent or slow on purpose.
//!
//! - **Header and keep-alive timeout** (`limits.header_timeout_secs`): a
//!   connection that has not sent a whole request head in time — a new one
//!   that says nothing, one trickling its headers, or a kept-alive one idle
//!   between requests — is closed (hyper's header-read timer, which runs
//!   while a connection waits for its next request too).
//! - **Body deadline** (`limits.body_timeout_secs`): a request body must
//!   arrive whole within the deadline, counted from its head; a body
//!   trickled a byte at a time fails and the connection closes.
//! - **Connection caps**: at most `limits.max_http_connections` HTTP
//!   connections at once (past that the loop stops accepting, so the kernel's
//!   backlog holds the rest) and `limits.max_http_connections_per_ip` from one
//!   address (past that a new one is closed at once; a trusted proxy's
//!   connections carry many clients and are not capped so). A connection that
//!   upgrades to a WebSocket leaves these counts and takes a WebSocket permit.
//! - **Out of descriptors**: a failing `accept` is logged (at most once a
//!   second) and retried after a short pause, instead of spinning.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Sleep;
use tower::Service;

/// The accept loop's limits.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    pub max_per_ip: usize,
    /// Whose connections are exempt from `max_per_ip`.
    pub proxies: crate::proxies::Proxies,
    /// Headers hyper itself accepts: above `limits.max_headers`, so the
    /// edge answers too many with the contract's body, not hyper's bare 431.
    pub parser_max_headers: usize,
}

/// Open connections per key (a client address, a tenant), each counted
/// by a [`Slot`] that uncounts itself when dropped.
pub struct Tally<K>(Mutex<HashMap<K, usize>>);

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

/// Open HTTP connections per client address.
type PerIp = Tally<IpAddr>;

/// One counted connection of a key.
pub struct Slot<K: std::hash::Hash + Eq + Copy> {
    table: Arc<Tally<K>>,
    key: K,
}

impl<K: std::hash::Hash + Eq + Copy> Tally<K> {
    /// Counts one more connection of `key`, unless it has `max` already.
    pub fn take(self: &Arc<Self>, key: K, max: usize) -> Option<Slot<K>> {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = t.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            table: self.clone(),
            key,
        })
    }
}

impl<K: std::hash::Hash + Eq + Copy> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut t = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = t.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                t.remove(&self.key);
            }
        }
    }
}

/// A request body that must be read whole before a deadline.
pub struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
}

impl Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, std::io::Error>>> {
        if let Poll::Ready(f) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(f.map(|r| r.map_err(std::io::Error::other)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request body too slow",
            )))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Logs a failing `accept` at most once a second.
struct AcceptErrors {
    last: Option<Instant>,
    skipped: u64,
}

impl AcceptErrors {
    fn report(&mut self, e: &std::io::Error) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            self.skipped += 1;
            return;
        }
        let out_of_files = matches!(e.raw_os_error(), Some(23 | 24));
        if out_of_files {
            tracing::error!(error = %e, repeated = self.skipped,
                "cannot accept connections: out of file descriptors (raise the open-file limit or lower limits.max_connections / limits.max_http_connections)");
        } else {
            tracing::warn!(error = %e, repeated = self.skipped, "accept failed");
        }
        self.last = Some(now);
        self.skipped = 0;
    }
}

/// Serves `router` on `listener` until `shutdown` flips to true, then lets
/// every open request finish (for at most `drain`) and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
) {
    let total = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip = Arc::new(PerIp::default());
    let mut errors = AcceptErrors {
        last: None,
        skipped: 0,
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(limits.parser_max_headers)
        .keep_alive(true);
    let builder = Arc::new(builder);
    loop {
        if *shutdown.borrow_and_update() {
            break;
        }
        let permit = tokio::select! {
            p = total.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    errors.report(&e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let cap = if limits.proxies.trusts(peer.ip()) {
            usize::MAX
        } else {
            limits.max_per_ip
        };
        let Some(slot) = per_ip.take(crate::proxies::budget_key(peer.ip()), cap) else {
            metrics::counter!("parley_http_refused_total", "reason" => "per_ip").increment(1);
            tracing::debug!(ip = %peer.ip(), "too many HTTP connections from one address");
            drop(tcp);
            continue;
        };
        // Chat frames are small and written back to back (an ack, then the
        // message): without TCP_NODELAY, Nagle holds the second one for the
        // peer's delayed ACK, adding ~40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
        let router = router.clone();
        let body_timeout = limits.body_timeout;
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(|inner| {
                axum::body::Body::new(DeadlineBody {
                    inner,
                    deadline: Box::pin(tokio::time::sleep(body_timeout)),
                })
            });
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            async move { router.call(req).await }
        });
        let builder = builder.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let _held = (permit, slot);
            let conn = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            let ended = tokio::select! {
                r = conn.as_mut() => Some(r),
                _ = stop.wait_for(|s| *s) => None,
            };
            let result = match ended {
                Some(r) => r,
                None => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "HTTP connection ended");
            }
        });
    }
    drop(listener);
    let all = limits.max_connections.max(1) as u32;
    if tokio::time::timeout(drain, total.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("HTTP requests still open after the drain period; closing anyway");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_slots_are_counted_and_given_back() {
        let t = Arc::new(PerIp::default());
        let ip: IpAddr = [127, 0, 0, 9].into();
        let a = t.take(ip, 2).unwrap();
        let _b = t.take(ip, 2).unwrap();
        assert!(t.take(ip, 2).is_none());
        assert!(t.take([127, 0, 0, 8].into(), 2).is_some());
        drop(a);
        assert!(t.take(ip, 2).is_some());
    }

    #[test]
    fn emptied_addresses_leave_the_table() {
        let t = Arc::new(PerIp::default());
        let ip: IpAddr = [10, 0, 0, 1].into();
        drop(t.take(ip, 1));
        assert!(t.0.lock().unwrap().is_empty());
    }
}
