//! `chaos`: chat against a `parley` started here, killed with `-9` at
//! seeded random moments and restarted on the same address and data dir.
//! Visitors reconnect with their token, `resume` from the last seq they hold
//! and re-send every unacknowledged message with its `client_id`, as the
//! widget does. Every send, ack and delivery goes in a ledger; at the end
//! each visitor reads its whole conversation back and a checker reports,
//! per conversation: acked-but-lost, duplicated, stored at another seq than
//! acked, a seq shown with two bodies, client-visible gaps, and messages
//! stored though never acked (allowed: the kill came between the fsync and
//! the ack). The kill schedule follows from `--seed`, so a failing seed
//! reproduces its kills.

use crate::net::{self, Got, In, Target};
use crate::server;
use anyhow::{Context, Result};
use parley_engine::protocol::ClientFrame;
use parley_engine::ConversationId;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// `parley-loadtest chaos`.
#[derive(clap::Args, Debug, Clone)]
pub struct ChaosArgs {
    /// Visitors, each with its own conversation.
    #[arg(long, default_value_t = 50)]
    pub visitors: usize,
    /// How many times the server is killed with -9 (and restarted).
    #[arg(long, default_value_t = 5)]
    pub kills: usize,
    /// How long visitors send; the kills fall inside it.
    #[arg(long, default_value = "20s")]
    pub duration: humantime::Duration,
    /// Messages per second per visitor.
    #[arg(long, default_value_t = 4.0)]
    pub rate: f64,
    /// Seed of the kill schedule (default: from the clock; printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run a cluster of this many nodes instead (PostgreSQL and nats-server
    /// started here): each kill takes a node picked by the seed, visitors
    /// spread over the nodes and reconnect to whichever answers.
    #[arg(long)]
    pub nodes: Option<usize>,
    /// The cluster's lease, in seconds (how long a killed owner's tenant waits).
    #[arg(long, default_value_t = 3.0)]
    pub lease_secs: f64,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// The node that owns a tenant now, by the nodes' `/healthz`.
async fn owner_of(c: &crate::cluster::Cluster) -> Option<usize> {
    let http = reqwest::Client::new();
    for (i, n) in c.nodes.iter().enumerate() {
        let Ok(r) = http.get(format!("{}/healthz", n.base)).send().await else {
            continue;
        };
        let v: serde_json::Value = r.json().await.ok()?;
        if v["cluster"]["tenants"].as_u64().unwrap_or(0) > 0 {
            return Some(i);
        }
    }
    None
}

/// What the chaos runs against.
enum Servers {
    One(server::Spawned),
    Cluster(crate::cluster::Cluster),
}

/// SplitMix64: a seeded schedule needs no more.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The kill times (from the start), sorted, at least `gap` apart.
fn schedule(seed: u64, kills: usize, duration: Duration) -> Vec<Duration> {
    let mut rng = Rng(seed);
    let span = duration.as_secs_f64();
    let gap = (span * 0.8 / (kills as f64 + 1.0)).min(2.0);
    let mut at: Vec<f64> = (0..kills)
        .map(|_| span * (0.1 + 0.8 * rng.unit()))
        .collect();
    at.sort_by(f64::total_cmp);
    for i in 1..at.len() {
        at[i] = at[i].max(at[i - 1] + gap);
    }
    at.into_iter().map(Duration::from_secs_f64).collect()
}

/// One visitor's history as the client lived it.
#[derive(Default)]
struct Ledger {
    /// client_id → body, in the order sent.
    sent: Vec<(String, String)>,
    acked: HashMap<String, u64>,
    /// seq → the body each delivery showed for it.
    shown: BTreeMap<u64, String>,
    /// A seq shown with two different bodies.
    changed: u64,
    /// Unacked when their socket died.
    in_doubt: std::collections::HashSet<String>,
    /// The conversation's last seq when the current socket said hello.
    last_at_hello: u64,
    /// In doubt, and then found stored before the socket came back.
    stored_unacked: u64,
    conversation: Option<ConversationId>,
    /// The conversation as read back at the end.
    stored: BTreeMap<u64, String>,
    failed: Option<String>,
}

impl Ledger {
    /// The highest seq up to which every message was shown.
    fn contiguous(&self) -> u64 {
        let mut n = 0;
        while self.shown.contains_key(&(n + 1)) {
            n += 1;
        }
        n
    }

    fn show(&mut self, seq: u64, body: &str) {
        match self.shown.get(&seq) {
            Some(b) if b != body => self.changed += 1,
            Some(_) => {}
            None => {
                self.shown.insert(seq, body.to_string());
            }
        }
    }
}

/// What the checker found in one conversation.
#[derive(Default, Debug, serde::Serialize)]
struct Verdict {
    sent: u64,
    acked: u64,
    stored: u64,
    acked_lost: u64,
    duplicated: u64,
    wrong_seq: u64,
    changed: u64,
    gaps: u64,
    visible_gaps: u64,
    unacked_stored: u64,
}

impl Verdict {
    fn of(l: &Ledger) -> Self {
        let mut v = Verdict {
            sent: l.sent.len() as u64,
            acked: l.acked.len() as u64,
            stored: l.stored.len() as u64,
            changed: l.changed,
            ..Verdict::default()
        };
        let mut at: HashMap<&str, Vec<u64>> = HashMap::new();
        for (seq, body) in &l.stored {
            at.entry(body.as_str()).or_default().push(*seq);
        }
        v.duplicated = at.values().map(|s| s.len() as u64 - 1).sum();
        let bodies: HashMap<&str, &str> = l
            .sent
            .iter()
            .map(|(c, b)| (c.as_str(), b.as_str()))
            .collect();
        for (cid, body) in &bodies {
            match (l.acked.get(*cid), at.get(body)) {
                (Some(seq), Some(seqs)) if !seqs.contains(seq) => v.wrong_seq += 1,
                (Some(_), None) => v.acked_lost += 1,
                (None, Some(_)) => v.unacked_stored += 1,
                _ => {}
            }
        }
        v.unacked_stored += l.stored_unacked;
        if let Some(top) = l.stored.keys().next_back() {
            v.gaps = top - l.stored.len() as u64;
        }
        let shown_top = l.shown.keys().next_back().copied().unwrap_or(0);
        v.visible_gaps = shown_top - l.shown.len() as u64;
        v
    }

    fn broken(&self) -> bool {
        self.acked_lost + self.duplicated + self.wrong_seq + self.changed + self.gaps > 0
            || self.visible_gaps > 0
    }
}

fn body(i: usize, n: u64) -> (String, String) {
    (format!("c{i}.{n}"), format!("chaos v{i} n{n}"))
}

/// Sends every message of the ledger not yet acked.
async fn resend(tx: &mut net::Tx, ledger: &Mutex<Ledger>) -> Result<()> {
    let unacked: Vec<(String, String)> = {
        let l = ledger.lock().expect("ledger");
        l.sent
            .iter()
            .filter(|(c, _)| !l.acked.contains_key(c))
            .cloned()
            .collect()
    };
    for (cid, b) in unacked {
        net::send(tx, &net::post(cid, b, None)).await?;
    }
    Ok(())
}

/// Takes one frame into the ledger.
fn take(ledger: &Mutex<Ledger>, text: &str) -> Result<()> {
    let f: In = serde_json::from_str(text)?;
    let mut l = ledger.lock().expect("ledger");
    match &*f.ty {
        "ack" => {
            if let Some(c) = f.conversation_id {
                l.conversation = Some(c);
            }
            let cid = f.client_id.as_deref().unwrap_or_default().to_string();
            if l.in_doubt.remove(&cid) && f.seq <= l.last_at_hello {
                l.stored_unacked += 1;
            }
            l.acked.insert(cid, f.seq);
        }
        "message" => {
            if let Some(b) = f.body.as_deref() {
                l.show(f.seq, b);
            }
        }
        _ => {}
    }
    Ok(())
}

/// One visitor: chat through every restart until `stop`, then make sure
/// every message is acked and read the conversation back.
async fn visitor(
    target: Arc<Target>,
    i: usize,
    rate: f64,
    ledger: Arc<Mutex<Ledger>>,
    mut stop: watch::Receiver<bool>,
) {
    let url = format!("https://chaos.invalid/{i}");
    let mut token: Option<String> = None;
    let every = Duration::from_secs_f64(1.0 / rate.max(0.01));
    let mut n = 0u64;
    let mut settle_until: Option<Instant> = None;
    loop {
        if settle_until.is_some_and(|d| Instant::now() > d) {
            ledger.lock().expect("ledger").failed = Some("unacked messages at the end".into());
            return;
        }
        let Ok((mut tx, mut rx, welcome)) = target.visitor(token.clone(), url.clone()).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if let Ok(w) = serde_json::from_str::<In>(&welcome) {
            token = w.visitor_token.map(|t| t.into_owned()).or(token);
            let mut l = ledger.lock().expect("ledger");
            l.last_at_hello = w.conversation.as_ref().map_or(0, |c| c.last_seq);
            if let Some(c) = w.conversation.as_ref() {
                l.conversation = Some(c.id);
            }
        }
        let (conv, after) = {
            let l = ledger.lock().expect("ledger");
            (l.conversation, l.contiguous())
        };
        let resumed = match conv {
            Some(c) => net::send(
                &mut tx,
                &ClientFrame::Resume {
                    conversation_id: c,
                    after_seq: after,
                },
            )
            .await
            .is_ok(),
            None => true,
        };
        if !resumed || resend(&mut tx, &ledger).await.is_err() {
            continue;
        }
        let mut tick = tokio::time::interval(every);
        let mut again = tokio::time::interval(Duration::from_secs(1));
        again.tick().await;
        loop {
            let stopping = *stop.borrow();
            if stopping && settle_until.is_none() {
                settle_until = Some(Instant::now() + Duration::from_secs(30));
            }
            if stopping {
                let l = ledger.lock().expect("ledger");
                if l.sent.iter().all(|(c, _)| l.acked.contains_key(c)) {
                    break;
                }
            }
            tokio::select! {
                _ = tick.tick(), if !stopping => {
                    n += 1;
                    let (cid, b) = body(i, n);
                    ledger.lock().expect("ledger").sent.push((cid.clone(), b.clone()));
                    if net::send(&mut tx, &net::post(cid, b, None)).await.is_err() {
                        break;
                    }
                }
                // Refused (`unavailable`, `overloaded`) or lost in flight: again.
                _ = again.tick() => {
                    if resend(&mut tx, &ledger).await.is_err() {
                        break;
                    }
                }
                got = net::next(&mut rx, Duration::from_secs(5)) => match got {
                    Got::Text(t) => { let _ = take(&ledger, &t); }
                    Got::Closed(_) => break,
                    Got::Timeout => {}
                },
                _ = stop.changed() => {}
            }
        }
        let done = {
            let mut l = ledger.lock().expect("ledger");
            let unacked: Vec<String> = l
                .sent
                .iter()
                .filter(|(c, _)| !l.acked.contains_key(c))
                .map(|(c, _)| c.clone())
                .collect();
            let done = *stop.borrow() && unacked.is_empty();
            l.in_doubt.extend(unacked);
            done
        };
        if done {
            break;
        }
    }
    // Read the whole conversation back.
    let Some(conv) = ledger.lock().expect("ledger").conversation else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Ok((mut tx, mut rx, welcome)) = target.visitor(token.clone(), url.clone()).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let last = serde_json::from_str::<In>(&welcome)
            .ok()
            .and_then(|w| w.conversation.map(|c| c.last_seq))
            .unwrap_or(0);
        let sent = net::send(
            &mut tx,
            &ClientFrame::Resume {
                conversation_id: conv,
                after_seq: 0,
            },
        )
        .await;
        if sent.is_err() {
            continue;
        }
        let mut stored = BTreeMap::new();
        while (stored.len() as u64) < last {
            match net::next(&mut rx, Duration::from_secs(10)).await {
                Got::Text(t) => {
                    if let Ok(f) = serde_json::from_str::<In>(&t) {
                        if f.ty == "message" && f.conversation_id == Some(conv) {
                            if let Some(b) = f.body {
                                let b = b.into_owned();
                                match stored.get(&f.seq) {
                                    Some(was) if *was != b => {
                                        ledger.lock().expect("ledger").changed += 1
                                    }
                                    Some(_) => {}
                                    None => {
                                        stored.insert(f.seq, b);
                                    }
                                }
                            }
                        }
                    }
                }
                _ => break,
            }
        }
        if (stored.len() as u64) >= last {
            ledger.lock().expect("ledger").stored = stored;
            return;
        }
    }
    ledger.lock().expect("ledger").failed = Some("the conversation could not be read back".into());
}

/// Runs the whole chaos test; `Ok(false)` when the checker found a fault.
pub async fn run(a: ChaosArgs) -> Result<bool> {
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let duration: Duration = a.duration.into();
    let kills = schedule(seed, a.kills, duration);
    if !a.quiet {
        eprintln!("chaos: seed {seed}, kills at {kills:?}");
    }
    let mut servers = match a.nodes {
        Some(n) => Servers::Cluster(
            crate::cluster::Cluster::start(n.max(1), 0, a.lease_secs)
                .await
                .context("starting the cluster")?,
        ),
        None => Servers::One(server::parley(0, None).await.context("starting parley")?),
    };
    let target = Arc::new(match &servers {
        Servers::One(srv) => Target::new(&srv.base, &srv.site_key, &srv.email, &srv.password, 0)?,
        Servers::Cluster(c) => Target::new(&c.urls(), &c.site_key, &c.email, server::PASSWORD, 0)?,
    });
    let mut pick = Rng(seed ^ 0x5eed);
    let (stop, stop_rx) = watch::channel(false);
    let ledgers: Vec<Arc<Mutex<Ledger>>> = (0..a.visitors).map(|_| Default::default()).collect();
    let tasks: Vec<_> = ledgers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            tokio::spawn(visitor(
                target.clone(),
                i,
                a.rate,
                l.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();
    let start = Instant::now();
    let mut restarts = Vec::new();
    let mut killed = Vec::new();
    for at in &kills {
        tokio::time::sleep_until((start + *at).into()).await;
        let t = Instant::now();
        let (srv, which) = match &mut servers {
            Servers::One(s) => (s, 0),
            Servers::Cluster(c) => {
                // Every other kill takes the tenant's owner (its /healthz
                // says it holds leases); the rest a node picked by the seed.
                let owner = if restarts.len() % 2 == 0 {
                    owner_of(c).await
                } else {
                    None
                };
                let k = owner.unwrap_or((pick.next() % c.nodes.len() as u64) as usize);
                (&mut c.nodes[k], k)
            }
        };
        srv.kill9_and_restart().await.context("restarting parley")?;
        restarts.push(t.elapsed().as_secs_f64());
        killed.push(which);
        if !a.quiet {
            eprintln!(
                "chaos: killed node {which} at {:.1} s, back in {:.2} s",
                at.as_secs_f64(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    tokio::time::sleep_until((start + duration).into()).await;
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
    match servers {
        Servers::One(s) => s.stop().await,
        Servers::Cluster(c) => c.stop().await,
    }

    let mut total = Verdict::default();
    let mut broken = Vec::new();
    let mut failed = Vec::new();
    for (i, l) in ledgers.iter().enumerate() {
        let l = l.lock().expect("ledger");
        let v = Verdict::of(&l);
        if let Some(why) = &l.failed {
            failed.push(json!({"visitor": i, "why": why}));
        }
        for (sum, x) in [
            (&mut total.sent, v.sent),
            (&mut total.acked, v.acked),
            (&mut total.stored, v.stored),
            (&mut total.acked_lost, v.acked_lost),
            (&mut total.duplicated, v.duplicated),
            (&mut total.wrong_seq, v.wrong_seq),
            (&mut total.changed, v.changed),
            (&mut total.gaps, v.gaps),
            (&mut total.visible_gaps, v.visible_gaps),
            (&mut total.unacked_stored, v.unacked_stored),
        ] {
            *sum += x;
        }
        if v.broken() {
            broken.push(json!({"visitor": i, "conversation": l.conversation, "verdict": v}));
        }
    }
    let ok = !total.broken() && failed.is_empty();
    let doc = json!({
        "scenario": "chaos",
        "seed": seed,
        "visitors": a.visitors,
        "kills": kills.len(),
        "kill_at_s": kills.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
        "restart_s": restarts,
        "nodes": a.nodes.unwrap_or(1),
        "killed_nodes": killed,
        "duration_s": duration.as_secs_f64(),
        "totals": total,
        "broken": broken,
        "failed": failed,
        "ok": ok,
    });
    println!(
        "chaos seed {seed}: {} kills, {} visitors; sent {}, acked {}, stored {}; acked-but-lost {}, duplicated {}, \
         at another seq {}, shown changed {}, gaps {}, client-visible gaps {}; stored though unacked {} (allowed){}",
        kills.len(),
        a.visitors,
        total.sent,
        total.acked,
        total.stored,
        total.acked_lost,
        total.duplicated,
        total.wrong_seq,
        total.changed,
        total.gaps,
        total.visible_gaps,
        total.unacked_stored,
        if failed.is_empty() { String::new() } else { format!("; {} visitors failed", failed.len()) },
    );
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if !ok {
        eprintln!("parley-loadtest: chaos found faults; rerun with --seed {seed}");
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_schedule_inside_the_run() {
        let d = Duration::from_secs(20);
        let a = schedule(7, 5, d);
        assert_eq!(a, schedule(7, 5, d));
        assert_ne!(a, schedule(8, 5, d));
        assert_eq!(a.len(), 5);
        assert!(a.windows(2).all(|w| w[1] > w[0]));
        assert!(a.iter().all(|t| *t >= d / 10));
    }

    #[test]
    fn the_checker_names_each_fault() {
        let mut l = Ledger::default();
        for n in 1..=4 {
            let (c, b) = body(0, n);
            l.sent.push((c, b));
        }
        // 1 acked and stored; 2 acked, stored elsewhere; 3 acked, lost;
        // 4 never acked but stored.
        for (c, s) in [("c0.1", 1), ("c0.2", 3), ("c0.3", 2)] {
            l.acked.insert(c.into(), s);
        }
        l.stored.insert(1, "chaos v0 n1".into());
        l.stored.insert(2, "chaos v0 n4".into());
        l.stored.insert(4, "chaos v0 n2".into());
        l.show(1, "chaos v0 n1");
        l.show(1, "something else");
        l.show(3, "x");
        let v = Verdict::of(&l);
        assert_eq!(
            (
                v.wrong_seq,
                v.acked_lost,
                v.unacked_stored,
                v.gaps,
                v.changed,
                v.visible_gaps
            ),
            (1, 1, 1, 1, 1, 1),
            "{v:?}"
        );
        assert!(v.broken());
    }
}
