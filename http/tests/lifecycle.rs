//! A conversation's whole life as the visitor lives it, over real HTTP and
//! WebSocket: after a close the visitor writes again and starts a new
//! conversation (the closed one stays in the history, which the visitor's
//! details list in full) unless the site's reopen window (else the server's
//! `[conversation] reopen_window_secs`) says to reopen it; a rated
//! conversation never reopens by a message, nor by a proactive one; staff
//! still reopen explicitly. Also the site rules the widget and the company
//! page rely on: bookings need business hours, and the widget's theme.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn id(v: &Value) -> String {
    v["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The status of conversation `c` as the dashboard reads it.
async fn status(srv: &Server, token: &str, c: &str) -> Value {
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/conversations/{c}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = if r.body["conversation"].is_object() {
        &r.body["conversation"]
    } else {
        &r.body
    };
    c["status"].clone()
}

/// The ids of the conversations listed with `?status=`.
async fn listed(srv: &Server, token: &str, status: &str) -> Vec<String> {
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/conversations?status={status}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// Staff close conversation `c`; both sides see it closed.
async fn close(staff: &mut Ws, vis: &mut Ws, c: &str) {
    staff
        .send(json!({"type":"close","conversation_id":c}))
        .await;
    vis.until(|f| {
        f["type"] == "conversation"
            && f["conversation"]["id"] == c
            && f["conversation"]["status"] == "closed"
    })
    .await;
}

#[tokio::test]
async fn writing_after_a_close_starts_a_new_conversation_and_keeps_the_old_one() {
    let srv = Server::start();
    let token = srv.login(OWNER).await;
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut vis, welcome) = srv.visitor(None).await;
    let vtoken = welcome["visitor_token"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"v1","body":"First question"}))
        .await;
    let old = id(&vis.until_type("ack").await);
    close(&mut staff, &mut vis, &old).await;

    // The visitor writes again at once: a new conversation, waiting.
    vis.send(json!({"type":"send","client_id":"v2","body":"Another question"}))
        .await;
    // The visitor's socket learns of the new conversation before its ack.
    let mut told = None;
    let ack = vis
        .until(|f| {
            if f["type"] == "conversation" && f["conversation"]["id"] != old.as_str() {
                told = Some(f["conversation"].clone());
            }
            f["type"] == "ack"
        })
        .await;
    let new = id(&ack);
    assert_ne!(new, old, "a new conversation, not the closed one");
    assert_eq!(ack["seq"], 1, "{ack}");
    let told = told.expect("a `conversation` frame for the new conversation");
    assert_eq!(told["id"], new.as_str());
    assert_eq!(told["status"], "waiting");
    let m = staff
        .until(|f| f["type"] == "message" && f["body"] == "Another question")
        .await;
    assert_eq!(id(&m), new);

    // Both are in the history: the new one waits in the inbox, the old one
    // stays closed with its messages.
    assert_eq!(status(&srv, &token, &new).await, "waiting");
    assert_eq!(status(&srv, &token, &old).await, "closed");
    assert!(listed(&srv, &token, "open").await.contains(&new));
    assert!(listed(&srv, &token, "closed").await.contains(&old));
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/conversations/{old}/messages?after_seq=0"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["items"][0]["body"], "First question", "{}", r.body);

    // A later message goes on in the new conversation, and the visitor's
    // next page load comes back to it.
    vis.send(json!({"type":"send","client_id":"v3","body":"And one more"}))
        .await;
    let a3 = vis
        .until(|f| f["type"] == "ack" && f["client_id"] == "v3")
        .await;
    assert_eq!((id(&a3), a3["seq"].clone()), (new.clone(), json!(2)));
    let (_tab, w) = srv.visitor(Some(&vtoken)).await;
    assert_eq!(w["conversation"]["id"], new.as_str());

    // Staff still reopen the old one explicitly.
    staff
        .send(json!({"type":"reopen","conversation_id":old}))
        .await;
    let re = staff
        .until(|f| {
            f["type"] == "conversation"
                && f["conversation"]["id"] == old.as_str()
                && f["conversation"]["status"] != "closed"
        })
        .await;
    assert_eq!(re["conversation"]["status"], "waiting");
}

#[tokio::test]
async fn within_the_reopen_window_a_message_reopens_unless_it_was_rated() {
    let srv = Server::start_with(Setup {
        config: Some("[conversation]\nreopen_window_secs = 600\n".into()),
        ..Default::default()
    });
    let token = srv.login(OWNER).await;
    let (mut staff, ready) = srv.staff(OWNER).await;
    let (mut vis, welcome) = srv.visitor(None).await;
    let vid = welcome["visitor_id"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"v1","body":"Hello"}))
        .await;
    let first = id(&vis.until_type("ack").await);
    close(&mut staff, &mut vis, &first).await;

    // Within the window: the same conversation reopens.
    vis.send(json!({"type":"send","client_id":"v2","body":"Oh, one more thing"}))
        .await;
    let ack = vis
        .until(|f| f["type"] == "ack" && f["client_id"] == "v2")
        .await;
    assert_eq!(id(&ack), first, "reopened within the window");
    assert_eq!(ack["seq"], 3, "after the message and the close notice");
    eventually(
        "the reopened conversation waits",
        Duration::from_secs(5),
        || {
            let (srv, token, first) = (&srv, &token, &first);
            async move { (status(srv, token, first).await == "waiting").then_some(()) }
        },
    )
    .await;

    // Rated: a message starts a new conversation even within the window.
    close(&mut staff, &mut vis, &first).await;
    vis.send(json!({"type":"rate","conversation_id":first,"score":4,"comment":"ok"}))
        .await;
    staff
        .until(|f| f["type"] == "conversation" && !f["conversation"]["rating"].is_null())
        .await;
    // A proactive message after the rated close starts a new one too.
    staff
        .send(json!({"type":"start","visitor_id":vid,"client_id":"p1","body":"Anything else we can do?"}))
        .await;
    let started = staff
        .until(|f| f["type"] == "ack" && f["client_id"] == "p1")
        .await;
    let second = id(&started);
    assert_ne!(second, first, "the rated conversation stays closed");
    let m = vis
        .until(|f| f["type"] == "message" && f["body"] == "Anything else we can do?")
        .await;
    assert_eq!(id(&m), second);
    vis.send(json!({"type":"send","client_id":"v3","body":"No, thanks"}))
        .await;
    let a = vis
        .until(|f| f["type"] == "ack" && f["client_id"] == "v3")
        .await;
    assert_eq!(
        id(&a),
        second,
        "the visitor answers in the new conversation"
    );
    assert_eq!(status(&srv, &token, &first).await, "closed");
    let me = ready["staff"]["id"].as_str().unwrap();
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/conversations/{second}"),
            Some(&token),
            None,
        )
        .await;
    assert!(r.body.to_string().contains(me), "{}", r.body);
}

#[tokio::test]
async fn bookings_cannot_be_turned_on_without_business_hours() {
    let srv = Server::start();
    let token = srv.login(OWNER).await;
    let site = srv.tenant["site_id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/sites/{site}");
    let on = json!({"consultations": {"enabled": true}});
    let r = srv
        .call("PATCH", &path, Some(&token), Some(on.clone()))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "invalid");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("business_hours:"), "{msg}");
    let r = srv.call("GET", &path, Some(&token), None).await;
    assert_eq!(r.body["settings"]["consultations"]["enabled"], false);
    // With hours in the same request, or already set, it works.
    let hours = json!({"timezone": "Europe/Paris", "days": [{"day": "mon", "open": "09:00", "close": "17:00"}]});
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"business_hours": hours, "consultations": {"enabled": true}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["settings"]["consultations"]["enabled"], true);
    // Removing the hours while bookings are on is refused too.
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"business_hours": null})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Other settings still save.
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"greeting": "Hej"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn bookings_use_the_hours_while_chat_stays_open_around_the_clock() {
    let srv = Server::start();
    let token = srv.login(OWNER).await;
    let site = srv.tenant["site_id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/sites/{site}");
    let config = format!("/api/v1/public/{}/config", srv.site_key());
    // A site starts with chat gated by hours (once it has any), as before.
    let r = srv.call("GET", &path, Some(&token), None).await;
    assert_eq!(r.body["settings"]["chat_only_in_hours"], true, "{}", r.body);
    let hours =
        json!({"timezone": "UTC", "days": [{"day": "mon", "open": "09:00", "close": "17:00"}]});
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"business_hours": hours, "consultations": {"enabled": true}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Turning the chat gate off keeps the hours, so bookings stay on.
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"chat_only_in_hours": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["settings"]["chat_only_in_hours"], false);
    assert_eq!(r.body["settings"]["business_hours"], hours);
    assert_eq!(r.body["settings"]["consultations"]["enabled"], true);
    // The widget is told: hours shown, chat not gated by them.
    let cfg = srv.call("GET", &config, None, None).await;
    assert_eq!(cfg.body["chat_only_in_hours"], false, "{}", cfg.body);
    assert_eq!(cfg.body["business_hours"], hours);
    assert_eq!(cfg.body["mail"]["configured"], false);
    // Bookings still offer slots inside the hours.
    let slots = srv
        .call(
            "GET",
            &format!("/api/v1/public/{}/consultations/slots", srv.site_key()),
            None,
            None,
        )
        .await;
    assert_eq!(slots.status, 200, "{}", slots.body);
    assert_eq!(slots.body["enabled"], true);
    // Gating again is one flag; the hours are untouched.
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"chat_only_in_hours": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cfg = srv.call("GET", &config, None, None).await;
    assert_eq!(
        (&cfg.body["chat_only_in_hours"], &cfg.body["business_hours"]),
        (&json!(true), &hours)
    );
}

#[tokio::test]
async fn the_widget_theme_is_a_site_setting() {
    let srv = Server::start();
    let token = srv.login(OWNER).await;
    let site = srv.tenant["site_id"].as_str().unwrap().to_string();
    let key = srv.site_key().to_string();
    let cfg = srv
        .call("GET", &format!("/api/v1/public/{key}/config"), None, None)
        .await;
    assert_eq!(cfg.body["theme"], "auto", "{}", cfg.body);
    let path = format!("/api/v1/sites/{site}");
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"theme": "purple"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = srv
        .call("PATCH", &path, Some(&token), Some(json!({"theme": "dark"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["settings"]["theme"], "dark");
    let cfg = srv
        .call("GET", &format!("/api/v1/public/{key}/config"), None, None)
        .await;
    assert_eq!(cfg.body["theme"], "dark");
    let (_v, welcome) = srv.visitor(None).await;
    assert_eq!(welcome["site"]["theme"], "dark", "{welcome}");
}

/// A visitor socket after `hello` on the site with key `key`.
async fn visitor_on(srv: &Server, key: &str) -> (Ws, Value) {
    let mut ws = Ws::connect(&format!("{}/ws/visitor?site={key}", srv.ws)).await;
    ws.send(json!({"type":"hello","visitor_token":null,"page":{"url":"https://acme.test/","title":"Home","referrer":""}}))
        .await;
    let welcome = ws.recv().await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    (ws, welcome)
}

/// The visitor writes, staff close, the visitor writes again: whether the
/// second message went into the first conversation.
async fn reopens(staff: &mut Ws, vis: &mut Ws) -> bool {
    vis.send(json!({"type":"send","client_id":"r1","body":"Hello"}))
        .await;
    let first = id(&vis
        .until(|f| f["type"] == "ack" && f["client_id"] == "r1")
        .await);
    close(staff, vis, &first).await;
    vis.send(json!({"type":"send","client_id":"r2","body":"One more thing"}))
        .await;
    let again = vis
        .until(|f| f["type"] == "ack" && f["client_id"] == "r2")
        .await;
    id(&again) == first
}

#[tokio::test]
async fn a_site_can_have_its_own_reopen_window() {
    // The server's window is 0: a new conversation after every close.
    let srv = Server::start();
    let token = srv.login(OWNER).await;
    let site = srv.tenant["site_id"].as_str().unwrap().to_string();
    let r = srv
        .call("GET", &format!("/api/v1/sites/{site}"), Some(&token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["settings"]["reopen_window_secs"].is_null(),
        "{}",
        r.body
    );
    assert_eq!(r.body["settings"]["reopen_window_default_secs"], 0);

    // Out of range (over 30 days, or negative): refused, nothing changes.
    for bad in [json!(2_592_001), json!(-1), json!("ten")] {
        let r = srv
            .call(
                "PATCH",
                &format!("/api/v1/sites/{site}"),
                Some(&token),
                Some(json!({ "reopen_window_secs": bad })),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{site}"),
            Some(&token),
            Some(json!({"reopen_window_secs": 600})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["settings"]["reopen_window_secs"], 600);

    // A second site keeps the server's window.
    let r = srv
        .call(
            "POST",
            "/api/v1/sites",
            Some(&token),
            Some(json!({"name": "Second"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let other_key = r.body["key"].as_str().unwrap().to_string();
    assert!(r.body["settings"]["reopen_window_secs"].is_null());

    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut a, _) = visitor_on(&srv, srv.site_key()).await;
    assert!(
        reopens(&mut staff, &mut a).await,
        "the site with a window reopens"
    );
    let (mut b, _) = visitor_on(&srv, &other_key).await;
    assert!(
        !reopens(&mut staff, &mut b).await,
        "the site without one starts a new conversation"
    );

    // Back to the server's default (null): a new conversation again.
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{site}"),
            Some(&token),
            Some(json!({"reopen_window_secs": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["settings"]["reopen_window_secs"].is_null());
    let (mut c, _) = visitor_on(&srv, srv.site_key()).await;
    assert!(
        !reopens(&mut staff, &mut c).await,
        "the server's window (0) applies again"
    );
}

#[tokio::test]
async fn a_site_window_of_zero_overrides_the_servers() {
    let srv = Server::start_with(Setup {
        config: Some("[conversation]\nreopen_window_secs = 600\n".into()),
        ..Default::default()
    });
    let token = srv.login(OWNER).await;
    let site = srv.tenant["site_id"].as_str().unwrap().to_string();
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut a, _) = visitor_on(&srv, srv.site_key()).await;
    assert!(reopens(&mut staff, &mut a).await, "the server's 600 s");
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{site}"),
            Some(&token),
            Some(json!({"reopen_window_secs": 0})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["settings"]["reopen_window_default_secs"], 600);
    let (mut b, _) = visitor_on(&srv, srv.site_key()).await;
    assert!(
        !reopens(&mut staff, &mut b).await,
        "the site's 0 wins over the server's 600"
    );
}

#[tokio::test]
async fn the_visitor_details_list_every_conversation_closed_ones_too() {
    let srv = Server::start_with(Setup {
        tenants: vec!["owner@other.test".into()],
        ..Default::default()
    });
    let token = srv.login(OWNER).await;
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut vis, welcome) = srv.visitor(None).await;
    let vid = welcome["visitor_id"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"v1","body":"First question"}))
        .await;
    let old = id(&vis.until_type("ack").await);
    staff
        .send(json!({"type":"claim","conversation_id":old}))
        .await;
    staff
        .send(json!({"type":"send","conversation_id":old,"client_id":"s1","body":"Answered"}))
        .await;
    staff
        .until(|f| f["type"] == "ack" && f["client_id"] == "s1")
        .await;
    staff
        .send(json!({"type":"send","conversation_id":old,"client_id":"n1","body":"A private note","private":true}))
        .await;
    staff
        .until(|f| f["type"] == "ack" && f["client_id"] == "n1")
        .await;
    close(&mut staff, &mut vis, &old).await;
    // Lists (Home, the inbox) preview the last line someone wrote: not the
    // close notice, not the private note.
    let r = srv
        .call(
            "GET",
            "/api/v1/conversations?status=closed",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["items"][0]["id"], old.as_str());
    assert_eq!(r.body["items"][0]["last_message"]["body"], "Answered");
    vis.send(json!({"type":"send","client_id":"v2","body":"Second question"}))
        .await;
    let new = id(&vis
        .until(|f| f["type"] == "ack" && f["client_id"] == "v2")
        .await);
    assert_ne!(new, old);

    let r = srv
        .call(
            "GET",
            &format!("/api/v1/visitors/{vid}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.body["conversations"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [new.as_str(), old.as_str()], "newest first, both");
    assert_eq!(list[0]["status"], "waiting");
    assert_eq!(list[0]["first_message"]["body"], "Second question");
    assert_eq!(list[1]["status"], "closed");
    assert_eq!(list[1]["first_message"]["body"], "First question");
    // The last line someone wrote, not the close notice.
    assert_eq!(list[1]["last_message"]["body"], "Answered");
    assert!(list[1]["created_at"].is_string());

    // Another tenant's staff: no such visitor.
    let other = srv.login("owner@other.test").await;
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/visitors/{vid}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // And they cannot open the closed conversation either.
    let r = srv
        .call(
            "GET",
            &format!("/api/v1/conversations/{old}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

/// The widget's "Your conversations": `POST /public/{key}/history`.
async fn history(srv: &Server, visitor_token: &str) -> Resp {
    srv.call(
        "POST",
        &format!("/api/v1/public/{}/history", srv.site_key()),
        None,
        Some(json!({ "visitor_token": visitor_token })),
    )
    .await
}

#[tokio::test]
async fn a_visitor_reads_their_own_past_conversations_and_nobody_elses() {
    let srv = Server::start();
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut vis, welcome) = srv.visitor(None).await;
    let vtoken = welcome["visitor_token"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"v1","body":"First question"}))
        .await;
    let old = id(&vis.until_type("ack").await);
    staff
        .send(json!({"type":"claim","conversation_id":old}))
        .await;
    staff
        .send(json!({"type":"send","conversation_id":old,"client_id":"s1","body":"Answered"}))
        .await;
    vis.until(|f| f["type"] == "message" && f["body"] == "Answered")
        .await;
    close(&mut staff, &mut vis, &old).await;
    vis.send(json!({"type":"send","client_id":"v2","body":"Second question"}))
        .await;
    let new = id(&vis.until_type("ack").await);
    assert_ne!(new, old);
    // Someone else on the same site.
    let (mut other, w2) = srv.visitor(None).await;
    let other_token = w2["visitor_token"].as_str().unwrap().to_string();
    other
        .send(json!({"type":"send","client_id":"o1","body":"Not yours"}))
        .await;
    other.until_type("ack").await;

    let r = history(&srv, &vtoken).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let convs = r.body["conversations"].as_array().unwrap();
    let ids: Vec<&str> = convs.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [new.as_str(), old.as_str()],
        "newest first: {}",
        r.body
    );
    assert_eq!(convs[1]["status"], "closed");
    let bodies = |c: &Value| -> Vec<String> {
        c["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["from"]["kind"] != "system")
            .map(|m| m["body"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(bodies(&convs[1]), ["First question", "Answered"]);
    let answer = convs[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["body"] == "Answered")
        .unwrap();
    assert_eq!(answer["from"]["kind"], "staff", "{answer}");
    assert_eq!(bodies(&convs[0]), ["Second question"]);
    assert!(!r.body.to_string().contains("Not yours"), "{}", r.body);

    let r = history(&srv, &other_token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["conversations"].as_array().unwrap().len(), 1);
    assert!(!r.body.to_string().contains("First question"), "{}", r.body);
    // A token that is no visitor's of this site reads nothing.
    let r = history(&srv, "forged").await;
    assert_eq!(r.status, 404, "{}", r.body);
}
