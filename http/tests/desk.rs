//! What the dashboard reads over REST: conversation lists and logs (paged
//! backwards for infinite scroll), a visitor in full for the sidebar, and
//! the team's canned responses. Real server, real sockets.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

#[tokio::test]
async fn conversations_and_their_logs_page_both_ways() {
    let srv = Server::start();
    let token = srv.login(OWNER).await;
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut v, _) = srv.visitor(None).await;
    for i in 1..=5 {
        v.send(json!({"type":"send","client_id":format!("c{i}"),"body":format!("m{i}")}))
            .await;
        v.until_type("ack").await;
    }
    let (mut other, _) = srv.visitor(None).await;
    other
        .send(json!({"type":"send","client_id":"o1","body":"other"}))
        .await;
    let cid = other.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = srv
        .call("GET", "/api/v1/conversations?limit=1", Some(&token), None)
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    // Newest first, with the visitor and the last message for the inbox.
    assert_eq!(first.body["items"][0]["id"], cid.as_str());
    assert_eq!(first.body["items"][0]["last_message"]["body"], "other");
    let next = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = srv
        .call(
            "GET",
            &format!("/api/v1/conversations?limit=1&cursor={next}"),
            Some(&token),
            None,
        )
        .await;
    let conv = second.body["items"][0]["id"].as_str().unwrap().to_string();
    assert_ne!(conv, cid);
    assert!(second.body["next_cursor"].is_null());
    // A private note is in the staff's log.
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"n1","body":"note","private":true}))
        .await;
    staff.until_type("ack").await;
    staff
        .send(json!({"type":"close","conversation_id":conv}))
        .await;
    // Filters: closed ones, and open ones.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let closed = srv
        .call(
            "GET",
            "/api/v1/conversations?status=closed",
            Some(&token),
            None,
        )
        .await;
    let ids: Vec<_> = closed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [conv.as_str()]);
    let open = srv
        .call(
            "GET",
            "/api/v1/conversations?status=open",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(open.body["items"].as_array().unwrap().len(), 1);
    let bad = srv
        .call(
            "GET",
            "/api/v1/conversations?status=maybe",
            Some(&token),
            None,
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid"));

    // The log backwards: the newest three, then the rest.
    let page = |q: String| {
        let srv = &srv;
        let token = token.clone();
        let conv = conv.clone();
        async move {
            srv.call(
                "GET",
                &format!("/api/v1/conversations/{conv}/messages?{q}"),
                Some(&token),
                None,
            )
            .await
        }
    };
    let last = page("before_seq=999&limit=3".into()).await;
    let seqs = |r: &Resp| {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(seqs(&last), [5, 6, 7]);
    assert_eq!(last.body["items"][1]["private"], true);
    let cursor = last.body["next_cursor"].as_str().unwrap().to_string();
    let earlier = page(format!("before_seq={cursor}&limit=3")).await;
    assert_eq!(seqs(&earlier), [2, 3, 4]);
    let first_one = page("before_seq=2&limit=3".into()).await;
    assert_eq!(seqs(&first_one), [1]);
    assert!(first_one.body["next_cursor"].is_null());
    // Forwards from a seq.
    let after = page("after_seq=5".into()).await;
    assert_eq!(seqs(&after), [6, 7]);
    assert_eq!(page("after_seq=1&before_seq=3".into()).await.status, 400);
}

#[tokio::test]
async fn a_visitor_in_full_for_the_sidebar() {
    let srv = Server::start();
    let token = srv.login(OWNER).await;
    let mut v = Ws::connect_with(
        &format!("{}/ws/visitor?site={}", srv.ws, srv.site_key()),
        &[
            ("user-agent", IPHONE),
            ("accept-language", "fr-FR,fr;q=0.9"),
        ],
    )
    .await;
    v.send(json!({"type":"hello","page":{"url":"https://acme.test/","title":"Home","referrer":"https://search.test/"},"tz":"Europe/Paris"}))
        .await;
    let w = v.until_type("welcome").await;
    let vid = w["visitor_id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    v.send(
        json!({"type":"page","url":"https://acme.test/pricing","title":"Pricing","referrer":""}),
    )
    .await;
    v.send(json!({"type":"identify","name":"Vera","email":"vera@mail.test"}))
        .await;
    v.send(json!({"type":"send","client_id":"x1","body":"hi"}))
        .await;
    v.until_type("ack").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let r = srv
        .call(
            "GET",
            &format!("/api/v1/visitors/{vid}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(
        (b["name"].as_str(), b["online"].as_bool()),
        (Some("Vera"), Some(true))
    );
    assert_eq!(b["page"]["url"], "https://acme.test/pricing");
    let d = &b["device"];
    assert_eq!(
        (d["browser"].as_str(), d["os"].as_str(), d["kind"].as_str()),
        (Some("Safari"), Some("iOS"), Some("mobile"))
    );
    assert_eq!(
        (
            d["timezone"].as_str(),
            d["location"].as_str(),
            d["language"].as_str()
        ),
        (Some("Europe/Paris"), Some("Paris"), Some("fr-FR"))
    );
    // Pages with the time spent on each; the current one still runs.
    let pages = b["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2, "{b}");
    assert_eq!(pages[0]["referrer"], "https://search.test/");
    assert!(pages[0]["seconds"].as_u64().unwrap() >= 1, "{b}");
    assert!(pages[1]["seconds"].is_null());
    assert_eq!(b["conversations"][0]["last_message"]["body"], "hi");

    // Online now, and everyone seen.
    let online = srv
        .call("GET", "/api/v1/visitors?online=true", Some(&token), None)
        .await;
    assert_eq!(online.body["items"][0]["id"], vid.as_str());
    assert!(online.body["items"][0]["page_since"].is_string());
    drop(v);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let online = srv
        .call("GET", "/api/v1/visitors?online=true", Some(&token), None)
        .await;
    assert!(online.body["items"].as_array().unwrap().is_empty());
    let all = srv
        .call("GET", "/api/v1/visitors", Some(&token), None)
        .await;
    assert_eq!(all.body["items"][0]["id"], vid.as_str());
    assert_eq!(all.body["items"][0]["online"], false);
    // The last page's time runs until the visitor left.
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/visitors/{vid}"),
            Some(&token),
            None,
        )
        .await;
    assert!(r.body["pages"][1]["seconds"].is_u64(), "{}", r.body);
    let missing = srv
        .call(
            "GET",
            "/api/v1/visitors/01JAAAAAAAAAAAAAAAAAAAAAAA",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn canned_responses_are_shared_by_the_team() {
    let srv = Server::start_with(Setup {
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let agent = srv.login("agent@acme.test").await;
    let owner = srv.login(OWNER).await;
    let made = srv
        .call(
            "POST",
            "/api/v1/canned-responses",
            Some(&agent),
            Some(json!({"shortcut":"thanks","body":"Thanks for reaching out!"})),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let id = made.body["id"].as_str().unwrap().to_string();
    for (body, code) in [
        (
            json!({"shortcut":"thanks","body":"again"}),
            "shortcut_taken",
        ),
        (json!({"shortcut":"Bad Name","body":"x"}), "invalid"),
        (json!({"shortcut":"ok","body":"   "}), "invalid"),
    ] {
        let r = srv
            .call("POST", "/api/v1/canned-responses", Some(&owner), Some(body))
            .await;
        assert_eq!(r.code(), code, "{}", r.body);
    }
    srv.call(
        "POST",
        "/api/v1/canned-responses",
        Some(&owner),
        Some(json!({"shortcut":"hours","body":"We are open 9 to 5."})),
    )
    .await;
    let list = srv
        .call("GET", "/api/v1/canned-responses", Some(&owner), None)
        .await;
    let shortcuts: Vec<_> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["shortcut"].as_str().unwrap())
        .collect();
    assert_eq!(shortcuts, ["hours", "thanks"]);
    let changed = srv
        .call(
            "PATCH",
            &format!("/api/v1/canned-responses/{id}"),
            Some(&owner),
            Some(json!({"body":"Thank you!"})),
        )
        .await;
    assert_eq!(changed.body["body"], "Thank you!");
    let gone = srv
        .call(
            "DELETE",
            &format!("/api/v1/canned-responses/{id}"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(gone.status, 204);
    let audit = srv
        .call("GET", "/api/v1/audit?action=canned.", Some(&owner), None)
        .await;
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        4,
        "{}",
        audit.body
    );
}
