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

use crate::{Chain, Count, Op, Result, StorageError, Store, TreeId, WriteBatch};
use parley_engine::analytics::Bucket;
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
}

impl Writer {
    /// Starts the writer thread for `store`.
    pub fn start(store: Store, cfg: WriterConfig) -> Self {
        let (tx, rx) = mpsc::channel();
        let health = Arc::new(Health::default());
        health.set(None);
        let h = health.clone();
        let log = crate::wal::Log::open(&store, cfg.segment_bytes, move |why| h.poison(&why));
        let h = health.clone();
        let thread = std::thread::Builder::new()
            .name("parley-writer".into())
            .spawn(move || Run::new(store, cfg, h, log).serve(rx))
            .expect("spawning the storage writer thread");
        Self {
            tx,
            health,
            thread: Arc::new(Mutex::new(Some(thread))),
        }
    }

    /// Queues `batch`; `done` runs on the writer thread once it is durable.
    pub fn submit(&self, batch: WriteBatch, done: Done) {
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

/// The writer thread's state.
struct Run {
    store: Store,
    cfg: WriterConfig,
    health: Arc<Health>,
    /// The write-ahead log; none when it could not be opened (poisoned).
    log: Option<crate::wal::Log>,
    /// The last refusal for space (free, needed) while it lasts.
    short: Option<(u64, u64)>,
    /// Chains with a refused write: the generation refused, and the space
    /// figures it was refused with.
    refused: HashMap<[u8; 16], (u64, u64, u64)>,
}

impl Run {
    fn new(
        store: Store,
        cfg: WriterConfig,
        health: Arc<Health>,
        log: Result<crate::wal::Log>,
    ) -> Self {
        let log = match log {
            Ok(l) => Some(l),
            Err(e) => {
                let why = format!("the write-ahead log cannot be opened: {e}");
                tracing::error!(error = %why, "refusing writes");
                health.poison(&why);
                None
            }
        };
        Self {
            store,
            cfg,
            health,
            log,
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
            _ => self.store.flush(),
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
            Some((free, need)) => {
                let done = std::mem::replace(done, Box::new(|_| {}));
                done(Err(StorageError::NoSpace { free, need }));
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
                if let Some(c) = b.chain {
                    self.refused.insert(c.id, (c.generation, free, need));
                }
            }
            Err(Refusal::NoSpace(free, need))
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
            done(match &outcome {
                Ok(()) => Ok(()),
                Err(Refusal::Poisoned(why)) => Err(StorageError::Poisoned(why.clone())),
                Err(Refusal::NoSpace(free, need)) => Err(StorageError::NoSpace {
                    free: *free,
                    need: *need,
                }),
            });
        }
    }

    /// `Some((free, need))` when `chain` had a write refused in this
    /// generation; a later generation clears the mark.
    fn behind_refusal(&mut self, chain: Option<Chain>) -> Option<(u64, u64)> {
        let c = chain?;
        match self.refused.get(&c.id) {
            Some(&(generation, free, need)) if c.generation <= generation => Some((free, need)),
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

/// Why a group was not written.
enum Refusal {
    Poisoned(String),
    NoSpace(u64, u64),
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
        match op.value {
            Some(v) => tree.insert(op.key, v)?,
            None => tree.remove(op.key)?,
        };
    }
    Ok(())
}

/// Applies operations atomically without a log: one sled batch per tree,
/// or one transaction when they span both trees.
pub(crate) fn apply_ops(store: &Store, ops: Vec<Op>) -> Result<()> {
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
            (store.data(), store.global())
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
        (true, false) => store.data().apply_batch(data)?,
        (false, true) => store.global().apply_batch(global)?,
        (false, false) => {}
    }
    Ok(())
}

/// Folds counts into their buckets as stored; returns the keys to write
/// (buckets and newly set markers).
fn fold(store: &Store, counts: Vec<Count>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut buckets: HashMap<crate::keys::BucketKey, Bucket> = HashMap::new();
    let mut marked: HashSet<Vec<u8>> = HashSet::new();
    let mut out = Vec::new();
    for c in counts {
        if let Some(once) = c.once {
            if marked.contains(&once) || store.data().get(&once)?.is_some() {
                continue;
            }
            out.push((once.clone(), Vec::new()));
            marked.insert(once);
        }
        let b = match buckets.entry(c.key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let cur = match store.data().get(e.key().to_bytes())? {
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
    }
    out.extend(
        buckets
            .into_iter()
            .map(|(k, b)| (k.to_bytes(), crate::codec::encode(&b))),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreConfig;

    #[test]
    fn every_requester_is_answered_after_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let w = Writer::start(store.clone(), WriterConfig::default());
        let (tx, rx) = mpsc::channel();
        for i in 0u32..200 {
            let mut b = WriteBatch::new();
            b.put(i.to_be_bytes().to_vec(), vec![1]);
            let tx = tx.clone();
            let s = store.clone();
            w.submit(
                b,
                Box::new(move |r| {
                    // Durable means readable too.
                    let present = s.data().get(i.to_be_bytes()).unwrap().is_some();
                    tx.send((r.is_ok(), present)).unwrap();
                }),
            );
        }
        for _ in 0..200 {
            assert_eq!(rx.recv().unwrap(), (true, true));
        }
        w.shutdown();
        assert_eq!(store.data().len(), 200);
    }

    #[test]
    fn counts_fold_into_buckets_and_markers_count_once() {
        use parley_engine::analytics::Event;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let w = Writer::start(store.clone(), WriterConfig::default());
        let key = crate::keys::bucket(
            parley_engine::TenantId::new(),
            crate::keys::Tally::Site(parley_engine::SiteId::new()),
            7,
        );
        let (tx, rx) = mpsc::channel();
        for i in 0..50u32 {
            let mut b = WriteBatch::new();
            b.put(i.to_be_bytes().to_vec(), vec![1]);
            b.count(key, Event::Message { staff: i % 2 == 0 });
            b.count_once(key, b"once".to_vec(), Event::Conversation);
            let tx = tx.clone();
            w.submit(b, Box::new(move |r| tx.send(r.is_ok()).unwrap()));
        }
        for _ in 0..50 {
            assert!(rx.recv().unwrap());
        }
        w.shutdown();
        let b: Bucket =
            crate::codec::decode(&store.data().get(key.to_bytes()).unwrap().unwrap()).unwrap();
        assert_eq!(
            (b.messages_staff, b.messages_visitor, b.conversations),
            (25, 25, 1)
        );
        // A stored marker holds across writers (a restart).
        let mut again = WriteBatch::new();
        again.count_once(key, b"once".to_vec(), Event::Conversation);
        store.write_now(again).unwrap();
        let b: Bucket =
            crate::codec::decode(&store.data().get(key.to_bytes()).unwrap().unwrap()).unwrap();
        assert_eq!(b.conversations, 1);
    }

    #[test]
    fn mixed_trees_apply_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let mut b = WriteBatch::new();
        b.put(b"a".to_vec(), b"1".to_vec());
        b.put_global(b"g".to_vec(), b"2".to_vec());
        store.write_now(b).unwrap();
        assert!(store.data().get(b"a").unwrap().is_some());
        assert!(store.global().get(b"g").unwrap().is_some());
    }
}
