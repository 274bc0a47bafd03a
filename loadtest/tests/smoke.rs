//! Short runs of every scenario in self-spawning mode against the real
//! `parley` binary. They assert correctness counts only (nothing lost,
//! duplicated or reordered; every connection held), never speed.

mod common;

use common::parley_bin;
use serde_json::Value;
use std::process::Command;

/// Whether a cluster can run here (PostgreSQL's initdb and nats-server);
/// missing tools skip a test, except in CI, where they fail it.
fn cluster_tools() -> bool {
    let has = |c: &str| {
        Command::new("sh")
            .args([
                "-c",
                &format!("command -v {c} || ls /usr/lib/postgresql/*/bin/{c}"),
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let found = has("initdb") && has("nats-server");
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL or nats-server is missing in CI"
        );
        eprintln!("skipped: PostgreSQL or nats-server is not installed");
    }
    found
}

/// Runs the load generator; returns its exit code and JSON document.
fn load(args: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let html = dir.path().join("out.html");
    let out = Command::new(env!("CARGO_BIN_EXE_parley-loadtest"))
        .args(args)
        .arg("--quiet")
        .arg("--json")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .env("PARLEY_BIN", parley_bin())
        .output()
        .expect("running parley-loadtest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    let doc = std::fs::read(&json)
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(Value::Null);
    if code == 0 {
        let page = std::fs::read_to_string(&html).unwrap();
        assert!(page.contains("<svg") && page.contains("Latency by percentile"));
    }
    eprintln!("{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    (code, doc)
}

fn n(doc: &Value, path: &str) -> u64 {
    path.split('.')
        .fold(doc, |v, k| &v[k])
        .as_u64()
        .unwrap_or_else(|| panic!("{path} missing in {doc}"))
}

fn assert_clean(doc: &Value) {
    for k in ["lost", "duplicated", "out_of_order"] {
        assert_eq!(n(doc, &format!("messages.{k}")), 0, "{k} in {doc}");
    }
    assert_eq!(n(doc, "connections.failed"), 0);
    assert_eq!(n(doc, "connections.dropped"), 0);
}

#[test]
fn chat_with_staff_loses_nothing() {
    let (code, doc) = load(&[
        "--scenario",
        "chat",
        "--visitors",
        "20",
        "--staff",
        "2",
        "--rate",
        "10",
        "--duration",
        "2s",
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["scenario"], "chat");
    assert_clean(&doc);
    assert_eq!(n(&doc, "connections.opened"), 22);
    let (sent, acked) = (n(&doc, "messages.sent"), n(&doc, "messages.acked"));
    assert!(sent > 40, "{sent} sent");
    assert_eq!(acked, sent);
    // Every message reaches both sides of its conversation.
    assert_eq!(n(&doc, "messages.delivered"), 2 * acked);
    assert!(doc["latency_ms"]["ack"]["p99"].as_f64().unwrap() > 0.0);
    assert!(n(&doc, "server.rss_bytes") > 0);
}

#[test]
fn chat_across_worker_processes() {
    let (code, doc) = load(&[
        "--visitors",
        "20",
        "--staff",
        "2",
        "--workers",
        "2",
        "--rate",
        "10",
        "--duration",
        "2s",
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_clean(&doc);
    assert_eq!(n(&doc, "connections.opened"), 22);
    assert_eq!(n(&doc, "messages.delivered"), 2 * n(&doc, "messages.acked"));
}

#[test]
fn idle_holds_every_connection() {
    let (code, doc) = load(&[
        "--scenario",
        "idle",
        "--visitors",
        "200",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_clean(&doc);
    assert_eq!(n(&doc, "connections.opened"), 200);
    assert!(n(&doc, "server.rss_bytes") > n(&doc, "server.rss_baseline_bytes"));
}

#[test]
fn storm_resumes_without_gaps() {
    let (code, doc) = load(&["--scenario", "storm", "--visitors", "50", "--burst", "3"]);
    assert_eq!(code, 0, "{doc}");
    assert_clean(&doc);
    assert_eq!(n(&doc, "latency_ms.reconnect.count"), 50);
    // One opening message and the burst each, every one acked once.
    assert_eq!(n(&doc, "messages.acked"), 50 * 4);
}

#[test]
fn fanout_reaches_every_dashboard() {
    let (code, doc) = load(&[
        "--scenario",
        "fanout",
        "--visitors",
        "10",
        "--staff",
        "3",
        "--rate",
        "5",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_clean(&doc);
    assert_eq!(n(&doc, "messages.delivered"), 3 * n(&doc, "messages.sent"));
}

#[test]
fn an_unreachable_server_fails_the_run() {
    let (code, doc) = load(&[
        "--url",
        "http://127.0.0.1:9",
        "--site-key",
        "nope",
        "--visitors",
        "3",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(n(&doc, "connections.failed"), 3);
}

#[test]
fn compare_writes_its_table_as_data_and_judges_parley_only() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cmp.json");
    let out = Command::new(env!("CARGO_BIN_EXE_parley-loadtest"))
        .args(["compare", "--duration", "2s", "--visitors", "20"])
        .args([
            "--idle-visitors",
            "40",
            "--targets",
            "parley,parley@/nonexistent/parley",
        ])
        .arg("--json")
        .arg(&json)
        .env("PARLEY_BIN", parley_bin())
        .output()
        .expect("running parley-loadtest compare");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    // A baseline that cannot run is reported in its row, not a failure.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = doc["summary"].as_array().expect("summary rows");
    assert_eq!(rows.len(), 2);
    let parley = &rows[0];
    assert_eq!(parley["target"], "parley");
    assert_eq!(parley["correct"], true, "{parley}");
    assert_eq!(parley["errors"], 0.0);
    assert!(parley["acked_per_s"].as_f64().unwrap() > 0.0, "{parley}");
    assert_eq!(parley["idle_held"], 40.0);
    assert!(parley["parley_ratio"].is_null());
    assert!(
        rows[1]["skipped"].as_str().unwrap().contains("not a file"),
        "{}",
        rows[1]
    );
}

#[test]
fn chaos_kills_the_server_and_the_ledger_holds() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("chaos.json");
    let out = Command::new(env!("CARGO_BIN_EXE_parley-loadtest"))
        .args([
            "chaos",
            "--visitors",
            "20",
            "--kills",
            "3",
            "--duration",
            "6s",
            "--seed",
            "16",
            "--quiet",
            "--json",
        ])
        .arg(&json)
        .env("PARLEY_BIN", parley_bin())
        .output()
        .expect("running parley-loadtest chaos");
    eprintln!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["kills"], 3);
    assert_eq!(doc["seed"], 16);
    for k in [
        "acked_lost",
        "duplicated",
        "wrong_seq",
        "changed",
        "gaps",
        "visible_gaps",
    ] {
        assert_eq!(n(&doc, &format!("totals.{k}")), 0, "{k} in {doc}");
    }
    let t = &doc["totals"];
    assert!(n(&doc, "totals.sent") > 100, "{t}");
    assert_eq!(t["acked"], t["sent"], "every message acked in the end");
    assert_eq!(t["stored"], t["sent"]);
}

#[test]
fn chat_across_a_cluster_of_three_loses_nothing() {
    if !cluster_tools() {
        return;
    }
    let (code, doc) = load(&[
        "--nodes",
        "3",
        "--scenario",
        "chat",
        "--visitors",
        "30",
        "--staff",
        "3",
        "--rate",
        "2",
        "--duration",
        "3s",
    ]);
    assert_eq!(code, 0, "{doc}");
    assert_clean(&doc);
    assert!(n(&doc, "messages.acked") > 100, "{doc}");
    assert_eq!(doc["config"]["nodes"].as_array().map(Vec::len), Some(3));
}

#[test]
fn chaos_across_a_cluster_kills_owners_and_the_ledger_holds() {
    if !cluster_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("chaos.json");
    let out = Command::new(env!("CARGO_BIN_EXE_parley-loadtest"))
        .args([
            "chaos",
            "--nodes",
            "3",
            "--lease-secs",
            "2",
            "--visitors",
            "20",
            "--kills",
            "4",
            "--duration",
            "16s",
            "--seed",
            "5",
            "--quiet",
            "--json",
        ])
        .arg(&json)
        .env("PARLEY_BIN", parley_bin())
        .output()
        .expect("running parley-loadtest chaos");
    eprintln!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(
        (doc["kills"].as_u64(), doc["nodes"].as_u64()),
        (Some(4), Some(3))
    );
    for k in [
        "acked_lost",
        "duplicated",
        "wrong_seq",
        "changed",
        "gaps",
        "visible_gaps",
    ] {
        assert_eq!(n(&doc, &format!("totals.{k}")), 0, "{k} in {doc}");
    }
    let t = &doc["totals"];
    assert!(n(&doc, "totals.sent") > 100, "{t}");
    assert_eq!(t["acked"], t["sent"], "every message acked in the end");
    assert_eq!(t["stored"], t["sent"]);
}
