//! Bad input never takes the server down: each case in the contract gets
//! its error frame or close code, and other clients keep being served.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn every_bad_frame_gets_its_error_and_the_socket_stays_open() {
    let srv = Server::start();
    let (mut vis, _) = srv.visitor(None).await;

    vis.send_text("{this is not json").await;
    assert_eq!(vis.until_type("error").await["code"], "bad_frame");
    vis.send_text("[1,2,3]").await;
    assert_eq!(vis.until_type("error").await["code"], "bad_frame");
    vis.send(json!({"type":"teleport"})).await;
    assert_eq!(vis.until_type("error").await["code"], "unknown_type");
    vis.send(json!({"type":"send","client_id":"m1"})).await;
    let e = vis.until_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["client_id"].as_str()),
        (Some("bad_frame"), Some("m1"))
    );
    vis.send(json!({"type":"send","client_id":"big","body":"x".repeat(4001)}))
        .await;
    let e = vis.until_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["client_id"].as_str()),
        (Some("too_long"), Some("big"))
    );
    vis.send(json!({"type":"send","client_id":"ok4000","body":"é".repeat(4000)}))
        .await;
    assert_eq!(
        vis.until_type("ack").await["client_id"],
        "ok4000",
        "4,000 characters is within the limit"
    );
    vis.send(json!({"type":"send","client_id":"blank","body":"   "}))
        .await;
    assert_eq!(vis.until_type("error").await["code"], "empty");
    vis.send(json!({"type":"send","client_id":"p","body":"psst","private":true}))
        .await;
    assert_eq!(
        vis.until_type("error").await["code"],
        "forbidden",
        "visitors cannot write private notes"
    );
    vis.send(json!({"type":"claim","conversation_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}))
        .await;
    assert_eq!(vis.until_type("error").await["code"], "forbidden");
    vis.send(json!({"type":"resume","conversation_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","after_seq":0}))
        .await;
    assert_eq!(
        vis.until_type("error").await["code"],
        "not_found",
        "another conversation is not found"
    );
    vis.send(json!({"type":"ping"})).await;
    assert_eq!(
        vis.until_type("pong").await["type"],
        "pong",
        "still open and answering"
    );
    // WebSocket-level pings are answered too, with their payload.
    vis.inner
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), vis.inner.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Pong(p))) => {
                assert_eq!(&p[..], b"are you there");
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("no pong: {other:?}"),
        }
    }
}

#[tokio::test]
async fn rate_limit_answers_rate_limited() {
    let srv = Server::start_with(Setup {
        config: Some("[limits]\nframes_per_second = 5\nframe_burst = 5\n".into()),
        ..Default::default()
    });
    let (mut vis, _) = srv.visitor(None).await;
    for i in 0..30 {
        vis.send(json!({"type":"send","client_id":format!("r{i}"),"body":"spam"}))
            .await;
    }
    let mut limited = 0;
    let mut acked = 0;
    while limited + acked < 30 {
        let f = vis.recv().await;
        match f["type"].as_str() {
            Some("error") => {
                assert_eq!(f["code"], "rate_limited");
                assert!(f["client_id"].as_str().unwrap().starts_with('r'));
                limited += 1;
            }
            Some("ack") => acked += 1,
            _ => {}
        }
    }
    assert!(limited >= 20, "only {limited} of 30 were limited");
    assert!(acked >= 5);
}

#[tokio::test]
async fn oversize_frames_unknown_sites_and_bad_auth_close_with_their_codes() {
    let srv = Server::start_with(Setup {
        config: Some("[limits]\nhandshake_timeout_secs = 1\n".into()),
        ..Default::default()
    });
    // A frame over 64 KiB: 1009.
    let (mut vis, _) = srv.visitor(None).await;
    vis.send_text(&format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(70_000)
    ))
    .await;
    assert_eq!(vis.close_code().await, Some(1009));

    // An unknown site key: 4404.
    let mut ws = Ws::connect(&format!("{}/ws/visitor?site=pk_nope", srv.ws)).await;
    assert_eq!(ws.close_code().await, Some(4404));

    // Staff: a forged token, a non-auth first frame, and silence all close with 4401.
    let mut ws = Ws::connect(&format!("{}/ws/staff", srv.ws)).await;
    ws.send(json!({"type":"auth","token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged"}))
        .await;
    assert_eq!(ws.close_code().await, Some(4401));
    let mut ws = Ws::connect(&format!("{}/ws/staff", srv.ws)).await;
    ws.send(json!({"type":"ping"})).await;
    assert_eq!(ws.close_code().await, Some(4401));
    let mut ws = Ws::connect(&format!("{}/ws/staff", srv.ws)).await;
    assert_eq!(
        ws.close_code().await,
        Some(4401),
        "no auth within the handshake timeout"
    );
    // A visitor that never says hello: 4400.
    let mut ws = Ws::connect(&format!("{}/ws/visitor?site={}", srv.ws, srv.site_key())).await;
    assert_eq!(ws.close_code().await, Some(4400));

    // Meanwhile the server keeps serving others.
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut vis, _) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"still","body":"still here"}))
        .await;
    assert_eq!(vis.until_type("ack").await["seq"], 1);
    assert_eq!(staff.until_type("message").await["body"], "still here");
}

#[tokio::test]
async fn bad_rest_bodies_get_the_contract_error_body() {
    let srv = Server::start();
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/auth/login", srv.base);
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().contains_key("x-request-id"));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
    assert!(v["error"]["message"].as_str().unwrap().len() > 5);
    let r = http
        .post(&url)
        .json(&json!({"email":OWNER,"password":"wrong password 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_credentials");
    let r = http
        .post(&url)
        .json(&json!({"email":OWNER,"password":PASSWORD,"extra":1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "unknown fields are refused");
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"email\":\"{}\",\"password\":\"x\"}}",
            "a".repeat(20_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    let r = http
        .get(format!("{}/api/v1/nope", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    let r = http
        .get(format!("{}/ws/staff", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "a plain GET on a WebSocket route is a clear 400"
    );
}
