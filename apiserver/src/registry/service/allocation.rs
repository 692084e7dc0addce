//! ClusterIP and NodePort allocation: the in-memory index of what is taken
//! and the decisions kube-apiserver's Service allocator makes.
//!
//! Both allocators pick at random, preferring the upper ("dynamic") part of
//! their range so that the lower ("static") band stays free for values users
//! ask for, as kube-apiserver's allocators do. The storage layer persists one
//! key per IP / port in the Service's transaction; this module only keeps
//! the index and decides.

use super::*;
use crate::validation::names::{go_ip_string, parse_ip_sloppy};
use ipnet::IpNet;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpFamily {
    IPv4,
    IPv6,
}

impl IpFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::IPv4 => "IPv4",
            IpFamily::IPv6 => "IPv6",
        }
    }

    /// `IPv4` / `IPv6`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "IPv4" => Some(IpFamily::IPv4),
            "IPv6" => Some(IpFamily::IPv6),
            _ => None,
        }
    }

    /// The family of an address (IPv4-mapped IPv6 counts as IPv4).
    pub fn of(ip: &IpAddr) -> Self {
        if crate::validation::names::is_ipv6(ip) {
            IpFamily::IPv6
        } else {
            IpFamily::IPv4
        }
    }

    pub fn of_net(net: &IpNet) -> Self {
        match net {
            IpNet::V4(_) => IpFamily::IPv4,
            IpNet::V6(_) => IpFamily::IPv6,
        }
    }

    pub fn other(self) -> Self {
        match self {
            IpFamily::IPv4 => IpFamily::IPv6,
            IpFamily::IPv6 => IpFamily::IPv4,
        }
    }
}

/// Allocator failures, worded as kube-apiserver's allocators word them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("range is full")]
    Full,
    #[error("provided IP is already allocated")]
    IpAllocated,
    #[error("the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}")]
    IpNotInRange { ip: String, range: String },
    #[error("provided port is already allocated")]
    PortAllocated,
    #[error("provided port is not in the valid range. The range of valid ports is {range}")]
    PortNotInRange { range: String },
}

fn ip_to_u128(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(*v4)),
        IpAddr::V6(v6) => u128::from(*v6),
    }
}

/// `min(max(min, size/step), max)`, 0 for ranges of at most `min` values.
fn range_offset(size: u128, min: u128, max: u128, step: u128) -> u128 {
    if size <= min {
        return 0;
    }
    (size / step).clamp(min, max)
}

/// Random pick in `[lo, hi)` among values not in `taken`, scanning forward
/// (with wrap-around) from a random start.
fn pick_free(taken: &BTreeSet<u128>, lo: u128, hi: u128, rng: &mut impl Rng) -> Option<u128> {
    if hi <= lo {
        return None;
    }
    let start = lo + rng.random_range(0..hi - lo);
    first_free(taken, start, hi).or_else(|| first_free(taken, lo, start))
}

fn first_free(taken: &BTreeSet<u128>, from: u128, to: u128) -> Option<u128> {
    if from >= to {
        return None;
    }
    let mut cand = from;
    for &t in taken.range(from..to) {
        if t == cand {
            cand += 1;
        } else {
            break;
        }
    }
    (cand < to).then_some(cand)
}

/// The ClusterIPs of one Service CIDR. The network address (and the IPv4
/// broadcast address) are never handed out.
#[derive(Debug, Clone)]
pub struct ClusterIpAllocator {
    cidr: IpNet,
    /// First usable address (network + 1).
    base: u128,
    /// Number of usable addresses.
    max: u128,
    /// Size of the static band at the start of the range.
    offset: u128,
    allocated: BTreeSet<u128>,
}

impl ClusterIpAllocator {
    pub fn new(cidr: IpNet) -> Self {
        let cidr = cidr.trunc();
        let host_bits = u32::from(cidr.max_prefix_len() - cidr.prefix_len());
        let size: u128 = if host_bits >= 128 {
            u128::MAX
        } else {
            1u128 << host_bits
        };
        let mut max = size;
        if let IpNet::V4(_) = cidr {
            max = max.saturating_sub(1); // broadcast
        }
        max = max.saturating_sub(1); // network address
        let range_size = if host_bits >= 63 {
            i64::MAX as u128
        } else {
            size
        };
        ClusterIpAllocator {
            cidr,
            base: ip_to_u128(&cidr.network()) + 1,
            max,
            offset: range_offset(range_size, 16, 256, 16),
            allocated: BTreeSet::new(),
        }
    }

    pub fn cidr(&self) -> IpNet {
        self.cidr
    }

    pub fn family(&self) -> IpFamily {
        IpFamily::of_net(&self.cidr)
    }

    /// Number of usable addresses.
    pub fn size(&self) -> u128 {
        self.max
    }

    pub fn used(&self) -> usize {
        self.allocated.len()
    }

    pub fn free(&self) -> u128 {
        self.max - self.allocated.len() as u128
    }

    /// The addresses of the static band (handed out only when the rest is
    /// full): the first `min(max(16, size/16), 256)` usable addresses.
    pub fn static_band_len(&self) -> u128 {
        self.offset.min(self.max)
    }

    fn ip_at(&self, offset: u128) -> IpAddr {
        let v = self.base + offset;
        match self.cidr {
            IpNet::V4(_) => IpAddr::V4(Ipv4Addr::from(v as u32)),
            IpNet::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
        }
    }

    /// The offset of a usable address of this range.
    fn offset_of(&self, ip: &IpAddr) -> Option<u128> {
        let ip = match ip {
            IpAddr::V6(v6) if matches!(self.cidr, IpNet::V4(_)) => IpAddr::V4(v6.to_ipv4_mapped()?),
            other => *other,
        };
        if !self.cidr.contains(&ip) {
            return None;
        }
        let v = ip_to_u128(&ip);
        if v < self.base {
            return None;
        }
        let off = v - self.base;
        (off < self.max).then_some(off)
    }

    /// Whether `ip` is a usable address of the range.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.offset_of(ip).is_some()
    }

    /// Reserves a specific address.
    pub fn allocate_specific(&mut self, ip: IpAddr) -> Result<(), AllocError> {
        let Some(off) = self.offset_of(&ip) else {
            return Err(AllocError::IpNotInRange {
                ip: go_ip_string(&ip),
                range: format!(
                    "{}/{}",
                    go_ip_string(&self.cidr.network()),
                    self.cidr.prefix_len()
                ),
            });
        };
        if !self.allocated.insert(off) {
            return Err(AllocError::IpAllocated);
        }
        Ok(())
    }

    /// Reserves a random free address, from the upper band first.
    pub fn allocate_next(&mut self) -> Result<IpAddr, AllocError> {
        self.allocate_next_with(&mut rand::rng())
    }

    pub fn allocate_next_with(&mut self, rng: &mut impl Rng) -> Result<IpAddr, AllocError> {
        if self.allocated.len() as u128 >= self.max {
            return Err(AllocError::Full);
        }
        let band = self.static_band_len();
        let off = pick_free(&self.allocated, band, self.max, rng)
            .or_else(|| pick_free(&self.allocated, 0, band, rng))
            .ok_or(AllocError::Full)?;
        self.allocated.insert(off);
        Ok(self.ip_at(off))
    }

    /// Frees an address; false if it was not allocated (or not in range).
    pub fn release(&mut self, ip: &IpAddr) -> bool {
        self.offset_of(ip)
            .is_some_and(|off| self.allocated.remove(&off))
    }

    pub fn is_allocated(&self, ip: &IpAddr) -> bool {
        self.offset_of(ip)
            .is_some_and(|off| self.allocated.contains(&off))
    }

    /// The n-th usable address, counting from 1 (the network address plus
    /// n): `nth(1)` is the `kubernetes` Service's IP, `nth(10)` the usual
    /// cluster DNS IP.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        (n >= 1 && n <= self.max).then(|| self.ip_at(n - 1))
    }

    /// The allocated addresses, in order.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.allocated.iter().map(|&off| self.ip_at(off))
    }
}

/// The NodePorts of the configured range. A port number belongs to one
/// Service for every protocol, as in kube-apiserver (whose port allocator
/// knows numbers only); that Service may use it for several protocols.
#[derive(Debug, Clone)]
pub struct NodePortAllocator {
    base: u16,
    size: u32,
    offset: u32,
    allocated: BTreeSet<u16>,
}

impl NodePortAllocator {
    pub fn new(range: RangeInclusive<u16>) -> Self {
        let (start, end) = (*range.start(), *range.end());
        let size = if end >= start {
            u32::from(end - start) + 1
        } else {
            0
        };
        NodePortAllocator {
            base: start,
            size,
            offset: range_offset(u128::from(size), 16, 128, 32) as u32,
            allocated: BTreeSet::new(),
        }
    }

    /// `30000-32767`, as in the not-in-range message.
    pub fn range_string(&self) -> String {
        if self.size == 0 {
            return String::new();
        }
        format!("{}-{}", self.base, u32::from(self.base) + self.size - 1)
    }

    /// The ports preferred for explicit requests (never picked at random
    /// while the rest of the range has room).
    pub fn static_band(&self) -> RangeInclusive<u16> {
        let end = u32::from(self.base) + self.offset;
        self.base..=(end.saturating_sub(1).min(u32::from(u16::MAX)) as u16)
    }

    pub fn contains(&self, port: u16) -> bool {
        let p = u32::from(port);
        p >= u32::from(self.base) && p < u32::from(self.base) + self.size
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    pub fn used(&self) -> usize {
        self.allocated.len()
    }

    pub fn free(&self) -> u32 {
        self.size - self.allocated.len() as u32
    }

    /// Reserves a specific port.
    pub fn allocate_specific(&mut self, port: u16) -> Result<(), AllocError> {
        if !self.contains(port) {
            return Err(AllocError::PortNotInRange {
                range: self.range_string(),
            });
        }
        if !self.allocated.insert(port) {
            return Err(AllocError::PortAllocated);
        }
        Ok(())
    }

    /// Reserves a random free port, from the upper band first.
    pub fn allocate_next(&mut self) -> Result<u16, AllocError> {
        self.allocate_next_with(&mut rand::rng())
    }

    pub fn allocate_next_with(&mut self, rng: &mut impl Rng) -> Result<u16, AllocError> {
        if self.allocated.len() as u32 >= self.size {
            return Err(AllocError::Full);
        }
        let taken: BTreeSet<u128> = self
            .allocated
            .iter()
            .map(|p| u128::from(*p - self.base))
            .collect();
        let (band, size) = (u128::from(self.offset), u128::from(self.size));
        let off = pick_free(&taken, band, size, rng)
            .or_else(|| pick_free(&taken, 0, band, rng))
            .ok_or(AllocError::Full)?;
        let port = self.base + off as u16;
        self.allocated.insert(port);
        Ok(port)
    }

    /// Frees a port; false if it was not allocated.
    pub fn release(&mut self, port: u16) -> bool {
        self.allocated.remove(&port)
    }

    pub fn is_allocated(&self, port: u16) -> bool {
        self.allocated.contains(&port)
    }

    /// Every held port, in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.allocated.iter().copied()
    }
}

// ---------------------------------------------------------------------------
// What a Service holds, and what a write needs.

/// The IPs and ports a stored Service holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holdings {
    pub cluster_ips: Vec<IpAddr>,
    /// NodePorts and the health check port.
    pub node_ports: BTreeSet<u16>,
}

fn to_port(n: i64) -> Option<u16> {
    u16::try_from(n).ok().filter(|p| *p != 0)
}

fn protocol_of(p: &Value) -> String {
    let s = port_str(p, "protocol");
    if s.is_empty() {
        "TCP".to_string()
    } else {
        s.to_string()
    }
}

/// What a stored Service holds: its clusterIPs (none for ExternalName or
/// headless), its nodePorts, and its healthCheckNodePort when it needs one.
pub fn holdings(svc: &Value) -> Holdings {
    let mut h = Holdings::default();
    if svc_type(svc) != TYPE_EXTERNAL_NAME && !is_headless(svc) {
        let mut ips = cluster_ips(svc);
        if ips.is_empty() {
            ips = vec![spec_str(svc, "clusterIP").to_string()];
        }
        h.cluster_ips = ips
            .iter()
            .filter(|s| !s.is_empty() && *s != CLUSTER_IP_NONE)
            .filter_map(|s| parse_ip_sloppy(s))
            .collect();
    }
    h.node_ports = node_port_numbers(svc).into_iter().collect();
    if needs_health_check(svc) {
        h.node_ports
            .extend(to_port(spec_i64(svc, "healthCheckNodePort")));
    }
    h
}

/// What a Service keeps after a write: as [`holdings`], but nodePorts only
/// for the types that use them (the strategy wipes them otherwise).
fn kept_after_write(svc: &Value) -> Holdings {
    let mut h = holdings(svc);
    if !needs_node_port(svc) {
        h.node_ports.clear();
    }
    h
}

/// One ClusterIP to reserve: `requested` is the address asked for (`None`:
/// any free one), written to `clusterIPs[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpStep {
    pub index: usize,
    pub family: IpFamily,
    pub requested: Option<String>,
}

/// One NodePort decision, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodePortStep {
    /// Reserve `port` for `spec.ports[index]` (errors point at that port).
    Specific {
        index: usize,
        port: u16,
        protocol: String,
    },
    /// Reserve any free port and write it to `spec.ports[index].nodePort`.
    Next { index: usize, protocol: String },
    /// `spec.ports[index]` shares the nodePort of `spec.ports[from]` (same
    /// service port on another protocol).
    Reuse {
        index: usize,
        from: usize,
        protocol: String,
    },
    /// `spec.ports[index]` keeps a port this Service already holds (or
    /// reserved for an earlier entry of this write).
    Keep {
        index: usize,
        port: u16,
        protocol: String,
    },
    /// The write fails with an internal error.
    Fail(String),
}

/// The health check port decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCheckStep {
    /// Reserve the given port, or any free port when `None`.
    Allocate(Option<u16>),
    /// Free the old one (deferred to commit).
    Release(u16),
}

/// What a create (`old` = `None`) or update needs from the allocators,
/// decided as kube-apiserver decides it. Releases are deferred to commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicePlan {
    pub ip_steps: Vec<IpStep>,
    pub release_ips: Vec<String>,
    pub node_port_steps: Vec<NodePortStep>,
    pub release_node_ports: Vec<u16>,
    pub health_check: Option<HealthCheckStep>,
}

fn families_of(svc: &Value) -> Vec<IpFamily> {
    ip_families(svc)
        .iter()
        .filter_map(|f| IpFamily::parse(f))
        .collect()
}

fn nonempty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn plan_all_cluster_ips(svc: &Value) -> Vec<IpStep> {
    if svc_type(svc) == TYPE_EXTERNAL_NAME {
        return Vec::new();
    }
    let ips = cluster_ips(svc);
    if ips.first().map(String::as_str) == Some(CLUSTER_IP_NONE) {
        return Vec::new();
    }
    families_of(svc)
        .into_iter()
        .enumerate()
        .map(|(i, family)| IpStep {
            index: i,
            family,
            requested: ips.get(i).and_then(|s| nonempty(s)),
        })
        .collect()
}

fn node_port_numbers(svc: &Value) -> Vec<u16> {
    ports(svc)
        .iter()
        .filter_map(|p| to_port(port_i64(p, "nodePort")))
        .collect()
}

fn plan_create_node_ports(svc: &Value) -> Vec<NodePortStep> {
    let mut steps = Vec::new();
    let ports = ports(svc);
    let allocate = should_allocate_node_ports(svc);
    // service port -> (index that got it, node port if known)
    let mut by_service_port: BTreeMap<i64, (usize, Option<u16>)> = BTreeMap::new();
    for (i, p) in ports.iter().enumerate() {
        let np = port_i64(p, "nodePort");
        let protocol = protocol_of(p);
        if np == 0 && !allocate {
            continue;
        }
        let sp = port_i64(p, "port");
        match by_service_port.get(&sp).copied() {
            None => {
                let requested = ports
                    .iter()
                    .find(|q| port_i64(q, "port") == sp && port_i64(q, "nodePort") != 0)
                    .map(|q| port_i64(q, "nodePort"));
                match requested {
                    Some(n) => match u16::try_from(n) {
                        Ok(port) => {
                            steps.push(NodePortStep::Specific {
                                index: i,
                                port,
                                protocol,
                            });
                            by_service_port.insert(sp, (i, Some(port)));
                        }
                        Err(_) => steps.push(NodePortStep::Fail(format!(
                            "spec.ports[{i}].nodePort: {n} is not a port number"
                        ))),
                    },
                    None => {
                        steps.push(NodePortStep::Next { index: i, protocol });
                        by_service_port.insert(sp, (i, None));
                    }
                }
            }
            Some((from, known)) => {
                if np == 0 {
                    steps.push(NodePortStep::Reuse {
                        index: i,
                        from,
                        protocol,
                    });
                } else if Some(np) == known.map(i64::from) {
                    steps.push(NodePortStep::Keep {
                        index: i,
                        port: np as u16,
                        protocol,
                    });
                } else {
                    match u16::try_from(np) {
                        Ok(port) => steps.push(NodePortStep::Specific {
                            index: i,
                            port,
                            protocol,
                        }),
                        Err(_) => steps.push(NodePortStep::Fail(format!(
                            "spec.ports[{i}].nodePort: {np} is not a port number"
                        ))),
                    }
                }
            }
        }
    }
    steps
}

fn plan_update_node_ports(new: &Value, old: &Value) -> Vec<NodePortStep> {
    let mut steps = Vec::new();
    let old_numbers = node_port_numbers(old);
    let allocate = should_allocate_node_ports(new);
    let mut reserved = BTreeSet::new();
    let mut seen: Vec<(String, i64)> = Vec::new();
    for (i, p) in ports(new).iter().enumerate() {
        let np = port_i64(p, "nodePort");
        let protocol = protocol_of(p);
        if np == 0 && !allocate {
            continue;
        }
        if np != 0 {
            let Ok(port) = u16::try_from(np) else {
                steps.push(NodePortStep::Fail(format!(
                    "spec.ports[{i}].nodePort: {np} is not a port number"
                )));
                return steps;
            };
            if !old_numbers.contains(&port) && !reserved.contains(&port) {
                steps.push(NodePortStep::Specific {
                    index: i,
                    port,
                    protocol: protocol.clone(),
                });
                reserved.insert(port);
            } else {
                steps.push(NodePortStep::Keep {
                    index: i,
                    port,
                    protocol: protocol.clone(),
                });
            }
            let key = (port_str(p, "protocol").to_string(), np);
            if seen.contains(&key) {
                steps.push(NodePortStep::Fail(format!(
                    "duplicate nodePort: {{{} {}}}",
                    key.0, key.1
                )));
                return steps;
            }
            seen.push(key);
        } else {
            steps.push(NodePortStep::Next { index: i, protocol });
        }
    }
    steps
}

/// Decides what a Service write needs: `old = None` for a create. The
/// Service must already have its IP family fields initialised
/// ([`super::defaults::init_ip_family_fields`]).
pub fn plan(old: Option<&Value>, new: &Value) -> ServicePlan {
    let mut plan = ServicePlan::default();
    let Some(old) = old else {
        plan.ip_steps = plan_all_cluster_ips(new);
        if needs_node_port(new) {
            plan.node_port_steps = plan_create_node_ports(new);
        }
        if needs_health_check(new) {
            plan.health_check = Some(HealthCheckStep::Allocate(to_port(spec_i64(
                new,
                "healthCheckNodePort",
            ))));
        }
        return plan;
    };

    // ClusterIPs.
    let prefer_dual_unchanged = ip_family_policy(new) == Some("PreferDualStack")
        && ip_family_policy(old).is_none_or(|p| p == "PreferDualStack")
        && svc_type(old) == svc_type(new)
        && matches!(
            svc_type(new),
            TYPE_CLUSTER_IP | TYPE_NODE_PORT | TYPE_LOAD_BALANCER
        )
        && cluster_ips(old) == cluster_ips(new)
        && ip_families(old) == ip_families(new);
    let old_ext = svc_type(old) == TYPE_EXTERNAL_NAME;
    let new_ext = svc_type(new) == TYPE_EXTERNAL_NAME;
    if prefer_dual_unchanged {
        // nothing to do
    } else if old_ext && !new_ext {
        plan.ip_steps = plan_all_cluster_ips(new);
    } else if is_headless(old)
        || cluster_ips(old).first().map(String::as_str) == Some(CLUSTER_IP_NONE)
    {
        // headless Services hold no IPs
    } else if !old_ext && new_ext {
        let ips = cluster_ips(old);
        plan.release_ips = ip_families(old)
            .iter()
            .enumerate()
            .filter_map(|(i, _)| ips.get(i).cloned())
            .collect();
    } else {
        let (of, nf) = (families_of(old), families_of(new));
        if of.len() == 1 && nf.len() == 2 {
            plan.ip_steps.push(IpStep {
                index: 1,
                family: nf[1],
                requested: cluster_ips(new).get(1).and_then(|s| nonempty(s)),
            });
        } else if of.len() == 2 && nf.len() == 1 {
            if let Some(ip) = cluster_ips(old).get(1) {
                plan.release_ips.push(ip.clone());
            }
        }
    }

    // NodePorts.
    if needs_node_port(old) && matches!(svc_type(new), TYPE_EXTERNAL_NAME | TYPE_CLUSTER_IP) {
        plan.release_node_ports.extend(node_port_numbers(old));
    }
    if needs_node_port(new) {
        plan.node_port_steps = plan_update_node_ports(new, old);
        let new_numbers = node_port_numbers(new);
        let explicit_new: BTreeSet<u16> = new_numbers.iter().copied().collect();
        for o in node_port_numbers(old) {
            if !explicit_new.contains(&o) && !plan.release_node_ports.contains(&o) {
                plan.release_node_ports.push(o);
            }
        }
    }

    // Health check port.
    let needed = needs_health_check(old);
    let needs = needs_health_check(new);
    if !needed && needs {
        plan.health_check = Some(HealthCheckStep::Allocate(to_port(spec_i64(
            new,
            "healthCheckNodePort",
        ))));
    } else if needed && !needs {
        if let Some(hc) = to_port(spec_i64(old, "healthCheckNodePort")) {
            plan.health_check = Some(HealthCheckStep::Release(hc));
        }
    }
    plan
}

/// The outcome of an allocation: what was reserved now (to persist, and to
/// undo on abort) and what the write releases once it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reservation {
    pub allocated_ips: Vec<IpAddr>,
    pub released_ips: Vec<IpAddr>,
    pub allocated_node_ports: Vec<u16>,
    pub released_node_ports: Vec<u16>,
}

impl Reservation {
    pub fn is_empty(&self) -> bool {
        self.allocated_ips.is_empty()
            && self.released_ips.is_empty()
            && self.allocated_node_ports.is_empty()
            && self.released_node_ports.is_empty()
    }
}

/// Every allocator of the cluster: one per Service CIDR and the NodePorts.
/// This is only the picking index; what is allocated is decided by the
/// allocation keys in storage (see [`super::ranges`]).
#[derive(Debug, Clone)]
pub struct ServiceAllocators {
    pub cluster_ips: Vec<ClusterIpAllocator>,
    pub node_ports: NodePortAllocator,
}

fn set_port_node_port(svc: &mut Value, index: usize, port: u16) {
    if let Some(Value::Array(ports)) = spec_mut(svc).get_mut("ports") {
        if let Some(p) = ports.get_mut(index).and_then(Value::as_object_mut) {
            p.insert("nodePort".into(), json!(port));
        }
    }
}

fn port_node_port(svc: &Value, index: usize) -> Option<u16> {
    ports(svc)
        .get(index)
        .and_then(|p| to_port(port_i64(p, "nodePort")))
}

impl ServiceAllocators {
    pub fn new(cfg: &ServiceConfig) -> Self {
        let mut cluster_ips: Vec<ClusterIpAllocator> = Vec::new();
        for c in &cfg.service_cidrs {
            if cluster_ips
                .iter()
                .all(|a| a.family() != IpFamily::of_net(c))
            {
                cluster_ips.push(ClusterIpAllocator::new(*c));
            }
        }
        ServiceAllocators {
            cluster_ips,
            node_ports: NodePortAllocator::new(cfg.node_port_range.clone()),
        }
    }

    pub fn ip_allocator(&self, family: IpFamily) -> Option<&ClusterIpAllocator> {
        self.cluster_ips.iter().find(|a| a.family() == family)
    }

    pub fn ip_allocator_mut(&mut self, family: IpFamily) -> Option<&mut ClusterIpAllocator> {
        self.cluster_ips.iter_mut().find(|a| a.family() == family)
    }

    pub(crate) fn allocator_for_ip_mut(&mut self, ip: &IpAddr) -> Option<&mut ClusterIpAllocator> {
        self.ip_allocator_mut(IpFamily::of(ip))
    }

    /// Allocates for a new Service and writes the values into it.
    pub fn allocate_create(&mut self, svc: &mut Value) -> Result<Reservation, ServiceError> {
        let p = plan(None, svc);
        self.execute(&p, svc)
    }

    /// Allocates for an update of `old` to `new` and writes the values into
    /// `new`; releases take effect when the write is stored.
    pub fn allocate_update(
        &mut self,
        new: &mut Value,
        old: &Value,
    ) -> Result<Reservation, ServiceError> {
        let p = plan(Some(old), new);
        self.execute(&p, new)
    }

    /// What deleting a Service releases.
    pub fn release_for_delete(&self, svc: &Value) -> Reservation {
        let h = holdings(svc);
        Reservation {
            released_ips: h.cluster_ips,
            released_node_ports: h.node_ports.into_iter().collect(),
            ..Default::default()
        }
    }

    /// Executes a plan; on error everything reserved so far is undone.
    /// Releases of values the Service still holds afterwards are dropped.
    pub fn execute(
        &mut self,
        plan: &ServicePlan,
        svc: &mut Value,
    ) -> Result<Reservation, ServiceError> {
        let mut r = Reservation::default();
        if let Err(e) = self.execute_inner(plan, svc, &mut r) {
            self.revert(&r);
            return Err(e);
        }
        let kept = kept_after_write(svc);
        r.released_ips
            .retain(|ip| !kept.cluster_ips.contains(ip) && !r.allocated_ips.contains(ip));
        let allocated_ports = r.allocated_node_ports.clone();
        r.released_node_ports
            .retain(|p| !kept.node_ports.contains(p) && !allocated_ports.contains(p));
        Ok(r)
    }

    fn execute_inner(
        &mut self,
        plan: &ServicePlan,
        svc: &mut Value,
        r: &mut Reservation,
    ) -> Result<(), ServiceError> {
        // ClusterIPs: pad clusterIPs with markers, then allocate.
        if !plan.ip_steps.is_empty() {
            let mut ips = cluster_ips(svc);
            for step in &plan.ip_steps {
                while ips.len() <= step.index {
                    ips.push(String::new());
                }
            }
            for step in &plan.ip_steps {
                let Some(alloc) = self.ip_allocator_mut(step.family) else {
                    return Err(ServiceError::Internal(format!(
                        "failed to allocate a serviceIP: {} is not configured on this cluster",
                        step.family.as_str()
                    )));
                };
                match &step.requested {
                    None => {
                        let ip = alloc.allocate_next().map_err(|e| {
                            ServiceError::Internal(format!("failed to allocate a serviceIP: {e}"))
                        })?;
                        r.allocated_ips.push(ip);
                        ips[step.index] = go_ip_string(&ip);
                    }
                    Some(raw) => {
                        let Some(ip) = parse_ip_sloppy(raw) else {
                            return Err(ServiceError::Internal(format!(
                                "failed to parse service IP {}",
                                crate::validation::field_error::go_quote(raw)
                            )));
                        };
                        if let Err(e) = alloc.allocate_specific(ip) {
                            return Err(ServiceError::Invalid(vec![FieldError::invalid(
                                "spec.clusterIPs",
                                json!(ips),
                                format!("failed to allocate IP {raw}: {e}"),
                            )]));
                        }
                        r.allocated_ips.push(ip);
                    }
                }
            }
            set_spec_strings(svc, "clusterIPs", &ips);
            if let Some(first) = ips.first() {
                set_spec_str(svc, "clusterIP", first);
            }
        }
        for raw in &plan.release_ips {
            if let Some(ip) = parse_ip_sloppy(raw) {
                r.released_ips.push(ip);
            }
        }

        // NodePorts: one allocation per number; the protocols of a plan step
        // only matter for its messages.
        for step in &plan.node_port_steps {
            match step {
                NodePortStep::Specific { index, port, .. } => {
                    if let Err(e) = self.node_ports.allocate_specific(*port) {
                        return Err(ServiceError::Invalid(vec![FieldError::invalid(
                            format!("spec.ports[{index}].nodePort"),
                            *port,
                            e.to_string(),
                        )]));
                    }
                    r.allocated_node_ports.push(*port);
                    set_port_node_port(svc, *index, *port);
                }
                NodePortStep::Next { index, .. } => {
                    let port = self.node_ports.allocate_next().map_err(|e| {
                        ServiceError::Internal(format!("failed to allocate a nodePort: {e}"))
                    })?;
                    r.allocated_node_ports.push(port);
                    set_port_node_port(svc, *index, port);
                }
                NodePortStep::Reuse { index, from, .. } => {
                    if let Some(port) = port_node_port(svc, *from) {
                        set_port_node_port(svc, *index, port);
                    }
                }
                NodePortStep::Keep { .. } => {}
                NodePortStep::Fail(msg) => return Err(ServiceError::Internal(msg.clone())),
            }
        }
        r.released_node_ports
            .extend(plan.release_node_ports.iter().copied());

        // Health check port.
        match plan.health_check {
            Some(HealthCheckStep::Allocate(Some(port))) => {
                if let Err(e) = self.node_ports.allocate_specific(port) {
                    return Err(ServiceError::Internal(format!(
                        "failed to allocate requested HealthCheck NodePort {port}: {e}"
                    )));
                }
                r.allocated_node_ports.push(port);
            }
            Some(HealthCheckStep::Allocate(None)) => {
                let port = self.node_ports.allocate_next().map_err(|e| {
                    ServiceError::Internal(format!(
                        "failed to allocate a HealthCheck NodePort 0: {e}"
                    ))
                })?;
                r.allocated_node_ports.push(port);
                spec_mut(svc).insert("healthCheckNodePort".into(), json!(port));
            }
            Some(HealthCheckStep::Release(port)) if !r.released_node_ports.contains(&port) => {
                r.released_node_ports.push(port);
            }
            Some(HealthCheckStep::Release(_)) | None => {}
        }
        Ok(())
    }

    /// Frees what a reservation reserved (its releases never happened): the
    /// write failed, or was refused after allocation.
    pub fn revert(&mut self, r: &Reservation) {
        for ip in &r.allocated_ips {
            if let Some(a) = self.allocator_for_ip_mut(ip) {
                a.release(ip);
            }
        }
        for port in &r.allocated_node_ports {
            self.node_ports.release(*port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ip_allocator_edges() {
        let mut a = ClusterIpAllocator::new("10.0.0.0/24".parse().unwrap());
        assert_eq!(a.size(), 254);
        assert_eq!(a.static_band_len(), 16);
        assert_eq!(a.nth(1), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(a.nth(10), Some("10.0.0.10".parse().unwrap()));
        assert_eq!(a.nth(255), None);
        assert_eq!(
            a.allocate_specific("10.0.0.0".parse().unwrap()).unwrap_err().to_string(),
            "the provided IP (10.0.0.0) is not in the valid range. The range of valid IPs is 10.0.0.0/24"
        );
        assert!(a.allocate_specific("10.0.0.255".parse().unwrap()).is_err());
        assert!(a.allocate_specific("10.0.1.1".parse().unwrap()).is_err());
        a.allocate_specific("10.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(
            a.allocate_specific("10.0.0.1".parse().unwrap())
                .unwrap_err()
                .to_string(),
            "provided IP is already allocated"
        );
        // Random picks come from the upper band until it is full.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen = BTreeSet::new();
        for _ in 0..(254 - 16) {
            let ip = a.allocate_next_with(&mut rng).unwrap();
            let IpAddr::V4(v4) = ip else { panic!() };
            assert!(v4.octets()[3] >= 17, "{ip}");
            assert!(seen.insert(ip));
        }
        for _ in 0..15 {
            let ip = a.allocate_next_with(&mut rng).unwrap();
            let IpAddr::V4(v4) = ip else { panic!() };
            assert!((2..=16).contains(&v4.octets()[3]), "{ip}");
        }
        assert_eq!(a.allocate_next().unwrap_err().to_string(), "range is full");
        assert!(a.release(&"10.0.0.77".parse().unwrap()));
        assert!(!a.release(&"10.0.0.77".parse().unwrap()));
        assert_eq!(
            a.allocate_next().unwrap(),
            "10.0.0.77".parse::<IpAddr>().unwrap()
        );

        let small = ClusterIpAllocator::new("10.0.0.0/30".parse().unwrap());
        assert_eq!(small.size(), 2);
        assert_eq!(small.static_band_len(), 0);
        let mut one = ClusterIpAllocator::new("10.0.0.0/32".parse().unwrap());
        assert_eq!(one.allocate_next().unwrap_err(), AllocError::Full);

        let mut v6 = ClusterIpAllocator::new("fd00::/108".parse().unwrap());
        assert_eq!(v6.size(), (1 << 20) - 1);
        assert_eq!(v6.nth(1), Some("fd00::1".parse().unwrap()));
        let ip = v6.allocate_next().unwrap();
        assert!(v6.is_allocated(&ip));
        let mut big = ClusterIpAllocator::new("fd00::/64".parse().unwrap());
        assert!(big.allocate_next().is_ok());
    }

    #[test]
    fn node_port_allocator() {
        let mut a = NodePortAllocator::new(30000..=32767);
        assert_eq!(a.static_band(), 30000..=30085);
        assert_eq!(a.range_string(), "30000-32767");
        assert_eq!(
            a.allocate_specific(80).unwrap_err().to_string(),
            "provided port is not in the valid range. The range of valid ports is 30000-32767"
        );
        a.allocate_specific(30000).unwrap();
        assert_eq!(
            a.allocate_specific(30000).unwrap_err().to_string(),
            "provided port is already allocated"
        );
        assert!(a.release(30000));
        assert!(!a.is_allocated(30000));
        assert!(!a.release(30000));
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..(2768 - 86) {
            let p = a.allocate_next_with(&mut rng).unwrap();
            assert!(p >= 30086);
        }
        let p = a.allocate_next_with(&mut rng).unwrap();
        assert!(p < 30086);
        let mut tiny = NodePortAllocator::new(30000..=30001);
        tiny.allocate_next().unwrap();
        tiny.allocate_next().unwrap();
        assert_eq!(
            tiny.allocate_next().unwrap_err().to_string(),
            "range is full"
        );
    }

    fn allocs() -> ServiceAllocators {
        ServiceAllocators::new(&ServiceConfig::default())
    }

    #[test]
    fn one_node_port_for_tcp_and_udp_of_one_service_port() {
        let mut a = allocs();
        let mut svc = json!({"metadata": {"name": "dns"}, "spec": {"type": "NodePort",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                      {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}});
        let r = a.allocate_create(&mut svc).unwrap();
        let n0 = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap() as u16;
        assert_eq!(svc["spec"]["ports"][1]["nodePort"], n0);
        assert_eq!(r.allocated_node_ports, vec![n0]);
        assert_eq!(a.node_ports.used(), 1);
        // Any other Service asking for that number, on any protocol, is refused.
        let mut other = json!({"metadata": {"name": "other"}, "spec": {"type": "NodePort",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "ports": [{"port": 53, "protocol": "SCTP", "nodePort": n0}]}});
        let e = a.allocate_create(&mut other).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "spec.ports[0].nodePort: Invalid value: {n0}: provided port is already allocated"
            )
        );
        // The failed create gave back the ClusterIP it had picked.
        assert_eq!(a.cluster_ips[0].used(), 1);
    }

    #[test]
    fn specific_ip_errors() {
        let mut a = allocs();
        let mut s1 = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.0.0.5",
            "clusterIPs": ["10.0.0.5"], "ipFamilies": ["IPv4"]}});
        a.allocate_create(&mut s1).unwrap();
        let mut s2 = s1.clone();
        let e = a.allocate_create(&mut s2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "spec.clusterIPs: Invalid value: [\"10.0.0.5\"]: failed to allocate IP 10.0.0.5: provided IP is already allocated"
        );
        let mut s3 = json!({"spec": {"type": "ClusterIP", "clusterIP": "10.9.0.5",
            "clusterIPs": ["10.9.0.5"], "ipFamilies": ["IPv4"]}});
        let e = a.allocate_create(&mut s3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "spec.clusterIPs: Invalid value: [\"10.9.0.5\"]: failed to allocate IP 10.9.0.5: the provided IP (10.9.0.5) is not in the valid range. The range of valid IPs is 10.0.0.0/24"
        );
        assert_eq!(a.cluster_ips[0].used(), 1);
    }

    #[test]
    fn plans() {
        // NodePort -> ClusterIP releases the node ports.
        let old = json!({"spec": {"type": "NodePort", "ipFamilies": ["IPv4"], "clusterIPs": ["10.0.0.3"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
        let new = json!({"spec": {"type": "ClusterIP", "ipFamilies": ["IPv4"], "clusterIPs": ["10.0.0.3"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
        let p = plan(Some(&old), &new);
        assert_eq!(p.release_node_ports, vec![30080]);
        assert!(p.ip_steps.is_empty());
        // allocateLoadBalancerNodePorts: false allocates none but keeps requested ones.
        let new = json!({"spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false,
            "ipFamilies": ["IPv4"],
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 81, "protocol": "TCP", "nodePort": 30081}]}});
        let p = plan(None, &new);
        assert_eq!(
            p.node_port_steps,
            vec![NodePortStep::Specific {
                index: 1,
                port: 30081,
                protocol: "TCP".into()
            }]
        );
        // LB Local gets a health check port; switching to Cluster releases it.
        let old = json!({"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 30100, "ipFamilies": ["IPv4"], "clusterIPs": ["10.0.0.4"],
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}});
        let mut new = old.clone();
        new["spec"]["externalTrafficPolicy"] = json!("Cluster");
        let p = plan(Some(&old), &new);
        assert_eq!(p.health_check, Some(HealthCheckStep::Release(30100)));
        assert!(p.release_node_ports.is_empty());
        // Upgrade to dual-stack allocates the secondary IP only.
        let old = json!({"spec": {"type": "ClusterIP", "ipFamilies": ["IPv4"], "clusterIPs": ["10.0.0.4"],
            "ipFamilyPolicy": "SingleStack"}});
        let new = json!({"spec": {"type": "ClusterIP", "ipFamilies": ["IPv4", "IPv6"], "clusterIPs": ["10.0.0.4"],
            "ipFamilyPolicy": "RequireDualStack"}});
        let p = plan(Some(&old), &new);
        assert_eq!(
            p.ip_steps,
            vec![IpStep {
                index: 1,
                family: IpFamily::IPv6,
                requested: None
            }]
        );
        // Duplicate (protocol, nodePort) on update is an internal error.
        let old = json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}});
        let new = json!({"spec": {"type": "NodePort", "ports": [
            {"port": 80, "protocol": "TCP", "nodePort": 30080},
            {"port": 81, "protocol": "TCP", "nodePort": 30080}]}});
        let p = plan(Some(&old), &new);
        assert_eq!(
            p.node_port_steps.last(),
            Some(&NodePortStep::Fail(
                "duplicate nodePort: {TCP 30080}".into()
            ))
        );
    }

    #[test]
    fn holdings_and_delete() {
        let a = allocs();
        let svc = json!({"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 30100, "clusterIP": "10.0.0.9", "clusterIPs": ["10.0.0.9"],
            "ports": [{"port": 53, "protocol": "UDP", "nodePort": 30053},
                      {"port": 53, "protocol": "TCP", "nodePort": 30053}]}});
        let h = holdings(&svc);
        assert_eq!(h.cluster_ips, vec!["10.0.0.9".parse::<IpAddr>().unwrap()]);
        assert_eq!(h.node_ports, BTreeSet::from([30053, 30100]));
        let r = a.release_for_delete(&svc);
        assert_eq!(r.released_node_ports, vec![30053, 30100]);
        assert_eq!(r.released_ips, h.cluster_ips);
    }

    #[test]
    fn dual_stack_upgrade_and_downgrade() {
        let cfg = ServiceConfig {
            service_cidrs: vec![
                "10.0.0.0/24".parse().unwrap(),
                "fd00::/108".parse().unwrap(),
            ],
            node_port_range: 30000..=32767,
        };
        let mut a = ServiceAllocators::new(&cfg);
        let old = json!({"spec": {"type": "ClusterIP", "ipFamilyPolicy": "SingleStack",
            "ipFamilies": ["IPv4"], "clusterIP": "10.0.0.4", "clusterIPs": ["10.0.0.4"]}});
        a.allocate_create(&mut old.clone()).unwrap();
        let mut up = old.clone();
        up["spec"]["ipFamilyPolicy"] = json!("PreferDualStack");
        up["spec"]["ipFamilies"] = json!(["IPv4", "IPv6"]);
        let r = a.allocate_update(&mut up, &old).unwrap();
        assert_eq!(r.allocated_ips.len(), 1);
        assert!(r.allocated_ips[0].is_ipv6());
        let v6 = go_ip_string(&r.allocated_ips[0]);
        assert_eq!(up["spec"]["clusterIPs"], json!(["10.0.0.4", v6]));
        assert_eq!(up["spec"]["clusterIP"], "10.0.0.4");
        // Back to one family: the secondary goes, the primary stays.
        let mut down = up.clone();
        down["spec"]["ipFamilyPolicy"] = json!("SingleStack");
        down["spec"]["ipFamilies"] = json!(["IPv4"]);
        down["spec"]["clusterIPs"] = json!(["10.0.0.4"]);
        let r = a.allocate_update(&mut down, &up).unwrap();
        assert_eq!(r.released_ips, vec![v6.parse::<IpAddr>().unwrap()]);
        assert!(r.allocated_ips.is_empty());
    }
}
