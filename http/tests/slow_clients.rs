//! Clients that are silent or slow on purpose cannot hold the server's
//! connections: a connection that sends nothing, trickles its headers or
//! its body, or idles on keep-alive is closed after the configured timeout,
//! and one address cannot take more than its share of connections.

mod common;

use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// One server for the file: 2 s timeouts, at most 20 connections an address.
fn server() -> Server {
    Server::start_with(Setup {
        config: Some(
            "[limits]\nheader_timeout_secs = 2\nbody_timeout_secs = 2\nmax_http_connections_per_ip = 20\n"
                .into(),
        ),
        ..Default::default()
    })
}

fn addr(srv: &Server) -> std::net::SocketAddr {
    srv.base.trim_start_matches("http://").parse().unwrap()
}

async fn connect_from(srv: &Server, ip: [u8; 4]) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind((std::net::Ipv4Addr::from(ip), 0).into()).unwrap();
    s.connect(addr(srv)).await.unwrap()
}

/// Reads (and throws away) until the server closes; whether it did within `d`.
async fn closed_within(s: &mut TcpStream, d: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(d, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// Writes `bytes` one at a time, `every` apart, until the server closes
/// (a write fails or a read sees the end); whether it closed within `d`.
async fn trickle_closed_within(s: TcpStream, bytes: &[u8], every: Duration, d: Duration) -> bool {
    let (mut rd, mut wr) = s.into_split();
    let bytes = bytes.to_vec();
    let writer = tokio::spawn(async move {
        for b in bytes {
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
        // Keep the write side open: the server must close, not us.
        std::future::pending::<()>().await;
    });
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(d, async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok();
    writer.abort();
    closed
}

#[tokio::test]
async fn silent_and_slow_http_clients_are_cut_off_and_one_address_gets_its_share() {
    let srv = server();
    let limit = Duration::from_secs(8);

    // A connection that never says anything.
    let t = Instant::now();
    let mut silent = connect_from(&srv, [127, 0, 0, 1]).await;
    assert!(
        closed_within(&mut silent, limit).await,
        "a silent connection is still open"
    );
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "closed too soon"
    );

    // Headers at one byte every 300 ms: never a whole head within 2 s.
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\nAccept: */*\r\n\r\n";
    let s = connect_from(&srv, [127, 0, 0, 1]).await;
    assert!(
        trickle_closed_within(s, head, Duration::from_millis(300), limit).await,
        "a connection trickling its headers is still open"
    );

    // A whole head, then a body at one byte every 300 ms.
    let s = connect_from(&srv, [127, 0, 0, 1]).await;
    let (mut rd, mut wr) = s.into_split();
    wr.write_all(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            if wr.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        std::future::pending::<()>().await;
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(limit, rd.read_to_end(&mut answer))
        .await
        .is_ok();
    trickle.abort();
    assert!(closed, "a connection trickling its body is still open");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer}"
    );

    // A kept-alive connection that answers one request, then idles.
    let mut idle = connect_from(&srv, [127, 0, 0, 1]).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let t = Instant::now();
    assert!(
        closed_within(&mut idle, limit).await,
        "an idle keep-alive connection is still open"
    );
    assert!(t.elapsed() >= Duration::from_millis(1500));

    // One address opens 40 silent connections: only 20 stay; another
    // address is served at once all the while.
    let mut hog = Vec::new();
    for _ in 0..40 {
        hog.push(connect_from(&srv, [127, 0, 0, 7]).await);
    }
    // (Within 500 ms: the 20 kept would be cut by the 2 s header timeout.)
    let cut = futures_util::future::join_all(
        hog.iter_mut()
            .map(|s| closed_within(s, Duration::from_millis(500))),
    )
    .await
    .into_iter()
    .filter(|c| *c)
    .count();
    assert!((20..=21).contains(&cut), "{cut} of 40 were closed at once");
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 8]))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/healthz", srv.base))
        .send()
        .await
        .expect("healthz answers while one address hogs its share");
    assert_eq!(r.status(), 200);
    drop(hog);

    // The refusals are counted.
    let m = srv.metrics().await;
    assert!(
        m.lines()
            .any(|l| l.starts_with("parley_http_refused_total") && !l.ends_with(" 0")),
        "{m}"
    );
}

/// Out of descriptors, the server says so in its log instead of spinning in
/// silence, and serves again once connections end.
#[tokio::test]
async fn running_out_of_descriptors_is_logged_and_survived() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[limits]\nheader_timeout_secs = 2\nmax_http_connections_per_ip = 10000\nmax_http_connections = 10000\n".into(),
        ),
        open_files: Some(96),
        ..Default::default()
    });
    // More silent connections than the server has descriptors.
    let mut hog = Vec::new();
    for _ in 0..150 {
        match tokio::time::timeout(Duration::from_secs(1), connect_from(&srv, [127, 0, 0, 3])).await
        {
            Ok(s) => hog.push(s),
            Err(_) => break,
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !srv.log().contains("out of file descriptors") {
        assert!(Instant::now() < deadline, "no log line; log: {}", srv.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(hog);
    // Once they are gone (closed by us, or by the header timeout) it serves again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
            .get(format!("{}/healthz", srv.base))
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "healthz never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
