//! The widget in a real headless Chromium (Debian `chromium`, driven by npm
//! `playwright-core` from `http/tests/browser/widget.mjs`), against the real
//! server: chat both ways with typing, read receipts, links, unread badge,
//! reload, rating; a server restart mid-conversation; the offline form;
//! identity verification; a closed conversation's offers across reloads, a
//! new conversation after it, a proactive one after a rated close; the
//! company page under its own CSP, light and dark, phone and laptop.
//! Screenshots land in `target/tmp/widget-shots/`. Also: the widget's size
//! budgets.
//!
//! `.ci/run` installs Chromium and the npm package. Elsewhere, without
//! them, the browser test says so and passes only when `CI` is unset.

mod common;

use common::browser::{missing, run_script};
use common::*;
use hmac::{Hmac, Mac};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_works_in_a_real_browser() {
    if let Some(why) = missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser tests need {why}"
        );
        eprintln!("skipping the browser tests: {why}; `bash .ci/run` installs what they need");
        return;
    }
    for name in ["chat", "restart", "offline", "engage"] {
        let mut srv = Server::start();
        let token = srv.login(OWNER).await;
        tokio::task::block_in_place(|| run_script(&mut srv, "widget.mjs", name, &token, &[]));
        if name == "chat" {
            // The transcript asked for after the chat: a confirmation link
            // to the address first, then, once followed, the transcript.
            let r = srv.call("GET", "/api/v1/outbox", Some(&token), None).await;
            let mail = &r.body["items"][0];
            assert_eq!(
                (&mail["to"], &mail["kind"]),
                (&json!("visitor@mail.test"), &json!("transcript_confirm")),
                "{}",
                r.body
            );
            let body = mail["body"].as_str().unwrap();
            let at = body.find("/l/").expect("a link") + 3;
            let link: String = body[at..].split_whitespace().next().unwrap().into();
            let r = srv
                .call(
                    "POST",
                    &format!("/api/v1/public/links/{link}"),
                    None,
                    Some(json!({"action": "send"})),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let r = srv.call("GET", "/api/v1/outbox", Some(&token), None).await;
            let mail = &r.body["items"][0];
            assert_eq!(mail["kind"], "transcript", "{}", r.body);
            let body = mail["body"].as_str().unwrap();
            assert!(body.contains("You: Hello from the browser"), "{body}");
        }
    }
    // Outside business hours (open only tomorrow), with staff online: the
    // contact form, saying when someone will be back.
    let mut srv = Server::start();
    let token = srv.login(OWNER).await;
    let days_since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    // 1970-01-01 was a Thursday.
    let tomorrow =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][((days_since_epoch + 4) % 7) as usize];
    site_settings(
        &srv,
        &token,
        json!({"business_hours": {"timezone": "UTC", "days": [{"day": tomorrow, "open": "09:00", "close": "17:00"}]}}),
    )
    .await;
    tokio::task::block_in_place(|| run_script(&mut srv, "widget.mjs", "hours", &token, &[]));
    // A pre-chat form asks for a name and email before the first message.
    let mut srv = Server::start();
    let token = srv.login(OWNER).await;
    site_settings(
        &srv,
        &token,
        json!({"pre_chat_fields": [
            {"name": "name", "label": "Your name", "kind": "text", "required": true},
            {"name": "email", "label": "Your email", "kind": "email", "required": true}
        ]}),
    )
    .await;
    tokio::task::block_in_place(|| run_script(&mut srv, "widget.mjs", "prechat", &token, &[]));
    // Identity verification: the site turns it on; the browser identifies
    // once with a forged hash and once with the real one.
    let mut srv = Server::start();
    let token = srv.login(OWNER).await;
    let r = site_settings(&srv, &token, json!({"identity_verification": true})).await;
    let secret = r.body["settings"]["identity_secret"].as_str().unwrap();
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(b"u-1");
    let hash: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    tokio::task::block_in_place(|| {
        run_script(
            &mut srv,
            "widget.mjs",
            "identity",
            &token,
            &[("PARLEY_USER_HASH", hash)],
        )
    });
    for shot in ["bubble-closed.png", "panel-open.png", "offline-form.png"] {
        let p = common::browser::shots("widget.mjs").join(shot);
        assert!(std::fs::metadata(&p).is_ok_and(|m| m.len() > 1000), "{p:?}");
    }
}

/// The widget's whole life (`anew`, `proactive`: a closed conversation,
/// reloads, a new conversation; checked over the API from the script;
/// `history`: the visitor's past conversations, read-only, loaded lazily) and
/// the company page under its own CSP (`company`: the bubble styled, the
/// chat, slots in the visitor's zone, dark mode at two sizes, an embedded
/// form, no console error or CSP violation, axe-core clean).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widgets_whole_life_and_the_company_page() {
    if let Some(why) = missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser tests need {why}"
        );
        eprintln!("skipping the browser tests: {why}; `bash .ci/run` installs what they need");
        return;
    }
    for name in ["anew", "proactive", "history", "company"] {
        let mut srv = Server::start();
        let token = srv.login(OWNER).await;
        if name == "company" {
            let site = srv.tenant["site_id"].as_str().unwrap().to_string();
            site_settings(
                &srv,
                &token,
                json!({"services": ["Repairs", "Installations"]}),
            )
            .await;
            srv.open_bookings(&token, &site, json!({})).await;
        }
        tokio::task::block_in_place(|| run_script(&mut srv, "widget.mjs", name, &token, &[]));
        if name == "company" {
            // The embedded contact form's message arrived.
            let r = srv
                .call("GET", "/api/v1/contact-messages", Some(&token), None)
                .await;
            assert!(
                r.body.to_string().contains("From an embedded form"),
                "{}",
                r.body
            );
        }
    }
    for shot in [
        "closed-offers.png",
        "new-conversation.png",
        "company-1280-dark.png",
        "company-390-dark.png",
        "company-chat-1280-dark.png",
        "company-chat-390-dark.png",
        "history-list.png",
        "history-one-390-dark.png",
    ] {
        let p = common::browser::shots("widget.mjs").join(shot);
        assert!(std::fs::metadata(&p).is_ok_and(|m| m.len() > 1000), "{p:?}");
    }
}

/// Changes the first site's settings.
async fn site_settings(srv: &Server, token: &str, body: serde_json::Value) -> Resp {
    let sid = srv.tenant["site_id"].as_str().unwrap();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{sid}"),
            Some(token),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

/// Gzipped bytes of a path, as a browser would fetch it.
async fn gzipped(srv: &Server, path: &str) -> (usize, String) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", srv.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(
        r.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip"),
        "{path}"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    (r.bytes().await.unwrap().len(), etag)
}

#[tokio::test]
async fn the_widget_fits_its_size_budget_and_caches_well() {
    let srv = Server::start();
    let (loader, etag) = gzipped(&srv, "/widget.js").await;
    assert!(
        loader <= 2048,
        "loader is {loader} bytes gzipped (budget 2 KB)"
    );
    let frame_path = format!("/widget/frame?site={}", srv.site_key());
    let (frame, _) = gzipped(&srv, &frame_path).await;
    // The frame names its versioned script and style.
    let html = reqwest::get(format!("{}{frame_path}", srv.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let assets: Vec<String> = html
        .split('"')
        .filter(|s| s.starts_with("/widget/assets/"))
        .map(str::to_string)
        .collect();
    assert_eq!(assets.len(), 2, "{html}");
    let mut panel = frame;
    for a in &assets {
        let (n, _) = gzipped(&srv, a).await;
        panel += n;
        let r = send(reqwest::Client::new().get(format!("{}{a}", srv.base))).await;
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{a}"
        );
    }
    assert!(
        panel <= 15 * 1024,
        "panel is {panel} bytes gzipped (budget 15 KB)"
    );
    eprintln!("widget sizes, gzipped: loader {loader} B, panel {panel} B");
    // The loader's style sheet: named by version, cached for good, and
    // fetchable from the customer's origin.
    let js = reqwest::get(format!("{}/widget.js", srv.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css = js
        .split('\'')
        .find(|s| s.starts_with("/widget/assets/loader."))
        .expect("the loader names its style sheet");
    let r = send(
        reqwest::Client::new()
            .get(format!("{}{css}", srv.base))
            .header("origin", "https://shop.test"),
    )
    .await;
    assert_eq!(r.status, 200, "{css}");
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // Revalidation: the loader's ETag answers 304.
    let r = send(
        reqwest::Client::new()
            .get(format!("{}/widget.js", srv.base))
            .header("if-none-match", &etag),
    )
    .await;
    assert_eq!(r.status, 304);
    // Only the site's allowed origins may frame the panel.
    let owner = srv.pair(OWNER, PASSWORD).await;
    let sid = srv.tenant["site_id"].as_str().unwrap();
    srv.call(
        "PATCH",
        &format!("/api/v1/sites/{sid}"),
        owner["access_token"].as_str(),
        Some(json!({"allowed_origins": ["https://shop.test"]})),
    )
    .await;
    let r = srv.call("GET", &frame_path, None, None).await;
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors https://shop.test"), "{csp}");
    let r = srv
        .call("GET", "/widget/frame?site=pk_nope", None, None)
        .await;
    assert_eq!(r.status, 404);
    let r = srv
        .call(
            "GET",
            "/widget/assets/panel.0000000000000000.js",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}
