//! What a Service's EndpointSlices should be: kube-controller-manager's
//! EndpointSlice reconciler (`staging/src/k8s.io/endpointslice/reconciler.go`)
//! as a pure function from (Service, pods, existing slices) to a plan of
//! creates, updates and deletes.
//!
//! Why this algorithm and not "rebuild from scratch": it keeps endpoints in
//! the slice they already are in and only touches slices whose content
//! changed, so one pod flipping readiness is one slice update, and a new pod
//! goes into an existing slice with room rather than a new one. Consumers
//! (kube-proxy, DNS) then see minimal churn.

use crate::endpoints::compute::{find_port, is_service_ip_set, should_set_hostname};
use crate::util::pod;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::{BTreeMap, BTreeSet};

pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Writes that bring the slices to the desired state.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// `getAddressTypesForService`: from `ipFamilies`, else the cluster IP's
/// family, else (headless, no families) both.
pub fn address_types(svc: &Service) -> BTreeSet<String> {
    let spec = svc.spec.as_ref();
    let mut out: BTreeSet<String> = spec
        .and_then(|s| s.ip_families.as_ref())
        .into_iter()
        .flatten()
        .filter(|f| *f == "IPv4" || *f == "IPv6")
        .cloned()
        .collect();
    if !out.is_empty() {
        return out;
    }
    if is_service_ip_set(svc) {
        let v6 = spec
            .and_then(|s| s.cluster_ip.as_deref())
            .is_some_and(|ip| ip.contains(':'));
        out.insert(if v6 { "IPv6" } else { "IPv4" }.to_string());
        return out;
    }
    out.insert("IPv4".into());
    out.insert("IPv6".into());
    out
}

type PortMapKey = String;

fn port_sort_key(p: &EndpointPort) -> (String, i32, String, String) {
    (
        p.name.clone().unwrap_or_default(),
        p.port.unwrap_or(0),
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone().unwrap_or_default(),
    )
}

/// The set of ports, as a key (`NewPortMapKey`); sorts `ports` in place.
fn port_map_key(ports: &mut [EndpointPort]) -> PortMapKey {
    ports.sort_by_key(port_sort_key);
    serde_json::to_string(ports).unwrap_or_default()
}

/// `getEndpointPorts`: each Service port this pod offers.
fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let spec = svc.spec.clone().unwrap_or_default();
    let ports = spec.ports.unwrap_or_default();
    if ports.is_empty() && spec.cluster_ip.as_deref() == Some("None") {
        return vec![];
    }
    ports
        .iter()
        .filter_map(|sp| {
            let num = find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(num),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// `podToEndpoint`. `zone_of` maps a node name to its zone label.
fn pod_to_endpoint(
    pod: &Pod,
    svc: &Service,
    address_type: &str,
    zone_of: &dyn Fn(&str) -> Option<String>,
) -> Endpoint {
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let serving = pod::is_ready(pod);
    let terminating = pod::is_terminating(pod);
    let ready = publish || (serving && !terminating);
    let mut addresses: Vec<String> = pod::ips(pod)
        .into_iter()
        .filter_map(|ip| ip.parse::<std::net::IpAddr>().ok())
        .filter(|ip| (address_type == "IPv6") == ip.is_ipv6())
        .map(|ip| ip.to_string())
        .collect();
    addresses.sort();
    let node = pod::node_name(pod);
    Endpoint {
        addresses,
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
        node_name: node.map(str::to_string),
        zone: node.and_then(zone_of),
        hostname: should_set_hostname(pod, svc)
            .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
            .flatten(),
        deprecated_topology: None,
        hints: None,
    }
}

type EndpointKey = (Vec<String>, String, String, String);

/// The identity of an endpoint across syncs (`hashEndpoint`): its addresses,
/// hostname and target pod; everything else is content that may change.
fn endpoint_key(ep: &Endpoint) -> EndpointKey {
    let mut addrs = ep.addresses.clone();
    addrs.sort();
    let tr = ep.target_ref.as_ref();
    (
        addrs,
        ep.hostname.clone().unwrap_or_default(),
        tr.and_then(|t| t.namespace.clone()).unwrap_or_default(),
        tr.and_then(|t| t.name.clone()).unwrap_or_default(),
    )
}

fn owned_by(slice: &EndpointSlice, svc: &Service) -> bool {
    let uid = svc.metadata.uid.as_deref().unwrap_or_default();
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.kind == "Service" && o.api_version == "v1")
}

fn is_reserved_label(k: &str) -> bool {
    k == LABEL_SERVICE_NAME || k == LABEL_MANAGED_BY || k == HEADLESS_LABEL
}

/// `setEndpointSliceLabels`: the slice's labels (the Service's, plus the
/// reserved ones) and whether the non-reserved ones differed.
fn slice_labels(slice: &EndpointSlice, svc: &Service) -> (BTreeMap<String, String>, bool) {
    let ep: BTreeMap<String, String> = slice
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| !is_reserved_label(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out: BTreeMap<String, String> = svc
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| !is_reserved_label(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let changed = ep != out;
    if !is_service_ip_set(svc) {
        out.insert(HEADLESS_LABEL.into(), String::new());
    }
    out.insert(
        LABEL_SERVICE_NAME.into(),
        svc.metadata.name.clone().unwrap_or_default(),
    );
    out.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    (out, changed)
}

/// `newEndpointSlice`: empty, generateName `<service>-`, owned by the Service.
pub fn new_slice(svc: &Service, ports: Vec<EndpointPort>, address_type: &str) -> EndpointSlice {
    let name = svc.metadata.name.clone().unwrap_or_default();
    let mut slice = EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: svc.metadata.namespace.clone(),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name,
                uid: svc.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        address_type: address_type.to_string(),
        endpoints: Some(vec![]),
        ports: Some(ports),
    };
    let (labels, _) = slice_labels(&slice, svc);
    slice.metadata.labels = Some(labels);
    slice
}

fn endpoints_of(slice: &EndpointSlice) -> &[Endpoint] {
    slice.endpoints.as_deref().unwrap_or(&[])
}

fn is_placeholder_like(slice: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    slice.metadata.namespace == placeholder.metadata.namespace
        && slice.metadata.labels.clone().unwrap_or_default()
            == placeholder.metadata.labels.clone().unwrap_or_default()
        && slice.address_type == placeholder.address_type
        && endpoints_of(slice).is_empty()
        && slice.ports.as_ref().is_none_or(Vec::is_empty)
}

/// The whole reconcile for one Service: which slices to create, update, delete.
/// `existing` are the slices labelled for this Service and managed by us.
pub fn reconcile(
    svc: &Service,
    pods: &[&Pod],
    existing: &[EndpointSlice],
    zone_of: &dyn Fn(&str) -> Option<String>,
    max_per_slice: usize,
) -> Plan {
    let max_per_slice = max_per_slice.max(1);
    let types = address_types(svc);
    let mut plan = Plan::default();
    let mut by_type: BTreeMap<String, Vec<EndpointSlice>> = BTreeMap::new();
    for s in existing {
        if types.contains(&s.address_type) {
            by_type
                .entry(s.address_type.clone())
                .or_default()
                .push(s.clone());
        } else {
            plan.delete.push(s.clone());
        }
    }
    for t in &types {
        let existing = by_type.remove(t).unwrap_or_default();
        let p = reconcile_address_type(svc, pods, &existing, t, zone_of, max_per_slice);
        plan.create.extend(p.create);
        plan.update.extend(p.update);
        plan.delete.extend(p.delete);
    }
    plan
}

fn reconcile_address_type(
    svc: &Service,
    pods: &[&Pod],
    existing: &[EndpointSlice],
    address_type: &str,
    zone_of: &dyn Fn(&str) -> Option<String>,
    max: usize,
) -> Plan {
    let mut create = Vec::new();
    let mut update = Vec::new();
    let mut delete = Vec::new();
    let mut existing_by_pm: BTreeMap<PortMapKey, Vec<EndpointSlice>> = BTreeMap::new();
    for s in existing {
        if owned_by(s, svc) {
            let mut ports = s.ports.clone().unwrap_or_default();
            existing_by_pm
                .entry(port_map_key(&mut ports))
                .or_default()
                .push(s.clone());
        } else {
            delete.push(s.clone());
        }
    }
    // Desired endpoints, grouped by the set of ports they offer.
    let mut desired: BTreeMap<PortMapKey, (Vec<EndpointPort>, BTreeMap<EndpointKey, Endpoint>)> =
        BTreeMap::new();
    for pod in pods {
        if !pod::should_be_in_endpoints(pod, true) {
            continue;
        }
        let mut ports = endpoint_ports(svc, pod);
        let key = port_map_key(&mut ports);
        let entry = desired
            .entry(key)
            .or_insert_with(|| (ports, BTreeMap::new()));
        let ep = pod_to_endpoint(pod, svc, address_type, zone_of);
        if !ep.addresses.is_empty() {
            entry.1.insert(endpoint_key(&ep), ep);
        }
    }
    for (pm, (ports, set)) in desired.iter_mut() {
        let (c, u, d) = reconcile_port_mapping(
            svc,
            existing_by_pm.get(pm).map(Vec::as_slice).unwrap_or(&[]),
            std::mem::take(set),
            ports.clone(),
            address_type,
            max,
        );
        create.extend(c);
        update.extend(u);
        delete.extend(d);
    }
    for (pm, slices) in existing_by_pm {
        if !desired.contains_key(&pm) {
            delete.extend(slices);
        }
    }
    // A Service with no endpoints still gets one empty slice.
    if existing.len() == delete.len() && create.is_empty() {
        let placeholder = new_slice(svc, vec![], address_type);
        if delete.len() == 1 && is_placeholder_like(&delete[0], &placeholder) {
            delete.clear();
        } else {
            create.push(placeholder);
        }
    }
    // Turn create+delete pairs into updates of the slice that would go.
    let mut i = 0;
    while i < delete.len() && !create.is_empty() {
        if delete[i].address_type == address_type && owned_by(&delete[i], svc) {
            let gone = delete.remove(i);
            if let Some(mut s) = create.pop() {
                s.metadata.name = gone.metadata.name.clone();
                s.metadata.resource_version = gone.metadata.resource_version.clone();
                s.metadata.annotations = gone.metadata.annotations.clone();
                update.push(s);
            }
        } else {
            i += 1;
        }
    }
    Plan {
        create,
        update,
        delete,
    }
}

/// `reconcileByPortMapping`: keep endpoints where they are, update changed
/// ones, drop unwanted ones, then place the rest — first into slices being
/// updated anyway (fullest first), then into the one unchanged slice that
/// they fill best, then into new slices.
fn reconcile_port_mapping(
    svc: &Service,
    existing: &[EndpointSlice],
    mut desired: BTreeMap<EndpointKey, Endpoint>,
    ports: Vec<EndpointPort>,
    address_type: &str,
    max: usize,
) -> (Vec<EndpointSlice>, Vec<EndpointSlice>, Vec<EndpointSlice>) {
    let mut by_name: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut to_delete: BTreeSet<String> = BTreeSet::new();
    for s in existing {
        let name = s.metadata.name.clone().unwrap_or_default();
        let mut kept = Vec::new();
        let mut changed = false;
        for ep in endpoints_of(s) {
            if let Some(want) = desired.remove(&endpoint_key(ep)) {
                if want != *ep {
                    changed = true;
                }
                kept.push(want);
            }
        }
        let (labels, labels_changed) = slice_labels(s, svc);
        if changed || kept.len() != endpoints_of(s).len() {
            if kept.is_empty() {
                to_delete.insert(name.clone());
                by_name.insert(name, s.clone());
            } else {
                let mut s = s.clone();
                s.endpoints = Some(kept);
                s.metadata.labels = Some(labels);
                to_update.insert(name.clone());
                by_name.insert(name, s);
            }
        } else if labels_changed {
            let mut s = s.clone();
            s.metadata.labels = Some(labels);
            to_update.insert(name.clone());
            by_name.insert(name, s);
        } else {
            unchanged.insert(name.clone());
            by_name.insert(name, s.clone());
        }
    }
    let pop = |desired: &mut BTreeMap<EndpointKey, Endpoint>| desired.pop_first().map(|(_, e)| e);
    // 2. Fill the slices that are being updated anyway, fullest first.
    if !desired.is_empty() && !to_update.is_empty() {
        let mut names: Vec<String> = to_update.iter().cloned().collect();
        names.sort_by_key(|n| {
            std::cmp::Reverse(by_name.get(n).map_or(0, |s| endpoints_of(s).len()))
        });
        for n in names {
            if let Some(s) = by_name.get_mut(&n) {
                let eps = s.endpoints.get_or_insert_with(Vec::new);
                while eps.len() < max {
                    match pop(&mut desired) {
                        Some(e) => eps.push(e),
                        None => break,
                    }
                }
            }
        }
    }
    // 3. The rest: one unchanged slice they fit in best, else new slices.
    let mut create = Vec::new();
    while !desired.is_empty() {
        let mut fill: Option<String> = None;
        if desired.len() < max && !unchanged.is_empty() {
            let mut closest = max;
            for n in &unchanged {
                let len = by_name.get(n).map_or(0, |s| endpoints_of(s).len());
                if desired.len() + len <= max {
                    let diff = max - (desired.len() + len);
                    if diff < closest {
                        closest = diff;
                        fill = Some(n.clone());
                        if diff == 0 {
                            break;
                        }
                    }
                }
            }
        }
        match fill.and_then(|n| by_name.get_mut(&n).map(|s| (n, s))) {
            Some((n, s)) => {
                let eps = s.endpoints.get_or_insert_with(Vec::new);
                while eps.len() < max {
                    match pop(&mut desired) {
                        Some(e) => eps.push(e),
                        None => break,
                    }
                }
                unchanged.remove(&n);
                to_update.insert(n);
            }
            None => {
                let mut s = new_slice(svc, ports.clone(), address_type);
                let eps = s.endpoints.get_or_insert_with(Vec::new);
                while eps.len() < max {
                    match pop(&mut desired) {
                        Some(e) => eps.push(e),
                        None => break,
                    }
                }
                create.push(s);
            }
        }
    }
    let update = to_update
        .iter()
        .filter_map(|n| by_name.get(n).cloned())
        .collect();
    let delete = to_delete
        .iter()
        .filter_map(|n| by_name.get(n).cloned())
        .collect();
    (create, update, delete)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(spec: serde_json::Value) -> Service {
        serde_json::from_value(
            json!({"metadata": {"name": "web", "namespace": "default", "uid": "svc-uid",
            "labels": {"team": "a"}}, "spec": spec}),
        )
        .unwrap()
    }

    fn pod(i: usize, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("p{i}"), "namespace": "default", "uid": format!("uid-{i}"), "labels": {"app": "web"}},
            "spec": {"nodeName": "node1", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"podIP": format!("10.1.{}.{}", i / 200, i % 200 + 1), "podIPs": [{"ip": format!("10.1.{}.{}", i / 200, i % 200 + 1)}],
                       "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    fn basic() -> Service {
        svc(
            json!({"clusterIP": "10.0.0.1", "ipFamilies": ["IPv4"], "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}),
        )
    }

    fn no_zone(_: &str) -> Option<String> {
        None
    }

    /// Applies a plan as the API would, naming created slices.
    fn apply(existing: Vec<EndpointSlice>, plan: Plan, counter: &mut usize) -> Vec<EndpointSlice> {
        let mut out: BTreeMap<String, EndpointSlice> = existing
            .into_iter()
            .map(|s| (s.metadata.name.clone().unwrap(), s))
            .collect();
        for s in plan.delete {
            out.remove(s.metadata.name.as_ref().unwrap());
        }
        for s in plan.update {
            out.insert(s.metadata.name.clone().unwrap(), s);
        }
        for mut s in plan.create {
            *counter += 1;
            s.metadata.name = Some(format!("web-{counter}"));
            out.insert(s.metadata.name.clone().unwrap(), s);
        }
        out.into_values().collect()
    }

    #[test]
    fn creates_slice_with_labels_owner_ports_and_conditions() {
        let s = basic();
        let pods = [pod(0, true), pod(1, false)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let plan = reconcile(&s, &refs, &[], &no_zone, 100);
        assert_eq!(plan.create.len(), 1);
        let sl = &plan.create[0];
        assert_eq!(sl.metadata.generate_name.as_deref(), Some("web-"));
        let labels = sl.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[LABEL_SERVICE_NAME], "web");
        assert_eq!(labels[LABEL_MANAGED_BY], CONTROLLER_NAME);
        assert_eq!(labels["team"], "a");
        let owner = &sl.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.uid.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            ("Service", "svc-uid", Some(true), Some(true))
        );
        assert_eq!(sl.address_type, "IPv4");
        let port = &sl.ports.as_ref().unwrap()[0];
        assert_eq!(
            (port.name.as_deref(), port.port),
            (Some("http"), Some(8080))
        );
        let eps = sl.endpoints.as_ref().unwrap();
        assert_eq!(eps.len(), 2);
        let c = eps
            .iter()
            .find(|e| e.addresses == ["10.1.0.2"])
            .unwrap()
            .conditions
            .clone()
            .unwrap();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(false), Some(false), Some(false))
        );
        assert_eq!(eps[0].node_name.as_deref(), Some("node1"));
        assert_eq!(
            eps[0].target_ref.as_ref().unwrap().kind.as_deref(),
            Some("Pod")
        );
    }

    #[test]
    fn single_flip_is_one_update_and_steady_state_is_no_op() {
        let s = basic();
        let mut pods: Vec<Pod> = (0..5).map(|i| pod(i, true)).collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let mut n = 0;
        let slices = apply(vec![], reconcile(&s, &refs, &[], &no_zone, 100), &mut n);
        assert!(reconcile(&s, &refs, &slices, &no_zone, 100).is_empty());
        pods[2] = pod(2, false);
        let refs: Vec<&Pod> = pods.iter().collect();
        let plan = reconcile(&s, &refs, &slices, &no_zone, 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 0)
        );
    }

    #[test]
    fn max_per_slice_and_terminating() {
        let s = basic();
        let mut pods: Vec<Pod> = (0..250).map(|i| pod(i, true)).collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        let mut n = 0;
        let slices = apply(vec![], reconcile(&s, &refs, &[], &no_zone, 100), &mut n);
        let mut sizes: Vec<usize> = slices
            .iter()
            .map(|s| s.endpoints.as_ref().unwrap().len())
            .collect();
        sizes.sort();
        assert_eq!(sizes, [50, 100, 100]);
        // A terminating pod stays, with terminating=true and ready=false.
        pods[0].metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2024-01-01T00:00:00Z".parse().unwrap(),
            ));
        let refs: Vec<&Pod> = pods.iter().collect();
        let plan = reconcile(&s, &refs, &slices, &no_zone, 100);
        assert_eq!(plan.update.len(), 1);
        let ep = plan.update[0]
            .endpoints
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.target_ref.as_ref().unwrap().name.as_deref() == Some("p0"))
            .unwrap()
            .clone();
        let c = ep.conditions.unwrap();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(false), Some(true), Some(true))
        );
    }

    #[test]
    fn no_pods_gives_placeholder_and_keeps_it() {
        let s = basic();
        let plan = reconcile(&s, &[], &[], &no_zone, 100);
        assert_eq!(plan.create.len(), 1);
        assert!(plan.create[0].endpoints.as_ref().unwrap().is_empty());
        let mut n = 0;
        let slices = apply(vec![], plan, &mut n);
        assert!(reconcile(&s, &[], &slices, &no_zone, 100).is_empty());
        // Pods arrive: the placeholder is reused (update, not create+delete).
        let pods = [pod(0, true)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let plan = reconcile(&s, &refs, &slices, &no_zone, 100);
        assert_eq!(
            (plan.create.len(), plan.update.len(), plan.delete.len()),
            (0, 1, 0),
            "{plan:?}"
        );
    }

    #[test]
    fn pods_without_named_port_get_their_own_slice_and_dual_stack() {
        let s = svc(json!({"clusterIP": "None", "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}));
        assert_eq!(address_types(&s).len(), 2);
        let a = pod(0, true);
        let mut b = pod(1, true);
        b.spec.as_mut().unwrap().containers[0].ports = None;
        let plan = reconcile(&s, &[&a, &b], &[], &no_zone, 100);
        let v4: Vec<_> = plan
            .create
            .iter()
            .filter(|s| s.address_type == "IPv4")
            .collect();
        assert_eq!(v4.len(), 2);
        assert!(v4.iter().any(|s| s.ports.as_ref().unwrap().is_empty()));
        let v6: Vec<_> = plan
            .create
            .iter()
            .filter(|s| s.address_type == "IPv6")
            .collect();
        assert_eq!(v6.len(), 1, "IPv6 placeholder only");
        assert!(v4.iter().all(|s| s
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key(HEADLESS_LABEL)));
    }
}
