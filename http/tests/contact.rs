//! The offline contact form: public posts per site key (CORS, honeypot,
//! validation, a per-address budget) and the staff's list.

mod common;

use common::*;
use serde_json::{json, Value};

fn form(email: &str, message: &str) -> Value {
    json!({"name": "Vera", "email": email, "message": message, "page_url": "https://shop.test/p"})
}

#[tokio::test]
async fn visitors_leave_messages_that_staff_list() {
    let srv = Server::start();
    let owner = srv.pair(OWNER, PASSWORD).await;
    let t = owner["access_token"].as_str().unwrap();
    let sid = srv.tenant["site_id"].as_str().unwrap();
    srv.call(
        "PATCH",
        &format!("/api/v1/sites/{sid}"),
        Some(t),
        Some(json!({"allowed_origins": ["https://shop.test"]})),
    )
    .await;
    let url = format!("{}/api/v1/public/{}/contact", srv.base, srv.site_key());
    let post = |body: Value, origin: &'static str| {
        send(
            reqwest::Client::new()
                .post(&url)
                .header("origin", origin)
                .json(&body),
        )
    };
    let r = post(
        form("vera@mail.test", "Call me back please"),
        "https://shop.test",
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://shop.test")
    );
    let r = post(form("vera@mail.test", "Second note"), "https://shop.test").await;
    assert_eq!(r.status, 201);
    // A bot filling the honeypot is answered alike and nothing is kept.
    let mut bot = form("bot@spam.test", "buy now");
    bot["website"] = json!("http://spam.test");
    let r = post(bot, "https://shop.test").await;
    assert_eq!(r.status, 201);
    for (body, code) in [
        (form("not-an-email", "hi"), "invalid"),
        (form("v@mail.test", "   "), "invalid"),
        (form("v@mail.test", &"x".repeat(5001)), "invalid"),
        (
            json!({"email": "v@mail.test", "message": "hi", "extra": 1}),
            "bad_request",
        ),
    ] {
        let r = post(body.clone(), "https://shop.test").await;
        assert_eq!((r.status, r.code()), (400, code), "{body}");
    }
    let r = post(form("v@mail.test", "hi"), "https://evil.test").await;
    assert_eq!((r.status, r.code()), (403, "origin_not_allowed"));
    let r = send(
        reqwest::Client::new()
            .post(format!("{}/api/v1/public/pk_nope/contact", srv.base))
            .json(&form("v@mail.test", "hi")),
    )
    .await;
    assert_eq!(r.status, 404);
    let pre = send(
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", "https://shop.test")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type"),
    )
    .await;
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://shop.test")
    );

    let r = srv
        .call("GET", "/api/v1/contact-messages", Some(t), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    let msgs: Vec<&str> = items
        .iter()
        .map(|c| c["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, vec!["Second note", "Call me back please"]);
    assert_eq!(items[0]["email"], "vera@mail.test");
    assert_eq!(items[0]["page_url"], "https://shop.test/p");
    let r = srv
        .call("GET", "/api/v1/contact-messages?limit=1", Some(t), None)
        .await;
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/contact-messages?limit=1&cursor={cursor}"),
            Some(t),
            None,
        )
        .await;
    assert_eq!(r.body["items"][0]["message"], "Call me back please");
    assert!(r.body["next_cursor"].is_null());
    let r = srv
        .call(
            "GET",
            &format!(
                "/api/v1/contact-messages?site_id={}",
                "01M80000000000000000000000"
            ),
            Some(t),
            None,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn form_posts_are_limited_per_address() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[limits]\nlogin_per_ip_per_minute = 100\nforms_per_ip_per_minute = 2\n".into(),
        ),
        ..Default::default()
    });
    let path = format!("/api/v1/public/{}/contact", srv.site_key());
    for _ in 0..2 {
        let r = srv
            .call("POST", &path, None, Some(form("v@mail.test", "hi")))
            .await;
        assert_eq!(r.status, 201);
    }
    let r = srv
        .call("POST", &path, None, Some(form("v@mail.test", "hi")))
        .await;
    assert_eq!((r.status, r.code()), (429, "too_many_requests"));
    assert!(r.header("retry-after").is_some());
}
