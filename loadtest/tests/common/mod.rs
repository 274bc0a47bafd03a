//! What the load generator's tests share.

use std::path::PathBuf;
use std::process::Command;

/// The `parley` binary beside this one (built on demand for `-p parley-loadtest` runs).
pub fn parley_bin() -> PathBuf {
    let me = PathBuf::from(env!("CARGO_BIN_EXE_parley-loadtest"));
    let bin = me.with_file_name("parley");
    if !bin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "parley", "--bin", "parley"])
            .status()
            .expect("running cargo build");
        assert!(ok.success(), "building parley failed");
    }
    assert!(bin.is_file(), "no parley at {}", bin.display());
    bin
}
