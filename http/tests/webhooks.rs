//! Webhooks out, to a real HTTP receiver on loopback that checks every
//! Standard Webhooks signature: the events of chat and of the back office,
//! retries with the same `webhook-id` after a failure, the delivery log,
//! secret rotation (both signatures during the overlap), `kill -9` with a
//! delivery pending, and internal targets refused by default.

mod common;

use common::hooks::{signed_with, Receiver};
use common::*;
use serde_json::json;

fn config() -> String {
    "[webhooks]\nallow_private_targets = true\nretry_base_secs = 1\n".into()
}

async fn register(srv: &Server, token: &str, url: &str, events: &[&str]) -> (String, String) {
    let r = srv
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(token),
            Some(json!({"url": url, "events": events})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    (r.body["id"].as_str().unwrap().to_string(), secret)
}

#[tokio::test]
async fn events_arrive_signed_and_failures_are_retried_with_the_same_id() {
    let rx = Receiver::start().await;
    let mut srv = Server::start_with(Setup {
        config: Some(config()),
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let (id, secret) = register(
        &srv,
        &owner,
        &rx.url,
        &[
            "conversation.created",
            "message.created",
            "contact_message.created",
        ],
    )
    .await;
    // The list never shows the secret.
    let list = srv
        .call("GET", "/api/v1/webhooks", Some(&owner), None)
        .await;
    assert!(!list.body.to_string().contains(&secret));
    // A chat: the conversation and its message, each signed.
    let (mut v, _) = srv.visitor(None).await;
    v.send(json!({"type":"send","client_id":"w1","body":"hello hooks"}))
        .await;
    v.until_type("ack").await;
    let hits = rx
        .until("conversation.created and message.created", |h| h.len() >= 2)
        .await;
    for h in &hits {
        assert!(signed_with(h, &secret), "bad signature: {h:?}");
        assert_eq!(h.header("content-type"), "application/json");
        assert!(h.header("webhook-timestamp").parse::<u64>().is_ok());
    }
    let types: Vec<String> = hits
        .iter()
        .map(|h| h.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert!(types.contains(&"conversation.created".into()), "{types:?}");
    let msg = hits
        .iter()
        .find(|h| h.json()["type"] == "message.created")
        .unwrap();
    assert_eq!(msg.json()["data"]["body"], "hello hooks");
    // The receiver fails once: the same delivery comes again, same id.
    rx.answer(500);
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{}/contact", srv.site_key()),
            None,
            Some(json!({"email": "v@mail.test", "message": "hook me"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let hits = rx
        .until("a failed contact delivery", |h| {
            h.iter()
                .any(|h| h.json()["type"] == "contact_message.created")
        })
        .await;
    let first = hits
        .iter()
        .find(|h| h.json()["type"] == "contact_message.created")
        .unwrap()
        .clone();
    assert_eq!(first.json()["data"]["message"], "hook me");
    rx.answer(200);
    let wid = first.header("webhook-id").to_string();
    rx.until("the retry", |h| {
        h.iter().filter(|h| h.header("webhook-id") == wid).count() >= 2
    })
    .await;
    // The log shows both attempts with their answers.
    let log = srv
        .call(
            "GET",
            &format!("/api/v1/webhooks/{id}/deliveries"),
            Some(&owner),
            None,
        )
        .await;
    let d = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == wid.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{}", log.body));
    assert_eq!(d["status"], "delivered", "{d}");
    let codes: Vec<_> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].clone())
        .collect();
    assert_eq!(codes, [json!(500), json!(200)]);
    // Rotation: both secrets sign during the overlap.
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_secret = r.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let before = rx.hits().len();
    srv.call(
        "POST",
        &format!("/api/v1/public/{}/contact", srv.site_key()),
        None,
        Some(json!({"email": "v@mail.test", "message": "after rotation"})),
    )
    .await;
    let hits = rx
        .until("a delivery after rotation", |h| h.len() > before)
        .await;
    let last = hits.last().unwrap();
    assert!(
        signed_with(last, &new_secret) && signed_with(last, &secret),
        "{last:?}"
    );
    // kill -9 with a delivery pending: it arrives after the restart, same id.
    rx.answer(503);
    srv.call(
        "POST",
        &format!("/api/v1/public/{}/contact", srv.site_key()),
        None,
        Some(json!({"email": "v@mail.test", "message": "survive a crash"})),
    )
    .await;
    let hits = rx
        .until("the first try before the crash", |h| {
            h.iter()
                .any(|h| h.json()["data"]["message"] == "survive a crash")
        })
        .await;
    let wid = hits
        .iter()
        .find(|h| h.json()["data"]["message"] == "survive a crash")
        .unwrap()
        .header("webhook-id")
        .to_string();
    srv.kill9_and_restart();
    rx.answer(200);
    rx.until("the delivery after the restart", |h| {
        h.iter().any(|h| {
            h.header("webhook-id") == wid && h.json()["data"]["message"] == "survive a crash"
        }) && h.iter().filter(|h| h.header("webhook-id") == wid).count() >= 2
    })
    .await;
    // Removed: nothing more is sent to it.
    let owner = srv.login(OWNER).await;
    let r = srv
        .call(
            "DELETE",
            &format!("/api/v1/webhooks/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
}

#[tokio::test]
async fn internal_targets_and_unknown_events_are_refused() {
    let srv = Server::start();
    let owner = srv.login(OWNER).await;
    for url in [
        "http://127.0.0.1:9/h",
        "http://localhost/h",
        "http://10.0.0.1/",
        "http://[::1]/",
        "ftp://x.test/",
    ] {
        let r = srv
            .call(
                "POST",
                "/api/v1/webhooks",
                Some(&owner),
                Some(json!({"url": url, "events": ["message.created"]})),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "invalid"), "{url}: {}", r.body);
    }
    let r = srv
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(&owner),
            Some(json!({"url": "https://hooks.example.com/x", "events": ["message.deleted"]})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid"));
    let r = srv
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(&owner),
            Some(json!({"url": "https://hooks.example.com/x", "events": ["message.created"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}
