//! A visitor's rights of access and erasure: the export holds everything
//! stored about them; the erasure deletes it all (not hides it), is
//! audited, survives a restart, and their old token starts afresh.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn until_status(srv: &Server, path: &str, token: &str, want: u16) -> Resp {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = srv.call("GET", path, Some(token), None).await;
        if r.status == want || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Nothing of visitor `id` answers any more; `other` still does.
async fn gone_but_others(srv: &Server, owner: &str, id: &str, conv: &str, other: &str) {
    for p in [
        format!("/api/v1/visitors/{id}"),
        format!("/api/v1/visitors/{id}/export"),
        format!("/api/v1/conversations/{conv}"),
        format!("/api/v1/conversations/{conv}/messages"),
    ] {
        let r = srv.call("GET", &p, Some(owner), None).await;
        assert_eq!(r.status, 404, "{p}: {}", r.body);
    }
    let contacts = srv
        .call("GET", "/api/v1/contact-messages", Some(owner), None)
        .await;
    assert_eq!(contacts.body["items"], json!([]), "{}", contacts.body);
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/visitors/{other}"),
            Some(owner),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "the other visitor stays");
}

#[tokio::test]
async fn a_visitor_exports_whole_and_is_erased_whole() {
    let mut srv = Server::start_with(Setup {
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Setup::default()
    });
    let owner = srv.login(OWNER).await;
    let agent = srv.login("agent@acme.test").await;

    // The visitor: pages, a name, a conversation with a reply and a private
    // note, and a contact message sent with their token.
    let (mut vis, welcome) = srv.visitor(None).await;
    let id = welcome["visitor_id"].as_str().unwrap().to_string();
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    vis.send(
        json!({"type":"page","url":"https://acme.test/pricing","title":"Pricing","referrer":""}),
    )
    .await;
    vis.send(json!({"type":"identify","name":"Paula","email":"paula@example.com"}))
        .await;
    vis.send(json!({"type":"send","client_id":"p1","body":"my secret question"}))
        .await;
    let conv = vis.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut staff, _) = srv.staff(OWNER).await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s1","body":"the answer"}))
        .await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s2","body":"seems keen","private":true}))
        .await;
    staff
        .until(|f| f["type"] == "ack" && f["client_id"] == "s2")
        .await;
    let contact = reqwest::Client::new()
        .post(format!("{}/api/v1/public/{}/contact", srv.base, srv.site_key()))
        .json(&json!({"name":"Paula","email":"paula@example.com","message":"please call me","visitor_token":token}))
        .send()
        .await
        .unwrap();
    assert_eq!(contact.status(), 201);
    // Someone else, who must stay.
    let (_other_ws, other) = srv.visitor(None).await;
    let other = other["visitor_id"].as_str().unwrap().to_string();
    until_status(&srv, &format!("/api/v1/visitors/{other}"), &owner, 200).await;

    // Access.
    let path = format!("/api/v1/visitors/{id}/export");
    assert_eq!(srv.call("GET", &path, Some(&agent), None).await.status, 403);
    let deadline = Instant::now() + Duration::from_secs(5);
    let export = loop {
        let r = srv.call("GET", &path, Some(&owner), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let pages = r.body["pages"].as_array().map_or(0, Vec::len);
        if (pages >= 2 && r.body["visitor"]["name"] == "Paula") || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    let e = &export.body;
    assert!(
        export
            .header("content-disposition")
            .is_some_and(|d| d.contains("attachment")),
        "a download"
    );
    assert_eq!(e["visitor"]["email"], "paula@example.com", "{e}");
    assert!(e["device"]["user_agent"].is_string(), "{e}");
    let urls: Vec<&str> = e["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap())
        .collect();
    assert!(urls.contains(&"https://acme.test/pricing"), "{urls:?}");
    let bodies: Vec<(&str, bool)> = e["conversations"][0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["body"].as_str().unwrap(), m["private"].as_bool().unwrap()))
        .collect();
    for want in [
        ("my secret question", false),
        ("the answer", false),
        ("seems keen", true),
    ] {
        assert!(bodies.contains(&want), "{want:?} in {bodies:?}");
    }
    assert_eq!(e["contact_messages"][0]["message"], "please call me");

    // Erasure, while the visitor is online: their socket closes.
    let erase = format!("/api/v1/visitors/{id}");
    assert_eq!(
        srv.call("DELETE", &erase, Some(&agent), None).await.status,
        403
    );
    let gone = srv.call("DELETE", &erase, Some(&owner), None).await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert!(
        gone.body["erased_records"].as_u64().unwrap() >= 6,
        "{}",
        gone.body
    );
    assert_eq!(vis.close_code().await, Some(1012));
    gone_but_others(&srv, &owner, &id, &conv, &other).await;
    let audit = srv
        .call("GET", "/api/v1/audit?action=visitor.", Some(&owner), None)
        .await;
    let entry = &audit.body["items"][0];
    assert_eq!(
        (entry["action"].as_str(), entry["entity_id"].as_str()),
        (Some("visitor.erased"), Some(id.as_str())),
        "{}",
        audit.body
    );
    let again = srv.call("DELETE", &erase, Some(&owner), None).await;
    assert_eq!(again.status, 404);

    // The old token starts afresh, now and after a restart.
    let fresh = |v: Value| {
        assert_ne!(v["visitor_id"].as_str(), Some(id.as_str()), "{v}");
        assert_ne!(v["visitor_token"].as_str(), Some(token.as_str()));
        assert!(v["conversation"].is_null(), "{v}");
    };
    let (_ws, w) = srv.visitor(Some(&token)).await;
    fresh(w);
    drop(_ws);
    srv.terminate();
    srv.respawn();
    let owner = srv.login(OWNER).await;
    gone_but_others(&srv, &owner, &id, &conv, &other).await;
    let (_ws, w) = srv.visitor(Some(&token)).await;
    fresh(w);
}
