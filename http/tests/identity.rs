//! `identify` from the widget: names and emails reach the dashboards; when
//! a site verifies identities, only a correct HMAC of `user_id` is
//! accepted, so nobody can claim someone else's email.

mod common;

use common::*;
use hmac::{Hmac, Mac};
use serde_json::json;
use std::time::Duration;

fn hmac_hex(secret: &str, user_id: &str) -> String {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(user_id.as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn identify_reaches_staff_and_verification_refuses_forgeries() {
    let srv = Server::start();
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut vis, welcome) = srv.visitor(None).await;
    let vid = welcome["visitor_id"].clone();
    // Without verification, a name and email are taken as given.
    vis.send(json!({"type":"identify","name":"Vera","email":"Vera@Mail.test"}))
        .await;
    let v = staff
        .until(|f| {
            f["type"] == "visitor" && f["visitor"]["id"] == vid && f["visitor"]["name"] == "Vera"
        })
        .await;
    assert_eq!(v["visitor"]["email"], "vera@mail.test");
    vis.send(json!({"type":"identify","email":"nope"})).await;
    assert_eq!(vis.until_type("error").await["code"], "invalid");

    // The site turns verification on and gets a secret.
    let owner = srv.pair(OWNER, PASSWORD).await;
    let sid = srv.tenant["site_id"].as_str().unwrap();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{sid}"),
            owner["access_token"].as_str(),
            Some(json!({"identity_verification": true})),
        )
        .await;
    let secret = r.body["settings"]["identity_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let forged = [
        json!({"type":"identify","email":"ceo@acme.test"}),
        json!({"type":"identify","email":"ceo@acme.test","user_id":"u-1"}),
        json!({"type":"identify","email":"ceo@acme.test","user_id":"u-1","user_hash": hmac_hex(&secret, "u-2")}),
        json!({"type":"identify","email":"ceo@acme.test","user_id":"u-1","user_hash": hmac_hex("guess", "u-1")}),
    ];
    for f in forged {
        vis.send(f.clone()).await;
        let e = vis.until_type("error").await;
        assert_eq!(e["code"], "identity_refused", "{f}");
    }
    // None of that reached the dashboard.
    while let Some(f) = staff.try_recv(Duration::from_millis(300)).await {
        assert_ne!(f["visitor"]["email"], "ceo@acme.test", "{f}");
    }
    vis.send(json!({"type":"identify","name":"Val","email":"val@acme.test","user_id":"u-1","user_hash": hmac_hex(&secret, "u-1")}))
        .await;
    let v = staff
        .until(|f| f["type"] == "visitor" && f["visitor"]["name"] == "Val")
        .await;
    assert_eq!(v["visitor"]["email"], "val@acme.test");
    // Staff sockets may not identify.
    staff.send(json!({"type":"identify","name":"x"})).await;
    assert_eq!(staff.until_type("error").await["code"], "forbidden");
}
