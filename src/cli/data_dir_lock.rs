//! One running `mkube up` per data dir: a second one on the same dir would
//! share its store, certificates, log and pid file with the first.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;

const LOCK: &str = "mkube.lock";

/// Held for the life of the cluster; the kernel drops it when the process ends.
pub struct DataDirLock(#[allow(dead_code)] File);

/// Takes the data dir's lock, or says which process holds it.
pub fn acquire(data_dir: &Path) -> anyhow::Result<DataDirLock> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(LOCK);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            write!(file, "{}", std::process::id())?;
            Ok(DataDirLock(file))
        }
        Err(TryLockError::WouldBlock) => Err(already_running(data_dir)),
        Err(TryLockError::Error(e)) => Err(anyhow::anyhow!("locking {}: {e}", path.display())),
    }
}

/// Fails if a cluster runs with this data dir (without taking the lock).
pub fn ensure_free(data_dir: &Path) -> anyhow::Result<()> {
    let Ok(file) = File::open(data_dir.join(LOCK)) else {
        return Ok(());
    };
    match file.try_lock() {
        Err(TryLockError::WouldBlock) => Err(already_running(data_dir)),
        _ => Ok(()),
    }
}

fn already_running(data_dir: &Path) -> anyhow::Error {
    let pid = std::fs::read_to_string(data_dir.join(LOCK)).unwrap_or_default();
    anyhow::anyhow!(
        "a cluster is already running with data dir {} (pid {}); use it \
         (export KUBECONFIG={}), stop it with `mkube down --data-dir {}`, or start \
         another with --data-dir and --port of its own",
        data_dir.display(),
        pid.trim(),
        data_dir.join("kubeconfig").display(),
        data_dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure_free(dir.path()).is_ok());
        let held = acquire(dir.path()).unwrap();
        let err = acquire(dir.path()).err().unwrap().to_string();
        assert!(err.contains("already running"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        assert!(ensure_free(dir.path()).is_err());
        drop(held);
        assert!(ensure_free(dir.path()).is_ok());
        assert!(acquire(dir.path()).is_ok());
    }
}
