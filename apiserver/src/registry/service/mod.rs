//! Services the way kube-apiserver handles them: defaulting, the IP family
//! and ClusterIP/NodePort decisions, validation, and the allocators' index.
//!
//! The order of a write mirrors kube-apiserver's Service storage:
//!
//! * create: [`defaults::set_defaults`] (decode), [`defaults::normalize_cluster_ips`],
//!   [`defaults::init_ip_family_fields`], allocation
//!   ([`allocation::ServiceAllocators::allocate_create`]),
//!   [`defaults::prepare_for_create`], [`validation::validate_service`];
//! * update: [`defaults::set_defaults`], [`defaults::patch_allocated_values`],
//!   [`defaults::normalize_cluster_ips`], [`defaults::init_ip_family_fields`],
//!   allocation ([`allocation::ServiceAllocators::allocate_update`]),
//!   [`defaults::prepare_for_update`], [`validation::validate_service_update`];
//! * delete: [`allocation::ServiceAllocators::release_for_delete`].
//!
//! [`prepare_create`], [`prepare_update`] and [`prepare_delete`] run those
//! steps. Allocation reserves new IPs/ports in the in-memory index at once
//! and defers releases: the caller persists the [`allocation::Reservation`]
//! (one key per IP / port) in the Service's transaction, then calls
//! [`allocation::ServiceAllocators::commit`] or `revert`.

pub mod allocation;
pub mod defaults;
pub mod validation;

use crate::validation::field_error::{aggregate_message, FieldError};
use allocation::{IpFamily, Reservation, ServiceAllocators};
use ipnet::IpNet;
use serde_json::{json, Map, Value};
use std::ops::RangeInclusive;

/// The cluster's Service networking: one CIDR per IP family (the first is
/// the default family) and the NodePort range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    pub service_cidrs: Vec<IpNet>,
    pub node_port_range: RangeInclusive<u16>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            service_cidrs: vec!["10.0.0.0/24".parse().expect("static CIDR")],
            node_port_range: 30000..=32767,
        }
    }
}

impl ServiceConfig {
    /// The configured families, default first (duplicates ignored).
    pub fn families(&self) -> Vec<IpFamily> {
        let mut out = Vec::new();
        for c in &self.service_cidrs {
            let f = IpFamily::of_net(c);
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    pub fn default_family(&self) -> IpFamily {
        self.families().first().copied().unwrap_or(IpFamily::IPv4)
    }

    pub fn has_family(&self, f: IpFamily) -> bool {
        self.families().contains(&f)
    }

    pub fn is_dual_stack(&self) -> bool {
        self.families().len() >= 2
    }

    /// The CIDR of a family.
    pub fn cidr_for(&self, f: IpFamily) -> Option<IpNet> {
        self.service_cidrs
            .iter()
            .find(|c| IpFamily::of_net(c) == f)
            .copied()
    }
}

/// A failed Service write, as the API server reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceError {
    /// 422 Invalid, with its field errors.
    Invalid(Vec<FieldError>),
    /// 500 InternalError (exhausted ranges and the like).
    Internal(String),
}

impl ServiceError {
    pub fn code(&self) -> u16 {
        match self {
            ServiceError::Invalid(_) => 422,
            ServiceError::Internal(_) => 500,
        }
    }

    /// The status `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ServiceError::Invalid(_) => "Invalid",
            ServiceError::Internal(_) => "InternalError",
        }
    }

    /// The status `message` for the Service `name`.
    pub fn message(&self, name: &str) -> String {
        match self {
            ServiceError::Invalid(errs) => aggregate_message("Service", name, errs),
            ServiceError::Internal(msg) => format!("Internal error occurred: {msg}"),
        }
    }

    /// The status `details.causes`.
    pub fn causes(&self) -> Value {
        match self {
            ServiceError::Invalid(errs) => crate::validation::field_error::causes(errs),
            ServiceError::Internal(msg) => json!([{ "message": msg }]),
        }
    }

    /// The whole metav1.Status object.
    pub fn to_status(&self, name: &str) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(name),
            "reason": self.reason(),
            "details": { "name": name, "kind": "services", "causes": self.causes() },
            "code": self.code(),
        })
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::Invalid(errs) => {
                f.write_str(&crate::validation::field_error::aggregate_errors(errs))
            }
            ServiceError::Internal(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ServiceError {}

/// Defaults, IP family initialisation, allocation and validation of a new
/// Service (mutated in place). On error nothing stays allocated.
pub fn prepare_create(
    svc: &mut Value,
    cfg: &ServiceConfig,
    allocs: &mut ServiceAllocators,
    dry_run: bool,
) -> Result<Reservation, ServiceError> {
    defaults::set_defaults(svc);
    defaults::normalize_cluster_ips(svc, None);
    defaults::init_ip_family_fields(svc, None, cfg).map_err(ServiceError::Invalid)?;
    let r = allocs.allocate_create(svc, dry_run)?;
    defaults::prepare_for_create(svc);
    let errs = validation::validate_service(svc, cfg);
    if !errs.is_empty() {
        allocs.revert(&r);
        return Err(ServiceError::Invalid(errs));
    }
    Ok(r)
}

/// The same for an update of `old` to `new` (the caller has already copied
/// system metadata such as uid and creationTimestamp from `old`).
pub fn prepare_update(
    new: &mut Value,
    old: &Value,
    cfg: &ServiceConfig,
    allocs: &mut ServiceAllocators,
    dry_run: bool,
) -> Result<Reservation, ServiceError> {
    defaults::set_defaults(new);
    defaults::patch_allocated_values(new, old);
    defaults::normalize_cluster_ips(new, Some(old));
    defaults::init_ip_family_fields(new, Some(old), cfg).map_err(ServiceError::Invalid)?;
    let r = allocs.allocate_update(new, old, dry_run)?;
    defaults::prepare_for_update(new, old);
    let errs = validation::validate_service_update(new, old, cfg);
    if !errs.is_empty() {
        allocs.revert(&r);
        return Err(ServiceError::Invalid(errs));
    }
    Ok(r)
}

/// What deleting `old` releases (applied by `commit`).
pub fn prepare_delete(old: &Value, allocs: &ServiceAllocators) -> Reservation {
    allocs.release_for_delete(old)
}

// ---------------------------------------------------------------------------
// Accessors shared by the submodules.

pub const TYPE_CLUSTER_IP: &str = "ClusterIP";
pub const TYPE_NODE_PORT: &str = "NodePort";
pub const TYPE_LOAD_BALANCER: &str = "LoadBalancer";
pub const TYPE_EXTERNAL_NAME: &str = "ExternalName";
pub const CLUSTER_IP_NONE: &str = "None";

pub(crate) fn spec(svc: &Value) -> Option<&Map<String, Value>> {
    svc.get("spec").and_then(Value::as_object)
}

/// The spec object, created (or replaced when not an object) if needed.
pub(crate) fn spec_mut(svc: &mut Value) -> &mut Map<String, Value> {
    if !svc.is_object() {
        *svc = Value::Object(Map::new());
    }
    let obj = svc.as_object_mut().expect("object");
    let spec = obj
        .entry("spec")
        .or_insert_with(|| Value::Object(Map::new()));
    if !spec.is_object() {
        *spec = Value::Object(Map::new());
    }
    spec.as_object_mut().expect("object")
}

pub(crate) fn spec_str<'a>(svc: &'a Value, key: &str) -> &'a str {
    spec(svc)
        .and_then(|s| s.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub(crate) fn spec_opt_str<'a>(svc: &'a Value, key: &str) -> Option<&'a str> {
    spec(svc).and_then(|s| s.get(key)).and_then(Value::as_str)
}

pub(crate) fn spec_i64(svc: &Value, key: &str) -> i64 {
    spec(svc)
        .and_then(|s| s.get(key))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

pub(crate) fn spec_strings(svc: &Value, key: &str) -> Vec<String> {
    spec(svc)
        .and_then(|s| s.get(key))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn set_spec_strings(svc: &mut Value, key: &str, values: &[String]) {
    let spec = spec_mut(svc);
    if values.is_empty() {
        spec.remove(key);
    } else {
        spec.insert(
            key.to_string(),
            Value::Array(values.iter().cloned().map(Value::String).collect()),
        );
    }
}

pub(crate) fn set_spec_str(svc: &mut Value, key: &str, value: &str) {
    let spec = spec_mut(svc);
    if value.is_empty() {
        spec.remove(key);
    } else {
        spec.insert(key.to_string(), Value::String(value.to_string()));
    }
}

pub(crate) fn svc_type(svc: &Value) -> &str {
    spec_str(svc, "type")
}

pub(crate) fn cluster_ips(svc: &Value) -> Vec<String> {
    spec_strings(svc, "clusterIPs")
}

pub(crate) fn ip_families(svc: &Value) -> Vec<String> {
    spec_strings(svc, "ipFamilies")
}

pub(crate) fn ip_family_policy(svc: &Value) -> Option<&str> {
    spec_opt_str(svc, "ipFamilyPolicy")
}

pub(crate) fn ports(svc: &Value) -> &[Value] {
    spec(svc)
        .and_then(|s| s.get("ports"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(crate) fn port_i64(p: &Value, key: &str) -> i64 {
    p.get(key).and_then(Value::as_i64).unwrap_or(0)
}

pub(crate) fn port_str<'a>(p: &'a Value, key: &str) -> &'a str {
    p.get(key).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn selector_len(svc: &Value) -> usize {
    spec(svc)
        .and_then(|s| s.get("selector"))
        .and_then(Value::as_object)
        .map_or(0, Map::len)
}

/// `clusterIPs` is exactly `["None"]`.
pub fn is_headless(svc: &Value) -> bool {
    let ips = cluster_ips(svc);
    ips.len() == 1 && ips[0] == CLUSTER_IP_NONE
}

/// LoadBalancer, NodePort, or ClusterIP with external IPs.
pub fn externally_accessible(svc: &Value) -> bool {
    let t = svc_type(svc);
    t == TYPE_LOAD_BALANCER
        || t == TYPE_NODE_PORT
        || (t == TYPE_CLUSTER_IP && !spec_strings(svc, "externalIPs").is_empty())
}

/// NodePort/LoadBalancer with `externalTrafficPolicy: Local`.
pub fn requests_only_local_traffic(svc: &Value) -> bool {
    let t = svc_type(svc);
    (t == TYPE_LOAD_BALANCER || t == TYPE_NODE_PORT)
        && spec_str(svc, "externalTrafficPolicy") == "Local"
}

/// LoadBalancer with `externalTrafficPolicy: Local` (gets a
/// healthCheckNodePort).
pub fn needs_health_check(svc: &Value) -> bool {
    svc_type(svc) == TYPE_LOAD_BALANCER && requests_only_local_traffic(svc)
}

pub(crate) fn needs_cluster_ip(svc: &Value) -> bool {
    svc_type(svc) != TYPE_EXTERNAL_NAME
}

pub(crate) fn needs_node_port(svc: &Value) -> bool {
    let t = svc_type(svc);
    t == TYPE_NODE_PORT || t == TYPE_LOAD_BALANCER
}

/// Whether NodePorts are allocated for ports that do not name one.
pub(crate) fn should_allocate_node_ports(svc: &Value) -> bool {
    match svc_type(svc) {
        TYPE_NODE_PORT => true,
        TYPE_LOAD_BALANCER => spec(svc)
            .and_then(|s| s.get("allocateLoadBalancerNodePorts"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::allocation::ServiceAllocators;
    use super::*;

    fn cfg() -> ServiceConfig {
        ServiceConfig::default()
    }

    #[test]
    fn create_pipeline() {
        let cfg = cfg();
        let mut allocs = ServiceAllocators::new(&cfg);
        let mut svc = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "selector": {"app": "web"},
                     "ports": [{"port": 80}]}
        });
        let r = prepare_create(&mut svc, &cfg, &mut allocs, false).unwrap();
        allocs.commit(&r);
        let spec = &svc["spec"];
        assert_eq!(spec["clusterIPs"].as_array().unwrap().len(), 1);
        assert_eq!(spec["clusterIP"], spec["clusterIPs"][0]);
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["ports"][0]["targetPort"], 80);
        let np = spec["ports"][0]["nodePort"].as_u64().unwrap();
        assert!((30000..=32767).contains(&np));
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(r.allocated_ips.len(), 1);
        assert_eq!(r.allocated_node_ports.len(), 1);

        // A second Service asking for the same nodePort.
        let mut other = json!({
            "metadata": {"name": "other", "namespace": "default"},
            "spec": {"type": "NodePort", "ports": [{"port": 81, "nodePort": np}]}
        });
        let e = prepare_create(&mut other, &cfg, &mut allocs, false).unwrap_err();
        assert_eq!(
            e.message("other"),
            format!("Service \"other\" is invalid: spec.ports[0].nodePort: Invalid value: {np}: provided port is already allocated")
        );
        assert_eq!(e.code(), 422);

        // Invalid Service: allocation is reverted.
        let used = allocs.cluster_ips[0].used();
        let mut bad = json!({
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"ports": [{"port": 0}]}
        });
        let e = prepare_create(&mut bad, &cfg, &mut allocs, false).unwrap_err();
        assert_eq!(
            e.message("bad"),
            "Service \"bad\" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive]"
        );
        assert_eq!(allocs.cluster_ips[0].used(), used);
    }

    #[test]
    fn update_pipeline_type_changes() {
        let cfg = cfg();
        let mut allocs = ServiceAllocators::new(&cfg);
        let mut svc = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                     "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}
        });
        let r = prepare_create(&mut svc, &cfg, &mut allocs, false).unwrap();
        allocs.commit(&r);
        assert_eq!(allocs.node_ports.used(), 3);
        let hc = svc["spec"]["healthCheckNodePort"].as_u64().unwrap();
        assert!(hc > 0);
        svc["metadata"]["resourceVersion"] = json!("1");

        // LoadBalancer -> ClusterIP: node ports and the health check port go.
        let mut new = svc.clone();
        new["spec"]["type"] = json!("ClusterIP");
        let r = prepare_update(&mut new, &svc, &cfg, &mut allocs, false).unwrap();
        assert_eq!(r.released_node_ports.len(), 3);
        allocs.commit(&r);
        assert_eq!(allocs.node_ports.used(), 0);
        assert!(new["spec"]["ports"][0].get("nodePort").is_none());
        assert!(new["spec"].get("healthCheckNodePort").is_none());
        assert!(new["spec"].get("externalTrafficPolicy").is_none());
        assert!(new["spec"].get("allocateLoadBalancerNodePorts").is_none());

        // ClusterIP -> ExternalName: the IP goes.
        let old = new.clone();
        let mut new = json!({
            "metadata": old["metadata"].clone(),
            "spec": {"type": "ExternalName", "externalName": "example.com",
                     "clusterIP": old["spec"]["clusterIP"].clone(),
                     "clusterIPs": old["spec"]["clusterIPs"].clone(),
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                     "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}
        });
        let r = prepare_update(&mut new, &old, &cfg, &mut allocs, false).unwrap();
        assert_eq!(r.released_ips.len(), 1);
        allocs.commit(&r);
        assert_eq!(allocs.cluster_ips[0].used(), 0);
        assert!(new["spec"].get("clusterIP").is_none());
        assert!(new["spec"].get("ipFamilies").is_none());

        // ExternalName -> ClusterIP: a new IP.
        let old = new.clone();
        let mut new = old.clone();
        new["spec"]["type"] = json!("ClusterIP");
        let r = prepare_update(&mut new, &old, &cfg, &mut allocs, false).unwrap();
        assert_eq!(r.allocated_ips.len(), 1);
        allocs.commit(&r);

        // Changing the clusterIP is refused.
        let old = new.clone();
        let mut new = old.clone();
        // (an address of the static band: never picked at random here)
        new["spec"]["clusterIP"] = json!("10.0.0.2");
        new["spec"]["clusterIPs"] = json!(["10.0.0.2"]);
        let e = prepare_update(&mut new, &old, &cfg, &mut allocs, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "spec.clusterIPs[0]: Invalid value: [\"10.0.0.2\"]: may not change once set"
        );

        // Delete releases everything.
        let r = prepare_delete(&old, &allocs);
        allocs.commit(&r);
        assert_eq!(allocs.cluster_ips[0].used(), 0);
    }

    #[test]
    fn internal_error_status() {
        let cfg = ServiceConfig {
            service_cidrs: vec!["10.0.0.0/30".parse().unwrap()],
            node_port_range: 30000..=30001,
        };
        let mut allocs = ServiceAllocators::new(&cfg);
        for i in 0..2 {
            let mut s = json!({"metadata": {"name": format!("s{i}"), "namespace": "d"},
                "spec": {"ports": [{"port": 80}]}});
            let r = prepare_create(&mut s, &cfg, &mut allocs, false).unwrap();
            allocs.commit(&r);
        }
        let mut s = json!({"metadata": {"name": "s3", "namespace": "d"},
            "spec": {"ports": [{"port": 80}]}});
        let e = prepare_create(&mut s, &cfg, &mut allocs, false).unwrap_err();
        assert_eq!(
            e.message("s3"),
            "Internal error occurred: failed to allocate a serviceIP: range is full"
        );
        assert_eq!(e.to_status("s3")["code"], 500);
    }
}
