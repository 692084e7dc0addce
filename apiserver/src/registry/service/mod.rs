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
//!   [`defaults::drop_type_dependent_fields`], [`validation::validate_service_update`];
//! * delete: [`allocation::ServiceAllocators::release_for_delete`].
//!
//! [`prepare_create`], [`prepare_update`] and [`prepare_delete`] run those
//! steps. Allocation reserves new IPs/ports in the in-memory index at once
//! and defers releases. [`ranges::Allocators`] is the one caller on the live
//! write path: it persists the [`allocation::Reservation`] (one key per IP /
//! port) in the Service's transaction and settles the index once the write
//! is stored or fails.

pub mod allocation;
pub mod defaults;
pub mod ranges;
pub mod validation;

use crate::rest::status::ApiError;
use crate::validation::field_error::FieldError;
use allocation::{IpFamily, Reservation, ServiceAllocators};
use ipnet::IpNet;
use serde_json::{Map, Value};
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

impl From<&crate::config::ApiConfig> for ServiceConfig {
    fn from(config: &crate::config::ApiConfig) -> Self {
        ServiceConfig {
            service_cidrs: config.service_cidrs.clone(),
            node_port_range: config.node_port_range.clone(),
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

/// Checks `--service-cidr` as kube-apiserver checks
/// `--service-cluster-ip-range`: one range, or two of different families
/// (a dual-stack cluster, the first family being the default).
pub fn check_service_cidrs(cidrs: &[IpNet]) -> Result<(), String> {
    match cidrs {
        [] => Err("--service-cidr: at least one range is required".into()),
        [_] => Ok(()),
        [a, b] if IpFamily::of_net(a) == IpFamily::of_net(b) => {
            Err("--service-cidr[0] and --service-cidr[1] must be of different IP family".into())
        }
        [_, _] => Ok(()),
        _ => Err("--service-cidr must not contain more than two entries".into()),
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
    /// The `kind: Status` error for the Service `name`.
    pub fn into_api_error(self, name: &str) -> ApiError {
        match self {
            ServiceError::Invalid(errs) => ApiError::invalid_fields("Service", name, errs),
            ServiceError::Internal(msg) => ApiError::internal(msg),
        }
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
) -> Result<Reservation, ServiceError> {
    defaults::set_defaults(svc);
    defaults::normalize_cluster_ips(svc, None);
    defaults::init_ip_family_fields(svc, None, cfg).map_err(ServiceError::Invalid)?;
    let r = allocs.allocate_create(svc)?;
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
) -> Result<Reservation, ServiceError> {
    defaults::set_defaults(new);
    defaults::patch_allocated_values(new, old);
    defaults::normalize_cluster_ips(new, Some(old));
    defaults::init_ip_family_fields(new, Some(old), cfg).map_err(ServiceError::Invalid)?;
    let r = allocs.allocate_update(new, old)?;
    // (The stored status is kept by the generic write path, as
    // PrepareForUpdate keeps it.)
    defaults::drop_type_dependent_fields(new, old);
    let errs = validation::validate_service_update(new, old, cfg);
    if !errs.is_empty() {
        allocs.revert(&r);
        return Err(ServiceError::Invalid(errs));
    }
    Ok(r)
}

/// What deleting `old` releases.
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
    use super::ranges::Allocators;
    use super::*;
    use crate::registry::{Pending, WriteOp};
    use crate::rest::object_store::SideEffects;
    use crate::rest::status::ApiResult;
    use serde_json::json;

    fn cfg() -> ServiceConfig {
        ServiceConfig::default()
    }

    /// A write that is stored: its commit actions run. Returns the keys it
    /// added to its transaction.
    fn stored(p: ApiResult<Pending>) -> SideEffects {
        let p = p.unwrap_or_else(|e| panic!("{}", e.message));
        let side = p.side_effects.clone();
        p.commit();
        side
    }

    fn create(allocs: &Allocators, svc: &mut Value) -> ApiResult<Pending> {
        allocs.begin_write(WriteOp::Create(svc))
    }

    fn update(allocs: &Allocators, new: &mut Value, old: &Value) -> ApiResult<Pending> {
        allocs.begin_write(WriteOp::Update {
            old,
            new,
            subresource: None,
        })
    }

    #[test]
    fn create_pipeline() {
        let allocs = Allocators::new(cfg());
        let mut svc = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "selector": {"app": "web"},
                     "ports": [{"port": 80}]}
        });
        let side = stored(create(&allocs, &mut svc));
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
        // One key per allocated value, created in the Service's transaction.
        assert_eq!(side.puts.len(), 2);
        assert_eq!(side.compares.len(), 2);

        // A second Service asking for the same nodePort.
        let mut other = json!({
            "metadata": {"name": "other", "namespace": "default"},
            "spec": {"type": "NodePort", "ports": [{"port": 81, "nodePort": np}]}
        });
        let e = create(&allocs, &mut other).err().unwrap();
        assert_eq!(
            e.message,
            format!("Service \"other\" is invalid: spec.ports[0].nodePort: Invalid value: {np}: provided port is already allocated")
        );
        assert_eq!(e.code.as_u16(), 422);

        // Invalid Service: allocation is reverted.
        let used = allocs.snapshot().cluster_ips[0].used();
        let mut bad = json!({
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"ports": [{"port": 0}]}
        });
        let e = create(&allocs, &mut bad).err().unwrap();
        assert_eq!(
            e.message,
            "Service \"bad\" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive]"
        );
        assert_eq!(allocs.snapshot().cluster_ips[0].used(), used);
    }

    #[test]
    fn update_pipeline_type_changes() {
        let allocs = Allocators::new(cfg());
        let mut svc = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                     "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}
        });
        stored(create(&allocs, &mut svc));
        assert_eq!(allocs.snapshot().node_ports.used(), 3);
        let hc = svc["spec"]["healthCheckNodePort"].as_u64().unwrap();
        assert!(hc > 0);
        svc["metadata"]["resourceVersion"] = json!("1");

        // LoadBalancer -> ClusterIP: node ports and the health check port go.
        let mut new = svc.clone();
        new["spec"]["type"] = json!("ClusterIP");
        let side = stored(update(&allocs, &mut new, &svc));
        assert_eq!(side.deletes.len(), 3);
        assert!(side.puts.is_empty());
        assert_eq!(allocs.snapshot().node_ports.used(), 0);
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
        let side = stored(update(&allocs, &mut new, &old));
        assert_eq!(side.deletes.len(), 1);
        assert_eq!(allocs.snapshot().cluster_ips[0].used(), 0);
        assert!(new["spec"].get("clusterIP").is_none());
        assert!(new["spec"].get("ipFamilies").is_none());

        // ExternalName -> ClusterIP: a new IP.
        let old = new.clone();
        let mut new = old.clone();
        new["spec"]["type"] = json!("ClusterIP");
        let side = stored(update(&allocs, &mut new, &old));
        assert_eq!(side.puts.len(), 1);

        // Changing the clusterIP is refused.
        let old = new.clone();
        let mut new = old.clone();
        // (an address of the static band: never picked at random here)
        new["spec"]["clusterIP"] = json!("10.0.0.2");
        new["spec"]["clusterIPs"] = json!(["10.0.0.2"]);
        let e = update(&allocs, &mut new, &old).err().unwrap();
        assert_eq!(
            e.message,
            "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: [\"10.0.0.2\"]: may not change once set"
        );

        // Delete releases everything.
        stored(allocs.begin_write(WriteOp::Delete(&old)));
        assert_eq!(allocs.snapshot().cluster_ips[0].used(), 0);
    }

    #[test]
    fn service_cidr_flag() {
        let nets = |s: &[&str]| -> Vec<IpNet> { s.iter().map(|c| c.parse().unwrap()).collect() };
        assert!(check_service_cidrs(&nets(&["127.96.0.0/16"])).is_ok());
        assert!(check_service_cidrs(&nets(&["fd00:96::/108", "127.96.0.0/16"])).is_ok());
        assert_eq!(
            check_service_cidrs(&nets(&["127.96.0.0/16", "127.97.0.0/16"])).unwrap_err(),
            "--service-cidr[0] and --service-cidr[1] must be of different IP family"
        );
        assert!(
            check_service_cidrs(&nets(&["127.96.0.0/16", "fd00::/108", "fd01::/108"])).is_err()
        );
        assert!(check_service_cidrs(&[]).is_err());
    }

    #[test]
    fn internal_error_status() {
        let allocs = Allocators::new(ServiceConfig {
            service_cidrs: vec!["10.0.0.0/30".parse().unwrap()],
            node_port_range: 30000..=30001,
        });
        for i in 0..2 {
            let mut s = json!({"metadata": {"name": format!("s{i}"), "namespace": "d"},
                "spec": {"ports": [{"port": 80}]}});
            stored(create(&allocs, &mut s));
        }
        let mut s = json!({"metadata": {"name": "s3", "namespace": "d"},
            "spec": {"ports": [{"port": 80}]}});
        let e = create(&allocs, &mut s).err().unwrap();
        assert_eq!(
            e.message,
            "Internal error occurred: failed to allocate a serviceIP: range is full"
        );
        assert_eq!(e.code.as_u16(), 500);
        assert_eq!(e.reason, "InternalError");
    }
}
