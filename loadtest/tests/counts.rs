//! The analytics counters are exact: after a `parley-loadtest chat` run
//! against a server, the analytics API's conversations and messages equal
//! the load test's own counts — and still do after `kill -9` and restart.

mod common;

use common::parley_bin;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const PASSWORD: &str = "load-test-password";

fn admin(data: &Path, args: &[&str]) -> Value {
    let out = Command::new(parley_bin())
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// A server on a free port; killed (SIGKILL) when dropped.
struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data: &Path, config: &Path) -> Server {
    let mut child = Command::new(parley_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let l = lines
            .next()
            .expect("parley exited before listening")
            .unwrap();
        if let Some(a) = l.trim().strip_prefix("listening on ") {
            break a.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server(child, base)
}

async fn analytics(base: &str) -> Value {
    let c = reqwest::Client::new();
    let login: Value = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "owner@count.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    c.get(format!("{base}/api/v1/analytics?range=24h"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn counters_equal_the_load_tests_own_counts_even_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = admin(
        &data,
        &[
            "create-tenant",
            "--name",
            "Count",
            "--owner-email",
            "owner@count.test",
            "--owner-password",
            PASSWORD,
        ],
    );
    let tenant = t["tenant_id"].as_str().unwrap();
    for i in 0..2 {
        admin(
            &data,
            &[
                "create-staff",
                "--tenant",
                tenant,
                "--email",
                &format!("agent{i}@count.test"),
                "--password",
                PASSWORD,
                "--role",
                "agent",
            ],
        );
    }
    admin(
        &data,
        &["set-plan", "--tenant", tenant, "--plan", "business"],
    );
    let config = dir.path().join("parley.toml");
    std::fs::write(
        &config,
        "log = \"warn\"\n[limits]\nframes_per_second = 100000\nframe_burst = 100000\nlogin_per_ip_per_minute = 10000\nlogin_per_account_per_minute = 10000\nlogin_free_failures = 10000\n",
    )
    .unwrap();
    let mut srv = serve(&data, &config);
    let json = dir.path().join("out.json");
    let out = Command::new(env!("CARGO_BIN_EXE_parley-loadtest"))
        .args(["--scenario", "chat", "--visitors", "30", "--staff", "2"])
        .args(["--rate", "20", "--duration", "3s", "--quiet", "--url"])
        .arg(format!("http://{}", srv.1.trim_start_matches("http://")))
        .args(["--site-key", t["site_key"].as_str().unwrap()])
        .args(["--email", "agent{i}@count.test", "--password", PASSWORD])
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let acked = doc["messages"]["acked"].as_u64().unwrap();
    assert!(acked > 100, "{doc}");
    let base = format!("http://{}", srv.1.trim_start_matches("http://"));
    let check = |a: &Value| {
        let n = |k: &str| {
            a["totals"][k]
                .as_u64()
                .unwrap_or_else(|| panic!("{k} in {a}"))
        };
        assert_eq!(n("conversations"), 30, "one per visitor: {a}");
        assert_eq!(
            n("messages_visitor") + n("messages_staff"),
            acked,
            "every acked message counted once: {a}"
        );
        // Staff answer every visitor message.
        assert_eq!(n("messages_visitor"), n("messages_staff"), "{a}");
        assert_eq!(n("visitors"), 30, "{a}");
        assert!(a["totals"]["first_response_ms_p50"].is_u64(), "{a}");
    };
    let before = analytics(&base).await;
    check(&before);
    // Whatever was acknowledged was counted in the same write: a crash
    // cannot leave the counters behind (or ahead of) the data.
    srv.0.kill().unwrap();
    srv.0.wait().unwrap();
    let srv = serve(&data, &config);
    let after = analytics(&format!("http://{}", srv.1.trim_start_matches("http://"))).await;
    check(&after);
    assert_eq!(before["totals"], after["totals"]);
}
