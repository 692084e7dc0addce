//! The `endpoints.kubernetes.io/last-change-trigger-time` annotation, computed
//! as kube-controller-manager's TriggerTimeTracker does (used by both the
//! Endpoints and the EndpointSlice controllers).
//!
//! Why: consumers (kube-proxy latency metrics, tests) read this annotation to
//! know when the change that caused this Endpoints write happened. The time is
//! the earliest trigger (a pod's Ready transition, the Service's creation)
//! that changed since the previous sync; on a Service's first sync it is the
//! Service's creation time; with no changed trigger it is absent.

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;
use std::collections::HashMap;
use std::sync::Mutex;

pub const ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

#[derive(Default, Clone)]
struct ServiceState {
    last_pod_trigger_times: HashMap<String, Timestamp>,
    last_service_trigger_time: Option<Timestamp>,
}

/// Per-Service memory of the trigger times seen at the last sync.
#[derive(Default)]
pub struct TriggerTimeTracker {
    states: Mutex<HashMap<(String, String), ServiceState>>,
}

/// A pod's trigger time: the last transition of its Ready condition.
fn pod_trigger_time(pod: &Pod) -> Option<Timestamp> {
    crate::util::pod::ready_condition(pod)?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

fn min_opt(a: Option<Timestamp>, b: Timestamp) -> Option<Timestamp> {
    Some(match a {
        Some(a) if a < b => a,
        _ => b,
    })
}

impl TriggerTimeTracker {
    /// The trigger time for this sync of `service` given the pods it selects
    /// (None: leave the annotation out), and remember the inputs for the next.
    pub fn compute(&self, service: &Service, pods: &[&Pod]) -> Option<Timestamp> {
        let key = (
            service.metadata.namespace.clone().unwrap_or_default(),
            service.metadata.name.clone().unwrap_or_default(),
        );
        let mut states = match self.states.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let was_known = states.contains_key(&key);
        let state = states.entry(key).or_default();
        let mut min_changed: Option<Timestamp> = None;
        let mut pod_times = HashMap::new();
        for pod in pods {
            if let Some(t) = pod_trigger_time(pod) {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let changed = state
                    .last_pod_trigger_times
                    .get(&name)
                    .is_none_or(|prev| t > *prev);
                if changed {
                    min_changed = min_opt(min_changed, t);
                }
                pod_times.insert(name, t);
            }
        }
        let svc_time = service.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(t) = svc_time {
            if state.last_service_trigger_time.is_none_or(|prev| t > prev) {
                min_changed = min_opt(min_changed, t);
            }
        }
        state.last_pod_trigger_times = pod_times;
        state.last_service_trigger_time = svc_time;
        if !was_known {
            return svc_time;
        }
        min_changed
    }

    pub fn forget(&self, namespace: &str, name: &str) {
        if let Ok(mut s) = self.states.lock() {
            s.remove(&(namespace.to_string(), name.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, t: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t}]}}))
        .unwrap()
    }

    #[test]
    fn first_sync_uses_service_creation_then_changed_pods() {
        let svc: Service =
            serde_json::from_value(json!({"metadata": {"name": "s", "namespace": "d",
            "creationTimestamp": "2024-01-01T00:00:00Z"}}))
            .unwrap();
        let tr = TriggerTimeTracker::default();
        let a = pod("a", "2024-01-01T00:00:05Z");
        let t = tr.compute(&svc, &[&a]);
        assert_eq!(t.unwrap().to_string(), "2024-01-01T00:00:00Z");
        // Nothing changed: no trigger time.
        assert_eq!(tr.compute(&svc, &[&a]), None);
        let a2 = pod("a", "2024-01-01T00:00:09Z");
        let b = pod("b", "2024-01-01T00:00:07Z");
        let t = tr.compute(&svc, &[&a2, &b]);
        assert_eq!(t.unwrap().to_string(), "2024-01-01T00:00:07Z");
    }
}
