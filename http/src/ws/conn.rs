//! One WebSocket connection's plumbing: the reader side ([`Socket`], used by
//! the visitor and staff sessions) and the writer ([`write_loop`]),
//! which drains the socket's bounded [`Outbox`] queue.
//!
//! The writer first waits for the session's prelude (`welcome` / `ready`),
//! so nothing queued by actors in the meantime can overtake it. Control
//! frames the reader owes the peer (pong, close echo) travel to the writer
//! on a small side channel.

use super::wire::{Op, Reader, Writer};
use crate::state::App;
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use parley_actors::{CloseSignal, Inbox, Out, Outbox, Replay};
use parley_engine::codes::close;
use parley_engine::codes::error;
use parley_engine::protocol::{parse_client, ClientFrame, ServerFrame};
use parley_engine::validate;
use parley_storage::{MessageLog, Store};
use std::num::NonZeroU32;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

pub type Stream = TokioIo<Upgraded>;
pub type WsRead = Reader<tokio::io::ReadHalf<Stream>>;
pub type WsWrite = Writer<tokio::io::WriteHalf<Stream>>;

/// Most frames gathered into one write.
const MAX_GATHER: usize = 256;

/// How long the close frame may take to write.
const CLOSE_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// One clock for every connection's rate limiter: building a fresh one per
/// socket (what `RateLimiter::direct` does) queries CPUID and calibrates,
/// ~9% of the server's CPU in a reconnect storm.
static CLOCK: std::sync::LazyLock<governor::clock::QuantaClock> =
    std::sync::LazyLock::new(governor::clock::QuantaClock::default);

/// The reading half of a connection plus what a session needs to answer.
pub struct Socket {
    pub app: App,
    pub outbox: Outbox,
    /// `None` only once dropped: the reader then goes back to the
    /// connection for the close handshake ([`linger`]).
    rd: Option<WsRead>,
    /// Instead of `rd`: the messages a gateway node relays for a client
    /// connected there (`super::remote`), already whole.
    relayed: Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
    /// A message read ahead (to learn whose it is) and put back.
    unread: Option<Vec<u8>>,
    give_back: Option<oneshot::Sender<WsRead>>,
    limiter: DefaultDirectRateLimiter,
    fragment: Option<(Op, Vec<u8>)>,
    /// Its place among sockets still in their handshake, until [`Socket::opened`].
    handshake: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Socket {
    pub fn new(
        app: App,
        rd: WsRead,
        outbox: Outbox,
        handshake: tokio::sync::OwnedSemaphorePermit,
        give_back: oneshot::Sender<WsRead>,
    ) -> Self {
        let mut s = Self::relayed(app, outbox, None);
        s.rd = Some(rd);
        s.give_back = Some(give_back);
        s.handshake = Some(handshake);
        s
    }

    /// A session's socket whose client is connected to another node: its
    /// messages arrive on `relayed` (the gateway did the WebSocket part).
    pub fn relayed(
        app: App,
        outbox: Outbox,
        relayed: Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
    ) -> Self {
        let l = &app.config.limits;
        let quota =
            Quota::per_second(NonZeroU32::new(l.frames_per_second).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(l.frame_burst).unwrap_or(NonZeroU32::MIN));
        Self {
            app,
            outbox,
            rd: None,
            relayed,
            unread: None,
            give_back: None,
            limiter: RateLimiter::direct_with_clock(quota, CLOCK.clone()),
            fragment: None,
            handshake: None,
        }
    }

    /// Puts a text message back: the next [`Socket::recv`] returns it.
    pub fn unread(&mut self, text: Vec<u8>) {
        self.unread = Some(text);
    }

    /// The handshake is done (`welcome` / `ready` is on its way): the
    /// socket no longer counts against `limits.max_handshakes`.
    pub fn opened(&mut self) {
        self.handshake = None;
    }

    /// The next text message. `Err(code)`: the connection is over and
    /// should close with `code` (`NORMAL` when the peer closed or vanished).
    pub async fn recv(&mut self) -> Result<String, u16> {
        loop {
            let (op, data) = self.recv_message().await?;
            if op == Op::Binary {
                self.error(
                    parley_engine::codes::error::BAD_FRAME,
                    "only text frames are understood",
                    None,
                );
                continue;
            }
            return String::from_utf8(data).map_err(|_| 1007);
        }
    }

    /// The next whole message, text or binary, its fragments joined (text
    /// not yet checked for UTF-8: the caller does).
    pub async fn recv_message(&mut self) -> Result<(Op, Vec<u8>), u16> {
        let max = self.app.config.limits.max_frame_bytes;
        loop {
            // Once the socket is condemned (slow consumer, revoked, …)
            // nothing more it sent is acted on.
            if let Some(code) = self.outbox.closer().code() {
                return Err(code);
            }
            if let Some(text) = self.unread.take() {
                return Ok((Op::Text, text));
            }
            if let Some(rx) = self.relayed.as_mut() {
                return rx.recv().await.map(|t| (Op::Text, t)).ok_or(close::NORMAL);
            }
            let Some(rd) = self.rd.as_mut() else {
                return Err(close::NORMAL);
            };
            let frame = rd.frame().await?;
            metrics::counter!("parley_ws_frames_in_total").increment(1);
            let (op, data) = match (frame.op, frame.fin, self.fragment.take()) {
                // A close needs no echo here: the session ends and the writer closes.
                (Op::Close, ..) => return Err(close::NORMAL),
                // The pong the protocol owes goes through the outbox like any frame.
                (Op::Ping, _, f) => {
                    self.outbox.push(Out::Pong(frame.payload));
                    self.fragment = f;
                    continue;
                }
                (Op::Pong, _, f) => {
                    self.fragment = f;
                    continue;
                }
                (Op::Text | Op::Binary, true, None) => (frame.op, frame.payload),
                (Op::Text | Op::Binary, false, None) => {
                    self.fragment = Some((frame.op, frame.payload));
                    continue;
                }
                (Op::Continuation, fin, Some((op, mut buf))) => {
                    buf.extend_from_slice(&frame.payload);
                    if buf.len() > max {
                        return Err(close::TOO_BIG);
                    }
                    if !fin {
                        self.fragment = Some((op, buf));
                        continue;
                    }
                    (op, buf)
                }
                _ => return Err(close::PROTOCOL_ERROR),
            };
            return Ok((op, data));
        }
    }

    /// Queues a frame for the client.
    pub fn send(&self, f: &ServerFrame<'_>) {
        self.outbox.frame(&Bytes::from(f.to_json()));
    }

    /// Answers a frame sent before the session began (`not_ready`): at once,
    /// ahead of the `welcome` / `ready` still to come. `false` once the
    /// client sends such frames faster than its frame rate: the caller then
    /// closes the socket.
    pub fn early_error(&self, code: &str, message: &str, client_id: Option<&str>) -> bool {
        if self.limiter.check().is_err() {
            return false;
        }
        let f = ServerFrame::Error {
            code,
            message,
            client_id,
        };
        self.outbox.push(Out::Early(Bytes::from(f.to_json())));
        true
    }

    /// Queues an `error` frame.
    pub fn error(&self, code: &str, message: &str, client_id: Option<&str>) {
        self.send(&ServerFrame::Error {
            code,
            message,
            client_id,
        });
    }

    /// Parses a client frame and applies the connection's frame rate,
    /// answering `bad_frame` / `unknown_type` / `rate_limited` itself.
    pub fn accept(&self, text: &str) -> Option<ClientFrame> {
        let frame = match parse_client(text) {
            Ok(f) => f,
            Err(e) => {
                self.error(e.code, &e.message, e.client_id.as_deref());
                return None;
            }
        };
        if self.limiter.check().is_err() {
            let cid = match &frame {
                ClientFrame::Send { client_id, .. } => Some(client_id.as_str()),
                _ => None,
            };
            self.error(error::RATE_LIMITED, "too many frames; slow down", cid);
            return None;
        }
        Some(frame)
    }

    /// Checks a `send`'s `client_id` and body, answering the error itself.
    pub fn valid_send(&self, client_id: &str, body: &str) -> bool {
        let max = self.app.config.limits.max_body_chars;
        match validate::client_id(client_id).and_then(|_| validate::body(body, max)) {
            Ok(()) => true,
            Err(e) => {
                self.error(e.code, &e.message, Some(client_id));
                false
            }
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let (Some(rd), Some(tx)) = (self.rd.take(), self.give_back.take()) {
            let _ = tx.send(rd);
        }
    }
}

/// How long a closing connection keeps reading for the peer's close frame.
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// The close handshake's end (RFC 6455 §7.1.1), once our close frame is
/// written: when the peer has not closed yet, reads what it still sends
/// until its close frame, its EOF or [`CLOSE_LINGER`]. Dropping a socket
/// with unread bytes would reset the connection, and the peer could lose
/// our close frame with it. The server then closes the TCP connection first.
pub async fn linger(mut rd: WsRead) {
    if rd.closed {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        while let Ok(f) = rd.frame().await {
            if f.op == Op::Close {
                break;
            }
        }
    })
    .await;
}

async fn write_text(ws: &mut WsWrite, bytes: &[u8]) -> bool {
    metrics::counter!("parley_ws_frames_out_total").increment(1);
    ws.frame(Op::Text, bytes).await.is_ok()
}

async fn write_close(ws: &mut WsWrite, code: u16) {
    let reason: &[u8] = match code {
        close::GOING_AWAY => b"server shutting down",
        close::SLOW_CONSUMER => b"slow consumer",
        close::TOO_BIG => b"frame too large",
        close::UNAUTHORIZED => b"unauthorized",
        close::UNKNOWN_SITE => b"unknown site",
        close::TOO_MANY => b"too many new visitors from this address",
        close::BAD_HELLO => b"send hello first",
        close::PROTOCOL_ERROR => b"protocol error",
        close::RESTART => b"resync",
        _ => b"",
    };
    // A peer that does not read cannot take even this: give up after a second.
    let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, async {
        let _ = ws.close(code, reason).await;
        let _ = ws.flush().await;
    })
    .await;
}

/// Where a socket's writer sends what its outbox holds: the client's own
/// connection ([`WsSink`]), or the bus, for a session this node runs for a
/// client connected to another node (`super::remote`).
pub trait Sink: Send {
    /// Writes one queued item (buffered: [`Sink::flush`] sends). False once
    /// the sink failed.
    fn item(&mut self, out: Out) -> impl std::future::Future<Output = bool> + Send;
    /// Writes the session's first frame and flushes.
    fn prelude(&mut self, frame: &[u8]) -> impl std::future::Future<Output = bool> + Send;
    fn flush(&mut self) -> impl std::future::Future<Output = bool> + Send;
    /// Closes with `code` (best effort).
    fn close(&mut self, code: u16) -> impl std::future::Future<Output = ()> + Send;
}

/// A client's WebSocket, with the store its replays are read from.
pub struct WsSink {
    pub ws: WsWrite,
    pub store: Store,
}

impl Sink for WsSink {
    async fn item(&mut self, out: Out) -> bool {
        write_out(&mut self.ws, &self.store, out).await
    }

    async fn prelude(&mut self, frame: &[u8]) -> bool {
        write_text(&mut self.ws, frame).await && self.ws.flush().await.is_ok()
    }

    async fn flush(&mut self) -> bool {
        self.ws.flush().await.is_ok()
    }

    async fn close(&mut self, code: u16) {
        write_close(&mut self.ws, code).await
    }
}

/// Writes one queued item (into the write buffer; the caller flushes).
async fn write_out(ws: &mut WsWrite, store: &Store, out: Out) -> bool {
    match out {
        Out::Frame(b) | Out::Early(b) => write_text(ws, &b).await,
        Out::Replay(r) => replay(ws, store, &r).await,
        Out::Pong(p) => ws.frame(Op::Pong, &p).await.is_ok(),
        Out::Binary(b) => ws.frame(Op::Binary, &b).await.is_ok(),
    }
}

/// Replays stored messages `(after, upto]` straight from storage.
async fn replay(ws: &mut WsWrite, store: &Store, r: &Replay) -> bool {
    let Replay {
        tenant,
        conversation,
        mut after,
        upto,
        public_only,
    } = *r;
    while after < upto {
        let page = match store.messages_after(tenant, conversation, after, 256) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "replay read failed");
                return false;
            }
        };
        if page.is_empty() {
            break;
        }
        for m in page.iter().take_while(|m| m.seq <= upto) {
            if public_only && m.private {
                continue;
            }
            if !write_text(ws, ServerFrame::message(m).to_json().as_bytes()).await {
                return false;
            }
        }
        after = page.last().map(|m| m.seq).unwrap_or(upto);
    }
    true
}

/// What a session hands its writer before anything else.
pub struct Prelude {
    /// The first frame (`welcome` / `ready`).
    pub frame: Bytes,
    /// Flips when the session's Tenant actor is gone: the socket then
    /// closes with 1012 so its client reconnects to the Tenant's successor.
    pub gone: Option<watch::Receiver<bool>>,
}

async fn tenant_gone(gone: &mut Option<watch::Receiver<bool>>) {
    let Some(rx) = gone else {
        return std::future::pending().await;
    };
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Writes `first` and everything already queued behind it in one write
/// (every call leaves the write buffer flushed, so ending after it loses
/// nothing). False when the socket failed.
async fn write_batch(sink: &mut impl Sink, queue: &mut Inbox, first: Out) -> bool {
    let mut out = first;
    let mut gathered = 1;
    loop {
        if !sink.item(out).await {
            return false;
        }
        if gathered == MAX_GATHER {
            break;
        }
        let Some(next) = queue.try_recv() else { break };
        out = next;
        gathered += 1;
    }
    sink.flush().await
}

/// Drains the outbox to the socket until a close is asked for, the server
/// shuts down (close 1001), the session's Tenant goes away (1012), the peer
/// closes, or a write fails.
pub async fn write_loop(
    mut ws: impl Sink,
    mut queue: Inbox,
    mut prelude: oneshot::Receiver<Prelude>,
    closer: Arc<CloseSignal>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ready = false;
    // The first queued frame that must wait for the prelude.
    let mut held: Option<Out> = None;
    let mut gone = None;
    if *shutdown.borrow_and_update() {
        ws.close(close::GOING_AWAY).await;
        return;
    }
    loop {
        tokio::select! {
            biased;
            code = closer.wait() => {
                ws.close(code).await;
                return;
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow_and_update() {
                    ws.close(close::GOING_AWAY).await;
                    return;
                }
            }
            _ = tenant_gone(&mut gone) => {
                ws.close(close::RESTART).await;
                return;
            }
            p = &mut prelude, if !ready => {
                ready = true;
                if let Ok(p) = p {
                    gone = p.gone;
                    let wrote = tokio::select! {
                        biased;
                        _ = closer.wait() => return,
                        ok = ws.prelude(&p.frame) => ok,
                    };
                    if !wrote {
                        return;
                    }
                }
                if let Some(out) = held.take() {
                    if !write_batch(&mut ws, &mut queue, out).await {
                        return;
                    }
                }
            }
            // Before the prelude only early frames go out; the first other
            // frame is held (with everything queued behind it) until then.
            item = queue.recv(), if ready || held.is_none() => {
                let Some(out) = item else { return };
                if !ready && !out.is_early() {
                    held = Some(out);
                    continue;
                }
                // A client that stopped reading leaves this write pending
                // forever: the close verdict must still cut it off, even
                // mid-frame (no close frame can follow half a frame; the
                // socket is simply dropped).
                let wrote = tokio::select! {
                    biased;
                    code = closer.wait() => {
                        tracing::info!(code, "socket cut off mid-write");
                        return;
                    }
                    ok = async {
                        if ready {
                            write_batch(&mut ws, &mut queue, out).await
                        } else {
                            // Early: this frame alone, nothing gathered behind it.
                            ws.item(out).await && ws.flush().await
                        }
                    } => ok,
                };
                if !wrote {
                    return;
                }
            }
        }
    }
}
