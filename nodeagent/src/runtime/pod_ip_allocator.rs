//! Pod IPs from the node's podCIDR, handed out round-robin as the CNI
//! `host-local` IPAM plugin does: each allocation continues after the last
//! address handed out, so a deleted pod's address comes back only after the
//! range wraps. A client or cache that still holds the old address of a
//! replaced pod then finds nothing there rather than a different pod.
//!
//! The last reserved address is kept in a file (host-local's
//! `last_reserved_ip`), so a restarted node agent does not start again at the
//! bottom of the range.

use ipnet::IpNet;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;

/// Addresses handed out per pod uid; a pod keeps its address until it is
/// deleted; only when the range is full do finished pods give theirs up.
#[derive(Debug, Default)]
pub struct PodIpAllocator {
    used: HashMap<IpAddr, String>,
    finished: HashSet<String>,
    last: Option<IpAddr>,
    state_file: Option<PathBuf>,
}

/// At most this many addresses of a range are considered (an IPv6 /64).
const MAX_HOSTS: usize = 65536;

impl PodIpAllocator {
    /// An allocator that remembers its position in `state_file`.
    pub fn persistent(state_file: PathBuf) -> Self {
        let last = std::fs::read_to_string(&state_file)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        PodIpAllocator {
            last,
            state_file: Some(state_file),
            ..Default::default()
        }
    }

    /// An address for `uid`: its own if it has one, `preferred` if free and
    /// inside the range (a pod that already has an address keeps it across
    /// agent restarts), else the next free host address after the last one
    /// handed out (skipping the network address and .1, the gateway by
    /// convention), wrapping at the end of the range.
    pub fn allocate(
        &mut self,
        cidr: IpNet,
        uid: &str,
        preferred: Option<IpAddr>,
    ) -> Option<IpAddr> {
        if let Some(ip) = self.ip_of(uid) {
            return Some(ip);
        }
        self.finished.remove(uid);
        if let Some(p) = preferred {
            if cidr.contains(&p) && !self.used.contains_key(&p) {
                self.used.insert(p, uid.to_string());
                return Some(p);
            }
        }
        let order = round_robin(cidr, self.last);
        let ip = order
            .iter()
            .find(|ip| !self.used.contains_key(ip))
            .or_else(|| {
                order
                    .iter()
                    .find(|ip| self.used.get(ip).is_some_and(|u| self.finished.contains(u)))
            })
            .copied()?;
        if let Some(old) = self.used.insert(ip, uid.to_string()) {
            self.finished.remove(&old);
        }
        self.remember_last(ip);
        Some(ip)
    }

    /// The pod finished: its address may go to another pod if the range
    /// runs out.
    pub fn finished(&mut self, uid: &str) {
        if self.used.values().any(|u| u == uid) {
            self.finished.insert(uid.to_string());
        }
    }

    /// The address `uid` holds, if any.
    pub fn ip_of(&self, uid: &str) -> Option<IpAddr> {
        self.used
            .iter()
            .find_map(|(ip, u)| (u == uid).then_some(*ip))
    }

    pub fn release(&mut self, uid: &str) {
        self.used.retain(|_, u| u != uid);
        self.finished.remove(uid);
    }

    fn remember_last(&mut self, ip: IpAddr) {
        self.last = Some(ip);
        let Some(path) = &self.state_file else {
            return;
        };
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(path, ip.to_string()));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "cannot record the last pod IP handed out");
        }
    }
}

/// The range's usable addresses in the order they are tried: those after
/// `last`, then from the start of the range up to and including `last`.
fn round_robin(cidr: IpNet, last: Option<IpAddr>) -> Vec<IpAddr> {
    let hosts: Vec<IpAddr> = cidr
        .hosts()
        .filter(|ip| *ip != cidr.network())
        .skip(1)
        .take(MAX_HOSTS)
        .collect();
    let start = last
        .and_then(|l| hosts.iter().position(|ip| *ip == l))
        .map_or(0, |i| i + 1);
    let mut order = hosts[start..].to_vec();
    order.extend_from_slice(&hosts[..start]);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn unique_and_sticky() {
        let cidr: IpNet = "127.244.0.0/24".parse().unwrap();
        let mut ipam = PodIpAllocator::default();
        let a = ipam.allocate(cidr, "a", None).unwrap();
        assert_eq!(a, ip("127.244.0.2"));
        let b = ipam.allocate(cidr, "b", None).unwrap();
        assert_eq!(b, ip("127.244.0.3"));
        assert_eq!(ipam.allocate(cidr, "a", None), Some(a));
        let c = ipam.allocate(cidr, "c", Some(b)).unwrap();
        assert_ne!(c, b);
        let kept = ipam.allocate(cidr, "e", Some(ip("127.244.0.77"))).unwrap();
        assert_eq!(kept, ip("127.244.0.77"));
    }

    #[test]
    fn a_released_address_comes_back_only_after_the_range_wraps() {
        let cidr: IpNet = "127.244.0.0/29".parse().unwrap(); // .2 - .6
        let mut ipam = PodIpAllocator::default();
        assert_eq!(ipam.allocate(cidr, "a", None), Some(ip("127.244.0.2")));
        ipam.release("a");
        assert_eq!(ipam.allocate(cidr, "b", None), Some(ip("127.244.0.3")));
        ipam.release("b");
        let next: Vec<_> = ["c", "d", "e", "f"]
            .iter()
            .map(|u| ipam.allocate(cidr, u, None).unwrap())
            .collect();
        assert_eq!(
            next,
            ["127.244.0.4", "127.244.0.5", "127.244.0.6", "127.244.0.2"].map(ip)
        );
    }

    #[test]
    fn a_full_range_reuses_the_address_of_a_finished_pod() {
        let small: IpNet = "127.244.1.0/30".parse().unwrap();
        let mut ipam = PodIpAllocator::default();
        let x = ipam.allocate(small, "x", None).unwrap();
        assert_eq!(ipam.allocate(small, "y", None), None);
        ipam.finished("x");
        assert_eq!(ipam.allocate(small, "y", None), Some(x));
    }

    #[test]
    fn the_position_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ipam/last_reserved_ip");
        let cidr: IpNet = "127.244.0.0/24".parse().unwrap();
        let mut ipam = PodIpAllocator::persistent(file.clone());
        ipam.allocate(cidr, "a", None);
        ipam.allocate(cidr, "b", None);
        let mut again = PodIpAllocator::persistent(file);
        assert_eq!(again.allocate(cidr, "c", None), Some(ip("127.244.0.4")));
    }
}
