//! The write-ahead log beside sled: what makes a group commit durable.
//!
//! The writer appends each group's operations (analytics counts already
//! folded into their buckets, so every operation is a plain put or delete)
//! to the current segment as one record and calls `fdatasync` once; only
//! then does it apply them to sled, key by key (the record is the group's
//! atomicity, so no sled batch), which keeps them in memory and writes its
//! own files in the background, and answer the requesters. sled is
//! flushed only at a *checkpoint*: when a segment is full the writer starts
//! the next one and a checkpoint thread flushes sled, syncs its file and
//! deletes the segments sled now holds. Opening the store replays whatever
//! segments are left (a crash, a `kill -9`) into sled before anything reads
//! it.
//!
//! Why: sled 0.34 hands every flush, and every batch (which seals its I/O
//! buffer twice), to its I/O thread pool, whose wake-up of all seven waiting
//! threads costs more CPU than the fsync itself, and on Linux it syncs with
//! `sync_file_range`, which leaves metadata and the disk's cache alone. One
//! `fdatasync` of one file per group is cheaper and durable; sled's flush
//! happens once per segment, off the ack path, followed by an `fsync` of
//! its file.
//!
//! One writer per store: a second one on the same data dir would checkpoint
//! the first one's segments away under it.
//!
//! A segment, `wal/<n>.log`, is a run of records: a little-endian `u32`
//! payload length, a `u32` CRC-32 of the payload, the payload. A payload is
//! a run of operations: one byte (bit 0: the global tree; bit 1: a delete),
//! a `u32` key length, the key and, for a put, a `u32` value length and the
//! value. A record that is short or fails its CRC is where a crash cut the
//! last write: replay stops there, and since nothing was answered for it,
//! nothing answered is lost.

use crate::{Op, Result, StorageError, Store, TreeId};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// The log's folder inside the data dir.
pub const DIR: &str = "wal";

const HEADER: usize = 8;
const GLOBAL: u8 = 1;
const DELETE: u8 = 2;

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:016}.log"))
}

/// The segments in `dir`, oldest first.
fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for e in entries {
        let path = e?.path();
        let n = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = n {
            out.push((n, path));
        }
    }
    out.sort_unstable_by_key(|s| s.0);
    Ok(out)
}

/// Appends one record holding `ops` to `buf`.
fn encode(ops: &[Op], buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    for op in ops {
        let mut flags = 0;
        if op.tree == TreeId::Global {
            flags |= GLOBAL;
        }
        if op.value.is_none() {
            flags |= DELETE;
        }
        buf.push(flags);
        buf.extend_from_slice(&(op.key.len() as u32).to_le_bytes());
        buf.extend_from_slice(&op.key);
        if let Some(v) = &op.value {
            buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
            buf.extend_from_slice(v);
        }
    }
    let payload = &buf[start + HEADER..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    buf[start..start + 4].copy_from_slice(&len);
    buf[start + 4..start + HEADER].copy_from_slice(&crc);
}

/// The operations of one record's payload.
fn decode(mut p: &[u8]) -> Option<Vec<Op>> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if p.len() < n {
            return None;
        }
        let (head, rest) = p.split_at(n);
        *p = rest;
        Some(head)
    }
    fn len(p: &mut &[u8]) -> Option<usize> {
        let b = take(p, 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    let mut ops = Vec::new();
    while !p.is_empty() {
        let flags = take(&mut p, 1)?[0];
        let n = len(&mut p)?;
        let key = take(&mut p, n)?.to_vec();
        let value = if flags & DELETE == 0 {
            let n = len(&mut p)?;
            Some(take(&mut p, n)?.to_vec())
        } else {
            None
        };
        let tree = if flags & GLOBAL != 0 {
            TreeId::Global
        } else {
            TreeId::Data
        };
        ops.push(Op { tree, key, value });
    }
    Some(ops)
}

/// Every whole record of one segment, in order; stops at the first short
/// or damaged one (the write a crash cut) and says whether it did.
fn read_segment(path: &Path) -> std::io::Result<(Vec<Vec<Op>>, bool)> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut records = Vec::new();
    let mut p = &bytes[..];
    while !p.is_empty() {
        if p.len() < HEADER {
            return Ok((records, true));
        }
        let n = u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize;
        let crc = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
        let Some(payload) = p.get(HEADER..HEADER + n) else {
            return Ok((records, true));
        };
        if crc32fast::hash(payload) != crc {
            return Ok((records, true));
        }
        match decode(payload) {
            Some(ops) => records.push(ops),
            None => return Ok((records, true)),
        }
        p = &p[HEADER + n..];
    }
    Ok((records, false))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes everything applied to sled so far durable: sled's flush, then an
/// `fsync` of its file (sled's own sync on Linux is `sync_file_range`).
fn checkpoint(store: &Store) -> Result<()> {
    store.flush()?;
    let file = store.dir().join("db").join("db");
    match File::open(&file) {
        Ok(f) => f.sync_all()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Checkpoints sled, then removes every segment numbered below `upto`
/// (all of them with `u64::MAX`): only what sled now holds durably.
fn checkpoint_below(store: &Store, dir: &Path, upto: u64) -> Result<()> {
    checkpoint(store)?;
    let mut removed = false;
    for (n, path) in segments(dir)? {
        if n < upto {
            std::fs::remove_file(path)?;
            removed = true;
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Replays the segments a crash left into `store`, makes sled durable and
/// removes them. Returns how many records it replayed.
pub(crate) fn recover(store: &Store) -> Result<u64> {
    let dir = store.dir().join(DIR);
    let found = segments(&dir)?;
    if found.is_empty() {
        return Ok(0);
    }
    let mut replayed = 0u64;
    let mut cut = false;
    for (_, path) in &found {
        let (records, short) = read_segment(path)?;
        for ops in records {
            crate::writer::apply_logged(store, ops)?;
            replayed += 1;
        }
        if short {
            cut = true;
            break;
        }
    }
    if cut {
        tracing::warn!(
            replayed,
            "the write-ahead log ends in a partial record (a write cut by a crash, never acknowledged); replayed up to it"
        );
    } else {
        tracing::info!(replayed, "replayed the write-ahead log");
    }
    checkpoint_below(store, &dir, u64::MAX)?;
    Ok(replayed)
}

/// The log the writer thread appends to.
pub(crate) struct Log {
    dir: PathBuf,
    file: File,
    number: u64,
    len: u64,
    segment_bytes: u64,
    buf: Vec<u8>,
    checkpoints: Option<mpsc::Sender<u64>>,
    thread: Option<JoinHandle<()>>,
}

impl Log {
    /// Starts a fresh segment after any left (there are none once the store
    /// is open: opening replays them) and the checkpoint thread, which
    /// calls `failed` if a checkpoint cannot be made.
    pub(crate) fn open(
        store: &Store,
        segment_bytes: u64,
        failed: impl Fn(String) + Send + 'static,
    ) -> Result<Self> {
        let dir = store.dir().join(DIR);
        std::fs::create_dir_all(&dir)?;
        let number = segments(&dir)?.last().map_or(1, |s| s.0 + 1);
        let file = create(&dir, number)?;
        let (tx, rx) = mpsc::channel::<u64>();
        let (s, d) = (store.clone(), dir.clone());
        let thread = std::thread::Builder::new()
            .name("parley-checkpoint".into())
            .spawn(move || {
                while let Ok(mut upto) = rx.recv() {
                    // Segments filled meanwhile share one checkpoint.
                    while let Ok(n) = rx.try_recv() {
                        upto = upto.max(n);
                    }
                    let start = std::time::Instant::now();
                    let res = checkpoint_below(&s, &d, upto);
                    metrics::histogram!("parley_storage_checkpoint_seconds")
                        .record(start.elapsed().as_secs_f64());
                    if let Err(e) = res {
                        tracing::error!(error = %e, "a storage checkpoint failed");
                        failed(format!("a storage checkpoint failed ({e})"));
                    }
                }
            })
            .map_err(StorageError::Io)?;
        Ok(Self {
            dir,
            file,
            number,
            len: 0,
            segment_bytes: segment_bytes.max(1),
            buf: Vec::new(),
            checkpoints: Some(tx),
            thread: Some(thread),
        })
    }

    /// Appends `ops` as one record and waits until it is on disk.
    pub(crate) fn append(&mut self, ops: &[Op]) -> Result<()> {
        if self.len >= self.segment_bytes {
            self.rotate()?;
        }
        self.buf.clear();
        encode(ops, &mut self.buf);
        self.file.write_all(&self.buf)?;
        self.file.sync_data()?;
        self.len += self.buf.len() as u64;
        // A big group's buffer is not kept for the small ones after it.
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
        Ok(())
    }

    /// Starts the next segment and has the full one checkpointed away.
    fn rotate(&mut self) -> Result<()> {
        let next = create(&self.dir, self.number + 1)?;
        self.file = next;
        self.number += 1;
        self.len = 0;
        if let Some(tx) = &self.checkpoints {
            let _ = tx.send(self.number);
        }
        Ok(())
    }

    /// Stops the checkpoint thread after a last checkpoint of everything
    /// written, leaving no segment to replay.
    pub(crate) fn close(&mut self, store: &Store) -> Result<()> {
        self.checkpoints.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        checkpoint_below(store, &self.dir, u64::MAX)
    }
}

fn create(dir: &Path, n: u64) -> Result<File> {
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(segment_path(dir, n))?;
    sync_dir(dir)?;
    Ok(file)
}

#[cfg(test)]
mod tests;
