//! The APIs behind the dashboard's settings pages (issue 29): a self-hosted
//! instance holds nobody to a plan until billing is turned on, and then
//! says its limits as sentences; an invitation or reset link is handed to
//! the owner or admin when no SMTP server can mail it (and only then, and
//! only to them); canned responses and newsletter drafts are edited in
//! place; the audit log names people and things; sessions name devices;
//! one mail of the outbox opens with its rendered body; the Outbox knows
//! whether mail can leave; a site's snippet counts as installed only once
//! its widget loads on a page that is not Parley's own.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// A config that keeps the built-in free plan (1 site, 2 staff, no
/// webhooks): it names `[plans…]`, so the test harness adds no overrides.
const BUILTIN_PLANS: &str = "[plans.pro]\nprice_cents = 2900\n";

async fn post(srv: &Server, token: &str, path: &str, body: Value) -> Resp {
    srv.call("POST", path, Some(token), Some(body)).await
}

#[tokio::test]
async fn without_billing_a_new_workspace_has_everything() {
    let srv = Server::start_with(Setup {
        config: Some(BUILTIN_PLANS.into()),
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let r = post(&srv, &owner, "/api/v1/sites", json!({"name": "Second"})).await;
    assert_eq!(r.status, 201, "a second site: {}", r.body);
    let hook = json!({"url": "https://hooks.example.com/x", "events": ["message.created"]});
    let r = post(&srv, &owner, "/api/v1/webhooks", hook).await;
    assert_eq!(r.status, 201, "a webhook: {}", r.body);
    for n in 0..3 {
        let s = json!({"name": "S", "email": format!("s{n}@acme.test"), "role": "agent", "password": PASSWORD});
        let r = post(&srv, &owner, "/api/v1/staff", s).await;
        assert_eq!(r.status, 201, "staff member {n}: {}", r.body);
    }
    let t = srv.call("GET", "/api/v1/tenant", Some(&owner), None).await;
    assert_eq!(t.body["billing"]["enabled"], false);
    assert_eq!(t.body["plan"], "unlimited");
    assert_eq!(t.body["limits"]["sites"], Value::Null);
    assert_eq!(t.body["usage"]["sites"], 2);
    let plans = srv.call("GET", "/api/v1/plans", None, None).await;
    assert_eq!(plans.body["billing"], false, "the pricing is hidden");
}

#[tokio::test]
async fn with_billing_on_the_free_plan_limits_apply_in_sentences() {
    let srv = Server::start_with(Setup {
        config: Some(format!("{BUILTIN_PLANS}[billing]\nenabled = true\n")),
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let t = srv.call("GET", "/api/v1/tenant", Some(&owner), None).await;
    assert_eq!(
        (&t.body["plan"], &t.body["billing"]["enabled"]),
        (&json!("free"), &json!(true))
    );
    assert_eq!(t.body["billing"]["checkout"], false);
    let r = post(&srv, &owner, "/api/v1/sites", json!({"name": "Second"})).await;
    assert_eq!((r.status, r.code()), (403, "quota_exceeded"), "{}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        "Your plan allows 1 site. Upgrade to Pro to get more."
    );
    let hook = json!({"url": "https://hooks.example.com/x", "events": ["message.created"]});
    let r = post(&srv, &owner, "/api/v1/webhooks", hook).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "feature_not_in_plan"),
        "{}",
        r.body
    );
    assert_eq!(
        r.body["error"]["message"],
        "Your plan does not include webhooks. Upgrade to Pro for it."
    );
    let s = |n: u32| json!({"name": "S", "email": format!("s{n}@acme.test"), "role": "agent", "password": PASSWORD});
    assert_eq!(post(&srv, &owner, "/api/v1/staff", s(1)).await.status, 201);
    let r = post(&srv, &owner, "/api/v1/staff", s(2)).await;
    assert_eq!(
        r.body["error"]["message"],
        "Your plan allows 2 staff seats. Upgrade to Pro to get more."
    );
    let plans = srv.call("GET", "/api/v1/plans", None, None).await;
    assert_eq!(plans.body["billing"], true);
    // No checkout page configured: the checkout says so as a sentence.
    let r = post(
        &srv,
        &owner,
        "/api/v1/billing/checkout",
        json!({"plan": "pro"}),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Online payment is not set up"));
}

#[tokio::test]
async fn without_smtp_the_inviter_gets_the_link_and_only_then() {
    let srv = Server::start_with(Setup {
        staff: vec![
            ("admin@acme.test".into(), "admin".into()),
            ("agent@acme.test".into(), "agent".into()),
        ],
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let admin = srv.login("admin@acme.test").await;
    let agent = srv.login("agent@acme.test").await;
    let invite = |email: &str| json!({"name": "New", "email": email, "role": "agent"});
    // The owner and an admin invite: the link comes back, mail is not configured.
    for (who, token, email) in [
        ("owner", &owner, "ada@acme.test"),
        ("admin", &admin, "bo@acme.test"),
    ] {
        let r = post(&srv, token, "/api/v1/staff", invite(email)).await;
        assert_eq!(r.status, 201, "{who}: {}", r.body);
        assert_eq!(r.body["mail_configured"], false);
        let link = r.body["invite_link"].as_str().expect("an invitation link");
        assert!(link.contains("invite="), "{link}");
        // The link works: it names the invited member.
        let token = link.split("invite=").nth(1).unwrap();
        let check = srv
            .call(
                "POST",
                "/api/v1/auth/link",
                None,
                Some(json!({"token": token})),
            )
            .await;
        assert_eq!(check.status, 200, "{}", check.body);
        assert_eq!(check.body["email"], email);
    }
    // An agent may not invite at all (so never sees a link).
    let r = post(&srv, &agent, "/api/v1/staff", invite("cy@acme.test")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.get("invite_link").is_none());
    // A password reset started by the owner for the agent: a link back.
    let staff = srv.call("GET", "/api/v1/staff", Some(&owner), None).await;
    let id = |email: &str| {
        staff.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["email"] == email)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let r = post(
        &srv,
        &owner,
        &format!("/api/v1/staff/{}/link", id("agent@acme.test")),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["link"].as_str().unwrap().contains("reset="));
    // ... and an invitation again for the invited one.
    let r = post(
        &srv,
        &admin,
        &format!("/api/v1/staff/{}/link", id("ada@acme.test")),
        json!({}),
    )
    .await;
    assert!(
        r.body["link"].as_str().unwrap().contains("invite="),
        "{}",
        r.body
    );
    // An agent cannot ask for anyone's link.
    let r = post(
        &srv,
        &agent,
        &format!("/api/v1/staff/{}/link", id("ada@acme.test")),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.get("link").is_none());
}

#[tokio::test]
async fn with_smtp_the_link_is_never_returned() {
    let Some(sink) = common::smtp::unavailable()
        .is_none()
        .then(common::smtp::Smtp::start)
    else {
        eprintln!("skipping: no SMTP sink here");
        return;
    };
    let srv = Server::start_with(Setup {
        config: Some(format!("[mail]\nsmtp_url = \"{}\"\n", sink.url())),
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let r = post(
        &srv,
        &owner,
        "/api/v1/staff",
        json!({"name": "Ada", "email": "ada@acme.test", "role": "agent"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["mail_configured"], true);
    assert!(r.body.get("invite_link").is_none(), "{}", r.body);
    let r = post(
        &srv,
        &owner,
        &format!("/api/v1/staff/{}/link", r.body["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.get("link").is_none(), "{}", r.body);
}

#[tokio::test]
async fn canned_responses_and_newsletter_drafts_are_edited_in_place() {
    let srv = Server::start();
    let owner = srv.login(OWNER).await;
    let c = post(
        &srv,
        &owner,
        "/api/v1/canned-responses",
        json!({"shortcut": "thanks", "body": "Thank you!"}),
    )
    .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/canned-responses/{id}"),
            Some(&owner),
            Some(json!({"shortcut": "ty", "body": "Thanks a lot!"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = srv
        .call("GET", "/api/v1/canned-responses", Some(&owner), None)
        .await;
    assert_eq!(list.body["items"][0]["shortcut"], "ty");
    assert_eq!(list.body["items"][0]["body"], "Thanks a lot!");

    let d = post(
        &srv,
        &owner,
        "/api/v1/newsletter/campaigns",
        json!({"subject": "Spring news", "body": "Hello"}),
    )
    .await;
    assert_eq!(d.status, 201, "{}", d.body);
    let id = d.body["id"].as_str().unwrap();
    let path = format!("/api/v1/newsletter/campaigns/{id}");
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&owner),
            Some(json!({"subject": "Spring news, revised", "body": "Hello **all**"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = srv.call("GET", &path, Some(&owner), None).await;
    assert_eq!(got.body["subject"], "Spring news, revised");
    assert!(got.body["preview"]["html"]
        .as_str()
        .unwrap()
        .contains("<strong>all</strong>"));
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&owner),
            Some(json!({"subject": "", "body": "x"})),
        )
        .await;
    assert_eq!(r.status, 400, "an empty subject: {}", r.body);
    // Once sent, a campaign is no longer a draft to edit.
    let r = post(&srv, &owner, &format!("{path}/send"), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(&owner),
            Some(json!({"subject": "Too late", "body": "x"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_state"), "{}", r.body);
}

#[tokio::test]
async fn the_audit_log_names_people_and_things_and_sessions_name_devices() {
    let srv = Server::start();
    let owner = srv.login(OWNER).await;
    let r = srv
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&owner),
            Some(json!({"name": "Alice"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    post(
        &srv,
        &owner,
        "/api/v1/canned-responses",
        json!({"shortcut": "hi", "body": "Hi!"}),
    )
    .await;
    // A visitor writes; Alice claims the conversation.
    let (mut v, _) = srv.visitor(None).await;
    v.send(json!({"type":"send","client_id":"c1","body":"Hello"}))
        .await;
    let conv = v.until_type("ack").await["conversation_id"].clone();
    let (mut staff, _) = srv.staff(OWNER).await;
    staff
        .send(json!({"type":"claim","conversation_id":conv}))
        .await;
    let entry = |action: &'static str| {
        let srv = &srv;
        let owner = owner.clone();
        async move {
            let r = srv
                .call(
                    "GET",
                    &format!("/api/v1/audit?action={action}"),
                    Some(&owner),
                    None,
                )
                .await;
            r.body["items"].as_array().and_then(|a| a.first().cloned())
        }
    };
    let claim = eventually("the claim is audited", Duration::from_secs(10), || {
        entry("conversation.claim")
    })
    .await;
    assert_eq!(claim["actor"]["name"], "Alice", "{claim}");
    let label = claim["entity_label"].as_str().unwrap();
    assert!(
        label.starts_with("conversation with Visitor "),
        "a readable entity: {label}"
    );
    assert_eq!(label.len(), "conversation with Visitor ".len() + 5);
    let canned = entry("canned.create").await.expect("canned.create");
    assert_eq!(canned["actor"]["name"], "Alice");
    assert_eq!(canned["entity_label"], "canned response /hi");
    assert!(
        canned["changes"].is_object(),
        "the stored changes: {canned}"
    );
    // A session signed in from Chrome on Linux says so.
    let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", srv.base))
        .header("user-agent", ua)
        .json(&json!({"email": OWNER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let chrome: Value = r.json().await.unwrap();
    let token = chrome["access_token"].as_str().unwrap();
    let sessions = srv.call("GET", "/api/v1/sessions", Some(token), None).await;
    let mine = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .cloned()
        .unwrap();
    assert_eq!(mine["device_name"], "Chrome on Linux", "{mine}");
    let login = entry("auth.login").await.expect("auth.login");
    assert_eq!(login["device"], "Chrome on Linux", "{login}");
}

#[tokio::test]
async fn an_outbox_mail_opens_with_its_rendered_body() {
    let srv = Server::start();
    let owner = srv.login(OWNER).await;
    let r = post(
        &srv,
        &owner,
        "/api/v1/staff",
        json!({"name": "Ada", "email": "ada@acme.test", "role": "agent"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let list = srv.call("GET", "/api/v1/outbox", Some(&owner), None).await;
    let id = list.body["items"][0]["id"].as_str().unwrap().to_string();
    let m = srv
        .call("GET", &format!("/api/v1/outbox/{id}"), Some(&owner), None)
        .await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.body["to"], "ada@acme.test");
    assert_eq!(m.body["status"], "pending");
    assert!(m.body["subject"].as_str().unwrap().contains("invited you"));
    assert!(m.body["html"].as_str().unwrap().contains("invite="));
    assert!(m.body["body"].as_str().unwrap().contains("invite="));
    let other = srv
        .call(
            "GET",
            "/api/v1/outbox/00000000000000000000000000",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(other.status, 404);
}

#[tokio::test]
async fn the_tenant_says_whether_mail_can_leave() {
    let srv = Server::start();
    let owner = srv.login(OWNER).await;
    let t = srv.call("GET", "/api/v1/tenant", Some(&owner), None).await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.body["mail"]["configured"], false, "{}", t.body);
    let srv = Server::start_with(Setup {
        config: Some("[mail]\nsmtp_url = \"smtp://127.0.0.1:9\"\n".into()),
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let t = srv.call("GET", "/api/v1/tenant", Some(&owner), None).await;
    assert_eq!(t.body["mail"]["configured"], true, "{}", t.body);
}

#[tokio::test]
async fn a_snippet_counts_as_installed_only_on_a_real_site() {
    let srv = Server::start();
    let owner = srv.login(OWNER).await;
    let site = || async {
        let r = srv.call("GET", "/api/v1/sites", Some(&owner), None).await;
        r.body["items"][0].clone()
    };
    assert_eq!(site().await["installed_at"], Value::Null, "a new site");
    let url = format!("{}/ws/visitor?site={}", srv.ws, srv.site_key());
    let host = srv.base.trim_start_matches("http://").to_string();
    let hello = json!({"type":"hello","visitor_token":null,"page":{"url":"https://shop.example.com/","title":"Shop","referrer":""}});
    // Parley's own pages (/demo, the company page /s/…): same origin as the server.
    for origin in [srv.base.clone(), format!("https://{host}")] {
        let mut ws = Ws::connect_with(&url, &[("origin", &origin)]).await;
        ws.send(hello.clone()).await;
        assert_eq!(ws.until_type("welcome").await["type"], "welcome");
    }
    // No Origin at all (a script, not a browser page).
    let _ = srv.visitor(None).await;
    assert_eq!(
        site().await["installed_at"],
        Value::Null,
        "Parley's own pages do not count"
    );
    // A page on the customer's own site.
    let mut ws = Ws::connect_with(&url, &[("origin", "https://shop.example.com")]).await;
    ws.send(hello.clone()).await;
    ws.until_type("welcome").await;
    let first = site().await["installed_at"].clone();
    assert!(
        first.is_string(),
        "installed once seen on a real site: {first}"
    );
    // Noted once: a later visit keeps the first time.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut ws = Ws::connect_with(&url, &[("origin", "https://www.example.org")]).await;
    ws.send(hello).await;
    ws.until_type("welcome").await;
    assert_eq!(site().await["installed_at"], first);
    let id = site().await["id"].as_str().unwrap().to_string();
    let one = srv
        .call("GET", &format!("/api/v1/sites/{id}"), Some(&owner), None)
        .await;
    assert_eq!(one.body["installed_at"], first, "{}", one.body);
}
