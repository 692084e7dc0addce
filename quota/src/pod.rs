//! The pod evaluator (`pkg/quota/v1/evaluator/core/pods.go`): what a pod
//! charges against a quota, which quota scopes it falls in, and the
//! "must specify" constraint on cpu and memory.

use crate::quantity::Quantity;
use crate::resource_list::{self, ResourceList};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

/// The pod resources a quota can track by name (besides `requests.*` of
/// extended resources and `count/pods`).
const COMPUTE: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// Whether the pod still counts: not Succeeded/Failed, and not past the end
/// of its deletion grace period (`QuotaV1Pod`).
pub fn counts(pod: &Value, now: DateTime<Utc>) -> bool {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    let deleted = pod
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let grace = pod
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    match (deleted, grace) {
        (Some(at), Some(grace)) => now <= at.with_timezone(&Utc) + chrono::Duration::seconds(grace),
        _ => true,
    }
}

fn containers<'a>(pod: &'a Value, list: &str) -> impl Iterator<Item = &'a Value> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn resources(c: &Value, which: &str) -> ResourceList {
    resource_list::from_json(c.pointer(&format!("/resources/{which}")))
}

fn is_sidecar(c: &Value) -> bool {
    c.get("restartPolicy").and_then(Value::as_str) == Some("Always")
}

/// The pod's effective requests or limits (`PodRequests`/`PodLimits`): the
/// containers' sum plus sidecars, at least each init container's need while
/// it runs, plus the pod overhead.
pub fn effective(pod: &Value, which: &str) -> ResourceList {
    let mut total = ResourceList::new();
    for c in containers(pod, "containers") {
        total = resource_list::add(&total, &resources(c, which));
    }
    let mut sidecars = ResourceList::new();
    let mut init_peak = ResourceList::new();
    for c in containers(pod, "initContainers") {
        let own = resources(c, which);
        if is_sidecar(c) {
            total = resource_list::add(&total, &own);
            sidecars = resource_list::add(&sidecars, &own);
            init_peak = resource_list::max(&init_peak, &sidecars);
        } else {
            init_peak = resource_list::max(&init_peak, &resource_list::add(&own, &sidecars));
        }
    }
    total = resource_list::max(&total, &init_peak);
    let overhead = resource_list::from_json(pod.pointer("/spec/overhead"));
    if !overhead.is_empty() && !total.is_empty() {
        total = resource_list::add(&total, &resource_list::mask(&overhead, total.keys()));
    }
    total
}

/// What the pod charges (`PodUsageFunc`).
pub fn usage(pod: &Value, now: DateTime<Utc>) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert("count/pods".into(), Quantity::from_units(1));
    if !counts(pod, now) {
        return out;
    }
    out.insert("pods".into(), Quantity::from_units(1));
    for (name, q) in effective(pod, "requests") {
        match name.as_str() {
            "cpu" | "memory" | "ephemeral-storage" => {
                out.insert(name.clone(), q);
                out.insert(format!("requests.{name}"), q);
            }
            _ => {
                out.insert(format!("requests.{name}"), q);
            }
        }
    }
    for (name, q) in effective(pod, "limits") {
        if matches!(name.as_str(), "cpu" | "memory" | "ephemeral-storage") {
            out.insert(format!("limits.{name}"), q);
        }
    }
    out
}

/// BestEffort QoS: no container asks for or limits cpu or memory.
fn best_effort(pod: &Value) -> bool {
    containers(pod, "containers")
        .chain(containers(pod, "initContainers"))
        .all(|c| {
            ["requests", "limits"].iter().all(|which| {
                let list = resources(c, which);
                !list.contains_key("cpu") && !list.contains_key("memory")
            })
        })
}

fn cross_namespace_affinity(pod: &Value) -> bool {
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let Some(a) = pod.pointer(&format!("/spec/affinity/{kind}")) else {
            return false;
        };
        let required = a
            .get("requiredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        let preferred = a
            .get("preferredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|w| w.get("podAffinityTerm"));
        required.chain(preferred).any(|t| {
            t.get("namespaceSelector").is_some()
                || t.get("namespaces")
                    .and_then(Value::as_array)
                    .is_some_and(|n| !n.is_empty())
        })
    })
}

/// Whether the pod falls in one scope selector requirement
/// (`podMatchesScopeFunc`).
pub fn matches_scope(pod: &Value, scope: &str, operator: &str, values: &[String]) -> bool {
    let in_scope = match scope {
        "Terminating" => pod
            .pointer("/spec/activeDeadlineSeconds")
            .is_some_and(|v| !v.is_null()),
        "NotTerminating" => pod
            .pointer("/spec/activeDeadlineSeconds")
            .is_none_or(Value::is_null),
        "BestEffort" => best_effort(pod),
        "NotBestEffort" => !best_effort(pod),
        "CrossNamespacePodAffinity" => cross_namespace_affinity(pod),
        "PriorityClass" => {
            let class = pod
                .pointer("/spec/priorityClassName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return match operator {
                "In" => values.iter().any(|v| v == class),
                "NotIn" => !values.iter().any(|v| v == class),
                "Exists" => !class.is_empty(),
                "DoesNotExist" => class.is_empty(),
                _ => false,
            };
        }
        _ => return false,
    };
    match operator {
        "DoesNotExist" | "NotIn" => !in_scope,
        _ => in_scope,
    }
}

/// The resources a scope lets a quota track: BestEffort quotas count pods
/// only; the other scopes count pods and compute resources.
pub fn scope_tracks(scope: &str, resource: &str) -> bool {
    match scope {
        "BestEffort" => matches!(resource, "pods" | "count/pods"),
        _ => is_pod_resource(resource),
    }
}

/// Whether a quota resource name is one the pod evaluator produces.
pub fn is_pod_resource(name: &str) -> bool {
    matches!(name, "pods" | "count/pods" | "ephemeral-storage")
        || COMPUTE.contains(&name)
        || name.starts_with("requests.")
        || name.starts_with("limits.")
}

/// `Constraints`: a quota on cpu or memory makes every container state
/// that request or limit, as kube has required since before QoS existed.
pub fn constraints(pod: &Value, tracked: &[String]) -> Result<(), String> {
    let required: BTreeSet<&str> = tracked
        .iter()
        .map(String::as_str)
        .filter(|r| COMPUTE.contains(r))
        .collect();
    if required.is_empty() {
        return Ok(());
    }
    let mut missing = BTreeSet::new();
    for c in containers(pod, "containers").chain(containers(pod, "initContainers")) {
        let requests = resources(c, "requests");
        let limits = resources(c, "limits");
        let mut has = BTreeSet::new();
        for r in ["cpu", "memory"] {
            if requests.contains_key(r) {
                has.insert(r.to_string());
                has.insert(format!("requests.{r}"));
            }
            if limits.contains_key(r) {
                has.insert(format!("limits.{r}"));
            }
        }
        missing.extend(required.iter().filter(|r| !has.contains(**r)).copied());
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "must specify {}",
        missing.into_iter().collect::<Vec<_>>().join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})
    }

    #[test]
    fn usage_sums_containers_and_keeps_init_peaks() {
        let mut p = pod(json!([
            {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m"}}},
            {"name": "b", "resources": {"requests": {"cpu": "400m"}}}
        ]));
        p["spec"]["initContainers"] =
            json!([{"name": "i", "resources": {"requests": {"cpu": "1", "memory": "32Mi"}}}]);
        let u = resource_list::to_json(&usage(&p, Utc::now()));
        assert_eq!(
            u,
            json!({"count/pods": "1", "cpu": "1", "limits.cpu": "200m", "memory": "64Mi",
                   "pods": "1", "requests.cpu": "1", "requests.memory": "64Mi"})
        );
    }

    #[test]
    fn finished_pods_count_only_as_objects() {
        let mut p = pod(json!([{"name": "a", "resources": {"requests": {"cpu": "1"}}}]));
        p["status"] = json!({"phase": "Succeeded"});
        let u = resource_list::to_json(&usage(&p, Utc::now()));
        assert_eq!(u, json!({"count/pods": "1"}));
    }

    #[test]
    fn scopes() {
        let be = pod(json!([{"name": "a"}]));
        let burstable = pod(json!([{"name": "a", "resources": {"requests": {"cpu": "1"}}}]));
        assert!(matches_scope(&be, "BestEffort", "Exists", &[]));
        assert!(!matches_scope(&burstable, "BestEffort", "Exists", &[]));
        assert!(matches_scope(&burstable, "NotBestEffort", "Exists", &[]));
        assert!(matches_scope(&be, "NotTerminating", "Exists", &[]));
        let mut high = be.clone();
        high["spec"]["priorityClassName"] = json!("high");
        let vals = vec!["high".to_string()];
        assert!(matches_scope(&high, "PriorityClass", "In", &vals));
        assert!(!matches_scope(&be, "PriorityClass", "In", &vals));
        assert!(matches_scope(&be, "PriorityClass", "DoesNotExist", &[]));
    }

    #[test]
    fn cpu_and_memory_quotas_require_explicit_values() {
        let p = pod(json!([{"name": "a", "resources": {"requests": {"cpu": "1"}}}]));
        let tracked: Vec<String> = ["pods", "requests.cpu", "limits.memory", "limits.cpu"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            constraints(&p, &tracked),
            Err("must specify limits.cpu,limits.memory".to_string())
        );
        assert_eq!(constraints(&p, &tracked[..2]), Ok(()));
    }
}
