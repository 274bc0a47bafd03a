//! The group-commit writer: one OS thread owns every write. Requesters hand
//! it a [`WriteBatch`] and a completion callback; it gathers what is queued
//! (up to `max_batch` operations, waiting at most `window` for more),
//! appends it to the write-ahead log with one `fdatasync` ([`crate::wal`]),
//! applies it to sled, and only then calls each requester back.
//!
//! A thread rather than an actor because the log's sync blocks: it must
//! never sit on the async runtime. The completion is a callback so
//! an actor can turn it into a message to itself (`Durable { seq }`) and
//! keep handling other work while its writes are in flight.
//!
//! Before a batch touches the disk the writer checks the file system's free
//! space: below [`WriterConfig::min_free_bytes`] (plus twice the batch) it
//! refuses the batch with [`StorageError::NoSpace`], poisoning nothing, and
//! probes every [`PROBE_EVERY`] until space returns; then writes resume by
//! themselves. A refused write of a [`Chain`] (one conversation's log)
//! refuses the rest of that chain's generation, so nothing queued behind it
//! lands after the hole it leaves.
//!
//! If a write still fails (an I/O error, or the disk filling faster than the
//! guard sees), or a checkpoint does, the writer is poisoned: later writes
//! fail at once and no requester is ever
//! told "durable" for a write that might sit after a hole in the log.
//! `/healthz` reports either state with its reason; the server restarts
//! itself in place once the disk takes writes again (`parley::recover`).

use crate::keys::Tally;
use crate::postgres::Fences;
use crate::AnalyticsStore;
use crate::{Backend, Chain, Count, Op, Result, StorageError, Store, TreeId, WriteBatch};
use parley_engine::analytics::{day_of, Bucket, Day, DAY_HOURS};
use parley_engine::TenantId;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Called once the batch is durable (`Ok`) or has failed.
pub type Done = Box<dyn FnOnce(Result<()>) + Send>;

/// How often a writer short of space looks again while nothing is written.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);

/// Work run on the writer thread between two group commits.
pub type Job = Box<dyn FnOnce(&Store) + Send>;

enum Request {
    Write {
        batch: WriteBatch,
        done: Done,
    },
    /// Write what is queued before this, then run it with no write in
    /// between (a consistent backup).
    Exclusive(Job),
    /// Write what is queued before this, then stop.
    Stop,
}

/// Writer tuning.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Most operations gathered into one group commit.
    pub max_batch: usize,
    /// How long to wait for more work once a batch has started; zero takes
    /// only what is already queued (requests that arrive during a sync are
    /// batched anyway).
    pub window: Duration,
    /// Free bytes the file system must keep after a batch; below it writes
    /// are refused (not failed) until space returns.
    pub min_free_bytes: u64,
    /// Bytes of write-ahead log after which a segment is checkpointed into
    /// sled and removed: the most a restart replays.
    pub segment_bytes: u64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            max_batch: 4096,
            window: Duration::ZERO,
            min_free_bytes: 64 << 20,
            segment_bytes: 32 << 20,
        }
    }
}

/// Whether the writer can write, and why not.
#[derive(Default)]
struct Health {
    ok: AtomicBool,
    /// A write or checkpoint failed: only a restart clears it (see `parley::recover`).
    poisoned: AtomicBool,
    /// What failed, once `poisoned`: every later write is refused with it.
    failure: Mutex<Option<String>>,
    reason: Mutex<Option<String>>,
}

impl Health {
    fn set(&self, reason: Option<String>) {
        self.ok.store(reason.is_none(), Ordering::Relaxed);
        if let Ok(mut r) = self.reason.lock() {
            *r = reason;
        }
    }

    /// What failed, once writes are refused for good.
    fn failure(&self) -> Option<String> {
        if !self.poisoned.load(Ordering::Relaxed) {
            return None;
        }
        let f = self.failure.lock().ok().and_then(|f| f.clone());
        Some(f.unwrap_or_else(|| "a storage write failed".into()))
    }

    /// Refuses writes for the life of the process because of `why` (the
    /// writer thread's own failures and the checkpoint thread's alike).
    fn poison(&self, why: &str) {
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert_with(|| why.to_string());
        }
        self.poisoned.store(true, Ordering::Relaxed);
        self.set(Some(format!(
            "a storage write failed ({why}); writes are refused until the disk takes writes again and the server restarts"
        )));
    }
}

/// A handle to the writer thread; clone it freely.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
    health: Arc<Health>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// Whether this handle's writes are fenced (see [`Writer::unfenced`]).
    fenced: bool,
}

impl Writer {
    /// Starts the writer thread for `store`. On PostgreSQL its writes are
    /// not fenced: see [`Writer::start_fenced`] for a cluster node's.
    pub fn start(store: Store, cfg: WriterConfig) -> Self {
        Self::spawn(store, cfg, None)
    }

    /// Starts the writer of a cluster node: every write of a tenant's
    /// records carries the epoch of this node's lease on it, checked in the
    /// same transaction; a tenant whose lease is not held here, or has
    /// moved on, is refused with [`StorageError::NotOwner`].
    pub fn start_fenced(store: Store, cfg: WriterConfig, fences: Arc<dyn Fences>) -> Self {
        Self::spawn(store, cfg, Some(fences))
    }

    fn spawn(store: Store, cfg: WriterConfig, fences: Option<Arc<dyn Fences>>) -> Self {
        let (tx, rx) = mpsc::channel();
        let health = Arc::new(Health::default());
        health.set(None);
        let h = health.clone();
        let sink = match store.backend() {
            Backend::Sled(_) => Sink::Log(crate::wal::Log::open(
                &store,
                cfg.segment_bytes,
                move |why| h.poison(&why),
            )),
            Backend::Postgres(_) => Sink::Postgres(Box::new(Committer::new(fences))),
        };
        let h = health.clone();
        let thread = std::thread::Builder::new()
            .name("parley-writer".into())
            .spawn(move || Run::new(store, cfg, h, sink).serve(rx))
            .expect("spawning the storage writer thread");
        Self {
            tx,
            health,
            thread: Arc::new(Mutex::new(Some(thread))),
            fenced: true,
        }
    }

    /// A handle to the same writer whose writes skip the lease fences: for
    /// records any node may write, last writer winning (a cluster's REST
    /// edge: sessions, settings, forms), never for what a tenant's actors
    /// own (its conversations' logs), which only its owner writes.
    pub fn unfenced(&self) -> Self {
        Self {
            fenced: false,
            ..self.clone()
        }
    }

    /// Queues `batch`; `done` runs on the writer thread once it is durable.
    pub fn submit(&self, mut batch: WriteBatch, done: Done) {
        batch.fenced = self.fenced;
        if let Err(mpsc::SendError(Request::Write { done, .. })) =
            self.tx.send(Request::Write { batch, done })
        {
            done(Err(StorageError::WriterGone));
        }
    }

    /// Writes `batch` and waits until it is durable.
    pub async fn write(&self, batch: WriteBatch) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(
            batch,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.await.unwrap_or(Err(StorageError::WriterGone))
    }

    /// Runs `job` on the writer thread after everything queued so far is
    /// written and before anything queued later: no write interleaves with
    /// it. Writes wait meanwhile; reads do not.
    pub async fn exclusive<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Store) -> T + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |store| {
            let _ = tx.send(job(store));
        });
        self.tx
            .send(Request::Exclusive(job))
            .map_err(|_| StorageError::WriterGone)?;
        rx.await.map_err(|_| StorageError::WriterGone)
    }

    /// False while writes are refused (short of space) or failed.
    pub fn is_healthy(&self) -> bool {
        self.health.ok.load(Ordering::Relaxed)
    }

    /// True once a write failed: writes are refused for the life of the process.
    pub fn is_poisoned(&self) -> bool {
        self.health.poisoned.load(Ordering::Relaxed)
    }

    /// Why writes are refused, when they are.
    pub fn trouble(&self) -> Option<String> {
        if self.is_healthy() {
            return None;
        }
        self.health.reason.lock().ok().and_then(|r| r.clone())
    }

    /// Writes everything queued so far, then stops the thread and waits
    /// for it. Later writes fail with [`StorageError::WriterGone`].
    pub fn shutdown(&self) {
        let _ = self.tx.send(Request::Stop);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// Where the writer's groups go.
enum Sink {
    /// sled behind the write-ahead log (an `Err` when the log could not be
    /// opened: poisoned).
    Log(Result<crate::wal::Log>),
    /// PostgreSQL, one transaction per group.
    Postgres(Box<Committer>),
}

/// The writer thread's state.
struct Run {
    store: Store,
    cfg: WriterConfig,
    health: Arc<Health>,
    /// The write-ahead log; none when it could not be opened (poisoned),
    /// or on PostgreSQL.
    log: Option<crate::wal::Log>,
    /// The PostgreSQL side, on that backend.
    pg: Option<Box<Committer>>,
    /// The last refusal for space (free, needed) while it lasts.
    short: Option<(u64, u64)>,
    /// Chains with a refused write: the generation refused, and why.
    refused: HashMap<[u8; 16], (u64, Refusal)>,
}

impl Run {
    fn new(store: Store, cfg: WriterConfig, health: Arc<Health>, sink: Sink) -> Self {
        let (log, pg) = match sink {
            Sink::Log(Ok(l)) => (Some(l), None),
            Sink::Log(Err(e)) => {
                let why = format!("the write-ahead log cannot be opened: {e}");
                tracing::error!(error = %why, "refusing writes");
                health.poison(&why);
                (None, None)
            }
            Sink::Postgres(c) => (None, Some(c)),
        };
        Self {
            store,
            cfg,
            health,
            log,
            pg,
            short: None,
            refused: HashMap::new(),
        }
    }

    fn serve(mut self, rx: mpsc::Receiver<Request>) {
        let mut batch: Vec<(WriteBatch, Done)> = Vec::new();
        let mut stopping = false;
        while !stopping {
            let first = if self.short.is_some() && !self.poisoned() {
                match rx.recv_timeout(PROBE_EVERY) {
                    Ok(r) => r,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let _ = self.space_for(0);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            };
            let mut n_ops = 0;
            // A job or a stop ends the group: it runs once the group is written.
            let mut after: Option<Request> = None;
            let mut take = |r: Request, batch: &mut Vec<(WriteBatch, Done)>, n: &mut usize| match r
            {
                Request::Write { batch: b, done } => {
                    *n += b.len();
                    batch.push((b, done));
                    true
                }
                other => {
                    after = Some(other);
                    false
                }
            };
            let mut open = take(first, &mut batch, &mut n_ops);
            // Take whatever is already queued.
            while open && n_ops < self.cfg.max_batch {
                match rx.try_recv() {
                    Ok(r) => open = take(r, &mut batch, &mut n_ops),
                    Err(_) => break,
                }
            }
            // Optionally linger for more.
            if open && !self.cfg.window.is_zero() {
                let deadline = Instant::now() + self.cfg.window;
                while open && n_ops < self.cfg.max_batch {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(left) {
                        Ok(r) => open = take(r, &mut batch, &mut n_ops),
                        Err(_) => break,
                    }
                }
            }
            self.write(&mut batch);
            match after {
                Some(Request::Exclusive(job)) => job(&self.store),
                Some(Request::Stop) => stopping = true,
                _ => {}
            }
        }
        let poisoned = self.poisoned();
        let closed = match &mut self.log {
            Some(log) if !poisoned => log.close(&self.store),
            Some(_) => self.store.flush(),
            None => Ok(()),
        };
        if let Err(e) = closed {
            tracing::warn!(error = %e, "the last checkpoint failed; the log replays on the next start");
        }
    }

    /// Whether writes are refused for good (here or by a checkpoint).
    fn poisoned(&self) -> bool {
        self.health.poisoned.load(Ordering::Relaxed)
    }

    /// Writes one group: refuses what its chain or the disk does not allow,
    /// logs and applies the rest, then answers every requester.
    fn write(&mut self, batch: &mut Vec<(WriteBatch, Done)>) {
        if batch.is_empty() {
            return;
        }
        // Writes queued behind a refused write of their chain.
        batch.retain_mut(|(b, done)| match self.behind_refusal(b.chain) {
            Some(why) => {
                let done = std::mem::replace(done, Box::new(|_| {}));
                done(Err(why.error()));
                false
            }
            None => true,
        });
        if batch.is_empty() {
            return;
        }
        let bytes: u64 = batch.iter().map(|(b, _)| b.bytes()).sum();
        let outcome = if let Some(why) = self.health.failure() {
            Err(Refusal::Poisoned(why))
        } else if let Err((free, need)) = self.space_for(bytes) {
            for (b, _) in batch.iter() {
                mark(&mut self.refused, b, Refusal::NoSpace(free, need));
            }
            Err(Refusal::NoSpace(free, need))
        } else if let Some(pg) = self.pg.as_mut() {
            let start = Instant::now();
            let n_ops: usize = batch.iter().map(|(b, _)| b.len()).sum();
            let res = pg.commit(&self.store, batch, &mut self.refused);
            metrics::histogram!("parley_storage_flush_seconds")
                .record(start.elapsed().as_secs_f64());
            metrics::histogram!("parley_storage_batch_ops").record(n_ops as f64);
            match &res {
                Err(Refusal::Database(why)) => self.health.set(Some(format!(
                    "the database is unavailable ({why}); writes are refused until it answers"
                ))),
                _ if !self.health.ok.load(Ordering::Relaxed) && self.short.is_none() => {
                    tracing::info!("the database answers again; writes resume");
                    self.health.set(None);
                }
                _ => {}
            }
            res
        } else {
            let n_ops: usize = batch.iter().map(|(b, _)| b.len()).sum();
            let start = Instant::now();
            let counts: Vec<Count> = batch
                .iter_mut()
                .flat_map(|r| std::mem::take(&mut r.0.counts))
                .collect();
            let ops = batch.iter_mut().flat_map(|r| std::mem::take(&mut r.0.ops));
            let store = &self.store;
            let log = self.log.as_mut().ok_or(StorageError::WriterGone);
            let res = log.and_then(|log| {
                let ops = resolve(store, ops, counts)?;
                log.append(&ops)?;
                apply_logged(store, ops)
            });
            metrics::histogram!("parley_storage_flush_seconds")
                .record(start.elapsed().as_secs_f64());
            metrics::histogram!("parley_storage_batch_ops").record(n_ops as f64);
            metrics::histogram!("parley_storage_batch_requests").record(batch.len() as f64);
            res.map_err(|e| {
                let why = e.to_string();
                tracing::error!(error = %why, "storage write failed; refusing further writes");
                self.health.poison(&why);
                Refusal::Poisoned(why)
            })
        };
        for (_, done) in batch.drain(..) {
            done(outcome.clone().map_err(|why| why.error()));
        }
    }

    /// Why, when `chain` had a write refused in this generation; a later
    /// generation clears the mark.
    fn behind_refusal(&mut self, chain: Option<Chain>) -> Option<Refusal> {
        let c = chain?;
        match self.refused.get(&c.id) {
            Some((generation, why)) if c.generation <= *generation => Some(why.clone()),
            Some(_) => {
                self.refused.remove(&c.id);
                None
            }
            None => None,
        }
    }

    /// Whether the disk has room for `bytes` more, keeping the reserve;
    /// updates health when that changes.
    fn space_for(&mut self, bytes: u64) -> std::result::Result<(), (u64, u64)> {
        let need = self
            .cfg
            .min_free_bytes
            .saturating_add(bytes.saturating_mul(2));
        // A file system that cannot say: let the write itself decide.
        let free = self.store.free_space().unwrap_or(u64::MAX);
        if free < need {
            if self.short.is_none() {
                tracing::warn!(
                    free,
                    need,
                    "the disk is nearly full; refusing writes until space returns"
                );
                metrics::counter!("parley_storage_refused_total").increment(1);
                self.health.set(Some(format!(
                    "the disk is nearly full: {free} bytes free, {need} needed; writes resume when space returns"
                )));
            }
            self.short = Some((free, need));
            return Err((free, need));
        }
        if self.short.take().is_some() && !self.poisoned() {
            tracing::info!(free, "disk space is back; writes resume");
            self.health.set(None);
        }
        Ok(())
    }
}

/// Why a write was not written.
#[derive(Clone, Debug)]
enum Refusal {
    Poisoned(String),
    NoSpace(u64, u64),
    /// The tenant's lease is not held here (cluster).
    NotOwner(TenantId),
    /// PostgreSQL failed or did not answer (cluster); nothing is poisoned.
    Database(String),
}

impl Refusal {
    fn error(&self) -> StorageError {
        match self {
            Refusal::Poisoned(why) => StorageError::Poisoned(why.clone()),
            Refusal::NoSpace(free, need) => StorageError::NoSpace {
                free: *free,
                need: *need,
            },
            Refusal::NotOwner(t) => StorageError::NotOwner(*t),
            Refusal::Database(why) => StorageError::Database(why.clone()),
        }
    }
}

/// Remembers that `b`'s chain had a write refused, so the rest of its
/// generation is refused too.
fn mark(refused: &mut HashMap<[u8; 16], (u64, Refusal)>, b: &WriteBatch, why: Refusal) {
    if let Some(c) = b.chain {
        refused.insert(c.id, (c.generation, why));
    }
}

/// The tenant a data-tree key belongs to: its first 16 bytes. Shorter
/// keys belong to no tenant (none are written by the server).
fn tenant_of(op: &Op) -> Option<TenantId> {
    if op.tree != TreeId::Data {
        return None;
    }
    let id: [u8; 16] = op.key.get(..16)?.try_into().ok()?;
    Some(TenantId::from_bytes(id))
}

/// The writer's side of PostgreSQL: its own connection, on a runtime of
/// its own, and the leases its writes are fenced by.
struct Committer {
    rt: Option<tokio::runtime::Runtime>,
    client: Option<tokio_postgres::Client>,
    fences: Option<Arc<dyn Fences>>,
    /// Leases PostgreSQL said had moved on, by the epoch that failed: later
    /// writes at that epoch are refused here without asking again.
    stale: HashMap<TenantId, i64>,
}

impl Committer {
    fn new(fences: Option<Arc<dyn Fences>>) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| tracing::error!(error = %e, "the storage writer has no runtime"))
            .ok();
        Self {
            rt,
            client: None,
            fences,
            stale: HashMap::new(),
        }
    }

    /// Writes the group in one transaction behind its fences. A write of a
    /// tenant not held here, or whose lease moved on, is answered
    /// [`Refusal::NotOwner`] and taken out of `batch` (the rest is tried
    /// again without it); what is left in `batch` gets the returned outcome.
    fn commit(
        &mut self,
        store: &Store,
        batch: &mut Vec<(WriteBatch, Done)>,
        refused: &mut HashMap<[u8; 16], (u64, Refusal)>,
    ) -> std::result::Result<(), Refusal> {
        let url = match store.backend() {
            Backend::Postgres(pool) => pool.url().to_string(),
            Backend::Sled(_) => return Err(Refusal::Database("not a PostgreSQL store".into())),
        };
        loop {
            // Per request: the tenants it writes, and their epochs here.
            let mut fences: HashMap<TenantId, i64> = HashMap::new();
            batch.retain_mut(|(b, done)| {
                let mut mine = true;
                let mut refusal = None;
                if !b.fenced {
                    return true;
                }
                let tenants = b.ops.iter().filter_map(tenant_of);
                for t in tenants.chain(b.counts.iter().map(|c| c.key.tenant)) {
                    let epoch = match &self.fences {
                        None => continue,
                        Some(f) => f.epoch(t).filter(|e| self.stale.get(&t) != Some(e)),
                    };
                    match epoch {
                        Some(e) => {
                            fences.insert(t, e);
                        }
                        None => {
                            mine = false;
                            refusal = Some(Refusal::NotOwner(t));
                            break;
                        }
                    }
                }
                if let Some(why) = refusal {
                    mark(refused, b, why.clone());
                    let done = std::mem::replace(done, Box::new(|_| {}));
                    done(Err(why.error()));
                }
                mine
            });
            if batch.is_empty() {
                return Ok(());
            }
            let counts: Vec<Count> = batch.iter().flat_map(|r| r.0.counts.clone()).collect();
            let ops = batch.iter().flat_map(|r| r.0.ops.clone());
            let ops = resolve(store, ops, counts).map_err(|e| Refusal::Database(e.to_string()))?;
            let held: Vec<crate::postgres::lease::Held> = fences
                .iter()
                .map(|(&tenant, &epoch)| crate::postgres::lease::Held { tenant, epoch })
                .collect();
            let node = self.fences.as_ref().map_or("", |f| f.node()).to_string();
            let Some(rt) = self.rt.as_ref() else {
                return Err(Refusal::Database(
                    "the storage writer has no runtime".into(),
                ));
            };
            let client = &mut self.client;
            let res = rt.block_on(async {
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    *client = Some(
                        crate::postgres::records::connect_with_limits(&url)
                            .await
                            .map_err(crate::postgres::lease::WriteError::Db)?,
                    );
                }
                match client.as_mut() {
                    Some(c) => crate::postgres::lease::write_fenced(c, &node, &held, &ops).await,
                    None => Ok(()),
                }
            });
            match res {
                Ok(()) => return Ok(()),
                Err(crate::postgres::lease::WriteError::Fenced(moved)) => {
                    tracing::warn!(tenants = moved.len(), "writes fenced: a lease moved on");
                    let mut progressed = false;
                    for t in moved {
                        if let Some(&e) = fences.get(&t) {
                            progressed |= self.stale.insert(t, e) != Some(e);
                        }
                    }
                    if !progressed {
                        // Cannot happen; never spin on it.
                        return Err(Refusal::Database(
                            "a fence refused a tenant not asked about".into(),
                        ));
                    }
                }
                Err(crate::postgres::lease::WriteError::Db(e)) => {
                    self.client = None;
                    let why = crate::postgres::describe(&e);
                    tracing::warn!(error = %why, "a storage write failed on PostgreSQL");
                    for (b, _) in batch.iter() {
                        mark(refused, b, Refusal::Database(why.clone()));
                    }
                    return Err(Refusal::Database(why));
                }
            }
        }
    }
}

/// Applies operations and counts to sled (see [`resolve`], [`apply_ops`]).
pub(crate) fn apply(
    store: &Store,
    ops: impl IntoIterator<Item = Op>,
    counts: Vec<Count>,
) -> Result<()> {
    apply_ops(store, resolve(store, ops, counts)?)
}

/// The plain puts and deletes a group writes: counts folded into their
/// buckets (one read and one write per bucket touched, however many
/// counts), then the operations, so the buckets land in the same atomic
/// batch as the writes that caused them.
pub(crate) fn resolve(
    store: &Store,
    ops: impl IntoIterator<Item = Op>,
    counts: Vec<Count>,
) -> Result<Vec<Op>> {
    let mut out = Vec::new();
    if !counts.is_empty() {
        out.extend(fold(store, counts)?.into_iter().map(|(key, v)| Op {
            tree: TreeId::Data,
            key,
            value: Some(v),
        }));
    }
    out.extend(ops);
    Ok(out)
}

/// Applies logged operations one by one. The write-ahead log already makes
/// the group atomic (a crash replays the whole record), so this skips sled's
/// batches, each of which seals and writes sled's I/O buffer twice through
/// its thread pool (`PageCache::pin_log`). Readers may see a group half
/// applied for as long as the loop runs; puts land in the order given.
pub(crate) fn apply_logged(store: &Store, ops: Vec<Op>) -> Result<()> {
    for op in ops {
        let tree = match op.tree {
            TreeId::Data => store.data(),
            TreeId::Global => store.global(),
        };
        let tree = tree.as_sled().ok_or(StorageError::WriterGone)?;
        match op.value {
            Some(v) => tree.insert(op.key, v)?,
            None => tree.remove(op.key)?,
        };
    }
    Ok(())
}

/// Applies operations atomically without a log: one sled batch per tree,
/// or one transaction when they span both trees (on PostgreSQL, one
/// transaction, unfenced).
pub(crate) fn apply_ops(store: &Store, ops: Vec<Op>) -> Result<()> {
    let (data_tree, global_tree) = match (
        store.backend(),
        store.data().as_sled(),
        store.global().as_sled(),
    ) {
        (Backend::Postgres(pool), _, _) => return pool.write(ops),
        (_, Some(d), Some(g)) => (d, g),
        _ => return Err(StorageError::WriterGone),
    };
    let mut data = sled::Batch::default();
    let mut global = sled::Batch::default();
    let (mut nd, mut ng) = (0usize, 0usize);
    for op in ops {
        let (b, n) = match op.tree {
            TreeId::Data => (&mut data, &mut nd),
            TreeId::Global => (&mut global, &mut ng),
        };
        *n += 1;
        match op.value {
            Some(v) => b.insert(op.key, v),
            None => b.remove(op.key),
        }
    }
    match (nd > 0, ng > 0) {
        (true, true) => {
            use sled::Transactional;
            (data_tree, global_tree)
                .transaction(|(d, g)| {
                    d.apply_batch(&data)?;
                    g.apply_batch(&global)?;
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .map_err(|e| match e {
                    sled::transaction::TransactionError::Storage(e) => StorageError::Sled(e),
                    sled::transaction::TransactionError::Abort(()) => {
                        StorageError::Conflict("transaction aborted".into())
                    }
                })?;
        }
        (true, false) => data_tree.apply_batch(data)?,
        (false, true) => global_tree.apply_batch(global)?,
        (false, false) => {}
    }
    Ok(())
}

/// Folds counts into their buckets as stored; returns the keys to write
/// (buckets and newly set markers).
fn fold(store: &Store, counts: Vec<Count>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    // Every marker and bucket the group touches, read at once (one round
    // trip on PostgreSQL, however many visitors the group counts).
    let mut wanted: Vec<Vec<u8>> = Vec::new();
    let mut asked: HashSet<Vec<u8>> = HashSet::new();
    for c in &counts {
        let day = day_key(&c.key).map(|(k, _)| k);
        for k in c.once.iter().cloned().chain([c.key.to_bytes()]).chain(day) {
            if asked.insert(k.clone()) {
                wanted.push(k);
            }
        }
    }
    let refs: Vec<&[u8]> = wanted.iter().map(Vec::as_slice).collect();
    let values = store.data().get_many(&refs)?;
    let mut stored: HashMap<Vec<u8>, crate::Bytes> = wanted
        .into_iter()
        .zip(values)
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    let mut buckets: HashMap<crate::keys::BucketKey, Bucket> = HashMap::new();
    let mut days: HashMap<Vec<u8>, Day> = HashMap::new();
    let mut marked: HashSet<Vec<u8>> = HashSet::new();
    let mut out = Vec::new();
    for c in counts {
        if let Some(once) = c.once {
            if marked.contains(&once) || stored.contains_key(&once) {
                continue;
            }
            out.push((once.clone(), Vec::new()));
            marked.insert(once);
        }
        let b = match buckets.entry(c.key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let cur = match stored.remove(&e.key().to_bytes()) {
                    // A bucket that cannot be read starts again rather than
                    // stopping every write.
                    Some(v) => crate::codec::decode(&v).unwrap_or_else(|err| {
                        tracing::warn!(error = %err, "an analytics bucket could not be read; it restarts");
                        Bucket::default()
                    }),
                    None => Bucket::default(),
                };
                e.insert(cur)
            }
        };
        b.apply(&c.event);
        if let Some((k, start)) = day_key(&c.key) {
            let d = match days.entry(k) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let cur = match stored.remove(e.key()) {
                        Some(v) => crate::codec::decode(&v).ok(),
                        None => None,
                    };
                    // A day's first count (or one that cannot be read)
                    // starts from the hours already counted, as stored.
                    let cur = match cur {
                        Some(d) => d,
                        None => {
                            let Tally::Site(site) = c.key.who else {
                                unreachable!("only a site's counts have a day")
                            };
                            let hours = store.buckets(
                                c.key.tenant,
                                Tally::Site(site),
                                start,
                                start + DAY_HOURS - 1,
                            )?;
                            Day::from_hours(start, hours.iter().map(|(h, b)| (*h, b)))
                        }
                    };
                    e.insert(cur)
                }
            };
            d.apply(start, c.key.hour, &c.event);
        }
    }
    out.extend(
        buckets
            .into_iter()
            .map(|(k, b)| (k.to_bytes(), crate::codec::encode(&b))),
    );
    out.extend(days.into_iter().map(|(k, d)| (k, crate::codec::encode(&d))));
    Ok(out)
}

/// The key and first hour of the daily rollup a count also goes into: a
/// site's, not a staff member's (their table reads hourly buckets).
fn day_key(k: &crate::keys::BucketKey) -> Option<(Vec<u8>, u32)> {
    match k.who {
        Tally::Site(site) => {
            let start = day_of(k.hour);
            Some((crate::keys::day(k.tenant, site, start), start))
        }
        Tally::Staff(_) => None,
    }
}
