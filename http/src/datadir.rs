//! Opening the data dir: create it on first start (its parent must exist),
//! check it is writable, and open the database, with one clear line for
//! each way that can fail.

use crate::fatal::Fatal;
use parley_storage::{Store, StoreConfig};
use std::path::Path;

/// Opens (creating on first start) the database in `dir`.
pub fn open(dir: &Path, cfg: &StoreConfig) -> Result<Store, Fatal> {
    let shown = dir.display();
    if !dir.exists() {
        std::fs::create_dir(dir).map_err(|e| {
            Fatal::Usage(format!(
                "data dir {shown} does not exist and cannot be created: {e}"
            ))
        })?;
    }
    if !dir.is_dir() {
        return Err(Fatal::Usage(format!("data dir {shown} is not a directory")));
    }
    let probe = dir.join(".parley-write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| Fatal::Usage(format!("data dir {shown} is not writable: {e}")))?;
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
