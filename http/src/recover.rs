//! Recovering from a failed flush without an operator.
//!
//! A full disk is refused before anything is written, and clears by itself
//! (the storage writer probes for space). A flush that really failed — an
//! I/O error, an fsync refused — is different: sled keeps that error for
//! the life of its database, its file lock forbids opening it again while
//! any handle lives, and the failed group may or may not be on disk, so
//! every actor's memory may be ahead of what a fresh start would read.
//!
//! So the server starts afresh in place, the way the `kill -9` tests prove
//! safe: once a probe file in the data dir can be written and fsynced
//! again, the process `exec`s itself with the same arguments, on the same
//! address ([`RESTART_LISTEN`]). Every file closes on exec (Rust opens
//! them close-on-exec), so sled's lock goes with them; the new image opens
//! the data dir like any restart. Sockets drop; clients reconnect and
//! `resume`, and re-send what was not acknowledged with the same
//! `client_id` — what the failed group did store answers with its seq.

use crate::state::App;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The address a restarted-in-place server listens on (the one it had,
/// even when the config says port 0).
pub const RESTART_LISTEN: &str = "PARLEY_RESTART_LISTEN";

/// The address to listen on when this process is a restart in place.
pub fn inherited_listen() -> Option<SocketAddr> {
    std::env::var(RESTART_LISTEN).ok()?.parse().ok()
}

/// Watches the storage writer; when it is poisoned, probes the data dir
/// every `every` and restarts in place once a probe succeeds.
pub async fn watch(app: App, bound: SocketAddr, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if !app.writer.is_poisoned() {
            continue;
        }
        let dir = app.config.data_dir.clone();
        let probe = tokio::task::spawn_blocking(move || probe(&dir)).await;
        match probe {
            Ok(Ok(())) => {
                tracing::warn!(%bound, "the disk takes writes again: restarting in place");
                let e = restart_in_place(bound);
                tracing::error!(error = %e, "could not restart in place; restart the server");
                return;
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "the data dir still refuses writes"),
            Err(_) => return,
        }
    }
}

/// Writes, fsyncs and removes a small file in `dir`.
fn probe(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(".write-probe");
    let mut f = std::fs::File::create(&path)?;
    f.write_all(b"parley write probe\n")?;
    f.sync_all()?;
    drop(f);
    std::fs::remove_file(&path)
}

/// Replaces this process with a fresh start of the same binary and
/// arguments on `bound`; returns only if that fails.
fn restart_in_place(bound: SocketAddr) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return e,
    };
    std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(RESTART_LISTEN, bound.to_string())
        .exec()
}
