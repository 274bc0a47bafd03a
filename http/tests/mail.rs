//! Mail over a real SMTP server on loopback (aiosmtpd): every kind arrives
//! with a text and an HTML body, the right recipient and working links;
//! HTML escapes what people typed; a down server is retried and a dead
//! letter can be retried by hand; `kill -9` with mail pending loses nothing
//! and keeps one `Message-ID`.

mod common;

use common::smtp::{self, Smtp};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn config(smtp_url: &str, extra: &str) -> String {
    format!("[mail]\nsmtp_url = \"{smtp_url}\"\nfrom = \"Acme Help <help@acme.test>\"\nretry_base_secs = 1\n{extra}")
}

fn bearer(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

/// Polls the owner's outbox until `pred` holds for the newest mail of `kind`.
async fn outbox_until(
    srv: &Server,
    owner: &Value,
    kind: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = srv
            .call("GET", "/api/v1/outbox", Some(bearer(owner)), None)
            .await;
        let m = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == kind)
            .cloned();
        if let Some(m) = m.filter(|m| pred(m)) {
            return m;
        }
        assert!(Instant::now() < deadline, "outbox: {}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_mail_kind_arrives_with_both_bodies_escaped_html_and_working_links() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let sink = Smtp::start();
    let srv = Server::start_with(Setup {
        config: Some(config(&sink.url(), "")),
        ..Default::default()
    });
    let owner = srv.pair(OWNER, PASSWORD).await;
    // A company name with markup: it heads every mail.
    let evil = "Acme <script>alert(1)</script>";
    let r = srv
        .call(
            "PATCH",
            "/api/v1/tenant",
            Some(bearer(&owner)),
            Some(json!({"name": evil})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Invitation → accept with the mailed link's token.
    let r = srv
        .call(
            "POST",
            "/api/v1/staff",
            Some(bearer(&owner)),
            Some(json!({"name": "Ada", "email": "ada@acme.test", "role": "agent"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let invite = sink.wait_for("ada@acme.test", "invited you").await;
    assert_eq!(invite["headers"]["from"], "Acme Help <help@acme.test>");
    let link = smtp::link(&invite, "#invite=");
    assert!(
        link.starts_with(&format!("{}/app/#invite=", srv.base)),
        "links use the bound address: {link}"
    );
    let html = invite["html"].as_str().unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    assert!(invite["text"].as_str().unwrap().contains(evil));
    assert!(
        html.contains(&smtp::link_token(&invite, "#invite=")),
        "the button carries the link"
    );
    let message_id = invite["headers"]["message-id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message_id.starts_with('<') && message_id.ends_with('>'));
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/invitation/accept",
            None,
            Some(json!({"token": smtp::link_token(&invite, "#invite="), "password": "ada's pass 42"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Reset → confirm → "your password was changed".
    srv.request_reset("ada@acme.test").await;
    let reset = sink.wait_for("ada@acme.test", "Reset your password").await;
    assert!(reset["html"]
        .as_str()
        .unwrap()
        .contains("Choose a new password"));
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": smtp::link_token(&reset, "#reset="), "password": "ada's new pass 7"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let changed = sink.wait_for("ada@acme.test", "was changed").await;
    assert!(changed["text"]
        .as_str()
        .unwrap()
        .contains("with a reset link"));
    assert!(changed["html"].as_str().unwrap().contains("<html"));

    // Transcript of a visitor's chat, private notes left out.
    let (mut v, welcome) = srv.visitor(None).await;
    v.send(json!({"type":"send","client_id":"t1","body":"Where is <b>my</b> order?"}))
        .await;
    let ack = v.until_type("ack").await;
    let conv = ack["conversation_id"].as_str().unwrap().to_string();
    let (mut staff, _) = srv.staff(OWNER).await;
    staff
        .send(json!({"type":"claim","conversation_id":conv}))
        .await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s1","body":"On its way","private":false}))
        .await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s2","body":"secret note","private":true}))
        .await;
    staff
        .until(|f| f["type"] == "ack" && f["client_id"] == "s2")
        .await;
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{}/transcript", srv.site_key()),
            None,
            Some(json!({"visitor_token": welcome["visitor_token"], "email": "vic@visitor.test"})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    // An address not proven yet gets a confirmation link first.
    assert_eq!(r.body["status"], "confirmation_sent");
    let c = sink
        .wait_for("vic@visitor.test", "Confirm where to send")
        .await;
    let token = smtp::link(&c, "/l/")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/links/{token}"),
            None,
            Some(json!({"action": "send"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = sink.wait_for("vic@visitor.test", "Your conversation").await;
    let text = t["text"].as_str().unwrap();
    assert!(
        text.contains("Where is <b>my</b> order?") && text.contains("On its way"),
        "{text}"
    );
    assert!(!text.contains("secret note"));
    let html = t["html"].as_str().unwrap();
    assert!(
        html.contains("Where is &lt;b&gt;my&lt;&#x2f;b&gt; order?"),
        "{html}"
    );

    // A contact-form message alerts every staff member who wants it; Ada
    // turns hers off in Account and gets no more.
    let ada = srv.pair("ada@acme.test", "ada's new pass 7").await;
    let contact_path = format!("/api/v1/public/{}/contact", srv.site_key());
    let contact = |msg: &'static str| {
        srv.call(
            "POST",
            &contact_path,
            None,
            Some(json!({"name": "Vic <i>", "email": "vic@visitor.test", "message": msg, "website": ""})),
        )
    };
    assert_eq!(contact("Do you ship to Mars?").await.status, 201);
    for to in [OWNER, "ada@acme.test"] {
        let m = sink.wait_for(to, "New message from Vic").await;
        assert!(m["text"].as_str().unwrap().contains("Do you ship to Mars?"));
        assert!(m["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{}/app/#/contacts", srv.base)));
        assert!(m["html"].as_str().unwrap().contains("Vic &lt;i&gt;"));
    }
    let r = srv
        .call(
            "PATCH",
            "/api/v1/me",
            Some(bearer(&ada)),
            Some(json!({"contact_alerts": false})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["prefs"]["contact_alerts"].as_bool()),
        (200, Some(false)),
        "{}",
        r.body
    );
    assert_eq!(contact("And to Venus?").await.status, 201);
    let m = sink.wait_for(OWNER, "New message from Vic").await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let to_ada = sink
            .messages()
            .iter()
            .filter(|m| {
                m["rcpt_tos"][0] == "ada@acme.test"
                    && m["text"].as_str().is_some_and(|t| t.contains("Venus"))
            })
            .count();
        assert_eq!(to_ada, 0, "Ada turned alerts off");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let owner_venus = sink
        .messages()
        .iter()
        .filter(|m| {
            m["rcpt_tos"][0] == OWNER && m["text"].as_str().is_some_and(|t| t.contains("Venus"))
        })
        .count();
    assert_eq!(owner_venus, 1, "{m}");

    // The outbox shows each as sent, once, with the server's reply.
    let sent = outbox_until(&srv, &owner, "invitation", |m| m["status"] == "sent").await;
    assert_eq!(sent["attempts"], 1);
    assert!(sent["sent_at"].is_string());
    assert_eq!(sent["message_id"], message_id.as_str());
    assert!(sent["history"][0]["reply"]
        .as_str()
        .unwrap()
        .starts_with("250"));
    assert!(sent["body"].is_string(), "owners see bodies");
}

#[tokio::test]
async fn a_down_smtp_server_is_retried_and_kill_9_with_mail_pending_loses_nothing() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    // Nothing listens on the port yet.
    let port = smtp::free_port();
    let mut srv = Server::start_with(Setup {
        config: Some(config(&format!("smtp://127.0.0.1:{port}"), "")),
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let owner = srv.pair(OWNER, PASSWORD).await;
    srv.request_reset("agent@acme.test").await;
    let m = outbox_until(&srv, &owner, "password_reset", |m| {
        m["attempts"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    assert_eq!(m["status"], "pending", "{m}");
    assert!(
        m["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{m}"
    );

    // Killed with the mail pending; the SMTP server comes up; after the
    // restart the mail is delivered.
    srv.kill9_and_restart();
    let sink = Smtp::start_on(port);
    let got = sink
        .wait_for("agent@acme.test", "Reset your password")
        .await;
    let owner = srv.pair(OWNER, PASSWORD).await;
    let m = outbox_until(&srv, &owner, "password_reset", |m| m["status"] == "sent").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ids: std::collections::BTreeSet<String> = sink
        .messages()
        .iter()
        .filter(|x| x["headers"]["subject"] == got["headers"]["subject"])
        .map(|x| x["headers"]["message-id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "one Message-ID across attempts: {ids:?}");
    assert_eq!(
        ids.iter().next().unwrap(),
        m["message_id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_dead_letter_keeps_its_attempts_and_is_sent_when_retried() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let port = smtp::free_port();
    let srv = Server::start_with(Setup {
        config: Some(config(
            &format!("smtp://127.0.0.1:{port}"),
            "max_attempts = 2\n",
        )),
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let owner = srv.pair(OWNER, PASSWORD).await;
    srv.request_reset("agent@acme.test").await;
    let m = outbox_until(&srv, &owner, "password_reset", |m| m["status"] == "failed").await;
    assert_eq!(m["attempts"], 2);
    assert_eq!(m["history"].as_array().unwrap().len(), 2);
    let failed = srv
        .call(
            "GET",
            "/api/v1/outbox?status=failed",
            Some(bearer(&owner)),
            None,
        )
        .await;
    assert_eq!(failed.body["items"].as_array().unwrap().len(), 1);

    let sink = Smtp::start_on(port);
    let id = m["id"].as_str().unwrap();
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/outbox/{id}/retry"),
            Some(bearer(&owner)),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("pending")),
        "{}",
        r.body
    );
    sink.wait_for("agent@acme.test", "Reset your password")
        .await;
    let m = outbox_until(&srv, &owner, "password_reset", |m| m["status"] == "sent").await;
    assert_eq!(m["attempts"], 3, "the history keeps every attempt");
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/outbox/{id}/retry"),
            Some(bearer(&owner)),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "not_failed"));
}

#[tokio::test]
async fn without_smtp_mail_waits_and_says_why() {
    let srv = Server::start_with(Setup {
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let owner = srv.pair(OWNER, PASSWORD).await;
    srv.request_reset("agent@acme.test").await;
    let m = outbox_until(&srv, &owner, "password_reset", |_| true).await;
    assert_eq!(m["status"], "pending");
    assert_eq!(m["last_error"], "no SMTP server configured");
    assert!(srv.log().contains("no SMTP server configured"));
}

#[test]
fn an_smtp_url_that_does_not_parse_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[mail]\nsmtp_url = \"mail.example.com:25\"\n").unwrap();
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("d"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("mail.smtp_url"), "{err}");
}

#[tokio::test]
async fn with_mail_sign_up_confirms_the_address_and_answers_alike_for_a_taken_one() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let sink = Smtp::start();
    let srv = Server::start_with(Setup {
        config: Some(config(&sink.url(), "")),
        ..Default::default()
    });
    let register = |email: &'static str| {
        srv.call(
            "POST",
            "/api/v1/auth/register",
            None,
            Some(json!({"tenant_name": "Newco", "name": "Nina", "email": email, "password": "nina's pass 42"})),
        )
    };
    let fresh = register("nina@newco.test").await;
    let taken = register(OWNER).await;
    assert_eq!(
        (fresh.status, &fresh.body),
        (202, &json!({"status": "check_mail"}))
    );
    assert_eq!(
        (taken.status, &taken.body),
        (fresh.status, &fresh.body),
        "both answers alike"
    );

    // The owner of the taken address hears of it; their account is untouched.
    let note = sink.wait_for(OWNER, "already have a Parley account").await;
    assert!(note
        .get("text")
        .and_then(Value::as_str)
        .unwrap()
        .contains("#forgot"));
    srv.pair(OWNER, PASSWORD).await;

    // Nothing exists until the link is opened.
    let confirm = sink.wait_for("nina@newco.test", "Confirm your email").await;
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "nina@newco.test", "password": "nina's pass 42"})),
        )
        .await;
    assert_eq!(r.status, 401);
    let token = smtp::link_token(&confirm, "#signup=");
    let open = || {
        srv.call(
            "POST",
            "/api/v1/auth/register/confirm",
            None,
            Some(json!({ "token": token })),
        )
    };
    let r = open().await;
    assert_eq!(r.status, 201, "{}", r.body);
    let me = srv
        .call("GET", "/api/v1/me", Some(bearer(&r.body)), None)
        .await;
    assert_eq!(me.body["tenant"]["name"], "Newco");
    assert_eq!(me.body["staff"]["role"], "owner");
    let again = open().await;
    assert_eq!((again.status, again.code()), (401, "invalid_token"));
    // The confirmation mail is in the new workspace's own outbox.
    let outbox = srv
        .call("GET", "/api/v1/outbox", Some(bearer(&r.body)), None)
        .await;
    assert!(
        outbox.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "verify_email"),
        "{}",
        outbox.body
    );
}

#[tokio::test]
async fn a_visitor_who_left_gets_the_replies_they_missed_by_mail() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let sink = Smtp::start();
    let srv = Server::start_with(Setup {
        config: Some(config(&sink.url(), "missed_reply_after_secs = 1\n")),
        ..Default::default()
    });
    let (mut v, welcome) = srv.visitor(None).await;
    assert!(welcome.get("open").is_none(), "{welcome}");
    v.send(json!({"type":"identify","name":"Vic","email":"vic@visitor.test"}))
        .await;
    v.send(json!({"type":"send","client_id":"v1","body":"Is my order shipped?"}))
        .await;
    let conv = v.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut staff, _) = srv.staff(OWNER).await;
    staff
        .send(json!({"type":"claim","conversation_id":conv}))
        .await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s1","body":"Let me check"}))
        .await;
    // The visitor sees and reads the first reply, then closes the tab.
    let seen = v
        .until(|f| f["type"] == "message" && f["body"] == "Let me check")
        .await;
    v.send(json!({"type":"read","conversation_id":conv,"seq":seen["seq"]}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(v);
    tokio::time::sleep(Duration::from_millis(300)).await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s2","body":"It left <today>!"}))
        .await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s3","body":"note: VIP","private":true}))
        .await;
    staff
        .until(|f| f["type"] == "ack" && f["client_id"] == "s3")
        .await;

    let m = sink.wait_for("vic@visitor.test", "replied to you").await;
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("It left <today>!"), "{text}");
    assert!(
        !text.contains("Let me check"),
        "read replies are not mailed: {text}"
    );
    assert!(!text.contains("VIP"), "notes never leave: {text}");
    assert!(text.contains("https://acme.test/#parley-chat"), "{text}");
    assert!(m["html"]
        .as_str()
        .unwrap()
        .contains("It left &lt;today&gt;!"));

    // Once: the next sweeps find nothing new to send.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let count = sink
        .messages()
        .iter()
        .filter(|m| m["rcpt_tos"][0] == "vic@visitor.test")
        .count();
    assert_eq!(count, 1);

    // The link brings them back with the chat open.
    let mut back = Ws::connect(&format!("{}/ws/visitor?site={}", srv.ws, srv.site_key())).await;
    back.send(json!({"type":"hello","visitor_token":welcome["visitor_token"],"page":{"url":"https://acme.test/#parley-chat","title":"Home","referrer":""}}))
        .await;
    let w = back.until_type("welcome").await;
    assert_eq!(w["open"], true, "{w}");
    assert_eq!(w["conversation"]["id"], conv.as_str());
}

#[tokio::test]
async fn a_contact_message_is_handled_and_answered_by_mail() {
    if let Some(why) = smtp::unavailable() {
        eprintln!("skipping: {why}");
        return;
    }
    let sink = Smtp::start();
    let srv = Server::start_with(Setup {
        config: Some(config(&sink.url(), "")),
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let form = json!({"name": "Vic", "email": "vic@visitor.test", "phone": "+33 1 23", "service": "Audit",
        "message": "Can you audit\nour shop?", "website": ""});
    let path = format!("/api/v1/public/{}/contact", srv.site_key());
    let r = srv.call("POST", &path, None, Some(form)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let other = json!({"name": "Zed", "email": "zed@visitor.test", "message": "Price list?", "website": ""});
    assert_eq!(srv.call("POST", &path, None, Some(other)).await.status, 201);

    let agent = srv.pair("agent@acme.test", PASSWORD).await;
    let list = |q: &'static str| {
        let t = bearer(&agent).to_string();
        let srv = &srv;
        async move {
            let r = srv
                .call(
                    "GET",
                    &format!("/api/v1/contact-messages{q}"),
                    Some(&t),
                    None,
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("?status=new").await, ["Zed", "Vic"]);
    assert_eq!(
        list("?q=AUDIT").await,
        ["Vic"],
        "search covers the service too"
    );
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/contact-messages/{id}"),
            Some(bearer(&agent)),
            Some(json!({"status": "read", "assignee": agent["staff_id"]})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("read")),
        "{}",
        r.body
    );
    assert_eq!(list("?assignee=me").await, ["Vic"]);
    assert_eq!(list("?assignee=none").await, ["Zed"]);
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/contact-messages/{id}"),
            Some(bearer(&agent)),
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid"));

    let post = |what: &'static str, body: &'static str| {
        let p = format!("/api/v1/contact-messages/{id}/{what}");
        let t = bearer(&agent).to_string();
        let srv = &srv;
        async move {
            srv.call("POST", &p, Some(&t), Some(json!({ "body": body })))
                .await
        }
    };
    assert_eq!(post("notes", "Big client, be quick").await.status, 201);
    assert_eq!(
        post("replies", "Yes we can <b>audit</b> it.").await.status,
        201
    );
    let m = sink
        .wait_for("vic@visitor.test", "Re: your message to Acme")
        .await;
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("Yes we can <b>audit</b> it."), "{text}");
    assert!(
        text.contains("> our shop?"),
        "the original is quoted: {text}"
    );
    assert!(!text.contains("Big client"), "notes never leave: {text}");
    assert!(m["html"].as_str().unwrap().contains("&lt;b&gt;audit&lt;"));

    let r = srv
        .call(
            "GET",
            &format!("/api/v1/contact-messages/{id}"),
            Some(bearer(&agent)),
            None,
        )
        .await;
    assert_eq!(r.body["status"], "replied");
    assert_eq!(r.body["phone"], "+33 1 23");
    assert_eq!(r.body["replies"][0]["body"], "Yes we can <b>audit</b> it.");
    assert_eq!(r.body["notes"][0]["body"], "Big client, be quick");
    assert_eq!(r.body["replies"].as_array().unwrap().len(), 1);
}
