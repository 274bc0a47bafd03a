//! The red team's findings (issue 16), each tried as the attacker did: a
//! test per finding that failed against the build before its fix.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `GET /ws/visitor` upgraded by hand, so the test can write raw frames.
async fn raw_visitor(srv: &Server) -> TcpStream {
    let addr = srv.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /ws/visitor?site={} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        srv.site_key()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// A client text frame, masked or (against the RFC) not.
fn text_frame(text: &str, masked: bool) -> Vec<u8> {
    let body = text.as_bytes();
    assert!(body.len() < 126);
    let mut f = vec![0x81, body.len() as u8 | if masked { 0x80 } else { 0 }];
    if masked {
        let key = [0x11, 0x22, 0x33, 0x44];
        f.extend_from_slice(&key);
        f.extend(body.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(body);
    }
    f
}

/// Reads server frames until a close; returns its code.
async fn close_code(s: &mut TcpStream) -> Option<u16> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut h = [0u8; 2];
        tokio::time::timeout_at(deadline.into(), s.read_exact(&mut h))
            .await
            .ok()?
            .ok()?;
        let len = match h[1] & 0x7f {
            126 => {
                let mut l = [0u8; 2];
                s.read_exact(&mut l).await.ok()?;
                u16::from_be_bytes(l) as usize
            }
            127 => {
                let mut l = [0u8; 8];
                s.read_exact(&mut l).await.ok()?;
                u64::from_be_bytes(l) as usize
            }
            n => n as usize,
        };
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.ok()?;
        if h[0] & 0x0f == 0x8 {
            return body.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
        }
    }
}

/// Writes `raw` as a whole HTTP request and reads the answer's head and body.
async fn raw_http(srv: &Server, raw: &[u8], wait: Duration) -> (String, Duration) {
    let addr = srv.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    s.write_all(raw).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = start + wait;
    loop {
        match tokio::time::timeout_at(deadline.into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                out.extend_from_slice(&buf[..n]);
                // A complete answer with a body of Content-Length bytes.
                let text = String::from_utf8_lossy(&out).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head.lines().find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    });
                    if len.is_some_and(|n| body.len() >= n) {
                        break;
                    }
                }
            }
        }
    }
    (String::from_utf8_lossy(&out).to_string(), start.elapsed())
}

#[tokio::test]
async fn anonymous_visitors_have_a_budget_per_address() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[limits]\nlogin_per_ip_per_minute = 1000\nvisitor_connects_per_ip_per_minute = 8\nnew_visitors_per_ip_per_minute = 3\n"
                .into(),
        ),
        ..Setup::default()
    });
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let (_ws, w) = srv.visitor(None).await;
        tokens.push(w["visitor_token"].as_str().unwrap().to_string());
    }
    // A fourth new identity from the same address is refused…
    let mut ws = Ws::connect(&format!("{}/ws/visitor?site={}", srv.ws, srv.site_key())).await;
    ws.send(json!({"type":"hello","page":{"url":"https://acme.test/","title":"","referrer":""}}))
        .await;
    assert_eq!(ws.close_code().await, Some(4429));
    // …but a returning visitor is not a new identity.
    let (_ws, again) = srv.visitor(Some(&tokens[0])).await;
    assert_eq!(again["visitor_token"], tokens[0].as_str());
    // Eight sockets a minute: the ninth upgrade is answered 429.
    let refused = loop {
        match tokio_tungstenite::connect_async(format!(
            "{}/ws/visitor?site={}",
            srv.ws,
            srv.site_key()
        ))
        .await
        {
            Ok(_) => continue,
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => break r,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(refused.status(), 429);
    let body: Value = serde_json::from_slice(refused.body().as_deref().unwrap_or(b"{}")).unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests", "{body}");
}

#[tokio::test]
async fn socket_and_http_edges_answer_as_the_contract_says() {
    let srv = Server::start();
    let owner = srv.login(OWNER).await;

    // Only web addresses are stored as a page (no `javascript:` links).
    let mut ws = Ws::connect(&format!("{}/ws/visitor?site={}", srv.ws, srv.site_key())).await;
    ws.send(json!({"type":"hello","page":{"url":"javascript:alert(document.cookie)","title":"x","referrer":"data:text/html,hi"}}))
        .await;
    let w = ws.until_type("welcome").await;
    let vid = w["visitor_id"].as_str().unwrap().to_string();
    ws.send(json!({"type":"page","url":" JavaScript:alert(1)","title":"y","referrer":"https://acme.test/"}))
        .await;
    ws.send(json!({"type":"page","url":"https://acme.test/ok","title":"ok","referrer":""}))
        .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let seen = loop {
        let v = srv
            .call(
                "GET",
                &format!("/api/v1/visitors/{vid}"),
                Some(&owner),
                None,
            )
            .await;
        if v.body["page"]["url"] == "https://acme.test/ok" || Instant::now() > deadline {
            break v.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(seen["page"]["url"], "https://acme.test/ok", "{seen}");
    for p in seen["pages"].as_array().unwrap() {
        let url = p["url"].as_str().unwrap();
        assert!(url.is_empty() || url.starts_with("https://"), "{seen}");
    }
    let posted = reqwest::Client::new()
        .post(format!("{}/api/v1/public/{}/contact", srv.base, srv.site_key()))
        .json(&json!({"name":"Eve","email":"eve@example.com","message":"hello there","page_url":"javascript:alert(1)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let list = srv
        .call("GET", "/api/v1/contact-messages", Some(&owner), None)
        .await;
    assert_eq!(list.body["items"][0]["page_url"], "", "{}", list.body);

    // Frames before `hello` are answered at once, ahead of the welcome…
    let mut early = Ws::connect(&format!("{}/ws/visitor?site={}", srv.ws, srv.site_key())).await;
    for _ in 0..3 {
        early.send(json!({"type":"ping"})).await;
    }
    for _ in 0..3 {
        let e = early.recv().await;
        assert_eq!(
            (e["type"].as_str(), e["code"].as_str()),
            (Some("error"), Some("not_ready")),
            "{e}"
        );
    }
    early
        .send(json!({"type":"hello","page":{"url":"https://acme.test/","title":"","referrer":""}}))
        .await;
    assert_eq!(early.until_type("welcome").await["type"], "welcome");
    // …and a flood of them closes the socket as a bad hello, not a slow consumer.
    let mut flood = Ws::connect(&format!("{}/ws/visitor?site={}", srv.ws, srv.site_key())).await;
    for _ in 0..200 {
        flood.send_text("{\"type\":\"ping\"}").await;
    }
    assert_eq!(flood.close_code().await, Some(4400));

    // An unmasked client frame is a protocol error (RFC 6455 §5.1).
    let mut raw = raw_visitor(&srv).await;
    raw.write_all(&text_frame(
        r#"{"type":"hello","page":{"url":"https://acme.test/","title":"","referrer":""}}"#,
        true,
    ))
    .await
    .unwrap();
    raw.write_all(&text_frame(r#"{"type":"ping"}"#, false))
        .await
        .unwrap();
    assert_eq!(close_code(&mut raw).await, Some(1002));

    // The HTTP layer's own refusals carry the contract's body and a request id.
    let json_error = |answer: &str, status: &str, code: &str| {
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        assert!(
            answer.to_ascii_lowercase().contains("x-request-id: "),
            "{answer}"
        );
        let body: Value = serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["error"]["code"], code, "{answer}");
    };
    let wrong = srv.call("DELETE", "/healthz", None, None).await;
    assert_eq!((wrong.status, wrong.code()), (405, "method_not_allowed"));
    assert!(wrong.header("x-request-id").is_some());
    let long = format!(
        "GET /api/v1/me?x={} HTTP/1.1\r\nHost: t\r\n\r\n",
        "a".repeat(10_000)
    );
    json_error(
        &raw_http(&srv, long.as_bytes(), Duration::from_secs(5))
            .await
            .0,
        "414",
        "bad_request",
    );
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{many}\r\n");
    json_error(
        &raw_http(&srv, many.as_bytes(), Duration::from_secs(5))
            .await
            .0,
        "431",
        "bad_request",
    );
    // A body declared too large is refused at once, not waited for.
    let (answer, took) = raw_http(
        &srv,
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 20000\r\n\r\n",
        Duration::from_secs(8),
    )
    .await;
    json_error(&answer, "413", "payload_too_large");
    assert!(took < Duration::from_secs(3), "answered after {took:?}");

    // The widget's panel talks only to the page that embeds it.
    let frame = reqwest::get(format!("{}/widget/frame?site={}", srv.base, srv.site_key()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let src = frame
        .split("src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    let panel = reqwest::get(format!("{}{src}", srv.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        panel.contains("postMessage(m, host)"),
        "the panel posts to its host's origin"
    );
    assert!(!panel.contains("'*')"), "no message goes to any origin");
}

/// Upgrades a socket, or returns the HTTP status it was refused with.
async fn upgrade(url: &str) -> Result<Ws, u16> {
    match tokio_tungstenite::connect_async(url).await {
        Ok((inner, _)) => Ok(Ws { inner }),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            // A refused upgrade does not linger as an idle HTTP connection.
            assert_eq!(
                r.headers().get("connection").and_then(|v| v.to_str().ok()),
                Some("close")
            );
            Err(r.status().as_u16())
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn sockets_are_capped_per_address_per_tenant_and_in_handshake() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[limits]\nlogin_per_ip_per_minute = 1000\nmax_connections_per_ip = 6\nmax_connections_per_tenant = 3\nmax_handshakes = 2\n"
                .into(),
        ),
        tenants: vec!["other@beta.test".into()],
        ..Setup::default()
    });
    let a = format!("{}/ws/visitor?site={}", srv.ws, srv.site_key());
    let b = format!(
        "{}/ws/visitor?site={}",
        srv.ws,
        srv.others[0]["site_key"].as_str().unwrap()
    );
    let hello =
        json!({"type":"hello","page":{"url":"https://acme.test/","title":"","referrer":""}});
    // Two sockets that say nothing hold both handshake places.
    let mut quiet = vec![Ws::connect(&a).await, Ws::connect(&a).await];
    assert_eq!(upgrade(&b).await.err(), Some(503), "handshakes full");
    for ws in &mut quiet {
        ws.send(hello.clone()).await;
        assert_eq!(ws.until_type("welcome").await["type"], "welcome");
    }
    // Tenant A: three visitor sockets at most.
    let mut third = Ws::connect(&a).await;
    third.send(hello.clone()).await;
    third.until_type("welcome").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(upgrade(&a).await.err(), Some(503), "tenant A is full");
    // Tenant B still gets in, until this address holds six.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut ws = Ws::connect(&b).await;
        ws.send(hello.clone()).await;
        ws.until_type("welcome").await;
        held.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(upgrade(&b).await.err(), Some(429), "six from one address");
    // Closing one frees its place.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match upgrade(&b).await {
            Ok(_) => break,
            Err(s) => {
                assert_eq!(s, 429);
                assert!(Instant::now() < deadline, "the place never came back");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn a_visitor_token_works_on_its_own_site_only() {
    let srv = Server::start();
    let (mut vis, welcome) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"s1","body":"hello from site one"}))
        .await;
    let ack = vis.until_type("ack").await;
    let conv = ack["conversation_id"].as_str().unwrap().to_string();
    let token = welcome["visitor_token"].as_str().unwrap();
    let owner = srv.login(OWNER).await;
    let two = srv
        .call(
            "POST",
            "/api/v1/sites",
            Some(&owner),
            Some(json!({"name": "Two"})),
        )
        .await;
    assert_eq!(two.status, 201, "{}", two.body);
    let key = two.body["key"].as_str().unwrap();
    // Site two does not know site one's visitor: a new visitor, a new token.
    let mut ws = Ws::connect(&format!("{}/ws/visitor?site={key}", srv.ws)).await;
    ws.send(json!({"type":"hello","visitor_token":token,"page":{"url":"https://two.test/","title":"","referrer":""}}))
        .await;
    let w = ws.until_type("welcome").await;
    assert_ne!(w["visitor_id"], welcome["visitor_id"], "{w}");
    assert_ne!(w["visitor_token"], welcome["visitor_token"]);
    assert!(w["conversation"].is_null(), "{w}");
    // …and cannot read or post into site one's conversation.
    ws.send(json!({"type":"resume","conversation_id":conv,"after_seq":0}))
        .await;
    let e = ws.until_type("error").await;
    assert_eq!(e["code"], "not_found", "{e}");
    ws.send(json!({"type":"send","client_id":"s2","body":"from site two"}))
        .await;
    let a = ws.until_type("ack").await;
    assert_ne!(a["conversation_id"].as_str(), Some(conv.as_str()));
    // Nor can it ask for site one's transcript through site two's form.
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{key}/transcript"),
            None,
            Some(json!({"visitor_token": token, "email": "v@mail.test"})),
        )
        .await;
    assert_ne!(r.status / 100, 2, "{}", r.body);
    // On its own site the token still names its visitor and conversation.
    let (_again, back) = srv.visitor(Some(token)).await;
    assert_eq!(back["visitor_id"], welcome["visitor_id"]);
    assert_eq!(back["visitor_token"], welcome["visitor_token"]);
    assert_eq!(back["conversation"]["id"], conv.as_str());
}
