//! The cluster's bus locked down (`http/CLUSTER.md`, "The bus's
//! credentials"), on a real `nats-server` asking for TLS with client
//! certificates and a user per node with the documented permissions, and a
//! real PostgreSQL.
//!
//! - Two nodes connect with their credentials (A a password, B an nkey)
//!   and chat through the relay;
//!   a monitoring user reading every subject sees the chat go by but not
//!   one token: a relayed staff socket travels as its token's claims, a
//!   relayed visitor's token stays on the node it connected to (which
//!   writes it into `welcome`, and keeps it working on every node).
//! - A client without credentials is refused by the server, and a node
//!   with a wrong password does not start: it exits 1 saying why, without
//!   the password.

mod common;

use common::nats::{self, Nats, Secured};
use common::postgres::{self, Postgres};
use common::*;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Node `id` of the cluster on `pg` and the secured `bus` (joining `first`'s tenant).
fn node(pg: &Postgres, bus: &Nats, id: &str, first: Option<&Server>) -> Server {
    let secured = bus.secured.as_ref().unwrap();
    Server::start_with(Setup {
        cluster: Some(ClusterNode {
            node_id: id.into(),
            postgres_url: pg.url(),
            nats_url: bus.url(),
        }),
        config: Some(format!(
            "[cluster]\nlease_secs = 10\n{}",
            secured.node_config(id)
        )),
        join: first.map(|a| a.tenant.clone()),
        ..Setup::default()
    })
}

/// The `monitor` user's connection, with the test's client certificate.
async fn monitor(
    bus: &Nats,
    user: Option<(&str, String)>,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let s = bus.secured.as_ref().unwrap();
    let mut o = async_nats::ConnectOptions::new()
        .require_tls(true)
        .add_root_certificates(s.ca.clone())
        .add_client_certificate(s.client_cert.clone(), s.client_key.clone());
    if let Some((user, password)) = user {
        o = o.user_and_password(user.into(), password);
    }
    o.connect(bus.url()).await
}

/// A staff socket on `srv` with `token` once it says `ready` (the tenant's
/// owner may be a moment from serving it).
async fn staff_with(srv: &Server, token: &str) -> Ws {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut ws = Ws::connect(&format!("{}/ws/staff", srv.ws)).await;
        ws.send(json!({"type":"auth","token":token})).await;
        if let Some(f) = ws.try_recv(Duration::from_secs(3)).await {
            if f["type"] == "ready" {
                return ws;
            }
        }
        assert!(
            Instant::now() < deadline,
            "staff never got ready on {}",
            srv.base
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_chat_over_an_authenticated_tls_bus_that_carries_no_token() {
    if let Some(why) = postgres::unavailable().or_else(nats::secured_unavailable) {
        eprintln!("skipped: {why}");
        return;
    }
    let (pg, bus) = (Postgres::start(), Nats::start_secured(&["a"], &["b"]));
    let a = node(&pg, &bus, "a", None);
    let b = node(&pg, &bus, "b", Some(&a));

    // Everything on the bus, as a monitoring user allowed to read it all.
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Default::default();
    let mon = monitor(&bus, Some(("monitor", Secured::password("monitor"))))
        .await
        .expect("the monitoring user connects");
    let mut all = mon.subscribe(">").await.unwrap();
    mon.flush().await.unwrap();
    let into = seen.clone();
    tokio::spawn(async move {
        use futures_util::StreamExt;
        while let Some(m) = all.next().await {
            into.lock().unwrap().push(m.payload.to_vec());
        }
    });

    // A owns the tenant (its visitor came first); staff on B are relayed.
    let (mut vis, welcome) = a.visitor(None).await;
    let vtoken = welcome["visitor_token"].as_str().unwrap().to_string();
    let access = b.login(OWNER).await;
    let mut staff = staff_with(&b, &access).await;
    vis.send(json!({"type":"send","client_id":"1","body":"hello over tls"}))
        .await;
    let conv = vis.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let m = staff
        .until(|v| v["type"] == "message" && v["seq"] == 1)
        .await;
    assert_eq!(m["body"], "hello over tls");
    staff
        .send(json!({"type":"claim","conversation_id":conv}))
        .await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s1","body":"relayed reply"}))
        .await;
    assert_eq!(staff.until_type("ack").await["seq"], 3);
    let reply = vis
        .until(|v| v["type"] == "message" && v["from"]["kind"] == "staff")
        .await;
    assert_eq!(reply["body"], "relayed reply");
    // A token sent again on a relayed socket is refused as on one node.
    staff.send(json!({"type":"auth","token":access})).await;
    let e = staff.until_type("error").await;
    assert_eq!(e["code"], "invalid", "{e}");

    // Visitors relayed through B: a returning one keeps their token and
    // conversation; a new one gets a token from B that works on A too.
    let (mut back, w) = b.visitor(Some(&vtoken)).await;
    assert_eq!(w["visitor_id"], welcome["visitor_id"]);
    assert_eq!(w["visitor_token"], vtoken.as_str());
    assert_eq!(w["conversation"]["id"], conv.as_str());
    back.send(json!({"type":"send","client_id":"2","body":"from b"}))
        .await;
    assert_eq!(back.until_type("ack").await["seq"], 4);
    let (_new, w2) = b.visitor(None).await;
    let new_token = w2["visitor_token"].as_str().unwrap().to_string();
    assert!(new_token.split('.').count() == 3, "{w2}");
    assert_ne!(w2["visitor_id"], welcome["visitor_id"]);
    let (_again, w3) = a.visitor(Some(&new_token)).await;
    assert_eq!(w3["visitor_id"], w2["visitor_id"], "B's token works on A");
    let (_again_b, w4) = b.visitor(Some(&new_token)).await;
    assert_eq!(w4["visitor_id"], w2["visitor_id"]);
    assert_eq!(w4["visitor_token"], new_token.as_str());

    // The monitor saw the relayed chat, and no token: not the staff's, not
    // a visitor's, not even a JWT header.
    let saw = |needle: &[u8]| {
        seen.lock()
            .unwrap()
            .iter()
            .any(|p| p.windows(needle.len()).any(|w| w == needle))
    };
    eventually(
        "the relayed chat on the bus",
        Duration::from_secs(10),
        || {
            let seen = saw(b"relayed reply") && saw(b"from b");
            async move { seen.then_some(()) }
        },
    )
    .await;
    let header = access.split('.').next().unwrap().to_string();
    for (what, needle) in [
        ("the staff access token", access.as_str()),
        ("the visitor's token", vtoken.as_str()),
        ("the new visitor's token", new_token.as_str()),
        ("a JWT header", header.as_str()),
    ] {
        assert!(!saw(needle.as_bytes()), "{what} went over the bus");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_refuses_a_client_without_credentials_and_a_node_with_wrong_ones() {
    if let Some(why) = postgres::unavailable().or_else(nats::secured_unavailable) {
        eprintln!("skipped: {why}");
        return;
    }
    let (pg, bus) = (Postgres::start(), Nats::start_secured(&["a"], &[]));
    // No user: refused, even with a good certificate; no TLS: refused.
    let e = monitor(&bus, None)
        .await
        .expect_err("refused without a user");
    assert_eq!(
        e.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation,
        "{e}"
    );
    let plain = async_nats::ConnectOptions::new()
        .user_and_password("monitor".into(), Secured::password("monitor"))
        .connect(bus.url())
        .await;
    assert!(plain.is_err(), "refused without TLS and a certificate");

    // A node with a wrong password exits 1 and says why, password unsaid.
    let dir = tempfile::tempdir().unwrap();
    let config = bus
        .secured
        .as_ref()
        .unwrap()
        .node_config("a")
        .replace(&Secured::password("node-a"), "not-the-password-42");
    std::fs::write(
        dir.path().join("parley.toml"),
        format!("[cluster]\n{config}"),
    )
    .unwrap();
    let mut child = std::process::Command::new(bin())
        .arg("serve")
        .arg("--cluster")
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(dir.path().join("parley.toml"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("PARLEY_NODE_ID", "a")
        .env("PARLEY_POSTGRES_URL", pg.url())
        .env("PARLEY_NATS_URL", bus.url())
        .env("PARLEY_TOKEN_SECRET", TOKEN_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = eventually("the node to exit", Duration::from_secs(30), || {
        let exited = child.try_wait().unwrap();
        async move { exited }
    })
    .await;
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refused this node's credentials"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password-42"), "{stderr}");
}
