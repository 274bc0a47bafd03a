//! Test harness: boots the real `parley` binary on 127.0.0.1:0 with a temp
//! data dir, and speaks real HTTP and WebSocket to it.
#![allow(dead_code)]

pub mod browser;
pub mod faultfs;
pub mod hooks;
pub mod nats;
pub mod postgres;
pub mod smtp;

/// `None` when a tool a test needs is here; otherwise why not, for the
/// test to skip with — except in CI, which installs every tool (`.ci/run`):
/// there a missing one fails the test instead of skipping it.
pub fn missing_unless_ci(found: bool, why: &str) -> Option<String> {
    if found {
        return None;
    }
    assert!(
        std::env::var("CI").is_err(),
        "{why}; .ci/run should have installed it"
    );
    Some(why.to_string())
}

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const PASSWORD: &str = "correct horse 9";
pub const OWNER: &str = "owner@acme.test";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_parley")
}

/// Runs `parley admin ...` on `dir` and parses its JSON line.
pub fn admin(dir: &std::path::Path, args: &[&str]) -> Value {
    admin_on(dir, None, args)
}

/// [`admin`] on a cluster's PostgreSQL at `postgres_url` when given.
pub fn admin_on(dir: &std::path::Path, postgres_url: Option<&str>, args: &[&str]) -> Value {
    let mut c = Command::new(bin());
    c.arg("admin").args(args);
    if args.first() != Some(&"migrate") {
        c.arg("--data-dir").arg(dir);
    }
    if let Some(url) = postgres_url {
        c.env("PARLEY_POSTGRES_URL", url);
    }
    let out = c.output().expect("running parley admin");
    assert!(
        out.status.success(),
        "admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("admin prints one JSON line")
}

/// The token-signing secret every test server uses, so tests can make
/// expired and forged tokens.
pub const TOKEN_SECRET: &str = "test-token-secret-0123456789abcdef";

/// A test's config text plus the test defaults: the known token secret and,
/// unless the test sets sign-in limits itself, budgets no test reaches.
fn test_config(text: &str) -> String {
    let mut t = text.to_string();
    if !t.contains("login_per") {
        let limits = "[limits]\nlogin_per_ip_per_minute = 100000\nlogin_per_account_per_minute = 100000\nlogin_free_failures = 100000\nforms_per_ip_per_minute = 100000\nforms_per_site_per_minute = 100000\napi_per_ip_per_second = 100000\napi_burst = 100000\nvisitor_connects_per_ip_per_minute = 100000000\nnew_visitors_per_ip_per_minute = 100000000\nmax_connections_per_ip = 1000000\n";
        t = if t.contains("[limits]\n") {
            t.replace("[limits]\n", limits)
        } else {
            format!("{t}\n{limits}")
        };
    }
    if !t.contains("[plans") {
        // Tests work with more than the free plan allows, unless they test plans.
        t = format!("{t}\n[plans.free]\nsites = -1\nstaff = -1\nconversations_per_month = -1\nfeatures = [\"identity_verification\", \"webhooks\", \"transcripts\", \"campaigns\"]\n");
    }
    if !t.contains("[auth]") {
        t = format!("{t}\n[auth]\ntoken_secret = \"{TOKEN_SECRET}\"\n");
    }
    t
}

/// A running server process.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub ws: String,
    pub dir: tempfile::TempDir,
    pub tenant: Value,
    /// The extra tenants of [`Setup::tenants`], in order.
    pub others: Vec<Value>,
    config: Option<std::path::PathBuf>,
    open_files: Option<u32>,
    tmpfs: bool,
    /// The data dir's fault file system ([`Setup::faultfs`]).
    pub faultfs: Option<faultfs::FaultFs>,
    pub cluster: Option<ClusterNode>,
}

/// What to prepare before the server starts.
#[derive(Default)]
pub struct Setup {
    /// TOML config text.
    pub config: Option<String>,
    /// Extra staff as (email, role).
    pub staff: Vec<(String, String)>,
    /// Extra tenants, by owner email (password [`PASSWORD`]).
    pub tenants: Vec<String>,
    /// An instance operator account (email, password).
    pub superadmin: Option<(String, String)>,
    /// The server's open-file limit (`ulimit -n`), to run it short of descriptors.
    pub open_files: Option<u32>,
    /// Put the data dir on a tmpfs of this size (`"24m"`); see [`can_mount_tmpfs`].
    pub tmpfs: Option<&'static str>,
    /// Put the data dir on a fault file system; see [`faultfs::unavailable`].
    pub faultfs: bool,
    /// Run as a cluster node (`serve --cluster`): the accounts are made in
    /// its PostgreSQL (migrated first).
    pub cluster: Option<ClusterNode>,
    /// Another node of the same cluster: its accounts, none made here.
    pub join: Option<Value>,
}

/// A cluster node's settings ([`Setup::cluster`]).
#[derive(Clone)]
pub struct ClusterNode {
    pub node_id: String,
    pub postgres_url: String,
    pub nats_url: String,
}

/// Mounts a tmpfs of `size` at `dir`, its root 0700 (a tmpfs's root is
/// 1777 otherwise, which the server refuses as a data dir).
pub fn mount_tmpfs(dir: &std::path::Path, size: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "tmpfs",
        ])
        .arg(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether this machine lets a test mount a tmpfs (root); prints why not.
pub fn can_mount_tmpfs() -> bool {
    let d = tempfile::tempdir().unwrap();
    let ok = mount_tmpfs(d.path(), "1m");
    if ok {
        let _ = std::process::Command::new("umount").arg(d.path()).status();
    } else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
    }
    ok
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(Setup::default())
    }

    pub fn start_with(setup: Setup) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if let Some(size) = setup.tmpfs {
            assert!(mount_tmpfs(&data, size), "mounting a tmpfs at {data:?}");
        }
        let faultfs = setup
            .faultfs
            .then(|| faultfs::FaultFs::mount(&data).expect("mounting the fault file system"));
        let pg = setup.cluster.as_ref().map(|c| c.postgres_url.clone());
        let admin = |dir: &std::path::Path, args: &[&str]| admin_on(dir, pg.as_deref(), args);
        if pg.is_some() {
            admin(&data, &["migrate"]);
        }
        let joined = setup.join.is_some();
        let tenant = setup.join.clone().unwrap_or_else(|| {
            admin(
                &data,
                &[
                    "create-tenant",
                    "--name",
                    "Acme",
                    "--owner-email",
                    OWNER,
                    "--owner-password",
                    PASSWORD,
                    "--owner-name",
                    "Olive",
                ],
            )
        });
        let tid = tenant["tenant_id"].as_str().unwrap().to_string();
        for (email, role) in setup.staff.iter().filter(|_| !joined) {
            admin(
                &data,
                &[
                    "create-staff",
                    "--tenant",
                    &tid,
                    "--email",
                    email,
                    "--password",
                    PASSWORD,
                    "--role",
                    role,
                ],
            );
        }
        let others = setup
            .tenants
            .iter()
            .map(|email| {
                admin(
                    &data,
                    &[
                        "create-tenant",
                        "--name",
                        "Other",
                        "--owner-email",
                        email,
                        "--owner-password",
                        PASSWORD,
                    ],
                )
            })
            .collect();
        if let Some((email, password)) = &setup.superadmin {
            admin(
                &data,
                &[
                    "create-superadmin",
                    "--email",
                    email,
                    "--password",
                    password,
                ],
            );
        }
        let config = Some(test_config(setup.config.as_deref().unwrap_or(""))).map(|text| {
            let p = dir.path().join("parley.toml");
            std::fs::write(&p, text).unwrap();
            p
        });
        let mut s = Self {
            child: None,
            base: String::new(),
            ws: String::new(),
            dir,
            tenant,
            others,
            config,
            open_files: setup.open_files,
            tmpfs: setup.tmpfs.is_some(),
            faultfs,
            cluster: setup.cluster,
        };
        s.spawn();
        s
    }

    /// Starts the server again on the same data dir (after it exited).
    pub fn respawn(&mut self) {
        assert!(self.child.is_none());
        self.spawn();
    }

    /// `kill -9`, then start again on the same data dir and the same
    /// address (so a browser page can reconnect by itself).
    pub fn kill9_and_restart_same_address(&mut self) {
        let addr = self.base.trim_start_matches("http://").to_string();
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
        self.spawn_at(&addr);
    }

    fn spawn(&mut self) {
        self.spawn_at("127.0.0.1:0");
    }

    fn spawn_at(&mut self, listen: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let mut cmd = match self.open_files {
            // The shell lowers its limit, then becomes the server.
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        cmd.arg("serve")
            .arg("--listen")
            .arg(listen)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .env("PARLEY_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        if let Some(c) = &self.cluster {
            cmd.arg("--cluster")
                .env("PARLEY_NODE_ID", &c.node_id)
                .env("PARLEY_POSTGRES_URL", &c.postgres_url)
                .env("PARLEY_NATS_URL", &c.nats_url);
        }
        let mut child = cmd.spawn().expect("starting parley");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}; log: {}", self.log()))
            .to_string();
        self.base = format!("http://{addr}");
        self.ws = format!("ws://{addr}");
        self.child = Some(child);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn site_key(&self) -> &str {
        self.tenant["site_key"].as_str().unwrap()
    }

    /// `kill -9`, then start again on the same data dir.
    pub fn kill9_and_restart(&mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
        self.spawn();
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid();
        let st = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(st.success());
        self.terminate_wait()
    }

    /// Waits up to 10 s for the process to exit after a signal.
    pub fn terminate_wait(&mut self) -> ExitStatus {
        let mut c = self.child.take().unwrap();
        for _ in 0..200 {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        c.kill().unwrap();
        panic!("server did not exit within 10 s of SIGTERM");
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap();
        kb * 1024
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str) -> String {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    /// A visitor socket after `hello`; returns it and the `welcome`.
    pub async fn visitor(&self, token: Option<&str>) -> (Ws, Value) {
        let mut ws = Ws::connect(&format!("{}/ws/visitor?site={}", self.ws, self.site_key())).await;
        ws.send(json!({"type":"hello","visitor_token":token,"page":{"url":"https://acme.test/","title":"Home","referrer":""}}))
            .await;
        let welcome = ws.recv().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        (ws, welcome)
    }

    /// A staff socket after `auth`; returns it and the `ready`.
    pub async fn staff(&self, email: &str) -> (Ws, Value) {
        let token = self.login(email).await;
        let mut ws = Ws::connect(&format!("{}/ws/staff", self.ws)).await;
        ws.send(json!({"type":"auth","token":token})).await;
        let ready = ws.recv().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (ws, ready)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- server log (last 40 lines) ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.tmpfs {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(self.dir.path().join("data"))
                .status();
        }
    }
}

/// A WebSocket client speaking JSON text frames.
pub struct Ws {
    pub inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn connect(url: &str) -> Self {
        let (inner, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        Self { inner }
    }

    /// Connects sending extra request headers (a browser's `User-Agent`…).
    pub async fn connect_with(url: &str, headers: &[(&'static str, &str)]) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().unwrap();
        for (k, v) in headers {
            req.headers_mut().insert(*k, v.parse().unwrap());
        }
        let (inner, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("websocket connect");
        Self { inner }
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, s: &str) {
        self.inner
            .send(Message::text(s))
            .await
            .expect("websocket send");
    }

    /// The next JSON frame, within 10 s.
    pub async fn recv(&mut self) -> Value {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(10), self.inner.next())
                .await
                .expect("no frame within 10 s")
                .expect("socket ended")
                .expect("socket error");
            match m {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Close(c) => panic!("socket closed: {c:?}"),
                _ => continue,
            }
        }
    }

    /// The next frame within `d`, if any.
    pub async fn try_recv(&mut self, d: Duration) -> Option<Value> {
        match tokio::time::timeout(d, self.inner.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => Some(serde_json::from_str(&t).unwrap()),
            _ => None,
        }
    }

    /// Reads until a frame matches `pred`.
    pub async fn until(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Value {
        loop {
            let v = self.recv().await;
            if pred(&v) {
                return v;
            }
        }
    }

    pub async fn until_type(&mut self, ty: &str) -> Value {
        self.until(|v| v["type"] == ty).await
    }

    /// Reads until the server closes; returns its close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(Duration::from_secs(15), self.inner.next()).await {
                Ok(Some(Ok(Message::Close(Some(f))))) => return Some(u16::from(f.code)),
                Ok(Some(Ok(Message::Close(None)))) => return Some(u16::from(CloseCode::Status)),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) => return None,
                Err(_) => panic!("socket not closed within 15 s"),
            }
        }
    }
}

/// An HTTP answer: status, JSON body (`Null` when empty or not JSON), headers.
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// The error `code` of a contract error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request and reads the answer.
pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    Resp {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

impl Server {
    /// `METHOD /path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = reqwest::Client::new().request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        send(req).await
    }

    /// Asks for a password reset of `email` (202 whether or not it exists).
    pub async fn request_reset(&self, email: &str) {
        let r = self
            .call(
                "POST",
                "/api/v1/auth/password-reset",
                None,
                Some(json!({ "email": email })),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
    }

    /// Opens consultations on `site`: every day 00:00–23:59 UTC, 30-minute
    /// slots, no notice, with `extra` merged into the rules.
    pub async fn open_bookings(&self, token: &str, site: &str, extra: Value) {
        let days: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| json!({"day": d, "open": "00:00", "close": "23:59"}))
            .collect();
        let mut rules =
            json!({"enabled": true, "slot_minutes": 30, "min_notice_hours": 0, "horizon_days": 7});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            rules[k] = v;
        }
        let r = self
            .call(
                "PATCH",
                &format!("/api/v1/sites/{site}"),
                Some(token),
                Some(json!({"business_hours": {"timezone": "UTC", "days": days}, "consultations": rules})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// The free slots of the site with public key `key`.
    pub async fn slots(&self, key: &str) -> Vec<Value> {
        let r = self
            .call(
                "GET",
                &format!("/api/v1/public/{key}/consultations/slots"),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["slots"].as_array().unwrap().clone()
    }

    /// Signs in and returns the whole token pair.
    pub async fn pair(&self, email: &str, password: &str) -> Value {
        let r = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(r.status, 200, "login {email}: {}", r.body);
        r.body
    }
}

/// A staff access token signed with `secret`, with `exp` seconds from now
/// (negative: already expired).
pub fn staff_token(secret: &str, staff: &str, tenant: &str, exp_in: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({
        "sub": staff, "tid": tenant, "ver": 0, "kind": "staff",
        "iat": now - 3600, "exp": now + exp_in,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `within`;
/// panics saying `what` did not happen in time.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A CSV download's rows (header first), every cell unquoted, after
/// checking that the server quoted every cell and streamed the body (no
/// `Content-Length`: it is sent in chunks as the store is read).
pub async fn csv_download(base: &str, path: &str, token: &str, file: &str) -> Vec<Vec<String>> {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = |n: &str| r.headers()[n].to_str().unwrap().to_string();
    assert_eq!(h("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        h("content-disposition"),
        format!("attachment; filename=\"{file}\"")
    );
    assert!(
        r.headers().get("content-length").is_none(),
        "streamed, not built whole: {:?}",
        r.headers()
    );
    let text = r.text().await.unwrap();
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    // Every cell quoted: the rows written back with every cell quoted are
    // the very bytes received.
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    for row in &rows {
        w.write_record(row).unwrap();
    }
    assert!(
        w.into_inner().unwrap() == text.as_bytes(),
        "every cell quoted: {}",
        &text[..text.len().min(2_000)]
    );
    rows
}
