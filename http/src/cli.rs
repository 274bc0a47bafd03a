//! Command-line interface, as the contract specifies it.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Parley: self-hosted multi-tenant live chat.
#[derive(Debug, Parser)]
#[command(
    name = "parley",
    version,
    about = "Parley: self-hosted, multi-tenant live chat."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Offline administration of a stopped server's data dir.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// `parley serve`.
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, env = "PARLEY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory (created on first start).
    #[arg(long, env = "PARLEY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A TOML configuration file.
    #[arg(long, env = "PARLEY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run as a node of a cluster: records in PostgreSQL, tenants owned by
    /// lease (`[cluster]`, see http/CLUSTER.md).
    #[arg(long)]
    pub cluster: bool,
}

/// The data dir flag shared by admin commands.
#[derive(Debug, Args)]
pub struct DataDir {
    /// Data directory of a stopped server.
    #[arg(long, env = "PARLEY_DATA_DIR", default_value = "parley-data")]
    pub data_dir: PathBuf,
    /// Work on a cluster's records in this PostgreSQL instead (migrated:
    /// `parley admin migrate`); the data dir is not opened.
    #[arg(long, env = "PARLEY_POSTGRES_URL")]
    pub postgres_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a tenant with its owner and a first site.
    CreateTenant {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        #[arg(long)]
        owner_password: String,
        /// The owner's display name (defaults to the part of the email before @).
        #[arg(long)]
        owner_name: Option<String>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Add a staff member to a tenant.
    CreateStaff {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        /// owner, admin or agent.
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Put a tenant on a plan (by name; the config's plan names are not
    /// checked here: an unknown one counts as free).
    SetPlan {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        plan: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Make a new data dir from a backup (`POST /api/v1/admin/backups`).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The data dir to create; it must not hold a database yet.
        #[arg(long, env = "PARLEY_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Compare a backup with a stopped server's data dir, record by record.
    VerifyBackup {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Bring the cluster's PostgreSQL schema up to date (`[cluster]
    /// postgres_url` or `PARLEY_POSTGRES_URL`); applying it again does nothing.
    Migrate {
        /// A TOML configuration file.
        #[arg(long, env = "PARLEY_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Create the instance operator account.
    CreateSuperadmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[command(flatten)]
        dir: DataDir,
    },
}
