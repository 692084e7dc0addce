//! What a quota's status should say (`syncResourceQuota` in
//! `pkg/controller/resourcequota/resource_quota_controller.go`): `hard` is
//! the spec's, `used` the sum of what every matching object in the
//! namespace charges, with a zero for each hard resource nothing uses.

use chrono::{DateTime, Utc};
use quota::resource_list::{self, ResourceList};
use quota::Quantity;
use serde_json::{json, Value};

/// The kind a quota resource name counts, as (group, plural).
pub fn counted_kind(name: &str) -> Option<(String, String)> {
    if quota::pod::is_pod_resource(name) {
        return Some((String::new(), "pods".into()));
    }
    if matches!(name, "services.nodeports" | "services.loadbalancers") {
        return Some((String::new(), "services".into()));
    }
    if name == "requests.storage" || name.contains(".storageclass.storage.k8s.io/") {
        return Some((String::new(), "persistentvolumeclaims".into()));
    }
    if let Some(rest) = name.strip_prefix("count/") {
        return Some(match rest.split_once('.') {
            Some((plural, group)) => (group.to_string(), plural.to_string()),
            None => (String::new(), rest.to_string()),
        });
    }
    let legacy = [
        "services",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "replicationcontrollers",
        "resourcequotas",
    ];
    legacy
        .contains(&name)
        .then(|| (String::new(), name.to_string()))
}

/// `used` for the quota over the objects of one kind.
pub fn usage_of_kind(
    quota_obj: &Value,
    hard: &ResourceList,
    group: &str,
    plural: &str,
    objects: &[Value],
    now: DateTime<Utc>,
) -> ResourceList {
    let tracked = quota::tracked(quota_obj, hard, group, plural);
    let mut used = ResourceList::new();
    for obj in objects {
        if !quota::quota_matches(quota_obj, group, plural, obj) {
            continue;
        }
        let charge = quota::usage(group, plural, obj, now);
        used = resource_list::add(&used, &resource_list::mask(&charge, &tracked));
    }
    used
}

/// The status to write: `hard` from the spec, `used` with every hard name.
pub fn status(hard: &ResourceList, used: &ResourceList) -> Value {
    let mut full = resource_list::mask(used, hard.keys());
    for name in hard.keys() {
        full.entry(name.clone()).or_insert_with(Quantity::zero);
    }
    json!({"hard": resource_list::to_json(hard), "used": resource_list::to_json(&full)})
}

/// Whether the quota's status already says `want` (quantities compared
/// by value, so `1000m` equals `1`).
pub fn status_matches(current: Option<&Value>, want: &Value) -> bool {
    let Some(current) = current else {
        return false;
    };
    ["hard", "used"].iter().all(|k| {
        resource_list::equals(
            &resource_list::from_json(current.get(*k)),
            &resource_list::from_json(want.get(*k)),
        ) && current.get(*k).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_the_kinds_they_count() {
        let k = |n: &str| counted_kind(n).map(|(g, p)| format!("{g}/{p}"));
        assert_eq!(k("requests.cpu").as_deref(), Some("/pods"));
        assert_eq!(
            k("count/deployments.apps").as_deref(),
            Some("apps/deployments")
        );
        assert_eq!(k("count/configmaps").as_deref(), Some("/configmaps"));
        assert_eq!(k("secrets").as_deref(), Some("/secrets"));
        assert_eq!(k("services.nodeports").as_deref(), Some("/services"));
        assert_eq!(k("bogus"), None);
    }

    #[test]
    fn usage_sums_matching_objects_and_fills_zeros() {
        let q = json!({"spec": {"hard": {"pods": "4", "requests.cpu": "2", "services": "1"}}});
        let hard = resource_list::from_json(q.pointer("/spec/hard"));
        let pods = vec![
            json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}]}}),
            json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "250m"}}}]}}),
            json!({"spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Succeeded"}}),
        ];
        let used = usage_of_kind(&q, &hard, "", "pods", &pods, Utc::now());
        let st = status(&hard, &used);
        assert_eq!(
            st["used"],
            json!({"pods": "2", "requests.cpu": "750m", "services": "0"})
        );
        assert!(status_matches(Some(&st), &st));
        assert!(!status_matches(Some(&json!({"hard": st["hard"]})), &st));
    }

    #[test]
    fn scoped_quotas_count_only_their_pods() {
        let q = json!({"spec": {"hard": {"pods": "4"}, "scopes": ["BestEffort"]}});
        let hard = resource_list::from_json(q.pointer("/spec/hard"));
        let pods = vec![
            json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}]}}),
            json!({"spec": {"containers": [{"name": "a"}]}}),
        ];
        let used = usage_of_kind(&q, &hard, "", "pods", &pods, Utc::now());
        assert_eq!(resource_list::to_json(&used), json!({"pods": "1"}));
    }
}
