//! What a Service's core/v1 Endpoints object should contain: the decisions of
//! kube-controller-manager's endpoints controller (`syncService`) and of
//! `pkg/api/v1/endpoints` (`RepackSubsets`), as pure functions.
//!
//! Why this shape: every pod contributes one single-address subset per
//! resolvable service port; repacking then merges addresses that offer the
//! same set of ports, so a pod lacking a named port ends up in a different
//! subset (or none for that port) — the same grouping clients see on a real
//! cluster.

use crate::util::pod;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};

/// Label an Endpoints object gets when its Service has no cluster IP.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Annotation set when addresses were dropped to stay under `MAX_CAPACITY`.
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";
/// Endpoints objects carry at most this many addresses.
pub const MAX_CAPACITY: usize = 1000;

fn protocol(p: Option<&String>) -> &str {
    p.map(String::as_str).unwrap_or("TCP")
}

/// `FindPort`: the container port a service port reaches on this pod — the
/// number itself, or the named port of a container (or of a sidecar init
/// container) with the same protocol. None: the pod does not offer it.
pub fn find_port(pod: &Pod, sp: &ServicePort) -> Option<i32> {
    match &sp.target_port {
        None => Some(sp.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            // A numeric string is a number (the API normally sends it as int).
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let spec = pod.spec.as_ref()?;
            let want_proto = protocol(sp.protocol.as_ref());
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name) && protocol(p.protocol.as_ref()) == want_proto
                })
                .map(|p| p.container_port)
        }
    }
}

/// Whether the Service has a usable cluster IP (not headless).
pub fn is_service_ip_set(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty() && ip != "None")
}

/// `ShouldSetHostname`: the pod asked for a hostname within this Service's subdomain.
pub fn should_set_hostname(pod: &Pod, svc: &Service) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    spec.hostname.as_deref().is_some_and(|h| !h.is_empty())
        && spec.subdomain.as_deref() == svc.metadata.name.as_deref()
        && pod.metadata.namespace == svc.metadata.namespace
}

/// The address of `pod` for this Service's primary IP family.
fn pod_address(svc: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let ips = pod::ips(pod);
    let spec = svc.spec.as_ref();
    let want_v6 = match spec
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first())
    {
        Some(f) => Some(f == "IPv6"),
        None if is_service_ip_set(svc) => spec
            .and_then(|s| s.cluster_ip.as_deref())
            .map(|ip| ip.contains(':')),
        // Headless without families: the pod's first IP.
        None => None,
    };
    let ip = match want_v6 {
        Some(v6) => ips.into_iter().find(|ip| ip.contains(':') == v6)?,
        None => ips.into_iter().next()?,
    };
    Some(EndpointAddress {
        ip,
        hostname: None,
        node_name: pod::node_name(pod).map(str::to_string),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
    })
}

/// One subset per (pod, port) before repacking, as `addEndpointSubset` builds them.
pub fn per_pod_subsets(svc: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let spec = svc.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let mut out = Vec::new();
    for pod in pods {
        if !pod::should_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(mut addr) = pod_address(svc, pod) else {
            continue;
        };
        if should_set_hostname(pod, svc) {
            addr.hostname = pod.spec.as_ref().and_then(|s| s.hostname.clone());
        }
        let ready = publish_not_ready || pod::is_ready(pod);
        let subset = |ports: Option<Vec<EndpointPort>>| {
            if ready {
                EndpointSubset {
                    addresses: Some(vec![addr.clone()]),
                    not_ready_addresses: None,
                    ports,
                }
            } else {
                EndpointSubset {
                    addresses: None,
                    not_ready_addresses: Some(vec![addr.clone()]),
                    ports,
                }
            }
        };
        let ports = spec.ports.clone().unwrap_or_default();
        if ports.is_empty() {
            // Headless services may have no ports.
            if spec.cluster_ip.as_deref() == Some("None") {
                out.push(subset(None));
            }
            continue;
        }
        for sp in &ports {
            let Some(num) = find_port(pod, sp) else {
                continue;
            };
            out.push(subset(Some(vec![EndpointPort {
                name: sp.name.clone().filter(|n| !n.is_empty()),
                port: num,
                protocol: Some(protocol(sp.protocol.as_ref()).to_string()),
                app_protocol: sp.app_protocol.clone(),
            }])));
        }
    }
    out
}

type AddrKey = (String, String); // (ip, target uid)
type PortKey = (String, i32, String, String); // (name, port, protocol, appProtocol); port -1: no ports

fn addr_key(a: &EndpointAddress) -> AddrKey {
    (
        a.ip.clone(),
        a.target_ref
            .as_ref()
            .and_then(|r| r.uid.clone())
            .unwrap_or_default(),
    )
}

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.name.clone().unwrap_or_default(),
        p.port,
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone().unwrap_or_default(),
    )
}

/// `RepackSubsets`: group addresses by the exact set of ports they offer
/// (an address not ready on any port is not ready for that group), then sort.
pub fn repack(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let mut all_addrs: BTreeMap<AddrKey, EndpointAddress> = BTreeMap::new();
    let mut ports: BTreeMap<PortKey, EndpointPort> = BTreeMap::new();
    let mut port_to_addrs: BTreeMap<PortKey, BTreeMap<AddrKey, bool>> = BTreeMap::new();
    for ss in subsets {
        let keys: Vec<PortKey> = match ss.ports.as_deref() {
            None | Some([]) => vec![(String::new(), -1, String::new(), String::new())],
            Some(ps) => ps
                .iter()
                .map(|p| {
                    let k = port_key(p);
                    ports.entry(k.clone()).or_insert_with(|| p.clone());
                    k
                })
                .collect(),
        };
        let addrs = ss
            .addresses
            .iter()
            .flatten()
            .map(|a| (a, true))
            .chain(ss.not_ready_addresses.iter().flatten().map(|a| (a, false)));
        for (a, ready) in addrs {
            let ak = addr_key(a);
            all_addrs.entry(ak.clone()).or_insert_with(|| a.clone());
            for pk in &keys {
                let set = port_to_addrs.entry(pk.clone()).or_default();
                // Not ready always trumps ready.
                let e = set.entry(ak.clone()).or_insert(ready);
                if *e {
                    *e = ready;
                }
            }
        }
    }
    // Same address set (with readiness) -> same subset.
    let mut groups: BTreeMap<Vec<(AddrKey, bool)>, Vec<PortKey>> = BTreeMap::new();
    for (pk, addrs) in port_to_addrs {
        let set: Vec<(AddrKey, bool)> = addrs.into_iter().collect();
        groups.entry(set).or_default().push(pk);
    }
    let mut out: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(set, pks)| {
            let mut ready = Vec::new();
            let mut not_ready = Vec::new();
            for (ak, r) in set {
                if let Some(a) = all_addrs.get(&ak) {
                    if r {
                        ready.push(a.clone());
                    } else {
                        not_ready.push(a.clone());
                    }
                }
            }
            let ps: Vec<EndpointPort> = pks
                .iter()
                .filter(|k| k.1 > 0)
                .filter_map(|k| ports.get(k).cloned())
                .collect();
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ps.is_empty()).then_some(ps),
            }
        })
        .collect();
    sort_subsets(&mut out);
    out
}

/// Deterministic order (kube-controller-manager sorts by hash; any stable
/// order serves the same purpose: equal content, equal bytes).
pub fn sort_subsets(subsets: &mut [EndpointSubset]) {
    for ss in subsets.iter_mut() {
        if let Some(a) = ss.addresses.as_mut() {
            a.sort_by_key(addr_key);
        }
        if let Some(a) = ss.not_ready_addresses.as_mut() {
            a.sort_by_key(addr_key);
        }
        if let Some(p) = ss.ports.as_mut() {
            p.sort_by_key(port_key);
        }
    }
    subsets.sort_by_cached_key(|ss| serde_json::to_string(ss).unwrap_or_default());
}

fn count(subsets: &[EndpointSubset]) -> (usize, usize) {
    subsets.iter().fold((0, 0), |(r, n), ss| {
        (
            r + ss.addresses.as_ref().map_or(0, Vec::len),
            n + ss.not_ready_addresses.as_ref().map_or(0, Vec::len),
        )
    })
}

/// `truncateEndpoints`: keep at most `MAX_CAPACITY` addresses, not-ready ones
/// dropped first, each subset keeping its proportional share. True if truncated.
pub fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let (ready, not_ready) = count(subsets);
    if ready + not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = ready > MAX_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_CAPACITY, ready)
    } else {
        (MAX_CAPACITY - ready, not_ready)
    };
    let mut can_add = max;
    for ss in subsets.iter_mut() {
        let n = if truncate_ready {
            ss.addresses.as_ref().map_or(0, Vec::len)
        } else {
            ss.not_ready_addresses.as_ref().map_or(0, Vec::len)
        };
        let share = ((n as f64 / total as f64) * max as f64).ceil() as usize;
        let keep = share.min(can_add);
        if truncate_ready {
            if let Some(a) = ss.addresses.as_mut() {
                a.truncate(keep);
                can_add -= a.len();
            }
            ss.not_ready_addresses = None;
        } else if let Some(a) = ss.not_ready_addresses.as_mut() {
            a.truncate(keep);
            can_add -= a.len();
        }
    }
    true
}

/// What to do with the Endpoints object.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Unchanged,
    Create(Endpoints),
    Update(Endpoints),
}

fn normalized(subsets: Option<&Vec<EndpointSubset>>) -> Vec<EndpointSubset> {
    let mut v: Vec<EndpointSubset> = subsets
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut ss| {
            for a in ss
                .addresses
                .iter_mut()
                .flatten()
                .chain(ss.not_ready_addresses.iter_mut().flatten())
            {
                if let Some(r) = a.target_ref.as_mut() {
                    r.resource_version = None;
                }
            }
            if ss.addresses.as_ref().is_some_and(Vec::is_empty) {
                ss.addresses = None;
            }
            if ss.not_ready_addresses.as_ref().is_some_and(Vec::is_empty) {
                ss.not_ready_addresses = None;
            }
            if ss.ports.as_ref().is_some_and(Vec::is_empty) {
                ss.ports = None;
            }
            ss
        })
        .collect();
    sort_subsets(&mut v);
    v
}

/// `syncService` after the pods are known: the Endpoints to write, if any.
/// `trigger` is this sync's last-change trigger time.
pub fn decide(
    svc: &Service,
    current: Option<&Endpoints>,
    pods: &[&Pod],
    trigger: Option<Timestamp>,
) -> Decision {
    let subsets = repack(&per_pod_subsets(svc, pods));
    let svc_labels = svc.metadata.labels.clone().unwrap_or_default();
    if let Some(cur) = current {
        let mut cur_labels = cur.metadata.labels.clone().unwrap_or_default();
        cur_labels.remove(HEADLESS_LABEL);
        let annotations = cur.metadata.annotations.clone().unwrap_or_default();
        let (r, n) = count(cur.subsets.as_deref().unwrap_or(&[]));
        let capacity_ok =
            r + n <= MAX_CAPACITY && !annotations.contains_key(OVER_CAPACITY_ANNOTATION);
        if normalized(cur.subsets.as_ref()) == normalized(Some(&subsets))
            && cur_labels == svc_labels
            && capacity_ok
        {
            return Decision::Unchanged;
        }
    }
    let mut ep = current.cloned().unwrap_or_else(|| Endpoints {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: svc.metadata.name.clone(),
            namespace: svc.metadata.namespace.clone(),
            ..Default::default()
        },
        subsets: None,
    });
    let mut subsets = subsets;
    let mut annotations = ep.metadata.annotations.clone().unwrap_or_default();
    match trigger {
        Some(t) => {
            annotations.insert(
                crate::trigger_time::ANNOTATION.into(),
                crate::util::rfc3339_nano(t),
            );
        }
        None => {
            annotations.remove(crate::trigger_time::ANNOTATION);
        }
    }
    if truncate(&mut subsets) {
        annotations.insert(OVER_CAPACITY_ANNOTATION.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY_ANNOTATION);
    }
    let mut labels = svc_labels;
    if is_service_ip_set(svc) {
        labels.remove(HEADLESS_LABEL);
    } else {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    ep.metadata.labels = Some(labels);
    ep.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    ep.subsets = Some(subsets);
    if current.is_some() {
        Decision::Update(ep)
    } else {
        Decision::Create(ep)
    }
}

/// Names of all address IPs, ready first (for tests and logs).
pub fn addresses(ep: &Endpoints) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut ready = BTreeSet::new();
    let mut not_ready = BTreeSet::new();
    for ss in ep.subsets.iter().flatten() {
        ready.extend(ss.addresses.iter().flatten().map(|a| a.ip.clone()));
        not_ready.extend(
            ss.not_ready_addresses
                .iter()
                .flatten()
                .map(|a| a.ip.clone()),
        );
    }
    (ready, not_ready)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "default",
            "labels": {"team": "a"}, "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec}))
        .unwrap()
    }

    fn pod(name: &str, ip: &str, ready: bool, extra: serde_json::Value) -> Pod {
        let mut p = json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "labels": {"app": "web"}},
            "spec": {"nodeName": "node1", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        });
        merge(&mut p, extra);
        serde_json::from_value(p).unwrap()
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn created(d: Decision) -> Endpoints {
        match d {
            Decision::Create(e) | Decision::Update(e) => e,
            Decision::Unchanged => panic!("expected a write"),
        }
    }

    #[test]
    fn ready_and_not_ready_in_one_subset() {
        let s = svc(json!({"clusterIP": "10.0.0.1", "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}));
        let a = pod("a", "10.1.0.1", true, json!({}));
        let b = pod("b", "10.1.0.2", false, json!({}));
        let c = pod("c", "10.1.0.3", true, json!({}));
        let ep = created(decide(&s, None, &[&a, &b, &c], None));
        let subsets = ep.subsets.clone().unwrap();
        assert_eq!(subsets.len(), 1);
        let ss = &subsets[0];
        let ready: Vec<_> = ss
            .addresses
            .iter()
            .flatten()
            .map(|a| a.ip.as_str())
            .collect();
        assert_eq!(ready, ["10.1.0.1", "10.1.0.3"]);
        let nr = ss.not_ready_addresses.as_ref().unwrap();
        assert_eq!(nr[0].ip, "10.1.0.2");
        assert_eq!(nr[0].node_name.as_deref(), Some("node1"));
        let tr = nr[0].target_ref.as_ref().unwrap();
        assert_eq!(
            (tr.kind.as_deref(), tr.name.as_deref(), tr.uid.as_deref()),
            (Some("Pod"), Some("b"), Some("uid-b"))
        );
        assert_eq!(ss.ports.as_ref().unwrap()[0].port, 8080);
        assert_eq!(
            ep.metadata
                .labels
                .as_ref()
                .unwrap()
                .get("team")
                .map(String::as_str),
            Some("a")
        );
        assert!(!ep
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key(HEADLESS_LABEL));
        // Same input again: nothing to write.
        assert_eq!(
            decide(&s, Some(&ep), &[&a, &b, &c], None),
            Decision::Unchanged
        );
    }

    #[test]
    fn named_port_splits_subsets_and_skips_pods_without_it() {
        let s = svc(json!({"clusterIP": "10.0.0.1", "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                      {"name": "metrics", "port": 9090, "targetPort": 9090}]}));
        let a = pod("a", "10.1.0.1", true, json!({}));
        let b = pod(
            "b",
            "10.1.0.2",
            true,
            json!({"spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 9000}]}]}}),
        );
        let c = pod(
            "c",
            "10.1.0.3",
            true,
            json!({"spec": {"containers": [{"name": "c"}]}}),
        );
        let ep = created(decide(&s, None, &[&a, &b, &c], None));
        let subsets = ep.subsets.unwrap();
        assert_eq!(subsets.len(), 3, "{subsets:?}");
        // Every port an address is listed under, across subsets.
        let find = |ip: &str| {
            let mut v: Vec<(String, i32)> = subsets
                .iter()
                .filter(|ss| ss.addresses.iter().flatten().any(|a| a.ip == ip))
                .flat_map(|ss| ss.ports.clone().unwrap())
                .map(|p| (p.name.clone().unwrap(), p.port))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            find("10.1.0.1"),
            [("http".into(), 8080), ("metrics".into(), 9090)]
        );
        assert_eq!(
            find("10.1.0.2"),
            [("http".into(), 9000), ("metrics".into(), 9090)]
        );
        assert_eq!(find("10.1.0.3"), [("metrics".into(), 9090)]);
    }

    #[test]
    fn terminating_no_ip_terminal_and_publish_not_ready() {
        let mut s = svc(json!({"clusterIP": "None", "selector": {"app": "web"},
            "ports": [{"port": 80}]}));
        let gone = pod(
            "a",
            "10.1.0.1",
            true,
            json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
        );
        let no_ip = pod("b", "", true, json!({}));
        let done = pod(
            "c",
            "10.1.0.3",
            true,
            json!({"status": {"phase": "Succeeded"}}),
        );
        let nr = pod(
            "d",
            "10.1.0.4",
            false,
            json!({"spec": {"hostname": "d0", "subdomain": "web"}}),
        );
        let ep = created(decide(&s, None, &[&gone, &no_ip, &done, &nr], None));
        let (ready, not_ready) = addresses(&ep);
        assert!(ready.is_empty());
        assert_eq!(not_ready.into_iter().collect::<Vec<_>>(), ["10.1.0.4"]);
        assert!(ep
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key(HEADLESS_LABEL));
        let addr = &ep.subsets.as_ref().unwrap()[0]
            .not_ready_addresses
            .as_ref()
            .unwrap()[0];
        assert_eq!(addr.hostname.as_deref(), Some("d0"));
        assert_eq!(
            ep.subsets.as_ref().unwrap()[0].ports.as_ref().unwrap()[0].port,
            80
        );
        // publishNotReadyAddresses: not-ready and terminating pods are published as ready.
        s.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let ep = created(decide(&s, None, &[&gone, &nr], None));
        let (ready, not_ready) = addresses(&ep);
        assert_eq!(
            ready.into_iter().collect::<Vec<_>>(),
            ["10.1.0.1", "10.1.0.4"]
        );
        assert!(not_ready.is_empty());
    }

    #[test]
    fn trigger_time_annotation_and_truncation() {
        let s = svc(
            json!({"clusterIP": "10.0.0.1", "selector": {"app": "web"}, "ports": [{"port": 80}]}),
        );
        let pods: Vec<Pod> = (0..1005)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("10.2.{}.{}", i / 250, i % 250),
                    true,
                    json!({}),
                )
            })
            .collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let t: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let ep = created(decide(&s, None, &refs, Some(t)));
        let ann = ep.metadata.annotations.clone().unwrap();
        assert_eq!(
            ann.get(crate::trigger_time::ANNOTATION).map(String::as_str),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            ann.get(OVER_CAPACITY_ANNOTATION).map(String::as_str),
            Some("truncated")
        );
        assert_eq!(addresses(&ep).0.len(), MAX_CAPACITY);
    }
}
