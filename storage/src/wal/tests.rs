use super::*;
use crate::{StoreConfig, WriteBatch, Writer, WriterConfig};
use std::time::{Duration, Instant};

fn put(key: &[u8], value: &[u8]) -> Op {
    Op {
        tree: TreeId::Data,
        key: key.to_vec(),
        value: Some(value.to_vec()),
    }
}

/// Opens the store in `dir` once sled's I/O threads let go of a dropped one.
fn reopen(dir: &Path) -> Store {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir, &StoreConfig::default()) {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("reopening the store: {e}"),
        }
    }
}

fn logged(dir: &Path) -> Vec<u64> {
    segments(&dir.join(DIR))
        .unwrap()
        .into_iter()
        .map(|s| s.0)
        .collect()
}

#[test]
fn a_record_holds_puts_and_deletes_of_both_trees() {
    let ops = vec![
        put(b"k1", b"v1"),
        Op {
            tree: TreeId::Global,
            key: b"g".to_vec(),
            value: Some(Vec::new()),
        },
        Op {
            tree: TreeId::Data,
            key: b"gone".to_vec(),
            value: None,
        },
        Op {
            tree: TreeId::Global,
            key: Vec::new(),
            value: None,
        },
    ];
    let mut buf = Vec::new();
    encode(&ops, &mut buf);
    let back = decode(&buf[HEADER..]).unwrap();
    let shape = |o: &[Op]| -> Vec<(TreeId, Vec<u8>, Option<Vec<u8>>)> {
        o.iter()
            .map(|o| (o.tree, o.key.clone(), o.value.clone()))
            .collect()
    };
    assert_eq!(shape(&back), shape(&ops));
    // A payload cut anywhere does not decode as something else.
    for cut in 1..buf.len() - HEADER {
        let p = &buf[HEADER..HEADER + cut];
        if let Some(o) = decode(p) {
            assert!(o.len() < ops.len(), "a cut payload decoded whole at {cut}");
        }
    }
}

#[test]
fn what_was_logged_but_never_checkpointed_is_there_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let mut log = Log::open(&store, 1 << 20, |_| {}).unwrap();
        log.append(&[put(b"a", b"1"), put(b"b", b"1")]).unwrap();
        log.append(&[put(b"a", b"2")]).unwrap();
        log.append(&[Op {
            tree: TreeId::Data,
            key: b"b".to_vec(),
            value: None,
        }])
        .unwrap();
        // A crash: sled never saw these writes and nothing was checkpointed.
        assert!(store.data().get(b"a").unwrap().is_none());
        drop(log);
    }
    assert_eq!(logged(dir.path()).len(), 1);
    let store = reopen(dir.path());
    assert_eq!(store.data().get(b"a").unwrap().unwrap().as_ref(), b"2");
    assert!(store.data().get(b"b").unwrap().is_none());
    // Replayed, checkpointed and removed.
    assert!(logged(dir.path()).is_empty());
}

#[test]
fn a_record_cut_by_a_crash_ends_the_replay_there() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let mut log = Log::open(&store, 1 << 20, |_| {}).unwrap();
        for i in 0u8..3 {
            log.append(&[put(&[i], b"x")]).unwrap();
        }
    }
    let seg = segments(&dir.path().join(DIR)).unwrap().pop().unwrap().1;
    // The start of a fourth record: its header and half its payload.
    let mut tail = Vec::new();
    encode(&[put(&[3], b"a longer value")], &mut tail);
    tail.truncate(tail.len() - 5);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&tail).unwrap();
    drop(f);
    let store = reopen(dir.path());
    for i in 0u8..3 {
        assert!(store.data().get([i]).unwrap().is_some());
    }
    assert!(store.data().get([3u8]).unwrap().is_none());
    assert!(logged(dir.path()).is_empty());
    // A damaged record (a flipped byte) counts as cut too.
    drop(store);
    let store = reopen(dir.path());
    let mut log = Log::open(&store, 1 << 20, |_| {}).unwrap();
    log.append(&[put(b"first", b"1")]).unwrap();
    log.append(&[put(b"second", b"2")]).unwrap();
    drop(log);
    drop(store);
    let seg = segments(&dir.path().join(DIR)).unwrap().pop().unwrap().1;
    let mut bytes = std::fs::read(&seg).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&seg, bytes).unwrap();
    let store = reopen(dir.path());
    assert!(store.data().get(b"first").unwrap().is_some());
    assert!(store.data().get(b"second").unwrap().is_none());
}

#[test]
fn full_segments_are_checkpointed_away_and_a_clean_stop_leaves_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    let w = Writer::start(
        store.clone(),
        WriterConfig {
            segment_bytes: 256,
            ..WriterConfig::default()
        },
    );
    for i in 0u32..100 {
        let mut b = WriteBatch::new();
        b.put(i.to_be_bytes().to_vec(), vec![7; 50]);
        block_on(w.write(b)).unwrap();
    }
    // Each write filled more than a fifth of a segment: the old ones go.
    let deadline = Instant::now() + Duration::from_secs(10);
    while logged(dir.path()).len() > 2 {
        assert!(
            Instant::now() < deadline,
            "segments left: {:?}",
            logged(dir.path())
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(w.is_healthy());
    w.shutdown();
    assert!(logged(dir.path()).is_empty());
    drop(store);
    let store = reopen(dir.path());
    assert_eq!(store.data().len().unwrap(), 100);
}

/// Runs a future to completion on this thread (the writer answers from its own).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}
