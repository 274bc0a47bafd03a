//! Issue 28 finding 1: who the client is behind a reverse proxy. Through a
//! real nginx on loopback (it appends the address it saw to
//! `X-Forwarded-For`, as deployed) and with raw headers: an address the
//! client writes itself is never believed, two users behind one proxy keep
//! budgets of their own, and an IPv6 client's /64 is one address.
//!
//! nginx connects to Parley from 127.0.0.5 (`proxy_bind`), the address the
//! tests trust; clients come from 127.0.0.1–127.0.0.4.

mod common;

use common::*;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROXY: [u8; 4] = [127, 0, 0, 5];

/// A running nginx in front of `upstream`; stopped when dropped.
struct Nginx {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_bin() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// Why nginx cannot run here, if it cannot.
fn nginx_unavailable() -> Option<String> {
    missing_unless_ci(
        nginx_bin().is_some(),
        "nginx is not installed (apt-get install nginx)",
    )
}

impl Nginx {
    fn start(upstream: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let port = smtp::free_port();
        let upstream = upstream.trim_start_matches("http://");
        // As root nginx's workers would switch to `nobody`, who cannot
        // read a test's private temp dir.
        let user = if std::env::var("USER").as_deref() == Ok("root") || is_root() {
            "user root;"
        } else {
            ""
        };
        let conf = format!(
            r#"{user}
daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://{upstream};
      proxy_bind 127.0.0.5;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $http_connection;
    }}
  }}
}}
"#
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new(nginx_bin().unwrap())
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// An HTTP client whose connections come from `127.0.0.<last>`.
fn from(addr: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(addr))
        .build()
        .unwrap()
}

/// Budgets small enough to reach, and the account's failure budget out of
/// the way (finding 2 has its own test).
fn limits(extra: &str) -> String {
    format!("[limits]\nlogin_per_ip_per_minute = 10\nlogin_per_account_per_minute = 1000\nlogin_free_failures = 100000\n{extra}")
}

async fn wrong_password(client: &reqwest::Client, base: &str, xff: Option<&str>) -> Resp {
    let mut req = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": OWNER, "password": "not the password 1"}));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    send(req).await
}

/// The addresses the audit log recorded for failed sign-ins, newest first.
async fn failed_sign_in_ips(srv: &Server) -> Vec<String> {
    let token = srv.login(OWNER).await;
    let r = srv
        .call(
            "GET",
            "/api/v1/audit?action=auth.login_failed&limit=200",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .expect("audit entries")
        .iter()
        .map(|e: &Value| e["ip"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The old reading believed the leftmost `X-Forwarded-For` entry, which
/// the client writes: 30 wrong passwords with a rotating first entry were
/// 30 × 401. Through nginx the client is the address nginx saw.
#[tokio::test]
async fn a_forwarded_address_the_client_wrote_is_not_believed() {
    if let Some(why) = nginx_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    // `trust_forwarded_for = true` keeps meaning "the peer is a proxy".
    let srv = Server::start_with(Setup {
        config: Some(limits("trust_forwarded_for = true\n")),
        ..Default::default()
    });
    let nginx = Nginx::start(&srv.base);
    let client = from([127, 0, 0, 2]);
    let mut statuses = Vec::new();
    for i in 0..30 {
        let spoof = format!("203.0.113.{i}");
        statuses.push(
            wrong_password(&client, &nginx.base, Some(&spoof))
                .await
                .status,
        );
    }
    // 10 a minute (one more may have come back while argon2 ran).
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    assert!((10..=12).contains(&wrong), "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 30 - wrong);
    // The audit log and the access log name the real client.
    let ips = failed_sign_in_ips(&srv).await;
    assert_eq!(ips.len(), wrong);
    assert!(ips.iter().all(|ip| ip == "127.0.0.2"), "{ips:?}");
    assert!(
        !srv.log().contains("203.0.113."),
        "a spoofed address reached the log"
    );
    // Without a proxy in between, the header is the client's own word.
    let srv = Server::start_with(Setup {
        config: Some(limits("trusted_proxies = [\"127.0.0.5\"]\n")),
        ..Default::default()
    });
    let client = from([127, 0, 0, 3]);
    let mut statuses = Vec::new();
    for i in 0..16 {
        let spoof = format!("203.0.113.{i}, 198.51.100.{i}");
        statuses.push(
            wrong_password(&client, &srv.base, Some(&spoof))
                .await
                .status,
        );
    }
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 4,
        "{statuses:?}"
    );
}

/// Without trusting the proxy, everyone behind it shared one address: one
/// user's 11 failed sign-ins locked out another's correct one.
#[tokio::test]
async fn users_behind_one_proxy_keep_budgets_of_their_own() {
    if let Some(why) = nginx_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let srv = Server::start_with(Setup {
        config: Some(limits(
            "trusted_proxies = [\"127.0.0.5/32\"]\nnew_visitors_per_ip_per_minute = 3\n",
        )),
        staff: vec![("agent@acme.test".into(), "agent".into())],
        ..Default::default()
    });
    let nginx = Nginx::start(&srv.base);
    let mallory = from([127, 0, 0, 2]);
    let mut last = 0;
    for _ in 0..14 {
        last = wrong_password(&mallory, &nginx.base, None).await.status;
    }
    assert_eq!(last, 429, "mallory is slowed down");
    let r = send(
        from([127, 0, 0, 4])
            .post(format!("{}/api/v1/auth/login", nginx.base))
            .json(&json!({"email": "agent@acme.test", "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 200, "another user behind the proxy: {}", r.body);
    // New visitors through the proxy, each with a made-up first entry: the
    // budget of 3 a minute holds for the one real address.
    let ws = nginx.base.replace("http://", "ws://");
    let mut welcomed = 0;
    for i in 0..7 {
        let spoof = format!("198.51.100.{i}");
        let mut v = Ws::connect_with(
            &format!("{ws}/ws/visitor?site={}", srv.site_key()),
            &[("x-forwarded-for", &spoof)],
        )
        .await;
        v.send(json!({"type":"hello","page":{"url":"https://acme.test/","title":"Home","referrer":""}}))
            .await;
        // A refused one is closed with 4429 instead.
        if v.try_recv(Duration::from_secs(10))
            .await
            .is_some_and(|w| w["type"] == "welcome")
        {
            welcomed += 1;
        }
    }
    assert!(
        (3..=4).contains(&welcomed),
        "{welcomed} of 7 new visitors welcomed"
    );
}

/// Raw headers from the trusted proxy's own address: the rightmost
/// address that is not a proxy is the client; an IPv6 client's /64 shares
/// one budget; a proxy's connections are not capped per address.
#[tokio::test]
async fn raw_headers_from_a_trusted_peer_and_ipv6_prefixes() {
    let srv = Server::start_with(Setup {
        config: Some(limits(
            "trusted_proxies = [\"127.0.0.5\", \"10.0.0.0/8\"]\nmax_http_connections_per_ip = 2\n",
        )),
        ..Default::default()
    });
    let proxy = from(PROXY);
    // 12 addresses of one /64, behind an inner proxy (10.1.2.3).
    let mut statuses = Vec::new();
    for i in 0..16 {
        let chain = format!("192.0.2.{i}, 2001:db8:aa:bb::{:x}, 10.1.2.3", i + 1);
        statuses.push(wrong_password(&proxy, &srv.base, Some(&chain)).await.status);
    }
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 4,
        "{statuses:?}"
    );
    let ips = failed_sign_in_ips(&srv).await;
    assert!(ips[0].starts_with("2001:db8:aa:bb::"), "{ips:?}");
    // Another /64 has a budget of its own.
    let r = wrong_password(&proxy, &srv.base, Some("2001:db8:aa:cc::1")).await;
    assert_eq!(r.status, 401, "{}", r.body);

    // Three connections at once: from the proxy all are served; from a
    // client, past `max_http_connections_per_ip = 2` one is closed.
    let open = |addr: [u8; 4]| {
        let base = srv.base.clone();
        async move {
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            sock.bind((IpAddr::from(addr), 0).into()).unwrap();
            let target = base.trim_start_matches("http://").parse().unwrap();
            sock.connect(target).await.unwrap()
        }
    };
    for (addr, served) in [(PROXY, 3), ([127, 0, 0, 3], 2)] {
        let mut conns = Vec::new();
        for _ in 0..3 {
            conns.push(open(addr).await);
        }
        let mut ok = 0;
        for mut c in conns {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _ = c
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await;
            let mut buf = [0u8; 12];
            let read = tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf)).await;
            if matches!(read, Ok(Ok(_))) && buf.starts_with(b"HTTP/1.1 200") {
                ok += 1;
            }
        }
        assert_eq!(ok, served, "from {addr:?}");
    }
}
