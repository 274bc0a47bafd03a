//! Online backups and their restore. A backup is every key of both trees,
//! written by the writer thread between two group commits — the one place
//! no write can interleave — so it is a consistent cut of the data while
//! the server keeps serving (writes wait for it; reads do not).
//!
//! The file: `PARLEY-BACKUP 1\n`, then per record a tree byte (0 data,
//! 1 global), a big-endian u32 key length, the key, a u32 value length and
//! the value; then `0xFF`, the record count (u64) and an FNV-1a hash (u64)
//! of every byte before it. Written to a temporary name, fsynced, renamed.
//!
//! A backup is created 0600 (in a directory made 0700) and leaves the
//! token-signing secret out: whoever can read a backup cannot sign tokens
//! with it. A restored data dir picks a new secret at its first start (so
//! everyone signs in again), unless the config gives `auth.token_secret`.

use crate::{Op, Result, StorageError, Store, StoreConfig, TreeId};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8] = b"PARLEY-BACKUP 1\n";
const END: u8 = 0xFF;

/// What a backup holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackupInfo {
    pub records: u64,
    pub bytes: u64,
}

/// FNV-1a, 64-bit: enough to catch a truncated or damaged file.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Whether a record stays out of backups: the token-signing secret.
fn left_out(tree: u8, key: &[u8]) -> bool {
    tree == 1 && key == crate::keys::instance_secret()
}

/// Creates `file` for writing, readable and writable by this user only
/// whatever the process's umask.
fn private_file(file: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
}

/// Creates the directory `dir` (and its missing parents) 0700 whatever the
/// process's umask; one that exists is left as it is.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes every record of `store` but the token-signing secret to `path`,
/// a file only this user can read. Call it where no write can interleave
/// (the writer thread: [`crate::Writer::exclusive`]) for a consistent cut.
pub fn write_backup(store: &Store, path: &Path) -> Result<BackupInfo> {
    let tmp = path.with_extension("partial");
    let file = private_file(&tmp)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut hash = Fnv::new();
    let mut put = |out: &mut BufWriter<std::fs::File>, bytes: &[u8]| -> Result<()> {
        hash.add(bytes);
        out.write_all(bytes)?;
        Ok(())
    };
    put(&mut out, MAGIC)?;
    let mut records = 0u64;
    for (tree_byte, tree) in [(0u8, store.data()), (1u8, store.global())] {
        for kv in tree.iter() {
            let (k, v) = kv?;
            if left_out(tree_byte, &k) {
                continue;
            }
            put(&mut out, &[tree_byte])?;
            put(&mut out, &(k.len() as u32).to_be_bytes())?;
            put(&mut out, &k)?;
            put(&mut out, &(v.len() as u32).to_be_bytes())?;
            put(&mut out, &v)?;
            records += 1;
        }
    }
    out.write_all(&[END])?;
    out.write_all(&records.to_be_bytes())?;
    out.write_all(&hash.0.to_be_bytes())?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(BackupInfo { records, bytes })
}

/// A backup being read, hashing what it reads.
struct Input {
    r: BufReader<std::fs::File>,
    hash: Fnv,
}

impl Input {
    fn take(&mut self, n: usize, hashed: bool) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.r
            .read_exact(&mut buf)
            .map_err(|_| bad("the backup is truncated"))?;
        if hashed {
            self.hash.add(&buf);
        }
        Ok(buf)
    }
}

fn bad(why: &str) -> StorageError {
    StorageError::Backup(why.to_string())
}

/// Reads the backup at `from`, handing each record to `each` (0 data,
/// 1 global); fails on a damaged or truncated file — after `each` saw what
/// came before the damage, so callers commit nothing until it returns.
fn read_records(
    from: &Path,
    mut each: impl FnMut(u8, Vec<u8>, Vec<u8>) -> Result<()>,
) -> Result<BackupInfo> {
    let file = std::fs::File::open(from)?;
    let bytes = file.metadata()?.len();
    let mut r = Input {
        r: BufReader::with_capacity(1 << 20, file),
        hash: Fnv::new(),
    };
    if r.take(MAGIC.len(), true)? != MAGIC {
        return Err(bad("not a Parley backup"));
    }
    let mut records = 0u64;
    loop {
        let tree = r.take(1, false)?[0];
        if tree == END {
            break;
        }
        if tree > 1 {
            return Err(bad("the backup names an unknown tree"));
        }
        r.hash.add(&[tree]);
        let klen = u32::from_be_bytes(r.take(4, true)?.try_into().expect("4 bytes"));
        let k = r.take(klen as usize, true)?;
        let vlen = u32::from_be_bytes(r.take(4, true)?.try_into().expect("4 bytes"));
        let v = r.take(vlen as usize, true)?;
        each(tree, k, v)?;
        records += 1;
    }
    let count = u64::from_be_bytes(r.take(8, false)?.try_into().expect("8 bytes"));
    let sum = u64::from_be_bytes(r.take(8, false)?.try_into().expect("8 bytes"));
    if count != records || sum != r.hash.0 {
        return Err(bad(
            "the backup is damaged (its count or checksum does not match)",
        ));
    }
    Ok(BackupInfo { records, bytes })
}

/// Makes a new data dir at `dir` from the backup at `from`: refuses a dir
/// that already holds a database, and a damaged or truncated file (the
/// records are applied but never flushed then; the caller removes the dir).
pub fn restore_backup(from: &Path, dir: &Path, cfg: &StoreConfig) -> Result<BackupInfo> {
    if dir.join("db").exists() {
        return Err(bad("the target data dir already holds a database"));
    }
    // Checked whole before anything is written.
    read_records(from, |_, _, _| Ok(()))?;
    private_dir(dir)?;
    let store = Store::open(dir, cfg)?;
    let mut ops = Vec::new();
    let info = read_records(from, |tree, k, v| {
        let tree = if tree == 0 {
            TreeId::Data
        } else {
            TreeId::Global
        };
        ops.push(Op {
            tree,
            key: k,
            value: Some(v),
        });
        if ops.len() >= 10_000 {
            crate::writer::apply_ops(&store, std::mem::take(&mut ops))?;
        }
        Ok(())
    })?;
    crate::writer::apply_ops(&store, ops)?;
    store.flush()?;
    Ok(info)
}

/// Compares the backup at `from` with `store`, record by record: how many
/// records the backup holds, and how many differ (missing, changed, or in
/// the store only; the token-signing secret, left out of backups, never
/// counts).
pub fn compare_backup(from: &Path, store: &Store) -> Result<(BackupInfo, u64)> {
    let (mut differ, mut present) = (0u64, 0u64);
    let info = read_records(from, |tree, k, v| {
        let t = if tree == 0 {
            store.data()
        } else {
            store.global()
        };
        match t.get(&k)? {
            Some(held) => {
                present += 1;
                if held != v[..] {
                    differ += 1;
                }
            }
            None => differ += 1,
        }
        Ok(())
    })?;
    // Keys the store holds and the backup does not.
    let secret = store
        .global()
        .contains_key(crate::keys::instance_secret())?;
    let held = (store.data().len()? + store.global().len()?) as u64 - u64::from(secret);
    Ok((info, differ + held.saturating_sub(present)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WriteBatch;

    #[test]
    fn a_backup_restores_every_record_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a"), &StoreConfig::default()).unwrap();
        let mut b = WriteBatch::new();
        for i in 0u32..2_500 {
            b.put(i.to_be_bytes().to_vec(), vec![i as u8; (i % 300) as usize]);
        }
        b.put_global(b"g".to_vec(), b"global".to_vec());
        store.write_now(b).unwrap();
        let secret = store
            .instance_secret(|| b"a secret no other record holds!!".to_vec())
            .unwrap();
        let file = dir.path().join("x.parley");
        let info = write_backup(&store, &file).unwrap();
        assert_eq!(info.records, 2_501, "every record but the secret");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let raw = std::fs::read(&file).unwrap();
        assert!(!raw.windows(secret.len()).any(|w| w == &secret[..]));
        let back = dir.path().join("b");
        assert_eq!(
            restore_backup(&file, &back, &StoreConfig::default())
                .unwrap()
                .records,
            2_501
        );
        // sled lets go of its lock when its own threads are done with the
        // dropped database, a moment later.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let restored = loop {
            match Store::open(&back, &StoreConfig::default()) {
                Ok(s) => break s,
                Err(e) if std::time::Instant::now() > deadline => panic!("{e}"),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        let all = |s: &Store| {
            let mut v: Vec<_> = s.data().iter().map(|kv| kv.unwrap()).collect();
            v.extend(s.global().iter().map(|kv| kv.unwrap()));
            v
        };
        let mut held = all(&store);
        held.retain(|(k, _)| k[..] != crate::keys::instance_secret()[..]);
        assert_eq!(held, all(&restored), "everything but the secret");
        assert_eq!(
            std::fs::metadata(&back).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(compare_backup(&file, &restored).unwrap().1, 0);
        assert_eq!(
            compare_backup(&file, &store).unwrap().1,
            0,
            "the secret never counts"
        );
        let mut b = WriteBatch::new();
        b.put(b"extra".to_vec(), vec![1]);
        b.put(7u32.to_be_bytes().to_vec(), vec![9]);
        restored.write_now(b).unwrap();
        assert_eq!(
            compare_backup(&file, &restored).unwrap().1,
            2,
            "one changed, one extra"
        );
        drop(restored);
        assert!(
            restore_backup(&file, &back, &StoreConfig::default()).is_err(),
            "not over a database"
        );
        // One flipped byte, or a cut, is refused.
        let mut raw = std::fs::read(&file).unwrap();
        let mid = raw.len() / 2;
        raw[mid] ^= 1;
        std::fs::write(&file, &raw).unwrap();
        assert!(restore_backup(&file, &dir.path().join("c"), &StoreConfig::default()).is_err());
        raw[mid] ^= 1;
        raw.truncate(raw.len() - 3);
        std::fs::write(&file, &raw).unwrap();
        assert!(restore_backup(&file, &dir.path().join("d"), &StoreConfig::default()).is_err());
    }
}
