//! End to end in one process: the real server (`parley::server::Server`) on
//! 127.0.0.1:0 with a temp data dir, and a visitor WebSocket client sending
//! a message until its own `message` frame comes back (parse, actor,
//! durable group commit, fan-out, socket writer, loopback TCP). One at a
//! time and 32 in flight. Run: `cargo bench -p parley-benches --bench e2e`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::{SinkExt, StreamExt};
use parley::cli::{AdminCommand, DataDir};
use parley::config::Config;
use parley::server::Server;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn e2e(c: &mut Criterion) {
    let rt = parley_benches::runtime();
    let dir = tempfile::tempdir().unwrap();
    let created = parley::admin::exec(AdminCommand::CreateTenant {
        name: "Bench".into(),
        owner_email: "owner@bench.test".into(),
        owner_password: "bench-password-9".into(),
        owner_name: None,
        dir: DataDir {
            data_dir: dir.path().into(),
            postgres_url: None,
        },
    })
    .unwrap();
    let site_key = created["site_key"].as_str().unwrap().to_string();
    let mut cfg = Config {
        data_dir: dir.path().into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        log: "warn".into(),
        ..Config::default()
    };
    cfg.limits.frames_per_second = 1_000_000;
    cfg.limits.frame_burst = 1_000_000;
    let server = rt.block_on(Server::start(cfg)).unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn(server.run(async {
        let _ = stopped.await;
    }));
    let url = format!("ws://{addr}/ws/visitor?site={site_key}");
    let (mut ws, _) = rt.block_on(tokio_tungstenite::connect_async(url)).unwrap();
    rt.block_on(async {
        ws.send(Message::text(r#"{"type":"hello","visitor_token":null}"#))
            .await
            .unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.to_text().unwrap_or("").contains(r#""type":"welcome""#) {
                break;
            }
        }
    });
    let body = "x".repeat(100);
    let mut k = 0u64;
    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    for &n in &[1usize, 32] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("send_to_delivered", n), &n, |b, &n| {
            b.iter(|| {
                rt.block_on(async {
                    for _ in 0..n {
                        k += 1;
                        let f = format!(r#"{{"type":"send","client_id":"e{k}","body":"{body}"}}"#);
                        ws.feed(Message::text(f)).await.unwrap();
                    }
                    ws.flush().await.unwrap();
                    let mut left = n;
                    while left > 0 {
                        let m = ws.next().await.unwrap().unwrap();
                        if m.to_text()
                            .unwrap_or("")
                            .starts_with(r#"{"type":"message""#)
                        {
                            left -= 1;
                        }
                    }
                })
            })
        });
    }
    g.finish();
    let _ = stop.send(());
    rt.block_on(async {
        let _ = ws.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
    });
}

criterion_group!(benches, e2e);
criterion_main!(benches);
