//! Accounts over real HTTP: sign-up, sessions and refresh rotation (reuse
//! revokes the family), logout-all killing tokens and sockets, session
//! lists, password change, reset and invitations, and bad input.

mod common;

use common::*;
use serde_json::{json, Value};

fn bearer(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

#[tokio::test]
async fn register_then_refresh_rotates_and_reuse_revokes_the_family() {
    let srv = Server::start();
    let body = json!({"tenant_name":"Zed Ltd","name":"Zoe","email":"Zoe@Zed.test","password":"correct horse 9"});
    let r = srv
        .call("POST", "/api/v1/auth/register", None, Some(body.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let first = r.body;
    for k in [
        "access_token",
        "refresh_token",
        "expires_in",
        "tenant_id",
        "staff_id",
    ] {
        assert!(!first[k].is_null(), "{k} missing: {first}");
    }
    assert_eq!(first["expires_in"], 900);
    let me = srv
        .call("GET", "/api/v1/me", Some(bearer(&first)), None)
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["staff"]["role"], "owner");
    assert_eq!(me.body["staff"]["email"], "zoe@zed.test");
    assert_eq!(me.body["tenant"]["name"], "Zed Ltd");
    // The new tenant has a first site.
    let sites = srv
        .call("GET", "/api/v1/sites", Some(bearer(&first)), None)
        .await;
    assert_eq!(sites.body["items"].as_array().unwrap().len(), 1);
    // The same email again: 409, nothing created.
    let again = srv
        .call("POST", "/api/v1/auth/register", None, Some(body))
        .await;
    assert_eq!((again.status, again.code()), (409, "email_taken"));

    // Refresh rotates: the new pair works, the old refresh token is spent.
    let refresh = |t: &Value| json!({"refresh_token": t["refresh_token"]});
    let second = srv
        .call("POST", "/api/v1/auth/refresh", None, Some(refresh(&first)))
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_ne!(second.body["refresh_token"], first["refresh_token"]);
    assert_eq!(
        srv.call("GET", "/api/v1/me", Some(bearer(&second.body)), None)
            .await
            .status,
        200
    );
    // Reusing the rotated-out token revokes the whole family: the newest
    // refresh token and the session's access tokens stop working too.
    let reuse = srv
        .call("POST", "/api/v1/auth/refresh", None, Some(refresh(&first)))
        .await;
    assert_eq!((reuse.status, reuse.code()), (401, "invalid_token"));
    let newest = srv
        .call(
            "POST",
            "/api/v1/auth/refresh",
            None,
            Some(refresh(&second.body)),
        )
        .await;
    assert_eq!(newest.status, 401);
    let me = srv
        .call("GET", "/api/v1/me", Some(bearer(&second.body)), None)
        .await;
    assert_eq!(me.status, 401);

    // Logout ends a session; a second logout is harmless.
    let pair = srv.pair("zoe@zed.test", "correct horse 9").await;
    let out = srv
        .call("POST", "/api/v1/auth/logout", None, Some(refresh(&pair)))
        .await;
    assert_eq!(out.status, 204);
    let out = srv
        .call("POST", "/api/v1/auth/logout", None, Some(refresh(&pair)))
        .await;
    assert_eq!(out.status, 204);
    let r = srv
        .call("POST", "/api/v1/auth/refresh", None, Some(refresh(&pair)))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        srv.call("GET", "/api/v1/me", Some(bearer(&pair)), None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn sign_up_refuses_bad_input_with_precise_codes() {
    let srv = Server::start();
    let ok = json!({"tenant_name":"T","name":"N","email":"n@t.test","password":"correct horse 9"});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("email");
    let cases = [
        (with("password", json!("short1")), 400, "weak_password"),
        (
            with("password", json!("aaaaaaaaaaaa")),
            400,
            "weak_password",
        ),
        (with("password", json!("n@t.test")), 400, "weak_password"),
        (with("email", json!("not-an-email")), 400, "invalid"),
        (with("email", json!(5)), 400, "bad_request"),
        (with("name", json!("  ")), 400, "invalid"),
        (with("extra", json!(1)), 400, "bad_request"),
        (missing, 400, "bad_request"),
    ];
    for (body, status, code) in cases {
        let r = srv
            .call("POST", "/api/v1/auth/register", None, Some(body.clone()))
            .await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {}", r.body);
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let r = send(
        reqwest::Client::new()
            .post(format!("{}/api/v1/auth/register", srv.base))
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
    // Nothing was half-written: the email is still free.
    let r = srv
        .call("POST", "/api/v1/auth/register", None, Some(ok))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn logout_all_kills_every_token_and_socket_at_once() {
    let srv = Server::start();
    let (mut ws, _) = srv.staff(OWNER).await;
    let a = srv.pair(OWNER, PASSWORD).await;
    let b = srv.pair(OWNER, PASSWORD).await;
    let r = srv
        .call("POST", "/api/v1/auth/logout-all", Some(bearer(&a)), None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(ws.close_code().await, Some(4401));
    for p in [&a, &b] {
        assert_eq!(
            srv.call("GET", "/api/v1/me", Some(bearer(p)), None)
                .await
                .status,
            401
        );
        let r = srv
            .call(
                "POST",
                "/api/v1/auth/refresh",
                None,
                Some(json!({"refresh_token": p["refresh_token"]})),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    // An old token cannot open a socket either.
    let mut late = Ws::connect(&format!("{}/ws/staff", srv.ws)).await;
    late.send(json!({"type":"auth","token": bearer(&a)})).await;
    assert_eq!(late.close_code().await, Some(4401));
    // Signing in again works.
    let (_ws, ready) = srv.staff(OWNER).await;
    assert_eq!(ready["type"], "ready");
}

#[tokio::test]
async fn sessions_are_listed_and_can_be_ended_one_by_one() {
    let srv = Server::start();
    let login = |ua: &'static str| {
        let url = format!("{}/api/v1/auth/login", srv.base);
        async move {
            send(
                reqwest::Client::new()
                    .post(url)
                    .header("user-agent", ua)
                    .json(&json!({"email": OWNER, "password": PASSWORD})),
            )
            .await
            .body
        }
    };
    let laptop = login("Laptop Firefox").await;
    let phone = login("Phone Safari").await;
    let list = srv
        .call("GET", "/api/v1/sessions", Some(bearer(&laptop)), None)
        .await;
    let items = list.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{}", list.body);
    let mine = items.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(mine["device"], "Laptop Firefox");
    assert_eq!(mine["ip"], "127.0.0.1");
    assert!(mine["last_seen"].is_string());
    let other = items.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["device"], "Phone Safari");
    // Each device has a dashboard socket open.
    let socket = |pair: &Value| {
        let (url, token) = (format!("{}/ws/staff", srv.ws), bearer(pair).to_string());
        async move {
            let mut ws = Ws::connect(&url).await;
            ws.send(json!({"type":"auth","token": token})).await;
            assert_eq!(ws.recv().await["type"], "ready");
            ws
        }
    };
    let mut laptop_ws = socket(&laptop).await;
    let mut phone_ws = socket(&phone).await;
    let path = format!("/api/v1/sessions/{}", other["id"].as_str().unwrap());
    let r = srv.call("DELETE", &path, Some(bearer(&laptop)), None).await;
    assert_eq!(r.status, 204);
    // Only the ended session's socket closes.
    assert_eq!(phone_ws.close_code().await, Some(4401));
    laptop_ws.send(json!({"type":"nope"})).await;
    assert_eq!(laptop_ws.until_type("error").await["code"], "unknown_type");
    assert_eq!(
        srv.call("GET", "/api/v1/me", Some(bearer(&phone)), None)
            .await
            .status,
        401
    );
    assert_eq!(
        srv.call("GET", "/api/v1/me", Some(bearer(&laptop)), None)
            .await
            .status,
        200
    );
    let r = srv.call("DELETE", &path, Some(bearer(&laptop)), None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = srv
        .call(
            "DELETE",
            "/api/v1/sessions/nope",
            Some(bearer(&laptop)),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

fn link_token(mail: &Value, fragment: &str) -> String {
    let body = mail["body"].as_str().unwrap();
    let at = body.find(fragment).expect("link in mail") + fragment.len();
    body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

#[tokio::test]
async fn password_change_and_reset_end_old_sessions() {
    let srv = Server::start_with(Setup {
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let agent = srv.pair("agent@acme.test", PASSWORD).await;
    let change = |cur: &str, new: &str| json!({"current_password": cur, "new_password": new});
    let r = srv
        .call(
            "POST",
            "/api/v1/me/password",
            Some(bearer(&agent)),
            Some(change("wrong password 1", "brand new pass 7")),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
    let r = srv
        .call(
            "POST",
            "/api/v1/me/password",
            Some(bearer(&agent)),
            Some(change(PASSWORD, "short")),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "weak_password"));
    let other = srv.pair("agent@acme.test", PASSWORD).await;
    let r = srv
        .call(
            "POST",
            "/api/v1/me/password",
            Some(bearer(&agent)),
            Some(change(PASSWORD, "brand new pass 7")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = r.body;
    for (p, want) in [(&agent, 401), (&other, 401), (&fresh, 200)] {
        let r = srv.call("GET", "/api/v1/me", Some(bearer(p)), None).await;
        assert_eq!(r.status, want);
    }
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email":"agent@acme.test","password":PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 401);
    srv.pair("agent@acme.test", "brand new pass 7").await;

    // Reset: 202 for known and unknown emails alike; the link lands in the
    // outbox, which only the owner reads.
    for email in ["agent@acme.test", "nobody@acme.test"] {
        srv.request_reset(email).await;
    }
    let r = srv
        .call("GET", "/api/v1/outbox", Some(bearer(&fresh)), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let owner = srv.pair(OWNER, PASSWORD).await;
    let r = srv
        .call("GET", "/api/v1/outbox", Some(bearer(&owner)), None)
        .await;
    let mails: Vec<&Value> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "password_reset")
        .collect();
    assert_eq!(mails.len(), 1, "{}", r.body);
    assert_eq!(mails[0]["to"], "agent@acme.test");
    let token = link_token(mails[0], "#reset=");
    let confirm = |pw: &str| json!({"token": token, "password": pw});
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(confirm("weak")),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "weak_password"));
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(confirm("after reset 42")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The device that reset is signed in; every other session ended.
    assert_eq!(
        srv.call("GET", "/api/v1/me", Some(bearer(&r.body)), None)
            .await
            .status,
        200
    );
    assert_eq!(
        srv.call("GET", "/api/v1/me", Some(bearer(&fresh)), None)
            .await
            .status,
        401
    );
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(confirm("again reset 43")),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_token"), "single use");
    srv.pair("agent@acme.test", "after reset 42").await;
}

#[tokio::test]
async fn invitations_activate_a_staff_member_once() {
    let srv = Server::start();
    let owner = srv.pair(OWNER, PASSWORD).await;
    let r = srv
        .call(
            "POST",
            "/api/v1/staff",
            Some(bearer(&owner)),
            Some(json!({"name":"Ivy","email":"ivy@acme.test","role":"agent"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "invited");
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email":"ivy@acme.test","password":"anything 123"})),
        )
        .await;
    assert_eq!(r.status, 401, "an invited account cannot sign in yet");
    let mails = srv
        .call("GET", "/api/v1/outbox", Some(bearer(&owner)), None)
        .await;
    let token = link_token(&mails.body["items"][0], "#invite=");
    let accept = json!({"token": token, "password": "ivy password 1", "name": "Ivy Green"});
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/invitation/accept",
            None,
            Some(accept.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let me = srv
        .call("GET", "/api/v1/me", Some(bearer(&r.body)), None)
        .await;
    assert_eq!(me.body["staff"]["name"], "Ivy Green");
    assert_eq!(me.body["staff"]["status"], "active");
    let r = srv
        .call("POST", "/api/v1/auth/invitation/accept", None, Some(accept))
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_token"));
}

#[tokio::test]
async fn an_operator_can_close_sign_up() {
    let srv = Server::start_with(Setup {
        config: Some("[auth]\nopen_registration = false\n".into()),
        ..Default::default()
    });
    let r = srv
        .call(
            "POST",
            "/api/v1/auth/register",
            None,
            Some(json!({"tenant_name":"T","name":"N","email":"n@t.test","password":"correct horse 9"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    srv.pair(OWNER, PASSWORD).await;
}

/// Owner's outbox mails of `kind`, newest first.
async fn mails_of(srv: &Server, owner: &Value, kind: &str) -> Vec<Value> {
    let r = srv
        .call("GET", "/api/v1/outbox", Some(bearer(owner)), None)
        .await;
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_completed_reset_voids_every_older_reset_link() {
    let srv = Server::start_with(Setup {
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let owner = srv.pair(OWNER, PASSWORD).await;
    for _ in 0..2 {
        srv.request_reset("agent@acme.test").await;
    }
    let resets = mails_of(&srv, &owner, "password_reset").await;
    assert_eq!(resets.len(), 2);
    // A link can be looked at without being used.
    let token = link_token(&resets[0], "#reset=");
    for _ in 0..2 {
        let r = srv
            .call(
                "POST",
                "/api/v1/auth/link",
                None,
                Some(json!({"token": token})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (r.body["kind"].as_str(), r.body["email"].as_str()),
            (Some("password_reset"), Some("agent@acme.test"))
        );
    }
    let (newer, older) = (
        link_token(&resets[0], "#reset="),
        link_token(&resets[1], "#reset="),
    );
    let confirm = |t: &str, pw: &str| {
        srv.call(
            "POST",
            "/api/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": t, "password": pw})),
        )
    };
    assert_eq!(confirm(&newer, "first reset 42").await.status, 200);
    let r = confirm(&older, "second reset 42").await;
    assert_eq!((r.status, r.code()), (401, "invalid_token"), "{}", r.body);
    for t in [&newer, &older] {
        let r = srv
            .call("POST", "/api/v1/auth/link", None, Some(json!({"token": t})))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (401, "invalid_token"),
            "used and voided links say so"
        );
    }
    srv.pair("agent@acme.test", "first reset 42").await;

    // A password change voids an outstanding link too.
    srv.request_reset("agent@acme.test").await;
    let pending = link_token(
        &mails_of(&srv, &owner, "password_reset").await[0],
        "#reset=",
    );
    let agent = srv.pair("agent@acme.test", "first reset 42").await;
    let r = srv
        .call(
            "POST",
            "/api/v1/me/password",
            Some(bearer(&agent)),
            Some(json!({"current_password": "first reset 42", "new_password": "changed pass 42"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(confirm(&pending, "third reset 42").await.status, 401);
    // And each change was announced to the account's owner.
    assert_eq!(mails_of(&srv, &owner, "password_changed").await.len(), 2);
}
