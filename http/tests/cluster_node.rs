//! `parley serve --cluster` on a real PostgreSQL and a real nats-server:
//! the node migrates the schema, keeps its records in PostgreSQL (nothing in
//! its data dir), takes a tenant's lease when the tenant is first asked for,
//! and keeps the chat's guarantees across a `kill -9`: every acknowledged
//! message is there after the restart, in order with the acknowledged ids,
//! a re-sent one is deduped, the seq goes on with no gap, and a private note
//! never reaches the visitor. A clean stop gives the lease up at once.

mod common;

use common::nats::{self, Nats};
use common::postgres::{self, Postgres};
use common::*;
use serde_json::json;

fn seq(v: &serde_json::Value) -> u64 {
    v["seq"].as_u64().unwrap()
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
    for i in 1..=n {
        vis.send(json!({"type":"send","client_id":format!("k{i}"),"body":format!("hello {i}")}))
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
    assert_eq!(last["body"], format!("hello {n}"));
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
    assert_eq!(seq(&staff.until_type("ack").await), n + 3);
    let reply = vis
        .until(|v| v["type"] == "message" && v["from"]["kind"] == "staff")
        .await;
    assert_eq!((seq(&reply), reply["body"].as_str()), (n + 3, Some("Hi!")));

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
    // A re-sent message is deduped; the next one goes on with no gap.
    vis.send(json!({"type":"send","client_id":"k5","body":"hello 5"}))
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
