//! The node lifecycle decisions, as pure functions (kube-controller-manager's
//! `nodelifecycle` controller, `monitorNodeHealth`): when has a node stopped
//! reporting, what its conditions and taints become, which pods lose Ready.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, PodCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// Taint of a node whose Ready condition is Unknown.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint of a node whose Ready condition is False.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";

/// The conditions a kubelet posts; all of them turn Unknown when it goes silent.
const NODE_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

pub const REASON_UNKNOWN: &str = "NodeStatusUnknown";
pub const MESSAGE_UNKNOWN: &str = "Kubelet stopped posting node status.";
pub const REASON_NEVER: &str = "NodeStatusNeverUpdated";
pub const MESSAGE_NEVER: &str = "Kubelet never posted node status.";

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The node's Ready status ("True", "False", "Unknown"), "Unknown" when absent.
pub fn ready_status(node: &Node) -> &str {
    condition(node, "Ready").map_or("Unknown", |c| c.status.as_str())
}

/// The last sign of life: the newest of the Lease's renewTime and the Ready
/// condition's lastHeartbeatTime, or the node's creation when neither exists.
pub fn last_heard(node: &Node, lease: Option<&Lease>) -> Option<Timestamp> {
    let renewed = lease
        .and_then(|l| l.spec.as_ref())
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0);
    let heartbeat = condition(node, "Ready")
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
    renewed.max(heartbeat).or(created)
}

/// Whether the node has been silent for longer than `grace`
/// (`--node-monitor-grace-period`).
pub fn is_stale(node: &Node, lease: Option<&Lease>, now: Timestamp, grace: Duration) -> bool {
    let grace = SignedDuration::try_from(grace).unwrap_or(SignedDuration::MAX);
    last_heard(node, lease).is_some_and(|t| now.duration_since(t) > grace)
}

/// The conditions of a silent node: every kubelet condition Unknown, keeping
/// its last heartbeat; None when they already are.
pub fn unknown_conditions(node: &Node, now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for type_ in NODE_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == *type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some(REASON_UNKNOWN.into());
                c.message = Some(MESSAGE_UNKNOWN.into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: (*type_).into(),
                    status: "Unknown".into(),
                    reason: Some(REASON_NEVER.into()),
                    message: Some(MESSAGE_NEVER.into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conditions)
}

/// The taints the node should carry for its Ready status: `unreachable`
/// (Unknown) or `not-ready` (False), each as NoSchedule and NoExecute (with
/// `timeAdded`), none when Ready. Other taints are kept. None when the
/// current taints are already right.
pub fn taints(node: &Node, now: Timestamp) -> Option<Vec<Taint>> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let wanted_key = match ready_status(node) {
        "True" => None,
        "False" => Some(NOT_READY),
        _ => Some(UNREACHABLE),
    };
    let is_ours = |t: &Taint| t.key == UNREACHABLE || t.key == NOT_READY;
    let mut out: Vec<Taint> = current.iter().filter(|t| !is_ours(t)).cloned().collect();
    if let Some(key) = wanted_key {
        for effect in ["NoSchedule", "NoExecute"] {
            let kept = current
                .iter()
                .find(|t| t.key == key && t.effect == effect)
                .cloned();
            out.push(kept.unwrap_or_else(|| Taint {
                key: key.into(),
                effect: effect.into(),
                time_added: (effect == "NoExecute").then_some(Time(now)),
                value: None,
            }));
        }
    }
    let same = out.len() == current.len() && out.iter().all(|t| current.contains(t));
    (!same).then_some(out)
}

/// The pod's conditions with Ready set False (`MarkPodsNotReady`), or None
/// when it is not Ready now.
pub fn not_ready_conditions(pod: &Pod, now: Timestamp) -> Option<Vec<PodCondition>> {
    let mut conditions = pod.status.as_ref()?.conditions.clone()?;
    let ready = conditions
        .iter_mut()
        .find(|c| c.type_ == "Ready" && c.status == "True")?;
    ready.status = "False".into();
    ready.last_transition_time = Some(Time(now));
    Some(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn node(ready: &str, taints: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n1", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"taints": taints},
            "status": {"conditions": [
                {"type": "Ready", "status": ready, "reason": "KubeletReady",
                 "lastHeartbeatTime": "2026-01-01T00:01:00Z",
                 "lastTransitionTime": "2026-01-01T00:00:10Z"},
                {"type": "MemoryPressure", "status": "False",
                 "lastHeartbeatTime": "2026-01-01T00:01:00Z"}
            ]}
        }))
        .unwrap()
    }

    fn lease(renew: &str) -> Lease {
        serde_json::from_value(json!({"metadata": {"name": "n1"}, "spec": {"renewTime": renew}}))
            .unwrap()
    }

    #[test]
    fn stale_after_the_grace_period_since_the_newest_sign_of_life() {
        let n = node("True", json!(null));
        let l = lease("2026-01-01T00:02:00.000000Z");
        let grace = Duration::from_secs(40);
        assert_eq!(last_heard(&n, Some(&l)), Some(ts("2026-01-01T00:02:00Z")));
        assert!(!is_stale(&n, Some(&l), ts("2026-01-01T00:02:40Z"), grace));
        assert!(is_stale(&n, Some(&l), ts("2026-01-01T00:02:41Z"), grace));
        // Without a lease, the status heartbeat counts.
        assert!(is_stale(&n, None, ts("2026-01-01T00:01:41Z"), grace));
        assert!(!is_stale(&n, None, ts("2026-01-01T00:01:39Z"), grace));
    }

    #[test]
    fn silent_node_conditions_turn_unknown_once() {
        let now = ts("2026-01-01T00:05:00Z");
        let n = node("True", json!(null));
        let c = unknown_conditions(&n, now).unwrap();
        let ready = c.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some(REASON_UNKNOWN));
        assert_eq!(ready.message.as_deref(), Some(MESSAGE_UNKNOWN));
        assert_eq!(ready.last_transition_time, Some(Time(now)));
        assert_eq!(
            ready.last_heartbeat_time,
            Some(Time(ts("2026-01-01T00:01:00Z")))
        );
        let never = c.iter().find(|c| c.type_ == "PIDPressure").unwrap();
        assert_eq!(never.reason.as_deref(), Some(REASON_NEVER));
        assert_eq!(c.len(), 4);
        let mut after = n.clone();
        after.status.as_mut().unwrap().conditions = Some(c);
        assert_eq!(unknown_conditions(&after, now), None);
    }

    #[test]
    fn taints_follow_ready() {
        let now = ts("2026-01-01T00:05:00Z");
        let other = json!([{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]);
        let t = taints(&node("Unknown", other.clone()), now).unwrap();
        assert_eq!(t.len(), 3);
        assert!(t.iter().any(|t| t.key == "dedicated"));
        let exec = t
            .iter()
            .find(|t| t.key == UNREACHABLE && t.effect == "NoExecute")
            .unwrap();
        assert_eq!(exec.time_added, Some(Time(now)));
        let sched = t
            .iter()
            .find(|t| t.key == UNREACHABLE && t.effect == "NoSchedule")
            .unwrap();
        assert_eq!(sched.time_added, None);
        // Already tainted: nothing to do.
        let tainted = node("Unknown", serde_json::to_value(&t).unwrap());
        assert_eq!(taints(&tainted, now), None);
        // Ready again: only the other taint is left.
        let recovered = node("True", serde_json::to_value(&t).unwrap());
        let back = taints(&recovered, now).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].key, "dedicated");
        assert_eq!(taints(&node("True", other), now), None);
        // Ready False: not-ready instead of unreachable.
        let f = taints(&node("False", json!(null)), now).unwrap();
        assert!(f.iter().all(|t| t.key == NOT_READY));
    }

    #[test]
    fn ready_pods_lose_ready() {
        let now = ts("2026-01-01T00:05:00Z");
        let pod: Pod = serde_json::from_value(json!({"status": {"conditions": [
            {"type": "ContainersReady", "status": "True"},
            {"type": "Ready", "status": "True"}]}}))
        .unwrap();
        let c = not_ready_conditions(&pod, now).unwrap();
        assert_eq!(c[1].status, "False");
        assert_eq!(c[0].status, "True");
        let mut done = pod.clone();
        done.status.as_mut().unwrap().conditions = Some(c);
        assert_eq!(not_ready_conditions(&done, now), None);
    }
}
