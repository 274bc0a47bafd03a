//! A visitor's transcript by mail is no relay: it goes only to an address
//! the visitor proved (a confirmation link first, the transcript when it is
//! followed, once), at most twice a conversation a day, and a long
//! conversation's mail carries only its end (the last 200 messages, or
//! 256 KB) with a link to read the whole of it. Over a real SMTP server.

mod common;

use common::smtp::{self, Smtp};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn config(smtp_url: &str) -> String {
    format!(
        "[mail]\nsmtp_url = \"{smtp_url}\"\nretry_base_secs = 1\n\
         [limits]\nframes_per_second = 100000\nframe_burst = 100000\n"
    )
}

async fn ask(srv: &Server, welcome: &Value, email: &str) -> Resp {
    srv.call(
        "POST",
        &format!("/api/v1/public/{}/transcript", srv.site_key()),
        None,
        Some(json!({"visitor_token": welcome["visitor_token"], "email": email})),
    )
    .await
}

/// A visitor with a conversation of `n` messages, the i-th `body(i)`.
async fn chat(srv: &Server, n: usize, body: impl Fn(usize) -> String) -> (Ws, Value) {
    let (mut v, welcome) = srv.visitor(None).await;
    for i in 0..n {
        v.send(json!({"type":"send","client_id":format!("c{i}"),"body":body(i)}))
            .await;
    }
    let last = format!("c{}", n - 1);
    v.until(|f| f["type"] == "ack" && f["client_id"] == last)
        .await;
    (v, welcome)
}

fn token_of(mail: &Value) -> String {
    smtp::link(mail, "/l/")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

/// Every message of the conversation a `/l/` link shows, page by page.
async fn whole(srv: &Server, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let r = srv
            .call(
                "GET",
                &format!("/api/v1/public/links/{token}?after={after}"),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["act"], "conversation");
        out.extend(r.body["messages"].as_array().unwrap().iter().cloned());
        match r.body["next_after"].as_u64() {
            Some(a) => after = a,
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_transcript_goes_only_to_a_proven_address_twice_a_day_and_capped() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let sink = Smtp::start();
    let srv = Server::start_with(Setup {
        config: Some(config(&sink.url())),
        ..Default::default()
    });

    // An address nobody proved gets a confirmation link, not the transcript.
    let (_v, welcome) = chat(&srv, 2, |i| format!("hello {i}")).await;
    let r = ask(&srv, &welcome, "vic@v.test").await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "confirmation_sent");
    let confirm = sink
        .wait_for("vic@v.test", "Confirm where to send your conversation")
        .await;
    assert!(
        !confirm["text"].as_str().unwrap().contains("hello 0"),
        "the confirmation carries nothing of the conversation"
    );
    let token = token_of(&confirm);
    let r = srv
        .call("GET", &format!("/api/v1/public/links/{token}"), None, None)
        .await;
    assert_eq!(
        (r.body["act"].as_str(), r.body["email"].as_str()),
        (Some("transcript"), Some("vic@v.test")),
        "{}",
        r.body
    );
    // Mail is queued in the write that answers the request: the outbox
    // holds the confirmation and no transcript.
    let owner = srv.login(OWNER).await;
    let r = srv.call("GET", "/api/v1/outbox", Some(&owner), None).await;
    let kinds: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["transcript_confirm"],
        "no transcript before the link is followed"
    );
    let send = |token: String| {
        let srv = &srv;
        async move {
            srv.call(
                "POST",
                &format!("/api/v1/public/links/{token}"),
                None,
                Some(json!({"action": "send"})),
            )
            .await
        }
    };
    let r = send(token.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = sink.wait_for("vic@v.test", "Your conversation").await;
    assert!(t["text"].as_str().unwrap().contains("You: hello 1"));
    let r = send(token).await;
    assert_eq!(
        (r.status, r.code()),
        (401, "invalid_token"),
        "a link works once"
    );

    // The proven address now gets it at once; a third request that day is refused.
    let r = ask(&srv, &welcome, "VIC@v.test").await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (202, &json!("sent")),
        "{}",
        r.body
    );
    eventually("two transcripts", Duration::from_secs(20), || async {
        let n = sink
            .messages()
            .iter()
            .filter(|m| {
                m["headers"]["subject"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Your conversation")
            })
            .count();
        (n == 2).then_some(())
    })
    .await;
    let r = ask(&srv, &welcome, "vic@v.test").await;
    assert_eq!(
        (r.status, r.code()),
        (429, "too_many_requests"),
        "{}",
        r.body
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 a day"));
    assert!(r.header("retry-after").is_some());
    // Nor can another address be tried instead.
    let r = ask(&srv, &welcome, "stranger@x.test").await;
    assert_eq!(r.status, 429, "{}", r.body);

    // A long conversation: the mail holds the last 200 messages and links to the rest.
    let (_v2, w2) = chat(&srv, 250, |i| format!("line {i}.")).await;
    assert_eq!(ask(&srv, &w2, "long@v.test").await.status, 202);
    let c = sink.wait_for("long@v.test", "Confirm where to send").await;
    assert_eq!(send(token_of(&c)).await.status, 200);
    let t = sink.wait_for("long@v.test", "Your conversation").await;
    let text = t["text"].as_str().unwrap();
    assert!(
        text.contains("You: line 249.") && text.contains("You: line 50."),
        "{text}"
    );
    assert!(!text.contains("You: line 49."), "only the last 200");
    assert!(text.contains("last 200 messages"), "{text}");
    let all = whole(&srv, &token_of(&t)).await;
    assert_eq!(all.len(), 250, "the link shows the whole conversation");
    assert_eq!(all[0]["body"], "line 0.");

    // Long messages: at most 256 KB of them.
    let (_v3, w3) = chat(&srv, 200, |i| format!("{i:03}{}", "x".repeat(3000))).await;
    assert_eq!(ask(&srv, &w3, "big@v.test").await.status, 202);
    let c = sink.wait_for("big@v.test", "Confirm where to send").await;
    assert_eq!(send(token_of(&c)).await.status, 200);
    let t = sink.wait_for("big@v.test", "Your conversation").await;
    let text = t["text"].as_str().unwrap();
    assert!(text.len() < 300_000, "{} bytes", text.len());
    assert!(text.contains("You: 199x") && !text.contains("You: 000x"));
}
