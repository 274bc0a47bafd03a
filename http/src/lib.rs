//! Parley's edge: the hyper/axum HTTP server, the fastwebsockets WebSocket
//! sessions, configuration and the command-line entry points. The `parley`
//! binary (`main.rs`) only parses arguments and calls in here.
#![forbid(unsafe_code)]

pub mod accept;
pub mod admin;
pub mod api;
pub mod app;
pub mod assets;
pub mod auth;
pub mod bus;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod datadir;
pub mod device;
pub mod fatal;
pub mod hashers;
pub mod ics;
pub mod mail;
pub mod mail_time;
pub mod proxies;
pub mod recover;
pub mod reports;
pub mod server;
pub mod state;
pub mod ws;

use cli::ServeArgs;
use config::Config;
use fatal::Fatal;

/// Layers configuration: defaults → `--config` file → env → flags
/// (clap has already folded env into the flags).
pub fn load_config(args: &ServeArgs) -> Result<Config, Fatal> {
    let mut cfg = match &args.config {
        Some(path) => Config::from_file(path).map_err(Fatal::Usage)?,
        None => Config::default(),
    };
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(d) = &args.data_dir {
        cfg.data_dir = d.clone();
    }
    cfg.cluster.enabled |= args.cluster;
    if let Ok(s) = std::env::var("PARLEY_TOKEN_SECRET") {
        cfg.auth.token_secret = Some(s);
    }
    if let Ok(s) = std::env::var("PARLEY_SMTP_URL") {
        cfg.mail.smtp_url = Some(s).filter(|s| !s.is_empty());
    }
    if let Ok(s) = std::env::var("PARLEY_MAIL_FROM") {
        cfg.mail.from = s;
    }
    let c = &mut cfg.cluster;
    for (var, slot) in [
        ("PARLEY_NODE_ID", &mut c.node_id),
        ("PARLEY_POSTGRES_URL", &mut c.postgres_url),
        ("PARLEY_NATS_URL", &mut c.nats_url),
        ("PARLEY_NATS_USER", &mut c.nats_user),
        ("PARLEY_NATS_PASSWORD", &mut c.nats_password),
    ] {
        if let Ok(s) = std::env::var(var) {
            *slot = Some(s).filter(|s| !s.is_empty());
        }
    }
    Ok(cfg)
}

/// `parley serve`: runs until Ctrl-C or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<(), Fatal> {
    let mut cfg = load_config(&args)?;
    init_tracing(&cfg.log);
    if let Some(addr) = recover::inherited_listen() {
        tracing::warn!(%addr, "restarted in place after a failed storage write");
        cfg.listen = addr;
    }
    let server = server::Server::start(cfg).await?;
    let addr = server
        .local_addr()
        .map_err(|e| Fatal::Other(format!("cannot read the bound address: {e}")))?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    }
    tracing::info!(%addr, "parley is ready");
    server.run(server::signal()).await
}

fn init_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PARLEY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
