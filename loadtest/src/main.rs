//! `parley-loadtest`: drives real visitor WebSocket connections against a
//! running Parley and checks every message while it measures.
//!
//! Scenario `idle`: `--visitors` visitors say hello and hold their sockets
//! open for `--hold` seconds (read the server's memory meanwhile).
//!
//! Scenario `chat` (the default): each of `--visitors` visitors says hello,
//! opens a conversation and sends `--messages` messages at `--rate` per
//! second. It measures ack latency (send → durable `ack`) and delivery
//! latency (send → the `message` frame coming back), and counts messages
//! that were acked but never delivered (lost), delivered twice
//! (duplicated) or delivered out of seq order. Any of those makes the run
//! exit with code 1.

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

/// Load-test a running Parley server.
#[derive(Parser, Debug, Clone)]
#[command(name = "parley-loadtest", version, about)]
struct Args {
    /// Base URL of the server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// Site key of a site on that server (from `parley admin create-tenant`).
    #[arg(long)]
    site_key: String,
    /// Concurrent visitors (one conversation each).
    #[arg(long, default_value_t = 100)]
    visitors: usize,
    /// Messages each visitor sends.
    #[arg(long, default_value_t = 20)]
    messages: usize,
    /// Messages per second per visitor (keep under the server's frame rate limit).
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Connections opened per second while ramping up.
    #[arg(long, default_value_t = 500.0)]
    ramp: f64,
    /// `chat` or `idle`.
    #[arg(long, default_value = "chat")]
    scenario: String,
    /// Seconds the `idle` scenario holds its connections.
    #[arg(long, default_value_t = 10)]
    hold: u64,
    /// Write the summary as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Default)]
struct Totals {
    opened: u64,
    failed: u64,
    sent: u64,
    acked: u64,
    delivered: u64,
    lost: u64,
    duplicated: u64,
    out_of_order: u64,
    ack_ms: Vec<f64>,
    delivery_ms: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(v: &mut [f64]) -> Value {
    v.sort_by(|a, b| a.total_cmp(b));
    json!({
        "p50": percentile(v, 50.0), "p90": percentile(v, 90.0), "p99": percentile(v, 99.0),
        "p999": percentile(v, 99.9), "max": v.last().copied().unwrap_or(0.0),
    })
}

async fn visitor(args: Arc<Args>, start: Instant, totals: Arc<Mutex<Totals>>) -> Result<()> {
    let ws_url = format!(
        "{}/ws/visitor?site={}",
        args.url.replacen("http", "ws", 1).trim_end_matches('/'),
        args.site_key
    );
    let (ws, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .context("connect")?;
    let (mut tx, mut rx) = ws.split();
    tx.send(Message::text(
        json!({"type":"hello","visitor_token":null,"page":{"url":"https://loadtest.invalid/","title":"load","referrer":""}})
            .to_string(),
    ))
    .await?;
    if args.scenario == "idle" {
        // Wait for the welcome, then hold the socket open.
        loop {
            match tokio::time::timeout(Duration::from_secs(30), rx.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.contains("\"welcome\"") => break,
                Ok(Some(Ok(_))) => continue,
                _ => bail!("no welcome"),
            }
        }
        totals.lock().await.opened += 1;
        let hold = tokio::time::sleep(Duration::from_secs(args.hold));
        tokio::pin!(hold);
        loop {
            tokio::select! {
                _ = &mut hold => break,
                m = rx.next() => if !matches!(m, Some(Ok(_))) { bail!("the server closed an idle socket") },
            }
        }
        let _ = tx.send(Message::Close(None)).await;
        return Ok(());
    }
    totals.lock().await.opened += 1;
    let n = args.messages;
    let reader = tokio::spawn(async move {
        let (mut acks, mut ack_ms, mut delivery_ms) = (HashSet::new(), Vec::new(), Vec::new());
        let (mut seen, mut dup, mut ooo, mut last_seq) = (HashSet::new(), 0u64, 0u64, 0u64);
        let deadline = Duration::from_secs(30);
        while acks.len() < n || seen.len() < n {
            let frame = match tokio::time::timeout(deadline, rx.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => t,
                Ok(Some(Ok(_))) => continue,
                _ => break,
            };
            let v: Value = serde_json::from_str(&frame).unwrap_or_default();
            let now_us = start.elapsed().as_micros() as f64;
            match v["type"].as_str() {
                Some("ack") => {
                    let cid = v["client_id"].as_str().unwrap_or_default().to_string();
                    let sent_us: f64 = cid
                        .rsplit(':')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(now_us);
                    if acks.insert(cid) {
                        ack_ms.push((now_us - sent_us) / 1000.0);
                    }
                }
                Some("message") => {
                    let seq = v["seq"].as_u64().unwrap_or(0);
                    let body = v["body"].as_str().unwrap_or_default().to_string();
                    let sent_us: f64 = body
                        .rsplit(':')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(now_us);
                    if seq != last_seq + 1 {
                        ooo += 1;
                    }
                    last_seq = last_seq.max(seq);
                    if !seen.insert(body) {
                        dup += 1;
                    } else {
                        delivery_ms.push((now_us - sent_us) / 1000.0);
                    }
                }
                Some("error") => eprintln!("server error: {v}"),
                _ => {}
            }
        }
        (acks.len(), seen.len(), dup, ooo, ack_ms, delivery_ms)
    });
    let gap = if args.rate > 0.0 {
        Duration::from_secs_f64(1.0 / args.rate)
    } else {
        Duration::ZERO
    };
    let mut tick = tokio::time::interval(gap.max(Duration::from_micros(1)));
    for i in 0..n {
        tick.tick().await;
        let stamp = start.elapsed().as_micros();
        let cid = format!("lt{i}:{stamp}");
        let body = format!("load {i}:{stamp}");
        tx.send(Message::text(
            json!({"type":"send","client_id":cid,"body":body}).to_string(),
        ))
        .await?;
        totals.lock().await.sent += 1;
    }
    let (acked, delivered, dup, ooo, ack_ms, delivery_ms) = reader.await?;
    let mut t = totals.lock().await;
    t.acked += acked as u64;
    t.delivered += delivered as u64;
    t.lost += acked.saturating_sub(delivered) as u64;
    t.duplicated += dup;
    t.out_of_order += ooo;
    t.ack_ms.extend(ack_ms);
    t.delivery_ms.extend(delivery_ms);
    let _ = tx.send(Message::Close(None)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Arc::new(Args::parse());
    if args.visitors == 0 || args.messages == 0 {
        bail!("--visitors and --messages must be above 0");
    }
    if !matches!(args.scenario.as_str(), "chat" | "idle") {
        bail!("--scenario must be chat or idle");
    }
    let totals = Arc::new(Mutex::new(Totals::default()));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(args.visitors);
    let ramp_gap = Duration::from_secs_f64(1.0 / args.ramp.max(1.0));
    for _ in 0..args.visitors {
        let (a, t) = (args.clone(), totals.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = visitor(a, start, t.clone()).await {
                eprintln!("visitor failed: {e:#}");
                t.lock().await.failed += 1;
            }
        }));
        tokio::time::sleep(ramp_gap).await;
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut t = totals.lock().await;
    let report = json!({
        "scenario": args.scenario,
        "duration_s": elapsed,
        "connections": {"opened": t.opened, "failed": t.failed},
        "messages": {"sent": t.sent, "acked": t.acked, "delivered": t.delivered,
                     "lost": t.lost, "duplicated": t.duplicated, "out_of_order": t.out_of_order},
        "throughput": {"acked_per_s": t.acked as f64 / elapsed, "delivered_per_s": t.delivered as f64 / elapsed},
        "latency_ms": {"ack": summary(&mut t.ack_ms), "delivery": summary(&mut t.delivery_ms)},
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    if t.lost + t.duplicated + t.out_of_order > 0 || t.failed > 0 || t.acked < t.sent {
        bail!(
            "correctness failure: {} lost, {} duplicated, {} out of order, {} failed connections, {} of {} acked",
            t.lost, t.duplicated, t.out_of_order, t.failed, t.acked, t.sent
        );
    }
    Ok(())
}
