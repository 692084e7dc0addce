//! ClusterIP and NodePort allocation for Services, transactional with the
//! Service write.
//!
//! Every allocated address or port is one storage key
//! (`/registry/ranges/serviceips/<ip>`, `/registry/ranges/servicenodeports/<proto>/<port>`)
//! created with a must-not-exist compare in the same transaction as the
//! Service and deleted in the same transaction as its release. So two
//! concurrent creates can never share an IP or port (also across API servers
//! on one etcd), a failed write leaks nothing, and a restart rebuilds the
//! in-memory index from the keys. The index only speeds up picking.

use crate::rest::object_store::SideEffects;
use crate::rest::status::{ApiError, ApiResult};
use crate::storage::{Compare, DynStorage, RangeRequest, Revision};
use crate::validation::field_error::FieldError;
use ipnet::IpNet;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

const RANGES_PREFIX: &str = "/registry/ranges/";
const IP_PREFIX: &str = "/registry/ranges/serviceips/";
const PORT_PREFIX: &str = "/registry/ranges/servicenodeports/";

#[derive(Default)]
struct Index {
    ips: HashSet<IpAddr>,
    ports: HashSet<(String, u16)>,
}

impl Index {
    /// Records that an allocation key exists (`present`) or was removed.
    fn apply(&mut self, key: &str, present: bool) {
        if let Some(ip) = key.strip_prefix(IP_PREFIX).and_then(|ip| ip.parse().ok()) {
            match present {
                true => self.ips.insert(ip),
                false => self.ips.remove(&ip),
            };
            return;
        }
        let port = key.strip_prefix(PORT_PREFIX).and_then(|rest| {
            let (proto, port) = rest.split_once('/')?;
            Some((proto.to_string(), port.parse::<u16>().ok()?))
        });
        if let Some(port) = port {
            match present {
                true => self.ports.insert(port),
                false => self.ports.remove(&port),
            };
        }
    }
}

/// The shared allocator index.
#[derive(Clone, Default)]
pub struct Allocators {
    index: Arc<Mutex<Index>>,
}

/// Reservations made for one write: keys to create and delete, and the
/// in-memory entries to undo or finalize.
#[derive(Default)]
pub struct Reservation {
    pub side: SideEffects,
    new_ips: Vec<IpAddr>,
    new_ports: Vec<(String, u16)>,
    released_ips: Vec<IpAddr>,
    released_ports: Vec<(String, u16)>,
}

pub fn ip_key(ip: &IpAddr) -> String {
    format!("{IP_PREFIX}{ip}")
}

pub fn port_key(proto: &str, port: u16) -> String {
    format!("{PORT_PREFIX}{}/{port}", proto.to_ascii_lowercase())
}

impl Allocators {
    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuilds the index from the allocation keys in storage; returns the
    /// revision it read at.
    pub async fn rebuild(&self, storage: &DynStorage) -> anyhow::Result<Revision> {
        let all = storage
            .range(RangeRequest {
                prefix: RANGES_PREFIX.into(),
                ..Default::default()
            })
            .await?;
        let mut idx = self.lock();
        idx.ips.clear();
        idx.ports.clear();
        for kv in &all.kvs {
            idx.apply(&kv.key, true);
        }
        Ok(all.revision)
    }

    /// Keeps the index in step with the allocation keys, which other API
    /// servers on the same etcd also write: rebuilds, then follows their
    /// changes (rebuilding again whenever the watch ends). The keys stay the
    /// authority — every allocation is a must-not-exist compare — so the
    /// index only saves retries.
    pub fn follow(&self, storage: DynStorage) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = this.follow_once(&storage).await {
                    tracing::warn!(error = %e, "following service allocations; rebuilding");
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        })
    }

    async fn follow_once(&self, storage: &DynStorage) -> anyhow::Result<()> {
        let revision = self.rebuild(storage).await?;
        let mut events = storage.watch(RANGES_PREFIX, revision)?;
        while let Ok(ev) = events.recv().await {
            self.lock()
                .apply(&ev.kv.key, ev.kind == crate::storage::EventKind::Put);
        }
        Ok(())
    }

    pub fn is_ip_allocated(&self, ip: &IpAddr) -> bool {
        self.lock().ips.contains(ip)
    }

    /// Marks an IP as used in memory (after a compare found it taken).
    pub fn note_ip_taken(&self, ip: IpAddr) {
        self.lock().ips.insert(ip);
    }

    pub fn note_port_taken(&self, proto: &str, port: u16) {
        self.lock().ports.insert((proto.to_ascii_lowercase(), port));
    }

    pub fn commit(&self, r: &Reservation) {
        let mut idx = self.lock();
        for ip in &r.released_ips {
            idx.ips.remove(ip);
        }
        for p in &r.released_ports {
            idx.ports.remove(p);
        }
    }

    pub fn abort(&self, r: &Reservation) {
        let mut idx = self.lock();
        for ip in &r.new_ips {
            idx.ips.remove(ip);
        }
        for p in &r.new_ports {
            idx.ports.remove(p);
        }
    }

    /// Reserves `ip` (asked for by the client) or reports the real error.
    pub fn reserve_ip(
        &self,
        r: &mut Reservation,
        owner: &str,
        ip: IpAddr,
        cidr: &IpNet,
        all_requested: &Value,
    ) -> ApiResult<()> {
        let fail = |why: String| {
            ApiError::invalid_fields(
                "Service",
                owner_name(owner),
                vec![FieldError::invalid(
                    "spec.clusterIPs",
                    all_requested.clone(),
                    format!("failed to allocate IP {ip}: {why}"),
                )],
            )
        };
        if !cidr.contains(&ip) || is_reserved_edge(cidr, &ip) {
            return Err(fail(format!(
                "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {cidr}"
            )));
        }
        if !self.lock().ips.insert(ip) {
            return Err(fail("provided IP is already allocated".into()));
        }
        r.new_ips.push(ip);
        r.side.compares.push(Compare::absent(ip_key(&ip)));
        r.side
            .puts
            .push((ip_key(&ip), json!(owner).to_string().into()));
        Ok(())
    }

    /// Picks a free IP: first from the upper (dynamic) band, then anywhere,
    /// as kube-apiserver's allocator keeps the low band for static picks.
    pub fn reserve_next_ip(
        &self,
        r: &mut Reservation,
        owner: &str,
        cidr: &IpNet,
    ) -> ApiResult<IpAddr> {
        let size = usable_size(cidr);
        if size == 0 {
            return Err(ApiError::internal(
                "failed to allocate a serviceIP: range is full",
            ));
        }
        let static_band = static_band(size);
        let mut idx = self.lock();
        let pick = pick_free(size, static_band, |off| {
            !idx.ips.contains(&nth_ip(cidr, off))
        })
        .ok_or_else(|| ApiError::internal("failed to allocate a serviceIP: range is full"))?;
        let ip = nth_ip(cidr, pick);
        idx.ips.insert(ip);
        drop(idx);
        r.new_ips.push(ip);
        r.side.compares.push(Compare::absent(ip_key(&ip)));
        r.side
            .puts
            .push((ip_key(&ip), json!(owner).to_string().into()));
        Ok(ip)
    }

    pub fn reserve_port(
        &self,
        r: &mut Reservation,
        owner: &str,
        proto: &str,
        port: u16,
        range: &RangeInclusive<u16>,
        field: &str,
    ) -> ApiResult<()> {
        let fail = |why: String| {
            ApiError::invalid_fields(
                "Service",
                owner_name(owner),
                vec![FieldError::invalid(field, port, why)],
            )
        };
        if !range.contains(&port) {
            return Err(fail(format!(
                "provided port is not in the valid range. The range of valid ports is {}-{}",
                range.start(),
                range.end()
            )));
        }
        let key = (proto.to_ascii_lowercase(), port);
        if !self.lock().ports.insert(key.clone()) {
            return Err(fail("provided port is already allocated".into()));
        }
        r.new_ports.push(key);
        r.side.compares.push(Compare::absent(port_key(proto, port)));
        r.side
            .puts
            .push((port_key(proto, port), json!(owner).to_string().into()));
        Ok(())
    }

    pub fn reserve_next_port(
        &self,
        r: &mut Reservation,
        owner: &str,
        proto: &str,
        range: &RangeInclusive<u16>,
    ) -> ApiResult<u16> {
        let size = u64::from(range.end() - range.start()) + 1;
        let proto_l = proto.to_ascii_lowercase();
        let mut idx = self.lock();
        let taken = |off: u64| {
            idx.ports
                .contains(&(proto_l.clone(), range.start() + off as u16))
        };
        let pick = pick_free(size, static_band(size), |off| !taken(off))
            .ok_or_else(|| ApiError::internal("failed to allocate a nodePort: range is full"))?;
        let port = range.start() + pick as u16;
        idx.ports.insert((proto_l.clone(), port));
        drop(idx);
        r.new_ports.push((proto_l, port));
        r.side.compares.push(Compare::absent(port_key(proto, port)));
        r.side
            .puts
            .push((port_key(proto, port), json!(owner).to_string().into()));
        Ok(port)
    }

    pub fn release_ip(&self, r: &mut Reservation, ip: IpAddr) {
        r.released_ips.push(ip);
        r.side.deletes.push(ip_key(&ip));
    }

    pub fn release_port(&self, r: &mut Reservation, proto: &str, port: u16) {
        r.released_ports.push((proto.to_ascii_lowercase(), port));
        r.side.deletes.push(port_key(proto, port));
    }
}

fn owner_name(owner: &str) -> &str {
    owner.rsplit('/').next().unwrap_or(owner)
}

/// Addresses in the range that may be handed out (IPv4 skips network and broadcast).
fn usable_size(cidr: &IpNet) -> u64 {
    match cidr {
        IpNet::V4(n) => {
            let bits = 32 - u32::from(n.prefix_len());
            if bits < 2 {
                return 0;
            }
            (1u64 << bits) - 2
        }
        IpNet::V6(n) => {
            let bits = 128 - u32::from(n.prefix_len());
            // Cap at 2^20 addresses, enough for any dev cluster; the subnet-router
            // anycast address (offset 0) is skipped.
            (1u64 << bits.min(20)).saturating_sub(1)
        }
    }
}

/// The `off`-th usable address (0-based), skipping the network address.
pub fn nth_ip(cidr: &IpNet, off: u64) -> IpAddr {
    match cidr {
        IpNet::V4(n) => IpAddr::V4((u32::from(n.network()) + 1 + off as u32).into()),
        IpNet::V6(n) => IpAddr::V6((u128::from(n.network()) + 1 + u128::from(off)).into()),
    }
}

fn is_reserved_edge(cidr: &IpNet, ip: &IpAddr) -> bool {
    match cidr {
        IpNet::V4(n) => *ip == IpAddr::V4(n.network()) || *ip == IpAddr::V4(n.broadcast()),
        IpNet::V6(n) => *ip == IpAddr::V6(n.network()),
    }
}

/// kube-apiserver's split: min(max(16, size/16), 256) low offsets are
/// preferred for static (requested) allocations.
fn static_band(size: u64) -> u64 {
    (size / 16).clamp(16, 256).min(size)
}

/// A random free offset, preferring the dynamic band above `band`.
fn pick_free(size: u64, band: u64, free: impl Fn(u64) -> bool) -> Option<u64> {
    let scan = |lo: u64, hi: u64| -> Option<u64> {
        if lo >= hi {
            return None;
        }
        let start = rand::rng().random_range(lo..hi);
        (start..hi).chain(lo..start).find(|&o| free(o))
    };
    scan(band, size).or_else(|| scan(0, band))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_skip_network_address_and_band_split() {
        let cidr: IpNet = "127.96.0.0/16".parse().unwrap();
        assert_eq!(nth_ip(&cidr, 0).to_string(), "127.96.0.1");
        assert_eq!(nth_ip(&cidr, 9).to_string(), "127.96.0.10");
        assert_eq!(usable_size(&cidr), 65534);
        assert_eq!(static_band(65534), 256);
        let small: IpNet = "127.96.0.0/29".parse().unwrap();
        assert_eq!(usable_size(&small), 6);
        assert!(is_reserved_edge(&small, &"127.96.0.7".parse().unwrap()));
    }

    #[test]
    fn picks_are_unique_until_full() {
        let a = Allocators::default();
        let cidr: IpNet = "127.96.0.0/29".parse().unwrap();
        let mut r = Reservation::default();
        let mut seen = HashSet::new();
        for _ in 0..6 {
            assert!(seen.insert(a.reserve_next_ip(&mut r, "default/x", &cidr).unwrap()));
        }
        let err = a.reserve_next_ip(&mut r, "default/x", &cidr).unwrap_err();
        assert!(err.message.contains("range is full"), "{}", err.message);
        a.abort(&r);
        assert!(a
            .reserve_next_ip(&mut Reservation::default(), "default/x", &cidr)
            .is_ok());
    }

    #[test]
    fn requested_port_conflicts_and_range() {
        let a = Allocators::default();
        let range = 30000..=32767;
        let mut r = Reservation::default();
        a.reserve_port(
            &mut r,
            "default/a",
            "TCP",
            30080,
            &range,
            "spec.ports[0].nodePort",
        )
        .unwrap();
        let dup = a
            .reserve_port(
                &mut r,
                "default/b",
                "TCP",
                30080,
                &range,
                "spec.ports[0].nodePort",
            )
            .unwrap_err();
        assert!(
            dup.message.contains("provided port is already allocated"),
            "{}",
            dup.message
        );
        // Same number, other protocol: allowed.
        a.reserve_port(
            &mut r,
            "default/b",
            "UDP",
            30080,
            &range,
            "spec.ports[0].nodePort",
        )
        .unwrap();
        let out = a
            .reserve_port(
                &mut r,
                "default/c",
                "TCP",
                80,
                &range,
                "spec.ports[0].nodePort",
            )
            .unwrap_err();
        assert!(
            out.message
                .contains("The range of valid ports is 30000-32767"),
            "{}",
            out.message
        );
    }
}
