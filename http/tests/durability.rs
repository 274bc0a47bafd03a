//! Acknowledged means on disk: a server killed with SIGKILL right after
//! acking still has every acknowledged message, in order, after a restart,
//! and dedupe by `client_id` survives the restart.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn acked_messages_survive_kill_9_and_restart() {
    let mut srv = Server::start();
    let (mut vis, welcome) = srv.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    let n = 30;
    for i in 1..=n {
        vis.send(json!({"type":"send","client_id":format!("k{i}"),"body":format!("durable {i}")}))
            .await;
    }
    let mut acks = Vec::new();
    while acks.len() < n {
        let f = vis.recv().await;
        if f["type"] == "ack" {
            acks.push(f);
        }
    }
    let conv = acks[0]["conversation_id"].as_str().unwrap().to_string();
    // No graceful anything: SIGKILL the moment the last ack is in.
    srv.kill9_and_restart();

    let (mut vis, w) = srv.visitor(Some(&token)).await;
    assert_eq!(w["visitor_id"], welcome["visitor_id"]);
    assert_eq!(w["conversation"]["id"], conv);
    assert_eq!(w["conversation"]["last_seq"], n as u64);
    vis.send(json!({"type":"resume","conversation_id":conv,"after_seq":0}))
        .await;
    for (i, ack) in acks.iter().enumerate() {
        let m = vis.until_type("message").await;
        assert_eq!(m["seq"], (i + 1) as u64);
        assert_eq!(
            m["id"], ack["id"],
            "the stored message is the acknowledged one"
        );
        assert_eq!(m["body"], format!("durable {}", i + 1));
    }
    // The client re-sends one it had acked: same ack, nothing new stored.
    vis.send(json!({"type":"send","client_id":"k7","body":"durable 7"}))
        .await;
    let again = vis.until_type("ack").await;
    assert_eq!(
        (again["id"].clone(), again["seq"].clone()),
        (acks[6]["id"].clone(), json!(7))
    );
    vis.send(json!({"type":"send","client_id":"after","body":"after restart"}))
        .await;
    assert_eq!(
        vis.until_type("ack").await["seq"],
        n as u64 + 1,
        "the sequence continues with no gap"
    );
}
