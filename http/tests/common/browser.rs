//! Running the headless-Chromium scripts of `http/tests/browser/`.

use super::Server;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Why the browser tests cannot run here, if they cannot.
pub fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "{chromium} is not installed (apt-get install chromium)"
        ));
    }
    if !browser_dir().join("node_modules/playwright-core").exists() {
        return Some(
            "playwright-core is not installed (npm ci --prefix http/tests/browser)".into(),
        );
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    None
}

/// Where a script's screenshots go: `target/tmp/{widget,dashboard}-shots/`.
pub fn shots(script: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}-shots", script.trim_end_matches(".mjs")));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs one scenario of a browser script (`widget.mjs`, `dashboard.mjs`)
/// against `srv`; the server is killed and restarted when the script
/// prints `RESTART`, and the script hears `back` on stdin.
pub fn run_script(
    srv: &mut Server,
    script: &str,
    name: &str,
    token: &str,
    extra: &[(&str, String)],
) {
    let mut cmd = Command::new("node");
    cmd.arg("--experimental-websocket")
        .arg(script)
        .current_dir(browser_dir())
        .env("PARLEY_BASE", &srv.base)
        .env("PARLEY_SITE_KEY", srv.site_key())
        .env("PARLEY_STAFF_TOKEN", token)
        .env("PARLEY_SHOTS", shots(script))
        .env("PARLEY_SCENARIO", name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("starting node");
    let mut stdin = child.stdin.take().unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut said = Vec::new();
    for line in out.lines() {
        let line = line.unwrap();
        eprintln!("[{name}] {line}");
        if line == "RESTART" {
            srv.kill9_and_restart_same_address();
            writeln!(stdin, "back").unwrap();
        }
        said.push(line);
    }
    let status = child.wait().unwrap();
    assert!(
        status.success() && said.last().map(String::as_str) == Some("ok"),
        "browser scenario {name} failed: {said:?}\nserver log:\n{}",
        srv.log()
    );
}
