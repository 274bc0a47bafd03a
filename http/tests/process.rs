//! The binary as an operator meets it: CLI errors, admin commands,
//! graceful shutdown, health and metrics.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_failures_print_one_line_and_exit_2() {
    let (code, _, err) = run(&["serve", "--no-such-flag"]);
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
    let (code, _, err) = run(&["serve", "--data-dir", "/nonexistent/parley/data"]);
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
    assert!(err.contains("data dir"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (code, _, err) = run(&[
        "serve",
        "--listen",
        &addr,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
    assert!(err.contains("cannot listen"));
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[limits]\nmax_conections = 3\n").unwrap();
    let (code, _, err) = run(&[
        "serve",
        "--config",
        cfg.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!((code, err.lines().count()), (2, 1), "{err}");
    assert!(err.contains("max_conections"));
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o500);
    std::fs::set_permissions(&ro, perms).unwrap();
    // Root ignores permissions; only check when they bite.
    if std::fs::write(ro.join("probe"), b"x").is_err() {
        let (code, _, err) = run(&["serve", "--data-dir", ro.to_str().unwrap()]);
        assert_eq!((code, err.lines().count()), (2, 1), "{err}");
        assert!(err.contains("not writable"));
    }
}

#[test]
fn admin_commands_print_json_and_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    let (code, out, err) = run(&[
        "admin",
        "create-tenant",
        "--name",
        "Acme",
        "--owner-email",
        "o@acme.test",
        "--owner-password",
        PASSWORD,
        "--data-dir",
        d,
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    for k in ["tenant_id", "owner_id", "site_id", "site_key"] {
        assert!(
            v[k].as_str().is_some_and(|s| !s.is_empty()),
            "{k} missing in {out}"
        );
    }
    let tid = v["tenant_id"].as_str().unwrap();
    let (code, out, err) = run(&[
        "admin",
        "create-staff",
        "--tenant",
        tid,
        "--email",
        "a@acme.test",
        "--password",
        PASSWORD,
        "--role",
        "agent",
        "--data-dir",
        d,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(serde_json::from_str::<Value>(out.trim()).unwrap()["staff_id"].is_string());
    for bad in [
        vec![
            "--email",
            "a@acme.test",
            "--password",
            PASSWORD,
            "--role",
            "agent",
        ],
        vec![
            "--email",
            "b@acme.test",
            "--password",
            PASSWORD,
            "--role",
            "king",
        ],
        vec![
            "--email",
            "b@acme.test",
            "--password",
            "short",
            "--role",
            "agent",
        ],
        vec![
            "--email",
            "not-an-email",
            "--password",
            PASSWORD,
            "--role",
            "agent",
        ],
    ] {
        let mut args = vec!["admin", "create-staff", "--tenant", tid, "--data-dir", d];
        args.extend(bad.iter());
        let (code, _, err) = run(&args);
        assert_eq!((code, err.lines().count()), (2, 1), "{args:?}: {err}");
    }
    let (code, out, _) = run(&[
        "admin",
        "create-superadmin",
        "--email",
        "root@op.test",
        "--password",
        PASSWORD,
        "--data-dir",
        d,
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("superadmin_id"));
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_flushes_and_exits_0() {
    let mut srv = Server::start();
    let (mut vis, welcome) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"bye","body":"before shutdown"}))
        .await;
    let ack = vis.until_type("ack").await;
    let status = tokio::task::spawn_blocking({
        let pid = srv.pid();
        move || {
            Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(status.success());
    assert_eq!(vis.close_code().await, Some(1001));
    assert_eq!(srv.terminate_wait().code(), Some(0), "log: {}", srv.log());
    srv.respawn();
    let (mut vis, w) = srv.visitor(welcome["visitor_token"].as_str()).await;
    assert_eq!(w["conversation"]["id"], ack["conversation_id"]);
    vis.send(json!({"type":"resume","conversation_id":ack["conversation_id"],"after_seq":0}))
        .await;
    assert_eq!(vis.until_type("message").await["body"], "before shutdown");
}

#[tokio::test]
async fn health_metrics_and_request_ids() {
    let srv = Server::start();
    let r = reqwest::get(format!("{}/healthz", srv.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    let (mut vis, _) = srv.visitor(None).await;
    vis.send(json!({"type":"send","client_id":"m","body":"count me"}))
        .await;
    vis.until_type("ack").await;
    let text = srv.metrics().await;
    for needle in [
        "parley_messages_persisted_total 1",
        "parley_ws_connections 1",
        "parley_ws_connections_total{kind=\"visitor\"} 1",
        "parley_ws_frames_in_total",
        "parley_ws_frames_out_total",
        "parley_actor_restarts_total 0",
        "parley_storage_flush_seconds_bucket",
        "parley_storage_batch_ops_bucket",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}
