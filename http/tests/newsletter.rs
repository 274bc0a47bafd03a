//! The newsletter against the real server and a real SMTP server on
//! loopback: double opt-in by a signed link, 202 for any address with no
//! second mail, the list with its history and CSV, a campaign through the
//! outbox with RFC 8058 headers, and one POST that unsubscribes.

mod common;

use common::smtp::{self, Smtp};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn link_token(mail: &Value) -> String {
    let body = mail["text"].as_str().unwrap();
    let at = body.find("/l/").expect("a link in the mail") + 3;
    body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect()
}

async fn subscribers(srv: &Server, token: &str, status: &str) -> Vec<Value> {
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/newsletter?status={status}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn subscribe_confirm_receive_a_campaign_and_unsubscribe_in_one_click() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let sink = Smtp::start();
    let srv = Server::start_with(Setup {
        config: Some(format!(
            "[mail]\nsmtp_url = \"{}\"\nfrom = \"Acme <news@acme.test>\"\nretry_base_secs = 1\n",
            sink.url()
        )),
        staff: vec![("agent@acme.test".into(), "agent".into())],
        tenants: vec!["other@beta.test".into()],
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let path = format!("/api/v1/public/{}/newsletter", srv.site_key());
    let r = srv
        .call(
            "POST",
            &path,
            None,
            Some(json!({"email": "Reader@Mail.test", "name": "Rea"})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let mail = sink
        .wait_for("reader@mail.test", "Confirm your subscription")
        .await;
    // Asking again answers the same and mails nothing more.
    let again = srv
        .call(
            "POST",
            &path,
            None,
            Some(json!({"email": "reader@mail.test"})),
        )
        .await;
    assert_eq!((again.status, &again.body), (r.status, &r.body));
    let bad = srv
        .call(
            "POST",
            &path,
            None,
            Some(json!({"email": "not an address"})),
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "invalid"), "{}", bad.body);
    // Pending until confirmed: not in the (confirmed) list yet.
    assert!(subscribers(&srv, &owner, "confirmed").await.is_empty());
    assert_eq!(subscribers(&srv, &owner, "pending").await.len(), 1);
    let token = link_token(&mail);
    let info = srv
        .call("GET", &format!("/api/v1/public/links/{token}"), None, None)
        .await;
    assert_eq!(
        (info.status, info.body["act"].as_str()),
        (200, Some("confirm"))
    );
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/links/{token}"),
            None,
            Some(json!({"action": "confirm"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "confirmed");
    let list = subscribers(&srv, &owner, "confirmed").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["email"], "reader@mail.test");
    let history: Vec<&str> = list[0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["pending", "confirmed"]);
    let sent_before = sink.messages().len();
    // Neither an agent nor another tenant sees the list.
    let agent = srv.login("agent@acme.test").await;
    assert_eq!(
        srv.call("GET", "/api/v1/newsletter", Some(&agent), None)
            .await
            .status,
        403
    );
    let other = srv.login("other@beta.test").await;
    assert!(subscribers(&srv, &other, "all").await.is_empty());
    let csv = srv
        .call("GET", "/api/v1/newsletter/export.csv", Some(&other), None)
        .await;
    assert_eq!(csv.status, 200);
    let csv = reqwest::Client::new()
        .get(format!("{}/api/v1/newsletter/export.csv", srv.base))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("\"id\",\"site_id\",\"email\",\"name\",\"status\""),
        "{csv}"
    );
    assert!(
        csv.contains("\"reader@mail.test\",\"Rea\",\"confirmed\""),
        "{csv}"
    );
    // A campaign: previewed, then sent through the outbox.
    let r = srv
        .call(
            "POST",
            "/api/v1/newsletter/campaigns",
            Some(&owner),
            Some(json!({"subject": "Winter news", "body": "Hello **readers**\n\n<script>x()</script>"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let preview = srv
        .call(
            "GET",
            &format!("/api/v1/newsletter/campaigns/{id}"),
            Some(&owner),
            None,
        )
        .await;
    let html = preview.body["preview"]["html"].as_str().unwrap();
    assert!(html.contains("<strong>readers</strong>"), "{html}");
    assert!(
        !html.contains("<script>"),
        "raw HTML is shown, never run: {html}"
    );
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/newsletter/campaigns/{id}/send"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let again = srv
        .call(
            "POST",
            &format!("/api/v1/newsletter/campaigns/{id}/send"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!((again.status, again.code()), (400, "invalid_state"));
    let news = sink.wait_for("reader@mail.test", "Winter news").await;
    assert_eq!(
        sink.messages().len(),
        sent_before + 1,
        "one mail per subscriber"
    );
    let h = &news["headers"];
    assert_eq!(h["list-unsubscribe-post"], "List-Unsubscribe=One-Click");
    let unsub = h["list-unsubscribe"].as_str().unwrap();
    let url = unsub.trim_start_matches('<').trim_end_matches('>');
    assert!(url.starts_with(&srv.base) && url.contains("/l/"), "{unsub}");
    assert!(news["text"].as_str().unwrap().contains(url));
    // The mail client's one-click POST (RFC 8058).
    let r = send(
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(subscribers(&srv, &owner, "confirmed").await.is_empty());
    let all = subscribers(&srv, &owner, "unsubscribed").await;
    assert_eq!(
        all[0]["history"].as_array().unwrap().last().unwrap()["via"],
        "one_click"
    );
    // A tampered link does nothing.
    let r = send(reqwest::Client::new().post(format!("{url}x"))).await;
    assert_eq!(r.status, 401);
    // The campaign says it is sent, and what it queued.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = srv
            .call(
                "GET",
                &format!("/api/v1/newsletter/campaigns/{id}"),
                Some(&owner),
                None,
            )
            .await;
        if c.body["status"] == "sent" {
            assert_eq!(c.body["queued"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "{}", c.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A campaign's links and images keep only web, mail and relative targets:
/// a `javascript:`, `data:` or `vbscript:` one (however written) is shown
/// as its text alone, in the preview and so in the mail.
#[tokio::test]
async fn a_campaign_keeps_only_web_mail_and_relative_link_targets() {
    let srv = Server::start();
    let owner = srv.login(OWNER).await;
    let body = "[site](https://acme.test/a) [mail](mailto:desk@acme.test) [rel](/pricing)\n\n\
        [js](javascript:alert(1)) [JS](JaVaScRiPt:alert(2)) [tab](java&#9;script:alert(3))\n\n\
        [data](data:text/html;base64,PHNjcmlwdD4=) [vb](vbscript:msgbox(4))\n\n\
        ![pic](https://acme.test/p.png) ![bad pic](data:image/svg+xml,x) <javascript:alert(5)>\n\n\
        [ref][r] [![inner](javascript:alert(6))](https://acme.test/ok)\n\n\
        [r]: javascript:alert(7)\n";
    let r = srv
        .call(
            "POST",
            "/api/v1/newsletter/campaigns",
            Some(&owner),
            Some(json!({"subject": "Links", "body": body})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let preview = srv
        .call(
            "GET",
            &format!("/api/v1/newsletter/campaigns/{id}"),
            Some(&owner),
            None,
        )
        .await;
    let html = preview.body["preview"]["html"].as_str().unwrap();
    for kept in [
        "<a href=\"https://acme.test/a\">site</a>",
        "<a href=\"mailto:desk@acme.test\">mail</a>",
        "<a href=\"/pricing\">rel</a>",
        "<img src=\"https://acme.test/p.png\" alt=\"pic\" />",
        "<a href=\"https://acme.test/ok\">inner</a>",
    ] {
        assert!(html.contains(kept), "{kept} kept in {html}");
    }
    // Every target left is web, mail or relative.
    for attr in ["href=\"", "src=\""] {
        for (at, _) in html.match_indices(attr) {
            let target = &html[at + attr.len()..];
            assert!(
                ["https://", "mailto:", "/"]
                    .iter()
                    .any(|p| target.starts_with(p)),
                "{} in {html}",
                &target[..target.find('"').unwrap_or(target.len())]
            );
        }
    }
    assert_eq!(html.matches("<a ").count(), 4, "{html}");
    assert_eq!(html.matches("<img ").count(), 1, "{html}");
    // Dropped targets leave their text.
    for text in ["js", "JS", "tab", "data", "vb", "bad pic", "ref"] {
        assert!(
            html.contains(&format!(" {text}")) || html.contains(&format!(">{text}")),
            "{text} in {html}"
        );
    }
}

/// An export of more subscribers than one page of the store, streamed:
/// every subscriber once, every cell quoted, and a formula after a
/// separator (a semicolon-locale spreadsheet splits there) defused.
#[tokio::test]
async fn a_big_subscriber_export_streams_every_row_quoted_and_defused() {
    use futures_util::StreamExt;
    let srv = Server::start();
    let owner = srv.login(OWNER).await;
    let path = format!("{}/api/v1/public/{}/newsletter", srv.base, srv.site_key());
    let client = reqwest::Client::new();
    let evil = "hello;=cmd|' /C calc'!A0";
    let posts = (0..1_100).map(|i| {
        let name = if i == 0 {
            evil.to_string()
        } else {
            format!("Reader {i}")
        };
        let req = client
            .post(&path)
            .json(&json!({"email": format!("r{i}@mail.test"), "name": name}));
        async move { send(req).await.status }
    });
    let statuses: Vec<u16> = futures_util::stream::iter(posts)
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    let rows = csv_download(
        &srv.base,
        "/api/v1/newsletter/export.csv",
        &owner,
        "subscribers.csv",
    )
    .await;
    assert_eq!(
        rows[0],
        [
            "id",
            "site_id",
            "email",
            "name",
            "status",
            "created_at",
            "changed_at"
        ]
    );
    assert_eq!(rows.len(), 1 + 1_100, "every subscriber, once");
    let emails: std::collections::HashSet<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
    assert_eq!(emails.len(), 1_100);
    let evil_row = rows.iter().find(|r| r[2] == "r0@mail.test").unwrap();
    assert_eq!(evil_row[3], "hello;'=cmd|' /C calc'!A0");
    assert_eq!(evil_row[4], "pending");
}
