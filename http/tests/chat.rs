//! The core chat path end to end: a visitor and staff chat both ways,
//! claim and close, private notes stay private, ordering under concurrency,
//! resume and dedupe.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

fn seq(v: &Value) -> u64 {
    v["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn visitor_and_staff_chat_claim_close_and_notes_stay_private() {
    let srv = Server::start();
    let (mut staff, ready) = srv.staff(OWNER).await;
    assert_eq!(ready["staff"]["role"], "owner");
    assert_eq!(ready["conversations"], json!([]));
    let (mut vis, welcome) = srv.visitor(None).await;
    assert_eq!(welcome["conversation"], Value::Null);
    assert_eq!(welcome["agents_online"], true);
    assert!(welcome["visitor_token"].as_str().unwrap().len() > 20);
    // Staff see the visitor arrive.
    let seen = staff.until_type("visitor").await;
    assert_eq!(seen["visitor"]["id"], welcome["visitor_id"]);
    assert_eq!(seen["visitor"]["online"], true);
    assert_eq!(seen["visitor"]["page"]["url"], "https://acme.test/");
    // Live tracking: a navigation reaches staff at once.
    vis.send(json!({"type":"page","url":"https://acme.test/pricing","title":"Pricing","referrer":"https://acme.test/"}))
        .await;
    let moved = staff.until_type("visitor").await;
    assert_eq!(moved["visitor"]["page"]["url"], "https://acme.test/pricing");
    assert_eq!(moved["visitor"]["page"]["title"], "Pricing");

    // Visitor opens the conversation.
    vis.send(json!({"type":"send","client_id":"v1","body":"Hello, anyone there?"}))
        .await;
    let ack = vis.until_type("ack").await;
    assert_eq!((ack["client_id"].as_str(), seq(&ack)), (Some("v1"), 1));
    let conv = ack["conversation_id"].as_str().unwrap().to_string();
    let echo = vis.until_type("message").await;
    assert_eq!((seq(&echo), echo["id"].clone()), (1, ack["id"].clone()));

    let c = staff.until_type("conversation").await;
    assert_eq!(c["conversation"]["id"], conv);
    assert_eq!(c["conversation"]["status"], "waiting");
    let m = staff.until_type("message").await;
    assert_eq!(m["body"], "Hello, anyone there?");
    assert_eq!(m["from"]["kind"], "visitor");

    // Typing and read receipts travel.
    vis.send(json!({"type":"typing","on":true})).await;
    let t = staff.until_type("typing").await;
    assert_eq!(
        (t["on"].as_bool(), t["from"]["kind"].as_str()),
        (Some(true), Some("visitor"))
    );
    staff
        .send(json!({"type":"read","conversation_id":conv,"seq":1}))
        .await;
    let r = vis.until_type("read").await;
    assert_eq!((seq(&r), r["by"]["kind"].as_str()), (1, Some("staff")));

    // Claim.
    staff
        .send(json!({"type":"claim","conversation_id":conv}))
        .await;
    let c = staff
        .until(|v| v["type"] == "conversation" && v["conversation"]["status"] == "active")
        .await;
    assert_eq!(c["conversation"]["assignee"], ready["staff"]["id"]);
    let sys = vis.until_type("message").await;
    assert_eq!(
        (seq(&sys), sys["from"]["kind"].as_str()),
        (2, Some("system"))
    );
    assert!(sys["body"].as_str().unwrap().contains("Olive"));
    // Claiming twice is refused.
    staff
        .send(json!({"type":"claim","conversation_id":conv}))
        .await;
    assert_eq!(staff.until_type("error").await["code"], "invalid_state");

    // Staff reply, then a private note, then another reply.
    staff.send(json!({"type":"send","conversation_id":conv,"client_id":"s1","body":"Hi! How can I help?"})).await;
    assert_eq!(seq(&staff.until_type("ack").await), 3);
    staff.send(json!({"type":"send","conversation_id":conv,"client_id":"s2","body":"VIP customer","private":true})).await;
    let note_ack = staff.until_type("ack").await;
    assert_eq!(seq(&note_ack), 4);
    let note = staff
        .until(|v| v["type"] == "message" && v["seq"] == 4)
        .await;
    assert_eq!(note["private"], true);
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s3","body":"Still there?"}))
        .await;
    assert_eq!(seq(&staff.until_type("ack").await), 5);

    let m3 = vis.until_type("message").await;
    assert_eq!(
        (seq(&m3), m3["body"].as_str(), m3["from"]["kind"].as_str()),
        (3, Some("Hi! How can I help?"), Some("staff"))
    );
    let next = vis.until_type("message").await;
    assert_eq!(
        seq(&next),
        5,
        "the private note (seq 4) never reaches the visitor"
    );
    assert_eq!(next["body"], "Still there?");

    // Visitor answers; staff close; visitor rates.
    vis.send(json!({"type":"send","client_id":"v2","body":"Yes, thanks!"}))
        .await;
    assert_eq!(seq(&vis.until_type("ack").await), 6);
    staff
        .until(|v| v["type"] == "message" && v["seq"] == 6)
        .await;
    vis.send(json!({"type":"rate","score":5,"comment":"great"}))
        .await;
    assert_eq!(
        vis.until_type("error").await["code"],
        "invalid_state",
        "rating needs a closed conversation"
    );
    staff
        .send(json!({"type":"close","conversation_id":conv}))
        .await;
    let closed = staff
        .until(|v| v["type"] == "conversation" && v["conversation"]["status"] == "closed")
        .await;
    assert_eq!(closed["conversation"]["last_seq"], 7);
    vis.until(|v| v["type"] == "conversation" && v["conversation"]["status"] == "closed")
        .await;
    let bye = vis.until(|v| v["type"] == "message").await;
    assert_eq!(
        (seq(&bye), bye["from"]["kind"].as_str()),
        (7, Some("system"))
    );
    vis.send(json!({"type":"rate","score":5,"comment":"great"}))
        .await;
    let rated = staff
        .until(|v| v["type"] == "conversation" && !v["conversation"]["rating"].is_null())
        .await;
    assert_eq!(rated["conversation"]["rating"]["score"], 5);

    // A visitor's history replay never contains the note.
    let (mut tab, w) = srv.visitor(welcome["visitor_token"].as_str()).await;
    assert_eq!(
        w["visitor_id"], welcome["visitor_id"],
        "the token recognises the visitor"
    );
    assert_eq!(w["conversation"]["id"], conv);
    tab.send(json!({"type":"resume","conversation_id":conv,"after_seq":0}))
        .await;
    let mut seqs = Vec::new();
    while seqs.len() < 6 {
        let f = tab.until_type("message").await;
        assert_eq!(f["private"], false);
        seqs.push(seq(&f));
    }
    assert_eq!(seqs, vec![1, 2, 3, 5, 6, 7]);
    // A message after a rated close starts a new conversation; the closed
    // one stays as it was (tests/lifecycle.rs has the whole rule).
    tab.send(json!({"type":"send","client_id":"v3","body":"One more thing"}))
        .await;
    let ack = tab.until_type("ack").await;
    assert_eq!(seq(&ack), 1);
    assert_ne!(ack["conversation_id"], conv);
}

#[tokio::test]
async fn fifty_concurrent_senders_see_one_gapless_order() {
    let srv = Server::start_with(Setup {
        staff: vec![("bob@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    // One visitor, many tabs.
    let (mut first, welcome) = srv.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    first
        .send(json!({"type":"send","client_id":"open","body":"opening"}))
        .await;
    let conv = first.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sockets = vec![first];
    for _ in 0..39 {
        let (mut tab, w) = srv.visitor(Some(&token)).await;
        assert_eq!(w["conversation"]["id"], conv);
        tab.send(json!({"type":"resume","conversation_id":conv,"after_seq":1}))
            .await;
        sockets.push(tab);
    }
    for i in 0..10 {
        let email = if i % 2 == 0 { OWNER } else { "bob@acme.test" };
        // Staff get a waiting conversation's messages live; resuming too (as a
        // dashboard opening it does) must not make anything arrive twice.
        let (mut s, _) = srv.staff(email).await;
        s.send(json!({"type":"resume","conversation_id":conv,"after_seq":1}))
            .await;
        sockets.push(s);
    }
    // Everyone sends 4 messages at once; every socket then reads all 200.
    const PER: usize = 4;
    let total = sockets.len() * PER;
    let mut tasks = Vec::new();
    for (i, mut ws) in sockets.into_iter().enumerate() {
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..PER {
                ws.send(json!({"type":"send","conversation_id":conv,"client_id":format!("c{i}-{k}"),"body":format!("m{i}-{k}")}))
                    .await;
            }
            let mut acks = Vec::new();
            let mut seen: Vec<(u64, String)> = Vec::new();
            while seen.len() < total || acks.len() < PER {
                let f = ws.recv().await;
                match f["type"].as_str() {
                    Some("ack") => acks.push(f["seq"].as_u64().unwrap()),
                    Some("message") if f["seq"].as_u64().unwrap() > 1 => {
                        seen.push((f["seq"].as_u64().unwrap(), f["body"].as_str().unwrap().to_string()))
                    }
                    Some("error") => panic!("error frame: {f}"),
                    _ => {}
                }
            }
            (acks, seen)
        }));
    }
    let mut reference: Option<Vec<(u64, String)>> = None;
    let mut all_acks = Vec::new();
    for t in tasks {
        let (acks, seen) = tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .unwrap()
            .unwrap();
        all_acks.extend(acks);
        let seqs: Vec<u64> = seen.iter().map(|s| s.0).collect();
        assert_eq!(
            seqs,
            (2..2 + total as u64).collect::<Vec<_>>(),
            "gapless and in order"
        );
        match &reference {
            None => reference = Some(seen),
            Some(r) => assert_eq!(r, &seen, "every participant sees the same order"),
        }
    }
    all_acks.sort();
    assert_eq!(
        all_acks,
        (2..2 + total as u64).collect::<Vec<_>>(),
        "each message acked once with its own seq"
    );
    let bodies: BTreeMap<_, _> = reference
        .unwrap()
        .into_iter()
        .map(|(s, b)| (b, s))
        .collect();
    assert_eq!(bodies.len(), total, "no message stored twice");
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_messages_and_resend_is_deduped() {
    let srv = Server::start();
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut vis, welcome) = srv.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"a","body":"one"}))
        .await;
    let first_ack = vis.until_type("ack").await;
    let conv = first_ack["conversation_id"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"b","body":"two"}))
        .await;
    assert_eq!(seq(&vis.until_type("ack").await), 2);
    drop(vis);

    for i in 3..=5 {
        staff.send(json!({"type":"send","conversation_id":conv,"client_id":format!("s{i}"),"body":format!("staff {i}")})).await;
        assert_eq!(seq(&staff.until_type("ack").await), i);
    }

    let (mut vis, w) = srv.visitor(Some(&token)).await;
    assert_eq!(w["conversation"]["last_seq"], 5);
    vis.send(json!({"type":"resume","conversation_id":conv,"after_seq":2}))
        .await;
    for i in 3..=5 {
        let m = vis.until_type("message").await;
        assert_eq!(
            (seq(&m), m["body"].as_str().unwrap()),
            (i, format!("staff {i}").as_str())
        );
    }
    // Then live.
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s6","body":"live"}))
        .await;
    let m = vis.until_type("message").await;
    assert_eq!((seq(&m), m["body"].as_str()), (6, Some("live")));

    // Re-sending an acknowledged client_id returns the same ack and stores nothing.
    vis.send(json!({"type":"send","client_id":"a","body":"one"}))
        .await;
    let again = vis.until_type("ack").await;
    assert_eq!(
        (again["id"].clone(), seq(&again), again["ts"].clone()),
        (first_ack["id"].clone(), 1, first_ack["ts"].clone())
    );
    vis.send(json!({"type":"send","client_id":"c","body":"three"}))
        .await;
    assert_eq!(
        seq(&vis.until_type("ack").await),
        7,
        "no seq was spent on the duplicate"
    );
    // Nothing more than seq 7 arrives at staff after 6: the duplicate was not re-broadcast.
    let next = staff.until(|v| v["type"] == "message" && seq(v) >= 6).await;
    assert_eq!(seq(&next), 6);
    assert_eq!(seq(&staff.until_type("message").await), 7);
}

#[tokio::test]
async fn transfer_between_agents_and_tenant_scoping() {
    let srv = Server::start_with(Setup {
        staff: vec![
            ("bob@acme.test".into(), "agent".into()),
            ("cat@acme.test".into(), "agent".into()),
        ],
        ..Default::default()
    });
    let (mut bob, bob_ready) = srv.staff("bob@acme.test").await;
    let (mut cat, cat_ready) = srv.staff("cat@acme.test").await;
    let (mut vis, _) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"v1","body":"help"}))
        .await;
    let conv = vis.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    bob.send(json!({"type":"claim","conversation_id":conv}))
        .await;
    bob.until(|v| v["type"] == "conversation" && v["conversation"]["status"] == "active")
        .await;
    // Cat, an agent, cannot take it over.
    cat.send(json!({"type":"claim","conversation_id":conv}))
        .await;
    assert_eq!(cat.until_type("error").await["code"], "already_claimed");
    bob.send(
        json!({"type":"transfer","conversation_id":conv,"to_staff_id":cat_ready["staff"]["id"]}),
    )
    .await;
    let t = cat
        .until(|v| {
            v["type"] == "conversation" && v["conversation"]["assignee"] == cat_ready["staff"]["id"]
        })
        .await;
    assert_eq!(t["conversation"]["status"], "active");
    // Now assigned to Cat: Cat receives the visitor's messages, Bob no longer does.
    vis.send(json!({"type":"send","client_id":"v2","body":"for cat"}))
        .await;
    let m = cat
        .until(|v| v["type"] == "message" && v["body"] == "for cat")
        .await;
    assert_eq!(m["from"]["kind"], "visitor");
    assert!(bob
        .try_recv(Duration::from_millis(300))
        .await
        .is_none_or(|v| v["body"] != "for cat"));
    // Unknown conversation and unknown staff ids answer not_found.
    let other = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    bob.send(json!({"type":"close","conversation_id":other}))
        .await;
    assert_eq!(bob.until_type("error").await["code"], "not_found");
    bob.send(json!({"type":"transfer","conversation_id":conv,"to_staff_id":other}))
        .await;
    assert_eq!(bob.until_type("error").await["code"], "not_found");
    let _ = bob_ready;
}

#[tokio::test]
async fn another_tenants_conversation_is_not_found_on_every_frame() {
    let srv = Server::start_with(Setup {
        tenants: vec!["mallory@other.test".into()],
        ..Default::default()
    });
    let (mut owner, _) = srv.staff(OWNER).await;
    let (mut vis, _) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"v1","body":"private business"}))
        .await;
    let conv = vis.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    owner.until(|v| v["type"] == "message").await;

    // The other tenant's owner sees nothing of it and can touch nothing.
    let (mut mallory, ready) = srv.staff("mallory@other.test").await;
    assert_eq!(ready["conversations"], json!([]));
    assert_eq!(ready["visitors"], json!([]));
    assert_eq!(ready["visitors_online"], 0);
    for frame in [
        json!({"type":"resume","conversation_id":conv,"after_seq":0}),
        json!({"type":"claim","conversation_id":conv}),
        json!({"type":"close","conversation_id":conv}),
        json!({"type":"typing","conversation_id":conv,"on":true}),
        json!({"type":"read","conversation_id":conv,"seq":1}),
        json!({"type":"send","conversation_id":conv,"client_id":"m1","body":"hi"}),
    ] {
        mallory.send(frame.clone()).await;
        let e = mallory.until_type("error").await;
        assert_eq!(e["code"], "not_found", "{frame}");
    }
    assert!(
        mallory.try_recv(Duration::from_millis(300)).await.is_none(),
        "no frame leaks across tenants"
    );
    // A visitor token of one tenant is not honoured on another tenant's site.
    let other_key = srv.others[0]["site_key"].as_str().unwrap();
    let mut ws = Ws::connect(&format!("{}/ws/visitor?site={other_key}", srv.ws)).await;
    let token = srv.visitor(None).await.1["visitor_token"].clone();
    ws.send(json!({"type":"hello","visitor_token":token,"page":{}}))
        .await;
    let w = ws.until_type("welcome").await;
    assert_eq!(w["conversation"], serde_json::Value::Null);
    assert_ne!(w["visitor_token"], token);
}

#[tokio::test]
async fn staff_resume_after_live_delivery_sends_nothing_twice() {
    let srv = Server::start();
    let (mut vis, _) = srv.visitor(None).await;
    for i in 1..=2 {
        vis.send(json!({"type":"send","client_id":format!("a{i}"),"body":format!("m{i}")}))
            .await;
        assert_eq!(seq(&vis.until_type("ack").await), i);
    }
    let conv =
        vis.until(|v| v["type"] == "message" && v["seq"] == 2).await["conversation_id"].clone();
    // Staff arrive while it waits: 3 and 4 reach them live.
    let (mut staff, _) = srv.staff(OWNER).await;
    for i in 3..=4 {
        vis.send(json!({"type":"send","client_id":format!("a{i}"),"body":format!("m{i}")}))
            .await;
        assert_eq!(seq(&vis.until_type("ack").await), i);
    }
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(seq(&staff.until_type("message").await));
    }
    // Opening the conversation with history from the start replays 1 and 2 only.
    staff
        .send(json!({"type":"resume","conversation_id":conv,"after_seq":0}))
        .await;
    vis.send(json!({"type":"send","client_id":"a5","body":"m5"}))
        .await;
    while got.len() < 5 {
        got.push(seq(&staff.until_type("message").await));
    }
    // 5 may come live before or after the replay; each arrives exactly once.
    assert_eq!(&got[..2], &[3, 4]);
    let mut rest = got[2..].to_vec();
    rest.sort();
    assert_eq!(rest, vec![1, 2, 5]);
    assert!(
        staff
            .try_recv(Duration::from_millis(300))
            .await
            .is_none_or(|v| v["type"] != "message"),
        "no message arrives twice"
    );
}

/// Polls new visitors' `welcome` until `agents_online` is `expected`.
async fn wait_agents_online(srv: &Server, expected: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, w) = srv.visitor(None).await;
        if w["agents_online"] == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "agents_online never became {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn availability_drives_agents_online() {
    let srv = Server::start();
    let (_, w) = srv.visitor(None).await;
    assert_eq!(w["agents_online"], false, "nobody signed in");
    let (mut staff, _) = srv.staff(OWNER).await;
    let (_, w) = srv.visitor(None).await;
    assert_eq!(w["agents_online"], true);
    // Each change travels socket → Tenant → Staff actor → Tenant.
    staff
        .send(json!({"type":"availability","status":"away"}))
        .await;
    wait_agents_online(&srv, false).await;
    staff
        .send(json!({"type":"availability","status":"available"}))
        .await;
    wait_agents_online(&srv, true).await;
    drop(staff);
    wait_agents_online(&srv, false).await;
}

/// The `parley_conversations_live` gauge from `/metrics`.
async fn live_conversations(srv: &Server) -> f64 {
    let text = srv.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix("parley_conversations_live "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn a_returning_visitor_does_not_wake_a_sleeping_conversation_until_needed() {
    let srv = Server::start_with(Setup {
        config: Some("[actors]\nconversation_idle_secs = 1\n".into()),
        ..Default::default()
    });
    let (mut vis, welcome) = srv.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"v1","body":"hello"}))
        .await;
    let conv = vis.until_type("ack").await["conversation_id"].clone();
    drop(vis);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while live_conversations(&srv).await > 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the conversation never passivated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The visitor comes back: the welcome shows the conversation from storage...
    let (mut vis, w) = srv.visitor(Some(&token)).await;
    assert_eq!(
        (
            w["conversation"]["id"].clone(),
            w["conversation"]["last_seq"].clone()
        ),
        (conv.clone(), json!(1))
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        live_conversations(&srv).await,
        0.0,
        "an idle returning visitor costs no conversation actor"
    );
    // ...and when staff write, it wakes and the open tab gets the reply live.
    let (mut staff, _) = srv.staff(OWNER).await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s1","body":"welcome back"}))
        .await;
    let m = vis.until_type("message").await;
    assert_eq!((seq(&m), m["body"].as_str()), (2, Some("welcome back")));
    assert_eq!(live_conversations(&srv).await, 1.0);
}

/// `ready` lists the visitors online who arrived last, newest first, and
/// counts them all (the list stops at 500: tens of thousands online would
/// make one frame tens of megabytes).
#[tokio::test]
async fn ready_lists_the_visitors_who_arrived_last_and_counts_them_all() {
    let srv = Server::start();
    let (mut ids, mut tabs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (tab, welcome) = srv.visitor(None).await;
        ids.push(welcome["visitor_id"].clone());
        tabs.push(tab);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_staff, ready) = srv.staff(OWNER).await;
    assert_eq!(ready["visitors_online"], 3);
    let listed: Vec<Value> = ready["visitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
}
