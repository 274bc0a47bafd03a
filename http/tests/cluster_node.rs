//! `parley serve --cluster` on a real PostgreSQL and a real nats-server.
//!
//! - One node: it migrates the schema, keeps its records in PostgreSQL
//!   (nothing in its data dir), takes a tenant's lease when the tenant is
//!   first asked for, and keeps the chat's guarantees across a `kill -9`:
//!   every acknowledged message is there after the restart, in order with
//!   the acknowledged ids, a re-sent one is deduped, the seq goes on with no
//!   gap, and a private note never reaches the visitor. A clean stop gives
//!   the lease up at once.
//! - Three nodes: a visitor on A and staff on B chat through the relay;
//!   `kill -9` of the owner A mid-conversation: B takes the tenant within the
//!   lease, staff resume on B and the visitor on C, with nothing lost and no
//!   gap.
//! - Two nodes: an owner SIGSTOPped past its lease writes nothing when it
//!   wakes; `nats-server` killed and restarted: relayed sockets resync and
//!   delivery goes on; a sign-out stored through the gateway closes the
//!   socket the owner runs for it.
//! - PostgreSQL crashing under a node: the lease is let go, and once
//!   PostgreSQL is back the chat goes on by itself with nothing acked lost
//!   and no gap.

mod common;

use common::nats::{self, Nats};
use common::postgres::{self, Postgres};
use common::*;
use serde_json::json;

fn seq(v: &serde_json::Value) -> u64 {
    v["seq"].as_u64().unwrap()
}

/// The conversation the multi-step tests hold: the visitor sends `n`
/// messages (`{tag}{i}`), staff see the last, claim, write a private note
/// (seq n+2) and a reply (seq n+3) that reaches the visitor. Returns the
/// visitor's acks, the conversation id and the reply's ack.
async fn converse(
    vis: &mut Ws,
    staff: &mut Ws,
    n: u64,
    tag: &str,
) -> (Vec<serde_json::Value>, String, serde_json::Value) {
    for i in 1..=n {
        vis.send(
            json!({"type":"send","client_id":format!("{tag}{i}"),"body":format!("{tag} {i}")}),
        )
        .await;
    }
    let mut acks = Vec::new();
    while acks.len() < n as usize {
        let f = vis.until_type("ack").await;
        assert_eq!(seq(&f), acks.len() as u64 + 1, "{f}");
        acks.push(f);
    }
    let conv = acks[0]["conversation_id"].as_str().unwrap().to_string();
    let last = staff
        .until(|v| v["type"] == "message" && v["seq"] == n)
        .await;
    assert_eq!(last["body"], format!("{tag} {n}"));
    staff
        .send(json!({"type":"claim","conversation_id":conv}))
        .await;
    staff
        .until(|v| v["type"] == "conversation" && v["conversation"]["status"] == "active")
        .await;
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"note","body":"VIP","private":true}))
        .await;
    assert_eq!(seq(&staff.until_type("ack").await), n + 2);
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s1","body":"Hi!"}))
        .await;
    let s1 = staff.until_type("ack").await;
    assert_eq!(seq(&s1), n + 3);
    let reply = vis
        .until(|v| v["type"] == "message" && v["from"]["kind"] == "staff")
        .await;
    assert_eq!((seq(&reply), reply["body"].as_str()), (n + 3, Some("Hi!")));
    (acks, conv, s1)
}

/// After a restart or a move: the visitor's whole log comes back, each
/// acked message with its id, then the claim's notice and the reply, never
/// the note.
async fn read_back(vis: &mut Ws, conv: &str, acks: &[serde_json::Value]) {
    let n = acks.len() as u64;
    vis.send(json!({"type":"resume","conversation_id":conv,"after_seq":0}))
        .await;
    for (i, ack) in acks.iter().enumerate() {
        let m = vis.until_type("message").await;
        assert_eq!(seq(&m), i as u64 + 1);
        assert_eq!(m["id"], ack["id"], "the stored message is the acked one");
    }
    let mut rest = Vec::new();
    while rest.last() != Some(&(n + 3)) {
        let m = vis.until_type("message").await;
        assert_eq!(m["private"], false, "{m}");
        rest.push(seq(&m));
    }
    assert_eq!(
        rest,
        [n + 1, n + 3],
        "the claim's notice and the reply, not the note"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_keeps_the_chat_guarantees_on_postgresql_across_kill_9() {
    if let Some(why) = postgres::unavailable().or_else(nats::unavailable) {
        eprintln!("skipped: {why}");
        return;
    }
    let (pg, bus) = (Postgres::start(), Nats::start());
    let mut srv = Server::start_with(Setup {
        cluster: Some(ClusterNode {
            node_id: "a".into(),
            postgres_url: pg.url(),
            nats_url: bus.url(),
        }),
        ..Setup::default()
    });
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut vis, welcome) = srv.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    let n = 12u64;
    let (acks, conv, _) = converse(&mut vis, &mut staff, n, "k").await;

    // The records are PostgreSQL's, and so is the tenant's lease.
    let c = parley_storage::postgres::connect(&pg.url()).await.unwrap();
    let rows: i64 = c
        .query_one("SELECT count(*) FROM kv WHERE tree = 0", &[])
        .await
        .unwrap()
        .get(0);
    assert!(rows > n as i64, "{rows} records");
    assert!(!srv.dir.path().join("data/db").exists(), "no sled here");
    let tid: String = srv.tenant["tenant_id"].as_str().unwrap().into();
    let owner: String = c
        .query_one("SELECT node FROM tenant_lease", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, "a", "tenant {tid}");

    srv.kill9_and_restart();

    let (mut vis, w) = srv.visitor(Some(&token)).await;
    assert_eq!(w["visitor_id"], welcome["visitor_id"]);
    assert_eq!(w["conversation"]["id"], conv);
    read_back(&mut vis, &conv, &acks).await;
    // A re-sent message is deduped; the next one goes on with no gap.
    vis.send(json!({"type":"send","client_id":"k5","body":"k 5"}))
        .await;
    let again = vis.until_type("ack").await;
    assert_eq!(
        (again["id"].clone(), seq(&again)),
        (acks[4]["id"].clone(), 5)
    );
    vis.send(json!({"type":"send","client_id":"after","body":"after"}))
        .await;
    assert_eq!(seq(&vis.until_type("ack").await), n + 4);

    // A clean stop gives the lease up: the next node need not wait.
    assert!(srv.terminate().success(), "{}", srv.log());
    let live: bool = c
        .query_one("SELECT expires > now() FROM tenant_lease", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!live, "the lease was released");
}

/// A staff socket on `srv` once it says `ready` (a node that does not own
/// the tenant yet, while its owner is moving, closes and is tried again).
async fn staff_when_ready(srv: &Server, deadline: std::time::Instant) -> Ws {
    let token = srv.login(OWNER).await;
    loop {
        let mut ws = Ws::connect(&format!("{}/ws/staff", srv.ws)).await;
        ws.send(json!({"type":"auth","token":token})).await;
        if let Some(f) = ws.try_recv(std::time::Duration::from_secs(3)).await {
            if f["type"] == "ready" {
                return ws;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "staff never got ready on {}",
            srv.base
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A visitor socket on `srv` once it says `welcome`.
async fn visitor_when_ready(
    srv: &Server,
    token: &str,
    deadline: std::time::Instant,
) -> (Ws, serde_json::Value) {
    loop {
        let mut ws = Ws::connect(&format!("{}/ws/visitor?site={}", srv.ws, srv.site_key())).await;
        ws.send(json!({"type":"hello","visitor_token":token,"page":{"url":"https://acme.test/","title":"Home","referrer":""}}))
            .await;
        if let Some(f) = ws.try_recv(std::time::Duration::from_secs(3)).await {
            if f["type"] == "welcome" {
                return (ws, f);
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "visitor never welcomed on {}",
            srv.base
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The tenant's owner and whether its lease is live, by PostgreSQL.
async fn owner(c: &tokio_postgres::Client) -> (String, bool) {
    let r = c
        .query_one("SELECT node, expires > now() FROM tenant_lease", &[])
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_a_visitor_and_staff_on_different_ones_survive_the_owner_dying() {
    use std::time::{Duration, Instant};
    if let Some(why) = postgres::unavailable().or_else(nats::unavailable) {
        eprintln!("skipped: {why}");
        return;
    }
    let (pg, bus) = (Postgres::start(), Nats::start());
    let lease = 3.0;
    let mut all = nodes(&pg, &bus, lease, 3);
    let (c3, b, a) = (all.pop().unwrap(), all.pop().unwrap(), all.pop().unwrap());

    // The visitor arrives on A first: A takes the tenant. Staff on B are
    // relayed to A.
    let (mut vis, welcome) = a.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    let mut staff = staff_when_ready(&b, Instant::now() + Duration::from_secs(20)).await;
    let c = parley_storage::postgres::connect(&pg.url()).await.unwrap();
    assert_eq!(owner(&c).await, ("a".to_string(), true));

    let n = 8u64;
    let (acks, conv, s1) = converse(&mut vis, &mut staff, n, "v").await;
    // Dedupe through the relay: the same client_id answers the same ack.
    staff
        .send(json!({"type":"send","conversation_id":conv,"client_id":"s1","body":"Hi!"}))
        .await;
    let again = staff.until_type("ack").await;
    assert_eq!(
        (again["id"].clone(), seq(&again)),
        (s1["id"].clone(), n + 3)
    );

    // The owner dies mid-conversation.
    let killed = Instant::now();
    signal(a.pid(), "-9");
    // B's relayed staff socket notices and closes for a reconnect.
    assert_eq!(staff.close_code().await, Some(1012));
    drop(vis);

    // Staff come back on B, which takes the tenant once A's lease ran out;
    // the visitor comes back on C, relayed to B; nothing acked is missing.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut staff = staff_when_ready(&b, deadline).await;
    let moved = killed.elapsed();
    assert_eq!(owner(&c).await, ("b".to_string(), true));
    assert!(
        moved < Duration::from_secs_f64(lease + 5.0),
        "ownership moved after {moved:?}"
    );
    let (mut vis, w) = visitor_when_ready(&c3, &token, deadline).await;
    assert_eq!(w["conversation"]["id"], conv);
    read_back(&mut vis, &conv, &acks).await;
    vis.send(json!({"type":"send","client_id":"after","body":"on B"}))
        .await;
    assert_eq!(
        seq(&vis.until_type("ack").await),
        n + 4,
        "no gap after the move"
    );
    let m = staff
        .until(|v| v["type"] == "message" && v["seq"] == n + 4)
        .await;
    assert_eq!(m["body"], "on B");
    drop(a);
}

/// `n` nodes of one cluster (named a, b, c, …) with `lease`-second leases,
/// sharing the tenant made by the first.
fn nodes(pg: &Postgres, bus: &Nats, lease: f64, n: usize) -> Vec<Server> {
    let config = format!("[cluster]\nlease_secs = {lease}\n");
    let mut all: Vec<Server> = Vec::new();
    for id in ["a", "b", "c", "d"].into_iter().take(n) {
        all.push(Server::start_with(Setup {
            cluster: Some(ClusterNode {
                node_id: id.into(),
                postgres_url: pg.url(),
                nats_url: bus.url(),
            }),
            config: Some(config.clone()),
            join: all.first().map(|a| a.tenant.clone()),
            ..Setup::default()
        }));
    }
    all
}

fn two_nodes(pg: &Postgres, bus: &Nats, lease: f64) -> (Server, Server) {
    let mut v = nodes(pg, bus, lease, 2);
    let b = v.pop().unwrap();
    (v.pop().unwrap(), b)
}

fn signal(pid: u32, sig: &str) {
    assert!(std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_paused_past_its_lease_cannot_write_when_it_wakes() {
    use std::time::{Duration, Instant};
    if let Some(why) = postgres::unavailable().or_else(nats::unavailable) {
        eprintln!("skipped: {why}");
        return;
    }
    let (pg, bus) = (Postgres::start(), Nats::start());
    let lease = 2.0;
    let (a, b) = two_nodes(&pg, &bus, lease);
    let (mut vis, welcome) = a.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"before","body":"before the pause"}))
        .await;
    let first = vis.until_type("ack").await;
    let conv = first["conversation_id"].as_str().unwrap().to_string();
    let c = parley_storage::postgres::connect(&pg.url()).await.unwrap();
    assert_eq!(owner(&c).await.0, "a");

    // A stops (a long stall, a partition); B takes the tenant meanwhile.
    signal(a.pid(), "-STOP");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut staff = staff_when_ready(&b, deadline).await;
    assert_eq!(owner(&c).await, ("b".to_string(), true));
    // The visitor's next message reaches A's socket while A sleeps...
    vis.send(json!({"type":"send","client_id":"paused","body":"while paused"}))
        .await;
    signal(a.pid(), "-CONT");
    // ...and when A wakes it is refused (`unavailable`, or the socket closes
    // as A lets the tenant go), never acknowledged.
    let mut acked = false;
    while let Some(f) = vis.try_recv(Duration::from_secs(5)).await {
        if f["type"] == "ack" && f["client_id"] == "paused" {
            acked = true;
        }
        if f["type"] == "error" && f["client_id"] == "paused" {
            assert_eq!(f["code"], "unavailable", "{f}");
            break;
        }
    }
    assert!(!acked, "a fenced node acknowledged a write");
    let landed: i64 = c
        .query_one(
            "SELECT count(*) FROM kv WHERE position(convert_to('while paused', 'UTF8') in value) > 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(landed, 0, "nothing of the fenced write is stored");

    // The visitor moves to B: the log has no hole, and the re-sent message
    // takes the next seq there.
    let (mut vis, w) = visitor_when_ready(&b, &token, deadline).await;
    assert_eq!(w["conversation"]["id"], conv);
    vis.send(json!({"type":"send","client_id":"paused","body":"while paused"}))
        .await;
    assert_eq!(seq(&vis.until_type("ack").await), 2);
    let m = staff
        .until(|v| v["type"] == "message" && v["seq"] == 2)
        .await;
    assert_eq!(m["body"], "while paused");
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayed_sockets_come_back_after_nats_restarts() {
    use std::time::{Duration, Instant};
    if let Some(why) = postgres::unavailable().or_else(nats::unavailable) {
        eprintln!("skipped: {why}");
        return;
    }
    let (pg, mut bus) = (Postgres::start(), Nats::start());
    let (a, b) = two_nodes(&pg, &bus, 10.0);
    let (mut vis, _) = a.visitor(None).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut staff = staff_when_ready(&b, deadline).await;
    vis.send(json!({"type":"send","client_id":"1","body":"one"}))
        .await;
    let conv = vis.until_type("ack").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    staff
        .until(|v| v["type"] == "message" && v["seq"] == 1)
        .await;

    bus.kill();
    // The visitor's own node owns the tenant: it keeps chatting.
    vis.send(json!({"type":"send","client_id":"2","body":"two"}))
        .await;
    assert_eq!(seq(&vis.until_type("ack").await), 2);
    bus.restart();
    // The relayed staff socket resyncs (1012), then catches up and goes on.
    assert_eq!(staff.close_code().await, Some(1012));
    let mut staff = staff_when_ready(&b, deadline).await;
    staff
        .send(json!({"type":"resume","conversation_id":conv,"after_seq":1}))
        .await;
    let m = staff
        .until(|v| v["type"] == "message" && v["seq"] == 2)
        .await;
    assert_eq!(m["body"], "two");
    vis.send(json!({"type":"send","client_id":"3","body":"three"}))
        .await;
    let m = staff
        .until(|v| v["type"] == "message" && v["seq"] == 3)
        .await;
    assert_eq!(m["body"], "three");

    // A change stored through B reaches the owner's actors: signing out
    // everywhere on B closes the staff socket A runs for it (4401).
    let tokens = b.pair(OWNER, PASSWORD).await;
    let r = b
        .call(
            "POST",
            "/api/v1/auth/logout-all",
            tokens["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(staff.close_code().await, Some(4401));
}

/// PostgreSQL crashes under a node and comes back: the node gives its lease
/// up while it cannot renew it, and once PostgreSQL is back the chat goes on
/// by itself: every acked message there with its id, the message the
/// visitor sent into the outage (never acked) sent again and taking the next
/// seq, no gap, no operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_crash_loses_nothing_acked_and_the_chat_comes_back_by_itself() {
    use std::time::{Duration, Instant};
    if let Some(why) = postgres::unavailable().or_else(nats::unavailable) {
        eprintln!("skipped: {why}");
        return;
    }
    let (pg, bus) = (Postgres::start(), Nats::start());
    let srv = nodes(&pg, &bus, 3.0, 1).pop().unwrap();
    let (mut staff, _) = srv.staff(OWNER).await;
    let (mut vis, welcome) = srv.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    let (acks, conv, _) = converse(&mut vis, &mut staff, 6, "p").await;

    pg.stop();
    vis.send(json!({"type":"send","client_id":"down","body":"sent into the outage"}))
        .await;
    // The node lets the lease go (it cannot renew it): it holds no tenant.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = srv.call("GET", "/healthz", None, None).await;
        if h.body["cluster"]["tenants"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the lease was kept: {}", h.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    pg.run();

    let (mut vis, w) = visitor_when_ready(&srv, &token, deadline).await;
    assert_eq!(w["conversation"]["id"], conv);
    read_back(&mut vis, &conv, &acks).await;
    vis.send(json!({"type":"send","client_id":"down","body":"sent into the outage"}))
        .await;
    let down = vis.until_type("ack").await;
    assert_eq!(
        seq(&down),
        10,
        "the next seq after 6 messages, a claim, a note and a reply"
    );
    vis.send(json!({"type":"send","client_id":"after","body":"after"}))
        .await;
    assert_eq!(seq(&vis.until_type("ack").await), 11);
    // Staff get the same, from wherever they reconnect.
    let mut staff = staff_when_ready(&srv, deadline).await;
    staff
        .send(json!({"type":"resume","conversation_id":conv,"after_seq":9}))
        .await;
    let m = staff
        .until(|v| v["type"] == "message" && v["seq"] == 11)
        .await;
    assert_eq!(m["body"], "after");
}
