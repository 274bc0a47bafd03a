//! The cluster's PostgreSQL schema (`http/CLUSTER.md`), against a real
//! PostgreSQL started for the test: `parley admin migrate` applies every
//! migration once, in order, even when two run at the same moment, and
//! says clearly when there is nothing to migrate or nobody to reach; a
//! tenant's lease has one owner at a time, and a node that lost it is
//! fenced off from writing; the bus on a real nats-server reaches a
//! tenant's owner and each node, and comes back after NATS restarts.

mod common;

use common::postgres::{self, Postgres};
use common::*;
use parley_engine::TenantId;
use parley_storage::postgres::lease::{self, Held, WriteError};
use parley_storage::{Op, TreeId};
use serde_json::Value;
use std::process::{Command, Output};

fn migrate(config: &std::path::Path, env_url: Option<&str>) -> Output {
    let mut c = Command::new(bin());
    c.args(["admin", "migrate", "--config"]).arg(config);
    c.env_remove("PARLEY_POSTGRES_URL");
    if let Some(u) = env_url {
        c.env("PARLEY_POSTGRES_URL", u);
    }
    c.output().expect("running parley admin migrate")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

#[tokio::test]
async fn migrate_applies_the_schema_once_and_names_what_is_wrong() {
    if let Some(why) = postgres::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("parley.toml");
    std::fs::write(
        &cfg,
        format!(
            "[cluster]\nnode_id = \"a\"\npostgres_url = \"{}\"\n",
            pg.url()
        ),
    )
    .unwrap();

    // Two at once: the advisory lock lets exactly one apply each step.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| migrate(&cfg, None));
        let b = s.spawn(|| migrate(&cfg, None));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (a, b) = (json_of(&a), json_of(&b));
    let mut applied: Vec<i64> = [&a, &b]
        .iter()
        .flat_map(|v| v["applied"].as_array().unwrap().clone())
        .map(|v| v.as_i64().unwrap())
        .collect();
    applied.sort();
    assert_eq!(applied, [1], "{a} {b}");
    assert_eq!(
        (a["version"].as_i64(), b["version"].as_i64()),
        (Some(1), Some(1))
    );
    // Again: nothing to do.
    let again = json_of(&migrate(&cfg, None));
    assert_eq!(again, serde_json::json!({"applied": [], "version": 1}));

    // The tables are there, with their keys.
    let client = connect(&pg.url()).await;
    let rows = client
        .query(
            "SELECT table_name FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY table_name",
            &[],
        )
        .await
        .unwrap();
    let tables: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(tables, ["kv", "parley_migrations", "tenant_lease"]);
    client
        .execute(
            "INSERT INTO kv (tree, key, value) VALUES (0, '\\x01', '\\x02')",
            &[],
        )
        .await
        .unwrap();
    let dup = client
        .execute(
            "INSERT INTO kv (tree, key, value) VALUES (0, '\\x01', '\\x03')",
            &[],
        )
        .await;
    assert!(dup.is_err(), "(tree, key) is the primary key");

    // Nothing to migrate: a usage error (exit 2) that says what to set.
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let out = migrate(&empty, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres_url"));
    // The environment names it too.
    assert_eq!(json_of(&migrate(&empty, Some(&pg.url())))["version"], 1);
    // Nobody there: exit 1, the address without its password.
    let port = common::smtp::free_port();
    let out = migrate(
        &empty,
        Some(&format!(
            "postgres://parley:hunter2hunter2@127.0.0.1:{port}/postgres"
        )),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
}

/// A fresh PostgreSQL with the schema applied; `None` (the test skips)
/// where there is none.
async fn migrated() -> Option<Postgres> {
    if let Some(why) = postgres::unavailable() {
        eprintln!("skipped: {why}");
        return None;
    }
    let pg = Postgres::start();
    parley_storage::postgres::migrate(&pg.url()).await.unwrap();
    Some(pg)
}

/// Waits until `t`'s lease has run out by PostgreSQL's clock.
async fn run_out(c: &tokio_postgres::Client, t: TenantId) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lease::owner(c, t).await.unwrap().unwrap().live {
        assert!(
            std::time::Instant::now() < deadline,
            "the lease never ran out"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Two clients, as two nodes would hold them.
async fn connect(url: &str) -> tokio_postgres::Client {
    parley_storage::postgres::connect(url).await.unwrap()
}

fn put(t: TenantId, key: &[u8], value: &[u8]) -> Op {
    let mut k = t.to_bytes().to_vec();
    k.extend_from_slice(key);
    Op {
        tree: TreeId::Data,
        key: k,
        value: Some(value.to_vec()),
    }
}

async fn stored(c: &tokio_postgres::Client, t: TenantId, key: &[u8]) -> Option<Vec<u8>> {
    let mut k = t.to_bytes().to_vec();
    k.extend_from_slice(key);
    c.query_opt("SELECT value FROM kv WHERE tree = 0 AND key = $1", &[&k])
        .await
        .unwrap()
        .map(|r| r.get(0))
}

#[tokio::test]
async fn a_tenant_has_one_owner_and_a_node_that_lost_its_lease_never_writes_again() {
    let Some(pg) = migrated().await else {
        return;
    };
    let (a, b) = (connect(&pg.url()).await, connect(&pg.url()).await);
    let t = TenantId::new();

    // Both at once: exactly one wins, at epoch 1.
    let (ea, eb) = tokio::join!(
        lease::acquire(&a, t, "a", 1.0),
        lease::acquire(&b, t, "b", 1.0)
    );
    let (ea, eb) = (ea.unwrap(), eb.unwrap());
    assert!(ea.is_some() != eb.is_some(), "{ea:?} {eb:?}");
    assert_eq!(ea.or(eb), Some(1));
    // Name them by the outcome.
    let (won, lost) = if ea.is_some() { ("a", "b") } else { ("b", "a") };
    let (mut w, mut l) = if ea.is_some() { (a, b) } else { (b, a) };
    let held = Held {
        tenant: t,
        epoch: 1,
    };

    lease::write_fenced(&mut w, won, &[held], &[put(t, b"k", b"1")])
        .await
        .unwrap();
    // The other node, guessing the epoch, is fenced: nothing lands.
    let fenced = lease::write_fenced(&mut l, lost, &[held], &[put(t, b"k", b"x")]).await;
    assert!(
        matches!(&fenced, Err(WriteError::Fenced(ts)) if ts == &[t]),
        "{fenced:?}"
    );
    assert_eq!(stored(&w, t, b"k").await.as_deref(), Some(&b"1"[..]));
    // While the lease lives nobody else takes it; its owner renews it.
    assert_eq!(lease::acquire(&l, t, lost, 1.0).await.unwrap(), None);
    assert_eq!(lease::renew(&w, won, &[held], 1.0).await.unwrap(), [held]);
    let o = lease::owner(&l, t).await.unwrap().unwrap();
    assert_eq!((o.node.as_str(), o.epoch, o.live), (won, 1, true));

    // The owner stops renewing (paused, cut off): the lease runs out...
    run_out(&l, t).await;
    // ...and the other node takes it, at the next epoch.
    assert_eq!(lease::acquire(&l, t, lost, 1.0).await.unwrap(), Some(2));
    let taken = Held {
        tenant: t,
        epoch: 2,
    };
    // The old owner wakes: its writes are refused, its renewal finds nothing.
    let stale = lease::write_fenced(&mut w, won, &[held], &[put(t, b"k", b"stale")]).await;
    assert!(matches!(stale, Err(WriteError::Fenced(_))), "{stale:?}");
    assert!(lease::renew(&w, won, &[held], 1.0)
        .await
        .unwrap()
        .is_empty());
    lease::write_fenced(&mut l, lost, &[taken], &[put(t, b"k", b"2")])
        .await
        .unwrap();
    assert_eq!(stored(&w, t, b"k").await.as_deref(), Some(&b"2"[..]));

    // A clean stop gives the lease up at once.
    assert!(lease::release(&l, lost, taken).await.unwrap());
    assert_eq!(lease::acquire(&w, t, won, 10.0).await.unwrap(), Some(3));
    assert!(
        !lease::release(&l, lost, taken).await.unwrap(),
        "not its lease any more"
    );

    // One batch over two tenants, one of them lost: none of it lands.
    let u = TenantId::new();
    assert_eq!(lease::acquire(&w, u, won, 10.0).await.unwrap(), Some(1));
    let both = [
        Held {
            tenant: t,
            epoch: 2,
        },
        Held {
            tenant: u,
            epoch: 1,
        },
    ];
    let half = lease::write_fenced(
        &mut w,
        won,
        &both,
        &[put(t, b"m", b"1"), put(u, b"m", b"1")],
    )
    .await;
    assert!(
        matches!(&half, Err(WriteError::Fenced(ts)) if ts == &[t]),
        "{half:?}"
    );
    assert_eq!(stored(&w, u, b"m").await, None);
    // The last operation on a key wins, deletes included.
    let mut del = put(u, b"m", b"");
    del.value = None;
    lease::write_fenced(
        &mut w,
        won,
        &[Held {
            tenant: u,
            epoch: 1,
        }],
        &[
            put(u, b"m", b"1"),
            put(u, b"n", b"1"),
            put(u, b"n", b"2"),
            del,
        ],
    )
    .await
    .unwrap();
    assert_eq!(stored(&w, u, b"m").await, None);
    assert_eq!(stored(&w, u, b"n").await.as_deref(), Some(&b"2"[..]));
}

#[tokio::test]
async fn a_take_over_waits_for_the_fenced_write_it_overlaps() {
    let Some(pg) = migrated().await else {
        return;
    };
    let (mut a, b) = (connect(&pg.url()).await, connect(&pg.url()).await);
    let t = TenantId::new();
    assert_eq!(lease::acquire(&a, t, "a", 0.5).await.unwrap(), Some(1));
    let held = Held {
        tenant: t,
        epoch: 1,
    };
    // A's write has passed its fence and is still open...
    let tx = a.transaction().await.unwrap();
    lease::fence(&tx, "a", &[held]).await.unwrap();
    // ...when its lease runs out and B tries to take the tenant.
    run_out(&b, t).await;
    let b = std::sync::Arc::new(b);
    let bb = b.clone();
    let mut take = tokio::spawn(async move { lease::acquire(&*bb, t, "b", 10.0).await });
    // B waits for A's open write rather than overtaking it.
    let early = tokio::time::timeout(std::time::Duration::from_millis(500), &mut take).await;
    assert!(early.is_err(), "the take-over did not wait: {early:?}");
    let mut k = t.to_bytes().to_vec();
    k.push(1);
    tx.execute(
        "INSERT INTO kv (tree, key, value) VALUES (0, $1, '\\x01')",
        &[&k],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A's write landed whole, then B took over at the next epoch.
    assert_eq!(take.await.unwrap().unwrap(), Some(2));
    assert!(stored(&b, t, &[1]).await.is_some());
    let stale = lease::write_fenced(&mut a, "a", &[held], &[put(t, &[2], b"x")]).await;
    assert!(matches!(stale, Err(WriteError::Fenced(_))), "{stale:?}");
}

// Two workers: the keeper renews while the test blocks on stopping PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_keeps_its_leases_alive_and_hears_when_one_is_lost() {
    use parley_storage::postgres::keeper::Keeper;
    use std::time::{Duration, Instant};
    let Some(pg) = migrated().await else {
        return;
    };
    let other = connect(&pg.url()).await;
    let (keeper, mut lost) = Keeper::start(&pg.url(), "a", 2.0).await.unwrap();
    let (t, u, v) = (TenantId::new(), TenantId::new(), TenantId::new());
    let held = keeper.acquire(t).await.unwrap().unwrap();
    assert_eq!(held.epoch, 1);
    assert_eq!(
        keeper.acquire(t).await.unwrap(),
        Some(held),
        "held, not taken again"
    );

    // Over two lease lengths nobody else gets it: it is renewed.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        assert_eq!(lease::acquire(&other, t, "b", 2.0).await.unwrap(), None);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(lost.try_recv().is_err(), "nothing was lost");

    // Taken over behind its back (as after a pause): the next round says so.
    other
        .execute(
            "UPDATE tenant_lease SET node = 'b', epoch = epoch + 1 WHERE tenant = $1",
            &[&t.to_bytes().to_vec()],
        )
        .await
        .unwrap();
    let gone = tokio::time::timeout(Duration::from_secs(5), lost.recv()).await;
    assert_eq!(gone.unwrap(), Some(t));
    assert_eq!(keeper.held(t), None);

    // Renewals hang (a lock, as a cut network would leave them): the node
    // gives the lease up before PostgreSQL's clock says it ran out.
    assert!(keeper.acquire(u).await.unwrap().is_some());
    let mut blocker = connect(&pg.url()).await;
    let tx = blocker.transaction().await.unwrap();
    let expires: f64 = tx
        .query_one(
            "SELECT extract(epoch FROM expires)::float8 FROM tenant_lease WHERE tenant = $1 FOR UPDATE",
            &[&u.to_bytes().to_vec()],
        )
        .await
        .unwrap()
        .get(0);
    let gone = tokio::time::timeout(Duration::from_secs(10), lost.recv()).await;
    assert_eq!(gone.unwrap(), Some(u));
    let now: f64 = tx
        .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        now < expires,
        "gave the lease up {:.3} s after it ran out",
        now - expires
    );
    assert_eq!(keeper.held(u), None);
    tx.rollback().await.unwrap();

    // PostgreSQL goes away altogether: the lease is given up too.
    assert!(keeper.acquire(v).await.unwrap().is_some());
    drop((other, blocker));
    drop(pg);
    let gone = tokio::time::timeout(Duration::from_secs(10), lost.recv()).await;
    assert_eq!(gone.unwrap(), Some(v));
    assert_eq!(keeper.held(v), None);
}

/// Publishes `frame` for node `to` until its subscription `sub` gets it: a
/// subscription reaches the server a moment after it is made (NATS orders a
/// connection's own commands, not two connections').
async fn deliver(
    from: &parley::bus::Bus,
    to: &str,
    frame: &'static [u8],
    sub: &mut async_nats::Subscriber,
) {
    use futures_util::StreamExt;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "{frame:?} never arrived"
        );
        from.publish_out(to, bytes::Bytes::from_static(frame))
            .await
            .unwrap();
        match tokio::time::timeout(std::time::Duration::from_millis(100), sub.next()).await {
            Ok(Some(m)) if &m.payload[..] == frame => return,
            // An earlier frame's second copy, or nothing yet.
            _ => continue,
        }
    }
}

/// Forwards `frame` to `t`'s owner until one answers (a gateway retries
/// "no owner" the same way while ownership settles).
async fn forward_until_served(
    gateway: &parley::bus::Bus,
    t: TenantId,
    frame: &'static [u8],
) -> bytes::Bytes {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match gateway
            .forward(
                t,
                bytes::Bytes::from_static(frame),
                std::time::Duration::from_secs(2),
            )
            .await
        {
            Ok(a) => return a,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "nobody answered: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_reaches_the_owner_fans_out_to_nodes_and_comes_back_after_a_nats_restart() {
    use bytes::Bytes;
    use futures_util::StreamExt;
    use parley::bus::{Bus, BusError};
    use std::time::{Duration, Instant};
    if let Some(why) = common::nats::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut nats = common::nats::Nats::start();
    let open = parley::config::ClusterConfig::default();
    let gateway = Bus::connect(&nats.url(), "a", &open).await.unwrap();
    let owner = Bus::connect(&nats.url(), "b", &open).await.unwrap();
    let t = TenantId::new();
    let wait = Duration::from_secs(2);

    // Nobody serves the tenant yet: said at once, not after the timeout.
    let started = Instant::now();
    let none = gateway.forward(t, Bytes::from_static(b"hi"), wait).await;
    assert!(matches!(none, Err(BusError::NoOwner)), "{none:?}");
    assert!(started.elapsed() < wait);

    // The owner serves it: every frame is answered by the owner.
    let mut requests = owner.serve(t).await.unwrap();
    let serving = tokio::spawn(async move {
        while let Some(req) = requests.next().await {
            let mut answer = b"owner:".to_vec();
            answer.extend_from_slice(&req.frame);
            requests.answer(req, answer.into()).await.unwrap();
        }
    });
    assert_eq!(
        &forward_until_served(&gateway, t, b"hello").await[..],
        b"owner:hello"
    );
    // Another tenant is still nobody's.
    let other = gateway
        .forward(TenantId::new(), Bytes::from_static(b"x"), wait)
        .await;
    assert!(matches!(other, Err(BusError::NoOwner)), "{other:?}");

    // Outbound frames reach the node they are published for, only that one.
    let mut to_a = gateway.outbound().await.unwrap();
    let mut to_b = owner.outbound().await.unwrap();
    deliver(&owner, "a", b"frame 1", &mut to_a).await;
    deliver(&gateway, "b", b"frame b", &mut to_b).await;
    // Whatever b's subscription held was b's own.
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), to_b.next()).await {
        assert_eq!(&m.payload[..], b"frame b", "b got a frame for a");
    }

    // NATS restarts: both nodes reconnect by themselves, their generation
    // moves, and requests and deliveries work again on the old subscriptions.
    let mut gen_a = gateway.reconnects();
    let before = *gen_a.borrow_and_update();
    nats.restart();
    tokio::time::timeout(Duration::from_secs(10), gen_a.changed())
        .await
        .expect("the gateway never reconnected")
        .unwrap();
    assert!(*gen_a.borrow() > before);
    assert_eq!(
        &forward_until_served(&gateway, t, b"again").await[..],
        b"owner:again"
    );
    deliver(&owner, "a", b"frame 2", &mut to_a).await;
    serving.abort();
}
