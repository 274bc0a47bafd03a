//! Acknowledged means on disk: a server killed with SIGKILL right after
//! acking still has every acknowledged message, in order, after a restart,
//! and dedupe by `client_id` survives the restart.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn acked_messages_survive_kill_9_and_restart() {
    let mut srv = Server::start();
    let (mut vis, welcome) = srv.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    let n = 30;
    for i in 1..=n {
        vis.send(json!({"type":"send","client_id":format!("k{i}"),"body":format!("durable {i}")}))
            .await;
    }
    let mut acks = Vec::new();
    while acks.len() < n {
        let f = vis.recv().await;
        if f["type"] == "ack" {
            acks.push(f);
        }
    }
    let conv = acks[0]["conversation_id"].as_str().unwrap().to_string();
    // No graceful anything: SIGKILL the moment the last ack is in.
    srv.kill9_and_restart();

    let (mut vis, w) = srv.visitor(Some(&token)).await;
    assert_eq!(w["visitor_id"], welcome["visitor_id"]);
    assert_eq!(w["conversation"]["id"], conv);
    assert_eq!(w["conversation"]["last_seq"], n as u64);
    vis.send(json!({"type":"resume","conversation_id":conv,"after_seq":0}))
        .await;
    for (i, ack) in acks.iter().enumerate() {
        let m = vis.until_type("message").await;
        assert_eq!(m["seq"], (i + 1) as u64);
        assert_eq!(
            m["id"], ack["id"],
            "the stored message is the acknowledged one"
        );
        assert_eq!(m["body"], format!("durable {}", i + 1));
    }
    // The client re-sends one it had acked: same ack, nothing new stored.
    vis.send(json!({"type":"send","client_id":"k7","body":"durable 7"}))
        .await;
    let again = vis.until_type("ack").await;
    assert_eq!(
        (again["id"].clone(), again["seq"].clone()),
        (acks[6]["id"].clone(), json!(7))
    );
    vis.send(json!({"type":"send","client_id":"after","body":"after restart"}))
        .await;
    assert_eq!(
        vis.until_type("ack").await["seq"],
        n as u64 + 1,
        "the sequence continues with no gap"
    );
}

/// The visitor's messages of `conv` as stored: (seq, body), in seq order.
async fn visitor_messages(srv: &Server, owner: &str, conv: &str) -> Vec<(u64, String)> {
    let log = srv
        .call(
            "GET",
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(owner),
            None,
        )
        .await;
    log.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", log.body))
        .iter()
        .filter(|m| m["from"]["kind"] == "visitor")
        .map(|m| {
            (
                m["seq"].as_u64().unwrap(),
                m["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Fills the file system holding `dir` with one file until it refuses more.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![7u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

#[tokio::test]
async fn a_full_disk_refuses_writes_and_the_server_recovers_by_itself() {
    if !can_mount_tmpfs() {
        return;
    }
    let mut srv = Server::start_with(Setup {
        tmpfs: Some("32m"),
        config: Some("[storage]\nmin_free_mb = 4\ncache_mb = 16\n".into()),
        ..Setup::default()
    });
    let (mut vis, welcome) = srv.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"m1","body":"before the disk filled"}))
        .await;
    let ack = vis.until_type("ack").await;
    assert_eq!(ack["seq"], 1);
    let conv = ack["conversation_id"].as_str().unwrap().to_string();
    let owner = srv.login(OWNER).await;

    let filler = fill(&srv.dir.path().join("data"));
    // Refused with a clear error, on the socket and over HTTP; the socket
    // stays open and the conversation does not crash (twice in a row).
    for _ in 0..2 {
        vis.send(json!({"type":"send","client_id":"m2","body":"while full"}))
            .await;
        let e = vis
            .until(|f| f["type"] == "error" || f["type"] == "ack")
            .await;
        assert_eq!(
            (
                e["type"].as_str(),
                e["code"].as_str(),
                e["client_id"].as_str()
            ),
            (Some("error"), Some("unavailable"), Some("m2")),
            "{e}"
        );
    }
    assert!(
        !srv.metrics()
            .await
            .contains("parley_actor_restarts_total{kind=\"conversation\"}"),
        "the conversation crashed"
    );
    let health = srv.call("GET", "/healthz", None, None).await;
    assert_eq!(health.status, 503);
    assert_eq!(health.body["status"], "degraded");
    assert!(
        health.body["reason"]
            .as_str()
            .unwrap()
            .contains("nearly full"),
        "{}",
        health.body
    );
    let canned = srv
        .call(
            "POST",
            "/api/v1/canned-responses",
            Some(&owner),
            Some(json!({"shortcut":"full","body":"written while full"})),
        )
        .await;
    assert_eq!((canned.status, canned.code()), (503, "unavailable"));
    assert!(canned.header("x-request-id").is_some());

    // Space returns: no restart, the server notices by itself.
    std::fs::remove_file(&filler).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let h = srv.call("GET", "/healthz", None, None).await;
        if h.status == 200 {
            assert_eq!(h.body["status"], "ok");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still degraded: {}",
            h.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The same socket re-sends and goes on, with no gap.
    vis.send(json!({"type":"send","client_id":"m2","body":"while full"}))
        .await;
    let ack = vis.until_type("ack").await;
    assert_eq!(
        (ack["client_id"].as_str(), ack["seq"].as_u64()),
        (Some("m2"), Some(2))
    );
    vis.send(json!({"type":"send","client_id":"m3","body":"after"}))
        .await;
    assert_eq!(vis.until_type("ack").await["seq"], 3);
    let canned = srv
        .call(
            "POST",
            "/api/v1/canned-responses",
            Some(&owner),
            Some(json!({"shortcut":"full","body":"written after"})),
        )
        .await;
    assert_eq!(canned.status, 201, "{}", canned.body);
    let got = visitor_messages(&srv, &owner, &conv).await;
    assert_eq!(
        got,
        [
            (1, "before the disk filled".to_string()),
            (2, "while full".to_string()),
            (3, "after".to_string())
        ]
    );
    // And a new connection with the old token resumes as the same visitor.
    drop(vis);
    let (vis, again) = srv.visitor(Some(&token)).await;
    assert_eq!(again["conversation"]["id"], conv, "{again}");
    drop(vis);

    // Stopped while full, it will not start on the full disk (sled's
    // recovery cut short there would leave a database it reads as
    // corrupted); once space is back it starts with everything acked.
    let filler = fill(&srv.dir.path().join("data"));
    srv.terminate();
    let refused = std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(srv.dir.path().join("data"))
        .output()
        .unwrap();
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{why}");
    assert!(why.contains("space"), "{why}");
    std::fs::remove_file(&filler).unwrap();
    // Nearly full (2 MiB free, under the 4 MiB floor): refused too, by name.
    let data = srv.dir.path().join("data");
    let free = parley_storage::free_space(&data).unwrap();
    let some = data.join("filler");
    std::fs::write(&some, vec![1u8; (free - (2 << 20)) as usize]).unwrap();
    let refused = std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(srv.dir.path().join("parley.toml"))
        .output()
        .unwrap();
    let why = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{why}");
    assert!(why.contains("free some space"), "{why}");
    std::fs::remove_file(&some).unwrap();
    srv.respawn();
    let owner = srv.login(OWNER).await;
    let seqs: Vec<u64> = visitor_messages(&srv, &owner, &conv)
        .await
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
}

/// `/healthz` until it answers 200, through the moments it cannot answer.
async fn healthy_within(srv: &Server, secs: u64) -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        match reqwest::get(format!("{}/healthz", srv.base)).await {
            Ok(r) if r.status() == 200 => return Ok(()),
            Ok(r) => last = r.text().await.unwrap_or_default(),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(last)
}

#[tokio::test]
async fn a_failing_disk_refuses_writes_and_the_server_restarts_in_place() {
    if let Some(why) = faultfs::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let srv = Server::start_with(Setup {
        faultfs: true,
        ..Setup::default()
    });
    let (mut vis, welcome) = srv.visitor(None).await;
    let token = welcome["visitor_token"].as_str().unwrap().to_string();
    vis.send(json!({"type":"send","client_id":"f1","body":"before the disk failed"}))
        .await;
    let ack = vis.until_type("ack").await;
    assert_eq!(ack["seq"], 1);
    let conv = ack["conversation_id"].as_str().unwrap().to_string();
    let owner = srv.login(OWNER).await;

    // Every write and fsync fails from now on: the write that meets it is refused
    // with a clear error, and so is every write after it.
    let disk = srv.faultfs.as_ref().unwrap();
    disk.fail_writes(true);
    vis.send(json!({"type":"send","client_id":"f2","body":"while the disk failed"}))
        .await;
    let e = vis
        .until(|f| f["type"] == "error" || f["type"] == "ack")
        .await;
    assert_eq!(
        (
            e["type"].as_str(),
            e["code"].as_str(),
            e["client_id"].as_str()
        ),
        (Some("error"), Some("unavailable"), Some("f2")),
        "{e}"
    );
    let health = srv.call("GET", "/healthz", None, None).await;
    assert_eq!(health.status, 503);
    let reason = health.body["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("storage write failed"), "{reason}");
    let canned = srv
        .call(
            "POST",
            "/api/v1/canned-responses",
            Some(&owner),
            Some(json!({"shortcut":"eio","body":"written while failing"})),
        )
        .await;
    assert_eq!((canned.status, canned.code()), (503, "unavailable"));
    // It stays refused while the disk fails (the probe fails too).
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(srv.call("GET", "/healthz", None, None).await.status, 503);

    // The disk heals: the server starts afresh in place by itself, on the
    // same address, in the same process; its sockets drop.
    disk.fail_writes(false);
    assert_eq!(vis.close_code().await, None, "the old socket is gone");
    healthy_within(&srv, 30).await.expect("healthy again");
    assert!(srv.log().contains("restarted in place"), "{}", srv.log());
    assert!(
        std::path::Path::new(&format!("/proc/{}", srv.pid())).exists(),
        "the same process"
    );

    // The visitor comes back with its token and re-sends what was refused:
    // no gap, no duplicate, whether or not the failed write landed.
    let (mut vis, _) = srv.visitor(Some(&token)).await;
    vis.send(json!({"type":"send","client_id":"f2","body":"while the disk failed"}))
        .await;
    let ack = vis.until_type("ack").await;
    assert_eq!(
        (ack["client_id"].as_str(), ack["seq"].as_u64()),
        (Some("f2"), Some(2))
    );
    vis.send(json!({"type":"send","client_id":"f3","body":"after"}))
        .await;
    assert_eq!(vis.until_type("ack").await["seq"], 3);
    let owner = srv.login(OWNER).await;
    let got = visitor_messages(&srv, &owner, &conv).await;
    assert_eq!(
        got,
        [
            (1, "before the disk failed".to_string()),
            (2, "while the disk failed".to_string()),
            (3, "after".to_string()),
        ]
    );
}
