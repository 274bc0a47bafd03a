//! The conversation actor hop without a network: a `Post` cast into a
//! Conversation actor until its durable `ack` reaches the socket's outbox
//! (sequencing, the group-commit write with its flush, fan-out). One at a
//! time (latency) and 64 in flight (throughput).
//! Run: `cargo bench -p parley-benches --bench actor`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parley_actors::*;
use parley_engine::records::Participant;
use parley_engine::*;
use parley_storage::{Store, StoreConfig, Writer, WriterConfig};
use std::sync::Arc;
use std::time::Duration;

async fn open(sys: &System, t: TenantId, v: VisitorId) -> (ConvLease, Outbox, Inbox) {
    let tenant = sys.tenant(t).await.unwrap().actor;
    let (outbox, rx) = Outbox::new(4096);
    let site = SiteId::new();
    ask(&tenant, Duration::from_secs(5), |reply| {
        TenantMsg::VisitorHello {
            visitor: v,
            site,
            page: Default::default(),
            arrival: Default::default(),
            outbox: outbox.clone(),
            reply,
        }
    })
    .await
    .unwrap();
    let lease = ask(&tenant, Duration::from_secs(5), |reply| {
        TenantMsg::VisitorConversation {
            visitor: v,
            site: Some(site),
            create: true,
            reply,
        }
    })
    .await
    .unwrap()
    .unwrap();
    (lease, outbox, rx)
}

async fn acks(rx: &mut Inbox, mut n: usize) {
    while n > 0 {
        match rx.recv().await {
            Some(Out::Frame(b)) if b.starts_with(br#"{"type":"ack""#) => n -= 1,
            Some(_) => {}
            None => panic!("outbox closed"),
        }
    }
}

fn actor_hop(c: &mut Criterion) {
    let rt = parley_benches::runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    let writer = Writer::start(store.clone(), WriterConfig::default());
    let sys = rt
        .block_on(System::start(Arc::new(Ctx {
            store,
            writer,
            cfg: ActorConfig::default(),
            hooks: Default::default(),
            keeper: None,
        })))
        .unwrap();
    let v = VisitorId::new();
    let (lease, outbox, mut rx) = rt.block_on(open(&sys, TenantId::new(), v));
    let from = Participant::visitor(v, None);
    let mut k = 0u64;
    let mut g = c.benchmark_group("conversation_hop");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    for &n in &[1usize, 64] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("send_to_durable_ack", n), &n, |b, &n| {
            b.iter(|| {
                for _ in 0..n {
                    k += 1;
                    let undelivered = lease.cast(ConversationMsg::Post {
                        client_id: format!("b{k}"),
                        body: "x".repeat(100),
                        private: false,
                        from: from.clone(),
                        origin: outbox.clone(),
                    });
                    assert!(undelivered.is_none());
                }
                rt.block_on(acks(&mut rx, n));
            })
        });
    }
    g.finish();
    rt.block_on(sys.stop());
}

criterion_group!(benches, actor_hop);
criterion_main!(benches);
