//! What held when issue 28's attacker tried it, kept as regression tests
//! where no other test covered it: a webhook endpoint that redirects is not
//! followed, and one that answers with 200 MB, or a byte a second, is
//! neither buffered nor waited on past `webhooks.timeout_secs`; signed
//! links refuse `alg: none`, another key and a changed byte.

mod common;

use common::hooks::Receiver;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A hostile endpoint: reads each request head and answers with `reply`,
/// then, for a body, `body_bytes` bytes in chunks of `chunk` every `every`.
async fn hostile(reply: String, body_bytes: usize, chunk: usize, every: Duration) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = s.read(&mut buf).await;
                if s.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
                let block = vec![b'x'; chunk];
                let mut sent = 0;
                while sent < body_bytes {
                    if s.write_all(&block).await.is_err() {
                        return;
                    }
                    sent += chunk;
                    if !every.is_zero() {
                        tokio::time::sleep(every).await;
                    }
                }
            });
        }
    });
    url
}

async fn register(srv: &Server, token: &str, url: &str) -> String {
    let r = srv
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(token),
            Some(json!({"url": url, "events": ["contact_message.created"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// The first attempt of webhook `id`'s newest delivery, once there is one.
async fn first_attempt(srv: &Server, token: &str, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let r = srv
            .call(
                "GET",
                &format!("/api/v1/webhooks/{id}/deliveries"),
                Some(token),
                None,
            )
            .await;
        let attempt = r.body["items"]
            .as_array()
            .and_then(|d| d.first())
            .and_then(|d| d["attempts"].as_array())
            .and_then(|a| a.first())
            .cloned();
        if let Some(a) = attempt {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "no attempt within {within:?}: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn hostile_webhook_endpoints_are_neither_followed_nor_buffered() {
    let mut srv = Server::start_with(Setup {
        config: Some(
            "[webhooks]\nallow_private_targets = true\nretry_base_secs = 60\ntimeout_secs = 3\n"
                .into(),
        ),
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let elsewhere = Receiver::start().await;
    let redirect = hostile(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
            elsewhere.url
        ),
        0,
        1,
        Duration::ZERO,
    )
    .await;
    let huge = hostile(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 209715200\r\n\r\n".into(),
        200 << 20,
        64 * 1024,
        Duration::ZERO,
    )
    .await;
    let trickle = hostile(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n".into(),
        1_000_000,
        1,
        Duration::from_secs(1),
    )
    .await;
    let ids = [
        register(&srv, &owner, &redirect).await,
        register(&srv, &owner, &huge).await,
        register(&srv, &owner, &trickle).await,
    ];
    let before = srv.rss();
    let key = srv.site_key().to_string();
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{key}/contact"),
            None,
            Some(json!({"name": "Eve", "email": "eve@example.test", "message": "hello", "page_url": "https://acme.test/"})),
        )
        .await;
    assert!(r.status < 300, "{}", r.body);
    let redirected = first_attempt(&srv, &owner, &ids[0], Duration::from_secs(20)).await;
    assert_eq!(
        redirected["status"], 307,
        "a redirect is an answer, not followed: {redirected}"
    );
    let big = first_attempt(&srv, &owner, &ids[1], Duration::from_secs(20)).await;
    assert_eq!(big["status"], 200, "{big}");
    // The dribbling endpoint gets its status read and nothing more.
    let slow = first_attempt(&srv, &owner, &ids[2], Duration::from_secs(20)).await;
    assert_eq!(slow["status"], 200, "{slow}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(elsewhere.hits().is_empty(), "the redirect was followed");
    let grown = srv.rss().saturating_sub(before);
    assert!(grown < 64 << 20, "RSS grew by {} MiB", grown >> 20);
    assert!(srv.terminate().success());
}

/// Signed links: only genuine HS256 tokens of the link kind are read.
#[tokio::test]
async fn signed_links_refuse_none_foreign_keys_and_changed_bytes() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let srv = Server::start();
    let tid = srv.tenant["tenant_id"].as_str().unwrap();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = json!({"act": "unsubscribe", "tid": tid, "sub": "nobody", "ver": 0, "kind": "link", "exp": exp});
    let payload = b64.encode(claims.to_string());
    let none = format!("{}.{payload}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
    let sign = |secret: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let foreign = sign("another instance's secret, 32+ chars");
    let genuine = sign(TOKEN_SECRET);
    let mut changed = genuine.clone();
    let at = genuine.find('.').unwrap() + 3;
    let flip = if &changed[at..at + 1] == "A" {
        "B"
    } else {
        "A"
    };
    changed.replace_range(at..at + 1, flip);
    let staff = staff_token(TOKEN_SECRET, "01ARZ3NDEKTSV4RRFFQ69G5FAV", tid, 600);
    for (what, token) in [
        ("alg none", none),
        ("another key", foreign),
        ("a changed byte", changed),
        ("a staff token", staff),
    ] {
        let r = srv
            .call("GET", &format!("/api/v1/public/links/{token}"), None, None)
            .await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_token"),
            "{what}: {}",
            r.body
        );
    }
}
