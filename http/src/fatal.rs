//! Process-level failures and their exit codes: 2 for bad arguments or
//! configuration (a flag, a config file, a data dir, a port), 1 for
//! anything else. Each prints one line on stderr.

/// A failure that ends the process.
#[derive(Debug)]
pub enum Fatal {
    /// Bad arguments or configuration: exit code 2.
    Usage(String),
    /// Anything else: exit code 1.
    Other(String),
}

impl Fatal {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Other(_) => 1,
        }
    }

    /// The one line printed on stderr.
    pub fn message(&self) -> &str {
        match self {
            Self::Usage(m) | Self::Other(m) => m,
        }
    }
}

impl From<parley_storage::StorageError> for Fatal {
    fn from(e: parley_storage::StorageError) -> Self {
        Self::Other(format!("storage: {e}"))
    }
}

impl From<parley_engine::validate::Invalid> for Fatal {
    fn from(e: parley_engine::validate::Invalid) -> Self {
        Self::Usage(e.message)
    }
}
