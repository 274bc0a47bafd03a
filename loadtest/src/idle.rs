//! `idle`: visitors connect and hold their sockets for `--duration`
//! (connections held, server memory per connection). `fanout`: staff
//! dashboards receive every visitor's arrival and page changes; each event
//! carries its send time and a per-visitor counter, so every dashboard's
//! copy is checked for loss, duplicates and order.

use crate::chat::Seen;
use crate::net::{self, Got, In};
use crate::run::Run;
use crate::stats::{add, now_us, Lat};
use anyhow::{bail, Result};
use parley_engine::protocol::ClientFrame;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Holds a visitor socket open until `release`, reading what arrives.
async fn hold(run: &Run, rx: &mut net::Rx, release: &mut watch::Receiver<bool>) -> Result<()> {
    loop {
        tokio::select! {
            _ = release.changed() => return Ok(()),
            got = net::next(rx, Duration::from_secs(3600)) => match got {
                Got::Closed(why) => {
                    add(&run.live.dropped, 1);
                    bail!("the server closed an open visitor socket: {why}");
                }
                Got::Text(_) | Got::Timeout => {}
            }
        }
    }
}

pub async fn idle(run: Arc<Run>) -> Result<()> {
    let (release, rel) = watch::channel(false);
    let tasks = run
        .spawn_visitors(|run, i| {
            let mut rel = rel.clone();
            async move {
                let url = format!("https://loadtest.invalid/idle/{i}");
                let (_tx, mut rx, _) = run.target.visitor(None, url).await?;
                run.connected();
                let held = hold(&run, &mut rx, &mut rel).await;
                run.disconnected();
                held
            }
        })
        .await;
    run.all_connected().await;
    run.barrier("connected").await?;
    if !run.child && !run.args.quiet {
        eprintln!(
            "holding {} connections for {:?}",
            run.live.opened.load(Relaxed),
            run.args.duration
        );
    }
    tokio::time::sleep(run.args.duration.into()).await;
    run.barrier("held").await?;
    let _ = release.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// `https://loadtest.invalid/fanout/{worker}-{visitor}/{n}/{stamp}`.
fn page_url(w: u32, i: usize, n: u64) -> String {
    format!("https://loadtest.invalid/fanout/{w}-{i}/{n}/{}", now_us())
}

fn parse_page(url: &str) -> Option<(&str, u64, u64)> {
    let rest = url.strip_prefix("https://loadtest.invalid/fanout/")?;
    let mut it = rest.split('/');
    Some((
        it.next()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

pub async fn fanout(run: Arc<Run>) -> Result<()> {
    if run.args.staff == 0 {
        bail!("fanout needs --staff");
    }
    let (stop, stop_rx) = watch::channel(false);
    let mut staff = Vec::new();
    for g in run.local_staff() {
        let (r, mut stop) = (run.clone(), stop_rx.clone());
        staff.push(tokio::spawn(async move {
            if let Err(e) = dashboard(&r, g, &mut stop).await {
                r.fail(format!("staff {g}: {e:#}"));
            }
        }));
        tokio::time::sleep(run.ramp_gap()).await;
    }
    run.staff_ready(run.local_staff().len()).await?;
    run.barrier("staff").await?;
    let (release, rel) = watch::channel(false);
    let tasks = run
        .spawn_visitors(|run, i| {
            let mut rel = rel.clone();
            async move {
                let url = page_url(run.worker, i, 0);
                let (mut tx, mut rx, _) = run.target.visitor(None, url).await?;
                run.sent();
                add(&run.live.expected_per_staff, 1);
                run.connected();
                let mut tick = run.send_interval();
                let deadline = run.send_deadline();
                let mut n = 1;
                while tokio::time::Instant::now() < deadline
                    && run.args.messages.is_none_or(|m| (n as usize) <= m)
                {
                    tick.tick().await;
                    let url = page_url(run.worker, i, n);
                    let page = ClientFrame::Page {
                        url,
                        title: "load".into(),
                        referrer: String::new(),
                    };
                    net::send(&mut tx, &page).await?;
                    run.sent();
                    add(&run.live.expected_per_staff, 1);
                    n += 1;
                }
                let held = hold(&run, &mut rx, &mut rel).await;
                run.disconnected();
                held
            }
        })
        .await;
    // Every visitor has sent its pages once each task is past its loop; give
    // dashboards until they go quiet, then let everyone go.
    run.all_connected().await;
    tokio::time::sleep_until(run.send_deadline()).await;
    run.barrier("sent").await?;
    let _ = stop.send(true);
    for s in staff {
        let _ = s.await;
    }
    let _ = release.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// A staff dashboard counting visitor events until `stop` and then quiet.
async fn dashboard(run: &Run, g: usize, stop: &mut watch::Receiver<bool>) -> Result<()> {
    let token = run.login(g).await?;
    let (mut tx, mut rx) = run.target.ws("/ws/staff").await?;
    net::send(&mut tx, &ClientFrame::Auth { token }).await?;
    net::until(&mut rx, "ready", Duration::from_secs(30)).await?;
    run.connected();
    run.staff_up();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut stopping = false;
    loop {
        let wait = if stopping {
            Duration::from_secs(3)
        } else {
            Duration::from_secs(3600)
        };
        let got = tokio::select! {
            _ = stop.changed(), if !stopping => { stopping = true; continue }
            got = net::next(&mut rx, wait) => got,
        };
        match got {
            Got::Text(t) => {
                let f: In = serde_json::from_str(&t)?;
                let Some(v) = f.visitor.filter(|v| v.online) else {
                    continue;
                };
                let Some(page) = v.page else { continue };
                let Some((key, n, stamp)) = parse_page(&page.url) else {
                    continue;
                };
                if seen.entry(key.to_string()).or_default().see(run, n) {
                    run.delivered();
                    run.live
                        .record(Lat::Delivery, now_us().saturating_sub(stamp));
                }
            }
            Got::Timeout if stopping => break,
            Got::Timeout => {}
            Got::Closed(why) => {
                add(&run.live.dropped, 1);
                bail!("dashboard closed: {why}");
            }
        }
    }
    run.disconnected();
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_urls_round_trip() {
        let url = super::page_url(3, 12, 7);
        let (key, n, stamp) = super::parse_page(&url).unwrap();
        assert_eq!((key, n), ("3-12", 7));
        assert!(stamp > 1_600_000_000_000_000);
    }
}
