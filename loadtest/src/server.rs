//! Servers the load generator starts itself: a `parley` on a temp data dir
//! with a fresh tenant (and staff), or any other command that prints
//! `listening on http://ADDR`; and what the kernel says they cost.

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const PASSWORD: &str = "load-test-password-9";

/// A server process this tool started (stopped with SIGTERM on drop).
pub struct Spawned {
    pub child: Child,
    pub pid: u32,
    pub base: String,
    pub site_key: String,
    pub email: String,
    pub password: String,
    pub _dir: Option<tempfile::TempDir>,
    /// How to start it again on the same data dir: (binary, data dir, config).
    pub relaunch: Option<(PathBuf, PathBuf, PathBuf)>,
    /// Its environment and extra `serve` flags, for a restart (a cluster node's).
    pub relaunch_env: Vec<(String, String)>,
    pub relaunch_args: Vec<String>,
}

/// The `parley` binary: `PARLEY_BIN`, else the one beside this executable.
pub fn parley_bin() -> Result<PathBuf> {
    sibling("parley", "PARLEY_BIN")
}

/// An executable named `name` beside this one, or from `env`.
pub fn sibling(name: &str, env: &str) -> Result<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe()?;
    let dir = me.parent().context("no directory")?;
    for p in [dir.join(name), dir.join("..").join(name)] {
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "no `{name}` beside {} (build it with `cargo build --release -p ...`, or set {env})",
        me.display()
    )
}

/// `cmd` prefixed with `taskset -c CPUS` when pinning and taskset exist.
pub fn pinned(cpus: Option<&str>, program: &Path) -> Command {
    match cpus {
        Some(c) if which("taskset") => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(c).arg(program);
            cmd
        }
        _ => Command::new(program),
    }
}

pub fn which(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// `parley admin …` on `data`, with `env` (a cluster's PostgreSQL).
pub async fn admin(
    bin: &Path,
    data: &Path,
    env: &[(String, String)],
    args: &[&str],
) -> Result<serde_json::Value> {
    let mut cmd = Command::new(bin);
    cmd.arg("admin").args(args);
    if args.first() != Some(&"migrate") {
        cmd.arg("--data-dir").arg(data);
    }
    let out = cmd
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .context("running parley admin")?;
    if !out.status.success() {
        bail!(
            "parley admin {}: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The server's config for load: rate limits out of the way, room for
/// every connection the machine allows.
const LOAD_CONFIG: &str = r#"
log = "warn"
[limits]
max_connections = 19900
frames_per_second = 1000000
frame_burst = 1000000
outbound_queue = 4096
login_per_ip_per_minute = 100000
login_per_account_per_minute = 100000
api_per_ip_per_second = 100000
api_burst = 100000
visitor_connects_per_ip_per_minute = 100000000
new_visitors_per_ip_per_minute = 100000000
max_connections_per_ip = 1000000
max_connections_per_tenant = 1000000
max_handshakes = 100000
"#;

/// Starts a fresh `parley` with one tenant and `staff` agents
/// (`agent{i}@load.test`), on a free port.
pub async fn parley(staff: usize, cpus: Option<&str>) -> Result<Spawned> {
    parley_from(&parley_bin()?, staff, cpus).await
}

/// [`parley`] from a given binary (another build, to compare with).
pub async fn parley_from(bin: &Path, staff: usize, cpus: Option<&str>) -> Result<Spawned> {
    let bin = bin.to_path_buf();
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let (site_key, email) = accounts(&bin, &data, &[], staff).await?;
    let config = load_config(dir.path())?;
    let mut cmd = pinned(cpus, &bin);
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&data)
        .arg("--config")
        .arg(&config);
    let mut s = start(cmd, "parley").await?;
    s.site_key = site_key;
    s.email = email;
    s.password = PASSWORD.into();
    s._dir = Some(dir);
    s.relaunch = Some((bin, data, config));
    Ok(s)
}

/// The load config in `dir`, with `PARLEY_LOAD_CONFIG` and `extra` after it.
pub fn load_config_with(dir: &Path, extra: &str) -> Result<PathBuf> {
    let config = dir.join("load.toml");
    // More config for an experiment (other sections than `[limits]`, e.g.
    // `[storage]\nbatch_window_us = 500`), from `PARLEY_LOAD_CONFIG`.
    let env = std::env::var("PARLEY_LOAD_CONFIG").unwrap_or_default();
    std::fs::write(&config, format!("{LOAD_CONFIG}\n{env}\n{extra}\n"))?;
    Ok(config)
}

fn load_config(dir: &Path) -> Result<PathBuf> {
    load_config_with(dir, "")
}

/// A tenant (on the business plan) with `staff` agents
/// (`agent{i}@load.test`); its site key and the staff email pattern.
pub async fn accounts(
    bin: &Path,
    data: &Path,
    env: &[(String, String)],
    staff: usize,
) -> Result<(String, String)> {
    let bin = bin.to_path_buf();
    let t = admin(
        &bin,
        data,
        env,
        &[
            "create-tenant",
            "--name",
            "Load",
            "--owner-email",
            "owner@load.test",
            "--owner-password",
            PASSWORD,
        ],
    )
    .await?;
    let tenant = t["tenant_id"].as_str().context("tenant_id")?.to_string();
    for i in 0..staff {
        let email = format!("agent{i}@load.test");
        admin(
            &bin,
            data,
            env,
            &[
                "create-staff",
                "--tenant",
                &tenant,
                "--email",
                &email,
                "--password",
                PASSWORD,
                "--role",
                "agent",
            ],
        )
        .await?;
    }
    // No plan limit in the way (builds from before plans have no such
    // command, and no limits either).
    let _ = admin(
        &bin,
        data,
        env,
        &["set-plan", "--tenant", &tenant, "--plan", "business"],
    )
    .await;
    let email = if staff > 0 {
        "agent{i}@load.test"
    } else {
        "owner@load.test"
    };
    Ok((
        t["site_key"].as_str().context("site_key")?.to_string(),
        email.into(),
    ))
}

/// Starts `cmd` and waits for its `listening on http://ADDR` line.
pub async fn start(mut cmd: Command, what: &str) -> Result<Spawned> {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("starting {what}"))?;
    let pid = child.id().context("no pid")?;
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await? {
            if let Some(addr) = l.trim().strip_prefix("listening on ") {
                return Ok(addr.to_string());
            }
        }
        Err(anyhow!("{what} exited before listening"))
    })
    .await
    .with_context(|| format!("{what} did not start listening"))??;
    // Keep draining its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Spawned {
        child,
        pid,
        base,
        site_key: "any".into(),
        email: String::new(),
        password: String::new(),
        _dir: None,
        relaunch: None,
        relaunch_env: Vec::new(),
        relaunch_args: Vec::new(),
    })
}

impl Spawned {
    /// `kill -9`, then the same `parley` again on the same data dir and
    /// the same address (clients reconnect to where they were).
    pub async fn kill9_and_restart(&mut self) -> Result<()> {
        let (bin, data, config) = self
            .relaunch
            .clone()
            .context("only a parley started here can be restarted")?;
        self.child.start_kill()?;
        self.child.wait().await?;
        let addr = self.base.trim_start_matches("http://").to_string();
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .args(&self.relaunch_args)
            .arg("--listen")
            .arg(&addr)
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .envs(self.relaunch_env.iter().map(|(k, v)| (k, v)));
        let s = start(cmd, "parley").await?;
        self.child = s.child;
        self.pid = s.pid;
        Ok(())
    }

    /// SIGTERM, then wait (SIGKILL after 10 s).
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Resident memory of a process, from /proc.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?;
    Some(kb.parse::<u64>().ok()? * 1024)
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_s(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Samples a server's memory while a run goes.
pub struct Sampler {
    pub pid: u32,
    pub baseline_rss: u64,
    pub cpu_start: f64,
    pub peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    pub fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let p = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(r) = rss_bytes(pid) {
                    p.fetch_max(r, Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self {
            pid,
            baseline_rss: rss_bytes(pid).unwrap_or(0),
            cpu_start: cpu_s(pid).unwrap_or(0.0),
            peak,
            task,
        }
    }

    /// `{rss_bytes, rss_baseline_bytes, cpu_s}` for the report.
    pub fn finish(self) -> serde_json::Value {
        self.task.abort();
        serde_json::json!({
            "pid": self.pid,
            "rss_bytes": self.peak.load(Relaxed).max(rss_bytes(self.pid).unwrap_or(0)),
            "rss_baseline_bytes": self.baseline_rss,
            "cpu_s": cpu_s(self.pid).unwrap_or(0.0) - self.cpu_start,
        })
    }
}
