//! The WebSocket stack against Autobahn|Testsuite's `fuzzingclient`: every
//! case of sections 1–7 and 10 (framing, pings, reserved bits, opcodes,
//! fragmentation, UTF-8, close handling, misc) sent to the test-only
//! `/ws/echo` (`testing.echo_endpoint`), which runs the same reader and
//! writer as the visitor and staff sockets. Every case must end OK,
//! NON-STRICT (UTF-8 checked at the end of a fragmented message rather
//! than as each fragment arrives) or INFORMATIONAL. Left out: 9.* (16 MiB
//! messages: throughput, not conformance; minutes in a debug build) and
//! 12.*/13.* (permessage-deflate, which Parley does not offer).
//!
//! `wstest` runs on Python 2.7 (`.ci/run` installs it where pyenv has
//! that Python); the test skips cleanly where it is absent.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;

fn wstest() -> Option<String> {
    let candidates = [
        std::env::var("PARLEY_WSTEST").unwrap_or_default(),
        "wstest".to_string(),
        format!(
            "{}/.cache/parley-autobahn/bin/wstest",
            std::env::var("HOME").unwrap_or_default()
        ),
    ];
    candidates.into_iter().filter(|c| !c.is_empty()).find(|c| {
        Command::new(c)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[tokio::test]
async fn the_websocket_stack_passes_autobahn_fuzzingclient() {
    let Some(wstest) = wstest() else {
        eprintln!("skipped: Autobahn|Testsuite (`wstest`, Python 2.7) is not installed");
        return;
    };
    let srv = Server::start_with(Setup {
        config: Some(
            "[testing]\necho_endpoint = true\n[limits]\nmax_frame_bytes = 16777216\noutbound_queue_bytes = 67108864\nframes_per_second = 100000\nframe_burst = 100000\n"
                .into(),
        ),
        ..Setup::default()
    });
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report");
    let spec = serde_json::json!({
        "outdir": report,
        "servers": [{"agent": "parley", "url": format!("{}/ws/echo", srv.ws)}],
        "cases": ["*"],
        "exclude-cases": ["9.*", "12.*", "13.*"],
        "exclude-agent-cases": {},
    });
    let spec_path = work.path().join("fuzzingclient.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let dir = work.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(wstest)
            .current_dir(dir)
            .args(["-m", "fuzzingclient", "-s"])
            .arg(&spec_path)
            .output()
            .expect("running wstest")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "wstest failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(report.join("index.json")).unwrap()).unwrap();
    let cases = index["parley"].as_object().expect("a report for parley");
    assert!(cases.len() > 200, "only {} cases ran", cases.len());
    let bad: Vec<String> = cases
        .iter()
        .filter(|(_, c)| {
            !matches!(
                c["behavior"].as_str(),
                Some("OK" | "NON-STRICT" | "INFORMATIONAL")
            ) || !matches!(c["behaviorClose"].as_str(), Some("OK" | "INFORMATIONAL"))
        })
        .map(|(id, c)| format!("{id}: {} / close {}", c["behavior"], c["behaviorClose"]))
        .collect();
    assert!(bad.is_empty(), "cases not passed: {bad:#?}");
    // Off unless configured.
    let plain = Server::start();
    let r = plain.call("GET", "/ws/echo", None, None).await;
    assert_eq!(r.status, 404);
}
