//! The group-commit writer: one OS thread owns every write. Requesters hand
//! it a [`WriteBatch`] and a completion callback; it gathers what is queued
//! (up to `max_batch` operations, waiting at most `window` for more), applies
//! it, flushes once, and only then calls each requester back.
//!
//! A thread rather than an actor because sled's flush is a blocking fsync:
//! it must never sit on the async runtime. The completion is a callback so
//! an actor can turn it into a message to itself (`Durable { seq }`) and
//! keep handling other work while its writes are in flight.
//!
//! If a flush ever fails the writer is poisoned: later writes fail at once,
//! so no requester is ever told "durable" for a write that might sit after a
//! hole in the log. `/healthz` reports it.

use crate::{Count, Op, Result, StorageError, Store, TreeId, WriteBatch};
use parley_engine::analytics::Bucket;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Called once the batch is durable (`Ok`) or has failed.
pub type Done = Box<dyn FnOnce(Result<()>) + Send>;

enum Request {
    Write {
        ops: Vec<Op>,
        counts: Vec<Count>,
        done: Done,
    },
    /// Write what is queued before this, then stop.
    Stop,
}

/// Writer tuning.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Most operations gathered into one flush.
    pub max_batch: usize,
    /// How long to wait for more work once a batch has started; zero takes
    /// only what is already queued (requests that arrive during a flush are
    /// batched anyway).
    pub window: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            max_batch: 4096,
            window: Duration::ZERO,
        }
    }
}

/// A handle to the writer thread; clone it freely.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
    healthy: Arc<AtomicBool>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Writer {
    /// Starts the writer thread for `store`.
    pub fn start(store: Store, cfg: WriterConfig) -> Self {
        let (tx, rx) = mpsc::channel();
        let healthy = Arc::new(AtomicBool::new(true));
        let h = healthy.clone();
        let thread = std::thread::Builder::new()
            .name("parley-writer".into())
            .spawn(move || run(store, cfg, rx, h))
            .expect("spawning the storage writer thread");
        Self {
            tx,
            healthy,
            thread: Arc::new(Mutex::new(Some(thread))),
        }
    }

    /// Queues `batch`; `done` runs on the writer thread once it is durable.
    pub fn submit(&self, batch: WriteBatch, done: Done) {
        if let Err(mpsc::SendError(Request::Write { done, .. })) = self.tx.send(Request::Write {
            ops: batch.ops,
            counts: batch.counts,
            done,
        }) {
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

    /// False once a write has failed.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
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

fn run(store: Store, cfg: WriterConfig, rx: mpsc::Receiver<Request>, healthy: Arc<AtomicBool>) {
    let mut poisoned: Option<String> = None;
    let mut batch: Vec<(Vec<Op>, Vec<Count>, Done)> = Vec::new();
    let mut stopping = false;
    while !stopping {
        let Ok(first) = rx.recv() else { break };
        let mut n_ops = 0;
        let take = |r: Request, batch: &mut Vec<(Vec<Op>, Vec<Count>, Done)>, n: &mut usize| match r
        {
            Request::Write { ops, counts, done } => {
                *n += ops.len() + counts.len();
                batch.push((ops, counts, done));
                true
            }
            Request::Stop => false,
        };
        stopping = !take(first, &mut batch, &mut n_ops);
        // Take whatever is already queued.
        while !stopping && n_ops < cfg.max_batch {
            match rx.try_recv() {
                Ok(r) => stopping = !take(r, &mut batch, &mut n_ops),
                Err(_) => break,
            }
        }
        // Optionally linger for more.
        if !stopping && !cfg.window.is_zero() {
            let deadline = Instant::now() + cfg.window;
            while !stopping && n_ops < cfg.max_batch {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(r) => stopping = !take(r, &mut batch, &mut n_ops),
                    Err(_) => break,
                }
            }
        }
        if batch.is_empty() {
            continue;
        }

        let outcome = match &poisoned {
            Some(why) => Err(why.clone()),
            None => {
                let start = Instant::now();
                let counts: Vec<Count> = batch
                    .iter_mut()
                    .flat_map(|r| std::mem::take(&mut r.1))
                    .collect();
                let ops = batch.iter_mut().flat_map(|r| std::mem::take(&mut r.0));
                let res = apply(&store, ops, counts).and_then(|_| store.flush());
                metrics::histogram!("parley_storage_flush_seconds")
                    .record(start.elapsed().as_secs_f64());
                metrics::histogram!("parley_storage_batch_ops").record(n_ops as f64);
                metrics::histogram!("parley_storage_batch_requests").record(batch.len() as f64);
                res.map_err(|e| e.to_string())
            }
        };
        if let Err(why) = &outcome {
            if poisoned.is_none() {
                tracing::error!(error = %why, "storage write failed; refusing further writes");
                healthy.store(false, Ordering::Relaxed);
                poisoned = Some(why.clone());
            }
        }
        for (_, _, done) in batch.drain(..) {
            let r = match &outcome {
                Ok(()) => Ok(()),
                Err(why) => Err(StorageError::Poisoned(why.clone())),
            };
            done(r);
        }
    }
    let _ = store.flush();
}

/// Applies operations: one atomic sled batch per tree, or one transaction
/// when they span both trees. Counts are folded into their buckets first
/// (one read and one write per bucket touched, however many counts), so
/// the buckets land in the same atomic batch as the writes that caused them.
pub(crate) fn apply(
    store: &Store,
    ops: impl IntoIterator<Item = Op>,
    counts: Vec<Count>,
) -> Result<()> {
    let mut data = sled::Batch::default();
    let mut global = sled::Batch::default();
    let (mut nd, mut ng) = (0usize, 0usize);
    if !counts.is_empty() {
        for (k, v) in fold(store, counts)? {
            data.insert(k, v);
            nd += 1;
        }
    }
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
