//! One load-generating process: its share of the clients, its counters, and
//! the hooks that let a parent coordinate several such processes.

use crate::net::Target;
use crate::stats::{add, now_us, Live, Raw, Tick};
use crate::Args;
use anyhow::{bail, Context, Result};
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// One process's part of a run.
pub struct Run {
    pub args: Args,
    pub target: Target,
    pub live: Live,
    /// This process's index and how many processes take part.
    pub worker: u32,
    pub workers: u32,
    /// Whether a parent reads our stdout (progress, barriers, the result).
    pub child: bool,
    pub start: Instant,
    staff_up: AtomicU64,
    errors: AtomicU64,
    first_send: AtomicU64,
    last_done: AtomicU64,
    stdin: tokio::sync::Mutex<Option<tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>>>,
}

impl Run {
    pub fn new(args: Args, target: Target, worker: u32, workers: u32, child: bool) -> Self {
        Self {
            args,
            target,
            live: Live::default(),
            worker,
            workers,
            child,
            start: Instant::now(),
            staff_up: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_send: AtomicU64::new(u64::MAX),
            last_done: AtomicU64::new(0),
            stdin: tokio::sync::Mutex::new(
                child.then(|| tokio::io::BufReader::new(tokio::io::stdin()).lines()),
            ),
        }
    }

    /// Global indices of the staff sockets this process runs.
    pub fn local_staff(&self) -> Vec<usize> {
        (0..self.args.staff)
            .filter(|g| *g as u32 % self.workers == self.worker)
            .collect()
    }

    /// How many visitors this process runs.
    pub fn local_visitors(&self) -> usize {
        let (n, k, w) = (
            self.args.visitors,
            self.workers as usize,
            self.worker as usize,
        );
        n / k + usize::from(w < n % k)
    }

    pub fn ramp_gap(&self) -> Duration {
        let per_process = self.args.ramp.max(1.0) / f64::from(self.workers);
        Duration::from_secs_f64(1.0 / per_process)
    }

    /// Spawns this process's visitors at the ramp rate.
    pub async fn spawn_visitors<F, Fut>(self: &Arc<Self>, f: F) -> Vec<JoinHandle<()>>
    where
        F: Fn(Arc<Self>, usize) -> Fut,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let n = self.local_visitors();
        let gap = self.ramp_gap();
        let mut next = Instant::now();
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let fut = f(self.clone(), i);
            let run = self.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = fut.await {
                    run.fail(format!("{e:#}"));
                }
            }));
            next += gap;
            tokio::time::sleep_until(next).await;
        }
        tasks
    }

    /// Counts a failure and shows the first few.
    pub fn fail(&self, what: String) {
        add(&self.live.failed, 1);
        self.note(what);
    }

    /// Shows one of the first few problems that are counted elsewhere.
    pub fn note(&self, what: String) {
        if self.errors.fetch_add(1, Relaxed) < 10 {
            eprintln!("parley-loadtest: {what}");
        }
    }

    pub fn connected(&self) {
        add(&self.live.opened, 1);
        add(&self.live.open_now, 1);
    }

    pub fn disconnected(&self) {
        self.live.open_now.fetch_sub(1, Relaxed);
    }

    pub fn sent(&self) {
        add(&self.live.sent, 1);
        self.first_send.fetch_min(now_us(), Relaxed);
    }

    pub fn acked(&self) {
        add(&self.live.acked, 1);
        self.last_done.fetch_max(now_us(), Relaxed);
    }

    pub fn delivered(&self) {
        add(&self.live.delivered, 1);
        self.last_done.fetch_max(now_us(), Relaxed);
    }

    /// The span from the first send to the last ack or delivery, in seconds.
    pub fn busy_span(&self) -> Option<(u64, u64)> {
        let (a, b) = (self.first_send.load(Relaxed), self.last_done.load(Relaxed));
        (a != u64::MAX && b > a).then_some((a, b))
    }

    /// Waits until every local visitor (and staff socket) has connected or failed.
    pub async fn all_connected(&self) {
        let n = self.local_visitors() as u64 + self.staff_count();
        while self.live.opened.load(Relaxed) + self.live.failed.load(Relaxed) < n {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Staff sockets signed in so far.
    pub fn staff_count(&self) -> u64 {
        self.staff_up.load(Relaxed)
    }

    pub fn staff_up(&self) {
        add(&self.staff_up, 1);
    }

    /// Waits until `n` staff sockets of this process are signed in.
    pub async fn staff_ready(&self, n: usize) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while (self.staff_up.load(Relaxed) as usize) < n {
            if Instant::now() > deadline || self.live.failed.load(Relaxed) > 0 {
                bail!("staff did not all sign in");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    pub async fn login(&self, global: usize) -> Result<String> {
        let local = std::net::Ipv4Addr::new(
            127,
            1 + (self.worker % 250) as u8,
            251,
            2 + (global % 250) as u8,
        );
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if self.target.addr.ip().is_loopback() {
            b = b.local_address(std::net::IpAddr::V4(local));
        }
        self.target.login(&b.build()?, global).await
    }

    /// Waits until every process reached `name` (a no-op alone).
    pub async fn barrier(&self, name: &str) -> Result<()> {
        if !self.child {
            return Ok(());
        }
        emit(&format!("B {name}"));
        let mut stdin = self.stdin.lock().await;
        let lines = stdin.as_mut().context("no stdin")?;
        match lines.next_line().await? {
            Some(l) if l.trim() == "go" => Ok(()),
            other => bail!("the parent stopped the run at {name}: {other:?}"),
        }
    }

    /// Paces sends at `--rate` per connection (as fast as allowed at 0).
    pub fn send_interval(&self) -> tokio::time::Interval {
        let gap = if self.args.rate > 0.0 {
            Duration::from_secs_f64(1.0 / self.args.rate)
        } else {
            Duration::from_micros(1)
        };
        let mut i = tokio::time::interval(gap);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    }

    /// When clients stop sending.
    pub fn send_deadline(&self) -> Instant {
        self.start + self.ramp_time() + self.args.duration.into()
    }

    pub fn ramp_time(&self) -> Duration {
        Duration::from_secs_f64(self.args.visitors as f64 / self.args.ramp.max(1.0))
    }

    /// How long a client waits for the frames it is owed once sending stops.
    pub fn drain_wait(&self) -> Duration {
        Duration::from_secs(20)
    }

    /// Reports progress every second until the run ends.
    pub fn ticker(self: &Arc<Self>) -> (JoinHandle<Vec<Tick>>, tokio::sync::oneshot::Sender<()>) {
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let run = self.clone();
        let task = tokio::spawn(async move {
            let mut ticks = Vec::new();
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.tick().await;
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = &mut stop_rx => break,
                }
                let tick = run.live.tick(ticks.len() as u64 + 1);
                if run.child {
                    emit(&format!(
                        "P {}",
                        serde_json::to_string(&tick).unwrap_or_default()
                    ));
                } else if !run.args.quiet {
                    let prev = ticks.last();
                    crate::report::progress(&tick, prev, &crate::report::tail(&run.live));
                }
                ticks.push(tick);
            }
            ticks
        });
        (task, stop_tx)
    }

    /// The process's result.
    pub fn raw(&self, timeline: Vec<Tick>) -> (Raw, Option<(u64, u64)>) {
        (self.live.snapshot(timeline), self.busy_span())
    }
}

/// One line to the parent.
pub fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
