//! The instance operator: sign-in, the tenant list with usage, and
//! suspending and resuming a tenant (its staff are signed out, its widget
//! shows offline, other tenants carry on), online backups, and the data
//! dir and backups private to the server's user (with the token secret
//! left out of backups).

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

#[tokio::test]
async fn an_online_backup_is_a_consistent_cut_and_restores_every_record() {
    use parley_storage::{MessageLog, Store, StoreConfig};
    let srv = Server::start_with(Setup {
        superadmin: Some(("root@ops.test".into(), "operator pass 1".into())),
        config: Some("[limits]\nframes_per_second = 100000\nframe_burst = 100000\n".into()),
        ..Default::default()
    });
    let login = srv
        .call(
            "POST",
            "/api/v1/admin/auth/login",
            None,
            Some(json!({"email":"root@ops.test","password":"operator pass 1"})),
        )
        .await;
    let op = login.body["access_token"].as_str().unwrap().to_string();
    let owner = srv.login(OWNER).await;
    assert_eq!(
        srv.call("POST", "/api/v1/admin/backups", Some(&owner), None)
            .await
            .status,
        401,
        "staff are not the operator"
    );

    // A visitor writes without pause while the backup is taken.
    let (mut vis, _) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"m0","body":"message 0"}))
        .await;
    let conv = vis.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writing = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut acked = 1u64;
            let mut n = 1;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                vis.send(json!({"type":"send","client_id":format!("m{n}"),"body":format!("message {n}")}))
                    .await;
                let a = vis.until_type("ack").await;
                assert_eq!(a["seq"].as_u64(), Some(acked + 1));
                acked += 1;
                n += 1;
            }
            acked
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let first = srv
        .call("POST", "/api/v1/admin/backups", Some(&op), None)
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = writing.await.unwrap();
    let second = srv
        .call("POST", "/api/v1/admin/backups", Some(&op), None)
        .await;
    assert_eq!(second.status, 201, "{}", second.body);

    let tenant: parley_engine::TenantId =
        srv.tenant["tenant_id"].as_str().unwrap().parse().unwrap();
    let conv: parley_engine::ConversationId = conv.parse().unwrap();
    let restore = |from: &str, name: &str| {
        let dir = srv.dir.path().join(name);
        let out = admin(&dir, &["restore", "--from", from]);
        assert!(out["records"].as_u64().unwrap() > 0, "{out}");
        (dir, out)
    };
    let open = |dir: &std::path::Path| Store::open(dir, &StoreConfig::default()).unwrap();
    // The cut taken mid-stream: a gap-free prefix of the log, each message
    // as it was sent.
    let (cut, _) = restore(first.body["path"].as_str().unwrap(), "cut");
    {
        let store = open(&cut);
        let log = store.messages_after(tenant, conv, 0, 100_000).unwrap();
        assert!(!log.is_empty() && (log.len() as u64) <= acked);
        for (i, m) in log.iter().enumerate() {
            assert_eq!(m.seq, i as u64 + 1, "gap-free");
            assert_eq!(m.body, format!("message {i}"));
        }
    }
    // The second, after the writes: every record restored, and all acked.
    let (whole, out) = restore(second.body["path"].as_str().unwrap(), "whole");
    assert_eq!(out["records"], second.body["records"]);
    let verify = admin(
        &whole,
        &[
            "verify-backup",
            "--from",
            second.body["path"].as_str().unwrap(),
        ],
    );
    assert_eq!(verify["equal"], true, "{verify}");
    assert_eq!(verify["records"], second.body["records"]);
    let store = open(&whole);
    assert_eq!(
        store
            .messages_after(tenant, conv, 0, 100_000)
            .unwrap()
            .len() as u64,
        acked
    );
    drop(store);
    // A restored dir is a working data dir: a server starts on it (admin
    // commands open it the same way), and one cannot restore over it.
    let again = std::process::Command::new(bin())
        .args([
            "admin",
            "restore",
            "--from",
            second.body["path"].as_str().unwrap(),
            "--data-dir",
        ])
        .arg(&whole)
        .output()
        .unwrap();
    assert!(!again.status.success());
    let t = admin(
        &whole,
        &[
            "create-tenant",
            "--name",
            "After",
            "--owner-email",
            "after@restore.test",
            "--owner-password",
            PASSWORD,
        ],
    );
    assert!(t["tenant_id"].is_string(), "{t}");
}

/// Every file and directory under `dir`, with its permission bits.
fn modes(dir: &std::path::Path) -> Vec<(std::path::PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        out.push((e.path(), meta.is_dir(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            out.extend(modes(&e.path()));
        }
    }
    out
}

#[tokio::test]
async fn the_data_dir_and_its_backups_are_the_server_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    // No token secret in the config: the instance picks its own and keeps
    // it in the data dir.
    let mut srv = Server::start_with(Setup {
        superadmin: Some(("root@ops.test".into(), "operator pass 1".into())),
        config: Some("[auth]\naccess_token_ttl_secs = 900\n".into()),
        ..Default::default()
    });
    let op = srv
        .call(
            "POST",
            "/api/v1/admin/auth/login",
            None,
            Some(json!({"email":"root@ops.test","password":"operator pass 1"})),
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut vis, _) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"m0","body":"hello"}))
        .await;
    vis.until_type("ack").await;
    let backup = srv
        .call("POST", "/api/v1/admin/backups", Some(&op), None)
        .await;
    assert_eq!(backup.status, 201, "{}", backup.body);
    let backup = std::path::PathBuf::from(backup.body["path"].as_str().unwrap());
    let data = srv.dir.path().join("data");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data dir");
    assert_eq!(mode(&backup), 0o600, "the backup");
    let all = modes(&data);
    assert!(all.iter().any(|(p, _, _)| p == &backup), "{all:?}");
    for (path, dir, m) in &all {
        assert_eq!(*m, if *dir { 0o700 } else { 0o600 }, "{path:?}");
    }
    srv.terminate();
    // The secret the instance signs tokens with is in its data dir and not
    // in the backup.
    let store =
        parley_storage::Store::open(&data, &parley_storage::StoreConfig::default()).unwrap();
    let secret = store
        .global()
        .get(parley_storage::keys::instance_secret())
        .unwrap()
        .expect("the instance's own secret");
    drop(store);
    let raw = std::fs::read(&backup).unwrap();
    assert!(secret.len() >= 32);
    assert!(!raw.windows(secret.len()).any(|w| w == &secret[..]));
    // A data dir other users can read or enter is refused at start, with
    // one line saying how to fix it.
    let serve = || {
        std::process::Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap()
    };
    for open in [0o755, 0o750, 0o711] {
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(open)).unwrap();
        let out = serve();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            (out.status.code(), err.lines().count()),
            (Some(2), 1),
            "{open:o}: {err}"
        );
        assert!(
            err.contains(&format!("chmod -R go= {}", data.display())),
            "{err}"
        );
    }
    // Done as it says, the data dir opens again.
    let fixed = std::process::Command::new("chmod")
        .args(["-R", "go="])
        .arg(&data)
        .status()
        .unwrap();
    assert!(fixed.success());
    admin(
        &data,
        &[
            "create-superadmin",
            "--email",
            "two@ops.test",
            "--password",
            "operator pass 2",
        ],
    );
}
