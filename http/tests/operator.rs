//! The instance operator: sign-in, the tenant list with usage, and
//! suspending and resuming a tenant (its staff are signed out, its widget
//! shows offline, other tenants carry on).

mod common;

use common::*;
use serde_json::{json, Value};

fn bearer(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

#[tokio::test]
async fn the_operator_lists_tenants_and_suspends_one() {
    let srv = Server::start_with(Setup {
        superadmin: Some(("root@ops.test".into(), "operator pass 1".into())),
        tenants: vec!["other@beta.test".into()],
        ..Default::default()
    });
    let r = srv
        .call(
            "POST",
            "/api/v1/admin/auth/login",
            None,
            Some(json!({"email":"root@ops.test","password":"operator pass 1"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let op = r.body["access_token"].as_str().unwrap().to_string();
    let bad = srv
        .call(
            "POST",
            "/api/v1/admin/auth/login",
            None,
            Some(json!({"email":"root@ops.test","password":"nope nope 1"})),
        )
        .await;
    assert_eq!(bad.status, 401);
    // Some traffic to count.
    let (mut vis, _) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"c1","body":"hi"}))
        .await;
    vis.until_type("ack").await;
    let (mut staff, _) = srv.staff(OWNER).await;
    let r = srv
        .call("GET", "/api/v1/admin/tenants", Some(&op), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tid = srv.tenant["tenant_id"].as_str().unwrap();
    let acme = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tid)
        .unwrap()
        .clone();
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(acme["usage"]["staff"], 1);
    assert_eq!(acme["usage"]["sites"], 1);
    assert_eq!(acme["usage"]["conversations"], 1);
    assert!(acme["usage"]["messages"].as_u64().unwrap() >= 1);
    assert!(acme["usage"]["storage_bytes"].as_u64().unwrap() > 100);
    // Staff tokens do not open the operator routes, and back.
    let owner = srv.pair(OWNER, PASSWORD).await;
    let r = srv
        .call("GET", "/api/v1/admin/tenants", Some(bearer(&owner)), None)
        .await;
    assert_eq!(r.status, 401);
    let r = srv.call("GET", "/api/v1/me", Some(&op), None).await;
    assert_eq!(r.status, 401);

    let r = srv
        .call(
            "POST",
            &format!("/api/v1/admin/tenants/{tid}/suspend"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!((r.status, &r.body["suspended"]), (200, &json!(true)));
    assert_eq!(staff.close_code().await, Some(4403));
    assert_eq!(vis.close_code().await, Some(4403));
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": OWNER, "password": PASSWORD})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "tenant_suspended"));
    let r = srv
        .call("GET", "/api/v1/me", Some(bearer(&owner)), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "tenant_suspended"));
    let mut v2 = Ws::connect(&format!("{}/ws/visitor?site={}", srv.ws, srv.site_key())).await;
    v2.send(json!({"type":"hello","visitor_token":null,"page":{"url":"https://a.test/"}}))
        .await;
    assert_eq!(v2.close_code().await, Some(4403));
    let cfg = srv
        .call(
            "GET",
            &format!("/api/v1/public/{}/config", srv.site_key()),
            None,
            None,
        )
        .await;
    assert_eq!(cfg.body["available"], false);
    // Its public forms take nothing either.
    let contact = format!("/api/v1/public/{}/contact", srv.site_key());
    let form = json!({"name": "Vic", "email": "vic@v.test", "message": "hello?", "website": ""});
    let r = srv.call("POST", &contact, None, Some(form.clone())).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "tenant_suspended"),
        "{}",
        r.body
    );
    let r = srv
        .call(
            "POST",
            &format!("/api/v1/public/{}/transcript", srv.site_key()),
            None,
            Some(json!({"visitor_token": "x", "email": "vic@v.test"})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (403, "tenant_suspended"),
        "{}",
        r.body
    );
    for (path, body) in [
        (
            "consultations",
            json!({"name": "Vic", "email": "vic@v.test", "start": "2030-01-01T10:00:00Z"}),
        ),
        ("newsletter", json!({"email": "vic@v.test"})),
    ] {
        let r = srv
            .call(
                "POST",
                &format!("/api/v1/public/{}/{path}", srv.site_key()),
                None,
                Some(body),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "tenant_suspended"),
            "{path}: {}",
            r.body
        );
    }
    // The other tenant is untouched.
    srv.pair("other@beta.test", PASSWORD).await;

    let r = srv
        .call(
            "POST",
            &format!("/api/v1/admin/tenants/{tid}/resume"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let (_ws, ready) = srv.staff(OWNER).await;
    assert_eq!(ready["type"], "ready");
    let r = srv.call("POST", &contact, None, Some(form)).await;
    assert_eq!(
        r.status, 201,
        "resumed, the form takes posts again: {}",
        r.body
    );
    let r = srv
        .call(
            "POST",
            "/api/v1/admin/tenants/nope/suspend",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    // Both changes are in the tenant's audit log, by the operator.
    let owner = srv.pair(OWNER, PASSWORD).await;
    let r = srv
        .call(
            "GET",
            "/api/v1/audit?action=tenant.",
            Some(bearer(&owner)),
            None,
        )
        .await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", r.body);
    assert_eq!(items[0]["actor"]["kind"], "superadmin");
}
