//! Several client processes for one run. Each child is this binary with the
//! same arguments and a `PARLEY_LOADTEST_WORKER` environment variable; it
//! writes lines to its stdout: `P tick` each second, `B name` at a barrier
//! (then waits for `go` on stdin), and `R result` at the end.

use crate::net::{self, Target};
use crate::run::{emit, Run};
use crate::stats::{self, Raw, Tick};
use crate::{Args, WorkerEnv, WORKER_ENV};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(serde::Serialize, serde::Deserialize)]
struct Result_ {
    raw: Raw,
    span: Option<(u64, u64)>,
}

/// The child side: run this process's share and report.
pub async fn child(args: Args, env: &str) -> Result<()> {
    let env: WorkerEnv = serde_json::from_str(env).context("bad worker environment")?;
    net::raise_nofile();
    let target = Target::new(
        &env.url,
        &env.site_key,
        &env.email,
        &env.password,
        env.index,
    )?;
    let run = Arc::new(Run::new(args, target, env.index, env.of, true));
    let (ticker, stop) = run.ticker();
    let result = crate::scenario(run.clone()).await;
    let _ = stop.send(());
    let ticks = ticker.await.unwrap_or_default();
    if let Err(e) = result {
        run.fail(format!("{e:#}"));
    }
    let (raw, span) = run.raw(ticks);
    emit(&format!(
        "R {}",
        serde_json::to_string(&Result_ { raw, span })?
    ));
    Ok(())
}

/// The parent side: start `of` children, pass barriers, show progress,
/// collect their results.
pub async fn parent(
    args: &Args,
    env: WorkerEnv,
    cpus: Option<&str>,
) -> Result<(Vec<Raw>, Vec<(u64, u64)>)> {
    let k = args.workers;
    let me = std::env::current_exe()?;
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<(usize, Option<String>)>();
    let mut stdins = Vec::new();
    let mut children = Vec::new();
    for i in 0..k {
        let mut cmd = crate::server::pinned(cpus, &me);
        let env = WorkerEnv {
            index: i,
            ..env.clone()
        };
        cmd.args(std::env::args_os().skip(1))
            .env(WORKER_ENV, serde_json::to_string(&env)?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting a worker")?;
        stdins.push(child.stdin.take());
        let out = child.stdout.take().context("worker stdout")?;
        let tx = lines_tx.clone();
        tokio::spawn(async move {
            let mut r = BufReader::new(out).lines();
            while let Ok(Some(l)) = r.next_line().await {
                let _ = tx.send((i as usize, Some(l)));
            }
            let _ = tx.send((i as usize, None));
        });
        children.push(child);
    }
    drop(lines_tx);
    let mut results: Vec<Option<Result_>> = (0..k).map(|_| None).collect();
    let mut barriers: HashMap<String, usize> = HashMap::new();
    let mut ticks: BTreeMap<u64, Vec<Tick>> = BTreeMap::new();
    let mut prev: Option<Tick> = None;
    let mut ended = 0;
    while let Some((i, line)) = lines.recv().await {
        let Some(line) = line else {
            ended += 1;
            if ended == k as usize {
                break;
            }
            continue;
        };
        if let Some(name) = line.strip_prefix("B ") {
            let n = barriers.entry(name.to_string()).or_default();
            *n += 1;
            if *n == k as usize {
                for s in stdins.iter_mut().flatten() {
                    let _ = s.write_all(b"go\n").await;
                    let _ = s.flush().await;
                }
            }
        } else if let Some(t) = line.strip_prefix("P ") {
            let tick: Tick = serde_json::from_str(t)?;
            let t = tick.t;
            let at = ticks.entry(t).or_default();
            at.push(tick);
            if at.len() == k as usize && !args.quiet {
                let sum = sum_ticks(at);
                crate::report::progress(&sum, prev.as_ref(), "");
                prev = Some(sum);
            }
        } else if let Some(r) = line.strip_prefix("R ") {
            results[i] = Some(serde_json::from_str(r)?);
        }
    }
    for mut c in children {
        let _ = c.wait().await;
    }
    let mut parts = Vec::new();
    let mut spans = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        let Some(r) = r else {
            bail!("worker {i} ended without a result");
        };
        parts.push(r.raw);
        spans.extend(r.span);
    }
    Ok((parts, spans))
}

/// The ticks of one second from every worker, as one.
fn sum_ticks(ts: &[Tick]) -> Tick {
    let (mut ack, mut delivery) = (stats::histogram(), stats::histogram());
    let mut out = Tick {
        t: ts[0].t,
        ..Default::default()
    };
    for t in ts {
        out.open += t.open;
        out.acked += t.acked;
        out.delivered += t.delivered;
        t.ack.add_to(&mut ack);
        t.delivery.add_to(&mut delivery);
    }
    out.ack = stats::Pairs::of(&ack);
    out.delivery = stats::Pairs::of(&delivery);
    out
}
