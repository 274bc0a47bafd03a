//! `compare`: the same `chat` and `idle` runs against Parley, the bare
//! relay (the ceiling, `parley-relay` from `benches/`), and the seeds' own
//! stack — a Node.js `ws` relay, alone and storing every message in
//! PostgreSQL before acking. Every server gets a fresh start on CPU 0 and
//! the load generator runs on the other CPUs (taskset), when there are two.

use crate::cluster::Postgres;
use crate::server::{self, Spawned};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// How long each `chat` run sends and each `idle` run holds.
    #[arg(long, default_value = "20s")]
    pub duration: humantime::Duration,
    /// Visitors in the `chat` runs.
    #[arg(long, default_value_t = 1000)]
    pub visitors: usize,
    /// Messages per second per visitor in `chat`; 0 = saturate (in-flight window).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// In-flight window per visitor in `chat`.
    #[arg(long, default_value_t = 8)]
    pub window: usize,
    /// Connections in the `idle` runs.
    #[arg(long, default_value_t = 10_000)]
    pub idle_visitors: usize,
    /// Which targets, in order: `parley`, `relay`, `node`, `node-pg`, and
    /// `parley@PATH` for another build of Parley (the one before a change).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "parley,relay,node,node-pg"
    )]
    pub targets: Vec<String>,
    /// The Node baseline (npm project with server.js).
    #[arg(long, default_value = "loadtest/baselines/node-ws")]
    pub node_dir: PathBuf,
    /// Write every run's JSON and the table here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

const LABELS: [(&str, &str); 4] = [
    ("parley", "Parley (actors + sled, durable acks)"),
    ("relay", "bare relay (tokio + fastwebsockets)"),
    ("node", "Node ws relay (no storage)"),
    ("node-pg", "Node ws + PostgreSQL (ack after INSERT)"),
];

/// Starts one target; `Err` says why it cannot run here.
async fn start(
    name: &str,
    a: &CompareArgs,
    cpus: Option<&str>,
) -> Result<(Spawned, Option<Postgres>)> {
    match name {
        "parley" => Ok((server::parley(0, cpus).await?, None)),
        other if other.starts_with("parley@") => {
            let bin = Path::new(&other["parley@".len()..]);
            if !bin.is_file() {
                bail!("{} is not a file", bin.display());
            }
            Ok((server::parley_from(bin, 0, cpus).await?, None))
        }
        "relay" => {
            let bin = server::sibling("parley-relay", "PARLEY_RELAY_BIN")?;
            let mut cmd = server::pinned(cpus, &bin);
            cmd.args(["--listen", "127.0.0.1:0"]);
            Ok((server::start(cmd, "parley-relay").await?, None))
        }
        "node" | "node-pg" => {
            if !server::which("node") {
                bail!("Node.js is not installed");
            }
            let script = a.node_dir.join("server.js");
            if !a.node_dir.join("node_modules").is_dir() {
                let ok = Command::new("npm")
                    .arg("ci")
                    .arg("--silent")
                    .current_dir(&a.node_dir)
                    .status()
                    .await?;
                if !ok.success() {
                    bail!("`npm ci` failed in {}", a.node_dir.display());
                }
            }
            let pg = if name == "node-pg" {
                Some(Postgres::start(cpus).await?)
            } else {
                None
            };
            let mut cmd = server::pinned(cpus, Path::new("node"));
            cmd.arg(&script).args(["--port", "0"]);
            if let Some(pg) = &pg {
                cmd.args(["--pg", &pg.url()]);
            }
            match server::start(cmd, name).await {
                Ok(s) => Ok((s, pg)),
                Err(e) => {
                    if let Some(pg) = pg {
                        pg.stop().await;
                    }
                    Err(e)
                }
            }
        }
        other => bail!("unknown target {other}"),
    }
}

/// One `parley-loadtest` run against a started target, as a child process.
async fn measure(
    s: &Spawned,
    scenario: &str,
    a: &CompareArgs,
    cpus: Option<&str>,
) -> Result<Value> {
    let out = tempfile::NamedTempFile::new()?;
    let me = std::env::current_exe()?;
    let mut cmd = server::pinned(cpus, &me);
    let visitors = if scenario == "idle" {
        a.idle_visitors
    } else {
        a.visitors
    };
    cmd.args([
        "--url",
        &s.base,
        "--site-key",
        &s.site_key,
        "--scenario",
        scenario,
        "--quiet",
    ])
    .args([
        "--visitors",
        &visitors.to_string(),
        "--duration",
        &a.duration.to_string(),
    ])
    .args([
        "--rate",
        &a.rate.to_string(),
        "--window",
        &a.window.to_string(),
        "--ramp",
        "2000",
    ])
    .args(["--server-pid", &s.pid.to_string(), "--json"])
    .arg(out.path());
    let status = cmd.status().await.context("running a load child")?;
    let mut v: Value = serde_json::from_slice(&std::fs::read(out.path())?)
        .with_context(|| format!("{scenario} run wrote no result"))?;
    v["correct"] = json!(status.success());
    Ok(v)
}

fn f(v: &Value, path: &[&str]) -> f64 {
    path.iter().fold(v, |v, k| &v[*k]).as_f64().unwrap_or(0.0)
}

pub async fn run(a: CompareArgs) -> Result<bool> {
    crate::net::raise_nofile();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let pin = cores >= 2 && server::which("taskset");
    let (server_cpus, client_cpus) = (pin.then_some("0"), pin.then(|| format!("1-{}", cores - 1)));
    let pinning = if pin {
        format!(
            "every server (and its PostgreSQL) on CPU 0, the load generator on CPUs 1-{}",
            cores - 1
        )
    } else {
        "not pinned (needs two CPUs and taskset): servers and load generator share the CPUs".into()
    };
    eprintln!("compare: {pinning}");
    let mut rows = Vec::new();
    let mut all_correct = true;
    for name in &a.targets {
        let label = LABELS
            .iter()
            .find(|l| l.0 == name)
            .map(|l| l.1)
            .unwrap_or(name);
        let mut row = json!({"target": name, "label": label});
        for scenario in ["chat", "idle"] {
            eprintln!("compare: {label}: {scenario} ...");
            match start(name, &a, server_cpus).await {
                Ok((s, pg)) => {
                    let r = measure(&s, scenario, &a, client_cpus.as_deref()).await;
                    s.stop().await;
                    if let Some(pg) = pg {
                        pg.stop().await;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    match r {
                        Ok(v) => {
                            // A baseline's own errors are reported in its
                            // row; only Parley's correctness decides the exit.
                            if name.starts_with("parley") {
                                all_correct &= v["correct"].as_bool().unwrap_or(false);
                            }
                            row[scenario] = v;
                        }
                        Err(e) => row[scenario] = json!({"skipped": format!("{e:#}")}),
                    }
                }
                Err(e) => {
                    eprintln!("compare: {label}: skipped: {e:#}");
                    row[scenario] = json!({"skipped": format!("{e:#}")});
                }
            }
        }
        rows.push(row);
    }
    let table = render(&rows, &pinning, &a);
    println!("{table}");
    if let Some(p) = &a.json {
        let summary = summarise(&rows);
        std::fs::write(
            p,
            serde_json::to_vec_pretty(&json!({
                "pinning": pinning,
                "summary": summary,
                "table": table,
                "runs": rows,
            }))?,
        )?;
    }
    Ok(all_correct)
}

/// One row's figures, as the table shows them.
struct Figures {
    acked: f64,
    delivered: f64,
    ack_p99: f64,
    delivery_p99: f64,
    errors: f64,
    held: f64,
    kib_per_conn: f64,
}

impl Figures {
    fn of(r: &Value) -> Option<Self> {
        let (c, i) = (&r["chat"], &r["idle"]);
        if c["skipped"].is_string() {
            return None;
        }
        let errors = ["lost", "duplicated", "out_of_order"]
            .iter()
            .map(|k| f(c, &["messages", k]))
            .sum::<f64>()
            + f(c, &["connections", "failed"]);
        Some(Self {
            acked: f(c, &["throughput", "acked_per_s"]),
            delivered: f(c, &["throughput", "delivered_per_s"]),
            ack_p99: f(c, &["latency_ms", "ack", "p99"]),
            delivery_p99: f(c, &["latency_ms", "delivery", "p99"]),
            errors,
            held: f(i, &["connections", "opened"]) - f(i, &["connections", "dropped"]),
            kib_per_conn: f(i, &["server", "rss_per_connection_bytes"]) / 1024.0,
        })
    }
}

/// Parley's delivered rate in this run, the numerator of every ratio.
fn parley_delivered(rows: &[Value]) -> Option<f64> {
    rows.iter()
        .find(|r| r["target"] == "parley")
        .and_then(Figures::of)
        .map(|f| f.delivered)
}

/// The table as data, so runs can be compared by script: one object per
/// target with its figures and `parley_ratio` (Parley's delivered/s ÷ its).
fn summarise(rows: &[Value]) -> Value {
    let parley = parley_delivered(rows);
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut o = json!({"target": r["target"], "label": r["label"]});
            match Figures::of(r) {
                None => o["skipped"] = r["chat"]["skipped"].clone(),
                Some(x) => {
                    o["acked_per_s"] = json!(x.acked);
                    o["delivered_per_s"] = json!(x.delivered);
                    o["ack_p99_ms"] = json!(x.ack_p99);
                    o["delivery_p99_ms"] = json!(x.delivery_p99);
                    o["errors"] = json!(x.errors);
                    o["correct"] = json!(
                        r["chat"]["correct"].as_bool().unwrap_or(false)
                            && r["idle"]["correct"].as_bool().unwrap_or(true)
                    );
                    o["idle_held"] = json!(x.held);
                    o["idle_kib_per_connection"] = json!(x.kib_per_conn);
                    o["parley_ratio"] = match parley {
                        Some(p) if x.delivered > 0.0 && r["target"] != "parley" => {
                            json!(p / x.delivered)
                        }
                        _ => Value::Null,
                    };
                }
            }
            o
        })
        .collect();
    json!(out)
}

fn render(rows: &[Value], pinning: &str, a: &CompareArgs) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nchat: {} visitors, {} for {}; idle: {} connections held for {}\ncpu: {pinning}\n",
        a.visitors,
        if a.rate > 0.0 {
            format!("{} msg/s each", a.rate)
        } else {
            format!("saturated (window {})", a.window)
        },
        a.duration,
        a.idle_visitors,
        a.duration
    );
    let _ = writeln!(
        s,
        "{:<42} {:>10} {:>12} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8}",
        "target",
        "acked/s",
        "delivered/s",
        "ack p99",
        "dlv p99",
        "errors",
        "held",
        "KiB/conn",
        "Parley×"
    );
    let parley = parley_delivered(rows);
    for r in rows {
        let label = r["label"].as_str().unwrap_or("");
        let Some(x) = Figures::of(r) else {
            let why = r["chat"]["skipped"].as_str().unwrap_or("");
            let _ = writeln!(s, "{label:<42} skipped: {why}");
            continue;
        };
        let ratio = match parley {
            Some(p) if x.delivered > 0.0 && r["target"] != "parley" => {
                format!("{:.2}", p / x.delivered)
            }
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "{label:<42} {:>10.0} {:>12.0} {:>7.1}ms {:>7.1}ms {:>8} {:>8} {:>9.1} {:>8}",
            x.acked,
            x.delivered,
            x.ack_p99,
            x.delivery_p99,
            x.errors,
            x.held,
            x.kib_per_conn,
            ratio,
        );
    }
    let _ = writeln!(s, "\nParley× = Parley's delivered/s divided by that target's (above 1: Parley delivers more).");
    s
}
