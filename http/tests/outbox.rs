//! The outbox drainer is fair across tenants and the outbox is bounded:
//! one tenant's never-answering webhook endpoints and stalled SMTP
//! recipients hold at most its own in-flight share while another tenant's
//! deliveries go out at once; a campaign's body is stored once for all its
//! subscribers; a tenant past its day's mail budget is refused with
//! `outbox_full` while another tenant's mail still goes. Real HTTP and SMTP
//! receivers on loopback (a black hole that accepts and never answers,
//! aiosmtpd that hangs on `@stall.test` recipients).

mod common;

use common::hooks::{BlackHole, Receiver};
use common::smtp::{self, Smtp};
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

const OTHER: &str = "owner@other.test";

fn config(smtp_url: &str, extra: &str) -> String {
    format!(
        "[webhooks]\nallow_private_targets = true\nretry_base_secs = 1\ntimeout_secs = 20\n\
         [mail]\nsmtp_url = \"{smtp_url}\"\nretry_base_secs = 1\n{extra}"
    )
}

async fn contact(srv: &Server, key: &str, msg: &str) {
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{key}/contact"),
            None,
            Some(json!({"name": "Vic", "email": "vic@v.test", "message": msg, "website": ""})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn invite(srv: &Server, token: &str, email: &str) -> Resp {
    srv.call(
        "POST",
        "/api/v1/staff",
        Some(token),
        Some(json!({"name": "Someone", "email": email, "role": "agent"})),
    )
    .await
}

#[tokio::test]
async fn one_tenants_dead_endpoints_and_stalled_mail_do_not_delay_another_tenant() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let sink = Smtp::start();
    let hole = BlackHole::start().await;
    let rx = Receiver::start().await;
    let srv = Server::start_with(Setup {
        config: Some(config(&sink.url(), "")),
        tenants: vec![OTHER.into()],
        ..Default::default()
    });
    let a = srv.login(OWNER).await;
    let b = srv.login(OTHER).await;
    let b_key = srv.others[0]["site_key"].as_str().unwrap().to_string();

    // Tenant A: six endpoints that accept and never answer.
    for i in 0..6 {
        let r = srv
            .call(
                "POST",
                "/api/v1/webhooks",
                Some(&a),
                Some(json!({"url": format!("{}/hook{i}", hole.base), "events": ["contact_message.created"]})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = srv
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(&b),
            Some(json!({"url": rx.url, "events": ["contact_message.created"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    contact(&srv, srv.site_key(), "to the black hole").await;
    eventually(
        "A's deliveries hang in the black hole",
        Duration::from_secs(10),
        || async { (hole.open() >= 4).then_some(()) },
    )
    .await;
    let t0 = Instant::now();
    contact(&srv, &b_key, "for tenant B").await;
    rx.until("B's delivery", |h| {
        h.iter()
            .any(|h| h.json()["data"]["message"] == "for tenant B")
    })
    .await;
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "B's webhook waited {took:?} behind A's dead endpoints"
    );
    assert_eq!(hole.open(), 4, "A holds its in-flight share, no more");

    // Mail: six invitations of A to recipients whose SMTP conversation
    // stalls, then one of B's, which arrives at once.
    for i in 0..6 {
        let r = invite(&srv, &a, &format!("a{i}@stall.test")).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    eventually("A's mail is under way", Duration::from_secs(10), || async {
        let r = srv.call("GET", "/api/v1/outbox", Some(&a), None).await;
        let pending = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "invitation" && m["status"] == "pending")
            .count();
        (pending == 6).then_some(())
    })
    .await;
    let t0 = Instant::now();
    let r = invite(&srv, &b, "ada@b.test").await;
    assert_eq!(r.status, 201, "{}", r.body);
    sink.wait_for("ada@b.test", "").await;
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "B's mail waited {took:?} behind A's stalled SMTP conversations"
    );
}

#[tokio::test]
async fn a_campaign_stores_its_body_once_and_a_tenant_over_its_mail_budget_is_refused_alone() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let sink = Smtp::start();
    // 300 KB a day: a campaign of 8 KB of text (about 19 KB stored with
    // its HTML) to 40 subscribers fits only if its body is stored once
    // (40 copies would be about 760 KB).
    let srv = Server::start_with(Setup {
        config: Some(config(
            &sink.url(),
            "tenant_bytes_per_day = 300000\n[newsletter]\nper_second = 100\n",
        )),
        tenants: vec![OTHER.into()],
        ..Default::default()
    });
    let a = srv.login(OWNER).await;
    let b = srv.login(OTHER).await;
    let key = srv.site_key().to_string();
    // 40 confirmed subscribers.
    for i in 0..40 {
        let r = srv
            .call(
                "POST",
                &format!("/api/v1/public/{key}/newsletter"),
                None,
                Some(json!({"email": format!("s{i}@subs.test")})),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let m = sink
            .wait_for(&format!("s{i}@subs.test"), "Confirm your subscription")
            .await;
        let link = smtp::link(&m, "/l/");
        let token = link.rsplit('/').next().unwrap();
        let r = srv
            .call(
                "POST",
                &format!("/api/v1/public/links/{token}"),
                None,
                Some(json!({"action": "confirm"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let body = format!("# News\n\n{}", "All the news that fits. ".repeat(350));
    let r = srv
        .call(
            "POST",
            "/api/v1/newsletter/campaigns",
            Some(&a),
            Some(json!({"subject": "Big news", "body": body})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/newsletter/campaigns/{id}/send"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    // Every subscriber gets the whole body with their own unsubscribe link.
    let mut links = std::collections::HashSet::new();
    for i in [0, 17, 39] {
        let m = sink.wait_for(&format!("s{i}@subs.test"), "Big news").await;
        let text = m["text"].as_str().unwrap();
        assert!(text.matches("All the news that fits.").count() == 350);
        let unsub = smtp::link(&m, "/l/");
        assert_eq!(
            m["headers"]["list-unsubscribe"],
            format!("<{unsub}>"),
            "the body's link is the header's"
        );
        assert!(m["html"].as_str().unwrap().contains(&unsub));
        links.insert(unsub);
    }
    assert_eq!(links.len(), 3, "each subscriber has their own link");
    let r = srv
        .call("GET", "/api/v1/outbox?limit=100", Some(&a), None)
        .await;
    let sent = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "newsletter")
        .count();
    assert_eq!(sent, 40, "every subscriber's mail was queued: {}", r.body);

    // Now tenant A spends what is left of its budget: mail is refused with
    // a clear error, and B's mail still goes.
    let big = "x".repeat(3900);
    let mut refused = None;
    for i in 0..200 {
        let r = srv
            .call(
                "POST",
                &format!("/api/v1/public/{key}/contact"),
                None,
                Some(json!({"name": "Vic", "email": format!("v{i}@v.test"), "message": big, "website": ""})),
            )
            .await;
        if r.status != 201 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("the budget ran out");
    assert_eq!((r.status, r.code()), (429, "outbox_full"), "{}", r.body);
    assert!(r.header("retry-after").is_some());
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mail for today"),
        "{}",
        r.body
    );
    let r = invite(&srv, &b, "ada@b.test").await;
    assert_eq!(r.status, 201, "B is not touched by A's budget: {}", r.body);
    sink.wait_for("ada@b.test", "").await;
}
