//! The offline contact form: public posts per site key (CORS, honeypot,
//! validation, a per-address budget) and the staff's list.

mod common;

use common::*;
use futures_util::StreamExt;
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

#[tokio::test]
async fn form_posts_are_limited_per_site_from_every_address_together() {
    let srv = Server::start_with(Setup {
        config: Some(
            "[limits]\nlogin_per_ip_per_minute = 100\nforms_per_ip_per_minute = 100\nforms_per_site_per_minute = 3\n".into(),
        ),
        ..Default::default()
    });
    let path = format!("/api/v1/public/{}/contact", srv.site_key());
    for i in 0..3 {
        let r = srv
            .call(
                "POST",
                &path,
                None,
                Some(form(&format!("v{i}@mail.test"), "hi")),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let r = srv
        .call("POST", &path, None, Some(form("w@mail.test", "hi")))
        .await;
    assert_eq!((r.status, r.code()), (429, "too_many_requests"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("this site"));
    // Another site of the tenant keeps its own budget.
    let owner = srv.login(OWNER).await;
    let site = srv
        .call(
            "POST",
            "/api/v1/sites",
            Some(&owner),
            Some(json!({"name": "Two"})),
        )
        .await;
    let other = format!(
        "/api/v1/public/{}/contact",
        site.body["key"].as_str().unwrap()
    );
    let r = srv
        .call("POST", &other, None, Some(form("w@mail.test", "hi")))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn services_are_the_sites_list_and_every_message_exports_as_csv() {
    let srv = Server::start_with(Setup {
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let site = srv.tenant["site_id"].as_str().unwrap();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{site}"),
            Some(&owner),
            Some(json!({"services": [" Web design ", "SEO", ""]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["settings"]["services"], json!(["Web design", "SEO"]));
    let path = format!("/api/v1/public/{}/contact", srv.site_key());
    let mut body = form(
        "csv@mail.test",
        "=HYPERLINK(\"http://evil\")\nsecond line, with a comma",
    );
    body["service"] = json!("Knitting");
    let r = srv.call("POST", &path, None, Some(body.clone())).await;
    assert_eq!((r.status, r.code()), (400, "invalid"), "{}", r.body);
    body["service"] = json!("SEO");
    body["phone"] = json!("+33 1 23 45 67 89");
    let r = srv.call("POST", &path, None, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let csv = reqwest::Client::new()
        .get(format!("{}/api/v1/contact-messages/export.csv", srv.base))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let header = |n: &str| csv.headers()[n].to_str().unwrap().to_string();
    assert!(header("content-type").starts_with("text/csv"));
    assert!(header("content-disposition").contains("attachment"));
    let text = csv.text().await.unwrap();
    let mut rows = csv_rows(&text);
    assert_eq!(
        rows[0][..5],
        ["id", "created_at", "site_id", "name", "email"]
    );
    let row = rows
        .drain(1..)
        .find(|r| r[0] == id)
        .expect("the message's row");
    assert_eq!(row[4], "csv@mail.test");
    assert_eq!(row[5], "+33 1 23 45 67 89");
    assert_eq!(row[6], "SEO");
    assert_eq!(row[7], "new");
    // A formula is defused; newlines and commas survive quoting.
    assert!(row[10].starts_with("'=HYPERLINK"), "{}", row[10]);
    assert!(row[10].contains("second line, with a comma"));
    // Agents may not export.
    let agent = srv.login("agent@acme.test").await;
    let r = srv
        .call(
            "GET",
            "/api/v1/contact-messages/export.csv",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
}

/// An export of more messages than one page of the store, streamed: every
/// message once, newest first, every cell quoted, and a formula after a
/// separator (a semicolon-locale spreadsheet splits there) defused.
#[tokio::test]
async fn a_big_export_streams_every_message_quoted_and_defused() {
    let srv = Server::start();
    let owner = srv.login(OWNER).await;
    let path = format!("/api/v1/public/{}/contact", srv.site_key());
    let evil = "hello;=cmd|' /C calc'!A0";
    let r = srv
        .call("POST", &path, None, Some(form("first@mail.test", evil)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let client = reqwest::Client::new();
    let posts = (0..1_200).map(|i| {
        let req = client
            .post(format!("{}{path}", srv.base))
            .json(&form(&format!("v{i}@mail.test"), &format!("message {i}")));
        async move { send(req).await.status }
    });
    let statuses: Vec<u16> = futures_util::stream::iter(posts)
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let rows = csv_download(
        &srv.base,
        "/api/v1/contact-messages/export.csv",
        &owner,
        "contact-messages.csv",
    )
    .await;
    assert_eq!(rows[0][0], "id");
    assert_eq!(rows.len(), 1 + 1_201, "every message, once");
    let ids: std::collections::HashSet<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids.len(), 1_201);
    let first = rows.last().unwrap();
    assert_eq!(first[4], "first@mail.test");
    assert_eq!(first[10], "hello;'=cmd|' /C calc'!A0");
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn the_bell_rings_live_for_new_messages_and_assignments() {
    let srv = Server::start_with(Setup {
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let (mut owner_ws, _) = srv.staff(OWNER).await;
    let (mut agent_ws, ready) = srv.staff("agent@acme.test").await;
    let agent_id = ready["staff"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/public/{}/contact", srv.site_key());
    let r = srv
        .call("POST", &path, None, Some(form("bell@mail.test", "ring")))
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    for ws in [&mut owner_ws, &mut agent_ws] {
        let f = ws.until_type("notification").await;
        assert_eq!(f["notification"]["kind"], "contact_message");
        assert_eq!(f["notification"]["link"], format!("#/contacts/{id}"));
        assert!(f["notification"]["title"]
            .as_str()
            .unwrap()
            .contains("Vera"));
        assert_eq!(f["unread"], 1);
    }
    // The owner assigns it to the agent: only the agent hears of it.
    let owner = srv.login(OWNER).await;
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/contact-messages/{id}"),
            Some(&owner),
            Some(json!({"assignee": agent_id})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let f = agent_ws.until_type("notification").await;
    assert_eq!(f["notification"]["kind"], "assignment");
    assert_eq!(f["unread"], 2);
    assert!(owner_ws
        .try_recv(std::time::Duration::from_millis(300))
        .await
        .is_none_or(|f| f["type"] != "notification"));
    // The list, then all read.
    let agent = srv.login("agent@acme.test").await;
    let r = srv
        .call("GET", "/api/v1/notifications", Some(&agent), None)
        .await;
    assert_eq!(r.body["unread"], 2);
    assert_eq!(r.body["items"][0]["kind"], "assignment");
    let first = r.body["items"][1]["id"].clone();
    let r = srv
        .call(
            "POST",
            "/api/v1/notifications/read",
            Some(&agent),
            Some(json!({"ids": [first]})),
        )
        .await;
    assert_eq!(r.body["unread"], 1, "{}", r.body);
    let r = srv
        .call(
            "POST",
            "/api/v1/notifications/read",
            Some(&agent),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.body["unread"], 0);
    let r = srv
        .call("GET", "/api/v1/notifications", Some(&owner), None)
        .await;
    assert_eq!(r.body["unread"], 1, "the owner's bell is their own");
}
