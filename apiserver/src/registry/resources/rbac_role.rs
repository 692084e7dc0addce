//! rbac.authorization.k8s.io/v1 Roles and ClusterRoles (`ValidateRole`,
//! `ValidateClusterRole`, `ValidatePolicyRule` in `pkg/apis/rbac/validation`).

use crate::registry::{Ctx, Strategy};
use crate::validation::checks::{arr_at, present};
use crate::validation::field_error::FieldError;
use crate::validation::label_selector::validate_label_selector;
use serde_json::Value;

pub struct RoleStrategy;
pub struct ClusterRoleStrategy;

impl Strategy for RoleStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_rules(obj, true)
    }
}

impl Strategy for ClusterRoleStrategy {
    fn validate_create(&self, obj: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        validate_cluster_role(obj, false)
    }

    fn validate_update(&self, new: &Value, old: &Value, _ctx: &Ctx) -> Vec<FieldError> {
        let allow = !validate_aggregation(old, false).is_empty();
        validate_cluster_role(new, allow)
    }
}

/// `ValidateClusterRole`: its rules and its aggregation rule.
pub fn validate_cluster_role(obj: &Value, allow_invalid_values: bool) -> Vec<FieldError> {
    let mut errs = validate_rules(obj, false);
    errs.extend(validate_aggregation(obj, allow_invalid_values));
    errs
}

fn validate_aggregation(obj: &Value, allow_invalid_values: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(rule) = present(obj, "/aggregationRule") else {
        return errs;
    };
    let selectors = arr_at(rule, "/clusterRoleSelectors");
    if selectors.is_empty() {
        errs.push(FieldError::required(
            "aggregationRule.clusterRoleSelectors",
            "at least one clusterRoleSelector required if aggregationRule is non-nil",
        ));
    }
    for (i, sel) in selectors.iter().enumerate() {
        errs.extend(validate_label_selector(
            Some(sel),
            allow_invalid_values,
            &format!("aggregationRule.clusterRoleSelectors[{i}]"),
        ));
    }
    errs
}

/// Every rule of a Role (`namespaced`) or ClusterRole.
pub fn validate_rules(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    arr_at(obj, "/rules")
        .iter()
        .enumerate()
        .flat_map(|(i, r)| validate_policy_rule(r, namespaced, &format!("rules[{i}]")))
        .collect()
}

fn non_empty(rule: &Value, key: &str) -> bool {
    rule.get(key)
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// `ValidatePolicyRule`: verbs, and either non-resource URLs (cluster
/// roles only) or API groups and resources.
pub fn validate_policy_rule(rule: &Value, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !non_empty(rule, "verbs") {
        errs.push(FieldError::required(
            format!("{path}.verbs"),
            "verbs must contain at least one value",
        ));
    }
    if non_empty(rule, "nonResourceURLs") {
        let urls = rule.get("nonResourceURLs").cloned().unwrap_or(Value::Null);
        let p = format!("{path}.nonResourceURLs");
        if namespaced {
            errs.push(FieldError::invalid(
                &p,
                urls.clone(),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if ["apiGroups", "resources", "resourceNames"]
            .iter()
            .any(|k| non_empty(rule, k))
        {
            errs.push(FieldError::invalid(
                &p,
                urls,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if !non_empty(rule, "apiGroups") {
        errs.push(FieldError::required(
            format!("{path}.apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if !non_empty(rule, "resources") {
        errs.push(FieldError::required(
            format!("{path}.resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::validation::field_error::strs;

    #[test]
    fn role_rules() {
        let role = json!({"rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            {"resources": ["pods"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
        ]});
        assert_eq!(
            strs(validate_rules(&role, true)),
            [
                "rules[1].verbs: Required value: verbs must contain at least one value",
                "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[2].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs",
            ]
        );
    }

    #[test]
    fn cluster_role_rules_and_aggregation() {
        let cr = json!({
            "rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"], "resources": ["pods"]}],
            "aggregationRule": {"clusterRoleSelectors": []}
        });
        assert_eq!(
            strs(validate_cluster_role(&cr, false)),
            [
                "rules[0].nonResourceURLs: Invalid value: [\"/x\"]: rules cannot apply to both regular resources and non-resource URLs",
                "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil",
            ]
        );
        let ok =
            json!({"aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}});
        assert!(validate_cluster_role(&ok, false).is_empty());
    }
}
