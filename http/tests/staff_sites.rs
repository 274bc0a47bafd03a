//! Staff and roles, sites and their settings, and the audit log.

mod common;

use common::*;
use serde_json::{json, Value};

fn bearer(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

#[tokio::test]
async fn roles_decide_who_manages_whom_and_an_owner_always_remains() {
    let srv = Server::start();
    let owner = srv.pair(OWNER, PASSWORD).await;
    let add = |name: &str, email: &str, role: &str| json!({"name": name, "email": email, "role": role, "password": "staff password 1"});
    let r = srv
        .call(
            "POST",
            "/api/v1/staff",
            Some(bearer(&owner)),
            Some(add("Ada", "ada@acme.test", "admin")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "active");
    assert!(
        r.body.get("password_hash").is_none(),
        "never shows the hash"
    );
    let admin = srv.pair("ada@acme.test", "staff password 1").await;
    // Admins add agents and admins, never owners.
    let r = srv
        .call(
            "POST",
            "/api/v1/staff",
            Some(bearer(&admin)),
            Some(add("Al", "al@acme.test", "agent")),
        )
        .await;
    assert_eq!(r.status, 201);
    let agent_id = r.body["id"].as_str().unwrap().to_string();
    let r = srv
        .call(
            "POST",
            "/api/v1/staff",
            Some(bearer(&admin)),
            Some(add("Oz", "oz@acme.test", "owner")),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = srv
        .call(
            "POST",
            "/api/v1/staff",
            Some(bearer(&admin)),
            Some(add("Al2", "AL@acme.test", "agent")),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "email_taken"));
    let r = srv
        .call(
            "POST",
            "/api/v1/staff",
            Some(bearer(&admin)),
            Some(add("X", "x@acme.test", "root")),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid"));
    // Agents manage only their own name.
    let agent = srv.pair("al@acme.test", "staff password 1").await;
    let r = srv
        .call(
            "POST",
            "/api/v1/staff",
            Some(bearer(&agent)),
            Some(add("Y", "y@acme.test", "agent")),
        )
        .await;
    assert_eq!(r.status, 403);
    let me_path = format!("/api/v1/staff/{agent_id}");
    let r = srv
        .call(
            "PATCH",
            &me_path,
            Some(bearer(&agent)),
            Some(json!({"name": "Alan"})),
        )
        .await;
    assert_eq!((r.status, &r.body["name"]), (200, &json!("Alan")));
    let r = srv
        .call(
            "PATCH",
            &me_path,
            Some(bearer(&agent)),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(r.status, 403);
    let owner_id = owner["staff_id"].as_str().unwrap();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/staff/{owner_id}"),
            Some(bearer(&admin)),
            Some(json!({"name": "Hacked"})),
        )
        .await;
    assert_eq!(r.status, 403, "admins do not manage owners");
    // The last owner can neither step down nor be removed.
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/staff/{owner_id}"),
            Some(bearer(&owner)),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "last_owner"));
    let r = srv
        .call(
            "DELETE",
            &format!("/api/v1/staff/{owner_id}"),
            Some(bearer(&owner)),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "last_owner"));
    // A role change has live sockets reconnect (1012) and authenticate
    // again, now with the new role.
    let mut ws = Ws::connect(&format!("{}/ws/staff", srv.ws)).await;
    ws.send(json!({"type":"auth","token": bearer(&agent)}))
        .await;
    assert_eq!(ws.recv().await["staff"]["role"], "agent");
    let r = srv
        .call(
            "PATCH",
            &me_path,
            Some(bearer(&owner)),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!((r.status, &r.body["role"]), (200, &json!("admin")));
    assert_eq!(ws.close_code().await, Some(1012));
    let mut ws = Ws::connect(&format!("{}/ws/staff", srv.ws)).await;
    ws.send(json!({"type":"auth","token": bearer(&agent)}))
        .await;
    assert_eq!(ws.recv().await["staff"]["role"], "admin");
    drop(ws);
    let r = srv
        .call(
            "PATCH",
            &me_path,
            Some(bearer(&owner)),
            Some(json!({"role": "agent"})),
        )
        .await;
    assert_eq!(r.status, 200);
    // Deactivating an agent ends their sessions and sockets at once.
    let mut ws = Ws::connect(&format!("{}/ws/staff", srv.ws)).await;
    ws.send(json!({"type":"auth","token": bearer(&agent)}))
        .await;
    assert_eq!(ws.recv().await["type"], "ready");
    let r = srv
        .call(
            "PATCH",
            &me_path,
            Some(bearer(&admin)),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!((r.status, &r.body["status"]), (200, &json!("deactivated")));
    assert_eq!(ws.close_code().await, Some(4401));
    assert_eq!(
        srv.call("GET", "/api/v1/me", Some(bearer(&agent)), None)
            .await
            .status,
        401
    );
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email":"al@acme.test","password":"staff password 1"})),
        )
        .await;
    assert_eq!(r.status, 401);
    // Removal: gone for good; the list reflects it.
    let r = srv
        .call("DELETE", &me_path, Some(bearer(&admin)), None)
        .await;
    assert_eq!(r.status, 204);
    let r = srv.call("GET", &me_path, Some(bearer(&admin)), None).await;
    assert_eq!(r.status, 404);
    let list = srv
        .call("GET", "/api/v1/staff", Some(bearer(&owner)), None)
        .await;
    let emails: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec![OWNER, "ada@acme.test"]);
}

#[tokio::test]
async fn sites_have_settings_origins_and_rotating_keys() {
    let srv = Server::start_with(Setup {
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let owner = srv.pair(OWNER, PASSWORD).await;
    let settings = json!({
        "name": "Shop",
        "allowed_origins": ["https://Shop.Example.com/"],
        "color": "#FF8800",
        "position": "bottom_left",
        "greeting": "Hello!",
        "offline_message": "Back soon",
        "business_hours": {"timezone": "Europe/Paris", "days": [{"day":"mon","open":"09:00","close":"17:00"}]},
        "pre_chat_fields": [{"name":"email","label":"Your email","kind":"email","required":true}],
        "identity_verification": true
    });
    let r = srv
        .call(
            "POST",
            "/api/v1/sites",
            Some(bearer(&owner)),
            Some(settings),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let site = r.body;
    assert_eq!(
        site["settings"]["allowed_origins"],
        json!(["https://shop.example.com"])
    );
    assert_eq!(site["settings"]["color"], "#ff8800");
    assert!(site["settings"]["identity_secret"]
        .as_str()
        .unwrap()
        .starts_with("ids_"));
    let id = site["id"].as_str().unwrap();
    let key = site["key"].as_str().unwrap().to_string();
    let path = format!("/api/v1/sites/{id}");
    // Agents see the site, not its secret, and cannot change it.
    let agent = srv.pair("agent@acme.test", PASSWORD).await;
    let r = srv.call("GET", &path, Some(bearer(&agent)), None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["settings"].get("identity_secret").is_none());
    assert_eq!(r.body["settings"]["identity_verification"], true);
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(bearer(&agent)),
            Some(json!({"color":"#000000"})),
        )
        .await;
    assert_eq!(r.status, 403);
    // Bad settings: precise errors, nothing changed.
    for bad in [
        json!({"color": "blue"}),
        json!({"allowed_origins": ["shop.example.com"]}),
        json!({"business_hours": {"timezone": "Europe/Paris", "days": [{"day":"mon","open":"18:00","close":"09:00"}]}}),
        json!({"position": "top"}),
        json!({"pre_chat_fields": [{"name":"bad name","label":"x"}]}),
        json!({"greeting": "x".repeat(501)}),
        json!({"unknown": 1}),
    ] {
        let r = srv
            .call("PATCH", &path, Some(bearer(&owner)), Some(bad.clone()))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let r = srv.call("GET", &path, Some(bearer(&owner)), None).await;
    assert_eq!(r.body["settings"]["color"], "#ff8800");
    let r = srv
        .call(
            "PATCH",
            &path,
            Some(bearer(&owner)),
            Some(json!({"business_hours": null, "greeting": "Hey"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["settings"]["business_hours"].is_null());

    // Public config: CORS and origin checks from the site's allowed origins.
    let cfg = format!("{}/api/v1/public/{key}/config", srv.base);
    let r = send(
        reqwest::Client::new()
            .get(&cfg)
            .header("origin", "https://shop.example.com"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["greeting"], "Hey");
    assert!(r.body.get("identity_secret").is_none());
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://shop.example.com")
    );
    let r = send(
        reqwest::Client::new()
            .get(&cfg)
            .header("origin", "https://evil.example"),
    )
    .await;
    assert_eq!((r.status, r.code()), (403, "origin_not_allowed"));
    assert_eq!(r.header("access-control-allow-origin"), None);
    let pre = send(
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, &cfg)
            .header("origin", "https://shop.example.com")
            .header("access-control-request-method", "GET"),
    )
    .await;
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://shop.example.com")
    );
    // The widget socket from another origin is refused.
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("{}/ws/visitor?site={key}", srv.ws),
    )
    .unwrap();
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());

    // Rotation: the old key stops working at once.
    let r = srv
        .call(
            "POST",
            &format!("{path}/rotate-key"),
            Some(bearer(&owner)),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_key = r.body["key"].as_str().unwrap();
    assert_ne!(new_key, key);
    let r = send(reqwest::Client::new().get(&cfg)).await;
    assert_eq!(r.status, 404);
    let r =
        send(reqwest::Client::new().get(format!("{}/api/v1/public/{new_key}/config", srv.base)))
            .await;
    assert_eq!(r.status, 200);
    let mut old = Ws::connect(&format!("{}/ws/visitor?site={key}", srv.ws)).await;
    assert_eq!(old.close_code().await, Some(4404));
    let r = srv.call("DELETE", &path, Some(bearer(&owner)), None).await;
    assert_eq!(r.status, 204);
    let r = srv.call("GET", &path, Some(bearer(&owner)), None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn the_audit_log_records_mutations_with_filters_and_pages() {
    let srv = Server::start_with(Setup {
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": OWNER, "password": "wrong password 1"})),
        )
        .await;
    assert_eq!(r.status, 401);
    let owner = srv.pair(OWNER, PASSWORD).await;
    let t = bearer(&owner);
    srv.call(
        "POST",
        "/api/v1/staff",
        Some(t),
        Some(
            json!({"name":"Bo","email":"bo@acme.test","role":"agent","password":"bo password 12"}),
        ),
    )
    .await;
    let sid = srv.tenant["site_id"].as_str().unwrap();
    srv.call(
        "PATCH",
        &format!("/api/v1/sites/{sid}"),
        Some(t),
        Some(json!({"color":"#123456"})),
    )
    .await;
    // A claim over the socket is audited too.
    let (mut vis, _) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"c1","body":"hi"}))
        .await;
    let conv = vis.until_type("ack").await["conversation_id"].clone();
    let (mut staff, _) = srv.staff(OWNER).await;
    staff
        .send(json!({"type":"claim","conversation_id": conv}))
        .await;
    staff
        .until(|f| f["type"] == "conversation" && f["conversation"]["status"] == "active")
        .await;
    staff
        .send(json!({"type":"close","conversation_id": conv}))
        .await;
    staff
        .until(|f| f["type"] == "conversation" && f["conversation"]["status"] == "closed")
        .await;

    let r = srv.call("GET", "/api/v1/audit", Some(t), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let actions: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in [
        "auth.login_failed",
        "auth.login",
        "staff.create",
        "site.update",
        "conversation.claim",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    let upd = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "site.update")
        .unwrap();
    assert_eq!(upd["changes"]["color"], json!(["#2563eb", "#123456"]));
    assert_eq!(upd["ip"], "127.0.0.1");
    assert_eq!(upd["actor"]["email"], OWNER);
    let claim = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "conversation.claim")
        .unwrap();
    assert_eq!(claim["entity_id"], conv);
    assert_eq!(claim["ip"], "127.0.0.1");
    assert!(actions.contains(&"conversation.close"), "{actions:?}");
    let r = srv
        .call("GET", "/api/v1/audit?action=staff.", Some(t), None)
        .await;
    let items = r.body["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|e| e["action"] == "staff.create"));
    // Pages: newest first, a cursor until the end.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/audit?limit=2&cursor={c}"),
            None => "/api/v1/audit?limit=2".into(),
        };
        let r = srv.call("GET", &q, Some(t), None).await;
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.into()),
            None => break,
        }
    }
    assert_eq!(seen.len(), actions.len());
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");
    let r = srv
        .call("GET", "/api/v1/audit?limit=zz", Some(t), None)
        .await;
    assert_eq!(r.status, 400);
    let agent = srv.pair("agent@acme.test", PASSWORD).await;
    let r = srv
        .call("GET", "/api/v1/audit", Some(bearer(&agent)), None)
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn welcome_shows_the_sites_look_as_it_changes() {
    let srv = Server::start();
    let owner = srv.pair(OWNER, PASSWORD).await;
    let t = &bearer(&owner);
    // The first visitor makes the Tenant keep the site's look…
    let (_first, w) = srv.visitor(None).await;
    assert_eq!(
        (&w["site"]["color"], &w["site"]["position"]),
        (&json!("#2563eb"), &json!("bottom_right"))
    );
    let sid = srv.tenant["site_id"].as_str().unwrap();
    let r = srv
        .call(
            "PATCH",
            &format!("/api/v1/sites/{sid}"),
            Some(t),
            Some(json!({"color":"#123456","position":"bottom_left"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // …and a change to it shows at the next connection, without a restart.
    let (_second, w) = srv.visitor(None).await;
    assert_eq!(
        (&w["site"]["color"], &w["site"]["position"]),
        (&json!("#123456"), &json!("bottom_left"))
    );
}
