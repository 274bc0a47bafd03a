//! Parley's storage: one sled database, two trees, postcard values with a
//! leading schema-version byte, and a group-commit writer.
//!
//! - `data`: every tenant-owned record. Keys start with the tenant id, then a
//!   keyspace byte, then big-endian ids and numbers, so prefix scans come out
//!   in time or sequence order and tenant isolation is structural.
//! - `global`: instance-wide indexes (email → staff, site key → site,
//!   the tenant list) and instance metadata (the token-signing secret).
//!
//! Reads go straight to sled. Writes are [`WriteBatch`]es handed to the
//! [`Writer`], which logs many of them with one `fdatasync` of the
//! write-ahead log ([`wal`]) and applies them to sled (group commit); a
//! requester hears back only after its batch is on disk.
#![forbid(unsafe_code)]

mod accounts;
mod analytics;
pub mod backup;
mod bookings;
pub mod codec;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod desk;
pub mod keys;
pub mod kv;
mod newsletter;
mod outbox;
pub mod postgres;
mod privacy;
mod retention;
mod stores;
pub mod wal;
mod webhooks;
pub mod writer;

pub use accounts::{AuthStore, Usage};
pub use analytics::{AnalyticsStore, SiteRange};
pub use bookings::BookingStore;
pub use desk::DeskStore;
pub use kv::{Bytes, Tree};
pub use newsletter::NewsletterStore;
pub use outbox::OutboxStore;
pub use privacy::{PrivacyStore, VisitorData};
pub use retention::RetentionStore;
pub use stores::{AccountStore, ConversationStore, MessageLog, VisitorSnapshot, VisitorStore};
pub use webhooks::WebhookStore;
pub use writer::{Writer, WriterConfig};

use std::path::Path;

/// Bytes free for us on the file system holding `dir`.
pub fn free_space(dir: &Path) -> std::io::Result<u64> {
    fs2::available_space(dir)
}

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("could not decode a stored record: {0}")]
    Decode(String),
    #[error("stored record has schema version {0}, this build reads {1}")]
    Schema(u8, u8),
    #[error("the storage writer has stopped")]
    WriterGone,
    #[error("the storage writer failed earlier and refuses writes until restart: {0}")]
    Poisoned(String),
    /// Refused before it touched the disk: too little free space. Nothing
    /// is poisoned; writes resume once space returns.
    #[error("the disk is nearly full ({free} bytes free, {need} needed); retry later")]
    NoSpace { free: u64, need: u64 },
    /// The cluster's PostgreSQL failed or could not be reached; nothing is
    /// poisoned, the next write tries again.
    #[error("the database is unavailable: {0}")]
    Database(String),
    /// A write of a tenant this node does not hold the lease of (or no
    /// longer does): refused, nothing of it written.
    #[error("this node does not own tenant {0} (its lease is held elsewhere or ran out)")]
    NotOwner(parley_engine::TenantId),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("backup: {0}")]
    Backup(String),
}

/// Storage result.
pub type Result<T> = std::result::Result<T, StorageError>;

/// Which tree an operation targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeId {
    Data,
    Global,
}

/// One key write (`Some`) or delete (`None`).
#[derive(Clone, Debug)]
pub struct Op {
    pub tree: TreeId,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// An analytics count: `event` folded into the bucket at `key` by the
/// writer, in the same atomic batch as the rest of the write. With `once`,
/// it counts only if that marker key is not yet set (and sets it): a
/// visitor counted once per hour, a conversation's first answer once.
#[derive(Clone, Debug)]
pub struct Count {
    pub key: keys::BucketKey,
    pub once: Option<Vec<u8>>,
    pub event: parley_engine::analytics::Event,
}

/// Writes applied atomically together (one sled batch, or a transaction
/// when they touch both trees), with the analytics counts they cause.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    pub ops: Vec<Op>,
    pub counts: Vec<Count>,
    /// The ordered series this write belongs to (see [`Chain`]).
    pub chain: Option<Chain>,
    /// Set by the writer handle it was submitted through: checked against
    /// the node's leases on a cluster ([`Writer::unfenced`]).
    pub(crate) fenced: bool,
}

/// A series of writes that must land in order with no hole: one
/// conversation's log. Once the writer refuses a write of `id`, it refuses
/// every later write of `id` from the same `generation` too, so a write
/// already queued behind a refused one can never land after it. The
/// requester takes a fresh [`Chain::next_generation`] once it has heard of
/// the refusal (and given the refused seqs out again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain {
    pub id: [u8; 16],
    pub generation: u64,
}

impl Chain {
    /// A generation no requester in this process has used yet.
    pub fn next_generation() -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }
    /// Puts a key in the data tree.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op {
            tree: TreeId::Data,
            key,
            value: Some(value),
        });
    }
    /// Puts a key in the global tree.
    pub fn put_global(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op {
            tree: TreeId::Global,
            key,
            value: Some(value),
        });
    }
    /// Deletes a key of the data tree.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push(Op {
            tree: TreeId::Data,
            key,
            value: None,
        });
    }
    /// Deletes a key of the global tree.
    pub fn delete_global(&mut self, key: Vec<u8>) {
        self.ops.push(Op {
            tree: TreeId::Global,
            key,
            value: None,
        });
    }
    /// Counts `event` into the bucket at `key` (see [`Count`]).
    pub fn count(&mut self, key: keys::BucketKey, event: parley_engine::analytics::Event) {
        self.counts.push(Count {
            key,
            once: None,
            event,
        });
    }
    /// Counts `event` unless the marker `once` is already set.
    pub fn count_once(
        &mut self,
        key: keys::BucketKey,
        once: Vec<u8>,
        event: parley_engine::analytics::Event,
    ) {
        self.counts.push(Count {
            key,
            once: Some(once),
            event,
        });
    }
    /// Adds another batch's operations and counts to this one.
    pub fn extend(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
        self.counts.extend(other.counts);
        self.chain = self.chain.or(other.chain);
    }
    /// Marks the batch as the next write of `chain`.
    pub fn in_chain(&mut self, chain: Chain) {
        self.chain = Some(chain);
    }
    /// Bytes of keys and values the batch writes.
    pub fn bytes(&self) -> u64 {
        let ops: usize = self
            .ops
            .iter()
            .map(|o| o.key.len() + o.value.as_ref().map_or(0, Vec::len))
            .sum();
        (ops + self.counts.len() * 64) as u64
    }
    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len() + self.counts.len()
    }
    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.counts.is_empty()
    }
}

/// Tuning for opening the database.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// sled page cache, in bytes.
    pub cache_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            cache_bytes: 256 << 20,
        }
    }
}

/// The opened database: cheap to clone, shared by every reader. Its
/// records live in sled (one node) or in PostgreSQL (a cluster); every
/// storage trait reads them through the same two [`Tree`]s.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    data: Tree,
    global: Tree,
    dir: std::sync::Arc<std::path::PathBuf>,
}

#[derive(Clone)]
pub(crate) enum Backend {
    Sled(sled::Db),
    Postgres(std::sync::Arc<postgres::records::Pool>),
}

impl Store {
    /// Opens (or creates) the database inside `dir`, replaying what the
    /// write-ahead log holds beyond sled's last checkpoint.
    pub fn open(dir: &Path, cfg: &StoreConfig) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(cfg.cache_bytes)
            // Durability is the write-ahead log's; sled flushes at checkpoints.
            .flush_every_ms(None)
            .open()?;
        let data = Tree::sled(db.open_tree("data")?);
        let global = Tree::sled(db.open_tree("global")?);
        let store = Self {
            backend: Backend::Sled(db),
            data,
            global,
            dir: std::sync::Arc::new(dir.to_path_buf()),
        };
        wal::recover(&store)?;
        Ok(store)
    }

    /// Opens the records of a cluster in the PostgreSQL at `url` (already
    /// migrated: `parley admin migrate`), read through `readers`
    /// connections. `dir` is the node's own data dir, for what stays local.
    pub fn open_postgres(url: &str, readers: usize, dir: &Path) -> Result<Self> {
        let pool = postgres::records::Pool::open(url, readers)?;
        Ok(Self {
            data: Tree::postgres(pool.clone(), 0),
            global: Tree::postgres(pool.clone(), 1),
            backend: Backend::Postgres(pool),
            dir: std::sync::Arc::new(dir.to_path_buf()),
        })
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Whether the records are in PostgreSQL (a cluster node).
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The data dir the database lives in.
    pub fn dir(&self) -> &Path {
        self.dir.as_path()
    }

    /// Bytes free for us on the file system holding the database (for
    /// PostgreSQL, not ours to guard: unlimited).
    pub fn free_space(&self) -> std::io::Result<u64> {
        match self.backend {
            Backend::Sled(_) => free_space(self.dir.as_path()),
            Backend::Postgres(_) => Ok(u64::MAX),
        }
    }

    /// The tenant-owned tree.
    pub fn data(&self) -> &Tree {
        &self.data
    }

    /// The instance-wide tree.
    pub fn global(&self) -> &Tree {
        &self.global
    }

    /// Applies a batch and makes it durable, synchronously, bypassing the
    /// writer (and on PostgreSQL, the fence). For offline admin commands
    /// and tests, never while a [`Writer`] runs (a replay of its log could
    /// undo this); the server writes through it.
    pub fn write_now(&self, batch: WriteBatch) -> Result<()> {
        writer::apply(self, batch.ops, batch.counts)?;
        self.flush()
    }

    /// Flushes everything written so far to disk (PostgreSQL commits are
    /// durable already).
    pub fn flush(&self) -> Result<()> {
        if let Backend::Sled(db) = &self.backend {
            db.flush()?;
        }
        Ok(())
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> u64 {
        match &self.backend {
            Backend::Sled(db) => db.size_on_disk().unwrap_or(0),
            Backend::Postgres(pool) => pool.size().unwrap_or(0),
        }
    }

    /// Reads the token-signing secret, storing `fresh()` as the secret on
    /// first use (the caller owns randomness). Nodes starting together
    /// agree on one.
    pub fn instance_secret(&self, fresh: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>> {
        let key = keys::instance_secret();
        if let Some(v) = self.global.get(&key)? {
            return Ok(v.to_vec());
        }
        let secret = fresh();
        match &self.backend {
            Backend::Postgres(pool) => pool.claim(1, &key, secret),
            Backend::Sled(db) => {
                let global = self.global.as_sled().ok_or(StorageError::WriterGone)?;
                match global.compare_and_swap(&key, None as Option<&[u8]>, Some(secret.clone()))? {
                    Ok(()) => {
                        db.flush()?;
                        Ok(secret)
                    }
                    Err(cur) => Ok(cur.current.map(|v| v.to_vec()).unwrap_or(secret)),
                }
            }
        }
    }
}
