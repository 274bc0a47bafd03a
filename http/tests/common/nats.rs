//! A real `nats-server` for the tests (Debian's package), on a free
//! loopback port; it can be killed and started again on the same port.
//! [`Nats::start_secured`] runs it as production should: TLS with client
//! certificates (a CA made by `openssl` for the test) and a user per node
//! with the subject permissions `http/CLUSTER.md` documents.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nats-server; killed when dropped.
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    /// The config file and certificates of a secured server.
    pub secured: Option<Secured>,
}

/// A secured server's files: its CA and a client certificate it accepts,
/// the password of each user (`node-<id>` per node, and `monitor`, who may
/// read every subject), and the nkey seed files of nodes signing in by nkey.
pub struct Secured {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    seeds: std::collections::HashMap<String, PathBuf>,
}

impl Secured {
    /// The password of `user`.
    pub fn password(user: &str) -> String {
        format!("pw-{user}-0123456789")
    }

    /// The `[cluster]` lines that connect node `id` to this server.
    pub fn node_config(&self, id: &str) -> String {
        let sign_in = match self.seeds.get(id) {
            Some(seed) => format!("nats_nkey_seed_file = {seed:?}\n"),
            None => format!(
                "nats_user = \"node-{id}\"\nnats_password = \"{}\"\n",
                Self::password(&format!("node-{id}"))
            ),
        };
        format!(
            "{sign_in}nats_ca_file = {:?}\nnats_cert_file = {:?}\nnats_key_file = {:?}\n",
            self.ca, self.client_cert, self.client_key,
        )
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
fn make_certs(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=parley test CA"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        ),
        (
            "client",
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
        ),
    ] {
        let subj = format!("/CN=parley test {name}");
        let (key, csr, pem, cnf) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.cnf"),
        );
        let mut req = vec!["req", "-subj", &subj];
        req.extend(ec);
        req.extend(["-keyout", &key, "-out", &csr]);
        openssl(dir, &req);
        std::fs::write(dir.join(&cnf), ext).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-extfile",
                &cnf,
            ],
        );
    }
}

/// Why nats-server cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    let found = Command::new("nats-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    super::missing_unless_ci(found, "nats-server is not installed")
}

impl Nats {
    pub fn start() -> Self {
        let port = super::smtp::free_port();
        let mut n = Self {
            child: None,
            port,
            secured: None,
        };
        n.spawn();
        n
    }

    /// A server asking every client for a certificate from the test's CA
    /// and for a user: `node-<id>` with a password for each of `nodes`, an
    /// nkey for each of `nkey_nodes`, each allowed only what
    /// `http/CLUSTER.md` gives a node, and `monitor`, who may subscribe to
    /// everything and publish nothing.
    pub fn start_secured(nodes: &[&str], nkey_nodes: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        make_certs(dir.path());
        let port = super::smtp::free_port();
        let mut seeds = std::collections::HashMap::new();
        let mut users: Vec<String> = nodes
            .iter()
            .map(|id| (id, None))
            .chain(nkey_nodes.iter().map(|id| {
                let key = nkeys::KeyPair::new_user();
                let file = dir.path().join(format!("node-{id}.nk"));
                std::fs::write(&file, key.seed().unwrap()).unwrap();
                seeds.insert(id.to_string(), file);
                (id, Some(key.public_key()))
            }))
            .map(|(id, nkey)| {
                let sign_in = match nkey {
                    Some(public) => format!(r#"nkey: "{public}""#),
                    None => format!(
                        r#"user: "node-{id}", password: "{}""#,
                        Secured::password(&format!("node-{id}"))
                    ),
                };
                format!(
                    r#"{{ {sign_in}, permissions: {{
      publish: {{ allow: ["parley.t.*.in", "parley.n.*.out"] }},
      subscribe: {{ allow: ["parley.t.*.in", "parley.n.{id}.out", "_INBOX.{id}.>"] }},
      allow_responses: true
    }} }}"#
                )
            })
            .collect();
        users.push(format!(
            r#"{{ user: "monitor", password: "{}", permissions: {{ publish: {{ deny: [">"] }}, subscribe: {{ allow: [">"] }} }} }}"#,
            Secured::password("monitor")
        ));
        let d = dir.path();
        let conf = format!(
            "listen: \"127.0.0.1:{port}\"\ntls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: true\n  timeout: 5\n}}\nauthorization {{\n  users: [\n    {}\n  ]\n}}\n",
            d.join("server.pem"),
            d.join("server.key"),
            d.join("ca.pem"),
            users.join(",\n    ")
        );
        std::fs::write(d.join("nats.conf"), conf).unwrap();
        let secured = Secured {
            ca: d.join("ca.pem"),
            client_cert: d.join("client.pem"),
            client_key: d.join("client.key"),
            seeds,
            dir,
        };
        let mut n = Self {
            child: None,
            port,
            secured: Some(secured),
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("nats-server");
        match &self.secured {
            Some(s) => cmd.arg("-c").arg(s.dir.path().join("nats.conf")),
            None => cmd.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]),
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Why a secured nats-server cannot run here, if it cannot (it needs
/// `openssl` for its certificates too).
pub fn secured_unavailable() -> Option<String> {
    unavailable().or_else(|| {
        let found = Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        super::missing_unless_ci(found, "openssl is not installed")
    })
}
