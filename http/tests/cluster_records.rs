//! The cluster's records on a real PostgreSQL (`http/CLUSTER.md`,
//! "Records"): every backend case of `parley_storage::conformance` holds
//! there as it does on sled; a cluster node's writer writes only the
//! tenants whose leases its node holds, and a lease taken over behind its
//! back refuses the write in PostgreSQL itself, with the rest of its chain;
//! PostgreSQL stopping refuses writes and reads without poisoning anything,
//! and both come back by themselves when it returns.

mod common;

use common::postgres::{self, Postgres};
use parley_engine::TenantId;
use parley_storage::postgres::keeper::Keeper;
use parley_storage::postgres::lease;
use parley_storage::{Chain, StorageError, Store, WriteBatch, Writer, WriterConfig};
use std::time::{Duration, Instant};

/// A fresh PostgreSQL, or `None` (the test skips) where there is none.
fn server() -> Option<Postgres> {
    if let Some(why) = postgres::unavailable() {
        eprintln!("skipped: {why}");
        return None;
    }
    Some(Postgres::start())
}

/// A new, migrated database `db` on `pg`.
async fn database(pg: &Postgres, db: &str) -> String {
    let admin = parley_storage::postgres::connect(&pg.url()).await.unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let url = pg.url_for(db);
    parley_storage::postgres::migrate(&url).await.unwrap();
    url
}

fn key(t: TenantId, k: &[u8]) -> Vec<u8> {
    let mut key = t.to_bytes().to_vec();
    key.extend_from_slice(k);
    key
}

fn put(t: TenantId, k: &[u8]) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(key(t, k), b"v".to_vec());
    b
}

#[test]
fn every_storage_case_holds_on_postgresql() {
    let Some(pg) = server() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, case)) in parley_storage::conformance::ALL.iter().enumerate() {
        let url = rt.block_on(database(&pg, &format!("case_{i}")));
        let store = Store::open_postgres(&url, 2, dir.path()).unwrap();
        eprintln!("case {name}");
        case(&store);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_writer_writes_only_the_tenants_its_node_holds() {
    let Some(pg) = server() else {
        return;
    };
    let url = database(&pg, "fenced").await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_postgres(&url, 2, dir.path()).unwrap();
    let (keeper, _lost) = Keeper::start(&url, "a", 30.0).await.unwrap();
    let (t, u, v) = (TenantId::new(), TenantId::new(), TenantId::new());
    keeper.acquire(t).await.unwrap().unwrap();
    keeper.acquire(v).await.unwrap().unwrap();
    let w = Writer::start_fenced(store.clone(), WriterConfig::default(), keeper.fences());

    w.write(put(t, b"1")).await.unwrap();
    assert!(store.data().get(key(t, b"1")).unwrap().is_some());
    // A tenant this node never held: refused here, nothing written.
    let refused = w.write(put(u, b"1")).await;
    assert!(
        matches!(refused, Err(StorageError::NotOwner(x)) if x == u),
        "{refused:?}"
    );
    assert!(store.data().get(key(u, b"1")).unwrap().is_none());
    // Global records need no lease.
    let mut g = WriteBatch::new();
    g.put_global(b"index/x".to_vec(), b"1".to_vec());
    w.write(g).await.unwrap();

    // Node b takes t over behind a's back (a paused past its lease): a
    // still thinks it holds t, PostgreSQL's fence says otherwise.
    let b = parley_storage::postgres::connect(&url).await.unwrap();
    b.execute(
        "UPDATE tenant_lease SET expires = now() - interval '1 second' WHERE tenant = $1",
        &[&t.to_bytes().to_vec()],
    )
    .await
    .unwrap();
    assert_eq!(lease::acquire(&b, t, "b", 30.0).await.unwrap(), Some(2));
    assert!(keeper.held(t).is_some(), "a has not noticed yet");
    let chain = Chain {
        id: [7; 16],
        generation: Chain::next_generation(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // Queued together: t's two writes of one chain, and one of v.
    for (b, tag) in [
        (put(t, b"2"), "t2"),
        (put(t, b"3"), "t3"),
        (put(v, b"1"), "v1"),
    ] {
        let mut b = b;
        if tag != "v1" {
            b.in_chain(chain);
        }
        let tx = tx.clone();
        w.submit(b, Box::new(move |r| tx.send((tag, r)).unwrap()));
    }
    let mut answers = std::collections::BTreeMap::new();
    for _ in 0..3 {
        let (tag, r) = rx.recv().await.unwrap();
        answers.insert(tag, r);
    }
    for tag in ["t2", "t3"] {
        assert!(
            matches!(answers[tag], Err(StorageError::NotOwner(x)) if x == t),
            "{tag}: {:?}",
            answers[tag]
        );
    }
    assert!(answers["v1"].is_ok(), "{:?}", answers["v1"]);
    assert!(store.data().get(key(t, b"2")).unwrap().is_none());
    assert!(store.data().get(key(t, b"3")).unwrap().is_none());
    assert!(store.data().get(key(v, b"1")).unwrap().is_some());
    // The chain's next generation is not held back by the refusal, but
    // still meets the fence.
    let mut again = put(t, b"2");
    again.in_chain(Chain {
        generation: Chain::next_generation(),
        ..chain
    });
    assert!(matches!(
        w.write(again).await,
        Err(StorageError::NotOwner(_))
    ));
    assert!(w.is_healthy(), "a fenced write is not a sick writer");
    w.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_going_away_refuses_writes_until_it_is_back() {
    let Some(pg) = server() else {
        return;
    };
    let url = database(&pg, "outage").await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_postgres(&url, 2, dir.path()).unwrap();
    let w = Writer::start(store.clone(), WriterConfig::default());
    let t = TenantId::new();
    w.write(put(t, b"1")).await.unwrap();

    pg.stop();
    let r = w.write(put(t, b"2")).await;
    assert!(matches!(r, Err(StorageError::Database(_))), "{r:?}");
    assert!(!w.is_healthy() && !w.is_poisoned());
    assert!(
        w.trouble().unwrap().contains("database"),
        "{:?}",
        w.trouble()
    );
    let read = store.data().get(key(t, b"1"));
    assert!(matches!(read, Err(StorageError::Database(_))), "{read:?}");

    pg.run();
    // The next write reconnects; readers do too.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match w.write(put(t, b"2")).await {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "never came back: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(w.is_healthy(), "{:?}", w.trouble());
    let read = loop {
        match store.data().get(key(t, b"1")) {
            Ok(v) => break v,
            Err(e) => assert!(Instant::now() < deadline, "reads never came back: {e}"),
        }
    };
    assert!(read.is_some(), "what was acked before the outage is there");
    assert!(store.data().get(key(t, b"2")).unwrap().is_some());
    w.shutdown();
}
