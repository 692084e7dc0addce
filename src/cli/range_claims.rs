//! Machine-wide claims on the address ranges a cluster binds, so that two
//! `mkube up` on one machine never share ClusterIPs, pod IPs, load-balancer
//! addresses or NodePorts (each would answer the other's traffic).
//!
//! Every running cluster keeps a file in a shared directory listing its
//! ranges and holds an exclusive `flock` on it for its whole life; the kernel
//! drops the lock when the process dies, however it dies, so a file whose
//! lock can be taken belongs to no live cluster. A cluster registers while it
//! holds the directory's own lock, so two starting at once cannot both pass.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The addresses one cluster binds on this machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranges {
    pub service_cidrs: Vec<IpNet>,
    pub cluster_cidr: IpNet,
    pub lb_ip_range: IpNet,
    pub node_ip: IpAddr,
    pub node_ports: (u16, u16),
}

/// A registered claim; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct Claim {
    _file: File,
    path: PathBuf,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What another live cluster holds that this one would take.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The flag whose value collides (`--service-cidr`, ...).
    pub flag: &'static str,
    pub ours: String,
    pub theirs: String,
    pub pid: u32,
    pub data_dir: PathBuf,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} overlaps {} of the mkube cluster running with data dir {} (pid {})",
            self.flag,
            self.ours,
            self.theirs,
            self.data_dir.display(),
            self.pid
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Record {
    pid: u32,
    data_dir: PathBuf,
    ranges: Ranges,
}

/// The shared directory: `$MKUBE_CLAIMS_DIR`, else one per machine (as the
/// temporary directory is).
pub fn default_dir() -> PathBuf {
    std::env::var_os("MKUBE_CLAIMS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("mkube-claims"))
}

/// Registers `ranges` for this process unless a live cluster holds any of
/// them; Ok(Err(conflicts)) says which.
pub fn claim(
    dir: &Path,
    ranges: &Ranges,
    data_dir: &Path,
) -> anyhow::Result<Result<Claim, Vec<Conflict>>> {
    create_shared_dir(dir)?;
    let registry = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("registry.lock"))?;
    registry.lock()?;
    let conflicts: Vec<Conflict> = live_records(dir)?
        .iter()
        .flat_map(|r| conflicts_with(ranges, r))
        .collect();
    if !conflicts.is_empty() {
        return Ok(Err(conflicts));
    }
    // Unique per claim, even for several claims of one process (tests).
    static CLAIMS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = CLAIMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}.json", std::process::id()));
    let mut file = File::create(&path)?;
    file.try_lock()
        .map_err(|e| anyhow::anyhow!("locking {}: {e}", path.display()))?;
    let record = Record {
        pid: std::process::id(),
        data_dir: data_dir.to_path_buf(),
        ranges: ranges.clone(),
    };
    file.write_all(&serde_json::to_vec(&record)?)?;
    Ok(Ok(Claim { _file: file, path }))
}

/// Anyone may register: the directory is shared like /tmp itself.
fn create_shared_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))?;
    Ok(())
}

/// The records of live clusters; files of dead ones are removed.
fn live_records(dir: &Path) -> anyhow::Result<Vec<Record>> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(mut file) = File::open(&path) else {
            continue;
        };
        match file.try_lock() {
            Ok(()) => {
                // Nobody holds it: its cluster is gone.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(_)) => continue,
        }
        let mut text = String::new();
        if file.read_to_string(&mut text).is_err() {
            continue;
        }
        if let Ok(record) = serde_json::from_str::<Record>(&text) {
            live.push(record);
        }
    }
    Ok(live)
}

/// Every range of `ours` that overlaps one of the other cluster's.
fn conflicts_with(ours: &Ranges, other: &Record) -> Vec<Conflict> {
    let theirs = cidrs(&other.ranges);
    let mut found = Vec::new();
    for (flag, net) in cidrs(ours) {
        if let Some((_, t)) = theirs.iter().find(|(_, t)| overlaps(net, *t)) {
            found.push(conflict(flag, net.to_string(), t.to_string(), other));
        }
    }
    let (lo, hi) = ours.node_ports;
    let (olo, ohi) = other.ranges.node_ports;
    if ours.node_ip == other.ranges.node_ip && lo <= ohi && olo <= hi {
        found.push(conflict(
            "--node-ip",
            format!("{} (NodePorts {lo}-{hi})", ours.node_ip),
            format!(
                "the node IP {} (NodePorts {olo}-{ohi})",
                other.ranges.node_ip
            ),
            other,
        ));
    }
    found
}

fn conflict(flag: &'static str, ours: String, theirs: String, other: &Record) -> Conflict {
    Conflict {
        flag,
        ours,
        theirs,
        pid: other.pid,
        data_dir: other.data_dir.clone(),
    }
}

fn cidrs(r: &Ranges) -> Vec<(&'static str, IpNet)> {
    let mut all: Vec<(&'static str, IpNet)> = r
        .service_cidrs
        .iter()
        .map(|c| ("--service-cidr", *c))
        .collect();
    all.push(("--cluster-cidr", r.cluster_cidr));
    all.push(("--lb-ip-range", r.lb_ip_range));
    all
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(svc: &str, pods: &str, lb: &str, node: &str) -> Ranges {
        Ranges {
            service_cidrs: vec![svc.parse().unwrap()],
            cluster_cidr: pods.parse().unwrap(),
            lb_ip_range: lb.parse().unwrap(),
            node_ip: node.parse().unwrap(),
            node_ports: (30000, 32767),
        }
    }

    fn record(r: Ranges) -> Record {
        Record {
            pid: 42,
            data_dir: "/tmp/a".into(),
            ranges: r,
        }
    }

    #[test]
    fn overlapping_ranges_of_any_kind_conflict() {
        let a = ranges(
            "127.96.0.0/16",
            "127.244.0.0/16",
            "127.240.0.0/16",
            "127.0.0.1",
        );
        let same = conflicts_with(&a, &record(a.clone()));
        let flags: Vec<_> = same.iter().map(|c| c.flag).collect();
        assert_eq!(
            flags,
            [
                "--service-cidr",
                "--cluster-cidr",
                "--lb-ip-range",
                "--node-ip"
            ]
        );
        // A smaller range inside another cluster's range of another kind.
        let b = ranges(
            "127.244.9.0/24",
            "127.245.0.0/16",
            "127.241.0.0/16",
            "127.0.0.2",
        );
        let c = conflicts_with(&b, &record(a.clone()));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].flag, "--service-cidr");
        assert!(
            c[0].to_string().contains("data dir /tmp/a (pid 42)"),
            "{}",
            c[0]
        );
        let apart = ranges(
            "127.97.0.0/16",
            "127.65.0.0/16",
            "127.33.0.0/16",
            "127.0.2.1",
        );
        assert!(conflicts_with(&apart, &record(a)).is_empty());
    }

    #[test]
    fn a_live_claim_blocks_and_a_released_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let a = ranges(
            "127.96.0.0/16",
            "127.244.0.0/16",
            "127.240.0.0/16",
            "127.0.0.1",
        );
        let held = claim(dir.path(), &a, Path::new("/d1")).unwrap().unwrap();
        // flock is per open file description: a second claim from this
        // process sees the first as live, as another process would.
        let again = claim(dir.path(), &a, Path::new("/d2")).unwrap();
        assert_eq!(again.unwrap_err().len(), 4);
        drop(held);
        assert!(claim(dir.path(), &a, Path::new("/d2")).unwrap().is_ok());
    }
}
