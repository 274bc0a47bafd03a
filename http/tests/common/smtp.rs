//! A real SMTP server on loopback for the tests: `http/tests/smtp/sink.py`
//! (aiosmtpd) writes every accepted message as JSON into a temp dir.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sink.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// A free loopback port (nothing listens on it once this returns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Why the sink cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    super::missing_unless_ci(
        ok,
        "python3 with aiosmtpd is not installed (pip install aiosmtpd)",
    )
}

impl Smtp {
    /// Starts the sink on `port`.
    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the SMTP sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Self { child, port, dir }
    }

    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                out.push(serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap());
            }
        }
        out
    }

    /// Waits (up to 20 s) for a message to `to` whose subject contains
    /// `subject`, and returns it.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.messages().into_iter().find(|m| {
                m["rcpt_tos"][0] == to
                    && m["headers"]["subject"]
                        .as_str()
                        .is_some_and(|s| s.contains(subject))
            });
            if let Some(m) = found {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} about {subject:?}; got {:?}",
                self.messages()
                    .iter()
                    .map(|m| (m["rcpt_tos"].clone(), m["headers"]["subject"].clone()))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token after `fragment` (`#invite=`) in a mail's text body.
pub fn link_token(mail: &Value, fragment: &str) -> String {
    let body = mail["text"].as_str().unwrap();
    let at = body.find(fragment).expect("link in mail") + fragment.len();
    body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The whole link that contains `fragment` in a mail's text body.
pub fn link(mail: &Value, fragment: &str) -> String {
    let body = mail["text"].as_str().unwrap();
    let at = body.find(fragment).expect("link in mail");
    let start = body[..at].rfind("http").expect("link start");
    body[start..].split_whitespace().next().unwrap().to_string()
}
