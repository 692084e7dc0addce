//! ReplicaSet decisions (kube-controller-manager's `replica_set.go` and
//! `controller_utils.go`): which pods count, which to delete first, what the
//! status says, and the pod a template makes.

use crate::util::{owner, pod, selector};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

/// At most this many pods are created or deleted per sync (`burstReplicas`).
pub const BURST_REPLICAS: usize = 500;

pub fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(1)
}

pub fn min_ready_seconds(rs: &ReplicaSet) -> i32 {
    rs.spec.min_ready_seconds.unwrap_or(0)
}

/// Positive: pods to delete; negative: pods to create (capped at the burst).
pub fn diff(active: usize, rs: &ReplicaSet) -> i64 {
    let d = active as i64 - i64::from(spec_replicas(rs));
    d.clamp(-(BURST_REPLICAS as i64), BURST_REPLICAS as i64)
}

/// `getPodsToDelete` ranking: the pods cheapest to lose first — unscheduled,
/// then pending, not ready, ready for the shortest time, most restarted, newest.
pub fn pods_to_delete<'a>(pods: &[&'a Pod], n: usize) -> Vec<&'a Pod> {
    let mut ranked: Vec<&Pod> = pods.to_vec();
    let phase_rank = |p: &Pod| match pod::phase(p) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    };
    let ready_since = |p: &Pod| {
        pod::ready_condition(p)
            .filter(|c| c.status == "True")
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| std::cmp::Reverse(t.0))
    };
    ranked.sort_by_key(|p| {
        (
            pod::node_name(p).is_some(),
            phase_rank(p),
            pod::is_ready(p),
            ready_since(p),
            std::cmp::Reverse(pod::restart_count(p)),
            std::cmp::Reverse(p.metadata.creation_timestamp.as_ref().map(|t| t.0)),
        )
    });
    ranked.truncate(n);
    ranked
}

/// `calculateStatus`: counts over the active pods the ReplicaSet owns.
pub fn status(
    rs: &ReplicaSet,
    pods: &[&Pod],
    manage_error: Option<&str>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let tmpl_labels = rs
        .spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut st = rs.status.clone().unwrap_or_default();
    let fully = pods
        .iter()
        .filter(|p| selector::map_matches(&tmpl_labels, p.metadata.labels.as_ref()))
        .count();
    let ready = pods.iter().filter(|p| pod::is_ready(p)).count();
    let available = pods
        .iter()
        .filter(|p| pod::is_available(p, min_ready_seconds(rs), now))
        .count();
    let has_failure = st
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_.as_deref() == Some("ReplicaFailure"));
    match manage_error {
        Some(msg) if !has_failure => {
            let reason = if (pods.len() as i64) < i64::from(spec_replicas(rs)) {
                "FailedCreate"
            } else {
                "FailedDelete"
            };
            st.conditions
                .get_or_insert_with(Vec::new)
                .push(ReplicaSetCondition {
                    type_: Some("ReplicaFailure".into()),
                    status: Some("True".into()),
                    reason: Some(reason.into()),
                    message: Some(msg.to_string()),
                    last_transition_time: Some(Time(now)),
                });
        }
        None if has_failure => {
            if let Some(cs) = st.conditions.as_mut() {
                cs.retain(|c| c.type_.as_deref() != Some("ReplicaFailure"));
            }
        }
        _ => {}
    }
    st.replicas = pods.len() as i32;
    st.fully_labeled_replicas = Some(fully as i32);
    st.ready_replicas = Some(ready as i32);
    st.available_replicas = Some(available as i32);
    st.observed_generation = rs.metadata.generation;
    st
}

/// The pod the template makes (`GetPodFromTemplate`).
pub fn pod_from_template(rs: &ReplicaSet) -> Option<Pod> {
    let tmpl = rs.spec.template.as_ref()?;
    let tm = tmpl.metadata.clone().unwrap_or_default();
    let name = rs.metadata.name.clone()?;
    Some(Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: rs.metadata.namespace.clone(),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![owner::controller_ref(
                "apps/v1",
                "ReplicaSet",
                &rs.metadata,
            )]),
            ..Default::default()
        },
        spec: tmpl.spec.clone(),
        status: None,
    })
}

/// Whether the owned/orphan pod should count for this ReplicaSet (and
/// whether it must be adopted or released first).
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    Owned,
    Adopt,
    Release,
    Ignore,
}

pub fn claim(rs: &ReplicaSet, p: &Pod) -> Claim {
    let uid = rs.metadata.uid.as_deref().unwrap_or_default();
    let sel = &rs.spec.selector;
    let matches = !selector::is_empty(sel) && selector::matches(sel, p.metadata.labels.as_ref());
    match owner::controller_of(&p.metadata) {
        Some(o) if o.uid == uid => {
            if matches {
                Claim::Owned
            } else {
                Claim::Release
            }
        }
        Some(_) => Claim::Ignore,
        None if matches
            && rs.metadata.deletion_timestamp.is_none()
            && p.metadata.deletion_timestamp.is_none() =>
        {
            Claim::Adopt
        }
        None => Claim::Ignore,
    }
}

/// Whether status differs in what the controller sets.
pub fn status_changed(old: Option<&ReplicaSetStatus>, new: &ReplicaSetStatus) -> bool {
    let Some(old) = old else { return true };
    serde_json::to_value(old).ok() != serde_json::to_value(new).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs() -> ReplicaSet {
        serde_json::from_value(json!({"metadata": {"name": "web-abc", "namespace": "d", "uid": "rs-uid", "generation": 2},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "f"}, "annotations": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}))
        .unwrap()
    }

    fn pod(
        name: &str,
        labels: serde_json::Value,
        status: serde_json::Value,
        owner: Option<&str>,
    ) -> Pod {
        let mut meta = json!({"name": name, "namespace": "d", "labels": labels, "creationTimestamp": "2024-01-01T00:00:00Z"});
        if let Some(o) = owner {
            meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": o, "controller": true}]);
        }
        serde_json::from_value(json!({"metadata": meta, "status": status})).unwrap()
    }

    #[test]
    fn pod_from_template_has_owner_labels_generate_name() {
        let p = pod_from_template(&rs()).unwrap();
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(p.metadata.labels.unwrap()["tier"], "f");
        let o = &p.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (
                o.kind.as_str(),
                o.uid.as_str(),
                o.controller,
                o.block_owner_deletion
            ),
            ("ReplicaSet", "rs-uid", Some(true), Some(true))
        );
    }

    #[test]
    fn status_counts() {
        let r = rs();
        let ready = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]});
        let a = pod(
            "a",
            json!({"app": "web", "tier": "f"}),
            ready.clone(),
            Some("rs-uid"),
        );
        let b = pod("b", json!({"app": "web"}), ready, Some("rs-uid"));
        let c = pod(
            "c",
            json!({"app": "web", "tier": "f"}),
            json!({"phase": "Pending"}),
            Some("rs-uid"),
        );
        let st = status(&r, &[&a, &b, &c], None, Timestamp::now());
        assert_eq!(
            (
                st.replicas,
                st.fully_labeled_replicas,
                st.ready_replicas,
                st.available_replicas,
                st.observed_generation
            ),
            (3, Some(2), Some(2), Some(2), Some(2))
        );
        let st = status(&r, &[&a], Some("boom"), Timestamp::now());
        assert_eq!(
            st.conditions.unwrap()[0].reason.as_deref(),
            Some("FailedCreate")
        );
    }

    #[test]
    fn deletes_not_ready_and_unscheduled_first() {
        let ready =
            json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
        let a = pod("a", json!({}), ready.clone(), None);
        let b = pod("b", json!({}), json!({"phase": "Pending"}), None);
        let c = pod("c", json!({}), ready, None);
        let chosen: Vec<_> = pods_to_delete(&[&a, &b, &c], 1)
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(chosen, ["b"]);
    }

    #[test]
    fn claims() {
        let r = rs();
        assert_eq!(
            claim(
                &r,
                &pod("a", json!({"app": "web"}), json!({}), Some("rs-uid"))
            ),
            Claim::Owned
        );
        assert_eq!(
            claim(
                &r,
                &pod("a", json!({"app": "x"}), json!({}), Some("rs-uid"))
            ),
            Claim::Release
        );
        assert_eq!(
            claim(&r, &pod("a", json!({"app": "web"}), json!({}), None)),
            Claim::Adopt
        );
        assert_eq!(
            claim(
                &r,
                &pod("a", json!({"app": "web"}), json!({}), Some("other"))
            ),
            Claim::Ignore
        );
        assert_eq!(diff(1, &r), -2);
    }
}
