//! `parley-loadtest`: drives real WebSocket clients against Parley (or any
//! server speaking its frames), checks every message while it measures, and
//! compares Parley with its ceiling and its rivals.
//!
//! Scenarios: `chat` (visitors and staff talking), `idle` (connections
//! held), `storm` (everyone drops and resumes at once), `fanout` (staff
//! dashboards receiving every visitor's movements). Without `--url` it
//! starts a `parley` itself on a temp data dir. `--workers K` spreads the
//! clients over K processes (one process can hold only as many sockets as
//! its open-file limit allows). Lost, duplicated or out-of-order messages,
//! failed or dropped connections make it exit 1.

mod chaos;
mod chat;
mod cluster;
mod compare;
mod idle;
mod net;
mod report;
mod run;
mod server;
mod stats;
mod storm;
mod workers;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use run::Run;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "parley-loadtest",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    args: Args,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run `chat` and `idle` against Parley, the bare relay and the Node
    /// baselines in one go, each server pinned to its own core, and print
    /// a table with ratios.
    Compare(compare::CompareArgs),
    /// Chat against a `parley` started here while it is killed with -9 at
    /// seeded random moments and restarted; a ledger of every send, ack
    /// and delivery is checked at the end.
    Chaos(chaos::ChaosArgs),
    /// Start a cluster (a throwaway PostgreSQL and nats-server, N nodes, one
    /// tenant with staff) and keep it until Ctrl-C or SIGTERM; prints one
    /// JSON line with what `--urls` runs against it need.
    Cluster(ClusterArgs),
}

#[derive(clap::Args, Debug)]
struct ClusterArgs {
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Staff agents (`agent{i}@load.test`).
    #[arg(long, default_value_t = 0)]
    staff: usize,
    #[arg(long, default_value_t = 10.0)]
    lease_secs: f64,
}

/// `parley-loadtest cluster`.
async fn hold_cluster(a: ClusterArgs) -> Result<bool> {
    let c = cluster::Cluster::start(a.nodes.max(1), a.staff, a.lease_secs).await?;
    println!(
        "{}",
        json!({
            "urls": c.urls(),
            "site_key": c.site_key,
            "email": c.email,
            "password": server::PASSWORD,
            "pids": c.pids(),
        })
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    c.stop().await;
    Ok(true)
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    Chat,
    Idle,
    Storm,
    Fanout,
}

/// One load run.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// A running server, e.g. http://127.0.0.1:8080. Without it a `parley`
    /// is started (PARLEY_BIN, or the one beside this binary).
    #[arg(long, requires = "site_key", conflicts_with = "urls")]
    pub url: Option<String>,
    /// The nodes of a running cluster, comma-separated: connections (and
    /// staff sign-ins) go to each in turn.
    #[arg(long, requires = "site_key", value_delimiter = ',')]
    pub urls: Vec<String>,
    /// Start a cluster of this many `parley serve --cluster` nodes here (a
    /// throwaway PostgreSQL and nats-server beside them) and spread the
    /// clients over them.
    #[arg(long, conflicts_with_all = ["url", "urls"])]
    pub nodes: Option<usize>,
    /// The site key of a site on that server.
    #[arg(long)]
    pub site_key: Option<String>,
    /// Staff email for `chat`/`fanout` staff; `{i}` becomes the staff index.
    #[arg(long, default_value = "")]
    pub email: String,
    #[arg(long, default_value = "", hide_default_value = true)]
    pub password: String,
    #[arg(long, value_enum, default_value = "chat")]
    pub scenario: Scenario,
    /// Visitors (each with its own conversation in `chat`).
    #[arg(long, default_value_t = 100)]
    pub visitors: usize,
    /// Staff sockets: they share the conversations and answer (`chat`),
    /// or watch the visitors (`fanout`).
    #[arg(long, default_value_t = 0)]
    pub staff: usize,
    /// Messages (or page changes) per second per visitor; 0 = as fast as
    /// the in-flight window allows.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Most unacknowledged messages per visitor.
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Stop each visitor after this many messages.
    #[arg(long)]
    pub messages: Option<usize>,
    /// How long clients send (`chat`, `fanout`) or hold (`idle`), after the ramp.
    #[arg(long, default_value = "10s")]
    pub duration: humantime::Duration,
    /// New connections per second.
    #[arg(long, default_value_t = 1000.0)]
    pub ramp: f64,
    /// Messages each visitor sends just before dropping (`storm`).
    #[arg(long, default_value_t = 3)]
    pub burst: usize,
    /// Client processes.
    #[arg(long, default_value_t = 1)]
    pub workers: u32,
    /// Pin the server to CPU 0 and the clients to the others (taskset).
    #[arg(long)]
    pub pin: bool,
    /// Sample this server process's memory and CPU (when not started here).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Write the JSON summary here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    pub fn scenario_name(&self) -> &'static str {
        match self.scenario {
            Scenario::Chat => "chat",
            Scenario::Idle => "idle",
            Scenario::Storm => "storm",
            Scenario::Fanout => "fanout",
        }
    }
}

/// What a worker process is told by its parent (environment variable).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct WorkerEnv {
    pub index: u32,
    pub of: u32,
    pub url: String,
    pub site_key: String,
    pub email: String,
    pub password: String,
}

pub const WORKER_ENV: &str = "PARLEY_LOADTEST_WORKER";

/// Runs this process's share of a scenario.
pub async fn scenario(run: Arc<Run>) -> Result<()> {
    match run.args.scenario {
        Scenario::Chat => chat::run(run).await,
        Scenario::Idle => idle::idle(run).await,
        Scenario::Storm => storm::storm(run).await,
        Scenario::Fanout => idle::fanout(run).await,
    }
}

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = rt.block_on(async move {
        let result = match cli.cmd {
            Some(Cmd::Compare(c)) => compare::run(c).await,
            Some(Cmd::Chaos(c)) => chaos::run(c).await,
            Some(Cmd::Cluster(c)) => hold_cluster(c).await,
            None => match std::env::var(WORKER_ENV) {
                Ok(env) => workers::child(cli.args, &env).await.map(|_| true),
                Err(_) => load(cli.args).await,
            },
        };
        match result {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                eprintln!("parley-loadtest: {e:#}");
                2
            }
        }
    });
    std::process::exit(code);
}

/// A whole run from this terminal. `Ok(false)` when correctness failed.
async fn load(mut args: Args) -> Result<bool> {
    if !args.urls.is_empty() {
        // One list from here on: every process spreads over all of them.
        args.url = Some(args.urls.join(","));
    }
    if args.visitors == 0 || args.workers == 0 {
        bail!("--visitors and --workers must be above 0");
    }
    if args.staff > 0 && (args.staff as u32) < args.workers {
        bail!("with staff, give at least one staff socket per worker (--staff >= --workers)");
    }
    let nofile = net::raise_nofile();
    let per_process = args.visitors.div_ceil(args.workers as usize) + args.staff;
    if per_process as u64 + 64 > nofile {
        bail!(
            "{per_process} sockets in one process exceed its open-file limit of {nofile}: use --workers {}",
            (args.visitors + args.staff) as u64 / nofile.saturating_sub(100).max(1) + 1
        );
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let pin = args.pin && cores >= 2 && server::which("taskset");
    let (server_cpus, client_cpus) = (pin.then_some("0"), pin.then(|| format!("1-{}", cores - 1)));
    let cluster = match args.nodes {
        Some(n) => Some(
            cluster::Cluster::start(n.max(1), args.staff, 10.0)
                .await
                .context("starting the cluster")?,
        ),
        None => None,
    };
    if let Some(c) = &cluster {
        args.url = Some(c.urls());
        args.site_key = Some(c.site_key.clone());
        args.email = c.email.clone();
        args.password = server::PASSWORD.into();
    }
    let node_samplers: Vec<server::Sampler> = cluster
        .iter()
        .flat_map(|c| c.pids())
        .map(server::Sampler::start)
        .collect();
    let spawned = match &args.url {
        Some(_) => None,
        None => Some(
            server::parley(args.staff, server_cpus)
                .await
                .context("starting parley")?,
        ),
    };
    let env = WorkerEnv {
        index: 0,
        of: args.workers,
        url: spawned
            .as_ref()
            .map(|s| s.base.clone())
            .or(args.url.clone())
            .unwrap_or_default(),
        site_key: spawned
            .as_ref()
            .map(|s| s.site_key.clone())
            .or(args.site_key.clone())
            .unwrap_or_default(),
        email: spawned
            .as_ref()
            .map(|s| s.email.clone())
            .unwrap_or(args.email.clone()),
        password: spawned
            .as_ref()
            .map(|s| s.password.clone())
            .unwrap_or(args.password.clone()),
    };
    let sampler = spawned
        .as_ref()
        .map(|s| s.pid)
        .or(args.server_pid)
        .map(server::Sampler::start);
    let started = std::time::Instant::now();
    let (parts, spans) = if args.workers > 1 || pin {
        workers::parent(&args, env.clone(), client_cpus.as_deref()).await?
    } else {
        let target = net::Target::new(&env.url, &env.site_key, &env.email, &env.password, 0)?;
        let run = Arc::new(Run::new(args.clone(), target, 0, 1, false));
        let (ticker, stop) = run.ticker();
        let result = scenario(run.clone()).await;
        let _ = stop.send(());
        let ticks = ticker.await.unwrap_or_default();
        if let Err(e) = result {
            run.fail(format!("{e:#}"));
        }
        let (raw, span) = run.raw(ticks);
        (vec![raw], span.into_iter().collect())
    };
    let elapsed = started.elapsed().as_secs_f64();
    let server = sampler.map(server::Sampler::finish);
    let nodes: Vec<serde_json::Value> = node_samplers
        .into_iter()
        .map(server::Sampler::finish)
        .collect();
    if let Some(s) = spawned {
        s.stop().await;
    }
    if let Some(c) = cluster {
        c.stop().await;
    }
    let mut merged = stats::merge(&parts);
    if args.scenario == Scenario::Fanout {
        // Every dashboard should see every visitor event of every process.
        let expected = merged.raw.expected_per_staff * args.staff as u64;
        merged.raw.lost = expected.saturating_sub(merged.raw.delivered);
    }
    let busy = match (
        spans.iter().map(|s| s.0).min(),
        spans.iter().map(|s| s.1).max(),
    ) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e6),
        _ => None,
    };
    let config = json!({
        "visitors": args.visitors, "staff": args.staff, "rate": args.rate, "window": args.window,
        "duration": args.duration.to_string(), "workers": args.workers, "target": env.url,
        "spawned": args.url.is_none() || args.nodes.is_some(),
        "nodes": nodes,
        "pinned": pin.then(|| format!("server on CPU 0, load generator on CPUs 1-{} (taskset)", cores - 1)),
    });
    let doc = report::document(args.scenario_name(), &merged, elapsed, busy, server, config);
    println!("{}", report::table(&doc));
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = &args.html {
        std::fs::write(p, report::html(&doc, &merged))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let r = &merged.raw;
    let ok = r.lost + r.duplicated + r.out_of_order + r.failed + r.dropped == 0
        && (args.scenario != Scenario::Chat || r.acked == r.sent);
    if !ok {
        eprintln!(
            "parley-loadtest: correctness failure: {} lost, {} duplicated, {} out of order, {} failed, {} dropped, {} of {} acked",
            r.lost, r.duplicated, r.out_of_order, r.failed, r.dropped, r.acked, r.sent
        );
    }
    Ok(ok)
}
