//! ResourceQuota evaluation shared by kube-apiserver's side (the
//! ResourceQuota admission plugin, which charges each create against the
//! namespace's quotas) and kube-controller-manager's side (the resourcequota
//! controller, which recounts usage). Both must compute exactly the same
//! usage for an object, so the evaluators live here once
//! (`pkg/quota/v1/evaluator/core/` in kubernetes/kubernetes).

pub mod object;
pub mod pod;
pub mod quantity;
pub mod resource_list;

pub use quantity::Quantity;
pub use resource_list::ResourceList;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One scope requirement of a quota: `spec.scopes` entries (as `Exists`)
/// and `spec.scopeSelector.matchExpressions`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeRequirement {
    pub scope: String,
    pub operator: String,
    pub values: Vec<String>,
}

pub fn scope_requirements(quota: &Value) -> Vec<ScopeRequirement> {
    let scopes = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| ScopeRequirement {
            scope: s.to_string(),
            operator: "Exists".to_string(),
            values: Vec::new(),
        });
    let selected = quota
        .pointer("/spec/scopeSelector/matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| ScopeRequirement {
            scope: str_at(e, "scopeName"),
            operator: str_at(e, "operator"),
            values: e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        });
    scopes.chain(selected).collect()
}

fn str_at(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn is_pods(group: &str, plural: &str) -> bool {
    group.is_empty() && plural == "pods"
}

/// Whether a quota applies to the object: an unscoped quota applies to
/// everything; a scoped one only to pods in every one of its scopes.
pub fn quota_matches(quota: &Value, group: &str, plural: &str, obj: &Value) -> bool {
    let scopes = scope_requirements(quota);
    if scopes.is_empty() {
        return true;
    }
    is_pods(group, plural)
        && scopes
            .iter()
            .all(|s| pod::matches_scope(obj, &s.scope, &s.operator, &s.values))
}

/// The names in `hard` the object's kind is charged under, narrowed by the
/// quota's scopes (`MatchingResources`).
pub fn tracked(quota: &Value, hard: &ResourceList, group: &str, plural: &str) -> Vec<String> {
    let scopes = scope_requirements(quota);
    hard.keys()
        .filter(|name| {
            let evaluated = if is_pods(group, plural) {
                pod::is_pod_resource(name)
            } else {
                object::evaluates(group, plural, name)
            };
            evaluated && scopes.iter().all(|s| pod::scope_tracks(&s.scope, name))
        })
        .cloned()
        .collect()
}

/// What the object charges.
pub fn usage(group: &str, plural: &str, obj: &Value, now: DateTime<Utc>) -> ResourceList {
    if is_pods(group, plural) {
        return pod::usage(obj, now);
    }
    object::usage(group, plural, obj)
}

/// `Constraints` for the kind (only pods have any).
pub fn constraints(
    group: &str,
    plural: &str,
    obj: &Value,
    tracked: &[String],
) -> Result<(), String> {
    if is_pods(group, plural) {
        return pod::constraints(obj, tracked);
    }
    Ok(())
}
