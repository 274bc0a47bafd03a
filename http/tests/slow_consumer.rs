//! A socket that never reads is disconnected (close 4008) once its bounded
//! queue fills, and the server's memory stays bounded while it happens.

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

    // Now read the slow socket: whatever was buffered, then the close.
    assert_eq!(slow.close_code().await, Some(4008));
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
