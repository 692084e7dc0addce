//! The two system PriorityClasses kube-apiserver creates at start
//! (`pkg/apis/scheduling/types.go`, `SystemPriorityClasses`).

use serde_json::{json, Value};

/// The highest priority a user class may have; the system classes sit
/// above it.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;
pub const SYSTEM_CRITICAL_PRIORITY: i64 = 2 * HIGHEST_USER_DEFINABLE_PRIORITY;

pub fn objects() -> Vec<Value> {
    [
        (
            "system-node-critical",
            SYSTEM_CRITICAL_PRIORITY + 1000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
        (
            "system-cluster-critical",
            SYSTEM_CRITICAL_PRIORITY,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
    ]
    .into_iter()
    .map(|(name, value, description)| {
        json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "globalDefault": false,
            "description": description,
            "preemptionPolicy": "PreemptLowerPriority",
        })
    })
    .collect()
}
