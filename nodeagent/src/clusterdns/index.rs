//! The in-memory index the DNS answers are computed from: Services and
//! EndpointSlices reduced to what the DNS specification needs, kept current
//! from watch events (see `watch.rs`), plus a reverse map for PTR queries.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

/// (namespace, name) of a Service.
pub type ServiceKey = (String, String);

/// What a Service publishes in DNS.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceKind {
    /// `spec.clusterIPs`: A/AAAA records for the Service name.
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: records per endpoint.
    Headless,
    /// `type: ExternalName`: a CNAME to `spec.externalName`.
    ExternalName(String),
}

/// A Service port, for SRV records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortEntry {
    pub name: String,
    /// Lower case: `tcp`, `udp`, `sctp`.
    pub protocol: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceEntry {
    pub kind: ServiceKind,
    pub ports: Vec<PortEntry>,
    pub publish_not_ready: bool,
}

/// One address of an EndpointSlice endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointEntry {
    pub ip: IpAddr,
    pub hostname: Option<String>,
    pub ready: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SliceEntry {
    pub endpoints: Vec<EndpointEntry>,
    pub ports: Vec<PortEntry>,
}

/// Everything the answers need, indexed by Service.
#[derive(Debug, Default)]
pub struct Index {
    services: HashMap<ServiceKey, ServiceEntry>,
    /// Service -> slice name -> slice.
    slices: HashMap<ServiceKey, BTreeMap<String, SliceEntry>>,
    /// Number of Services per namespace (a namespace with Services exists).
    namespaces: HashMap<String, usize>,
    /// Address -> names relative to the cluster domain (`svc.ns.svc`),
    /// sorted. Nearly every address has one name, so a sorted Vec rather
    /// than a set: at 10k Services the difference is megabytes.
    reverse: HashMap<IpAddr, Vec<Box<str>>>,
    serial: u32,
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<ServiceKey> {
    Some((meta.namespace.clone()?, meta.name.clone()?))
}

fn port_entry(
    name: Option<&String>,
    protocol: Option<&String>,
    port: Option<i32>,
) -> Option<PortEntry> {
    Some(PortEntry {
        name: name.cloned().unwrap_or_default(),
        protocol: protocol
            .map(|p| p.to_ascii_lowercase())
            .unwrap_or_else(|| "tcp".into()),
        port: u16::try_from(port?).ok()?,
    })
}

/// A Service as DNS sees it.
pub fn service_entry(svc: &Service) -> ServiceEntry {
    let spec = svc.spec.clone().unwrap_or_default();
    let kind = if spec.type_.as_deref() == Some("ExternalName") {
        ServiceKind::ExternalName(
            spec.external_name
                .unwrap_or_default()
                .trim_end_matches('.')
                .to_ascii_lowercase(),
        )
    } else if spec.cluster_ip.as_deref() == Some("None") {
        ServiceKind::Headless
    } else {
        let ips = spec
            .cluster_ips
            .clone()
            .filter(|v| !v.is_empty())
            .or_else(|| spec.cluster_ip.clone().map(|ip| vec![ip]))
            .unwrap_or_default();
        ServiceKind::ClusterIp(ips.iter().filter_map(|ip| ip.parse().ok()).collect())
    };
    let ports = spec
        .ports
        .unwrap_or_default()
        .iter()
        .filter_map(|p| port_entry(p.name.as_ref(), p.protocol.as_ref(), Some(p.port)))
        .collect();
    ServiceEntry {
        kind,
        ports,
        publish_not_ready: spec.publish_not_ready_addresses.unwrap_or(false),
    }
}

/// The Service an EndpointSlice belongs to (label `kubernetes.io/service-name`).
pub fn slice_service(slice: &EndpointSlice) -> Option<ServiceKey> {
    let ns = slice.metadata.namespace.clone()?;
    let svc = slice
        .metadata
        .labels
        .as_ref()?
        .get("kubernetes.io/service-name")?
        .clone();
    Some((ns, svc))
}

/// An EndpointSlice as DNS sees it (FQDN slices publish nothing).
pub fn slice_entry(slice: &EndpointSlice) -> SliceEntry {
    if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
        return SliceEntry::default();
    }
    let endpoints = slice
        .endpoints
        .iter()
        .flatten()
        .flat_map(|ep| {
            // Kubernetes: a nil `ready` condition means ready.
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            let hostname = ep.hostname.clone().filter(|h| !h.is_empty());
            ep.addresses.iter().filter_map(move |a| {
                Some(EndpointEntry {
                    ip: a.parse().ok()?,
                    hostname: hostname.clone(),
                    ready,
                })
            })
        })
        .collect();
    let ports = slice
        .ports
        .clone()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| port_entry(p.name.as_ref(), p.protocol.as_ref(), p.port))
        .collect();
    SliceEntry { endpoints, ports }
}

/// The DNS label of an endpoint: its hostname, else its address with dashes
/// (`10-244-0-5`, `fd00--5`), as CoreDNS names endpoints.
pub fn endpoint_label(ep: &EndpointEntry) -> String {
    ep.hostname.clone().unwrap_or_else(|| dashed(&ep.ip))
}

pub fn dashed(ip: &IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

impl Index {
    pub fn service(&self, ns: &str, name: &str) -> Option<&ServiceEntry> {
        self.services.get(&(ns.to_string(), name.to_string()))
    }

    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.namespaces.get(ns).is_some_and(|n| *n > 0)
    }

    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// The endpoints DNS publishes for a Service, with their slice's
    /// ports: ready ones (all with `publishNotReadyAddresses`), each address
    /// once.
    pub fn endpoints(&self, ns: &str, name: &str) -> Vec<(&EndpointEntry, &[PortEntry])> {
        let key = (ns.to_string(), name.to_string());
        let publish_all = self.services.get(&key).is_some_and(|s| s.publish_not_ready);
        let mut seen = BTreeSet::new();
        self.slices
            .get(&key)
            .into_iter()
            .flat_map(|m| m.values())
            .flat_map(|s| s.endpoints.iter().map(move |e| (e, s.ports.as_slice())))
            .filter(|(e, _)| publish_all || e.ready)
            .filter(|(e, _)| seen.insert(e.ip))
            .collect()
    }

    /// Changes with every update: the SOA serial.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Names (relative to the cluster domain) with a PTR record for `ip`.
    pub fn reverse(&self, ip: &IpAddr) -> Vec<String> {
        self.reverse
            .get(ip)
            .map(|names| names.iter().map(|n| n.to_string()).collect())
            .unwrap_or_default()
    }

    pub fn apply_service(&mut self, svc: &Service) {
        let Some(key) = key_of(&svc.metadata) else {
            return;
        };
        let before = self.reverse_names(&key);
        if self
            .services
            .insert(key.clone(), service_entry(svc))
            .is_none()
        {
            *self.namespaces.entry(key.0.clone()).or_default() += 1;
        }
        self.refresh_reverse(&key, before);
    }

    pub fn delete_service(&mut self, svc: &Service) {
        if let Some(key) = key_of(&svc.metadata) {
            self.delete_service_key(&key);
        }
    }

    fn delete_service_key(&mut self, key: &ServiceKey) {
        let before = self.reverse_names(key);
        if self.services.remove(key).is_some() {
            if let Some(n) = self.namespaces.get_mut(&key.0) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.namespaces.remove(&key.0);
                }
            }
        }
        self.refresh_reverse(key, before);
    }

    pub fn apply_slice(&mut self, slice: &EndpointSlice) {
        let (Some(key), Some(name)) = (slice_service(slice), slice.metadata.name.clone()) else {
            return;
        };
        let before = self.reverse_names(&key);
        self.slices
            .entry(key.clone())
            .or_default()
            .insert(name, slice_entry(slice));
        self.refresh_reverse(&key, before);
    }

    pub fn delete_slice(&mut self, slice: &EndpointSlice) {
        let (Some(key), Some(name)) = (slice_service(slice), slice.metadata.name.as_ref()) else {
            return;
        };
        let before = self.reverse_names(&key);
        if let Some(m) = self.slices.get_mut(&key) {
            m.remove(name);
            if m.is_empty() {
                self.slices.remove(&key);
            }
        }
        self.refresh_reverse(&key, before);
    }

    /// After a (re-)list: drops the Services the list did not have.
    pub fn retain_services(&mut self, listed: &HashSet<ServiceKey>) {
        let gone: Vec<ServiceKey> = self
            .services
            .keys()
            .filter(|k| !listed.contains(*k))
            .cloned()
            .collect();
        for (ns, name) in gone {
            self.delete_service_key(&(ns, name));
        }
    }

    /// After a (re-)list: drops the EndpointSlices (namespace, slice name)
    /// the list did not have.
    pub fn retain_slices(&mut self, listed: &HashSet<(String, String)>) {
        let touched: Vec<ServiceKey> = self
            .slices
            .iter()
            .filter(|(key, slices)| {
                slices
                    .keys()
                    .any(|name| !listed.contains(&(key.0.clone(), name.clone())))
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in touched {
            let before = self.reverse_names(&key);
            if let Some(slices) = self.slices.get_mut(&key) {
                slices.retain(|name, _| listed.contains(&(key.0.clone(), name.clone())));
                if slices.is_empty() {
                    self.slices.remove(&key);
                }
            }
            self.refresh_reverse(&key, before);
        }
    }

    /// PTR names of one Service: its ClusterIPs name the Service, headless
    /// endpoints name `<endpoint>.<svc>.<ns>.svc`.
    fn reverse_names(&self, key: &ServiceKey) -> Vec<(IpAddr, String)> {
        let Some(svc) = self.services.get(key) else {
            return Vec::new();
        };
        let (ns, name) = key;
        match &svc.kind {
            ServiceKind::ClusterIp(ips) => ips
                .iter()
                .map(|ip| (*ip, format!("{name}.{ns}.svc")))
                .collect(),
            ServiceKind::Headless => self
                .endpoints(ns, name)
                .iter()
                .map(|(e, _)| (e.ip, format!("{}.{name}.{ns}.svc", endpoint_label(e))))
                .collect(),
            ServiceKind::ExternalName(_) => Vec::new(),
        }
    }

    /// Replaces the PTR names `before` (what the Service published before
    /// the change) with what it publishes now. Taking the old names as an
    /// argument, computed before the change, saves keeping a per-Service
    /// copy of them.
    fn refresh_reverse(&mut self, key: &ServiceKey, before: Vec<(IpAddr, String)>) {
        self.serial = self.serial.wrapping_add(1);
        for (ip, n) in before {
            if let Some(names) = self.reverse.get_mut(&ip) {
                names.retain(|m| **m != *n);
                if names.is_empty() {
                    self.reverse.remove(&ip);
                }
            }
        }
        for (ip, n) in self.reverse_names(key) {
            let names = self.reverse.entry(ip).or_default();
            if let Err(at) = names.binary_search_by(|m| (**m).cmp(n.as_str())) {
                names.insert(at, n.into_boxed_str());
            }
        }
    }
}
