//! Connections: WebSocket clients bound to many loopback source addresses
//! (each gives its own 28k ephemeral ports), the frames they speak, staff
//! login, and the open-file limit.

use anyhow::{anyhow, bail, Context, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use parley_engine::protocol::{ClientFrame, ConversationView};
use parley_engine::records::{PageInfo, ParticipantKind};
use parley_engine::{ConversationId, StaffId};
use serde::Deserialize;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Tx = SplitSink<WebSocketStream<TcpStream>, Message>;
pub type Rx = SplitStream<WebSocketStream<TcpStream>>;

/// Where the clients connect, and from which source addresses.
pub struct Target {
    /// `http://host:port` (the first, when there are several).
    pub base: String,
    pub addr: SocketAddr,
    /// Every node's base and address, taken in turn by each new connection.
    nodes: Vec<(String, SocketAddr)>,
    pub site_key: String,
    /// Staff accounts, one per staff socket (`{i}` in the email expanded).
    pub staff_email: String,
    pub staff_password: String,
    /// Which /24 of 127/8 this process binds its clients to.
    pub worker: u32,
    next: AtomicU64,
}

impl Target {
    pub fn new(
        base: &str,
        site_key: &str,
        email: &str,
        password: &str,
        worker: u32,
    ) -> Result<Self> {
        let mut nodes = Vec::new();
        for base in base.split(',').map(str::trim).filter(|b| !b.is_empty()) {
            let base = base.trim_end_matches('/').to_string();
            let hostport = base
                .strip_prefix("http://")
                .ok_or_else(|| anyhow!("--url must start with http://"))?;
            let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)
                .with_context(|| format!("resolving {hostport}"))?
                .next()
                .ok_or_else(|| anyhow!("{hostport} resolves to nothing"))?;
            nodes.push((base, addr));
        }
        let Some((base, addr)) = nodes.first().cloned() else {
            bail!("no server address given");
        };
        Ok(Self {
            base,
            addr,
            nodes,
            site_key: site_key.into(),
            staff_email: email.into(),
            staff_password: password.into(),
            worker,
            next: AtomicU64::new(0),
        })
    }

    /// A source address for connection `i`: 127.(1+worker).x.y when
    /// the server is on loopback, so no address runs out of ports.
    fn source(&self, i: u64) -> Option<SocketAddr> {
        if !self.addr.ip().is_loopback() {
            return None;
        }
        let ip = Ipv4Addr::new(
            127,
            1 + (self.worker % 250) as u8,
            (i / 250 % 250) as u8,
            2 + (i % 250) as u8,
        );
        Some(SocketAddr::new(IpAddr::V4(ip), 0))
    }

    /// Opens a WebSocket at `path` (with query), from a fresh source
    /// address, to the next node in turn.
    pub async fn ws(&self, path: &str) -> Result<(Tx, Rx)> {
        let socket = TcpSocket::new_v4()?;
        let i = self.next.fetch_add(1, Relaxed);
        if let Some(src) = self.source(i) {
            socket.bind(src).with_context(|| format!("binding {src}"))?;
        }
        let addr = self.nodes[i as usize % self.nodes.len()].1;
        let stream = tokio::time::timeout(Duration::from_secs(30), socket.connect(addr))
            .await
            .context("connect timed out")?
            .context("connect")?;
        stream.set_nodelay(true)?;
        let url = format!("ws://{addr}{path}");
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(30),
            // tungstenite's default 128 KiB read buffer is zeroed on every
            // read: a fifth of the generator's CPU. Frames here are small.
            tokio_tungstenite::client_async_with_config(
                url,
                stream,
                Some(
                    WebSocketConfig::default()
                        .read_buffer_size(8 * 1024)
                        .write_buffer_size(0),
                ),
            ),
        )
        .await
        .context("handshake timed out")?
        .context("handshake")?;
        Ok(ws.split())
    }

    /// A visitor socket past its handshake: `hello` (with `token`, on page
    /// `url`) answered; returns the `welcome` frame too.
    pub async fn visitor(&self, token: Option<String>, url: String) -> Result<(Tx, Rx, String)> {
        let (mut tx, mut rx) = self
            .ws(&format!("/ws/visitor?site={}", self.site_key))
            .await?;
        send(&mut tx, &hello(token, url)).await?;
        let welcome = until(&mut rx, "welcome", Duration::from_secs(60)).await?;
        Ok((tx, rx, welcome))
    }

    /// Signs staff member `i` in and returns an access token.
    pub async fn login(&self, http: &reqwest::Client, i: usize) -> Result<String> {
        let email = self.staff_email.replace("{i}", &i.to_string());
        let res = http
            .post(format!(
                "{}/api/v1/auth/login",
                self.nodes[i % self.nodes.len()].0
            ))
            .json(&serde_json::json!({"email": email, "password": self.staff_password}))
            .send()
            .await
            .context("login request")?;
        let status = res.status();
        let v: serde_json::Value = res.json().await.context("login answer")?;
        match v["access_token"].as_str() {
            Some(t) if status.is_success() => Ok(t.to_string()),
            _ => bail!("login as {email} failed ({status}): {v}"),
        }
    }
}

/// Sends one client frame.
pub async fn send(tx: &mut Tx, frame: &ClientFrame) -> Result<()> {
    let text = serde_json::to_string(frame)?;
    tx.send(Message::text(text)).await.context("send")
}

pub fn hello(token: Option<String>, url: String) -> ClientFrame {
    ClientFrame::Hello {
        visitor_token: token,
        page: PageInfo {
            url,
            title: "load".into(),
            referrer: String::new(),
        },
        tz: None,
    }
}

pub fn post(client_id: String, body: String, conversation: Option<ConversationId>) -> ClientFrame {
    ClientFrame::Send {
        client_id,
        body,
        conversation_id: conversation,
        private: false,
    }
}

/// The fields of server frames the load generator reads.
#[derive(Deserialize, Debug)]
pub struct In<'a> {
    #[serde(rename = "type", borrow)]
    pub ty: Cow<'a, str>,
    #[serde(default, borrow)]
    pub client_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
    #[serde(default)]
    pub seq: u64,
    #[serde(default, borrow)]
    pub body: Option<Cow<'a, str>>,
    #[serde(default)]
    pub from: Option<From>,
    #[serde(default)]
    pub conversation: Option<ConversationView>,
    #[serde(default, borrow)]
    pub visitor_token: Option<Cow<'a, str>>,
    #[serde(default)]
    pub visitor: Option<VisitorLite>,
    #[serde(default)]
    pub staff: Option<StaffLite>,
}

#[derive(Deserialize, Debug)]
pub struct From {
    pub kind: ParticipantKind,
}

#[derive(Deserialize, Debug)]
pub struct VisitorLite {
    pub online: bool,
    #[serde(default)]
    pub page: Option<PageInfo>,
}

#[derive(Deserialize, Debug)]
pub struct StaffLite {
    pub id: StaffId,
}

/// What one read from a socket gave.
pub enum Got {
    Text(tokio_tungstenite::tungstenite::Utf8Bytes),
    /// The server closed the socket (or it broke).
    Closed(String),
    /// Nothing arrived in time.
    Timeout,
}

/// Waits for the next text frame.
pub async fn next(rx: &mut Rx, wait: Duration) -> Got {
    loop {
        match tokio::time::timeout(wait, rx.next()).await {
            Err(_) => return Got::Timeout,
            Ok(Some(Ok(Message::Text(t)))) => return Got::Text(t),
            Ok(Some(Ok(Message::Close(c)))) => {
                return Got::Closed(
                    c.map(|c| format!("{} {}", c.code, c.reason))
                        .unwrap_or_default(),
                )
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Got::Closed(e.to_string()),
            Ok(None) => return Got::Closed("end of stream".into()),
        }
    }
}

/// Reads frames until one of type `ty`, failing on close or timeout.
pub async fn until(rx: &mut Rx, ty: &str, wait: Duration) -> Result<String> {
    loop {
        match next(rx, wait).await {
            Got::Text(t) => {
                let f: In = serde_json::from_str(&t).context("bad frame from server")?;
                if f.ty == ty {
                    return Ok(t.to_string());
                }
                if f.ty == "error" {
                    bail!("server error waiting for {ty}: {t}");
                }
            }
            Got::Closed(why) => bail!("closed waiting for {ty}: {why}"),
            Got::Timeout => bail!("no {ty} within {wait:?}"),
        }
    }
}

/// Raises the soft open-file limit to the hard one; returns the new limit.
pub fn raise_nofile() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024),
    }
}
