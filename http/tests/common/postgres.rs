//! A real PostgreSQL for the tests: `initdb` and `pg_ctl` (as user
//! `postgres` when root: initdb refuses root) in a temp dir, on a free
//! loopback port, trusting local connections.

use std::path::PathBuf;
use std::process::Command;

/// A running PostgreSQL; stopped when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    pg_ctl: PathBuf,
    pub port: u16,
}

/// `name` from PATH or the newest `/usr/lib/postgresql/*/bin` (Debian
/// keeps the server binaries there).
fn pg_bin(name: &str) -> Option<PathBuf> {
    let on_path = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if on_path.is_some() {
        return on_path;
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
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
}

/// Runs a shell line, as `postgres` when we are root.
fn pg_sh(line: &str) -> bool {
    let mut c = if is_root() {
        let mut c = Command::new("su");
        c.args(["postgres", "-s", "/bin/sh", "-c", line]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", line]);
        c
    };
    c.status().is_ok_and(|s| s.success())
}

/// Why PostgreSQL cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    super::missing_unless_ci(
        pg_bin("initdb").is_some() && pg_bin("pg_ctl").is_some(),
        "PostgreSQL is not installed (no initdb/pg_ctl)",
    )
}

impl Postgres {
    pub fn start() -> Self {
        let initdb = pg_bin("initdb").expect("initdb");
        let pg_ctl = pg_bin("pg_ctl").expect("pg_ctl");
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown to postgres");
        }
        let d = dir.path().display();
        assert!(
            pg_sh(&format!(
                "{} -D {d}/data -A trust -U parley >{d}/initdb.log 2>&1",
                initdb.display()
            )),
            "initdb failed: {}",
            std::fs::read_to_string(dir.path().join("initdb.log")).unwrap_or_default()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self { dir, pg_ctl, port };
        pg.run();
        pg
    }

    /// Starts the server (again, after [`Postgres::stop`]) on the same port.
    pub fn run(&self) {
        let d = self.dir.path().display();
        assert!(
            pg_sh(&format!(
                "{} -D {d}/data -l {d}/pg.log -w -o \"-p {} -k {d} -c listen_addresses=127.0.0.1\" start >/dev/null",
                self.pg_ctl.display(),
                self.port
            )),
            "pg_ctl start failed: {}",
            std::fs::read_to_string(self.dir.path().join("pg.log")).unwrap_or_default()
        );
    }

    /// Stops the server at once, as a crash would (the data stays).
    pub fn stop(&self) {
        pg_sh(&format!(
            "{} -D {}/data -m immediate stop >/dev/null 2>&1",
            self.pg_ctl.display(),
            self.dir.path().display()
        ));
    }

    /// A URL for database `db` as user `parley`.
    pub fn url_for(&self, db: &str) -> String {
        format!("postgres://parley@127.0.0.1:{}/{db}", self.port)
    }

    /// A URL for the `postgres` database as user `parley`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
