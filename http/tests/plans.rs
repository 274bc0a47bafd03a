//! Plans, quotas and payments against the real server: the free plan's
//! limits and features refused with the contract's errors, the checkout
//! link, the provider's signed webhooks (good, stale, wrong secret, a
//! replayed event id) moving the plan up at once and down at the period's
//! end, a late payment's grace, the operator setting a plan, platform
//! totals, and every change in the audit log.

mod common;

use common::*;
use serde_json::{json, Value};

const SECRET: &str = "whsec_billing_test_secret";

fn config() -> String {
    format!(
        "[plans.free]\nsites = 1\nstaff = 2\nfeatures = [\"transcripts\"]\n[plans.pro]\nprice_cents = 4900\n\
         [billing]\nwebhook_secret = \"{SECRET}\"\ncheckout_url_template = \"https://pay.example.com/c?ref={{tenant_id}}&plan={{plan}}&email={{email}}\"\n"
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn sign(secret: &str, t: u64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

async fn hook(srv: &Server, signature: Option<String>, event: &Value) -> Resp {
    let body = event.to_string();
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/billing/webhook", srv.base))
        .header("content-type", "application/json")
        .body(body);
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    send(req).await
}

async fn signed(srv: &Server, event: &Value) -> Resp {
    hook(srv, Some(sign(SECRET, now(), &event.to_string())), event).await
}

async fn tenant(srv: &Server, token: &str) -> Value {
    let r = srv.call("GET", "/api/v1/tenant", Some(token), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn plans_limit_the_work_and_payments_move_the_plan() {
    let srv = Server::start_with(Setup {
        config: Some(config()),
        superadmin: Some(("root@ops.test".into(), "operator pass 1".into())),
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let tid = srv.tenant["tenant_id"].as_str().unwrap().to_string();
    let t = tenant(&srv, &owner).await;
    assert_eq!(t["plan"], "free");
    assert_eq!(t["usage"]["sites"], 1);
    assert_eq!(t["limits"]["sites"], 1);
    assert_eq!(
        t["limits"]["conversations_per_month"], 100,
        "a missing key keeps the built-in value"
    );
    // The free plan's limits and features.
    let r = srv
        .call(
            "POST",
            "/api/v1/sites",
            Some(&owner),
            Some(json!({"name": "Second"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "quota_exceeded"), "{}", r.body);
    let staff = |n: u32| json!({"name": "S", "email": format!("s{n}@acme.test"), "role": "agent", "password": PASSWORD});
    assert_eq!(
        srv.call("POST", "/api/v1/staff", Some(&owner), Some(staff(1)))
            .await
            .status,
        201
    );
    let r = srv
        .call("POST", "/api/v1/staff", Some(&owner), Some(staff(2)))
        .await;
    assert_eq!((r.status, r.code()), (403, "quota_exceeded"), "{}", r.body);
    let hooks = json!({"url": "https://hooks.example.com/x", "events": ["message.created"]});
    let r = srv
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(&owner),
            Some(hooks.clone()),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "feature_not_in_plan"),
        "{}",
        r.body
    );
    let site = srv.tenant["site_id"].as_str().unwrap();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{site}"),
            Some(&owner),
            Some(json!({"identity_verification": true})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "feature_not_in_plan"));
    // The price list and the checkout link.
    let plans = srv.call("GET", "/api/v1/plans", None, None).await;
    let names: Vec<&str> = plans.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["free", "pro", "business"]);
    assert_eq!(plans.body["items"][1]["price_cents"], 4900);
    assert_eq!(plans.body["items"][2]["sites"], Value::Null, "unlimited");
    let r = srv
        .call(
            "POST",
            "/api/v1/billing/checkout",
            Some(&owner),
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["url"],
        format!("https://pay.example.com/c?ref={tid}&plan=pro&email=owner%40acme.test")
    );
    // Bad signatures change nothing.
    let paid = json!({"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {
        "client_reference_id": tid, "customer": "cus_1", "subscription": "sub_1", "metadata": {"plan": "pro"}}}});
    let body = paid.to_string();
    for sig in [
        None,
        Some(sign("whsec_wrong", now(), &body)),
        Some(sign(SECRET, now() - 600, &body)),
        Some(format!("t={},v1=00", now())),
    ] {
        let r = hook(&srv, sig.clone(), &paid).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "bad_request"),
            "{sig:?}: {}",
            r.body
        );
    }
    assert_eq!(tenant(&srv, &owner).await["plan"], "free");
    // A paid checkout: pro at once.
    let r = signed(&srv, &paid).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let t = tenant(&srv, &owner).await;
    assert_eq!(
        (t["plan"].as_str(), t["limits"]["sites"].as_u64()),
        (Some("pro"), Some(5))
    );
    assert_eq!(
        srv.call(
            "POST",
            "/api/v1/sites",
            Some(&owner),
            Some(json!({"name": "Second"}))
        )
        .await
        .status,
        201
    );
    assert_eq!(
        srv.call("POST", "/api/v1/webhooks", Some(&owner), Some(hooks))
            .await
            .status,
        201
    );
    // The same event again: 200, nothing changes (even after the operator moved the plan).
    let op = srv
        .call(
            "POST",
            "/api/v1/admin/auth/login",
            None,
            Some(json!({"email": "root@ops.test", "password": "operator pass 1"})),
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/admin/tenants/{tid}"),
            Some(&op),
            Some(json!({"plan": "business"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["plan"].as_str()),
        (200, Some("business")),
        "{}",
        r.body
    );
    let r = signed(&srv, &paid).await;
    assert_eq!((r.status, r.body["duplicate"].as_bool()), (200, Some(true)));
    assert_eq!(tenant(&srv, &owner).await["plan"], "business");
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/admin/tenants/{tid}"),
            Some(&op),
            Some(json!({"plan": "gold"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid"));
    let stats = srv
        .call("GET", "/api/v1/admin/stats", Some(&op), None)
        .await;
    assert_eq!(
        stats.body["tenants_by_plan"]["business"], 1,
        "{}",
        stats.body
    );
    assert_eq!(stats.body["mrr_cents"], 9900);
    // A downgrade waits for the end of the paid period.
    let end = now() + 30 * 86_400;
    let down = json!({"id": "evt_2", "type": "customer.subscription.updated", "data": {"object": {
        "status": "active", "current_period_end": end, "metadata": {"tenant_id": tid, "plan": "pro"}}}});
    assert_eq!(signed(&srv, &down).await.status, 200);
    let t = tenant(&srv, &owner).await;
    assert_eq!(t["plan"], "business");
    assert_eq!(t["billing"]["next_plan"], "pro");
    // A late payment keeps the plan through the grace period.
    let late = json!({"id": "evt_3", "type": "customer.subscription.updated", "data": {"object": {
        "status": "past_due", "current_period_end": end, "metadata": {"tenant_id": tid}}}});
    assert_eq!(signed(&srv, &late).await.status, 200);
    let t = tenant(&srv, &owner).await;
    assert_eq!(
        (t["plan"].as_str(), t["billing"]["status"].as_str()),
        (Some("business"), Some("past_due"))
    );
    assert!(t["billing"]["grace_until"].is_string());
    // Cancelled: back to free.
    let gone = json!({"id": "evt_4", "type": "customer.subscription.deleted", "data": {"object": {
        "metadata": {"tenant_id": tid}}}});
    assert_eq!(signed(&srv, &gone).await.status, 200);
    assert_eq!(tenant(&srv, &owner).await["plan"], "free");
    // Every change is in the audit log.
    let audit = srv
        .call("GET", "/api/v1/audit?limit=200", Some(&owner), None)
        .await;
    let plan_changes = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "tenant.plan")
        .count();
    assert_eq!(plan_changes, 5, "{}", audit.body);
}

#[tokio::test]
async fn past_its_monthly_conversations_a_tenant_keeps_the_ones_it_has() {
    let srv = Server::start_with(Setup {
        config: Some("[plans.free]\nconversations_per_month = 2\n".into()),
        superadmin: Some(("root@ops.test".into(), "operator pass 1".into())),
        ..Default::default()
    });
    let mut open = Vec::new();
    for i in 0..2 {
        let (mut v, _) = srv.visitor(None).await;
        v.send(json!({"type": "send", "client_id": format!("c{i}"), "body": "hello"}))
            .await;
        assert_eq!(v.until_type("ack").await["client_id"], format!("c{i}"));
        open.push(v);
    }
    let (mut third, _) = srv.visitor(None).await;
    third
        .send(json!({"type": "send", "client_id": "c3", "body": "anyone?"}))
        .await;
    let e = third.until_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["client_id"].as_str()),
        (Some("quota_exceeded"), Some("c3")),
        "{e}"
    );
    // The conversations already open go on.
    open[0]
        .send(json!({"type": "send", "client_id": "c0b", "body": "still here"}))
        .await;
    assert_eq!(open[0].until_type("ack").await["client_id"], "c0b");
    let owner = srv.login(OWNER).await;
    let t = srv.call("GET", "/api/v1/tenant", Some(&owner), None).await;
    assert_eq!(t.body["usage"]["conversations_this_month"], 2, "{}", t.body);
    // An upgrade lets new ones start at once.
    let op = srv
        .call(
            "POST",
            "/api/v1/admin/auth/login",
            None,
            Some(json!({"email": "root@ops.test", "password": "operator pass 1"})),
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let tid = srv.tenant["tenant_id"].as_str().unwrap();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/admin/tenants/{tid}"),
            Some(&op),
            Some(json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(r.status, 200);
    third
        .send(json!({"type": "send", "client_id": "c4", "body": "now?"}))
        .await;
    assert_eq!(third.until_type("ack").await["client_id"], "c4");
}

#[tokio::test]
async fn the_janitor_deletes_what_the_plan_keeps_no_longer() {
    // A plan that keeps nothing, and an audit log that keeps nothing.
    let srv = Server::start_with(Setup {
        config: Some("[plans.free]\nretention_days = 0\n[audit]\nretention_days = 0\n[retention]\nsweep_secs = 1\n".into()),
        ..Default::default()
    });
    let owner = srv.login(OWNER).await;
    let (mut v, _) = srv.visitor(None).await;
    v.send(json!({"type": "send", "client_id": "r1", "body": "forget me"}))
        .await;
    let ack = v.until_type("ack").await;
    let conv = ack["conversation_id"].as_str().unwrap().to_string();
    drop(v);
    let r = srv
        .call(
            "PATCH",
            "/api/v1/tenant",
            Some(&owner),
            Some(json!({"name": "Acme Renamed"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let c = srv
            .call(
                "GET",
                &format!("/api/v1/conversations/{conv}/messages"),
                Some(&owner),
                None,
            )
            .await;
        let audit = srv
            .call("GET", "/api/v1/audit?limit=200", Some(&owner), None)
            .await;
        let renamed = audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "tenant.update");
        if c.status == 404 && !renamed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} / {}",
            c.body,
            audit.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The tenant itself, its staff and sites stay.
    assert_eq!(
        srv.call("GET", "/api/v1/tenant", Some(&owner), None)
            .await
            .body["name"],
        "Acme Renamed"
    );
    assert_eq!(
        srv.call("GET", "/api/v1/sites", Some(&owner), None)
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
