//! The evaluators for objects other than pods (`pkg/quota/v1/evaluator/core/`
//! services.go, persistent_volume_claims.go, and the generic object count).

use crate::quantity::Quantity;
use crate::resource_list::{self, ResourceList};
use serde_json::Value;

/// `count/<resource>` for the core group, `count/<resource>.<group>` otherwise.
pub fn count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

/// The pre-`count/` names kube still accepts for core kinds.
fn legacy_name(group: &str, plural: &str) -> Option<&'static str> {
    if !group.is_empty() {
        return None;
    }
    Some(match plural {
        "services" => "services",
        "secrets" => "secrets",
        "configmaps" => "configmaps",
        "persistentvolumeclaims" => "persistentvolumeclaims",
        "replicationcontrollers" => "replicationcontrollers",
        "resourcequotas" => "resourcequotas",
        _ => return None,
    })
}

const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// Whether `name` is a quota resource this kind's evaluator produces.
pub fn evaluates(group: &str, plural: &str, name: &str) -> bool {
    if name == count_name(group, plural) || legacy_name(group, plural) == Some(name) {
        return true;
    }
    match (group, plural) {
        ("", "services") => matches!(name, "services.nodeports" | "services.loadbalancers"),
        ("", "persistentvolumeclaims") => {
            name == "requests.storage" || name.contains(STORAGE_CLASS_SUFFIX)
        }
        _ => false,
    }
}

/// What the object charges.
pub fn usage(group: &str, plural: &str, obj: &Value) -> ResourceList {
    let one = Quantity::from_units(1);
    let mut out = ResourceList::new();
    out.insert(count_name(group, plural), one);
    if let Some(legacy) = legacy_name(group, plural) {
        out.insert(legacy.to_string(), one);
    }
    match (group, plural) {
        ("", "services") => out.extend(service_usage(obj)),
        ("", "persistentvolumeclaims") => out.extend(claim_usage(obj)),
        _ => {}
    }
    out
}

fn service_usage(svc: &Value) -> ResourceList {
    let mut out = ResourceList::new();
    let kind = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ports = i64::try_from(ports).unwrap_or(i64::MAX);
    match kind {
        "NodePort" => {
            out.insert("services.nodeports".into(), Quantity::from_units(ports));
        }
        "LoadBalancer" => {
            out.insert("services.loadbalancers".into(), Quantity::from_units(1));
            let allocates = svc
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let node_ports = if allocates { ports } else { 0 };
            out.insert(
                "services.nodeports".into(),
                Quantity::from_units(node_ports),
            );
        }
        _ => {}
    }
    out
}

fn claim_usage(pvc: &Value) -> ResourceList {
    let mut out = ResourceList::new();
    let requests = resource_list::from_json(pvc.pointer("/spec/resources/requests"));
    let storage = requests.get("storage").copied();
    if let Some(q) = storage {
        out.insert("requests.storage".into(), q);
    }
    let class = pvc
        .pointer("/spec/storageClassName")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    if let Some(class) = class {
        let prefix = format!("{class}{STORAGE_CLASS_SUFFIX}");
        out.insert(
            format!("{prefix}persistentvolumeclaims"),
            Quantity::from_units(1),
        );
        if let Some(q) = storage {
            out.insert(format!("{prefix}requests.storage"), q);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn services_count_node_ports_and_load_balancers() {
        let svc = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}});
        let u = resource_list::to_json(&usage("", "services", &svc));
        assert_eq!(
            u,
            json!({"count/services": "1", "services": "1", "services.loadbalancers": "1",
                   "services.nodeports": "2"})
        );
    }

    #[test]
    fn claims_charge_storage_per_class() {
        let pvc = json!({"spec": {"storageClassName": "fast",
            "resources": {"requests": {"storage": "1Gi"}}}});
        let u = resource_list::to_json(&usage("", "persistentvolumeclaims", &pvc));
        assert_eq!(u["requests.storage"], "1Gi");
        assert_eq!(
            u["fast.storageclass.storage.k8s.io/requests.storage"],
            "1Gi"
        );
        assert_eq!(u["persistentvolumeclaims"], "1");
    }

    #[test]
    fn other_kinds_count_as_objects() {
        let u = usage("apps", "deployments", &json!({}));
        assert_eq!(
            resource_list::to_json(&u),
            json!({"count/deployments.apps": "1"})
        );
        assert!(evaluates("apps", "deployments", "count/deployments.apps"));
        assert!(!evaluates("apps", "deployments", "pods"));
    }
}
