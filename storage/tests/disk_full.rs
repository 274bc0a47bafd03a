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
    let again = Store::open(&fs.path().join("data"), &StoreConfig::default()).unwrap();
    assert!(again.data().get("c1").unwrap().is_some());
    assert!(again.data().get("after").unwrap().is_some());
}
