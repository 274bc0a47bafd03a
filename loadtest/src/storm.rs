//! `storm`: every visitor has a conversation; at one signal all of them send
//! `--burst` messages, drop their sockets without a goodbye, reconnect at
//! once with their visitor token, `resume` from the last seq they saw and
//! re-send the burst with the same client ids (as the widget's offline
//! queue does). A visitor is back when every seq after the one it last saw
//! has arrived, with no gap and no message twice; the time from drop to
//! then is its reconnect latency.

use crate::chat::Seen;
use crate::net::{self, Got, In};
use crate::run::Run;
use crate::stats::{add, now_us, Lat};
use anyhow::{anyhow, bail, Context, Result};
use parley_engine::protocol::ClientFrame;
use parley_engine::ConversationId;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn storm(run: Arc<Run>) -> Result<()> {
    let (go, go_rx) = watch::channel(false);
    let tasks = run
        .spawn_visitors(|run, i| {
            let mut go = go_rx.clone();
            async move { visitor(&run, i, &mut go).await }
        })
        .await;
    run.all_connected().await;
    run.barrier("storm").await?;
    if !run.child && !run.args.quiet {
        eprintln!(
            "storm: {} visitors drop and reconnect now",
            run.live.opened.load(Relaxed)
        );
    }
    let _ = go.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

fn message(w: u32, i: usize, n: u64) -> (String, String) {
    let stamp = now_us();
    (
        format!("{w}.{i}.{n}.{stamp}"),
        format!("{stamp} w{w}v{i} n{n}"),
    )
}

/// The `n` of a body made by [`message`].
fn n_of(body: &str) -> Option<u64> {
    body.rsplit(' ').next()?.strip_prefix('n')?.parse().ok()
}

async fn visitor(run: &Run, i: usize, go: &mut watch::Receiver<bool>) -> Result<()> {
    let w = run.worker;
    // Before the storm: a conversation with one message, seen.
    let url = format!("https://loadtest.invalid/storm/{i}");
    let (mut tx, mut rx, welcome) = run.target.visitor(None, url.clone()).await?;
    let token = serde_json::from_str::<In>(&welcome)?
        .visitor_token
        .map(|t| t.into_owned())
        .ok_or_else(|| anyhow!("welcome without a visitor token"))?;
    let (cid, body) = message(w, i, 0);
    net::send(&mut tx, &net::post(cid, body, None)).await?;
    run.sent();
    let mut seen = Seen::default();
    let (mut conv, mut first) = (None::<ConversationId>, 0u64);
    while conv.is_none() || first == 0 || !seen.has(first) {
        let Got::Text(t) = net::next(&mut rx, Duration::from_secs(30)).await else {
            bail!("visitor {i}: no ack for its first message");
        };
        let f: In = serde_json::from_str(&t)?;
        match &*f.ty {
            "ack" => {
                conv = f.conversation_id;
                first = f.seq;
                run.acked();
            }
            "message" if seen.see(run, f.seq) => run.delivered(),
            "error" => bail!("visitor {i}: {t}"),
            _ => {}
        }
    }
    let conv = conv.context("no conversation")?;
    run.connected();

    // The storm: a burst, then the socket dropped without a close frame.
    let _ = go.changed().await;
    let dropped_at = now_us();
    let burst: Vec<(String, String)> = (1..=run.args.burst as u64)
        .map(|n| message(w, i, n))
        .collect();
    for (cid, body) in &burst {
        net::send(&mut tx, &net::post(cid.clone(), body.clone(), None)).await?;
        run.sent();
    }
    drop((tx, rx));
    run.disconnected();

    // Back: same visitor, resume after the last seq seen, re-send the burst.
    let (mut tx, mut rx, welcome) = run.target.visitor(Some(token), url).await?;
    add(&run.live.open_now, 1);
    let last_seq = serde_json::from_str::<In>(&welcome)?
        .conversation
        .map(|c| c.last_seq)
        .ok_or_else(|| {
            anyhow!("visitor {i}: the welcome after reconnecting has no conversation")
        })?;
    let after = first;
    net::send(
        &mut tx,
        &ClientFrame::Resume {
            conversation_id: conv,
            after_seq: after,
        },
    )
    .await?;
    for (cid, body) in &burst {
        net::send(&mut tx, &net::post(cid.clone(), body.clone(), None)).await?;
    }
    // The contract lets replayed history (seqs up to the welcome's
    // `last_seq`) arrive after newer live messages on a socket that was
    // subscribed at `hello`: each stream must be in order by itself.
    let (mut replayed, mut live) = (Seen::default(), Seen::default());
    let mut acked: HashMap<String, u64> = HashMap::new();
    let mut bodies: HashMap<u64, u64> = HashMap::new();
    let mut top = last_seq;
    loop {
        let complete = acked.len() == burst.len()
            && (after + 1..=top).all(|s| replayed.has(s) || live.has(s))
            && (1..=burst.len() as u64).all(|n| bodies.contains_key(&n));
        if complete {
            break;
        }
        let t = match net::next(&mut rx, run.drain_wait()).await {
            Got::Text(t) => t,
            other => {
                let missing = (after + 1..=top)
                    .filter(|s| !replayed.has(*s) && !live.has(*s))
                    .count()
                    + (1..=burst.len() as u64)
                        .filter(|n| !bodies.contains_key(n))
                        .count();
                add(&run.live.lost, missing as u64);
                if let Got::Closed(_) = other {
                    add(&run.live.dropped, 1);
                }
                bail!("visitor {i}: not resumed: {missing} messages missing");
            }
        };
        let f: In = serde_json::from_str(&t)?;
        match &*f.ty {
            "ack" => {
                let id = f.client_id.as_deref().unwrap_or_default().to_string();
                if !acked.contains_key(&id) {
                    run.acked();
                }
                acked.insert(id, f.seq);
                top = top.max(f.seq);
            }
            "message" => {
                top = top.max(f.seq);
                let stream = if f.seq <= last_seq {
                    &mut replayed
                } else {
                    &mut live
                };
                if stream.see(run, f.seq) {
                    run.delivered();
                    if let Some(n) = f.body.as_deref().and_then(n_of) {
                        if bodies.insert(n, f.seq).is_some() {
                            add(&run.live.duplicated, 1);
                        }
                    }
                }
            }
            "error" => bail!("visitor {i}: {t}"),
            _ => {}
        }
    }
    run.live
        .record(Lat::Reconnect, now_us().saturating_sub(dropped_at));
    run.disconnected();
    Ok(())
}
