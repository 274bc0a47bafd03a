//! Frame and record codecs: JSON (the wire) versus postcard (storage), on
//! the same message. Run: `cargo bench -p parley-benches --bench codec`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parley_benches::message;
use parley_engine::protocol::{parse_client, ServerFrame};
use parley_engine::records::MessageRecord;
use parley_engine::*;
use std::hint::black_box;

fn codec(c: &mut Criterion) {
    let m = message(ConversationId::new(), 42, 100);
    let json = serde_json::to_vec(&m).unwrap();
    let post = postcard::to_allocvec(&m).unwrap();
    let mut g = c.benchmark_group("codec/message_record");
    g.throughput(Throughput::Elements(1));
    g.bench_function("json_encode", |b| {
        b.iter(|| serde_json::to_vec(black_box(&m)).unwrap())
    });
    g.bench_function("postcard_encode", |b| {
        b.iter(|| postcard::to_allocvec(black_box(&m)).unwrap())
    });
    g.bench_function("json_decode", |b| {
        b.iter(|| serde_json::from_slice::<MessageRecord>(black_box(&json)).unwrap())
    });
    g.bench_function("postcard_decode", |b| {
        b.iter(|| postcard::from_bytes::<MessageRecord>(black_box(&post)).unwrap())
    });
    g.finish();

    // What every message costs on the wire: one `send` parsed, one
    // `message` frame serialised (once, whatever the number of receivers).
    let mut g = c.benchmark_group("codec/wire");
    g.throughput(Throughput::Elements(1));
    let send = format!(
        r#"{{"type":"send","client_id":"c-123456","body":"{}"}}"#,
        "x".repeat(100)
    );
    g.bench_function("parse_client_send", |b| {
        b.iter(|| parse_client(black_box(&send)).unwrap())
    });
    g.bench_function("server_message_to_json", |b| {
        b.iter(|| {
            ServerFrame::Message {
                conversation_id: m.conversation_id,
                id: m.id,
                seq: m.seq,
                from: &m.from,
                body: &m.body,
                private: false,
                ts: m.ts,
            }
            .to_json()
        })
    });
    g.finish();
    eprintln!(
        "sizes: JSON record {} bytes, postcard record {} bytes",
        json.len(),
        post.len()
    );
}

criterion_group!(benches, codec);
criterion_main!(benches);
