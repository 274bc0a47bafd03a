//! The actor tree on a real sled store: ordering, dedupe, durability and
//! supervision (a conversation that panics is restarted from storage while
//! its neighbours carry on).

use parley_actors::*;
use parley_engine::codes::close;
use parley_engine::records::Participant;
use parley_engine::*;
use parley_storage::{MessageLog, Store, StoreConfig, VisitorStore, Writer, WriterConfig};
use std::sync::Arc;
use std::time::Duration;

async fn system(dir: &std::path::Path) -> System {
    let store = Store::open(dir, &StoreConfig::default()).unwrap();
    let writer = Writer::start(store.clone(), WriterConfig::default());
    System::start(Arc::new(Ctx {
        store,
        writer,
        cfg: ActorConfig::default(),
        hooks: Default::default(),
        keeper: None,
    }))
    .await
    .unwrap()
}

/// Next JSON frame from a socket's queue, within a deadline.
async fn next(rx: &mut Inbox) -> serde_json::Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some(Out::Frame(b))) => return serde_json::from_slice(&b).unwrap(),
            Ok(Some(Out::Replay(_) | Out::Pong(_))) => continue,
            other => panic!("no frame: {other:?}"),
        }
    }
}

async fn until_type(rx: &mut Inbox, ty: &str) -> serde_json::Value {
    loop {
        let v = next(rx).await;
        if v["type"] == ty {
            return v;
        }
    }
}

async fn open(sys: &System, t: TenantId, v: VisitorId) -> (ConvLease, Outbox, Inbox) {
    let tenant = sys.tenant(t).await.unwrap().actor;
    let (outbox, rx) = Outbox::new(1024);
    let hello = ask(&tenant, Duration::from_secs(5), |reply| {
        TenantMsg::VisitorHello {
            visitor: v,
            site: SiteId::new(),
            page: Default::default(),
            arrival: Default::default(),
            outbox: outbox.clone(),
            reply,
        }
    })
    .await
    .unwrap();
    assert!(hello.conversation.is_none());
    let lease = ask(&tenant, Duration::from_secs(5), |reply| {
        TenantMsg::VisitorConversation {
            visitor: v,
            site: Some(SiteId::new()),
            create: true,
            reply,
        }
    })
    .await
    .unwrap()
    .unwrap();
    (lease, outbox, rx)
}

fn post(lease: &ConvLease, outbox: &Outbox, v: VisitorId, cid: &str) {
    assert!(lease
        .cast(ConversationMsg::Post {
            client_id: cid.into(),
            body: format!("body {cid}"),
            private: false,
            from: Participant::visitor(v, None),
            origin: outbox.clone(),
        })
        .is_none());
}

#[tokio::test]
async fn seq_dedupe_and_restart_after_panic() {
    let dir = tempfile::tempdir().unwrap();
    let sys = system(dir.path()).await;
    let t = TenantId::new();
    let (va, vb) = (VisitorId::new(), VisitorId::new());
    let (a, oa, mut ra) = open(&sys, t, va).await;
    let (b, ob, mut rb) = open(&sys, t, vb).await;

    for i in 1..=3 {
        post(&a, &oa, va, &format!("a{i}"));
    }
    let mut acked = Vec::new();
    while acked.len() < 3 {
        let f = next(&mut ra).await;
        if f["type"] == "ack" {
            acked.push(f["seq"].as_u64().unwrap());
        }
    }
    assert_eq!(acked, vec![1, 2, 3]);

    // A re-sent client_id gets the same ack and stores nothing twice.
    post(&a, &oa, va, "a2");
    let dup = until_type(&mut ra, "ack").await;
    assert_eq!(dup["seq"], 2);
    assert_eq!(sys.ctx.store.last_seq(t, a.id()).unwrap(), 3);

    // Inject a panic into A: its subscribers are told to resync...
    assert!(a.cast(ConversationMsg::InjectPanic).is_none());
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), oa.closer().wait())
            .await
            .unwrap(),
        close::RESTART
    );
    // ...B carries on untouched...
    post(&b, &ob, vb, "b1");
    assert_eq!(until_type(&mut rb, "ack").await["seq"], 1);
    assert!(!ob.is_closed());

    // ...and A is back, from storage, continuing its sequence.
    let tenant = sys.tenant(t).await.unwrap().actor;
    let id = a.id();
    let a2 = ask(&tenant, Duration::from_secs(5), |reply| {
        TenantMsg::GetConversation { id, reply }
    })
    .await
    .unwrap()
    .expect("restarted conversation");
    let (o2, mut r2) = Outbox::new(64);
    post(&a2, &o2, va, "a4");
    assert_eq!(until_type(&mut r2, "ack").await["seq"], 4);
    post(&a2, &o2, va, "a1");
    assert_eq!(
        until_type(&mut r2, "ack").await["seq"],
        1,
        "dedupe survives the restart"
    );
    sys.stop().await;
}

#[tokio::test]
async fn idle_conversation_passivates_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    let writer = Writer::start(store.clone(), WriterConfig::default());
    let sys = System::start(Arc::new(Ctx {
        store,
        writer,
        cfg: ActorConfig {
            conversation_idle: Duration::from_millis(100),
            ..ActorConfig::default()
        },
        hooks: Default::default(),
        keeper: None,
    }))
    .await
    .unwrap();
    let t = TenantId::new();
    let v = VisitorId::new();
    let (lease, o, mut rx) = open(&sys, t, v).await;
    post(&lease, &o, v, "x1");
    assert_eq!(until_type(&mut rx, "ack").await["seq"], 1);
    let weak_actor = lease.actor().unwrap();
    let id = lease.id();
    drop(lease);
    drop(rx); // the socket goes away
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while weak_actor.get_status() != ractor::ActorStatus::Stopped {
        assert!(
            tokio::time::Instant::now() < deadline,
            "conversation never passivated"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tenant = sys.tenant(t).await.unwrap().actor;
    let back = ask(&tenant, Duration::from_secs(5), |reply| {
        TenantMsg::GetConversation { id, reply }
    })
    .await
    .unwrap()
    .unwrap();
    let (o2, mut r2) = Outbox::new(64);
    post(&back, &o2, v, "x2");
    assert_eq!(until_type(&mut r2, "ack").await["seq"], 2);
    sys.stop().await;
}

#[tokio::test]
async fn a_crashed_tenant_signals_its_sockets_and_comes_back_without_touching_others() {
    let dir = tempfile::tempdir().unwrap();
    let sys = system(dir.path()).await;
    let (t1, t2) = (TenantId::new(), TenantId::new());
    let (v1, v2) = (VisitorId::new(), VisitorId::new());
    let (a, oa, mut ra) = open(&sys, t1, v1).await;
    let (b, ob, mut rb) = open(&sys, t2, v2).await;
    post(&a, &oa, v1, "a1");
    assert_eq!(until_type(&mut ra, "ack").await["seq"], 1);

    let mut h1 = sys.tenant(t1).await.unwrap();
    let h2 = sys.tenant(t2).await.unwrap();
    assert!(!*h1.gone.borrow());
    h1.actor.cast(TenantMsg::InjectPanic).unwrap();
    tokio::time::timeout(Duration::from_secs(5), h1.gone.wait_for(|g| *g))
        .await
        .expect("the gone signal flips")
        .unwrap();
    // Tenant 1's conversation went down with it; tenant 2 is untouched.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while a
        .actor()
        .is_some_and(|x| x.get_status() != ractor::ActorStatus::Stopped)
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!*h2.gone.borrow());
    post(&b, &ob, v2, "b1");
    assert_eq!(until_type(&mut rb, "ack").await["seq"], 1);

    // A fresh Tenant 1 serves the same conversation from storage.
    let h1b = sys.tenant(t1).await.unwrap();
    assert_ne!(h1b.actor.get_id(), h1.actor.get_id());
    let (o2, mut r2) = Outbox::new(64);
    let lease = ask(&h1b.actor, Duration::from_secs(5), |reply| {
        TenantMsg::VisitorConversation {
            visitor: v1,
            site: Some(SiteId::new()),
            create: false,
            reply,
        }
    })
    .await
    .unwrap()
    .expect("conversation found again");
    assert_eq!(lease.id(), a.id());
    post(&lease, &o2, v1, "a2");
    assert_eq!(until_type(&mut r2, "ack").await["seq"], 2);
    sys.stop().await;
}

/// A hello whose tab gave up waiting (its call timed out, so nobody holds
/// the reply) is shed: the visitor never shows as online and nothing of
/// theirs is written, while the next hello is answered as usual.
#[tokio::test]
async fn a_hello_nobody_waits_for_any_more_is_shed() {
    let dir = tempfile::tempdir().unwrap();
    let sys = system(dir.path()).await;
    let t = TenantId::new();
    let tenant = sys.tenant(t).await.unwrap().actor;
    let (gave_up, live) = (VisitorId::new(), VisitorId::new());
    let (outbox, _rx) = Outbox::new(16);
    let (tx, rx) = ractor::concurrency::oneshot();
    drop(rx);
    tenant
        .cast(TenantMsg::VisitorHello {
            visitor: gave_up,
            site: SiteId::new(),
            page: Default::default(),
            arrival: Default::default(),
            outbox,
            reply: tx.into(),
        })
        .unwrap();
    open(&sys, t, live).await;
    let online = ask(&tenant, Duration::from_secs(5), |reply| {
        TenantMsg::OnlineVisitors { only: None, reply }
    })
    .await
    .unwrap();
    let ids: Vec<VisitorId> = online.iter().map(|v| v.id).collect();
    assert_eq!(ids, [live]);
    // Writes land in order: once an empty one is in, the hello's are.
    let (done, landed) = tokio::sync::oneshot::channel();
    sys.ctx.writer.submit(
        parley_storage::WriteBatch::new(),
        Box::new(move |_| {
            let _ = done.send(());
        }),
    );
    landed.await.unwrap();
    assert!(sys.ctx.store.visitor(t, gave_up).unwrap().is_none());
    assert!(sys.ctx.store.visitor(t, live).unwrap().is_some());
}
