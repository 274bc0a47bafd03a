//! Opening the data dir: create it on first start (its parent must exist),
//! check it is private and writable, and open the database, with one clear
//! line for each way that can fail.
//!
//! The data dir holds the token-signing secret (unless `auth.token_secret`
//! is set) and every tenant's records, so, as PostgreSQL does with its own,
//! it is created 0700, every file in it 0600 (the process's umask is 077:
//! [`private_files`]), and a data dir other users can read or enter is
//! refused at start until its owner closes it.

use crate::fatal::Fatal;
use parley_storage::{Store, StoreConfig};
use std::path::Path;

/// Free space admin commands want before they open the database.
pub const ADMIN_MIN_FREE: u64 = 8 << 20;

/// Makes every file and directory this process creates from now on
/// private to its user (umask 077: files 0600, directories 0700): the
/// database's files, its log segments, backups, whatever a library makes.
pub fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates `dir` 0700 when missing (`parents`: its missing parents too),
/// and refuses one that other users may read or enter, saying how to fix it.
pub fn prepare(dir: &Path, parents: bool) -> Result<(), Fatal> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let shown = dir.display();
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(parents)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                Fatal::Usage(format!(
                    "data dir {shown} does not exist and cannot be created: {e}"
                ))
            })?;
    }
    if !dir.is_dir() {
        return Err(Fatal::Usage(format!("data dir {shown} is not a directory")));
    }
    let mode = std::fs::metadata(dir)
        .map_err(|e| Fatal::Usage(format!("data dir {shown} cannot be read: {e}")))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(Fatal::Usage(format!(
            "data dir {shown} has mode {mode:04o}: other users could read its secrets; \
             make it private to this user (`chmod -R go= {shown}`, leaving 0700) and start again"
        )));
    }
    Ok(())
}

/// Opens (creating on first start) the database in `dir`.
pub fn open(dir: &Path, cfg: &StoreConfig) -> Result<Store, Fatal> {
    open_with_room(dir, cfg, ADMIN_MIN_FREE)
}

/// [`open`], refusing a file system with less than `min_free` bytes free:
/// sled writes while it recovers, and a recovery cut short by a full disk
/// leaves a database it then reads as corrupted. So it is never started
/// there; the operator frees space first.
pub fn open_with_room(dir: &Path, cfg: &StoreConfig, min_free: u64) -> Result<Store, Fatal> {
    let shown = dir.display();
    prepare(dir, false)?;
    let probe = dir.join(".parley-write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| Fatal::Usage(format!("data dir {shown} is not writable: {e}")))?;
    if let Ok(free) = parley_storage::free_space(dir) {
        if free < min_free {
            return Err(Fatal::Other(format!(
                "the disk holding data dir {shown} has {free} bytes free, fewer than the {min_free} \
                 storage needs to open safely (storage.min_free_mb); free some space and start again"
            )));
        }
    }
    Store::open(dir, cfg).map_err(|e| {
        let text = e.to_string();
        if text.contains("lock") {
            Fatal::Other(format!(
                "data dir {shown} is in use by another running parley"
            ))
        } else {
            Fatal::Other(format!("cannot open the database in {shown}: {text}"))
        }
    })
}
