//! The writer on a real, small file system that fills up: writes are
//! refused (not failed) while space is short, resume by themselves when it
//! returns, and a refused write takes the rest of its chain's generation
//! with it. Needs `mount -t tmpfs` (root); skips cleanly without it.

use parley_storage::{Chain, StorageError, Store, StoreConfig, WriteBatch, Writer, WriterConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs mounted for one test; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system with one file until it refuses more.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![7u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

fn put(key: &str, chain: Option<Chain>) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(key.as_bytes().to_vec(), vec![1; 100]);
    if let Some(c) = chain {
        b.in_chain(c);
    }
    b
}

async fn until(deadline: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ok()
}

#[tokio::test]
async fn a_full_disk_refuses_writes_until_space_returns() {
    let Some(fs) = Tmpfs::mount("24m") else {
        return;
    };
    let store = Store::open(&fs.path().join("data"), &StoreConfig::default()).unwrap();
    let writer = Writer::start(
        store.clone(),
        WriterConfig {
            min_free_bytes: 4 << 20,
            ..WriterConfig::default()
        },
    );
    writer.write(put("before", None)).await.unwrap();
    let chain = Chain {
        id: [9; 16],
        generation: Chain::next_generation(),
    };
    writer.write(put("c1", Some(chain))).await.unwrap();

    let filler = fill(fs.path());
    let refused = writer.write(put("c2", Some(chain))).await;
    assert!(
        matches!(refused, Err(StorageError::NoSpace { .. })),
        "{refused:?}"
    );
    assert!(!writer.is_healthy());
    let why = writer.trouble().unwrap();
    assert!(why.contains("nearly full"), "{why}");
    // Refused, not failed: a write that does not fit is refused again.
    assert!(matches!(
        writer.write(put("other", None)).await,
        Err(StorageError::NoSpace { .. })
    ));

    std::fs::remove_file(&filler).unwrap();
    assert!(
        until(Duration::from_secs(5), || writer.is_healthy()).await,
        "the writer saw the space come back by itself"
    );
    assert_eq!(writer.trouble(), None);
    // Written before its requester heard of the refusal: still refused.
    assert!(matches!(
        writer.write(put("c3", Some(chain))).await,
        Err(StorageError::NoSpace { .. })
    ));
    // The requester's next generation, and everyone else, write again.
    let next = Chain {
        generation: Chain::next_generation(),
        ..chain
    };
    writer.write(put("c2", Some(next))).await.unwrap();
    writer.write(put("after", None)).await.unwrap();
    writer.shutdown();
    for (key, there) in [
        ("before", true),
        ("c1", true),
        ("c2", true),
        ("c3", false),
        ("other", false),
        ("after", true),
    ] {
        assert_eq!(
            store.data().get(key).unwrap().is_some(),
            there,
            "{key} on disk: {there}"
        );
    }
    drop(store);
    // What was acked survives a reopen.
    let again = reopen(&fs.path().join("data"));
    assert!(again.data().get("c1").unwrap().is_some());
    assert!(again.data().get("after").unwrap().is_some());
}

/// SplitMix64, for seeded schedules.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A requester as a Conversation is one: seqs in order, writes in flight,
/// and on a refusal the seqs given out again in a fresh generation.
struct Requester {
    chain: Chain,
    durable: u64,
    assigned: u64,
    in_flight: std::collections::VecDeque<(u64, u64)>,
}

fn key(c: usize, seq: u64) -> Vec<u8> {
    let mut k = vec![b'k', c as u8];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The seqs of chain `c` on disk, in order.
fn on_disk(store: &Store, c: usize) -> Vec<(u64, Vec<u8>)> {
    store
        .data()
        .scan_prefix([b'k', c as u8])
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (u64::from_be_bytes(k[2..10].try_into().unwrap()), v.to_vec())
        })
        .collect()
}

/// Opens the store in `dir` again once its last handle is gone: sled's I/O
/// threads let go of a dropped database a moment later, and until then
/// its file lock refuses a second open.
fn reopen(dir: &Path) -> Store {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir, &StoreConfig::default()) {
            Ok(s) => return s,
            Err(e) if Instant::now() > deadline => panic!("{e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Seeded schedules against the real writer on a real file system that
/// fills and empties: requesters submit, the disk fills and frees, answers
/// arrive, the writer restarts. After every step each chain on disk is
/// gap-free, holds every acked write as acked, and nothing acked is ever
/// overwritten.
#[tokio::test]
async fn seeded_schedules_keep_every_chain_whole() {
    let Some(fs) = Tmpfs::mount("32m") else {
        return;
    };
    let cfg = WriterConfig {
        min_free_bytes: 4 << 20,
        ..WriterConfig::default()
    };
    // CI runs these; `PARLEY_WRITER_SCHEDULES=N` runs N (a soak).
    let schedules: u64 = std::env::var("PARLEY_WRITER_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    for seed in 1..=schedules {
        let dir = fs.path().join(format!("s{seed}"));
        let mut store = reopen(&dir);
        let mut writer = Writer::start(store.clone(), cfg.clone());
        let mut rng = Rng(seed);
        let (tx, rx) = std::sync::mpsc::channel::<(usize, u64, bool)>();
        let mut reqs: Vec<Requester> = (0..4)
            .map(|c| Requester {
                chain: Chain {
                    id: [c as u8; 16],
                    generation: Chain::next_generation(),
                },
                durable: 0,
                assigned: 0,
                in_flight: Default::default(),
            })
            .collect();
        let mut acked: std::collections::HashMap<(usize, u64), Vec<u8>> = Default::default();
        let mut filler: Option<PathBuf> = None;
        let mut ticket = 0u64;
        let deliver = |reqs: &mut Vec<Requester>,
                       acked: &mut std::collections::HashMap<(usize, u64), Vec<u8>>,
                       (c, t, ok): (usize, u64, bool)| {
            let r = &mut reqs[c];
            if ok {
                let (front, seq) = r
                    .in_flight
                    .pop_front()
                    .expect("an answer for a write in flight");
                assert_eq!(front, t, "answers come in order");
                r.durable = seq;
                let mut v = seq.to_be_bytes().to_vec();
                v.extend_from_slice(&t.to_be_bytes());
                acked.insert((c, seq), v);
            } else if r.in_flight.iter().any(|(x, _)| *x == t) {
                r.in_flight.clear();
                r.assigned = r.durable;
                r.chain.generation = Chain::next_generation();
            }
        };
        for _ in 0..250 {
            match rng.next() % 10 {
                0..=5 => {
                    let c = (rng.next() % 4) as usize;
                    let r = &mut reqs[c];
                    r.assigned += 1;
                    ticket += 1;
                    let (seq, t) = (r.assigned, ticket);
                    r.in_flight.push_back((t, seq));
                    let mut v = seq.to_be_bytes().to_vec();
                    v.extend_from_slice(&t.to_be_bytes());
                    let mut b = WriteBatch::new();
                    b.put(key(c, seq), v);
                    b.in_chain(r.chain);
                    let tx = tx.clone();
                    writer.submit(
                        b,
                        Box::new(move |res| tx.send((c, t, res.is_ok())).unwrap()),
                    );
                }
                6 => {
                    if filler.is_none() {
                        filler = Some(fill(fs.path()));
                    }
                }
                7 => {
                    if let Some(f) = filler.take() {
                        std::fs::remove_file(f).unwrap();
                    }
                }
                8 => {
                    while let Ok(a) = rx.try_recv() {
                        deliver(&mut reqs, &mut acked, a);
                    }
                }
                _ => {
                    // A restart: what was queued is written (or refused) and
                    // answered; the requesters come back from the disk.
                    writer.shutdown();
                    while let Ok(a) = rx.try_recv() {
                        deliver(&mut reqs, &mut acked, a);
                    }
                    drop(store);
                    if let Some(f) = filler.take() {
                        // sled writes as it recovers, and a recovery cut
                        // short by a full disk leaves a database it reads as
                        // corrupted: the server refuses to open a full disk
                        // (datadir::open_with_room), the operator frees it.
                        std::fs::remove_file(f).unwrap();
                    }
                    store = reopen(&dir);
                    writer = Writer::start(store.clone(), cfg.clone());
                    for (c, r) in reqs.iter_mut().enumerate() {
                        r.durable = on_disk(&store, c).last().map_or(0, |(s, _)| *s);
                        r.assigned = r.durable;
                        r.in_flight.clear();
                        r.chain.generation = Chain::next_generation();
                    }
                }
            }
            for (c, r) in reqs.iter().enumerate() {
                let disk = on_disk(&store, c);
                let seqs: Vec<u64> = disk.iter().map(|(s, _)| *s).collect();
                assert_eq!(
                    seqs,
                    (1..=seqs.len() as u64).collect::<Vec<_>>(),
                    "seed {seed}: chain {c} has a gap"
                );
                for (s, v) in &disk {
                    if let Some(a) = acked.get(&(c, *s)) {
                        assert_eq!(a, v, "seed {seed}: acked {c}/{s} was overwritten");
                    }
                }
                assert!(
                    seqs.len() as u64 >= r.durable,
                    "seed {seed}: chain {c} lost an acked write"
                );
            }
        }
        if let Some(f) = filler.take() {
            std::fs::remove_file(f).unwrap();
        }
        writer.shutdown();
        while let Ok(a) = rx.try_recv() {
            deliver(&mut reqs, &mut acked, a);
        }
        for ((c, s), v) in &acked {
            let got = store.data().get(key(*c, *s)).unwrap();
            assert_eq!(
                got.as_deref(),
                Some(&v[..]),
                "seed {seed}: acked {c}/{s} on disk"
            );
        }
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
