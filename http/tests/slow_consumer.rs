//! A socket that never reads is disconnected (close 4008, or cut off when
//! its writer is stuck mid-write) once its bounded queue fills — in frames
//! or in bytes — and the server's memory stays bounded while it happens.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_socket_that_never_reads_is_dropped_and_memory_stays_bounded() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[limits]\noutbound_queue = 256\nframes_per_second = 100000\nframe_burst = 100000\n"
                .into(),
        ),
        ..Default::default()
    });
    // A staff socket with a tiny receive window that will never be read.
    let token = srv.login(OWNER).await;
    let addr: std::net::SocketAddr = srv.base.trim_start_matches("http://").parse().unwrap();
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(
        format!("{}/ws/staff", srv.ws),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let mut slow = Ws { inner: ws };
    slow.send(json!({"type":"auth","token":token})).await;
    let rss_before = srv.rss();

    // A visitor floods the waiting conversation the slow socket is watching,
    // reading its own frames as a well-behaved client does.
    let (vis, _) = srv.visitor(None).await;
    let (mut tx, mut rx) = vis.inner.split();
    let n = 3000;
    // At most 100 sends in flight: the visitor's own queue never overflows.
    let window = std::sync::Arc::new(tokio::sync::Semaphore::new(100));
    let credit = window.clone();
    let reader = tokio::spawn(async move {
        let mut acks = 0;
        while acks < n {
            match tokio::time::timeout(std::time::Duration::from_secs(10), rx.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.contains("\"type\":\"ack\"") => {
                    acks += 1;
                    credit.add_permits(1);
                }
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        acks
    });
    let body = "y".repeat(4000);
    for i in 0..n {
        window.acquire().await.unwrap().forget();
        let f = json!({"type":"send","client_id":format!("f{i}"),"body":body});
        tx.send(Message::text(f.to_string())).await.unwrap();
    }
    let acked = reader.await.unwrap();
    assert_eq!(acked, n, "the well-behaved visitor got every ack");

    // Now read the slow socket: whatever was buffered, then its end — a
    // 4008 close when the verdict found the writer idle, or the connection
    // simply dropped when it was stuck mid-write (no close frame can follow
    // half a frame).
    let code = slow.close_code().await;
    assert!(matches!(code, Some(4008) | None), "closed with {code:?}");
    let metrics = srv.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("parley_ws_slow_consumers_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    let grown = srv.rss().saturating_sub(rss_before);
    assert!(grown < 256 << 20, "server grew by {} MiB", grown >> 20);
}

/// The visitor of the finding: a tiny receive window, large frames sent at
/// the allowed rate, never reading its own echoes. Once its queue passes the
/// byte bound the server cuts it off even though its writer is stuck
/// mid-write, and nothing it sends afterwards is stored.
#[tokio::test]
async fn a_visitor_that_never_reads_is_cut_off_mid_write_and_its_later_sends_are_not_stored() {
    let srv = Server::start_with(Setup {
        config: Some("[limits]\noutbound_queue_bytes = 262144\n".into()),
        ..Default::default()
    });
    let addr: std::net::SocketAddr = srv.base.trim_start_matches("http://").parse().unwrap();
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(
        format!("{}/ws/visitor?site={}", srv.ws, srv.site_key()),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let mut v = Ws { inner: ws };
    v.send(json!({"type":"hello","visitor_token":null,"page":{"url":"https://acme.test/","title":"Home","referrer":""}}))
        .await;
    assert_eq!(v.recv().await["type"], "welcome");

    // 4,000 four-byte characters: a 16 KB frame each way, 18 a second
    // (under the default 20 a second), and never a read again.
    let body = "\u{1F600}".repeat(4000);
    let mut sent = 0u64;
    let mut cut = false;
    for i in 0..300 {
        let f = json!({"type":"send","client_id":format!("big{i}"),"body":body});
        if v.inner.send(Message::text(f.to_string())).await.is_err() {
            cut = true;
            break;
        }
        sent += 1;
        tokio::time::sleep(std::time::Duration::from_millis(55)).await;
    }
    assert!(cut, "the server still took frames after {sent} sends");

    // The socket is gone on the server's side, and what is stored stays put.
    let owner = srv.login(OWNER).await;
    let last_seq = || async {
        let r = srv
            .call("GET", "/api/v1/conversations", Some(&owner), None)
            .await;
        r.body["items"][0]["last_seq"].as_u64().unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let m = srv.metrics().await;
        if m.lines().any(|l| l == "parley_ws_open{kind=\"visitor\"} 0") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "visitor socket still open: {m}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let stored = last_seq().await;
    assert!(stored < sent, "{stored} stored of {sent} sent");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(
        last_seq().await,
        stored,
        "nothing more is stored after the cut"
    );
}
