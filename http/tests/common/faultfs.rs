//! A disk that fails on demand: `http/tests/faultfs/faultfs.py` (fusepy
//! over libfuse2) mounts a directory through FUSE and fails every write
//! and fsync with EIO while its switch file exists.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A mounted fault file system.
pub struct FaultFs {
    child: Child,
    mount: PathBuf,
    switch: PathBuf,
    _backing: tempfile::TempDir,
}

/// Why no fault file system can be mounted here, if it cannot (FUSE needs
/// /dev/fuse, root, fusepy and libfuse2).
pub fn unavailable() -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    match FaultFs::mount(&dir.path().join("m")) {
        Ok(_) => None,
        Err(why) => {
            // CI installs fusepy and libfuse2: where /dev/fuse exists, a
            // failed mount there is a failure, not a skip.
            assert!(
                std::env::var("CI").is_err() || !Path::new("/dev/fuse").exists(),
                "{why}; .ci/run should have installed fusepy and libfuse2"
            );
            Some(why)
        }
    }
}

impl FaultFs {
    /// Mounts a fresh fault file system at `mount` (created if missing).
    pub fn mount(mount: &Path) -> Result<Self, String> {
        if !Path::new("/dev/fuse").exists() {
            return Err("no /dev/fuse here".into());
        }
        std::fs::create_dir_all(mount).unwrap();
        let backing = tempfile::tempdir().unwrap();
        let switch = backing.path().with_extension("fail-writes");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/faultfs/faultfs.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(backing.path())
            .arg(mount)
            .arg(&switch)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        let mut fs = Self {
            child,
            mount: mount.to_path_buf(),
            switch,
            _backing: backing,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fs.mounted() {
            if let Ok(Some(_)) = fs.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = fs.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(format!(
                    "the fault file system did not mount: {}",
                    err.trim()
                ));
            }
            if Instant::now() > deadline {
                return Err("the fault file system did not mount within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // A data dir other users can read is refused: make it private.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(mount, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod 0700 on the fault file system: {e}"))?;
        Ok(fs)
    }

    fn mounted(&self) -> bool {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let want = self.mount.to_string_lossy().to_string();
        mounts
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(want.as_str()))
    }

    /// From now on every write and fsync fails (`true`) or works again (`false`).
    pub fn fail_writes(&self, fail: bool) {
        if fail {
            std::fs::write(&self.switch, b"").unwrap();
        } else {
            let _ = std::fs::remove_file(&self.switch);
        }
    }
}

impl Drop for FaultFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.switch);
    }
}
