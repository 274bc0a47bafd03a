//! Storage append: one flush per message versus the group-commit writer,
//! across batch sizes. Run: `cargo bench -p parley-benches --bench storage`.
//! Compare the two in the same run; absolute numbers depend on the disk.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parley_benches::message;
use parley_engine::*;
use parley_storage::{MessageLog, Store, StoreConfig, WriteBatch, Writer, WriterConfig};
use std::sync::mpsc;
use std::time::Duration;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    (dir, store)
}

fn storage_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    let t = TenantId::new();
    for &n in &[1usize, 16, 64, 256] {
        g.throughput(Throughput::Elements(n as u64));
        // Baseline: every message written and flushed on its own.
        g.bench_with_input(BenchmarkId::new("flush_per_message", n), &n, |b, &n| {
            let (_dir, store) = open();
            let conv = ConversationId::new();
            let mut seq = 0u64;
            b.iter(|| {
                for _ in 0..n {
                    seq += 1;
                    let mut batch = WriteBatch::new();
                    store.append(&mut batch, t, &message(conv, seq, 100));
                    store.write_now(batch).unwrap();
                }
            });
        });
        // Group commit: n concurrent requesters, one flush for what is queued.
        g.bench_with_input(BenchmarkId::new("group_commit", n), &n, |b, &n| {
            let (_dir, store) = open();
            let writer = Writer::start(store.clone(), WriterConfig::default());
            let conv = ConversationId::new();
            let mut seq = 0u64;
            b.iter(|| {
                let (tx, rx) = mpsc::channel();
                for _ in 0..n {
                    seq += 1;
                    let mut batch = WriteBatch::new();
                    store.append(&mut batch, t, &message(conv, seq, 100));
                    let tx = tx.clone();
                    writer.submit(batch, Box::new(move |r| tx.send(r.is_ok()).unwrap()));
                }
                for _ in 0..n {
                    assert!(rx.recv().unwrap());
                }
            });
            writer.shutdown();
        });
    }
    g.finish();
}

criterion_group!(benches, storage_append);
criterion_main!(benches);
