//! `parley-relay`: the ceiling. A bare WebSocket relay on Parley's own edge
//! stack (tokio + hyper + fastwebsockets) that speaks the visitor frames of
//! the contract (`hello` → `welcome`, `send` → `ack` + `message`, `ping` →
//! `pong`) with the same JSON codec, and nothing else: no actors, no
//! storage, no auth. `parley-loadtest compare` measures Parley against it.
//!
//! `parley-relay [--listen 127.0.0.1:0]` prints `listening on http://ADDR`.
#![forbid(unsafe_code)]

use fastwebsockets::{upgrade, FragmentCollector, Frame, OpCode, Payload};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use parley_engine::protocol::{parse_client, ClientFrame, ServerFrame, SiteLook};
use parley_engine::records::Participant;
use parley_engine::*;
use std::io::Write;

async fn session(fut: upgrade::UpgradeFut) -> Result<(), fastwebsockets::WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    let visitor = VisitorId::new();
    let conversation = ConversationId::new();
    let from = Participant::visitor(visitor, None);
    let mut seq = 0u64;
    let look = SiteLook {
        color: "#2563eb".into(),
        position: Default::default(),
        theme: Default::default(),
    };
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text => {}
            _ => continue,
        }
        let Ok(text) = std::str::from_utf8(&frame.payload) else {
            continue;
        };
        let mut out = Vec::with_capacity(2);
        match parse_client(text) {
            Ok(ClientFrame::Hello { .. }) => out.push(
                ServerFrame::Welcome {
                    visitor_id: visitor,
                    visitor_token: "relay",
                    conversation: None,
                    agents_online: true,
                    site: &look,
                    open: false,
                }
                .to_json(),
            ),
            Ok(ClientFrame::Send {
                client_id, body, ..
            }) => {
                seq += 1;
                let (id, ts) = (MessageId::new(), Timestamp::now());
                out.push(
                    ServerFrame::Ack {
                        client_id: &client_id,
                        conversation_id: conversation,
                        id,
                        seq,
                        ts,
                    }
                    .to_json(),
                );
                out.push(
                    ServerFrame::Message {
                        conversation_id: conversation,
                        id,
                        seq,
                        from: &from,
                        body: &body,
                        private: false,
                        ts,
                    }
                    .to_json(),
                );
            }
            Ok(ClientFrame::Ping) => out.push(ServerFrame::Pong.to_json()),
            _ => {}
        }
        for text in out {
            ws.write_frame(Frame::text(Payload::Owned(text.into_bytes())))
                .await?;
        }
    }
}

async fn handle(
    mut req: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, std::convert::Infallible> {
    if !upgrade::is_upgrade_request(&req) {
        return Ok(Response::builder()
            .status(426)
            .body(Empty::new())
            .unwrap_or_default());
    }
    match upgrade::upgrade(&mut req) {
        Ok((resp, fut)) => {
            tokio::spawn(async move {
                let _ = session(fut).await;
            });
            Ok(resp)
        }
        Err(_) => Ok(Response::builder()
            .status(400)
            .body(Empty::new())
            .unwrap_or_default()),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:0".to_string();
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--listen", Some(v)) => listen = v,
            _ => {
                eprintln!("usage: parley-relay [--listen ADDR]");
                std::process::exit(2);
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", listener.local_addr()?)?;
    out.flush()?;
    drop(out);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .with_upgrades();
            let _ = conn.await;
        });
    }
}
