//! What the proxy must forward, as a pure function of a Service and its
//! EndpointSlices (kube-proxy's service and endpoints change trackers folded
//! into one snapshot per Service; `syncer.rs` decides which Services to
//! recompute). Both the userspace mode and a future kernel mode apply these
//! rules; they are tested here on their own.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    fn parse(s: Option<&str>) -> Protocol {
        match s {
            Some("UDP") => Protocol::Udp,
            Some("SCTP") => Protocol::Sctp,
            _ => Protocol::Tcp,
        }
    }
}

/// How traffic reached a frontend: it decides which traffic policy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontendKind {
    ClusterIp,
    NodePort,
    ExternalIp,
    LoadBalancer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub addr: SocketAddr,
    pub node: Option<String>,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
}

/// One listening address and where its connections go.
#[derive(Debug, Clone, PartialEq)]
pub struct Frontend {
    pub addr: SocketAddr,
    pub protocol: Protocol,
    pub kind: FrontendKind,
    /// `namespace/name:port-name`, for logs and metrics.
    pub service_port: String,
    /// The backends this frontend may use, after traffic policy.
    pub backends: Vec<SocketAddr>,
    /// ClientIP session affinity timeout.
    pub affinity: Option<Duration>,
    /// Allowed client ranges (LoadBalancer source ranges); empty = all.
    pub source_ranges: Vec<ipnet::IpNet>,
}

/// Health check frontends for `externalTrafficPolicy: Local` services.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub port: u16,
    pub service: String,
    pub local_endpoints: usize,
}

/// The node the rules are computed for.
#[derive(Debug, Clone)]
pub struct NodeView {
    pub name: String,
    /// Addresses NodePorts listen on (`--nodeport-addresses`, default the node IP).
    pub nodeport_addresses: Vec<IpAddr>,
}

/// A Service's identity: (namespace, name).
pub type ServiceKey = (String, String);

/// One Service's share of the rules; the proxy keeps these per Service so
/// that a change recomputes only the Services it touched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceRules {
    pub frontends: Vec<Frontend>,
    pub health_check: Option<HealthCheck>,
}

impl Frontend {
    /// What identifies a listener.
    pub fn key(&self) -> (SocketAddr, Protocol) {
        (self.addr, self.protocol)
    }
}

pub fn service_key(svc: &Service) -> ServiceKey {
    (
        svc.metadata.namespace.clone().unwrap_or_default(),
        svc.metadata.name.clone().unwrap_or_default(),
    )
}

/// The Service a slice belongs to, from its `kubernetes.io/service-name` label.
pub fn slice_service(slice: &EndpointSlice) -> Option<ServiceKey> {
    let name = slice
        .metadata
        .labels
        .as_ref()?
        .get("kubernetes.io/service-name")?;
    Some((
        slice.metadata.namespace.clone().unwrap_or_default(),
        name.clone(),
    ))
}

/// The rules of one Service, given the EndpointSlices that belong to it.
pub fn for_service(svc: &Service, slices: &[&EndpointSlice], node: &NodeView) -> ServiceRules {
    let mut rules = ServiceRules::default();
    let Some(spec) = &svc.spec else {
        return rules;
    };
    let (ns, name) = service_key(svc);
    let type_ = spec.type_.as_deref().unwrap_or("ClusterIP");
    let cluster_ips: Vec<IpAddr> = spec
        .cluster_ips
        .clone()
        .or_else(|| spec.cluster_ip.clone().map(|ip| vec![ip]))
        .unwrap_or_default()
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    // Headless and ExternalName services get no frontends.
    if type_ == "ExternalName" || cluster_ips.is_empty() {
        return rules;
    }
    let affinity = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        let secs = spec
            .session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .unwrap_or(10800);
        Duration::from_secs(secs.max(0) as u64)
    });
    let internal_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let external_local = spec.external_traffic_policy.as_deref() == Some("Local");
    let endpoints = slice_endpoints(slices);
    let source_ranges: Vec<ipnet::IpNet> = spec
        .load_balancer_source_ranges
        .clone()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let lb_ips: Vec<IpAddr> = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|ing| {
            ing.iter()
                .filter_map(|i| i.ip.as_deref()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let external_ips: Vec<IpAddr> = spec
        .external_ips
        .clone()
        .unwrap_or_default()
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    for port in spec.ports.clone().unwrap_or_default() {
        let protocol = Protocol::parse(port.protocol.as_deref());
        let port_name = port.name.clone().unwrap_or_default();
        let service_port = format!("{ns}/{name}:{port_name}");
        let Ok(svc_port) = u16::try_from(port.port) else {
            continue;
        };
        let candidates: Vec<Backend> = endpoints
            .iter()
            .filter_map(|e| e.for_port(&port_name, protocol))
            .collect();
        let cluster_backends = select(&candidates, internal_local.then_some(node.name.as_str()));
        let external_backends = select(&candidates, external_local.then_some(node.name.as_str()));
        let mut push = |addr: SocketAddr, kind: FrontendKind, backends: &Vec<SocketAddr>| {
            let ranges = if kind == FrontendKind::LoadBalancer {
                source_ranges.clone()
            } else {
                Vec::new()
            };
            rules.frontends.push(Frontend {
                addr,
                protocol,
                kind,
                service_port: service_port.clone(),
                backends: backends.clone(),
                affinity,
                source_ranges: ranges,
            });
        };
        for ip in &cluster_ips {
            push(
                SocketAddr::new(*ip, svc_port),
                FrontendKind::ClusterIp,
                &cluster_backends,
            );
        }
        let has_node_port = matches!(type_, "NodePort" | "LoadBalancer");
        if let (true, Some(np)) = (
            has_node_port,
            port.node_port.and_then(|p| u16::try_from(p).ok()),
        ) {
            for ip in &node.nodeport_addresses {
                push(
                    SocketAddr::new(*ip, np),
                    FrontendKind::NodePort,
                    &external_backends,
                );
            }
        }
        for ip in &external_ips {
            push(
                SocketAddr::new(*ip, svc_port),
                FrontendKind::ExternalIp,
                &external_backends,
            );
        }
        if type_ == "LoadBalancer" {
            for ip in &lb_ips {
                push(
                    SocketAddr::new(*ip, svc_port),
                    FrontendKind::LoadBalancer,
                    &external_backends,
                );
            }
        }
    }
    if let (true, Some(hc)) = (
        external_local,
        spec.health_check_node_port
            .and_then(|p| u16::try_from(p).ok()),
    ) {
        let local = endpoints
            .iter()
            .filter(|e| e.node.as_deref() == Some(node.name.as_str()) && e.ready)
            .count();
        rules.health_check = Some(HealthCheck {
            port: hc,
            service: format!("{ns}/{name}"),
            local_endpoints: local,
        });
    }
    rules
}

/// kube-proxy's choice: ready endpoints; if there are none, serving-and-
/// terminating ones; optionally only those on `local_node`.
fn select(candidates: &[Backend], local_node: Option<&str>) -> Vec<SocketAddr> {
    let eligible: Vec<&Backend> = candidates
        .iter()
        .filter(|b| local_node.is_none_or(|n| b.node.as_deref() == Some(n)))
        .collect();
    let ready: Vec<SocketAddr> = eligible
        .iter()
        .filter(|b| b.ready)
        .map(|b| b.addr)
        .collect();
    if !ready.is_empty() {
        return dedup(ready);
    }
    dedup(
        eligible
            .iter()
            .filter(|b| b.serving && b.terminating)
            .map(|b| b.addr)
            .collect(),
    )
}

fn dedup(mut v: Vec<SocketAddr>) -> Vec<SocketAddr> {
    v.sort();
    v.dedup();
    v
}

/// One endpoint address with the ports its slice offers.
#[derive(Debug, Clone)]
struct SliceEndpoint {
    ip: IpAddr,
    node: Option<String>,
    ready: bool,
    serving: bool,
    terminating: bool,
    ports: Vec<(String, Protocol, u16)>,
}

impl SliceEndpoint {
    fn for_port(&self, name: &str, protocol: Protocol) -> Option<Backend> {
        let (_, _, port) = self
            .ports
            .iter()
            .find(|(n, p, _)| n == name && *p == protocol)?;
        Some(Backend {
            addr: SocketAddr::new(self.ip, *port),
            node: self.node.clone(),
            ready: self.ready,
            serving: self.serving,
            terminating: self.terminating,
        })
    }
}

/// The endpoints of a Service's slices, each with the ports its slice offers.
fn slice_endpoints(slices: &[&EndpointSlice]) -> Vec<SliceEndpoint> {
    let mut out = Vec::new();
    for slice in slices {
        let ports: Vec<(String, Protocol, u16)> = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                let port = u16::try_from(p.port?).ok()?;
                Some((
                    p.name.clone().unwrap_or_default(),
                    Protocol::parse(p.protocol.as_deref()),
                    port,
                ))
            })
            .collect();
        for ep in slice.endpoints.iter().flatten() {
            let cond = ep.conditions.as_ref();
            // Unset ready means ready; unset serving follows ready (discovery/v1 semantics).
            let ready = cond.and_then(|c| c.ready).unwrap_or(true);
            let serving = cond.and_then(|c| c.serving).unwrap_or(ready);
            let terminating = cond.and_then(|c| c.terminating).unwrap_or(false);
            for addr in &ep.addresses {
                let Ok(ip) = addr.parse() else { continue };
                out.push(SliceEndpoint {
                    ip,
                    node: ep.node_name.clone(),
                    ready: ready && !terminating,
                    serving,
                    terminating,
                    ports: ports.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Debug, Default)]
    struct ProxyRules {
        frontends: Vec<Frontend>,
        health_checks: Vec<HealthCheck>,
    }

    /// The rules of a whole cluster: [`for_service`] over every Service,
    /// with each slice given to the Service its label names.
    fn compute(services: &[Service], slices: &[EndpointSlice], node: &NodeView) -> ProxyRules {
        let mut by_service: BTreeMap<ServiceKey, Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in slices {
            if let Some(key) = slice_service(slice) {
                by_service.entry(key).or_default().push(slice);
            }
        }
        let mut rules = ProxyRules::default();
        for svc in services {
            let own = by_service
                .get(&service_key(svc))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let ServiceRules {
                frontends,
                health_check,
            } = for_service(svc, own, node);
            rules.frontends.extend(frontends);
            rules.health_checks.extend(health_check);
        }
        rules.frontends.sort_by_key(Frontend::key);
        rules
    }

    fn svc(v: serde_json::Value) -> Service {
        serde_json::from_value(v).unwrap()
    }

    fn slice(v: serde_json::Value) -> EndpointSlice {
        serde_json::from_value(v).unwrap()
    }

    fn node() -> NodeView {
        NodeView {
            name: "n1".into(),
            nodeport_addresses: vec!["127.0.0.2".parse().unwrap()],
        }
    }

    fn web_slice(endpoints: serde_json::Value) -> EndpointSlice {
        slice(json!({
            "metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": endpoints,
        }))
    }

    #[test]
    fn cluster_ip_and_node_port_frontends_use_ready_backends() {
        let s = svc(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "clusterIP": "127.96.0.20", "clusterIPs": ["127.96.0.20"],
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}]}
        }));
        let sl = web_slice(json!([
            {"addresses": ["127.244.0.2"], "conditions": {"ready": true}, "nodeName": "n1"},
            {"addresses": ["127.244.0.3"], "conditions": {"ready": false, "serving": false}, "nodeName": "n1"}
        ]));
        let rules = compute(&[s], &[sl], &node());
        assert_eq!(rules.frontends.len(), 2);
        let cip = rules
            .frontends
            .iter()
            .find(|f| f.kind == FrontendKind::ClusterIp)
            .unwrap();
        assert_eq!(cip.addr, "127.96.0.20:80".parse().unwrap());
        assert_eq!(cip.backends, vec!["127.244.0.2:8080".parse().unwrap()]);
        let np = rules
            .frontends
            .iter()
            .find(|f| f.kind == FrontendKind::NodePort)
            .unwrap();
        assert_eq!(np.addr, "127.0.0.2:30080".parse().unwrap());
    }

    #[test]
    fn falls_back_to_serving_terminating_endpoints() {
        let s = svc(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "127.96.0.20", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
        }));
        let sl = web_slice(json!([
            {"addresses": ["127.244.0.4"], "conditions": {"ready": false, "serving": true, "terminating": true}}
        ]));
        let rules = compute(&[s], &[sl], &node());
        assert_eq!(
            rules.frontends[0].backends,
            vec!["127.244.0.4:8080".parse().unwrap()]
        );
    }

    #[test]
    fn headless_and_external_name_get_nothing() {
        let headless = svc(json!({"metadata": {"name": "h", "namespace": "default"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}));
        let ext = svc(json!({"metadata": {"name": "e", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "example.com"}}));
        assert!(compute(&[headless, ext], &[] as &[EndpointSlice], &node())
            .frontends
            .is_empty());
    }

    #[test]
    fn external_traffic_policy_local_keeps_only_local_backends_and_health_checks() {
        let s = svc(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "clusterIP": "127.96.0.20", "externalTrafficPolicy": "Local",
                     "healthCheckNodePort": 32000,
                     "ports": [{"name": "http", "port": 80, "nodePort": 30080, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "127.240.0.1"}]}}
        }));
        let sl = web_slice(json!([
            {"addresses": ["127.244.0.2"], "conditions": {"ready": true}, "nodeName": "n1"},
            {"addresses": ["127.244.1.2"], "conditions": {"ready": true}, "nodeName": "n2"}
        ]));
        let rules = compute(&[s], &[sl], &node());
        let cip = rules
            .frontends
            .iter()
            .find(|f| f.kind == FrontendKind::ClusterIp)
            .unwrap();
        assert_eq!(cip.backends.len(), 2, "cluster traffic uses every endpoint");
        let lb = rules
            .frontends
            .iter()
            .find(|f| f.kind == FrontendKind::LoadBalancer)
            .unwrap();
        assert_eq!(lb.backends, vec!["127.244.0.2:8080".parse().unwrap()]);
        assert_eq!(
            rules.health_checks,
            vec![HealthCheck {
                port: 32000,
                service: "default/web".into(),
                local_endpoints: 1
            }]
        );
    }

    #[test]
    fn client_ip_affinity_timeout() {
        let s = svc(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "127.96.0.20", "sessionAffinity": "ClientIP",
                     "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                     "ports": [{"name": "http", "port": 80}]}
        }));
        let rules = compute(&[s], &[] as &[EndpointSlice], &node());
        assert_eq!(rules.frontends[0].affinity, Some(Duration::from_secs(60)));
        assert!(rules.frontends[0].backends.is_empty());
    }
}
