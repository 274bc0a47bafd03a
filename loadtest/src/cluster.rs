//! A Parley cluster the load generator starts itself (`--nodes N`): a
//! throwaway PostgreSQL and `nats-server` on loopback, one tenant (and its
//! staff) made in PostgreSQL, and N `parley serve --cluster` nodes, each on
//! its own data dir and port. Also the PostgreSQL that `compare`'s
//! `node-pg` baseline uses.

use crate::server::{self, Spawned};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A throwaway PostgreSQL on loopback.
pub struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
}

fn pg_bin(name: &str) -> Option<PathBuf> {
    if server::which(name) {
        return Some(PathBuf::from(name));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|d| d.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs a shell command line, as `postgres` when we are root (initdb refuses root).
async fn pg_sh(line: &str) -> Result<()> {
    let status = if is_root() {
        Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c", line])
            .status()
            .await?
    } else {
        Command::new("sh").args(["-c", line]).status().await?
    };
    if !status.success() {
        bail!("`{line}` failed");
    }
    Ok(())
}

impl Postgres {
    pub async fn start(cpus: Option<&str>) -> Result<Self> {
        let (initdb, pg_ctl) = match (pg_bin("initdb"), pg_bin("pg_ctl")) {
            (Some(a), Some(b)) => (a, b),
            _ => bail!(
                "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql)"
            ),
        };
        let dir = tempfile::tempdir()?;
        if is_root() {
            Command::new("chown")
                .arg("-R")
                .arg("postgres")
                .arg(dir.path())
                .status()
                .await?;
        }
        let d = dir.path().display();
        pg_sh(&format!(
            "{} -D {d}/data -A trust -U parley >{d}/initdb.log 2>&1",
            initdb.display()
        ))
        .await?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let pin = cpus
            .filter(|_| server::which("taskset"))
            .map(|c| format!("taskset -c {c} "))
            .unwrap_or_default();
        pg_sh(&format!(
            "{pin}{} -D {d}/data -l {d}/pg.log -w -o \"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=200\" start >/dev/null",
            pg_ctl.display()
        ))
        .await?;
        Ok(Self { dir, port })
    }

    pub fn url(&self) -> String {
        format!("postgres://parley@127.0.0.1:{}/postgres", self.port)
    }

    pub async fn stop(self) {
        if let Some(pg_ctl) = pg_bin("pg_ctl") {
            let _ = pg_sh(&format!(
                "{} -D {}/data -m fast stop >/dev/null",
                pg_ctl.display(),
                self.dir.path().display()
            ))
            .await;
        }
    }
}

/// A throwaway `nats-server` on loopback.
pub struct Nats {
    child: Child,
    pub port: u16,
}

impl Nats {
    pub async fn start() -> Result<Self> {
        if !server::which("nats-server") {
            bail!("nats-server is not installed (apt install nats-server)");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting nats-server")?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if std::time::Instant::now() > deadline {
                bail!("nats-server did not start listening");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { child, port })
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// N nodes on one PostgreSQL and one NATS.
pub struct Cluster {
    pub nodes: Vec<Spawned>,
    pub site_key: String,
    pub email: String,
    pg: Postgres,
    nats: Nats,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts everything, with `staff` agents and leases of `lease_secs`.
    pub async fn start(n: usize, staff: usize, lease_secs: f64) -> Result<Self> {
        let bin = server::parley_bin()?;
        let pg = Postgres::start(None).await.context("starting PostgreSQL")?;
        let nats = Nats::start().await?;
        let dir = tempfile::tempdir()?;
        let env = vec![("PARLEY_POSTGRES_URL".to_string(), pg.url())];
        server::admin(&bin, dir.path(), &env, &["migrate"]).await?;
        let (site_key, email) = server::accounts(&bin, dir.path(), &env, staff).await?;
        let config = server::load_config_with(
            dir.path(),
            &format!("[cluster]\nlease_secs = {lease_secs}\n"),
        )?;
        let mut nodes = Vec::new();
        for i in 0..n {
            let data = dir.path().join(format!("node{i}"));
            let env = vec![
                ("PARLEY_NODE_ID".to_string(), format!("n{i}")),
                ("PARLEY_POSTGRES_URL".to_string(), pg.url()),
                ("PARLEY_NATS_URL".to_string(), nats.url()),
            ];
            let mut cmd = Command::new(&bin);
            cmd.arg("serve")
                .arg("--cluster")
                .arg("--listen")
                .arg("127.0.0.1:0")
                .arg("--data-dir")
                .arg(&data)
                .arg("--config")
                .arg(&config)
                .envs(env.iter().map(|(k, v)| (k, v)));
            let mut s = server::start(cmd, "parley node").await?;
            s.relaunch = Some((bin.clone(), data, config.clone()));
            s.relaunch_env = env;
            s.relaunch_args = vec!["--cluster".into()];
            nodes.push(s);
        }
        Ok(Self {
            nodes,
            site_key,
            email,
            pg,
            nats,
            _dir: dir,
        })
    }

    /// Every node's base URL, comma-separated (what `--urls` takes).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.base.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Each node's peak memory and CPU so far, for the report.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.pid).collect()
    }

    pub async fn stop(self) {
        for n in self.nodes {
            n.stop().await;
        }
        self.nats.stop().await;
        self.pg.stop().await;
    }
}
