//! Waiting visitors learn their place in line, staff start conversations
//! with visitors proactively, and dashboards see how long a visitor has been
//! on their page. Real server, real sockets.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

async fn first_message(v: &mut Ws, cid: &str) -> String {
    v.send(json!({"type":"send","client_id":cid,"body":"hello?"}))
        .await;
    let ack = v.until_type("ack").await;
    ack["conversation_id"].as_str().unwrap().to_string()
}

/// `true` when no frame of type `ty` arrives within `d`.
async fn no_frame(v: &mut Ws, ty: &str, d: Duration) -> bool {
    let end = tokio::time::Instant::now() + d;
    while let Some(left) = end.checked_duration_since(tokio::time::Instant::now()) {
        match v.try_recv(left).await {
            Some(f) if f["type"] == ty => return false,
            Some(_) => {}
            None => return true,
        }
    }
    true
}

async fn place(v: &mut Ws) -> u64 {
    let q = v.until_type("queue").await;
    q["position"].as_u64().unwrap()
}

#[tokio::test]
async fn waiting_visitors_learn_their_place_and_move_up_when_one_is_taken() {
    let srv = Server::start();
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut a, welcome) = srv.visitor(None).await;
    // The welcome carries the bubble's look, so the loader needs no other request.
    assert_eq!(welcome["site"]["color"], "#2563eb", "{welcome}");
    assert_eq!(welcome["site"]["position"], "bottom_right");
    let (mut b, _) = srv.visitor(None).await;
    let ca = first_message(&mut a, "a1").await;
    assert_eq!(place(&mut a).await, 1);
    let cb = first_message(&mut b, "b1").await;
    assert_eq!(place(&mut b).await, 2);

    staff
        .send(json!({"type":"claim","conversation_id":ca}))
        .await;
    let q = b.until_type("queue").await;
    assert_eq!(
        (q["conversation_id"].as_str(), q["position"].as_u64()),
        (Some(cb.as_str()), Some(1))
    );
    // The taken visitor hears no more places.
    assert!(
        no_frame(&mut a, "queue", Duration::from_millis(800)).await,
        "a claimed conversation is out of the line"
    );
}

#[tokio::test]
async fn a_tab_opened_while_waiting_is_told_its_place() {
    let srv = Server::start();
    let (mut a, wa) = srv.visitor(None).await;
    first_message(&mut a, "a1").await;
    assert_eq!(place(&mut a).await, 1);
    let (mut again, _) = srv.visitor(wa["visitor_token"].as_str()).await;
    assert_eq!(place(&mut again).await, 1);
    // After a restart the line is rebuilt from storage.
    drop((a, again));
    let mut srv = srv;
    srv.kill9_and_restart_same_address();
    let (mut back, w) = srv.visitor(wa["visitor_token"].as_str()).await;
    assert_eq!(w["conversation"]["status"], "waiting");
    assert_eq!(place(&mut back).await, 1);
}

#[tokio::test]
async fn staff_start_a_conversation_with_a_browsing_visitor() {
    let srv = Server::start();
    let (mut staff, ready) = srv.staff(OWNER).await;
    let me = ready["staff"]["id"].as_str().unwrap().to_string();
    let (mut v, welcome) = srv.visitor(None).await;
    assert!(welcome["conversation"].is_null());
    let vid = welcome["visitor_id"].as_str().unwrap().to_string();

    staff
        .send(json!({"type":"start","visitor_id":vid,"client_id":"p1","body":"Can I help you find something?"}))
        .await;
    // The claim's `conversation` frame comes before the message's ack.
    let mut status = None;
    let ack = staff
        .until(|f| {
            if f["type"] == "conversation" && f["conversation"]["status"] == "active" {
                status = Some(f["conversation"]["assignee"].clone());
            }
            f["type"] == "ack"
        })
        .await;
    assert_eq!(status, Some(json!(me)));
    let cid = ack["conversation_id"].as_str().unwrap().to_string();
    // The visitor's socket learns of the conversation, then gets the message.
    let c = v.until_type("conversation").await;
    assert_eq!(c["conversation"]["id"], cid.as_str());
    let m = v
        .until(|f| f["type"] == "message" && f["from"]["kind"] == "staff")
        .await;
    assert_eq!(m["body"], "Can I help you find something?");
    // The visitor answers in the same conversation.
    v.send(json!({"type":"send","client_id":"v1","body":"Yes please"}))
        .await;
    let a = v.until_type("ack").await;
    assert_eq!(a["conversation_id"], cid.as_str());

    // Starting again uses the same conversation; a re-sent start is deduped.
    staff
        .send(json!({"type":"start","visitor_id":vid,"client_id":"p1","body":"Can I help you find something?"}))
        .await;
    let again = staff.until_type("ack").await;
    assert_eq!(
        (again["conversation_id"].clone(), again["seq"].clone()),
        (ack["conversation_id"].clone(), ack["seq"].clone())
    );

    // Unknown visitors, and bad bodies, are refused like any send.
    staff
        .send(json!({"type":"start","visitor_id":"01JAAAAAAAAAAAAAAAAAAAAAAA","client_id":"p2","body":"hi"}))
        .await;
    let e = staff.until_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["client_id"].as_str()),
        (Some("not_found"), Some("p2"))
    );
    staff
        .send(json!({"type":"start","visitor_id":vid,"client_id":"p3","body":"  "}))
        .await;
    assert_eq!(staff.until_type("error").await["code"], "empty");
    // Visitors may not start anything.
    v.send(json!({"type":"start","visitor_id":vid,"client_id":"x","body":"hi"}))
        .await;
    assert_eq!(v.until_type("error").await["code"], "forbidden");
}

#[tokio::test]
async fn dashboards_see_how_long_a_visitor_is_on_their_page() {
    let srv = Server::start();
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut v, w) = srv.visitor(None).await;
    let vid = w["visitor_id"].as_str().unwrap().to_string();
    let seen = staff
        .until(|f| f["type"] == "visitor" && f["visitor"]["id"] == vid.as_str())
        .await;
    let first = seen["visitor"]["page_since"].as_str().unwrap().to_string();
    // A second tab on the same page keeps the time on page.
    let (_tab, _) = srv.visitor(w["visitor_token"].as_str()).await;
    let same = staff
        .until(|f| f["type"] == "visitor" && f["visitor"]["id"] == vid.as_str())
        .await;
    assert_eq!(same["visitor"]["page_since"], first.as_str());
    tokio::time::sleep(Duration::from_millis(20)).await;
    v.send(
        json!({"type":"page","url":"https://acme.test/pricing","title":"Pricing","referrer":""}),
    )
    .await;
    let moved = staff
        .until(|f| {
            f["type"] == "visitor" && f["visitor"]["page"]["url"] == "https://acme.test/pricing"
        })
        .await;
    let since = moved["visitor"]["page_since"].as_str().unwrap();
    assert!(since > first.as_str(), "{since} after {first}");
}
